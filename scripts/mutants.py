#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The driver of make mutants (scripts/mutants.sh says what it does)."""

import argparse
import datetime
import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAULTS = os.environ.get("MUTANTS_FAULTS",
                        os.path.join(TOP, "selftests/mutants/faults"))
REPORT = os.environ.get("MUTANTS_REPORT",
                        os.path.join(TOP, "results/mutants.md"))
WORK = os.path.join(TOP, "build/mutants")
TREE = os.path.join(WORK, "tree")
LOGS = os.path.join(WORK, "logs")
LOCK = os.environ.get("VMPOLICE_GUEST_LOCK", "/tmp/vmpolice-guest.lock")
# Guest checks on kernels not in MUTANTS_KERNELS (default: all) are not
# run; the report names them.
KERNELS = os.environ.get("MUTANTS_KERNELS", "6.1 6.12 debug").replace(",", " ").split()
TARBALL = os.environ.get(
    "IPROUTE2_71_TARBALL",
    os.path.abspath(os.path.join(TOP, "../shared/iproute2/iproute2-7.1.0.tar.xz")))


def err(msg):
    print("mutants: " + msg, file=sys.stderr, flush=True)


class Fault:
    def __init__(self, lineno):
        self.lineno = lineno
        self.name = self.file = self.why = None
        self.checks = []
        self.old = self.new = None


def parse(path):
    """The fault list: see the comment at the top of the file."""
    faults, cur, block, buf = [], None, None, []
    with open(path) as f:
        lines = f.read().split("\n")
    for n, line in enumerate(lines, 1):
        if block:
            if line in ("--- new", "--- end"):
                text = "\n".join(buf)
                if block == "old":
                    cur.old = text
                else:
                    cur.new = text
                buf = []
                block = "new" if line == "--- new" else None
                if line == "--- new" and cur.old is None:
                    raise SystemExit(f"{path}:{n}: '--- new' before '--- old'")
                continue
            buf.append(line)
            continue
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        key, _, val = s.partition(" ")
        val = val.strip()
        if key == "fault":
            cur = Fault(n)
            cur.name = val
            faults.append(cur)
        elif cur is None:
            raise SystemExit(f"{path}:{n}: '{key}' before any 'fault'")
        elif key == "file":
            cur.file = val
        elif key == "check":
            cur.checks += val.split()
        elif key == "why":
            cur.why = (cur.why + " " + val) if cur.why else val
        elif s == "--- old":
            block = "old"
        else:
            raise SystemExit(f"{path}:{n}: unknown line '{s}'")
    if block:
        raise SystemExit(f"{path}: fault '{cur.name}' has no '--- end'")
    return faults


def validate(faults, head):
    bad, names = [], set()
    for f in faults:
        where = f"fault '{f.name}' (line {f.lineno})"
        if not f.name or not re.fullmatch(r"[A-Za-z0-9._-]+", f.name):
            bad.append(f"line {f.lineno}: bad fault name '{f.name}'")
            continue
        if f.name in names:
            bad.append(f"{where}: name used twice")
        names.add(f.name)
        if not f.file or f.old is None or f.new is None or not f.checks:
            bad.append(f"{where}: needs file, check, --- old, --- new, --- end")
            continue
        if f.old == f.new:
            bad.append(f"{where}: old and new are the same")
        for c in f.checks:
            if not (c in ("unit", "tc") or
                    re.fullmatch(r"guest:(6\.1|6\.12|debug):[\w.,-]+", c)):
                bad.append(f"{where}: unknown check '{c}'")
        r = subprocess.run(["git", "-C", TOP, "show", f"{head}:{f.file}"],
                           text=True, stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL)
        if r.returncode:
            bad.append(f"{where}: no file {f.file} in {head[:12]}")
            continue
        n = r.stdout.count(f.old)
        if n != 1:
            bad.append(f"{where}: old string occurs {n} times in {f.file} "
                       "(must be exactly once)")
    return bad


def git(*args, **kw):
    return subprocess.run(["git"] + list(args), check=True, text=True,
                          stdout=subprocess.PIPE, **kw).stdout.strip()


