#!/usr/bin/env python3
"""long_kills.py: the long mode's random SIGKILLs (CAIRN_LONG_TESTS=1, t0098).

One repository lives through KILLS rounds (default 1000). Each round picks
an operation at random — backup (of a source tree that changes every
round), two backups at once (to two branches), restore over a folder,
forget, prune, tag, branch — and SIGKILLs it: half of the rounds at a
random I/O call (the fault layer's kill mode, tests/fault/faultfs.c, N
drawn from the calls that operation made when it last ran whole), half at
a random moment (a timer drawn from its last whole run's duration). After
every kill:

  - `check` passes (the leftovers of a killed writer are not damage);
  - no snapshot is lost: every snapshot made so far is listed, except those
    the interrupted forget was to remove;
  - the operation run again without a kill succeeds;
  - a restore over a folder, once run again, leaves exactly the snapshot.

Every 25 rounds, and at the end, every snapshot made so far restores
exactly (compared with a copy of its source taken when it was made).

Environment: CAIRN, FAULTFS, TESTS; KILLS (rounds, default 1000), SEED
(default: the time), KILL_FIGURES (a JSON file for the figures).
Prints the figures (kills, kills that landed while the operation ran,
snapshots lost, checks failed, restores wrong, reruns failed) and exits 1
if any guarantee broke.
"""
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.environ["TESTS"], "e2e"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sweep  # noqa: E402
import treecmp  # noqa: E402

CAIRN = os.environ["CAIRN"]
FAULTFS = os.environ["FAULTFS"]
KILLS = int(os.environ.get("KILLS", "1000"))
SEED = int(os.environ.get("SEED", str(int(time.time()))))
rnd = random.Random(SEED)


class World(sweep.World):
    """sweep.py's world, plus what the rounds remember."""

    def __init__(self, root):
        super().__init__(root)
        self.saved = {}  # snapshot id -> folder holding its source as it was
        self.forgotten = set()
        self.n = 0


