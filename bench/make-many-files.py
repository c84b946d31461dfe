#!/usr/bin/env python3
"""make-many-files.py DIR FOLDERS FILES: FOLDERS folders of FILES small files.

Deterministic: file k of folder j holds 1-8 KiB of text derived from
SHA-256 of its name, so every file is different (no deduplication between
them) and compresses like source code does. 1000 x 1000 gives the
1,000,000-file tree of bench/scale.sh (about 4 GB on disk in 4 KiB blocks).
"""
import hashlib
import os
import sys

root, folders, files = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
tmp = root + ".tmp"
os.makedirs(tmp, exist_ok=True)
for j in range(folders):
    d = os.path.join(tmp, "d%04d" % j)
    os.makedirs(d, exist_ok=True)
    for k in range(files):
        name = "f%04d.txt" % k
        seed = hashlib.sha256(("%d/%s" % (j, name)).encode()).hexdigest()
        size = 1024 + int(seed[:4], 16) % 7168
        line = ("%s %d %d\n" % (seed, j, k)).encode()
        data = (line * (size // len(line) + 1))[:size]
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
os.rename(tmp, root)
