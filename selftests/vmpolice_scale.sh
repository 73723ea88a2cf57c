#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Per-queue counters at scale: a 256-queue tap with traffic on every
# queue through one vmpolice action, and a 64-queue veth under the
# multiqueue vmpolice qdisc, listed by every path a user or a tool takes
# (actions get/ls, filter show/get/change/replace/del, actions change
# and flush, qdisc and class show, qdisc change and delete), in text and
# JSON, while "tc monitor" listens, and several policers in one message.
# The kernel's options carry the totals and the count of active queues
# (QUEUES_OMITTED), not the queues; tc fetches every queue through the
# module's generic netlink dump, so every listing of
# the action, "tc -s monitor" while traffic runs included, lists all 256
# queues, none omitted, adding up to its totals; the totals match what
# the far side received.  The dump itself (vmpolice-queues) gives all
# queues of the action and of the qdisc, several per message, and
# refuses a wrong request with a reason.  Runs with each tc.

source "$(dirname "$(readlink -f "$0")")/lib.sh"

require_root
require_cmd jq ip
vmtap_built || ktap_skip_all "vmtap not built"

NQ=256		# the tap's queues: tun's maximum
NQD=64		# the veth's TX queues, for the qdisc
PER_Q=3		# packets written on each queue

variants=$(tc_variants)
nvariants=$(wc -l <<< "$variants")
ktap_header
ktap_plan $((nvariants * (24 + 13 + 7 + 5 + 2) + 7 + 7))

modprobe tun 2>/dev/null
[ -c /dev/net/tun ] || { ktap_print "no /dev/net/tun: the kernel needs CONFIG_TUN"; exit 1; }

VMP_JQ='[.. | objects | select(.kind? == "vmpolice")][0]'
VMP_QUEUES=$VMTAP_DIR/vmpolice-queues	# the module's genl dump, by hand
[ -x "$VMP_QUEUES" ] || { ktap_print "no $VMP_QUEUES (make -C selftests/tools)"; exit 1; }

# The kernel sizes the reply to "tc actions get" by the action's
# get_fill_size from upstream's "net: sched: act_api: size RTM_GETACTION
# reply by fill size" (7.x, Debian's 6.1.192; not its 6.12.95), before
# that NLMSG_GOODSIZE (3.7 KiB) like a filter's.  Either way tc lists
# every queue: what the options left out, it takes from the genl dump.

# udp_in NS: UDP datagrams the stack of NS took in (Udp InDatagrams +
# NoPorts + InErrors): counted after tc ingress, by the kernel, not by the
# module.  Not Ip InReceives: on the 7.3 debug kernel it also counted 221
# other IPv4 packets in the window (not looked into)
udp_in()
{
	ip netns exec "$1" awk '/^Udp: [0-9]/ { print $2 + $3 + $4 }' \
		/proc/net/snmp
}

# rx_packets NS DEV
rx_packets()
{
	ip -n "$1" -j -s link show "$2" | jq '.[0].stats64.rx.packets'
}

# monitor_start NS LOG [OPTION...]: "tc [OPTION...] monitor" in NS into
# LOG, stopped at exit
monitor_start()
{
	$TC -n "$1" "${@:3}" monitor > "$2" 2>&1 &
	MON_PID=$!
	defer "kill $MON_PID"
	sleep 0.5
}

# monitor_stop: stop it; MON_RC 0 if it was still running, else its exit
# status
monitor_stop()
{
	sleep 0.5
	if kill "$MON_PID" 2>/dev/null; then
		MON_RC=0
		wait "$MON_PID" 2>/dev/null
	else
		wait "$MON_PID" 2>/dev/null
		MON_RC=$?
	fi
	return 0
}

# text_rows TEXT: rows of a per-queue table (the queue id, then ten
# counters: no holding columns, latency is 0 here)
text_rows()
{
	grep -cE '^[[:space:]]+[0-9]+( +[0-9]+){10}$' <<< "$1"
}

# text_omitted TEXT: the count tc prints for queues left out, 0 if none
text_omitted()
{
	local n

	n=$(sed -n 's/.*queues omitted \([0-9]*\).*/\1/p' <<< "$1" | head -1)
	echo "${n:-0}"
}

