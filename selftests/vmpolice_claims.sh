#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# What the documentation claims and no other test checked with traffic
# (issue 14, "Claimed and untested"): overhead, mpu and linklayer atm;
# peakrate; the continue, reclassify and pipe exceed verdicts; "tc
# actions replace" and "tc filter replace" keeping tokens and counters;
# the qdisc over IPv6; VLAN-tagged frames; GSO inside VXLAN and GRE
# tunnels; SCTP's own GSO; 64-bit counters past 4 GiB; the qdisc and the
# action
# loaded by their aliases; deleting a namespace and a device while
# traffic flows through held packets and the qdisc.
#
# Every case is judged by an observation the module does not make (the
# receiving stack's UDP counters, the receiver's interface counters, a
# gact counter in a filter of its own) against a count computed here from
# the documented rule, and the module's own counters are then checked
# against that observation.  Most cases send a few frames back to back
# into a bucket of 1kbit that starts full: the bucket then admits exactly
# the frames that fit its burst (1kbit refills 8 bytes in the 64 ms such a
# run may take on the debug guest; every burst leaves half a frame of
# margin), so counts are exact.
#
#   NSA a0 ------ b0 NSB      action on b0's ingress (as on a tap)
#   NS1 s0 ------ r0 NS2      qdisc at s0's egress, IPv4 and IPv6
#   (a0.100/b0.100 and s0.100/r0.100: 802.1Q, where 8021q exists)

source "$(dirname "$(readlink -f "$0")")/lib.sh"

require_root
require_cmd jq ip

ktap_header
# loaded by name here: the last cases unload it and check that tc loads
# it again by its aliases
mod_load vmpolice || ktap_skip_all "cannot load vmpolice"
ktap_plan 42

TOL_PCT=2
RATE_SECS=3

# ----------------------------------------------------------- setup ----

setup_ns NSA NSB NS1 NS2
for ns in "$NSA" "$NSB" "$NS1" "$NS2"; do
	# no router solicitations, no DAD: nothing but our frames where
	# counts are exact (MLD's reports at link up are over long before
	# the IPv6 case, which runs last but two)
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.accept_ra=0 \
		net.ipv6.conf.default.accept_dad=0 \
		net.ipv6.conf.all.accept_dad=0
done
ip netns exec "$NSA" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
ip netns exec "$NSB" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
setup_veth "$NSA" a0 10.1.0.1/24 "$NSB" b0 10.1.0.2/24
setup_veth "$NS1" s0 10.3.0.1/24 "$NS2" r0 10.3.0.2/24
ip -n "$NS1" addr add fd03::1/64 dev s0 nodad
ip -n "$NS2" addr add fd03::2/64 dev r0 nodad

mac() { ip -n "$1" -j link show "$2" | jq -r '.[0].address'; }

# static_neigh NS DEV ADDR PEER_NS PEER_DEV: ADDR (the peer's) resolved
# for good, so no ARP or ND frame is counted
static_neigh()
{
	ip -n "$1" neigh replace "$3" dev "$2" nud permanent \
		lladdr "$(mac "$4" "$5")"
}
static_neigh "$NSA" a0 10.1.0.2 "$NSB" b0
static_neigh "$NSB" b0 10.1.0.1 "$NSA" a0
static_neigh "$NS1" s0 10.3.0.2 "$NS2" r0
static_neigh "$NS2" r0 10.3.0.1 "$NS1" s0
static_neigh "$NS1" s0 fd03::2 "$NS2" r0
static_neigh "$NS2" r0 fd03::1 "$NS1" s0

# 802.1Q devices where the kernel has 8021q (the stock kernels; the debug
# kernel is built without CONFIG_VLAN_8021Q)
VLAN=
# vlan_pair NS1 DEV1 NS2 DEV2 ADDR1 ADDR2: DEV1.100 and DEV2.100
vlan_pair()
{
	ip -n "$1" link add link "$2" name "$2.100" type vlan id 100 &&
		ip -n "$3" link add link "$4" name "$4.100" type vlan id 100 &&
		ip -n "$1" addr add "$5" dev "$2.100" &&
		ip -n "$3" addr add "$6" dev "$4.100" &&
		ip -n "$1" link set "$2.100" up && ip -n "$3" link set "$4.100" up &&
		static_neigh "$1" "$2.100" "${6%/*}" "$3" "$4.100" &&
		static_neigh "$3" "$4.100" "${5%/*}" "$1" "$2.100"
}
if modprobe 8021q 2>/dev/null || [ -d /proc/net/vlan ]; then
	ip netns exec "$NS1" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
	ip netns exec "$NS2" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
	vlan_pair "$NSA" a0 "$NSB" b0 10.5.0.1/24 10.5.0.2/24 &&
		vlan_pair "$NS1" s0 "$NS2" r0 10.6.0.1/24 10.6.0.2/24 &&
		VLAN=1
fi
$TC -n "$NSB" qdisc add dev b0 clsact

# ------------------------------------------------------- observers ----

# udp_seen NS [6]: UDP datagrams the stack of NS took in, to a socket or
# not (InDatagrams + NoPorts + InErrors): what the policer let through
udp_seen()
{
	if [ "${2:-}" = 6 ]; then
		ip netns exec "$1" awk '/^Udp6(InDatagrams|NoPorts|InErrors)[ \t]/ \
			{ s += $2 } END { print s + 0 }' /proc/net/snmp6
	else
		ip netns exec "$1" awk '/^Udp: [0-9]/ { print $2 + $3 + $4 }' \
			/proc/net/snmp
	fi
}

