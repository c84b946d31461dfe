# cairn mount (issue 15): the repository as a read-only FUSE file system.
# A real tree (every entry type, a large file, a sparse file, names that are
# not UTF-8, hard links) is backed up into an encrypted repository and
# mounted; the mounted snapshot compares equal to the source with the e2e
# tree comparer (content, mode, owner, size, mtime, symlinks, hard-link
# groups). Then: random reads of the large file, new snapshots and tags
# appearing without a remount, writes refused, a damaged chunk as EIO (never
# wrong bytes, named in the log), unmounting with a file open, Ctrl-C in the
# foreground, hard links that name nothing or other content, and the bad
# cases (mount point missing, not empty, not a folder, no /dev/fuse, a
# write-only key). Needs /dev/fuse and fusermount3;
# says SKIP otherwise.
source "$(dirname "$0")/lib.sh"
set -e
if [ ! -c /dev/fuse ] || ! command -v fusermount3 >/dev/null; then
  echo "SKIP: no /dev/fuse or no fusermount3 here: the mount cases did not run"
  exit 0
fi
MNTS=()
cleanup() {
  for m in "${MNTS[@]}"; do fusermount3 -uz "$m" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# mount_bg MNT ARGS...: mounts in the background (cairn returns once it is
# mounted) and sets $mpid to the mount process.
mount_bg() {
  local m=$1; shift
  mkdir -p "$m"
  MNTS+=("$WORK/$m")
  expect_exit 0 $CAIRN --json mount "$m" --log "$WORK/$m.log" "$@"
  mpid=$(json_get 'j["pid"]')
  assert_eq "$(json_get 'j["mountpoint"]')" "$WORK/$m" "mount point in the JSON answer"
  mountpoint -q "$m" || fail "$m is not a mount point after cairn mount returned"; ok
}
# unmount MNT PID: unmounts and waits for the mount process to end.
unmount() {
  fusermount3 -u "$1" || fail "fusermount3 -u $1 failed"
  for _ in $(seq 100); do kill -0 "$2" 2>/dev/null || break; sleep 0.1; done
  ! kill -0 "$2" 2>/dev/null || fail "the mount process $2 still runs after unmounting $1"; ok
  ! mountpoint -q "$1" || fail "$1 is still mounted"; ok
}

export CAIRN_REPO=$WORK/repo
expect_exit 0 $CAIRN init
make_rich_tree src
head -c 40000000 /dev/urandom > src/big.bin
expect_exit 0 $CAIRN backup src -m first
first=$($CAIRN rev-parse latest)
expect_exit 0 $CAIRN tag v1 latest

# --- the mounted snapshot is the source ---
mount_bg mnt --refresh 0.2
for top in branches by-time latest snapshots tags; do
  [ -e "mnt/$top" ] || fail "mnt/$top missing"; ok
done
assert_eq "$(readlink mnt/latest)" "snapshots/$first" "latest"
assert_eq "$(readlink mnt/tags/v1)" "../snapshots/$first" "tags/v1"
assert_eq "$(readlink mnt/branches/main)" "../snapshots/$first" "branches/main"
assert_eq "$(ls mnt/by-time | wc -l)" "1" "by-time entries"
$TREECMP src "mnt/snapshots/$first" > cmp.txt || { cat cmp.txt; fail "mounted snapshot differs from the source"; }
ok
$TREECMP src mnt/tags/v1/ > cmp.txt || { cat cmp.txt; fail "tags/v1 differs from the source"; }
ok
# ls -R lists what the source holds.
(cd src && ls -R . | LC_ALL=C sort) > ls-src.txt
(cd mnt/latest && ls -R . | LC_ALL=C sort) > ls-mnt.txt
cmp -s ls-src.txt ls-mnt.txt || fail "ls -R of the mount differs from ls -R of the source"; ok
# The hard link is one inode with its other name.
assert_eq "$(stat -c %i mnt/latest/hello.txt)" "$(stat -c %i mnt/latest/sub/deep/hardlink)" "hard link inode"
# Reads at random offsets of the large file, and a whole sequential read.
python3 - src/big.bin mnt/latest/big.bin <<'EOF' || fail "random reads of the large file"
import os, random, sys
a, b = (os.open(p, os.O_RDONLY) for p in sys.argv[1:3])
size = os.fstat(a).st_size
assert os.fstat(b).st_size == size
rnd = random.Random(15)
for _ in range(300):
    off = rnd.randrange(0, size + 1000)
    n = rnd.choice([1, 100, 4096, 65536, 1 << 20, 3 << 20])
    assert os.pread(a, n, off) == os.pread(b, n, off), (off, n)
EOF
ok
cmp src/big.bin mnt/latest/big.bin || fail "sequential read of big.bin differs"; ok
cmp src/sparse.img mnt/latest/sparse.img || fail "the sparse file differs"; ok
cp mnt/tags/v1/hello.txt copied.txt
cmp copied.txt src/hello.txt || fail "cp from the mount"; ok

# --- read-only ---
! touch mnt/latest/new-file 2>/dev/null || fail "a file was created in the mount"; ok
! sh -c 'echo x >> mnt/latest/hello.txt' 2>/dev/null || fail "a file of the mount was written"; ok
! rm mnt/latest/hello.txt 2>/dev/null || fail "a file of the mount was removed"; ok
! mkdir mnt/new-dir 2>/dev/null || fail "a folder was made in the mount"; ok

# --- new snapshots and tags appear without a remount ---
echo "new content" > src/new.txt
expect_exit 0 $CAIRN backup src -m second
second=$($CAIRN rev-parse latest)
expect_exit 0 $CAIRN tag v2 latest
sleep 0.5
assert_eq "$(ls mnt/snapshots | wc -l)" "2" "snapshots after a second backup"
assert_eq "$(readlink mnt/latest)" "snapshots/$second" "latest after a second backup"
assert_eq "$(cat mnt/tags/v2/new.txt)" "new content" "tags/v2/new.txt"
[ ! -e mnt/tags/v1/new.txt ] || fail "the first snapshot shows a later file"; ok

# --- unmounting with a file open ---
exec 3< mnt/latest/big.bin
! fusermount3 -u mnt 2>/dev/null || fail "unmounting a busy mount succeeded"; ok
mountpoint -q mnt || fail "the busy mount went away"; ok
fusermount3 -uz mnt || fail "a lazy unmount failed"
! mountpoint -q mnt || fail "mnt still mounted after the lazy unmount"; ok
# The open file still reads, whole and right; the process ends when it closes.
assert_eq "$(sha256sum <&3 | cut -d' ' -f1)" "$(sha256sum < src/big.bin | cut -d' ' -f1)" "open file after a lazy unmount"
kill -0 "$mpid" 2>/dev/null || fail "the mount process ended while a file was open"; ok
exec 3<&-
for _ in $(seq 100); do kill -0 "$mpid" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$mpid" 2>/dev/null || fail "the mount process still runs after the last file closed"; ok
grep -q "unmounted" mnt.log || fail "the log does not say unmounted: $(cat mnt.log)"; ok

# --- Ctrl-C in the foreground ---
mkdir fg
MNTS+=("$WORK/fg")
# (A background job of a script starts with SIGINT ignored; as from a
# terminal, the mount gets it with its default disposition.)
python3 -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])' \
  $CAIRN mount fg --foreground 2> fg.err &
