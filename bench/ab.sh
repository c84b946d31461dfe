#!/usr/bin/env bash
# bench/ab.sh OLD_CAIRN NEW_CAIRN DIR [ROUNDS]
#
# A/B of two cairn builds on one step, interleaved so that both see the same
# machine state: each round backs DIR up into a new repository with OLD,
# then with NEW (the order alternates every round), after `sync; sleep 1`
# and with DIR read once just before (warm page cache), then restores each
# snapshot into an empty folder. Prints one TSV row per run (build, step,
# wall s, user s, sys s, peak RSS KiB) and the medians. For changes whose
# effect is smaller than the run-to-run noise of bench/run.sh, where the
# tools run one after the other. AB_OUT=FOLDER restores there instead (a
# tmpfs such as /dev/shm takes the disk's inode allocator, whose cost
# depends on what earlier runs deleted, out of the comparison).
set -euo pipefail
OLD=$1 NEW=$2 DIR=$3 ROUNDS=${4:-5}
W=$(mktemp -d /tmp/cairn-ab.XXXXXX)
OUT=$(mktemp -d "${AB_OUT:-$W}/cairn-ab-out.XXXXXX")
trap 'rm -rf "$W" "$OUT"' EXIT
rows=$W/rows.tsv
run() { # run NAME BIN STEP CMD...
  local name=$1 bin=$2 step=$3; shift 3
  sync; sleep 1
  /usr/bin/time -f '%e %U %S %M' -o "$W/t" "$@" >/dev/null 2>&1
  read -r wall user sys rss < "$W/t"
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$step" "$wall" "$user" "$sys" "$rss" | tee -a "$rows"
}
for r in $(seq 1 "$ROUNDS"); do
  order=(old new); [ $((r % 2)) = 0 ] && order=(new old)
  for name in "${order[@]}"; do
    bin=$OLD; [ "$name" = new ] && bin=$NEW
    rm -rf "$W/repo" "$OUT/out"
    "$bin" -q init "$W/repo"
    tar cf - -C "$(dirname "$DIR")" "$(basename "$DIR")" | cat > /dev/null
    run "$name" "$bin" backup "$bin" -q -r "$W/repo" backup "$DIR"
    run "$name" "$bin" restore "$bin" -q -r "$W/repo" restore latest --target "$OUT/out"
  done
done
python3 - "$rows" <<'EOF'
import statistics, sys
from collections import defaultdict
d = defaultdict(list)
for line in open(sys.argv[1]):
    n, s, w, u, y, m = line.split("\t")
    d[(s, n)].append((float(w), float(u), float(y), int(m)))
print("\n| step | build | runs | wall s median (min-max) | user s | sys s | peak RSS MiB |\n|---|---|---:|---:|---:|---:|---:|")
for (s, n), v in sorted(d.items()):
    w = [x[0] for x in v]
    med = lambda i: statistics.median(x[i] for x in v)
    print(f"| {s} | {n} | {len(v)} | {statistics.median(w):.2f} ({min(w):.2f}-{max(w):.2f}) | {med(1):.2f} | {med(2):.2f} | {med(3) / 1024:.0f} |")
EOF
