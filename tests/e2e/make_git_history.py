#!/usr/bin/env python3
"""make_git_history.py DIR [COMMITS] [--extra N]

Builds a rich git history in a new (non-bare) git repository DIR with
`git fast-import`, from real files of this machine (/usr/share/doc,
/usr/lib/python3*): COMMITS commits (default 2000) over five branches with
merges (one octopus), annotated and lightweight tags, renames, edits,
deletions, symlinks, executable bits, empty files, paths that change type
(file -> symlink -> folder -> file), a submodule (gitlink) entry, names
that are not UTF-8, and a file of 52 MiB that is edited once.

With --extra N it adds N more commits on main to the repository DIR made
before (for the incremental tests). Deterministic: the same arguments give
the same commit ids.
"""
import os
import random
import subprocess
import sys


def pool_files():
    roots = ["/usr/share/doc"] + sorted(
        os.path.join("/usr/lib", d) for d in os.listdir("/usr/lib") if d.startswith("python3"))
    out = []
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for f in sorted(filenames):
                p = os.path.join(dirpath, f)
                try:
                    if os.path.islink(p) or not os.path.isfile(p):
                        continue
                    if 0 < os.path.getsize(p) <= 200_000:
                        out.append(p)
                except OSError:
                    pass
            if len(out) > 20000:
                break
    if len(out) < 500:
        sys.exit("make_git_history: fewer than 500 files under /usr/share/doc and /usr/lib/python3*")
    return out


class Stream:
    def __init__(self):
        self.parts = []
        self.mark = 0

    def w(self, b):
        self.parts.append(b if isinstance(b, bytes) else b.encode())

    def data(self, b):
        b = b if isinstance(b, bytes) else b.encode()
        self.w(b"data %d\n" % len(b))
        self.w(b)
        self.w(b"\n")

    def new_mark(self):
        self.mark += 1
        return self.mark


