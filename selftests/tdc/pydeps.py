#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
#
# Host side, for selftests/vm/mkinitramfs.sh: print the files of every
# Python module the kernel's tdc.py loads when it runs one case, so that
# the guest gets those and nothing else of the standard library.
#
# Usage: pydeps.py TDC_DIR
#
# One file a line: each module's source or shared object and, where the
# host has it, the source's compiled form in __pycache__ (copy both with
# their timestamps, or the compiled form is stale).
#
# tdc.py runs in this process (cwd TDC_DIR, as in the guest) on a
# one-case file whose commands are `true`; afterwards sys.modules holds
# what it imported, directly or not: the interpreter's start-up modules,
# tdc's own imports (argparse, json, subprocess, multiprocessing, ...) and
# the ones imported lazily while a case runs.  Run it with the python3
# that goes into the guest (/usr/bin/python3, not one first in PATH).

import atexit
import importlib.util
import json
import os
import sys


def dump():
    stdlib = os.path.dirname(os.__file__) + '/'
    files = set()
    for mod in list(sys.modules.values()):
        f = getattr(mod, '__file__', None)
        if f and f.startswith(stdlib):
            files.add(f)
            # and its compiled form, so that the guest does not compile
            if f.endswith('.py'):
                pyc = importlib.util.cache_from_source(f)
                if os.path.isfile(pyc):
                    files.add(pyc)
    sys.stdout = sys.__stdout__
    for f in sorted(files):
        print(f)


def main():
    tdc_dir = os.path.abspath(sys.argv[1])
    here = os.path.dirname(os.path.abspath(__file__))
    case = [{
        "id": "0000", "name": "pydeps", "category": ["pydeps"],
        "setup": ["true"], "cmdUnderTest": "true", "expExitCode": "0",
        "verifyCmd": "echo x", "matchPattern": "x", "matchCount": "1",
        "teardown": ["true"],
    }]
    # not tempfile: it would import shutil, bz2 and lzma, which tdc does not
    tmp = '/tmp/vmpolice-pydeps.{}'.format(os.getpid())
    os.mkdir(tmp)
    cases = os.path.join(tmp, 'case.json')
    with open(cases, 'w') as f:
        json.dump(case, f)
    os.chdir(tdc_dir)
    sys.path[0:0] = [here, tdc_dir]
    sys.argv = ['tdc.py', '-p', '/bin/true', '-f', cases,
                '--outfile', os.path.join(tmp, 'out.tap')]
    # tdc raises its open-files limit, which needs root
    import resource
    resource.setrlimit = lambda *a: None
    import tdc
    atexit.register(dump)
    sys.stdout = open(os.devnull, 'w')
    try:
        tdc.main()
    finally:
        for f in os.listdir(tmp):
            os.unlink(os.path.join(tmp, f))
        os.rmdir(tmp)


main()