def setup_tree(head):
    if not os.path.isdir(os.path.join(TREE, ".git")) and \
       not os.path.isfile(os.path.join(TREE, ".git")):
        os.makedirs(WORK, exist_ok=True)
        git("-C", TOP, "worktree", "add", "--detach", TREE, head,
            stderr=subprocess.DEVNULL)
    # the commit under test, every tracked file as committed; untracked
    # build outputs stay (incremental builds)
    git("-C", TREE, "checkout", "-q", "-f", "--detach", head)
    git("-C", TREE, "checkout", "-q", "-f", "--", ".")


def reset_tree():
    git("-C", TREE, "checkout", "-q", "-f", "--", ".")


# The 7.1.0 tc is built from the committed series (iproute2-patch/
# series-7.1), not from the tc sources; a fault in what the series is
# made of must be carried into it, or that tc runs unbroken beside two
# broken ones (and a catch by it is no evidence).
SERIES_SOURCES = ("iproute2-patch/tc/", "iproute2-patch/hooks/",
                  "iproute2-patch/man/", "kmod/include/uapi/")


def apply(f, log):
    """Apply @f in the tree; returns False when the series it reaches
    could not be regenerated (the fault is then broken, not caught)."""
    p = os.path.join(TREE, f.file)
    with open(p) as fh:
        text = fh.read()
    assert text.count(f.old) == 1
    with open(p, "w") as fh:
        fh.write(text.replace(f.old, f.new, 1))
    if f.file.startswith(SERIES_SOURCES) and os.path.isfile(TARBALL):
        rc, _ = run(["make", "-s", "-C", "iproute2-patch", "series"], log)
        return rc == 0
    return True


def run(cmd, log, cwd=TREE, env=None):
    """Run @cmd with its output appended to @log; returns (rc, output)."""
    e = dict(os.environ)
    # the tree's guest logs in one known folder (scripts/logs.sh)
    e["VMPOLICE_LOGS"] = os.path.join(TREE, "build/logs")
    # every build in the tree has the 7.1.0 tarball (the default path,
    # ../shared from the tree, is not there): its tc-7.1 is rebuilt when
    # the series changes, never a stale one left by an earlier fault
    e["IPROUTE2_71_TARBALL"] = TARBALL
    if env:
        e.update(env)
    with open(log, "a") as fh:
        fh.write("\n$ " + " ".join(cmd) + "\n")
        fh.flush()
        r = subprocess.run(cmd, cwd=cwd, env=e, text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           errors="replace")
        fh.write(r.stdout)
    return r.returncode, r.stdout


def first_not_ok(text):
    for line in text.splitlines():
        m = re.match(r"^[#\s]*not ok \d+ (.*)$", line)
        if m and not m.group(1).startswith("selftests:"):
            return m.group(1).strip()
    return None


def guest_reason(kname, out):
    """The first failed case of a guest run, or the verdict's reason."""
    res = os.path.join(TREE, f"build/logs/vm-{kname}.results")
    prog = None
    try:
        with open(res, errors="replace") as fh:
            text = fh.read()
    except OSError:
        text = ""
    for line in text.splitlines():
        m = re.match(r"^# selftests: \S+: (\S+)", line)
        if m:
            prog = m.group(1)
        m = re.match(r"^#\s+not ok \d+ (.*)$", line)
        if m:
            return f"{prog}: {m.group(1).strip()}" if prog else m.group(1)
    for line in text.splitlines():
        m = re.match(r"^not ok \d+ selftests: \S+: (.*)$", line)
        if m:
            return m.group(1).strip()
    # no failed case: a splat, a timeout or a dead guest (check-log.sh)
    lines = [l for l in out.splitlines() if l.strip()]
    # a splat first: it is the reason the run failed, and the guest's
    # own lines ("timeout 750s" in its banner) would match the rest
    for pat in (r"WARNING:|BUG|KASAN|UBSAN|lockdep|kmemleak|Oops|panic",
                r"not ok|timed out|end marker"):
        off = [l for l in lines if re.search(pat, l)]
        if off:
            return off[0][:160]
    return (lines[-1] if lines else "guest run failed")[:160]


# A check: (caught, broken, what).  broken: the mutant did not build or
# the check could not run; that is an error in the fault, not a catch.
UNIT_TESTS = ("test_bucket", "test_frame")


def check_unit(log):
    rc, out = run(["make", "-s", "-C", "selftests/unit", *UNIT_TESTS], log)
    if rc:
        return False, True, "unit test does not build"
    for t in UNIT_TESTS:
        rc, out = run(["./" + t], log, cwd=os.path.join(TREE, "selftests/unit"))
        if rc:
            break
    if rc == 0:
        return False, False, None
    why = first_not_ok(out) or next(
        (l for l in out.splitlines() if re.search(r"ERROR|Sanitizer|runtime error|FAIL", l)),
        f"exit {rc}")
    return True, False, "unit: " + why[:160]


