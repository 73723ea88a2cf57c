#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The vmpolice qdisc with real traffic, at the sender's egress of a veth:
# the L2 rate read from its counters in both forms (single and
# multiqueue), per-queue classes adding up to the totals, changes and
# deletion under traffic, a TX queue count change on a live device,
# replacing a queue's child, and the module unloading afterwards.

source "$(dirname "$(readlink -f "$0")")/lib.sh"

require_root
require_cmd jq ip iperf3 ethtool

ktap_header
ktap_plan 21

TOL_PCT=2

setup_ns NS1 NS2
# four TX queues on the sender side, so the multiqueue form applies
ip link add s0 netns "$NS1" numtxqueues 4 numrxqueues 4 type veth \
	peer name r0 netns "$NS2" numtxqueues 4 numrxqueues 4
ip -n "$NS1" addr add 10.3.0.1/24 dev s0
ip -n "$NS2" addr add 10.3.0.2/24 dev r0
ip -n "$NS1" link set s0 up
ip -n "$NS2" link set r0 up
ip netns exec "$NS2" iperf3 -s -D -p 5201 >/dev/null 2>&1
ip netns exec "$NS2" iperf3 -s -D -p 5202 >/dev/null 2>&1
defer ip netns exec "$NS2" pkill iperf3
ip netns exec "$NS1" ping -q -c 1 -W 2 10.3.0.2 >/dev/null

now_ns() { date +%s%N; }

# xstat KEY: the qdisc's vmpolice totals (xstats)
xstat()
{
	$TC -n "$NS1" -j -s qdisc show dev s0 |
		jq -r ".[] | select(.root == true) | .xstats.$1"
}

sample()
{
	local t0 v t1

	t0=$(now_ns)
	v=$(xstat "$1")
	t1=$(now_ns)
	echo "$v $(((t0 + t1) / 2))"
}

within()
{
	awk -v p="$1" -v m="$2" -v w="$3" \
		'BEGIN { d = (m - w) / w * 100; if (d < 0) d = -d; exit !(d <= p) }'
}

# rate_of SECONDS: L2 rate (bit/s) of conformed bytes over a window
rate_of()
{
	local s1 s2 b1 b2 t1 t2

	s1=$(sample conformed_bytes)
	sleep "$1"
	s2=$(sample conformed_bytes)
	read -r b1 t1 <<< "$s1"
	read -r b2 t2 <<< "$s2"
	echo $(((b2 - b1) * 8 * 1000000000 / (t2 - t1)))
}

root()
{
	$TC -n "$NS1" qdisc replace dev s0 root handle 1: vmpolice "$@"
}

# single form: the device's queues reduced to one
ip netns exec "$NS1" ethtool -L s0 tx 1 >/dev/null 2>&1 ||
	ktap_print "ethtool -L not supported on veth"

for mbit in 5 20; do
	$TC -n "$NS1" qdisc del dev s0 root 2>/dev/null
	root rate "${mbit}mbit" burst 32k
	ip netns exec "$NS1" iperf3 -u -c 10.3.0.2 -b "$((mbit * 2))M" \
		-l 1400 -t 7 >/dev/null 2>&1 &
	sleep 2
	r=$(rate_of 4)
	wait
	within "$TOL_PCT" "$r" "$((mbit * 1000000))"
	ktap_result "single form, UDP at ${mbit}mbit: L2 rate within ${TOL_PCT}% ($r bit/s)" $?
done

$TC -n "$NS1" qdisc del dev s0 root 2>/dev/null
root rate 30mbit burst 64k
ip netns exec "$NS1" iperf3 -c 10.3.0.2 -t 7 >/dev/null 2>&1 &
sleep 2
r=$(rate_of 4)
wait
ktap_print "TCP with GSO, 30mbit: $r bit/s, partial $(xstat partial)"
[ "$r" -le $((30000000 * (100 + TOL_PCT) / 100)) ] && [ "$r" -gt 15000000 ]
ktap_result "single form, TCP with GSO at 30mbit: never above the rate" $?
[ "$(xstat segments)" -gt "$(xstat packets)" ]
ktap_result "single form: GSO packets charged per segment" $?
check_output "single form: class 1:1 holds the child" "class vmpolice 1:1" \
	$TC -n "$NS1" class show dev s0
