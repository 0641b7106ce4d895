# SPDX-License-Identifier: GPL-2.0
#
# The plan of 'make bench' (scripts/bench.sh), run by /init inside each
# benchmark VM with its output on the host's results log. scripts/bench.sh
# puts the settings in front: BENCH_PAGES_TO_SCAN, BENCH_LIMIT (longest
# wait for ksmd, s), BENCH_MERGE_PROCS/MIB, BENCH_SCAN_MIB,
# BENCH_MIXED_PROCS/MIB, BENCH_DIRTY_PCT, BENCH_COW_MIB,
# BENCH_UNMERGE_PROCS/MIB, BENCH_COPIES_PROCS/MIB, BENCH_SPARSE_MIB,
# BENCH_SCALE_MIBS (comma-separated), BENCH_KSM_TESTS_MIB, and
# BENCH_GUESTS with the
# guests' KSMG_MEM, KSMG_SHARED and KSMG_UNIQUE.
#
# Runs the workloads of tools/mm/ksm_bench in a fixed order, each framed by
# '##BENCH BEGIN/END' lines, then upstream's ksm_tests -P and -H (with
# BENCH_LIMIT as their scan time limit); prints what the host's report
# needs about the guest as INFO lines. In the VMs whose command line has
# 'ksmbench.guests', BENCH_GUESTS QEMU guests come last (ksm_bench guests),
# and on a kernel with merge_scope the same guests then as two tenants.
cd /tests || exit 1
k=/sys/kernel/mm/ksm

echo "INFO guest.kernel $(uname -r) $(uname -v)"
echo "INFO guest.cpus $(nproc)"
echo "INFO guest.mem_mib $(awk '/MemTotal/ { printf "%d", $2 / 1024 }' /proc/meminfo)"
cs=/sys/devices/system/clocksource/clocksource0/current_clocksource
echo "INFO guest.clocksource $(cat $cs 2>/dev/null)"
echo "INFO guest.cmdline $(cat /proc/cmdline)"
if [ ! -d $k ]; then
	echo "FAIL $k does not exist (kernel without KSM?)"
	exit 1
fi

# workload NAME ARGS...: one ksm_bench workload, bounded by a watchdog.
workload() {
	local name=$1 rc
	shift
	echo "##BENCH BEGIN $name"
	timeout -s KILL $((BENCH_LIMIT * 4)) ./ksm_bench -p "$BENCH_PAGES_TO_SCAN" \
		-t "$BENCH_LIMIT" "$@" "$name"
	rc=$?
	[ $rc -eq 0 ] || echo "FAIL $name: ksm_bench exit status $rc"
	echo "##BENCH END $name rc=$rc"
}

# upstream MODE: ksm_tests -MODE -s MiB; its 'Average speed' as a metric.
upstream() {
	local mode=$1 out rc speed
	echo "##BENCH BEGIN ksm_tests-$mode"
	out=$(timeout -s KILL $((BENCH_LIMIT + 60)) ./ksm_tests "-$mode" \
		-s "$BENCH_KSM_TESTS_MIB" -l "$BENCH_LIMIT" 2>&1)
	rc=$?
	echo "$out" | sed 's/^/# /'
	speed=$(echo "$out" | awk '/Average speed:/ { print $(NF - 1); exit }')
	if [ $rc -eq 4 ]; then
		echo "SKIP ksm_tests.${mode}_mib_per_s ksm_tests -$mode skipped"
	elif [ $rc -ne 0 ] || [ -z "$speed" ]; then
		echo "FAIL ksm_tests-$mode: exit status $rc, speed '$speed'"
	else
		echo "BENCH ksm_tests.${mode}_mib_per_s $speed"
	fi
	echo "##BENCH END ksm_tests-$mode rc=$rc"
}

# Guest memory is backed by the host on its first touch: touch most of it
# once (dd's buffer), so that no timed loop pays for that.
dd if=/dev/zero of=/dev/null bs=1536M count=1 2>/dev/null ||
	echo "FAIL warming guest memory: dd of 1536 MiB failed"
echo "INFO guest.warmed_mib 1536"
workload knobs
workload merge -n "$BENCH_MERGE_PROCS" -m "$BENCH_MERGE_MIB"
workload scan -m "$BENCH_SCAN_MIB" -s 3
workload mixed -n "$BENCH_MIXED_PROCS" -m "$BENCH_MIXED_MIB" -d "$BENCH_DIRTY_PCT"
workload cow -m "$BENCH_COW_MIB" -r 9
workload unmerge -n "$BENCH_UNMERGE_PROCS" -m "$BENCH_UNMERGE_MIB"
workload copies -n "$BENCH_COPIES_PROCS" -m "$BENCH_COPIES_MIB"
workload zero -n "$BENCH_COPIES_PROCS" -m "$BENCH_COPIES_MIB" -z 0
workload zero -n "$BENCH_COPIES_PROCS" -m "$BENCH_COPIES_MIB" -z 1
workload sparse -m "$BENCH_SPARSE_MIB" -g 16 -s 3
workload sparse -m "$BENCH_SPARSE_MIB" -g 512 -s 3
# Scaling: merge (2 processes of half the size, every page with a twin in
# the other) and scan (one process of unique pages) at each size of
# BENCH_SCALE_MIBS, their figures as scale_mergeN and scale_scanN.
n=0
for mib in $(echo "$BENCH_SCALE_MIBS" | tr , ' '); do
	n=$((n + 1))
	workload merge -n 2 -m $((mib / 2)) -k scale_merge$n
	workload scan -m "$mib" -s 3 -k scale_scan$n