# rx NS DEV: "packets bytes" the interface received
rx()
{
	ip -n "$1" -j -s link show "$2" |
		jq -r '.[0].stats64.rx | "\(.packets) \(.bytes)"'
}

# frame_cost LEN OVERHEAD MPU LINKLAYER: what the policer charges for a
# frame of LEN wire bytes, by the documented rule (Documentation, "What a
# packet costs"): LEN + overhead, at least mpu, for atm whole 48-byte
# cells of 53 bytes
frame_cost()
{
	local c=$(($1 + $2))

	((c < $3)) && c=$3
	((c < 1)) && c=1
	[ "$4" = atm ] && c=$(((c + 47) / 48 * 53))
	echo "$c"
}

# send NS DST PAYLOAD COUNT [vmtap options]: COUNT UDP datagrams back to
# back to DST's discard port (no listener: NoPorts counts them)
send()
{
	local ns=$1 dst=$2 payload=$3 count=$4

	shift 4
	"$VMTAP_SEND" --netns "$ns" --dst "$dst" --dport 9 \
		--payload "$payload" --count "$count" "$@" >/dev/null 2>&1
}

VMP_JQ='[.. | objects | select(.kind? == "vmpolice")][0]'

# act_totals KEYS: the vmpolice action index 1's totals, space-separated
act_totals()
{
	local keys='' k

	for k in $1; do
		keys+="${keys:+, }.$k"
	done
	$TC -n "$NSB" -j -s actions get action vmpolice index 1 |
		jq -r "$VMP_JQ.totals | [$keys] | @tsv"
}

# police PREF_ARGS...: b0's ingress emptied, then a filter added: the
# arguments follow "tc filter add dev b0 ingress"
police()
{
	$TC -n "$NSB" filter del dev b0 ingress 2>/dev/null
	actions_flush "$NSB" vmpolice
	actions_flush "$NSB" gact
	$TC -n "$NSB" filter add dev b0 ingress "$@"
}

