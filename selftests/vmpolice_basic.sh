#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# vmpolice module and tc plumbing: the module loads, autoloads and
# unloads; tc can add, show (text and JSON), change and delete a vmpolice
# action and qdisc; bad options are refused with the kernel's message.
# Runs once with each tc: stock Debian tc with our plugins, patched tc.

source "$(dirname "$(readlink -f "$0")")/lib.sh"

require_root
require_cmd jq ip modprobe rmmod

ktap_header

variants=$(tc_variants)
nvariants=$(wc -l <<< "$variants")
ktap_plan $((3 + nvariants * 43))

mod_unload vmpolice >/dev/null 2>&1
check "module loads" mod_load vmpolice
check "module unloads" mod_unload vmpolice

setup_ns NS1 NS2
setup_veth "$NS1" veth0 10.9.0.1/24 "$NS2" veth1 10.9.0.2/24

# the vmpolice action object, wherever tc's JSON puts it
act_json()
{
	$TC -n "$NS1" -j actions get action vmpolice index "$1" |
		jq -c "[.. | objects | select(.kind? == \"vmpolice\")][0]$2"
}

qd_json()
{
	$TC -n "$NS1" -j qdisc show dev veth0 |
		jq -c ".[] | select(.kind == \"vmpolice\" and .root == true) |
			.options$1"
}

