#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The whole test suite, the README's test command: scripts/check-kernel.sh
# on our kernel, then on our debug kernel (KASAN, lockdep, DEBUG_VM, ...),
# whose result lines carry the prefix 'debug:'. Ends with one line,
# 'N passed, N failed, N skipped', over both; exits non-zero on a failure.
#
#   DEBUG=0         the normal kernel only;  DEBUG=1  the debug kernel only
#                   (default: both for a whole run of ours; the normal
#                   kernel only with SUITE= or VARIANT=stock)
#   and every variable of scripts/check-kernel.sh (VARIANT, SUITE, NO_BUILD,
#   VM_TIMEOUT, STRESS_SECONDS, KSMT_LOGS)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

start=$(date +%s)
case "${DEBUG:-}" in
0 | 1) flavours=("$DEBUG") ;;
"")	flavours=(0)
	[ "$VARIANT" = ours ] && [ -z "${SUITE:-}" ] && flavours+=(1) ;;
*)	die "DEBUG must be 0 or 1, not '$DEBUG'" ;;
esac

tallies=()
for debug in "${flavours[@]}"; do
	logs=${KSMT_LOGS:-}
	# One log directory per kernel when the caller named one.
	[ -n "$logs" ] && [ ${#flavours[@]} -gt 1 ] && [ "$debug" = 1 ] &&
		logs=$logs/debug
	DEBUG=$debug KSMT_LOGS=$logs bash "$TOP/scripts/check-kernel.sh" || true
	tallies+=("$(DEBUG=$debug KSMT_LOGS=$logs bash -c \
		". '$TOP/scripts/lib.sh'; echo \"\$LOGS/tally\"")")
done

count() { cat "${tallies[@]}" 2>/dev/null | grep -cxE "$1" || true; }
passed=$(count PASS)
failed=$(count FAIL)
skipped=$(count 'SKIP|XFAIL')
# A kernel whose run left no tally at all (a build that failed) fails.
for t in "${tallies[@]}"; do
	[ -s "$t" ] || { echo "FAIL harness/run (no results in $t)"; failed=$((failed + 1)); }
done
log "check: everything done in $(($(date +%s) - start)) s"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
