#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The conformance benchmark, run inside the test guest by `make bench`
# (scripts/bench.sh boots it with vmpolice_run=bench/guest-bench.sh).  One
# simulated virtio guest (selftests/simguest.sh) for everything:
#
#   tcp   seed 001's table: guest -> host TCP goodput (iperf3, one
#         stream) at 1024 ... 65536 KB/s for police and vmpolice with
#         libvirt's exact rule (burst = rate in KiB, one second; mtu 64kb)
#         and with a 64 KiB burst, and tbf at the guest's egress as the
#         shaping reference; vmpolice with a 64 KiB burst and a 5 ms
#         delay budget (latency 5ms), without and with ecn (the guest's
#         net.ipv4.tcp_ecn=1 for the ecn column only), up to 32768 KB/s
#         (lat_max); again with 1 ms and 10 ms of netem delay on the
#         return path.  The unpoliced goodput is measured first, at
#         every delay, so that rows the generator cannot reach are marked.
#   udp   L2 wire bytes per second through police and vmpolice against the
#         configured rate, with the guest's UDP GSO on and off, measured
#         on a veth without segmentation offloads behind the host (each
#         frame it sends is one wire frame, MAC header included).
#   cost  packets per second through the host tap's ingress hook with no
#         action, police and vmpolice (every packet conforms, then is
#         dropped), written by `vmtap-inject` on 1 and 2 queues.
#   pktgen  issue 13's cost table, without the tap write path: ns per
#         packet through a clsact ingress with no filter (none), matchall
#         with gact drop, police or vmpolice (every packet conforms, then
#         is dropped: conform-exceed drop/drop), 1 and 2 CPUs on 1 and 2
#         rx queues of one policer.  64-byte frames from pktgen in
#         netif_receive mode on a dummy device (burst 1024, one skb
#         reused); pktgen cannot build GSO packets, so the 10-segment GSO
#         rows are UDP GSO packets (vmtap-send, UDP_SEGMENT 10 x 1400 B)
#         crossing a veth, measured at the peer's ingress.  Every
#         repetition runs each configuration once, in an order rotated
#         from one repetition to the next (pktgen-cost.md, pktgen-cost.dat).
#
# Progress goes to stdout; the results are printed at the end between
# "BENCH-BEGIN FILE" and "BENCH-END FILE" lines (bench.md, bench.dat
# for tcp, udp and cost; pktgen-cost.md, pktgen-cost.dat for pktgen),
# which scripts/bench.sh writes to results/.
#
# Options on the kernel command line, vmpolice_bench=KEY=VAL,KEY=VAL:
#   rates=1024:2048   KB/s list (default the seed's seven)
#   lat_max=32768     highest rate (KB/s) of the latency columns
#   rtts=0:1:10       return-path delays in ms
#   t=4               seconds per iperf3 run
#   parts=tcp:udp:cost:pktgen
#   pg_t=2            seconds per pktgen (and GSO) run
#   pg_reps=5         repetitions of the pktgen part
#   pg_frames=small:gso  the pktgen part's frame kinds

source "$(dirname "$(readlink -f "$0")")/../selftests/lib.sh"
source "$(dirname "$(readlink -f "$0")")/../selftests/simguest.sh"

# lib.sh's exit trap cleans up; no "set -e" (a failed run is a result).
set -uo pipefail

RATES="1024 2048 4096 8192 16384 32768 65536"
RTTS="0 1 10"
T=4
PARTS="tcp udp cost pktgen"
PG_T=2
PG_REPS=5
PG_FRAMES="small gso"
CONFIGS="police-libvirt police-64k vmpolice-libvirt vmpolice-64k"
CONFIGS+=" vmpolice-64k-5ms vmpolice-64k-5ms-ecn tbf-64k"
# The latency columns skip the rates above this (65536 KB/s = 524 Mbit/s
# is about what the simulated guest carries unpoliced under TCG).
LAT_MAX=32768

