#!/usr/bin/env python3
"""make_seeds.py REPO OUT_DIR [SEALED_SEEDS]: seed inputs for decoders_fuzz.cc
from a real repository made by cairn (packs, index files, snapshots, config,
zstd blobs) and from trees written by tests/tools/rawrepo.py. Each seed is the
selector byte of decoders_fuzz.cc followed by the decoder's input.

The sealed-bytes decoders (selector 0xff) need inputs sealed with the fuzz
target's fixed keys (XChaCha20-Poly1305, which Python here cannot make): give
SEALED_SEEDS, the cairn_fuzz_seeds program (cmake --build build --target
cairn_fuzz_seeds; tests/fuzz/sealed_seeds.cc), and it writes them too."""
import glob, hashlib, os, struct, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import rawrepo

repo, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
if len(sys.argv) > 3:
    subprocess.run([sys.argv[3], out], check=True)

def seed(sel, data):
    b = bytes([sel]) + data
    open(os.path.join(out, hashlib.sha1(b).hexdigest()), "wb").write(b)

w = rawrepo.Writer(repo)
for spec in ([{"name": "a", "type": "file", "data": "x" * 100}],
             [{"name": "d", "type": "dir", "entries": [{"name": "l", "type": "symlink", "target": "../x"}]},
              {"name": "h", "type": "hardlink", "data": "y", "target": "d/l"},
              {"name": "p", "type": "fifo"}]):
    tid = w.tree(spec)
    seed(0, [b for i, t, b in w.blobs if i == tid][0])
for pack in glob.glob(os.path.join(repo, "data", "*", "*"))[:4]:
    data = open(pack, "rb").read()
    hlen = struct.unpack_from("<I", data, len(data) - 16)[0]
    seed(1, data[-(hlen + 16):])
    # zstd blobs: selector 5, 3 bytes of raw length (bare frames), the frame
    header = data[-(hlen + 16):-16]
    for k in range(struct.unpack_from("<I", header, 8)[0]):
        t, fl, _, sl, rl, off = struct.unpack_from("<BBHIIQ", header, 12 + 52 * k)
        if fl & 1 and rl < (1 << 20):
            seed(5, bytes([rl & 0xff, (rl >> 8) & 0xff, (rl >> 16) & 0x0f]) + data[off:off + sl])
for f in glob.glob(os.path.join(repo, "index", "*"))[:3]:
    seed(2, open(f, "rb").read())
for f in glob.glob(os.path.join(repo, "snapshots", "*"))[:3]:
    seed(3, open(f, "rb").read())
seed(4, open(os.path.join(repo, "config"), "rb").read())
for pat, path in (("*.o", "a/b.o"), ("/build/", "build"), ("**/x/*.log", "a/b/x/y.log"), ("[a-c]?d", "bzd"), ("!keep", "keep")):
    seed(6, (pat + "\n" + path).encode())
for t in ("2026-11-20", "2026-11-20 14:00", "2026-11-20T14:00:05.123+02:00", "3 days ago", "@1790000000", "yesterday"):
    seed(7, t.encode())
seed(8, bytes([0x80, 0x01, 0xff, 0xff, 0x03, 0x00]))
print(len(os.listdir(out)), "seeds")
