#!/usr/bin/env python3
"""gitcmp.py: checks for t0112 (git interop).

  gitcmp.py history SRC_GIT OUT_GIT IMPORT_JSON EXPORT_JSON
      Every commit of SRC_GIT (all refs) was imported (IMPORT_JSON: the output
      of `cairn --json git import`) and exported (EXPORT_JSON: of `cairn
      --json git export`) into OUT_GIT: its exported commit has the same tree
      id, parents that are the exported commits of its parents (merges and
      octopus merges included), the same author name, email and time and the
      same message (plus the trailer). Every tag names the same tree, and
      annotated tags keep their messages. Prints counts.

  gitcmp.py tree A B
      Folder A and folder B hold the same things as far as git holds them:
      the same regular files (content and owner-execute bit) and symlinks
      (targets) at the same paths, and the same non-empty folders. Empty
      folders, fifos and devices are left out on both sides.
"""
import os
import stat
import subprocess
import sys
import json


def git(repo, *args):
    return subprocess.run(["git", "-C", repo] + list(args), check=True, capture_output=True).stdout


def commits(repo):
    out = {}
    raw = git(repo, "log", "--all", "--format=%H%x00%T%x00%P%x00%an%x00%ae%x00%at%x00%B%x01")
    for rec in raw.split(b"\x01"):
        rec = rec.lstrip(b"\n")
        if not rec:
            continue
        h, t, p, an, ae, at, body = rec.split(b"\x00", 6)
        out[h.decode()] = {"tree": t.decode(), "parents": p.decode().split(), "an": an, "ae": ae, "at": at,
                           "body": body}
    return out


def tags(repo):
    out = {}
    raw = git(repo, "for-each-ref", "refs/tags", "--format=%(refname)%00%(objecttype)%00%(contents)%01")
    for rec in raw.split(b"\x01"):
        rec = rec.lstrip(b"\n")
        if not rec:
            continue
        name, kind, contents = rec.split(b"\x00", 2)
        name = name.decode()
        tree = git(repo, "rev-parse", name + "^{tree}").decode().strip()
        out[name] = {"tree": tree, "annotated": kind == b"tag", "message": contents.rstrip(b"\n")}
    return out


def fail(msg):
    sys.exit("gitcmp: " + msg)


def history(src, dst, imp_json, exp_json):
    imp = json.load(open(imp_json))
    exp = json.load(open(exp_json))
    to_snap = {c["commit"]: c["snapshot"] for c in imp["commits"]}
    to_commit = {c["snapshot"]: c["commit"] for c in exp["commits"]}
    a, b = commits(src), commits(dst)
    merges = octopus = 0
    for h, c in a.items():
        if h not in to_snap:
            fail("commit %s was not imported" % h)
        e = to_commit.get(to_snap[h])
        if e is None or e not in b:
            fail("the snapshot of commit %s was not exported" % h)
        d = b[e]
        if d["tree"] != c["tree"]:
            fail("commit %s has tree %s, its export %s has tree %s" % (h, c["tree"], e, d["tree"]))
        want = [to_commit[to_snap[p]] for p in c["parents"]]
        if d["parents"] != want:
            fail("commit %s: exported parents %s, expected %s" % (h, d["parents"], want))
        if (d["an"], d["ae"], d["at"]) != (c["an"], c["ae"], c["at"]):
            fail("commit %s: author %r %r %r became %r %r %r" % (h, c["an"], c["ae"], c["at"], d["an"], d["ae"], d["at"]))
        if not d["body"].startswith(c["body"].rstrip(b"\n")) or b"Cairn-Snapshot: " + to_snap[h].encode() not in d["body"]:
            fail("commit %s: message %r became %r" % (h, c["body"], d["body"]))
        merges += len(c["parents"]) > 1
        octopus += len(c["parents"]) > 2
    if len(b) != len(a):
        fail("%d commits in the source, %d in the export" % (len(a), len(b)))
    ta, tb = tags(src), tags(dst)
    if sorted(ta) != sorted(tb):
        fail("tags differ: %s against %s" % (sorted(ta), sorted(tb)))
    annotated = 0
    for name, t in ta.items():
        if tb[name]["tree"] != t["tree"]:
            fail("tag %s names tree %s, exported %s" % (name, t["tree"], tb[name]["tree"]))
        if t["annotated"]:
            annotated += 1
            if tb[name]["message"] != t["message"]:
                fail("tag %s: message %r became %r" % (name, t["message"], tb[name]["message"]))
    print("%d commits (%d merges, %d octopus), %d tags (%d annotated): trees, parents, authors, messages equal"
          % (len(a), merges, octopus, len(ta), annotated))


def git_view(root):
    files = {}
    for dirpath, dirnames, filenames in os.walk(root):
        if dirpath == root and ".git" in dirnames:
            dirnames.remove(".git")  # a checkout's own repository
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            rel = os.path.relpath(p, root).encode("utf-8", "surrogateescape")
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                files[rel] = ("link", os.readlink(p))
            elif stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    files[rel] = ("file", bool(st.st_mode & stat.S_IXUSR), f.read())
    # Folders that hold something git keeps.
    dirs = set()
    for rel in files:
        parts = rel.split(b"/")
        for i in range(1, len(parts)):
            dirs.add(b"/".join(parts[:i]))
    return files, dirs


def tree(a, b):
    fa, da = git_view(a)
    fb, db = git_view(b)
    if sorted(fa) != sorted(fb):
        fail("paths differ: only in %s: %s; only in %s: %s" % (a, sorted(set(fa) - set(fb))[:5], b,
                                                              sorted(set(fb) - set(fa))[:5]))
    for p in fa:
        if fa[p] != fb[p]:
            fail("'%s' differs between %s and %s" % (p.decode("utf-8", "replace"), a, b))
    if da != db:
        fail("folders differ")
    print("%d files and symlinks, %d folders equal" % (len(fa), len(da)))


if __name__ == "__main__":
    if sys.argv[1] == "history":
        history(*sys.argv[2:6])
    elif sys.argv[1] == "tree":
        tree(sys.argv[2], sys.argv[3])
    else:
        fail("unknown check " + sys.argv[1])
