#!/usr/bin/env bash
# bench/portability.sh [PASSES]   (issue 11: copy and bundles, against restic copy and git bundle)
#
# The history of the bench corpus (../shared/bench/make-corpus.sh: the Linux 6.1
# tree src-v1, then src-v2 in the same path) is stored once per run by each tool
# (untimed setup, recorded in setup.tsv):
#   cairn   init (encrypted default, key file), backup v1, backup v2
#   restic  init --repository-version 2, backup v1, backup v2
#   git     commit v1, commit v2 (GIT_DIR outside the tree, so the backups
#           above never see it); a second copy of that git dir is `git gc`ed
# (git add --force: the tree's .gitignore files would otherwise leave files out.)
# Then every pass times, each step on its own:
#   cairn-copy            cairn -r SRC copy --to DST --to-key-file K2 (DST a fresh encrypted repository)
#   cairn-bundle-create   cairn -r SRC bundle create FILE --all --bundle-key-file K3
#   cairn-bundle-import   cairn -r NEW --key-file K4 bundle import FILE --bundle-key-file K3 (NEW fresh, encrypted)
#   restic-copy           restic -r DST copy --from-repo SRC (DST fresh, made without --copy-chunker-params)
#   git-bundle-loose      git bundle create FILE --all, right after the two commits (loose objects)
#   git-bundle-packed     git bundle create FILE --all, after `git gc` (packed, deltas already found)
# Method as bench/run.sh: /usr/bin/time -v after `sync; sleep 1`, the step's input
# read just before (warm page cache); bytes are repository bytes without caches,
# or the bundle's file size. Every row records the 1-minute load average at the
# start of the step and the CPU the rest of the machine used during it.
# Targets, bundles and their caches are removed between passes.
# Results: $BENCH_DIR/results-portability/{setup.tsv,pass-N/port.tsv,summary.md}
# Columns: tool step wall_s user_s sys_s max_rss_kib rc bytes load1 other_cpu_s fs_in_bytes fs_out_bytes
set -euo pipefail
export LC_ALL=C
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
SHARED=${SHARED_BENCH:-$ROOT/../shared/bench}
B=${BENCH_DIR:-/tmp/cairn-bench}
CORPUS=$B/corpus
PASSES=${1:-3}            # `bench/portability.sh --summary`: only print the medians of the last run
W=$B/port                      # work area: data, repositories, caches, bundles
DATA=$W/data; REPOS=$W/repos; CACHE=$W/cache; OUT=$W/out
RESULTS=$B/results-portability
# cairn: a copy of the build, so that a rebuild in build/ cannot change it mid-run.
# (CAIRN=BINARY names another; otherwise build/cairn is copied afresh.)
if [ -z "${CAIRN:-}" ]; then
  CAIRN=/tmp/cairn-portbench
  cp "$ROOT/build/cairn" "$CAIRN"
fi

need=()
for p in restic git time rsync xz-utils openssl linux-source-6.1 python3; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
[ -e "$CORPUS/.done-manifest" ] || bash "$SHARED/make-corpus.sh" "$CORPUS"

HZ=$(getconf CLK_TCK)
busy() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat; }
tval() { grep -F "$1" "$2" | head -1 | sed 's/.*: //'; }
secs() { awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }' <<<"$1"; }
warm() { for p in "$@"; do [ -e "$p" ] && tar cf - -C "$(dirname "$p")" "$(basename "$p")" | cat >/dev/null; done; }
set_src() { rsync -a --delete --whole-file "$CORPUS/$1/" "$DATA/src/"; }
repo_size() { du -sb --exclude=cache "$1" 2>/dev/null | cut -f1; }
file_size() { stat -c %s "$1" 2>/dev/null || echo 0; }

