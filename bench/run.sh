#!/usr/bin/env bash
# bench/run.sh [PASSES] [TOOL...]
#
# One command: builds the corpus (../shared/bench/make-corpus.sh), installs the
# peers from Debian (restic, borg, bup), builds cairn, and runs each tool in turn
# through the same steps on the same data:
#   a init | b first backup of the kernel tree (src-v1) | c the same tree again |
#   d src-v2 in the same path | e1 a 512 MiB state blob | e2 the edited blob |
#   f restore of the src-v2 snapshot (verified with diff -r and a metadata compare) |
#   f's restore target is a new ext4 file system for every tool (fresh_fs) |
#   g diff between the src-v1 and src-v2 snapshots |
#   i read and verify every stored byte, page cache dropped first
#     (cairn check --read-data; restic check --read-data; borg check --verify-data) |
#   h forget the first snapshot (src-v1) and prune, with the page cache dropped
#     first so that the bytes read (time's "File system inputs") are real
#     (restic forget --prune; borg delete + compact; cairn forget --prune)
# Every step runs under /usr/bin/time -v after `sync; sleep 1`, with its input
# read once just before (warm page cache, as ../shared/bench/RESULTS.md does).
# Settings, like for like: restic with its default compression (auto) and its
# mandatory encryption; borg with zstd,3 and repokey-blake2 (borg cannot turn
# authentication off); bup with its defaults (no encryption); cairn with its
# defaults (encrypted: XChaCha20-Poly1305, HMAC-SHA256 ids), opened with a
# key file, as restic's and borg's runs open theirs with a password from the
# environment (cairn's Argon2id cost of a password is measured on its own,
# step k-open-password); cairn_plain the same with --encryption none.
# bup has no diff or check step.
# TOOL cairn_before runs cairn's steps with the binary $CAIRN_BEFORE (before/after;
# repositories as that binary makes them by default).
# Results: $BENCH_DIR/results/pass-N/TOOL.tsv; then bench/summarize.py prints
# the medians, cairn's ratios and the machine's limits.
set -euo pipefail
export LC_ALL=C
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
SHARED=${SHARED_BENCH:-$ROOT/../shared/bench}
B=${BENCH_DIR:-/tmp/cairn-bench}
CORPUS=$B/corpus
PASSES=${1:-3}; shift || true
TOOLS=("$@"); [ ${#TOOLS[@]} -gt 0 ] || TOOLS=(cairn cairn_plain restic borg bup)
DATA=$B/data; REPOS=$B/repos; CACHE=$B/cache; RESTORE=$B/restore; RESULTS=$B/results

need=()
for p in restic borgbackup bup time rsync xz-utils openssl zstd linux-source-6.1 python3; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
[ -e "$CORPUS/.done-manifest" ] || bash "$SHARED/make-corpus.sh" "$CORPUS"
bash "$ROOT/scripts/setup.sh" >/dev/null
CAIRN=$ROOT/build/cairn
mkdir -p "$DATA" "$REPOS" "$CACHE" "$RESTORE" "$RESULTS"

tree_bytes() { find "$1" -type f -printf '%s\n' | awk '{s+=$1} END{printf "%d\n", s}'; }
SRC1=$(tree_bytes "$CORPUS/src-v1"); SRC2=$(tree_bytes "$CORPUS/src-v2")
BLOB1=$(stat -c %s "$CORPUS/blob-v1/state.bin"); BLOB2=$(stat -c %s "$CORPUS/blob-v2/state.bin")
HZ=$(getconf CLK_TCK)
busy() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat; }
tval() { grep -F "$1" "$2" | head -1 | sed 's/.*: //'; }
secs() { awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }' <<<"$1"; }
# Drops the page cache (root only; otherwise the bytes read are what missed the cache).
cold() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; }
warm() { tar cf - -C "$(dirname "$1")" "$(basename "$1")" | cat >/dev/null; }
set_src() { rsync -a --delete --whole-file "$CORPUS/$1/" "$DATA/src/"; }
set_blob() { mkdir -p "$DATA/blob"; rsync -a --delete --whole-file "$CORPUS/$1/" "$DATA/blob/"; }
repo_size() { # repository bytes, without a local cache kept inside it
  du -sb --exclude=cache "$1" 2>/dev/null | cut -f1; }

