# SPDX-License-Identifier: GPL-2.0
#
# A simulated virtio-net guest inside the test kernel, for the guest
# selftest, `make bench` and `make demo`.  Source it after
# selftests/lib.sh (it uses setup_ns, defer, busywait, $VMTAP_FORWARD, $TC):
#
#	source "$SELFTEST_DIR/simguest.sh"
#	sg_setup 2                  # a guest with 2 queues (vCPUs)
#	sg_police police rate 1024kbps burst 1024kb mtu 64kb drop
#	sg_iperf "$VMP_TMP/out.json" -t 5
#
# The guest is a network namespace whose only link, eth0, is a tap
# opened with IFF_VNET_HDR | IFF_MULTI_QUEUE and its offloads on
# (TUNSETOFFLOAD), so the guest's TCP hands it GSO super-packets of up
# to 64 KiB with checksum offload, the way a guest hands them to its
# virtio-net device.  `vmtap-forward` plays QEMU/vhost-net: one thread
# per queue copies each frame with its virtio_net_hdr from guest queue i
# to queue i of the multiqueue tap vnet0 in the host namespace, and back.
# vnet0's ingress therefore sees what a hypervisor's vnetX sees: GSO
# skbs marked SKB_GSO_DODGY (metadata from the guest) with the queue
# they were written on recorded.
#
# Queue choice in the guest: a real guest's virtio-net driver spreads
# flows over its queues (XPS, one queue per vCPU).  Here a clsact egress
# filter on eth0 maps source port mod N to queue N, so iperf3 -P N
# --cport P puts stream k on queue (P + k) mod N, deterministically.
# Flows without ports (ARP, ICMP) take tun's own choice.
#
# After sg_setup: SG_GNS / SG_HNS (guest / host namespace), SG_NQ,
# SG_GDEV=eth0 / SG_HDEV=vnet0, SG_GADDR=10.0.0.2 / SG_HADDR=10.0.0.1,
# SG_FWD_PID and SG_FWD_LOG (the forwarder's report, written when it
# stops: sg_stop).  A function sg_pre_forward, if the caller defines
# one, runs once both taps exist and before the first frame moves.

SG_GDEV=eth0
SG_HDEV=vnet0
SG_GADDR=10.0.0.2
SG_HADDR=10.0.0.1
SG_NQ=0
SG_GNS=
SG_HNS=
SG_FWD_PID=
SG_FWD_LOG=
SG_IPERF_PORT=5201
# the tc that accepts libvirt's lines with `vmpolice` in place of
# `police` (patched tc; the stock one needs `action vmpolice`)
SG_TC=${SG_TC:-$TC_PATCHED}
[ -x "$SG_TC" ] || SG_TC=$TC

sg_log() { echo "simguest: $*" >&2; }

