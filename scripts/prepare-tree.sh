#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Assembles the kernel tree for $VARIANT.
#
#   stock: Debian's linux-source-6.12, unpacked once, untouched.
#   ours:  a hard-linked copy of it with upstream mm/ksm.c removed, our
#          overlay (mm/ksm/, include/, Documentation/, tools/) installed and
#          the hook diffs in patches/ applied.
#
# Re-running is incremental: nothing is unpacked again and only files whose
# content changed are rewritten, so kbuild rebuilds only what changed.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

unpack_pristine() {
	[ -f "$PRISTINE/.unpacked" ] && return 0
	[ -f "$TARBALL" ] || die "$TARBALL missing (run scripts/install-deps.sh)"
	log "prepare-tree: unpacking $TARBALL"
	rm -rf "$BUILD/src"
	mkdir -p "$BUILD/src"
	tar -xJf "$TARBALL" -C "$BUILD/src"
	dpkg-query -W -f='${Version}\n' linux-source-6.12 >"$PRISTINE/.debian-version"
	touch "$PRISTINE/.unpacked"
}

# Every overlay file of the repository, relative to its top.
overlay_files() {
	local dirs=() d
	for d in mm include Documentation tools; do
		[ -d "$TOP/$d" ] && dirs+=("$d")
	done
	[ ${#dirs[@]} -gt 0 ] || return 0
	(cd "$TOP" && find "${dirs[@]}" -type f ! -name '*.o' ! -name '*.cmd' |
		LC_ALL=C sort)
}

# Files the hook diffs touch, relative to the tree.
patched_files() {
	[ -d "$TOP/patches" ] || return 0
	cat "$TOP"/patches/*.patch 2>/dev/null |
		sed -n 's|^+++ b/\([^[:space:]]*\).*|\1|p' | LC_ALL=C sort -u
}

# Applies all hook diffs to pristine copies in a scratch directory, then
# installs each result only if it differs from what the tree holds.
apply_patches() {
	local scratch=$1 f p
	for f in $(patched_files); do
		mkdir -p "$scratch/$(dirname "$f")"
		cp "$PRISTINE/$f" "$scratch/$f"
	done
	for p in "$TOP"/patches/*.patch; do
		[ -e "$p" ] || continue
		patch -s -p1 -d "$scratch" --no-backup-if-mismatch <"$p" ||
			die "hook diff $(basename "$p") does not apply"
	done
	for f in $(patched_files); do
		install_if_changed "$scratch/$f" "$TREE/$f"
	done
}

# A file that the overlay or a diff installed last time but not this time
# goes back to its pristine state (or away, if upstream has no such file).
restore_dropped() {
	local old=$1 new=$2 f
	[ -f "$old" ] || return 0
	LC_ALL=C comm -23 <(LC_ALL=C sort -u "$old") <(LC_ALL=C sort -u "$new") |
	while read -r f; do
		if [ -f "$PRISTINE/$f" ]; then
			install_if_changed "$PRISTINE/$f" "$TREE/$f"
		else
			rm -f "$TREE/$f"
		fi
	done
}

prepare_ours() {
	local manifest=$TREE/.overlay-manifest scratch f
	[ "$TREE" != "$PRISTINE" ] || die "prepare-tree: our tree cannot be the pristine one"
	if [ ! -f "$TREE/.linked" ]; then
		log "prepare-tree: linking $TREE"
		rm -rf "$TREE"
		cp -al "$PRISTINE" "$TREE"
		rm -f "$TREE/.unpacked"
		touch "$TREE/.linked"
	fi
	rm -f "$TREE/mm/ksm.c"

	scratch=$(mktemp -d)
	trap 'rm -rf "$scratch"' RETURN
	{ overlay_files; patched_files; } | LC_ALL=C sort -u >"$scratch/manifest"
	overlay_files | while read -r f; do
		install_if_changed "$TOP/$f" "$TREE/$f"
	done
	apply_patches "$scratch/tree"
	restore_dropped "$manifest" "$scratch/manifest"
	cp "$scratch/manifest" "$manifest"
}

unpack_pristine
log "prepare-tree: linux-source-6.12 $(cat "$PRISTINE/.debian-version") ($VARIANT)"
[ "$VARIANT" = ours ] && prepare_ours
exit 0
