#!/usr/bin/env bash
# Many hosts on one S3 repository: four clients, each with its own key slot
# (h3 and h4 write-only host keys), its own local cache and its own branch,
# back up changing data at the same time for 20 rounds, while a fifth (a
# full key) runs forget and prune (grace 0) over and over. No backup waits for another's or fails; afterwards every snapshot
# left restores exactly as its source was, and check --read-data passes.
source "$(dirname "$0")/lib.sh"
source "$TESTS/e2e/s3lib.sh"
start_s3
REPO="s3:$S3_ENDPOINT/cairn-hosts/r"
expect_exit 0 $CAIRN init "$REPO"
export CAIRN_REPO=$REPO
ROUNDS=${HOST_ROUNDS:-20}
HOSTS="h1 h2 h3 h4"
for h in $HOSTS; do
  expect_exit 0 $CAIRN key generate "$WORK/key-$h"
  case $h in
    h3 | h4) expect_exit 0 $CAIRN key add --write-only --host "$h" --key-file "$WORK/key-$h" --yes ;;
    *) expect_exit 0 $CAIRN key add --key-file "$WORK/key-$h" ;;
  esac
  mkdir -p "src-$h/etc" "saved-$h"
  cp -r /usr/share/doc/bash "src-$h/doc"
  echo "$h" > "src-$h/etc/hostname"
done
expect_exit 0 $CAIRN --json key list
assert_eq "$(json_get "len(j['keys'])")" 5 "key slots"
assert_eq "$(json_get "sorted(k['host'] for k in j['keys'] if k['access'] == 'write-only')")" "['h3', 'h4']" \
  "write-only key slots"

# host NAME: ROUNDS backups of its changing tree on branch NAME, each
# source kept as saved-NAME/ID; stops at the first failure.
host() {
  local h=$1 i id
  export CAIRN_KEY_FILE=$WORK/key-$h CAIRN_CACHE_DIR=$WORK/cache-$h
  for i in $(seq 1 "$ROUNDS"); do
    head -c $((20000 + RANDOM * 3)) /dev/urandom > "src-$h/etc/state-$i.bin"
    [ "$i" -gt 2 ] && rm -f "src-$h/etc/state-$((i - 2)).bin"
    echo "$h round $i" >> "src-$h/doc/changes.log"
    if ! $CAIRN --json backup "src-$h" --branch "$h" -m "$h $i" > "$WORK/out-$h" 2> "$WORK/err-$h"; then
      echo "backup $i of $h failed: $(cat "$WORK/err-$h")" > "$WORK/failed-$h"
      return 1
    fi
    id=$(python3 -c "import json; print(json.load(open('$WORK/out-$h'))['snapshot'])")
    cp -a "src-$h" "saved-$h/$id"
    echo "$id" >> "$WORK/order-$h"
  done
}

# The fifth: forget (keeping 3 per branch) and prune, until the hosts end.
pruner() {
  export CAIRN_CACHE_DIR=$WORK/cache-pruner
  local n=0
  while [ ! -f "$WORK/hosts-done" ]; do
    if ! $CAIRN forget --all-branches --keep-last 3 --yes >"$WORK/out-prune" 2>"$WORK/err-prune" ||
       ! $CAIRN prune --yes --grace 0 --max-unused 0 >>"$WORK/out-prune" 2>>"$WORK/err-prune"; then
      echo "forget/prune $n failed: $(cat "$WORK/err-prune")" > "$WORK/failed-pruner"
      return 1
    fi
    n=$((n + 1))
    echo $n > "$WORK/prunes"
  done
}

start=$SECONDS
pruner & pruner_pid=$!
pids=()
for h in $HOSTS; do host "$h" & pids+=($!); done
for p in "${pids[@]}"; do wait "$p" || true; done
touch "$WORK/hosts-done"
wait $pruner_pid || true
echo "4 hosts x $ROUNDS backups beside $(cat "$WORK/prunes" 2>/dev/null || echo 0) forget+prune runs in $((SECONDS - start)) s" >&2
for f in "$WORK"/failed-*; do
  [ -e "$f" ] && fail "$(cat "$f")"
done
ok
[ "$(cat "$WORK/prunes" 2>/dev/null || echo 0)" -ge 2 ] || fail "the pruner ran fewer than twice beside the backups"; ok

# Every snapshot left restores exactly; every host's newest is among them.
export CAIRN_CACHE_DIR=$WORK/cache-check
expect_exit 0 $CAIRN --json log --all
python3 - "$WORK/.out" > "$WORK/left" <<'EOF'
import json, sys
for s in json.load(open(sys.argv[1])):
    print(s["branch"], s["id"])
EOF
left=$(wc -l < "$WORK/left")
[ "$left" -ge 4 ] || fail "only $left snapshots are left"; ok
RESTORED=$WORK/restored
while read -r branch id; do
  [ -d "saved-$branch/$id" ] || fail "snapshot $id on $branch was never reported by its backup"
  mkdir -p "$RESTORED/saved-$branch"
  expect_exit 0 $CAIRN restore "$id" --target "$RESTORED/saved-$branch/$id"
done < "$WORK/left"
for h in $HOSTS; do
  newest=$(tail -1 "$WORK/order-$h")
  grep -q " $newest$" "$WORK/left" || fail "the newest snapshot of $h ($newest) is gone"; ok
done
while read -r branch id; do
  python3 "$TESTS/e2e/treecmp.py" "saved-$branch/$id" "$RESTORED/saved-$branch/$id" >/dev/null ||
    fail "snapshot $id of $branch does not restore as its source was"
  ok
done < "$WORK/left"
expect_exit 0 $CAIRN check --read-data
finish
