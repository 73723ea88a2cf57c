#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make deb-check: the Debian packages as an operator installs them.
#
# Builds them (scripts/build-deb.sh), then, in a fresh Debian 12 chroot
# with the headers of the project's 6.1 and 6.12 kernels
# (scripts/kernel-info.sh), installs both with apt-get and checks that:
# DKMS built and installed vmpolice.ko for both kernels (dkms status, the
# .ko under updates/dkms with the kernel's vermagic, modprobe finds it by
# the action's and the qdisc's aliases), the stock tc loads the plugins,
# man finds tc-vmpolice(8), the tc package pins the chroot's iproute2;
# that apt-get purge removes every file the packages and their
# dependencies brought; and that "make dkms-install" works in a second
# chroot on the same base (while the packages build).
# The DKMS-built 6.12 module is kept in build/deb-check/ for
# scripts/deb-guest.sh, which boots it in a guest.
#
# Output: KTAP.  Without root or the network (no chroot), the chroot
# tests are reported as skipped, never as passed.
#
# Cache (VMPOLICE_CACHE, default ~/.cache/vmpolice): deb-check/base-KEY/,
# the chroot after debootstrap and the headers (KEY: the two kernel
# releases; rebuilt when they change or after BASE_MAX_DAYS), and
# deb-check/archives/, apt's downloaded packages.  Each run works on an
# overlay (or a copy) of the base, in a private mount namespace, and
# throws it away.
set -uo pipefail