check "single form: child replaced by fq_codel" \
	$TC -n "$NS1" qdisc replace dev s0 parent 1:1 fq_codel

# --- multiqueue form -------------------------------------------------
$TC -n "$NS1" qdisc del dev s0 root
ip netns exec "$NS1" ethtool -L s0 tx 4 >/dev/null 2>&1
root rate 40mbit burst 64k
nleaves=$($TC -n "$NS1" -j qdisc show dev s0 |
	jq '[.[] | select(.kind == "vmpolice" and .root != true)] | length')
check_eq "multiqueue form: one leaf per TX queue" 4 "$nleaves"

# two flows from two CPUs, on whichever TX queues they hash to
ip netns exec "$NS1" taskset -c 0 iperf3 -u -c 10.3.0.2 -p 5201 \
	-b 40M -l 1400 -t 8 >/dev/null 2>&1 &
ip netns exec "$NS1" taskset -c 1 iperf3 -u -c 10.3.0.2 -p 5202 \
	-b 40M -l 1400 -t 8 >/dev/null 2>&1 &
sleep 2
r=$(rate_of 4)
wait
within "$TOL_PCT" "$r" 40000000
ktap_result "multiqueue form, 2 flows on 2 CPUs: aggregate within ${TOL_PCT}% ($r bit/s)" $?

# Per-queue state: each leaf's xstats are its TX queue's counters (tc
# 6.1's "class show" has no JSON; the same numbers are in its text).
leaves=$($TC -n "$NS1" -j -s qdisc show dev s0 |
	jq '[.[] | select(.kind == "vmpolice" and .root != true)]')
used=$(jq '[.[] | select(.xstats.packets > 0)] | length' <<< "$leaves")
ktap_print "queues used: $used" \
	"$(jq -c '.[] | [.parent, .xstats.packets, .xstats.conformed]' <<< "$leaves")"
[ "$used" -ge 1 ]
ktap_result "per-queue leaves show per-queue counters" $?
for key in packets conformed conformed_bytes exceeded exceeded_bytes; do
	sum=$(jq "[.[].xstats.$key] | add" <<< "$leaves")
	check_eq "queue $key add up to the qdisc total" "$(xstat "$key")" "$sum"
done
check_output "tc -s class show: one class per queue with its counters" \
	"class vmpolice 1:4 .*" \
	bash -c "$TC -n $NS1 -s class show dev s0 | tr '\n' ' '"

# change under traffic keeps counters; the new rate applies
ip netns exec "$NS1" iperf3 -u -c 10.3.0.2 -b 60M -l 1400 -t 10 \
	>/dev/null 2>&1 &
sleep 2
before=$(xstat packets)
root rate 10mbit burst 64k
sleep 2
r=$(rate_of 4)
wait
[ "$(xstat packets)" -gt "$before" ]
ktap_result "change under traffic keeps the counters" $?
within "$TOL_PCT" "$r" 10000000
ktap_result "new rate applies after change ($r bit/s)" $?

check "a queue's child replaced: stays policed" \
	$TC -n "$NS1" qdisc replace dev s0 parent 1:2 fq_codel
check "TX queue count changed on the live device" \
	ip netns exec "$NS1" ethtool -L s0 tx 2
ip netns exec "$NS1" iperf3 -u -c 10.3.0.2 -b 30M -l 1400 -t 4 \
	>/dev/null 2>&1
check_eq "classes follow the queue count" 2 \
	"$($TC -n "$NS1" class show dev s0 | grep -c '^class vmpolice')"

# delete and re-add under traffic, then unload
ip netns exec "$NS1" iperf3 -u -c 10.3.0.2 -b 30M -l 1400 -t 6 \
	>/dev/null 2>&1 &
sleep 1
$TC -n "$NS1" qdisc del dev s0 root
root rate 20mbit burst 64k
sleep 1
$TC -n "$NS1" qdisc del dev s0 root
wait
check "module unloads after delete" mod_unload vmpolice

ktap_finish
