#!/usr/bin/env python3
"""Evil repositories, table-driven (t0096): each case is a repository written
by tests/tools/rawrepo.py (an independent writer of docs/format.md) holding
something cairn itself never writes, and what cairn must do with it.

For every case, on a fresh copy of an empty repository:
  - `restore` (and `ls`, `ls-tree -r`, `check --read-data`) end with the expected exit code, within a
    time bound, under a memory bound, never by a signal;
  - a failure's last stderr line is a `cairn: ` line;
  - nothing outside the restore target changes (a victim folder beside it is
    compared byte for byte, and the case folder holds only what it held);
  - an exit 0 restore wrote what the case says it must.

usage: CAIRN=... TESTS=... evil_repos.py WORKDIR   (prints one line per case)
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

CAIRN = os.environ["CAIRN"]
TESTS = os.environ["TESTS"]
sys.path.insert(0, os.path.join(TESTS, "tools"))
import rawrepo  # noqa: E402

WORK = os.path.abspath(sys.argv[1])
TIME_LIMIT = float(os.environ.get("EVIL_TIME_LIMIT", "60"))
RSS_LIMIT_KB = 768 * 1024
ZERO = "00" * 32


def run(args, timeout=TIME_LIMIT):
    """Runs cairn; returns (exit code, -signal or "timeout"; stdout; stderr;
    seconds; peak RSS in KiB of that process)."""
    t0 = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.Popen([CAIRN] + args, stdout=out, stderr=err, cwd=WORK)
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - t0 > timeout:
                p.kill()
                os.wait4(p.pid, 0)
                return ("timeout", b"", b"", timeout, 0)
            time.sleep(0.01)
        p.returncode = 0  # reaped here; keep Popen from waiting again
        rc = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return (rc, out.read(), err.read(), time.monotonic() - t0, ru.ru_maxrss)


def tree_digest(path):
    """A digest of every name, type, mode, link target and content below path."""
    h = hashlib.sha256()
    for root, dirs, files in os.walk(path, followlinks=False):
        dirs.sort()
        for n in sorted(dirs + files):
            p = os.path.join(root, n)
            st = os.lstat(p)
            h.update(os.path.relpath(p, path).encode("utf-8", "surrogateescape") + b"\0" + str(st.st_mode).encode())
            if os.path.islink(p):
                h.update(os.readlink(p).encode("utf-8", "surrogateescape"))
            elif os.path.isfile(p):
                h.update(open(p, "rb").read())
    return h.hexdigest()


# --- case builders: each gets a rawrepo.Writer and returns the revision ---

def snap(w, entries, branch="main", **tree_kw):
    root = w.tree(entries, **tree_kw)
    w.pack()
    w.snapshot(root, branch)
    return branch


def entries_case(entries, **kw):
    return lambda w: snap(w, entries, **kw)


def f(name, data="evil", **kw):
    e = {"name": name, "type": "file", "data": data}
    e.update(kw)
    return e


def d(name, entries=(), **kw):
    e = {"name": name, "type": "dir", "entries": list(entries)}
    e.update(kw)
    return e


def sym(name, target):
    return {"name": name, "type": "symlink", "target": target}


def hard(name, target, data="evil"):
    return {"name": name, "type": "hardlink", "data": data, "target": target}


def deep(depth):
    def build(w):
        root = rawrepo.chain(w, depth, "d", [f("leaf", "x")])
        w.pack()
        w.snapshot(root, "main")
        return "main"
    return build


def self_tree(w):
    # A tree that names itself as its subfolder: filed under the id it
    # references, which is not its hash (content addressing makes a real
    # cycle impossible; a lying index is the only way to write one).
    claimed = hashlib.sha256(b"the tree that contains itself").digest()
    w.tree([{"name": "loop", "type": "dir", "subtree": claimed.hex()}], claimed_id=claimed)
    root = w.tree([{"name": "top", "type": "dir", "subtree": claimed.hex()}])
    w.pack()
    w.snapshot(root, "main")
    return "main"


def ancestor_tree(w):
    # a/b names the root tree as its subfolder (the root is filed under a
    # claimed id; the child tree references that id).
    claimed = hashlib.sha256(b"the root").digest()
    child = w.tree([{"name": "up", "type": "dir", "subtree": claimed.hex()}])
    w.tree([{"name": "a", "type": "dir", "subtree": child.hex()}], claimed_id=claimed)
    w.pack()
    w.snapshot(claimed, "main")
    return "main"


def snapshot_loop(n):
    # Snapshot files filed under names that are not their hashes, whose
    # parents go round in a circle of n (n = 1: its own parent).
    def build(w):
        root = w.tree([f("a", "x")])
        w.pack()
        ids = [hashlib.sha256(b"snapshot %d" % i).hexdigest() for i in range(n)]
        for i in range(n):
            w.snapshot(root, "main", parents=[ids[(i + 1) % n]], file_id=ids[i])
        return "main"
    return build


def missing_parent(w):
    root = w.tree([f("a", "x")])
    w.pack()
    w.snapshot(root, "main", parents=[hashlib.sha256(b"nobody").hexdigest()])
    return "main"


def tree_is_data(w):
    blob = w.add(1, b"this is file content, not a tree")
    root = w.tree([{"name": "d", "type": "dir", "subtree": blob.hex()}])
    w.pack()
    w.snapshot(root, "main")
    return "main"


def chunk_is_tree(w):
    sub = w.tree([f("x", "y")])
    root = w.tree([f("a", chunks=[sub.hex()], size=10)])
    w.pack()
    w.snapshot(root, "main")
    return "main"


def snapshot_tree_missing(w):
    w.pack()
    w.snapshot(hashlib.sha256(b"no such tree").hexdigest(), "main")
    return "main"


def snapshot_tree_is_data(w):
    blob = w.add(1, b"file content")
    w.pack()
    w.snapshot(blob, "main")
    return "main"


def wide(n, kind):
    def build(w):
        if kind == "files":
            entries = [f("f%06d" % i, "") for i in range(n)]
        else:
            empty = w.tree([])
            entries = [{"name": "d%06d" % i, "type": "dir", "subtree": empty.hex()} for i in range(n)]
        return snap(w, entries)
    return build


def ref_to_missing(w):
    w.pack()
    os.makedirs(os.path.join(w.repo, "refs", "branches"), exist_ok=True)
    open(os.path.join(w.repo, "refs", "branches", "main"), "w").write(hashlib.sha256(b"x").hexdigest() + "\n")
    return "main"


def ref_garbage(w):
    w.pack()
    open(os.path.join(w.repo, "refs", "branches", "main"), "wb").write(b"\x00\xffnot an id\n")
    return "main"


def two_snapshots(first, second):
    """Restores `first` into the target beforehand (the case's prepare), then `second` over it."""
    def build(w):
        snap(w, first, branch="first")
        w.blobs = []
        return snap(w, second, branch="second")
    return build


# Each case: (name, builder, restore exit, check exit, extra restore args,
#             prepare(target, case_dir) or None, verify(target) or None).
# "damaged" cases are exit 4 for restore and check.
def cases():
    C = []

    def add(name, build, rc, check_rc=None, args=(), prepare=None, verify=None, ls_rc=None):
        C.append(dict(name=name, build=build, rc=rc, check_rc=rc if check_rc is None else check_rc,
                      ls_rc=rc if ls_rc is None else ls_rc, args=list(args), prepare=prepare, verify=verify))

    # Names.
    add("name ..", entries_case([f("..")]), 4)
    add("name .", entries_case([f(".")]), 4)
    add("name with ../ inside", entries_case([f("a/../../victim/file")]), 4)
    add("name /abs", entries_case([f("/abs")]), 4)
    add("name absolute into the victim", entries_case([f(WORK + "/victim/file")]), 4)
    add("empty name", entries_case([f("")]), 4)
    add("name with NUL", entries_case([f("hex:610062")]), 4)
    add("name with /", entries_case([f("a/b")]), 4)
    add("duplicate file names", entries_case([f("x", "1"), f("x", "2")]), 4)
    add("duplicate: folder and file", entries_case([d("x", [f("y")]), f("x", "2")]), 4)
    add("unsorted entries", entries_case([f("b", "1"), f("a", "2")], sort=False), 4)
    add("folder named ..", entries_case([d("d", [d("..", [f("victim", "evil")])])]), 4)
    # Longer than Linux allows (NAME_MAX): not damage (the format has no
    # limit), a name this system cannot create: exit 1, named.
    add("name of 256 bytes", entries_case([f("n" * 256)]), 1, check_rc=0, ls_rc=0)
    add("name of 255 bytes (the limit)", entries_case([f("n" * 255, "ok")]), 0,
        verify=lambda t: open(os.path.join(t, "n" * 255)).read() == "ok")
    # Symlinks.
    add("symlink to an absolute path outside", entries_case([sym("l", WORK + "/victim/file")]), 0,
        verify=lambda t: os.readlink(os.path.join(t, "l")) == WORK + "/victim/file")
    add("symlink climbing out", entries_case([sym("l", "../../victim")]), 0,
        verify=lambda t: os.readlink(os.path.join(t, "l")) == "../../victim")
    add("symlink with an empty target", entries_case([sym("l", "")]), 4)
    add("symlink target with NUL", entries_case([sym("l", "a\u0000b")]), 4)
    add("symlink then a file below it (one tree)", entries_case([sym("l", WORK + "/victim"), d("l", [f("file")])]),
        4)
    plant_link = lambda t, c: (os.makedirs(t), os.symlink(WORK + "/victim", os.path.join(t, "d")))
    plant_file_link = lambda t, c: (os.makedirs(t), os.symlink(WORK + "/victim/file", os.path.join(t, "file")))
    add("planted symlink to a folder, restore a folder there (--force)", entries_case([d("d", [f("file", "new")])]),
        0, args=["--force", "--yes"], prepare=plant_link,
        verify=lambda t: not os.path.islink(os.path.join(t, "d")) and open(os.path.join(t, "d/file")).read() == "new")
    add("planted symlink to a folder, without --force", entries_case([d("d", [f("file", "new")])]), 6,
        check_rc=0, ls_rc=0, prepare=plant_link, verify=lambda t: os.path.islink(os.path.join(t, "d")))
    add("planted symlink to a file, restore a file there (--force)", entries_case([f("file", "new")]), 0,
        args=["--force", "--yes"], prepare=plant_file_link,
        verify=lambda t: not os.path.islink(os.path.join(t, "file")) and open(os.path.join(t, "file")).read() == "new")
    add("planted symlink, --overwrite never", entries_case([f("file", "new"), f("other", "o")]), 0,
        args=["--overwrite", "never", "--yes"], prepare=plant_file_link,
        verify=lambda t: os.path.islink(os.path.join(t, "file")) and open(os.path.join(t, "other")).read() == "o")
    add("planted symlink to a folder, --delete", entries_case([f("x", "1")]), 0,
        args=["--delete", "--yes"], prepare=plant_link,
        verify=lambda t: not os.path.lexists(os.path.join(t, "d")) and os.path.exists(os.path.join(t, "x")))
    add("symlink in snapshot 1, folder in snapshot 2 over it (--force)",
        two_snapshots([sym("d", WORK + "/victim")], [d("d", [f("file", "new")])]), 0, args=["--force", "--yes"],
        prepare="first", verify=lambda t: not os.path.islink(os.path.join(t, "d")))
    add("symlink in snapshot 1, file below it in snapshot 2 (--force)",
        two_snapshots([sym("d", WORK + "/victim")], [d("d", [f("file", "evil")])]), 0, args=["--force", "--yes"],
        prepare="first", verify=lambda t: open(os.path.join(t, "d/file")).read() == "evil")
    # Hard links.
    add("hard link to ../x", entries_case([hard("h", "../x")]), 4)
    add("hard link to /abs", entries_case([hard("h", WORK + "/victim/file")]), 4)
    add("hard link with an empty target", entries_case([f("a", "evil"), hard("h", "")]), 4)
    add("hard link through a . part", entries_case([d("d", [f("a", "evil")]), hard("h", "d/./a")]), 4)
    # What a hard link names is checked by restore and check, which resolve
    # it in the snapshot; ls and ls-tree list entries as they are.
    add("hard link to a name not in the snapshot", entries_case([hard("h", "nowhere")]), 4, ls_rc=0)
    add("hard link to a folder", entries_case([d("d", [f("a")]), hard("h", "d")]), 4, ls_rc=0)
    add("hard link to a symlink", entries_case([sym("l", WORK + "/victim/file"), hard("m", "l")]), 4, ls_rc=0)
    add("hard link to itself", entries_case([hard("h", "h")]), 4, ls_rc=0)
    add("hard link whose content is not its target's", entries_case([f("a", "one"), hard("h", "a", "two")]), 4,
        ls_rc=0)
    # Sizes, chunks, types.
    add("size larger than the chunks", entries_case([f("a", "short", size=1 << 40)]), 4, ls_rc=0)
    add("size smaller than the chunks", entries_case([f("a", "longer content", size=3)]), 4, ls_rc=0)
    add("chunk not in the repository", entries_case([f("a", chunks=[ZERO], size=5)]), 4, ls_rc=0)
    add("a chunk that is a tree", chunk_is_tree, 4, ls_rc=0)
    add("a folder whose tree is file content", tree_is_data, 4)
    add("a folder whose tree is missing", entries_case([{"name": "d", "type": "dir", "subtree": ZERO}]), 4)
    add("unknown entry type", entries_case([{"name": "x", "type": "file", "type_code": 9}]), 4)
    add("entry count larger than the entries", entries_case([f("a", "x")], count=1 << 40), 4)
    add("entry count smaller than the entries", entries_case([f("a", "x"), f("b", "y")], count=1), 4)
    # Depth and width.
    add("folders nested 10,000 deep", deep(10000), 4)
    add("folders nested 100,000 deep", deep(100000), 4)
    add("100,000 empty files in one folder", wide(100000, "files"), 0,
        verify=lambda t: len(os.listdir(t)) == 100000)
    add("20,000 empty folders in one folder", wide(20000, "dirs"), 0,
        verify=lambda t: len(os.listdir(t)) == 20000)
    # Cycles and references.
    add("a tree that contains itself", self_tree, 4)
    add("a tree that contains its ancestor", ancestor_tree, 4)
    add("a snapshot that is its own parent", snapshot_loop(1), 4, ls_rc=4)
    add("a parent chain that loops (3 snapshots)", snapshot_loop(3), 4, ls_rc=4)
    add("a parent that does not exist", missing_parent, 0, check_rc=4, ls_rc=0,
        verify=lambda t: open(os.path.join(t, "a")).read() == "x")
    add("a snapshot whose tree is missing", snapshot_tree_missing, 4)
    add("a snapshot whose tree is file content", snapshot_tree_is_data, 4)
    add("a branch naming a snapshot that does not exist", ref_to_missing, 4)
    add("a branch file of garbage", ref_garbage, 4)
    return C


def main():
    os.makedirs(WORK, exist_ok=True)
    template = os.path.join(WORK, "template")
    r = subprocess.run([CAIRN, "init", template, "--encryption", "none", "-q"], capture_output=True)
    assert r.returncode == 0, r.stderr
    victim = os.path.join(WORK, "victim")
    os.makedirs(victim)
    open(os.path.join(victim, "file"), "w").write("precious\n")
    victim_digest = tree_digest(victim)
    failures, n = [], 0
    for i, c in enumerate(cases(), 1):
        n += 1
        cdir = os.path.join(WORK, "case%02d" % i)
        repo = os.path.join(cdir, "repo")
        target = os.path.join(cdir, "target")
        shutil.copytree(template, repo, symlinks=True)
        problems = []
        try:
            rev = c["build"](rawrepo.Writer(repo))
        except Exception as e:  # a broken case is a failure of the test, not of cairn
            failures.append("%s: the case could not be written: %r" % (c["name"], e))
            continue
        if c["prepare"] == "first":
            rc = run(["-r", repo, "restore", "first", "--target", target])[0]
            if rc != 0:
                problems.append("restoring 'first' beforehand: exit %s" % rc)
        elif c["prepare"]:
            c["prepare"](target, cdir)
        before = sorted(os.listdir(cdir))
        results = {}
        for what, args, want in (
                ("restore", ["restore", rev, "--target", target] + c["args"], c["rc"]),
                ("ls", ["ls", rev], c["ls_rc"]),
                ("ls-tree -r", ["ls-tree", "-r", rev], c["ls_rc"]),
                ("check", ["check", "--read-data"], c["check_rc"])):
            rc, out, err, secs, rss = run(["-r", repo] + args)
            results[what] = rc
            lines = err.decode("utf-8", "replace").splitlines()
            if rc == "timeout":
                problems.append("%s did not finish in %d s" % (what, TIME_LIMIT))
                continue
            if rc < 0 or rc >= 128:
                problems.append("%s died by signal %d" % (what, -rc if rc < 0 else rc - 128))
            elif rc != want:
                problems.append("%s: exit %d, want %d (%s)" % (what, rc, want, lines[-1] if lines else "no message"))
            if rc not in (0, "timeout") and not (lines and lines[-1].startswith("cairn: ")):
                problems.append("%s failed without a 'cairn: ' line: %r" % (what, lines[-3:]))
            if rss > RSS_LIMIT_KB:
                problems.append("%s: peak memory %d MiB" % (what, rss // 1024))
        if tree_digest(victim) != victim_digest:
            problems.append("the victim folder outside the target changed")
            shutil.rmtree(victim)
            os.makedirs(victim)
            open(os.path.join(victim, "file"), "w").write("precious\n")
        after = sorted(os.listdir(cdir))
        if after != before and not (set(after) - set(before) <= {"target"}):
            problems.append("new entries beside the target: %s" % sorted(set(after) - set(before)))
        if c["verify"] and results.get("restore") == 0:
            try:
                good = c["verify"](target)
            except OSError as e:
                good = False
                problems.append("verifying the restore: %s" % e)
            if not good:
                problems.append("the restore did not write what the case expects")
        print("%-62s restore %-4s ls %-4s check %-4s %s" % (
            c["name"], results.get("restore"), results.get("ls"), results.get("check"),
            "ok" if not problems else "BROKEN"), flush=True)
        for p in problems:
            print("    " + p, flush=True)
            failures.append("%s: %s" % (c["name"], p))
        # rm, not shutil.rmtree: a restore cut off deep in a chain leaves
        # more levels than Python's recursion allows.
        subprocess.run(["rm", "-rf", cdir], check=True)
    print("evil repositories: %d cases, %d problems" % (n, len(failures)))
    for x in failures:
        print("BROKEN: " + x)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
