#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Everything that gates a merge (make check, .ci/run):
#
#   setup-host     install/fetch what is missing (scripts/setup-host.sh)
#   debug-kernel   build or reuse the cached 7.3 debug kernel
#   unit           make -C selftests/unit run (when there are unit tests):
#                  the bucket arithmetic, and the vmtap library's frame
#                  builder, checksums and wire bytes (test_frame)
#   checkpatch     checkpatch.pl --strict on the module sources
#   module-*       vmpolice.ko for 6.1, 6.12, debug; W=1, no warnings
#   tc, tools      the tc side (iproute2-patch) and the selftest tools
#   tc-check       the tc side's own checks: patch up to date, style,
#                  tc against a netlink stand-in (make -C iproute2-patch
#                  check)
#   deb-check      make deb, then both packages installed, checked and
#                  purged in a Debian 12 chroot with the 6.1 and 6.12
#                  headers, and make dkms-install there
#                  (scripts/deb-check.sh)
#   deb-guest      the 6.12 module DKMS built there, in a 6.12 guest
#                  running vmpolice_basic.sh (scripts/deb-guest.sh)
#   vmtest-*       the selftests in a QEMU guest on each kernel, one
#                  after the other (GUESTS_PARALLEL=1: the debug guest
#                  beside the stock ones, quicker but the TCP rate tests
#                  then share the host's two CPUs)
#
# Each step logs to <step>.log in this run's folder, build/logs/check/
# (scripts/logs.sh).  A failing step does not stop
# the others (except setup-host).  The last line is "N passed, N failed",
# counting selftest cases over all kernels; the exit status is non-zero
# if any step or test failed.
#
# For a quicker look (never for CI): KERNELS="debug" limits the guests,
# TESTS="a.sh b.sh" the selftests they run.
set -uo pipefail

