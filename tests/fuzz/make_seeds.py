#!/usr/bin/env python3
"""make_seeds.py REPO OUT_DIR [SEALED_SEEDS]: seed inputs for the fuzz targets
of decoders.cc, written to OUT_DIR/TARGET/, from a real unencrypted repository
made by cairn (packs, index files, snapshots, config, zstd blobs, audit
entries, a plan file if REPO/../plan.json exists) and from trees written by
tests/tools/rawrepo.py.

The sealed-bytes targets need inputs sealed with the fuzz targets' fixed keys
(XChaCha20-Poly1305, which Python here cannot make): give SEALED_SEEDS, the
cairn_fuzz_seeds program (cmake --build build --target cairn_fuzz_seeds;
tests/fuzz/sealed_seeds.cc), and it writes them too."""
import glob, hashlib, os, struct, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import rawrepo

repo, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
if len(sys.argv) > 3:
    subprocess.run([sys.argv[3], out], check=True)

def seed(target, data):
    os.makedirs(os.path.join(out, target), exist_ok=True)
    open(os.path.join(out, target, hashlib.sha1(data).hexdigest()), "wb").write(data)

w = rawrepo.Writer(repo)
for spec in ([{"name": "a", "type": "file", "data": "x" * 100}],
             [{"name": "d", "type": "dir", "entries": [{"name": "l", "type": "symlink", "target": "../x"}]},
              {"name": "h", "type": "hardlink", "data": "y", "target": "d/l"},
              {"name": "p", "type": "fifo"}]):
    tid = w.tree(spec)
    seed("tree", [b for i, t, b in w.blobs if i == tid][0])
for pack in glob.glob(os.path.join(repo, "data", "*", "*"))[:4]:
    data = open(pack, "rb").read()
    hlen = struct.unpack_from("<I", data, len(data) - 16)[0]
    seed("pack_header", data[-(hlen + 16):])
    # zstd blobs: 3 bytes of raw length (bare frames), the frame
    header = data[-(hlen + 16):-16]
    for k in range(struct.unpack_from("<I", header, 8)[0]):
        t, fl, _, sl, rl, off = struct.unpack_from("<BBHIIQ", header, 12 + 52 * k)
        if fl & 1 and rl < (1 << 20):
            seed("decompress", bytes([rl & 0xff, (rl >> 8) & 0xff, (rl >> 16) & 0x0f]) + data[off:off + sl])
for f in glob.glob(os.path.join(repo, "index", "*"))[:3]:
    seed("index_file", open(f, "rb").read())
for f in glob.glob(os.path.join(repo, "snapshots", "*"))[:3]:
    seed("snapshot_file", open(f, "rb").read())
for f in sorted(glob.glob(os.path.join(repo, "audit", "0*")))[:3]:
    seed("audit_entry", open(f, "rb").read())
seed("config", open(os.path.join(repo, "config"), "rb").read())
plan = os.path.join(os.path.dirname(os.path.abspath(repo)), "plan.json")
if os.path.exists(plan):
    seed("plan_file", open(plan, "rb").read())
seed("lock", b'{"acquired_ns":1790000000000000000,"boot_id":"0f1e","heartbeat_ns":1790000000000000000,'
             b'"host":"h","nonce":"a1b2","pid":12,"pid_ns":"4026531836","process_start":"12345"}')
seed("tag_annotation", b'{"message":"release 1.2","time_ns":1790000000000000000,"user":"u"}')
for pat, path, is_dir in (("*.o", "a/b.o", 0), ("/build/", "build", 1), ("**/x/*.log", "a/b/x/y.log", 0),
                          ("[a-c]?d", "bzd", 0), ("!keep", "keep", 0)):
    seed("exclude", bytes([is_dir]) + (pat + "\n" + path).encode())
for t in ("2026-11-20", "2026-11-20 14:00", "2026-11-20T14:00:05.123+02:00", "3 days ago", "@1790000000", "yesterday"):
    seed("time", t.encode())
for t in ("1/5", "10%", "250M", "2/3"):
    seed("data_subset", t.encode())
for t in ("/srv/repo", "local:/srv/repo", "s3:http://127.0.0.1:7480/bucket/prefix", "memory:x"):
    seed("location", t.encode())
for t in ("10", "1K", "4MiB", "2G", "30d", "1w", "12h", "90m", "high", "critical", "low"):
    seed("size_duration", t.encode())
for t in ("latest", "HEAD", "main~1", "HEAD^", "v1", "side^0", "main@{2026-11-20}", "latest:f", "tags/v1",
          "branches/side~0", "HEAD~~^1", "latest@{3 days ago}"):
    seed("revision", t.encode())
seed("varint", bytes([0x80, 0x01, 0xff, 0xff, 0x03, 0x00]))
print(sum(len(files) for _, _, files in os.walk(out)), "seeds")
