#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the test guest's initramfs for one kernel.
#
# Usage: mkinitramfs.sh KERNEL OUTPUT
#   KERNEL  6.1 | 6.12 | debug  (see scripts/kernel-info.sh)
#
# Contents: busybox-static for the odds and ends; real bash, tc, ip,
# iperf3, ethtool, jq, kmod, coreutils, ... with their libraries; the
# stock kernel's tc/veth/... modules (stock kernels), our vmpolice.ko in
# /lib/modules/<rel>/extra with depmod run; the tc plugins in tc's
# TC_LIB_DIR, the patched tc as /opt/vmpolice/bin/tc, the selftests in
# /opt/vmpolice/selftests, bench/ in /opt/vmpolice/bench and
# selftests/vm/init as /init; python3 (tdc's modules only) and the
# kernel's tdc.py in /opt/vmpolice/tdc.
#
# Environment:
#   VMPOLICE_KO      module to install (default build/kmod-KERNEL/kmod/vmpolice.ko);
#                    vmpolice_kunit.ko beside it (KUnit kernels) goes in too
#   TC_BUILD         dir with m_vmpolice.so q_vmpolice.so tc (iproute2-patch/build)
#   SELFTESTS_DIR    selftests to install (default: this tree's selftests/)
#   ALLOW_MISSING=1  warn instead of failing when the module, the tc side
#                    or the selftests/tools/vmtap-* programs are not built
#                    (harness work only)
set -euo pipefail

