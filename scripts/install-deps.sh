#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Installs every Debian package the project needs, once. Idempotent: it asks
# dpkg first and runs apt-get only for what is missing.
set -euo pipefail

PACKAGES=(
	build-essential flex bison bc libelf-dev libssl-dev cpio ccache
	busybox-static qemu-system-x86 libnuma-dev sparse xz-utils kmod
	python3 linux-source-6.12 git perl gnuplot-nox
)

missing=()
for p in "${PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
