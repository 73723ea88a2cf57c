#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# checkpatch.pl --strict from the 7.3 kernel source over the module
# sources; any ERROR, WARNING or CHECK fails.
#
# Usage: checkpatch.sh [FILE...]   (default: kmod/ sources, compat and UAPI headers)
#
# A FILE ending in .patch is checked as a patch (its commit message too),
# the others as source files.  CHECKPATCH_IGNORE (TYPE[,TYPE...]) is
# passed on as --ignore.
#
# checkpatch.pl comes from the debug kernel tree if it is built, else
# only scripts/ is unpacked from linux-source-7.3 into the cache.
set -euo pipefail

ME=${0##*/}
TOP=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${VMPOLICE_CACHE:-$HOME/.cache/vmpolice}
TARBALL=${VMPOLICE_KSRC:-$CACHE/src/linux-source-7.3.tar.xz}

say() { printf '%s: %s\n' "$ME" "$*" >&2; }
die() { printf '%s: error: %s\n' "$ME" "$*" >&2; exit 1; }

cp_script=
if [ -e "$CACHE/kernels/debug" ]; then
	cp_script=$(readlink -f "$CACHE/kernels/debug/../src/scripts/checkpatch.pl" || true)
	[ -f "$cp_script" ] || cp_script=
fi
if [ -z "$cp_script" ]; then
	dir=$CACHE/checkpatch-$(basename "$TARBALL" .tar.xz)
	if [ ! -f "$dir/scripts/checkpatch.pl" ]; then
		[ -f "$TARBALL" ] || die "$TARBALL missing (run scripts/setup-host.sh)"
		say "unpacking checkpatch from $(basename "$TARBALL")"
		rm -rf "$dir.tmp"
		mkdir -p "$dir.tmp"
		tar -xJf "$TARBALL" -C "$dir.tmp" --strip-components=1 \
			--wildcards '*/scripts/checkpatch.pl' '*/scripts/spelling.txt' \
			'*/scripts/const_structs.checkpatch'
		rm -rf "$dir"
		mv "$dir.tmp" "$dir"
	fi
	cp_script=$dir/scripts/checkpatch.pl
fi

if [ $# -gt 0 ]; then
	files=("$@")
else
	cd "$TOP"
	shopt -s nullglob
	files=(kmod/*.c kmod/*.h kmod/compat/*.h kmod/include/uapi/linux/*.h)
	shopt -u nullglob
fi
[ ${#files[@]} -gt 0 ] || die "no module sources to check"

# In a full kernel tree checkpatch learns the kernel's own CamelCase
# names (struct Qdisc, Qdisc_ops) from include/ instead of flagging them;
# it reads them from the working directory, and would try git there.
ktree=$(cd "$(dirname "$cp_script")/.." && pwd)
paths=()
for f in "${files[@]}"; do
	paths+=("$(readlink -f "$f")")
done
opts=()
[ -z "${CHECKPATCH_IGNORE:-}" ] || opts+=(--ignore "$CHECKPATCH_IGNORE")
rc=0
for f in "${paths[@]}"; do
	mode=-f
	case $f in *.patch) mode=--patch ;; esac
	out=$(cd "$ktree" && GIT_DIR=/nonexistent perl "$cp_script" \
		--no-tree --root="$ktree" "$mode" --strict --terse --show-types \
		--color=never "${opts[@]}" "$f" 2>&1) || rc=1
	if [ -n "$out" ]; then
		echo "$out"
		rc=1
	fi
done
if [ "$rc" = 0 ]; then
	say "${#files[@]} file(s) clean: ${files[*]}"
else
	say "checkpatch --strict found problems (above)"
fi
exit "$rc"
