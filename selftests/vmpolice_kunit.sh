#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The module's KUnit suite runs when the module loads on a kernel built
# with CONFIG_KUNIT (the debug kernel).  Reload the module and turn each
# KUnit case's result in the kernel log into a test result here.

source "$(dirname "$(readlink -f "$0")")/lib.sh"

require_root
require_cmd modprobe rmmod dmesg

ktap_header
if ! grep -qw kunit_run_tests /proc/kallsyms 2>/dev/null; then
	ktap_skip_all "kernel built without CONFIG_KUNIT"
fi

mod_unload vmpolice >/dev/null 2>&1
dmesg -c >/dev/null
if ! mod_load vmpolice; then
	ktap_plan 1
	ktap_fail "module loads"
	ktap_finish
fi

# The suite prints "    ok N vmp_test_..." per case, then "ok N vmpolice".
log=$(dmesg)
cases=$(grep -E '^\s*(\[ *[0-9.]+\] )?\s*(not )?ok [0-9]+ vmp_test_' <<< "$log" |
	sed -E 's/^\s*(\[ *[0-9.]+\] )?\s*//')
if [ -z "$cases" ]; then
	ktap_plan 1
	ktap_print "$log"
	ktap_fail "KUnit suite vmpolice ran at module load"
	ktap_finish
fi

ktap_plan "$(wc -l <<< "$cases")"
while read -r verdict rest; do
	name=${rest#* }
	if [ "$verdict" = ok ]; then
		ktap_pass "kunit: $name"
	else
		ktap_print "$(grep -A20 -E "# $name|$name" <<< "$log" | head -40)"
		ktap_fail "kunit: $name"
	fi
done < <(sed -E 's/^not ok/not_ok/' <<< "$cases")
ktap_finish
