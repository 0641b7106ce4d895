#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Proves the harness catches what it must, with throwaway VM plans:
#   harness/kernel-warning  a WARNING on the kernel console fails the run
#                           even though every test of the plan passed
#   harness/watchdog        a VM that hangs is killed and reported within
#                           the configured timeout
#   harness/dead-vcpu       a boot whose vCPU takes no interrupts is given
#                           up before the plan runs and booted again
#   harness/hostfs          --hostfs exports the host root read-only: a host
#                           file reads the same inside, and writes fail
#   harness/kcsan-sort      the report parser tells a KCSAN report at an
#                           access of ours (a failure) from one elsewhere,
#                           deeper in the kernel under ours, or whose plain
#                           access is not ours (listed), and
#                           none counts as other badness
#   harness/teardown-after-assert
#                           a kselftest fixture's teardown runs after its
#                           test failed an ASSERT, built as the suites
#                           are (-O2, the harness of our tree)
#   harness/bench-layout    make bench's report says LAYOUT DIFFERS for a
#                           hot function that crosses a 4 KiB page of code
#                           in one kernel only, and for no other
# Prints PASS/FAIL lines like the test runner.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

out=$LOGS/harness-selftest
mkdir -p "$out"
rc=0

# 1. A plan whose only case passes, but which makes the kernel console
# carry a WARNING report.
cat >"$out/warn-plan" <<'PLAN'
. /tests/ktest-lib.sh
run_case rc harness/ok 30 true
echo "WARNING: CPU: 0 PID: 1 at harness-selftest (injected)" >/dev/kmsg
PLAN
"$TOP/scripts/mkinitramfs.sh" "$out/warn.cpio" "$out/warn-plan" \
	"$TOP/scripts/vm/ktest-lib.sh"
"$TOP/scripts/vm-run.sh" --initrd "$out/warn.cpio" --timeout 120 \
	--append kunit.enable=0 --out "$out/warn" >/dev/null 2>&1 || true
report=$(python3 "$TOP/scripts/ktest_report.py" --results "$out/warn/results.log" \
	--console "$out/warn/console.log" --tally /dev/null || true)
if grep -q '^PASS harness/ok$' <<<"$report" &&
   grep -q '^FAIL kernel/console (1 report' <<<"$report"; then
	echo "PASS harness/kernel-warning"
else
	echo "FAIL harness/kernel-warning (report was: $(tr '\n' ';' <<<"$report"))"
	rc=1
fi

# 2. A plan that never ends: the watchdog must kill the VM in time.
printf 'echo hanging\nwhile :; do sleep 1; done\n' >"$out/hang-plan"
"$TOP/scripts/mkinitramfs.sh" "$out/hang.cpio" "$out/hang-plan"
limit=15
start=$(date +%s)
vm_rc=0
"$TOP/scripts/vm-run.sh" --initrd "$out/hang.cpio" --timeout $limit \
	--append kunit.enable=0 --out "$out/hang" >/dev/null 2>&1 || vm_rc=$?
took=$(($(date +%s) - start))
if [ $vm_rc -eq 124 ] && [ $took -le $((limit + 10)) ] &&
   [ -s "$out/hang/console.log" ]; then
	echo "PASS harness/watchdog"
else
	echo "FAIL harness/watchdog (exit $vm_rc after ${took}s, limit ${limit}s)"
	rc=1
fi
# 3. A boot in which a vCPU takes no interrupts (faked by init for CPU 1,
# ksmtest.fakedead) is given up before the plan and booted again, once:
# the plan's output is the second boot's, and the first boot's logs are
# kept.
d_rc=0
"$TOP/scripts/vm-run.sh" --initrd "$out/warn.cpio" --timeout 120 \
	--append "kunit.enable=0 ksmtest.fakedead" --out "$out/dead" \
	>/dev/null 2>"$out/dead-vm-run.log" || d_rc=$?
if [ $d_rc -eq 0 ] &&
   grep -q '^##KSMT END harness/ok rc=0' "$out/dead/results.log" &&
   grep -q 'dead vCPU: CPU 1 took no timer interrupt' \
	"$out/dead/dead-vcpu/console.log" &&
   ! grep -q 'begin harness/ok' "$out/dead/dead-vcpu/console.log" &&
   ! grep -q 'dead vCPU' "$out/dead/console.log" &&
   grep -q 'booting again' "$out/dead-vm-run.log"; then
	echo "PASS harness/dead-vcpu"