def main():
    args = sys.argv[1:]
    extra = 0
    if "--extra" in args:
        i = args.index("--extra")
        extra = int(args[i + 1])
        del args[i:i + 2]
    repo = args[0]
    total = int(args[1]) if len(args) > 1 else 2000
    rng = random.Random(20261207 + extra)
    pool = pool_files()
    s = Stream()
    t0 = 1_700_000_000

    def person(n):
        names = ["Ada Lovelace <ada@example.org>", "Linus T <lt@example.org>", "Grace H <grace@example.net>",
                 "Émile Zola <emile@example.fr>"]
        return names[n % len(names)]

    blob_marks = {}

    def blob_of(path):
        if path not in blob_marks:
            with open(path, "rb") as f:
                content = f.read()
            m = s.new_mark()
            s.w("blob\nmark :%d\n" % m)
            s.data(content)
            blob_marks[path] = m
        return blob_marks[path]

    if extra:
        # More commits on main, on top of what is there.
        for k in range(extra):
            when = t0 + 10_000_000 + k * 60
            p = rng.choice(pool)
            mark = blob_of(p)  # the blob goes before the commit that uses it
            s.w("commit refs/heads/main\n")
            s.w("author %s %d +0000\ncommitter %s %d +0000\n" % (person(k), when, person(k + 1), when))
            s.data("extra commit %d\n" % k)
            if k == 0:
                s.w("from refs/heads/main^0\n")
            s.w("M 100644 :%d extra/file-%d.txt\n" % (mark, k % 5))
            s.w("\n")
        run_import(repo, s)
        return

    subprocess.run(["git", "init", "-q", "-b", "main", repo], check=True)
    branches = ["main", "dev", "feature-1", "feature-2", "feature-3"]
    state = {b: {} for b in branches}  # path -> kind (file, link, gitlink)
    head = {b: None for b in branches}
    n = 0
    tags = 0

    def commit(branch, ops, msg, merges=(), start=None):
        nonlocal n
        m = s.new_mark()
        when = t0 + n * 97
        s.w("commit refs/heads/%s\nmark :%d\n" % (branch, m))
        s.w("author %s %d +0000\ncommitter %s %d +0000\n" % (person(n), when, person(n + 3), when - 5))
        s.data(msg)
        frm = start if start is not None else head[branch]
        if frm is not None:
            s.w("from :%d\n" % frm)
        for mm in merges:
            s.w("merge :%d\n" % mm)
        for op in ops:
            s.w(op)
        s.w("\n")
        head[branch] = m
        n += 1
        return m

    def file_op(path, pool_path, mode="100644"):
        return b"M %s :%d %s\n" % (mode.encode(), blob_of(pool_path), path)

    # The first commit: a tree of real files, a big file, odd names.
    ops = []
    st = state["main"]
    for i in range(300):
        p = pool[(i * 7) % len(pool)]
        path = ("src/%s/%s" % (os.path.basename(os.path.dirname(p)), os.path.basename(p))).encode()
        if path in st:
            continue
        ops.append(file_op(path, p, "100755" if i % 17 == 0 else "100644"))
        st[path] = "file"
    big = random.Random(52).randbytes(52 << 20)
    bm = s.new_mark()
    s.w("blob\nmark :%d\n" % bm)
    s.data(big)
    ops.append(b"M 100644 :%d data/big.bin\n" % bm)
    st[b"data/big.bin"] = "file"
    em = s.new_mark()
    s.w("blob\nmark :%d\n" % em)
    s.data(b"")
    for path in (b"empty.txt", b"src/empty-too", b"caf\xe9-latin1.txt", b"\xff\xfe-not-utf8/inside.txt"):
        ops.append(b"M 100644 :%d %s\n" % (em, path))
        st[path] = "file"
    ops.append(b"M 120000 inline link-to-readme\n")
    ops.append(b"data 10\nsrc/README\n")
    st[b"link-to-readme"] = "link"
    ops.append(b"M 160000 1111111111111111111111111111111111111111 vendor/submodule\n")
    st[b"vendor/submodule"] = "gitlink"
    ops.append(b"M 100644 inline .gitmodules\n")
    body = b'[submodule "vendor/submodule"]\n\tpath = vendor/submodule\n\turl = https://example.org/sub.git\n'
    ops.append(b"data %d\n%s\n" % (len(body), body))
    st[b".gitmodules"] = "file"
    root = commit("main", ops, "initial import of real files\n")
    for b in branches[1:]:
        head[b] = root
        state[b] = dict(st)

    # The type-changing path, on main: file, symlink, folder, file again.
    def type_changes(step):
        st = state["main"]
        p = b"shape"
        if step == 0:
            ops = [b"D shape\n", file_op(p, pool[1])]
            st[p] = "file"
        elif step == 1:
            ops = [b"D shape\n", b"M 120000 inline shape\n", b"data 9\nempty.txt\n"]
            st[p] = "link"
        elif step == 2:
            ops = [b"D shape\n", file_op(b"shape/inner.txt", pool[2])]
            st.pop(p, None)
            st[b"shape/inner.txt"] = "file"
        else:
            ops = [b"D shape\n", file_op(p, pool[3], "100755")]
            st.pop(b"shape/inner.txt", None)
            st[p] = "file"
        return ops

    shape_step = 0
    while n < total - 1:
        b = rng.choice(branches)
        st = state[b]
        files = sorted(k for k, v in st.items() if v == "file" and k != b"data/big.bin" and k != b".gitmodules")
        ops = []
        kind = rng.random()
        if b == "main" and n % 150 == 10:
            ops = type_changes(shape_step % 4)
            shape_step += 1
            msg = "shape change %d\n" % shape_step
        elif n == total // 2:
            # The big file edited once: a few bytes in the middle.
            edited = bytearray(big)
            edited[30 << 20:(30 << 20) + 16] = b"edited-in-middle"
            m = s.new_mark()
            s.w("blob\nmark :%d\n" % m)
            s.data(bytes(edited))
            ops = [b"M 100644 :%d data/big.bin\n" % m]
            msg = "edit the big file\n"
            b = "main"
        elif kind < 0.45 and files:
            path = rng.choice(files)
            ops = [file_op(path, rng.choice(pool), "100755" if rng.random() < 0.05 else "100644")]
            msg = "edit %s\n" % path.decode("utf-8", "replace")
        elif kind < 0.7:
            p = rng.choice(pool)
            path = ("%s/%s/%d-%s" % (b, os.path.basename(os.path.dirname(p)), n, os.path.basename(p))).encode()
            ops = [file_op(path, p)]
            st[path] = "file"
            msg = "add %s\n" % path.decode()
        elif kind < 0.82 and len(files) > 50:
            path = rng.choice(files)
            ops = [b"D %s\n" % path]
            del st[path]
            msg = "delete %s\n" % path.decode("utf-8", "replace")
        elif kind < 0.92 and files:
            path = rng.choice(files)
            if b" " in path or path.startswith(b'"'):
                continue
            new = b"renamed/%d-%s" % (n, os.path.basename(path))
            ops = [b"R %s %s\n" % (path, new)]
            del st[path]
            st[new] = "file"
            msg = "rename %s\n" % path.decode("utf-8", "replace")
        elif kind < 0.96:
            target = rng.choice(files).decode("utf-8", "replace") if files else "nowhere"
            path = b"links/%d" % n
            ops = [b"M 120000 inline %s\n" % path, b"data %d\n%s\n" % (len(target.encode()), target.encode())]
            st[path] = "link"
            msg = "link %d\n" % n
        else:
            ops = [file_op(b"chmod-me.sh", rng.choice(pool), "100755" if n % 2 else "100644")]
            st[b"chmod-me.sh"] = "file"
            msg = "mode %d\n" % n
        commit(b, ops, msg)
        # Merges: features into dev, dev into main.
        if n % 97 == 0:
            f = rng.choice(branches[2:])
            commit("dev", [], "merge %s into dev\n" % f, merges=[head[f]])
        if n % 211 == 0:
            commit("main", [], "merge dev into main\n", merges=[head["dev"]])
            state["main"] = dict(state["main"])
        if n % 173 == 0:
            tags += 1
            m = head["main"]
            s.w("tag v0.%d\nfrom :%d\ntagger %s %d +0000\n" % (tags, m, person(tags), t0 + n * 97))
            s.data("release 0.%d\n\nwith notes\n" % tags)
            s.w("reset refs/tags/light-%d\nfrom :%d\n\n" % (tags, head["dev"]))
    # One octopus merge of the three features into main.
    commit("main", [], "octopus merge of the features\n", merges=[head["feature-1"], head["feature-2"], head["feature-3"]])
    s.w("tag v1.0\nfrom :%d\ntagger %s %d +0000\n" % (head["main"], person(1), t0 + n * 97))
    s.data("the one-oh release\n")
    run_import(repo, s)


def run_import(repo, s):
    p = subprocess.run(["git", "-C", repo, "fast-import", "--quiet"], input=b"".join(s.parts), capture_output=True)
    if p.returncode != 0:
        sys.exit("git fast-import failed: " + p.stderr.decode("utf-8", "replace"))


if __name__ == "__main__":
    main()