fgpid=$!
for _ in $(seq 100); do mountpoint -q fg && break; sleep 0.1; done
mountpoint -q fg || fail "the foreground mount did not come up: $(cat fg.err)"; ok
assert_eq "$(cat fg/latest/hello.txt)" "hello world" "foreground mount content"
kill -INT "$fgpid"
set +e; wait "$fgpid"; rc=$?; set -e
assert_eq "$rc" "0" "exit code of the foreground mount after Ctrl-C"
! mountpoint -q fg || fail "fg still mounted after Ctrl-C"; ok
# SIGTERM (a service manager stopping it) unmounts too.
$CAIRN mount fg --foreground 2> fg.err &
fgpid=$!
for _ in $(seq 100); do mountpoint -q fg && break; sleep 0.1; done
mountpoint -q fg || fail "the foreground mount did not come up again: $(cat fg.err)"; ok
kill -TERM "$fgpid"
set +e; wait "$fgpid"; rc=$?; set -e
assert_eq "$rc" "0" "exit code of the foreground mount after SIGTERM"
! mountpoint -q fg || fail "fg still mounted after SIGTERM"; ok

# --- a damaged chunk: EIO, named in the log, never wrong bytes ---
export CAIRN_REPO=$WORK/repo-damaged
expect_exit 0 $CAIRN init --encryption none
mkdir one
head -c 8000000 /dev/urandom > one/data.bin
expect_exit 0 $CAIRN backup one
pack=$(find repo-damaged/data -type f -printf '%s %p\n' | sort -n | tail -1 | cut -d' ' -f2)
python3 - "$pack" <<'EOF'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 0x40
open(p, "wb").write(b)
EOF
mount_bg dmg
set +e; cat dmg/latest/data.bin > got.bin 2> cat.err; rc=$?; set -e
[ "$rc" != 0 ] || fail "reading a damaged file succeeded"; ok
grep -q "Input/output error" cat.err || fail "cat did not see EIO: $(cat cat.err)"; ok
got=$(stat -c %s got.bin)
[ "$got" -lt 8000000 ] || fail "all bytes came back from a damaged file"; ok
cmp -s -n "$got" got.bin one/data.bin || fail "bytes before the damage differ from the source"; ok
grep -q "cannot read 'data.bin'" dmg.log || fail "the log does not name the damaged file: $(cat dmg.log)"; ok
unmount dmg "$mpid"

