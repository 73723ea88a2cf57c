#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build everything one guest needs, boot it and judge the run.
#
# Usage: vmtest.sh 6.1|6.12|debug [TESTS]
#   TESTS  space or comma separated selftest names (default: TEST_PROGS)
#
# Steps: vmpolice.ko for the kernel (scripts/build-module.sh), the tc
# side (make -C iproute2-patch), the selftest tools (make -C
# selftests/tools), the initramfs, the QEMU run, the verdict
# (selftests/vm/check-log.sh).  Logs in this run's folder (scripts/logs.sh:
# build/logs/vmtest/, or make check's):
#   vm-<kernel>.log       guest console
#   vm-<kernel>.results   kselftest output from the guest's second port
#   vm-<kernel>.counts    "PASSED FAILED SKIPPED" for make check
#
# ALLOW_MISSING=1 boots without the parts other people have not landed
# yet (module, tc side, tools); make check never sets it.
set -euo pipefail

ME=${0##*/}
TOP=$(cd "$(dirname "$0")/.." && pwd)
. "$TOP/scripts/logs.sh"

say() { printf '%s: %s\n' "$ME" "$*" >&2; }
die() { printf '%s: error: %s\n' "$ME" "$*" >&2; exit 1; }

[ $# -ge 1 ] && [ $# -le 2 ] || die "usage: $ME 6.1|6.12|debug [TESTS]"
kname=$1 tests=${2:-}
case "$kname" in
6.1|6.12|debug) ;;
*) die "unknown kernel '$kname' (want 6.1, 6.12 or debug)" ;;
esac
vmp_logs vmtest
mkdir -p "$TOP/build/vm"
counts=$LOGS/vm-$kname.counts
rm -f "$counts"

# Something before the boot failed: every test program counts as failed.
abort()
{
	local n

	say "error: $*"
	if [ -n "$tests" ]; then
		n=$(echo "$tests" | tr ' ,' '\n\n' | grep -c .)
	else
		n=$(make -s -C "$TOP/selftests" list-tests | grep -c .)
	fi
	echo "0 $n 0" > "$counts"
	echo "$kname: 0 passed, $n failed"
	exit 1
}

missing()
{
	if [ "${ALLOW_MISSING:-0}" = 1 ]; then
		say "WARNING: $* (ALLOW_MISSING=1, continuing)"
	else
		abort "$*"
	fi
}

if [ -d "$TOP/kmod" ] && ls "$TOP"/kmod/*.c > /dev/null 2>&1 ||
   [ -n "${VMPOLICE_SRC:-}" ]; then
	"$TOP/scripts/build-module.sh" "$kname" || abort "module build failed"
else
	missing "no module sources in kmod/"
fi

if [ -f "$TOP/iproute2-patch/Makefile" ]; then
	make -C "$TOP/iproute2-patch" > "$LOGS/tc-$kname.log" 2>&1 ||
		{ tail -n 30 "$LOGS/tc-$kname.log" >&2; abort "tc side build failed (log: $LOGS/tc-$kname.log)"; }
else
	missing "no iproute2-patch/Makefile"
fi

if [ -f "$TOP/selftests/tools/Makefile" ]; then
	make -C "$TOP/selftests/tools" > "$LOGS/tools-$kname.log" 2>&1 ||
		{ tail -n 30 "$LOGS/tools-$kname.log" >&2; abort "selftests/tools build failed (log: $LOGS/tools-$kname.log)"; }
else
	missing "no selftests/tools/Makefile"
fi

initrd=$TOP/build/vm/initramfs-$kname.img
"$TOP/selftests/vm/mkinitramfs.sh" "$kname" "$initrd" || abort "initramfs failed"

vmrc=0
"$TOP/selftests/vm/run-vm.sh" "$kname" "$initrd" "$LOGS/vm-$kname" "$tests" || vmrc=$?
if [ "$vmrc" != 0 ] && [ "$vmrc" != 124 ]; then
	abort "could not run the guest (exit $vmrc)"
fi
"$TOP/selftests/vm/check-log.sh" "$kname" "$LOGS/vm-$kname.log" \
	"$LOGS/vm-$kname.results" "$counts"
