#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build vmpolice.ko for one guest kernel, W=1, in its own build dir,
# failing on any compiler or modpost warning.
#
# Usage: build-module.sh 6.1|6.12|debug
#
#   build/kmod-<kernel>/        copy of Kbuild + kmod/ (rsync)
#   build/kmod-<kernel>/kmod/vmpolice.ko
#   build/kmod-<kernel>/kmod/vmpolice_kunit.ko   its KUnit tests, only for
#                               a kernel with CONFIG_KUNIT (the debug one)
#   module-<kernel>.log in the run's log folder (scripts/logs.sh)
#
# The debug kernel is built first if it is not cached yet.
set -euo pipefail

ME=${0##*/}
TOP=$(cd "$(dirname "$0")/.." && pwd)
SRC=${VMPOLICE_SRC:-$TOP}

say() { printf '%s: %s\n' "$ME" "$*" >&2; }
die() { printf '%s: error: %s\n' "$ME" "$*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: $ME 6.1|6.12|debug"
kname=$1
if [ "$kname" = debug ]; then
	"$TOP/scripts/build-debug-kernel.sh"
fi
eval "$("$TOP/scripts/kernel-info.sh" "$kname")"

[ -f "$SRC/Kbuild" ] && [ -d "$SRC/kmod" ] || die "no Kbuild or kmod/ in $SRC"
dir=$TOP/build/kmod-$kname
. "$TOP/scripts/logs.sh"
vmp_logs module
log=$LOGS/module-$kname.log
mkdir -p "$dir" "$(dirname "$log")"
rsync -a --delete --exclude '*.o' --exclude '*.ko' --exclude '.*.cmd' \
	--exclude '*.mod' --exclude '*.mod.c' --exclude modules.order \
	--exclude Module.symvers \
	"$SRC/Kbuild" "$SRC/kmod" "$dir/"
# (build products are excluded, hence kept: rebuilds are incremental)

say "building for $KREL ($kname) against $KDIR"
rc=0
make -C "$KDIR" M="$dir" W=1 -j"$(nproc)" modules > "$log" 2>&1 || rc=$?
if [ "$rc" != 0 ]; then
	cat "$log" >&2
	die "build for $kname failed (log: $log)"
fi
if grep -qi 'warning:' "$log"; then
	grep -i -B2 -A4 'warning:' "$log" >&2
	die "build for $kname has warnings (log: $log)"
fi
ko=$dir/kmod/vmpolice.ko
[ -f "$ko" ] || die "$ko not produced (log: $log)"
# The KUnit module exactly where the kernel has KUnit (modules.order is
# written by every build).
kunit_ko=$dir/kmod/vmpolice_kunit.ko
if grep -qs '^CONFIG_KUNIT=[ym]' "$KDIR/include/config/auto.conf"; then
	[ -f "$kunit_ko" ] && grep -q 'vmpolice_kunit' "$dir/kmod/modules.order" ||
		die "$kunit_ko not produced for a KUnit kernel (log: $log)"
	say "$kunit_ko OK ($KREL, KUnit tests)"
else
	rm -f "$kunit_ko"
	! grep -q 'vmpolice_kunit' "$dir/kmod/modules.order" ||
		die "vmpolice_kunit built for $KREL, which has no KUnit (log: $log)"
fi
say "$ko OK ($KREL, no warnings)"