ME=${0##*/}
TOP=$(cd "$(dirname "$0")/../.." && pwd)

say() { printf '%s: %s\n' "$ME" "$*" >&2; }
die() { printf '%s: error: %s\n' "$ME" "$*" >&2; exit 1; }
missing()
{
	if [ "${ALLOW_MISSING:-0}" = 1 ]; then
		say "WARNING: $* (ALLOW_MISSING=1, continuing)"
	else
		die "$* (set ALLOW_MISSING=1 to boot without it)"
	fi
}

[ $# -eq 2 ] || die "usage: $ME 6.1|6.12|debug OUTPUT"
kname=$1
out=$(realpath -m "$2")
eval "$("$TOP/scripts/kernel-info.sh" "$kname")"

KO=${VMPOLICE_KO:-$TOP/build/kmod-$kname/kmod/vmpolice.ko}
TC_BUILD=${TC_BUILD:-$TOP/iproute2-patch/build}
SELFTESTS_DIR=${SELFTESTS_DIR:-$TOP/selftests}
# the vmtap programs, one per job (selftests/tools/Makefile's PROGS)
VMTAP_PROGS="vmtap-inject vmtap-forward vmtap-send vmtap-stream vmtap-sink
	vmpolice-queues"

# The stock modules the selftests may use; built in on the debug kernel.
STOCK_MODULES="veth dummy bridge tun ifb sch_ingress sch_tbf sch_htb sch_fq sch_fq_codel
sch_prio sch_netem sch_mqprio cls_matchall cls_u32 cls_basic cls_flower
act_police act_gact act_mirred act_skbedit pktgen 8021q vxlan ip_gre sctp"

# Userland.  Required ones must exist on the host (setup-host.sh installs
# them); the rest are copied when present.
REQUIRED_BINS="/usr/bin/bash /usr/sbin/tc /usr/sbin/ip /usr/bin/iperf3
/usr/sbin/ethtool /usr/bin/jq /usr/bin/kmod /usr/bin/timeout
/usr/bin/busybox"
OPTIONAL_BINS="/usr/bin/ss /usr/bin/nstat /usr/sbin/bridge /usr/bin/mawk
/usr/bin/grep /usr/bin/sed /usr/bin/find /usr/bin/xargs /usr/bin/gzip
/usr/bin/cat /usr/bin/cp /usr/bin/mv /usr/bin/rm /usr/bin/ln /usr/bin/ls
/usr/bin/mkdir /usr/bin/rmdir /usr/bin/chmod /usr/bin/date /usr/bin/sleep
/usr/bin/head /usr/bin/tail /usr/bin/wc /usr/bin/sort /usr/bin/uniq
/usr/bin/cut /usr/bin/tr /usr/bin/tee /usr/bin/seq /usr/bin/stat
/usr/bin/env /usr/bin/id /usr/bin/uname /usr/bin/dd /usr/bin/printf
/usr/bin/mktemp /usr/bin/readlink /usr/bin/dirname /usr/bin/basename
/usr/bin/touch /usr/bin/true /usr/bin/false /usr/bin/nproc /usr/bin/sync
/usr/bin/od /usr/bin/stty /usr/bin/expr /usr/bin/comm /usr/bin/paste
/usr/bin/realpath /usr/bin/numfmt /usr/bin/bc /usr/bin/diff
/usr/bin/setsid /usr/bin/nsenter /usr/bin/unshare /usr/bin/flock
/usr/sbin/sysctl /usr/bin/ping /usr/bin/strace"

root=$(mktemp -d "${TMPDIR:-/tmp}/vmpolice-initramfs.XXXXXX")
trap 'rm -rf "$root"' EXIT

# Merged /usr, like Debian 12.
mkdir -p "$root"/usr/{bin,sbin,lib,lib64} "$root"/{dev,proc,sys,tmp,run,root,etc,mnt,var/tmp}
ln -s usr/bin "$root/bin"
ln -s usr/sbin "$root/sbin"
ln -s usr/lib "$root/lib"
ln -s usr/lib64 "$root/lib64"
mknod -m 600 "$root/dev/console" c 5 1
mknod -m 666 "$root/dev/null" c 1 3

# copy_file HOSTPATH [GUESTPATH]: copy dereferenced, creating dirs.
copy_file()
{
	local src=$1 dst=${2:-$1}

	[ -e "$root$dst" ] && return 0
	mkdir -p "$root$(dirname "$dst")"
	cp -L "$src" "$root$dst"
}

# copy_libs FILE: the shared libraries FILE needs (per ldd).
copy_libs()
{
	local lib

	for lib in $(ldd "$1" 2>/dev/null |
		     awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
		copy_file "$lib"
	done
}

# copy_bin HOSTPATH [GUESTPATH]
copy_bin()
{
	copy_file "$@"
	copy_libs "$1"
}

for b in $REQUIRED_BINS; do
	[ -x "$b" ] || die "$b missing on the host (run scripts/setup-host.sh)"
	copy_bin "$b"
done
for b in $OPTIONAL_BINS; do
	[ -x "$b" ] && copy_bin "$b"
done
[ -e "$root/usr/bin/mawk" ] && ln -s mawk "$root/usr/bin/awk"
ln -s bash "$root/usr/bin/sh"
for t in modprobe insmod rmmod lsmod depmod modinfo; do
	ln -s ../bin/kmod "$root/usr/sbin/$t"
done
# busybox for everything else, but never in place of a real binary
# (Debian's busybox would run its own ip/tc applets otherwise).
while read -r applet; do
	a=${applet##*/}
	[ -e "$root/usr/bin/$a" ] || [ -e "$root/usr/sbin/$a" ] ||
		[ -L "$root/usr/bin/$a" ] || [ -L "$root/usr/sbin/$a" ] ||
		ln -s /usr/bin/busybox "$root/usr/bin/$a"
done < <(/usr/bin/busybox --list)

# Data files tc, ip and friends read.
[ -d /etc/iproute2 ] && cp -a /etc/iproute2 "$root/etc/"
[ -d /usr/share/iproute2 ] && mkdir -p "$root/usr/share" &&
	cp -a /usr/share/iproute2 "$root/usr/share/"
for f in /etc/protocols /etc/services /etc/ethertypes; do
	[ -f "$f" ] && copy_file "$f"
done
echo "root:x:0:0:root:/root:/bin/bash" > "$root/etc/passwd"
echo "root:x:0:" > "$root/etc/group"
printf '127.0.0.1\tlocalhost\n::1\tlocalhost\n' > "$root/etc/hosts"

# tc's TC_LIB_DIR (Debian: /usr/lib/x86_64-linux-gnu/tc; /usr/lib/tc
# for tc binaries built with the upstream default): netem tables and
# our plugins.
tclib=/usr/lib/x86_64-linux-gnu/tc
mkdir -p "$root$tclib"
cp /usr/lib/x86_64-linux-gnu/tc/*.dist "$root$tclib/" 2>/dev/null || true
ln -s x86_64-linux-gnu/tc "$root/usr/lib/tc"
mkdir -p "$root/opt/vmpolice/bin"
for so in m_vmpolice.so q_vmpolice.so; do
	if [ -f "$TC_BUILD/$so" ]; then
		cp "$TC_BUILD/$so" "$root$tclib/"
		copy_libs "$TC_BUILD/$so"
	else
		missing "$TC_BUILD/$so not built (make -C iproute2-patch)"
	fi
done
# patched_tc SRC NAME: a patched tc as /opt/vmpolice/bin/NAME.  tc
# prefers a plugin in its TC_LIB_DIR to its own module: with ours there
# a patched tc ran the plugins' code, not the patch's (and 7.1.0 crashes
# in plugins built for 6.1's module interface).  So it runs behind a
# wrapper with a TC_LIB_DIR of its own, holding only the netem tables.
patched_tc()
{
	local lib=/opt/vmpolice/lib/$2 dist

	copy_bin "$1" "/opt/vmpolice/libexec/$2"
	mkdir -p "$root$lib"
	for dist in "$root$tclib"/*.dist; do
		[ -e "$dist" ] || continue
		ln -s "$tclib/${dist##*/}" "$root$lib/"
	done
	printf '#!/bin/sh\nTC_LIB_DIR=%s exec /opt/vmpolice/libexec/%s "$@"\n' \
		"$lib" "$2" > "$root/opt/vmpolice/bin/$2"
	chmod 755 "$root/opt/vmpolice/bin/$2"
}

if [ -x "$TC_BUILD/tc" ]; then
	patched_tc "$TC_BUILD/tc" tc
else
	missing "$TC_BUILD/tc not built (make -C iproute2-patch)"
fi
# Upstream iproute2 7.1.0 with the series: only where its tarball is
# (make -C iproute2-patch builds it then).
if [ -x "$TC_BUILD/tc-7.1" ]; then
	patched_tc "$TC_BUILD/tc-7.1" tc-7.1
else
	say "no $TC_BUILD/tc-7.1 (no iproute2 7.1.0 tarball): two tc variants"
fi

# Selftests (not the host-side harness or unit tests).
mkdir -p "$root/opt/vmpolice/selftests"
rsync -a --exclude /vm/ --exclude /unit/ --exclude '*.o' --exclude '*.d' \
	"$SELFTESTS_DIR/" "$root/opt/vmpolice/selftests/"
# (rsync copied the programs with the rest of selftests/tools/)
for p in $VMTAP_PROGS; do
	if [ -x "$SELFTESTS_DIR/tools/$p" ]; then
		copy_libs "$SELFTESTS_DIR/tools/$p"
	else
		missing "$SELFTESTS_DIR/tools/$p not built (make -C selftests/tools)"
	fi
done
install -m 755 "$TOP/selftests/vm/init" "$root/init"
# The simulated guest, benchmark and demo scripts (make bench/demo; the
# simulated guest they use is selftests/simguest.sh).
if [ -d "$TOP/bench" ]; then
	mkdir -p "$root/opt/vmpolice/bench"
	rsync -a "$TOP/bench/" "$root/opt/vmpolice/bench/"
fi

# tdc, the kernel's tc test driver, for tdc/run.sh: tdc.py and its
# helpers from the tc-testing directory of the 7.3 source that
# setup-host.sh fetches (unpacked once into the cache; not the kernel's
# own tc-tests, nor plugin-lib: our cases need no plugin), and python3
# with only the standard-library modules tdc loads (selftests/tdc/pydeps.py
# runs it on the host to list them).
CACHE=${VMPOLICE_CACHE:-$HOME/.cache/vmpolice}
KSRC_TARBALL=${VMPOLICE_KSRC:-$CACHE/src/linux-source-7.3.tar.xz}
tdc_tree()
{
	local tc_testing=tools/testing/selftests/tc-testing dir tmp

	[ -f "$KSRC_TARBALL" ] || return 1
	dir=$CACHE/tdc/$(basename "$KSRC_TARBALL" .tar.xz)-$(stat -c %s "$KSRC_TARBALL")
	if [ ! -f "$dir/tc-testing/tdc.py" ]; then
		say "unpacking tdc from $(basename "$KSRC_TARBALL")"
		tmp=$(mktemp -d "$CACHE/tdc.XXXXXX")
		tar -xJf "$KSRC_TARBALL" -C "$tmp" --strip-components=1 \
			--wildcards "*/$tc_testing/*" || { rm -rf "$tmp"; return 1; }
		rm -rf "$dir"
		mkdir -p "$dir"
		mv "$tmp/$tc_testing" "$dir/tc-testing"
		rm -rf "$tmp"
	fi
	echo "$dir/tc-testing"
}
if tdc=$(tdc_tree) && [ -x /usr/bin/python3 ]; then
	copy_bin /usr/bin/python3
	pydeps=$(/usr/bin/python3 "$TOP/selftests/tdc/pydeps.py" "$tdc") ||
		die "selftests/tdc/pydeps.py failed"
	for f in $pydeps; do
		mkdir -p "$root$(dirname "$f")"
		cp -L --preserve=timestamps "$f" "$root$f"
		case "$f" in *.so) copy_libs "$f" ;; esac
	done
	mkdir -p "$root/opt/vmpolice/tdc/plugins"
	for f in tdc.py tdc_config.py tdc_helper.py TdcPlugin.py TdcResults.py \
		 plugins/__init__.py; do
		cp "$tdc/$f" "$root/opt/vmpolice/tdc/$f"
	done
else
	missing "no tdc (python3 or $KSRC_TARBALL missing: run scripts/setup-host.sh)"
fi

# Modules.
mdir=$root/lib/modules/$KREL
mkdir -p "$mdir/extra"
for f in modules.builtin modules.builtin.modinfo modules.order; do
	[ -f "$KBUILTIN/$f" ] && cp "$KBUILTIN/$f" "$mdir/"
done
if [ -n "$KMODDIR" ]; then
	kroot=${KMODDIR%/lib/modules/*}
	for m in $STOCK_MODULES; do
		deps=$(modprobe -d "$kroot" -S "$KREL" --show-depends "$m" 2>&1) ||
			die "$KREL has no module $m: $deps"
		while read -r kind path _; do
			[ "$kind" = insmod ] || continue
			rel=${path#"$KMODDIR"/}
			mkdir -p "$mdir/$(dirname "$rel")"
			cp -n "$path" "$mdir/$rel"
		done <<< "$deps"
	done
fi
if [ -f "$KO" ]; then
	cp "$KO" "$mdir/extra/vmpolice.ko"
else
	missing "$KO not built"
fi
# The KUnit tests (vmpolice_kunit.sh loads them), built for KUnit kernels only.
if [ -f "$(dirname "$KO")/vmpolice_kunit.ko" ]; then
	cp "$(dirname "$KO")/vmpolice_kunit.ko" "$mdir/extra/vmpolice_kunit.ko"
fi
depmod -b "$root" "$KREL"

mkdir -p "$(dirname "$out")"
(cd "$root" && find . -print0 | LC_ALL=C sort -z |
	cpio --null -o -H newc --owner 0:0 --quiet) | zstd -q -T0 -6 > "$out.tmp"
mv "$out.tmp" "$out"
say "$out: $(du -sh "$root" | cut -f1) unpacked, $(du -h "$out" | cut -f1) zstd ($KREL)"
