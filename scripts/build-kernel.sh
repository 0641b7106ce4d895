#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Configures and builds the bzImage of $VARIANT (DEBUG=1: the debug kernel;
# KCSAN=1: the data-race detector's; GUEST_KERNEL=1: the QEMU guests'
# kernel, build/out-guest) into build/out-<variant>[-debug|-kcsan], with
# ccache. Both variants get the same config: tinyconfig plus
# scripts/configs/ksm-test.config (and ksm-debug.config for DEBUG=1,
# ksm-kcsan.config for KCSAN=1); ours adds the options only its tree has.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

"$TOP/scripts/prepare-tree.sh"

fragments=("$TOP/scripts/configs/ksm-test.config")
[ "$VARIANT" = ours ] && fragments+=("$TOP/scripts/configs/ksm-ours.config")
[ "$KFLAVOUR" = "$VARIANT-debug" ] && fragments+=("$TOP/scripts/configs/ksm-debug.config")
[ "$KFLAVOUR" = "$VARIANT-kcsan" ] && fragments+=("$TOP/scripts/configs/ksm-kcsan.config")
[ "$KFLAVOUR" = guest ] && fragments=("$TOP/scripts/configs/ksm-guest.config")

JOBS=${JOBS:-$(($(nproc) + 1))}
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
# Hash paths relative to the checkout, so a fresh clone elsewhere (CI)
# hits the cache too; kbuild already strips the tree from __FILE__.
export CCACHE_BASEDIR=$TOP CCACHE_NOHASHDIR=true
# xxh64() (665 bytes) starts on a 1 KiB boundary in every kernel, stock
# and ours alike, so it never crosses a 4 KiB page of code, which TCG runs
# far slower; else where it lands moves with mm/ksm/'s size (README, make
# bench).
MAKE=(make -s -C "$TREE" O="$KOUT" CC="ccache gcc" HOSTCC="ccache gcc" -j"$JOBS"
	CFLAGS_xxhash.o=-falign-functions=1024)
mkdir -p "$KOUT"

# The config is regenerated only when a fragment changed.
stamp=$KOUT/.fragments
if ! cat "${fragments[@]}" | cmp -s - "$stamp" || [ ! -f "$KOUT/.config" ]; then
	log "build-kernel: configuring $KFLAVOUR"
	"${MAKE[@]}" tinyconfig >/dev/null
	KCONFIG_CONFIG=$KOUT/.config "$TREE/scripts/kconfig/merge_config.sh" \
		-m -O "$KOUT" "$KOUT/.config" "${fragments[@]}" >/dev/null
	"${MAKE[@]}" olddefconfig >/dev/null
	# Every option a fragment asks for must have survived olddefconfig.
	bad=$(grep -h '^CONFIG_[A-Z0-9_]*=' "${fragments[@]}" | while read -r line; do
		grep -qx "$line" "$KOUT/.config" || echo "$line"
	done)
	[ -z "$bad" ] || die "config options not set (missing dependency?): $bad"
	cat "${fragments[@]}" >"$stamp"
fi

log "build-kernel: building $KFLAVOUR ($(cat "$PRISTINE/.debian-version"))"
start=$(date +%s)
"${MAKE[@]}" bzImage
log "build-kernel: $KFLAVOUR built in $(($(date +%s) - start)) s"