def check_tc(log):
    rc, out = run(["make", "-s", "-C", "iproute2-patch", "all"], log)
    if rc:
        return False, True, "tc side does not build"
    rc, out = run(["make", "-C", "iproute2-patch", "test"], log)
    if rc == 0:
        return False, False, None
    why = next((l for l in out.splitlines() if l.startswith("FAIL ")), None) \
        or first_not_ok(out) or next(
            (l for l in out.splitlines() if re.search(r"FAIL|Error|error", l)),
            f"exit {rc}")
    return True, False, "tc: " + why[:160]


def check_guest(spec, log, bail=False):
    """@bail: stop the guest run at the first failed case (KTAP_BAIL=1
    in the guest; one failure is all a fault asks, and the rest of a
    test program would only cost guest time)."""
    _, kname, tests = spec.split(":", 2)
    tests = tests.replace(",", " ")
    # the compile outside the guest lock; vmtest.sh rebuilds incrementally
    rc, _ = run(["scripts/build-module.sh", kname], log)
    if rc:
        return False, True, f"module does not build for {kname}"
    env = ({"VM_APPEND": (os.environ.get("VM_APPEND", "") +
                          " vmpolice_bail=1").strip()} if bail else None)
    rc, out = run(["flock", LOCK, "scripts/vmtest.sh", kname, tests], log,
                  env=env)
    if rc == 0:
        return False, False, None
    if re.search(r"tc side build failed|initramfs failed|could not run the guest"
                 r"|selftests/tools build failed|module build failed", out):
        return False, True, f"guest {kname}: " + (out.strip().splitlines() or ["?"])[-1][:120]
    return True, False, f"guest {kname} {guest_reason(kname, out)}"


def skipped(c):
    return c.startswith("guest:") and c.split(":")[1] not in KERNELS


def run_check(c, log, bail=False):
    if c == "unit":
        return check_unit(log)
    if c == "tc":
        return check_tc(log)
    return check_guest(c, log, bail)


class Baseline:
    """Every check the faults use, on the unchanged tree, run just before
    the first fault that needs it (one guest boot with all of a kernel's
    test files): a check that fails there cannot judge a fault."""

    def __init__(self, faults, log):
        self.log, self.guests, self.done, self.failed = log, {}, set(), []
        self.secs = 0.0
        for f in faults:
            for c in f.checks:
                if c.startswith("guest:"):
                    _, k, t = c.split(":", 2)
                    lst = self.guests.setdefault(k, [])
                    lst += [x for x in t.split(",") if x not in lst]

    def key(self, c):
        return "guest:" + c.split(":")[1] if c.startswith("guest:") else c

    def ensure(self, c):
        """Run @c's baseline if not yet; returns its failure or None."""
        k = self.key(c)
        if k not in self.done:
            self.done.add(k)
            full = (f"{k}:{','.join(self.guests[k.split(':')[1]])}"
                    if k.startswith("guest:") else k)
            t0 = time.time()
            reset_tree()
            caught, broken, why = run_check(full, self.log)
            self.secs += time.time() - t0
            err(f"baseline {full}: "
                f"{'FAILED ' + why if caught or broken else 'passes'}"
                f" ({time.time() - t0:.0f} s)")
            if caught or broken:
                self.failed.append((full, why))
                print(f"# baseline FAILED: {full}: {why}", flush=True)
            else:
                print(f"# baseline {full}: passes", flush=True)
        for full, why in self.failed:
            if self.key(full) == k:
                return why
        return None


STATE = os.path.join(WORK, "state.json")


def save_state(head, started, elapsed, results, planned, bl):
    """What --resume continues: this commit's results so far."""
    st = {"head": head, "started": started.isoformat(), "elapsed": elapsed,
          "results": results, "planned": planned,
          "bl_done": sorted(bl.done) if bl else [],
          "bl_failed": bl.failed if bl else [],
          "bl_secs": bl.secs if bl else 0.0}
    with open(STATE + ".tmp", "w") as fh:
        json.dump(st, fh, indent=1)
    os.replace(STATE + ".tmp", STATE)