done
# ksm_tests sets run=2, sleep_millisecs=0 and pages_to_scan itself; every
# other knob is at the boot default ksm_bench left behind, on both kernels.
upstream P
upstream H
# guests: BENCH_GUESTS QEMU guests (scripts/vm/guest-lib.sh) boot with
# ksmd stopped; once every one has filled its memory, ksm_bench guests
# measures how ksmd merges them; then each guest checks its memory.
guests() {
	local id ids rc=0 t0 why
	echo "##BENCH BEGIN guests"
	. /tests/guest-lib.sh
	why=$(guest_unavailable)
	echo 2 >$k/run
	echo 0 >$k/run
	ids=$(seq 1 "$BENCH_GUESTS")
	t0=$(date +%s)
	[ -z "$why" ] && for id in $ids; do
		guest_start "$id" on
	done
	for id in $ids; do
		[ -z "$why" ] || break
		if ! guest_wait "$id" ready 1 400; then
			why="guest $id did not get ready"
			guest_show "$id"
		fi
	done
	if [ -n "$why" ]; then
		echo "FAIL guests: $why"
		rc=1
	else
		echo "INFO guests.ready_s $(($(date +%s) - t0))"
		timeout -s KILL $((BENCH_LIMIT * 4)) ./ksm_bench \
			-p "$BENCH_PAGES_TO_SCAN" -t "$BENCH_LIMIT" \
			-n "$BENCH_GUESTS" -m "$KSMG_MEM" guests || rc=$?
		[ $rc -eq 0 ] || echo "FAIL guests: ksm_bench exit status $rc"
		guest_verify $ids ||
			{ echo "FAIL guests: a guest found its memory changed"; rc=1; }
	fi
	echo "##BENCH END guests rc=$rc"
	[ -z "$why" ] && [ -e $k/merge_scope ] && [ "$BENCH_GUESTS" -ge 2 ] &&
		tenants $ids
	guest_kill_all
}
# tenants IDS...: the same running guests as two tenants, the first half
# of IDS in one memory cgroup and the rest in another, merged again from
# scratch (run=2 first) with merge_scope=cgroup: what keeping the tenants
# apart costs in saving, against the guests workload's global figures.
# Only where there is a merge_scope (ours); each tenant's memory.ksm_stat
# is printed as INFO lines (tenants.ksm_tenant1.ksm_merging_pages ...).
tenants() {
	local cg=/sys/fs/cgroup id n=0 t rc=0
	echo "##BENCH BEGIN tenants"
	echo 2 >$k/run
	echo 0 >$k/run
	[ -e $cg/cgroup.controllers ] || mount -t cgroup2 none $cg
	echo +memory >$cg/cgroup.subtree_control 2>/dev/null
	for id in "$@"; do
		n=$((n + 1))
		t=1
		[ $((2 * n)) -le $# ] || t=2
		mkdir -p $cg/ksm_tenant$t
		echo "$(guest_pid "$id")" >$cg/ksm_tenant$t/cgroup.procs ||
			{ echo "FAIL tenants: cannot move guest $id"; rc=1; }
	done
	if [ $rc -eq 0 ]; then
		# ksm_bench resets the knobs, then sets merge_scope (-S); it
		# prints the tenants' memory.ksm_stat (-c) before it exits
		# and its library puts the knobs back (with run=2).
		timeout -s KILL $((BENCH_LIMIT * 4)) ./ksm_bench \
			-p "$BENCH_PAGES_TO_SCAN" -t "$BENCH_LIMIT" -k tenants \
			-S cgroup -c $cg/ksm_tenant1 -c $cg/ksm_tenant2 \
			-n "$BENCH_GUESTS" -m "$KSMG_MEM" guests || rc=$?
		[ $rc -eq 0 ] || echo "FAIL tenants: ksm_bench exit status $rc"
		guest_verify "$@" ||
			{ echo "FAIL tenants: a guest found its memory changed"; rc=1; }
	fi
	echo 2 >$k/run
	echo 0 >$k/run
	echo global >$k/merge_scope
	echo "##BENCH END tenants rc=$rc"
}
case " $(cat /proc/cmdline) " in
*" ksmbench.guests "*) guests ;;
esac
echo 2 >$k/run
echo 0 >$k/run
# The clock source may have changed during the run (TSC found unstable).
echo "INFO guest.clocksource_end $(cat $cs 2>/dev/null)"
