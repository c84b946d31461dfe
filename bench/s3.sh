#!/usr/bin/env bash
# bench/s3.sh [PASSES]   (issue 12: the S3 backend, against restic on the same S3 server)
#
# A real S3 server on loopback: Ceph RGW (tests/tools/ceph-rgw.sh, one mon, one
# OSD on the in-memory memstore, radosgw), started afresh for every pass
# (CEPH_RGW_MEMSTORE_MB=16384; it holds every object in RAM) and stopped after it.
# Every pass, for each tool, in a fresh prefix of its own bucket
#   cairn   s3:$S3_ENDPOINT/bench-cairn/pN   (encrypted default, key file, CAIRN_CACHE_DIR per pass)
#   restic  s3:$S3_ENDPOINT/bench-restic/pN  (RESTIC_PASSWORD, init --repository-version 2, --cache-dir per pass)
# times, each step on its own:
#   a-init              cairn init / restic init (setup; timed, but no goal)
#   b-src-v1            first backup of the kernel tree (src-v1)
#   c-src-v1-again      the same tree again, unchanged
#   d-src-v2            src-v2 rsynced into the same folder (as bench/run.sh does)
#   f-restore-latest    restore of the latest snapshot (src-v2) into a new, empty
#                       ext4 file system (a loop image, as run.sh's fresh_fs),
#                       verified with diff -r --no-dereference and meta-compare.py
# Method as bench/run.sh and bench/portability.sh: /usr/bin/time -v after
# `sync; sleep 1`, the backup's input read just before (warm page cache). Every
# row records the 1-minute load average at the start of the step, the CPU the S3
# server's daemons used during it (server_cpu_s), and the CPU the rest of the
# machine used besides the tool and the server (other_cpu_s).
# Requests: every request radosgw served during the step, counted from its log
# (one "beast:" access line per request at the default debug level), for both
# tools; for cairn also its own count (CAIRN_S3_STATS, one JSON line per
# process). Bytes: the sum of the object sizes under the prefix after the step
# (ListObjectsV2 with curl's SigV4 signer, paginated), and the object count.
# Results: $BENCH_DIR/results-s3/{pass-N/s3.tsv,pass-N/raw/,machine.txt,summary.md}
# Columns: tool step wall_s user_s sys_s max_rss_kib rc bytes objects load1
#          other_cpu_s server_cpu_s requests_tool requests_rgw rgw_by_method fs_in_bytes fs_out_bytes
set -euo pipefail
export LC_ALL=C
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
SHARED=${SHARED_BENCH:-$ROOT/../shared/bench}
B=${BENCH_DIR:-/tmp/cairn-bench}
CORPUS=$B/corpus
PASSES=${1:-3}            # `bench/s3.sh --summary`: only print the medians of the last run
W=$B/s3                   # work area: data, caches, keys, the server, the restore file system
DATA=$W/data; CACHE=$W/cache; SRV=$W/srv; RESTORE=$W/restore
RESULTS=$B/results-s3
RGW=$ROOT/tests/tools/ceph-rgw.sh
# cairn: a copy of the build, so that a rebuild in build/ cannot change it mid-run.
# (CAIRN=BINARY names another; otherwise build/cairn is copied afresh.)
if [ -z "${CAIRN:-}" ]; then
  CAIRN=/tmp/cairn-s3bench
  cp "$ROOT/build/cairn" "$CAIRN"
fi

