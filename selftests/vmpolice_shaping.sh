#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# vmpolice with a delay budget ("latency"): a packet that would conform
# within it is held and sent at the moment it conforms, so TCP through a
# policer with a small burst runs at the rate instead of collapsing.
#
# The guest is selftests/simguest.sh's (a namespace whose eth0 is a
# multiqueue tap with offloads on, `vmtap-forward` playing vhost-net into
# the host tap vnet0, policed at ingress as libvirt does).  What the
# policer admits is routed on to a receiver namespace over a veth whose
# sending side has TSO and GSO off: every frame the receiver's interface
# counts is one wire frame, MAC header included, as the policer charges
# it.  Rates are read from that counter between two moments of a steady
# stream, each read timed on its own (bash builtins on /proc/PID/net/dev,
# no fork), independently of the module; the policer's own counters must
# agree with the receiver's.
#
#   TCP (iperf3, and vmtap's TCP send) at 8, 32 and 131 Mbit/s with a
#   64 KiB burst and 5 ms: within 5 % below the rate, never above
#   rate x t + max(burst, longest train) (a held train is not cut for
#   its own length); latency 0 is the pure policer (nothing held);
#   UDP at 3 x the rate: within 2 %, nothing held beyond the latency;
#   ECN: CE marks instead of drops, and with a latency that leaves room
#   for slow start nothing lost (every byte that reached the policer
#   arrives); the host tap's send buffer (vmtap-forward --sndbuf) holds
#   the guest back instead of the policer dropping (< 1 % lost, TCP
#   retransmits down 10x); the qdisc form with TCP; teardown of every kind while
#   packets are held; every refusal's message.  Wherever the counters
#   are at rest: held = released + flushed + backlog (the action, the
#   qdisc's single and multiqueue forms), backlog being what is held
#   (the action's hold queues, the qdisc's own held queue).
#
# A TCG guest cannot always carry the highest rate (the generator, not
# the policer, is the limit: bench/ found tbf at 0.75 of 131 Mbit/s).
# At the rates in REF_MBITS, tbf (bench's reference: rate R burst 64kb
# latency 50ms at the guest's egress) runs first on the same path, in
# the same boot: when tbf reaches R within 5 %, vmpolice must too; when
# it does not, the rate itself cannot be judged in this guest, and
# vmpolice must reach tbf's rate within 5 % instead (said so, and the
# case is named so).
#
# The debug kernel (KASAN, lockdep, kmemleak) is far slower under TCG:
# it runs lower rates, longer TCP runs and a latency to match (below).
# Every rate is judged on every kernel.

source "$(dirname "$(readlink -f "$0")")/lib.sh"

SIMGUEST=$SELFTEST_DIR/simguest.sh

require_root
require_cmd jq ip iperf3 ethtool
vmtap_built || ktap_skip_all "vmtap not built"
[ -f "$SIMGUEST" ] || ktap_skip_all "no $SIMGUEST"
source "$SIMGUEST"

ktap_header

T_START=$EPOCHREALTIME
TCP_TOL_PCT=5		# below the rate only: above it, rate x t + burst
TOL_PCT=2		# UDP, both ways (rate_verdict)
LAT=5ms
LAT_NS=5000000
BURST=65536		# 64kb
# the longest train a guest sends: a TCP GSO packet of 45 segments of
# 1448 bytes, 45 x 1514 wire bytes; held whole, it may leave at once
TRAIN_MAX=68130
# A TCP run: the stream lasts TCP_SECS; the receiver's rate is read over
# WIN_S seconds starting WARM_S after the first bytes arrive.
WARM_S=1.2
WIN_S=3
if gzip -dc /proc/config.gz 2>/dev/null | grep -q '^CONFIG_KASAN=y'; then
	# Unpoliced, the simulated guest carried 5.4 Mbit/s of TCP.  Its
	# TCP runs last 10 s: there the window (first bytes, WARM_S, WIN_S,
	# each read of the counter slow) ended past a 5 s stream, which
	# read as 0.7 of the rate for tbf as well (2026-11-30).  At 1-2
	# Mbit/s a 5 ms budget is 625-1250 bytes, less than one frame and
	# far less than the 2594 bytes a TSO packet needs beyond the
	# burst: such a policer drops what TCP sends however well it
	# holds (Documentation/vmpolice.rst).  The TCP runs take 100ms
	# instead, 12.5-25 KB as 5ms is at 20-40 Mbit/s.  vmtap's TCP at
	# 1 Mbit/s too; the refusals (tc's parsing, the kernel's messages)
	# with one tc.
	DEBUG=1
	TCP_MBITS="1"	# at 2, 1.17 Mbit/s with 100ms, tbf 2.09 (one run)
	MID=2		# latency 0, ECN, UDP, send buffer, qdisc
	REF_MBITS=
	VMTAP_TCP=1
	VMTAP_MBIT=1
	TCP_SECS=10
	TCP_LAT=100ms
	TCP_LAT_NS=100000000
else
	DEBUG=
	TCP_MBITS="8 32 131"
	MID=32		# and vmtap TCP
	REF_MBITS="131"	# judged against tbf's rate when tbf misses it
	VMTAP_TCP=1
	VMTAP_MBIT=$MID
	TCP_SECS=5
	TCP_LAT=$LAT
	TCP_LAT_NS=$LAT_NS
fi

# the tc binaries the refusals run with
tc_used() { if [ -n "$DEBUG" ]; then tc_variants | head -n 1; else tc_variants; fi; }
NTC=$(tc_used | wc -l)
# options 2, TCP 3 per run, latency 0 2, ECN 2, UDP 3, send buffer 3,
# refusals 9 per tc and 1, qdisc 3, teardown 31 (action 9, the qdisc's
# single form 9, multiqueue form 7, qdisc deleted 3, namespace 2,
# module 1)
PLAN_FIXED=47
ktap_plan $((PLAN_FIXED + 3 * ($(wc -w <<< "$TCP_MBITS") + ${VMTAP_TCP:-0}) + 9 * NTC))

mod_load vmpolice || ktap_skip_all "cannot load vmpolice"
ktap_print "TCP at $TCP_MBITS Mbit/s, the rest at $MID${DEBUG:+ (debug kernel)}"

# ------------------------------------------------------------ topology --

if ! sg_setup 2; then
	ktap_print "$(cat "$SG_FWD_LOG" 2>/dev/null)"
	ktap_skip_all "the simulated guest does not reach the host"
fi
HNS=$SG_HNS GNS=$SG_GNS

# NSR: the receiver, 10.9.0.2, behind r0 (host, no segmentation offload)
setup_ns NSR
setup_veth "$HNS" r0 10.9.0.1/24 "$NSR" r1 10.9.0.2/24
ip netns exec "$HNS" sysctl -qw net.ipv4.ip_forward=1
for ns in "$HNS" "$NSR" "$GNS"; do
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
done
ip netns exec "$HNS" ethtool -K r0 tso off gso off >/dev/null
ip -n "$NSR" route add default via 10.9.0.1
ip -n "$GNS" route add 10.9.0.0/24 via "$SG_HADDR"
ip -n "$HNS" neigh replace 10.9.0.2 dev r0 nud permanent \
	lladdr "$(ip -n "$NSR" -j link show r1 | jq -r '.[0].address')"

# a process living in NSR: its /proc/PID/net/dev is NSR's, read without
# a fork (ip netns exec execs the command)
ip netns exec "$NSR" sleep 100000 &
NSR_PID=$!
defer kill "$NSR_PID"

# vnet1: a second host tap, fed by vmtap-inject (UDP rates, teardown)
ip -n "$HNS" tuntap add dev vnet1 mode tap multi_queue vnet_hdr
ip -n "$HNS" addr add 10.8.0.1/24 dev vnet1
ip -n "$HNS" link set vnet1 up
$TC -n "$HNS" qdisc add dev vnet1 clsact

busywait 5000 ip netns exec "$GNS" ping -c 1 -W 1 10.9.0.2 >/dev/null ||
	ktap_print "the guest does not reach the receiver"

# ------------------------------------------------------------- helpers --

