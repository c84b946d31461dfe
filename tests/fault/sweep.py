#!/usr/bin/env python3
"""sweep.py: every fault point of cairn's operations, one at a time.

For each operation (backup, restore, forget, prune, tag, key add, copy,
bundle import) it first
counts the I/O calls the operation makes on the repository, the local cache
and (for restore) the target, under the faultfs layer (tests/fault/faultfs.c,
loaded with LD_PRELOAD). Then, for every N from 1 to that count and for each
mode (the call fails with EIO; the disk is full from the Nth call on; a
short write then ENOSPC; the process SIGKILLs itself before the call), it
runs the operation on a fresh copy of the same repository with the Nth call
faulty, and asserts what a user relies on:

  - a failed operation exits non-zero with a one-line message that starts
    with "cairn: " (no crash, no signal except the kill mode's own);
  - an operation that exits 0 did all of its work (its result is checked);
  - afterwards, without faults, `check` passes, every snapshot that existed
    before restores exactly, and the operation run again succeeds and does
    its work.

Environment: CAIRN, FAULTFS (the layer's .so), TESTS (tests/ folder);
FAULT_OPS (names to run, ',' separated; default all), FAULT_MODES (default
eio,enospc,short,kill), FAULT_STRIDE (run every k-th N only; default 1),
FAULT_MAX_POINTS (at most this many N per operation and mode, evenly
spread, the last included; default 160; every N with CAIRN_LONG_TESTS=1),
FAULT_FIGURES (a JSON file the figures are written to).
Prints one line per operation and mode with the figures; exits 1 on the
first broken expectation, naming the operation, mode and N.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.environ["TESTS"], "e2e"))
import treecmp  # noqa: E402

CAIRN = os.environ["CAIRN"]
FAULTFS = os.environ["FAULTFS"]
CRASH_WORDS = ("terminate called", "core dumped", "Assertion", "Segmentation", "AddressSanitizer",
               "runtime error", "Aborted")


class Failure(Exception):
    pass


def run(args, cwd, env, faults=None):
    e = dict(env)
    if faults is not None:
        e.update(faults)
        e["LD_PRELOAD"] = FAULTFS
        # A sanitizer build: its runtime is not first in the library list
        # once faultfs is preloaded; that is expected here.
        e["ASAN_OPTIONS"] = (e.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0").lstrip(":")
    p = subprocess.run([CAIRN] + args, cwd=cwd, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=300)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def must(args, cwd, env, what):
    rc, out, err = run(args, cwd, env)
    if rc != 0:
        raise Failure(f"{what}: 'cairn {' '.join(args)}' exited {rc}: {err.strip()}")
    return out


def write_tree(root, version):
    """A small source tree; version 2 changes, adds and removes files."""
    os.makedirs(os.path.join(root, "sub", "deep"), exist_ok=True)
    rnd = __import__("random").Random(version)
    for i in range(6):
        with open(os.path.join(root, f"file{i}.bin"), "wb") as f:
            f.write(bytes(rnd.getrandbits(8) for _ in range(20000 + 9000 * i)))
    with open(os.path.join(root, "sub", "text.txt"), "w") as f:
        f.write("".join(f"line {i} of version {version}\n" for i in range(3000)))
    with open(os.path.join(root, "sub", "deep", "same.txt"), "w") as f:
        f.write("unchanged between versions\n" * 100)
    if version == 1:
        with open(os.path.join(root, "gone.txt"), "w") as f:
            f.write("only in version 1\n")
    else:
        if os.path.exists(os.path.join(root, "gone.txt")):
            os.unlink(os.path.join(root, "gone.txt"))
        with open(os.path.join(root, "sub", "new.txt"), "w") as f:
            f.write("new in version 2\n")
    os.symlink("../file0.bin", os.path.join(root, "sub", "link")) if not os.path.lexists(
        os.path.join(root, "sub", "link")) else None


class World:
    """A folder with a repository, its cache, a key file and the sources of
    each snapshot; copied afresh for every fault point."""

    def __init__(self, root):
        self.root = root
        self.env = dict(os.environ)
        for k in ("CAIRN_PASSWORD", "CAIRN_PASSWORD_FILE", "CAIRN_PASSWORD_COMMAND", "LD_PRELOAD"):
            self.env.pop(k, None)
        self.env["CAIRN_REPO"] = os.path.join(root, "repo")
        self.env["CAIRN_CACHE_DIR"] = os.path.join(root, "cache")
        self.env["CAIRN_KEY_FILE"] = os.path.join(root, "key")
        self.env["HOME"] = root

    def path(self, *p):
        return os.path.join(self.root, *p)


def snapshot_ids(w):
    out = must(["--json", "snapshots"], w.root, w.env, "list snapshots")
    return [s["id"] for s in json.loads(out)]


def restore_exact(w, rev, expected, what):
    target = tempfile.mkdtemp(prefix="restore-", dir=w.root)
    must(["restore", rev, "--target", target], w.root, w.env, what)
    problems, _ = treecmp.compare(expected, target)
    if problems:
        raise Failure(f"{what}: snapshot {rev[:12]} restores wrong: {problems[:3]}")
    shutil.rmtree(target)


# ---- the operations ------------------------------------------------------
#
# Each has: prepare(w) makes the baseline world (once); cmd: the arguments;
# watched(w): the paths faultfs watches; done(w, first): asserts the
# operation did its work (first: the faulty run, else the rerun); expected
# (dict rev -> source folder) of the snapshots that must restore exactly.


def base(w, versions):
    must(["key", "generate", w.path("key")], w.root, w.env, "key generate")
    must(["init", "-q"], w.root, w.env, "init")
    ids = []
    for v in versions:
        write_tree(w.path("src"), v)
        shutil.copytree(w.path("src"), w.path(f"saved{v}"), symlinks=True)
        must(["-q", "backup", "src"], w.root, w.env, "baseline backup")
        ids.append(snapshot_ids(w)[-1])
    return ids


class Backup:
    name = "backup"
    cmd = ["-q", "backup", "src"]

    def prepare(self, w):
        self.ids = base(w, [1])
        write_tree(w.path("src"), 2)
        shutil.copytree(w.path("src"), w.path("saved2"), symlinks=True)

    def watched(self, w):
        return [w.path("repo"), w.path("cache")]

    def expected(self, w):
        return {self.ids[0]: w.path("saved1")}

    def done(self, w, first):
        ids = snapshot_ids(w)
        new = [i for i in ids if i not in self.ids]
        if not new:
            raise Failure("backup exited 0 and saved no snapshot")
        restore_exact(w, "main", w.path("saved2"), "the new snapshot")


class Restore:
    name = "restore"

    def prepare(self, w):
        self.ids = base(w, [1, 2])
        self.cmd = ["-q", "restore", self.ids[0], "--target", "out"]
        self.rerun = ["-q", "restore", self.ids[0], "--target", "out", "--force", "--delete",
                      "--no-safety-snapshot", "--yes"]

    def watched(self, w):
        return [w.path("repo"), w.path("cache"), w.path("out")]

    def expected(self, w):
        return {self.ids[1]: w.path("saved2")}

    def done(self, w, first):
        problems, _ = treecmp.compare(w.path("saved1"), w.path("out"))
        if problems:
            raise Failure(f"restore exited 0 and the target differs: {problems[:3]}")


class Forget:
    name = "forget"
    cmd = ["-q", "forget", "--keep-last", "1", "--yes"]

    def prepare(self, w):
        self.ids = base(w, [1, 2])

    def watched(self, w):
        return [w.path("repo"), w.path("cache")]

    def expected(self, w):
        return {self.ids[1]: w.path("saved2")}

    def done(self, w, first):
        ids = snapshot_ids(w)
        if ids != [self.ids[1]]:
            raise Failure(f"forget exited 0 and the snapshots are {ids}")


class Prune:
    name = "prune"
    # Eight days on: the forgotten snapshot's week in the trash is over.
    env = {"CAIRN_NOW": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 8 * 86400))}
    cmd = ["-q", "prune", "--yes", "--grace", "0", "--max-unused", "0"]

    def prepare(self, w):
        self.ids = base(w, [1, 2])
        must(["-q", "forget", "--keep-last", "1", "--yes"], w.root, w.env, "forget")

    def watched(self, w):
        return [w.path("repo"), w.path("cache")]

    def expected(self, w):
        return {self.ids[1]: w.path("saved2")}

    def done(self, w, first):
        out = must(["--json", "prune", "--yes", "--grace", "0", "--max-unused", "0", "--dry-run"], w.root, w.env,
                   "prune --dry-run")
        j = json.loads(out)
        if j["deleted_packs"] or j["trash_purged"] or j["unused_blobs"]:
            raise Failure(f"prune exited 0 and left work a second prune would do: {out.strip()}")


class Tag:
    name = "tag"

    def prepare(self, w):
        self.ids = base(w, [1])
        self.cmd = ["-q", "tag", "-m", "release one", "v1", self.ids[0]]

    def watched(self, w):
        return [w.path("repo"), w.path("cache")]

    def expected(self, w):
        return {self.ids[0]: w.path("saved1")}

    def done(self, w, first):
        out = must(["--json", "tag", "-l"], w.root, w.env, "tag -l")
        tags = json.loads(out)
        tags = tags.get("tags", tags) if isinstance(tags, dict) else tags
        if not any(t.get("name") == "v1" and t.get("snapshot", t.get("id")) == self.ids[0] for t in tags):
            raise Failure(f"tag exited 0 and v1 is not listed on the snapshot: {tags}")

    def rerun_ok(self, rc, err):
        return rc == 0 or "exists" in err


class KeyAdd:
    name = "key-add"

    def prepare(self, w):
        self.ids = base(w, [1])
        must(["key", "generate", w.path("key2")], w.root, w.env, "key generate")
        self.cmd = ["-q", "key", "add", "--key-file", w.path("key2"), "--yes"]

    def watched(self, w):
        return [w.path("repo"), w.path("cache")]

    def expected(self, w):
        return {self.ids[0]: w.path("saved1")}

    def done(self, w, first):
        env = dict(w.env)
        env["CAIRN_KEY_FILE"] = w.path("key2")
        rc, out, err = run(["--json", "snapshots"], w.root, env)
        if rc != 0:
            raise Failure(f"key add exited 0 and the new key does not open the repository: {err.strip()}")

    def rerun_ok(self, rc, err):
        return rc == 0 or "already" in err


class Copy:
    """copy into a second (encrypted, other key) repository: the target is
    watched too; both repositories must check, and the target must hold
    every snapshot, the branch and the tag once the copy is run again."""
    name = "copy"

    def prepare(self, w):
        self.ids = base(w, [1, 2])
        must(["-q", "tag", "-m", "release one", "v1", self.ids[0]], w.root, w.env, "tag")
        must(["key", "generate", w.path("key2")], w.root, w.env, "key generate")
        must(["-r", w.path("dst"), "--key-file", w.path("key2"), "init", "-q"], w.root, w.env, "init the target")
        self.cmd = ["-q", "copy", "--to", w.path("dst"), "--to-key-file", w.path("key2")]

    def target(self, w):
        t = World(w.root)
        t.env = dict(w.env)
        t.env["CAIRN_REPO"] = w.path("dst")
        t.env["CAIRN_KEY_FILE"] = w.path("key2")
        return t

    def watched(self, w):
        return [w.path("repo"), w.path("cache"), w.path("dst")]

    def expected(self, w):
        return {self.ids[0]: w.path("saved1"), self.ids[1]: w.path("saved2")}

    def checks(self, w):
        return [(["check"], self.target(w).env)]

    def done(self, w, first):
        t = self.target(w)
        n = len(snapshot_ids(t))
        if n != 2:
            raise Failure(f"copy exited 0 and the target has {n} snapshots, not 2")
        restore_exact(t, "main", w.path("saved2"), "the copied branch")
        restore_exact(t, "v1", w.path("saved1"), "the copied tag")


class BundleImport(Copy):
    """bundle import into a second repository: the bundle is made once; the
    import's every I/O call on the target (and the caches) fails in turn."""
    name = "bundle-import"

    def prepare(self, w):
        self.ids = base(w, [1, 2])
        must(["-q", "tag", "-m", "release one", "v1", self.ids[0]], w.root, w.env, "tag")
        must(["key", "generate", w.path("key2")], w.root, w.env, "key generate")
        must(["key", "generate", w.path("bkey")], w.root, w.env, "key generate")
        must(["-q", "bundle", "create", w.path("all.bundle"), "--all", "--bundle-key-file", w.path("bkey")],
             w.root, w.env, "bundle create")
        must(["-r", w.path("dst"), "--key-file", w.path("key2"), "init", "-q"], w.root, w.env, "init the target")
        self.cmd = ["-q", "-r", w.path("dst"), "--key-file", w.path("key2"), "bundle", "import",
                    w.path("all.bundle"), "--bundle-key-file", w.path("bkey")]

    def watched(self, w):
        return [w.path("dst"), w.path("cache")]


