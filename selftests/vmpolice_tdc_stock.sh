#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# vmpolice's tdc cases, run by the kernel's tdc.py with Debian's tc with our plugin
# (see tdc/run.sh).
TDC_TC=stock exec "$(dirname "$(readlink -f "$0")")/tdc/run.sh"
