#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make demo: on a Debian 12 machine, install what is needed
# (scripts/setup-host.sh, idempotent), build the module, the tc plugins
# and vmtap, boot a guest kernel under QEMU and run bench/guest-demo.sh in it:
# a simulated multiqueue virtio guest sending TCP to its host, policed
# by vmpolice and then by police with libvirt's rule, with a live report.
#
# Usage: demo.sh [KERNEL]    (6.1, 6.12 or debug; default $KERNEL or 6.12)
set -uo pipefail

ME=${0##*/}
TOP=$(cd "$(dirname "$0")/.." && pwd)

say() { printf '%s: %s\n' "$ME" "$*" >&2; }

start=$(date +%s)
if [ "$(id -u)" -eq 0 ]; then
	"$TOP/scripts/setup-host.sh" || { say "error: host setup failed"; exit 1; }
else
	sudo "$TOP/scripts/setup-host.sh" || { say "error: host setup failed"; exit 1; }
fi
"$TOP/scripts/bench.sh" --demo "$@"
rc=$?
say "make demo took $(( $(date +%s) - start ))s"
exit "$rc"
