#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The vmpolice action with real traffic.  Topology:
#
#   NSA a0 --- b0 NSB b1 --- c0 NSC
#   sender     router         receiver
#
# The policer sits on b0's ingress (where a hypervisor polices a guest's
# outbound traffic).  b1 has TSO, GSO and checksum offload off, so every
# GSO packet the policer admits is segmented and checksummed in software
# on its way to NSC, which verifies what it receives: a cut packet with a
# wrong length or pseudo-header checksum shows up there as an error.

source "$(dirname "$(readlink -f "$0")")/lib.sh"

require_root
require_cmd jq ip iperf3 ethtool

ktap_header
ktap_plan 41

TOL_PCT=2

setup_ns NSA NSB NSC
setup_veth "$NSA" a0 10.1.0.1/24 "$NSB" b0 10.1.0.2/24
setup_veth "$NSB" b1 10.2.0.1/24 "$NSC" c0 10.2.0.2/24
for ns in "$NSA" "$NSB" "$NSC"; do
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0
done
ip -n "$NSA" addr add fd01::1/64 dev a0 nodad
ip -n "$NSB" addr add fd01::2/64 dev b0 nodad
ip -n "$NSB" addr add fd02::1/64 dev b1 nodad
ip -n "$NSC" addr add fd02::2/64 dev c0 nodad
ip -n "$NSA" route add default via 10.1.0.2
ip -n "$NSA" -6 route add default via fd01::2
ip -n "$NSC" route add default via 10.2.0.1
ip -n "$NSC" -6 route add default via fd02::1
ip netns exec "$NSB" sysctl -qw net.ipv4.ip_forward=1
ip netns exec "$NSB" sysctl -qw net.ipv6.conf.all.forwarding=1
ip netns exec "$NSB" ethtool -K b1 tso off gso off tx off >/dev/null
$TC -n "$NSB" qdisc add dev b0 clsact
$TC -n "$NSB" qdisc add dev b1 clsact
ip netns exec "$NSC" iperf3 -s -D -p 5201 >/dev/null 2>&1
defer ip netns exec "$NSC" pkill iperf3
# resolve neighbours before anything is counted
ip netns exec "$NSA" ping -q -c 1 -W 2 10.2.0.2 >/dev/null
ip netns exec "$NSA" ping -q -c 1 -W 2 fd02::2 >/dev/null

# stat INDEX KEY: a vmpolice counter (totals) of action INDEX
stat()
{
	$TC -n "$NSB" -j -s actions get action vmpolice index "$1" |
		jq -r "[.. | objects | select(.kind? == \"vmpolice\")][0].totals.$2"
}

act_json() { $TC -n "$NSB" -j -s actions get action vmpolice index "$1"; }
VMP_JQ='[.. | objects | select(.kind? == "vmpolice")][0]'

# police ARGS...: (re)place the matchall policer on b0's ingress, for
# $PROTO (all by default; "ip" where a test counts exact packets and
# IPv6 neighbour discovery must not add to them)
PROTO=all
police()
{
	$TC -n "$NSB" filter del dev b0 ingress 2>/dev/null
	actions_flush "$NSB" vmpolice
	$TC -n "$NSB" filter add dev b0 ingress pref 1 protocol "$PROTO" \
		matchall action vmpolice "$@" index 1
}

c0_rx_bytes()
{
	ip -n "$NSC" -j -s link show c0 | jq -r '.[0].stats64.rx.bytes'
}

csum_errors()
{
	ip netns exec "$NSC" cat /proc/net/snmp /proc/net/snmp6 |
		awk '/^Tcp: [0-9]/ { s += $NF } /^Ip: [0-9]/ { s += $5 }
		     /Tcp6InCsumErrors|Ip6InHdrErrors|Ip6InTruncatedPkts/ { s += $2 }
		     END { print s + 0 }'
}

