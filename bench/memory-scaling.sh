#!/usr/bin/env bash
# bench/memory-scaling.sh: does cairn's peak memory grow with the repository?
#
# Makes two repositories: A holds 1 snapshot of the kernel tree (src-v1); B
# holds 10 (src-v1, then 9 variants, each with a different 1% of the files
# edited and a 20 MiB file of its own random data, so every snapshot adds new
# chunks). Then backs up src-v2 into each, three times, and prints the peak
# RSS and wall time of those backups (medians). Flat means the index lives on
# disk, not in memory.
set -euo pipefail
export LC_ALL=C
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
B=${BENCH_DIR:-/tmp/cairn-bench}
CORPUS=$B/corpus
W=$B/memscale
CAIRN=$ROOT/build/cairn
[ -x "$CAIRN" ] || bash "$ROOT/scripts/setup.sh" >/dev/null
[ -d "$CORPUS/src-v1" ] || { echo "run bench/run.sh first (it builds the corpus)"; exit 2; }
rm -rf "$W"; mkdir -p "$W"

variant() { # variant N: src-v1 with every 100th file (offset N) edited, plus 20 MiB of new data
  rsync -a --delete "$CORPUS/src-v1/" "$W/src/"
  (cd "$W/src" && find . -type f | sort | awk -v n="$1" 'NR % 100 == n' | while read -r f; do echo "variant $1" >> "$f"; done)
  { openssl enc -aes-256-ctr -pass "pass:variant-$1" -nosalt -md sha256 </dev/zero 2>/dev/null || true; } | head -c 20971520 > "$W/src/variant.bin"
}

"$CAIRN" -q init "$W/A"
"$CAIRN" -q init "$W/B"
rsync -a "$CORPUS/src-v1/" "$W/src/"
"$CAIRN" -q -r "$W/A" backup "$W/src"
"$CAIRN" -q -r "$W/B" backup "$W/src"
for n in 1 2 3 4 5 6 7 8 9; do variant "$n"; "$CAIRN" -q -r "$W/B" backup "$W/src"; done

measure() { # measure REPO: back up src-v2 into a copy of REPO, 3 times
  for i in 1 2 3; do
    rm -rf "$W/tmp-repo"; cp -a "$1" "$W/tmp-repo"
    rsync -a --delete "$CORPUS/src-v2/" "$W/src/"
    tar cf - -C "$W" src | cat > /dev/null
    sync; sleep 1
    /usr/bin/time -f "%M %e" "$CAIRN" -q -r "$W/tmp-repo" backup "$W/src" 2>&1 | tail -1
  done | sort -n | sed -n 2p
}
a=$(measure "$W/A"); b=$(measure "$W/B")
chunks() { "$CAIRN" --json -r "$1" stats | python3 -c "import json,sys; j=json.load(sys.stdin); print(j['chunks'], j['snapshots'])"; }
echo "| repository | snapshots | chunks | backup of src-v2: peak RSS MiB | wall s |"
echo "|---|---:|---:|---:|---:|"
set -- $(chunks "$W/A"); echo "| A | $2 | $1 | $(( ${a% *} / 1024 )) | ${a#* } |"
set -- $(chunks "$W/B"); echo "| B | $2 | $1 | $(( ${b% *} / 1024 )) | ${b#* } |"
rm -rf "$W"
