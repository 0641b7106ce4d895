#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The soak ('make soak SOAK_MINUTES=N'): the randomized stress program on
# the debug kernel for N minutes (default 30) while a share of ksmd's
# allocations fail (FAIL_PERCENT, default 1) and memory blocks go offline
# and online, then the leak checks; scripts/vm/soak-plan.sh. Prints the
# cases like make check, then how many failures were injected into slab
# and into page allocations, and how many offlines succeeded. (KSM's
# allocations are __GFP_NOWARN, so the kernel prints no stack for them;
# ksm_faults names the paths, one operation at a time.) Logs in
# build/logs/soak/. Exits non-zero on a failure.
#
#   SOAK_MINUTES=N   how long (default 30)
#   FAIL_PERCENT=P   chance that an allocation of ksmd fails (default 1)
#   NO_BUILD=1       use the debug kernel already built
set -euo pipefail
. "$(dirname "$0")/lib.sh"

minutes=${SOAK_MINUTES:-30}
case "$minutes" in
'' | *[!0-9]*) die "SOAK_MINUTES must be a whole number of minutes" ;;
esac
[ "$minutes" -ge 1 ] || die "SOAK_MINUTES must be at least 1"
logs=${KSMT_LOGS:-$BUILD/logs/soak}
rc=0
DEBUG=1 KSMT_LOGS=$logs KSMT_PLAN=soak-plan.sh SUITE='' \
	SOAK_SECONDS=$((minutes * 60)) FAIL_PERCENT=${FAIL_PERCENT:-1} \
	VM_TIMEOUT=$((minutes * 60 + 1200)) \
	bash "$TOP/scripts/check-kernel.sh" || rc=$?

results=$logs/results.log
grep -h '^INJECTED\|^OFFLINED' "$results" 2>/dev/null | tr -d '\r' |
	sed 's/^/soak: /' || true
if ! grep -q '^INJECTED' "$results" 2>/dev/null; then
	echo "soak: FAIL: the plan reported no injected failures"
	rc=1
fi
log "soak: ${minutes} min; logs in $logs"
exit $rc