# --- hard links the snapshot gets wrong (written by the independent writer) ---
export CAIRN_REPO=$WORK/repo-links
expect_exit 0 $CAIRN init repo-links --encryption none
cat > links.json <<'J'
[{"name": "a", "type": "file", "data": "alpha"},
 {"name": "good", "type": "hardlink", "data": "alpha", "target": "a"},
 {"name": "lie", "type": "hardlink", "data": "something else", "target": "a"},
 {"name": "nowhere", "type": "hardlink", "data": "beta", "target": "missing"}]
J
expect_exit 0 python3 "$TESTS/tools/rawrepo.py" repo-links links links.json
mount_bg lnk
assert_eq "$(stat -c %i lnk/branches/links/good)" "$(stat -c %i lnk/branches/links/a)" "inode of a good hard link"
assert_eq "$(cat lnk/branches/links/lie)" "something else" "a hard link with other content shows its own"
[ "$(stat -c %i lnk/branches/links/lie)" != "$(stat -c %i lnk/branches/links/a)" ] || fail "a lying hard link shares the inode"; ok
assert_eq "$(cat lnk/branches/links/nowhere)" "beta" "a hard link naming nothing shows its own content"
grep -q "'lie' is a hard link to 'a'" lnk.log || fail "the log does not name the lying link: $(cat lnk.log)"; ok
unmount lnk "$mpid"

# --- bad cases ---
export CAIRN_REPO=$WORK/repo
expect_exit 2 $CAIRN mount
expect_one_line_error "mount point"
expect_exit 5 $CAIRN mount no-such-folder
expect_one_line_error "does not exist"
mkdir full; echo x > full/file
expect_exit 6 $CAIRN mount full
expect_one_line_error "is not empty"
echo x > plain-file
expect_exit 2 $CAIRN mount plain-file
expect_one_line_error "is not a folder"
mkdir empty-mnt
# No repository: the background child's exit code comes back.
expect_exit 10 $CAIRN -r "$WORK/nothing-here" mount empty-mnt
expect_one_line_error "no repository"
[ -z "$(ls empty-mnt)" ] && ! mountpoint -q empty-mnt || fail "a failed open left a mount"; ok
if command -v unshare >/dev/null && unshare -m true 2>/dev/null; then
  # A machine without FUSE: an empty /dev in a mount namespace of its own.
  set +e
  unshare -m bash -c "mount -t tmpfs none /dev && exec $CAIRN mount empty-mnt" > nofuse.out 2> nofuse.err
  rc=$?
  set -e
  assert_eq "$rc" "1" "exit code without /dev/fuse"
  grep -q "^cairn: .*cannot open /dev/fuse" nofuse.err || fail "no clear error without /dev/fuse: $(cat nofuse.err)"; ok
else
  echo "note: no mount namespaces here: the case without /dev/fuse did not run"
fi
# A write-only host key cannot read content: refused before anything runs.
$CAIRN key generate "$WORK/wo.key" >/dev/null
expect_exit 0 $CAIRN key add --write-only --host web1 --key-file "$WORK/wo.key" --yes
expect_exit 13 $CAIRN --key-file "$WORK/wo.key" mount empty-mnt
! mountpoint -q empty-mnt || fail "a write-only key mounted"; ok

echo "ok: $checks checks"
