#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make mutants: apply deliberate faults to the module and the tc code one
# at a time, run the tests that should catch each, report the ones no
# test caught.
#
# Usage: mutants.sh [--budget MINUTES] [--no-baseline] [--list] [--resume] [NAME...]
#   NAME          run only these faults (default: every fault in the list)
#   --budget M    start no fault after M minutes; the rest are "not run"
#   --no-baseline skip the run of every check on the unchanged tree
#   --list        validate the fault list and print the faults' names
#   --resume      continue the last run of this commit (build/mutants/state.json):
#                 its results and baselines count, its faults are not run again
#
# The fault list is selftests/mutants/faults (MUTANTS_FAULTS to override;
# its format is described at its top).  A fault whose old string does not
# occur exactly once in its file is refused before anything runs: the
# list must follow the code.
#
# Everything happens in a git worktree of HEAD (or of MUTANTS_COMMIT),
# build/mutants/tree, never in this tree's sources; it is reset with
# "git checkout -f" before and after every fault, and its build outputs
# are kept, so rebuilds are incremental.  MUTANTS_KERNELS="6.12" runs
# only the guest checks on those kernels (the others: "not run").  Guest checks take /tmp/vmpolice-guest.lock for the boot.
#
# Output: KTAP on stdout (one line per fault, "ok" = caught), the report
# in results/mutants.md (MUTANTS_REPORT), one log per fault in
# build/mutants/logs/.  Exit 0 when every fault that ran was caught.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
exec nice -n 19 python3 "$TOP/scripts/mutants.py" "$@"