HZ=$(getconf CLK_TCK)
busy() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat; }
tval() { grep -F "$1" "$2" | head -1 | sed 's/.*: //'; }
secs() { awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }' <<<"$1"; }
warm() { for p in "$@"; do [ -e "$p" ] && tar cf - -C "$(dirname "$p")" "$(basename "$p")" | cat >/dev/null; done; }
set_src() { rsync -a --delete --whole-file "$CORPUS/$1/" "$DATA/src/"; }
# CPU ticks (utime+stime) of the server's daemons (pids recorded by ceph-rgw.sh).
server_ticks() {
  local t=0 name pid v
  while read -r name pid; do
    v=$(awk '{print $14+$15}' "/proc/$pid/stat" 2>/dev/null || echo 0); t=$((t + v))
  done < "$SRV/pids"
  echo "$t"
}
RGWLOG=$SRV/log/client.rgw.a.log
log_size() { stat -c %s "$RGWLOG" 2>/dev/null || echo 0; }
# rgw_count OFFSET: "TOTAL METHOD:N,..." for the access lines after byte OFFSET
# of radosgw's log. LIST = a GET on the bucket itself (no key).
rgw_count() {
  tail -c +"$(($1 + 1))" "$RGWLOG" | python3 -c '
import re, sys, collections
c = collections.Counter()
for line in sys.stdin:
    if " beast: " not in line: continue
    m = re.search(r"\"([A-Z]+) (/[^ ?]*)(\?[^ ]*)? HTTP/", line)
    if not m: continue
    meth, path = m.group(1), m.group(2)
    if meth == "GET" and path.strip("/").count("/") == 0: meth = "LIST"
    c[meth] += 1
print(sum(c.values()), ",".join("%s:%d" % kv for kv in sorted(c.items())) or "-")'
}
# bucket_size BUCKET PREFIX: "BYTES OBJECTS" under PREFIX/ (ListObjectsV2, paginated).
bucket_size() {
  python3 - "$1" "$2/" <<'EOF'
import os, subprocess, sys, urllib.parse, xml.etree.ElementTree as ET
bucket, prefix = sys.argv[1:3]
ns = "{http://s3.amazonaws.com/doc/2006-03-01/}"
total = n = 0; token = None
while True:
    q = "list-type=2&prefix=" + urllib.parse.quote(prefix, safe="")
    if token: q += "&continuation-token=" + urllib.parse.quote(token, safe="")
    out = subprocess.run(["curl", "-sf", "--aws-sigv4", "aws:amz:%s:s3" % os.environ["S3_REGION"],
                          "--user", "%s:%s" % (os.environ["S3_ACCESS_KEY"], os.environ["S3_SECRET_KEY"]),
                          "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD",
                          "%s/%s?%s" % (os.environ["S3_ENDPOINT"], bucket, q)],
                         capture_output=True, check=True).stdout
    root = ET.fromstring(out)
    for c in root.iter(ns + "Contents"):
        total += int(c.find(ns + "Size").text); n += 1
    t = root.find(ns + "NextContinuationToken")
    if root.findtext(ns + "IsTruncated") == "true" and t is not None: token = t.text
    else: break
print(total, n)
EOF
}
# cairn's own request count: the sum of "requests" over the JSON lines of FILE.
tool_requests() {
  [ -s "$1" ] || { echo NA; return; }
  python3 -c 'import json,sys; print(sum(json.loads(l)["requests"] for l in open(sys.argv[1]) if l.strip()))' "$1"
}

# step TSV TOOL STEP BUCKET PREFIX STATSFILE CMD...: one timed step, one row.
step() {
  local tsv=$1 tool=$2 name=$3 bucket=$4 prefix=$5 stats=$6; shift 6
  local tf=$RAW/$tool.$name.time lf=$RAW/$tool.$name.log
  sync; sleep 1
  local load j0 j1 s0 s1 off rc
  load=$(cut -d' ' -f1 /proc/loadavg)
  off=$(log_size); j0=$(busy); s0=$(server_ticks)
  set +e; /usr/bin/time -v -o "$tf" "$@" >"$lf" 2>&1; rc=$?; set -e
  j1=$(busy); s1=$(server_ticks)
  sleep 1   # radosgw writes its log asynchronously
  local wall user sys rss fin fout other srv bytes objects rq_tool rq_rgw rq_meth
  wall=$(secs "$(tval 'Elapsed (wall clock)' "$tf")")
  user=$(tval 'User time (seconds)' "$tf"); sys=$(tval 'System time (seconds)' "$tf")
  rss=$(tval 'Maximum resident set size' "$tf")
  fin=$(tval 'File system inputs' "$tf"); fout=$(tval 'File system outputs' "$tf")
  srv=$(awk -v t=$((s1 - s0)) -v hz="$HZ" 'BEGIN{printf "%.2f", t/hz}')
  other=$(awk -v j=$((j1 - j0)) -v hz="$HZ" -v u="$user" -v s="$sys" -v v="$srv" 'BEGIN{printf "%.2f", j/hz-u-s-v}')
  read -r rq_rgw rq_meth < <(rgw_count "$off")
  rq_tool=NA; [ -n "$stats" ] && rq_tool=$(tool_requests "$stats")
  read -r bytes objects < <(bucket_size "$bucket" "$prefix" || echo "NA NA")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$tool" "$name" "$wall" "$user" "$sys" \
    "$rss" "$rc" "$bytes" "$objects" "$load" "$other" "$srv" "$rq_tool" "$rq_rgw" "$rq_meth" \
    "$((${fin:-0} * 512))" "$((${fout:-0} * 512))" >> "$tsv"
  printf '  %-6s %-17s rc=%s wall=%7ss cpu=%s+%s rss=%sKiB bytes=%s objs=%s req=%s/rgw %s (%s) load=%s srv_cpu=%s other_cpu=%s\n' \
    "$tool" "$name" "$rc" "$wall" "$user" "$sys" "$rss" "$bytes" "$objects" "$rq_tool" "$rq_rgw" "$rq_meth" "$load" "$srv" "$other"
  [ "$rc" = 0 ] || { echo "  !! $tool $name failed (rc=$rc); $lf:"; tail -5 "$lf"; }
}