# step TOOL STEP INPUT_BYTES CMD...: one timed step, one TSV row.
step() {
  local tool=$1 name=$2 bytes=$3; shift 3
  local tf=$RAW/$tool.$name.time lf=$RAW/$tool.$name.log
  sync; sleep 1
  local j0 j1 rc
  j0=$(busy)
  set +e; /usr/bin/time -v -o "$tf" "$@" >"$lf" 2>&1; rc=$?; set -e
  j1=$(busy)
  local wall user sys rss other repo cache
  wall=$(secs "$(tval 'Elapsed (wall clock)' "$tf")")
  user=$(tval 'User time (seconds)' "$tf"); sys=$(tval 'System time (seconds)' "$tf")
  rss=$(tval 'Maximum resident set size' "$tf")
  local fin fout
  fin=$(tval 'File system inputs' "$tf"); fout=$(tval 'File system outputs' "$tf")
  other=$(awk -v j=$((j1 - j0)) -v hz="$HZ" -v u="$user" -v s="$sys" 'BEGIN{printf "%.2f", j/hz-u-s}')
  repo=$(repo_size "$CUR_REPO"); cache=$(du -sb "$CUR_CACHE" 2>/dev/null | cut -f1 || true)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$tool" "$name" "$bytes" "$wall" "$user" "$sys" \
    "$rss" "$rc" "${repo:-0}" "${cache:-0}" "$other" "$((${fin:-0} * 512))" "$((${fout:-0} * 512))" >> "$RES/$tool.tsv"
  printf '  %-7s %-15s rc=%s wall=%6ss cpu=%s+%s rss=%sKiB repo=%s other_cpu=%s\n' \
    "$tool" "$name" "$rc" "$wall" "$user" "$sys" "$rss" "${repo:-0}" "$other"
  [ "$rc" = 0 ] || { echo "  !! $tool $name failed; $lf:"; tail -5 "$lf"; }
}

verify() { # verify TOOL DIR: exactness of the restore against src-v2
  local out=$RAW/$1.verify.txt
  set +e
  diff -r --no-dereference "$CORPUS/src-v2" "$2" > "$out.diff" 2>&1; local drc=$?
  set -e
  local meta; meta=$(python3 "$SHARED/meta-compare.py" "$CORPUS/src-v2" "$2" | grep '^meta:')
  echo "diff_rc=$drc $meta" > "$out"
  printf '%s\tverify\t%s\n' "$1" "diff_rc=$drc $meta" >> "$RES/$1.tsv"
  echo "  $1 verify: diff_rc=$drc $meta"
}