# traffic_monitor_read PATTERN WHAT: stop the monitor that ran under
# traffic (its output in $mon.traffic, the outer monitor's pid back in
# MON_PID); sets log, nev (lines matching the ERE PATTERN: WHAT events),
# rows (queue rows) and om (queues omitted), and prints them
traffic_monitor_read()
{
	monitor_stop
	MON_PID=$mon_pid
	log=$(cat "$mon.traffic")
	nev=$(grep -cE "$1" <<< "$log")
	rows=$(text_rows "$log")
	om=$(text_omitted "$log")
	ktap_print "$v: tc -s monitor under traffic: $nev $2 events," \
		"$rows queue rows, omitted $om"
}

# listing DESC WANT_TOTALS TC ARGS...: the vmpolice object of a tc -j
# listing: its queues plus queues_omitted are every active queue, and its
# totals are WANT_TOTALS (compact JSON)
listing()
{
	local desc=$1 want=$2 out o got

	shift 2
	if ! out=$("$@" 2>&1); then
		ktap_print "command: $*" "$out"
		ktap_fail "$desc"
		return
	fi
	o=$(jq -c "$VMP_JQ" <<< "$out")
	got=$(jq -c '[(.queues // [] | length) + (.queues_omitted // 0),
		.totals]' <<< "$o")
	ktap_print "$desc: listed $(jq '.queues // [] | length' <<< "$o")," \
		"omitted $(jq '.queues_omitted // 0' <<< "$o")"
	check_eq "$desc: listed + omitted = $NQ, totals as get's" \
		"[$NQ,$want]" "$got"
	check_eq "$desc: queues 0..$((NQ - 1)) all listed, none omitted" \
		"$(jq -nc "[[range($NQ)], null]")" \
		"$(jq -c '[[.queues // [] | .[].queue], .queues_omitted]' <<< "$o")"
}

# text_listing DESC TC ARGS...: a text listing succeeds and its table
# rows plus "queues omitted N" are every active queue
text_listing()
{
	local desc=$1 out rows om

	shift
	if ! out=$("$@" 2>&1); then
		ktap_print "command: $*" "$out"
		ktap_fail "$desc"
		return
	fi
	rows=$(text_rows "$out")
	om=$(text_omitted "$out")
	ktap_print "$desc: $rows rows, omitted $om"
	check_eq "$desc: one row per queue, none omitted" "$NQ 0" "$rows $om"
}

setup_ns NSH
ip -n "$NSH" tuntap add dev vnet0 mode tap multi_queue vnet_hdr
ip netns exec "$NSH" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
ip -n "$NSH" addr add 10.0.0.1/24 dev vnet0
ip -n "$NSH" link set vnet0 up

FL="dev vnet0 ingress pref 1 handle 1 protocol ip flower"

