#!/usr/bin/env bash
# bench/write-only.sh CAIRN DIR [ROUNDS]
#
# What a write-only host key costs (issue 12): each round backs DIR up into
# a new encrypted repository twice, once with its full key and once with a
# write-only key of it (the order alternates every round), after `sync;
# sleep 1` and with DIR read once just before (warm page cache); then backs
# up DIR again unchanged with the same key, and restores each first
# snapshot with the full key (which, for the write-only repository, opens
# each pack's key with the box secret first). Prints one TSV row per run
# (key, step, wall s, user s, sys s, peak RSS KiB) and the medians.
# WO_OUT=FOLDER restores there (a tmpfs such as /dev/shm takes the disk's
# inode allocator, whose cost depends on what earlier runs deleted, out of
# the comparison).
set -euo pipefail
CAIRN=$1 DIR=$2 ROUNDS=${3:-3}
W=$(mktemp -d /tmp/cairn-wo.XXXXXX)
OUT=$(mktemp -d "${WO_OUT:-$W}/cairn-wo-out.XXXXXX")
trap 'rm -rf "$W" "$OUT"' EXIT
export CAIRN_CACHE_DIR=$W/cache
rows=$W/rows.tsv
"$CAIRN" key generate "$W/full.key" >/dev/null
"$CAIRN" key generate "$W/wo.key" >/dev/null
run() { # run KEY STEP CMD...
  local key=$1 step=$2; shift 2
  sync; sleep 1
  /usr/bin/time -f '%e %U %S %M' -o "$W/t" "$@" >/dev/null 2>&1
  read -r wall user sys rss < "$W/t"
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$key" "$step" "$wall" "$user" "$sys" "$rss" | tee -a "$rows"
}
for r in $(seq 1 "$ROUNDS"); do
  order=(full write-only); [ $((r % 2)) = 0 ] && order=(write-only full)
  for key in "${order[@]}"; do
    rm -rf "$W/repo" "$OUT/out" "$W/cache"
    "$CAIRN" -q -r "$W/repo" --key-file "$W/full.key" init
    writer=$W/full.key
    if [ "$key" = write-only ]; then
      "$CAIRN" -q -r "$W/repo" --key-file "$W/full.key" key add --write-only --key-file "$W/wo.key" --yes
      writer=$W/wo.key
    fi
    tar cf - -C "$(dirname "$DIR")" "$(basename "$DIR")" | cat > /dev/null
    run "$key" "first backup" "$CAIRN" -q -r "$W/repo" --key-file "$writer" backup "$DIR"
    run "$key" "unchanged backup" "$CAIRN" -q -r "$W/repo" --key-file "$writer" backup "$DIR"
    # The full key restores the snapshot, with a cache of its own
    # (as a restoring host would have).
    CAIRN_CACHE_DIR=$W/cache-restore run "$key" "restore (full key)" \
      "$CAIRN" -q -r "$W/repo" --key-file "$W/full.key" restore latest --target "$OUT/out"
    rm -rf "$W/cache-restore"
  done
done
python3 - "$rows" <<'EOF'
import statistics, sys
from collections import defaultdict
d = defaultdict(list)
for line in open(sys.argv[1]):
    k, s, w, u, y, m = line.rstrip("\n").split("\t")
    d[(s, k)].append((float(w), float(u), float(y), int(m)))
print("\n| step | key that wrote | runs | wall s median (min-max) | user s | sys s | peak RSS MiB |\n|---|---|---:|---:|---:|---:|---:|")
for (s, k), v in sorted(d.items()):
    w = [x[0] for x in v]
    med = lambda i: statistics.median(x[i] for x in v)
    print(f"| {s} | {k} | {len(v)} | {statistics.median(w):.2f} ({min(w):.2f}-{max(w):.2f}) | {med(1):.2f} | {med(2):.2f} | {med(3) / 1024:.0f} |")
EOF
