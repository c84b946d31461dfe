# destroy: risk critical, so refused without approval (nothing removed);
# a plan that no longer holds is refused; --audit-out keeps the audit log
# with destroy's own entry; a destroy removes the repository folder and this
# host's cache of it and keeps what cairn did not write; a live backup
# stops it before anything is removed; and SIGKILL at random moments never
# leaves what a second destroy cannot finish (references go before any
# data, the config before the key slots, a key slot last).
# KILL_ROUNDS=N sets the number of kills (default 12; CAIRN_TEST_LONG=1: 60).
source "$(dirname "$0")/lib.sh"
set -e

if [ "${CAIRN_TEST_LONG:-0}" = 1 ]; then ROUNDS=${KILL_ROUNDS:-60}; else ROUNDS=${KILL_ROUNDS:-12}; fi

# A repository with history: branches, a tag, an audit log.
make_repo() {
  expect_exit 0 $CAIRN -r "$1" init
  mkdir -p data
  for i in $(seq 1 "$2"); do
    head -c 20000 /dev/urandom > "data/f$i"
    expect_exit 0 $CAIRN -r "$1" backup data -q
  done
  expect_exit 0 $CAIRN -r "$1" tag v1 latest -q
  expect_exit 0 $CAIRN -r "$1" branch side latest -q
}
repo_id() { $CAIRN -r "$1" --json show-config | python3 -c "import json,sys; print(json.load(sys.stdin)['id'])"; }

make_repo repo 3
id=$(repo_id repo)
[ -d "$CAIRN_CACHE_DIR/$id" ] || fail "no cache folder for the repository"; ok
expect_exit 0 $CAIRN -r repo --json snapshots
before=$(out)

# --- refused without approval: nothing removed ---
expect_exit 7 $CAIRN -r repo destroy < /dev/null
err | grep -q "destroy the repository at 'repo' needs approval (risk critical)" || fail "refusal: $(err)"; ok
expect_exit 0 $CAIRN -r repo --json snapshots
assert_eq "$(out)" "$before" "snapshots after a refused destroy"
expect_exit 0 $CAIRN -r repo check

# --- a plan, approved, then stale: refused ---
expect_exit 0 $CAIRN -r repo destroy --plan-out plan.json
expect_exit 0 $CAIRN -r repo approve plan.json --yes
echo more > data/more
expect_exit 0 $CAIRN -r repo backup data -q
expect_exit 7 $CAIRN -r repo apply plan.json
err | grep -q "no longer holds" || fail "stale plan: $(err)"; ok
expect_exit 0 $CAIRN -r repo check

# --- a plan that holds, with the audit log kept ---
expect_exit 0 $CAIRN -r repo destroy --plan-out plan2.json --audit-out audit.jsonl
expect_exit 0 $CAIRN -r repo approve plan2.json --yes
echo "a file of the user's" > repo/NOTES
expect_exit 0 $CAIRN -r repo apply plan2.json
out | grep -q "destroyed the repository at repo: 4 snapshot(s)" || fail "destroy output: $(out)"; ok
err | grep -q "'repo' was kept: it holds 'repo/NOTES', which cairn did not write" || fail "kept file not said: $(err)"; ok
assert_eq "$(ls -A repo)" "NOTES" "what is left of the repository folder"
[ ! -e "$CAIRN_CACHE_DIR/$id" ] || fail "the cache of the destroyed repository is still there"; ok
expect_exit 10 $CAIRN -r repo snapshots
python3 - audit.jsonl <<'PYEOF' || fail "the audit log kept by --audit-out is not a whole chain ending in destroy"
import hashlib, json, sys
entries = [json.loads(l) for l in open(sys.argv[1])]
assert entries, "empty"
for i, e in enumerate(entries):
    assert e["seq"] == i + 1, e
    if i:
        assert e["prev"] == entries[i - 1]["hash"], e
    body = {k: v for k, v in e.items() if k != "hash"}
    canon = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert hashlib.sha256(canon.encode()).hexdigest() == e["hash"], e
last = entries[-1]
assert last["operation"] == "destroy" and last["result"] == "started" and last["risk"] == "critical", last
assert last["approval"]["how"] == "plan", last
assert any(e["operation"] == "approve" for e in entries)
PYEOF
ok

# --- a live backup: refused, nothing removed ---
make_repo live 1
mkfifo pipe
( $CAIRN -r live backup --stdin < pipe > /dev/null 2>&1 ) &
bpid=$!
exec 9> pipe
echo "streaming" >&9
sleep 0.5
expect_exit 1 $CAIRN -r live destroy --yes
err | grep -q "session-backup-.* is running (pid .*nothing was removed" || fail "live backup: $(err)"; ok
exec 9>&-
wait "$bpid"
expect_exit 0 $CAIRN -r live check
expect_exit 0 $CAIRN -r live --json audit log
python3 -c "import json; e=json.load(open('$WORK/.out')); d=[x['result'] for x in e if x['operation']=='destroy']; assert d==['started','failed'], d" \
  || fail "the refused destroy's audit entries: $(out)"; ok
expect_exit 0 $CAIRN -r live destroy --yes
[ ! -e live ] || fail "live: folder left: $(ls -A live)"; ok

# --- SIGKILL at random moments ---
make_repo template 25
ls template/data/*/* | sort > packs.all
cp -a template timing
t0=$(date +%s%3N)
expect_exit 0 $CAIRN -r timing destroy --yes
full_ms=$(( $(date +%s%3N) - t0 ))
killed=0
round=0
declare -A phases=()
while [ "$killed" -lt "$ROUNDS" ] && [ "$round" -lt $((ROUNDS * 6)) ]; do
  round=$((round + 1))
  rm -rf r && cp -a template r
  $CAIRN -r r destroy --yes > kill.out 2> kill.err &
  pid=$!
  sleep "0.$(printf '%03d' $(( RANDOM % (full_ms + 1) )))"
  if ! kill -9 "$pid" 2>/dev/null; then
    wait "$pid" || fail "round $round: destroy failed before the kill: $(cat kill.err)"
    continue
  fi
  wait "$pid" 2>/dev/null || true
  if [ ! -e r ]; then phase=gone; killed=$((killed + 1)); phases[$phase]=1; continue; fi
  killed=$((killed + 1))
  packs_left=$(ls r/data/*/* 2>/dev/null | wc -l)
  refs_left=$(find r/refs -type f 2>/dev/null | wc -l)
  if [ -f r/config ]; then
    # Still a repository: it opens with its key, and no reference
    # outlived the first removed pack.
    expect_exit 0 $CAIRN -r r show-config
    if [ "$packs_left" -lt "$(wc -l < packs.all)" ] && [ "$refs_left" -gt 0 ]; then
      fail "round $round: $refs_left reference(s) left while packs were removed"
    fi
    phase=$([ "$packs_left" -lt "$(wc -l < packs.all)" ] && echo data || echo refs)
  else
    [ "$packs_left" = 0 ] && [ "$refs_left" = 0 ] || fail "round $round: the config went before the data"
    phase=remnant
  fi
  phases[$phase]=1
  expect_exit 0 $CAIRN -r r destroy --yes
  [ ! -e r ] || fail "round $round ($phase): a second destroy left $(find r | head -5)"
  ok
done
[ "$killed" -ge "$ROUNDS" ] || fail "only $killed of $ROUNDS destroys were killed before they finished"; ok
echo "phases killed in: ${!phases[*]}"

echo "ok: $checks checks"