# step TSV TOOL STEP SIZE-CMD CMD...: one timed step, one row. SIZE-CMD is
# evaluated after the step (the bytes it produced).
step() {
  local tsv=$1 tool=$2 name=$3 size=$4; shift 4
  local tf=$RAW/$name.time lf=$RAW/$name.log
  sync; sleep 1
  local load j0 j1 rc
  load=$(cut -d' ' -f1 /proc/loadavg)
  j0=$(busy)
  set +e; /usr/bin/time -v -o "$tf" "$@" >"$lf" 2>&1; rc=$?; set -e
  j1=$(busy)
  local wall user sys rss fin fout other bytes
  wall=$(secs "$(tval 'Elapsed (wall clock)' "$tf")")
  user=$(tval 'User time (seconds)' "$tf"); sys=$(tval 'System time (seconds)' "$tf")
  rss=$(tval 'Maximum resident set size' "$tf")
  fin=$(tval 'File system inputs' "$tf"); fout=$(tval 'File system outputs' "$tf")
  other=$(awk -v j=$((j1 - j0)) -v hz="$HZ" -v u="$user" -v s="$sys" 'BEGIN{printf "%.2f", j/hz-u-s}')
  bytes=$(eval "$size")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$tool" "$name" "$wall" "$user" "$sys" "$rss" "$rc" \
    "${bytes:-0}" "$load" "$other" "$((${fin:-0} * 512))" "$((${fout:-0} * 512))" >> "$tsv"
  printf '  %-7s %-20s rc=%s wall=%7ss cpu=%s+%s rss=%sKiB bytes=%s load=%s other_cpu=%s\n' \
    "$tool" "$name" "$rc" "$wall" "$user" "$sys" "$rss" "${bytes:-0}" "$load" "$other"
  [ "$rc" = 0 ] || { echo "  !! $tool $name failed (rc=$rc); $lf:"; tail -5 "$lf"; }
}