for arg in $(cat /proc/cmdline); do
	case "$arg" in
	vmpolice_bench=*)
		IFS=, read -ra kv <<< "${arg#vmpolice_bench=}"
		for o in "${kv[@]}"; do
			case "$o" in
			rates=*) RATES=${o#rates=} ;;
			lat_max=*) LAT_MAX=${o#lat_max=} ;;
			rtts=*) RTTS=${o#rtts=} ;;
			t=*) T=${o#t=} ;;
			parts=*) PARTS=${o#parts=} ;;
			pg_t=*) PG_T=${o#pg_t=} ;;
			pg_reps=*) PG_REPS=${o#pg_reps=} ;;
			pg_frames=*) PG_FRAMES=${o#pg_frames=} ;;
			esac
		done
		;;
	esac
done
RATES=${RATES//:/ } RTTS=${RTTS//:/ } PARTS=${PARTS//:/ }
PG_FRAMES=${PG_FRAMES//:/ }

DAT=$VMP_TMP/bench.dat
: > "$DAT"
T0=$(date +%s)

log() { echo "bench [$(( $(date +%s) - T0 ))s]: $*"; }
has_part() { [[ " $PARTS " == *" $1 "* ]]; }
mbit() { awk -v b="$1" 'BEGIN { printf "%.2f", b / 1e6 }'; }

modprobe vmpolice || { log "cannot load vmpolice"; exit 1; }

# ----------------------------------------------------------- pktgen ----
# Runs first, before the simulated guest exists (its forwarder would
# share the CPUs).

PG_DAT=$VMP_TMP/pktgen-cost.dat
: > "$PG_DAT"
PG_PROC=/proc/net/pktgen
PG_DEV=vmpg0		# dummy device pktgen injects on (root namespace)
PG_DMAC=90:e2:ba:ff:ff:ff	# not the device's: the stack drops it in ip_rcv
# The hook's rx queue is queue_mapping - 1 when recorded (act_vmpolice.c,
# vmp_act_queue()): queue_map 1 and 2 are rx queues 0 and 1.
PG_QMAP="1 2"
PG_ACTIONS="none gact police vmpolice"
# Far above what TCG carries: every packet conforms.
PG_POLICE="rate 100gbit burst 100mb mtu 64kb conform-exceed drop/drop"

# pg_set FILE CMD: one pktgen command in the root namespace (lib.sh)
pg_set() { pktgen_set "" "$1" "$2" || { log "pktgen $1: '$2' failed"; return 1; }; }

# pg_tc NS ARGS...: tc in namespace NS ("": the root namespace)
pg_tc()
{
	local ns=$1

	shift
	if [ -n "$ns" ]; then
		$TC_PG -n "$ns" "$@"
	else
		$TC_PG "$@"
	fi
}

# pg_filter NS DEV ACTION: clsact on DEV with ACTION (none: no filter)
pg_filter()
{
	local ns=$1 dev=$2 act=$3

	pg_tc "$ns" qdisc del dev "$dev" clsact 2>/dev/null
	pg_tc "$ns" actions flush action police 2>/dev/null
	pg_tc "$ns" actions flush action vmpolice 2>/dev/null
	pg_tc "$ns" qdisc add dev "$dev" clsact || return 1
	case "$act" in
	none) ;;
	gact) pg_tc "$ns" filter add dev "$dev" ingress protocol all \
		pref 1 matchall action gact drop ;;
	police|vmpolice) pg_tc "$ns" filter add dev "$dev" ingress \
		protocol all pref 1 matchall action "$act" $PG_POLICE index 1 ;;
	esac
}

# pg_check NS DEV ACTION: "SEGS EXCEEDED QUEUES" the filter's action
# counted: segments through the action, exceeded (police: overlimits;
# vmpolice: exceeded segments) and the vmpolice queues that saw packets
# ("-" where not applicable)
pg_check()
{
	local ns=$1 dev=$2 act=$3 segs=- exc=- q=-

	case "$act" in
	none) echo "- - -"; return ;;
	esac
	segs=$(pg_tc "$ns" -s -j filter show dev "$dev" ingress pref 1 |
		jq -r '[.. | objects | select(.stats?.packets?) | .stats.packets][0] // "NA"')
	case "$act" in
	police) exc=$(pg_tc "$ns" -s -j actions get action police index 1 |
		jq -r '[.. | objects | select(.overlimits?) | .overlimits][0] // 0') ;;
	vmpolice)
		read -r exc q < <(pg_tc "$ns" -s -j actions get action \
			vmpolice index 1 | jq -r '[.. | objects |
			select(.kind? == "vmpolice")][0] |
			"\(.totals.exceeded // "NA") \([.queues[]? |
			select(.packets > 0) | .queue] | join(",") |
			if . == "" then "-" else . end)"') ;;
	esac
	echo "${segs:-NA} ${exc:-NA} ${q:--}"
}

# pg_small_run CPUS ACTION REP: pktgen on CPUs 0..CPUS-1 (thread i on
# queue_map i+1) for PG_T seconds; a "pktgen small ..." line in PG_DAT.
pg_small_run()
{
	local ncpu=$1 act=$2 rep=$3 i qm pps=0 p ctl chk

	pg_filter "" "$PG_DEV" "$act" || { log "pktgen: cannot set $act"; return; }
	pg_set pgctrl reset
	for ((i = 0; i < 2; i++)); do
		pg_set "kpktgend_$i" rem_device_all
	done
	qm=($PG_QMAP)
	for ((i = 0; i < ncpu; i++)); do
		local d=$PG_DEV@$i
		pg_set "kpktgend_$i" "add_device $d" &&
		pg_set "$d" "count 0" &&
		pg_set "$d" "pkt_size 60" &&
		pg_set "$d" "delay 0" &&
		pg_set "$d" "flag NO_TIMESTAMP" &&
		pg_set "$d" "dst_mac $PG_DMAC" &&
		pg_set "$d" "dst_min 198.18.0.42" &&
		pg_set "$d" "dst_max 198.18.0.42" &&
		pg_set "$d" "queue_map_min ${qm[i]}" &&
		pg_set "$d" "queue_map_max ${qm[i]}" &&
		pg_set "$d" "xmit_mode netif_receive" &&
		pg_set "$d" "burst 1024" || { log "pktgen: cannot configure $d"; return; }
	done
	# "start" returns when the threads stop; "stop" ends them.
	echo start > "$PG_PROC/pgctrl" &
	ctl=$!
	sleep "$PG_T"
	pg_set pgctrl stop
	wait "$ctl"
	for ((i = 0; i < ncpu; i++)); do
		p=$(sed -n 's/^ *\([0-9]*\)pps .*/\1/p' "$PG_PROC/$PG_DEV@$i")
		[ -n "$p" ] || { pps=NA; break; }
		pps=$((pps + p))
	done
	chk=$(pg_check "" "$PG_DEV" "$act")
	echo "pktgen small $ncpu $act $rep $pps $chk" >> "$PG_DAT"
	log "pktgen small, $ncpu CPU(s), $act, rep $rep: $pps packets/s (segs exceeded queues: $chk)"
}

