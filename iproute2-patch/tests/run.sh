#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# run.sh BUILD_DIR UAPI_HEADER [-v]: the tc-side tests, in a private
# network namespace (with its own sysfs) holding a veth pair vnet0/tap0.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
# Root needs no user namespace, and in a chroot (scripts/
# fresh-debian-check.sh) cannot create one: unshare(2) gives EPERM.
if [ "$(id -u)" = 0 ]; then ns=-nm; else ns=-rnm; fi
exec unshare "$ns" sh -eu -c '
	ip link add vnet0 type veth peer name tap0
	mount -t sysfs sysfs /sys
	ip link set vnet0 up
	ip link set tap0 up
	exec python3 "$0/run.py" "$@"' "$here" "$@"