ME=${0##*/}
TOP=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${VMPOLICE_CACHE:-$HOME/.cache/vmpolice}
DC=$CACHE/deb-check
OUT=$TOP/build/deb-check
MIRROR=${MIRROR:-http://deb.debian.org/debian}
BASE_MAX_DAYS=${BASE_MAX_DAYS:-14}
export LC_ALL=C.UTF-8

# Mounts (overlay, /proc, /dev) live and die with this private namespace.
if [ -z "${VMPOLICE_DEB_CHECK_NS:-}" ] && [ "$(id -u)" = 0 ] &&
   unshare --mount --propagation private true 2>/dev/null; then
	export VMPOLICE_DEB_CHECK_NS=1
	exec unshare --mount --propagation private "$0" "$@"
fi

NTESTS=18
n=0
failed=0
echo "TAP version 13"
echo "1..$NTESTS"

ok()   { n=$((n + 1)); echo "ok $n $1"; }
nok()  { n=$((n + 1)); echo "not ok $n $1"; failed=1; }
skip() { n=$((n + 1)); echo "ok $n $1 # SKIP $2"; }
diag() { sed 's/^/# /'; }
# check DESC CMD...: one test from a command's exit status, its output
# as diagnostics when it fails.
check()
{
	local desc=$1 out

	shift
	if out=$("$@" 2>&1); then
		ok "$desc"
	else
		nok "$desc"
		printf '%s\n' "$out" | tail -n 30 | diag
	fi
}
# skip_rest REASON: the remaining tests, skipped.
skip_rest()
{
	while [ "$n" -lt "$NTESTS" ]; do
		skip "${1%%:*}" "$1"
	done
}
finish()
{
	[ -n "${dkms_install_pid:-}" ] && wait "$dkms_install_pid"
	[ "$n" = "$NTESTS" ] || { echo "# $ME: ran $n of $NTESTS tests"; failed=1; }
	echo "# $ME: $(( $(date +%s) - start ))s"
	exit "$failed"
}
start=$(date +%s)
mkdir -p "$OUT"
rm -f "$OUT"/vmpolice-*.ko "$OUT"/*.sha256

# The packages build while the chroot is made (or reused).
"$TOP/scripts/build-deb.sh" > "$OUT/build-deb.log" 2>&1 &
build_pid=$!
version=$(sed -n 's/^PACKAGE_VERSION="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$TOP/dkms.conf")
dkms_deb=$TOP/build/deb/vmpolice-dkms_${version}_all.deb

# ----------------------------------------------------------- chroot ---
krel()
{
	(eval "$("$TOP/scripts/kernel-info.sh" "$1")" && echo "$KREL")
}
k61=$(krel 6.1 2>/dev/null) k612=$(krel 6.12 2>/dev/null)
# the key: the kernels and this recipe's version (bump it when make_base
# changes)
base=$DC/base-r2-$k61-$k612
run=$DC/run
# two chroots on the same base: pkg for the packages, src for make
# dkms-install (which runs while the packages build)
ROOT=$run/pkg/root
SRCROOT=$run/src/root

# inch CMD: run a shell command in the chroot, as root with a clean
# environment.
inch()
{
	chroot "$ROOT" /usr/bin/env -i HOME=/root TERM=dumb LC_ALL=C.UTF-8 \
		PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
		bash -c "$1"
}

APT_OPTS="-y -q -o APT::Keep-Downloaded-Packages=true -o Dpkg::Use-Pty=0"

# make_base: debootstrap bookworm with the two kernels' headers (and
# what an operator's host has: iproute2, man-db, kmod; make and rsync
# for make dkms-install) into $base.
make_base()
{
	local tmp=$base.tmp t

	rm -rf "$tmp" "$DC"/base-*
	mkdir -p "$tmp" "$DC/archives/partial"
	echo "debootstrap bookworm into $tmp"
	# A throwaway chroot: dpkg need not fsync every file it unpacks (the
	# headers are some 20000), as sbuild and pbuilder do it.
	mkdir -p "$tmp/etc/dpkg/dpkg.cfg.d"
	echo force-unsafe-io > "$tmp/etc/dpkg/dpkg.cfg.d/vmpolice-unsafe-io"
	t=$(date +%s)
	debootstrap --variant=minbase --cache-dir="$DC/archives" \
		--include=ca-certificates bookworm "$tmp" "$MIRROR" \
		> "$DC/debootstrap.log" 2>&1 ||
		{ tail -n 20 "$DC/debootstrap.log" >&2; return 1; }
	echo "debootstrap: $(( $(date +%s) - t ))s"
	t=$(date +%s)
	cat > "$tmp/etc/apt/sources.list" <<-EOT
	deb $MIRROR bookworm main
	deb $MIRROR bookworm-updates main
	deb $MIRROR bookworm-backports main
	deb ${MIRROR%/debian}/debian-security bookworm-security main
	EOT
	cat > "$tmp/usr/sbin/policy-rc.d" <<-'EOT'
	#!/bin/sh
	exit 101
	EOT
	chmod 755 "$tmp/usr/sbin/policy-rc.d"
	ROOT=$tmp mounts || return 1
	# INITRD=No: the 6.12 headers pull in the image, whose initramfs
	# nothing here boots
	# and man-db need not index every page on each install (man finds
	# them without the index)
	ROOT=$tmp inch "export INITRD=No; echo 'man-db man-db/auto-update boolean false' |
		debconf-set-selections && apt-get update -q && apt-get install $APT_OPTS \
		--no-install-recommends linux-headers-$k61 linux-headers-$k612 \
		iproute2 man-db kmod make rsync" \
		> "$DC/base-apt.log" 2>&1 ||
		{ tail -n 20 "$DC/base-apt.log" >&2; ROOT=$tmp umounts; return 1; }
	echo "headers, iproute2, man-db: $(( $(date +%s) - t ))s"
	ROOT=$tmp umounts
	mv "$tmp" "$base"
}

mounts()
{
	cp /etc/resolv.conf "$ROOT/etc/resolv.conf" &&
	mount -t proc proc "$ROOT/proc" &&
	mount --bind /dev "$ROOT/dev" &&
	mount --bind "$DC/archives" "$ROOT/var/cache/apt/archives"
}

umounts()
{
	umount "$ROOT/var/cache/apt/archives" "$ROOT/dev" "$ROOT/proc" 2>/dev/null
	return 0
}

# rm_run: remove $run, unless something is still mounted below it (a
# bind mount of /dev, say).
rm_run()
{
	if findmnt -rn -o TARGET | grep -q "^$run/"; then
		echo "# $run still has mounts, not removing it"
		return 1
	fi
	rm -rf --one-file-system "$run"
}

# overlay DIR: $base as an overlay at DIR/root (a copy when overlayfs is
# not available), with /proc, /dev and apt's archives.
overlay()
{
	local d=$1

	mkdir -p "$d/upper" "$d/work" "$d/root"
	if ! mount -t overlay overlay \
		-o "lowerdir=$base,upperdir=$d/upper,workdir=$d/work" \
		"$d/root" 2>/dev/null; then
		echo "# no overlayfs: copying the base"
		cp -a "$base/." "$d/root/"
	fi
	ROOT=$d/root mounts
}

cleanup()
{
	local d

	for d in pkg src; do
		ROOT=$run/$d/root umounts
		umount "$run/$d/root" 2>/dev/null
	done
	rm_run
}

why=
if [ "$(id -u)" != 0 ]; then
	why="not root"
elif [ -z "$k61" ] || [ -z "$k612" ]; then
	why="kernel releases unknown (scripts/kernel-info.sh; run scripts/setup-host.sh)"
elif ! command -v debootstrap > /dev/null; then
	why="no debootstrap (scripts/setup-host.sh installs it)"
fi
if [ -z "$why" ] && [ -d "$base" ] &&
   [ -n "$(find "$base" -maxdepth 0 -mtime +"$BASE_MAX_DAYS")" ]; then
	echo "# base chroot older than $BASE_MAX_DAYS days, rebuilding it"
	rm -rf "$base"
fi
base_log=
if [ -z "$why" ] && [ ! -d "$base" ]; then
	t0=$(date +%s)
	base_log=$(make_base 2>&1) ||
		why="cannot make the Debian 12 chroot (network? see $DC/debootstrap.log, $DC/base-apt.log)"
	[ -d "$base" ] || why=${why:-"cannot make the Debian 12 chroot"}
	base_log+=$'\n'"base chroot made in $(( $(date +%s) - t0 ))s"
fi

# The chroots, and make dkms-install in one of them while make deb runs
# (it installs dkms first, before the other chroot's apt-get runs: they
# share the archives and their lock).
chroot_ok=
dkms_install_pid=
if [ -z "$why" ]; then
	trap cleanup EXIT
	if rm_run && overlay "$run/pkg" && overlay "$run/src"; then
		chroot_ok=1
		mkdir -p "$SRCROOT/root/vmpolice"
		(cd "$TOP" && git ls-files -z -co --exclude-standard -- Kbuild Makefile dkms.conf LICENSE kmod |
			rsync -a --from0 --files-from=- ./ "$SRCROOT/root/vmpolice/")
		if ROOT=$SRCROOT inch "apt-get install $APT_OPTS --no-install-recommends dkms" \
			> "$OUT/dkms-install.log" 2>&1; then
			ROOT=$SRCROOT inch "cd /root/vmpolice && make dkms-install KERNELRELEASE=$k61" \
				>> "$OUT/dkms-install.log" 2>&1 &
			dkms_install_pid=$!
		fi
	fi
fi

# ------------------------------------------------------------ build ---
if wait "$build_pid"; then
	ok "make deb: packages built, lintian without errors (done after $(( $(date +%s) - start ))s)"
	grep -E '^  [EWI]: ' "$OUT/build-deb.log" | diag
else
	nok "make deb: packages built, lintian without errors"
	tail -n 30 "$OUT/build-deb.log" | diag
	skip_rest "no packages to install"
	finish
fi
tc_deb=$(ls "$TOP"/build/deb/vmpolice-tc_"${version}"_*.deb 2>/dev/null | head -n 1)

# ----------------------------------------------------------- chroot ---
[ -n "$base_log" ] && printf '%s\n' "$base_log" | diag
if [ -n "$why" ]; then
	skip "Debian 12 chroot with linux-headers-$k61 and -$k612" "$why"
	skip_rest "no chroot: $why"
	finish
fi
if [ -n "$chroot_ok" ]; then
	ok "Debian 12 chroot with linux-headers-$k61 and -$k612"
else
	nok "Debian 12 chroot with linux-headers-$k61 and -$k612"
	skip_rest "no chroot"
	finish
fi

# Everything but apt/dpkg state, caches, logs and virtual filesystems.
file_list()
{
	inch 'find / -xdev \( -path /proc -o -path /dev -o -path /sys -o \
		-path /run -o -path /tmp -o -path /var/tmp -o \
		-path /var/cache -o -path /var/log -o -path /var/lib/apt -o \
		-path /var/lib/dpkg -o -path /var/lib/man-db \) -prune -o -print' |
		LC_ALL=C sort
}

# ---------------------------------------------------------- install ---
file_list > "$run/files.before"
cp "$dkms_deb" "$tc_deb" "$ROOT/tmp/"
install_debs()
{
	local cmd="apt-get install $APT_OPTS --no-install-recommends /tmp/${dkms_deb##*/} /tmp/${tc_deb##*/}"

	# A stale package list (mirror moved on): update, try again.
	inch "$cmd" || { inch "apt-get update -q" && inch "$cmd"; }
}
t0=$(date +%s)
if install_debs > "$OUT/apt-install.log" 2>&1; then
	ok "apt-get install ./vmpolice-dkms_${version}_all.deb ./${tc_deb##*/} ($(( $(date +%s) - t0 ))s)"
	grep -E "^(Building|Module build|Error|Skipped)" "$OUT/apt-install.log" | diag
else
	nok "apt-get install ./vmpolice-dkms_${version}_all.deb ./${tc_deb##*/}"
	tail -n 30 "$OUT/apt-install.log" | diag
fi

# --------------------------------------------------------- the module ---
inch "dkms status" > "$OUT/dkms-status.txt" 2>&1
diag < "$OUT/dkms-status.txt"
for k in "$k61" "$k612"; do
	check "dkms status: vmpolice/$version installed for $k" \
		grep -qx "vmpolice/$version, $k, x86_64: installed" "$OUT/dkms-status.txt"
done
# the module, as DKMS installed it (compressed when the kernel's own
# modules are: .ko.xz on 6.12)
ko_of()
{
	inch "ls /lib/modules/$1/updates/dkms/vmpolice.ko*" 2>/dev/null | head -n 1
}
for k in "$k61" "$k612"; do
	ko=$(ko_of "$k")
	vm=$(inch "modinfo -F vermagic ${ko:-/lib/modules/$k/updates/dkms/vmpolice.ko}" 2>&1)
	if [ -n "$ko" ] && [ "${vm%% *}" = "$k" ] &&
	   inch "modinfo -F version $ko" | grep -qx "$version"; then
		ok "${ko:-vmpolice.ko} in updates/dkms: vermagic $k, version $version"
	else
		nok "${ko:-vmpolice.ko} in updates/dkms: vermagic $k, version $version"
		echo "vermagic: $vm" | diag
	fi
	# the kernel asks for net-act-vmpolice / net-sch-vmpolice: depmod
	# must map them to the DKMS module
	res=$(inch "modprobe -S $k -R net-act-vmpolice; modprobe -S $k -R net-sch-vmpolice;
		modprobe -S $k --show-depends vmpolice" 2>&1)
	if [ -n "$ko" ] && [ "$(printf '%s\n' "$res" | head -n 2 | sort -u)" = vmpolice ] &&
	   printf '%s\n' "$res" | grep -q "^insmod $ko *\$"; then
		ok "$k: modprobe resolves net-act-vmpolice, net-sch-vmpolice to the DKMS module"
	else
		nok "$k: modprobe resolves net-act-vmpolice, net-sch-vmpolice to the DKMS module"
		printf '%s\n' "$res" | diag
	fi
done
# The 6.12 module for scripts/deb-guest.sh, uncompressed (the guest's
# initramfs takes a vmpolice.ko).
ko=$(ko_of "$k612")
case "$ko" in
*.ko)	cat "$ROOT$ko" ;;
*.xz)	xz -dc "$ROOT$ko" ;;
*.zst)	zstd -qdc "$ROOT$ko" ;;
*.gz)	gzip -dc "$ROOT$ko" ;;
*)	false ;;
esac > "$OUT/vmpolice-$k612.ko" &&
	(cd "$OUT" && sha256sum "vmpolice-$k612.ko" > "vmpolice-$k612.ko.sha256") ||
	rm -f "$OUT/vmpolice-$k612.ko"

