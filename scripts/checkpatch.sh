#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs the kernel's checkpatch.pl --strict on every C file and header we own
# (the overlay: mm/, include/, tools/). Exits non-zero on any finding.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

"$TOP/scripts/install-deps.sh"
"$TOP/scripts/prepare-tree.sh" >/dev/null
cd "$TOP"
mapfile -t files < <(git ls-files -co --exclude-standard -- \
	'mm/*.[ch]' 'include/*.h' 'tools/*.[ch]')
[ ${#files[@]} -gt 0 ] || exit 0
perl "$PRISTINE/scripts/checkpatch.pl" --strict --no-tree --quiet \
	--ignore FILE_PATH_CHANGES,SPDX_LICENSE_TAG -f "${files[@]}"
echo "checkpatch: ${#files[@]} files clean"