# --- UDP blast, GSO off and on: the L2 rate the stack took in ---------
# To b0's own address: the policer sees every frame, and what it admits
# costs nothing more (no forwarding, no listener).  Paced at twice the
# rate; see lib.sh for how the rate is derived.  What was admitted is
# what NSB's IPv4 stack took in (ip_rx: the kernel's counters, not
# vmpolice's), what was offered what vmtap sent; vmpolice's own
# conformed bytes must equal the stack's count to the byte.  Only IPv4
# passes the policer (ARP and ND would be counted by one side only).
udp_rate()
{
	local mbit=$1 gso=$2 what args burst out rate offered pps cb secs
	local rx0 rx1 wire segs PROTO=ip

	if [ "$gso" = on ]; then
		what="UDP GSO (10 x 1400)"
		args="--payload 14000 --gso-size 1400"
		pps=$((mbit * 1000000 * 2 / 8 / 14462 + 1))
	else
		what="UDP (no GSO)"
		args="--payload 1400"
		pps=$((mbit * 1000000 * 2 / 8 / 1442 + 1))
	fi
	burst=$(burst_for "$mbit")
	police rate "${mbit}mbit" burst "$burst" drop
	rx0=$(ip_rx "$NSB")
	out=$("$VMTAP_SEND" --netns "$NSA" --dst 10.1.0.2 --dport 9 $args \
		--flows 2 --threads --rate "$pps" --duration "$RATE_SECS" \
		--prime-bytes "$burst" 2>&1)
	rx1=$(ip_rx "$NSB")
	read -r wire segs <<< "$(ip4_wire "$rx0" "$rx1")"
	cb=$(act_json 1 | jq -r "$VMP_JQ.totals.conformed_bytes")
	secs=$(vmtap_elapsed "$out")
	rate=$(admitted_rate "$wire" "$burst" "$secs")
	offered=$(vmtap_offered "$out")
	ktap_print "${mbit}mbit $what: $rate bit/s L2 admitted ($wire bytes," \
		"$segs segments taken in by the stack; vmpolice: $cb bytes)," \
		"$offered bit/s sent in $secs s" \
		"(longest pause $(vmtap_max_gap_ms "$out") ms)"
	rate_check "$what at ${mbit}mbit: L2 rate within ${TOL_PCT}% ($rate bit/s)" \
		"$offered" $((mbit * 1000000)) "$rate" bit "$out" "$burst" \
		"$what at ${mbit}mbit: vmpolice's conformed bytes are what the stack took in" \
		"$wire" "$cb" ||
		RATE_RETRY=1 udp_rate "$mbit" "$gso"
}

udp_rate 1 off
udp_rate 2 off
udp_rate 4 off
udp_rate 8 on
udp_rate 24 on
udp_rate 48 on

# --- TCP with GSO: per-segment charging, cut packets delivered -------
# At 1mbit TCP's window stays small and its GSO packets are one or two
# segments: a run cut 0 to 5 of them.  An initial window of 64 makes the
# first flight one GSO packet of 64 KiB, which a 32k bucket (full at the
# start) can only cut.
tcp_gso()
{
	local fam=$1 dst=$2 rx0 rx1 cs0 cs1 out pk sg pa cb

	police rate 1mbit burst 32k drop
	rx0=$(c0_rx_bytes)
	cs0=$(csum_errors)
	out=$(ip netns exec "$NSA" iperf3 "-$fam" -c "$dst" -t 5 -J 2>&1)
	sleep 0.5
	rx1=$(c0_rx_bytes)
	cs1=$(csum_errors)
	pk=$(stat 1 packets)
	sg=$(stat 1 segments)
	pa=$(stat 1 partial)
	cb=$(stat 1 conformed_bytes)
	ktap_print "tcp/ipv$fam: packets $pk segments $sg partial $pa" \
		"exceeded $(stat 1 exceeded) malformed $(stat 1 malformed)" \
		"conformed bytes $cb, receiver got $((rx1 - rx0)) L2 bytes" \
		"goodput $(jq -r '.end.sum_received.bits_per_second' <<< "$out") bit/s"
	[ "$sg" -gt "$pk" ]
	ktap_result "TCP/IPv$fam GSO charged per segment ($sg segments in $pk packets)" $?
	[ "$pa" -gt 0 ]
	ktap_result "TCP/IPv$fam GSO partly admitted ($pa packets cut)" $?
	# every admitted byte reaches the receiver (ARP/ND noise allowed)
	within 0.5 "$((rx1 - rx0))" "$cb"
	ktap_result "TCP/IPv$fam every admitted byte reaches the receiver" $?
	check_eq "TCP/IPv$fam no checksum or length errors at the receiver" \
		"$cs0" "$cs1"
}

ip -n "$NSA" route change default via 10.1.0.2 initcwnd 64
ip -n "$NSA" -6 route change default via fd01::2 initcwnd 64
tcp_gso 4 10.2.0.2
tcp_gso 6 fd02::2
ip -n "$NSA" route change default via 10.1.0.2
ip -n "$NSA" -6 route change default via fd01::2

