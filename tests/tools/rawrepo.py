#!/usr/bin/env python3
"""A second, independent writer of cairn's on-disk format (docs/format.md),
used by the tests to (a) check that the format description is complete
enough to write a repository cairn reads, and (b) plant hostile content that
cairn itself would never write (evil names, escaping links).

Blobs are stored raw (flag 0): Python's standard library has no zstd.

usage (as a library): see tests/e2e/t0005-restore-safety.sh
  rawrepo.py REPO BRANCH SPEC.json   writes one snapshot described by SPEC
SPEC is a JSON list of entries: {"name": str|hex bytes, "type": "file"|"dir"|
"symlink"|"hardlink"|"fifo", "data": str, "target": str, "entries": [...]}.
Names may be given as "hex:..." for raw bytes.
"""
import hashlib
import json
import os
import struct
import sys
import time

TYPES = {"file": 1, "dir": 2, "symlink": 3, "hardlink": 4, "fifo": 5}


def sha(b):
    return hashlib.sha256(b).digest()


def varint(n):
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def zigzag(n):
    return (n << 1) ^ (n >> 63) if n >= 0 else ((n << 1) ^ -1) & ((1 << 64) - 1)


def lbytes(b):
    return varint(len(b)) + b


def name_bytes(n):
    return bytes.fromhex(n[4:]) if n.startswith("hex:") else n.encode()


class Writer:
    def __init__(self, repo):
        self.repo = repo
        self.blobs = []  # (id, type, data)

    def add(self, btype, data, claimed_id=None):
        """Adds a blob; `claimed_id` files it under an id that is not its hash
        (a lie for damage tests)."""
        bid = claimed_id or sha(data)
        self.blobs.append((bid, btype, data))
        return bid

    def tree(self, entries, sort=True, count=None, claimed_id=None):
        """The id of a tree of `entries`. For damage tests: `count` writes
        another entry count than there are entries, `claimed_id` files the
        tree under that id; an entry's "type_code" writes that type byte,
        "chunks" (hex ids) its chunk list instead of one chunk of "data"."""
        items = []
        for e in entries:
            t = e.get("type_code", TYPES.get(e["type"]))
            name = name_bytes(e["name"])
            body = bytearray()
            body += lbytes(name) + bytes([t]) + varint(e.get("mode", 0o644 if t != 2 else 0o755))
            body += varint(0) + varint(0) + lbytes(b"") + lbytes(b"")
            body += varint(zigzag(e.get("mtime_ns", 1_700_000_000_000_000_000)))
            data = e.get("data", "").encode()
            size = e.get("size", len(data)) if t in (1, 4) else 0  # "size": a lie, for damage tests
            body += varint(size)
            if t in (1, 4):
                if "chunks" in e:
                    chunks = [bytes.fromhex(c) for c in e["chunks"]]
                else:
                    chunks = [self.add(1, data)] if data else []
                body += varint(len(chunks)) + b"".join(chunks)
                if t == 4:
                    body += lbytes(e["target"].encode())
            elif t == 2:
                # "subtree": the hex id of a tree added before (deep chains
                # are built from the inside out, without recursion).
                body += bytes.fromhex(e["subtree"]) if "subtree" in e else self.tree(e.get("entries", []))
            elif t == 3:
                body += lbytes(e["target"].encode())
            items.append((name, bytes(body)))
        if sort:
            items.sort()
        blob = bytes([1]) + varint(len(items) if count is None else count) + b"".join(b for _, b in items)
        return self.add(2, blob, claimed_id)

    def pack(self):
        data, entries, off = bytearray(), [], 0
        for bid, btype, blob in self.blobs:
            entries.append(struct.pack("<BBHIIQ", btype, 0, 0, len(blob), len(blob), off) + bid)
            data += blob
            off += len(blob)
        header = b"CPKH" + bytes([1, 0, 0, 0]) + struct.pack("<I", len(entries)) + b"".join(entries)
        check = sha(header)[:4]
        pack = bytes(data) + header + struct.pack("<I", len(header)) + check + b"CAIRNPK1"
        pid = sha(pack)
        path = os.path.join(self.repo, "data", pid.hex()[:2], pid.hex())
        open(path, "wb").write(pack)
        index = struct.pack("<I", 1) + pid + struct.pack("<QI", len(pack), len(entries)) + b"".join(entries)
        index = frame(1, index)
        open(os.path.join(self.repo, "index", sha(index).hex()), "wb").write(index)

    def snapshot(self, tree_id, branch, message="raw", parents=(), file_id=None):
        """Writes a snapshot of `tree_id` (bytes, or a hex string for a lie)
        with `parents` (hex ids) and points `branch` at it; `file_id` (hex)
        files it under a name that is not its hash (a lie)."""
        tree_hex = tree_id if isinstance(tree_id, str) else tree_id.hex()
        snap = {"v": 1, "tree": tree_hex, "parents": list(parents), "time_ns": time.time_ns(), "host": "raw",
                "user": "raw", "paths": ["/raw"], "kind": "full", "branch": branch, "message": message,
                "stats": {k: 0 for k in ("files", "dirs", "bytes", "new_chunks", "new_trees",
                                         "added_raw_bytes", "added_bytes", "duration_ms")},
                "errors": []}
        f = frame(2, json.dumps(snap, sort_keys=True, separators=(",", ":")).encode())
        sid = bytes.fromhex(file_id) if file_id else sha(f)
        open(os.path.join(self.repo, "snapshots", sid.hex()), "wb").write(f)
        open(os.path.join(self.repo, "refs", "branches", branch), "w").write(sid.hex() + "\n")
        return sid.hex()


def chain(writer, depth, name="d", leaf=None):
    """The root tree of `depth` nested folders called `name`, the innermost
    holding `leaf` (a list of entries), built without recursion."""
    tid = writer.tree(leaf or [])
    for _ in range(depth):
        tid = writer.tree([{"name": name, "type": "dir", "subtree": tid.hex()}])
    return tid


def frame(ftype, payload):
    return b"CRNF" + bytes([1, ftype, 0]) + struct.pack("<Q", 0) + payload


def main():
    repo, branch, spec = sys.argv[1], sys.argv[2], json.load(open(sys.argv[3]))
    w = Writer(repo)
    root = w.tree(spec, sort=not os.environ.get("RAW_UNSORTED"))
    w.pack()
    print(w.snapshot(root, branch))


if __name__ == "__main__":
    main()
