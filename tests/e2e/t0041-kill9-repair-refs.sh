# kill -9 during the operations this step changed: `repair index` (new index
# file first, then the old ones removed) and ref updates under the lock
# object locks/refs. After every kill the repository checks clean, nothing
# acknowledged is lost, and the next command breaks a lock left behind
# instead of waiting for it.
source "$(dirname "$0")/lib.sh"

ROUNDS=${KILL_ROUNDS:-15}
mkdir -p src
for i in $(seq 1 12); do head -c 1500000 /dev/urandom > src/r$i; done
expect_exit 0 $CAIRN init repo
export CAIRN_REPO=$WORK/repo
for i in 1 2 3 4; do echo "$i" > src/v; expect_exit 0 $CAIRN backup -q src; done
expect_exit 0 $CAIRN --json log
want=$(json_get "' '.join(sorted(s['id'] for s in j))")

killed=0
for round in $(seq 1 "$ROUNDS"); do
  $CAIRN -q repair index > /dev/null 2>&1 &
  pid=$!
  sleep "$(printf "0.%03d" $((RANDOM % 50)))"
  if kill -9 "$pid" 2>/dev/null; then killed=$((killed + 1)); fi
  wait "$pid" 2>/dev/null || true
  expect_exit 0 $CAIRN check
  if grep -q "error" "$WORK/.err"; then fail "check after a killed repair in round $round: $(err)"; fi
done
echo "repair rounds: $ROUNDS, killed: $killed"
expect_exit 0 $CAIRN repair index
expect_exit 0 $CAIRN check --read-data
expect_exit 0 $CAIRN --json log
assert_eq "$(json_get "' '.join(sorted(s['id'] for s in j))")" "$want" "every snapshot survives killed repairs"

# Ref updates: tags and branch resets killed at random moments. Whatever
# the moment, the next ref update succeeds (a stale lock is broken with a
# warning, never waited for), and every ref names an intact snapshot.
broke=0
for round in $(seq 1 "$ROUNDS"); do
  $CAIRN -q tag "t$round" > /dev/null 2>&1 &
  p1=$!
  $CAIRN -q branch --force --yes side latest > /dev/null 2>&1 &
  p2=$!
  sleep "$(printf "0.%03d" $((RANDOM % 30)))"
  kill -9 "$p1" "$p2" 2>/dev/null || true
  wait "$p1" "$p2" 2>/dev/null || true
  expect_exit 0 $CAIRN tag "after$round"
  if grep -q "broke the stale lock 'refs'" "$WORK/.err"; then broke=$((broke + 1)); fi
  expect_exit 0 $CAIRN check
  if grep -q "error" "$WORK/.err"; then fail "check after killed ref updates in round $round: $(err)"; fi
done
echo "ref rounds: $ROUNDS, stale locks broken: $broke"
[ ! -e repo/locks/refs ] || fail "a lock object is left after the last command"; ok
expect_exit 0 $CAIRN restore latest --target out --verify
$TREECMP src out > /dev/null || fail "restore after kills differs"; ok
finish
