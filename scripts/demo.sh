#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The demo ('make demo'): boots our kernel in QEMU, starts processes whose
# memory largely overlaps (tools/mm/ksm_demo_load), turns ksmd on and shows
# live how KSM merges it (tools/mm/ksm_watch), then prints
# 'saved X MiB of Y MiB mapped (Z%)', checks the workload's data and shuts
# down cleanly. The VM's plan is scripts/vm/demo-plan.sh. Logs go to
# build/logs/demo/. Exits non-zero if the VM fails, a process finds its data
# changed, the kernel warns, or the summary line is missing.
#
#   NO_BUILD=1         use the kernel already built (no kernel build at all)
#   DEMO_PROCS=N       workload processes (default 4)
#   DEMO_MIB=M         MiB each process maps (default 128)
#   DEMO_DUP=P         percent of pages with duplicated content (default 80)
#   DEMO_SECONDS=S     stop watching after S s if not converged (default 45)
#   VM_TIMEOUT=S       watchdog for the whole VM (default 150)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

DEMO_PROCS=${DEMO_PROCS:-4}
DEMO_MIB=${DEMO_MIB:-128}
DEMO_DUP=${DEMO_DUP:-80}
DEMO_SECONDS=${DEMO_SECONDS:-45}

start=$(date +%s%N)
"$TOP/scripts/install-deps.sh"
if [ "${NO_BUILD:-0}" = 0 ]; then
	"$TOP/scripts/build-kernel.sh"
fi
[ -f "$KOUT/arch/x86/boot/bzImage" ] || die "no kernel at $KOUT (build it first)"

DLOGS=$BUILD/logs/demo
[ "$KFLAVOUR" = ours ] || DLOGS=$BUILD/logs/demo-$KFLAVOUR
BIN=$BUILD/demo
mkdir -p "$DLOGS" "$BIN"

# The programs, static, rebuilt when their source changed.
for prog in ksm_watch ksm_demo_load; do
	src=$TOP/tools/mm/$prog.c
	if [ ! -f "$BIN/$prog" ] || [ "$src" -nt "$BIN/$prog" ]; then
		gcc -static -O2 -Wall -Werror -o "$BIN/$prog" "$src" ||
			die "building $prog failed"
	fi
done

# On a terminal the live row is redrawn in place, so sample more often.
interval=1000
[ -t 1 ] && interval=500
plan=$DLOGS/plan
{
	echo "DEMO_PROCS=$DEMO_PROCS DEMO_MIB=$DEMO_MIB DEMO_DUP=$DEMO_DUP"
	echo "DEMO_SECONDS=$DEMO_SECONDS DEMO_INTERVAL_MS=$interval"
	cat "$TOP/scripts/vm/demo-plan.sh"
} >"$plan"
initrd=$BUILD/initramfs-demo.cpio
"$TOP/scripts/mkinitramfs.sh" "$initrd" "$plan" "$BIN/ksm_watch" "$BIN/ksm_demo_load"

# Shows the plan's output as it arrives. A row of ksm_watch starts with the
# time ("  12.5s ..."); on a terminal each row overwrites the previous one.
render() {
	local line tty=0 row=0 n=0
	[ -t 1 ] && tty=1
	while IFS= read -r line || [ -n "$line" ]; do
		n=$((n + 1))
		echo "$n" >"$DLOGS/.shown"
		line=${line%$'\r'}
		[ "$line" = "##KSMT DONE" ] && continue
		if [[ $line =~ ^\ *[0-9]+\.[0-9]s\  ]] && [ $tty = 1 ]; then
			printf '\r\033[K%s' "$line"
			row=1
			continue
		fi
		[ $row = 1 ] && printf '\n'
		row=0
		printf '%s\n' "$line"
	done
	[ $row = 0 ] || printf '\n'
}

results=$DLOGS/results.log
rm -f "$results" "$DLOGS/.shown"
log "demo: booting $(basename "$KOUT") in QEMU; logs in $DLOGS"
"$TOP/scripts/vm-run.sh" --initrd "$initrd" --mem 1024 --cpus 2 \
	--timeout "${VM_TIMEOUT:-150}" --append "kunit.enable=0" --out "$DLOGS" &
vm=$!
# On ^C or TERM, stop the VM too: vm-run.sh's 'timeout' passes TERM on to QEMU.
stop_vm() {
	local p
	for p in $(pgrep -P "$vm" 2>/dev/null); do
		kill -TERM "$p" 2>/dev/null || true
	done
	kill -TERM "$vm" 2>/dev/null || true
	log "demo: interrupted"
	exit 130
}
trap stop_vm INT TERM
# tail exits non-zero as the log did not exist yet when it started.
tail -n +1 -s 0.2 -F --pid=$vm "$results" 2>/dev/null | render || true
vm_rc=0
wait $vm || vm_rc=$?
# Whatever tail had not shown yet when the VM ended.
shown=$(cat "$DLOGS/.shown" 2>/dev/null || echo 0)
[ -f "$results" ] && tail -n +$((shown + 1)) "$results" | render
rm -f "$DLOGS/.shown"

fail=()
if [ $vm_rc -ne 0 ]; then
	fail+=("the VM failed (vm-run exit $vm_rc; console: $DLOGS/console.log)")
elif ! grep -q '^##KSMT DONE' "$results" 2>/dev/null; then
	fail+=("the plan did not finish (console: $DLOGS/console.log)")
fi
grep -qE '^saved [0-9]+\.[0-9] MiB of [0-9]+ MiB mapped \([0-9]+\.[0-9]%\)'$'\r''?$' \
	"$results" 2>/dev/null || fail+=("no summary line")
grep -q '^data intact: ' "$results" 2>/dev/null ||
	fail+=("the workload did not report its data intact")
if grep -qE 'MISMATCH|demo: FAIL' "$results" 2>/dev/null; then
	fail+=("$(grep -hE 'MISMATCH|demo: FAIL' "$results" | head -n1 | tr -d '\r')")
fi
# The kernel reports scripts/ktest_report.py fails a test run on.
badness='BUG: |Oops|WARNING: |------------\[ cut here \]|Kernel panic|'
badness+='general protection fault|KASAN|UBSAN|possible circular locking|'
badness+='possible recursive locking|inconsistent lock state|'
badness+='suspicious RCU usage|rcu: INFO|self-detected stall|'
badness+='hung_task|soft lockup|list_add corruption|list_del corruption|'
badness+='Bad page|bad pte|Bad rss-counter'
if grep -qE "$badness" "$DLOGS/console.log" 2>/dev/null; then
	fail+=("the kernel complained: $(grep -hE "$badness" "$DLOGS/console.log" |
		head -n1 | tr -d '\r')")
fi

elapsed=$((($(date +%s%N) - start) / 100000000))
elapsed=$((elapsed / 10)).$((elapsed % 10))
if [ ${#fail[@]} -gt 0 ]; then
	for f in "${fail[@]}"; do
		echo "demo: FAILED: $f"
	done
	echo "demo: failed after $elapsed s (logs in $DLOGS)"
	exit 1
fi
echo "demo: passed in $elapsed s (logs in $DLOGS)"
