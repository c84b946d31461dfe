#!/usr/bin/env bash
# Sources that change while backup reads them. The fault layer
# (tests/fault/faultfs.c, modes grow/shrink/touch/delete) changes the file
# behind a read call at a chosen read, deterministically:
#   - changed once: the file is read again and the snapshot holds what the
#     file is now (exit 0);
#   - changed again during the second read: what it found is saved, the file
#     is named on stderr ("changed while it was read"), exit 3, and the next
#     backup reads it again (the file-change cache never vouches for it);
#   - deleted (or replaced) while read: the open file is read to its end,
#     consistently, and saved as it was;
# and never a file whose recorded size and content disagree (check
# --read-data after every backup). Then folders that change during the walk
# (a writer creating, growing and deleting files beside 6 backups): every
# backup exits 0 or 3 and every snapshot checks and restores.
source "$(dirname "$0")/lib.sh"
[ -n "${FAULTFS:-}" ] && [ -f "$FAULTFS" ] || fail "FAULTFS must name the faultfs library (tests/fault/faultfs.c)"
preload=(env LD_PRELOAD="$FAULTFS")
if ldd "$CAIRN" 2>/dev/null | grep -q libasan; then
  preload+=(ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0")
fi
expect_exit 0 $CAIRN init repo
export CAIRN_REPO=$WORK/repo

mkdir src
python3 -c "import os; open('src/big', 'wb').write(os.urandom(3 << 20))"
echo steady > src/small
expect_exit 0 $CAIRN backup src -q

# restored_equals SNAPSHOT: the snapshot's src/big is the file now on disk.
restored_equals() {
  rm -rf out; expect_exit 0 $CAIRN restore "$1" --target out
  cmp -s out/big src/big || fail "$2: the restored file is not the file as it is now ($(stat -c %s out/big) vs $(stat -c %s src/big) bytes)"
  ok
}

for mode in grow shrink touch; do
  # The 2nd read call of the file: the change falls inside the first read.
  expect_exit 0 "${preload[@]}" FAULTFS_PATHS="$WORK/src/big" FAULTFS_MODE=$mode FAULTFS_AT=2 \
    $CAIRN --json backup src --force-read
  snap=$(json_get "j['snapshot']")
  expect_exit 0 $CAIRN check --read-data
  restored_equals "$snap" "changed once ($mode)"
done

# Changing during the second read too: saved as that read found it, named,
# exit 3. The layer counts the reads of one pass, then rewrites the first
# byte at the 2nd read of each pass.
expect_exit 0 "${preload[@]}" FAULTFS_PATHS="$WORK/src/big" FAULTFS_MODE=touch FAULTFS_COUNT="$WORK/reads" \
  $CAIRN backup src --force-read -q
reads=$(cat "$WORK/reads")
[ "$reads" -ge 3 ] || fail "one read of a 3 MiB file took $reads read calls"; ok
expect_exit 3 "${preload[@]}" FAULTFS_PATHS="$WORK/src/big" FAULTFS_MODE=touch FAULTFS_AT=2 FAULTFS_EVERY=$reads \
  $CAIRN --json backup src --force-read
snap=$(json_get "j['snapshot']")
[ -n "$snap" ] && [ "$snap" != None ] || fail "no snapshot saved for a file that kept changing"; ok
grep -q "src/big.*changed while it was read" "$WORK/.err" || fail "the changing file is not named: $(err)"; ok
grep -q "^cairn: " "$WORK/.err" || fail "no 'cairn: ' line: $(err)"; ok
assert_eq "$(json_get "len(j['errors'])")" "1" "the snapshot lists the changing file"
expect_exit 0 $CAIRN check --read-data
restored_equals "$snap" "saved as the second read found it"
# The next backup reads it again and saves the file as it is.
expect_exit 0 $CAIRN --json -v backup src
grep -q "big" "$WORK/.err" || fail "the next backup did not read the file that changed: $(err)"; ok
restored_equals "$(json_get "j['snapshot']")" "the backup after a changing file"

# Deleted while read: the open file is read to its end; the snapshot holds
# the whole file as it was, consistently.
cp src/big big.orig
expect_exit 0 "${preload[@]}" FAULTFS_PATHS="$WORK/src/big" FAULTFS_MODE=delete FAULTFS_AT=2 \
  $CAIRN --json backup src --force-read
snap=$(json_get "j['snapshot']")
[ ! -e src/big ] || fail "the layer did not delete the file"; ok
expect_exit 0 $CAIRN check --read-data
rm -rf out; expect_exit 0 $CAIRN restore "$snap" --target out
cmp -s out/big big.orig || fail "a file deleted while read was not saved whole as it was"; ok
cp big.orig src/big

# Folders changing during the walk: a writer adds, grows and removes files
# while 6 backups run (each bounded: the writer stops after the last).
mkdir -p src/busy
python3 - "$WORK/src/busy" "$WORK/stop" <<'PYEOF' &
import os, random, sys, time
d, stop = sys.argv[1], sys.argv[2]
deadline = time.time() + 120  # never outlives the test
i = 0
while not os.path.exists(stop) and time.time() < deadline:
    i += 1
    p = os.path.join(d, "f%d" % (i % 300))
    r = random.random()
    if r < 0.5:
        with open(p, "ab") as f:
            f.write(os.urandom(random.randint(1, 200000)))
    elif r < 0.8:
        try:
            os.remove(p)
        except FileNotFoundError:
            pass
    else:
        os.makedirs(os.path.join(d, "sub%d" % (i % 20)), exist_ok=True)
        with open(os.path.join(d, "sub%d" % (i % 20), "g"), "wb") as f:
            f.write(os.urandom(5000))
PYEOF
writer=$!
snaps=()
for round in 1 2 3 4 5 6; do
  set +e
  $CAIRN --json backup src > "$WORK/.out" 2> "$WORK/.err"
  rc=$?
  set -e
  [ "$rc" = 0 ] || [ "$rc" = 3 ] || { touch stop; fail "round $round: backup beside a busy writer exited $rc: $(err)"; }
  ok
  if [ "$rc" = 3 ]; then grep -q "^cairn: " "$WORK/.err" || fail "round $round: exit 3 without a 'cairn: ' line"; ok; fi
  snaps+=("$(json_get "j['snapshot']")")
done
touch stop
wait "$writer"
expect_exit 0 $CAIRN check --read-data
for s in "${snaps[@]}"; do
  rm -rf out; expect_exit 0 $CAIRN restore "$s" --target out
  cmp -s out/small src/small || fail "snapshot $s: a file nobody changed differs"; ok
done
echo "changing sources: read again once, saved with exit 3 when still changing, 6 backups beside a busy writer"
finish
