#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# run.sh BUILD_DIR UAPI_HEADER [-v]: the tc-side tests, in a private
# network namespace (with its own sysfs) holding a veth pair vnet0/tap0.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
exec unshare -rnm sh -eu -c '
	ip link add vnet0 type veth peer name tap0
	mount -t sysfs sysfs /sys
	ip link set vnet0 up
	ip link set tap0 up
	exec python3 "$0/run.py" "$@"' "$here" "$@"
