#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Our KSM as a patch series against the pristine linux-source-6.12 tree,
# split the way it is reviewed: patches/series/NN-*.txt give, in order,
# each patch's files and commit message, 00-cover.txt the cover letter.
#
#   patches.sh write    make patches: writes the series (git format-patch)
#                       to build/patches/ and runs checkpatch --strict on
#                       each patch
#   patches.sh check    a make check case: writes the series, applies it
#                       with git am to a fresh checkout of the pristine
#                       tree and compares the result with the tree the
#                       harness builds; prints PASS/FAIL lines
#   patches.sh bisect   make bisect-series: builds the test kernel after
#                       each patch of the series in turn
#
# A git repository of the pristine tree is made once, under
# build/series/pristine.git (a minute or two), and reused.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

VARIANT=ours
TREE=$BUILD/tree-ours
SERIES=$TOP/patches/series
WORK=$BUILD/series
REPO=$WORK/pristine.git
OUT=$BUILD/patches
mode=${1:-write}

# Everybody's name on the series: the last committer of this repository.
AUTHOR_NAME=$(git -C "$TOP" log -1 --format=%an 2>/dev/null || echo "KSM")
AUTHOR_EMAIL=$(git -C "$TOP" log -1 --format=%ae 2>/dev/null ||
	echo "ksm@localhost")
export GIT_AUTHOR_NAME=$AUTHOR_NAME GIT_AUTHOR_EMAIL=$AUTHOR_EMAIL
export GIT_COMMITTER_NAME=$AUTHOR_NAME GIT_COMMITTER_EMAIL=$AUTHOR_EMAIL
# Fixed dates: the same overlay gives the same series, byte for byte.
export GIT_AUTHOR_DATE="2026-01-01T00:00:00Z"
export GIT_COMMITTER_DATE=$GIT_AUTHOR_DATE
g() { git -c core.autocrlf=false -c advice.detachedHead=false "$@"; }

# The pristine tree as a git repository, tagged 'pristine'.
pristine_repo() {
	local version
	version=$(cat "$PRISTINE/.debian-version")
	if [ -f "$REPO/.version" ] && [ "$(cat "$REPO/.version")" = "$version" ]; then
		return 0
	fi
	log "patches: making a git repository of linux-source-6.12 $version"
	rm -rf "$REPO" "$WORK/am" "$WORK/bisect"
	mkdir -p "$REPO"
	(cd "$PRISTINE" && tar --exclude=./.unpacked --exclude=./.debian-version \
		-cf - .) | tar -xf - -C "$REPO"
	g -C "$REPO" init -q
	# Debian's top-level .gitignore ignores everything: -f.
	g -C "$REPO" -c core.looseCompression=1 add -f -A .
	g -C "$REPO" commit -q -m "Linux 6.12 (Debian linux-source-6.12 $version)"
	g -C "$REPO" tag pristine
	echo "$version" >"$REPO/.version"
	echo .version >>"$REPO/.git/info/exclude"
}

# A header field of a series file: 'Files:' or 'Subject:'.
field() {
	sed -n "1,/^\$/s/^$2: *//p" "$1"
}

# The body of a series file: everything after the first blank line.
body() {
	sed '1,/^$/d' "$1"
}

# Installs a file of the final tree into the repository at stage $2 of
# the series, early or final: the KUnit lines of mm/ksm/{Kconfig,Makefile}
# come with the KUnit patch (the first marked 'Stage: final'), so the
# patches before it do not name a directory that is not there yet.
stage_file() {
	local f=$1 dst=$REPO/$1
	mkdir -p "$(dirname "$dst")"
	if [ ! -e "$TREE/$f" ]; then
		g -C "$REPO" rm -q --ignore-unmatch -- "$f"
		return
	fi
	case "$2:$f" in
	early:mm/ksm/Makefile)
		grep -v 'CONFIG_KSM_KUNIT_TEST' "$TREE/$f" >"$dst" ;;
	early:mm/ksm/Kconfig)
		# Drops the KSM_KUNIT_TEST entry: its 'config' line up to the
		# line before the next entry (or the end).
		awk '/^config /{skip = ($2 == "KSM_KUNIT_TEST")} !skip' \
			"$TREE/$f" | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}' >"$dst" ;;
	*)	cp "$TREE/$f" "$dst" ;;
	esac
	g -C "$REPO" add -f -- "$f"
}

