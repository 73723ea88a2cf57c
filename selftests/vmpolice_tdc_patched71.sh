#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# vmpolice's tdc cases, run by the kernel's tdc.py with the patched
# iproute2 7.1.0 tc (see tdc/run.sh).
TDC_TC=patched71 exec "$(dirname "$(readlink -f "$0")")/tdc/run.sh"