# --- packet rate: counts segments ------------------------------------
# gso_rate DESC PPS WANT UNIT BUCKET POLICE_ARGS...: RATE_SECS of
# 10-segment UDP GSO packets at PPS per second through a fresh policer.
# UNIT "segments" takes the segments NSB's IPv4 stack took in, "bit" its
# L2 bits (ip_rx, the kernel's count); less the BUCKET the policer starts
# with, their rate must be within TOL_PCT of WANT.  The offered load is
# what vmtap sent.  vmpolice's conformed segments and bytes must equal
# the stack's count.
gso_rate()
{
	local desc=$1 pps=$2 want=$3 unit=$4 bucket=$5 all=("$@") out secs
	local PROTO=ip mul=8 prime=$5 rx0 rx1 wire segs sent cs cb adm seen

	shift 5
	# (a segment is 1442 wire bytes)
	[ "$unit" = segments ] && mul=1 prime=$((bucket * 1442))
	police "$@" drop
	rx0=$(ip_rx "$NSB")
	out=$("$VMTAP_SEND" --netns "$NSA" --dst 10.1.0.2 --dport 9 \
		--payload 14000 --gso-size 1400 --rate "$pps" \
		--duration "$RATE_SECS" --prime-bytes "$prime" 2>&1)
	rx1=$(ip_rx "$NSB")
	read -r wire segs <<< "$(ip4_wire "$rx0" "$rx1")"
	read -r cs cb <<< "$(act_json 1 |
		jq -r "$VMP_JQ.totals | [.conformed, .conformed_bytes] | @tsv")"
	secs=$(vmtap_elapsed "$out")
	if [ "$unit" = segments ]; then
		adm=$segs sent=$(vmtap_total segs "$out")
	else
		adm=$wire sent=$(vmtap_total wire_bytes "$out")
	fi
	read -r adm seen < <(awk -v s="$secs" -v b="$bucket" -v m="$mul" \
		-v a="$adm" -v o="$sent" \
		'BEGIN { printf "%d %d\n", (a - b) * m / s, o * m / s }')
	ktap_print "$desc: $adm $unit/s admitted ($segs segments, $wire" \
		"bytes taken in by the stack; vmpolice: $cs, $cb)," \
		"$seen $unit/s sent in $secs s"
	rate_check "$desc ($adm $unit/s)" \
		"$seen" "$want" "$adm" "$unit" "$out" "$bucket" \
		"$desc: vmpolice's conformed segments and bytes are what the stack took in" \
		"$segs $wire" "$cs $cb" ||
		RATE_RETRY=1 gso_rate "${all[@]}"
}

# 200 packets/s offer 2000 segments/s
gso_rate "pkts_rate 1000 alone" 200 1000 segments 50 \
	pkts_rate 1000 pkts_burst 50
# both limits, 4000 segments/s offered at 46 Mbit/s: the packet rate binds
# at 100mbit, the byte rate at 8mbit
gso_rate "rate 100mbit with pkts_rate 1000: the packet rate binds" \
	400 1000 segments 50 \
	rate 100mbit burst 256k pkts_rate 1000 pkts_burst 50
gso_rate "rate 8mbit with pkts_rate 100000: the byte rate binds" \
	400 8000000 bit 50000 \
	rate 8mbit burst 50000 pkts_rate 100000 pkts_burst 1000

# --- the per-frame ceiling, as tc_police.sh's mtu test ---------------
PROTO=ip
police rate 10mbit burst 10k mtu 1042 conform-exceed drop/ok
send_udp()
{
	ip netns exec "$NSA" bash -c "for ((i = 0; i < $1; i++)); do
		printf '%*s' $2 '' > /dev/udp/10.2.0.2/9; done"
}
send_udp 10 1001
check_eq "frames of 1043 bytes exceed mtu 1042" 10 "$(stat 1 exceeded)"
send_udp 3 1000
check_eq "frames of 1042 bytes pass mtu 1042" 3 "$(stat 1 conformed)"

# --- one policer shared by index across ingress and egress -----------
$TC -n "$NSB" filter del dev b0 ingress
actions_flush "$NSB" vmpolice
$TC -n "$NSB" actions add action vmpolice rate 100mbit burst 100k \
	conform-exceed drop/ok index 5