# Writes the series into $OUT from the overlay as installed in $TREE.
write_series() {
	local msg f stage=early staged=() listed
	VARIANT=ours "$TOP/scripts/prepare-tree.sh" >/dev/null
	pristine_repo
	g -C "$REPO" checkout -q -f --detach pristine
	g -C "$REPO" clean -q -fdx -e .version
	for msg in "$SERIES"/[0-9][0-9]-*.txt; do
		case $(basename "$msg") in 00-*) continue ;; esac
		# From a patch marked 'Stage: final' on, files are as in the tree.
		[ "$(field "$msg" Stage)" = final ] && stage=final
		for f in $(field "$msg" Files); do
			stage_file "$f" "$stage"
			staged+=("$f")
		done
		{
			field "$msg" Subject
			echo
			body "$msg"
			echo
			echo "Signed-off-by: $AUTHOR_NAME <$AUTHOR_EMAIL>"
		} >"$WORK/message"
		g -C "$REPO" commit -q -F "$WORK/message"
	done
	# Every file the overlay changes is in some patch.
	listed=$(printf '%s\n' "${staged[@]}" | LC_ALL=C sort -u)
	missing=$({ cat "$TREE/.overlay-manifest"; echo mm/ksm.c; } |
		LC_ALL=C sort -u | LC_ALL=C comm -23 - <(echo "$listed"))
	[ -z "$missing" ] || die "files in no patch of the series: $missing"

	rm -rf "$OUT"
	g -C "$REPO" format-patch -q --cover-letter --no-signature \
		-o "$OUT" pristine..HEAD
	cover=$(ls "$OUT"/0000-*.patch)
	python3 - "$cover" "$SERIES/00-cover.txt" <<-'EOF'
	import sys
	cover, text = sys.argv[1], open(sys.argv[2]).read()
	subject, blurb = text.split("\n\n", 1)
	subject = subject.removeprefix("Subject: ")
	s = open(cover).read()
	s = s.replace("*** SUBJECT HERE ***", subject)
	s = s.replace("*** BLURB HERE ***", blurb.rstrip("\n"))
	open(cover, "w").write(s)
	EOF
}

# checkpatch --strict on each patch; prints one line per patch.
checkpatch_series() {
	local p bad=0
	for p in "$OUT"/0*.patch; do
		case $(basename "$p") in 0000-*) continue ;; esac
		if perl "$PRISTINE/scripts/checkpatch.pl" --strict --no-tree \
			--quiet --ignore FILE_PATH_CHANGES "$p" \
			>"$WORK/$(basename "$p").checkpatch" 2>&1; then
			log "patches: $(basename "$p"): checkpatch clean"
		else
			log "patches: $(basename "$p"): checkpatch findings:"
			cat "$WORK/$(basename "$p").checkpatch" >&2
			bad=1
		fi
	done
	return $bad
}

