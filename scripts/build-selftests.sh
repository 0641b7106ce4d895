#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Builds the test programs that run inside the VM, statically, into
# build/selftests/: upstream's ksm_tests and ksm_functional_tests from the
# unpacked tree, unmodified, our own kselftests from
# tools/testing/selftests/mm/ of this repository, and the benchmark's
# workload driver tools/mm/ksm_bench.c. The list of our kselftests goes to
# build/selftests/our-tests. A program is rebuilt only when a source changed.
# Each of our programs is a ksm_*.c file with a main(), linked with the
# test library (lib/*.c) and its own parts, if any (ksm_stress_*.c for
# ksm_stress).
#
# With program names as arguments (e.g. 'ksm_tests ksm_bench'), builds only
# those and leaves the list alone.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

SELF=$BUILD/selftests
HDR=$BUILD/headers
UP=$PRISTINE/tools/testing/selftests/mm
OURS=$TOP/tools/testing/selftests/mm
ONLY=" $* "
mkdir -p "$SELF"

# UAPI headers; the same for both variants (we add no user ABI).
if [ ! -f "$HDR/usr/include/linux/mman.h" ]; then
	log "build-selftests: installing UAPI headers"
	make -s -C "$PRISTINE" O="$HDR" headers_install INSTALL_HDR_PATH="$HDR/usr" >/dev/null
fi

# The kselftest headers come from our tree (KSFT_CFLAGS), for the stock
# variant too: the suites are the same.
VARIANT=ours "$TOP/scripts/prepare-tree.sh"
CFLAGS=("${KSFT_CFLAGS[@]}")

# build OUT WARN SRC... : compiles when OUT is missing or older than a
# source, than the kselftest harness or than any header of ours
# (selftests and tools/mm). WARN is the warning policy (-w for
# upstream's code, which is not ours to fix; warnings as errors for ours).
build() {
	local out=$1 warn=$2 src
	shift 2
	[ "$ONLY" = "  " ] || [[ $ONLY == *" $(basename "$out") "* ]] || return 0
	for src in "$@" "$KSFT_INC/kselftest_harness.h" \
		$(find "$OURS" "$TOP/tools/mm" -name '*.h' 2>/dev/null); do
		if [ ! -f "$out" ] || [ "$src" -nt "$out" ]; then
			gcc "${CFLAGS[@]}" $warn -o "$out" "$@" -lnuma -lm -lpthread ||
				die "building $(basename "$out") failed"
			return
		fi
	done
}

build "$SELF/ksm_tests" -w "$UP/ksm_tests.c" "$UP/vm_util.c" "$UP/thp_settings.c"
build "$SELF/ksm_functional_tests" -w "$UP/ksm_functional_tests.c" \
	"$UP/vm_util.c" "$UP/thp_settings.c"

# The workload driver of 'make bench' (tools/mm/), on our test helpers,
# found through the include path.
build "$SELF/ksm_bench" "-Wall -Wextra -Werror -I$OURS/lib" \
	"$TOP/tools/mm/ksm_bench.c" \
	"$OURS"/lib/ksm_{sysfs,pages,procs,numa,frames}.c

[ $# -gt 0 ] || : >"$SELF/our-tests"
for src in "$OURS"/ksm_*.c; do
	[ -e "$src" ] || continue
	is_ksm_program "$src" || continue
	name=$(basename "$src" .c)
	parts=()
	for part in "$OURS/${name}"_*.c; do
		[ -e "$part" ] && ! is_ksm_program "$part" && parts+=("$part")
	done
	# -Wextra minus what upstream code compiled in trips on: const
	# return types in thp_settings.[ch], an unused handler argument and
	# setjmp() in kselftest_harness.h.
	build "$SELF/$name" "-Wall -Wextra -Werror -Wno-ignored-qualifiers
		-Wno-unused-parameter -Wno-clobbered" \
		"$src" "${parts[@]}" "$UP/vm_util.c" "$UP/thp_settings.c" \
		$(ls "$OURS"/lib/*.c 2>/dev/null)
	if [ $# -eq 0 ]; then
		echo "$name" >>"$SELF/our-tests"
	fi
done