else
	echo "FAIL harness/dead-vcpu (exit $d_rc; see $out/dead and $out/dead-vm-run.log)"
	rc=1
fi
# 4. The host root over 9p: readable, the same bytes, and read-only.
cat >"$out/hostfs-plan" <<'PLAN'
md5sum </host/etc/debian_version
if touch /host/tmp/ksmtest-hostfs-write 2>/dev/null; then
	echo "hostfs: writable"
else
	echo "hostfs: read-only"
fi
PLAN
"$TOP/scripts/mkinitramfs.sh" "$out/hostfs.cpio" "$out/hostfs-plan"
"$TOP/scripts/vm-run.sh" --initrd "$out/hostfs.cpio" --timeout 120 --hostfs \
	--append kunit.enable=0 --out "$out/hostfs" >/dev/null 2>&1 || true
want=$(md5sum </etc/debian_version)
# The serial port's tty ends lines with CR LF.
got=$(tr -d '\r' <"$out/hostfs/results.log")
if grep -qxF "$want" <<<"$got" && grep -qx 'hostfs: read-only' <<<"$got"; then
	echo "PASS harness/hostfs"
else
	echo "FAIL harness/hostfs (see $out/hostfs/results.log)"
	rc=1
fi
# 5. KCSAN's reports, as the console of the KCSAN kernel carries them:
# one race at our function, one at unknown origin (user space) in a
# routine ours called, one at unknown origin in kernel code deeper under
# ours, one between two functions of upstream reached from ours, one
# whose access in our function is marked (an inlined atomic bit
# operation) against a plain read upstream, one with no function of ours
# at all.
kc=$out/kcsan
mkdir -p "$kc"
printf '%s\n' ksm_scan_step ksmd_main >"$kc/symbols"
kcsan_report() {	# title, top frame of each access, the caller, the 1st's kind
	cat <<-EOF
	[   12.000001] ==================================================================
	[   12.000002] BUG: KCSAN: data-race in $1 / $2
	[   12.000003]
	[   12.000004] ${4:-write} to 0xffff888003a4b010 of 8 bytes by task 40 on cpu 1:
	[   12.000005]  $1+0x1d/0x30
	[   12.000006]  $3+0x89/0xd0
	[   12.000007]
	[   12.000008] read to 0xffff888003a4b010 of 8 bytes by task 41 on cpu 0:
	[   12.000009]  $2+0x10/0x20
	[   12.000010]  kthread+0x23e/0x260
	[   12.000011]
	[   12.000012] Reported by Kernel Concurrency Sanitizer on:
	[   12.000013] CPU: 0 PID: 41 Comm: t Not tainted 6.12.0 #1
	[   12.000014] ==================================================================
	EOF
}
unknown_origin() {	# the function, then its callers, innermost first
	local f

	cat <<-EOF
	[   13.000001] ==================================================================
	[   13.000002] BUG: KCSAN: data-race in $1+0x120/0x31f
	[   13.000003]
	[   13.000004] race at unknown origin, with read to 0xff11000037e0ee78 of 8 bytes by task 31 on cpu 0:
	[   13.000005]  $1+0x120/0x31f
	EOF
	shift
	for f in "$@"; do
		echo "[   13.000006]  $f+0x50/0x60"
	done
	cat <<-EOF
	[   13.000007]  kthread+0x16f/0x177
	[   13.000008]
	[   13.000009] value changed: 0x4e674639aa36cc3e -> 0x7299dcaae3f6d40f
	[   13.000010]
	[   13.000011] Reported by Kernel Concurrency Sanitizer on:
	[   13.000012] ==================================================================
	EOF
}
{
	kcsan_report ksm_scan_step.isra.0 folio_mapcount worker_thread
	unknown_origin xxh64 ksm_scan_step
	unknown_origin memchr_inv do_idle
	unknown_origin smp_call_function_many_cond on_each_cpu_cond_mask \
		flush_tlb_mm_range ksm_scan_step
	kcsan_report folio_mapcount page_vma_mapped_walk ksmd_main
	kcsan_report ksm_scan_step page_zone ksmd_main "read-write (marked)"
	kcsan_report tick_sched_timer do_idle cpu_startup_entry
} >"$kc/console.log"
echo '##KSMT DONE' >"$kc/results.log"
report=$(python3 "$TOP/scripts/ktest_report.py" --results "$kc/results.log" \
	--console "$kc/console.log" --tally /dev/null --kcsan "$kc/list" \
	--symbols "$kc/symbols" || true)
