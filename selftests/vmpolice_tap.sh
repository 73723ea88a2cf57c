#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# vmpolice on a hypervisor's side of a multiqueue tap, fed the way
# QEMU/vhost-net feeds it: vmtap writes frames with virtio-net headers
# (GSO type and size chosen by the "guest", DODGY on arrival) on chosen
# queues.  Checks per-queue counters against the queues written, wire
# bytes against what the frames stand for, the L2 rate of GSO traffic,
# queue-rate, and guests that lie in their GSO metadata.

source "$(dirname "$(readlink -f "$0")")/lib.sh"

require_root
require_cmd jq ip
vmtap_built || ktap_skip_all "vmtap not built"

ktap_header
ktap_plan 18

TOL_PCT=2
MSS=1448

# tun is a module on distribution kernels
modprobe tun 2>/dev/null
[ -c /dev/net/tun ] || { ktap_print "no /dev/net/tun: the kernel needs CONFIG_TUN"; exit 1; }

setup_ns NSH
ip -n "$NSH" tuntap add dev vnet0 mode tap multi_queue vnet_hdr
ip -n "$NSH" addr add 10.0.0.1/24 dev vnet0
ip -n "$NSH" link set vnet0 up
# The host answers the injected TCP segments with resets to the guest's
# address.  Unresolved, each failed resolution sends the host itself an
# ICMP error, which its IPv4 counters (ip_rx) would count with the
# admitted traffic: the guest's MAC (vmtap's default source) is static.
ip -n "$NSH" neigh replace 10.0.0.2 dev vnet0 nud permanent \
	lladdr 52:54:00:12:34:56
$TC -n "$NSH" qdisc add dev vnet0 clsact

vmtap() { "$VMTAP_INJECT" --dev vnet0 --netns "$NSH" --queues 4 "$@"; }

police()
{
	$TC -n "$NSH" filter del dev vnet0 ingress 2>/dev/null
	actions_flush "$NSH" vmpolice
	$TC -n "$NSH" filter add dev vnet0 ingress pref 1 protocol ip \
		matchall action vmpolice "$@" index 1
}

act() { $TC -n "$NSH" -j -s actions get action vmpolice index 1; }
# the vmpolice action object, wherever tc's JSON puts it
VMP_JQ='[.. | objects | select(.kind? == "vmpolice")][0]'
vmp() { act | jq -c "$VMP_JQ"; }
stat() { vmp | jq -r ".totals.$1"; }
qstat() { vmp | jq -c "[.queues[] | .$1]"; }

# --- per-queue state: the queue the guest wrote on ---------------------
police rate 10gbit burst 10m drop
out=$(vmtap --queues-used 0,1,2 --count 300 --payload 200 2>&1)
ktap_print "$out"
check_eq "queues 0,1,2 written round-robin: 100 packets each" \
	'[[0,1,2],[100,100,100]]' "$(vmp | jq -c '.queues |
		[[.[].queue], [.[].packets]]')"

police rate 10gbit burst 10m drop
out=$(vmtap --queues-used 0,3 --threads --cpus 0,1 --count 2000 \
	--proto tcp --payload $((10 * MSS)) --gso-size $MSS 2>&1)
ktap_print "$out"
check_eq "two queues from two CPUs: per-queue packets" '[1000,1000]' \
	"$(qstat packets)"
check_eq "GSO from the guest: 10 segments a packet, per queue" \
	'[10000,10000]' "$(qstat segments)"
check_eq "GSO from the guest arrives DODGY: every packet, per queue" \
	'[1000,1000]' "$(qstat dodgy)"
check_eq "charged bytes are what the frames put on the wire" \
	"$(vmtap_total wire_bytes "$out")" "$(stat bytes)"

# --- L2 rate of GSO traffic from the guest ----------------------------
# What was admitted is what the host's IPv4 stack took in (ip_rx), what
# was offered what vmtap wrote; vmpolice's conformed bytes must equal
# the stack's count to the byte.
gso_rate()
{
	local mbit=$1 pps burst out r offered cb rx0 rx1 wire segs

	burst=$(burst_for "$mbit")
	police rate "${mbit}mbit" burst "$burst" drop
	# twice the rate, in 10-segment packets of 15020 wire bytes
	pps=$((mbit * 1000000 * 2 / 8 / 15020 + 1))
	rx0=$(ip_rx "$NSH")
	out=$(vmtap --queues-used 0,1 --threads --rate "$pps" \
		--duration "$RATE_SECS" --prime-bytes "$burst" --proto tcp \
		--payload $((10 * MSS)) --gso-size $MSS 2>&1)
	rx1=$(ip_rx_settled "$NSH")
	read -r wire segs <<< "$(ip4_wire "$rx0" "$rx1" 20 $MSS)"
	cb=$(stat conformed_bytes)
	r=$(admitted_rate "$wire" "$burst" "$(vmtap_elapsed "$out")")
	offered=$(vmtap_offered "$out")
	ktap_print "GSO ${mbit}mbit: $r bit/s admitted ($wire bytes, $segs" \
		"segments taken in by the host; vmpolice: $cb bytes)," \
		"$offered bit/s written, partial $(stat partial)"
	rate_check "guest GSO at ${mbit}mbit on 2 queues: L2 rate within ${TOL_PCT}% ($r bit/s)" \
		"$offered" $((mbit * 1000000)) "$r" bit "$out" "$burst" \
		"guest GSO at ${mbit}mbit: vmpolice's conformed bytes are what the host took in" \
		"$wire" "$cb" ||
		RATE_RETRY=1 gso_rate "$mbit"
}

gso_rate 8
gso_rate 32
gso_rate 48

