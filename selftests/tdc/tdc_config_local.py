# SPDX-License-Identifier: GPL-2.0
#
# tdc's local configuration (tdc_config.py imports it when it is on the
# module path: tdc/run.sh puts this directory on PYTHONPATH).
#
# tdc runs every command with the environment ENVIR and nothing else, so
# PATH is set here; TC_LIB_DIR is not needed: the stock tc finds our
# plugins in its default directory and the patched tcs run behind
# wrappers that set their own.

import os

ENVIR = {
    'PATH': '/usr/sbin:/usr/bin:/sbin:/bin',
    'LANG': 'C',
}

EXTRA_NAMES = {
    'IP': '/usr/sbin/ip',
    'ETHTOOL': '/usr/sbin/ethtool',
    # The name every case's devices start with (tdc appends "id<case>").
    'DUMMY': 'vmpd',
    # "yes" when $TC has vmpolice built in (a patched tc): the word
    # "vmpolice" where a classifier takes "police" needs it, and the
    # cases that use it depend on it (dependsOn), so that they are
    # skipped, not failed, with the stock tc and our plugin.
    'VMP_BUILTIN': os.environ.get('VMP_BUILTIN', 'no'),
    # Where a refused command's messages go, for the verify step
    # (tdc itself only looks at the exit status of the command under
    # test).
    'ERR': '/tmp/vmpolice-tdc.err',
}
