# SPDX-License-Identifier: GPL-2.0
#
# Paths and small helpers shared by the harness scripts. Sourced, not run.

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$TOP/build}
VARIANT=${VARIANT:-ours}
TARBALL=${TARBALL:-/usr/src/linux-source-6.12.tar.xz}
PRISTINE=$BUILD/src/linux-source-6.12

case "$VARIANT" in
ours)	TREE=$BUILD/tree-ours ;;
stock)	TREE=$PRISTINE ;;
*)	echo "VARIANT must be 'ours' or 'stock', not '$VARIANT'" >&2; exit 2 ;;
esac
# DEBUG=1 selects the debug kernel (KASAN, lockdep, DEBUG_VM, ...);
# KCSAN=1 the data-race detector's kernel (scripts/kcsan.sh);
# GUEST_KERNEL=1 the small kernel of the QEMU guests (scripts/mkguest.sh),
# built from the pristine tree whatever the variant.
if [ "${GUEST_KERNEL:-0}" != 0 ]; then
	VARIANT=stock
	KFLAVOUR=guest
	TREE=$PRISTINE
elif [ "${KCSAN:-0}" != 0 ]; then
	KFLAVOUR=$VARIANT-kcsan
elif [ "${DEBUG:-0}" != 0 ]; then
	KFLAVOUR=$VARIANT-debug
else
	KFLAVOUR=$VARIANT
fi
# What a result line of this kernel starts with: 'debug:', 'kcsan:' or ''.
KPREFIX=
[ "$KFLAVOUR" != "$VARIANT" ] && KPREFIX=${KFLAVOUR#"$VARIANT"-}:
KOUT=$BUILD/out-$KFLAVOUR
# The compiler flags of the programs that run in the VM: static, -O2, the
# UAPI headers, and the kselftest headers of our tree, which carry the
# harness fix of patches/ (the suites' "../kselftest_harness.h" is found
# through its mm/). Our tree must be prepared (scripts/prepare-tree.sh).
KSFT_INC=$BUILD/tree-ours/tools/testing/selftests
KSFT_CFLAGS=(-static -O2 -isystem "$BUILD/headers/usr/include" -I"$PRISTINE"
	-I"$PRISTINE/tools/include" -I"$KSFT_INC" -I"$KSFT_INC/mm")
# KSMT_LOGS: where this run's logs go (runs in parallel need their own).
LOGS=${KSMT_LOGS:-$BUILD/logs/$KFLAVOUR}

log() { printf '%s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# is_ksm_program FILE: whether a KSM selftest source is a program (it has
# a main(), kselftest_harness's or its own). The other ksm_*.c files are
# parts of one: those of program NAME are named NAME_*.c.
is_ksm_program() {
	grep -qE '^(TEST_HARNESS_MAIN|int main\()' "$1"
}

# Replace $2 by $1 only when the content differs: unchanged files keep
# their timestamps, so kbuild rebuilds only what really changed. The
# rename also breaks any hard link into the pristine tree.
install_if_changed() {
	local src=$1 dst=$2
	cmp -s "$src" "$dst" && return 0
	mkdir -p "$(dirname "$dst")"
	cp "$src" "$dst.tmp.$$"
	mv -f "$dst.tmp.$$" "$dst"
}

# The VM pipeline check, demo and bench all run: vm_stage writes the plan
# (the settings read from stdin, then scripts/vm/NAME) and the initramfs
# that carries it, scripts/vm-run.sh boots it, and the logs are read with
# the one list of kernel complaints (scripts/kernel_errors.py).
#   vm_stage PLAN INITRD NAME [FILE...]   FILEs go to /tests beside it
vm_stage() {
	local plan=$1 initrd=$2 name=$3
	shift 3
	[ -f "$TOP/scripts/vm/$name" ] || die "no plan scripts/vm/$name"
	{
		cat
		cat "$TOP/scripts/vm/$name"
	} >"$plan"
	"$TOP/scripts/mkinitramfs.sh" "$initrd" "$plan" "$@"
}
