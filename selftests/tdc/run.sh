#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# vmpolice's tdc cases (tdc/actions/vmpolice.json, tdc/qdiscs/vmpolice.json)
# run by the kernel's own tc test driver, tdc.py (from the 7.3 tree, in
# the guest at /opt/vmpolice/tdc), once with each tc: Debian's tc with our
# plugin, the patched 6.1 tc, the patched 7.1.0 tc when built.  tdc's TAP
# becomes one KTAP case per tdc case and tc, "<tc>: <id> <name>".
#
# Skips: a case whose dependsOn probe fails (the bare word "vmpolice"
# where a classifier takes "police" needs a tc with vmpolice built in) is
# a KTAP SKIP.  Any other skip from tdc (after a failed setup or
# teardown, tdc skips everything that follows) is a failure.
#
# The debug kernel (KASAN, lockdep, kmemleak; CONFIG_KASAN=y) runs only
# the patched 6.1 tc, which takes every case, the bare-word ones too.
# With all three tcs its guest hit the 600 s test timeout (2026-11-30:
# about 290 s for the stock tc's 142 cases, the patched tc's unfinished
# at 600 s); with the patched tc only, tdc.py took 310 s, the test 322 s
# and the guest 372 s, where the stock kernels' guests take 94 s (6.1)
# and 124 s (6.12) for all three.  The tcs not run there are one KTAP
# SKIP line each, naming them; the stock kernels run all three.
#
# Environment: TDC_DIR (default /opt/vmpolice/tdc), TDC_VERBOSE=1 to pass
# -v to tdc.py and print all its output, TDC_ALL_TCS=1 to run every tc on
# the debug kernel too.

source "$(dirname "$(readlink -f "$0")")/lib.sh"

TDC_DIR=${TDC_DIR:-/opt/vmpolice/tdc}
CASES=("$SELFTEST_DIR/tdc/actions/vmpolice.json"
       "$SELFTEST_DIR/tdc/qdiscs/vmpolice.json")

require_root
require_cmd python3 jq ip modprobe
[ -f "$TDC_DIR/tdc.py" ] || ktap_skip_all "no tdc.py in $TDC_DIR"

ktap_header

variants=$(tc_variants)
not_run=
if [ "${TDC_ALL_TCS:-0}" != 1 ] &&
   gzip -dc /proc/config.gz 2>/dev/null | grep -q '^CONFIG_KASAN=y' &&
   grep -qx "$TC_PATCHED" <<< "$variants"; then
	not_run=$(grep -vx "$TC_PATCHED" <<< "$variants")
	variants=$TC_PATCHED
fi
nvariants=$(grep -c . <<< "$variants")
nnot_run=$(grep -c . <<< "$not_run")
ncases=$(cat "${CASES[@]}" | jq -s 'map(length) | add')
ktap_plan $((nvariants * ncases + nnot_run))

# The modules the cases use (tdc runs no modprobe of its own).
for m in dummy veth sch_ingress sch_htb cls_matchall cls_u32 cls_basic \
	 act_gact vmpolice; do
	mod_builtin "$m" || modprobe "$m" ||
		ktap_print "warning: modprobe $m failed"
done

# ids of the cases with a dependsOn probe
mapfile -t probed < <(cat "${CASES[@]}" | jq -r '.[] | select(.dependsOn) | .id')

out=$(mktemp -d)
defer rm -rf "$out"

# variant_name TC: how the KTAP lines name TC
variant_name()
{
	case "$1" in
	"$TC_STOCK") echo "stock tc+plugin" ;;
	"$TC_PATCHED71") echo "patched tc 7.1" ;;
	*) echo "patched tc" ;;
	esac
}

# run_tdc NAME TC: tdc.py on our cases with TC, its TAP turned into ours.
run_tdc()
{
	local v=$1 tc=$2 builtin=yes rc line id name rest seen=0 verbose=()
	local t0=$SECONDS

	[ "$tc" = "$TC_STOCK" ] && builtin=no
	[ "${TDC_VERBOSE:-0}" = 1 ] && verbose=(-v)
	# tdc finds tdc_config_local.py (the names: PATH, VMP_BUILTIN, ERR)
	# on PYTHONPATH and its plugins dir in its cwd.
	(cd "$TDC_DIR" &&
	 PYTHONPATH=$SELFTEST_DIR/tdc VMP_BUILTIN=$builtin \
		python3 tdc.py "${verbose[@]}" -p "$tc" -f "${CASES[@]}" \
		--outfile "$out/$v.tap") > "$out/$v.log" 2>&1
	rc=$?
	ktap_print "$v: tdc.py ran $ncases cases in $((SECONDS - t0)) s"
	[ "${TDC_VERBOSE:-0}" = 1 ] && ktap_print "$(cat "$out/$v.log")"

	# "ok N ID - NAME [# skipped - WHY]", "not ok N ID - NAME" and,
	# under a "not ok", lines saying why.
	while IFS= read -r line; do
		if [[ $line =~ ^(not )?ok\ [0-9]+\ ([0-9a-f]{4})\ -\ (.*)$ ]]; then
			seen=$((seen + 1))
			id=${BASH_REMATCH[2]}
			name=${BASH_REMATCH[3]}
			if [ -n "${BASH_REMATCH[1]}" ]; then
				ktap_fail "$v: $id $name"
			elif [[ $name == *" # skipped - "* ]]; then
				rest=${name#* # skipped - }
				name=${name%% # skipped - *}
				if [[ " ${probed[*]} " == *" $id "* ]] &&
				   [[ $rest == "probe command: test skipped." ]]; then
					ktap_skip "$v: $id $name" \
						"needs a tc with vmpolice built in (the bare word, as for police)"
				else
					ktap_print "tdc skipped it: $rest"
					ktap_fail "$v: $id $name"
				fi
			else
				ktap_pass "$v: $id $name"
			fi
		elif [ -n "$line" ]; then
			# why the case before failed: tdc's message and the
			# verify command's output
			ktap_print "${line#$'\t'}"
		fi
	done < <(cat "$out/$v.tap" 2>/dev/null)

	# tdc.py exits 1 when a case failed; anything else, or cases
	# missing from its TAP, is tdc itself failing.
	if [ "$seen" -ne "$ncases" ] || { [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ]; }; then
		ktap_print "$v: tdc.py exit $rc, $seen of $ncases cases in its TAP:"
		ktap_print "$(tail -n 40 "$out/$v.log")"
		while [ "$seen" -lt "$ncases" ]; do
			seen=$((seen + 1))
			ktap_fail "$v: case $seen of $ncases not run"
		done
	fi
	# what a failed case left behind must not fail the next tc's
	"$tc" actions flush action vmpolice > /dev/null 2>&1
	return 0
}

for TC in $variants; do
	run_tdc "$(variant_name "$TC")" "$TC"
done
for TC in $not_run; do
	ktap_skip "$(variant_name "$TC"): $ncases tdc cases not run" \
		"debug kernel: only the patched tc runs there (TDC_ALL_TCS=1 for all)"
done

ktap_finish
