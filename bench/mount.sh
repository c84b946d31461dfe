#!/usr/bin/env bash
# bench/mount.sh CAIRN SRC [PASSES]   (issue 15: cairn mount beside restic mount and borg mount)
#
# Backs SRC (the kernel tree, src-v1) up once with each tool into a fresh
# repository under $MOUNT_OUT (default /tmp/cairn-mountbench): cairn
# encrypted (key file), restic (repository version 2, RESTIC_PASSWORD),
# borg (repokey, BORG_PASSPHRASE). Then, PASSES times (default 3) and per
# tool in turn, two steps, each on a fresh mount after dropping the page
# cache (so both start cold, as a user's first look would):
#   ls-R   ls -R of the snapshot's folder
#   cat    find SNAPSHOT -type f -exec cat {} +   (every file read once)
# Each step's time is the wall time of the command; its peak RSS is the
# mount process's VmHWM when the step ends. Every pass also checks that
# the cat step read SRC's total bytes. Writes $MOUNT_OUT/mount.tsv and
# prints medians and ratios (cairn / restic, cairn / borg).
set -euo pipefail
CAIRN=$(realpath "${1:?usage: bench/mount.sh CAIRN SRC [PASSES]}")
SRC=$(realpath "${2:?usage: bench/mount.sh CAIRN SRC [PASSES]}")
PASSES=${3:-3}
OUT=${MOUNT_OUT:-/tmp/cairn-mountbench}
command -v restic >/dev/null || { echo "restic is missing (apt-get install restic)"; exit 1; }
command -v borg >/dev/null || { echo "borg is missing (apt-get install borgbackup python3-llfuse)"; exit 1; }
rm -rf "$OUT"
mkdir -p "$OUT/mnt"
MNT=$OUT/mnt
cleanup() { fusermount3 -uz "$MNT" 2>/dev/null || true; }
trap cleanup EXIT
export RESTIC_PASSWORD=bench BORG_PASSPHRASE=bench BORG_RELOCATED_REPO_ACCESS_IS_OK=yes
export CAIRN_CACHE_DIR=$OUT/cairn-cache CAIRN_KEY_FILE=$OUT/cairn.key
"$CAIRN" key generate "$CAIRN_KEY_FILE" >/dev/null
"$CAIRN" -r "$OUT/cairn" init -q
"$CAIRN" -r "$OUT/cairn" backup "$SRC" -q
restic -q -r "$OUT/restic" init --repository-version 2 >/dev/null
restic -q -r "$OUT/restic" --cache-dir "$OUT/restic-cache" backup "$SRC" >/dev/null
borg init -e repokey "$OUT/borg"
(cd "$SRC" && borg create "$OUT/borg::src" .)
want_bytes=$(find "$SRC" -type f -printf '%s\n' | awk '{s+=$1} END {print s}')

# mount_tool TOOL: mounts in the background, sets $pid and $snap.
mount_tool() {
  case $1 in
    cairn)
      "$CAIRN" -r "$OUT/cairn" mount "$MNT" --foreground 2>"$OUT/mount.log" &
      pid=$!; snap=$MNT/latest/ ;;
    restic)
      restic -r "$OUT/restic" --cache-dir "$OUT/restic-cache" mount "$MNT" >"$OUT/mount.log" 2>&1 &
      pid=$!; snap=$MNT/snapshots/latest$SRC/ ;;
    borg)
      borg mount -f "$OUT/borg::src" "$MNT" >"$OUT/mount.log" 2>&1 &
      pid=$!; snap=$MNT/ ;;
  esac
  for _ in $(seq 600); do
    if mountpoint -q "$MNT" && [ -d "$snap" ]; then return 0; fi
    sleep 0.1
  done
  echo "$1 did not mount: $(cat "$OUT/mount.log")"; exit 1
}
unmount_tool() {
  fusermount3 -u "$MNT"
  wait "$pid" 2>/dev/null || true
}
hwm() { awk '/VmHWM/ {print $2}' "/proc/$pid/status"; }
now() { date +%s.%N; }

printf 'pass\ttool\tstep\twall_s\tpeak_rss_kib\tload1\n' >"$OUT/mount.tsv"
for pass in $(seq "$PASSES"); do
  for tool in cairn restic borg; do
    for step in ls-R cat; do
      sync; echo 3 >/proc/sys/vm/drop_caches; sleep 1
      load=$(cut -d' ' -f1 /proc/loadavg)
      mount_tool "$tool"
      t0=$(now)
      if [ "$step" = ls-R ]; then
        ls -R "$snap" >/dev/null
      else
        got=$(find "$snap" -type f -exec cat {} + | wc -c)
        [ "$got" = "$want_bytes" ] || { echo "$tool read $got bytes, SRC holds $want_bytes"; exit 1; }
      fi
      t1=$(now)
      rss=$(hwm)
      unmount_tool
      wall=$(python3 -c "print(f'{$t1 - $t0:.3f}')")
      printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$pass" "$tool" "$step" "$wall" "$rss" "$load" >>"$OUT/mount.tsv"
      echo "pass $pass $tool $step: ${wall} s, peak RSS $((rss / 1024)) MiB (load $load)"
    done
  done
done

python3 - "$OUT/mount.tsv" <<'EOF'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
def med(tool, step, field):
    return statistics.median(float(r[field]) for r in rows if r["tool"] == tool and r["step"] == step)
print("| step | wall s cairn | restic | borg | cairn/restic | cairn/borg | peak RSS MiB cairn | restic | borg | cairn/restic | cairn/borg |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for step in ("ls-R", "cat"):
    w = {t: med(t, step, "wall_s") for t in ("cairn", "restic", "borg")}
    m = {t: med(t, step, "peak_rss_kib") / 1024 for t in ("cairn", "restic", "borg")}
    print(f"| {step} | {w['cairn']:.2f} | {w['restic']:.2f} | {w['borg']:.2f} | {w['cairn']/w['restic']:.2f} | "
          f"{w['cairn']/w['borg']:.2f} | {m['cairn']:.0f} | {m['restic']:.0f} | {m['borg']:.0f} | "
          f"{m['cairn']/m['restic']:.2f} | {m['cairn']/m['borg']:.2f} |")
EOF
