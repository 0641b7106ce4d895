#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make configs: builds our KSM in the configs users run, not only in the
# test config. For each config below: mm/ksm/ with W=1 (and sparse, C=2),
# plus every upstream file that includes linux/ksm.h and is built in that
# config, so that a change of our header that breaks a caller shows. One
# line per config, then a table:
#
#   config  errors  warnings  link  layers
#
# errors counts every compiler error; warnings those in our files
# (mm/ksm/, include/linux/ksm.h, include/trace/events/ksm.h), sparse's
# "context imbalance" aside (see scripts/lint.sh); layers is the check of
# scripts/ksm_layers.py on the config's objects (ok, or 'up' for a call up
# the layers of Documentation/mm/ksm.rst). Exits non-zero if any config has
# an error, a warning or a call up.
#
#   CONFIGS="a b"   only these configs (names as in the table)
#   LINK=1          also link the boot image (vmlinux, no modules) of the
#                   configs marked 'link': x86_64 and arm64 defconfig
#                   (long when cold: 22 and 31 minutes here)
#
# Build trees go to build/configs/<name>, with ccache; logs to
# build/logs/configs/<name>.log.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

VARIANT=ours
TREE=$BUILD/tree-ours
"$TOP/scripts/install-deps.sh" configs
VARIANT=ours "$TOP/scripts/prepare-tree.sh"

OUTS=$BUILD/configs
CLOGS=$BUILD/logs/configs
mkdir -p "$OUTS" "$CLOGS"
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
export CCACHE_BASEDIR=$TOP CCACHE_NOHASHDIR=true
JOBS=${JOBS:-$(($(nproc) + 1))}
DEBIAN_CONFIG=/usr/src/linux-config-6.12/config.amd64_none_amd64.xz

# Options no dependency of ours needs, turned off for the smallest build.
TINY_OFF="NUMA SYSFS TRANSPARENT_HUGEPAGE MEMORY_FAILURE MIGRATION SWAP
MEMCG MEMORY_HOTPLUG MEMORY_HOTREMOVE TRACEPOINTS FTRACE DEBUG_FS KUNIT
COMPACTION CGROUPS"

# name  arch  base  link  options (NAME=y, NAME=n, NAME=value)
matrix() {
	cat <<-EOF
	debian-amd64    x86_64 debian     no   KSM=y
	x86_64-defconfig x86_64 defconfig link KSM=y
	tiny-nodeps     x86_64 tinyconfig no   64BIT=y ADVISE_SYSCALLS=y KSM=y $(for o in $TINY_OFF; do printf '%s=n ' "$o"; done)
	tiny-swap       x86_64 tinyconfig no   64BIT=y ADVISE_SYSCALLS=y KSM=y SWAP=y BLOCK=y SYSFS=y MIGRATION=n MEMORY_FAILURE=n NUMA=n MEMCG=n
	tiny-mf-numa    x86_64 tinyconfig no   64BIT=y ADVISE_SYSCALLS=y KSM=y SMP=y NUMA=y MIGRATION=y X86_MCE=y MEMORY_FAILURE=y SWAP=n TRANSPARENT_HUGEPAGE=y SYSFS=n
	tiny-kunit      x86_64 tinyconfig no   64BIT=y ADVISE_SYSCALLS=y KSM=y KUNIT=y KSM_KUNIT_TEST=y SYSFS=y SWAP=n MIGRATION=n
	preempt-rt      x86_64 defconfig  no   KSM=y EXPERT=y PREEMPT_RT=y
	preempt-none    x86_64 defconfig  no   KSM=y PREEMPT_NONE=y PREEMPT_VOLUNTARY=n PREEMPT=n PREEMPT_DYNAMIC=n
	arm64-defconfig arm64  defconfig  link KSM=y
	i386-highmem    i386   defconfig  no   KSM=y HIGHMEM4G=y HIGHPTE=y KUNIT=y KSM_KUNIT_TEST=y
	EOF
}

# Our files, as kbuild prints them in a warning.
OURS_RE='(mm/ksm/|include/linux/ksm\.h|include/trace/events/ksm\.h)'

# make for config $1 (an output directory) and arch $2, then the rest.
kmake() {
	local out=$1 arch=$2 cross=
	shift 2
	[ "$arch" = arm64 ] && cross=aarch64-linux-gnu-
	make -s -C "$TREE" O="$out" ARCH="$arch" CROSS_COMPILE="$cross" \
		CC="ccache ${cross}gcc" HOSTCC="ccache gcc" -j"$JOBS" "$@"
}

