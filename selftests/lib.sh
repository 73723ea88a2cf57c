# SPDX-License-Identifier: GPL-2.0
#
# Helpers for the vmpolice selftests.  Source it from a test script:
#
#	#!/bin/bash
#	source "$(dirname "$(readlink -f "$0")")/lib.sh"
#
#	ktap_header
#	ktap_plan 2
#	require_cmd jq
#	setup_ns NS1 NS2
#	setup_veth "$NS1" veth0 10.0.0.1/24 "$NS2" veth1 10.0.0.2/24
#	check "tbf qdisc can be added" \
#		$TC -n "$NS1" qdisc add dev veth0 root tbf rate 1mbit \
#		burst 32k latency 50ms
#	check_fail "bogus rate is refused" "invalid rate" \
#		$TC -n "$NS1" qdisc replace dev veth0 root tbf rate xyz
#	ktap_finish
#
# Output is KTAP (TAP version 13); the exit status follows kselftest:
# 0 all passed, 1 something failed, 4 everything skipped.  Namespaces,
# veths and anything registered with defer are cleaned up on exit.
# Don't use "set -e" in tests: a failed check must not end the test, it
# is counted by ktap_finish.  The test harness counts every "ok"/"not ok"
# line a test prints as one test case.

# kselftest exit codes
KSFT_PASS=0
KSFT_FAIL=1
KSFT_SKIP=4

# tc binaries: $TC is what tests run.  The stock Debian tc loads our
# plugins (q_vmpolice.so/m_vmpolice.so) from its TC_LIB_DIR; the patched
# tc has vmpolice compiled in.  The guest runs every test once per
# binary if the test loops over tc_variants.
TC_STOCK=${TC_STOCK:-/usr/sbin/tc}
TC_PATCHED=${TC_PATCHED:-/opt/vmpolice/bin/tc}
TC_PATCHED71=${TC_PATCHED71:-/opt/vmpolice/bin/tc-7.1}
TC=${TC:-tc}
IP=${IP:-ip}

# Directory holding this file and the test scripts / tools.
SELFTEST_DIR=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
# The vmtap programs (selftests/tools), one per job; VMTAP_DIR to use
# others.
VMTAP_DIR=${VMTAP_DIR:-$SELFTEST_DIR/tools}
VMTAP_INJECT=$VMTAP_DIR/vmtap-inject	# frames with virtio_net_hdr into a tap
VMTAP_FORWARD=$VMTAP_DIR/vmtap-forward	# QEMU/vhost-net between two taps
VMTAP_SEND=$VMTAP_DIR/vmtap-send	# paced UDP (GSO) from sockets
VMTAP_STREAM=$VMTAP_DIR/vmtap-stream	# a TCP stream, then a UDP drain
VMTAP_SINK=$VMTAP_DIR/vmtap-sink	# vmtap-stream's receiver

_ktap_planned=
_ktap_count=0
_ktap_pass=0
_ktap_fail=0
_ktap_skip=0
# when the last case ended, and "SECONDS DESC" of every case so far: the
# slowest are printed at the end, to keep make check within its budget
_ktap_mark=$EPOCHREALTIME
_ktap_times=()

# ------------------------------------------------------------- KTAP ----

ktap_header()
{
	echo "TAP version 13"
}

ktap_plan()
{
	_ktap_planned=$1
	echo "1..$1"
}

# ktap_print LINE...: diagnostics; every line of every argument is
# printed with a "# " prefix.
ktap_print()
{
	local arg line

	for arg in "$@"; do
		while IFS= read -r line; do
			echo "# $line"
		done <<< "$arg"
	done
}

# _ktap_time DESC: note how long the case that just ended took (no fork:
# a fork costs a tenth of a second on the debug guest)
_ktap_time()
{
	local now=${EPOCHREALTIME/./} ds

	ds=$(((now - ${_ktap_mark/./}) / 100000))
	_ktap_times+=("$((ds / 10)).$((ds % 10)) $*")
	_ktap_mark=$EPOCHREALTIME
}

ktap_pass()
{
	_ktap_time "$*"
	_ktap_count=$((_ktap_count + 1))
	_ktap_pass=$((_ktap_pass + 1))
	echo "ok $_ktap_count $*"
}