# The GSO rows: a veth pair, pgs0 in PGS (sender, 3 tx queues; XPS sends
# CPU 0's packets on tx queue 1 and CPU 1's on tx queue 2, which the
# peer's ingress sees as rx queues 0 and 1) to pgr0 in PGR, where the
# hook runs in the softirq of the sending CPU.  The destination's MAC is
# not pgr0's: with no filter, ip_rcv drops the packet.
pg_gso_setup()
{
	local q

	setup_ns PGS PGR || return 1
	ip link add pgs0 netns "$PGS" numtxqueues 3 numrxqueues 3 type veth \
		peer name pgr0 netns "$PGR" numtxqueues 3 numrxqueues 3 || return 1
	ip -n "$PGS" addr add 10.8.0.1/24 dev pgs0 &&
	ip -n "$PGS" link set pgs0 up &&
	ip -n "$PGR" link set pgr0 up &&
	ip -n "$PGS" neigh add 10.8.0.2 lladdr 02:00:00:00:00:99 dev pgs0 \
		nud permanent || return 1
	for q in 0 1 2; do
		ip netns exec "$PGS" sh -c "echo $(( q ? 1 << (q - 1) : 0 )) > \
			/sys/class/net/pgs0/queues/tx-$q/xps_cpus" || return 1
	done
}

# pg_gso_run CPUS ACTION REP: UDP GSO packets (10 x 1400 B) from CPUS
# sender threads for PG_T seconds; a "pktgen gso ..." line in PG_DAT.
pg_gso_run()
{
	local ncpu=$1 act=$2 rep=$3 out targs=() sent el pps chk

	pg_filter "$PGR" pgr0 "$act" || { log "gso: cannot set $act"; return; }
	[ "$ncpu" = 2 ] && targs=(--flows 2 --threads --cpus 0,1)
	[ "$ncpu" = 1 ] && targs=(--threads --cpus 0)
	out=$("$VMTAP_SEND" --netns "$PGS" --dst 10.8.0.2 --dport 9000 \
		--duration "$PG_T" --gso-size 1400 --payload 14000 \
		"${targs[@]}" 2>&1)
	sent=$(vmtap_total sent "$out")
	el=$(vmtap_elapsed "$out")
	pps=$(awk -v s="$sent" -v e="$el" 'BEGIN {
		if (s > 0 && e > 0) printf "%d", s / e; else print "NA" }')
	chk=$(pg_check "$PGR" pgr0 "$act")
	echo "pktgen gso $ncpu $act $rep $pps $chk $sent" >> "$PG_DAT"
	log "pktgen gso, $ncpu CPU(s), $act, rep $rep: $pps packets/s, sent $sent (segs exceeded queues: $chk)"
}

PGS= PGR=
if has_part pktgen; then
	TC_PG=$TC_PATCHED
	[ -x "$TC_PG" ] || TC_PG=$TC
	log "pktgen part: kernel $(uname -r), $(nproc) vCPUs, $PG_REPS repetitions of ${PG_T} s"
	pg_ok=1
	if ! modprobe pktgen || ! [ -d "$PG_PROC" ]; then
		log "pktgen: no pktgen in this kernel"; pg_ok=0
	fi
	if [ "$pg_ok" = 1 ]; then
		ip link add "$PG_DEV" numtxqueues 3 numrxqueues 3 type dummy &&
		defer ip link del "$PG_DEV" &&
		ip link set "$PG_DEV" up || { log "pktgen: no dummy device"; pg_ok=0; }
	fi
	pg_gso_setup || { log "pktgen: veth setup for the GSO rows failed"; pg_ok=0; }
	if [ "$pg_ok" = 1 ]; then
		# every configuration, in a fixed list rotated by one per
		# repetition
		cfgs=()
		for fr in $PG_FRAMES; do
			for nc in 1 2; do
				for act in $PG_ACTIONS; do
					cfgs+=("$fr $nc $act")
				done
			done
		done
		for ((rep = 1; rep <= PG_REPS; rep++)); do
			for ((k = 0; k < ${#cfgs[@]}; k++)); do
				read -r fr nc act <<< "${cfgs[(k + rep - 1) % ${#cfgs[@]}]}"
				"pg_${fr}_run" "$nc" "$act" "$rep"
			done
		done
		pg_set pgctrl reset
		pg_filter "" "$PG_DEV" none
	fi
fi

# The parts below need the simulated guest.
SG_PARTS=0
for p in tcp udp cost; do
	has_part "$p" && SG_PARTS=1
done
if [ "$SG_PARTS" = 1 ]; then
	sg_setup 2 || { log "simulated guest setup failed"; exit 1; }
	log "kernel $(uname -r), $(nproc) vCPUs, simulated guest with 2 queues"
	log "guest eth0 offloads: $(ip netns exec "$SG_GNS" ethtool -k "$SG_GDEV" |
		awk '/^(tcp-segmentation-offload|generic-segmentation-offload|tx-udp-segmentation|tx-checksumming):/ { printf "%s %s  ", $1, $2 }')"
fi

# ------------------------------------------------------------- TCP -----

# configure CONFIG RATE_KBPS: one of $CONFIGS at RATE (KB/s, tc's kbps)
configure()
{
	local cfg=$1 r=$2

	sg_unpolice
	case "$cfg" in
	none) ;;
	police-libvirt) sg_police police rate "${r}kbps" burst "${r}kb" mtu 64kb drop ;;
	police-64k) sg_police police rate "${r}kbps" burst 64kb mtu 64kb drop ;;
	vmpolice-libvirt) sg_police vmpolice rate "${r}kbps" burst "${r}kb" mtu 64kb drop ;;
	vmpolice-64k) sg_police vmpolice rate "${r}kbps" burst 64kb mtu 64kb drop ;;
	vmpolice-64k-5ms) sg_police vmpolice rate "${r}kbps" burst 64kb mtu 64kb \
		latency 5ms drop ;;
	vmpolice-64k-5ms-ecn) sg_police vmpolice rate "${r}kbps" burst 64kb \
		mtu 64kb latency 5ms ecn drop ;;
	tbf-64k) sg_tbf rate "${r}kbps" burst 64kb latency 50ms ;;
	*) log "unknown config $cfg"; return 1 ;;
	esac
}

