# restore --sqlite: a database snapshot restored into a live database while
# another process keeps writing to it (checked with integrity_check first,
# copied in one transaction, a safety snapshot before); rollback --sqlite;
# a snapshot whose database fails the integrity check leaves the live one
# untouched; --at picks the newest snapshot at or before a time.
source "$(dirname "$0")/lib.sh"
set -e

expect_exit 0 $CAIRN init repo
export CAIRN_REPO=$WORK/repo
db=$WORK/live.db
q() { python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1], timeout=30); print(c.execute(sys.argv[2]).fetchone()[0])" "$@"; }
python3 - "$db" <<'EOF'
import os, sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("PRAGMA journal_mode=wal")
c.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, payload BLOB)")
c.execute("CREATE TABLE ledger (n INTEGER)")
c.execute("INSERT INTO ledger VALUES (0)")
for i in range(1, 101):
    c.execute("INSERT INTO t VALUES (?, ?)", (i, os.urandom(500)))
c.execute("UPDATE ledger SET n = 100")
c.commit()
EOF
expect_exit 0 $CAIRN --json backup --sqlite "$db" --time 2026-01-01
s1=$(json_get "j['snapshot']")
python3 - "$db" <<'EOF'
import os, sqlite3, sys
c = sqlite3.connect(sys.argv[1])
for i in range(101, 201):
    c.execute("INSERT INTO t VALUES (?, ?)", (i, os.urandom(500)))
c.execute("UPDATE ledger SET n = 200")
c.commit()
EOF
expect_exit 0 $CAIRN --json backup --sqlite "$db" --time 2026-06-01
s2=$(json_get "j['snapshot']")

# --- into the live database, beside a writer ---
python3 - "$db" "$WORK/writer.done" <<'EOF' &
import os, sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], timeout=30)
i, deadline = 1000, time.time() + 4
while time.time() < deadline:
    i += 1
    c.execute("BEGIN IMMEDIATE")
    c.execute("INSERT INTO t VALUES (?, ?)", (i, os.urandom(300)))
    c.execute("UPDATE ledger SET n = n + 1")
    c.commit()
    time.sleep(0.002)
open(sys.argv[2], "w").write(str(i))
EOF
writer=$!
sleep 1
expect_exit 7 $CAIRN restore "$s1" --sqlite "$db" < /dev/null
expect_one_line_error "restore over the database '$db' needs approval (risk high)"
expect_exit 0 $CAIRN --json restore "$s1" --sqlite "$db" --yes
assert_eq "$(json_get "j['integrity_check']")" "ok" "integrity check reported"
safety=$(json_get "j['safety_snapshot']")
[ "$safety" != "None" ] || fail "no safety snapshot of the live database"; ok
wait "$writer"
[ -f writer.done ] || fail "the writer failed beside the restore"; ok
assert_eq "$(q "$db" "PRAGMA integrity_check")" "ok" "live database after the restore"
assert_eq "$(q "$db" "SELECT (SELECT n FROM ledger) = (SELECT count(*) FROM t)")" "1" "ledger matches rows (no torn state)"
assert_eq "$(q "$db" "SELECT count(*) FROM t WHERE id BETWEEN 101 AND 200")" "0" "rows of the later snapshot are gone"
assert_eq "$(q "$db" "SELECT count(*) FROM t WHERE id <= 100")" "100" "rows of the restored snapshot are there"

# --- rollback --sqlite: back to the safety snapshot ---
expect_exit 0 $CAIRN rollback --sqlite "$db" --yes
assert_eq "$(q "$db" "PRAGMA integrity_check")" "ok" "live database after rollback"
assert_eq "$(q "$db" "SELECT count(*) FROM t WHERE id BETWEEN 101 AND 200")" "100" "rows back after rollback"
assert_eq "$(q "$db" "SELECT (SELECT n FROM ledger) = (SELECT count(*) FROM t)")" "1" "ledger after rollback"

# --- a snapshot whose database fails the integrity check ---
python3 - "$WORK/bad.db" <<'EOF'
import os, sqlite3, sys
p = sys.argv[1]
c = sqlite3.connect(p)
c.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
c.execute("CREATE INDEX tv ON t (v)")
for i in range(3000):
    c.execute("INSERT INTO t VALUES (?, ?)", (i, "value %08d" % i))
c.commit()
c.close()
b = bytearray(open(p, "rb").read())
page = 4096
for k in range(page * 5 + 200, page * 5 + 1200):  # scribble inside a b-tree page
    b[k] = (b[k] * 7 + 13) & 0xff
open(p, "wb").write(bytes(b))
EOF
bad_check=$(q "$WORK/bad.db" "PRAGMA integrity_check" 2>&1 || true)
[ "$bad_check" != "ok" ] || fail "the damaged test database still passes its integrity check"; ok
expect_exit 0 $CAIRN --json backup --sqlite "$WORK/bad.db"
sbad=$(json_get "j['snapshot']")
sum_before=$(sha256sum "$db" | cut -d' ' -f1)
expect_exit 4 $CAIRN restore "$sbad" --sqlite "$db" --yes
expect_one_line_error "fails SQLite's integrity check"
grep -q "the live database '$db' was not touched" "$WORK/.err" || fail "no word that the live database is untouched: $(err)"; ok
assert_eq "$(sha256sum "$db" | cut -d' ' -f1)" "$sum_before" "live database after a refused restore"
ls "$WORK"/.cairn-restore-* >/dev/null 2>&1 && fail "a staging folder was left beside the database"; ok

# --- point in time, into a database that does not exist yet ---
expect_exit 0 $CAIRN restore --at 2026-03-01 --sqlite "$WORK/pit.db"
grep -q "point in time 2026-03-01: snapshot ${s1:0:12}" "$WORK/.err" || fail "--at does not say which snapshot: $(err)"; ok
assert_eq "$(q "$WORK/pit.db" "SELECT count(*) FROM t")" "100" "rows of the point-in-time restore"
# --at on a given revision walks its lineage back: s2's, at March, is s1.
expect_exit 0 $CAIRN restore "$s2" --at 2026-03-01 --sqlite "$WORK/pit2.db"
assert_eq "$(q "$WORK/pit2.db" "SELECT count(*) FROM t")" "100" "rows of s2 at March (s1)"
expect_exit 5 $CAIRN restore --at 2025-01-01 --sqlite "$WORK/pit4.db"
expect_exit 2 $CAIRN restore "$s2@{2026-03-01}" --at 2026-03-01 --sqlite "$WORK/pit3.db"
expect_one_line_error "not both"

# --- bad cases ---
mkdir files && echo x > files/x
expect_exit 0 $CAIRN --json backup files
sfiles=$(json_get "j['snapshot']")
expect_exit 2 $CAIRN restore "$sfiles" --sqlite "$WORK/x.db" --yes
expect_one_line_error "was not taken with 'backup --sqlite'"
expect_exit 2 $CAIRN restore "$s1" --sqlite "$WORK/y.db" --target somewhere
expect_one_line_error "not both"

echo "ok: $checks checks"
