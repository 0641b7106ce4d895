#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# mkinitramfs.sh OUT.cpio PLAN [FILE...]
#
# Builds an uncompressed initramfs: static busybox, scripts/vm/init as /init,
# PLAN as /tests/plan, and each FILE (static programs, helper scripts) in
# /tests. The image is rewritten only when its content changed.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

out=$1 plan=$2
shift 2
busybox=$(command -v busybox) || die "busybox-static missing"
file -L "$busybox" | grep -q 'statically linked' || busybox=/bin/busybox
[ -x "$busybox" ] || die "no static busybox"

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,sbin,dev,proc,sys,tmp,tests,host,usr/bin}
cp "$busybox" "$stage/bin/busybox"
install -m 755 "$TOP/scripts/vm/init" "$stage/init"
install -m 755 "$plan" "$stage/tests/plan"
for f in "$@"; do
	install -m 755 "$f" "$stage/tests/$(basename "$f")"
done
(cd "$stage" && find . -print0 | LC_ALL=C sort -z |
	cpio --null -o -H newc --quiet --reproducible) >"$out.tmp"
install_if_changed "$out.tmp" "$out"
rm -f "$out.tmp"
