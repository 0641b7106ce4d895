#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Installs every Debian package the project needs, once, then checks that
# every command the harness runs is really there. Idempotent: it asks dpkg
# first and runs apt-get only for what is missing. A fresh machine has only
# the base image (shared/base-image-packages.txt); whatever else the
# harness calls must be named here.
#
#   install-deps.sh           what make check, demo and bench need
#   install-deps.sh configs   that, plus what make configs needs (Debian's
#                             kernel configs, the arm64 cross compiler)
set -euo pipefail

# command:package for every program the harness or the kernel build runs
# that a base image may lack. The package list is derived from it, plus
# the packages that bring no command of their own (headers, libraries,
# the kernel source).
COMMANDS=(
	make:make gcc:gcc ld:binutils strip:binutils flex:flex bison:bison
	bc:bc cpio:cpio ccache:ccache busybox:busybox-static
	qemu-system-x86_64:qemu-system-x86 sparse:sparse xz:xz-utils
	kmod:kmod python3:python3 git:git perl:perl gnuplot:gnuplot-nox
	rsync:rsync file:file timeout:coreutils cmp:diffutils awk:mawk
	tar:tar find:findutils
)
LIBRARIES=(build-essential libelf-dev libssl-dev libnuma-dev linux-source-6.12)
if [ "${1:-}" = configs ]; then
	COMMANDS+=(aarch64-linux-gnu-gcc:gcc-aarch64-linux-gnu)
	LIBRARIES+=(linux-config-6.12)
fi

packages=("${LIBRARIES[@]}")
for entry in "${COMMANDS[@]}"; do
	packages+=("${entry#*:}")
done

missing=()
for p in $(printf '%s\n' "${packages[@]}" | sort -u); do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
	echo "install-deps: installing ${missing[*]}"
	SUDO=
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -qq
	$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# dpkg can say 'installed' while a command is gone (removed by hand, a
# diverted path): check what the harness will run, and name its package.
absent=0
for entry in "${COMMANDS[@]}"; do
	cmd=${entry%%:*}
	command -v "$cmd" >/dev/null 2>&1 && continue
	echo "install-deps: command '$cmd' missing (Debian package ${entry#*:})" >&2
	absent=1
done
[ -f /usr/src/linux-source-6.12.tar.xz ] || {
	echo "install-deps: /usr/src/linux-source-6.12.tar.xz missing (Debian package linux-source-6.12)" >&2
	absent=1
}
exit $absent
