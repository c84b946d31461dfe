#!/usr/bin/env bash
# bench/scale.sh [PASSES] [TOOL...]
#
# Scale steps of issue 17, beside restic (default tools: cairn restic;
# cairn_before runs cairn's steps with the binary $CAIRN_BEFORE):
#   m1 first backup of 1,000,000 small files (bench/make-many-files.py:
#      1,000 folders of 1,000 files, 1-8 KiB each, ~4 GB on disk) |
#   m2 the same tree again, unchanged |
#   g1 one 8 GiB file of random data (AES-CTR keystream), first backup, into
#      a repository of its own |
# STEPS (default "m g") picks the many-files steps, the big file, or both.
# Each step runs under /usr/bin/time after `sync; sleep 1`, its input read
# once just before (warm page cache); the inputs are made once in
# $BENCH_DIR/scale and kept. cairn is encrypted and opened with
# a key file, restic with a password from the environment, as in run.sh.
# Prints one TSV row per run and the medians.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
B=${BENCH_DIR:-/tmp/cairn-bench}/scale
PASSES=${1:-1}; shift || true
TOOLS=("$@"); [ ${#TOOLS[@]} -gt 0 ] || TOOLS=(cairn restic)
STEPS=${STEPS:-m g}
has() { [[ " $STEPS " == *" $1 "* ]]; }
CAIRN=${CAIRN:-$ROOT/build/cairn}
mkdir -p "$B"
[ -e "$B/.done-many" ] || { python3 "$HERE/make-many-files.py" "$B/many" 1000 1000 && touch "$B/.done-many"; }
if [ ! -e "$B/.done-big" ]; then
  { openssl enc -aes-256-ctr -pass pass:scale-8G -nosalt -md sha256 </dev/zero 2>/dev/null || true; } |
    head -c $((8 << 30)) > "$B/big.bin"
  touch "$B/.done-big"
fi
rows=$B/rows.tsv; : > "$rows"
warm() { tar cf - -C "$(dirname "$1")" "$(basename "$1")" | cat > /dev/null; }

step() { # step TOOL STEP CMD...
  local tool=$1 name=$2; shift 2
  sync; sleep 1
  /usr/bin/time -f '%e %U %S %M' -o "$B/t" "$@" > "$B/$tool.$name.log" 2>&1 || { echo "  !! $tool $name failed"; tail -3 "$B/$tool.$name.log"; }
  read -r wall user sys rss < "$B/t"
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$tool" "$name" "$wall" "$user" "$sys" "$rss" | tee -a "$rows"
}

for pass in $(seq 1 "$PASSES"); do
  for t in "${TOOLS[@]}"; do
    rm -rf "${B:?}/repo-$t" "$B/cache-$t"; mkdir -p "$B/cache-$t"
    case $t in
      cairn|cairn_before)
        BIN=$CAIRN; [ "$t" = cairn_before ] && BIN=${CAIRN_BEFORE:?set CAIRN_BEFORE to the older cairn binary}
        export CAIRN_CACHE_DIR=$B/cache-$t CAIRN_KEY_FILE=$B/cache-$t.key
        rm -f "$CAIRN_KEY_FILE"; "$BIN" key generate "$CAIRN_KEY_FILE" > /dev/null
        "$BIN" -q init "$B/repo-$t"
        C="$BIN -q -r $B/repo-$t"
        if has m; then
          warm "$B/many"; step "$t" m1-many-first $C backup "$B/many"
          warm "$B/many"; step "$t" m2-many-again $C backup "$B/many"
        fi
        if has g; then
          rm -rf "${B:?}/repo-$t" "$B/cache-$t"; mkdir -p "$B/cache-$t"; "$BIN" -q init "$B/repo-$t"
          warm "$B/big.bin"; step "$t" g1-big-8g $C backup "$B/big.bin"
        fi
        unset CAIRN_CACHE_DIR CAIRN_KEY_FILE ;;
      restic)
        export RESTIC_PASSWORD=bench-password RESTIC_REPOSITORY=$B/repo-$t RESTIC_CACHE_DIR=$B/cache-$t
        restic init --repository-version 2 > /dev/null
        if has m; then
          warm "$B/many"; step restic m1-many-first restic backup --host bench "$B/many"
          warm "$B/many"; step restic m2-many-again restic backup --host bench "$B/many"
        fi
        if has g; then
          rm -rf "${B:?}/repo-$t" "$B/cache-$t"; mkdir -p "$B/cache-$t"; restic init --repository-version 2 > /dev/null
          warm "$B/big.bin"; step restic g1-big-8g restic backup --host bench "$B/big.bin"
        fi
        unset RESTIC_PASSWORD RESTIC_REPOSITORY RESTIC_CACHE_DIR ;;
    esac
    rm -rf "${B:?}/repo-$t"
  done
done
python3 - "$rows" <<'EOF'
import statistics, sys
from collections import defaultdict
d = defaultdict(list)
for line in open(sys.argv[1]):
    t, s, w, u, y, m = line.split("\t")
    d[(s, t)].append((float(w), float(u) + float(y), int(m) / 1024))
print("| step | tool | runs | wall s median (min-max) | CPU s | peak RSS MiB |")
print("|---|---|---:|---:|---:|---:|")
for (s, t), v in sorted(d.items()):
    w = [x[0] for x in v]
    print(f"| {s} | {t} | {len(v)} | {statistics.median(w):.2f} ({min(w):.2f}-{max(w):.2f}) | "
          f"{statistics.median(x[1] for x in v):.2f} | {statistics.median(x[2] for x in v):.0f} |")
EOF
