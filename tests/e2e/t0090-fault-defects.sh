# Regressions for defects the hostile audit of issue 16 found:
#  3. a local index (LMDB) cut short made every command die with SIGBUS,
#     `repair index` included: now it is found on open and rebuilt;
#  8. `backup --sqlite` of a file that is not an SQLite database (junk, a
#     text file, an empty file, a folder) stored an empty database and
#     exited 0: now it is refused on one line (exit 2) and nothing stored;
#  6. check passed a snapshot file lost from the middle of a history (log
#     then said exit 5) and files whose sizes their chunks do not hold;
#  7. killed writers' temporary files went unmentioned: check names them
#     (a warning with their count and size), prune removes them;
#  9. a name with a newline split an error message over two lines: now
#     control characters are escaped on stderr (JSON keeps them exact).
source "$(dirname "$0")/lib.sh"
set -e

# exit_one_line CODE CMD...: CMD exits CODE with exactly one line on stderr.
exit_one_line() {
  expect_exit "$@"
  expect_one_line_error
  assert_eq "$(wc -l < "$WORK/.err")" "1" "lines on stderr of: ${*:2}"
}

# --- 3: a local index cut short, at every page boundary and between ---
make_rich_tree src
for kind in plain encrypted; do
  if [ "$kind" = plain ]; then
    expect_exit 0 $CAIRN init "r-$kind" --encryption none
  else
    expect_exit 0 $CAIRN init "r-$kind"
  fi
  R="$WORK/r-$kind"
  expect_exit 0 $CAIRN -r "$R" backup -q src
  echo more > src/more.txt
  expect_exit 0 $CAIRN -r "$R" backup -q src
  cache=$(find "$R" "$CAIRN_CACHE_DIR" -name index.mdb | head -1)
  [ -f "$cache" ] || fail "$kind: no local index found"
  cp "$cache" index.good
  size=$(stat -c %s index.good)
  cuts="1 100 4095 4096 4097 8191 8192 $((size / 2)) $((size - 4096)) $((size - 1))"
  for cut in $cuts; do
    for cmd in "snapshots" "check" "repair index" "restore latest --target out-$kind-$cut"; do
      cp index.good "$cache" && truncate -s "$cut" "$cache"
      set +e
      $CAIRN -r "$R" $cmd > "$WORK/.out" 2> "$WORK/.err"
      rc=$?
      set -e
      [ "$rc" = 0 ] || fail "$kind: '$cmd' with the local index cut to $cut of $size bytes: exit $rc: $(err)"
      grep -q "was unusable\|rebuilt the index" "$WORK/.err" "$WORK/.out" ||
        fail "$kind: '$cmd' with the index cut to $cut bytes said nothing: $(err)"
      ok
    done
    $TREECMP src "out-$kind-$cut" > /dev/null || fail "$kind: restore after a cut to $cut differs"; ok
  done
  rm -f src/more.txt
done

# --- 6: check finds a snapshot file lost from the middle of a history and
# a file whose recorded size its chunks do not hold ---
expect_exit 0 $CAIRN init chain --encryption none
mkdir chain-src
for i in 1 2 3; do echo "$i" > "chain-src/f$i"; expect_exit 0 $CAIRN -r chain backup -q chain-src; done
expect_exit 0 $CAIRN -r chain check
mid=$($CAIRN -r chain rev-parse latest~1)
rm "chain/snapshots/$mid"
expect_exit 4 $CAIRN -r chain check
err | grep -q "names parent ${mid:0:12}, which is missing (neither in snapshots/ nor in the trash)" || fail "lost snapshot: $(err)"; ok
expect_exit 4 $CAIRN -r chain check --read-data
expect_one_line_error "names parent ${mid:0:12}, which is missing"
expect_exit 4 $CAIRN -r chain log
expect_exit 4 $CAIRN -r chain restore latest~2 --target chain-out
err | grep -q "which is missing from the repository; run 'cairn check'" || fail "restore through a lost parent: $(err)"; ok
# A forgotten (trashed) parent is not damage.
expect_exit 0 $CAIRN init chain2 --encryption none
for i in 1 2 3; do echo "$i" > "chain-src/f$i"; expect_exit 0 $CAIRN -r chain2 backup -q chain-src; done
expect_exit 0 $CAIRN -r chain2 delete "$($CAIRN -r chain2 rev-parse latest~1)" --yes
expect_exit 0 $CAIRN -r chain2 check
expect_exit 0 $CAIRN -r chain2 prune --yes --grace 0
expect_exit 0 $CAIRN -r chain2 check
expect_exit 0 $CAIRN -r chain2 log
# Lying sizes, written by the independent writer.
expect_exit 0 $CAIRN init sizes --encryption none
echo '[{"name": "long", "type": "file", "data": "five!", "size": 9}, {"name": "ok", "type": "file", "data": "fine"}]' > sizes.json
expect_exit 0 python3 "$TESTS/tools/rawrepo.py" sizes main sizes.json
expect_exit 4 $CAIRN -r sizes check
err | grep -q "file 'long' in snapshot .* records 9 bytes, but its chunks hold 5" || fail "lying size: $(err)"; ok
err | grep -q "'ok'" && fail "the honest file was reported: $(err)"; ok

