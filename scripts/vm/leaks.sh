# SPDX-License-Identifier: GPL-2.0
#
# leaks.sh slab|kmemleak -- run inside the test VM at the end of the plan,
# when every test process is gone and run=2 has unmerged everything.
#
#   slab      every slab cache of KSM (/sys/kernel/slab/ksm*: ours or
#             upstream's; slab_nomerge keeps them apart) holds no object
#             once shrunk: no stable node, item, block or slot outlived
#             the processes
#   kmemleak  two kmemleak scans (a kernel with DEBUG_KMEMLEAK) report no
#             unreferenced object allocated under KSM's code: no frame of
#             its backtrace is a function of /tests/ksm-symbols (the text
#             symbols of mm/ksm/ or mm/ksm.o, written by the host); leaks
#             elsewhere in the kernel are listed but are not KSM's to fix
# Exit status: 0 clean, 1 a leak, 4 the check is not possible here.
k=/sys/kernel/mm/ksm

slab() {
	local c n total=0 caches=0
	for c in /sys/kernel/slab/ksm*; do
		[ -e "$c/objects" ] || continue
		echo 1 >"$c/shrink" 2>/dev/null
		n=$(cut -d' ' -f1 "$c/objects")
		echo "# ${c##*/}: $n objects"
		total=$((total + n))
		caches=$((caches + 1))
	done
	if [ $caches = 0 ]; then
		echo "# no KSM slab cache in /sys/kernel/slab (slab_nomerge missing?)"
		return 4
	fi
	echo "# run=$(cat $k/run) pages_shared=$(cat $k/pages_shared) pages_sharing=$(cat $k/pages_sharing) pages_unshared=$(cat $k/pages_unshared)"
	[ $total = 0 ]
}

kmemleak() {
	local f=/sys/kernel/debug/kmemleak report=/tmp/kmemleak.txt ours
	local syms=/tests/ksm-symbols
	[ -e $f ] || { echo "# no $f"; return 4; }
	[ -s $syms ] || { echo "# no list of KSM's functions ($syms)"; return 4; }
	# An object is reported once it stayed unreferenced for 5 s; the
	# second scan sees those the first found too young.
	# A kernel with kmemleak that turned it off (its pool ran out, or
	# kmemleak=off) cannot vouch for anything: that fails the case.
	if ! echo scan >$f; then
		echo "# kmemleak is off: $(dmesg | grep -m1 'kmemleak:')"
		return 1
	fi
	sleep 6
	echo scan >$f || return 1
	cat $f >$report
	echo "# kmemleak: $(grep -c '^unreferenced object' $report) unreferenced object(s) in all"
	# One report per object: its header, then its backtrace, one frame
	# a line: "    [<address>] function+0x12/0x34".
	ours=$(awk '
		FNR == NR { ksm[$1] = 1; next }
		/^unreferenced object/ { if (obj != "" && hit) print obj; obj = $0; hit = 0; next }
		/^ *\[<[0-9a-f]*>\] / {
			fn = $2; sub(/\+.*/, "", fn)
			if (fn in ksm) hit = 1
		}
		{ obj = obj "\n" $0 }
		END { if (obj != "" && hit) print obj }' $syms $report)
	if [ -n "$ours" ]; then
		echo "# leaked by KSM:"
		echo "$ours" | sed 's/^/#   /'
		return 1
	fi
	grep -A12 '^unreferenced object' $report | head -n 40 | sed 's/^/#   (not KSM) /'
	return 0
}

case "$1" in
slab) slab ;;
kmemleak) kmemleak ;;
*) echo "usage: leaks.sh slab|kmemleak" >&2; exit 2 ;;
esac
