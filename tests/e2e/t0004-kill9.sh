# kill -9 at random moments: after each, check passes (only harmless
# leftovers are allowed), and the next backup and restore work.
source "$(dirname "$0")/lib.sh"

ROUNDS=${KILL_ROUNDS:-25}
mkdir -p src/base
for i in $(seq 1 30); do head -c 300000 /dev/urandom > src/base/r$i; done
python3 -c "
import random
random.seed(7)
for i in range(300):
    open('src/base/t%03d.txt' % i, 'w').write(''.join('%d %s\n' % (j, random.random()) for j in range(random.randint(10, 3000))))
"
expect_exit 0 $CAIRN init repo
export CAIRN_REPO=$WORK/repo
completed=0
killed=0
for round in $(seq 1 "$ROUNDS"); do
  # New content every round, so every kill lands in real work.
  head -c 4000000 /dev/urandom > "src/new-$round.bin"
  python3 -c "import random; print(random.random() * 1000)" > src/base/t001.txt
  $CAIRN -q backup src > /dev/null 2>&1 &
  pid=$!
  sleep "$(printf "0.%03d" $((RANDOM % 450)))"
  if kill -9 "$pid" 2>/dev/null; then killed=$((killed + 1)); fi
  wait "$pid" 2>/dev/null && completed=$((completed + 1)) || true
  expect_exit 0 $CAIRN check
  if grep -q "error" "$WORK/.err"; then fail "check after kill in round $round: $(err)"; fi
done
echo "rounds: $ROUNDS, killed: $killed, completed before the kill: $completed"

# Every snapshot that was acknowledged is complete; the next backup works
# and restores exactly; the data passes a full read.
expect_exit 0 $CAIRN --json backup src
expect_exit 0 $CAIRN check --read-data
expect_exit 0 $CAIRN restore latest --target out
$TREECMP src out > /dev/null || fail "restore after kills differs"; ok
expect_exit 0 $CAIRN --json log
for id in $(json_get "' '.join(s['id'] for s in j)"); do
  expect_exit 0 $CAIRN restore "$id" --target "snap-$id"
done

# kill -9 during a restore leaves the repository untouched but for its
# session object (locks/session-restore-*, docs/gc.md; the killed backups
# above left theirs), which a prune judges dead; a rerun with --force gives
# the exact tree.
no_locks_hash() { (cd "$1" && find . \( -path ./cache -o -path ./locks \) -prune -o -printf '%p %y %m %s %T@\n' | LC_ALL=C sort | sha256sum; find . \( -path ./cache -o -path ./locks \) -prune -o -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum | sha256sum); }
before=$(no_locks_hash repo)
$CAIRN restore latest --target out-killed > /dev/null 2>&1 &
pid=$!
sleep 0.05; kill -9 "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
for f in repo/locks/*; do
  [ -e "$f" ] || continue
  case "$(basename "$f")" in session-*) ;; *) fail "a killed restore left '$f'" ;; esac
done
assert_eq "$(no_locks_hash repo)" "$before" "repository unchanged by a killed restore"
expect_exit 0 $CAIRN restore latest --target out-killed --force --yes
$TREECMP src out-killed > /dev/null || fail "rerun restore after kill differs"; ok
finish
