# --sqlite: a consistent copy of a live SQLite database while another
# process keeps writing to it; the restored database passes integrity_check
# and holds every transaction committed before the backup started.
source "$(dirname "$0")/lib.sh"

expect_exit 0 $CAIRN init repo
export CAIRN_REPO=$WORK/repo

for mode in wal delete; do
  db=$WORK/live-$mode.db
  python3 - "$db" "$mode" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("PRAGMA journal_mode=%s" % sys.argv[2])
c.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, payload BLOB, total INTEGER)")
c.execute("CREATE TABLE ledger (n INTEGER)")
c.execute("INSERT INTO ledger VALUES (0)")
c.commit()
PY
  # The writer: one transaction per row, each also bumping a ledger that must
  # always equal the row count (a torn copy would break that).
  python3 - "$db" "$WORK/committed-$mode" <<'PY' &
import os, random, sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], timeout=30)
deadline = time.time() + 8
i = 0
while time.time() < deadline:
    i += 1
    c.execute("BEGIN IMMEDIATE")
    c.execute("INSERT INTO t (id, payload, total) VALUES (?, ?, ?)", (i, os.urandom(random.randint(100, 4000)), i))
    c.execute("UPDATE ledger SET n = ?", (i,))
    c.commit()
    with open(sys.argv[2] + ".tmp", "w") as f:
        f.write(str(i))
    os.replace(sys.argv[2] + ".tmp", sys.argv[2])
PY
  writer=$!
  sleep 1.5
  committed_before=$(cat "$WORK/committed-$mode")
  expect_exit 0 $CAIRN --json backup --branch "db-$mode" --sqlite "$db"
  assert_eq "$(json_get "j['source']")" "sqlite" "source recorded"
  kill -0 $writer 2>/dev/null || fail "the writer stopped before the backup ended"; ok
  wait $writer
  expect_exit 0 $CAIRN restore "db-$mode" --target "restored-$mode"
  python3 - "$WORK/restored-$mode/live-$mode.db" "$committed_before" <<'PY' || fail "restored $mode database is not consistent"
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok", "integrity_check"
rows = c.execute("SELECT count(*), max(id) FROM t").fetchone()
ledger = c.execute("SELECT n FROM ledger").fetchone()[0]
assert rows[0] == rows[1] == ledger, ("torn copy", rows, ledger)
assert rows[0] >= int(sys.argv[2]), ("lost committed rows", rows[0], sys.argv[2])
print("sqlite %s: %d rows restored, %s were committed before the backup started" % (sys.argv[1][-10:], rows[0], sys.argv[2]))
PY
  ok
done

expect_exit 5 $CAIRN backup --sqlite "$WORK/nonexistent.db"
echo "not a database at all, just some text padding it out to more than a page" > notadb.db
expect_exit 2 $CAIRN backup --sqlite notadb.db
expect_one_line_error "notadb.db"
finish