# Keeps only the cache folders that existed after setup (the sources' caches).
trim_caches() {
  local d
  for d in "$CACHE"/cairn/* "$CACHE"/restic/*; do
    [ -d "$d" ] || continue
    grep -qxF "$d" "$CACHE/keep.txt" || rm -rf "$d"
  done
}

summary() { # medians over the passes, as markdown
python3 - "$RESULTS" <<'EOF'
import glob, os, statistics, sys
root = sys.argv[1]
rows = {}
for f in sorted(glob.glob(os.path.join(root, "pass-*", "port.tsv"))):
    for line in open(f):
        p = line.rstrip("\n").split("\t")
        rows.setdefault(p[1], []).append(dict(wall=float(p[2]), cpu=float(p[3]) + float(p[4]),
            rss=int(p[5]) / 1024, rc=int(p[6]), bytes=int(p[7]), load=float(p[8]), other=float(p[9])))
med = lambda xs: statistics.median(xs)
def agg(step):
    r = rows.get(step, [])
    if not r: return None
    return dict(wall=med([x["wall"] for x in r]), cpu=med([x["cpu"] for x in r]), rss=med([x["rss"] for x in r]),
                bytes=med([x["bytes"] for x in r]), rcs=[x["rc"] for x in r], n=len(r),
                walls=[x["wall"] for x in r], loads=[x["load"] for x in r], others=[x["other"] for x in r])
pairs = [("copy", "cairn-copy", "restic-copy"),
         ("bundle create (git: loose objects)", "cairn-bundle-create", "git-bundle-loose"),
         ("bundle create (git: after gc)", "cairn-bundle-create", "git-bundle-packed"),
         ("bundle import", "cairn-bundle-import", None)]
print("| step | cairn median s | peer median s | ratio | peak RSS MiB cairn/peer | bytes cairn/peer | CPU s (user+sys) cairn/peer |")
print("|---|---:|---:|---:|---:|---:|---:|")
for name, c, p in pairs:
    a, b = agg(c), agg(p) if p else None
    if not a: continue
    if b:
        print(f"| {name} | {a['wall']:.2f} | {b['wall']:.2f} ({p}) | {a['wall']/b['wall']:.2f} | "
              f"{a['rss']:.0f} / {b['rss']:.0f} | {a['bytes']/1e6:.1f} MB / {b['bytes']/1e6:.1f} MB | {a['cpu']:.1f} / {b['cpu']:.1f} |")
    else:
        print(f"| {name} | {a['wall']:.2f} | — | — | {a['rss']:.0f} / — | {a['bytes']/1e6:.1f} MB / — | {a['cpu']:.1f} / — |")
print()
for step in sorted(rows):
    a = agg(step)
    print(f"- {step}: wall {', '.join('%.2f' % w for w in a['walls'])} s; cpu median {a['cpu']:.2f} s; "
          f"rss median {a['rss']:.0f} MiB; bytes {int(a['bytes'])}; rc {a['rcs']}; "
          f"load1 at start {a['loads']}; other_cpu {a['others']}")
EOF
}
if [ "$PASSES" = --summary ]; then summary; exit 0; fi
[[ "$PASSES" =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [PASSES|--summary]" >&2; exit 2; }

# ---- setup (untimed for the results; timed rows go to setup.tsv) ----
rm -rf "$W" "$RESULTS"
mkdir -p "$DATA/src" "$REPOS" "$CACHE/cairn" "$CACHE/restic" "$OUT" "$RESULTS"
RAW=$RESULTS/setup-raw; mkdir -p "$RAW"
S=$RESULTS/setup.tsv; : > "$S"
echo "== setup ($(date -u +%FT%TZ), HEAD $(git -C "$ROOT" rev-parse --short HEAD), $CAIRN sha256 $(sha256sum "$CAIRN" | cut -c1-12) of $(stat -c %y "$CAIRN" | cut -c1-19), $($CAIRN --version 2>&1 | head -1), $(restic version | cut -d' ' -f1-2), $(git --version))"

export CAIRN_CACHE_DIR=$CACHE/cairn CAIRN_KEY_FILE=$W/K
for k in K K2 K3 K4; do "$CAIRN" key generate "$W/$k" >/dev/null; done
export RESTIC_PASSWORD=bench-password RESTIC_FROM_PASSWORD=bench-password RESTIC_CACHE_DIR=$CACHE/restic
export GIT_DIR=$REPOS/git-src.git GIT_WORK_TREE=$DATA/src
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.org GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.org
git init -q -b main
git config gc.auto 0            # no background gc: the loose repository stays as the commits left it
git config core.autocrlf false

C="$CAIRN -q -r $REPOS/cairn-src"
set_src src-v1
"$CAIRN" -q init "$REPOS/cairn-src"
restic -q -r "$REPOS/restic-src" init --repository-version 2 >/dev/null
warm "$DATA/src"; step "$S" cairn setup-backup-v1 "repo_size $REPOS/cairn-src" $C backup "$DATA/src"
warm "$DATA/src"; step "$S" restic setup-backup-v1 "repo_size $REPOS/restic-src" restic -r "$REPOS/restic-src" backup --host bench "$DATA/src"
warm "$DATA/src"; step "$S" git setup-commit-v1 "repo_size $GIT_DIR" sh -c \
  'git add -A --force && GIT_AUTHOR_DATE=@1800000000 GIT_COMMITTER_DATE=@1800000000 git commit -q -m src-v1'
set_src src-v2
warm "$DATA/src"; step "$S" cairn setup-backup-v2 "repo_size $REPOS/cairn-src" $C backup "$DATA/src"
warm "$DATA/src"; step "$S" restic setup-backup-v2 "repo_size $REPOS/restic-src" restic -r "$REPOS/restic-src" backup --host bench "$DATA/src"
warm "$DATA/src"; step "$S" git setup-commit-v2 "repo_size $GIT_DIR" sh -c \
  'git add -A --force && GIT_AUTHOR_DATE=@1900000000 GIT_COMMITTER_DATE=@1900000000 git commit -q -m src-v2'
# --force: the Debian tarball's .gitignore ignores `/*` (and the kernel's ignores .* and *.bin):
# git must hold every file the other tools back up. Check that it does.
n_tree=$(find "$DATA/src" -type f -o -type l | wc -l); n_git=$(git ls-files | wc -l)
[ "$n_tree" = "$n_git" ] || { echo "git holds $n_git paths, the tree $n_tree" >&2; exit 1; }
echo "  git holds all $n_git files and symlinks of src-v2 ($(find "$DATA/src" -type d -empty | wc -l) empty folders, which git does not store)"
unset GIT_WORK_TREE
cp -a "$REPOS/git-src.git" "$REPOS/git-packed.git"
step "$S" git setup-gc "repo_size $REPOS/git-packed.git" git --git-dir="$REPOS/git-packed.git" gc -q
git --git-dir="$REPOS/git-packed.git" count-objects -v > "$RESULTS/git-packed.count-objects.txt"
git count-objects -v > "$RESULTS/git-loose.count-objects.txt"
unset GIT_DIR
ls -d "$CACHE"/cairn/* "$CACHE"/restic/* 2>/dev/null > "$CACHE/keep.txt" || true
printf 'sources\tcairn-src %s\trestic-src %s\tgit-loose %s\tgit-packed %s\n' "$(repo_size "$REPOS/cairn-src")" \
  "$(repo_size "$REPOS/restic-src")" "$(repo_size "$REPOS/git-src.git")" "$(repo_size "$REPOS/git-packed.git")" >> "$S"
tail -1 "$S"

# ---- passes ----
for pass in $(seq 1 "$PASSES"); do
  RES=$RESULTS/pass-$pass; RAW=$RES/raw; mkdir -p "$RAW"; T=$RES/port.tsv; : > "$T"
  echo "== pass $pass of $PASSES ($(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg))"
  rm -rf "$REPOS/cairn-dst" "$REPOS/cairn-new" "$REPOS/restic-dst" "$OUT"/*; trim_caches

  "$CAIRN" -q -r "$REPOS/cairn-dst" --key-file "$W/K2" init
  warm "$REPOS/cairn-src" "$CACHE/cairn"
  step "$T" cairn cairn-copy "repo_size $REPOS/cairn-dst" \
    "$CAIRN" -r "$REPOS/cairn-src" copy --to "$REPOS/cairn-dst" --to-key-file "$W/K2"

  warm "$REPOS/cairn-src" "$CACHE/cairn"
  step "$T" cairn cairn-bundle-create "file_size $OUT/cairn.bundle" \
    "$CAIRN" -r "$REPOS/cairn-src" bundle create "$OUT/cairn.bundle" --all --bundle-key-file "$W/K3"

  "$CAIRN" -q -r "$REPOS/cairn-new" --key-file "$W/K4" init
  warm "$OUT/cairn.bundle"
  step "$T" cairn cairn-bundle-import "repo_size $REPOS/cairn-new" \
    "$CAIRN" -r "$REPOS/cairn-new" --key-file "$W/K4" bundle import "$OUT/cairn.bundle" --bundle-key-file "$W/K3"

  restic -q -r "$REPOS/restic-dst" init --repository-version 2 >/dev/null
  warm "$REPOS/restic-src" "$CACHE/restic"
  step "$T" restic restic-copy "repo_size $REPOS/restic-dst" \
    restic -r "$REPOS/restic-dst" copy --from-repo "$REPOS/restic-src"

  warm "$REPOS/git-src.git"
  step "$T" git git-bundle-loose "file_size $OUT/git-loose.bundle" \
    git --git-dir="$REPOS/git-src.git" bundle create "$OUT/git-loose.bundle" --all

  warm "$REPOS/git-packed.git"
  step "$T" git git-bundle-packed "file_size $OUT/git-packed.bundle" \
    git --git-dir="$REPOS/git-packed.git" bundle create "$OUT/git-packed.bundle" --all

  # Sanity, untimed: both targets hold the two snapshots; the bundles verify.
  {
    echo "cairn-dst log: $("$CAIRN" -q -r "$REPOS/cairn-dst" --key-file "$W/K2" log main | grep -c '^snapshot ')"
    echo "cairn-new log: $("$CAIRN" -q -r "$REPOS/cairn-new" --key-file "$W/K4" log main | grep -c '^snapshot ')"
    echo "restic-dst snapshots: $(restic -r "$REPOS/restic-dst" snapshots --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')"
    echo "git-loose bundle verify rc: $(git --git-dir="$REPOS/git-src.git" bundle verify "$OUT/git-loose.bundle" >/dev/null 2>&1; echo $?)"
    echo "git-packed bundle verify rc: $(git --git-dir="$REPOS/git-packed.git" bundle verify "$OUT/git-packed.bundle" >/dev/null 2>&1; echo $?)"
  } > "$RES/sanity.txt" 2>&1 || true
  sed 's/^/  /' "$RES/sanity.txt"
done
rm -rf "$REPOS/cairn-dst" "$REPOS/cairn-new" "$REPOS/restic-dst" "$OUT"/*; trim_caches

summary | tee "$RESULTS/summary.md"
