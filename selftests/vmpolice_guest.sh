#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# vmpolice against a simulated virtio guest: a guest network namespace
# whose eth0 is a multiqueue tap with IFF_VNET_HDR and offloads on, so
# its TCP sends GSO super-packets, and `vmtap-forward` copying every
# frame with its virtio_net_hdr to the same queue of a multiqueue tap in
# the host namespace, as QEMU/vhost-net do (selftests/simguest.sh).  Real
# iperf3 TCP runs from the guest to the host, policed by libvirt's rule
# with `vmpolice` on the host tap's ingress.
#
# Proves, through vmpolice's per-queue counters, that what the host tap's
# ingress sees is what a hypervisor's vnetX sees: the guest's GSO
# packets carry SKB_GSO_DODGY (the "dodgy" counter is exactly the GSO
# frames the forwarder wrote on that queue) and the queue the frame was
# written on is recorded (per-queue "packets" equal the frames written
# on each of the 2 queues).

source "$(dirname "$(readlink -f "$0")")/lib.sh"

SIMGUEST=$SELFTEST_DIR/simguest.sh

require_root
require_cmd jq ip iperf3 ping
vmtap_built || ktap_skip_all "vmtap not built"
[ -f "$SIMGUEST" ] || ktap_skip_all "no $SIMGUEST"
source "$SIMGUEST"

ktap_header
ktap_plan 10

NQ=2
mod_load vmpolice || ktap_skip_all "cannot load vmpolice"

# libvirt's outbound rule, `police` replaced by `vmpolice`, in place
# before the guest sends its first frame; 1 Gbit/s with a 128 MiB burst,
# more than the guest reaches under TCG, so every frame conforms.
sg_pre_forward()
{
	check "libvirt's rule with vmpolice on the host tap's ingress" \
		sg_police vmpolice rate 125000kbps burst 125000kb mtu 64kb drop
}

if ! sg_setup "$NQ"; then
	ktap_fail "simulated guest with $NQ queues reaches the host"
	ktap_print "$(cat "$SG_FWD_LOG" 2>/dev/null)"
	ktap_finish
fi
ktap_pass "simulated guest with $NQ queues reaches the host"

# two streams: source ports 40000 and 40001 -> guest queues 0 and 1
out=$VMP_TMP/iperf.json
if sg_iperf "$out" -t 3 -P 2 --cport 40000; then
	read -r gbps retr _ < <(sg_iperf_summary "$out")
	ktap_print "guest -> host TCP, 2 streams: $gbps bit/s, $retr retransmits"
	ktap_pass "iperf3 TCP from the guest namespace to the host"
else
	ktap_print "$(cat "$out")"
	ktap_fail "iperf3 TCP from the guest namespace to the host"
fi

# no frame reaches the host once the forwarder is gone
sg_stop
vmp=$(sg_vmp_json)
fwd=$(cat "$SG_FWD_LOG")
ktap_print "$fwd"
ktap_print "vmpolice queues: $(jq -c '[.queues[] | {queue, packets,
	segments, dodgy, exceeded, malformed}]' <<< "$vmp")"

# what the forwarder wrote on host queue Q: fwd_q Q g2h_pkts|g2h_gso
fwd_q()
{
	sed -n "s/^vmtap: queue=$1 .*\\b$2=\\([0-9]*\\).*/\\1/p" <<< "$fwd"
}

vq() { jq -r --argjson q "$1" ".queues[] | select(.queue == \$q) | .$2" <<< "$vmp"; }

used=0
for ((q = 0; q < NQ; q++)); do
	[ "$(fwd_q "$q" g2h_gso)" -gt 10 ] 2>/dev/null && used=$((used + 1))
done
check_eq "the guest's TCP sent GSO on all $NQ queues" "$NQ" "$used"

check_eq "per-queue packets: the queue each frame was written on" \
	"$(for ((q = 0; q < NQ; q++)); do echo -n "$(fwd_q "$q" g2h_pkts) "; done)" \
	"$(for ((q = 0; q < NQ; q++)); do echo -n "$(vq "$q" packets) "; done)"

check_eq "per-queue dodgy: every GSO frame from the guest is SKB_GSO_DODGY" \
	"$(for ((q = 0; q < NQ; q++)); do echo -n "$(fwd_q "$q" g2h_gso) "; done)" \
	"$(for ((q = 0; q < NQ; q++)); do echo -n "$(vq "$q" dodgy) "; done)"

check_eq "segments: what the guest's GSO frames stand for" \
	"$(vmtap_total g2h_segs "$fwd")" \
	"$(jq -r '.totals.segments' <<< "$vmp")"

check_eq "the action's Sent counter counts every frame, guest GSO included" \
	"$(jq -r '.totals.segments' <<< "$vmp")" \
	"$(jq -r '.stats.packets' <<< "$vmp")"

check_eq "nothing exceeded, nothing malformed" "0 0" \
	"$(jq -r '"\(.totals.exceeded) \(.totals.malformed)"' <<< "$vmp")"

check_eq "totals are the sum of the queues" \
	"$(jq -r '[.totals.packets, .totals.dodgy] | @tsv' <<< "$vmp")" \
	"$(jq -r '[([.queues[].packets] | add), ([.queues[].dodgy] | add)] | @tsv' <<< "$vmp")"

ktap_finish