ktap_fail()
{
	_ktap_time "$*"
	_ktap_count=$((_ktap_count + 1))
	_ktap_fail=$((_ktap_fail + 1))
	echo "not ok $_ktap_count $*"
	# KTAP_BAIL=1 (make mutants: one failure is all it asks): stop here
	if [ "${KTAP_BAIL:-0}" = 1 ]; then
		echo "Bail out! KTAP_BAIL=1: stopped at the first failure"
		exit "$KSFT_FAIL"
	fi
}

# ktap_skip DESC REASON
ktap_skip()
{
	_ktap_time "$1"
	_ktap_count=$((_ktap_count + 1))
	_ktap_skip=$((_ktap_skip + 1))
	echo "ok $_ktap_count $1 # SKIP ${2:-}"
}

# ktap_result DESC STATUS: pass if STATUS is 0, fail otherwise.
ktap_result()
{
	if [ "$2" -eq 0 ]; then
		ktap_pass "$1"
	else
		ktap_fail "$1"
	fi
}

# Skip the whole test (before or after the plan) and exit 4.
ktap_skip_all()
{
	if [ -z "$_ktap_planned" ] && [ "$_ktap_count" -eq 0 ]; then
		echo "1..0 # SKIP $*"
	else
		echo "# SKIP $*"
	fi
	exit "$KSFT_SKIP"
}

# Print the totals and exit kselftest-style.  Running fewer or more
# tests than planned is a failure.
ktap_finish()
{
	local rc=$KSFT_PASS

	printf '%s\n' "${_ktap_times[@]}" | sort -rn | head -n "${KTAP_SLOWEST:-5}" |
		sed 's/^\([^ ]*\) /# slowest: \1 s /'
	echo "# Totals: pass:$_ktap_pass fail:$_ktap_fail xfail:0 xpass:0 skip:$_ktap_skip error:0"
	if [ -n "$_ktap_planned" ] && [ "$_ktap_planned" -ne "$_ktap_count" ]; then
		echo "# Planned $_ktap_planned tests but ran $_ktap_count"
		rc=$KSFT_FAIL
	fi
	if [ "$_ktap_fail" -gt 0 ]; then
		rc=$KSFT_FAIL
	elif [ "$rc" -eq 0 ] && [ "$_ktap_pass" -eq 0 ] && [ "$_ktap_skip" -gt 0 ]; then
		rc=$KSFT_SKIP
	fi
	exit "$rc"
}

# ------------------------------------------------------------ checks ---

# check DESC CMD...: pass if CMD exits 0.  On failure the command line
# and its output are printed as diagnostics.
check()
{
	local desc=$1 out rc

	shift
	out=$("$@" 2>&1) && rc=0 || rc=$?
	if [ "$rc" -eq 0 ]; then
		ktap_pass "$desc"
	else
		ktap_print "command: $*" "exit status: $rc"
		[ -n "$out" ] && ktap_print "$out"
		ktap_fail "$desc"
	fi
	return "$rc"
}

# check_fail DESC PATTERN CMD...: pass if CMD fails and its output
# (stdout+stderr) matches the extended regex PATTERN ("" matches all).
check_fail()
{
	local desc=$1 pattern=$2 out rc

	shift 2
	out=$("$@" 2>&1) && rc=0 || rc=$?
	if [ "$rc" -ne 0 ] && grep -qE -- "$pattern" <<< "$out"; then
		ktap_pass "$desc"
		return 0
	fi
	ktap_print "command: $*" "exit status: $rc (expected failure)"
	[ -n "$pattern" ] && ktap_print "expected output matching: $pattern"
	[ -n "$out" ] && ktap_print "$out"
	ktap_fail "$desc"
	return 1
}

# check_output DESC PATTERN CMD...: pass if CMD exits 0 and its output
# matches the extended regex PATTERN.
check_output()
{
	local desc=$1 pattern=$2 out rc

	shift 2
	out=$("$@" 2>&1) && rc=0 || rc=$?
	if [ "$rc" -eq 0 ] && grep -qE -- "$pattern" <<< "$out"; then
		ktap_pass "$desc"
		return 0
	fi
	ktap_print "command: $*" "exit status: $rc" \
		"expected output matching: $pattern"
	[ -n "$out" ] && ktap_print "$out"
	ktap_fail "$desc"
	return 1
}

# check_eq DESC EXPECTED ACTUAL
check_eq()
{
	if [ "$2" == "$3" ]; then
		ktap_pass "$1"
		return 0
	fi
	ktap_print "expected: '$2'" "actual:   '$3'"
	ktap_fail "$1"
	return 1
}

