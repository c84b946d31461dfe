# The repository's file system fills up during a backup: the backup fails
# with a clear error and a non-zero exit, writes no snapshot, and leaves a
# repository that check passes; after space is freed the next backup works.
# (RELIABILITY.md case 8.) Needs mount rights for a small tmpfs.
source "$(dirname "$0")/lib.sh"

mkdir -p fs
if ! mount -t tmpfs -o size=48m tmpfs fs 2>/dev/null; then
  echo "SKIPPED: disk-full test needs mount rights"
  finish
  exit 0
fi
trap 'umount "$WORK/fs" 2>/dev/null || true; umount "$WORK/small" 2>/dev/null || true; rm -rf "$WORK"' EXIT

mkdir -p src/small
for i in $(seq 1 50); do echo "file $i" > src/small/f$i; done
expect_exit 0 $CAIRN init fs/repo
export CAIRN_REPO=$WORK/fs/repo
expect_exit 0 $CAIRN --json backup -m "fits" src
first=$(json_get "j['snapshot']")

for size in 60 90 150; do          # MB of incompressible data: more than the space left
  head -c ${size}000000 /dev/urandom > src/big.bin
  set +e
  $CAIRN backup src > out.txt 2> err.txt
  rc=$?
  set -e
  [ "$rc" -ne 0 ] && [ "$rc" -lt 126 ] || fail "backup into a full disk exited $rc: $(cat err.txt)"; ok
  grep -q "No space left on device" err.txt || fail "the error does not say the disk is full: $(cat err.txt)"; ok
  [ "$(wc -l < err.txt)" -le 2 ] || fail "error is not short: $(cat err.txt)"; ok
  assert_eq "$($CAIRN rev-parse main)" "$first" "no snapshot from a failed backup"
  expect_exit 0 $CAIRN check
  assert_eq "$(ls fs/repo/snapshots | wc -l)" "1" "no snapshot file from a failed backup"
  # Leftover staging files may stay until the next prune; the repository is usable.
  rm -f fs/repo/tmp/*
done

# With space again, the next backup works and restores exactly.
head -c 10000000 /dev/urandom > src/big.bin
expect_exit 0 $CAIRN backup src
expect_exit 0 $CAIRN check --read-data
expect_exit 0 $CAIRN restore latest --target out
$TREECMP src out > /dev/null || fail "restore after disk-full differs"; ok

# The restore target fills up (case 11): the files that did not fit are
# named and removed, the repository is untouched, and a rerun with space
# restores exactly.
mkdir small
mount -t tmpfs -o size=4m tmpfs small
before=$(tree_hash fs/repo)
expect_exit 1 $CAIRN restore latest --target small/out
grep -q "No space left on device" "$WORK/.err" || fail "restore does not say the disk is full: $(err)"; ok
grep -q "big.bin" "$WORK/.err" || fail "restore does not name the file: $(err)"; ok
[ ! -e small/out/big.bin ] || fail "a partial big.bin was left in the target"; ok
assert_eq "$(tree_hash fs/repo)" "$before" "repository untouched by a failed restore"
umount small
mount -t tmpfs -o size=64m tmpfs small
expect_exit 0 $CAIRN restore latest --target small/out
$TREECMP src small/out > /dev/null || fail "restore with space again differs"; ok
umount small
finish
