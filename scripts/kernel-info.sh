#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Describe one of the guest kernels as shell assignments, for eval:
#
#   eval "$(scripts/kernel-info.sh 6.1)"
#
#   KNAME    6.1 | 6.12 | debug
#   KREL     kernel release (uname -r in the guest)
#   KIMAGE   the bzImage QEMU boots
#   KDIR     the tree an external module builds against (make -C)
#   KMODDIR  the kernel's own /lib/modules/KREL (stock kernels), or ""
#   KBUILTIN directory holding modules.builtin* for KREL
#   KCMDLINE extra kernel command line for this kernel
#
# Stock kernels come from scripts/setup-host.sh, the debug kernel from
# scripts/build-debug-kernel.sh; this only looks, it builds nothing.
set -euo pipefail

ME=${0##*/}
CACHE=${VMPOLICE_CACHE:-$HOME/.cache/vmpolice}

die() { printf '%s: error: %s\n' "$ME" "$*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: $ME 6.1|6.12|debug"
name=$1

case "$name" in
6.1|6.12)
	link=$CACHE/kernels/$name
	[ -L "$link" ] || die "$link missing (run scripts/setup-host.sh)"
	rel=$(readlink "$link")
	root=$CACHE/kernels/$rel
	[ -f "$root/vmlinuz" ] || die "$root/vmlinuz missing (run scripts/setup-host.sh)"
	kdir=/lib/modules/$rel/build
	[ -d "$kdir" ] || die "$kdir missing (headers; run scripts/setup-host.sh)"
	moddir=$root/lib/modules/$rel
	builtin=$moddir
	image=$root/vmlinuz
	cmdline=
	;;
debug)
	kdir=$CACHE/kernels/debug
	[ -f "$kdir/vmlinuz" ] && [ -f "$kdir/Module.symvers" ] ||
		die "no debug kernel in $kdir (run scripts/build-debug-kernel.sh)"
	kdir=$(readlink -f "$kdir")
	rel=$(cat "$kdir/include/config/kernel.release")
	moddir=
	builtin=$kdir
	image=$kdir/vmlinuz
	cmdline="kmemleak=on"
	;;
*)
	die "unknown kernel '$name' (want 6.1, 6.12 or debug)"
	;;
esac

printf 'KNAME=%q\nKREL=%q\nKIMAGE=%q\nKDIR=%q\nKMODDIR=%q\nKBUILTIN=%q\nKCMDLINE=%q\n' \
	"$name" "$rel" "$image" "$kdir" "$moddir" "$builtin" "$cmdline"
