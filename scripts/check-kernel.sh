#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The test suite on one kernel: builds the kernel of $VARIANT (DEBUG=1: its
# debug flavour) and the test programs, boots it in QEMU with two NUMA
# nodes, runs KUnit (at boot), the upstream KSM kselftests, ours and the
# stress program, and prints one line per case. The cases' results go to
# $LOGS/tally, which scripts/check.sh adds up. Exits non-zero on a failure.
#
#   VARIANT=stock   run against upstream KSM (expected-failures is ignored)
#   DEBUG=1, KCSAN=1  the debug kernel, the KCSAN kernel (scripts/lib.sh)
#   SUITE=NAME      run one suite only: kunit, ksm_tests,
#                   ksm_functional_tests, ksm_guests, ksm_stress or one
#                   of ours;
#                   several, separated by spaces, run in the plan's order
#   VM_TIMEOUT=S    watchdog for the whole VM (default 1500, debug 2400)
#   NO_BUILD=1      use the kernel already built (no kernel build at all)
#   STRESS_SECONDS=S  how long the randomized stress program runs (60)
#   KSMT_PLAN=F     the plan in scripts/vm/ (default check-plan.sh;
#                   scripts/soak.sh runs soak-plan.sh with SOAK_SECONDS
#                   and FAIL_PERCENT)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

start=$(date +%s)
# No results of an earlier run survive a build that fails.
mkdir -p "$LOGS"
rm -f "$LOGS/tally"
"$TOP/scripts/install-deps.sh"
if [ "${NO_BUILD:-0}" = 0 ]; then
	"$TOP/scripts/build-kernel.sh"
else
	"$TOP/scripts/prepare-tree.sh"
fi
"$TOP/scripts/build-selftests.sh"
"$TOP/scripts/mkguest.sh"

mkdir -p "$LOGS"
initrd=$LOGS/initramfs.cpio
sel=$BUILD/selftests
ours=()
for t in $(cat "$sel/our-tests"); do
	ours+=("$sel/$t")
done
guest=$BUILD/guest
# KSM's functions, by which scripts/vm/leaks.sh tells its leaks from others'.
syms=$LOGS/ksm-symbols
{ nm "$KOUT/mm/ksm/built-in.a" 2>/dev/null || nm "$KOUT/mm/ksm.o"; } |
	awk '$2 ~ /^[tT]$/ { print $3 }' | sort -u >"$syms"
vm_stage "$LOGS/plan" "$initrd" "${KSMT_PLAN:-check-plan.sh}" \
	"$TOP/scripts/vm/ktest-lib.sh" \
	"$sel/ksm_tests" "$sel/ksm_functional_tests" "$sel/our-tests" "${ours[@]}" \
	"$TOP/scripts/vm/guest-lib.sh" "$TOP/scripts/vm/ksm_guests.sh" \
	"$TOP/scripts/vm/leaks.sh" "$syms" \
	"$guest/ksm_guest.bzImage" "$guest/ksm_guest.cpio" <<EOF_SETTINGS
KSMT_SUITE='${SUITE:-}'
KSMT_STRESS_SECONDS='${STRESS_SECONDS:-60}'
KSMT_DEBUG_KERNEL='$([ "$KPREFIX" = debug: ] && echo 1)'
KSMT_SLOW_KERNEL='$([ -n "$KPREFIX" ] && echo 1)'
KSMT_SOAK_SECONDS='${SOAK_SECONDS:-}' KSMT_FAIL_PERCENT='${FAIL_PERCENT:-}'
EOF_SETTINGS

# A movable zone, so the memory-offline scenario has blocks it can offline;
# slab caches of their own, so that the tests can count KSM's objects.
# The host's root is exported read-only (--hostfs) for the guest suite,
# which runs the host's qemu-system-x86_64.
append="movablecore=512M slab_nomerge"
case " ${SUITE:-kunit} " in
*" kunit "*) ;;
*) append="$append kunit.enable=0" ;;
esac
vm_timeout=1500
[ -n "$KPREFIX" ] && vm_timeout=2400
vm_rc=0
"$TOP/scripts/vm-run.sh" --initrd "$initrd" --numa --hostfs --mem "${VM_MEM:-2048}" \
	--timeout "${VM_TIMEOUT:-$vm_timeout}" --append "$append" --out "$LOGS" || vm_rc=$?

xfail=()
[ "$VARIANT" = ours ] && xfail=(--xfail "$TOP/expected-failures")
prefix=$KPREFIX
# On the KCSAN kernel, its reports are sorted into ours and the rest.
kcsan=()
[ "$KPREFIX" = kcsan: ] && kcsan=(--kcsan "$LOGS/kcsan.txt" --symbols "$syms")
tally=$LOGS/tally
: >"$tally"
report_rc=0
python3 "$TOP/scripts/ktest_report.py" --results "$LOGS/results.log" \
	--console "$LOGS/console.log" --tally "$tally" --prefix "$prefix" \
	"${xfail[@]}" "${kcsan[@]}" || report_rc=$?
if [ $report_rc -gt 1 ] || [ ! -s "$tally" ]; then
	echo "FAIL ${prefix}harness/report (the result parser failed with $report_rc)"
	echo FAIL >>"$tally"
fi
# Our static checks and the harness's own checks, once per full run.
if [ "$VARIANT" = ours ] && [ -z "$prefix" ] && [ -z "${SUITE:-}" ]; then
	for extra in lint.sh "patches.sh check" harness-selftest.sh; do
		# shellcheck disable=SC2086
		{ bash "$TOP"/scripts/$extra || true; } | while read -r status rest; do
			echo "$status $rest"
			echo "$status" >>"$tally"
		done
	done
fi
if [ $vm_rc -ne 0 ]; then
	case $vm_rc in
	124) why='hung, killed by the watchdog' ;;
	125) why='a vCPU took no interrupts after boot, in two boots' ;;
	*) why='qemu failed' ;;
	esac
	echo "FAIL ${prefix}vm/run (exit $vm_rc: $why; console: $LOGS/console.log)"
	echo FAIL >>"$tally"
fi

log "check: $KFLAVOUR done in $(($(date +%s) - start)) s; logs in $LOGS"
! grep -qx FAIL "$tally"
