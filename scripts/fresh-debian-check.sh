#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run .ci/run the way CI does on a fresh Debian 12 machine: in a new
# debootstrap'ed bookworm (minbase: no compiler, no QEMU, no caches),
# on a fresh clone of this repository's HEAD.  Needs root, debootstrap
# and the network; takes about half an hour (the debug kernel is built
# from scratch).
#
# Usage: scripts/fresh-debian-check.sh [DIR]   (default /srv/vmpolice-fresh12)
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
DIR=${1:-/srv/vmpolice-fresh12}
MIRROR=${MIRROR:-http://deb.debian.org/debian}

[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
if [ ! -x "$DIR/usr/bin/apt-get" ]; then
	echo "== debootstrap bookworm into $DIR"
	debootstrap --variant=minbase --include=git,make,ca-certificates \
		bookworm "$DIR" "$MIRROR"
fi
cp /etc/resolv.conf "$DIR/etc/resolv.conf"
# What Debian's installer leaves in sources.list (debootstrap writes the
# main suite only, whose kernel lags: bookworm's 6.1.176 against the
# security suite's 6.1.192 on 2026-12-01).
cat > "$DIR/etc/apt/sources.list" <<EOS
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb http://security.debian.org/debian-security bookworm-security main
EOS
# The chroot's / a mount point of its own, as a machine's is: unshare -m
# (the tc tests' namespace) makes / private, which fails on a directory
# that is not a mount point.
mountpoint -q "$DIR" || mount --bind "$DIR" "$DIR"
for m in proc sys dev dev/pts; do
	mountpoint -q "$DIR/$m" || mount --bind "/$m" "$DIR/$m"
done
trap 'for m in dev/pts dev sys proc ""; do umount "$DIR/$m" 2>/dev/null || true; done' EXIT

rm -rf "$DIR/root/vmpolice"
git clone -q "$TOP" "$DIR/root/vmpolice"
echo "== .ci/run in the chroot on $(git -C "$TOP" log --oneline -1)"
start=$(date +%s)
rc=0
chroot "$DIR" /usr/bin/env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin \
	TERM=dumb bash -c 'cd /root/vmpolice && ./.ci/run' || rc=$?
echo "== .ci/run exit $rc after $(( $(date +%s) - start )) s"
exit "$rc"
