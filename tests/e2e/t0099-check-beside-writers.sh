#!/usr/bin/env bash
# check sees one consistent state while others write: `check` (and
# `check --read-data`) run in a loop beside a writer that backs up a
# changing tree, forgets and tags; every check must pass (a check that
# reports damage that is not there sends users to repair a good
# repository). Bounded: the writer does 12 rounds, then the loop stops.
source "$(dirname "$0")/lib.sh"
expect_exit 0 $CAIRN init repo
export CAIRN_REPO=$WORK/repo
mkdir -p src
python3 - <<'PYEOF'
import os
for d in range(8):
    os.makedirs(f"src/d{d}", exist_ok=True)
    for i in range(40):
        open(f"src/d{d}/f{i}", "wb").write(os.urandom(3000 + 500 * i))
PYEOF
expect_exit 0 $CAIRN backup src -q

(
  set -e
  for round in $(seq 1 12); do
    python3 -c "
import os, random
r = random.Random($round)
for _ in range(30):
    p = 'src/d%d/f%d' % (r.randrange(8), r.randrange(60))
    if r.random() < 0.7:
        open(p, 'wb').write(os.urandom(r.randrange(1, 90000)))
    elif os.path.exists(p):
        os.remove(p)
"
    $CAIRN backup src -q
    if [ $((round % 3)) = 0 ]; then $CAIRN forget --keep-last 4 --yes -q; fi
    if [ $((round % 4)) = 0 ]; then $CAIRN tag "r$round" latest -q; fi
  done
) > "$WORK/writer.log" 2>&1 &
writer=$!

checks_run=0
bad=0
while kill -0 "$writer" 2>/dev/null && [ "$checks_run" -lt 300 ]; do
  args=(check)
  [ $((checks_run % 3)) = 2 ] && args+=(--read-data)
  set +e
  $CAIRN "${args[@]}" > "$WORK/check.out" 2> "$WORK/check.err"
  rc=$?
  set -e
  checks_run=$((checks_run + 1))
  if [ "$rc" != 0 ]; then
    bad=$((bad + 1))
    echo "check #$checks_run (${args[*]}) beside the writer exited $rc:"; cat "$WORK/check.err"
  fi
done
rc=0; wait "$writer" || rc=$?
[ "$rc" = 0 ] || { cat "$WORK/writer.log"; fail "the writer failed beside the checks (exit $rc)"; }
ok
[ "$checks_run" -ge 5 ] || fail "only $checks_run checks ran beside the writer"; ok
[ "$bad" = 0 ] || fail "$bad of $checks_run checks beside a writer reported damage that is not there"; ok
expect_exit 0 $CAIRN check --read-data
echo "checks beside a writer (12 backups, 4 forgets, 3 tags): $checks_run, all passed"
finish
