#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The benchmark ('make bench'): upstream KSM (stock) against ours, both
# built from the same 6.12 tree with the same config, each booted in
# identical VMs (memory, vCPUs, accelerator, command line) that run the same
# workloads (scripts/vm/bench-plan.sh, tools/mm/ksm_bench.c). The VMs
# alternate, stock, ours, stock, ours ..., one VM per variant and repeat.
# scripts/bench_report.py prints one table (metric, stock, ours, ratio;
# each cell 'median [min..max]'; a ratio above 1.0 means ours is better) and
# writes build/bench/results.json, build/bench/mixed.png and
# build/bench/scale.png. Measures only:
# no timing is asserted anywhere. Exits non-zero if a VM, a workload or
# the report failed, or the kernel complained on its console.
#
#   QUICK=1          2 repeats, smaller sizes, the same metrics (< 8 min)
#   NO_BUILD=1       use the kernels already built (no kernel build at all)
#   BENCH_REPEATS=N  at most N VMs per variant (default 5; QUICK=1: 2)
#   BENCH_BUDGET=S   start no repeat past 3 that would likely end the run
#                    after S seconds (default 1800; QUICK=1: 480)
#   BENCH_GUEST_REPEATS=N  the first N repeats also run the QEMU guests
#                    workload (default 2; QUICK=1: 1): booting guests
#                    under nested TCG adds a minute or more to a VM
#   VM_TIMEOUT=S     watchdog per VM (default 600; QUICK=1: 300; plus 400
#                    in a VM with guests)
#   KSMT_LOGS=DIR    where each VM's logs go (default build/logs/bench)
#
# The report also lists where each kernel's hot functions lie in its 4 KiB
# pages of code (HOT_FUNCTIONS): under TCG, code that crosses a page runs
# much slower, so a function that crosses in one kernel only can move a
# ratio with no change in the work done. xxh64, the checksum, is kept
# within one page in both (scripts/build-kernel.sh).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

QUICK=${QUICK:-0}
[ "$QUICK" = 0 ] || QUICK=1
OUT=$BUILD/bench
BLOGS=${KSMT_LOGS:-$BUILD/logs/bench}
VM_MEM=2048
VM_CPUS=2
VM_APPEND="kunit.enable=0 slab_nomerge"

# The workload sizes; the knobs are in tools/mm/ksm_bench.c (set_knobs()).
# pages_to_scan 1000 (4 MiB per batch) with sleep_millisecs 0: ksmd runs
# flat out, and a batch is long enough that its fixed cost is small.
settings() {
	echo "BENCH_PAGES_TO_SCAN=1000"
	echo "BENCH_DIRTY_PCT=5"
	echo "BENCH_MERGE_PROCS=4"
	echo "BENCH_MIXED_PROCS=8"
	echo "BENCH_UNMERGE_PROCS=2"
	echo "BENCH_COPIES_PROCS=8"
	echo "KSMG_MEM=128 KSMG_SHARED=48 KSMG_UNIQUE=16"
	if [ "$QUICK" = 1 ]; then
		echo "BENCH_GUESTS=2"
		echo "BENCH_LIMIT=60"
		echo "BENCH_KSM_TESTS_MIB=32"
		echo "BENCH_MERGE_MIB=16"
		echo "BENCH_SCAN_MIB=64"
		echo "BENCH_MIXED_MIB=16"
		echo "BENCH_COW_MIB=25"
		echo "BENCH_UNMERGE_MIB=32"
		echo "BENCH_COPIES_MIB=16"
		echo "BENCH_SPARSE_MIB=256"
		echo "BENCH_SCALE_MIBS=16,64,256"
	else
		echo "BENCH_GUESTS=4"
		echo "BENCH_LIMIT=120"
		echo "BENCH_KSM_TESTS_MIB=100"
		echo "BENCH_MERGE_MIB=64"
		echo "BENCH_SCAN_MIB=256"
		echo "BENCH_MIXED_MIB=64"
		echo "BENCH_COW_MIB=100"
		echo "BENCH_UNMERGE_MIB=128"
		echo "BENCH_COPIES_MIB=64"
		echo "BENCH_SPARSE_MIB=1024"
		echo "BENCH_SCALE_MIBS=64,256,1024"
	fi
}