for TC in $variants; do
	# The one-word swap (police -> vmpolice inside a filter) needs the
	# patched tc: the stock filter parsers only know the word "police",
	# so with the stock tc the same line says "action vmpolice".
	v=$(tc_name "$TC")
	word="vmpolice"
	[ "$TC" = "$TC_STOCK" ] && word="action vmpolice"

	# --- action -------------------------------------------------------
	mod_unload vmpolice >/dev/null 2>&1
	check "$v: action add autoloads the module" \
		$TC -n "$NS1" actions add action vmpolice rate 1mbit \
		burst 10k mtu 64kb conform-exceed drop/ok index 7
	check "$v: module present after autoload" mod_loaded vmpolice
	check_output "$v: action shows in text" \
		"vmpolice.*rate 1Mbit.*burst 10Ki?b" \
		$TC -n "$NS1" actions get action vmpolice index 7
	check_eq "$v: JSON rate, burst, mtu" '[125000,10240,65536]' \
		"$(act_json 7 '|[.rate,.burst,.mtu]')"
	check_eq "$v: JSON default linklayer and overhead" '["ethernet",0]' \
		"$(act_json 7 '|[.linklayer,.overhead]')"
	check "$v: action change" \
		$TC -n "$NS1" actions change action vmpolice rate 2mbit \
		burst 20k pkts_rate 1000 pkts_burst 100 drop index 7
	check_eq "$v: JSON after change" '[250000,20480,1000,100]' \
		"$(act_json 7 '|[.rate,.burst,.pkts_rate,.pkts_burst]')"
	check "$v: action delete" \
		$TC -n "$NS1" actions delete action vmpolice index 7
	check_fail "$v: deleted action is gone" "" \
		$TC -n "$NS1" actions get action vmpolice index 7
	# --- 64-bit bursts, police's BYTES/CELL ---------------------------
	check "$v: action with a 5 GiB burst and a 6 GiB queue-burst" \
		$TC -n "$NS1" actions add action vmpolice rate 10gbit \
		burst 5g queue-rate 1gbit queue-burst 6g drop index 8
	check_output "$v: 5 GiB burst in text" \
		"vmpolice rate 10Gbit burst 5Gb .*queue-burst 6Gb " \
		$TC -n "$NS1" actions get action vmpolice index 8
	check_eq "$v: JSON burst, queue_burst in bytes" \
		'[5368709120,6442450944]' \
		"$(act_json 8 '|[.burst,.queue_burst]')"
	check "$v: action delete (5 GiB)" \
		$TC -n "$NS1" actions delete action vmpolice index 8
	check "$v: rate 100gbit burst 6gb" \
		$TC -n "$NS1" actions add action vmpolice rate 100gbit \
		burst 6gb drop index 10
	check_eq "$v: rate 100gbit burst 6gb round-trips in JSON" \
		'[12500000000,6442450944]' "$(act_json 10 '|[.rate,.burst]')"
	check "$v: action delete (100gbit)" \
		$TC -n "$NS1" actions delete action vmpolice index 10
	check "$v: police's burst BYTES/CELL and mtu BYTES/CELL" \
		$TC -n "$NS1" actions add action vmpolice rate 1mbit \
		burst 10k/8 mtu 64kb/8 drop index 9
	check_eq "$v: the cell is ignored" '[10240,65536]' \
		"$(act_json 9 '|[.burst,.mtu]')"
	check "$v: action delete (cell)" \
		$TC -n "$NS1" actions delete action vmpolice index 9
	check_fail "$v: burst above 1 TiB" \
		"burst must not exceed 1 TiB \(1099511627776 bytes\)" \
		$TC -n "$NS1" actions add action vmpolice rate 10gbit \
		burst 1099511627777 drop
	check_fail "$v: queue-burst above 1 TiB" \
		"queue-burst must not exceed 1 TiB" \
		$TC -n "$NS1" actions add action vmpolice rate 10gbit \
		queue-rate 1gbit queue-burst 1025g drop
	check_fail "$v: 1 TiB at 1 byte/s lasts too long" \
		"burst lasts too long at this rate" \
		$TC -n "$NS1" actions add action vmpolice rate 8bit \
		burst 1024g drop

	# --- the lines hypervisors run, with vmpolice for police ---------
	$TC -n "$NS2" qdisc add dev veth1 ingress
	check "$v: libvirt's u32 line" \
		$TC -n "$NS2" filter add dev veth1 parent ffff: protocol all \
		prio 1 u32 match u32 0 0 $word rate 1024kbps burst 1024kb \
		mtu 64kb drop flowid :1
	check "$v: OVS/Neutron's basic line" \
		$TC -n "$NS2" filter add dev veth1 parent ffff: protocol all \
		prio 49 basic $word rate 8000kbit burst 8000k mtu 65535 drop
	check_eq "$v: both filters carry a vmpolice action" \
		'[[1024000,1048576,65536],[1000000,8192000,65535]]' \
		"$($TC -n "$NS2" -j filter show dev veth1 parent ffff: |
		   jq -c '[.[] | .options.actions[]? |
			   select(.kind == "vmpolice") | [.rate,.burst,.mtu]]')"
	$TC -n "$NS2" qdisc del dev veth1 ingress

	# --- refusals: the kernel's extack message reaches the user ------
	check_fail "$v: neither rate nor pkts_rate" \
		"byte rate \(rate\) or a packet rate" \
		$TC -n "$NS1" actions add action vmpolice mtu 1500 drop
	check_fail "$v: zero rate" "rate must be above zero" \
		$TC -n "$NS1" actions add action vmpolice rate 0 burst 10k drop
	check_fail "$v: zero burst" "burst must be above zero" \
		$TC -n "$NS1" actions add action vmpolice rate 1mbit burst 0 drop
	check_fail "$v: mtu above 64 KiB" "between 1 and 65536" \
		$TC -n "$NS1" actions add action vmpolice rate 1mbit burst 10k \
		mtu 65537 drop
	check_fail "$v: peakrate not above rate" "peakrate must be above rate" \
		$TC -n "$NS1" actions add action vmpolice rate 2mbit burst 10k \
		peakrate 1mbit drop
	check_fail "$v: pkts_rate without pkts_burst" \
		"pkts_rate and pkts_burst go together" \
		$TC -n "$NS1" actions add action vmpolice pkts_rate 100 drop
	check_fail "$v: avrate is refused, not ignored" "avrate" \
		$TC -n "$NS1" actions add action vmpolice rate 1mbit burst 10k \
		avrate 1mbit drop
	check_fail "$v: unknown linklayer" "link ?layer" \
		$TC -n "$NS1" actions add action vmpolice rate 1mbit burst 10k \
		linklayer token-ring drop

	# --- qdisc --------------------------------------------------------
	check "$v: qdisc add" \
		$TC -n "$NS1" qdisc add dev veth0 root handle 1: vmpolice \
		rate 10mbit burst 32k
	check_output "$v: qdisc shows in text" "qdisc vmpolice 1: root.*rate 10Mbit" \
		$TC -n "$NS1" qdisc show dev veth0
	check_eq "$v: qdisc JSON rate, burst, mtu" '[1250000,32768,65536]' \
		"$(qd_json '|[.rate,.burst,.mtu]')"
	check "$v: qdisc change" \
		$TC -n "$NS1" qdisc change dev veth0 root handle 1: vmpolice \
		rate 20mbit burst 64k overhead 24 mpu 64
	check_eq "$v: qdisc JSON after change" '[2500000,65536,24,64]' \
		"$(qd_json '|[.rate,.burst,.overhead,.mpu]')"
	check "$v: qdisc change to a 5 GiB burst" \
		$TC -n "$NS1" qdisc change dev veth0 root handle 1: vmpolice \
		rate 10gbit burst 5g
	check_eq "$v: qdisc JSON 5 GiB burst" '[1250000000,5368709120]' \
		"$(qd_json '|[.rate,.burst]')"
	check_fail "$v: qdisc refuses conform-exceed" "action option" \
		$TC -n "$NS1" qdisc replace dev veth0 root handle 1: vmpolice \
		rate 10mbit burst 32k conform-exceed drop/ok
	check_fail "$v: qdisc refuses zero rate" "rate must be above zero" \
		$TC -n "$NS1" qdisc replace dev veth0 root handle 1: vmpolice \
		rate 0
	check "$v: qdisc delete" \
		$TC -n "$NS1" qdisc del dev veth0 root
done

check "module unloads after use" mod_unload vmpolice

ktap_finish