# A new, empty ext4 file system at $RESTORE for every restore (see run.sh's
# fresh_fs: creating 80,000 files on a long-used ext4 right after deletions is
# slow in the inode allocator). Without root or loop devices: a plain folder.
fresh_fs() {
  mountpoint -q "$RESTORE" && umount "$RESTORE"
  rm -rf "${RESTORE:?}" 2>/dev/null || true; mkdir -p "$RESTORE"
  if [ "$(id -u)" = 0 ] && command -v mkfs.ext4 >/dev/null; then
    truncate -s 0 "$W/restore.img" && truncate -s 8G "$W/restore.img"
    if mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$W/restore.img" && mount -o loop "$W/restore.img" "$RESTORE"; then return; fi
    echo "  (no loop device: restoring into a plain folder)"
  fi
}

# verify TSV TOOL DIR: the restore against src-v2 (content, then metadata).
verify() {
  local out=$RAW/$2.verify.txt drc meta
  set +e
  diff -r --no-dereference "$CORPUS/src-v2" "$3" > "$out.diff" 2>&1; drc=$?
  set -e
  meta=$(python3 "$SHARED/meta-compare.py" "$CORPUS/src-v2" "$3" | tee "$out.meta" | grep '^meta:')
  local ok=fail; [ "$drc" = 0 ] && ok=pass
  printf '%s\tverify\t%s\tdiff_rc=%s %s\n' "$2" "$ok" "$drc" "$meta" >> "$1"
  echo "  $2 verify: $ok diff_rc=$drc $meta"
}

server_start() {
  server_stop
  CEPH_RGW_MEMSTORE_MB=16384 bash "$RGW" start "$SRV" > "$RAW/server-start.out" 2> "$RAW/server-start.err"
  set -a; . "$SRV/env"; set +a
  export AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET_KEY AWS_DEFAULT_REGION=$S3_REGION
}
server_stop() { [ -f "$SRV/pids" ] && bash "$RGW" stop "$SRV" 2>/dev/null || true; }
cleanup() {
  server_stop
  if mountpoint -q "$RESTORE" 2>/dev/null; then umount "$RESTORE" || true; fi
  rm -f "$W/restore.img"
}