# --- 7: leftovers of killed writers are named by check, removed by prune ---
expect_exit 0 $CAIRN init left --encryption none
expect_exit 0 $CAIRN -r left backup -q src
# A real kill first: a backup of a large file killed while it stages a pack.
head -c 200000000 /dev/urandom > big.bin
$CAIRN -r left backup -q big.bin > /dev/null 2>&1 &
pid=$!
for i in $(seq 1 400); do compgen -G "left/tmp/pack-$pid-*" > /dev/null && break; sleep 0.01; done
compgen -G "left/tmp/pack-$pid-*" > /dev/null || fail "the backup staged no pack in 4 s"
kill -9 "$pid"; wait "$pid" 2>/dev/null || true
rm big.bin
# And a temporary object of a writer that is gone.
gone=4194000
while kill -0 "$gone" 2>/dev/null; do gone=$((gone + 1)); done
shard=$(ls left/data | head -1)
head -c 1000 /dev/urandom > "left/data/$shard/.tmp-$gone-0-1"
expect_exit 0 $CAIRN -r left --json check
n_tmp=$(json_get "j['temporaries']")
[ "$n_tmp" -ge 2 ] || fail "check counted $n_tmp leftover temporary files: $(out)"; ok
json_get "j['warnings']" | grep -q "temporary file(s) of .* bytes left by interrupted writes" || fail "no warning: $(out)"; ok
expect_exit 0 $CAIRN -r left prune --grace 0 --yes
expect_exit 0 $CAIRN -r left --json check
assert_eq "$(json_get "j['temporaries']")" "0" "leftover temporary files after prune"
[ -z "$(ls -A left/tmp)" ] || fail "prune left staged packs: $(ls -A left/tmp)"; ok

# --- 7b: a backup run again after a kill takes in the packs the killed one
# stored (no index file named them yet) instead of storing them again. The
# kill falls at the rename of the index file into place (the fault layer,
# the call found by a traced run on a copy): after every data pack went in.
[ -n "${FAULTFS:-}" ] && [ -f "$FAULTFS" ] || fail "FAULTFS must name the faultfs library (tests/fault/faultfs.c)"
preload=(env LD_PRELOAD="$FAULTFS")
if ldd "$CAIRN" 2>/dev/null | grep -q libasan; then
  preload+=(ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0")
fi
expect_exit 0 $CAIRN init orphans --encryption none
mkdir src40
python3 -c "
import os
for i in range(40): open('src40/f%d' % i, 'wb').write(os.urandom(1 << 20))"
cp -a orphans orphans.traced
expect_exit 0 "${preload[@]}" FAULTFS_PATHS="$WORK/orphans.traced" FAULTFS_OPS=rename FAULTFS_TRACE="$WORK/renames" \
  $CAIRN -r orphans.traced backup -q src40
at=$(grep -n "/index/" "$WORK/renames" | head -1 | cut -d: -f1)
[ -n "$at" ] || fail "the traced backup renamed no index file into place: $(cat "$WORK/renames")"; ok
expect_exit 137 "${preload[@]}" FAULTFS_PATHS="$WORK/orphans" FAULTFS_OPS=rename FAULTFS_AT=$at FAULTFS_MODE=kill \
  $CAIRN -r orphans backup -q src40
[ -z "$(ls orphans/index)" ] || fail "the killed backup wrote an index file: the kill fell too late"; ok
orphan_packs=$(find orphans/data -type f -name '[0-9a-f]*' | wc -l)
[ "$orphan_packs" -ge 2 ] || fail "the killed backup left $orphan_packs packs"; ok
expect_exit 0 $CAIRN -r orphans --json backup src40
grep -q "took in $orphan_packs pack(s)" "$WORK/.err" || fail "no word of the packs taken in: $(err)"; ok
stored=$(du -sb orphans/data | cut -f1)
[ "$stored" -lt $((48 << 20)) ] || fail "40 MiB stored as $stored bytes after a killed backup and a retry"; ok
expect_exit 0 $CAIRN -r orphans check --read-data
expect_exit 0 $CAIRN -r orphans restore latest --target orphans-out
$TREECMP src40 orphans-out || fail "the retried backup does not restore"; ok

# --- 8: backup --sqlite of what is not an SQLite database ---
expect_exit 0 $CAIRN init db --encryption none
export CAIRN_REPO=$WORK/db
head -c 5000 /dev/urandom > junk.db
echo "just text" > text.db
: > empty.db
mkdir folder.db
python3 -c "import sqlite3; c=sqlite3.connect('real.db'); c.execute('create table t(x)'); c.execute('insert into t values (1)'); c.commit()"
expect_exit 0 $CAIRN backup -q --sqlite real.db
expect_exit 0 $CAIRN --json snapshots
n_before=$(json_get "len(j)")
for f in junk.db text.db empty.db folder.db; do
  exit_one_line 2 $CAIRN backup --sqlite "$f"
  err | grep -q "cannot back up '$f' as an SQLite database" || fail "--sqlite $f: $(err)"; ok
done
expect_exit 0 $CAIRN --json snapshots
assert_eq "$(json_get "len(j)")" "$n_before" "snapshots after refused --sqlite backups"

# --- 9: control characters in names stay on one line ---
nl_name="$(printf 'no\nsuch')"
exit_one_line 5 $CAIRN ls "latest:$nl_name"
err | grep -q -F "path 'no\\nsuch' does not exist" || fail "escaped name: $(err)"; ok
exit_one_line 10 $CAIRN -r "$WORK/$(printf 'bad\nrepo')" snapshots
expect_exit 10 $CAIRN --json -r "$WORK/$(printf 'bad\nrepo')" snapshots
python3 -c "
import json; j=json.load(open('$WORK/.out'))
assert 'bad\nrepo' in j['error']['message'], j" || fail "JSON does not keep the name exact: $(out)"; ok
esc_name="$(printf 'tab\there\033[31m')"
exit_one_line 5 $CAIRN ls "latest:$esc_name"
err | grep -q -F "tab\\there\\x1b[31m" || fail "escaped tab and ESC: $(err)"; ok

echo "ok: $checks checks"