def load_state(head):
    try:
        with open(STATE) as fh:
            st = json.load(fh)
    except (OSError, ValueError):
        return None
    return st if st.get("head") == head else None


def md_cell(s):
    return (s or "").replace("|", "\\|").replace("\n", " ")


def write_report(head, started, faults, results, base, total, planned,
                 bl_secs=0.0):
    os.makedirs(os.path.dirname(REPORT), exist_ok=True)
    caught = sum(1 for r in results.values() if r["status"] == "caught")
    missed = [n for n, r in results.items() if r["status"] == "missed"]
    errors = [n for n, r in results.items() if r["status"] == "error"]
    notrun = [f.name for f in faults if f.name in planned and f.name not in results]
    out = []
    out.append("# Mutation check (`make mutants`)\n")
    out.append(f"Date: {started:%Y-%m-%d %H:%M} UTC; commit `{head}`; "
               f"host {os.cpu_count()} CPUs.\n")
    out.append("Each fault of `selftests/mutants/faults` was applied alone to "
               "a worktree of that commit (`build/mutants/tree`) and the "
               "checks listed for it were run in order until one failed. "
               "*caught*: a check failed; *missed*: every check passed with "
               "the fault in; *error*: the mutant did not build or a check "
               "could not run (a fault of the list, not a finding).\n")
    if base is not None:
        if base:
            out.append("Baseline (the unchanged tree): **FAILED** — "
                       + "; ".join(f"`{c}`: {md_cell(w)}" for c, w in base)
                       + ". Results of faults relying on these checks mean "
                       "nothing.\n")
        else:
            out.append("Baseline (every check that ran, on the unchanged "
                       "tree, before its first fault): passed.\n")
    if set(KERNELS) != {"6.1", "6.12", "debug"}:
        out.append(f"Guest checks ran only on: {' '.join(KERNELS)} "
                   "(MUTANTS_KERNELS); the others were not run.\n")
    if bl_secs:
        out.append(f"Baselines took {bl_secs / 60:.1f} minutes of the total.\n")
    out.append(f"Result: {caught} caught, {len(missed)} missed, "
               f"{len(errors)} errors, {len(notrun)} not run, of "
               f"{len(planned)} faults; total {total / 60:.1f} minutes "
               f"(baseline included).\n")
    out.append("| # | fault | file | checks | result | caught by (first failed check and case) | s |")
    out.append("|---|---|---|---|---|---|---|")
    i = 0
    for f in faults:
        if f.name not in planned:
            continue
        i += 1
        r = results.get(f.name)
        if r is None:
            res, by, secs = "not run", "", ""
        else:
            res, by, secs = r["status"], r["by"] or "", f"{r['secs']:.0f}"
            if r["status"] == "missed":
                ran = [c for c in f.checks if c not in r["notrun"]]
                by = "passed: " + ", ".join(ran)
                if r["notrun"]:
                    by += "; not run: " + ", ".join(r["notrun"])
        out.append(f"| {i} | `{f.name}` | {f.file} | {' '.join(f.checks)} | "
                   f"{res} | {md_cell(by)} | {secs} |")
    out.append("")
    out.append("What each fault is (from the list):\n")
    for f in faults:
        if f.name in planned:
            out.append(f"- `{f.name}`: {md_cell(f.why)}")
    out.append("")
    if notrun:
        out.append("Not run: " + ", ".join(f"`{n}`" for n in notrun) + ".\n")
    with open(REPORT + ".tmp", "w") as fh:
        fh.write("\n".join(out) + "\n")
    os.replace(REPORT + ".tmp", REPORT)


