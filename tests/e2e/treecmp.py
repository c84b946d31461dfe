#!/usr/bin/env python3
"""treecmp.py A B: compare two directory trees field by field.

Compares, for every entry below A and B (not A and B themselves): type, mode
(07777), uid, gid, mtime in nanoseconds (also for folders and symlinks), size,
content (SHA-256), symlink target, device number, and hard-link structure
(names that share an inode in A must share one in B, and only those).
Prints each difference and exits 1 if there is any, 0 otherwise.
Names are handled as bytes, so names that are not UTF-8 are compared exactly.
"""
import hashlib
import os
import stat
import sys


def walk(root):
    out = {}
    root = os.fsencode(root)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            out[os.path.relpath(full, root)] = os.lstat(full)
    return out


def digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def compare(a_root, b_root, skip_mtime=False):
    """Returns the differences between the trees below a_root and b_root."""
    a, b = walk(a_root), walk(b_root)
    problems = []
    for p in sorted(set(a) | set(b)):
        shown = os.fsdecode(p)
        if p not in b:
            problems.append(f"missing in {b_root}: {shown}")
            continue
        if p not in a:
            problems.append(f"extra in {b_root}: {shown}")
            continue
        sa, sb = a[p], b[p]
        if stat.S_IFMT(sa.st_mode) != stat.S_IFMT(sb.st_mode):
            problems.append(f"type differs: {shown}")
            continue
        for field in ("st_uid", "st_gid"):
            if getattr(sa, field) != getattr(sb, field):
                problems.append(f"{field} differs: {shown}")
        if not stat.S_ISLNK(sa.st_mode) and stat.S_IMODE(sa.st_mode) != stat.S_IMODE(sb.st_mode):
            problems.append(f"mode differs: {shown} {oct(sa.st_mode)} {oct(sb.st_mode)}")
        if not skip_mtime and sa.st_mtime_ns != sb.st_mtime_ns:
            problems.append(f"mtime differs: {shown} {sa.st_mtime_ns} {sb.st_mtime_ns}")
        if stat.S_ISREG(sa.st_mode):
            if sa.st_size != sb.st_size:
                problems.append(f"size differs: {shown}")
            elif digest(os.path.join(os.fsencode(a_root), p)) != digest(os.path.join(os.fsencode(b_root), p)):
                problems.append(f"content differs: {shown}")
        if stat.S_ISLNK(sa.st_mode):
            ta = os.readlink(os.path.join(os.fsencode(a_root), p))
            tb = os.readlink(os.path.join(os.fsencode(b_root), p))
            if ta != tb:
                problems.append(f"symlink target differs: {shown}")
        if stat.S_ISCHR(sa.st_mode) or stat.S_ISBLK(sa.st_mode):
            if sa.st_rdev != sb.st_rdev:
                problems.append(f"device differs: {shown}")
    # Hard links: the partition of regular files by inode must be the same.
    def groups(tree):
        by_ino = {}
        for p, s in tree.items():
            if stat.S_ISREG(s.st_mode):
                by_ino.setdefault((s.st_dev, s.st_ino), []).append(p)
        return sorted(sorted(g) for g in by_ino.values() if len(g) > 1)
    ga, gb = groups(a), groups(b)
    if ga != gb:
        problems.append(f"hard-link groups differ: {ga} vs {gb}")
    return problems, len(a)


def main():
    a_root, b_root = sys.argv[1], sys.argv[2]
    problems, n = compare(a_root, b_root, "--no-mtime" in sys.argv)
    for line in problems:
        print(line)
    print(f"treecmp: {n} entries compared, {len(problems)} differences")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
