# Issue 16 defect 5: commands in separate PID namespaces (containers, where
# cairn runs as pid 1) collided in LMDB's reader table ("Resource
# temporarily unavailable"). Now the second one builds a private local
# index, says so once, and works; the private index is gone when it ends.
# Needs unshare(1) with PID namespaces (root); says SKIP otherwise.
source "$(dirname "$0")/lib.sh"
set -e

if ! unshare --pid --fork --mount-proc true 2>/dev/null; then
  echo "SKIP: no PID namespaces here (needs root and unshare): the container case did not run"
  exit 0
fi
expect_exit 0 $CAIRN init repo --encryption none
export CAIRN_REPO=$WORK/repo
mkdir src && echo one > src/a
expect_exit 0 $CAIRN backup -q src
in_ns() { unshare --pid --fork --mount-proc "$@"; }

# A backup that stays open (reading a pipe) as pid 1 of one namespace ...
mkfifo pipe
in_ns $CAIRN backup --stdin --stdin-name stream < pipe > first.out 2> first.err &
first=$!
exec 9> pipe
echo "streamed data" >&9
# ... until it has opened the local index (its session begins after).
for i in $(seq 1 200); do ls repo/locks 2>/dev/null | grep -q session && break; sleep 0.02; done
ls repo/locks | grep -q session || fail "the first backup did not begin its session within 4 s: $(cat first.err)"

# ... and pid 1 of another namespace reads and writes the same repository.
for cmd in "snapshots" "log" "check" "backup -q src"; do
  set +e
  in_ns $CAIRN $cmd > "$WORK/.out" 2> "$WORK/.err"
  rc=$?
  set -e
  [ "$rc" = 0 ] || fail "'$cmd' in a second PID namespace: exit $rc: $(err)"; ok
  if [ "$cmd" != "backup -q src" ]; then
    grep -q "in use by a process with the same process id in another PID namespace" "$WORK/.err" ||
      fail "'$cmd' did not say it used a private index: $(err)"
    ok
  fi
  [ -z "$(ls -d repo/cache/private-* 2>/dev/null)" ] || fail "'$cmd' left its private index behind"; ok
done

exec 9>&-
wait "$first" || fail "the first backup failed: $(cat first.err)"; ok
expect_exit 0 $CAIRN check
expect_exit 0 $CAIRN --json snapshots
assert_eq "$(json_get "len(j)")" "3" "snapshots after backups from two namespaces"
expect_exit 0 $CAIRN cat latest:stream
assert_eq "$(out)" "streamed data" "the first namespace's backup"

echo "ok: $checks checks"
