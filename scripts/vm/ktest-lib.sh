# SPDX-License-Identifier: GPL-2.0
#
# Sourced by the test plans inside the VM. Each case is framed by markers
# that scripts/ktest_report.py reads back on the host.

# run_case KIND NAME SECONDS CMD...: KIND is 'rc' (the exit status is the
# result: 0 pass, 4 skip) or 'tap' (kselftest TAP, one result per case).
# With KSMT_SUITE set (one suite, or several separated by spaces), only
# the cases of those suites run.
run_case() {
	local kind=$1 name=$2 limit=$3 rc t0 suite chosen=
	shift 3
	for suite in ${KSMT_SUITE:-$name}; do
		case "$name" in
		"$suite" | "$suite"/*) chosen=1 ;;
		esac
	done
	[ -n "$chosen" ] || return 0
	echo "##KSMT BEGIN $name $kind"
	echo "ksmtest: begin $name" >/dev/kmsg
	t0=$(date +%s)
	timeout -s KILL "$limit" "$@"
	rc=$?
	echo "ksmtest: end $name rc=$rc" >/dev/kmsg
	echo "##KSMT END $name rc=$rc secs=$(($(date +%s) - t0))"
}

# Puts KSM back to its boot state between suites: unmerge all, stopped.
ksm_reset() {
	local k=/sys/kernel/mm/ksm
	[ -d $k ] || return 0
	echo 2 >$k/run 2>/dev/null
	echo 0 >$k/run 2>/dev/null
}
