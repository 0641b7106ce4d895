#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The demo ('make demo'): boots our kernel in QEMU and, inside it, GUESTS
# virtual machines of the same small image (Debian's qemu-system-x86_64,
# TCG, scripts/vm/demo-guests-plan.sh), turns ksmd on and shows live how
# KSM merges the guests' memory (tools/mm/ksm_watch), then prints
# 'saved X MiB of Y MiB of guest RAM (Z%)', has every guest check its
# memory and shuts down cleanly. Guests are what KSM is for; they take
# some 30 s to boot under nested TCG. GUESTS=0 shows processes instead
# (tools/mm/ksm_demo_load, scripts/vm/demo-plan.sh; 'saved X MiB of Y MiB
# mapped (Z%)'), which takes some 20 s. Logs, and demo.png (pages_sharing
# and ksmd CPU over time), go to build/logs/demo/. Exits non-zero if the VM
# fails, a guest or process finds its data changed, the kernel warns, or
# the summary line is missing.
#
#   GUESTS=N           guests (default 3; 0: the process demo)
#   KSMG_MEM=M         MiB of RAM per guest (default 128)
#   KSMG_SHARED=M      MiB per guest of content common to all (default 64)
#   KSMG_UNIQUE=M      MiB per guest of content of its own (default 16)
#   NO_BUILD=1         use the kernel already built (no kernel build at all)
#   DEMO_PROCS=N       workload processes (default 4)
#   DEMO_MIB=M         MiB each process maps (default 128)
#   DEMO_DUP=P         percent of pages with duplicated content (default 80)
#   DEMO_SECONDS=S     stop watching after S s if not converged (default 45)
#   VM_TIMEOUT=S       watchdog for the whole VM (default 150; with
#                      guests 240 + 90 per guest)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

DEMO_PROCS=${DEMO_PROCS:-4}
DEMO_MIB=${DEMO_MIB:-128}
DEMO_DUP=${DEMO_DUP:-80}
DEMO_SECONDS=${DEMO_SECONDS:-45}
GUESTS=${GUESTS:-3}
case "$GUESTS" in
'' | *[!0-9]*) die "GUESTS must be a number, not '$GUESTS'" ;;
esac
[ "$GUESTS" -le 6 ] || die "GUESTS=$GUESTS: at most 6 guests fit in the demo VM"
KSMG_MEM=${KSMG_MEM:-128}
KSMG_SHARED=${KSMG_SHARED:-64}
KSMG_UNIQUE=${KSMG_UNIQUE:-16}

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

# On a terminal the live row is redrawn in place, so sample more often;
# guests merge within seconds, so they are sampled every 250 ms for the
# plot to show the curve.
interval=1000
[ -t 1 ] && interval=500
[ "$GUESTS" -gt 0 ] && interval=250
plan=$DLOGS/plan
initrd=$BUILD/initramfs-demo.cpio
vmopts=(--mem 1024 --timeout "${VM_TIMEOUT:-150}")
if [ "$GUESTS" -gt 0 ]; then
	"$TOP/scripts/mkguest.sh"
	vm_stage "$plan" "$initrd" demo-guests-plan.sh "$BIN/ksm_watch" \
		"$TOP/scripts/vm/guest-lib.sh" "$BUILD/guest/ksm_guest.bzImage" \
		"$BUILD/guest/ksm_guest.cpio" <<-EOF
		DEMO_GUESTS=$GUESTS KSMG_MEM=$KSMG_MEM KSMG_SHARED=$KSMG_SHARED KSMG_UNIQUE=$KSMG_UNIQUE
		DEMO_SECONDS=$DEMO_SECONDS DEMO_INTERVAL_MS=$interval
	EOF
	vmopts=(--mem $((768 + GUESTS * (KSMG_MEM + 96))) --hostfs
		--timeout "${VM_TIMEOUT:-$((240 + 90 * GUESTS))}")
else
	vm_stage "$plan" "$initrd" demo-plan.sh "$BIN/ksm_watch" \
		"$BIN/ksm_demo_load" <<-EOF
		DEMO_PROCS=$DEMO_PROCS DEMO_MIB=$DEMO_MIB DEMO_DUP=$DEMO_DUP
		DEMO_SECONDS=$DEMO_SECONDS DEMO_INTERVAL_MS=$interval
	EOF
fi

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

# plot RESULTS PNG: pages_sharing and ksmd CPU over time, from the rows
# ksm_watch printed ("  12.5s  scanned  MiB/s  shared  sharing  saved
# cpu%  scans").
plot() {
	local data=$DLOGS/demo.dat
	awk '$1 ~ /^[0-9]+\.[0-9]s$/ && NF == 8 {
		sub(/s$/, "", $1); cpu = $7; sub(/%$/, "", cpu)
		if (cpu == "-") cpu = 0
		print $1, $5, cpu }' "$1" | tr -d '\r' >"$data"
	[ -s "$data" ] || return 1
	gnuplot >"$DLOGS/demo.plot.log" 2>&1 <<-EOF
		set terminal png size 900,500
		set output '$2'
		set title 'make demo: KSM merging ($([ "$GUESTS" -gt 0 ] && echo "$GUESTS QEMU guests" || echo "$DEMO_PROCS processes"))'
		set xlabel 'seconds since ksmd started'
		set ylabel 'pages\_sharing'
		set y2label 'ksmd CPU %'
		set y2range [0:100]
		set ytics nomirror
		set y2tics
		set key left top
		plot '$data' using 1:2 with lines lw 2 title 'pages\_sharing', \
		     '$data' using 1:3 axes x1y2 with lines title 'ksmd CPU %'
	EOF
}

results=$DLOGS/results.log
rm -f "$results" "$DLOGS/.shown" "$DLOGS/demo.png"
log "demo: booting $(basename "$KOUT") in QEMU; logs in $DLOGS"
"$TOP/scripts/vm-run.sh" --initrd "$initrd" "${vmopts[@]}" --cpus 2 \
	--append "kunit.enable=0" --out "$DLOGS" &
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
grep -qE '^saved [0-9]+\.[0-9] MiB of [0-9]+ MiB (mapped|of guest RAM) \([0-9]+\.[0-9]%\)'$'\r''?$' \
	"$results" 2>/dev/null || fail+=("no summary line")
grep -q '^data intact: ' "$results" 2>/dev/null ||
	fail+=("the workload did not report its data intact")
if grep -qE 'MISMATCH|demo: FAIL' "$results" 2>/dev/null; then
	fail+=("$(grep -hE 'MISMATCH|demo: FAIL' "$results" | head -n1 | tr -d '\r')")
fi
# The kernel reports every VM run fails on (scripts/kernel_errors.py).
krc=0
complaint=$(python3 "$TOP/scripts/kernel_errors.py" "$DLOGS/console.log" 2>&1) ||
	krc=$?
case $krc in
0) ;;
1) fail+=("the kernel complained: $(printf '%s' "$complaint" | tr -d '\r')") ;;
*) fail+=("no console to check: $complaint") ;;
esac

plot "$results" "$DLOGS/demo.png" ||
	fail+=("no plot (gnuplot failed; see $DLOGS/demo.plot.log)")

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