# the guest's net.ipv4.tcp_ecn (its netns default, 2: accept, never ask)
guest_ecn() { ip netns exec "$SG_GNS" sysctl -qw net.ipv4.tcp_ecn="$1"; }
GUEST_ECN=
has_part tcp && GUEST_ECN=$(ip netns exec "$SG_GNS" sysctl -n net.ipv4.tcp_ecn)

# the guest's TcpExt counter NAME (its TCP as the sender)
guest_tcpext()
{
	ip netns exec "$SG_GNS" cat /proc/net/netstat | awk -v k="$1" '
		$1 == "TcpExt:" && !n { for (i = 1; i <= NF; i++) h[i] = $i; n = 1; next }
		$1 == "TcpExt:" { for (i = 1; i <= NF; i++) if (h[i] == k) v = $i }
		END { print v == "" ? "NA" : v }'
}

# The holding counters of the vmpolice action after a latency run
JQ_HOLD='.totals | "\(.held) \(.released) \(.overlimit) \(.flushed) \(.ce_marked) \(.backlog) \(.max_hold_ns) \(.exceeded) \(.partial)"'

# tcp_run RTT RATE CONFIG: one iperf3 run; a "tcp" line in $DAT, and for
# the latency configurations a "hold" line with the action's counters.
tcp_run()
{
	local rtt=$1 r=$2 cfg=$3 out=$VMP_TMP/iperf.json g=0 s=0 x=0 hold
	local ce0=NA ce1=NA

	if ! configure "$cfg" "$r" || ! sg_delay "$rtt"; then
		log "tcp rtt=${rtt}ms $cfg $r: cannot configure"
		echo "tcp $rtt $r $cfg NA NA NA" >> "$DAT"
		return
	fi
	case "$cfg" in
	*-ecn) guest_ecn 1 || log "cannot set the guest's tcp_ecn" ;;
	esac
	ce0=$(guest_tcpext TCPDeliveredCE)
	if sg_iperf "$out" -t "$T" --cport 40000; then
		read -r g x s < <(sg_iperf_summary "$out" 2)
		echo "tcp $rtt $r $cfg $g $s $x" >> "$DAT"
	else
		echo "tcp $rtt $r $cfg NA NA NA" >> "$DAT"
	fi
	ce1=$(guest_tcpext TCPDeliveredCE)
	case "$cfg" in
	*-ecn) guest_ecn "$GUEST_ECN" ;;
	esac
	log "tcp rtt=${rtt}ms ${r}KB/s $cfg: goodput $(mbit "$g") Mbit/s," \
		"steady $(mbit "$s"), $x retransmits"
	case "$cfg" in
	*-5ms*)
		hold=$(sg_vmp_json | jq -r "$JQ_HOLD")
		[[ "$ce0" =~ ^[0-9]+$ && "$ce1" =~ ^[0-9]+$ ]] && ce1=$((ce1 - ce0)) || ce1=NA
		echo "hold $rtt $r $cfg ${hold:-NA NA NA NA NA NA NA NA NA} $ce1" >> "$DAT"
		log "  held released overlimit flushed ce_marked backlog" \
			"max_hold_ns exceeded partial: ${hold:-n/a};" \
			"guest TCPDeliveredCE +$ce1"
		;;
	esac
	sg_fwd_alive || { log "the forwarder died"; exit 1; }
}

if has_part tcp; then
	for rtt in $RTTS; do
		tcp_run "$rtt" 0 none
		for r in $RATES; do
			for cfg in $CONFIGS; do
				[[ "$cfg" == *-5ms* && "$r" -gt "$LAT_MAX" ]] &&
					continue
				tcp_run "$rtt" "$r" "$cfg"
			done
		done
	done
	sg_unpolice
fi

# ------------------------------------------------------------- UDP -----

UDP_PAYLOAD=1400
UDP_RATES="1024 4096"

# A sink behind the host: the host forwards the guest's UDP to it over a
# veth with no segmentation offloads, so GSO packets leave as one frame
# per segment and the veth's tx_bytes are L2 wire bytes.
sink_setup()
{
	setup_ns SINK || return 1
	setup_veth "$SG_HNS" up0 10.9.0.1/24 "$SINK" up1 10.9.0.2/24 || return 1
	ip netns exec "$SG_HNS" ethtool -K up0 tso off gso off \
		tx-udp-segmentation off > /dev/null 2>&1
	ip netns exec "$SG_HNS" sysctl -qw net.ipv4.ip_forward=1 || return 1
	ip -n "$SG_GNS" route add 10.9.0.0/24 via "$SG_HADDR" || return 1
}

# up0's tx bytes (L2 through) and the tap's rx bytes (offered)
JQ_LINKS='"\(.[] | select(.ifname == "up0") | .stats64.tx.bytes) \(.[] | select(.ifname == "vnet0") | .stats64.rx.bytes)"'

# police_dev DEV KIND RATE: libvirt's rule with a 64 KiB burst on DEV
police_dev()
{
	local dev=$1 kind=$2 r=$3

	$SG_TC -n "$SG_HNS" qdisc del dev "$dev" ingress 2>/dev/null
	$SG_TC -n "$SG_HNS" actions flush action "$kind" 2>/dev/null
	$SG_TC -n "$SG_HNS" qdisc add dev "$dev" ingress &&
	$SG_TC -n "$SG_HNS" filter add dev "$dev" parent ffff: protocol all \
		u32 match u32 0 0 "$kind" rate "${r}kbps" burst 64kb mtu 64kb \
		drop flowid :1
}