# ------------------------------------------------------------- tc side ---
# "help" makes the plugin print its usage and exit before tc talks to
# the kernel; the empty network namespace keeps the host's lo out of it.
out=$(inch "unshare -n tc actions add action vmpolice help" 2>&1); rc=$?
if printf '%s\n' "$out" | grep -q '^Usage: \.\.\. vmpolice \[ rate'; then
	ok "tc actions add action vmpolice help: the plugin's usage (tc exit $rc)"
else
	nok "tc actions add action vmpolice help: the plugin's usage (tc exit $rc)"
	printf '%s\n' "$out" | head -n 5 | diag
fi
out=$(inch "unshare -n tc qdisc add dev lo root vmpolice help" 2>&1); rc=$?
if printf '%s\n' "$out" | grep -q 'vmpolice' &&
   ! printf '%s\n' "$out" | grep -qi 'unknown qdisc'; then
	ok "tc qdisc add dev lo root vmpolice help: the plugin's usage (tc exit $rc)"
else
	nok "tc qdisc add dev lo root vmpolice help: the plugin's usage (tc exit $rc)"
	printf '%s\n' "$out" | head -n 5 | diag
fi
out=$(inch "MANWIDTH=80 man -P cat tc-vmpolice" 2>&1)
if printf '%s\n' "$out" | grep -q '^NAME' &&
   printf '%s\n' "$out" | grep -q 'vmpolice'; then
	ok "man tc-vmpolice"
