# SPDX-License-Identifier: GPL-2.0
#
# Sourced inside the test VM: starts and talks to small QEMU guests, run by
# Debian's own qemu-system-x86_64 read from the host's root over 9p (/host;
# scripts/vm-run.sh --hostfs). The guest kernel is /tests/ksm_guest.bzImage,
# its initramfs /tests/ksm_guest.cpio, whose /init is tools/mm/ksm_guest_init:
# it fills KSMG_SHARED MiB with content the same in every guest and
# KSMG_UNIQUE MiB with content of its own, says "KSMG <id> ready ..." on
# its serial port and then answers "verify", "reboot" and "halt".
#
# A guest's serial port is a pair of FIFOs (QEMU's 'pipe' chardev) under
# $GUEST_DIR; everything it prints is collected in $GUEST_DIR/g<id>.log.

GUEST_DIR=${GUEST_DIR:-/tmp/guests}
KSMG_SHARED=${KSMG_SHARED:-24}
KSMG_UNIQUE=${KSMG_UNIQUE:-8}
KSMG_MEM=${KSMG_MEM:-128}
# Extra guest kernel parameters (e.g. 'ignore_loglevel printk.time=1').
KSMG_APPEND=${KSMG_APPEND:-}
HOSTLIB=/host/usr/lib/x86_64-linux-gnu

# Why guests cannot run here, or nothing.
guest_unavailable() {
	[ -x /host/usr/bin/qemu-system-x86_64 ] ||
		{ echo "no /host/usr/bin/qemu-system-x86_64 (is the host root exported?)"; return; }
	[ -x $HOSTLIB/ld-linux-x86-64.so.2 ] || { echo "no host loader"; return; }
	[ -f /tests/ksm_guest.bzImage ] || { echo "no guest kernel"; return; }
	[ -f /tests/ksm_guest.cpio ] || { echo "no guest initramfs"; return; }
}

# guest_qemu ARGS...: execs the host's qemu-system-x86_64 through the
# host's loader (/lib64 on the host is an absolute symlink); TCG is one of
# QEMU's loadable modules, hence QEMU_MODULE_DIR. It replaces the shell
# that runs it: call it in the background or in a subshell, so that $! is
# QEMU's own pid.
guest_qemu() {
	export QEMU_MODULE_DIR=$HOSTLIB/qemu
	exec $HOSTLIB/ld-linux-x86-64.so.2 --library-path $HOSTLIB \
		/host/usr/bin/qemu-system-x86_64 "$@"
}

# guest_start ID [on|off]: boots guest ID in the background, RAM mergeable
# (QEMU's default, mem-merge=on) or not. Its QEMU's pid is in g<id>.pid.
guest_start() {
	local id=$1 merge=${2:-on} d=$GUEST_DIR
	mkdir -p $d
	rm -f $d/g$id.in $d/g$id.out $d/g$id.log
	mkfifo $d/g$id.in $d/g$id.out
	cat $d/g$id.out >$d/g$id.log &
	echo $! >$d/g$id.cat
	guest_qemu -L /host/usr/share/qemu -L /host/usr/share/seabios \
		-machine pc,mem-merge=$merge -nodefaults -display none \
		-m "$KSMG_MEM" -smp 1 -accel tcg,tb-size=64 -cpu max \
		-kernel /tests/ksm_guest.bzImage -initrd /tests/ksm_guest.cpio \
		-chardev pipe,id=s0,path=$d/g$id -serial chardev:s0 \
		-append "console=ttyS0 loglevel=4 panic=-1 ksmg.id=$id ksmg.shared=$KSMG_SHARED ksmg.unique=$KSMG_UNIQUE $KSMG_APPEND" \
		</dev/null >$d/q$id.log 2>&1 &
	echo $! >$d/g$id.pid
}

guest_pid() {
	cat "$GUEST_DIR/g$1.pid" 2>/dev/null
}

guest_alive() {
	local pid
	pid=$(guest_pid "$1") && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

# guest_count ID WORD: how many "KSMG <id> WORD" lines guest ID printed.
guest_count() {
	grep -c "^KSMG $1 $2" "$GUEST_DIR/g$1.log" 2>/dev/null
}

# guest_wait ID WORD N SECONDS: waits until guest ID printed its Nth
# "WORD" line; fails if it did not in time or its QEMU is gone.
guest_wait() {
	local id=$1 word=$2 n=$3 limit=$4 t=0
	while [ "$(guest_count "$id" "$word")" -lt "$n" ]; do
		guest_alive "$id" || return 1
		[ $t -ge $((limit * 2)) ] && return 1
		sleep 0.5
		t=$((t + 1))
	done
}

# guest_say ID CMD: one command line to guest ID's serial port. Opening
# the FIFO blocks while no QEMU holds it open, hence the timeout.
guest_say() {
	guest_alive "$1" &&
		timeout 10 sh -c "echo '$2' >'$GUEST_DIR/g$1.in'"
}

# guest_verify ID...: each guest checks its whole pattern; 0 if all found
# it intact.
guest_verify() {
	local id n rc=0
	for id in "$@"; do
		n=$(($(guest_count "$id" verify) + 1))
		eval "want_$id=$n"
		guest_say "$id" verify
	done
	for id in "$@"; do
		eval "n=\$want_$id"
		if ! guest_wait "$id" verify "$n" 120; then
			echo "# guest $id did not answer verify"
			rc=1
		elif grep "^KSMG $id verify" "$GUEST_DIR/g$id.log" | tail -n 1 |
			grep -q ' verify bad'; then
			echo "# guest $id: $(grep "^KSMG $id verify" "$GUEST_DIR/g$id.log" | tail -n 1)"
			rc=1
		fi
	done
	return $rc
}

# guest_show ID: the end of guest ID's serial log and QEMU's own output.
guest_show() {
	echo "# --- guest $1 serial log (last lines) ---"
	tail -n 25 "$GUEST_DIR/g$1.log" 2>/dev/null | sed 's/^/#   /'
	echo "# --- guest $1 qemu output ---"
	tail -n 10 "$GUEST_DIR/q$1.log" 2>/dev/null | sed 's/^/#   /'
}

# guest_kill ID: ends guest ID's QEMU at once.
guest_kill() {
	local pid
	pid=$(guest_pid "$1")
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	[ -n "$pid" ] && wait "$pid" 2>/dev/null
	pid=$(cat "$GUEST_DIR/g$1.cat" 2>/dev/null)
	[ -n "$pid" ] && kill "$pid" 2>/dev/null
	rm -f "$GUEST_DIR/g$1.pid"
}

guest_kill_all() {
	local f
	for f in "$GUEST_DIR"/g*.pid; do
		[ -e "$f" ] || continue
		f=${f##*/g}
		guest_kill "${f%.pid}"
	done
}

# guest_stat ID FIELD: a field of /proc/<qemu pid>/ksm_stat.
guest_stat() {
	awk -v f="$2" '$1 == f { print $2 }' "/proc/$(guest_pid "$1")/ksm_stat" 2>/dev/null
}

# guest_ram_flags ID: VmFlags of the mapping that holds guest ID's RAM
# (the one anonymous mapping at least as large as the guest's memory).
guest_ram_flags() {
	awk -v min=$((KSMG_MEM * 1024)) '
		/^[0-9a-f]+-[0-9a-f]+ / { inode = $5; size = 0 }
		/^Size:/ { size = $2 }
		/^VmFlags:/ && inode == 0 && size >= min { sub(/^VmFlags: */, ""); print; exit }
	' "/proc/$(guest_pid "$1")/smaps" 2>/dev/null
}
