# Restores that can be previewed and undone: --dry-run's plan is what the
# restore then does; --delete mirrors; every --overwrite mode; a safety
# snapshot before a restore over a folder and `rollback` back to it exactly
# (files the restore deleted included); a restore that fails on a damaged
# chunk rolls back by itself; a restore killed midway is rolled back by
# `cairn rollback`.
source "$(dirname "$0")/lib.sh"
set -e

# The change time in ns: a file rewritten (or re-created) gets a new one.
ino() { sleep 0.02; python3 -c "import os,sys; print(os.lstat(sys.argv[1]).st_ctime_ns)" "$1"; }
entries() { python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print('\n'.join(e['action']+' '+e['path'] for e in j['entries']))" "$1"; }

expect_exit 0 $CAIRN init repo --encryption none
export CAIRN_REPO=$WORK/repo
make_rich_tree src
rm src/fifo  # cp -a below copies it, but treecmp compares it fine; keep the case small
mkdir -p src/keep src/gone-later
for i in 1 2 3 4 5; do echo "file $i" > "src/keep/f$i"; done
echo "will be deleted by the user" > src/gone-later/x
expect_exit 0 $CAIRN --json backup src
snap=$(json_get "j['snapshot']")

# The user's folder, drifted from the snapshot: changed, added and removed
# entries, one file only touched (same content, other mtime).
cp -a src target
echo "local edit" > target/hello.txt
echo "a new local file" > target/local-only.txt
mkdir -p target/local-dir/deeper && echo x > target/local-dir/deeper/y
rm -r target/gone-later
rm target/keep/f2
touch -d "2001-01-01" target/keep/f3
cp -a target before

# --- --dry-run: the plan, and nothing changed ---
expect_exit 0 $CAIRN --json restore "$snap" --target target --delete --overwrite if-changed --dry-run
out > dry.json
entries dry.json > dry.txt
$TREECMP before target || fail "a dry run changed the target"; ok
grep -qx "overwrite hello.txt" dry.txt || fail "dry run: hello.txt: $(cat dry.txt)"; ok
grep -qx "create keep/f2" dry.txt || fail "dry run: keep/f2"; ok
grep -qx "create gone-later" dry.txt && grep -qx "create gone-later/x" dry.txt || fail "dry run: gone-later"; ok
grep -qx "delete local-only.txt" dry.txt && grep -qx "delete local-dir" dry.txt || fail "dry run: deletions: $(cat dry.txt)"; ok
grep -qx "unchanged keep/f3" dry.txt || fail "dry run: a touched file is unchanged in content"; ok
grep -qx "unchanged keep/f1" dry.txt || fail "dry run: keep/f1"; ok
assert_eq "$(python3 -c "import json; print(json.load(open('dry.json'))['plan']['delete'])")" "2" "deletions planned"
# Without --force (or a mode) a non-empty target is refused, dry run or not.
expect_exit 6 $CAIRN restore "$snap" --target target --dry-run
expect_one_line_error "is not empty"
# A dry run into a folder that does not exist creates nothing.
expect_exit 0 $CAIRN --json restore "$snap" --target not-there --dry-run
[ ! -e not-there ] || fail "a dry run created its target"; ok
assert_eq "$(json_get "j['plan']['create'] > 20 and j['plan']['overwrite'] == 0")" "True" "dry run into nothing"

# --- the real restore does exactly the plan, and mirrors ---
f1=$(ino target/keep/f1)
expect_exit 0 $CAIRN --json -v restore "$snap" --target target --delete --overwrite if-changed --yes
out > real.json
entries real.json > real.txt
diff dry.txt real.txt || fail "the restore did other than its dry run"; ok
safety=$(python3 -c "import json; print(json.load(open('real.json'))['safety_snapshot'])")
[ "$safety" != "None" ] || fail "no safety snapshot"; ok
$TREECMP src target || fail "restore --delete did not mirror the snapshot"; ok
assert_eq "$(ino target/keep/f1)" "$f1" "an unchanged file was not rewritten (if-changed)"
# The safety snapshot is on its own branch and is the folder as it was.
expect_exit 0 $CAIRN --json branch
assert_eq "$(json_get "[b['name'].startswith('safety-') for b in j]")" "[False, True]" "branches after a restore over a folder"

# --- rollback: exactly as before, the deleted files back ---
expect_exit 7 $CAIRN rollback --target target < /dev/null
expect_one_line_error "(risk high)"
expect_exit 0 $CAIRN rollback --target target --yes
$TREECMP before target || fail "rollback did not bring the folder back exactly"; ok
[ -f target/local-dir/deeper/y ] || fail "a file the restore deleted is not back"; ok
expect_exit 5 $CAIRN rollback --target src --yes
expect_one_line_error "no safety snapshot of"

# --- overwrite modes ---
mk() { rm -rf m; cp -a src m; echo mine > m/hello.txt; touch -d "2001-01-01" m/hello.txt; echo newer > m/keep/f1; touch -d "2099-01-01" m/keep/f1; rm m/keep/f2; }
mk
expect_exit 0 $CAIRN restore "$snap" --target m --overwrite never --yes
assert_eq "$(cat m/hello.txt)" "mine" "never: an existing file kept"
assert_eq "$(cat m/keep/f2)" "file 2" "never: a missing file created"
mk
expect_exit 0 $CAIRN restore "$snap" --target m --overwrite if-newer --yes
assert_eq "$(cat m/hello.txt)" "hello world" "if-newer: an older file replaced"
assert_eq "$(cat m/keep/f1)" "newer" "if-newer: a newer file kept"
mk
i4=$(ino m/keep/f4)
expect_exit 0 $CAIRN restore "$snap" --target m --overwrite if-changed --yes
assert_eq "$(cat m/hello.txt) $(cat m/keep/f1)" "hello world file 1" "if-changed: changed files replaced"
assert_eq "$(ino m/keep/f4)" "$i4" "if-changed: an equal file left in place"
mk
i4=$(ino m/keep/f4)
expect_exit 0 $CAIRN restore "$snap" --target m --force --yes
[ "$(ino m/keep/f4)" != "$i4" ] || fail "always (--force): an equal file was not rewritten"; ok
assert_eq "$(cat m/hello.txt) $(cat m/keep/f1)" "hello world file 1" "always: every file replaced"
expect_exit 2 $CAIRN restore "$snap" --target m --overwrite sometimes --yes
expect_one_line_error "invalid value 'sometimes' for --overwrite"
expect_exit 0 $CAIRN restore "$snap" --target m2 --no-safety-snapshot   # an empty target never needs one

# --- a restore that fails on a damaged chunk rolls back by itself ---
mkdir src2 && head -c 3000000 /dev/urandom > src2/only-here.bin && echo small > src2/small
expect_exit 0 $CAIRN --json backup src2
snap2=$(json_get "j['snapshot']")
pack=$(ls -t repo/data/*/* | head -1)
python3 - "$pack" <<'EOF'
import sys
p = sys.argv[1]
b = bytearray(open(p, 'rb').read())
b[len(b) // 3] ^= 0xff
open(p, 'wb').write(bytes(b))
EOF
rm -rf t2 t2.before; mkdir t2; echo "precious" > t2/only-here.bin; echo "other" > t2/notes; cp -a t2 t2.before
expect_exit 4 $CAIRN restore "$snap2" --target t2 --delete --yes
grep -q "the target was rolled back to safety snapshot" "$WORK/.err" || fail "no word of the rollback: $(err)"; ok
$TREECMP t2.before t2 || fail "a failed restore did not roll the target back"; ok

# --- a restore killed midway: cairn rollback brings the folder back ---
python3 - <<'EOF'
import os
for d in range(30):
    os.makedirs(f"src3/d{d}")
    for i in range(150):
        with open(f"src3/d{d}/f{i}", "wb") as f:
            f.write(os.urandom(6000))
EOF
expect_exit 0 $CAIRN --json backup src3
snap3=$(json_get "j['snapshot']")
# Kill points are deterministic: the fault layer (tests/fault/faultfs.c)
# counts the restore's writes into the target and SIGKILLs the process at
# the Nth, for 8 values of N spread over all of them (no timing involved).
[ -n "${FAULTFS:-}" ] && [ -f "$FAULTFS" ] || fail "FAULTFS must name the faultfs library (tests/fault/faultfs.c)"
preload_env=(env LD_PRELOAD="$FAULTFS")
if ldd "$CAIRN" 2>/dev/null | grep -q libasan; then
  # The sanitizer runtime wants to come first; the layer only forwards calls.
  preload_env+=(ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0")
fi
rm -rf t3; mkdir -p t3
"${preload_env[@]}" FAULTFS_PATHS="$WORK/t3" FAULTFS_OPS=write FAULTFS_COUNT="$WORK/t3.count" \
  $CAIRN restore "$snap3" --target t3 --threads 1 --yes > /dev/null 2>"$WORK/.err" || fail "counting restore failed: $(err)"
writes=$(cat "$WORK/t3.count")
[ "$writes" -ge 4500 ] || fail "the layer counted $writes writes into the target for 4,500 files"; ok
for round in 1 2 3 4 5 6 7 8; do
  at=$(( 1 + (writes - 1) * (round - 1) / 7 ))
  rm -rf t3 t3.before; mkdir -p t3/sub t3/d3; echo "mine $round" > t3/d3/f1; echo keep > t3/sub/k; cp -a t3 t3.before
  rc=0
  "${preload_env[@]}" FAULTFS_PATHS="$WORK/t3" FAULTFS_OPS=write FAULTFS_AT=$at FAULTFS_MODE=kill \
    $CAIRN restore "$snap3" --target t3 --delete --threads 1 --yes > /dev/null 2>&1 || rc=$?
  [ "$rc" = 137 ] || fail "round $round: the restore was to be killed at write $at of $writes, exit $rc"
  # The kill fell among the writes: part of the snapshot's files are in place.
  n=$(find t3 -type f | wc -l)
  [ "$n" -ge 1 ] && [ "$n" -le 4502 ] || fail "round $round: $n files in the target after a kill at write $at"
  if [ -d repo/locks ]; then rm -f repo/locks/session-restore-* repo/locks/session-backup-*; fi
  expect_exit 0 $CAIRN rollback --target t3 --yes
  $TREECMP t3.before t3 || fail "round $round: rollback after a restore killed at write $at differs"; ok
done
echo "kills at writes 1..$writes of the restore: 8 rounds rolled back exactly"

echo "ok: $checks checks"
