#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# vm-run.sh [options] -- boots a kernel in QEMU and waits for it to power off.
#
#   --kernel F     bzImage (default: the one of $VARIANT)
#   --initrd F     initramfs (required)
#   --mem M        guest memory in MiB (default 2048)
#   --cpus N       vCPUs (default 2)
#   --numa         two NUMA nodes (numa=fake=2)
#   --append S     extra kernel parameters
#   --hostfs       export the host root read-only over 9p (mounted on /host)
#   --timeout S    watchdog: kill the VM after S seconds (default 600)
#   --out DIR      where console.log and results.log go (default build/logs)
#
# The kernel console goes to DIR/console.log, the test plan's output to
# DIR/results.log. Exit status: 0 the VM powered off by itself, 124 the
# watchdog killed it, 125 a vCPU took no interrupts after boot, twice (a
# boot where init finds one is repeated once, its logs kept in
# DIR/dead-vcpu), anything else QEMU's own failure.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

kernel=$KOUT/arch/x86/boot/bzImage initrd= mem=2048 cpus=2 numa=0
append= hostfs=0 timeout=600 out=$LOGS
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) kernel=$2; shift ;;
	--initrd) initrd=$2; shift ;;
	--mem) mem=$2; shift ;;
	--cpus) cpus=$2; shift ;;
	--numa) numa=1 ;;
	--append) append=$2; shift ;;
	--hostfs) hostfs=1 ;;
	--timeout) timeout=$2; shift ;;
	--out) out=$2; shift ;;
	*) die "vm-run: unknown option $1" ;;
	esac
	shift
done
[ -f "$kernel" ] || die "no kernel at $kernel"
[ -f "$initrd" ] || die "no initramfs at $initrd"
mkdir -p "$out"

cmdline="console=ttyS0 panic=-1 oops=panic loglevel=7 $append"
[ "$numa" = 1 ] && cmdline="$cmdline numa=fake=2"
[ "$hostfs" = 1 ] && cmdline="$cmdline ksmtest.hostfs"

qemu_base() {
	local accel=$1
	echo qemu-system-x86_64 -machine q35 -nodefaults -display none \
		-no-reboot -m "$mem" -smp "$cpus" -kernel "$kernel" \
		-initrd "$initrd" $accel
}

# KVM is used only if a probe boot really reaches user space; on machines
# where KVM hangs the probe costs a few seconds. The answer is cached per
# boot of the host.
accel_flags() {
	local cache=$BUILD/.kvm-probe probe
	local boot_id
	boot_id=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo none)
	if [ -f "$cache" ] && [ "$(head -n1 "$cache")" = "$boot_id" ]; then
		tail -n1 "$cache"
		return
	fi
	local flags="-accel tcg -cpu max"
	if [ -w /dev/kvm ]; then
		probe=$(mktemp -d)
		if timeout -k 1 "${KVM_PROBE_SECONDS:-6}" \
			$(qemu_base "-enable-kvm -cpu host") \
			-serial null -serial "file:$probe/out" \
			-append "console=ttyS0 panic=-1 ksmtest.probe" \
			>/dev/null 2>&1 && grep -q KSMTEST-PROBE-OK "$probe/out"; then
			flags="-enable-kvm -cpu host"
		fi
		rm -rf "$probe"
	fi
	printf '%s\n%s\n' "$boot_id" "$flags" >"$cache"
	echo "$flags"
}

accel=$(accel_flags)
log "vm-run: $(basename "$kernel") ${mem}M ${cpus}cpu accel=[$accel] append=[$cmdline]"
extra=()
[ "$hostfs" = 1 ] && extra+=(-virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on")

# Boots the VM once, with $1 added to the command line; QEMU's exit status.
boot() {
	rm -f "$out/console.log" "$out/results.log"
	timeout -k 5 "$timeout" $(qemu_base "$accel") "${extra[@]}" \
		-serial "file:$out/console.log" -serial "file:$out/results.log" \
		-append "$cmdline$1" </dev/null >"$out/qemu.log" 2>&1
}

# What init says of a vCPU that took no interrupt once booted (scripts/vm/
# init): QEMU's fault, not the kernel's, found before the plan started.
dead_vcpu() {
	{ grep -a -m1 'ksmtest: dead vCPU' "$out/console.log" 2>/dev/null ||
		true; } | tr -d '\r'
}

rm -rf "$out/dead-vcpu"
rc=0
boot "" || rc=$?
dead=$(dead_vcpu)
if [ -n "$dead" ]; then
	mkdir -p "$out/dead-vcpu"
	mv "$out/console.log" "$out/results.log" "$out/qemu.log" "$out/dead-vcpu/"
	log "vm-run: ${dead#*: }, before the plan: booting again" \
		"(the first boot's logs: $out/dead-vcpu)"
	rc=0
	boot " ksmtest.retry" || rc=$?
	dead=$(dead_vcpu)
	if [ -n "$dead" ]; then
		log "vm-run: again ${dead#*: }; giving up"
		exit 125
	fi
fi
if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
	log "vm-run: watchdog killed the VM after ${timeout}s (console: $out/console.log)"
	exit 124
fi
[ $rc -eq 0 ] || log "vm-run: qemu exited with $rc (see $out/qemu.log)"
exit $rc