# rx_sample PID DEV: S_B = DEV's rx bytes in PID's namespace, S_T0/S_T1
# the time (us) just before and just after the read
rx_sample()
{
	local line

	S_T0=${EPOCHREALTIME/./}
	while read -r line; do
		[[ $line == "$2:"* ]] && break
	done < "/proc/$1/net/dev"
	S_T1=${EPOCHREALTIME/./}
	line=${line#*:}
	set -- $line
	S_B=$1
}

# rx_bytes PID DEV: DEV's rx bytes now
rx_bytes() { rx_sample "$1" "$2"; echo "$S_B"; }

# vmp NS INDEX: the vmpolice action object with its counters
vmp()
{
	$TC -n "$1" -s -j actions get action vmpolice index "$2" |
		jq -c '[.. | objects | select(.kind? == "vmpolice")][0]'
}

# tot JSON KEYS...: those totals of a vmp object, space separated
tot()
{
	local json=$1 keys="" k

	shift
	for k in "$@"; do
		keys+="${keys:+, }(.totals.$k // \"none\")"
	done
	jq -r "[$keys] | @tsv" <<< "$json" | tr '\t' ' '
}

# police_guest ARGS...: libvirt's rule with vmpolice ARGS on vnet0's
# ingress (index 1), a fresh bucket
police_guest() { sg_police vmpolice "$@"; }

# police_tap INDEX ARGS...: vmpolice ARGS at vnet1's clsact ingress
police_tap()
{
	local idx=$1

	shift
	$TC -n "$HNS" filter del dev vnet1 ingress 2>/dev/null
	action_del "$HNS" "$idx"
	$TC -n "$HNS" filter add dev vnet1 ingress pref 1 protocol ip \
		matchall action vmpolice "$@" index "$idx"
}

# action_del NS INDEX: delete the action, waiting (5 s) for a filter
# just deleted to release it (see actions_flush); fails if it stays
action_del()
{
	local i

	for ((i = 0; i < 50; i++)); do
		$TC -n "$1" actions del action vmpolice index "$2" >/dev/null 2>&1
		$TC -n "$1" actions get action vmpolice index "$2" \
			>/dev/null 2>&1 || return 0
		sleep 0.1
	done
	ktap_print "vmpolice action $2 still there after 5 s:" \
		"$($TC -n "$1" -s actions get action vmpolice index "$2" 2>&1)"
	return 1
}

_listening() { ip netns exec "$1" ss -Htln "sport = :$2" | grep -q .; }

# window PID DEV SEND_PID: wait for DEV (in PID's namespace) to receive
# the stream's first bytes (10000, less than TCP's initial window: at
# 1 Mbit/s a larger mark would be reached only after a second, and the
# window would run past the stream's end), WARM_S more, then read its rx
# bytes twice
# WIN_S apart.  W_BYTES, W_IN (us between the reads' ends and starts:
# a lower bound of the window) and W_OUT (starts to ends: an upper bound).
window()
{
	local pid=$1 dev=$2 sender=$3 b0 b1 t0i t0o i

	rx_sample "$pid" "$dev"
	b0=$S_B
	for ((i = 0; i < 100; i++)); do
		sleep 0.1
		rx_sample "$pid" "$dev"
		[ $((S_B - b0)) -gt 10000 ] && break
		kill -0 "$sender" 2>/dev/null || break
	done
	sleep "$WARM_S"
	rx_sample "$pid" "$dev"
	b1=$S_B t0i=$S_T1 t0o=$S_T0
	sleep "$WIN_S"
	rx_sample "$pid" "$dev"
	W_BYTES=$((S_B - b1))
	W_IN=$((S_T0 - t0i))
	W_OUT=$((S_T1 - t0o))
}

# bps_of BYTES US: bit/s
bps_of() { echo $(($1 * 8 * 1000000 / ($2 > 0 ? $2 : 1))); }

# tcp_run GEN OUT [iperf3 args]: a TCP stream of TCP_SECS from the guest
# to the receiver, with GEN iperf3 (JSON with the server's side in OUT)
# or vmtap (its report in OUT); sets W_* (window), RX_RUN (receiver
# bytes over the whole run) and RUN_US.
tcp_run()
{
	local gen=$1 out=$2 spid cpid rx0 t0 rc=0

	shift 2
	rx0=$(rx_bytes "$NSR_PID" r1)
	t0=${EPOCHREALTIME/./}
	if [ "$gen" = iperf3 ]; then
		ip netns exec "$NSR" iperf3 -s -1 -J -B 10.9.0.2 -p 5201 \
			>/dev/null 2>&1 &
		spid=$!
		busywait 5000 _listening "$NSR" 5201 >/dev/null
		timeout $((TCP_SECS + 60)) ip netns exec "$GNS" iperf3 -J \
			--get-server-output -c 10.9.0.2 -p 5201 \
			-t "$TCP_SECS" "$@" > "$out" 2>&1 &
		cpid=$!
	else
		"$VMTAP_SINK" --netns "$NSR" --dport 5300 >/dev/null 2>&1 &
		spid=$!
		busywait 5000 _listening "$NSR" 5300 >/dev/null
		timeout $((TCP_SECS + 60)) "$VMTAP_STREAM" \
			--netns "$GNS" --dst 10.9.0.2 --dport 5300 \
			--payload 65000 --duration "$TCP_SECS" > "$out" 2>&1 &
		cpid=$!
	fi
	window "$NSR_PID" r1 "$cpid"
	wait "$cpid" || rc=$?
	kill "$spid" 2>/dev/null
	wait "$spid" 2>/dev/null
	# what is held drains within the latency (DRAIN_S: more than it)
	sleep "${DRAIN_S:-0.2}"
	RX_RUN=$(($(rx_bytes "$NSR_PID" r1) - rx0))
	RUN_US=$((${EPOCHREALTIME/./} - t0))
	[ "$rc" -eq 0 ] || ktap_print "$gen exited $rc: $(head -c 400 "$out")"
	return "$rc"
}

# iperf3_info JSON: "receiver_payload_bytes retransmits steady_bps mss"
# (steady: the server's intervals from 1 s on, payload bit/s)
iperf3_info()
{
	jq -r '[(.end.sum_received.bytes // 0),
		(.end.sum_sent.retransmits // 0),
		([.server_output_json.intervals[]?.sum |
		  select(.start >= 0.95)] as $iv |
		 if ($iv | length) > 0 then
			(($iv | map(.bytes) | add) * 8 /
			 ($iv | map(.seconds) | add))
		 else 0 end),
		(.start.tcp_mss_default // 1448)] | map(floor) | @tsv' "$1" |
		tr '\t' ' '
}

# rate_ok MBIT BYTES IN_US OUT_US BURST [FLOOR_BPS]: within TCP_TOL_PCT
# below FLOOR_BPS (default: the rate) over the inner window and never
# above rate x outer + BURST (plus a frame on the way)
rate_ok()
{
	local r=$(($1 * 1000000)) b=$2 floor=${6:-$(($1 * 1000000))}

	((b * 8 * 1000000 * 100 >= floor * $3 * (100 - TCP_TOL_PCT))) &&
		((b * 8 * 1000000 <= r * $4 + ($5 + 1514) * 8 * 1000000))
}

# pct_ok MEASURED WANTED: MEASURED is at least WANTED - TCP_TOL_PCT %
pct_ok() { (($1 * 100 >= $2 * (100 - TCP_TOL_PCT))); }

# what a bucket may let out at once when it holds: the longest of burst
# and train (Documentation/vmpolice.rst, the invariant)
HOLD_BOUND=$((BURST > TRAIN_MAX ? BURST : TRAIN_MAX))

# The holding identity, held = released + flushed + backlog, of a jq
# object with those counters; at rest (nothing arriving or due) it holds
# exactly (the counters are read one after the other).
JQ_IDENT='def ident: .held == .released + .flushed + .backlog;'

# ident_of JSON PATH...: "true" when the identity holds for the object at
# each jq PATH (".totals", ".queues[]?"...) of JSON
ident_of()
{
	local json=$1 paths="" p

	shift
	for p in "$@"; do
		paths+="${paths:+, }($p | ident)"
	done
	jq -r "$JQ_IDENT [$paths] | all" <<< "$json"
}

# hold_str OBJ_JSON: its holding counters, for the diagnostics
hold_str()
{
	jq -r '"held \(.held) released \(.released) flushed \(.flushed) backlog \(.backlog)"' <<< "$1"
}

# section NAME: how long the test has run, when a part starts (the debug
# guest has 300 s for all of it)
section()
{
	ktap_print "[$(((${EPOCHREALTIME/./} - ${T_START/./}) / 1000000)) s] $*"
}

# ------------------------------------------------ options, as JSON -------

police_guest rate 32mbit burst 64kb latency "$LAT" ecn conform-exceed drop/ok
j=$(vmp "$HNS" 1)
check_eq "action options in JSON: latency (ns), ecn, ecn_threshold (latency/4)" \
	"$LAT_NS true $((LAT_NS / 4))" \
	"$(jq -r '"\(.latency) \(.ecn) \(.ecn_threshold)"' <<< "$j")"
zero=$(tot "$j" held held_bytes released overlimit flushed ce_marked \
	backlog backlog_bytes max_hold_ns)
check_eq "action: the holding counters, in totals and each queue" \
	"0 0 0 0 0 0 0 0 0 true" \
	"$zero $(jq -r '[.queues[]? | has("held") and has("backlog_bytes") and
		has("max_hold_ns") and has("ce_marked")] | all' <<< "$j")"

# ------------------------------------ (1) TCP from the guest, held -------

# tbf_ref MBIT: the shaping reference on the same path, right before
# vmpolice's run at MBIT: tbf as bench/ runs it (rate MBIT burst 64kb
# latency 50ms at the guest's egress, no policer).  REF_BPS: the
# receiver's L2 rate over the window, REF_EST: iperf3's steady payload
# as L2, measured as tcp_case measures vmpolice.
tbf_ref()
{
	local mbit=$1 out=$VMP_TMP/tcp.tbf.$1 pay retr steady mss

	sg_unpolice
	sg_tbf rate "${mbit}mbit" burst 64kb latency 50ms
	tcp_run iperf3 "$out"
	sg_unpolice
	REF_BPS=$(bps_of "$W_BYTES" "$W_IN")
	read -r pay retr steady mss <<< "$(iperf3_info "$out")"
	REF_EST=$((steady * (mss + 66) / (mss > 0 ? mss : 1)))
	ktap_print "tbf ${mbit}mbit (reference): receiver $REF_BPS bit/s L2" \
		"over $((W_IN / 1000)) ms, steady $steady bit/s payload" \
		"(>= $REF_EST bit/s L2), $retr retransmits"
}

# tcp_case GEN MBIT: TCP through `rate MBIT burst 64kb latency 5ms`; at
# the rates of REF_MBITS after tbf_ref, judged against tbf's rate when
# tbf itself does not reach MBIT
tcp_case()
{
	local gen=$1 mbit=$2 out=$VMP_TMP/tcp.$1.$2 j w_bps cb seen ex held
	local rel bl mh fl ovl pay retr steady mss est rc floor efloor what

	floor=$((mbit * 1000000)) efloor=$floor
	what="L2 rate within ${TCP_TOL_PCT}% below"
	if [ "$gen" = iperf3 ] && [[ " $REF_MBITS " == *" $mbit "* ]]; then
		tbf_ref "$mbit"
		if ! pct_ok "$REF_BPS" "$floor"; then
			ktap_print "tbf reaches only $REF_BPS of $floor bit/s here:" \
				"this guest cannot carry ${mbit}mbit, so the rate" \
				"itself could not be judged; vmpolice is judged" \
				"against tbf's rate on the same path"
			floor=$REF_BPS efloor=$REF_EST
			what="rate not judged (guest cannot carry it): L2 rate within ${TCP_TOL_PCT}% of tbf's ($REF_BPS bit/s)"
		fi
	fi
	police_guest rate "${mbit}mbit" burst 64kb latency "$TCP_LAT" drop
	tcp_run "$gen" "$out"
	rc=$?
	j=$(vmp "$HNS" 1)
	read -r cb seen ex held rel bl mh fl ovl <<< "$(tot "$j" conformed_bytes \
		bytes exceeded_bytes held released backlog max_hold_ns flushed \
		overlimit)"
	w_bps=$(bps_of "$W_BYTES" "$W_IN")
	if [ "$gen" = iperf3 ]; then
		read -r pay retr steady mss <<< "$(iperf3_info "$out")"
		# a segment carries at most mss bytes in mss + 66 on the wire:
		# the payload's lower bound of the L2 rate
		est=$((steady * (mss + 66) / (mss > 0 ? mss : 1)))
		ktap_print "iperf3 ${mbit}mbit: receiver $pay payload bytes," \
			"steady $steady bit/s payload (>= $est bit/s L2)," \
			"$retr retransmits"
	else
		retr=$(sed -n 's/.* retransmits=\([0-9]*\).*/\1/p' "$out")
		ktap_print "vmtap tcp ${mbit}mbit: $(grep -o 'elapsed=[^ ]*' "$out")" \
			"$retr retransmits"
	fi
	ktap_print "$gen ${mbit}mbit: receiver $w_bps bit/s L2 over" \
		"$((W_IN / 1000)) ms ($W_BYTES bytes), policer: conformed" \
		"$cb of $seen bytes (offered $(bps_of "$seen" "$RUN_US") bit/s" \
		"over the run), exceeded $ex, overlimit $ovl, held $held" \
		"released $rel flushed $fl backlog $bl max_hold $mh ns;" \
		"receiver got $RX_RUN bytes" \
		"in all over $((RUN_US / 1000)) ms"
	[ "$rc" -eq 0 ] &&
		rate_ok "$mbit" "$W_BYTES" "$W_IN" "$W_OUT" "$HOLD_BOUND" "$floor" &&
		{ [ "$gen" != iperf3 ] || pct_ok "$est" "$efloor"; }
	ktap_result "$gen TCP at ${mbit}mbit, 64kb, latency $TCP_LAT: $what ($w_bps bit/s)" $?
	# every admitted byte reached the receiver (ARP aside), and the
	# policer never admitted more than rate x t + burst over the run
	# (what it admits is reserved within the latency; the run ends
	# 0.2 s after the sender, more than the latency)
	within 0.5 "$RX_RUN" "$cb" &&
		((cb * 8 * 1000000 <= mbit * 1000000 * RUN_US + BURST * 8 * 1000000))
	ktap_result "$gen TCP at ${mbit}mbit: the receiver got what the policer admitted, no more than rate x t + burst" $?
	# nothing tore anything down: every held packet was released
	[ "$held" -gt 0 ] && [ "$bl" -eq 0 ] && [ "$fl" -eq 0 ] &&
		[ "$mh" -le "$TCP_LAT_NS" ] &&
		[ "$(ident_of "$j" .totals '.queues[]?')" = true ]
	ktap_result "$gen TCP at ${mbit}mbit: held = released + flushed + backlog, all released ($rel of $held), none longer than $TCP_LAT" $?
}

# what this guest reaches without a policer, for the record: a rate
# near it measures the generator (TCG), not the policer
if [ -z "$DEBUG" ]; then
	sg_unpolice
	tcp_run iperf3 "$VMP_TMP/tcp.free"
	ktap_print "unpoliced: receiver $(bps_of "$W_BYTES" "$W_IN") bit/s L2"
fi

for m in $TCP_MBITS; do
	section "iperf3 TCP at ${m}mbit"
	tcp_case iperf3 "$m"
done
if [ -n "$VMTAP_TCP" ]; then
	section "vmtap TCP at ${VMTAP_MBIT}mbit"
	tcp_case vmtap "$VMTAP_MBIT"
fi

# ------------------------------------------ (2) latency 0: as before -----

section "latency 0"
police_guest rate "${MID}mbit" burst 64kb latency 0 drop
j=$(vmp "$HNS" 1)
check_eq "latency 0: no latency in the options" "0" \
	"$(jq -r '.latency // 0' <<< "$j")"
tcp_run iperf3 "$VMP_TMP/tcp.l0"
j=$(vmp "$HNS" 1)
read -r held bl mh ex seen <<< "$(tot "$j" held backlog max_hold_ns \
	exceeded_bytes bytes)"
ktap_print "latency 0 at ${MID}mbit: receiver $(bps_of "$W_BYTES" "$W_IN") bit/s" \
	"L2, exceeded $ex of $seen bytes, held $held"
[ "$held" -eq 0 ] && [ "$bl" -eq 0 ] && [ "$mh" -eq 0 ] && [ "$ex" -gt 0 ] &&
	((W_BYTES * 8 * 1000000 <= MID * 1000000 * W_OUT + (BURST + 1514) * 8 * 1000000))
ktap_result "latency 0: the pure policer (drops, nothing held, never above rate x t + burst)" $?

# --------------------------------------------------- (4) ECN -------------

# ECN without loss.  A mark slows the sender one round trip after the
# marked packet is released, and slow start doubles what it sends per
# round trip: from the first mark (after ecn-threshold, latency/4) until
# the sender has backed off, what is held grows by about as much again,
# plus a whole TSO packet that was already on its way (the guest's TCP
# sends up to 45-segment trains while its round trip is short).  So the
# room after the threshold must hold about twice a train's time at the
# rate: latency >= 2 x (TRAIN_MAX / rate) + 2 x RTT.  At 32mbit, with
# 5ms, 10ms and 20ms the flow lost 0.25-0.8 %, 0.6 % and 0-0.2 % of its
# bytes at the policer, all in the first second (slow start); with 50ms
# nothing in 3 runs out of 3, at 8mbit with 150ms nothing (experiments
# on 6.12, 2026-11-30).  The test takes 3 trains' time at the rate,
# rounded up: 52ms at 32mbit, 818ms at the debug kernel's 2mbit.
# Nothing lost is observed without the module: the receiver got every
# byte that reached the policer.
ECN_LAT_MS=$((3 * TRAIN_MAX * 8 / (MID * 1000) + 1))
section "ecn (latency ${ECN_LAT_MS}ms)"
ip netns exec "$GNS" sysctl -qw net.ipv4.tcp_ecn=1
ce_in()
{
	ip netns exec "$NSR" cat /proc/net/netstat |
		awk '/^IpExt: [A-Z]/ { for (i = 2; i <= NF; i++) n[i] = $i }
		     /^IpExt: [0-9]/ { for (i = 2; i <= NF; i++)
			if (n[i] == "InCEPkts") print $i }'
}
ce0=$(ce_in)
police_guest rate "${MID}mbit" burst 64kb latency "${ECN_LAT_MS}ms" ecn drop
DRAIN_S=$((ECN_LAT_MS / 1000 + 1)) tcp_run iperf3 "$VMP_TMP/tcp.ecn"
ce1=$(ce_in)
j=$(vmp "$HNS" 1)
read -r ce ex seen held <<< "$(tot "$j" ce_marked exceeded_bytes bytes held)"
# (a packet that arrived CE already is not counted: nobody marks here
# but the policer, so the receiver sees at least the policer's marks)
read -r _ retr _ _ <<< "$(iperf3_info "$VMP_TMP/tcp.ecn")"
ktap_print "ecn at ${MID}mbit, latency ${ECN_LAT_MS}ms: ce_marked $ce" \
	"(receiver: $((ce1 - ce0)) CE segments), exceeded $ex of $seen bytes," \
	"receiver got $RX_RUN bytes, held $held, $retr retransmits," \
	"$(bps_of "$W_BYTES" "$W_IN") bit/s L2"
[ "$ce" -gt 0 ] && [ $((ce1 - ce0)) -ge "$ce" ]
ktap_result "ecn: held ECT packets marked CE (policer and receiver agree)" $?
[ "$seen" -gt 0 ] && [ "$ex" -eq 0 ] && [ "$RX_RUN" -eq "$seen" ]
ktap_result "ecn: no drops: the receiver got all $seen bytes that reached the policer ($RX_RUN), none exceeded ($ex)" $?
ip netns exec "$GNS" sysctl -qw net.ipv4.tcp_ecn=2

# ------------------------------------------ (3) UDP at 3 x the rate ------

# inject on vnet1's two queues, forwarded to the receiver's discard port
udp_over()
{
	local mbit=$1 burst pps out j cb seen held bl mh ovl rx0 rx1 secs r off hs

	burst=$(burst_for "$mbit")
	police_tap 2 rate "${mbit}mbit" burst "$burst" latency "$LAT" drop
	pps=$((mbit * 1000000 * 3 / 8 / 1442 + 1))
	rx0=$(rx_bytes "$NSR_PID" r1)
	out=$("$VMTAP_INJECT" --dev vnet1 --netns "$HNS" --queues 2 \
		--queues-used 0,1 --threads --rate "$pps" \
		--duration "$RATE_SECS" --prime-bytes "$burst" --proto udp \
		--src 10.8.0.2 --dst 10.9.0.2 --dport 9 --payload 1400 2>&1)
	sleep 0.1
	rx1=$(rx_bytes "$NSR_PID" r1)
	j=$(vmp "$HNS" 2)
	read -r cb seen held bl mh ovl <<< "$(tot "$j" conformed_bytes bytes \
		held backlog max_hold_ns overlimit)"
	secs=$(vmtap_elapsed "$out")
	# the rate the receiver's interface counted (frames of 1442 bytes,
	# no GSO: its rx bytes are wire bytes), offered what vmtap wrote
	r=$(admitted_rate $((rx1 - rx0)) "$burst" "$secs")
	off=$(vmtap_offered "$out")
	ktap_print "UDP ${mbit}mbit, 3x offered: $r bit/s L2 received, $off" \
		"bit/s written ($seen bytes reached the policer) in $secs s; receiver got" \
		"$((rx1 - rx0)) of $cb bytes; held $held overlimit $ovl" \
		"backlog $bl max_hold $mh ns"
	if ! rate_check "UDP at 3x ${mbit}mbit through latency $LAT: L2 rate within ${TOL_PCT}% ($r bit/s)" \
		"$off" $((mbit * 1000000)) "$r" bit "$out" "$burst"; then
		RATE_RETRY=1 udp_over "$mbit"
		return
	fi
	within 0.5 $((rx1 - rx0)) "$cb"
	ktap_result "UDP: the receiver got what the policer admitted" $?
	# (the description is expanded before $?: no command in it)
	hs=$(hold_str "$(jq -c .totals <<< "$j")")
	[ "$held" -gt 0 ] && [ "$ovl" -gt 0 ] && [ "$mh" -gt 0 ] &&
		[ "$mh" -le "$LAT_NS" ] && [ "$bl" -eq 0 ] &&
		[ "$(ident_of "$j" .totals '.queues[]?')" = true ]
	ktap_result "UDP: held, the rest over the limit, max_hold_ns <= latency ($mh), held = released + flushed + backlog ($hs)" $?
}
section "UDP at 3 x ${MID}mbit"
udp_over "$MID"

# ---------------------------- (5) the host tap's send buffer -------------

# fwd_restart [VMTAP FORWARD OPTIONS]: the forwarder again, as sg_setup
# starts it, with more options
fwd_restart()
{
	sg_stop
	"$VMTAP_FORWARD" --guest-tap "$SG_GDEV" --host-tap "$SG_HDEV" \
		--guest-netns "$GNS" --host-netns "$HNS" --queues "$SG_NQ" \
		--up --cpus 0-$(($(nproc) - 1)) "$@" > "$SG_FWD_LOG" 2>&1 &
	SG_FWD_PID=$!
	busywait 10000 grep -q "forward ready" "$SG_FWD_LOG" >/dev/null
}

# The host tap's send buffer.  tun lets the forwarder (vhost-net) write
# a frame while what the tap has charged is under the send buffer, and
# a held packet keeps its charge: up to SNDBUF plus one frame is held.
# A frame arriving then is admitted whole only if what is held and the
# frame fit the policer's budget, rate x latency (20000 bytes at 32mbit
# and 5ms); a guest's TCP frame is a GSO train of up to TRAIN_MAX bytes.
#
# With SNDBUF 10000 at 32mbit and 5ms, as this test had it (218 -> 36
# once; with the module's current holding 162 -> 38 and three more 8 s
# runs 3.4-4.1x, all on 6.12), the run with a send buffer did not lose
# at its start (before TCP adapts) but all along: per second
# of 8-second runs 4-21 retransmits against 21-32 without the buffer
# (and 56-215 in the first second there), the policer dropping the tails
# of the frames that did not fit (the forwarder's frames averaged 9.5 KB
# there, many above the 10000 bytes left).  Backpressure keeps the guest
# from losing packets only where the budget holds the send buffer and a
# frame; the retransmits fall 3-4x elsewhere, which is no test of it.
# So the runs here (both TCP runs, so they compare, and the UDP run) take
# a latency whose budget holds SNDBUF + TRAIN_MAX with a quarter to
# spare; the 10x criterion stays, over the whole run.  (At the debug
# kernel's 2mbit, 5ms is 1250 bytes, less than the send buffer: its UDP
# run lost 64 % at the policer with 5ms.)
#
# With that budget one TCP stream without the buffer lost little: 8-97
# retransmits in 5 s (make check and experiments of 2026-11-30, 6.1 and
# 6.12), too few to show a tenfold fall every time.  Four streams, as a
# guest with several connections sends, lost 184 and 192 without the
# buffer and 10 and 2 with it (0 bytes at the policer; the few
# retransmits left are the simulated guest's own tap, which drops when
# the forwarder waits instead of stopping its queue as virtio-net does).
# Both TCP runs use four streams.
SNDBUF=10000
LAT_BP_MS=$(((SNDBUF + TRAIN_MAX) * 5 / 4 * 8 / (MID * 1000) + 1))

# iperf3_steps JSON KEY: the sender's per-second KEY ("retransmits";
# "snd_cwnd" and "rtt" of the stream), space separated
iperf3_steps()
{
	case $2 in
	retransmits) jq -r '[.intervals[]?.sum.retransmits // 0 | tostring] | join(" ")' "$1" ;;
	*) jq -r --arg k "$2" '[.intervals[]?.streams[0][$k] // 0 | tostring] | join(" ")' "$1" ;;
	esac
}