else
	nok "man tc-vmpolice"
	printf '%s\n' "$out" | head -n 5 | diag
fi
dep=$(inch "dpkg-query -W -f='\${Depends}' vmpolice-tc" 2>&1)
have=$(inch "dpkg-query -W -f='\${Version}' iproute2" 2>&1)
if printf '%s\n' "$dep" | tr ',' '\n' | grep -qx " *iproute2 (= $have)"; then
	ok "vmpolice-tc depends on iproute2 (= $have), the chroot's"
else
	nok "vmpolice-tc depends on iproute2 (= $have), the chroot's"
	echo "Depends: $dep" | diag
fi

# Out of range (6.1 to 7.3): dkms must refuse before it even looks for
# the headers (exit 77, its BUILD_EXCLUSIVE verdict).
res=
for k in 6.0.0-1-amd64 7.4.0-1-amd64; do
	inch "dkms build -m vmpolice -v $version -k $k" > "$run/excl.log" 2>&1
	rc=$?
	res+="$k: dkms build exit $rc"$'\n'
	[ "$rc" = 77 ] || { res+=$(tail -n 3 "$run/excl.log")$'\n'; rc=x; break; }
done
if [ "$rc" = 77 ]; then
	ok "dkms build for 6.0 and 7.4 kernels: refused as BUILD_EXCLUSIVE (exit 77)"