if [ "$QUICK" = 1 ]; then
	repeats=${BENCH_REPEATS:-2} min_repeats=2
	guest_repeats=${BENCH_GUEST_REPEATS:-1}
	budget=${BENCH_BUDGET:-480}
	vm_timeout=${VM_TIMEOUT:-300}
else
	repeats=${BENCH_REPEATS:-5} min_repeats=3
	guest_repeats=${BENCH_GUEST_REPEATS:-2}
	budget=${BENCH_BUDGET:-1800}
	vm_timeout=${VM_TIMEOUT:-600}
fi
[ "$repeats" -ge "$min_repeats" ] || min_repeats=$repeats

# Whether another repeat (a stock and an ours VM) is likely to end within
# the budget, judged by the repeats so far; always for the first ones.
another_repeat_fits() {
	local done=$1 now elapsed pair
	[ "$done" -ge "$min_repeats" ] || return 0
	now=$(date +%s)
	elapsed=$((now - start))
	pair=$(((now - vms_start) / done))
	# Some 30 s for the report after the last VM.
	if [ $((elapsed + pair + 30)) -gt "$budget" ]; then
		log "bench: stopping after $done repeats: another (~$pair s)" \
			"would end past the ${budget} s budget"
		return 1
	fi
}

# The options two configs set differently, one per line; options only one
# of them has (those of our own Kconfig, or hidden by a disabled parent)
# are left out.
config_diff() {
	LC_ALL=C join -t "$(printf '\t')" <(config_values "$1") \
		<(config_values "$2") |
		awk -F '\t' '$2 != $3 { print $1 ": stock " $2 ", ours " $3 }'
}

# "CONFIG_NAME<tab>value" for every option of a .config, sorted.
config_values() {
	sed -n -e 's/^\(CONFIG_[A-Za-z0-9_]*\)=\(.*\)/\1\t\2/p' \
		-e 's/^# \(CONFIG_[A-Za-z0-9_]*\) is not set/\1\tn/p' "$1" |
		LC_ALL=C sort
}

# The functions that do the floor's work in one kernel or both: the
# checksum of every page, and the compares of pages about to merge.
HOT_FUNCTIONS="xxh64 memcmp_pages memcmp ksm_pages_same"

# Copies a variant's kernel and config into $OUT/kernels/, so that a
# rebuild during the run cannot change what the later VMs boot, and lists
# the address and size of its hot functions ("name start size", in hex)
# in hot.txt.
snapshot_kernel() {
	local v=$1 kout=$BUILD/out-$1
	[ -f "$kout/arch/x86/boot/bzImage" ] ||
		die "no kernel at $kout (build it, or run without NO_BUILD=1)"
	mkdir -p "$OUT/kernels/$v"
	cp -p "$kout/arch/x86/boot/bzImage" "$kout/.config" "$OUT/kernels/$v/"
	nm -S --defined-only "$kout/vmlinux" | awk -v hot="$HOT_FUNCTIONS" '
		BEGIN {
			n = split(hot, names, " ")
			for (i = 1; i <= n; i++)
				want[names[i]] = 1
		}
		NF == 4 && $3 ~ /^[TtWw]$/ && ($4 in want) { print $4, $1, $2 }
	' >"$OUT/kernels/$v/hot.txt"
	# A build that reconfigures writes .config long before the image.
	[ "$kout/.config" -nt "$kout/arch/x86/boot/bzImage" ] &&
		log "bench: WARNING: $kout/.config is newer than its bzImage" \
			"(a build under way?): the configs compared may not be" \
			"the images'"
	return 0
}

start=$(date +%s)
"$TOP/scripts/install-deps.sh"
if [ "${NO_BUILD:-0}" = 0 ]; then
	VARIANT=stock DEBUG=0 "$TOP/scripts/build-kernel.sh"
	VARIANT=ours DEBUG=0 "$TOP/scripts/build-kernel.sh"