# Applies the series with git am to a fresh checkout of the pristine tree
# and compares every file it changes, and every file the overlay changes,
# with the harness's tree. Prints what differs; returns non-zero if any.
am_matches_tree() {
	local wt=$WORK/am f diffs=0 changed
	g -C "$REPO" worktree remove --force "$wt" >/dev/null 2>&1 || rm -rf "$wt"
	g -C "$REPO" worktree prune
	g -C "$REPO" worktree add -q --detach "$wt" pristine
	# shellcheck disable=SC2046
	if ! g -C "$wt" am -q $(ls "$OUT"/0*.patch | grep -v '/0000-') >&2; then
		log "patches: git am failed"
		g -C "$wt" am --abort >/dev/null 2>&1 || true
		return 1
	fi
	changed=$({ g -C "$wt" diff --name-only pristine HEAD;
		cat "$TREE/.overlay-manifest"; echo mm/ksm.c; } | LC_ALL=C sort -u)
	for f in $changed; do
		if [ -e "$TREE/$f" ] && [ -e "$wt/$f" ]; then
			cmp -s "$TREE/$f" "$wt/$f" && continue
		elif [ ! -e "$TREE/$f" ] && [ ! -e "$wt/$f" ]; then
			continue
		fi
		log "patches: differs after git am: $f"
		diffs=$((diffs + 1))
	done
	[ "$(g -C "$wt" rev-list --count pristine..HEAD)" = \
	  "$(ls "$OUT"/0*.patch | grep -vc '/0000-')" ] ||
		{ log "patches: not every patch became a commit"; diffs=$((diffs + 1)); }
	g -C "$REPO" worktree remove --force "$wt"
	return $((diffs > 0))
}

# Builds the test kernel after each patch in turn, in one worktree.
bisect_series() {
	local wt=$WORK/bisect kout=$BUILD/out-bisect p n=0 rc=0
	local frags=("$TOP/scripts/configs/ksm-test.config"
		"$TOP/scripts/configs/ksm-ours.config")
	export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
	export CCACHE_BASEDIR=$TOP CCACHE_NOHASHDIR=true
	g -C "$REPO" worktree remove --force "$wt" >/dev/null 2>&1 || rm -rf "$wt"
	g -C "$REPO" worktree prune
	g -C "$REPO" worktree add -q --detach "$wt" pristine
	mkdir -p "$kout"
	for p in "$OUT"/0*.patch; do
		case $(basename "$p") in 0000-*) continue ;; esac
		n=$((n + 1))
		g -C "$wt" am -q "$p"
		local mk=(make -s -C "$wt" O="$kout" CC="ccache gcc"
			HOSTCC="ccache gcc" -j"$(($(nproc) + 1))")
		"${mk[@]}" tinyconfig >/dev/null
		KCONFIG_CONFIG=$kout/.config "$wt/scripts/kconfig/merge_config.sh" \
			-m -O "$kout" "$kout/.config" "${frags[@]}" >/dev/null
		"${mk[@]}" olddefconfig >/dev/null
		if "${mk[@]}" bzImage >"$WORK/bisect-$n.log" 2>&1; then
			echo "bisect: $(basename "$p"): builds"
		else
			echo "bisect: $(basename "$p"): BUILD FAILED (see $WORK/bisect-$n.log)"
			rc=1
		fi
	done
	g -C "$REPO" worktree remove --force "$wt"
	return $rc
}

case $mode in
write)
	"$TOP/scripts/install-deps.sh"
	write_series
	checkpatch_series
	log "patches: $(ls "$OUT" | wc -l) files in $OUT"
	;;
check)
	# Logs next to the other static checks' (scripts/lint.sh).
	out=$LOGS/series
	mkdir -p "$out" "$WORK"
	# A process of its own: errexit does not work in an if condition.
	if bash "$0" series-only >"$out/write.log" 2>&1; then
		echo "PASS series/write"
	else
		echo "FAIL series/write (see $out/write.log)"
		exit 1
	fi
	if checkpatch_series 2>"$out/checkpatch.log"; then
		echo "PASS series/checkpatch"
	else
		echo "FAIL series/checkpatch (see $out/checkpatch.log)"
	fi
	if am_matches_tree 2>"$out/am.log"; then
		echo "PASS series/git-am"
	else
		echo "FAIL series/git-am (see $out/am.log)"
	fi
	;;
series-only)
	write_series
	;;
bisect)
	"$TOP/scripts/install-deps.sh"
	write_series
	bisect_series
	;;
*)	die "usage: patches.sh write|check|bisect" ;;
esac