# sg_setup NQUEUES [VMTAP FORWARD OPTIONS...]: build the guest and host
# namespaces, the two taps and the forwarder; returns when the guest
# reaches the host (ping).  Everything is torn down at exit (defer).
sg_setup()
{
	local nq=$1 q mask i

	shift
	case "$nq" in
	1|2|4|8) ;;
	*) sg_log "queues must be 1, 2, 4 or 8 (got $nq)"; return 1 ;;
	esac
	SG_NQ=$nq
	modprobe tun 2>/dev/null
	[ -c /dev/net/tun ] || { sg_log "no /dev/net/tun"; return 1; }
	setup_ns SG_GNS SG_HNS || return 1
	SG_FWD_LOG=$(mktemp "${VMP_TMP:-/tmp}/simguest-fwd.XXXXXX")

	# Persistent taps, so that addresses and tc survive the forwarder;
	# vmtap attaches its queues with the same flags.
	ip -n "$SG_GNS" tuntap add dev "$SG_GDEV" mode tap multi_queue \
		vnet_hdr || return 1
	ip -n "$SG_HNS" tuntap add dev "$SG_HDEV" mode tap multi_queue \
		vnet_hdr || return 1
	# tun drops what does not fit its ring instead of stopping the
	# queue, as a virtio-net driver would; a long ring keeps the
	# guest's TCP from losing segments before the host sees them.
	ip -n "$SG_GNS" link set "$SG_GDEV" txqueuelen 10000 || return 1
	ip -n "$SG_GNS" addr add "$SG_GADDR/24" dev "$SG_GDEV" || return 1
	ip -n "$SG_HNS" addr add "$SG_HADDR/24" dev "$SG_HDEV" || return 1

	# A caller that must see every frame (counters compared with the
	# forwarder's) sets up the host side in sg_pre_forward.
	if declare -F sg_pre_forward > /dev/null; then
		sg_pre_forward || return 1
	fi

	"$VMTAP_FORWARD" --guest-tap "$SG_GDEV" --host-tap "$SG_HDEV" \
		--guest-netns "$SG_GNS" --host-netns "$SG_HNS" \
		--queues "$nq" --up --cpus 0-$(($(nproc) - 1)) "$@" \
		> "$SG_FWD_LOG" 2>&1 &
	SG_FWD_PID=$!
	defer sg_stop
	busywait 10000 grep -q "forward ready" "$SG_FWD_LOG" > /dev/null || {
		sg_log "forwarder did not start:"
		cat "$SG_FWD_LOG" >&2
		return 1
	}

	# The guest's "XPS": source port mod N picks the TX queue.
	if [ "$nq" -gt 1 ]; then
		$TC -n "$SG_GNS" qdisc add dev "$SG_GDEV" clsact || return 1
		mask=$((nq - 1))
		for ((q = 0; q < nq; q++)); do
			for i in 6 17; do
				$TC -n "$SG_GNS" filter add dev "$SG_GDEV" egress \
					pref $((10 + q)) protocol ip u32 \
					match ip protocol "$i" 0xff \
					match ip sport "$q" "$mask" \
					action skbedit queue_mapping "$q" ||
					return 1
			done
		done
	fi

	busywait 10000 ip netns exec "$SG_GNS" ping -c 1 -W 1 "$SG_HADDR" \
		> /dev/null || {
		sg_log "guest cannot reach the host through the forwarder:"
		cat "$SG_FWD_LOG" >&2
		return 1
	}
}

# sg_stop: stop the forwarder (its report lands in $SG_FWD_LOG).
sg_stop()
{
	[ -n "$SG_FWD_PID" ] || return 0
	kill "$SG_FWD_PID" 2>/dev/null
	wait "$SG_FWD_PID" 2>/dev/null
	SG_FWD_PID=
}

# sg_fwd_alive: the forwarder still runs.
sg_fwd_alive()
{
	[ -n "$SG_FWD_PID" ] && kill -0 "$SG_FWD_PID" 2>/dev/null
}

# sg_htc ARGS...: tc in the host namespace.
sg_htc() { $SG_TC -n "$SG_HNS" "$@"; }

# sg_unpolice: no policer, no shaper, no delay anywhere.
sg_unpolice()
{
	$SG_TC -n "$SG_HNS" qdisc del dev "$SG_HDEV" ingress 2>/dev/null
	$SG_TC -n "$SG_HNS" qdisc del dev "$SG_HDEV" root 2>/dev/null
	$SG_TC -n "$SG_GNS" qdisc del dev "$SG_GDEV" root 2>/dev/null
	$SG_TC -n "$SG_HNS" actions flush action vmpolice 2>/dev/null
	$SG_TC -n "$SG_HNS" actions flush action police 2>/dev/null
	return 0
}

# sg_police KIND ARGS...: libvirt's outbound rule on the host tap's
# ingress, with KIND (police or vmpolice) and its ARGS verbatim:
#   tc filter add dev vnetX parent ffff: protocol all u32 match u32 0 0 \
#       KIND ARGS flowid :1
# The action gets index 1.
sg_police()
{
	local kind=$1

	shift
	$SG_TC -n "$SG_HNS" qdisc del dev "$SG_HDEV" ingress 2>/dev/null
	$SG_TC -n "$SG_HNS" actions flush action "$kind" 2>/dev/null
	$SG_TC -n "$SG_HNS" qdisc add dev "$SG_HDEV" ingress || return 1
	$SG_TC -n "$SG_HNS" filter add dev "$SG_HDEV" parent ffff: \
		protocol all u32 match u32 0 0 "$kind" "$@" index 1 flowid :1
}

