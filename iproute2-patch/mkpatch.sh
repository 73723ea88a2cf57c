#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# mkpatch.sh TREE OUT COMMITFILE -- MESSAGE ITEM... [-- MESSAGE ITEM...]
#
# Make commits on top of the vmpolice-base tag of the git repository
# TREE without touching its work tree, one per group after a "--": start
# an index from the commit before, apply each ITEM that is a diff (hooks,
# against existing iproute2 files) to it, add each ITEM of the form
# DEST=SRC (SRC as the file DEST), commit with MESSAGE as the message.
# The last commit's id goes to COMMITFILE.
#
# One group: OUT is that commit as a git-format-patch file.  Several
# groups: OUT is a directory that gets the series, numbered, with a
# cover letter made from the file COVER (its first line is the subject,
# the rest the text; format-patch adds the shortlog and diffstat), and
# "base-commit: UPSTREAM_BASE" at its end when that is set.
#
# OVERRIDE names one of the hooks: the files it changes are left out of
# the other hooks of its group, so that it replaces their hunks there
# (compat-6.1/hooks.diff: the hunks whose context differs in 6.1).
# SIGNOFF=1 adds "Signed-off-by: PATCH_AUTHOR" to each message.
# Identity and dates come from PATCH_AUTHOR and PATCH_DATE, so the same
# sources always give the same bytes.

set -eu

tree=$1 out=$2 commitfile=$3
shift 3
[ "${1-}" = -- ] || { echo "mkpatch.sh: no group" >&2; exit 2; }

export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
unset GIT_DIR GIT_WORK_TREE 2>/dev/null || true
export GIT_INDEX_FILE="$tree/.git/vmpolice.index.$$"
msgtmp="$tree/.git/vmpolice.msg.$$"
trap 'rm -f "$GIT_INDEX_FILE" "$msgtmp"' EXIT
rm -f "$GIT_INDEX_FILE"

name=${PATCH_AUTHOR% <*}
email=${PATCH_AUTHOR##*<}
email=${email%>}
export GIT_AUTHOR_NAME="$name" GIT_AUTHOR_EMAIL="$email"
export GIT_COMMITTER_NAME="$name" GIT_COMMITTER_EMAIL="$email"
export GIT_AUTHOR_DATE="$PATCH_DATE" GIT_COMMITTER_DATE="$PATCH_DATE"

g() { git -C "$tree" "$@"; }

override=${OVERRIDE:-}
excludes=
if [ -n "$override" ]; then
	for f in $(g apply --numstat "$override" | cut -f3); do
		excludes="$excludes --exclude=$f"
	done
fi

parent=$(g rev-parse vmpolice-base)
message=
ngroups=0

commit_group() {
	treeid=$(g write-tree)
	if [ "${SIGNOFF:-0}" = 1 ]; then
		git interpret-trailers --no-divider \
			--trailer "Signed-off-by: $PATCH_AUTHOR" \
			<"$message" >"$msgtmp"
	else
		cat "$message" >"$msgtmp"
	fi
	parent=$(g commit-tree "$treeid" -p "$parent" <"$msgtmp")
	ngroups=$((ngroups + 1))
}

shift
while [ $# -gt 0 ]; do
	message=$1
	shift
	g read-tree "$parent"
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		case $1 in
		*=*)
			dest=${1%%=*}
			src=${1#*=}
			blob=$(g hash-object -w --no-filters "$src")
			g update-index --add --cacheinfo "100644,$blob,$dest"
			;;
		*)
			if [ -n "$override" ] && [ "$1" != "$override" ]; then
				# shellcheck disable=SC2086
				g apply --cached $excludes "$1"
			else
				g apply --cached "$1"
			fi
			;;
		esac
		shift
	done
	[ $# -gt 0 ] && shift
	commit_group
done
rm -f "$GIT_INDEX_FILE"

fp() {
	g -c core.abbrev=12 -c diff.algorithm=myers -c "$fpconf" format-patch \
		--zero-commit --no-signature --no-renames "$@"
}

fpconf=format.coverLetter=false
if [ "$ngroups" = 1 ]; then
	fp --stdout --no-numbered --subject-prefix="PATCH iproute2-next" \
		-1 "$parent" >"$out.tmp"
	mv "$out.tmp" "$out"
else
	g update-ref refs/heads/vmpolice-series "$parent"
	rm -rf "$out.tmp"
	fpconf="branch.vmpolice-series.description=$(cat "$COVER")"
	fp -q -o "$out.tmp" --numbered --cover-letter \
		--cover-from-description=subject \
		--subject-prefix="${SUBJECT_PREFIX:-PATCH iproute2-next v1}" \
		vmpolice-base..vmpolice-series >/dev/null
	if [ -n "${UPSTREAM_BASE:-}" ]; then
		printf 'base-commit: %s\n' "$UPSTREAM_BASE" \
			>>"$out.tmp/0000-cover-letter.patch"
	fi
	rm -rf "$out"
	mv "$out.tmp" "$out"
fi
echo "$parent" >"$commitfile"