# Every restore writes into a new, empty ext4 file system (a loop image on
# the same disk), so that no tool pays for what earlier steps deleted: on a
# long-used ext4, creating 84,000 files right after others were removed
# spends most of its time in the inode allocator (perf: recently_deleted,
# find_get_block_common); `cp -a` of the tree took 20 s there and 1.9 s on
# a new file system. Without root or loop devices: a plain folder.
fresh_fs() {
  mountpoint -q "$RESTORE" && umount "$RESTORE"
  rm -rf "${RESTORE:?}"/* 2>/dev/null || true
  if [ "$(id -u)" = 0 ] && command -v mkfs.ext4 >/dev/null; then
    truncate -s 0 "$B/restore.img" && truncate -s 8G "$B/restore.img"
    if mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$B/restore.img" && mount -o loop "$B/restore.img" "$RESTORE"; then return; fi
    echo "  (no loop device: restoring into a plain folder)"
  fi
}

reset() {
  rm -rf "${REPOS:?}/$1" "${CACHE:?}/$1" "${RESTORE:?}/$1"; mkdir -p "$CACHE/$1"
  : > "$RES/$1.tsv"
  CUR_REPO=$REPOS/$1; CUR_CACHE=$CACHE/$1
}

run_cairn() { cairn_steps cairn "$CAIRN"; }
run_cairn_plain() { cairn_steps cairn_plain "$CAIRN" --encryption none; }
# cairn_before: the same steps with the binary $CAIRN_BEFORE (an older build,
# for before/after tables of a change).
run_cairn_before() { cairn_steps cairn_before "${CAIRN_BEFORE:?set CAIRN_BEFORE to the older cairn binary}"; }

# cairn_steps TOOL BINARY [INIT-FLAGS...]
cairn_steps() {
  local T=$1 BIN=$2; shift 2
  reset "$T"
  # An encrypted repository keeps its cache outside, in $CAIRN_CACHE_DIR; an
  # unencrypted one inside (REPO/cache). Either way it is not repository size.
  export CAIRN_CACHE_DIR=$CACHE/$T CAIRN_KEY_FILE=$CACHE/$T.key
  rm -f "$CAIRN_KEY_FILE"
  if [ $# -eq 0 ] && "$BIN" key generate "$CAIRN_KEY_FILE" >/dev/null 2>&1; then
    CUR_CACHE=$CACHE/$T
  else
    unset CAIRN_KEY_FILE
    CUR_CACHE=$REPOS/$T/cache
  fi
  local C="$BIN -q -r $REPOS/$T"
  set_src src-v1
  step "$T" a-init 0 "$BIN" -q init "$@" "$REPOS/$T"
  warm "$DATA/src"; step "$T" b-src-v1 "$SRC1" $C backup "$DATA/src"
  warm "$DATA/src"; step "$T" c-src-v1-again "$SRC1" $C backup "$DATA/src"
  set_src src-v2; warm "$DATA/src"; step "$T" d-src-v2 "$SRC2" $C backup "$DATA/src"
  set_blob blob-v1; warm "$DATA/blob"; step "$T" e1-blob-v1 "$BLOB1" $C backup --branch blob "$DATA/blob/state.bin"
  set_blob blob-v2; warm "$DATA/blob"; step "$T" e2-blob-v2 "$BLOB2" $C backup --branch blob "$DATA/blob/state.bin"
  fresh_fs; step "$T" f-restore-src-v2 "$SRC2" $C restore main --target "$RESTORE/$T"
  verify "$T" "$RESTORE/$T"
  step "$T" g-diff-v1-v2 0 $C diff main~2 main
  # How much of the tree the diff had to read (subtree pruning).
  local reads; reads=$($C -v diff main~2 main 2>&1 >/dev/null | grep -o '[0-9]* tree objects read' | cut -d' ' -f1)
  local total; total=$($C --json stats | python3 -c "import json,sys; print(json.load(sys.stdin)['trees'])")
  printf '%s\tdiff-trees\t%s of %s trees in the repository, %s changed paths\n' "$T" "$reads" "$total" \
    "$($C diff main~2 main | wc -l)" >> "$RES/$T.tsv"
  cold; step "$T" i-check-read-data 0 $C check --read-data
  local first; first=$($C --json log main | python3 -c "import json,sys; print(json.load(sys.stdin)[-1]['id'])")
  cold; step "$T" h-forget-prune 0 $C forget "$first" --prune --yes --grace 0
  echo "  $T diff read $reads of $total trees"
  if [ -n "${CAIRN_KEY_FILE:-}" ]; then
    # What a password costs on top: one open through the default Argon2id
    # slot (3 passes, 256 MiB).
    printf 'bench-password\n' > "$CACHE/$T.pw"
    $C key add --new-password-file "$CACHE/$T.pw" >/dev/null
    step "$T" k-open-password 0 env -u CAIRN_KEY_FILE "$BIN" -q -r "$REPOS/$T" --password-file "$CACHE/$T.pw" \
      key list
  fi
  unset CAIRN_KEY_FILE CAIRN_CACHE_DIR
}

run_restic() {
  reset restic
  export RESTIC_PASSWORD=bench-password RESTIC_REPOSITORY=$REPOS/restic RESTIC_CACHE_DIR=$CACHE/restic
  set_src src-v1
  step restic a-init 0 restic init --repository-version 2
  warm "$DATA/src"; step restic b-src-v1 "$SRC1" restic backup --host bench "$DATA/src"
  warm "$DATA/src"; step restic c-src-v1-again "$SRC1" restic backup --host bench "$DATA/src"
  set_src src-v2; warm "$DATA/src"; step restic d-src-v2 "$SRC2" restic backup --host bench "$DATA/src"
  set_blob blob-v1; warm "$DATA/blob"; step restic e1-blob-v1 "$BLOB1" restic backup --host bench "$DATA/blob/state.bin"
  set_blob blob-v2; warm "$DATA/blob"; step restic e2-blob-v2 "$BLOB2" restic backup --host bench "$DATA/blob/state.bin"
  local ids; ids=$(restic snapshots --json --path "$DATA/src" | python3 -c "import json,sys; s=json.load(sys.stdin); print(s[0]['id'], s[-1]['id'])")
  fresh_fs; step restic f-restore-src-v2 "$SRC2" restic restore "${ids#* }" --target "$RESTORE/restic"
  verify restic "$RESTORE/restic$DATA/src"
  step restic g-diff-v1-v2 0 restic diff ${ids}
  cold; step restic i-check-read-data 0 restic check --read-data
  cold; step restic h-forget-prune 0 restic forget --prune "${ids% *}"
}

run_borg() {
  reset borg
  export BORG_PASSPHRASE=bench-password BORG_REPO=$REPOS/borg BORG_BASE_DIR=$CACHE/borg BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes
  set_src src-v1
  step borg a-init 0 borg init --encryption repokey-blake2
  warm "$DATA/src"; step borg b-src-v1 "$SRC1" borg create --compression zstd,3 ::src-1 "$DATA/src"
  warm "$DATA/src"; step borg c-src-v1-again "$SRC1" borg create --compression zstd,3 ::src-2 "$DATA/src"
  set_src src-v2; warm "$DATA/src"; step borg d-src-v2 "$SRC2" borg create --compression zstd,3 ::src-3 "$DATA/src"
  set_blob blob-v1; warm "$DATA/blob"; step borg e1-blob-v1 "$BLOB1" borg create --compression zstd,3 ::blob-1 "$DATA/blob/state.bin"
  set_blob blob-v2; warm "$DATA/blob"; step borg e2-blob-v2 "$BLOB2" borg create --compression zstd,3 ::blob-2 "$DATA/blob/state.bin"
  fresh_fs; mkdir -p "$RESTORE/borg"
  step borg f-restore-src-v2 "$SRC2" sh -c "cd '$RESTORE/borg' && borg extract ::src-3"
  verify borg "$RESTORE/borg$DATA/src"
  step borg g-diff-v1-v2 0 borg diff ::src-1 src-3
  cold; step borg i-check-read-data 0 borg check --verify-data
  cold; step borg h-forget-prune 0 sh -c "borg delete ::src-1 && borg compact"
}

run_bup() {
  reset bup
  export BUP_DIR=$REPOS/bup
  set_src src-v1
  step bup a-init 0 bup init
  warm "$DATA/src"; step bup b-src-v1 "$SRC1" sh -c "bup index '$DATA/src' && bup save -n src '$DATA/src'"
  warm "$DATA/src"; step bup c-src-v1-again "$SRC1" sh -c "bup index '$DATA/src' && bup save -n src '$DATA/src'"
  set_src src-v2; warm "$DATA/src"; step bup d-src-v2 "$SRC2" sh -c "bup index '$DATA/src' && bup save -n src '$DATA/src'"
  set_blob blob-v1; warm "$DATA/blob"; step bup e1-blob-v1 "$BLOB1" sh -c "bup index '$DATA/blob' && bup save -n blob '$DATA/blob'"
  set_blob blob-v2; warm "$DATA/blob"; step bup e2-blob-v2 "$BLOB2" sh -c "bup index '$DATA/blob' && bup save -n blob '$DATA/blob'"
  fresh_fs; mkdir -p "$RESTORE/bup"
  step bup f-restore-src-v2 "$SRC2" bup restore -C "$RESTORE/bup" "/src/latest$DATA/src/"
  verify bup "$RESTORE/bup"
}

limits() { # the machine's ceilings, once per pass
  local f=$RES/limits.txt
  { echo "nproc $(nproc)"; grep -m1 'model name' /proc/cpuinfo
    openssl speed -seconds 2 -bytes 1048576 -evp sha256 2>/dev/null | tail -1
    head -c 268435456 "$CORPUS/linux.tar" > "$B/tar256.bin"
    zstd --single-thread -b3 -i2 "$B/tar256.bin" 2>&1 | tr '\r' '\n' | grep -a 'MB/s,' | tail -1
    rm -f "$B/tar256.bin"; } > "$f" 2>&1 || true
}

for pass in $(seq 1 "$PASSES"); do
  RES=$RESULTS/pass-$pass; RAW=$RES/raw; mkdir -p "$RAW"
  echo "== pass $pass of $PASSES ($(date -u +%FT%TZ), cairn $(git -C "$ROOT" rev-parse --short HEAD))"
  limits
  for t in "${TOOLS[@]}"; do "run_$t"; done
done
if mountpoint -q "$RESTORE"; then umount "$RESTORE"; fi
rm -f "$B/restore.img"
python3 "$HERE/summarize.py" "$RESULTS"
