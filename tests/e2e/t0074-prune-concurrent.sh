# Backups while prune runs (issue 9; docs/gc.md "Why a concurrent backup
# never loses a blob"): round after round the source (real Debian
# documentation from /usr/share/doc) changes, a backup starts, and a
# forget --keep-last 2 with a prune starts beside it, at a random offset
# either way so the prune overlaps the backup in every phase. Folders come
# and go and come back, so backups deduplicate against blobs that only
# forgotten snapshots had: exactly the blobs a prune is about to delete.
#
# Every fourth round also holds a backup open across the whole round: a
# `backup --stdin --branch held` that has read the one file only the
# snapshot about to be forgotten has (its CHANGES) but does not end until
# the round's prune has finished. Its session is alive from before the
# prune starts to after it ends, so the prune's plan must wait for it (the
# test asserts that it did, whatever the timing), and the held snapshot,
# made of a blob the plan condemned, must restore after the next prune,
# which must have copied that blob out of its condemned pack.
#
# A restore of the newest snapshot from before the round runs beside them,
# from a random moment, and must give back exactly what its backup read.
#
# Each round: both sides exit 0, every kept snapshot restores exactly what
# its backup read (a copy is kept per snapshot), neither side reports
# waiting for a lock, and neither takes more than a few seconds longer than
# it does alone. At the end no plan is left and check --read-data passes.
#
# ROUNDS=N (or PRUNE_ROUNDS=N) sets the number of rounds (default 50; CAIRN_TEST_LONG=1: 200).
source "$(dirname "$0")/lib.sh"

if [ "${CAIRN_TEST_LONG:-0}" = 1 ]; then ROUNDS=${ROUNDS:-200}; else ROUNDS=${PRUNE_ROUNDS:-${ROUNDS:-50}}; fi
SLACK_MS=${SLACK_MS:-4000}   # "a few seconds"
[ -d /usr/share/doc ] || fail "this test backs up /usr/share/doc, which is missing"

# The pool: 48 small documentation folders (about 20-400 KB each).
python3 - > pool.txt <<'EOF'
import os
root = "/usr/share/doc"
out = []
for name in sorted(os.listdir(root)):
    p = os.path.join(root, name)
    if os.path.islink(p) or not os.path.isdir(p):
        continue
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(p) for f in fs
               if not os.path.islink(os.path.join(d, f)))
    if 20000 <= size <= 400000:
        out.append(name)