# iperf3_retr_from JSON SECS: the sender's retransmits in the intervals
# that start at SECS or later
iperf3_retr_from()
{
	jq -r --argjson s "$2" '[.intervals[]?.sum | select(.start >= $s - 0.05) |
		.retransmits // 0] | add // 0' "$1"
}

bp_tcp()
{
	local what=$1 out=$VMP_TMP/tcp.bp.$1 j ex seen retr

	police_guest rate "${MID}mbit" burst 64kb latency "${LAT_BP_MS}ms" drop
	TCP_SECS=$BP_SECS tcp_run iperf3 "$out" -P 4
	j=$(vmp "$HNS" 1)
	read -r ex seen <<< "$(tot "$j" exceeded_bytes bytes)"
	read -r _ retr _ _ <<< "$(iperf3_info "$out")"
	BP_RETR_STEADY=$(iperf3_retr_from "$out" "$BP_SKIP")
	ktap_print "TCP ${MID}mbit latency ${LAT_BP_MS}ms 4 streams $what: exceeded $ex of $seen bytes, $retr" \
		"retransmits ($BP_RETR_STEADY from ${BP_SKIP} s on)," \
		"$(bps_of "$W_BYTES" "$W_IN") bit/s L2;" \
		"per second: retransmits $(iperf3_steps "$out" retransmits)," \
		"cwnd $(iperf3_steps "$out" snd_cwnd), rtt us $(iperf3_steps "$out" rtt)"
	BP_EX=$ex BP_SEEN=$seen BP_RETR=$retr
}

