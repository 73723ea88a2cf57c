#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# mkpatch.sh TREE PATCH COMMITFILE DESCRIPTION HOOKS DEST=SRC...
#
# Make the vmpolice commit on top of the vmpolice-base tag of the git
# repository TREE without touching its work tree: start an index from
# the base, apply HOOKS (a diff against existing iproute2 files) to it,
# add each SRC file as DEST, commit with DESCRIPTION as the message, and
# write the commit as a git-format-patch PATCH.  The commit id goes to
# COMMITFILE.  Identity and dates come from PATCH_AUTHOR and PATCH_DATE,
# so the same sources always give the same bytes.

set -eu

tree=$1 patch=$2 commitfile=$3 description=$4 hooks=$5
shift 5

export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
unset GIT_DIR GIT_WORK_TREE 2>/dev/null || true
export GIT_INDEX_FILE="$tree/.git/vmpolice.index.$$"
trap 'rm -f "$GIT_INDEX_FILE"' EXIT
rm -f "$GIT_INDEX_FILE"

name=${PATCH_AUTHOR% <*}
email=${PATCH_AUTHOR##*<}
email=${email%>}
export GIT_AUTHOR_NAME="$name" GIT_AUTHOR_EMAIL="$email"
export GIT_COMMITTER_NAME="$name" GIT_COMMITTER_EMAIL="$email"
export GIT_AUTHOR_DATE="$PATCH_DATE" GIT_COMMITTER_DATE="$PATCH_DATE"

g() { git -C "$tree" "$@"; }

g read-tree vmpolice-base
g apply --cached "$hooks"
for pair in "$@"; do
	dest=${pair%%=*}
	src=${pair#*=}
	blob=$(g hash-object -w --no-filters "$src")
	g update-index --add --cacheinfo "100644,$blob,$dest"
done
treeid=$(g write-tree)
commit=$(g commit-tree "$treeid" -p vmpolice-base <"$description")
rm -f "$GIT_INDEX_FILE"

g -c core.abbrev=12 -c diff.algorithm=myers format-patch --stdout \
	--zero-commit --no-signature --no-renames --no-numbered \
	--subject-prefix="PATCH iproute2-next" -1 "$commit" >"$patch.tmp"
mv "$patch.tmp" "$patch"
echo "$commit" >"$commitfile"