# The guest's UDP GSO reaches the host tap as GSO only if tun has USO
# (Linux 6.2 and later); otherwise the guest's stack segments it before
# its eth0, and the GSO rows use the injector: guest TCP GSO frames
# (10 x 1448 B, tcpv4, DODGY) written on queue 0 of a second host tap.
guest_uso()
{
	ip netns exec "$SG_GNS" ethtool -k "$SG_GDEV" |
		grep -q '^tx-udp-segmentation: on'
}

# udp_run GSO(0|1) RATE POLICER
udp_run()
{
	local gso=$1 r=$2 pol=$3 rep=$VMP_TMP/send.out pid l2 off dev how
	local a1 a2 o1 o2 t1 t2

	sg_unpolice
	$SG_TC -n "$SG_HNS" qdisc del dev vnet1 ingress 2>/dev/null
	if [ "$gso" = 0 ] || guest_uso; then
		dev=$SG_HDEV
		how=send
		[ "$gso" = 1 ] && how=send-gso
	else
		dev=vnet1
		how=inject-tcp-gso
	fi
	police_dev "$dev" "$pol" "$r" || { log "udp: cannot police $dev"; return; }
	case "$how" in
	send) "$VMTAP_SEND" --netns "$SG_GNS" --dst 10.9.0.2 --dport 9000 \
		--duration 12 --payload "$UDP_PAYLOAD" > "$rep" 2>&1 & ;;
	send-gso) "$VMTAP_SEND" --netns "$SG_GNS" --dst 10.9.0.2 --dport 9000 \
		--duration 12 --gso-size "$UDP_PAYLOAD" \
		--payload $((10 * UDP_PAYLOAD)) > "$rep" 2>&1 & ;;
	inject-tcp-gso)
		# offered: twice the rate, in packets of 10 x 1502 wire bytes
		"$VMTAP_INJECT" --dev vnet1 --netns "$SG_HNS" --queues 2 \
			--queue 0 --duration 12 --count 100000000 \
			--rate $((r * 8000 * 2 / 8 / 15020 + 1)) \
			--src 10.1.0.2 --dst 10.9.0.2 --proto tcp --gso-size 1448 \
			--payload 14480 > "$rep" 2>&1 & ;;
	esac
	pid=$!
	# L2 through (up0 tx) and offered at the host tap (vnet0 rx, frame
	# bytes) over the same window, 2 s after the start
	sleep 2
	read -r a1 o1 t1 _ < <(sg_sample "$JQ_LINKS" sg_link_json)
	sleep 5
	read -r a2 o2 t2 _ < <(sg_sample "$JQ_LINKS" sg_link_json)
	if kill -0 "$pid" 2>/dev/null; then
		l2=$(((a2 - a1) * 8 * 1000000000 / (t2 - t1)))
		off=$(((o2 - o1) * 8 * 1000000000 / (t2 - t1)))
	else
		l2=NA off=NA
		log "udp: the generator stopped early: $(tail -n 3 "$rep")"
	fi
	wait "$pid"
	# injected GSO frames: offered is what the injector put on the wire
	[ "$how" = inject-tcp-gso ] && off=$(vmtap_offered "$(cat "$rep")")
	echo "udp $gso $r $pol ${off:-NA} $l2 $how" >> "$DAT"
	log "udp gso=$gso ($how) ${r}KB/s $pol: offered $(mbit "${off/NA/0}") Mbit/s," \
		"L2 through $(mbit "${l2/NA/0}") Mbit/s (rate $(mbit $((r * 8000))))"
	$SG_TC -n "$SG_HNS" qdisc del dev vnet1 ingress 2>/dev/null
}

vnet1_setup()
{
	ip -n "$SG_HNS" link show vnet1 > /dev/null 2>&1 && return 0
	ip -n "$SG_HNS" tuntap add dev vnet1 mode tap multi_queue vnet_hdr &&
	ip -n "$SG_HNS" addr add 10.1.0.1/24 dev vnet1 &&
	ip -n "$SG_HNS" link set vnet1 up
}

if has_part udp; then
	if sink_setup && vnet1_setup; then
		for gso in 0 1; do
			for r in $UDP_RATES; do
				udp_run "$gso" "$r" police
				udp_run "$gso" "$r" vmpolice
			done
		done
	else
		log "udp: sink setup failed"
	fi
	sg_unpolice
fi

# ------------------------------------------------------------ cost -----

# cost_run FRAMES(small|gso) QUEUES ACTION(none|police|vmpolice)
cost_run()
{
	local fr=$1 nq=$2 act=$3 rep=$VMP_TMP/inject.out qargs fargs pps

	$SG_TC -n "$SG_HNS" qdisc del dev vnet1 ingress 2>/dev/null
	$SG_TC -n "$SG_HNS" actions flush action police 2>/dev/null
	$SG_TC -n "$SG_HNS" actions flush action vmpolice 2>/dev/null
	$SG_TC -n "$SG_HNS" qdisc add dev vnet1 ingress
	case "$act" in
	none) $SG_TC -n "$SG_HNS" filter add dev vnet1 parent ffff: \
		protocol all matchall action gact drop ;;
	*) $SG_TC -n "$SG_HNS" filter add dev vnet1 parent ffff: \
		protocol all matchall action "$act" rate 10gbit burst 100mb \
		mtu 64kb conform-exceed drop/drop ;;
	esac
	qargs=(--queues-used 0)
	[ "$nq" = 2 ] && qargs=(--queues-used 0,1 --threads --cpus 0,1)
	fargs=(--proto udp --payload 64)
	[ "$fr" = gso ] && fargs=(--proto tcp --gso-size 1448 --payload 14480)
	"$VMTAP_INJECT" --dev vnet1 --netns "$SG_HNS" --queues 2 --up \
		--duration 3 --count 100000000 "${qargs[@]}" "${fargs[@]}" \
		> "$rep" 2>&1
	pps=$(awk '/^vmtap: total/ { for (i = 1; i <= NF; i++)
			if ($i ~ /^sent=/) s = substr($i, 6) }
		/^vmtap: elapsed=/ { e = $2; sub(/^elapsed=/, "", e); sub(/s$/, "", e) }
		END { if (e > 0) printf "%d", s / e; else print "NA" }' "$rep")
	echo "cost $fr $nq $act $pps" >> "$DAT"
	log "cost $fr frames, $nq queue(s), $act: $pps packets/s"
}