OPERATIONS = [Backup(), Restore(), Forget(), Prune(), Tag(), KeyAdd(), Copy(), BundleImport()]
MODES = {
    "eio": {"FAULTFS_MODE": "eio"},
    "enospc": {"FAULTFS_MODE": "enospc", "FAULTFS_STICKY": "1"},
    "short": {"FAULTFS_MODE": "short"},
    "kill": {"FAULTFS_MODE": "kill"},
}


def one_line_error(rc, err, what):
    if rc < 0:
        raise Failure(f"{what}: killed by signal {-rc}: {err.strip()[-300:]}")
    if rc == 0:
        return
    lines = [l for l in err.splitlines() if l.strip()]
    if not lines:
        raise Failure(f"{what}: exit {rc} and no message")
    if any(w in err for w in CRASH_WORDS):
        raise Failure(f"{what}: crash-like output: {err.strip()[-300:]}")
    if not any(l.startswith("cairn: ") for l in lines):
        raise Failure(f"{what}: no 'cairn: ' line in: {err.strip()[-300:]}")


def points(total, stride, max_points):
    if max_points > 0:
        stride = max(stride, -(-total // max_points))
    ns = list(range(1, total + 1, stride))
    if ns and ns[-1] != total:
        ns.append(total)
    return ns


def sweep(op, work, modes, stride, max_points):
    base_dir = os.path.join(work, op.name, "base")
    os.makedirs(base_dir)
    bw = World(base_dir)
    op.prepare(bw)
    w = World(os.path.join(work, op.name, "case"))
    w.env.update(getattr(op, "env", {}))
    # Paths in the command are relative to the world's folder; the ones the
    # operation made absolute (key files) name the base: map them.
    fix = lambda args: [a.replace(base_dir, w.root) for a in args]
    cmd = fix(op.cmd)
    rerun = fix(getattr(op, "rerun", op.cmd))

    def fresh():
        if os.path.exists(w.root):
            shutil.rmtree(w.root)
        shutil.copytree(base_dir, w.root, symlinks=True)

    fresh()
    count_file = os.path.join(work, "count")
    watch = ":".join(op.watched(w))
    rc, out, err = run(cmd, w.root, w.env, {"FAULTFS_PATHS": watch, "FAULTFS_COUNT": count_file})
    if rc != 0:
        raise Failure(f"{op.name}: the counting run failed ({rc}): {err.strip()}")
    total = int(open(count_file).read())
    figures = {}
    for mode in modes:
        t0 = time.time()
        stats = {"points": 0, "failed_cleanly": 0, "succeeded": 0, "killed": 0}
        for n in points(total, stride, max_points):
            what = f"{op.name}, {mode} at call {n} of {total}"
            fresh()
            faults = dict(MODES[mode])
            faults.update({"FAULTFS_PATHS": watch, "FAULTFS_AT": str(n)})
            rc, out, err = run(cmd, w.root, w.env, faults)
            stats["points"] += 1
            if mode == "kill":
                if rc != -9 and rc != 0:
                    one_line_error(rc, err, what)
                stats["killed" if rc == -9 else "succeeded" if rc == 0 else "failed_cleanly"] += 1
            else:
                one_line_error(rc, err, what)
                stats["succeeded" if rc == 0 else "failed_cleanly"] += 1
            try:
                if rc == 0:
                    op.done(w, True)
                rc2, out2, err2 = run(["check"], w.root, w.env)
                if rc2 != 0:
                    raise Failure(f"check after the fault exited {rc2}: {err2.strip()[-400:]}")
                for args, env in getattr(op, "checks", lambda w: [])(w):
                    rc2, out2, err2 = run(args, w.root, env)
                    if rc2 != 0:
                        raise Failure(f"'{' '.join(args)}' after the fault exited {rc2}: {err2.strip()[-400:]}")
                for rev, src in op.expected(w).items():
                    restore_exact(w, rev, src, "an earlier snapshot")
                rc3, out3, err3 = run(rerun, w.root, w.env)
                ok = getattr(op, "rerun_ok", lambda rc, err: rc == 0)(rc3, err3)
                if not ok:
                    raise Failure(f"the operation run again exited {rc3}: {err3.strip()[-400:]}")
                op.done(w, False)
                rc4, _, err4 = run(["check"], w.root, w.env)
                if rc4 != 0:
                    raise Failure(f"check after the rerun exited {rc4}: {err4.strip()[-400:]}")
            except Failure as e:
                raise Failure(f"{what} (the faulty run exited {rc}: {err.strip()[-200:]}): {e}")
        stats["seconds"] = round(time.time() - t0, 1)
        figures[mode] = stats
        print(f"{op.name:8} {mode:7} {total:4} calls: {stats['points']} fault points, "
              f"{stats['failed_cleanly']} failed cleanly, {stats['succeeded']} succeeded, "
              f"{stats['killed']} killed; all checked ({stats['seconds']} s)", flush=True)
    return {"calls": total, "modes": figures}


def main():
    want = os.environ.get("FAULT_OPS", "")
    ops = [o for o in OPERATIONS if not want or o.name in want.split(",")]
    modes = os.environ.get("FAULT_MODES", "eio,enospc,short,kill").split(",")
    stride = int(os.environ.get("FAULT_STRIDE", "1"))
    long_mode = os.environ.get("CAIRN_LONG_TESTS") == "1"
    max_points = 0 if long_mode else int(os.environ.get("FAULT_MAX_POINTS", "160"))
    work = tempfile.mkdtemp(prefix="cairn-faults-")
    figures = {}
    try:
        for op in ops:
            figures[op.name] = sweep(op, work, modes, stride, max_points)
    except Failure as e:
        print(f"FAIL: {e}", file=sys.stderr)
        print(f"(kept {work} for inspection)", file=sys.stderr)
        sys.exit(1)
    if os.environ.get("FAULT_FIGURES"):
        with open(os.environ["FAULT_FIGURES"], "w") as f:
            json.dump(figures, f, indent=1)
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