# ------------------------------------------------------ requirements ---

require_root()
{
	[ "$(id -u)" -eq 0 ] || ktap_skip_all "must be run as root"
}

# require_cmd CMD...: skip the whole test if a command is missing.
require_cmd()
{
	local c

	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 ||
			ktap_skip_all "command '$c' not found"
	done
}

# ---------------------------------------------------------- cleanup ----

_cleanup_cmds=()

# defer CMD...: run CMD (as one string, eval'd) at exit, last in first out.
defer()
{
	_cleanup_cmds+=("$*")
}

_run_cleanup()
{
	local i

	for ((i = ${#_cleanup_cmds[@]} - 1; i >= 0; i--)); do
		eval "${_cleanup_cmds[i]}" >/dev/null 2>&1 || true
	done
	_cleanup_cmds=()
}

# Cleanup runs on any exit; ktap_finish's exit status is kept.
trap '_run_cleanup' EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------ waits ----

# busywait TIMEOUT_MS CMD...: retry CMD until it succeeds or TIMEOUT_MS
# passes.  Prints CMD's last output; returns its last status.
busywait()
{
	local timeout_ms=$1 start now out rc

	shift
	start=$(date +%s%3N)
	while :; do
		out=$("$@" 2>&1) && rc=0 || rc=$?
		now=$(date +%s%3N)
		if [ "$rc" -eq 0 ] || [ $((now - start)) -ge "$timeout_ms" ]; then
			[ -n "$out" ] && echo "$out"
			return "$rc"
		fi
		sleep 0.1
	done
}

# --------------------------------------------------------- netns -------

_ns_list=()

# setup_ns VAR...: create one namespace per VAR, with a unique name
# stored in VAR, loopback up; removed at exit.
setup_ns()
{
	local var name

	for var in "$@"; do
		name="${var,,}-$$-$RANDOM"
		ip netns add "$name" || return 1
		_ns_list+=("$name")
		defer ip netns del "$name"
		ip -n "$name" link set lo up || return 1
		printf -v "$var" '%s' "$name"
	done
}

# cleanup_ns NS...: delete namespaces now.
cleanup_ns()
{
	local ns

	for ns in "$@"; do
		ip netns del "$ns" 2>/dev/null || true
	done
}

# setup_veth NS1 DEV1 ADDR1 NS2 DEV2 ADDR2: a veth pair from DEV1 in NS1
# to DEV2 in NS2.  Addresses are CIDR ("10.0.0.1/24", "fd00::1/64") or
# "" for none; IPv6 addresses are added nodad.  Links are up on return.
setup_veth()
{
	local ns1=$1 dev1=$2 addr1=$3 ns2=$4 dev2=$5 addr2=$6

	ip link add "$dev1" netns "$ns1" type veth \
		peer name "$dev2" netns "$ns2" || return 1
	_veth_addr "$ns1" "$dev1" "$addr1" || return 1
	_veth_addr "$ns2" "$dev2" "$addr2" || return 1
	ip -n "$ns1" link set "$dev1" up || return 1
	ip -n "$ns2" link set "$dev2" up || return 1
}

_veth_addr()
{
	local ns=$1 dev=$2 addr=$3

	[ -n "$addr" ] || return 0
	case "$addr" in
	*:*) ip -n "$ns" addr add "$addr" dev "$dev" nodad ;;
	*) ip -n "$ns" addr add "$addr" dev "$dev" ;;
	esac
}

# ------------------------------------------------------------- tc ------

# tc_json [TC ARGS...]: tc -j output (for jq).
tc_json()
{
	$TC -j "$@"
}

# tc_jq FILTER [TC ARGS...]: run "tc -j ARGS" and apply a jq filter,
# raw output.  e.g. tc_jq '.[0].kind' -n "$NS1" qdisc show dev veth0
tc_jq()
{
	local filter=$1

	shift
	$TC -j "$@" | jq -r "$filter"
}

# tc_qdisc_get NS DEV HANDLE FILTER: jq FILTER applied to the (stats)
# JSON object of the qdisc with HANDLE ("1:") on DEV.
tc_qdisc_get()
{
	local ns=$1 dev=$2 handle=$3 filter=$4

	$TC -n "$ns" -j -s qdisc show dev "$dev" |
		jq -r ".[] | select(.handle == \"$handle\") | $filter"
}

# tc_rule_stats_get NS DEV DIR PREF [FILTER]: counter of the first
# action of the filter with PREF on DEV (DIR: ingress or egress of a
# clsact), packets by default.
tc_rule_stats_get()
{
	local ns=$1 dev=$2 dir=$3 pref=$4 filter=${5:-.packets}

	$TC -n "$ns" -j -s filter show dev "$dev" "$dir" pref "$pref" |
		jq -r ".[] | select(.options.actions) |
			.options.actions[0].stats$filter"
}

# tc_action_get KIND INDEX FILTER: jq FILTER on "tc -j -s actions get".
tc_action_get()
{
	local kind=$1 index=$2 filter=$3

	$TC -j -s actions get action "$kind" index "$index" |
		jq -r ".[0].actions[0]$filter"
}

# tc_variants: the tc binaries to exercise (stock tc with our plugins,
# the patched 6.1 tc, the patched upstream 7.1.0 tc), one per line; only
# those present.
tc_variants()
{
	local t

	for t in "$TC_STOCK" "$TC_PATCHED" "$TC_PATCHED71"; do
		[ -x "$t" ] && echo "$t"
	done
	return 0
}

# tc_name TC: what test names call the tc binary TC
tc_name()
{
	case "$1" in
	"$TC_STOCK") echo "stock tc+plugin" ;;
	"$TC_PATCHED71") echo "patched tc 7.1" ;;
	*) echo "patched tc" ;;
	esac
}

