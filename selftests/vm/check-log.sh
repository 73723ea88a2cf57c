#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Verdict on one guest run.
#
# Usage: check-log.sh NAME CONSOLE_LOG RESULTS [COUNTS_FILE]
#   CONSOLE_LOG  ttyS0: kernel messages and test output
#   RESULTS      ttyS1: the kselftest runner output and the end marker
#   COUNTS_FILE  gets "PASSED FAILED SKIPPED"
#
# Counting: every test case a test program reports (its own "ok" /
# "not ok" lines) is one pass or fail.  A test program that fails
# without reporting a failed case (crash, timeout, wrong plan) is one
# more failure, so is each test program that never ran because the
# guest died, a guest that did not reach the end marker, a kernel splat
# in the console log (WARN, BUG, KASAN, UBSAN, lockdep, RCU stall, hung
# task, Oops, panic, failed KUnit case) and a kmemleak report.
#
# Prints a per-test summary, the offending lines, and last
# "NAME: N passed, N failed"; exits 1 if anything failed.
set -uo pipefail

ME=${0##*/}

[ $# -ge 3 ] || { echo "usage: $ME NAME CONSOLE_LOG RESULTS [COUNTS_FILE]" >&2; exit 2; }
name=$1 log=$2 res=$3 counts=${4:-}

# Kernel messages carry a printk timestamp; test output does not, so a
# test printing "WARNING:" is not mistaken for a kernel splat.  Kernel
# lines can start mid-line when they interleave with test output.
TS='\[ *[0-9]+\.[0-9]{6}\]'
SPLATS=(
	'WARNING:'
	'BUG:'
	'kernel BUG at'
	'KASAN'
	'UBSAN'
	'possible circular locking'
	'possible recursive locking'
	'inconsistent lock state'
	'suspicious RCU usage'
	'INFO: task .* blocked'
	'rcu: INFO'
	'detected stall'
	'Kernel panic'
	'Oops'
	'general protection fault'
	'unreferenced object'
	'new suspected memory leak'
	'Call Trace:'
	'\bnot ok [0-9]+ '
)

pass=0 fail=0 skip=0
problems=()

clean() { tr -d '\r' < "$1" 2>/dev/null; }

# ---- test results (ttyS1) ----
planned=0 programs=0 done_rc=
cur= cur_fail=0 cur_cases=0
summary=()
while IFS= read -r line; do
	case "$line" in
	"1.."*)
		planned=${line#1..}
		planned=${planned%% *}
		;;
	"# selftests: vmpolice: "*)
		cur=${line#\# selftests: vmpolice: }
		cur_fail=0 cur_cases=0
		;;
	"# ok "[0-9]*)
		cur_cases=$((cur_cases + 1))
		if [[ "$line" =~ \#\ SKIP ]]; then
			skip=$((skip + 1))
		else
			pass=$((pass + 1))
		fi
		;;
	"# not ok "[0-9]*)
		cur_cases=$((cur_cases + 1))
		cur_fail=$((cur_fail + 1))
		fail=$((fail + 1))
		summary+=("  $cur: $line")
		;;
	"ok "[0-9]*)
		programs=$((programs + 1))
		summary+=("$line")
		if [ "$cur_cases" -eq 0 ]; then
			if [[ "$line" =~ \#\ SKIP ]]; then
				skip=$((skip + 1))
			else
				pass=$((pass + 1))
			fi
		fi
		;;
	"not ok "[0-9]*)
		programs=$((programs + 1))
		summary+=("$line")
		if [ "$cur_fail" -eq 0 ]; then
			fail=$((fail + 1))
		fi
		;;
	"kmemleak-report: "*)
		problems+=("$line")
		;;
	"VMPOLICE-VMTEST-DONE rc="*)
		done_rc=${line#*rc=}
		;;
	esac
done < <(clean "$res")

leaks=$(clean "$res" | grep -c '^kmemleak-report: unreferenced object')
if [ "$leaks" -gt 0 ]; then
	fail=$((fail + 1))
	summary+=("not ok kmemleak: $leaks unreferenced object(s)")
fi
if [ "$planned" -gt "$programs" ]; then
	fail=$((fail + planned - programs))
	summary+=("not ok $((planned - programs)) test program(s) never finished")
fi
if [ -z "$done_rc" ]; then
	fail=$((fail + 1))
	summary+=("not ok guest did not finish (crash, panic or timeout; no end marker)")
elif [ "$done_rc" != 0 ] && [ "$fail" -eq 0 ]; then
	fail=$((fail + 1))
	summary+=("not ok runner exited $done_rc without a failed test")
fi

# ---- kernel splats (ttyS0) ----
pat=$(IFS='|'; echo "${SPLATS[*]}")
splats=$(clean "$log" | grep -nE -- "$TS +($pat)" | head -n 60)
if [ -n "$splats" ]; then
	fail=$((fail + 1))
	summary+=("not ok kernel log has warnings/splats (below)")
	while IFS= read -r l; do
		problems+=("$l")
	done <<< "$splats"
fi

echo "== $name: test results"
printf '%s\n' "${summary[@]}"
if [ ${#problems[@]} -gt 0 ]; then
	echo "== $name: offending lines (see $log)"
	printf '  %s\n' "${problems[@]}"
fi
[ -n "$counts" ] && echo "$pass $fail $skip" > "$counts"
echo "$name: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
