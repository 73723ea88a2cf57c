#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Host side of `make bench` and `make demo`: build what the guest needs,
# boot one guest kernel under QEMU (TCG) running a script from bench/
# instead of the selftests, show its output live and keep what it
# reports.
#
# Usage: bench.sh [--demo] [--script PATH] [KERNEL]
#   KERNEL     6.1 | 6.12 | debug (default: $KERNEL or 6.12)
#   --demo     run bench/guest-demo.sh (make demo) instead of bench/guest-bench.sh
#   --script   run another script under /opt/vmpolice in the guest
#
# make bench: the guest prints its results between "BENCH-BEGIN FILE"
# and "BENCH-END FILE" lines on the results port; they become
# results/bench.md (tables, with the command, kernel and date) and
# results/bench.dat (the numbers), and gnuplot draws results/bench.png
# (bench/plot.gp); the pktgen part's results/pktgen-cost.md and
# results/pktgen-cost.dat (BENCH_ARGS=parts=pktgen runs that part alone
# and leaves bench.md, bench.dat and bench.png as they are).  Logs in build/logs/<bench|demo>/ (scripts/logs.sh)
# (bench-KERNEL.log: console, bench-KERNEL.results: results port).
#
# Environment: BENCH_ARGS (passed to the guest script on its kernel
# command line as vmpolice_bench=..., comma separated, e.g.
# "rates=1024:8192 rtts=0"), BENCH_COMMAND (the command named in
# results/bench.md), BENCH_TIMEOUT (s), VM_MEM, VM_SMP, VM_APPEND.
set -uo pipefail

ME=${0##*/}
TOP=$(cd "$(dirname "$0")/.." && pwd)
. "$TOP/scripts/logs.sh"

say() { printf '%s: %s\n' "$ME" "$*" >&2; }
die() { printf '%s: error: %s\n' "$ME" "$*" >&2; exit 1; }

mode=bench
script=bench/guest-bench.sh
while [ $# -gt 0 ]; do
	case "$1" in
	--demo) mode=demo; script=bench/guest-demo.sh ;;
	--script) shift; mode=run; script=${1:?--script needs a path} ;;
	-*) die "unknown option $1" ;;
	*) break ;;
	esac
	shift
done
kname=${1:-${KERNEL:-6.12}}
case "$kname" in
6.1|6.12|debug) ;;
*) die "unknown kernel '$kname' (want 6.1, 6.12 or debug)" ;;
esac
[ -f "$TOP/$script" ] || die "no $script in this tree"
vmp_logs "$mode"
mkdir -p "$TOP/build/vm"
start=$(date +%s)

# ---- build ----
"$TOP/scripts/build-module.sh" "$kname" || die "module build failed"
make -C "$TOP/iproute2-patch" > "$LOGS/tc.log" 2>&1 ||
	{ tail -n 30 "$LOGS/tc.log" >&2; die "tc side build failed (log: $LOGS/tc.log)"; }
make -C "$TOP/selftests/tools" > "$LOGS/tools.log" 2>&1 ||
	{ tail -n 30 "$LOGS/tools.log" >&2; die "selftests/tools build failed (log: $LOGS/tools.log)"; }
initrd=$TOP/build/vm/initramfs-$mode-$kname.img
"$TOP/selftests/vm/mkinitramfs.sh" "$kname" "$initrd" || die "initramfs failed"
say "built in $(( $(date +%s) - start ))s"

# ---- run ----
prefix=$LOGS/$mode-$kname
case "$mode" in
bench) timeout=${BENCH_TIMEOUT:-1800} ;;
demo) timeout=${BENCH_TIMEOUT:-240} ;;
*) timeout=${BENCH_TIMEOUT:-900} ;;
esac
rm -f "$prefix.results"
: > "$prefix.results"
# The guest's script output, live, from the results port.
tail -n +1 -F "$prefix.results" 2>/dev/null |
	grep --line-buffered -v '^VMPOLICE-VMTEST-DONE' &
tailpid=$!
append=
[ -n "${BENCH_ARGS:-}" ] && append="vmpolice_bench=${BENCH_ARGS// /,}"
# Debian's 6.12 kernel often dies while booting under bookworm's QEMU 7.2
# TCG (double faults, spurious #DB in SLUB, before any of our code runs;
# QEMU 10 from bookworm-backports, which setup-host.sh installs, does
# not): a guest that never reached the script is booted again.
for try in 1 2 3; do
	vmrc=0
	VM_QUIET=1 VM_RUN=$script VM_TIMEOUT=$timeout VM_IDLE=$timeout \
		VM_APPEND="${VM_APPEND:-} $append" \
		"$TOP/selftests/vm/run-vm.sh" "$kname" "$initrd" "$prefix" || vmrc=$?
	grep -q "^# vmtest: running" "$prefix.results" && break
	say "the guest died before running $script (boot $try); console: $prefix.log"
	[ "$try" = 3 ] && break
	cp "$prefix.log" "$prefix.boot$try.log"
	: > "$prefix.results"
