#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make demo`, guest side (scripts/demo.sh boots it with
# vmpolice_run=bench/guest-demo.sh): a simulated 2-queue virtio guest
# (selftests/simguest.sh) sends TCP to its host with iperf3, two streams, one
# per queue.  The host polices it with libvirt's outbound rule: `police`
# at libvirt's burst (one second) and at 64 KiB, then `vmpolice` at
# 64 KiB without and with `latency 5ms` (what would conform within 5 ms
# is held and sent when it conforms instead of being dropped).  A live
# report shows the configured and achieved rate (IP bytes into the
# host's stack) and vmpolice's per-queue counters
# (`tc -s -j actions get action vmpolice`), then all four side by side.

source "$(dirname "$(readlink -f "$0")")/../selftests/lib.sh"
source "$(dirname "$(readlink -f "$0")")/../selftests/simguest.sh"
set -uo pipefail

RATE_KBPS=${DEMO_RATE_KBPS:-4096}	# 32.8 Mbit/s
SECS=${DEMO_SECS:-6}
RATE_BPS=$((RATE_KBPS * 8000))

say() { echo "demo: $*"; }
mbit() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1e6 }'; }

# IP bytes the host's stack received (after the tap's ingress policer)
host_in_octets()
{
	ip netns exec "$SG_HNS" cat /proc/net/netstat | awk '
		$1 == "IpExt:" && !n { for (i = 1; i <= NF; i++) k[i] = $i; n = 1; next }
		$1 == "IpExt:" { for (i = 1; i <= NF; i++) if (k[i] == "InOctets") print $i }'
}

# live KIND PID: a line every second or so while iperf3 (PID) runs
live()
{
	local kind=$1 pid=$2 t0 b0 t1 b1 q start rate

	start=$EPOCHREALTIME
	read -r b0 t0 _ < <(sg_sample . host_in_octets)
	while kill -0 "$pid" 2>/dev/null; do
		sleep 1
		kill -0 "$pid" 2>/dev/null || break
		read -r b1 t1 _ < <(sg_sample . host_in_octets)
		if [ "$kind" = vmpolice ]; then
			q=$(sg_vmp_json | jq -r '[.queues[] |
				"q\(.queue): \(.packets) pkts, segs \(.conformed) ok \(.exceeded) over, \(.partial) cut" +
				(if (.held // 0) > 0 then ", \(.held) held" else "" end)] |
				join(" | ")')
		else
			q=$(sg_htc -s -j actions get action police index 1 |
				jq -r '[.. | objects | select(.kind? == "police")][0].stats |
				"all queues: \(.packets) pkts \(.drops) dropped (no per-queue state)"')
		fi
		rate=?
		[[ "$b0" =~ ^[0-9]+$ && "$b1" =~ ^[0-9]+$ ]] &&
			rate=$(mbit $(((b1 - b0) * 8 * 1000000000 / (t1 - t0))))
		printf 'demo:  %4.1fs %6s of %s Mbit/s  %s\n' \
			"$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }')" \
			"$rate" "$(mbit "$RATE_BPS")" "$q"
		b0=$b1 t0=$t1
	done
}

declare -A GOOD RETR

# run KIND BURST [LATENCY]: police the guest with KIND for $SECS seconds,
# live
run()
{
	local kind=$1 burst=$2 lat=${3:-} out=$VMP_TMP/$1.json pid g x s
	local key="$1 $2 ${3:--}" extra=()

	[ -n "$lat" ] && extra=(latency "$lat")
	sg_unpolice
	say ""
	say "tc filter add dev vnet0 parent ffff: protocol all u32 match u32 0 0 \\"
	say "        $kind rate ${RATE_KBPS}kbps burst $burst mtu 64kb ${extra[*]}${lat:+ }drop flowid :1"
	sg_police "$kind" rate "${RATE_KBPS}kbps" burst "$burst" mtu 64kb \
		"${extra[@]}" drop || return 1
	sg_iperf "$out" -t "$SECS" -P 2 --cport 40000 &
	pid=$!
	live "$kind" "$pid"
	wait "$pid" || { say "iperf3 failed"; return 1; }
	read -r g x s < <(sg_iperf_summary "$out" 2)
	GOOD[$key]=$g RETR[$key]=$x
	say "$kind, burst $burst${lat:+, latency $lat}: TCP goodput $(mbit "$g") Mbit/s = $(awk -v g="$g" -v r="$RATE_BPS" \
		'BEGIN { printf "%.0f", 100 * g / r }') % of the rate, $x retransmits"
	if [ "$kind" = vmpolice ]; then
		say "per-queue counters (tc -s -j actions get action vmpolice index 1):"
		sg_vmp_json | jq -c '.queues[] | {queue, packets, dodgy, segments,
			conformed, exceeded, partial} +
			(if (.held // 0) > 0 then {held, released, overlimit,
			 flushed, max_hold_ms: ((.max_hold_ns // 0) / 1e6)} else {} end)' |
			sed 's/^/demo:   /'
	fi
}

modprobe vmpolice || { say "cannot load vmpolice"; exit 1; }
say "simulated virtio guest: 2 queues, guest netns eth0 (multiqueue tap, IFF_VNET_HDR, TSO)"
say "  -> vmtap-forward (thread per queue, like vhost-net) -> host netns vnet0"
sg_setup 2 || { say "simulated guest setup failed"; exit 1; }
say "kernel $(uname -r), $(nproc) vCPUs (QEMU TCG); iperf3 -P 2: one TCP stream per queue"

if sg_iperf "$VMP_TMP/none.json" -t 3 -P 2 --cport 40000; then
	read -r g _ _ < <(sg_iperf_summary "$VMP_TMP/none.json")
	say "unpoliced: $(mbit "$g") Mbit/s guest -> host (what TCG can carry)"
fi

RUNS=("police ${RATE_KBPS}kb" "police 64kb" "vmpolice 64kb" "vmpolice 64kb 5ms")
for r in "${RUNS[@]}"; do
	# shellcheck disable=SC2086 # "KIND BURST [LATENCY]"
	run $r
done

say ""
say "side by side: libvirt's rule at ${RATE_KBPS}kbps ($(mbit "$RATE_BPS") Mbit/s), 2 TCP streams, ${SECS} s"
say "(burst ${RATE_KBPS}kb is libvirt's default, one second; 64kb is one GSO packet;"
say " latency 5ms: vmpolice holds what conforms within 5 ms instead of dropping it)"
printf 'demo:   %-9s %-8s %-8s %8s %8s %12s\n' policer burst latency "Mbit/s" "of rate" retransmits
for r in "${RUNS[@]}"; do
	read -r k b l <<< "$r"
	key="$k $b ${l:--}"
	printf 'demo:   %-9s %-8s %-8s %8s %7s%% %12s\n' "$k" "$b" "${l:--}" \
		"$(mbit "${GOOD[$key]:-0}")" \
		"$(awk -v g="${GOOD[$key]:-0}" -v r="$RATE_BPS" 'BEGIN { printf "%.0f", 100 * g / r }')" \
		"${RETR[$key]:-n/a}"
done
sg_unpolice
exit 0