else
	nok "dkms build for 6.0 and 7.4 kernels: refused as BUILD_EXCLUSIVE (exit 77)"
	printf '%s' "$res" | diag
fi

# ------------------------------------------------------------ purge ---
if inch "apt-get purge $APT_OPTS vmpolice-tc vmpolice-dkms" > "$OUT/apt-purge.log" 2>&1; then
	ok "apt-get purge vmpolice-tc vmpolice-dkms"
else
	nok "apt-get purge vmpolice-tc vmpolice-dkms"
	tail -n 20 "$OUT/apt-purge.log" | diag
fi
left=$(inch "ls -d /usr/src/vmpolice-* /var/lib/dkms/vmpolice \
	/lib/modules/*/updates/dkms/vmpolice.ko* /usr/lib/*/tc/*vmpolice* \
	/usr/share/man/man8/tc-vmpolice.8* /usr/share/doc/vmpolice-* 2>/dev/null;
	dkms status -m vmpolice 2>&1")
if [ -z "$left" ]; then
	ok "purge: no vmpolice files, no dkms tree left"
else
	nok "purge: no vmpolice files, no dkms tree left"
	printf '%s\n' "$left" | diag
fi
# autoremove keeps what some installed package merely recommends or
# suggests (xz-utils, bzip2, perl, ...): not here, where the chroot had
# none of them before.
if inch "apt-get autoremove --purge $APT_OPTS -o APT::AutoRemove::RecommendsImportant=false \
	-o APT::AutoRemove::SuggestsImportant=false" >> "$OUT/apt-purge.log" 2>&1; then
	file_list > "$run/files.after"
	diff -u "$run/files.before" "$run/files.after" > "$OUT/purge-files.diff"
	# Not ours, and expected: depmod's indexes for the 6.1 kernel, whose
	# image (which would own them) is not in the chroot, only its
	# headers; the module signing key dkms made, which its purge keeps
	# on purpose (it may be enrolled as a MOK).
	expected='^\+(/usr/lib/modules/[^/]*/modules\.[a-z.]*|/var/lib/dkms|/var/lib/dkms/mok\.(key|pub))$'
	grep -E '^[-+]/' "$OUT/purge-files.diff" | grep -Ev "$expected" > "$run/unexpected"
	if [ ! -s "$run/unexpected" ]; then
		ok "apt-get autoremove --purge: the same files as before the install"
		grep -E "$expected" "$OUT/purge-files.diff" |
			sed 's/^+/left by depmod or dkms, not by our packages: /' | diag
	else
		nok "apt-get autoremove --purge: the same files as before the install"
		head -n 30 "$run/unexpected" | diag
	fi
else
	nok "apt-get autoremove --purge: the same files as before the install"
	tail -n 20 "$OUT/apt-purge.log" | diag
fi

# ---------------------------------------------------- make dkms-install ---
# In its own chroot (dkms from apt, the tree's Kbuild, Makefile,
# dkms.conf and kmod/), for one kernel (KERNELRELEASE).
rc=1
if [ -n "$dkms_install_pid" ]; then
	wait "$dkms_install_pid"
	rc=$?
	dkms_install_pid=
fi
if [ "$rc" = 0 ] &&
   ROOT=$SRCROOT inch "dkms status" | grep -qx "vmpolice/$version, $k61, x86_64: installed" &&
   vm=$(ROOT=$SRCROOT inch "modinfo -F vermagic $(ROOT=$SRCROOT ko_of "$k61")") &&
   [ "${vm%% *}" = "$k61" ]; then
	ok "make dkms-install KERNELRELEASE=$k61: installed, vermagic $k61"
else
	nok "make dkms-install KERNELRELEASE=$k61: installed, vermagic $k61"
	tail -n 20 "$OUT/dkms-install.log" | diag
	ROOT=$SRCROOT inch "dkms status" 2>&1 | diag
fi

finish