# gact_packets PREF [N]: packets the gact action (the Nth action, 0 by
# default) of the filter PREF on b0's ingress counted
gact_packets()
{
	$TC -n "$NSB" -j -s filter show dev b0 ingress pref "$1" |
		jq -r "[.[] | select(.options.actions)][0].options.actions |
			map(select(.kind == \"gact\"))[0].stats.packets"
}

# counted DESC WANT RX FRAME [KEYS VALUES]: the receiver took WANT
# frames (RX); the module's conformed and conformed_bytes agree with it
# (RX frames of FRAME wire bytes each)
counted()
{
	local desc=$1 want=$2 rx=$3 frame=$4 cf cb

	read -r cf cb <<< "$(act_totals "conformed conformed_bytes")"
	ktap_print "$desc: receiver $rx frames (want $want);" \
		"module conformed $cf frames, $cb bytes (want $((rx * frame)))"
	check_eq "$desc: the receiver got $want frames" "$want" "$rx"
	[ "$cf" = "$rx" ] && [ "$cb" = $((rx * frame)) ]
	ktap_result "$desc: the module's counters agree with the receiver" $?
}

# --------------------------------- 1. overhead, mpu, linklayer atm ----
# 64-byte frames (22 bytes of UDP payload) against a bucket of 20.5
# frames at the cost the framing gives them: 20 pass.  Every case is
# chosen so that a policer charging the bare 64 bytes, or applying one
# part of the framing and not another, admits a different number.
framing()
{
	local desc=$1 oh=$2 mpu=$3 ll=$4 c burst u0 u1 args=()

	c=$(frame_cost 64 "$oh" "$mpu" "$ll")
	burst=$((c * 41 / 2))
	[ "$oh" != 0 ] && args+=(overhead "$oh")
	[ "$mpu" != 0 ] && args+=(mpu "$mpu")
	[ "$ll" != ethernet ] && args+=(linklayer "$ll")
	police pref 1 protocol ip matchall action vmpolice rate 1kbit \
		burst "$burst" "${args[@]}" drop index 1
	u0=$(udp_seen "$NSB")
	send "$NSA" 10.1.0.2 22 30
	u1=$(udp_seen "$NSB")
	counted "$desc (${c} bytes a frame, burst $burst)" 20 $((u1 - u0)) 64
}
framing "overhead 24" 24 0 ethernet
framing "mpu 100" 0 100 ethernet
framing "overhead -20 mpu 60" -20 60 ethernet
framing "linklayer atm overhead 40" 40 0 atm

# the same at a rate: 64-byte frames at twice what 200kbit admits of
# them in ATM cells (3 of 53 bytes with overhead 40: 159 bytes); the
# receiver's count x the framed cost, less the burst, over the sender's
# time is the rate
framed_rate()
{
	local c burst u0 u1 out secs r offered seen pkts

	c=$(frame_cost 64 40 0 atm)
	burst=$((c * 20))
	police pref 1 protocol ip matchall action vmpolice rate 200kbit \
		burst "$burst" overhead 40 linklayer atm drop index 1
	u0=$(udp_seen "$NSB")
	out=$("$VMTAP_SEND" --netns "$NSA" --dst 10.1.0.2 --dport 9 \
		--payload 22 --rate $((200000 * 2 / 8 / c)) \
		--duration "$RATE_SECS" --prime-bytes $((burst * 64 / c)) 2>&1)
	u1=$(udp_seen "$NSB")
	read -r seen pkts <<< "$(act_totals "conformed packets")"
	secs=$(vmtap_elapsed "$out")
	r=$(admitted_rate $(((u1 - u0) * c)) "$burst" "$secs")
	offered=$(seen_rate $(($(vmtap_total sent "$out") * c)) "$secs")
	ktap_print "atm at 200kbit: receiver $((u1 - u0)) frames = $r bit/s" \
		"in cells, $offered bit/s offered in $secs s;" \
		"module conformed $seen of $pkts"
	rate_check "64-byte frames at 200kbit in ATM cells: rate within ${TOL_PCT}% ($r bit/s)" \
		"$offered" 200000 "$r" bit "$out" "$burst" \
		"atm rate: the module's conformed agrees with the receiver" \
		$((u1 - u0)) "$seen" ||
		RATE_RETRY=1 framed_rate
}
framed_rate

# -------------------------------------------------------- 2. peakrate -
# rate 100kbit with a burst of 1 MB never binds in 3 s; peakrate 400kbit
# with mtu 16k (a peak bucket of 16 KiB) does: 1042-byte frames offered
# at 800kbit are admitted at 400kbit.  Without the peak bucket all of
# them would pass.
peak_rate()
{
	local u0 u1 out secs r offered pkts cf

	police pref 1 protocol ip matchall action vmpolice rate 100kbit \
		burst 1mb peakrate 400kbit mtu 16k drop index 1
	u0=$(udp_seen "$NSB")
	out=$("$VMTAP_SEND" --netns "$NSA" --dst 10.1.0.2 --dport 9 \
		--payload 1000 --rate 96 --duration "$RATE_SECS" \
		--prime-bytes 16384 2>&1)
	u1=$(udp_seen "$NSB")
	read -r cf pkts <<< "$(act_totals "conformed packets")"
	secs=$(vmtap_elapsed "$out")
	r=$(admitted_rate $(((u1 - u0) * 1042)) 16384 "$secs")
	offered=$(seen_rate $((pkts * 1042)) "$secs")
	ktap_print "peakrate 400kbit: receiver $((u1 - u0)) frames = $r bit/s" \
		"beyond the peak bucket, $offered bit/s offered in $secs s;" \
		"module conformed $cf of $pkts"
	rate_check "peakrate 400kbit binds under rate 100kbit burst 1mb ($r bit/s)" \
		"$offered" 400000 "$r" bit "$out" 16384 \
		"peakrate: the module's conformed agrees with the receiver" \
		$((u1 - u0)) "$cf" ||
		RATE_RETRY=1 peak_rate
}
peak_rate

# ------------------------------------ 3. continue, reclassify, pipe ---
# A bucket of 10.5 frames of 1042 bytes, 30 frames back to back: 10
# conform (the receiver gets them), 20 exceed.
B10=$((1042 * 21 / 2))

# continue: the next filter's gact sees (and drops) what exceeded
police pref 1 protocol ip matchall action vmpolice rate 1kbit burst $B10 \
	conform-exceed continue/ok index 1
$TC -n "$NSB" filter add dev b0 ingress pref 2 protocol ip matchall \
	action gact drop
u0=$(udp_seen "$NSB")
send "$NSA" 10.1.0.2 1000 30
u1=$(udp_seen "$NSB")
g=$(gact_packets 2)
ex=$(act_totals exceeded)
ktap_print "continue: receiver $((u1 - u0)), next filter $g, module exceeded $ex"
check_eq "continue: the next filter sees the 20 frames that exceeded" 20 "$g"
[ $((u1 - u0)) = 10 ] && [ "$ex" = "$g" ]
ktap_result "continue: 10 delivered, the module's exceeded agrees with the next filter" $?

# pipe: the next action of the same filter sees what exceeded
police pref 1 protocol ip matchall action vmpolice rate 1kbit burst $B10 \
	conform-exceed pipe/ok index 1 action gact drop
u0=$(udp_seen "$NSB")
send "$NSA" 10.1.0.2 1000 30
u1=$(udp_seen "$NSB")
g=$(gact_packets 1)
ex=$(act_totals exceeded)
ktap_print "pipe: receiver $((u1 - u0)), next action $g, module exceeded $ex"
check_eq "pipe: the next action sees the 20 frames that exceeded" 20 "$g"
[ $((u1 - u0)) = 10 ] && [ "$ex" = "$g" ]
ktap_result "pipe: 10 delivered, the module's exceeded agrees with the next action" $?

# reclassify: classification starts again at the first filter, whose gact
# (continue) counts every pass.  The bucket stays empty, so a frame that
# exceeded exceeds again on every pass until the kernel ends the loop
# (net/sched/cls_api.c, max_reclassify_loop: 16 restarts, then
# TC_ACT_SHOT): 17 passes for each of the 20, one for each of the 10.
police pref 1 protocol ip matchall action gact continue
$TC -n "$NSB" filter add dev b0 ingress pref 2 protocol ip matchall \
	action vmpolice rate 1kbit burst $B10 conform-exceed reclassify/ok \
	index 1
u0=$(udp_seen "$NSB")
send "$NSA" 10.1.0.2 1000 30
u1=$(udp_seen "$NSB")
g=$(gact_packets 1)
read -r pk cf <<< "$(act_totals "packets conformed")"
ktap_print "reclassify: receiver $((u1 - u0)), first filter's passes $g," \
	"module packets $pk conformed $cf"
check_eq "reclassify: the first filter sees every frame again (10 + 20 x 17 passes)" \
	$((10 + 20 * 17)) "$g"
[ $((u1 - u0)) = 10 ] && [ "$cf" = 10 ] && [ "$pk" = "$g" ]
ktap_result "reclassify: 10 delivered, the module saw every pass" $?

# ------------------------- 4. actions replace, filter replace ---------
# drain the bucket (10 of 15 pass), replace, send 5 more: a kept bucket
# (half a frame left, refilled at 80bit: 10 bytes a second, less than a
# frame in the 52 s the debug guest would need) admits none of them, a
# refilled one all 5
counters_kept()
{
	local desc=$1 cf0=$2 ex0=$3 u0 u1 cf ex

	u0=$(udp_seen "$NSB")
	send "$NSA" 10.1.0.2 1000 5
	u1=$(udp_seen "$NSB")
	read -r cf ex <<< "$(act_totals "conformed exceeded")"
	ktap_print "$desc: 5 more frames, receiver $((u1 - u0));" \
		"conformed $cf0 -> $cf, exceeded $ex0 -> $ex"
	check_eq "$desc: the drained bucket stays drained (receiver got 0 of 5)" \
		0 $((u1 - u0))
	[ "$cf" = "$cf0" ] && [ "$ex" = $((ex0 + 5)) ]
	ktap_result "$desc: the counters go on from where they were" $?
}

police pref 1 handle 1 protocol ip flower action vmpolice rate 80bit \
	burst $B10 drop index 1
u0=$(udp_seen "$NSB")
send "$NSA" 10.1.0.2 1000 15
u1=$(udp_seen "$NSB")
read -r cf ex <<< "$(act_totals "conformed exceeded")"
ktap_print "before replace: receiver $((u1 - u0)), conformed $cf, exceeded $ex"
check_eq "before replace: 10 of 15 frames pass, the module agrees" \
	"10 10 5" "$((u1 - u0)) $cf $ex"
$TC -n "$NSB" actions replace action vmpolice rate 80bit burst $B10 drop \
	index 1
counters_kept "tc actions replace" "$cf" "$ex"
read -r cf ex <<< "$(act_totals "conformed exceeded")"
$TC -n "$NSB" filter replace dev b0 ingress pref 1 handle 1 protocol ip \
	flower action vmpolice rate 80bit burst $B10 drop index 1
counters_kept "tc filter replace" "$cf" "$ex"

# ----------------------------------------------- 6. VLAN, action ------
# 64-byte frames carried in 802.1Q: 68 bytes on the wire.  b0's ingress
# gets them with the tag taken out of the frame into the skb (veth
# offloads it, the core untags what arrives tagged), as a tap's does for
# a guest's tagged frames.  A bucket of 20.5 tagged frames admits 20;
# charged 64 bytes each it would admit 21.
# vlan_case WHERE TOTALS RX_NS SEND_NS DST: 30 64-byte frames over the
# VLAN against a bucket of 20.5 tagged frames; TOTALS reads the policer's
# counters
vlan_case()
{
	local desc="VLAN-tagged frames at the $1: charged with the 4 tag bytes"
	local u0 u1 cf cb

	if [ -z "$VLAN" ]; then
		ktap_skip "$desc" "no 8021q in this kernel"
		return
	fi
	u0=$(udp_seen "$3")
	send "$4" "$5" 22 30
	u1=$(udp_seen "$3")
	read -r cf cb <<< "$($2 "conformed conformed_bytes")"
	ktap_print "VLAN at the $1: receiver $((u1 - u0)) frames (want 20);" \
		"module conformed $cf frames, $cb bytes (want $(((u1 - u0) * 68)))"
	# (21 frames of 64 bytes: the tag the skb carries not charged, as
	# before vmp_mac_bytes() counted it)
	check_eq "$desc" "20 20 $((20 * 68))" "$((u1 - u0)) $cf $cb"
}
[ -n "$VLAN" ] && police pref 1 protocol all matchall action vmpolice \
	rate 1kbit burst $((68 * 41 / 2)) drop index 1
vlan_case action act_totals "$NSB" "$NSA" 10.5.0.2

# ------------------------------------ 7. GSO inside a tunnel ---------
# A guest's UDP GSO packet sent through a VXLAN or GRETAP device: at the
# underlay's egress (a0) the skb is one GSO packet with the tunnel's
# headers outside the inner ones (skb->encapsulation), and a0, told not
# to segment tunnels, has the stack cut it into frames after the hook.
# Each frame carries both header sets: 10 segments of 1000 bytes cost
# 10 x (1042 + OUTER) bytes on the wire, OUTER = 50 for VXLAN (Ethernet,
# IPv4, UDP, VXLAN) and 38 for GRETAP (Ethernet, IPv4, GRE).  A bucket of
# 12.5 such packets admits 12 whole (an encapsulated packet is never
# cut), and b0 receives 120 frames; charged without the outer headers
# (or the inner ones once per packet) it would admit 13 or more.
# tunnel_case KIND OUTER LINK_ARGS...: the tunnel device of KIND (ip link
# arguments LINK_ARGS) between NSA and NSB over a0 -- b0
tunnel_case()
{
	local kind=$1 outer=$2 desc="UDP GSO inside $1: every segment charged with both header sets"
	local seg=$((1042 + $2)) r0 r1 cf cb

	shift 2
	if ! ip -n "$NSA" link add tun0 type "$kind" "$@" local 10.1.0.1 \
		remote 10.1.0.2 2>/dev/null; then
		ktap_skip "$desc" "no $kind in this kernel"
		return
	fi
	ip -n "$NSB" link add tun0 type "$kind" "$@" local 10.1.0.2 \
		remote 10.1.0.1
	ip -n "$NSA" addr add 10.7.0.1/24 dev tun0
	ip -n "$NSB" addr add 10.7.0.2/24 dev tun0
	ip -n "$NSA" link set tun0 up
	ip -n "$NSB" link set tun0 up
	static_neigh "$NSA" tun0 10.7.0.2 "$NSB" tun0
	# and back: b0's side answers (port unreachable) without an ARP
	# request, whose reply would pass a0 (seen on the debug guest)
	static_neigh "$NSB" tun0 10.7.0.1 "$NSA" tun0
	$TC -n "$NSA" qdisc add dev a0 clsact
	$TC -n "$NSA" filter add dev a0 egress pref 1 protocol all matchall \
		action vmpolice rate 1kbit burst $((seg * 125)) drop index 2
	r0=$(rx "$NSB" b0)
	send "$NSA" 10.7.0.2 10000 15 --gso-size 1000
	r1=$(rx "$NSB" b0)
	read -r cf cb <<< "$($TC -n "$NSA" -j -s actions get action vmpolice \
		index 2 | jq -r "$VMP_JQ.totals | [.conformed, .conformed_bytes] | @tsv")"
	ktap_print "$kind: b0 received $((${r1% *} - ${r0% *})) frames," \
		"$((${r1#* } - ${r0#* })) bytes (want 120, $((120 * seg)));" \
		"module conformed $cf segments, $cb bytes"
	check_eq "$desc" "120 $((120 * seg)) 120 $((120 * seg))" \
		"$((${r1% *} - ${r0% *})) $((${r1#* } - ${r0#* })) $cf $cb"
	$TC -n "$NSA" qdisc del dev a0 clsact
	actions_flush "$NSA" vmpolice
	ip -n "$NSA" link del tun0
	ip -n "$NSB" link del tun0
}
# a0 leaves tunnel segmentation to the stack, after its egress hook
ip netns exec "$NSA" ethtool -K a0 tx-udp_tnl-segmentation off \
	tx-udp_tnl-csum-segmentation off tx-gre-segmentation off \
	tx-gre-csum-segmentation off >/dev/null 2>&1
tunnel_case vxlan 50 id 42 dstport 4789
tunnel_case gretap 38

# --------------------------------------------- 8. SCTP GSO -----------
# SCTP builds GSO packets of its own kind (net/sctp/output.c: gso_size
# GSO_BY_FRAGS, each frag_list member one segment of its own length).
# With c0's SCTP segmentation (and TSO, for iperf3's TCP control
# connection) off, the stack cuts every GSO packet into frames after c0's
# egress hook, so d0's received frames and bytes are the wire that passed
# the action.  With a bucket that admits everything, vmpolice's conformed
# segments equal the frames and its bytes are never fewer (exact but for
# trains whose segments differ in length, Documentation "What a packet
# costs"): charged as one frame, an SCTP GSO packet would be
# (segments - 1) headers short.  The action also saw more
# segments than packets (GSO happened), or the case proves nothing.
sctp_case()
{
	local desc="SCTP GSO: every segment charged as the frame the receiver gets"
	local nsc nsd r0 r1 t1 pk sg cf cb srv sent fr by

	if ! modprobe sctp 2>/dev/null && [ ! -d /proc/net/sctp ]; then
		ktap_skip "$desc" "no SCTP in this kernel"
		return
	fi
	# a pair of its own: one address each (an association lists every
	# address of its end), no IPv6, static neighbours
	setup_ns nsc nsd
	for ns in "$nsc" "$nsd"; do
		ip netns exec "$ns" sysctl -qw \
			net.ipv6.conf.default.disable_ipv6=1 \
			net.ipv6.conf.all.disable_ipv6=1
	done
	setup_veth "$nsc" c0 10.9.0.1/24 "$nsd" d0 10.9.0.2/24
	static_neigh "$nsc" c0 10.9.0.2 "$nsd" d0
	static_neigh "$nsd" d0 10.9.0.1 "$nsc" c0
	ip netns exec "$nsc" ethtool -K c0 tx-sctp-segmentation off tso off \
		>/dev/null 2>&1
	$TC -n "$nsc" qdisc add dev c0 clsact
	$TC -n "$nsc" filter add dev c0 egress pref 1 protocol all matchall \
		action vmpolice rate 10gbit burst 64m drop index 3
	ip netns exec "$nsd" iperf3 -s -1 -B 10.9.0.2 >/dev/null 2>&1 &
	srv=$!
	busywait 5000 _iperf3_listening "$nsd" >/dev/null
	r0=$(rx "$nsd" d0)
	sent=$(ip netns exec "$nsc" iperf3 -J -c 10.9.0.2 --sctp -t 2 -b 50M |
		jq -r '.end.sum_sent.bytes // "none"')
	wait "$srv"
	sleep 0.5
	r1=$(rx "$nsd" d0)
	t1=$(ip -n "$nsc" -j -s link show c0 | jq -r '.[0].stats64.tx.dropped')
	read -r pk sg cf cb <<< "$($TC -n "$nsc" -j -s actions get action \
		vmpolice index 3 | jq -r "$VMP_JQ.totals |
		[.packets, .segments, .conformed, .conformed_bytes] | @tsv")"
	ktap_print "SCTP: iperf3 sent ${sent:-?} bytes;" \
		"d0 received $((${r1% *} - ${r0% *})) frames," \
		"$((${r1#* } - ${r0#* })) bytes (c0 dropped ${t1:-?});" \
		"the action saw $pk packets, $sg segments, conformed $cf" \
		"segments, $cb bytes"
	fr=$((${r1% *} - ${r0% *}))
	by=$((${r1#* } - ${r0#* }))
	if [ "${sg:-0}" -le "${pk:-0}" ]; then
		ktap_fail "$desc (no GSO packet came: proves nothing)"
	else
		# segments exact; bytes never less than the wire, more only by
		# the trains whose segments differ in length (charged as the
		# longest: 6.12 measured 0.01 %), at most 1 %
		[ "${cf:-0}" -eq "$fr" ] && [ "${cb:-0}" -ge "$by" ] &&
			[ "${cb:-0}" -le $((by + by / 100)) ]
		ktap_result "$desc" $?
	fi
	cleanup_ns "$nsc" "$nsd"
}
sctp_case

# ---------------------------------- 9. 64-bit counters past 4 GiB ------
# pktgen (net/core/pktgen.c) sends 75008 frames of 60000 bytes (4.19 GiB,
# past 2^32; one page in 15 fragments, no GSO; 64 a burst at ingress,
# which pktgen sends whole) on a dummy device in a
# namespace of its own, twice: into the ingress hook (xmit_mode
# netif_receive; the action, then a gact counter after it (pipe))
# and through the device's root qdisc (xmit_mode queue_xmit; the vmpolice
# qdisc, then the dummy's tx counters).  Everything conforms (a 5 GiB
# burst: pktgen reusing one skb at ingress outruns even 100gbit).  The counts
# must be exact: against pktgen's own count, the gact counter (which at
# ingress counts without the 14-byte MAC header), the dummy's tx bytes.
PG_N=75008
PG_LEN=60000
# pg_run NS MODE: pktgen sends PG_N frames of PG_LEN bytes on NS's pg0
# in xmit MODE; prints how many it sent
pg_run()
{
	local ns=$1 d=pg0

	pktgen_set "$ns" kpktgend_0 rem_device_all &&
		pktgen_set "$ns" kpktgend_0 "add_device $d" &&
		pktgen_set "$ns" "$d" "xmit_mode $2" &&
		pktgen_set "$ns" "$d" "count $PG_N" &&
		pktgen_set "$ns" "$d" "pkt_size $PG_LEN" &&
		pktgen_set "$ns" "$d" "frags 15" &&
		pktgen_set "$ns" "$d" "delay 0" &&
		pktgen_set "$ns" "$d" "dst_mac 90:e2:ba:ff:ff:ff" &&
		pktgen_set "$ns" "$d" "dst_min 198.18.0.42" &&
		pktgen_set "$ns" "$d" "dst_max 198.18.0.42" &&
		{ [ "$2" != netif_receive ] ||
			pktgen_set "$ns" "$d" "burst 64"; } &&
		pktgen_set "$ns" pgctrl start || return 1
	ip netns exec "$ns" sed -n 's/^Result: OK: .* \([0-9][0-9]*\) *(.*/\1/p' \
		"/proc/net/pktgen/$d"
	ip netns exec "$ns" grep '^Result' "/proc/net/pktgen/$d" >&2
}
counters64()
{
	local nsp sent v g t want desc="64-bit counters past 4 GiB"

	if ! modprobe pktgen 2>/dev/null && [ ! -d /proc/net/pktgen ]; then
		ktap_skip "$desc: the action" "no pktgen in this kernel"
		ktap_skip "$desc: the qdisc" "no pktgen in this kernel"
		return
	fi
	setup_ns nsp
	# no IPv6 (MLD, router solicitations): pktgen's frames only
	ip netns exec "$nsp" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 \
		net.ipv6.conf.all.disable_ipv6=1
	ip -n "$nsp" link add pg0 type dummy &&
		ip -n "$nsp" link set pg0 mtu $PG_LEN up &&
		$TC -n "$nsp" qdisc add dev pg0 clsact &&
		$TC -n "$nsp" filter add dev pg0 ingress pref 1 protocol all \
			matchall action vmpolice rate 100gbit burst 5g \
			conform-exceed drop/pipe index 9 \
			action gact drop index 9 || return 1
	sent=$(pg_run "$nsp" netif_receive 2>/dev/null)
	v=$($TC -n "$nsp" -j -s actions get action vmpolice index 9 |
		jq -r "$VMP_JQ.totals | [.packets, .bytes, .conformed,
			.conformed_bytes] | @tsv" | tr '\t' ' ')
	g=$($TC -n "$nsp" -j -s actions get action gact index 9 |
		jq -r '[.. | objects | select(.kind? == "gact")][0].stats |
			"\(.packets) \(.bytes)"')
	want="$PG_N $((PG_N * PG_LEN)) $PG_N $((PG_N * PG_LEN))"
	ktap_print "action: pktgen sent ${sent:-?}; vmpolice packets, bytes," \
		"conformed, conformed_bytes: $v; gact after it: $g"
	check_eq "$desc: the action (against pktgen and a gact counter)" \
		"$PG_N $want $PG_N $((PG_N * (PG_LEN - 14)))" "${sent:-?} $v $g"
	$TC -n "$nsp" qdisc del dev pg0 clsact
	$TC -n "$nsp" qdisc add dev pg0 root vmpolice rate 100gbit burst 5g \
		latency 10ms || return 1
	t=$(ip -n "$nsp" -j -s link show pg0 |
		jq -r '.[0].stats64.tx | "\(.packets) \(.bytes)"')
	sent=$(pg_run "$nsp" queue_xmit 2>/dev/null)
	v=$($TC -n "$nsp" -j -s qdisc show dev pg0 | jq -r '.[] |
		select(.root == true) | [.xstats.packets, .xstats.bytes,
		.xstats.conformed, .xstats.conformed_bytes] | @tsv' | tr '\t' ' ')
	read -r t < <(ip -n "$nsp" -j -s link show pg0 |
		jq -r --arg t0 "$t" '.[0].stats64.tx | ($t0 | split(" ")) as $b |
		"\(.packets - ($b[0] | tonumber)) \(.bytes - ($b[1] | tonumber))"')
	ktap_print "qdisc: pktgen sent ${sent:-?}; vmpolice packets, bytes," \
		"conformed, conformed_bytes: $v; pg0 sent $t more"
	check_eq "$desc: the qdisc (against pktgen and the device's tx)" \
		"$PG_N $want $PG_N $((PG_N * PG_LEN))" "${sent:-?} $v $t"
	cleanup_ns "$nsp"
}
counters64

# ------------------------------------------ the qdisc on s0 -----------

# qd_totals KEYS: the root vmpolice qdisc's totals on s0
qd_totals()
{
	local keys='' k

	for k in $1; do
		keys+="${keys:+, }.xstats.$k"
	done
	$TC -n "$NS1" -j -s qdisc show dev s0 |
		jq -r ".[] | select(.root == true) | [$keys] | @tsv"
}

root()
{
	$TC -n "$NS1" qdisc del dev s0 root 2>/dev/null
	$TC -n "$NS1" qdisc add dev s0 root handle 1: vmpolice "$@"
}

# 6. VLAN through the qdisc: s0.100 hands s0 the frames with their tag in
# the skb (veth takes VLAN offload), and the wire carries it
[ -n "$VLAN" ] && root rate 1kbit burst $((68 * 41 / 2))
vlan_case qdisc qd_totals "$NS2" "$NS1" 10.6.0.2

# ------------------------------------------------ 5. qdisc over IPv6 --
# 1000 bytes of UDP over IPv6: 1062-byte frames.  A bucket of 10.5 of
# them, 15 back to back: 10 reach the receiver, whose interface counts
# their bytes (veth counts the frame, MAC header included)
root rate 1kbit burst $((1062 * 21 / 2))
u0=$(udp_seen "$NS2" 6)
read -r p0 b0 <<< "$(rx "$NS2" r0)"
send "$NS1" fd03::2 1000 15 --ipv6
u1=$(udp_seen "$NS2" 6)
read -r p1 b1 <<< "$(rx "$NS2" r0)"
read -r pk cf cb <<< "$(qd_totals "packets conformed conformed_bytes")"
ktap_print "IPv6: receiver UDP $((u1 - u0)), r0 $((p1 - p0)) frames" \
	"$((b1 - b0)) bytes; qdisc packets $pk conformed $cf, $cb bytes"
check_eq "qdisc over IPv6: 10 of 15 frames of 1062 bytes reach the receiver" \
	"10 10 10620" "$((u1 - u0)) $((p1 - p0)) $((b1 - b0))"
check_eq "qdisc over IPv6: the qdisc's counters agree with the receiver" \
	"15 10 10620" "$pk $cf $cb"

# and at a rate: 1062-byte frames at twice 2mbit for RATE_SECS, the
# receiver's interface bytes less the burst over the sender's time
v6_rate()
{
	local burst=65536 b0 b1 out secs r offered seen cb

	root rate 2mbit burst $burst
	read -r _ b0 <<< "$(rx "$NS2" r0)"
	out=$("$VMTAP_SEND" --ipv6 --netns "$NS1" --dst fd03::2 --dport 9 \
		--payload 1000 --rate $((2000000 * 2 / 8 / 1062 + 1)) \
		--duration "$RATE_SECS" --prime-bytes $burst 2>&1)
	read -r _ b1 <<< "$(rx "$NS2" r0)"
	read -r cb seen <<< "$(qd_totals "conformed_bytes bytes")"
	secs=$(vmtap_elapsed "$out")
	r=$(admitted_rate $((b1 - b0)) $burst "$secs")
	offered=$(seen_rate "$seen" "$secs")
	ktap_print "IPv6 at 2mbit: r0 got $((b1 - b0)) bytes = $r bit/s," \
		"$offered bit/s offered in $secs s; qdisc admitted $cb bytes"
	rate_check "qdisc over IPv6 at 2mbit: the receiver's rate within ${TOL_PCT}% ($r bit/s)" \
		"$offered" 2000000 "$r" bit "$out" "$burst" \
		"IPv6 at 2mbit: the qdisc's conformed bytes are what r0 received" \
		$((b1 - b0)) "$cb" ||
		RATE_RETRY=1 v6_rate
}
v6_rate
$TC -n "$NS1" qdisc del dev s0 root

# ---------- 8. netns deletion and device unregister under traffic ----
# Two veth pairs from nsy to nsx, one sender each.  On y0 -> x0 a
# standalone action (it outlives x0's filter) with a latency of 10 s
# holds the traffic at x0's ingress: after 1.5 s or more of 4.6 Mbit/s into
# 100kbit it holds seconds of it (as much as the sender's socket buffer
# lets through: packets crossing a veth keep their socket's charge).  On
# y1 -> x1 the qdisc at y1's egress, latency 500ms, holds what exceeds
# 500kbit (at 2mbit the debug guest's sender, beside the other, did not
# exceed it).  When the devices or the namespace go, what is held must be
# dropped at once (the netdevice notifier, the action's and the qdisc's
# teardown), not sent when it conforms while the device waits for its
# references.  The debug guest fails the run on any KASAN, lockdep or
# kmemleak report; here: the deletion is over within 5 s (for the
# namespace: the module's reference count is back where it was; 0.1 s on
# the stock guests, up to 2.4 s on the debug guest, about 10 s when the
# held packets wait for their time), and the module unloads afterwards.
refcnt_le() { [ "$(mod_refcnt vmpolice)" -le "$1" ]; }

# holding NSX NSY: the action on x0 and the qdisc on y1 both hold packets
# now; prints what each holds
holding()
{
	local held qheld

	held=$($TC -n "$1" -j -s actions get action vmpolice index 5 |
		jq -r "$VMP_JQ.totals.backlog")
	qheld=$($TC -n "$2" -j -s qdisc show dev y1 |
		jq -r '.[] | select(.root == true) | .xstats.backlog')
	echo "${held:-0} ${qheld:-0}"
	[ "${held:-0}" -gt 0 ] && [ "${qheld:-0}" -gt 0 ]
}

under_traffic()
{
	local how=$1 nsx nsy pids=() rc=0 held qheld ref0 t0 ms fl held2 i

	ref0=$(mod_refcnt vmpolice)
	setup_ns nsx nsy
	setup_veth "$nsy" y0 10.7.0.1/24 "$nsx" x0 10.7.0.2/24 &&
		setup_veth "$nsy" y1 10.8.0.1/24 "$nsx" x1 10.8.0.2/24 || return 1
	$TC -n "$nsx" qdisc add dev x0 clsact &&
		$TC -n "$nsx" actions add action vmpolice rate 100kbit \
			burst 16k latency 10s drop index 5 &&
		$TC -n "$nsx" filter add dev x0 ingress pref 1 protocol ip \
			matchall action vmpolice index 5 &&
		$TC -n "$nsy" qdisc add dev y1 root vmpolice rate 500kbit \
			burst 16k latency 500ms || return 1
	# The senders run until the deletion is over and are then stopped:
	# the qdisc (500 ms of latency) drains within half a second of its
	# sender's end, and on the debug guest one tc call takes about a
	# second, so senders of a fixed few seconds had stopped (and the
	# qdisc held nothing) by the time both were seen holding.
	for i in 7 8; do
		"$VMTAP_SEND" --netns "$nsy" --dst "10.$i.0.2" --dport 9 \
			--payload 1400 --rate 400 --duration 60 >/dev/null 2>&1 &
		pids+=($!)
	done
	# 1.5 s fill both; then until both hold, up to 10 s
	sleep 1.5
	read -r held qheld <<< "$(busywait 10000 holding "$nsx" "$nsy")"
	t0=${EPOCHREALTIME/./}
	if [ "$how" = "device unregister" ]; then
		timeout 30 ip -n "$nsx" link del x0 || rc=1
		timeout 30 ip -n "$nsx" link del x1 || rc=1
	else
		# the namespace goes in the background (cleanup_net): the
		# senders, whose peers went with it, stop while it does (on
		# the debug guest they would take the CPU it needs)
		timeout 30 ip netns del "$nsx" || rc=1
		kill "${pids[@]}" 2>/dev/null
		busywait 30000 refcnt_le "$ref0" >/dev/null || rc=1
	fi
	ms=$(((${EPOCHREALTIME/./} - t0) / 1000))
	kill "${pids[@]}" 2>/dev/null
	wait "${pids[@]}"
	if [ "$how" = "device unregister" ]; then
		# the action outlived the device: it holds nothing now
		read -r fl held2 <<< "$($TC -n "$nsx" -j -s actions get action \
			vmpolice index 5 | jq -r "$VMP_JQ.totals |
			\"\\(.flushed) \\(.backlog)\"")"
		ktap_print "the action flushed ${fl:-?}, holds ${held2:-?} now"
		[ "${held2:-1}" = 0 ] && [ "${fl:-0}" -gt 0 ] || rc=1
	fi
	cleanup_ns "$nsx" "$nsy"
	ktap_print "$how under traffic: the action held ${held:-?} packets," \
		"the qdisc ${qheld:-?}; the $how took $ms ms"
	[ "$ms" -le 5000 ] || rc=1
	if [ "${held:-0}" -eq 0 ] || [ "${qheld:-0}" -eq 0 ]; then
		ktap_print "the action or the qdisc held nothing when the" \
			"$how came: proves nothing"
		return 1
	fi
	return $rc
}
waiting0=$(dmesg | grep -c "to become free")
under_traffic "device unregister"
ktap_result "device unregister under traffic: what is held is dropped at once" $?
under_traffic "netns deletion"
ktap_result "netns deletion under traffic: what is held is dropped at once" $?

# ------------------------------------- 7. loaded by its aliases -------
# everything of ours gone, the module unloads; then a qdisc, an action,
# each loads it by the alias the kernel asks for (net-sch-vmpolice or
# sch_vmpolice, net-act-vmpolice or act_vmpolice, by version)
$TC -n "$NSB" filter del dev b0 ingress 2>/dev/null
actions_flush "$NSB" vmpolice
check "module unloads after the deletions under traffic" mod_unload vmpolice
sleep 2
check_eq "no device waited for its references (dmesg)" "$waiting0" \
	"$(dmesg | grep -c "to become free")"
ktap_print "aliases: $(modinfo -F alias vmpolice | tr '\n' ' ')"
check "qdisc add loads the unloaded module" \
	$TC -n "$NS1" qdisc add dev s0 root vmpolice rate 1mbit burst 10k
check "the module is loaded after the qdisc add" mod_loaded vmpolice
$TC -n "$NS1" qdisc del dev s0 root
mod_unload vmpolice
check "actions add loads the unloaded module" \
	$TC -n "$NSB" actions add action vmpolice rate 1mbit burst 10k \
		index 9
check "the module is loaded after the actions add" mod_loaded vmpolice
actions_flush "$NSB" vmpolice

ktap_finish