def start(w, args, env=None, faults=None):
    e = dict(w.env)
    e.update(env or {})
    if faults:
        e.update(faults)
        e["LD_PRELOAD"] = FAULTFS
        e["ASAN_OPTIONS"] = (e.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0").lstrip(":")
    return subprocess.Popen([CAIRN] + args, cwd=w.root, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def run(w, args, env=None, faults=None, timeout=300):
    p = start(w, args, env, faults)
    out, err = p.communicate(timeout=timeout)
    return p.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


def must(w, args, what, env=None):
    rc, out, err = run(w, args, env)
    if rc != 0:
        raise RuntimeError(f"{what}: 'cairn {' '.join(args)}' exited {rc}: {err.strip()[-300:]}")
    return out


def snapshots(w):
    return {s["id"] for s in json.loads(must(w, ["--json", "snapshots"], "list snapshots"))}


def mutate(src, r):
    """Changes the source tree a little: new, changed and removed files."""
    os.makedirs(src, exist_ok=True)
    for _ in range(r.randint(1, 6)):
        d = os.path.join(src, "d%d" % r.randint(0, 5))
        os.makedirs(d, exist_ok=True)
        p = os.path.join(d, "f%d" % r.randint(0, 30))
        x = r.random()
        if x < 0.6:
            with open(p, "wb") as f:
                f.write(r.randbytes(r.randint(0, 120000)))
        elif x < 0.8 and os.path.exists(p):
            os.unlink(p)
        else:
            with open(p, "ab") as f:
                f.write(r.randbytes(r.randint(1, 5000)))


class Stats:
    def __init__(self):
        self.kills = 0
        self.landed = 0
        self.by_op = {}
        self.lost = 0
        self.checks_failed = 0
        self.restores_wrong = 0
        self.reruns_failed = 0
        self.problems = []

    def problem(self, what):
        self.problems.append(what)
        print("BROKEN: " + what, flush=True)


# How long each operation ran and how many I/O calls it made, whole.
timing = {}
calls = {}


def whole(w, name, args, env=None, faults_watch=None):
    """Runs an operation without a kill, counting its calls and its time."""
    t0 = time.monotonic()
    faults = None
    count = w.path("count")
    if faults_watch:
        faults = {"FAULTFS_PATHS": faults_watch, "FAULTFS_COUNT": count}
    rc, out, err = run(w, args, env, faults)
    timing[name] = time.monotonic() - t0
    if faults and os.path.exists(count):
        calls[name] = int(open(count).read() or 0)
        os.unlink(count)
    return rc, out, err


def killed_run(w, st, name, args, watch, env=None):
    """Runs an operation and kills it: at a random I/O call or a random moment."""
    st.kills += 1
    st.by_op[name] = st.by_op.get(name, 0) + 1
    if rnd.random() < 0.5 and calls.get(name):
        faults = {"FAULTFS_PATHS": watch, "FAULTFS_MODE": "kill", "FAULTFS_AT": str(rnd.randint(1, calls[name]))}
        rc, out, err = run(w, args, env, faults)
    else:
        p = start(w, args, env)
        time.sleep(rnd.uniform(0, max(timing.get(name, 0.2), 0.02) * 1.1))
        p.send_signal(signal.SIGKILL)
        out, err = p.communicate()
        rc = p.returncode
        out, err = out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
    if rc == -9:
        st.landed += 1
    elif rc != 0:
        lines = err.strip().splitlines()
        if not lines or not lines[-1].startswith("cairn: "):
            st.problem(f"{name} killed at random exited {rc} without a 'cairn: ' line: {err.strip()[-200:]}")
    return rc


def after_kill(w, st, name, before, may_go=frozenset()):
    rc, out, err = run(w, ["check"])
    if rc != 0:
        st.checks_failed += 1
        st.problem(f"after a killed {name}: check exited {rc}: {err.strip()[-300:]}")
    now = snapshots(w)
    lost = (before - now) - set(may_go)
    if lost:
        st.lost += len(lost)
        st.problem(f"after a killed {name}: snapshots lost: {sorted(x[:12] for x in lost)}")
    return now


def record_new(w, before, src):
    """Snapshots that appeared since `before` hold `src` as it is now."""
    new = snapshots(w) - before
    for s in new:
        keep = w.path("saved", s[:16])
        if not os.path.exists(keep):
            shutil.copytree(src, keep, symlinks=True)
        w.saved[s] = keep
    return new


def verify_all(w, st):
    for s, src in sorted(w.saved.items()):
        if s in w.forgotten:
            continue
        t = tempfile.mkdtemp(prefix="verify-", dir=w.root)
        rc, out, err = run(w, ["restore", s, "--target", t])
        if rc != 0:
            st.restores_wrong += 1
            st.problem(f"snapshot {s[:12]} does not restore ({rc}): {err.strip()[-200:]}")
        else:
            problems, _ = treecmp.compare(src, t, True)
            if problems:
                st.restores_wrong += 1
                st.problem(f"snapshot {s[:12]} restores wrong: {problems[:3]}")
        shutil.rmtree(t)


def rerun(w, st, name, args, env=None):
    rc, out, err = whole(w, name, args, env)
    if rc != 0:
        st.reruns_failed += 1
        st.problem(f"{name} run again after a kill exited {rc}: {err.strip()[-300:]}")
    return rc


def main():
    root = tempfile.mkdtemp(prefix="cairn-kills-")
    w = World(root)
    st = Stats()
    must(w, ["key", "generate", w.path("key")], "key generate")
    must(w, ["init", "-q"], "init")
    watch = ":".join([w.path("repo"), w.path("cache")])
    src = w.path("src")
    mutate(src, rnd)
    before = snapshots(w)
    whole(w, "backup", ["-q", "backup", "src"], faults_watch=watch)
    record_new(w, before, src)
    ops = ["backup"] * 4 + ["concurrent"] * 2 + ["restore"] * 2 + ["forget", "prune", "tag", "branch"]
    t_start = time.time()
    for rnd_i in range(1, KILLS + 1):
        op = rnd.choice(ops)
        before = snapshots(w)
        if op == "backup":
            mutate(src, rnd)
            args = ["-q", "backup", "src"]
            if "backup" not in calls:
                whole(w, "backup", args, faults_watch=watch)
                record_new(w, before, src)
                before = snapshots(w)
                mutate(src, rnd)
            killed_run(w, st, "backup", args, watch)
            after_kill(w, st, "backup", before)
            record_new(w, before, src)
            b2 = snapshots(w)
            if rerun(w, st, "backup", args) == 0:
                record_new(w, b2, src)
        elif op == "concurrent":
            for s in ("srcA", "srcB"):
                mutate(w.path(s), rnd)
            a = start(w, ["-q", "backup", "srcA", "--branch", "a"])
            killed_run(w, st, "concurrent", ["-q", "backup", "srcB", "--branch", "b"], watch)
            out, err = a.communicate()
            if a.returncode != 0:
                st.problem(f"a backup beside a killed one exited {a.returncode}: {err.decode()[-300:]}")
            after_kill(w, st, "concurrent", before)
            # The survivor's snapshot (branch a) and any the killed one finished.
            for s, b in (("srcA", "a"), ("srcB", "b")):
                rc, out, err = run(w, ["rev-parse", b])
                if rc == 0:
                    sid = out.strip()
                    if sid not in w.saved and sid not in before:
                        keep = w.path("saved", sid[:16])
                        shutil.copytree(w.path(s), keep, symlinks=True)
                        w.saved[sid] = keep
            timing["concurrent"] = timing.get("backup", 0.3) * 1.5
        elif op == "restore":
            live = [s for s in w.saved if s not in w.forgotten]
            snap = rnd.choice(live)
            args = ["-q", "restore", snap, "--target", "out", "--force", "--delete", "--yes"]
            if "restore" not in calls:
                whole(w, "restore", args, faults_watch=watch + ":" + w.path("out"))
            killed_run(w, st, "restore", args, watch + ":" + w.path("out"))
            # (Its safety snapshots, of the target before it, count among
            # the snapshots that must not be lost; they are not compared.)
            after_kill(w, st, "restore", before)
            if rerun(w, st, "restore", args) == 0:
                problems, _ = treecmp.compare(w.saved[snap], w.path("out"), True)
                if problems:
                    st.restores_wrong += 1
                    st.problem(f"restore over a folder, run again after a kill, differs: {problems[:3]}")
        elif op == "forget":
            args = ["-q", "forget", "--keep-last", "6", "--yes"]
            if "forget" not in calls:
                whole(w, "forget", args, faults_watch=watch)
                w.forgotten |= (before - snapshots(w))
                before = snapshots(w)
            dry = json.loads(must(w, ["--json", "forget", "--keep-last", "6", "--dry-run"], "forget --dry-run"))
            goes = set(dry.get("remove", []))
            killed_run(w, st, "forget", args, watch)
            after_kill(w, st, "forget", before, goes)
            if rerun(w, st, "forget", args) == 0:
                now = snapshots(w)
                w.forgotten |= (before - now)
        elif op == "prune":
            env = {"CAIRN_NOW": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 8 * 86400))}
            args = ["-q", "prune", "--yes", "--grace", "0"]
            if "prune" not in calls:
                whole(w, "prune", args, env, faults_watch=watch)
            killed_run(w, st, "prune", args, watch, env)
            after_kill(w, st, "prune", before)
            rerun(w, st, "prune", args, env)
        elif op in ("tag", "branch"):
            # A new name each round; a name the killed run already made is
            # "exists" when run again, which is what a user would see.
            def ref_args(n):
                snap = rnd.choice([s for s in w.saved if s not in w.forgotten])
                if op == "tag":
                    return ["-q", "tag", "-m", "round %d" % rnd_i, "t%d" % n, snap]
                return ["-q", "branch", "br%d" % n, snap]
            w.n += 1
            args = ref_args(w.n)
            if op not in calls:
                whole(w, op, args, faults_watch=watch)
                w.n += 1
                args = ref_args(w.n)
            killed_run(w, st, op, args, watch)
            after_kill(w, st, op, before)
            rc, out, err = run(w, args)
            if rc != 0 and "exists" not in err:
                st.reruns_failed += 1
                st.problem(f"{op} run again after a kill exited {rc}: {err.strip()[-200:]}")
        if rnd_i % 25 == 0 or rnd_i == KILLS:
            verify_all(w, st)
            print(f"round {rnd_i}: {st.kills} kills ({st.landed} landed), {len(w.saved)} snapshots made, "
                  f"{len(st.problems)} problems ({time.time() - t_start:.0f} s)", flush=True)
    fig = {"seed": SEED, "kills": st.kills, "landed": st.landed, "by_operation": st.by_op,
           "snapshots_made": len(w.saved), "snapshots_lost": st.lost, "checks_failed": st.checks_failed,
           "restores_wrong": st.restores_wrong, "reruns_failed": st.reruns_failed,
           "seconds": round(time.time() - t_start)}
    print(json.dumps(fig))
    if os.environ.get("KILL_FIGURES"):
        with open(os.environ["KILL_FIGURES"], "w") as f:
            json.dump(fig, f, indent=1)
    if st.problems:
        print(f"(kept {root} for inspection)", file=sys.stderr)
        return 1
    shutil.rmtree(root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