# ----------------------------------------------------------- modules ---

# mod_builtin NAME: NAME is built into the running kernel.
mod_builtin()
{
	local name=${1//-/_}

	tr - _ < "/lib/modules/$(uname -r)/modules.builtin" 2>/dev/null |
		grep -q "/$name\.ko\$"
}

# mod_loaded NAME: NAME is loaded as a module (not: built in).
mod_loaded()
{
	[ -d "/sys/module/${1//-/_}/sections" ] || [ -f "/sys/module/${1//-/_}/refcnt" ]
}

# mod_load NAME [PARAMS...]: modprobe and check it is there (loaded
# or built in).
mod_load()
{
	modprobe "$@" && { mod_loaded "$1" || mod_builtin "$1"; }
}

# mod_unload NAME: rmmod, waiting up to 10 s for users to go away
# (RCU-deferred frees), and check it is gone.  Fails for a module that
# is not loaded.
mod_unload()
{
	mod_loaded "$1" || { echo "$1 is not loaded" >&2; return 1; }
	busywait 10000 rmmod "$1" >/dev/null || { rmmod "$1"; return 1; }
	! mod_loaded "$1"
}

# mod_refcnt NAME: the module's reference count.
mod_refcnt()
{
	cat "/sys/module/$1/refcnt"
}

# ----------------------------------------------------------- traffic ---

# pktgen_set NS FILE CMD: one pktgen command (Documentation/networking/
# pktgen.rst) to /proc/net/pktgen/FILE of namespace NS ("": this one),
# checked against the "Result: OK" line the device files keep (pgctrl
# and the thread files' "Result:" is checked too where they have one).
# "start" on pgctrl returns when every thread has sent its count.
pktgen_set()
{
	local ns=$1 f=/proc/net/pktgen/$2 cmd=$3 in=()

	[ -n "$ns" ] && in=(ip netns exec "$ns")
	"${in[@]}" sh -c 'echo "$2" > "$1"' _ "$f" "$cmd" ||
		{ echo "# pktgen $2: '$cmd' refused" >&2; return 1; }
	[ "$2" = pgctrl ] && return 0
	"${in[@]}" grep -q '^Result: OK' "$f" && return 0
	echo "# pktgen $2: '$cmd': $("${in[@]}" grep '^Result' "$f")" >&2
	return 1
}

_iperf3_listening()
{
	ip netns exec "$1" ss -Htln 'sport = :5201' | grep -q .
}

# iperf3_bps SERVER_NS SERVER_ADDR CLIENT_NS [IPERF3 CLIENT ARGS...]:
# run an iperf3 TCP test (default 4 s) from CLIENT_NS to a server in
# SERVER_NS and print the receiver's goodput in bits/s (integer).
iperf3_bps()
{
	local sns=$1 saddr=$2 cns=$3 out rc

	shift 3
	ip netns exec "$sns" iperf3 -s -1 -B "${saddr%/*}" >/dev/null 2>&1 &
	defer kill $! 2>/dev/null
	busywait 5000 _iperf3_listening "$sns" >/dev/null || return 1
	out=$(ip netns exec "$cns" iperf3 -J -c "${saddr%/*}" -t 4 "$@") ||
		rc=$?
	if [ "${rc:-0}" -ne 0 ]; then
		echo "$out" >&2
		return 1
	fi
	jq -r '.end.sum_received.bits_per_second | floor' <<< "$out"
}

# ------------------------------------------------------- rates ---------
#
# The rate a policer admits is measured without timing any counter read
# (under QEMU TCG a tc call takes from 0.4 to 2 seconds, too uncertain
# for a 2 % tolerance).  The generator runs for a time it measures itself
# (vmtap's "elapsed": CLOCK_MONOTONIC from its first send to its last,
# without thread start-up, which cost a debug guest 1 to 2 %) against a policer
# whose bucket starts full; a token bucket then admits exactly its burst
# plus rate x elapsed as long as the offered load stays above the rate,
# so the rate is (admitted - burst) / elapsed.  The offered load is
# checked as well: a rate measured without excess traffic proves nothing.

# How long a rate test's generator runs.  The burst is subtracted and
# the window is the sender's own, so what is left of the error is the
# few milliseconds at its two ends: 4 s holds it well under 1 %.
RATE_SECS=${RATE_SECS:-4}

# The helpers below compute in bash's 64-bit integers, without awk: an
# exec costs 0.2 s on the debug guest, 0.4 s beside another guest, and a
# rate test called four of them.

# fixed_point VAR DECIMAL DIGITS: VAR = DECIMAL x 10^DIGITS, truncated
# (DECIMAL: digits with an optional fraction, as vmtap prints seconds)
fixed_point()
{
	local int=${2%%.*} frac=

	[[ $2 == *.* ]] && frac=${2#*.}
	frac=${frac}000000000
	printf -v "$1" '%d' \
		$((10#${int:-0} * 10 ** $3 + 10#${frac:0:$3}))
}

# bps BYTES SECONDS: bit/s of BYTES over SECONDS
bps()
{
	local us

	fixed_point us "$2" 6
	echo $((us > 0 ? $1 * 8 * 1000000 / us : 0))
}

# admitted_rate ADMITTED_BYTES BURST_BYTES SECONDS: bit/s admitted beyond
# the bucket's initial burst
admitted_rate()
{
	bps $(($1 - $2)) "$3"
}

# burst_for MBIT: a burst of 250 ms at MBIT, at least 64 KiB, in bytes.
# Under TCG the packets reach the policer in bursts with gaps of tens of
# milliseconds (softirq processing, vCPUs scheduled out); a bucket deeper
# than the gaps loses no tokens, and the burst is subtracted anyway.
burst_for()
{
	burst_of $(($1 * 1000)) 250
}

# burst_of KBIT MS: MS milliseconds at KBIT, at least 64 KiB, in bytes
burst_of()
{
	local b=$(($1 * 1000 / 8 * $2 / 1000))

	echo $((b < 65536 ? 65536 : b))
}

# seen_rate BYTES SECONDS: bit/s of BYTES over SECONDS (what reached the
# policer: the offered load that counts)
seen_rate()
{
	bps "$1" "$2"
}

# within PCT MEASURED WANTED: |MEASURED - WANTED| <= PCT % of WANTED
within()
{
	local milli d=$(($2 - $3))

	fixed_point milli "$1" 3
	((d < 0)) && d=$((-d))
	((d * 100000 <= milli * $3))
}

# starved OFFERED RATE UNIT: true (and says so) when less than 1.3 times
# RATE (per second, in UNIT: "bit" or "segments") reached the policer.
# Such a window measures the sender, not the policer: a bucket fed near
# its rate loses the tokens of every pause.  Under TCG a guest's sender
# stalls now and then (make check's guests share the host's cores), so
# the rate tests measure such a window once more; a second starved window
# fails the test.
starved()
{
	[ "$1" -ge $(($2 * 13 / 10)) ] && return 1
	ktap_print "only $1 $3/s reached the policer, under 1.3 x $2 $3/s:" \
		"the sender stalled${RATE_RETRY:+ again}"
	return 0
}

# stalled REPORT BUCKET_MS: true (and says so) when the vmtap REPORT
# shows a pause between two frames longer than BUCKET_MS, the time the
# policer's bucket takes to fill: the tokens of the rest of such a pause
# overflow and are lost, and the window measures the sender.  A window
# with enough traffic on average can still hold one: the debug guest's
# 4mbit qdisc test once admitted 0.91 of the rate with 1.8 x offered.
stalled()
{
	local gap

	gap=$(vmtap_max_gap_ms "$1")
	[ -z "$gap" ] || [ "$gap" -le "$2" ] && return 1
	ktap_print "the sender paused ${gap:-?} ms, longer than the" \
		"bucket's $2 ms: the sender stalled${RATE_RETRY:+ again}"
	return 0
}

# rate_verdict OFFERED RATE MEASURED UNIT [REPORT BUCKET]: 0 when
# MEASURED is within TOL_PCT of RATE, 1 when it is not or the sender was
# starved or stalled twice, 2 when it was for the first time (the caller
# measures again with RATE_RETRY=1).  UNIT is "bit" or "segments".  With
# the vmtap REPORT and the BUCKET the policer holds (bytes for "bit",
# segments for "segments"), a MEASURED short of RATE after a pause of the
# sender longer than the bucket takes to fill counts as a stall: such a
# pause explains a shortfall (never an excess), and a short pause costs
# less than the tolerance, so only a window that failed is measured again.
rate_verdict()
{
	local ms

	if starved "$1" "$2" "$4"; then
		[ -z "${RATE_RETRY:-}" ] && return 2
		return 1
	fi
	within "$TOL_PCT" "$3" "$2" && return 0
	[ -n "${5:-}" ] && [ "$3" -lt "$2" ] || return 1
	if [ "$4" = bit ]; then
		ms=$(($6 * 8000 / $2))
	else
		ms=$(($6 * 1000 / $2))
	fi
	stalled "$5" "$ms" || return 1
	[ -z "${RATE_RETRY:-}" ] && return 2
	return 1
}

# rate_check DESC OFFERED RATE MEASURED UNIT REPORT BUCKET
#            [EQ_DESC EXPECTED ACTUAL]: rate_verdict's judgement of
# MEASURED as the KTAP result DESC then, when given, check_eq EQ_DESC
# EXPECTED ACTUAL (the module's own count against the independent one).
# Returns 2, reporting nothing, when the window has to be measured again
# (rate_verdict's 2): the caller runs its case again with RATE_RETRY=1,
#   rate_check ... || RATE_RETRY=1 case_function ARGS
# and 0 otherwise (a failed check is a KTAP failure, not a status).
rate_check()
{
	rate_verdict "$2" "$3" "$4" "$5" "$6" "$7"
	case $? in
	2) return 2 ;;
	0) ktap_pass "$1" ;;
	*) ktap_fail "$1" ;;
	esac
	[ $# -lt 10 ] || check_eq "$8" "$9" "${10}"
	return 0
}

# udp_frames NS DST COUNT: COUNT UDP frames of 1042 wire bytes (1000
# payload) from NS to DST's discard port, back to back: within a few
# milliseconds, so a bucket barely refills while they pass and what it
# admits shows what it held
udp_frames()
{
	"$VMTAP_SEND" --netns "$1" --dst "$2" --dport 9 --payload 1000 \
		--count "$3" >/dev/null
}

# vmtap_built: true when every vmtap program is there
vmtap_built()
{
	local p

	for p in "$VMTAP_INJECT" "$VMTAP_FORWARD" "$VMTAP_SEND" \
		 "$VMTAP_STREAM" "$VMTAP_SINK"; do
		[ -x "$p" ] || return 1
	done
}

# vmtap_total KEY REPORT: a total from a vmtap report (text form)
vmtap_total()
{
	local nl=$'\n' re

	# KEY first after "total" or after a space or comma
	re="(^|$nl)vmtap: total ([^$nl]*[ ,])?$1=([0-9]+)"

	# a bash match, not sed: a fork costs 0.1 s on the debug guest
	[[ $2 =~ $re ]] && echo "${BASH_REMATCH[3]}"
}

# vmtap_elapsed REPORT: seconds a vmtap run sent for
vmtap_elapsed()
{
	local nl=$'\n' re

	re="(^|$nl)vmtap: elapsed=([0-9.]+)s"

	[[ $1 =~ $re ]] && echo "${BASH_REMATCH[2]}"
}

# vmtap_max_gap_ms REPORT: the longest pause between two frames of a
# vmtap-send or vmtap-inject run, in milliseconds
vmtap_max_gap_ms()
{
	local nl=$'\n' re

	re="(^|$nl)vmtap: elapsed=[0-9.]+s max_gap=([0-9]+)[.]([0-9]{3})s"

	[[ $1 =~ $re ]] &&
		echo $((10#${BASH_REMATCH[2]} * 1000 + 10#${BASH_REMATCH[3]}))
}

# vmtap_offered REPORT: L2 bits per second a vmtap run put out
vmtap_offered()
{
	bps "$(vmtap_total wire_bytes "$1")" "$(vmtap_elapsed "$1")"
}

# ip_rx NS: "PACKETS SEGMENTS OCTETS" the IPv4 stack of NS has taken in:
# InReceives (/proc/net/snmp), the four In*Pkts ECN counters, which count
# every segment of a GSO packet, and InOctets (/proc/net/netstat).  What
# got past tc ingress, counted by the kernel rather than by vmpolice.
ip_rx()
{
	ip netns exec "$1" cat /proc/net/snmp /proc/net/netstat | awk '
		/^Ip: [0-9]/ { p = $4 }
		/^IpExt: / && !h { for (i = 2; i <= NF; i++) k[i] = $i; h = 1; next }
		/^IpExt: / { for (i = 2; i <= NF; i++) v[k[i]] = $i }
		END { print p, v["InNoECTPkts"] + v["InECT1Pkts"] + \
			       v["InECT0Pkts"] + v["InCEPkts"], v["InOctets"] }'
}

# ip_rx_settled NS: ip_rx once two readings 0.1 s apart agree (the last
# packets may still be in a qdisc or a backlog on their way), at most 2 s
ip_rx_settled()
{
	local a b i

	b=$(ip_rx "$1")
	for ((i = 0; i < 20; i++)); do
		sleep 0.1
		a=$b
		b=$(ip_rx "$1")
		[ "$a" = "$b" ] && break
	done
	echo "$b"
}

# ip4_wire BEFORE AFTER [L4_HEADER [SEG_PAYLOAD]]: "BYTES SEGMENTS" of the
# IPv4 traffic (no IP options, untagged Ethernet, L4_HEADER bytes of UDP
# or TCP header in every segment: 8 by default, UDP) between two ip_rx
# snapshots, BYTES counted as vmpolice charges them: each segment's MAC,
# IPv4 and L4 headers and its payload.  The stack counts a GSO packet's
# segments from its gso_segs, which a tap leaves 0 for a guest's
# (SKB_GSO_DODGY) packets: for such traffic give SEG_PAYLOAD, the payload
# of every segment, and the segments are counted from the payload bytes
# (every packet must then carry whole segments).
ip4_wire()
{
	local p0 s0 o0 p1 s1 o1 hdr=$((20 + ${3:-8})) segs pkts

	read -r p0 s0 o0 <<< "$1"
	read -r p1 s1 o1 <<< "$2"
	pkts=$((p1 - p0)) segs=$((s1 - s0))
	[ -n "${4:-}" ] && segs=$(((o1 - o0 - (hdr * pkts)) / $4))
	echo $((o1 - o0 + 14 * segs + hdr * (segs - pkts))) "$segs"
}

# A private scratch directory, removed at exit.
VMP_TMP=$(mktemp -d /tmp/vmpolice.XXXXXX)
defer rm -rf "$VMP_TMP"

# actions_flush NS KIND: flush all actions of KIND in NS, waiting for the
# ones a just-deleted filter still holds: filters release their actions
# from a work queue, and until then "flush" leaves them in place, so a
# new "action KIND ... index N" would silently bind the old one instead
# of creating it with the new options.
actions_flush()
{
	local ns=$1 kind=$2 i

	for ((i = 0; i < 50; i++)); do
		$TC -n "$ns" actions flush action "$kind" >/dev/null 2>&1
		[ -z "$($TC -n "$ns" actions list action "$kind" 2>/dev/null |
			grep -w "index")" ] && return 0
		sleep 0.1
	done
	ktap_print "actions of kind $kind still present after 5 s"
	return 1
}
