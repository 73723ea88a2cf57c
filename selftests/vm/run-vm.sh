#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot a test guest under QEMU TCG and collect its output.
#
# Usage: run-vm.sh KERNEL INITRD LOGPREFIX [TESTS]
#   KERNEL     6.1 | 6.12 | debug
#   LOGPREFIX  writes LOGPREFIX.log (console, ttyS0) and
#              LOGPREFIX.results (second serial port, ttyS1)
#   TESTS      comma or space separated test names (default: TEST_PROGS)
#
# The guest is killed when it prints nothing on the results port for
# longer than a test's timeout plus a margin, or overall after
# 120 s + (timeout + 30 s) per test.  Exit status: 0 when QEMU ended by
# itself, 124 on a timeout.  The verdict is check-log.sh's job.
#
# Environment: SELFTESTS_DIR (default: this tree's selftests/),
# VM_MEM (MiB, 2048), VM_SMP (2), VM_QUIET=1 (do not echo the console),
# VM_APPEND (more kernel command line), VM_CPU (QEMU -cpu, max), VM_RUN
# (a script under
# /opt/vmpolice the guest runs instead of the selftests, e.g.
# bench/guest-bench.sh), VM_TIMEOUT / VM_IDLE (seconds, override the limits
# above).
set -euo pipefail

ME=${0##*/}
TOP=$(cd "$(dirname "$0")/../.." && pwd)

say() { printf '%s: %s\n' "$ME" "$*" >&2; }
die() { printf '%s: error: %s\n' "$ME" "$*" >&2; exit 1; }

[ $# -ge 3 ] || die "usage: $ME KERNEL INITRD LOGPREFIX [TESTS]"
kname=$1 initrd=$2 prefix=$3 tests=${4:-}
eval "$("$TOP/scripts/kernel-info.sh" "$kname")"
[ -f "$initrd" ] || die "$initrd missing"

SELFTESTS_DIR=${SELFTESTS_DIR:-$TOP/selftests}
tests=$(echo "$tests" | tr ' ' ',' | sed 's/,,*/,/g; s/^,//; s/,$//')
if [ -n "$tests" ]; then
	ntests=$(echo "$tests" | tr , "\n" | wc -l)
else
	ntests=$(make -s -C "$SELFTESTS_DIR" list-tests | wc -l)
fi
per_test=$(sed -n 's/^timeout=\([0-9]*\)$/\1/p' "$SELFTESTS_DIR/settings")
per_test=${per_test:-45}
overall=$((120 + ntests * (per_test + 30)))
idle=$((per_test + 90))
overall=${VM_TIMEOUT:-$overall}
idle=${VM_IDLE:-$idle}

append="console=ttyS0 panic=-1 oops=panic panic_on_warn=1 loglevel=7"
append+=" mitigations=off nokaslr $KCMDLINE"
[ -n "$tests" ] && append+=" vmpolice_tests=$tests"
[ -n "${VM_RUN:-}" ] && append+=" vmpolice_run=$VM_RUN"
append+=" ${VM_APPEND:-}"

log=$prefix.log
res=$prefix.results
mkdir -p "$(dirname "$prefix")"
rm -f "$log" "$res"
: > "$res"

say "booting $KREL ($kname), $ntests test(s), timeout ${overall}s, idle ${idle}s"
start=$(date +%s)
qemu-system-x86_64 \
	-nodefaults -display none -no-reboot \
	-accel tcg,thread="${VM_TCG_THREAD:-multi}" -cpu "${VM_CPU:-max}" \
	-smp "${VM_SMP:-2}" -m "${VM_MEM:-2048}" \
	-net none \
	-serial "file:$log" -serial "file:$res" \
	-kernel "$KIMAGE" -initrd "$initrd" -append "$append" \
	< /dev/null > "$prefix.qemu" 2>&1 &
qpid=$!

tailpid=
if [ "${VM_QUIET:-0}" != 1 ]; then
	tail -n +1 -F "$log" 2>/dev/null &
	tailpid=$!
fi

rc=0
last=$start
lastsize=0
while kill -0 "$qpid" 2>/dev/null; do
	sleep 2
	now=$(date +%s)
	size=$(stat -c %s "$res" 2>/dev/null || echo 0)
	if [ "$size" != "$lastsize" ]; then
		lastsize=$size
		last=$now
	fi
	if [ $((now - start)) -ge "$overall" ]; then
		say "TIMEOUT: guest still running after ${overall}s, killing it"
		rc=124
	elif [ $((now - last)) -ge "$idle" ]; then
		say "TIMEOUT: no test output for ${idle}s, killing the guest"
		rc=124
	fi
	if [ "$rc" = 124 ]; then
		kill "$qpid" 2>/dev/null || true
		sleep 2
		kill -9 "$qpid" 2>/dev/null || true
		break
	fi
done
qrc=0
wait "$qpid" || qrc=$?
if [ -n "$tailpid" ]; then
	sleep 0.5
	kill "$tailpid" 2>/dev/null || true
	wait "$tailpid" 2>/dev/null || true
fi
if [ "$rc" = 0 ] && [ "$qrc" != 0 ]; then
	say "qemu exited with $qrc:"
	cat "$prefix.qemu" >&2
	rc=$qrc
fi
say "guest ran for $(( $(date +%s) - start ))s"
exit "$rc"