def main():
    # a SIGTERM (someone ending the run) still resets the tree (finally)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ap = argparse.ArgumentParser(prog="mutants.sh")
    ap.add_argument("names", nargs="*")
    ap.add_argument("--budget", type=float, default=0)
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--resume", action="store_true")
    a = ap.parse_args()

    head = git("-C", TOP, "rev-parse", "--verify",
               os.environ.get("MUTANTS_COMMIT", "HEAD") + "^{commit}")
    faults = parse(FAULTS)
    bad = validate(faults, head)
    if bad:
        for b in bad:
            err(b)
        err(f"{len(bad)} problem(s) in {FAULTS}: nothing run")
        return 2
    known = {f.name for f in faults}
    for n in a.names:
        if n not in known:
            err(f"no fault named '{n}'")
            return 2
    planned = [f.name for f in faults if not a.names or f.name in a.names]
    if a.list:
        for f in faults:
            print(f"{f.name}\t{f.file}\t{' '.join(f.checks)}")
        return 0

    os.makedirs(LOGS, exist_ok=True)
    lock = open(os.path.join(WORK, "lock"), "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        err(f"another make mutants runs in {TREE}")
        return 2
    setup_tree(head)
    started = datetime.datetime.now(datetime.timezone.utc)
    t_start = time.time()
    results = {}
    prev = load_state(head) if a.resume else None
    if a.resume and not prev:
        err(f"nothing to resume for {head} in {STATE}: starting afresh")
    if prev:
        # the earlier run's results, baselines and time count in this one
        started = datetime.datetime.fromisoformat(prev["started"])
        t_start -= prev["elapsed"]
        results = prev["results"]
        planned = [n for n in prev["planned"] if n in known] + \
            [n for n in planned if n not in prev["planned"]]
    todo = [f for f in faults if f.name in planned]
    print("TAP version 13", flush=True)
    print(f"# mutants: commit {head}, {len(todo)} faults", flush=True)
    print(f"1..{len(todo)}", flush=True)
    blog = os.path.join(LOGS, "baseline.log")
    open(blog, "w").close()
    bl = None if a.no_baseline else Baseline(todo, blog)
    if bl and prev:
        bl.done = set(prev["bl_done"])
        bl.failed = [tuple(x) for x in prev["bl_failed"]]
        bl.secs = prev["bl_secs"]
    base = None if a.no_baseline else bl.failed
    save = lambda: save_state(head, started, time.time() - t_start, results,
                              planned, bl)
    rc = 0
    for i, f in enumerate(todo, 1):
        if f.name in results:
            r = results[f.name]
            print(f"{'ok' if r['status'] == 'caught' else 'not ok'} {i} "
                  f"{f.name} # {r['status']} in the earlier run: "
                  f"{r['by'] or ''} ({r['secs']:.0f} s)", flush=True)
            continue
        if a.budget and time.time() - t_start > a.budget * 60:
            print(f"ok {i} {f.name} # SKIP not run (budget of {a.budget:g} min)",
                  flush=True)
            continue
        log = os.path.join(LOGS, f.name + ".log")
        open(log, "w").close()
        t0 = time.time()
        b0 = bl.secs if bl else 0.0
        reset_tree()
        status, by, notrun = "missed", None, []
        try:
            for c in f.checks:
                if skipped(c):
                    notrun.append(c)
                    continue
                if bl and bl.ensure(c):
                    status, by = "error", f"{c} fails without the fault"
                    break
                if not apply(f, log):
                    status, by = "error", "series not regenerated"
                    break
                err(f"{f.name}: {c}")
                caught, broken, why = run_check(c, log, bail=True)
                reset_tree()
                if broken:
                    status, by = "error", why
                    break
                if caught:
                    status, by = "caught", why
                    break
        finally:
            reset_tree()
        secs = time.time() - t0 - ((bl.secs if bl else 0.0) - b0)
        if status == "missed" and notrun:
            by = "not run: " + " ".join(notrun)
        results[f.name] = {"status": status, "by": by, "secs": secs,
                           "notrun": notrun}
        if status == "caught":
            print(f"ok {i} {f.name} # caught by {by} ({secs:.0f} s)", flush=True)
        elif status == "error":
            print(f"not ok {i} {f.name} # ERROR {by} ({secs:.0f} s)", flush=True)
            rc = 1
        else:
            ran = [c for c in f.checks if c not in notrun]
            print(f"not ok {i} {f.name} # MISSED by {' '.join(ran)}"
                  + (f" (not run: {' '.join(notrun)})" if notrun else "")
                  + f" ({secs:.0f} s)", flush=True)
            rc = 1
        write_report(head, started, faults, results, base,
                     time.time() - t_start, planned, bl.secs if bl else 0.0)
        save()
    total = time.time() - t_start
    write_report(head, started, faults, results, base, total, planned,
                 bl.secs if bl else 0.0)
    n = lambda s: sum(1 for r in results.values() if r["status"] == s)
    print(f"# Totals: caught:{n('caught')} missed:{n('missed')} "
          f"error:{n('error')} not-run:{len(todo) - len(results)} "
          f"time:{total / 60:.1f} min; report {REPORT}", flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
