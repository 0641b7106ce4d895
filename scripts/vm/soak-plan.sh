# SPDX-License-Identifier: GPL-2.0
#
# The plan of 'make soak' (scripts/soak.sh), run by /init inside the debug
# kernel's VM (two NUMA nodes, a movable zone, zram). scripts/check-kernel.sh
# puts the settings in front (KSMT_SOAK_SECONDS, KSMT_FAIL_PERCENT).
#
# For KSMT_SOAK_SECONDS, ksm_stress runs (random knob changes, swap to
# zram, page-out, NUMA moves, fork and exit; every process checks every
# byte it owns) while
#   - every allocation ksmd makes fails with KSMT_FAIL_PERCENT% chance:
#     failslab and fail_page_alloc with the task filter, make-it-fail set
#     on ksmd alone, sleeping allocations included; each injected failure
#     is counted (and not printed: verbose 0);
#   - a loop takes a random memory block of the movable zone offline and
#     back online every few seconds.
# Then the injection stops, every block comes back online, and the leak
# checks run (scripts/vm/leaks.sh).
. /tests/ktest-lib.sh
cd /tests
k=/sys/kernel/mm/ksm
D=${KSMT_SOAK_SECONDS:-1800}
dbg=/sys/kernel/debug
TIMES=1000000000

echo "kernel: $(uname -r)"
echo "soak: ${D} s of ksm_stress, ${KSMT_FAIL_PERCENT}% of ksmd's allocations failing, memory blocks going offline"

ksmd=
for p in /proc/[0-9]*; do
	[ "$(cat "$p/comm" 2>/dev/null)" = ksmd ] && ksmd=${p#/proc/}
done

# inject on|off: failslab and fail_page_alloc for tasks with make-it-fail.
inject() {
	local f
	for f in failslab fail_page_alloc; do
		[ -d $dbg/$f ] || continue
		if [ "$1" = on ]; then
			echo Y >$dbg/$f/task-filter
			echo N >$dbg/$f/ignore-gfp-wait
			[ -e $dbg/$f/ignore-gfp-highmem ] &&
				echo N >$dbg/$f/ignore-gfp-highmem
			[ -e $dbg/$f/min-order ] && echo 0 >$dbg/$f/min-order
			echo 1 >$dbg/$f/interval
			echo $TIMES >$dbg/$f/times
			echo 0 >$dbg/$f/verbose
			echo "$KSMT_FAIL_PERCENT" >$dbg/$f/probability
		else
			echo 0 >$dbg/$f/probability
			echo "INJECTED $f $((TIMES - $(cat $dbg/$f/times)))"
		fi
	done
}

# Movable memory blocks, which offlining can empty.
blocks=
for b in /sys/devices/system/memory/memory[0-9]*; do
	grep -qw Movable "$b/valid_zones" 2>/dev/null && blocks="$blocks $b"
done
nblocks=$(echo $blocks | wc -w)

# offline_loop: until /tmp/soak.stop exists, one random movable block
# offline, then online again; counts what succeeded.
offline_loop() {
	local n=0 ok=0 i b
	while [ ! -e /tmp/soak.stop ]; do
		i=$(($(od -An -N2 -tu2 /dev/urandom) % nblocks + 1))
		b=$(echo $blocks | cut -d' ' -f$i)
		n=$((n + 1))
		if echo offline >"$b/state" 2>/dev/null; then
			ok=$((ok + 1))
			sleep 1
			echo online_movable >"$b/state" 2>/dev/null ||
				echo online >"$b/state" 2>/dev/null ||
				echo "soak: FAIL: ${b##*/} did not come back online"
		fi
		sleep 3
	done
	echo "OFFLINED $ok of $n tries"
}

if [ -z "$ksmd" ] || [ ! -d $dbg/failslab ]; then
	echo "soak: no ksmd or no fault injection in this kernel"
	run_case rc soak/setup 10 false
	exit 0
fi
echo 1 >/proc/$ksmd/make-it-fail
inject on
rm -f /tmp/soak.stop
loop=
if [ "$nblocks" -gt 0 ]; then
	offline_loop &
	loop=$!
fi
ksm_reset
run_case rc soak/ksm_stress $((D + 300)) ./ksm_stress -d "$D"
touch /tmp/soak.stop
[ -n "$loop" ] && wait $loop
inject off
echo 0 >/proc/$ksmd/make-it-fail
for b in $blocks; do
	grep -qx online "$b/state" || echo online_movable >"$b/state" 2>/dev/null
done
ksm_reset
run_case rc leaks/slab 60 sh ./leaks.sh slab
run_case rc leaks/kmemleak 300 sh ./leaks.sh kmemleak
ksm_reset
