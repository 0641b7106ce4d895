#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make kcsan: the race suite and the randomized stress program on a kernel
# built with KCSAN, the kernel's data-race detector
# (scripts/configs/ksm-kcsan.config, build/out-<variant>-kcsan). Prints
# the cases like make check, with the prefix 'kcsan:', then every distinct
# race KCSAN reported, sorted:
#
#   ours        one of the two racing accesses is in a function of mm/ksm/
#               (mm/ksm.o for VARIANT=stock): a failure, to be fixed or
#               annotated (READ_ONCE/WRITE_ONCE/data_race, with a comment)
#   under-ours  both accesses are elsewhere, but mm/ksm/ is in a stack
#   elsewhere   no function of ours in the report
#
# Too slow for make check: a target of its own. Exits non-zero on a
# failure. Logs in build/logs/<variant>-kcsan/ (the list: kcsan.txt).
#
#   SUITE="a b"       the suites to run (default: the programs that were
#                     ksm_races, ksm_thp ksm_uffd ksm_races ksm_memcg,
#                     then ksm_domains (processes changing cgroups and
#                     memory.ksm_stat read while ksmd runs), ksm_stress
#                     and leaks/slab)
#   STRESS_SECONDS=S  how long the stress program runs (default 120)
#   VARIANT=stock     the same against upstream KSM
#   NO_BUILD=1        use the KCSAN kernel already built
set -euo pipefail
export KCSAN=1
. "$(dirname "$0")/lib.sh"

rc=0
SUITE=${SUITE:-ksm_thp ksm_uffd ksm_races ksm_memcg ksm_domains ksm_stress \
	leaks/slab} \
	STRESS_SECONDS=${STRESS_SECONDS:-120} \
	bash "$TOP/scripts/check-kernel.sh" || rc=$?
# KCSAN's statistics: a run in which it set up no watchpoint saw nothing.
stats=$(tr -d '\r' <"$LOGS/results.log" 2>/dev/null | sed -n 's/^KCSAN-STATS //p')
watched=$(awk '$1 == "setup_watchpoints:" { print $2 }' <<<"$stats")
if [ "${watched:-0}" -gt 0 ]; then
	echo "PASS kcsan:kcsan/watching ($watched watchpoints set up)"
else
	echo "FAIL kcsan:kcsan/watching (no watchpoint set up: KCSAN off?)"
	rc=1
fi
echo "KCSAN's statistics:"
sed 's/^/  /' <<<"$stats"
if [ -f "$LOGS/kcsan.txt" ]; then
	echo "KCSAN's reports (class, count, race):"
	sed 's/^/  /' "$LOGS/kcsan.txt"
fi
exit $rc