for TC in $variants; do
	v=$(tc_name "$TC")

	# --- the action on a 256-queue tap ------------------------------
	$TC -n "$NSH" qdisc del dev vnet0 clsact 2>/dev/null
	actions_flush "$NSH" vmpolice
	$TC -n "$NSH" qdisc add dev vnet0 clsact
	mon=$VMP_TMP/monitor-action-${TC//\//_}
	monitor_start "$NSH" "$mon"
	$TC -n "$NSH" actions add action vmpolice rate 10gbit burst 10m \
		drop index 1
	check "$v: flower with action vmpolice index 1 on ingress" \
		$TC -n "$NSH" filter add $FL action vmpolice index 1

	in0=$(udp_in "$NSH")
	out=$("$VMTAP_INJECT" --dev vnet0 --netns "$NSH" --queues $NQ \
		--queues-used 0-$((NQ - 1)) --count $((NQ * PER_Q)) \
		--proto udp --payload 200 2>&1)
	sent=$(vmtap_total sent "$out")
	sleep 0.5
	rcvd=$(($(udp_in "$NSH") - in0))
	ktap_print "$v: vmtap wrote $sent frames on $NQ queues;" \
		"the stack received $rcvd"

	# get: every queue, adding up to the totals, where the kernel sizes
	# its reply by the action (GET_ALL); before that, as much as a
	# notification holds, and the count of the others
	text=$($TC -n "$NSH" -s actions get action vmpolice index 1 2>&1)
	rows=$(text_rows "$text")
	om=$(text_omitted "$text")
	ktap_print "$v: tc -s actions get: $rows rows, omitted $om"
	check_eq "$v: tc -s actions get: one row per queue, none omitted" \
		"$NQ 0" "$rows $om"
	get=$($TC -n "$NSH" -s -j actions get action vmpolice index 1 |
		jq -c "$VMP_JQ")
	listed=$(jq '.queues | length' <<< "$get")
	om=$(jq '.queues_omitted // 0' <<< "$get")
	check_eq "$v: tc -s -j actions get: queues 0..$((listed - 1)) listed" \
		"$(jq -nc "[range($listed)]")" "$(jq -c '[.queues[].queue]' <<< "$get")"
	check_eq "$v: tc -s -j actions get: all $NQ, no queues_omitted" \
		"$NQ null" "$listed $(jq -c '.queues_omitted' <<< "$get")"
	# each queue saw PER_Q packets of one size: the omitted ones too
	check_eq "$v: per-queue packets add up to the totals" \
		"$(jq '.totals.packets' <<< "$get")" \
		"$(jq "[.queues[].packets] | add + $om * $PER_Q" <<< "$get")"
	check_eq "$v: per-queue bytes add up to the totals" \
		"$(jq '.totals.bytes' <<< "$get")" \
		"$(jq "([.queues[].bytes] | add) + $om * .queues[0].bytes" \
			<<< "$get")"
	check_eq "$v: every queue saw $PER_Q packets" "[$PER_Q]" \
		"$(jq -c '[.queues[].packets] | unique' <<< "$get")"
	check_eq "$v: totals = what the stack received = what vmtap wrote" \
		"$sent $sent" "$(jq '.totals.packets' <<< "$get") $rcvd"
	totals=$(jq -c '.totals' <<< "$get")

	# every other path: what fits, and how many were left out
	text_listing "$v: tc -s actions ls" \
		$TC -n "$NSH" -s actions ls action vmpolice
	listing "$v: tc -s -j actions ls" "$totals" \
		$TC -n "$NSH" -s -j actions ls action vmpolice
	text_listing "$v: tc -s filter show" \
		$TC -n "$NSH" -s filter show dev vnet0 ingress
	listing "$v: tc -s -j filter show" "$totals" \
		$TC -n "$NSH" -s -j filter show dev vnet0 ingress
	text_listing "$v: tc -s filter get" $TC -n "$NSH" -s filter get $FL
	listing "$v: tc -s -j filter get" "$totals" \
		$TC -n "$NSH" -s -j filter get $FL

	# changes and deletion, notified to the monitor
	check "$v: tc filter change" $TC -n "$NSH" filter change $FL \
		action vmpolice index 1
	check "$v: tc filter replace" $TC -n "$NSH" filter replace $FL \
		action vmpolice index 1
	listing "$v: tc -s -j filter show after change and replace" \
		"$totals" $TC -n "$NSH" -s -j filter show dev vnet0 ingress
	# "tc -s monitor" while traffic runs on every queue: each filter
	# notification (one message of NLMSG_GOODSIZE) prints the action with
	# every queue, none omitted
	mon_pid=$MON_PID
	monitor_start "$NSH" "$mon.traffic" -s
	"$VMTAP_INJECT" --dev vnet0 --netns "$NSH" --queues $NQ \
		--queues-used 0-$((NQ - 1)) --count $((NQ * PER_Q)) \
		--proto udp --payload 200 > /dev/null 2>&1 &
	inj=$!
	for i in 1 2 3; do
		$TC -n "$NSH" filter change $FL action vmpolice index 1
	done
	wait $inj
	traffic_monitor_read '^(added |replaced )?filter .*handle 0x1 ' filter
	check_eq "$v: tc -s monitor under traffic: 3 filter events of $NQ rows, none omitted" \
		"3 $((3 * NQ)) 0" "$nev $rows $om"
	check_eq "$v: tc -s monitor under traffic: nothing truncated, still running" \
		"0 0" "$(grep -ciE 'truncated' <<< "$log") $MON_RC"
	check "$v: tc filter del" $TC -n "$NSH" filter del $FL
	text_listing "$v: tc -s actions ls after the filter went" \
		$TC -n "$NSH" -s actions ls action vmpolice
	monitor_stop
	log=$(cat "$mon")
	ktap_print "$v: tc monitor: $(wc -l <<< "$log") lines," \
		"$(grep -c 'Message truncated' <<< "$log") 'Message truncated'"
	nf=$(grep -cE '^(added |replaced )?filter .*handle 0x1 ' <<< "$log")
	nd=$(grep -c '^deleted filter .*handle 0x1 ' <<< "$log")
	[ "$nf" -ge 3 ] && [ "$nd" = 1 ] ||
		ktap_print "filter events $nf, deleted $nd:" "$(cut -c1-100 <<< "$log" |
			grep -E 'filter|runcated')"
	[ "$nf" -ge 3 ] && [ "$nd" = 1 ]
	ktap_result "$v: tc monitor saw the filter added, changed, replaced, deleted" $?
	check_eq "$v: tc monitor: nothing truncated, still running" "0 0" \
		"$(grep -ciE 'truncated' <<< "$log") $MON_RC"

	# A standalone change of the action: its notification carries the
	# totals and the queue count (under 1 KiB; every queue, 43 KiB,
	# when the options listed them), and tc fetches the queues.  Every tc's
	# monitor must print it whole (with -s, its queue rows and "queues
	# omitted" add up to every queue: the flush after it may delete the
	# action before tc's fetch) and go on to print the clsact qdisc's
	# deletion after it.  That includes the stock tc, whose unpatched
	# library receives into 16 KiB and exits on a larger message
	# ("Truncated message").  The qdisc's deletion comes before the
	# monitor is stopped as its print flushes the monitor's output in
	# 6.1, whose print_action() does not (6.1's rtnl_listen() has no
	# fflush()).
	monitor_start "$NSH" "$mon.change" -s
	check "$v: tc actions change of the action (every queue active)" \
		$TC -n "$NSH" actions change action vmpolice rate 10gbit \
		burst 10m drop index 1
	check "$v: tc actions flush" \
		$TC -n "$NSH" actions flush action vmpolice
	check_eq "$v: no vmpolice action left" "" \
		"$($TC -n "$NSH" actions ls action vmpolice | grep -w index)"
	$TC -n "$NSH" qdisc del dev vnet0 clsact
	monitor_stop
	log=$(cat "$mon.change")
	rows=$(text_rows "$log")
	om=$(text_omitted "$log")
	nd=$(grep -c '^deleted qdisc clsact' <<< "$log")
	ktap_print "$v: tc -s monitor over actions change + flush + qdisc del" \
		"(exit $MON_RC): $rows queue rows, omitted $om," \
		"$(grep -ci 'truncated' <<< "$log") truncated," \
		"$nd qdisc deletion:" \
		"$(cut -c1-100 <<< "$log" | grep -v '^[[:space:]]*[0-9]' |
			head -12)"
	check_eq "$v: tc monitor printed the change with rows + omitted = $NQ" \
		"$NQ" $((rows + om))
	check_eq "$v: tc monitor: nothing truncated, went on to the qdisc deletion, still running" \
		"0 1 0" "$(grep -ciE 'truncated' <<< "$log") $nd $MON_RC"