# --- queue-rate: each queue on its own --------------------------------
# each of two queues is offered 16 Mbit/s and held to its own 8mbit;
# the aggregate rate is far from reached
police rate 1gbit burst 256k queue-rate 8mbit queue-burst 250000 drop
rx0=$(ip_rx "$NSH")
out=$(vmtap --queues-used 0,1 --threads --rate 266 --duration "$RATE_SECS" \
	--proto tcp --payload $((10 * MSS)) --gso-size $MSS 2>&1)
rx1=$(ip_rx_settled "$NSH")
q=$(vmp)
secs=$(vmtap_elapsed "$out")
r0=$(admitted_rate "$(jq '.queues[0].conformed_bytes' <<< "$q")" 250000 "$secs")
r1=$(admitted_rate "$(jq '.queues[1].conformed_bytes' <<< "$q")" 250000 "$secs")
ktap_print "queue-rate 8mbit: queues $(jq -c '[.queues[].queue]' <<< "$q")" \
	"admitted $r0 and $r1 bit/s"
within "$TOL_PCT" "$r0" 8000000 && within "$TOL_PCT" "$r1" 8000000
ktap_result "queue-rate caps each queue on its own ($r0, $r1 bit/s)" $?
# the queues' sum against the host's count (it has no per-queue one)
check_eq "queue-rate: the queues' conformed bytes add up to what the host took in" \
	"$(ip4_wire "$rx0" "$rx1" 20 $MSS | cut -d' ' -f1)" \
	"$(jq '[.queues[].conformed_bytes] | add' <<< "$q")"

# --- guests that lie ---------------------------------------------------
police rate 10gbit burst 10m drop
out=$(vmtap --count 10 --proto tcp --payload $((10 * MSS)) \
	--gso-size $MSS --lie-gso-size 100 2>&1)
ktap_print "$out"
# a gso_size of 100 means 145 frames, each with its own headers
check_eq "lying gso_size: charged for every frame it claims" \
	"$((10 * 145))" "$(stat segments)"

police rate 10gbit burst 10m drop
out=$(vmtap --count 10 --proto tcp --payload $((10 * MSS)) \
	--gso-size $MSS --lie-hdr-len 20 2>&1)
check_eq "lying hdr_len: charged the real headers" \
	"$((10 * 10 * (14 + 20 + 20 + MSS)))" "$(stat bytes)"

police rate 10gbit burst 10m drop
out=$(vmtap --count 10 --proto tcp --payload $((10 * MSS)) \
	--gso-size 0 --gso-type tcpv4 2>&1)
sent=$(vmtap_total sent "$out")
ktap_print "$out" "gso_size 0: $sent accepted by tun," \
	"vmpolice saw $(stat packets), charged $(stat bytes) bytes"
# accepted or not, never charged less than the frame's own length
[ -n "$sent" ] && [ "$(stat bytes)" -ge $((sent * (14 + 20 + 20 + 10 * MSS))) ]
ktap_result "gso_size 0: never charged less than the frame" $?

police rate 10gbit burst 10m drop
out=$(vmtap --count 10 --proto tcp --payload $((10 * MSS)) \
	--gso-size $MSS --lie-csum-start 60000 2>&1)
sent=$(vmtap_total sent "$out")
ktap_print "csum_start beyond the frame: $sent accepted, $(stat malformed) malformed"
[ -n "$sent" ] && { [ "$sent" -eq 0 ] || [ "$(stat malformed)" -eq "$sent" ] ||
	[ "$(stat bytes)" -ge $((sent * (14 + 20 + 20 + 10 * MSS))) ]; }
ktap_result "csum_start beyond the frame: refused, or counted and charged in full" $?

# --- per-queue state at clsact egress: what the documentation says -----
# At clsact egress the TX queue is not picked yet: a packet forwarded from
# the tap's queue N carries queue mapping N + 1 (the receive queue,
# recorded), one the host sends itself 0 ("Per-queue state").  The guest
# writes 100 UDP frames on each of queues 0, 1 and 2 to 10.9.0.2 beyond
# the host (forwarded out of h0); the host sends 5 pings there itself.
# The receiver counts what arrived; the action at h0's egress must list
# them in slots 1, 2, 3 and 0.
setup_ns NSF
ip netns exec "$NSH" sysctl -qw net.ipv4.ip_forward=1
setup_veth "$NSH" h0 10.9.0.1/24 "$NSF" f0 10.9.0.2/24
ip -n "$NSF" route add 10.0.0.0/24 via 10.9.0.1
$TC -n "$NSH" qdisc add dev h0 clsact
$TC -n "$NSH" filter add dev h0 egress pref 1 protocol ip matchall \
	action vmpolice rate 10gbit burst 10m drop index 2
ip -n "$NSH" neigh replace 10.9.0.2 dev h0 nud permanent \
	lladdr "$(ip -n "$NSF" -j link show f0 | jq -r '.[0].address')"
r0=$(ip_rx "$NSF")
out=$(vmtap --queues-used 0,1,2 --count 300 --payload 200 --proto udp \
	--dst 10.9.0.2 2>&1)
ip netns exec "$NSH" ping -q -c 5 -i 0.2 -W 1 10.9.0.2 >/dev/null 2>&1
r1=$(ip_rx_settled "$NSF")
eg=$($TC -n "$NSH" -j -s actions get action vmpolice index 2 |
	jq -c "$VMP_JQ | [[.queues[].queue], [.queues[].packets]]")
ktap_print "egress: the receiver got $(( ${r1%% *} - ${r0%% *} )) packets;" \
	"the action's queues, packets: $eg"
check_eq "clsact egress: forwarded from tap queue N in slot N + 1, the host's own in slot 0" \
	"305 [[0,1,2,3],[5,100,100,100]]" "$(( ${r1%% *} - ${r0%% *} )) $eg"

ktap_finish