done
sleep 1
kill "$tailpid" 2>/dev/null
wait "$tailpid" 2>/dev/null

res=$(tr -d '\r' < "$prefix.results")
done_rc=$(sed -n 's/^VMPOLICE-VMTEST-DONE rc=//p' <<< "$res")
splats=$(tr -d '\r' < "$prefix.log" |
	grep -E '\[ *[0-9]+\.[0-9]{6}\] +(WARNING:|BUG:|kernel BUG at|KASAN|UBSAN|Oops|general protection fault|Kernel panic|Call Trace:)' |
	head -n 20)
rc=0
if [ -n "$splats" ]; then
	say "kernel splats in $prefix.log:"
	printf '  %s\n' "$splats" >&2
	rc=1
fi
if [ "$vmrc" = 124 ]; then
	say "the guest timed out after ${timeout}s (console: $prefix.log)"
	rc=1
elif [ -z "$done_rc" ]; then
	say "the guest did not finish (crash?); console: $prefix.log"
	rc=1
elif [ "$done_rc" != 0 ]; then
	say "$script exited $done_rc in the guest (console: $prefix.log)"
	rc=1
fi

# ---- results (make bench) ----
if [ "$mode" = bench ]; then
	files=$(sed -n 's/^BENCH-BEGIN \([A-Za-z0-9._-]*\)$/\1/p' <<< "$res")
	files=$(echo $files)
	# the command that produced them, BENCH_ARGS included
	cmd=${BENCH_COMMAND:-scripts/bench.sh $kname}
	[ -n "${BENCH_ARGS:-}" ] && cmd="BENCH_ARGS='$BENCH_ARGS' $cmd"
	if [ -n "$files" ]; then
		mkdir -p "$TOP/results"
		for f in $files; do
			awk -v f="$f" '
				$0 == "BENCH-END " f { on = 0 }
				on { print }
				$0 == "BENCH-BEGIN " f { on = 1 }' <<< "$res" \
				> "$TOP/results/$f"
			say "wrote results/$f"
		done
		if [ -f "$TOP/results/pktgen-cost-tables.md" ]; then
			{
				echo "# vmpolice cost per packet at the ingress hook (pktgen)"
				echo
				echo "Produced by \`$cmd\`" \
					"(host side: \`scripts/bench.sh\`, guest side: the pktgen part of \`bench/guest-bench.sh\`)" \
					"at $(date -u '+%Y-%m-%d %H:%M UTC') at commit $(git -C "$TOP" rev-parse --short HEAD 2>/dev/null || echo unknown)," \
					"in $(( $(date +%s) - start )) s (build and boot included)," \
					"on a $(nproc)-core $(uname -m) host ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1))."
				echo "Raw numbers: [pktgen-cost.dat](pktgen-cost.dat)."
				echo
				cat "$TOP/results/pktgen-cost-tables.md"
			} > "$TOP/results/pktgen-cost.md"
			rm -f "$TOP/results/pktgen-cost-tables.md"
			say "wrote results/pktgen-cost.md"
		fi
		if [ -f "$TOP/results/bench-tables.md" ]; then
			{
				echo "# vmpolice conformance benchmark"
				echo
				echo "Produced by \`$cmd\`" \
					"(host side: \`scripts/bench.sh\`, guest side: \`bench/guest-bench.sh\`)" \
					"at $(date -u '+%Y-%m-%d %H:%M UTC'), in $(( $(date +%s) - start )) s," \
					"on a $(nproc)-core $(uname -m) host ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1))."
				echo "The guest runs under QEMU TCG (no KVM), next to other"
				echo "guests on the same host: absolute numbers mean little, compare"
				echo "the columns.  Plot: [bench.png](bench.png); raw numbers:"
				echo "[bench.dat](bench.dat)."
				echo
				cat "$TOP/results/bench-tables.md"
			} > "$TOP/results/bench.md"
			rm -f "$TOP/results/bench-tables.md"
			say "wrote results/bench.md"
		fi
		if [[ " $files " == *" bench.dat "* ]] && command -v gnuplot > /dev/null; then
			if gnuplot -e "dat='$TOP/results/bench.dat'; out='$TOP/results/bench.png'" \
				"$TOP/bench/plot.gp" 2> "$LOGS/gnuplot.log"; then
				say "wrote results/bench.png"
			else
				cat "$LOGS/gnuplot.log" >&2
				say "gnuplot failed"
				rc=1
			fi
		fi
	else
		say "no results in $prefix.results"
		rc=1
	fi
fi
say "$mode on $kname took $(( $(date +%s) - start ))s"
exit "$rc"
