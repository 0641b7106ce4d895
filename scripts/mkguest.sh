#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# mkguest.sh -- the image of the small QEMU guests that run inside the test
# VM (scripts/vm/guest-lib.sh), in build/guest/:
#
#   ksm_guest.cpio     initramfs whose /init is tools/mm/ksm_guest_init
#                      (static), which fills the guest's memory with a
#                      pattern and answers over the serial port
#   ksm_guest.bzImage  the guest kernel: tinyconfig and what the /init
#                      needs (scripts/configs/ksm-guest.config), built
#                      from the pristine tree into build/out-guest (a
#                      guest's own kernel is not under test)
#
# Files are rewritten only when their content changed.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

G=$BUILD/guest
mkdir -p "$G"
src=$TOP/tools/mm/ksm_guest_init.c
if [ ! -f "$G/ksm_guest_init" ] || [ "$src" -nt "$G/ksm_guest_init" ]; then
	gcc -static -O2 -Wall -Wextra -Werror -o "$G/ksm_guest_init" "$src" ||
		die "building ksm_guest_init failed"
fi

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/dev" "$stage/proc"
install -m 755 "$G/ksm_guest_init" "$stage/init"
(cd "$stage" && find . -print0 | LC_ALL=C sort -z |
	cpio --null -o -H newc --quiet --reproducible) >"$G/ksm_guest.cpio.tmp"
install_if_changed "$G/ksm_guest.cpio.tmp" "$G/ksm_guest.cpio"
rm -f "$G/ksm_guest.cpio.tmp"

GUEST_KERNEL=1 "$TOP/scripts/build-kernel.sh" >&2
install_if_changed "$BUILD/out-guest/arch/x86/boot/bzImage" "$G/ksm_guest.bzImage"