ME=${0##*/}
TOP=$(cd "$(dirname "$0")/.." && pwd)
. "$TOP/scripts/logs.sh"
KERNELS=${KERNELS:-6.1 6.12 debug}
TESTS=${TESTS:-}
export VM_QUIET=1

cd "$TOP" || exit 1
vmp_logs check
start_all=$(date +%s)
failed_steps=()
summary=()

# step NAME CMD...: run CMD with its output in $LOGS/NAME.log.
step()
{
	local name=$1 log=$LOGS/$1.log t0 rc=0 dt

	shift
	printf '%s: %-20s ' "$ME" "$name"
	t0=$(date +%s)
	"$@" > "$log" 2>&1 < /dev/null || rc=$?
	dt=$(( $(date +%s) - t0 ))
	if [ "$rc" = 0 ]; then
		printf 'ok (%ss)\n' "$dt"
		summary+=("$(printf '%-20s ok      %5ss' "$name" "$dt")")
	else
		printf 'FAILED (%ss, exit %s, log %s)\n' "$dt" "$rc" "${log#"$TOP"/}"
		summary+=("$(printf '%-20s FAILED  %5ss  %s' "$name" "$dt" "${log#"$TOP"/}")")
		failed_steps+=("$name")
		tail -n 25 "$log" | sed 's/^/    | /'
	fi
	return "$rc"
}

if [ -n "$TESTS" ]; then
	nprogs=$(echo "$TESTS" | tr ' ,' '\n\n' | grep -c .)
else
	nprogs=$(make -s -C selftests list-tests | grep -c .)
fi

if ! step setup-host "$TOP/scripts/setup-host.sh"; then
	echo "$ME: cannot set up the host, nothing tested"
	echo "0 passed, $((nprogs * $(echo $KERNELS | wc -w))) failed"
	exit 1
fi

step debug-kernel "$TOP/scripts/build-debug-kernel.sh"

if [ -f selftests/unit/Makefile ]; then
	step unit make -C selftests/unit run
else
	echo "$ME: unit                 skipped (no selftests/unit/Makefile)"
fi

step checkpatch "$TOP/scripts/checkpatch.sh"

for k in $KERNELS; do
	step "module-$k" "$TOP/scripts/build-module.sh" "$k"
done

# Built once here, so that the guests' own (then no-op) builds of the
# tc side and the test tools do not race each other.
step tc make -C iproute2-patch
step tc-check make -C iproute2-patch check
step tools make -C selftests/tools

# The Debian packages, before the guests (the longest part).  Their
# KTAP cases count with the selftests' below.
step deb-check "$TOP/scripts/deb-check.sh"
step deb-guest "$TOP/scripts/deb-guest.sh"

# guest KERNEL: one vmtest in the background, its log in
# $LOGS/vmtest-KERNEL.log and "EXIT SECONDS" in .status next to it.
guest()
{
	local k=$1 t0 rc=0

	t0=$(date +%s)
	"$TOP/scripts/vmtest.sh" "$k" "$TESTS" > "$LOGS/vmtest-$k.log" 2>&1 \
		< /dev/null || rc=$?
	echo "$rc $(( $(date +%s) - t0 ))" > "$LOGS/vmtest-$k.status"
}

# cpu_ticks: "BUSY STEAL TOTAL" jiffies of all host CPUs so far (steal:
# time the hypervisor under this host gave to others)
cpu_ticks()
{
	awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i;
		print t - $5 - $6 - $9, $9, t }' /proc/stat
}

# The guests run one after the other: the TCP tests of
# vmpolice_shaping.sh run at 131 Mbit/s, which a TCG guest only carries
# with the host's CPUs to itself.  GUESTS_PARALLEL=1 runs the debug
# guest (the longest: fork, exec and netlink cost ten times more there
# under KASAN, lockdep and kmemleak) beside the stock ones.  The summary
# shows the host's busy and steal time: rate tests cannot hold when the
# host itself takes the CPUs away.
pids=()
serial=()
parallel=${GUESTS_PARALLEL:-0}
for k in $KERNELS; do
	rm -f "$LOGS/vmtest-$k.status"
	if [ "$k" = debug ] && [ "$parallel" = 1 ]; then
		guest "$k" &
		pids+=($!)
	else
		serial+=("$k")
	fi
done
if [ ${#serial[@]} -gt 0 ]; then
	(for k in "${serial[@]}"; do guest "$k"; done) &
	pids+=($!)
fi
echo "$ME: guests ($KERNELS) running$([ "$parallel" = 1 ] &&
	echo ', debug beside the others')"
read -r busy0 steal0 total0 < <(cpu_ticks)
wait "${pids[@]}"
read -r busy1 steal1 total1 < <(cpu_ticks)
host_cpu=$(awk -v b=$((busy1 - busy0)) -v s=$((steal1 - steal0)) \
	-v t=$((total1 - total0)) 'BEGIN { if (!t) t = 1;
	printf "host CPU during the guests: %.0f %% busy, %.0f %% stolen",
		b * 100 / t, s * 100 / t }')
echo "$ME: $host_cpu"

pass=0 fail=0 skip=0
for name in deb-check deb-guest; do
	log=$LOGS/$name.log
	p=$(grep -E '^ok [0-9]+' "$log" 2>/dev/null | grep -vc '# SKIP')
	f=$(grep -E '^not ok [0-9]+' "$log" 2>/dev/null | grep -c .)
	s=$(grep -E '^ok [0-9]+' "$log" 2>/dev/null | grep -c '# SKIP')
	grep -E '^(not ok|ok .*# SKIP)' "$log" 2>/dev/null | sed "s/^/    $name: /"
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
	summary+=("$(printf '  %-18s %s passed, %s failed, %s skipped' "$name" "$p" "$f" "$s")")
done
for k in $KERNELS; do
	name=vmtest-$k
	log=$LOGS/$name.log
	read -r rc dt < "$LOGS/$name.status" 2>/dev/null || { rc=1 dt=0; }
	if [ "$rc" = 0 ]; then
		printf '%s: %-20s ok (%ss)\n' "$ME" "$name" "$dt"
		summary+=("$(printf '%-20s ok      %5ss' "$name" "$dt")")
	else
		printf '%s: %-20s FAILED (%ss, exit %s, log %s)\n' "$ME" "$name" \
			"$dt" "$rc" "${log#"$TOP"/}"
		summary+=("$(printf '%-20s FAILED  %5ss  %s' "$name" "$dt" "${log#"$TOP"/}")")
		failed_steps+=("$name")
		tail -n 25 "$log" | sed 's/^/    | /'
	fi
	# The per-test verdict from check-log.sh, or the build error.
	sed -n '/^== /,$p' "$log" | sed 's/^/    /'
	if [ -f "$LOGS/vm-$k.counts" ]; then
		read -r p f s < "$LOGS/vm-$k.counts"
	else
		p=0 f=$nprogs s=0
		echo "    $k: no results, counting $nprogs test program(s) as failed"
	fi
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
	summary+=("$(printf '  %-18s %s passed, %s failed, %s skipped' "$k" "$p" "$f" "$s")")
done

echo
echo "$ME: summary (logs in ${LOGS#"$TOP"/}/)"
printf '  %s\n' "${summary[@]}"
echo "$ME: $host_cpu"
echo "$ME: total $(( $(date +%s) - start_all ))s, $skip skipped"
if [ ${#failed_steps[@]} -gt 0 ]; then
	echo "$ME: FAILED steps: ${failed_steps[*]}"
fi
echo "$pass passed, $fail failed"
[ ${#failed_steps[@]} -eq 0 ] && [ "$fail" -eq 0 ]
