#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The module's KUnit suite is a module of its own, vmpolice_kunit.ko,
# built for kernels with CONFIG_KUNIT (the debug kernel); it runs when it
# loads.  Load it (modprobe loads vmpolice.ko first) and turn each KUnit
# case's result in the kernel log into a test result here.  Skipped only
# where the kernel has no KUnit; on a KUnit kernel a missing test module
# fails.

source "$(dirname "$(readlink -f "$0")")/lib.sh"

require_root
require_cmd modprobe rmmod dmesg

ktap_header
if ! grep -qw kunit_run_tests /proc/kallsyms 2>/dev/null; then
	ktap_skip_all "kernel built without CONFIG_KUNIT"
fi

mod_unload vmpolice_kunit >/dev/null 2>&1
mod_unload vmpolice >/dev/null 2>&1
# vmpolice.ko alone runs no test (and so does not taint the kernel)
dmesg -c >/dev/null
main_quiet=0
if mod_load vmpolice && ! dmesg | grep -q 'vmp_test_'; then
	main_quiet=1
fi
dmesg -c >/dev/null
if ! mod_load vmpolice_kunit; then
	ktap_plan 1
	ktap_fail "test module vmpolice_kunit loads"
	ktap_finish
fi
mod_unload vmpolice_kunit >/dev/null 2>&1
mod_unload vmpolice >/dev/null 2>&1

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

ktap_plan $(($(wc -l <<< "$cases") + 1))
if [ "$main_quiet" = 1 ]; then
	ktap_pass "vmpolice.ko loads without running KUnit tests"
else
	ktap_fail "vmpolice.ko loads without running KUnit tests"
fi
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
