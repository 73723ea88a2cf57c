#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench-bucket: build bucket_bench from source (-O2) and write
# results/bucket-contention.md (the table, the goals read from it, the
# conditions of the run) and results/bucket-contention.tsv (every run).
#
# Usage: run.sh [REPS [ITERS]]   (default 9 repetitions of 10^7 packets
# per thread and run)
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
REPS=${1:-9}
ITERS=${2:-10000000}
OUT=${BENCH_BUCKET_OUT:-$TOP/results/bucket-contention.md}
RAW=${OUT%.md}.tsv
COMMAND=${BENCH_COMMAND:-bench/bucket/run.sh $*}

make -s -C "$HERE" bucket_bench >&2
mkdir -p "$(dirname "$OUT")"
commit=$(git -C "$TOP" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$TOP" status --porcelain -- kmod selftests/unit bench/bucket 2>/dev/null)" ]; then
	commit="$commit (with uncommitted changes to kmod/, selftests/unit/ or bench/bucket/)"
fi
cpu=$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -n1)
hyp=$(lscpu | sed -n 's/^Hypervisor vendor:[[:space:]]*//p' | head -n1)
ncpu=$(nproc)
clocksrc=$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource 2>/dev/null || echo unknown)
# /proc/stat's cpu line: user nice system idle iowait irq softirq steal
cpustat() { awk '/^cpu /{print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8+$9, $9}' /proc/stat; }
# CPU seconds (user + system) of this script's children so far: the
# builtin must run in this shell, not in a subshell
TIMES=$(mktemp)
trap 'rm -f "$TIMES"' EXIT
childsecs() {
	tr 'ms' '  ' < "$TIMES" |
		awk 'NR == 2 { print $1 * 60 + $2 + $3 * 60 + $4 }'
}
others=$(ps -eo comm= | grep -c '^qemu-system' || true)
load_before=$(uptime)
read -r busy0 all0 steal0 < <(cpustat)
times > "$TIMES"
cu0=$(childsecs)
start=$(date -u '+%Y-%m-%d %H:%M UTC')
t0=$(date +%s)
table=$("$HERE/bucket_bench" -n "$REPS" -i "$ITERS" -r "$RAW")
t1=$(date +%s)
read -r busy1 all1 steal1 < <(cpustat)
times > "$TIMES"
cu1=$(childsecs)
hz=$(getconf CLK_TCK)
load_after=$(uptime)
usage=$(awk -v b="$((busy1 - busy0))" -v a="$((all1 - all0))" \
	-v s="$((steal1 - steal0))" -v u="$cu0" -v v="$cu1" -v hz="$hz" \
	'BEGIN { a = a > 0 ? a : 1; o = b - (v - u) * hz; if (o < 0) o = 0;
		 printf "%.0f %% of the CPUs busy with other processes, %.1f %% stolen by the host", 100 * o / a, 100 * s / a }')

{
	cat <<HDR
# vmpolice bucket contention benchmark (userspace)

Produced by \`$COMMAND\` (\`bench/bucket/run.sh\`, program
\`bench/bucket/bucket_bench.c\`) at $start, in $((t1 - t0)) s, at commit
$commit.

- CPU: $cpu, $ncpu CPUs${hyp:+ (a guest of $hyp)}; clock source $clocksrc;
  gcc $(gcc -dumpfullversion), -O2.
- Load (\`uptime\`) before: \`${load_before# }\`
- Load after: \`${load_after# }\`
- During the run: $usage (/proc/stat); QEMU guests running at the
  start: $others.
- $REPS repetitions; in each, every case runs once ($ITERS packets per
  thread), in an order rotated from one repetition to the next, so that
  load from elsewhere hits all cases alike.  Cells: median (min..max)
  over the repetitions; ratios are taken within a repetition.  Every
  run's numbers: [$(basename "$RAW")]($(basename "$RAW")).

What runs: each thread, pinned to its own CPU (1 thread: CPU 0; 2
threads: CPUs 0 and 1), charges 1514-byte frames one at a time.

- vmpolice: \`kmod/vmpolice_bucket.h\` itself, built with
  \`selftests/unit/kshim.h\` (\`-DKSHIM_BENCH\`: plain load for
  \`atomic64_read\`, \`lock cmpxchg\` for \`atomic64_try_cmpxchg\`), called
  as the action or the qdisc and \`vmp_police()\` call it: the parameters'
  pointer read, clock read, train, the configuration (\`struct vmp_gen\`)
  and cost per bucket, \`vmp_bucket_take()\` on the thread's own queue
  bucket (b) and then on the one shared aggregate bucket (a, b), each
  with its generation check and its \`VMP_STALE\` test; on a refusal the
  clock is read again and \`vmp_bucket_refund()\` runs, as
  \`vmp_refund()\` does.  No configuration changes during a run (no
  packet starts over, no bucket is converted).  The thread's queue is at
  a fixed address: the module's lookup of the queue's chunk is not
  modelled.  The
  row "+ 3 atomic queue counters" adds the three locked adds that
  \`vmp_police()\` makes today on the queue's cache line per packet
  (packets, then conformed and conformed_bytes, or exceeded and
  exceeded_bytes).  Row (d) is the thread's own queue bucket alone
  (\`queue-rate\` without \`rate\`), the one shape with no shared
  cache line.
- police: a model of \`tcf_police_act()\` (rate only, no peakrate): clock
  read, then a spinlock (locked cmpxchg to take it, a store to release
  it, waiters spinning with pause) around toks/t_c on the lock's cache
  line, with psched's reciprocal (mult/shift) time math.  Its per-CPU
  byte counters are not modelled, nor vmpolice's other counters.
- floor: the clock read and the train alone, no bucket.
- Rates: "conform" is 8 Tbit/s with 1 ms of burst (every packet
  conforms: the charging cost, no drops); "saturated" is 1 Gbit/s with a
  64 KiB burst (almost every packet is refused; under an aggregate,
  vmpolice's queue buckets stay at 8 Tbit/s, so they take and are
  refunded; in (d) the queue buckets have the 1 Gbit/s); "clock every 256
  pkts" is "conform" with the clock read once per 256 packets, to show
  the buckets' own cost and scaling without the clock's.

HDR
	echo "$table"
	cat <<'FTR'

What this cannot show:

- It is userspace on a guest's vCPUs: no softirq, no skb, no header
  parsing, no qdisc or tap around the charge; the cache lines of real
  queues and skbs are not competing for the caches.  Two vCPUs are not
  known to be two physical cores (the host may run them on SMT siblings,
  or take them away: the floor row's own scaling says what the machine
  gave).
- The clock is the guest's vDSO clock_gettime(CLOCK_MONOTONIC); the
  kernel's ktime_get_ns() reads the same clock source but not through
  the vDSO, so the clock's share of each row is the userspace one.
- The spinlock is a model of the kernel's qspinlock with one waiter, and
  spin_lock_bh()'s bottom-half disabling is not modelled.
- It is native code: TCG (the guests of make check and make bench) plays
  no part here, and says nothing about these numbers.
FTR
} > "$OUT"
echo "wrote $OUT and $RAW" >&2