else
	VARIANT=stock "$TOP/scripts/prepare-tree.sh"
fi
# ksm_tests and ksm_bench, static (only those: a test someone is writing
# need not compile for the benchmark to run).
"$TOP/scripts/build-selftests.sh" ksm_tests ksm_bench
"$TOP/scripts/mkguest.sh"

rm -rf "$OUT" "$BLOGS"/stock-* "$BLOGS"/ours-*
mkdir -p "$OUT" "$BLOGS"
snapshot_kernel stock
snapshot_kernel ours
config_diff "$OUT/kernels/stock/.config" "$OUT/kernels/ours/.config" \
	>"$OUT/config-diff.txt"
if [ -s "$OUT/config-diff.txt" ]; then
	log "bench: WARNING: the kernels' configs differ" \
		"($(wc -l <"$OUT/config-diff.txt") options; $OUT/config-diff.txt):"
	head -n 5 "$OUT/config-diff.txt" | sed 's/^/bench:   /' >&2
fi

plan=$OUT/plan
initrd=$OUT/initramfs.cpio
sel=$BUILD/selftests
settings | vm_stage "$plan" "$initrd" bench-plan.sh "$sel/ksm_bench" \
	"$sel/ksm_tests" "$TOP/scripts/vm/guest-lib.sh" \
	"$BUILD/guest/ksm_guest.bzImage" "$BUILD/guest/ksm_guest.cpio"

manifest=$OUT/runs.tsv
: >"$manifest"
n=$((2 * repeats)) i=0
sizes=full
[ "$QUICK" = 0 ] || sizes=quick
log "bench: $repeats repeats x 2 variants, $sizes sizes, VMs of $VM_MEM MiB" \
	"and $VM_CPUS vCPUs; logs in $BLOGS"
vms_start=$(date +%s)
for r in $(seq 1 "$repeats"); do
	another_repeat_fits $((r - 1)) || break
	for v in stock ours; do
		i=$((i + 1))
		dir=$BLOGS/$v-$r
		mkdir -p "$dir"
		t0=$(date +%s%N)
		rc=0
		append=$VM_APPEND timeout=$vm_timeout
		if [ "$r" -le "$guest_repeats" ]; then
			append="$append ksmbench.guests"
			timeout=$((timeout + 400))
		fi
		"$TOP/scripts/vm-run.sh" --kernel "$OUT/kernels/$v/bzImage" \
			--initrd "$initrd" --mem "$VM_MEM" --cpus "$VM_CPUS" \
			--timeout "$timeout" --append "$append" --hostfs \
			--out "$dir" 2>"$dir/vm-run.log" || rc=$?
		secs=$((($(date +%s%N) - t0) / 1000000))
		secs=$((secs / 1000)).$(printf '%03d' $((secs % 1000)))
		accel=$(sed -n 's/.*accel=\[\([^]]*\)\].*/\1/p' "$dir/vm-run.log" |
			head -n1)
		printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$v" "$r" "$dir" "$rc" "$secs" \
			"$accel" >>"$manifest"
		fails=$(grep -c '^FAIL' "$dir/results.log" 2>/dev/null || true)
		log "bench: [$i/$n] $v #$r: ${secs%.*} s, vm exit $rc," \
			"${fails:-0} failure(s)"
	done
done

report_rc=0
python3 "$TOP/scripts/bench_report.py" --manifest "$manifest" --out "$OUT" \
	--quick "$QUICK" --config-diff "$OUT/config-diff.txt" \
	--hot "stock=$OUT/kernels/stock/hot.txt" \
	--hot "ours=$OUT/kernels/ours/hot.txt" \
	--vm "mem_mib=$VM_MEM" --vm "cpus=$VM_CPUS" --vm "append=$VM_APPEND" \
	--settings "$plan" || report_rc=$?
log "bench: done in $(($(date +%s) - start)) s;" \
	"$OUT/results.json, $OUT/mixed.png, $OUT/scale.png"
exit $report_rc
