#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run vmpolice selftests the way kselftest's runner does: one at a time,
# each under the timeout from `settings`, its own KTAP output indented
# with "# ", one ok/not ok line per test program.
#
# Usage: run_tests.sh [TEST...]
#   With no arguments, runs TEST_PROGS from the Makefile.  Exit status 0
#   if every test passed or skipped, 1 otherwise.  Needs root.  With
#   KTAP_BAIL=1 (in the guest: vmpolice_bail=1 on the kernel command
#   line), the first failure ends the test program and the run.

cd "$(dirname "$(readlink -f "$0")")" || exit 1

timeout=45
if [ -f settings ]; then
	t=$(sed -n 's/^timeout=\([0-9]*\)$/\1/p' settings)
	[ -n "$t" ] && timeout=$t
fi

# TEST_PROGS from the Makefile without needing make (the guest has none):
# handles "TEST_PROGS := a b \" continuations and "TEST_PROGS += c".
list_tests()
{
	awk '
	/^TEST_PROGS[ \t]*[:+]?=/ { on = 1; sub(/^TEST_PROGS[ \t]*[:+]?=/, "") }
	on {
		cont = sub(/\\[ \t]*$/, "")
		n = split($0, w, /[ \t]+/)
		for (i = 1; i <= n; i++) if (w[i] != "") print w[i]
		on = cont
	}' Makefile
}

if [ $# -gt 0 ]; then
	tests=("$@")
else
	mapfile -t tests < <(list_tests)
fi

kmsg()
{
	[ -w /dev/kmsg ] && echo "vmpolice-selftests: $*" > /dev/kmsg
	return 0
}

echo "TAP version 13"
echo "1..${#tests[@]}"

n=0
failed=0
for t in "${tests[@]}"; do
	n=$((n + 1))
	name=${t##*/}
	echo "# selftests: vmpolice: $name"
	if [ ! -x "$t" ]; then
		echo "# Warning: file $name is missing or not executable"
		echo "not ok $n selftests: vmpolice: $name # exit=127"
		failed=1
		continue
	fi
	kmsg "start $name"
	start=$(date +%s)
	rcfile=$(mktemp)
	{ timeout -k 10 "$timeout" "./$t" < /dev/null 2>&1; echo $? > "$rcfile"; } |
		sed -u 's/^/# /'
	rc=$(cat "$rcfile")
	rm -f "$rcfile"
	kmsg "end $name exit=$rc after $(( $(date +%s) - start ))s"
	case "$rc" in
	0)
		echo "ok $n selftests: vmpolice: $name"
		;;
	4)
		echo "ok $n selftests: vmpolice: $name # SKIP"
		;;
	124|137)
		echo "not ok $n selftests: vmpolice: $name # TIMEOUT $timeout seconds"
		failed=1
		;;
	*)
		echo "not ok $n selftests: vmpolice: $name # exit=$rc"
		failed=1
		;;
	esac
	# KTAP_BAIL=1: the first failed program ends the run
	if [ "$failed" = 1 ] && [ "${KTAP_BAIL:-0}" = 1 ]; then
		echo "Bail out! KTAP_BAIL=1: stopped after $name"
		break
	fi
done
exit "$failed"
