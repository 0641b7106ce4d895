#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Proves the harness catches what it must, with throwaway VM plans:
#   harness/kernel-warning  a WARNING on the kernel console fails the run
#                           even though every test of the plan passed
#   harness/watchdog        a VM that hangs is killed and reported within
#                           the configured timeout
#   harness/hostfs          --hostfs exports the host root read-only: a host
#                           file reads the same inside, and writes fail
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
# 3. The host root over 9p: readable, the same bytes, and read-only.
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
exit $rc