if has_part cost; then
	vnet1_setup
	# three interleaved rounds; the report takes the median
	for round in 1 2 3; do
		for fr in small gso; do
			for nq in 1 2; do
				for act in none police vmpolice; do
					cost_run "$fr" "$nq" "$act"
				done
			done
		done
	done
fi

# ---------------------------------------------------------- report -----

if [ "$SG_PARTS" = 1 ]; then
	sg_stop
	log "forwarder: $(grep 'vmtap: total' "$SG_FWD_LOG")"
fi
log "done in $(( $(date +%s) - T0 ))s"

report()
{
	awk -v kernel="$(uname -r)" -v ncpu="$(nproc)" -v T="$T" \
	    -v latmax="$LAT_MAX" -v date="$(date -u '+%Y-%m-%d %H:%M UTC')" '
	function f(x, d) { return x == "NA" ? "n/a" : sprintf("%." d "f", x) }
	function legend() {
		printf "TCP columns.  Each policer is libvirt%ss outbound line on the host tap, `tc filter add dev vnet0 parent ffff: protocol all u32 match u32 0 0 POLICER flowid :1`, with R = the row%ss rate in KB/s:\n\n", "\047", "\047"
		printf "- `police-libvirt`: `police rate Rkbps burst Rkb mtu 64kb drop`, libvirt%ss burst of one second of traffic;\n", "\047"
		printf "- `police-64k`: `police rate Rkbps burst 64kb mtu 64kb drop`;\n"
		printf "- `vmpolice-libvirt`: `vmpolice rate Rkbps burst Rkb mtu 64kb drop`;\n"
		printf "- `vmpolice-64k`: `vmpolice rate Rkbps burst 64kb mtu 64kb drop`, a pure policer (no latency);\n"
		printf "- `vmpolice-64k-5ms`: `vmpolice rate Rkbps burst 64kb mtu 64kb latency 5ms drop`: what would conform within 5 ms is held and sent when it conforms, the rest is dropped;\n"
		printf "- `vmpolice-64k-5ms-ecn`: the same plus `ecn` (held ECT packets are marked CE after latency/4 = 1.25 ms), with `net.ipv4.tcp_ecn=1` in the simulated guest for this column only (elsewhere the default 2: the guest never asks for ECN);\n"
		printf "- `tbf-64k`: no policer; `tbf rate Rkbps burst 64kb latency 50ms` as the root qdisc of the guest%ss eth0, the shaping reference.\n\n", "\047"
		printf "The two latency columns were run up to %d KB/s only (`-` above it): at 65536 KB/s (524 Mbit/s) the rate is about what the simulated guest carries unpoliced under TCG, so that row measures the generator, not the policer.\n\n", latmax
	}
	$1 == "tcp" {
		rtt = $2; r = $3; c = $4
		if (!(rtt in seen_rtt)) { seen_rtt[rtt] = 1; rtts[++nrtt] = rtt }
		if ($5 != "NA" && $5 > best[rtt]) best[rtt] = $5
		if (c == "none") { ceil[rtt] = $5; next }
		if (!((rtt, r) in seen_r)) { seen_r[rtt, r] = 1; rates[rtt, ++nr[rtt]] = r }
		if (!(c in seen_c)) { seen_c[c] = 1; cfgs[++nc] = c }
		g[rtt, r, c] = $5; s[rtt, r, c] = $6; x[rtt, r, c] = $7
	}
	$1 == "udp" { nu++; u[nu] = $0 }
	$1 == "hold" { nh++; h[nh] = $0 }
	$1 == "cost" && $5 != "NA" { n = ++pn[$2, $3, $4]; pv[$2, $3, $4, n] = $5
		if (!(($2, $3) in seen_k)) { seen_k[$2, $3] = 1; keys[++nk] = $2 SUBSEP $3 } }
	END {
		printf "Guest kernel %s, %d vCPUs, QEMU TCG; %s.\n\n", kernel, ncpu, date
		if (nrtt) legend()
		for (i = 1; i <= nrtt; i++) {
			rtt = rtts[i]
			printf "### TCP, guest to host, %s ms added on the return path\n\n", rtt
			printf "Unpoliced: %s Mbit/s. Each cell: goodput Mbit/s (goodput/rate; steady/rate; retransmits) over %s s, steady = after the first 2 s. ", f(ceil[rtt] / 1e6, 1), T
			printf "Best goodput of any configuration at this delay: %s Mbit/s. ", f(best[rtt] / 1e6, 1)
			printf "`*`: the rate is above 90 %% of that, the generator (TCG) and not the policer is the limit.\n\n"
			printf "| rate KB/s (Mbit/s) |"
			for (j = 1; j <= nc; j++) printf " %s |", cfgs[j]
			printf "\n|---|"
			for (j = 1; j <= nc; j++) printf "---|"
			printf "\n"
			for (k = 1; k <= nr[rtt]; k++) {
				r = rates[rtt, k]; rb = r * 8000
				mark = (rb > 0.9 * best[rtt]) ? " *" : ""
				printf "| %d (%.1f)%s |", r, rb / 1e6, mark
				for (j = 1; j <= nc; j++) {
					c = cfgs[j]
					if (!((rtt, r, c) in g)) { printf " - |"; continue }
					if (g[rtt, r, c] == "NA" || g[rtt, r, c] == "") { printf " failed |"; continue }
					printf " %.2f (%.2f; %.2f; %d) |", g[rtt, r, c] / 1e6,
						g[rtt, r, c] / rb, s[rtt, r, c] / rb, x[rtt, r, c]
				}
				printf "\n"
			}
			printf "\n"
		}
		if (nh) {
			printf "### Holding: the latency columns%s vmpolice counters after each TCP run\n\n", "\047"
			printf "Totals of the action over the run (`tc -s -j actions get action vmpolice`): packets held (a GSO packet counts one), released when they conformed, refused because they would conform only after the latency (overlimit, GSO tails included), dropped while held (flushed), marked CE, still held after the run (backlog), the longest hold, and segments exceeded (all drops); the guest%ss TcpExt TCPDeliveredCE over the run (CE marks its TCP saw echoed).\n\n", "\047"
			printf "| delay ms | rate KB/s | config | held | released | overlimit | flushed | CE marked | guest DeliveredCE | backlog | max hold ms | exceeded segs | partial |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
			for (i = 1; i <= nh; i++) {
				split(h[i], a, " ")
				printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
					a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[14], a[10],
					(a[11] ~ /^[0-9]+$/ ? sprintf("%.2f", a[11] / 1e6) : "n/a"), a[12], a[13]
			}
			printf "\n"
		}
		if (nu) {
			printf "### UDP accuracy: L2 wire rate through the policer (burst 64kb, mtu 64kb)\n\n"
			printf "Measured as the tx bytes of a veth without segmentation offloads behind the host (one wire frame per segment, MAC header included, no FCS), over 5 s after 2 s of warm-up.  Offered: the rx bytes of the host tap over the same window (frames as the guest wrote them), or for injected frames what the injector put on the wire.\n\n"
			printf "| guest UDP GSO | rate KB/s (Mbit/s) | policer | offered Mbit/s | L2 through Mbit/s | L2/rate |\n|---|---|---|---|---|---|\n"
			for (i = 1; i <= nu; i++) {
				split(u[i], a, " ")
				rb = a[3] * 8000
				mark = (a[5] != "NA" && a[5] < 1.1 * rb) ? " (offered < 1.1 x rate)" : ""
				how = a[7] == "inject-tcp-gso" ? "on: injected guest TCP GSO, 10 x 1448 B (tun has no USO here)" : (a[2] ? "on: guest UDP_SEGMENT 10 x 1400 B" : "off: 1400 B datagrams")
				printf "| %s | %d (%.1f) | %s | %s%s | %s | %s |\n", how,
					a[3], rb / 1e6, a[4], f(a[5] / 1e6, 2), mark,
					f(a[6] == "NA" ? "NA" : a[6] / 1e6, 3),
					a[6] == "NA" ? "n/a" : sprintf("%.4f", a[6] / rb)
			}
			printf "\n"
		}
		if (nk) {
			printf "### Cost: packets/s through the host tap ingress hook (vmtap-inject, every packet conforms and is dropped)\n\n"
			printf "Median of 3 interleaved runs of 3 s each (all runs in bench.dat).  Under TCG, with another guest on the same 2 host cores, single runs vary by tens of percent: only large ratios mean something.\n\n"
			printf "| frames | queues (threads) | no action (gact drop) | police | vmpolice | police/none | vmpolice/none | vmpolice/police |\n|---|---|---|---|---|---|---|---|\n"
			for (i = 1; i <= nk; i++) {
				split(keys[i], a, SUBSEP)
				for (j = 1; j <= 3; j++) {
					act = j == 1 ? "none" : (j == 2 ? "police" : "vmpolice")
					m = pn[a[1], a[2], act]
					for (q = 1; q <= m; q++) w[q] = pv[a[1], a[2], act, q]
					for (q = 2; q <= m; q++) for (z = q; z > 1 && w[z - 1] + 0 > w[z] + 0; z--) {
						t = w[z]; w[z] = w[z - 1]; w[z - 1] = t }
					pps[a[1], a[2], act] = m ? w[int((m + 1) / 2)] : "NA"
					all[a[1], a[2], act] = ""
					for (q = 1; q <= m; q++) all[a[1], a[2], act] = all[a[1], a[2], act] (q > 1 ? ", " : "") pv[a[1], a[2], act, q]
				}
				n = pps[a[1], a[2], "none"]; p = pps[a[1], a[2], "police"]; v = pps[a[1], a[2], "vmpolice"]
				printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n",
					a[1] == "gso" ? "GSO TCP 10 x 1448 B" : "UDP 64 B", a[2], n, p, v,
					(n > 0 ? sprintf("%.2f", p / n) : "n/a"),
					(n > 0 ? sprintf("%.2f", v / n) : "n/a"),
					(p > 0 ? sprintf("%.2f", v / p) : "n/a")
			}
			printf "\n"
		}
	}' "$DAT"
}

