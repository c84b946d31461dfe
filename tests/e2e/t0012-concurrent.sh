# Several backups into one repository at once (RELIABILITY.md case 21): all
# succeed; on one branch they line up one after another (each re-parented
# onto the head the previous one left, as after a git rebase); every
# snapshot restores its own source, and check passes.
source "$(dirname "$0")/lib.sh"

shared=$(mktemp -p "$WORK" shared.XXXX)
head -c 8000000 /dev/urandom > "$shared"
for d in a b c d e f; do
  mkdir "$d"
  head -c 6000000 /dev/urandom > "$d/own"
  cp "$shared" "$d/shared"          # the same content in every source
done
expect_exit 0 $CAIRN init repo
export CAIRN_REPO=$WORK/repo

pids=()
for d in a b c d; do $CAIRN -q backup -m "$d" "$d" > "out-$d" 2>&1 & pids+=($!); done
for d in e f; do $CAIRN -q backup --branch "br-$d" -m "$d" "$d" > "out-$d" 2>&1 & pids+=($!); done
for p in "${pids[@]}"; do wait "$p" || fail "a concurrent backup failed: $(cat out-*)"; done; ok

expect_exit 0 $CAIRN --json log
assert_eq "$(json_get "len(j)")" "4" "four snapshots on main"
assert_eq "$(json_get "all(j[i]['parents'] == [j[i+1]['id']] for i in range(3)) and j[3]['parents'] == []")" "True" "a linear history"
assert_eq "$(ls repo/snapshots | wc -l)" "6" "no orphaned snapshot files"
expect_exit 0 $CAIRN check --read-data
for d in a b c d; do
  id=$($CAIRN --json log | python3 -c "import json,sys; print([s['id'] for s in json.load(sys.stdin) if s['message'] == '$d'][0])")
  expect_exit 0 $CAIRN restore "$id" --target "restored-$d"
  $TREECMP "$d" "restored-$d" > /dev/null || fail "snapshot of $d does not restore $d"; ok
done
for d in e f; do
  expect_exit 0 $CAIRN restore "br-$d" --target "restored-$d"
  $TREECMP "$d" "restored-$d" > /dev/null || fail "branch br-$d does not restore $d"; ok
done
# Concurrent backups may each store the shared file (duplicates are valid
# and a later prune removes them); afterwards it is known: storing it again
# adds nothing.
mkdir again; cp "$shared" again/copy
expect_exit 0 $CAIRN --json backup --branch again again
assert_eq "$(json_get "j['new_chunks']")" "0" "shared content already stored"
finish