BP_SKIP=${BP_SKIP:-2}
# the debug guest's four streams barely outran 2mbit in 10 s (4 and 15
# retransmits without the buffer): 20 s there
BP_SECS=$((DEBUG ? 20 : TCP_SECS))
section "send buffer"
bp_tcp "sndbuf unlimited"
base_retr=$BP_RETR
fwd_restart --sndbuf "$SNDBUF"
bp_tcp "sndbuf $SNDBUF"
((BP_EX * 100 < BP_SEEN))
ktap_result "sndbuf $SNDBUF, latency ${LAT_BP_MS}ms: TCP loses < 1% at the policer ($BP_EX of $BP_SEEN bytes)" $?
# The comparison needs TCP that outruns the rate without the buffer: at
# least 20 retransmits there (the stock kernels' four streams lost
# 184-192; the debug guest's TCP barely outruns 2mbit: 15 and 5 with
# the buffer, make vmtest of 2026-11-30).  Under 20 a tenfold fall
# cannot be shown: said so as a skip, never passed; the loss at the
# policer above is judged in every run.
if [ "$base_retr" -lt 20 ]; then
	ktap_skip "sndbuf $SNDBUF, latency ${LAT_BP_MS}ms: TCP retransmits fall >= 10x" \
		"TCP lost too little without the buffer ($base_retr retransmits, $BP_RETR with it): a tenfold fall cannot be shown"