$TC -n "$NSB" filter add dev b0 ingress pref 1 protocol ip \
	matchall action vmpolice index 5
$TC -n "$NSB" filter add dev b1 egress pref 1 protocol ip \
	matchall action vmpolice index 5
p0=$(stat 5 packets)
ip netns exec "$NSA" ping -q -c 10 -i 0.05 10.2.0.2 >/dev/null
p1=$(stat 5 packets)
check_eq "shared index counts ingress and egress (10 pings, both ways)" \
	20 "$((p1 - p0))"
check_output "shared action is bound twice" '"bind": ?2|bind 2' \
	$TC -n "$NSB" -j actions get action vmpolice index 5
$TC -n "$NSB" filter del dev b1 egress

# --- a change keeps counters and tokens (udp_frames: see lib.sh) ------
police rate 8kbit burst 200k drop
udp_frames "$NSA" 10.2.0.2 100
c1=$(stat 1 conformed)
check_eq "before change: 100 frames within the burst" 100 "$c1"
$TC -n "$NSB" actions change action vmpolice rate 16kbit burst 200k drop \
	index 1
check_eq "change keeps the counters" 100 "$(stat 1 conformed)"
udp_frames "$NSA" 10.2.0.2 150
c2=$(stat 1 conformed)
e2=$(stat 1 exceeded)
ktap_print "after change: $((c2 - c1)) of 150 frames admitted, $e2 exceeded"
# a refilled bucket (204800 bytes) would have admitted all 150 frames of
# 1042 bytes; the kept one holds what the first 100 left, about 96 of them
[ "$e2" -gt 0 ] && [ $((c2 - c1)) -ge 80 ]
ktap_result "change keeps the tokens (the bucket was not refilled)" $?

# --- verdicts --------------------------------------------------------
police rate 100kbit burst 2k conform-exceed pipe/ok
ip netns exec "$NSA" ping -q -c 5 -i 0.05 -s 1400 10.2.0.2 >/dev/null
ov=$($TC -n "$NSB" -j -s actions get action vmpolice index 1 |
	jq -r '[.. | objects | select(.kind? == "vmpolice")][0].stats.overlimits')
[ "$ov" -gt 0 ] && [ "$(stat 1 partial)" -eq 0 ]
ktap_result "exceed verdict other than drop: overlimits counted, nothing cut" $?
check_output "conform and exceed verdicts shown" "pipe" \
	$TC -n "$NSB" actions get action vmpolice index 1

# --- where police goes, vmpolice goes ------------------------------------
$TC -n "$NSB" filter del dev b0 ingress
actions_flush "$NSB" vmpolice
check "flower filter with a vmpolice action" \
	$TC -n "$NSB" filter add dev b0 ingress pref 2 protocol ip flower \
		ip_proto udp action vmpolice rate 1mbit burst 10k drop index 7
check_output "bare verdict shorthand: drop is the exceed verdict" \
	"conform-exceed drop" \
	$TC -n "$NSB" actions get action vmpolice index 7
check "peakrate without an explicit mtu (the 64 KiB ceiling is the default)" \
	$TC -n "$NSB" actions add action vmpolice rate 1mbit burst 10k \
		peakrate 2mbit drop index 8
check_output "an unknown index is refused by name" "vmpolice|index|not found|No such" \
	bash -c "! $TC -n $NSB actions get action vmpolice index 4242 2>&1"

# goto chain, as police takes it (and, as police, only as the exceed
# verdict): what exceeds goes on to chain 1, whose filter counts and
# drops it; the first ping fits the burst and passes
police rate 8kbit burst 2k conform-exceed goto chain 1 / pass
$TC -n "$NSB" filter add dev b0 ingress chain 1 pref 1 protocol ip \
	matchall action gact drop
ip netns exec "$NSA" ping -q -c 5 -i 0.2 -W 1 -s 1400 10.1.0.2 >/dev/null
ex=$(stat 1 exceeded)
chain1=$($TC -n "$NSB" -j -s filter show dev b0 ingress chain 1 |
	jq '[.. | objects | select(.kind? == "gact")][0].stats.packets')
ktap_print "exceeded $ex, chain 1 saw $chain1, conformed $(stat 1 conformed)"
[ "$ex" -ge 3 ]
ktap_result "goto chain 1 as the exceed verdict: the pings beyond the burst exceed" $?
check_eq "every packet that exceeded went through chain 1" "$ex" "$chain1"

ktap_finish