# Writes the .config of one row; fails if an option did not stick.
configure() {
	local name=$1 arch=$2 base=$3 out=$4 frag opt
	shift 4
	frag=$out/ksm.fragment
	mkdir -p "$out"
	for opt in "$@"; do
		case $opt in
		*=n)	echo "# CONFIG_${opt%=n} is not set" ;;
		*)	echo "CONFIG_$opt" ;;
		esac
	done >"$frag"
	if [ "$base" = debian ]; then
		xz -dc "$DEBIAN_CONFIG" >"$out/.config"
		# Debian signs modules with a key we do not have.
		echo 'CONFIG_SYSTEM_TRUSTED_KEYS=""' >>"$frag"
		echo '# CONFIG_MODULE_SIG_ALL is not set' >>"$frag"
		echo '# CONFIG_DEBUG_INFO_BTF is not set' >>"$frag"
	else
		kmake "$out" "$arch" "$base" >/dev/null
	fi
	KCONFIG_CONFIG=$out/.config "$TREE/scripts/kconfig/merge_config.sh" \
		-m -O "$out" "$out/.config" "$frag" >/dev/null
	kmake "$out" "$arch" olddefconfig >/dev/null
	for opt in "$@"; do
		case $opt in
		*=n)	! grep -q "^CONFIG_${opt%=n}=" "$out/.config" ;;
		*)	grep -qx "CONFIG_$opt" "$out/.config" ;;
		esac || { log "configs: $name: CONFIG_$opt did not stick"; return 1; }
	done
}

# The objects of upstream files that include linux/ksm.h and are built in
# the config of output directory $1 (arch $2, source arch $3): a dry run
# of their directories lists every object kbuild would build there.
ksm_callers() {
	local out=$1 arch=$2 srcarch=$3 includers dirs
	includers=$(cd "$TREE" && grep -rlE '#include <linux/ksm\.h>' \
		--include='*.c' mm kernel fs arch/"$srcarch" 2>/dev/null |
		grep -v '^mm/ksm/' | sed 's/\.c$/.o/' | LC_ALL=C sort -u)
	dirs=$(echo "$includers" | cut -d/ -f1 | sed 's|$|/|' | sort -u)
	[ "$srcarch" = x86 ] || [ "$srcarch" = arm64 ] &&
		dirs=$(echo "$dirs" | grep -v '^arch/')" arch/$srcarch/"
	# shellcheck disable=SC2086
	kmake "$out" "$arch" -n $dirs 2>/dev/null |
		grep -oE ' -o [^ ]+\.o ' | awk '{print $2}' | LC_ALL=C sort -u |
		LC_ALL=C comm -12 - <(echo "$includers")
}

rows=()
failed=0
while read -r name arch base link opts; do
	[ -n "$name" ] || continue
	if [ -n "${CONFIGS:-}" ] && [[ " $CONFIGS " != *" $name "* ]]; then
		continue
	fi
	out=$OUTS/$name
	clog=$CLOGS/$name.log
	srcarch=$arch
	[ "$arch" = x86_64 ] || [ "$arch" = i386 ] && srcarch=x86
	log "configs: $name"
	# shellcheck disable=SC2086
	if ! configure "$name" "$arch" "$base" "$out" $opts >"$clog" 2>&1; then
		rows+=("$name config-failed - -")
		failed=1
		continue
	fi
	sparse=
	command -v sparse >/dev/null && sparse=C=2
	{
		kmake "$out" "$arch" W=1 $sparse mm/ksm/ || true
		# shellcheck disable=SC2046
		callers=$(ksm_callers "$out" "$arch" "$srcarch")
		echo "configs: callers built: $(echo $callers)"
		[ -z "$callers" ] || kmake "$out" "$arch" $callers || true
	} >>"$clog" 2>&1
	linked=-
	if [ "$link" = link ] && [ "${LINK:-0}" = 1 ]; then
		# The boot image: vmlinux linked (modules are not our concern).
		image=bzImage
		[ "$arch" = arm64 ] && image=Image
		if kmake "$out" "$arch" "$image" >>"$clog" 2>&1; then
			linked=yes
		else
			linked=no
		fi
	fi
	errors=$(grep -c 'error:' "$clog" || true)
	warnings=$(grep -E "$OURS_RE.*warning:" "$clog" |
		grep -vc 'context imbalance' || true)
	[ -f "$out/mm/ksm/built-in.a" ] || errors=$((errors + 1))
	[ "$linked" = no ] && errors=$((errors + 1))
	layers=ok
	python3 "$TOP/scripts/ksm_layers.py" "$TOP/Documentation/mm/ksm.rst" \
		"$out/mm/ksm" >>"$clog" 2>&1 || layers=up
	[ "$errors" -eq 0 ] && [ "$warnings" -eq 0 ] && [ "$layers" = ok ] ||
		failed=1
	rows+=("$name $errors $warnings $linked $layers")
	log "configs: $name: $errors errors, $warnings warnings, link $linked, layers $layers"
done < <(matrix)

printf '%-18s %7s %9s %5s %7s\n' config errors warnings link layers
for r in "${rows[@]}"; do
	# shellcheck disable=SC2086
	printf '%-18s %7s %9s %5s %7s\n' $r
done
exit $failed
