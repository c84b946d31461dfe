# Issue 16 defect 4: every read command works on a repository that cannot
# be written (a read-only mount of a backup disk): an unencrypted
# repository's local index moves to the user's cache folder; a restore
# says it could not be recorded in the audit log; a change fails on one
# line and writes nothing. Needs a bind mount (root); says SKIP otherwise.
source "$(dirname "$0")/lib.sh"
set -e

make_rich_tree src
expect_exit 0 $CAIRN init plain --encryption none
expect_exit 0 $CAIRN init enc
for r in plain enc; do
  expect_exit 0 $CAIRN -r $r backup -q src
  expect_exit 0 $CAIRN -r $r tag v1
  echo more > src/more.txt
  expect_exit 0 $CAIRN -r $r backup -q src
  rm src/more.txt
done
# The mounted view holds no cache: as a disk from another machine would.
rm -rf plain/cache "$CAIRN_CACHE_DIR"/*
mkdir ro-plain ro-enc
if ! mount --bind plain ro-plain 2>/dev/null || ! mount -o remount,bind,ro ro-plain 2>/dev/null; then
  umount ro-plain 2>/dev/null || true
  echo "SKIP: no bind mounts here (needs root): the read-only repository case did not run"
  exit 0
fi
mount --bind enc ro-enc && mount -o remount,bind,ro ro-enc
trap 'umount "$WORK/ro-plain" "$WORK/ro-enc" 2>/dev/null; rm -rf "$WORK"' EXIT
touch ro-plain/probe 2>/dev/null && fail "the mount is writable"; ok

for r in ro-plain ro-enc; do
  files_before=$(find "$r" -type f | sort | sha256sum)
  for cmd in "snapshots" "log" "log main" "show latest" "ls latest" "ls-tree latest" "cat latest:hello.txt" \
             "diff v1 latest" "stats" "check" "check --read-data" "rev-parse latest" "tag -l" "branch" "trash" \
             "policy show" "approval-policy show" "audit log" "audit verify" "show-config"; do
    expect_exit 0 $CAIRN -r "$r" $cmd
  done
  expect_exit 0 $CAIRN -r "$r" restore v1 --target "out-$r"
  err | grep -q "not recorded in the audit log: the repository is on a read-only file system" ||
    fail "$r: restore did not say it went unrecorded: $(err)"; ok
  $TREECMP src "out-$r" || fail "$r: the restore from the read-only repository differs"; ok
  for cmd in "backup src" "tag v2" "branch side latest" "prune --yes"; do
    set +e
    $CAIRN -r "$r" $cmd > "$WORK/.out" 2> "$WORK/.err"
    rc=$?
    set -e
    [ "$rc" != 0 ] || fail "$r: '$cmd' on a read-only repository exited 0"
    expect_one_line_error "Read-only file system"
    assert_eq "$(wc -l < "$WORK/.err")" "1" "$r: lines on stderr of '$cmd'"
  done
  assert_eq "$(find "$r" -type f | sort | sha256sum)" "$files_before" "$r: files of the read-only repository"
done
[ -f "$CAIRN_CACHE_DIR/$($CAIRN -r ro-plain --json show-config | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')/index.mdb" ] ||
  fail "the unencrypted repository's local index is not in the user's cache folder"; ok

echo "ok: $checks checks"