done

# --- several policers in one message ------------------------------------
# A filter with K vmpolice actions puts them all in one message (filter
# get, show, notifications), and so does "tc actions get" of K actions
# (one TCA_ACT_TAB nest).  The options carry no per-queue list, so our
# part of each is the same with every queue active as idle: what fits
# idle fits under traffic (with per-queue lists, 5 actions' get failed
# on 6.12 and a 24-action filter could no longer be listed).  K = 8, the
# most "tc actions get" holds idle on 6.12 (NLMSG_GOODSIZE); 24 in a
# filter dump.  Each action's JSON still lists every queue (tc fetches
# them).  With one tc: the kernel's messages are the same for every tc.
TC=$TC_PATCHED
[ -x "$TC" ] || TC=$(tc_variants | head -n 1)
K=8
$TC -n "$NSH" qdisc add dev vnet0 clsact
acts=""
for ((i = 1; i <= 24; i++)); do
	$TC -n "$NSH" actions add action vmpolice rate 10gbit burst 10m \
		conform-exceed drop/pipe index $i
	[ "$i" -le $K ] && acts="$acts action vmpolice index $i"
done
$TC -n "$NSH" filter add $FL $acts
$TC -n "$NSH" filter add dev vnet0 ingress pref 2 handle 2 protocol ip \
	flower $(for ((i = 9; i <= 24; i++)); do
		echo "action vmpolice index $i"; done)
