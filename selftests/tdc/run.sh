#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# vmpolice's tdc cases (tdc/actions/vmpolice.json, tdc/qdiscs/vmpolice.json)
# run by the kernel's own tc test driver, tdc.py (from the 7.3 tree, in
# the guest at /opt/vmpolice/tdc), with one tc: TDC_TC=stock (Debian's tc
# with our plugin), patched (the patched 6.1 tc) or patched71 (the
# patched 7.1.0 tc).  tdc's TAP becomes one KTAP case per tdc case,
# "<tc>: <id> <name>".  The test programs vmpolice_tdc_{stock,patched,
# patched71}.sh run it once each: one program per tc keeps each within
# the 600 s test timeout on the debug kernel (KASAN, lockdep, kmemleak),
# where one tc's 142 cases take about 300 s of tdc.py (2026-11-30: all
# three in one program ran past 600 s; the stock kernels take 30-40 s).
#
# Skips: a tc that is not there, and the stock tc on the debug kernel
# (below), are a KTAP skip of the whole program.  A
# case whose dependsOn probe fails (the bare word "vmpolice" where a
# classifier takes "police" needs a tc with vmpolice built in) is a KTAP
# SKIP.  Any other skip from tdc (after a failed setup or teardown, tdc
# skips everything that follows) is a failure.
#
# Environment: TDC_TC (required), TDC_DIR (default /opt/vmpolice/tdc),
# TDC_VERBOSE=1 to pass -v to tdc.py and print all its output.

source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../lib.sh"

TDC_DIR=${TDC_DIR:-/opt/vmpolice/tdc}
CASES=("$SELFTEST_DIR/tdc/actions/vmpolice.json"
       "$SELFTEST_DIR/tdc/qdiscs/vmpolice.json")

require_root
require_cmd python3 jq ip modprobe
[ -f "$TDC_DIR/tdc.py" ] || ktap_skip_all "no tdc.py in $TDC_DIR"

ktap_header

case "${TDC_TC:-}" in
stock) TC=$TC_STOCK ;;
patched) TC=$TC_PATCHED ;;
patched71) TC=$TC_PATCHED71 ;;
*) ktap_skip_all "TDC_TC must be stock, patched or patched71" ;;
esac
[ -x "$TC" ] || ktap_skip_all "no $TDC_TC tc in this guest ($TC)"
# On the debug kernel (kmemleak marks it) the cases run once, with the
# patched tc: the stock tc with our plugin sends the same attributes
# (the plugin is the same source) down the same kernel paths, which is
# what the sanitizers watch there, and each tc costs 5-6 minutes of the
# guest.  The stock kernels run all three.
if [ "$TDC_TC" = stock ] && [ -e /sys/kernel/debug/kmemleak ]; then
	ktap_skip_all "debug kernel: tdc runs with the patched tc only"
fi
ncases=$(cat "${CASES[@]}" | jq -s 'map(length) | add')
ktap_plan "$ncases"

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

run_tdc "$(tc_name "$TC")" "$TC"

ktap_finish
