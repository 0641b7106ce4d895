#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Static checks of our code, as test cases:
#   lint/checkpatch   checkpatch.pl --strict on every C file and header we own
#   lint/kselftest-build  our kselftests built the kernel's way, by the
#                     mm selftests' Makefile with our hook (TARGETS=mm)
#   lint/w1-sparse    mm/ksm/ rebuilt with W=1 and sparse (C=2): no warning
#                     but sparse's "context imbalance", which it reports for
#                     every page-table walker whose lock is taken
#                     conditionally (pte_offset_map_lock(); upstream
#                     mm/ksm.c and mm/madvise.c get the same)
#   lint/layers       each file of mm/ksm/ uses only files of lower layers
#                     of Documentation/mm/ksm.rst's table of source files
#                     (scripts/ksm_layers.py, on the W=1 objects)
# Prints PASS/FAIL lines like the test runner; exits non-zero on a FAIL.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

rc=0
out=$LOGS/lint
mkdir -p "$out"

if bash "$TOP/scripts/checkpatch.sh" >"$out/checkpatch.log" 2>&1; then
	echo "PASS lint/checkpatch"
else
	echo "FAIL lint/checkpatch (see $out/checkpatch.log)"
	rc=1
fi

if [ "$VARIANT" = ours ]; then
	command -v sparse >/dev/null || die "sparse missing"
	# A build directory of its own, with the same config: W=1 objects
	# would otherwise make the next normal build relink the kernel.
	lint_out=$BUILD/out-lint
	mkdir -p "$lint_out"
	[ -f "$KOUT/.config" ] || "$TOP/scripts/build-kernel.sh"
	install_if_changed "$KOUT/.config" "$lint_out/.config"
	make -s -C "$TREE" O="$lint_out" CC="ccache gcc" olddefconfig >/dev/null
	make -s -C "$TREE" O="$lint_out" CC="ccache gcc" W=1 C=2 \
		-j"$(($(nproc) + 1))" mm/ksm/ >"$out/w1-sparse.log" 2>&1 || true
	bad=$(grep -E 'warning:|error:' "$out/w1-sparse.log" |
		grep -v 'context imbalance' || true)
	if [ -z "$bad" ] && [ -f "$lint_out/mm/ksm/built-in.a" ]; then
		echo "PASS lint/w1-sparse"
	else
		echo "FAIL lint/w1-sparse ($(echo "$bad" | head -n1); see $out/w1-sparse.log)"
		rc=1
	fi
	# Each file of mm/ksm/ uses only files of lower layers of
	# Documentation/mm/ksm.rst's table (read from the objects just built).
	if python3 "$TOP/scripts/ksm_layers.py" "$TOP/Documentation/mm/ksm.rst" \
		"$lint_out/mm/ksm" >"$out/layers.log" 2>&1; then
		echo "PASS lint/layers"
	else
		why=$(grep -m1 '^UP ' "$out/layers.log" || tail -n1 "$out/layers.log")
		echo "FAIL lint/layers ($why; see $out/layers.log)"
		rc=1
	fi
fi
if [ "$VARIANT" = ours ]; then
	# Only our suites (the ksm_*.c files with a main(); the others are
	# parts of one): some of upstream's need packages we do not use.
	ks=$BUILD/headers
	suites=()
	for src in "$TOP"/tools/testing/selftests/mm/ksm_*.c; do
		is_ksm_program "$src" && suites+=("$(basename "$src" .c)")
	done
	rm -rf "$ks/kselftest/mm"
	mkdir -p "$ks/kselftest/mm"
	if [ -f "$ks/usr/include/linux/mman.h" ] &&
	   make -C "$TREE/tools/testing/selftests/mm" O="$ks" \
		KHDR_INCLUDES="-isystem $ks/usr/include" OUTPUT="$ks/kselftest/mm" \
		"${suites[@]/#/$ks/kselftest/mm/}" >"$out/kselftest-build.log" 2>&1; then
		echo "PASS lint/kselftest-build"
	else
		echo "FAIL lint/kselftest-build (see $out/kselftest-build.log)"
		rc=1
	fi
fi
exit $rc
