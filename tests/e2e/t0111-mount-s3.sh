# cairn mount (issue 15) of an encrypted repository on S3 (a real Ceph RGW
# on loopback): the mounted snapshot equals its source (tree comparer),
# the large file reads right at random offsets, a new snapshot appears
# without a remount, and the mount's requests are counted (CAIRN_S3_STATS):
# listing the whole tree again costs none, since trees come from the
# local cache. Needs /dev/fuse and fusermount3; says SKIP otherwise.
source "$(dirname "$0")/lib.sh"
set -e
if [ ! -c /dev/fuse ] || ! command -v fusermount3 >/dev/null; then
  echo "SKIP: no /dev/fuse or no fusermount3 here: the S3 mount case did not run"
  exit 0
fi
source "$TESTS/e2e/s3lib.sh"
trap 'fusermount3 -uz "$WORK/mnt" 2>/dev/null || true; s3_cleanup' EXIT
start_s3
export CAIRN_REPO="s3:$S3_ENDPOINT/cairn-e2e/mount"
expect_exit 0 $CAIRN init
make_rich_tree src
head -c 30000000 /dev/urandom > src/big.bin
expect_exit 0 $CAIRN backup src -m first
first=$($CAIRN rev-parse latest)

mkdir mnt
STATS=$WORK/s3-stats
CAIRN_S3_STATS=$STATS expect_exit 0 $CAIRN --json mount mnt --log "$WORK/mnt.log" --refresh 0.2
mpid=$(json_get 'j["pid"]')
$TREECMP src "mnt/snapshots/$first" > cmp.txt || { cat cmp.txt; fail "the mounted S3 snapshot differs from the source"; }
ok
python3 - src/big.bin mnt/latest/big.bin <<'EOF' || fail "random reads of the large file from S3"
import os, random, sys
a, b = (os.open(p, os.O_RDONLY) for p in sys.argv[1:3])
size = os.fstat(a).st_size
rnd = random.Random(111)
for _ in range(100):
    off = rnd.randrange(0, size)
    n = rnd.choice([1, 4096, 1 << 20])
    assert os.pread(a, n, off) == os.pread(b, n, off), (off, n)
EOF
ok

# A new snapshot shows up without a remount.
echo "second" > src/second.txt
expect_exit 0 $CAIRN backup src -m second
sleep 0.5
assert_eq "$(ls mnt/snapshots | wc -l)" "2" "snapshots after a second backup"
assert_eq "$(cat mnt/latest/second.txt)" "second" "the new snapshot's file"

# Unmounted: the process ends and reports its requests; a second mount that
# lists the whole tree reads no tree from S3 (they are in the local cache).
fusermount3 -u mnt
for _ in $(seq 100); do kill -0 "$mpid" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$mpid" 2>/dev/null || fail "the mount process still runs after unmounting"; ok
: > "$STATS"
CAIRN_S3_STATS=$STATS expect_exit 0 $CAIRN --json mount mnt --log "$WORK/mnt2.log"
mpid=$(json_get 'j["pid"]')
ls -R mnt/latest/ > /dev/null
fusermount3 -u mnt
for _ in $(seq 100); do kill -0 "$mpid" 2>/dev/null || break; sleep 0.1; done
requests=$(s3_requests "$STATS")
echo "a mount and ls -R of the whole snapshot: $requests requests"
[ "$requests" -le 20 ] || fail "a mount and ls -R made $requests requests (trees should come from the cache)"; ok

echo "ok: $checks checks"