summary() { # medians over the passes, as markdown
python3 - "$RESULTS" <<'EOF'
import glob, os, statistics, sys
root = sys.argv[1]
rows, verifies = {}, {}
for f in sorted(glob.glob(os.path.join(root, "pass-*", "s3.tsv"))):
    for line in open(f):
        p = line.rstrip("\n").split("\t")
        if p[1] == "verify":
            verifies.setdefault(p[0], []).append(p[2] + " (" + p[3] + ")"); continue
        num = lambda s: None if s in ("NA", "") else float(s)
        rows.setdefault((p[0], p[1]), []).append(dict(wall=float(p[2]), cpu=float(p[3]) + float(p[4]),
            rss=int(p[5]) / 1024, rc=int(p[6]), bytes=num(p[7]), objects=num(p[8]), load=float(p[9]),
            other=float(p[10]), srv=float(p[11]), rq_tool=num(p[12]), rq=num(p[13]), meth=p[14]))
def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None
def agg(tool, step):
    r = rows.get((tool, step), [])
    if not r: return None
    a = {k: med([x[k] for x in r]) for k in ("wall", "cpu", "rss", "bytes", "objects", "srv", "rq", "rq_tool")}
    a.update(rcs=[x["rc"] for x in r], walls=[x["wall"] for x in r], loads=[x["load"] for x in r],
             others=[x["other"] for x in r], rqs=[x["rq"] for x in r], meths=[x["meth"] for x in r],
             rq_tools=[x["rq_tool"] for x in r], rsss=[x["rss"] for x in r], n=len(r))
    return a
f0 = lambda v, d=0: "—" if v is None else f"{v:.{d}f}"
ratio = lambda a, b: "—" if a is None or not b else f"{a/b:.2f}"
steps = [("first backup (src-v1)", "b-src-v1"), ("unchanged re-backup", "c-src-v1-again"),
         ("backup of src-v2, same path", "d-src-v2"), ("restore latest (src-v2)", "f-restore-latest"),
         ("init (setup, no goal)", "a-init")]
n = max((len(v) for v in rows.values()), default=0)
print(f"Medians of {n} pass(es). Requests: every request radosgw logged during the step "
      "(cairn's own CAIRN_S3_STATS count in brackets).\n")
print("| step | wall s cairn | wall s restic | ratio | peak RSS MiB cairn | restic | ratio | requests cairn | restic | ratio | CPU s cairn / restic | server CPU s cairn / restic |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for name, s in steps:
    a, b = agg("cairn", s), agg("restic", s)
    if not a or not b: continue
    print(f"| {name} | {a['wall']:.2f} | {b['wall']:.2f} | {ratio(a['wall'], b['wall'])} | {a['rss']:.0f} | {b['rss']:.0f} | "
          f"{ratio(a['rss'], b['rss'])} | {f0(a['rq'])} ({f0(a['rq_tool'])}) | {f0(b['rq'])} | {ratio(a['rq'], b['rq'])} | "
          f"{a['cpu']:.1f} / {b['cpu']:.1f} | {a['srv']:.1f} / {b['srv']:.1f} |")
print()
print("Goals (issue 12), on the medians:\n")
for name, s in steps[:4]:
    a, b = agg("cairn", s), agg("restic", s)
    if not a or not b: continue
    r = a["wall"] / b["wall"]
    print(f"- {name}: time {r:.2f}x restic's, goal <= 0.5x: {'met' if r <= 0.5 else 'NOT met'}")
for name, s in steps[:4]:
    a, b = agg("cairn", s), agg("restic", s)
    if not a or not b: continue
    r = a["rss"] / b["rss"]
    print(f"- {name}: peak RSS {r:.2f}x restic's, goal <= 0.5x: {'met' if r <= 0.5 else 'NOT met'}")
a = agg("cairn", "c-src-v1-again")
if a:
    worst = max(x for x in a["rqs"] + a["rq_tools"] if x is not None)
    print(f"- unchanged re-backup: {f0(a['rq'])} requests (median; most in a pass {worst:.0f}), goal <= 20: "
          f"{'met' if worst <= 20 else 'NOT met'}")
print()
print("Stored in the bucket after the step (median bytes, objects):\n")
for name, s in steps:
    a, b = agg("cairn", s), agg("restic", s)
    if not a or not b: continue
    print(f"- {name}: cairn {f0(a['bytes'])} B in {f0(a['objects'])} objects; restic {f0(b['bytes'])} B in {f0(b['objects'])} objects")
print()
print("Restores verified (diff -r --no-dereference against src-v2, then meta-compare.py):\n")
for t, v in sorted(verifies.items()):
    print(f"- {t}: " + "; ".join(v))
print()
print("Per pass:\n")
for (t, s) in sorted(rows):
    a = agg(t, s)
    print(f"- {t} {s}: wall {', '.join('%.2f' % w for w in a['walls'])} s; rss {', '.join('%.0f' % x for x in a['rsss'])} MiB; "
          f"cpu median {a['cpu']:.2f} s; requests rgw {a['rqs']} tool {a['rq_tools']}; by method {a['meths']}; "
          f"rc {a['rcs']}; load1 at start {a['loads']}; other_cpu {a['others']}")
mf = os.path.join(root, "machine.txt")
if os.path.exists(mf):
    print("\nMachine and run:\n")
    for line in open(mf):
        print("- " + line.rstrip())
EOF
}
if [ "$PASSES" = --summary ]; then summary; exit 0; fi
[[ "$PASSES" =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [PASSES|--summary]" >&2; exit 2; }
[ -e "$CORPUS/.done-manifest" ] || bash "$SHARED/make-corpus.sh" "$CORPUS"
for c in restic rsync curl python3 /usr/bin/time; do command -v "$c" >/dev/null || { echo "$c is missing" >&2; exit 1; }; done

# ---- setup ----
trap cleanup EXIT
cleanup
rm -rf "$W" "$RESULTS"
mkdir -p "$DATA/src" "$CACHE" "$RESULTS"
T_START=$(date -u +%FT%TZ); S_START=$SECONDS
{
  echo "started $T_START"
  echo "nproc $(nproc); $(grep -m1 'model name' /proc/cpuinfo | sed 's/\t//g'); RAM $(awk '/MemTotal/{printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
  echo "cairn commit $(git -C "$ROOT" rev-parse --short HEAD); binary $CAIRN sha256 $(sha256sum "$CAIRN" | cut -c1-12) of $(stat -c %y "$CAIRN" | cut -c1-19); $("$CAIRN" --version 2>&1 | head -1)"
  echo "$(restic version | cut -d' ' -f1-2); $(radosgw --version 2>/dev/null | head -1 | cut -d' ' -f1-3) (memstore, loopback)"
  echo "load at start $(cut -d' ' -f1-3 /proc/loadavg)"
} > "$RESULTS/machine.txt"
echo "== setup ($T_START)"; sed 's/^/  /' "$RESULTS/machine.txt"

# ---- passes ----
for pass in $(seq 1 "$PASSES"); do
  RES=$RESULTS/pass-$pass; RAW=$RES/raw; mkdir -p "$RAW"; T=$RES/s3.tsv; : > "$T"
  echo "== pass $pass of $PASSES ($(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg))"
  server_start
  echo "  S3 server at $S3_ENDPOINT"
  P=p$pass

  # cairn
  R=s3:$S3_ENDPOINT/bench-cairn/$P
  export CAIRN_CACHE_DIR=$CACHE/cairn-$P CAIRN_KEY_FILE=$CACHE/cairn-$P.key
  "$CAIRN" key generate "$CAIRN_KEY_FILE" >/dev/null
  st() { echo "$RAW/cairn.$1.s3stats"; }
  set_src src-v1
  step "$T" cairn a-init bench-cairn "$P" "$(st a-init)" env CAIRN_S3_STATS="$(st a-init)" "$CAIRN" init "$R"
  warm "$DATA/src"
  step "$T" cairn b-src-v1 bench-cairn "$P" "$(st b-src-v1)" env CAIRN_S3_STATS="$(st b-src-v1)" "$CAIRN" -r "$R" backup "$DATA/src"
  warm "$DATA/src"
  step "$T" cairn c-src-v1-again bench-cairn "$P" "$(st c-src-v1-again)" env CAIRN_S3_STATS="$(st c-src-v1-again)" "$CAIRN" -r "$R" backup "$DATA/src"
  set_src src-v2; warm "$DATA/src"
  step "$T" cairn d-src-v2 bench-cairn "$P" "$(st d-src-v2)" env CAIRN_S3_STATS="$(st d-src-v2)" "$CAIRN" -r "$R" backup "$DATA/src"
  fresh_fs
  step "$T" cairn f-restore-latest bench-cairn "$P" "$(st f-restore-latest)" \
    env CAIRN_S3_STATS="$(st f-restore-latest)" "$CAIRN" -r "$R" restore latest --target "$RESTORE/cairn"
  verify "$T" cairn "$RESTORE/cairn"
  "$CAIRN" -r "$R" --json stats > "$RAW/cairn.stats.json" 2>&1 || true
  "$CAIRN" -r "$R" log main > "$RAW/cairn.log-main.txt" 2>&1 || true
  unset CAIRN_CACHE_DIR CAIRN_KEY_FILE

  # restic
  R=s3:$S3_ENDPOINT/bench-restic/$P
  export RESTIC_PASSWORD=bench-password
  RC=(restic -r "$R" --cache-dir "$CACHE/restic-$P")
  set_src src-v1
  step "$T" restic a-init bench-restic "$P" "" "${RC[@]}" init --repository-version 2
  warm "$DATA/src"
  step "$T" restic b-src-v1 bench-restic "$P" "" "${RC[@]}" backup --host bench "$DATA/src"
  warm "$DATA/src"
  step "$T" restic c-src-v1-again bench-restic "$P" "" "${RC[@]}" backup --host bench "$DATA/src"
  set_src src-v2; warm "$DATA/src"
  step "$T" restic d-src-v2 bench-restic "$P" "" "${RC[@]}" backup --host bench "$DATA/src"
  fresh_fs
  step "$T" restic f-restore-latest bench-restic "$P" "" "${RC[@]}" restore latest --target "$RESTORE/restic"
  verify "$T" restic "$RESTORE/restic$DATA/src"
  "${RC[@]}" snapshots > "$RAW/restic.snapshots.txt" 2>&1 || true
  unset RESTIC_PASSWORD

  bash "$RGW" status "$SRV" > "$RAW/server-status.txt" 2>&1 || true
  cp "$RGWLOG" "$RAW/client.rgw.a.log" 2>/dev/null || true
  server_stop
  mountpoint -q "$RESTORE" && umount "$RESTORE"
  rm -rf "${CACHE:?}"/* "$W/restore.img"
done
echo "finished $(date -u +%FT%TZ) after $((SECONDS - S_START)) s; load at the end $(cut -d' ' -f1-3 /proc/loadavg)" >> "$RESULTS/machine.txt"

summary | tee "$RESULTS/summary.md"