print("\n".join(out[::max(1, len(out) // 48)][:48]))
EOF
[ "$(wc -l < pool.txt)" -ge 30 ] || fail "too few folders in /usr/share/doc for the pool ($(wc -l < pool.txt))"

expect_exit 0 $CAIRN init repo
export CAIRN_REPO=$WORK/repo
# Restores go to memory when /dev/shm is there: the repository stays on
# disk, but writing the restored trees would otherwise take most of the run.
RESTORED=$(mktemp -d /dev/shm/cairn-e2e-restored.XXXXXX 2>/dev/null || mktemp -d "$WORK/restored.XXXXXX")
trap 'touch "$WORK/release" 2>/dev/null; rm -rf "$WORK" "$RESTORED"' EXIT
mkdir -p src saved held
# The first version: every other folder of the pool.
awk 'NR % 2 == 1' pool.txt | while read -r d; do cp -a "/usr/share/doc/$d" "src/$d"; done

mapfile -t POOL < pool.txt
# change: the source's next version: three folders leave, three come
# (back), one file grows. Unchanged files stay as they are, so the next
# backup takes them from its file-change cache.
change() {
  local d have=() out=() i
  for d in "${POOL[@]}"; do if [ -e "src/$d" ]; then have+=("$d"); else out+=("$d"); fi; done
  for i in 1 2 3; do
    d=$((RANDOM % ${#have[@]})); rm -rf "src/${have[$d]}"; unset "have[$d]"; have=("${have[@]}")
    d=$((RANDOM % ${#out[@]})); cp -a "/usr/share/doc/${out[$d]}" "src/${out[$d]}"; unset "out[$d]"; out=("${out[@]}")
  done
  echo "change $RANDOM" >> src/CHANGES
}

now_ms() { date +%s%3N; }

# run_backup ROUND: backs src up; writes b.rc, b.ms, b.out, b.err.
run_backup() {
  local t0 rc=0; t0=$(now_ms)
  $CAIRN --json backup -m "round $1" src > b.out 2> b.err || rc=$?
  echo $rc > b.rc
  echo $(( $(now_ms) - t0 )) > b.ms
}

# run_prune ROUND: forget --keep-last 2 and prune, as two commands or as
# forget --prune on alternate rounds; writes p.rc, p.ms, p.out, p.err.
run_prune() {
  local t0 rc=0; t0=$(now_ms)
  if [ $(($1 % 2)) = 0 ]; then
    $CAIRN --json forget --keep-last 2 --yes --trash-for 0 > p.out 2> p.err || rc=$?
    if [ $rc = 0 ]; then $CAIRN --json prune --yes --grace 0 --max-unused 0 > p.out 2>> p.err || rc=$?; fi
  else
    $CAIRN --json forget --keep-last 2 --yes --prune --grace 0 --max-unused 0 > p.out 2> p.err || rc=$?
  fi
  echo $rc > p.rc
  echo $(( $(now_ms) - t0 )) > p.ms
}

# The kept snapshots: the snapshot files (one branch; trash records are not).
kept() { ls repo/snapshots | tr '\n' ' '; }
snapshot_of() { grep -o '"snapshot":"[0-9a-f]*"' "$1" | cut -d'"' -f4; }

# verify WHEN [IDS]: every kept snapshot (IDS if given) is one whose backup
# exited 0 and restores exactly the copy taken before that backup (for a
# held snapshot: the bytes it read, as the file `held`).
verify() {
  rm -rf "${RESTORED:?}"/*
  local ids=(${2:-$(kept)}) id trees=()
  for id in "${ids[@]}"; do
    if [ -f "held/$id" ]; then
      expect_exit 0 $CAIRN restore "$id" --target "$RESTORED/$id"
      cmp -s "held/$id" "$RESTORED/$id/held" || fail "$1: held snapshot $id does not restore the bytes its backup read"
      continue
    fi
    [ -d "saved/$id" ] || fail "$1: kept snapshot $id is not one this test made"
    expect_exit 0 $CAIRN restore "$id" --target "$RESTORED/$id"
    trees+=("$id")
  done
  compare_trees "${trees[@]}" > diff.txt || fail "$1: a snapshot does not restore exactly: $(grep -v '^treecmp:' diff.txt | head -5)"
  ok
}

# start_held: first a prune alone, which finishes every plan earlier rounds
# left waiting (so this round's prune marks a plan of its own), and one more
# backup on main, alone, so that three snapshots are kept there and this
# round's forget removes the oldest whatever the order of its commands;
# then starts a backup --stdin on branch held that reads that oldest
# snapshot's CHANGES and waits for the file `release` (or for the test to
# end); returns once its session is in locks/ (nothing else runs then).
start_held() {
  expect_exit 0 $CAIRN --json prune --yes --grace 0 --max-unused 0
  assert_eq "$(json_get "len(j['deferred'])")" "0" "plans deferred by a prune with nothing running beside it"
  change
  run_backup "$round-before"
  [ "$(cat b.rc)" = 0 ] || fail "round $round: the backup before the held one failed: $(cat b.err)"
  local id; id=$(snapshot_of b.out)
  cp -a src "saved/$id"
  echo "$id" >> made.txt
  local oldest; oldest=$(tail -3 made.txt | head -1)
  cp "saved/$oldest/CHANGES" held.data
  rm -f release
  { cat held.data; while [ ! -e "$WORK/release" ] && [ -d "$WORK" ]; do sleep 0.02; done; } |
    $CAIRN --json backup --stdin --stdin-name held --branch held -m "held" > h.out 2> h.err &
  hpid=$!
  local waited=0
  until compgen -G "repo/locks/session-backup-*" > /dev/null; do
    kill -0 "$hpid" 2>/dev/null || fail "the held backup ended before its session appeared: $(cat h.err)"
    waited=$((waited + 1)); [ "$waited" -le 1000 ] || fail "the held backup's session did not appear in 20 s"
    sleep 0.02
  done
}

# end_held: lets the held backup finish; it must exit 0 and make a snapshot.
end_held() {
  touch release
  local rc=0; wait "$hpid" || rc=$?
  [ "$rc" = 0 ] || fail "round $round: the held backup failed (exit $rc): $(cat h.err)"
  local id; id=$(snapshot_of h.out)
  [ -n "$id" ] || fail "round $round: the held backup made no snapshot: $(cat h.out)"
  mv held.data "held/$id"
  ok
}

# Alone first: the wall times to compare with.
solo_b=0; solo_p=0
for round in 1 2 3; do
  change
  run_backup $round
  [ "$(cat b.rc)" = 0 ] || fail "backup alone failed: $(cat b.err)"
  id=$(snapshot_of b.out)
  cp -a src "saved/$id"
  echo "$id" >> made.txt
  [ "$(cat b.ms)" -gt "$solo_b" ] && solo_b=$(cat b.ms)
  run_prune $round
  [ "$(cat p.rc)" = 0 ] || fail "prune alone failed: $(cat p.err)"
  [ "$(cat p.ms)" -gt "$solo_p" ] && solo_p=$(cat p.ms)
done
echo "alone: backup up to $solo_b ms, forget+prune up to $solo_p ms"

deferred=0; resurrected=0; max_b=0; max_p=0; held_rounds=0
for round in $(seq 4 $((ROUNDS + 3))); do
  holding=0
  if [ $((round % 4)) = 2 ]; then holding=1; held_rounds=$((held_rounds + 1)); start_held; fi
  change
  staged=$(mktemp -d -p "$WORK" staged.XXXX)
  cp -a src "$staged/tree"
  # A random offset either way, up to as long as the other side takes
  # alone: the prune's mark, copy, reindex and delete each meet a backup's
  # start, its reading and its commit in some round.
  offset=$(( RANDOM % (solo_b + solo_p + 1) - solo_p ))
  delay=$(printf "%d.%03d" $(( ${offset#-} / 1000 )) $(( ${offset#-} % 1000 )))
  # And a restore of the newest snapshot from before the round (the forget
  # keeps it), started up to as long as a prune takes after the round's
  # first command.
  prev=$(tail -1 made.txt)
  rdelay=$(( RANDOM % (solo_p + 1) ))
  ( sleep "$(printf "%d.%03d" $((rdelay / 1000)) $((rdelay % 1000)))"
    rc=0; $CAIRN restore "$prev" --target "$RESTORED/beside" > r.out 2> r.err || rc=$?; echo $rc > r.rc ) & rpid=$!
  if [ $offset -ge 0 ]; then
    run_backup $round & bpid=$!
    sleep "$delay"
    run_prune $round & ppid=$!
  else
    run_prune $round & ppid=$!
    sleep "$delay"
    run_backup $round & bpid=$!
  fi
  wait $bpid; wait $ppid; wait $rpid
  [ "$(cat b.rc)" = 0 ] || fail "round $round: the backup beside a prune failed (exit $(cat b.rc)): $(cat b.err)"
  [ "$(cat p.rc)" = 0 ] || fail "round $round: forget/prune beside a backup failed (exit $(cat p.rc)): $(cat p.err)"
  [ "$(cat r.rc)" = 0 ] || fail "round $round: the restore of $prev beside a prune failed (exit $(cat r.rc)): $(cat r.err)"
  python3 "$TESTS/e2e/treecmp.py" "saved/$prev" "$RESTORED/beside" > diff.txt ||
    fail "round $round: the restore of $prev beside a prune is not exact: $(head -5 diff.txt)"
  rm -rf "$RESTORED/beside"
  ok
  if [ "$holding" = 1 ]; then
    grep -q '"deferred":\[\]' p.out &&
      fail "round $round: the prune's plan did not wait for the backup that ran from before it to after it: $(cat p.out)"
    ok
    end_held
  fi
  id=$(snapshot_of b.out)
  [ -n "$id" ] || fail "round $round: the backup made no snapshot: $(cat b.out)"
  mv "$staged/tree" "saved/$id"; rmdir "$staged"
  echo "$id" >> made.txt
  if grep -q "waiting for lock" b.err p.err r.err; then
    fail "round $round: a side waited for a lock: $(grep -h "waiting for lock" b.err p.err r.err)"
  fi
  [ "$(cat b.ms)" -le $((solo_b + SLACK_MS)) ] || fail "round $round: backup took $(cat b.ms) ms beside a prune, $solo_b ms alone"
  [ "$(cat p.ms)" -le $((solo_p + SLACK_MS)) ] || fail "round $round: forget+prune took $(cat p.ms) ms beside a backup, $solo_p ms alone"
  ok
  [ "$(cat b.ms)" -gt "$max_b" ] && max_b=$(cat b.ms)
  [ "$(cat p.ms)" -gt "$max_p" ] && max_p=$(cat p.ms)
  # The prune's report: did it meet the backup's session?
  # (p.out: prune's report, alone or inside forget's.)
  grep -q '"deferred":\[\]' p.out || deferred=$((deferred + 1))
  r=$(grep -o '"resurrected_blobs":[0-9]*' p.out | cut -d: -f2)
  resurrected=$((resurrected + ${r:-0}))
  # The round after a held one: the plan the held backup made wait goes on,
  # and the blob that backup took from a condemned pack is copied out first.
  if [ "${after_held:-0}" = 1 ] && [ "${r:-0}" -lt 1 ]; then
    fail "round $round: the prune after the held backup did not copy out the condemned blob it uses: $(cat p.out)"
  fi
  after_held=$holding
  # The new snapshot is the newest: forget --keep-last 2 keeps it.
  now_kept=" $(kept) "
  case "$now_kept" in *" $id "*) ;; *) fail "round $round: snapshot $id of a backup that exited 0 is gone" ;; esac
  verify "round $round" "$now_kept"
  # Copies of forgotten snapshots are not needed any more.
  for s in saved/* held/*; do [ -e "$s" ] || continue; case "$now_kept" in *" $(basename "$s") "*) ;; *) rm -rf "$s" ;; esac; done
  if [ $((round % 10)) = 0 ]; then
    expect_exit 0 $CAIRN check
    if grep -q "cairn: error" "$WORK/.err"; then fail "check in round $round: $(out) $(err)"; fi
  fi
done
echo "rounds: $ROUNDS ($held_rounds with a held backup); slowest beside the other: backup $max_b ms, forget+prune $max_p ms;" \
  "prunes whose plan waited for a backup: $deferred; blobs copied out for a concurrent backup: $resurrected"
# The rounds must really have overlapped: some prune met a running backup.
[ "$deferred" -ge 1 ] || fail "no prune ever met a running backup: the rounds did not overlap"; ok

# Alone again, the next prune finishes every plan; nothing is lost.
expect_exit 0 $CAIRN --json prune --yes --grace 0 --max-unused 0
assert_eq "$(json_get "len(j['deferred'])")" "0" "plans deferred with no backup running"
assert_eq "$(ls repo/prune | wc -l)" "0" "prune plans left"
expect_exit 0 $CAIRN check --read-data
if grep -q -E "cairn: (error|warning)" "$WORK/.err"; then fail "check --read-data at the end: $(out) $(err)"; fi
verify "at the end"
finish