out=$("$VMTAP_INJECT" --dev vnet0 --netns "$NSH" --queues $NQ \
	--queues-used 0-$((NQ - 1)) --count $NQ --proto udp --payload 200 2>&1)
sent=$(vmtap_total sent "$out")
# each_queue JSON: per vmpolice action, [queues listed, totals.packets]
each_queue()
{
	jq -c '[.. | objects | select(.kind? == "vmpolice") |
		[(.queues // [] | length), .totals.packets]]' <<< "$1"
}
all=$(printf '[%d,%d],' $(for ((i = 1; i <= K; i++)); do echo "$NQ $sent"; done))
all="[${all%,}]"
out=$($TC -n "$NSH" -s -j actions get $acts 2>&1) || ktap_print "$out"
check_eq "$K actions in one get: each lists all $NQ queues, totals $sent" \
	"$all" "$(each_queue "$out" 2>&1)"
out=$($TC -n "$NSH" -s -j filter get $FL 2>&1) || ktap_print "$out"
check_eq "a filter of $K actions: filter get lists each with all $NQ queues" \
	"$all" "$(each_queue "$out" 2>&1)"
out=$($TC -n "$NSH" -s -j filter show dev vnet0 ingress 2>&1) ||
	ktap_print "$out"
# (the packets stop at the first filter: its last verdict is pipe)
check_eq "filters of $K and 16 actions: filter show lists all 24, the first $K with all $NQ queues" \
	"[24,$NQ,$NQ]" "$(jq -c --argjson k $K '[.. | objects |
		select(.kind? == "vmpolice")] | [length,
		([.[] | select(.index <= $k) | .queues | length] | min, max)]' \
		<<< "$out" 2>&1)"
mon=$VMP_TMP/monitor-many
monitor_start "$NSH" "$mon"
check "a filter of $K actions, monitor listening: filter change" \
	$TC -n "$NSH" filter change $FL $acts
check "a filter of $K actions, monitor listening: filter del" \
	$TC -n "$NSH" filter del $FL
$TC -n "$NSH" filter del dev vnet0 ingress pref 2 handle 2 protocol ip flower
check "an action with every queue active, monitor listening: actions delete" \
	$TC -n "$NSH" actions delete action vmpolice index 2
# its print flushes 6.1's monitor output (see above)
$TC -n "$NSH" qdisc del dev vnet0 clsact
monitor_stop
log=$(cat "$mon")
check_eq "$K actions' filter and action 2: tc monitor saw the change, the deletions, nothing truncated" \
	"1 1 1 0 0" "$(grep -cE '^(added |replaced )?filter .*handle 0x1 ' <<< "$log") $(grep -c '^deleted filter .*handle 0x1 ' <<< "$log") $(grep -c '^Deleted action ' <<< "$log") $(grep -ci truncat <<< "$log") $MON_RC"

# The module's generic netlink dump, without tc: every queue of action 1,
# in order, over more than one message (how many fit in one depends on
# the receiver's buffer: 2 with the tool's 64 KiB); and each
# wrong request refused with its reason.
out=$(ip netns exec "$NSH" "$VMP_QUEUES" index 1 2>&1)
ktap_print "genl dump of action 1: $out"
check_eq "genl dump of action 1: queues 0..$((NQ - 1)), in order" \
	"queues $NQ ids 0..$((NQ - 1)) contiguous" \
	"$(sed 's/ messages [0-9]*//' <<< "$out")"
m=$(sed -n 's/.* messages \([0-9]*\) .*/\1/p' <<< "$out")
[ "${m:-0}" -gt 1 ]
ktap_result "genl dump of action 1: paged over several messages (${m:-none})" $?
# refused REASON ARGS...: the dump refuses ARGS with extack text REASON
refused()
{
	local want=$1 out

	shift
	out=$(ip netns exec "$NSH" "$VMP_QUEUES" "$@" 2>&1)
	ktap_print "vmpolice-queues $*: $out"
	[[ "$out" == "error -"*": $want" ]]
	ktap_result "genl refuses $*: $want" $?
}
refused "no vmpolice action with this index" index 999
refused "give an action index or a device and qdisc handle, not both" \
	index 1 dev vnet0 handle 1
refused "give an action index, or a device and qdisc handle"
refused "no device with this ifindex" dev 99999 handle 1
refused "no vmpolice qdisc with this handle on the device" \
	dev vnet0 handle ffff
actions_flush "$NSH" vmpolice

# --- the multiqueue qdisc on a 64-queue veth ----------------------------
# A 64-queue tap feeds a router namespace that forwards to the veth: a
# forwarded packet leaves on the TX queue of the RX queue it came in on
# (skb_tx_hash() keeps a recorded RX queue), so every TX queue carries
# what was written on its tap queue.
setup_ns NSR NS2
ip netns exec "$NSR" sysctl -qw net.ipv4.ip_forward=1
ip netns exec "$NSR" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
ip netns exec "$NS2" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
ip -n "$NSR" tuntap add dev g0 mode tap multi_queue vnet_hdr
ip -n "$NSR" addr add 10.4.0.1/24 dev g0
ip -n "$NSR" link set g0 up
ip link add s0 netns "$NSR" numtxqueues $NQD numrxqueues $NQD type veth \
	peer name r0 netns "$NS2" numtxqueues $NQD numrxqueues $NQD
ip -n "$NSR" addr add 10.5.0.1/24 dev s0
ip -n "$NS2" addr add 10.5.0.2/24 dev r0
ip -n "$NSR" link set s0 up
ip -n "$NS2" link set r0 up
ip -n "$NSR" neigh replace 10.5.0.2 dev s0 nud permanent \
	lladdr "$(ip -n "$NS2" -j link show r0 | jq -r '.[0].address')"

for TC in $variants; do
	v=$(tc_name "$TC")

	$TC -n "$NSR" qdisc del dev s0 root 2>/dev/null
	mon=$VMP_TMP/monitor-qdisc-${TC//\//_}
	monitor_start "$NSR" "$mon"
	check "$v: multiqueue vmpolice root on the $NQD-queue veth" \
		$TC -n "$NSR" qdisc add dev s0 root handle 1: vmpolice \
		rate 10gbit burst 10m
	r0=$(rx_packets "$NS2" r0)
	out=$("$VMTAP_INJECT" --dev g0 --netns "$NSR" --queues $NQD \
		--queues-used 0-$((NQD - 1)) --count $((NQD * PER_Q)) \
		--payload 200 --src 10.4.0.2 --dst 10.5.0.2 2>&1)
	sent=$(vmtap_total sent "$out")
	sleep 0.5
	rcvd=$(($(rx_packets "$NS2" r0) - r0))
	ktap_print "$v: vmtap wrote $sent frames on $NQD tap queues;" \
		"r0 received $rcvd"

	# classes: one per TX queue with its counters, every one used
	text=$($TC -n "$NSR" -s class show dev s0 2>&1)
	check_eq "$v: tc -s class show: $NQD classes" "$NQD" \
		"$(grep -c '^class vmpolice' <<< "$text")"
	seen=$(sed -n 's/.* seen \([0-9]*\) pkt .*/\1/p' <<< "$text")
	check_eq "$v: tc -s class show: every class saw $PER_Q packets" \
		"$PER_Q $NQD" "$(sort -u <<< "$seen") $(grep -c . <<< "$seen")"
	qd=$($TC -n "$NSR" -s -j qdisc show dev s0)
	root=$(jq -c '.[] | select(.root == true)' <<< "$qd")
	check_eq "$v: qdisc totals = class sum = what r0 received = written" \
		"$sent $sent $sent" "$(jq '.xstats.packets' <<< "$root") \
$(($(tr '\n' '+' <<< "$seen")0)) $rcvd"
	check_eq "$v: tc -s -j qdisc show: listed + omitted = $NQD" "$NQD" \
		"$(jq '(.options.queues // [] | length) +
			(.options.queues_omitted // 0)' <<< "$root")"
	ktap_print "$v: qdisc lists $(jq '.options.queues // [] | length' \
		<<< "$root"), omits $(jq '.options.queues_omitted // 0' \
		<<< "$root")"
	text=$($TC -n "$NSR" -s qdisc show dev s0 2>&1)
	check_eq "$v: tc -s qdisc show: rows + omitted = $NQD" "$NQD" \
		$(($(text_rows "$text") + $(text_omitted "$text")))
	out=$(ip netns exec "$NSR" "$VMP_QUEUES" dev s0 handle 1 2>&1)
	ktap_print "$v: genl dump of qdisc 1: on s0: $out"
	check_eq "$v: genl dump of the qdisc: queues 0..$((NQD - 1)), in order" \
		"queues $NQD ids 0..$((NQD - 1)) contiguous" \
		"$(sed 's/ messages [0-9]*//' <<< "$out")"
	check "$v: tc -s class show dev s0 classid 1:$NQD" \
		$TC -n "$NSR" -s class show dev s0 classid 1:$NQD
	# The root's options omit queues (NLMSG_GOODSIZE holds fewer than
	# $NQD) but name its device and handle: tc fetches the rest from the
	# genl dump, in JSON and in a notification "tc -s monitor" prints
	# while traffic runs on every TX queue (here, of a change of rate)
	check_eq "$v: tc -s -j qdisc show: queues 0..$((NQD - 1)), none omitted" \
		"$(jq -nc "[[range($NQD)], null]")" \
		"$($TC -n "$NSR" -s -j qdisc show dev s0 |
			jq -c '.[] | select(.root == true) |
			[[.options.queues // [] | .[].queue],
			 .options.queues_omitted]')"
	mon_pid=$MON_PID
	monitor_start "$NSR" "$mon.traffic" -s
	"$VMTAP_INJECT" --dev g0 --netns "$NSR" --queues $NQD \
		--queues-used 0-$((NQD - 1)) --count $((NQD * PER_Q)) \
		--payload 200 --src 10.4.0.2 --dst 10.5.0.2 > "$mon.inj" 2>&1 &
	inj=$!
	check "$v: qdisc change under tc -s monitor and traffic" \
		$TC -n "$NSR" qdisc change dev s0 root handle 1: vmpolice \
		rate 8gbit burst 10m
	wait $inj
	sent=$((sent + $(vmtap_total sent "$(cat "$mon.inj")")))
	traffic_monitor_read '^qdisc vmpolice 1: ' root
	check_eq "$v: tc -s monitor under traffic: the root's change with $NQD rows, none omitted" \
		"1 $NQD 0" "$nev $rows $om"
	check_eq "$v: tc -s monitor under traffic: rows are queues 0..$((NQD - 1))" \
		"$(seq -s ' ' 0 $((NQD - 1)))" \
		"$(grep -E '^[[:space:]]+[0-9]+( +[0-9]+){10}$' <<< "$log" |
			awk '{ print $1 }' | tr '\n' ' ' | sed 's/ $//')"
	check_eq "$v: tc -s monitor under traffic: nothing truncated, still running" \
		"0 0" "$(grep -ciE 'truncated' <<< "$log") $MON_RC"
	check "$v: qdisc change under a listener" \
		$TC -n "$NSR" qdisc change dev s0 root handle 1: vmpolice \
		rate 5gbit burst 10m
	check_eq "$v: counters kept across the change" "$sent" \
		"$($TC -n "$NSR" -s -j qdisc show dev s0 |
			jq '.[] | select(.root == true) | .xstats.packets')"
	check "$v: qdisc replace (same kind) under a listener" \
		$TC -n "$NSR" qdisc replace dev s0 root handle 1: vmpolice \
		rate 10gbit burst 10m
	check "$v: qdisc delete under a listener" \
		$TC -n "$NSR" qdisc del dev s0 root
	monitor_stop
	log=$(cat "$mon")
	ktap_print "$v: tc monitor: $(wc -l <<< "$log") lines," \
		"$(grep -c '^qdisc vmpolice 1:' <<< "$log") about the root," \
		"$(grep -c 'Message truncated' <<< "$log") 'Message truncated'"
	nq=$(grep -cE '^(added |replaced )?qdisc vmpolice 1: ' <<< "$log")
	nd=$(grep -c '^deleted qdisc vmpolice 1: ' <<< "$log")
	[ "$nq" = 4 ] && [ "$nd" = 1 ] ||
		ktap_print "root events $nq, deleted $nd:" "$(cut -c1-100 <<< "$log" |
			grep -E 'qdisc vmpolice 1:|runcated')"
	[ "$nq" = 4 ] && [ "$nd" = 1 ]
	ktap_result "$v: tc monitor saw the root added, changed twice, replaced, deleted" $?
	check_eq "$v: tc monitor: nothing truncated, still running" "0 0" \
		"$(grep -ciE 'truncated' <<< "$log") $MON_RC"
done

ktap_finish