# sg_tbf ARGS...: tbf ARGS as the guest tap's root qdisc (shaping at the
# guest's egress, the reference a policer is compared with).
sg_tbf()
{
	$SG_TC -n "$SG_GNS" qdisc replace dev "$SG_GDEV" root tbf "$@"
}

# sg_delay MS: netem delay on the return path (host -> guest), 0: none.
sg_delay()
{
	if [ "$1" = 0 ]; then
		$SG_TC -n "$SG_HNS" qdisc del dev "$SG_HDEV" root 2>/dev/null
		return 0
	fi
	$SG_TC -n "$SG_HNS" qdisc replace dev "$SG_HDEV" root netem \
		delay "${1}ms" limit 100000
}

# sg_vmp_json: the vmpolice action object (index 1) in the host
# namespace, with counters: {params, totals, queues: [...]}.
sg_vmp_json()
{
	$SG_TC -n "$SG_HNS" -s -j actions get action vmpolice index 1 |
		jq -c '[.. | objects | select(.kind? == "vmpolice")][0]'
}

_sg_iperf_listening()
{
	ip netns exec "$SG_HNS" ss -Htln "sport = :$SG_IPERF_PORT" | grep -q .
}

# sg_iperf_server: start a one-shot iperf3 server in the host namespace.
sg_iperf_server()
{
	ip netns exec "$SG_HNS" iperf3 -s -1 -J -B "$SG_HADDR" \
		-p "$SG_IPERF_PORT" > /dev/null 2>&1 &
	defer kill $! 2>/dev/null
	busywait 5000 _sg_iperf_listening > /dev/null
}

# sg_iperf OUT [IPERF3 CLIENT ARGS...]: a TCP test from the guest to the
# host (guest -> host, the direction libvirt polices), its JSON (with
# the server's side: --get-server-output) in OUT.
sg_iperf()
{
	local out=$1 rc=0

	shift
	sg_iperf_server || { sg_log "iperf3 server did not start"; return 1; }
	timeout 120 ip netns exec "$SG_GNS" iperf3 -J --get-server-output \
		-c "$SG_HADDR" -p "$SG_IPERF_PORT" "$@" > "$out" 2>&1 || rc=$?
	if [ "$rc" -ne 0 ]; then
		sg_log "iperf3 failed ($rc): $(jq -r '.error? // empty' "$out" 2>/dev/null || head -c 300 "$out")"
		return 1
	fi
}

# sg_iperf_summary JSON [SKIP_S]: "goodput_bps retransmits steady_bps"
# from sg_iperf's JSON.  goodput is the receiver's average over the
# whole test; steady is the receiver's rate over its intervals that
# start at or after SKIP_S seconds (default 2: after a burst of one
# second of traffic is spent).
sg_iperf_summary()
{
	jq -r --argjson skip "${2:-2}" '
		[.end.sum_received.bits_per_second,
		 (.end.sum_sent.retransmits // 0),
		 ([.server_output_json.intervals[]?.sum |
		   select(.start >= $skip - 0.05)] as $iv |
		  if ($iv | length) > 0 then
			(($iv | map(.bytes) | add) * 8 /
			 ($iv | map(.seconds) | add))
		  else .end.sum_received.bits_per_second end)] |
		map(floor) | @tsv' "$1"
}

# ------------------------------------------------------------ rates ----
#
# Under TCG a command's own run time is a large part of a short window,
# so only the command that reads the counters is timed (bash's
# EPOCHREALTIME, no fork), its output parsed afterwards.  For `ip -s -j`
# on a stock kernel the read takes tens of milliseconds, against windows
# of seconds.

# sg_sample JQ CMD...: "VALUES... TIME_NS READ_US": what the jq filter
# JQ (raw output, space separated) picks from CMD's JSON, the time taken
# in the middle of CMD and how long CMD took.
sg_sample()
{
	local filter=$1 t0 t1 out

	shift
	t0=$EPOCHREALTIME
	out=$("$@")
	t1=$EPOCHREALTIME
	t0=${t0/./} t1=${t1/./}
	echo "$(jq -r "$filter" <<< "$out") $(((t0 + t1) / 2))000 $((t1 - t0))"
}

# sg_link_json: every link of the host namespace, with counters
sg_link_json() { ip -n "$SG_HNS" -s -j link show; }