else
	((BP_RETR * 10 <= base_retr))
	ktap_result "sndbuf $SNDBUF, latency ${LAT_BP_MS}ms: TCP retransmits fall >= 10x ($base_retr -> $BP_RETR)" $?
fi

police_guest rate "${MID}mbit" burst 64kb latency "${LAT_BP_MS}ms" drop
txd0=$(ip -n "$GNS" -j -s link show eth0 | jq '.[0].stats64.tx.dropped')
out=$("$VMTAP_SEND" --netns "$GNS" --dst 10.9.0.2 --dport 9 --payload 1400 \
	--rate $((MID * 1000000 * 3 / 8 / 1442)) --duration 3 2>&1)
txd1=$(ip -n "$GNS" -j -s link show eth0 | jq '.[0].stats64.tx.dropped')
j=$(vmp "$HNS" 1)
read -r ex seen cb <<< "$(tot "$j" exceeded_bytes bytes conformed_bytes)"
# the guest is done: what its tap still queues goes nowhere (and the
# forwarder writes its report, g2h_waits, when it stops)
sg_stop
ktap_print "UDP at 3x ${MID}mbit, sndbuf $SNDBUF, latency ${LAT_BP_MS}ms: exceeded $ex of $seen bytes" \
	"at the policer; the guest's eth0 dropped $((txd1 - txd0)) frames" \
	"(tun's ring: it drops rather than stop the guest's queue);" \
	"$(grep -o 'g2h_waits=[0-9]*' "$SG_FWD_LOG")"
[ "$seen" -gt 0 ] && ((ex * 100 < seen))
ktap_result "sndbuf $SNDBUF, latency ${LAT_BP_MS}ms: UDP loses < 1% at the policer ($ex of $seen bytes)" $?
sg_unpolice

# ------------------------------------------------- (7) refusals ----------