if grep -q '^FAIL kernel/kcsan (2 report(s) in mm/ksm/, 3 under it, 2 elsewhere' <<<"$report" &&
   grep -q '^PASS kernel/console$' <<<"$report" &&
   grep -q '^ours .*ksm_scan_step.isra.0 / folio_mapcount' "$kc/list" &&
   grep -q '^ours .*data-race in xxh64+0x120/0x31f$' "$kc/list" &&
   grep -q '^under-ours .*folio_mapcount / page_vma_mapped_walk' "$kc/list" &&
   grep -q '^under-ours .*ksm_scan_step / page_zone' "$kc/list" &&
   grep -q '^under-ours .*data-race in smp_call_function_many_cond+' "$kc/list"; then
	echo "PASS harness/kcsan-sort"
else
	echo "FAIL harness/kcsan-sort (report was: $(tr '\n' ';' <<<"$report"))"
	rc=1
fi
# 6. The kselftest harness: a test that fails an ASSERT is torn down like
# one that passes, so its processes and knobs do not outlive it. The
# teardown appends the test's name to a file; the test that fails must
# fail, and both names must be there. It is built as the suites are, and
# includes the harness as they do.
td=$out/teardown
mkdir -p "$td"
cat >"$td/teardown.c" <<'EOF'
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include "../kselftest_harness.h"

FIXTURE(marker) {
	int fd;
};

FIXTURE_SETUP(marker)
{
	self->fd = open(getenv("TEARDOWN_MARKER"), O_WRONLY | O_APPEND);
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(marker)
{
	dprintf(self->fd, "%s\n", _metadata->name);
	close(self->fd);
}

TEST_F(marker, passes)
{
	ASSERT_EQ(1, 1);
}

TEST_F(marker, fails_an_assert)
{
	ASSERT_EQ(0, 1);
}

TEST_HARNESS_MAIN
EOF
VARIANT=ours "$TOP/scripts/prepare-tree.sh"
: >"$td/marker"
t_rc=0
if ! gcc "${KSFT_CFLAGS[@]}" -w -o "$td/teardown" "$td/teardown.c" \
	2>"$td/build.log"; then
	t_rc=build
else
	TEARDOWN_MARKER=$td/marker "$td/teardown" >"$td/tap.log" 2>&1 || t_rc=$?
fi
if [ "$t_rc" = 1 ] && grep -qx 'ok 1 marker.passes' "$td/tap.log" &&
   grep -qx 'not ok 2 marker.fails_an_assert' "$td/tap.log" &&
   [ "$(sort "$td/marker" | tr '\n' ' ')" = "fails_an_assert passes " ]; then
	echo "PASS harness/teardown-after-assert"
else
	echo "FAIL harness/teardown-after-assert (exit $t_rc, torn down: $(tr '\n' ' ' <"$td/marker"); see $td)"
	rc=1
fi

# 7. The bench report's code layout, from lines as bench.sh writes them
# (name, start, size; hex, as nm prints them): xxh64 crosses a page in
# ours only, memcmp in both, ksm_pages_same ends right at a page's end.
bl=$out/bench-layout
mkdir -p "$bl"
printf '%s\n' 'xxh64 ffffffff812d83f0 0000000000000299' \
	'memcmp ffffffff814c2fe0 0000000000000044' >"$bl/stock.txt"
printf '%s\n' 'xxh64 ffffffff812e0f40 0000000000000299' \
	'memcmp ffffffff814cbfe0 0000000000000044' \
	'ksm_pages_same ffffffff811e7f84 000000000000007c' >"$bl/ours.txt"
report=$(python3 -c 'import sys
sys.path.insert(0, sys.argv[1])
from bench_report import code_layout
print("\n".join(code_layout(sys.argv[2:])[1]))' "$TOP/scripts" \
	"stock=$bl/stock.txt" "ours=$bl/ours.txt" 2>&1) || true
if [ "$(grep -c '^LAYOUT DIFFERS' <<<"$report")" = 1 ] &&
   grep -q '^LAYOUT DIFFERS: xxh64 crosses .* in ours only' <<<"$report" &&
   grep -q '^code layout: ksm_pages_same: ours 0xf84+0x7c$' <<<"$report"; then
	echo "PASS harness/bench-layout"
else
	echo "FAIL harness/bench-layout (report was: $(tr '\n' ';' <<<"$report"))"
	rc=1
fi
exit $rc