# pg_report: the pktgen part's table (markdown) from PG_DAT
pg_report()
{
	awk -v kernel="$(uname -r)" -v ncpu="$(nproc)" -v T="$PG_T" \
	    -v reps="$PG_REPS" -v date="$(date -u '+%Y-%m-%d %H:%M UTC')" '
	# med(A, N): median of A[1..N] (sorted in place); lo/hi: min, max
	function med(a, n,   i, j, t) {
		for (i = 2; i <= n; i++)
			for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
				t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
		lo = a[1]; hi = a[n]
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	$1 == "pktgen" && $6 != "NA" && $6 > 0 {
		k = $2 SUBSEP $3 SUBSEP $4
		ns[k, $5] = 1e9 / $6; pps[k, $5] = $6; has[k, $5] = 1
		if ($5 > maxrep) maxrep = $5
		if ($7 != "-" && $7 != "NA") segs[k] += $7
		if ($2 == "gso" && $10 ~ /^[0-9]+$/) sent[k] += $10
		if ($8 != "-" && $8 != "NA") exc[k] += $8
		if ($9 != "-" && !((k, $9) in qs)) { qs[k, $9] = 1; q[k] = q[k] (q[k] == "" ? "" : "; ") $9 }
	}
	END {
		printf "Guest kernel %s, %d vCPUs, QEMU TCG; %s.  %d repetitions of %s s per configuration, in rotating order.\n\n", kernel, ncpu, date, maxrep, T
		printf "| frames | CPUs (rx queues) | action | ns/packet, median (min..max) | Mpps | minus none, ns | / none | / police | 2 CPUs / 1 CPU, pps | exceeded | queues seen |\n"
		printf "|---|---|---|---|---|---|---|---|---|---|---|\n"
		nf = split("small gso", frs, " "); na = split("none gact police vmpolice", acts, " ")
		for (f = 1; f <= nf; f++) for (c = 1; c <= 2; c++) for (a = 1; a <= na; a++) {
			fr = frs[f]; act = acts[a]; k = fr SUBSEP c SUBSEP act
			kn = fr SUBSEP c SUBSEP "none"; kp = fr SUBSEP c SUBSEP "police"
			k1 = fr SUBSEP 1 SUBSEP act
			n = nd = nr = np = ns1 = 0
			for (r = 1; r <= maxrep; r++) {
				if (!((k, r) in has)) continue
				v[++n] = ns[k, r]; m[n] = pps[k, r] / 1e6
				if ((kn, r) in has) { d[++nd] = ns[k, r] - ns[kn, r]; rn[nd] = ns[k, r] / ns[kn, r] }
				if ((kp, r) in has) rp[++np] = ns[k, r] / ns[kp, r]
				if (c == 2 && (k1, r) in has) sc[++ns1] = pps[k, r] / pps[k1, r]
			}
			if (!n) continue
			x = med(v, n); cell = sprintf("%.0f (%.0f..%.0f)", x, lo, hi)
			mp = med(m, n)
			dd = xn = xp = xs = "-"
			if (nd && act != "none") {
				x = med(d, nd); dd = sprintf("%.0f (%.0f..%.0f)", x, lo, hi)
				x = med(rn, nd); xn = sprintf("%.2f (%.2f..%.2f)", x, lo, hi)
			}
			if (np) { x = med(rp, np); xp = sprintf("%.2f (%.2f..%.2f)", x, lo, hi) }
			if (ns1) { x = med(sc, ns1); xs = sprintf("%.2f (%.2f..%.2f)", x, lo, hi) }
			seg = (k in segs) && sent[k] > 0 ? sprintf(", %.1f segs/pkt", segs[k] / sent[k]) : ""
			printf "| %s | %d (%s) | %s | %s | %.3f | %s | %s | %s | %s | %s | %s |\n",
				fr == "gso" ? "UDP GSO 10 x 1400 B (veth)" : "64 B (pktgen)",
				c, c == 1 ? "0" : "0, 1", act, cell, mp, dd, xn, xp, xs,
				(k in exc) ? exc[k] seg : "-" seg, (k in q) ? q[k] : "-"
		}
		printf "\n"
	}' "$PG_DAT"
}

if [ "$SG_PARTS" = 1 ]; then
	echo "BENCH-BEGIN bench-tables.md"
	report
	echo "BENCH-END bench-tables.md"
	echo "BENCH-BEGIN bench.dat"
	echo "# kernel $(uname -r), $(nproc) vCPUs, $(date -u '+%Y-%m-%d %H:%M UTC'), iperf3 -t $T"
	echo "# tcp RTT_MS RATE_KBPS CONFIG GOODPUT_BPS STEADY_BPS RETRANSMITS"
	echo "# hold RTT_MS RATE_KBPS CONFIG HELD RELEASED OVERLIMIT FLUSHED CE_MARKED BACKLOG MAX_HOLD_NS EXCEEDED_SEGS PARTIAL GUEST_DELIVERED_CE"
	echo "# udp GSO RATE_KBPS POLICER OFFERED_L2_BPS THROUGH_L2_BPS HOW"
	echo "# cost FRAMES QUEUES ACTION PPS"
	cat "$DAT"
	echo "BENCH-END bench.dat"
fi
if has_part pktgen; then
	echo "BENCH-BEGIN pktgen-cost-tables.md"
	pg_report
	echo "BENCH-END pktgen-cost-tables.md"
	echo "BENCH-BEGIN pktgen-cost.dat"
	echo "# kernel $(uname -r), $(nproc) vCPUs, $(date -u '+%Y-%m-%d %H:%M UTC'), ${PG_T} s runs"
	echo "# pktgen small CPUS ACTION REP PPS SEGS_THROUGH_ACTION EXCEEDED QUEUES_SEEN"
	echo "# pktgen gso CPUS ACTION REP PPS SEGS_THROUGH_ACTION EXCEEDED QUEUES_SEEN SENT"
	cat "$PG_DAT"
	echo "BENCH-END pktgen-cost.dat"
fi
exit 0