refusals()
{
	local tc=$1 v=${1##*/}

	[ "$tc" = "$TC_PATCHED" ] && v=patched
	check_fail "$v: latency with conform pipe refused" \
		"latency needs the conform verdict ok" \
		"$tc" -n "$HNS" filter add dev vnet1 ingress pref 9 protocol ip \
		matchall action vmpolice rate 1mbit burst 10k latency "$LAT" \
		conform-exceed drop/pipe
	check_fail "$v: latency with conform continue refused" \
		"latency needs the conform verdict ok" \
		"$tc" -n "$HNS" filter add dev vnet1 ingress pref 9 protocol ip \
		matchall action vmpolice rate 1mbit burst 10k latency "$LAT" \
		conform-exceed drop/continue
	check_fail "$v: latency with conform drop refused" \
		"latency needs the conform verdict ok" \
		"$tc" -n "$HNS" actions add action vmpolice rate 1mbit burst 10k \
		latency "$LAT" conform-exceed drop/drop index 9
	check_fail "$v: latency on an egress filter refused" \
		"latency holds packets at ingress only" \
		"$tc" -n "$HNS" filter add dev vnet1 egress pref 9 protocol ip \
		matchall action vmpolice rate 1mbit burst 10k latency "$LAT" drop
	$tc -n "$HNS" actions add action vmpolice rate 1mbit burst 10k \
		latency "$LAT" drop index 9 >/dev/null 2>&1
	check_fail "$v: an action with latency bound at egress refused" \
		"latency holds packets at ingress only" \
		"$tc" -n "$HNS" filter add dev vnet1 egress pref 9 protocol ip \
		matchall action vmpolice index 9
	$tc -n "$HNS" actions del action vmpolice index 9 >/dev/null 2>&1
	check_fail "$v: latency above 10 s refused (action)" \
		"10 ?s" \
		"$tc" -n "$HNS" actions add action vmpolice rate 1mbit burst 10k \
		latency 10001ms drop index 9
	check_fail "$v: latency above 10 s refused (qdisc)" \
		"10 ?s" \
		"$tc" -n "$HNS" qdisc add dev r0 root vmpolice rate 1mbit \
		burst 10k latency 11s
	check_fail "$v: ecn-threshold above latency refused (action)" \
		"ecn-threshold must not exceed latency" \
		"$tc" -n "$HNS" actions add action vmpolice rate 1mbit burst 10k \
		latency "$LAT" ecn ecn-threshold 6ms drop index 9
	check_fail "$v: ecn-threshold above latency refused (qdisc)" \
		"ecn-threshold must not exceed latency" \
		"$tc" -n "$HNS" qdisc add dev r0 root vmpolice rate 1mbit \
		burst 10k latency "$LAT" ecn ecn-threshold 6ms
}
while read -r t; do
	refusals "$t"
done < <(tc_used)
check "latency 10s exactly is accepted" \
	$TC -n "$HNS" actions add action vmpolice rate 1mbit burst 10k \
	latency 10s drop index 9
$TC -n "$HNS" actions del action vmpolice index 9 >/dev/null 2>&1

# ---------------------------------------------- the qdisc form, TCP ------

setup_ns NQ1 NQ2
setup_veth "$NQ1" q0 10.7.0.1/24 "$NQ2" q1 10.7.0.2/24
ip netns exec "$NQ1" ethtool -K q0 tso off gso off >/dev/null
ip netns exec "$NQ2" sleep 100000 &
NQ2_PID=$!
defer kill "$NQ2_PID"
ip netns exec "$NQ1" ping -q -c 1 -W 2 10.7.0.2 >/dev/null

# qd [DEV]: the root vmpolice qdisc of DEV (q0) in NQ1, with counters:
# .xstats the totals, .options.queues[] each queue
qd() { $TC -n "$NQ1" -s -j qdisc show dev "${1:-q0}" | jq -c '.[] | select(.root == true)'; }

section "the qdisc form"
$TC -n "$NQ1" qdisc add dev q0 root handle 1: vmpolice rate "${MID}mbit" \
	burst 64kb latency "$LAT" ecn ecn-threshold 2ms
check_eq "qdisc options in JSON: latency, ecn, ecn_threshold" \
	"$LAT_NS true 2000000" \
	"$(qd | jq -r '.options | "\(.latency) \(.ecn) \(.ecn_threshold)"')"
$TC -n "$NQ1" qdisc replace dev q0 root handle 1: vmpolice \
	rate "${MID}mbit" burst 64kb latency "$TCP_LAT"
ip netns exec "$NQ2" iperf3 -s -1 -B 10.7.0.2 >/dev/null 2>&1 &
spid=$!
busywait 5000 _listening "$NQ2" 5201 >/dev/null
t0=${EPOCHREALTIME/./}
ip netns exec "$NQ1" iperf3 -J -c 10.7.0.2 -t "$TCP_SECS" \
	> "$VMP_TMP/qd.json" 2>&1 &
cpid=$!
window "$NQ2_PID" q1 "$cpid"
wait "$cpid"
wait "$spid" 2>/dev/null
sleep 0.1
j=$(qd)
read -r held bl mh ex fl <<< "$(jq -r '.xstats | "\(.held) \(.backlog) \(.max_hold_ns) \(.exceeded) \(.flushed)"' <<< "$j")"
ktap_print "qdisc TCP ${MID}mbit: receiver $(bps_of "$W_BYTES" "$W_IN") bit/s" \
	"L2 over $((W_IN / 1000)) ms; exceeded $ex max_hold $mh ns," \
	"$(hold_str "$(jq -c .xstats <<< "$j")"), qlen $(jq -r .qlen <<< "$j")," \
	"$(jq -r '.end.sum_sent.retransmits' "$VMP_TMP/qd.json") retransmits"
# q0 sends no GSO (offloads off): every train is one frame.  (The
# description is expanded before $?: a command in it made this case
# pass whatever the rate.)
w_bps=$(bps_of "$W_BYTES" "$W_IN")
rate_ok "$MID" "$W_BYTES" "$W_IN" "$W_OUT" "$BURST"
ktap_result "qdisc, TCP at ${MID}mbit, 64kb, latency $TCP_LAT: L2 rate within ${TCP_TOL_PCT}% below ($w_bps bit/s)" $?
# nothing tore it down and the child (a pfifo of 1000) refused nothing
[ "$held" -gt 0 ] && [ "$mh" -le "$TCP_LAT_NS" ] && [ "$bl" -eq 0 ] &&
	[ "$fl" -eq 0 ] && [ "$(ident_of "$j" .xstats)" = true ]
ktap_result "qdisc: held = released + flushed + backlog, all released, none longer than $TCP_LAT ($mh ns)" $?

# ------------------------------------- (6) teardown while packets held ---

# hold_traffic SECS: UDP into vnet1 at 40 frames/s, twice what 100kbit
# admits, in the background (HOLD_PID)
hold_traffic()
{
	"$VMTAP_INJECT" --dev vnet1 --netns "$HNS" --queues 2 \
		--queues-used 0,1 --rate 40 --duration "$1" --proto udp \
		--src 10.8.0.2 --dst 10.9.0.2 --dport 9 --payload 1000 \
		>/dev/null 2>&1 &
	HOLD_PID=$!
}

# inject_q0 COUNT RATE DPORT: COUNT UDP frames of 1000 bytes into vnet1's
# queue 0, RATE frames/s (0: at once), to the receiver's port DPORT
inject_q0()
{
	local rate=()

	[ "$2" = 0 ] || rate=(--rate "$2")
	"$VMTAP_INJECT" --dev vnet1 --netns "$HNS" --queues 2 --queue 0 \
		--count "$1" "${rate[@]}" --proto udp --src 10.8.0.2 \
		--dst 10.9.0.2 --dport "$3" --payload 1000 >/dev/null 2>&1
}

# backlog_of NS INDEX: "backlog flushed" of an action
backlog_of() { tot "$(vmp "$1" "$2")" backlog flushed; }

# wait_backlog NS INDEX: until the action holds something (5 s)
wait_backlog()
{
	local bl i

	for ((i = 0; i < 25; i++)); do
		read -r bl _ <<< "$(backlog_of "$1" "$2")"
		[ "${bl:-0}" -gt 0 ] 2>/dev/null && return 0
		sleep 0.2
	done
	return 1
}

section "teardown while packets are held"
# change with a shorter latency: what would wait longer is flushed
police_tap 3 rate 100kbit burst 2k latency 2s drop
# (killed after the change: on the debug kernel the tc and jq calls
# before it took longer than a 6 s stream, and all had left by then)
hold_traffic 30
wait_backlog "$HNS" 3
bl0=$(backlog_of "$HNS" 3)
check "action change to a shorter latency while packets are held" \
	$TC -n "$HNS" actions change action vmpolice rate 100kbit burst 2k \
	latency 20ms drop index 3
read -r bl fl <<< "$(backlog_of "$HNS" 3)"
ktap_print "held before: ${bl0% *}; after the change: backlog $bl flushed $fl"
[ "${bl0% *}" -gt 0 ] && [ "$fl" -gt 0 ] && [ "$bl" -le 2 ]
ktap_result "change to a shorter latency: held packets flushed ($fl), backlog $bl" $?
kill "$HOLD_PID" 2>/dev/null
wait "$HOLD_PID" 2>/dev/null
# at rest: nothing arrives, what is left is due within 20 ms
sleep 0.1
j=$(vmp "$HNS" 3)
ktap_print "at rest: $(hold_str "$(jq -c .totals <<< "$j")")"
[ "$(ident_of "$j" .totals '.queues[]?')" = true ] &&
	[ "$(jq -r .totals.flushed <<< "$j")" -gt 0 ]
ktap_result "action at rest after the change: held = released + flushed + backlog (totals and each queue)" $?
# what was flushed never left: the buckets gave its time back, so
# traffic at a quarter of the rate passes (it was all exceeded while the
# flushed packets' reservations, up to 10 s, stayed)
police_tap 3 rate 50kbit burst 2k latency 10s drop
inject_q0 60 200 9
$TC -n "$HNS" actions change action vmpolice rate 50kbit burst 2k \
	latency 20ms drop index 3
sleep 0.1
read -r ex0 <<< "$(tot "$(vmp "$HNS" 3)" exceeded)"
rx0=$(rx_bytes "$NSR_PID" r1)
inject_q0 3 1.5 9
sleep 0.2
rx1=$(rx_bytes "$NSR_PID" r1)
read -r ex1 <<< "$(tot "$(vmp "$HNS" 3)" exceeded)"
ktap_print "after the flush, 3 frames at a quarter of the rate: exceeded" \
	"+$((ex1 - ex0)), receiver +$((rx1 - rx0)) bytes"
[ $((ex1 - ex0)) -eq 0 ] && [ $((rx1 - rx0)) -ge $((3 * 1042)) ]
ktap_result "action: traffic under the rate passes right after a change flushed what was held" $?

# release order is arrival order within a queue: after a rate increase
# a packet that conforms at once waits behind what its queue holds
police_tap 3 rate 20kbit burst 2k latency 10s drop
inject_q0 30 200 9
$TC -n "$HNS" actions change action vmpolice rate 1gbit burst 2k \
	latency 10s drop index 3
read -r h0 bl0 <<< "$(tot "$(vmp "$HNS" 3)" held backlog)"
inject_q0 1 0 10
read -r h1 bl1 <<< "$(tot "$(vmp "$HNS" 3)" held backlog)"
ktap_print "queue 0 held $bl0 older packets; the new one: held +$((h1 - h0))," \
	"backlog after it $bl1"
[ "$bl0" -gt 0 ] && [ $((h1 - h0)) -eq 1 ]
ktap_result "action: a packet that conforms at once waits behind what its queue holds" $?

# an action bound at egress takes no latency, by a change either
$TC -n "$HNS" qdisc add dev vnet1 clsact 2>/dev/null
$TC -n "$HNS" filter add dev vnet1 egress pref 1 protocol ip matchall \
	action vmpolice rate 1mbit burst 10k drop index 7
check_fail "an action bound at egress refuses a change to a latency" \
	"bound in an egress filter" \
	$TC -n "$HNS" actions change action vmpolice rate 1mbit burst 10k \
	latency 5ms drop index 7
$TC -n "$HNS" filter del dev vnet1 egress
action_del "$HNS" 7

# action deleted with its filter: what it held is dropped, not sent
police_tap 3 rate 100kbit burst 2k latency 2s drop
hold_traffic 2
wait_backlog "$HNS" 3
ok=$?
wait "$HOLD_PID" 2>/dev/null
$TC -n "$HNS" filter del dev vnet1 ingress
action_del "$HNS" 3
ok=$((ok + $?))
rx0=$(rx_bytes "$NSR_PID" r1)
sleep 2.2
rx1=$(rx_bytes "$NSR_PID" r1)
ktap_print "after the delete the receiver got $((rx1 - rx0)) bytes"
[ "$ok" -eq 0 ] && [ $((rx1 - rx0)) -lt 1042 ]
ktap_result "action deleted while holding: nothing it held is sent afterwards" $?

# device deleted: an action made on its own survives it and says so
ip -n "$HNS" tuntap add dev vnet2 mode tap multi_queue vnet_hdr
ip -n "$HNS" addr add 10.6.0.1/24 dev vnet2
ip -n "$HNS" link set vnet2 up
$TC -n "$HNS" qdisc add dev vnet2 ingress
# (10kbit and 10s: what is held waits seconds, longer than the reads
# before the delete take on the debug kernel; with 100kbit and 2s all
# had left by then once)
$TC -n "$HNS" actions add action vmpolice rate 10kbit burst 2k latency 10s \
	drop index 4
$TC -n "$HNS" filter add dev vnet2 parent ffff: protocol ip matchall \
	action vmpolice index 4
"$VMTAP_INJECT" --dev vnet2 --netns "$HNS" --queues 2 --queues-used 0,1 \
	--count 40 --rate 200 --proto udp --src 10.6.0.2 --dst 10.9.0.2 \
	--dport 9 --payload 1000 >/dev/null 2>&1
read -r bl0 _ <<< "$(backlog_of "$HNS" 4)"
check "tap deleted while its policer holds packets" \
	ip -n "$HNS" link del vnet2
j=$(vmp "$HNS" 4)
read -r bl fl <<< "$(tot "$j" backlog flushed)"
ktap_print "held before: $bl0; after the device went: backlog $bl flushed $fl;" \
	"$(hold_str "$(jq -c .totals <<< "$j")")"
[ "$bl0" -gt 0 ] && [ "$fl" -gt 0 ] && [ "$bl" -eq 0 ] &&
	[ "$(ident_of "$j" .totals '.queues[]?')" = true ]
ktap_result "device deleted: its held packets flushed ($fl), backlog 0, held = released + flushed + backlog" $?
action_del "$HNS" 4

# The qdisc keeps what it holds in its own queue: backlog is that
# queue's length (the single form: in the totals only; the multiqueue
# form: each leaf's, per queue, and their sum in the totals), and its
# qlen at rest (its child, a pfifo on a veth, keeps nothing).

# a multiqueue veth for the qdisc's multiqueue form (a leaf per TX queue)
ip link add m0 netns "$NQ1" numtxqueues 2 numrxqueues 2 type veth \
	peer name m1 netns "$NQ2" numtxqueues 2 numrxqueues 2
ip -n "$NQ1" addr add 10.3.0.1/24 dev m0
ip -n "$NQ2" addr add 10.3.0.2/24 dev m1
ip -n "$NQ1" link set m0 up
ip -n "$NQ2" link set m1 up
ip netns exec "$NQ1" ethtool -K m0 tso off gso off >/dev/null
ip netns exec "$NQ1" ping -q -c 1 -W 2 10.3.0.2 >/dev/null

# qd_hold DEV DST: a fresh vmpolice qdisc at DEV's root (20kbit burst 2k
# latency 10s) holding packets: 40 UDP frames to DST within 0.2 s, about
# 24 held (2500 bytes/s for 10 s), the rest refused.  One leaves every
# 0.42 s: under TCG a tc command takes 0.4-2 s, and a budget of 2 s had
# let them all go before the change meant to flush them.
QD_HOLD="rate 20kbit burst 2k"
qd_hold()
{
	$TC -n "$NQ1" qdisc del dev "$1" root 2>/dev/null
	$TC -n "$NQ1" qdisc add dev "$1" root handle 1: vmpolice $QD_HOLD \
		latency 10s
	"$VMTAP_SEND" --netns "$NQ1" --dst "$2" --dport 9 --payload 1000 \
		--count 40 --rate 200 >/dev/null 2>&1
}

# qd_backlog_ok JSON FORM: the counter of what is held is the qdisc's
# queue length (qlen, read in the same dump); in the multiqueue form the
# queues' (each leaf's) add up to it
qd_backlog_ok()
{
	jq -e --arg form "$2" '.qlen > 0 and .xstats.backlog == .qlen and
		($form == "single" or
		 ([.options.queues[]?.backlog] | add) == .xstats.backlog)' \
		<<< "$1" >/dev/null
}

# qd_after DEV DST DESC: what was flushed never left, so the buckets gave
# its time back: 2 frames at a quarter of the rate are neither refused
# nor held (with the reservations of up to 10 s left behind, they were)
qd_after()
{
	local j0 j1

	j0=$(qd "$1")
	"$VMTAP_SEND" --netns "$NQ1" --dst "$2" --dport 9 --payload 1000 \
		--count 2 --rate 1 >/dev/null 2>&1
	sleep 0.2
	j1=$(qd "$1")
	ktap_print "2 frames at a quarter of the rate: exceeded +$(($(jq .xstats.exceeded <<< "$j1") - $(jq .xstats.exceeded <<< "$j0")))," \
		"held +$(($(jq .xstats.held <<< "$j1") - $(jq .xstats.held <<< "$j0")))"
	jq -e -n --argjson a "$j0" --argjson b "$j1" \
		'$b.xstats.exceeded == $a.xstats.exceeded and
		 $b.xstats.held == $a.xstats.held' >/dev/null
	ktap_result "$3" $?
}

# qd_forms DEV DST FORM: the counters of holding while packets are held,
# after a change to a shorter latency and after a reset (link down)
qd_forms()
{
	local dev=$1 dst=$2 form=$3 j bl0 q=.options.queues[]? rel0 fl bl

	qd_hold "$dev" "$dst"
	j=$(qd "$dev")
	# a release between the two reads of one dump: read once more
	qd_backlog_ok "$j" "$form" || j=$(qd "$dev")
	ktap_print "$form qdisc holding: qlen $(jq -r .qlen <<< "$j")," \
		"$(hold_str "$(jq -c .xstats <<< "$j")"), per queue backlog" \
		"$(jq -r '[.options.queues[]? | "\(.queue):\(.backlog)"] | join(" ")' <<< "$j")"
	qd_backlog_ok "$j" "$form"
	ktap_result "$form qdisc: backlog counts what it holds in its own queue (its qlen; the queues add up)" $?

	bl0=$(jq -r .xstats.backlog <<< "$j")
	check "$form qdisc: change to a shorter latency while it holds ($bl0)" \
		$TC -n "$NQ1" qdisc change dev "$dev" root handle 1: vmpolice \
		$QD_HOLD latency 20ms
	# at rest: what is left is due within 20 ms
	sleep 0.1
	j=$(qd "$dev")
	ktap_print "$form qdisc after the change, at rest: $(hold_str "$(jq -c .xstats <<< "$j")")"
	[ "$bl0" -gt 0 ] && [ "$(jq -r .xstats.flushed <<< "$j")" -gt 0 ] &&
		[ "$(jq -r .xstats.backlog <<< "$j")" -eq 0 ] &&
		[ "$(ident_of "$j" .xstats "$q")" = true ]
	ktap_result "$form qdisc: shorter latency flushed what would wait longer; held = released + flushed + backlog" $?
	qd_after "$dev" "$dst" "$form qdisc: traffic under the rate passes right after a change flushed what was held"

	qd_hold "$dev" "$dst"
	bl0=$(qd "$dev" | jq -r .xstats.backlog)
	check "$form qdisc: link down (qdisc reset) while it holds ($bl0)" \
		ip -n "$NQ1" link set "$dev" down
	j=$(qd "$dev")
	ktap_print "$form qdisc after the reset: qlen $(jq -r .qlen <<< "$j")," \
		"$(hold_str "$(jq -c .xstats <<< "$j")")"
	# (flushed: what it held at the reset, after some left meanwhile)
	[ "$bl0" -gt 0 ] && [ "$(jq -r .xstats.flushed <<< "$j")" -gt 0 ] &&
		[ "$(jq -r .xstats.backlog <<< "$j")" -eq 0 ] &&
		[ "$(jq -r .qlen <<< "$j")" -eq 0 ] &&
		[ "$(ident_of "$j" .xstats "$q")" = true ]
	ktap_result "$form qdisc: reset flushed what it held, backlog 0, held = released + flushed + backlog" $?
	ip -n "$NQ1" link set "$dev" up
	qd_after "$dev" "$dst" "$form qdisc: traffic under the rate passes right after a reset dropped what was held"
	[ "$form" = single ] || return 0

	# a child that refuses what comes due: held packets it refuses are
	# flushed, the rest stay held in the qdisc's own queue (then a
	# shorter latency flushes them: at rest, nothing was released after
	# the child came)
	qd_hold "$dev" "$dst"
	check "$form qdisc: its child replaced by one that refuses all (pfifo limit 0) while it holds" \
		$TC -n "$NQ1" qdisc replace dev "$dev" parent 1:1 pfifo limit 0
	rel0=$(qd "$dev" | jq -r .xstats.released)
	sleep 1
	j=$(qd "$dev")
	ktap_print "$form qdisc, its child refusing for 1 s: $(hold_str "$(jq -c .xstats <<< "$j")")"
	fl=$(jq -r .xstats.flushed <<< "$j")
	bl=$(jq -r .xstats.backlog <<< "$j")
	$TC -n "$NQ1" qdisc change dev "$dev" root handle 1: vmpolice \
		$QD_HOLD latency 20ms
	sleep 0.1
	j=$(qd "$dev")
	ktap_print "... then latency 20ms, at rest: $(hold_str "$(jq -c .xstats <<< "$j")")"
	[ "$fl" -gt 0 ] && [ "$bl" -gt 0 ] &&
		[ "$(jq -r .xstats.released <<< "$j")" -eq "$rel0" ] &&
		[ "$(jq -r .xstats.backlog <<< "$j")" -eq 0 ] &&
		[ "$(ident_of "$j" .xstats "$q")" = true ]
	ktap_result "$form qdisc: what the child refused is flushed, the rest stays held; held = released + flushed + backlog" $?
}
section "the qdisc's holding counters"
qd_forms q0 10.7.0.2 single
qd_forms m0 10.3.0.2 multiqueue
ip -n "$NQ1" link del m0
busywait 5000 ip netns exec "$NQ1" ping -q -c 1 -W 1 10.7.0.2 >/dev/null

# the qdisc deleted, then its device deleted, while holding
qd_hold q0 10.7.0.2
bl0=$(qd | jq -r .xstats.backlog)
check "qdisc deleted while it holds packets ($bl0)" \
	$TC -n "$NQ1" qdisc del dev q0 root
# (a packet that came due during the delete went before it)
rx0=$(rx_bytes "$NQ2_PID" q1)
sleep 2.2
rx1=$(rx_bytes "$NQ2_PID" q1)
ktap_print "qdisc held $bl0; after its delete the receiver got" \
	"$((rx1 - rx0)) bytes"
[ "$bl0" -gt 0 ] && [ $((rx1 - rx0)) -lt 1042 ]
ktap_result "qdisc deleted while holding: nothing it held is sent afterwards" $?
qd_hold q0 10.7.0.2
bl0=$(qd | jq -r .xstats.backlog)
check "veth deleted while its vmpolice qdisc holds packets ($bl0)" \
	ip -n "$NQ1" link del q0

# a namespace deleted with an action and a qdisc holding packets
refs0=$(mod_refcnt vmpolice)
setup_ns NSX
ip -n "$NSX" tuntap add dev vnetx mode tap multi_queue vnet_hdr
ip -n "$NSX" addr add 10.5.0.1/24 dev vnetx
ip -n "$NSX" link set vnetx up
$TC -n "$NSX" qdisc add dev vnetx clsact
$TC -n "$NSX" filter add dev vnetx ingress pref 1 protocol ip matchall \
	action vmpolice rate 100kbit burst 2k latency 2s drop
setup_veth "$NSX" x0 10.4.0.1/24 "$NSR" x1 10.4.0.2/24
$TC -n "$NSX" qdisc add dev x0 root vmpolice rate 100kbit burst 2k latency 2s
"$VMTAP_INJECT" --dev vnetx --netns "$NSX" --queues 2 --queues-used 0,1 \
	--count 40 --rate 200 --proto udp --src 10.5.0.2 --dst 10.5.0.1 \
	--dport 9 --payload 1000 >/dev/null 2>&1
"$VMTAP_SEND" --netns "$NSX" --dst 10.4.0.2 --dport 9 --payload 1000 \
	--count 40 --rate 200 >/dev/null 2>&1
a=$($TC -n "$NSX" -s -j filter show dev vnetx ingress |
	jq -r '[.. | objects | select(.kind? == "vmpolice")][0].totals.backlog')
q=$($TC -n "$NSX" -s -j qdisc show dev x0 |
	jq -r '.[] | select(.root == true) | .xstats.backlog')
ktap_print "namespace: action holds $a, qdisc holds $q packets; module refs $refs0 before"
check "namespace deleted while an action and a qdisc hold packets" \
	ip netns del "$NSX"
refs_le() { [ "$(mod_refcnt vmpolice)" -le "$1" ]; }
busywait 10000 refs_le "$refs0" >/dev/null
ktap_result "namespace deleted: its action and qdisc are gone (module refs back to $refs0)" $?

# module unload right after its last users went, packets still held
police_tap 3 rate 100kbit burst 2k latency 2s drop
"$VMTAP_INJECT" --dev vnet1 --netns "$HNS" --queues 2 --queues-used 0,1 \
	--count 40 --rate 200 --proto udp --src 10.8.0.2 --dst 10.9.0.2 \
	--dport 9 --payload 1000 >/dev/null 2>&1
read -r bl0 _ <<< "$(backlog_of "$HNS" 3)"
sg_unpolice
$TC -n "$HNS" filter del dev vnet1 ingress
actions_flush "$HNS" vmpolice
check "module unloads right after its users went (they held $bl0)" \
	mod_unload vmpolice

ktap_print "vmpolice_shaping.sh: $(((${EPOCHREALTIME/./} - ${T_START/./}) / 1000000)) s"
ktap_finish
