# Bad input is answered with a documented exit code and a one-line message
# that names the thing, and changes nothing.
source "$(dirname "$0")/lib.sh"

mkdir -p src/dir; echo a > src/a; echo b > src/dir/b
head -c 2000000 /dev/urandom > src/big
expect_exit 0 $CAIRN init repo
expect_exit 0 $CAIRN -r repo backup src
before=$(tree_hash repo)
unchanged() { assert_eq "$(tree_hash repo)" "$before" "repository unchanged after: $1"; }

# No repository.
expect_exit 10 $CAIRN -r nothere log
expect_one_line_error "cairn init nothere"
mkdir notrepo; echo x > notrepo/file
expect_exit 10 $CAIRN -r notrepo log
expect_one_line_error "not a cairn repository"
expect_exit 2 env -u CAIRN_REPO $CAIRN log
expect_one_line_error "CAIRN_REPO"
CAIRN_REPO=$WORK/repo expect_exit 0 $CAIRN log --oneline

# init over a repository or a non-empty folder.
expect_exit 6 $CAIRN init repo
expect_one_line_error "already exists"
unchanged "init over repository"
expect_exit 6 $CAIRN init notrepo
expect_one_line_error "not empty"
assert_eq "$(ls notrepo)" "file" "non-empty folder untouched"
echo x > plainfile
expect_exit 6 $CAIRN init plainfile
expect_one_line_error "not a folder"

# Source paths.
expect_exit 5 $CAIRN -r repo backup src/nope
expect_one_line_error "src/nope"
unchanged "backup of a missing path"
mkdir -p other/dir
expect_exit 2 $CAIRN -r repo backup src/dir other/dir
expect_one_line_error "same last component"
unchanged "backup with clashing names"
expect_exit 2 $CAIRN -r repo backup --branch ../evil src
expect_one_line_error "not a valid branch name"
unchanged "backup to an invalid branch"

# Revisions and paths.
expect_exit 5 $CAIRN -r repo ls nosuchname
expect_one_line_error "not a branch, tag, snapshot id"
expect_exit 5 $CAIRN -r repo ls latest~1
expect_one_line_error "beyond the first snapshot"
expect_exit 5 $CAIRN -r repo ls 0000000
expect_one_line_error "0000000"
expect_exit 5 $CAIRN -r repo cat latest:missing.txt
expect_one_line_error "missing.txt"
expect_exit 2 $CAIRN -r repo cat latest:dir
expect_one_line_error "not a file"
expect_exit 2 $CAIRN -r repo ls "latest:../etc"
expect_one_line_error ".."
expect_exit 2 $CAIRN -r repo ls "latest~x"
expect_one_line_error "malformed revision"

# Restore targets.
mkdir target; echo keep > target/keep
expect_exit 6 $CAIRN -r repo restore latest --target target
expect_one_line_error "not empty"
assert_eq "$(ls target)" "keep" "non-empty target untouched"
expect_exit 6 $CAIRN -r repo restore latest --target plainfile
expect_one_line_error "not a folder"
expect_exit 0 $CAIRN -r repo restore latest --target target --force --yes
assert_eq "$(cat target/keep) $(cat target/a)" "keep a" "--force keeps unrelated files and restores the snapshot"
before=$(tree_hash repo)  # that restore over a folder stored its safety snapshot first

# Usage errors.
expect_exit 2 $CAIRN -r repo frobnicate
expect_exit 2 $CAIRN -r repo backup
expect_exit 2 $CAIRN -r repo restore latest
expect_exit 2 $CAIRN -r repo log --no-such-flag
expect_exit 0 $CAIRN --version
out | grep -q "^cairn " || fail "--version output"
for cmd in init backup log ls cat restore check stats repair diff; do
  expect_exit 0 $CAIRN $cmd --help
done
expect_exit 0 $CAIRN help

# --json errors are one JSON object on stdout.
expect_exit 5 $CAIRN -r repo --json ls nosuchname
assert_eq "$(json_get "j['error']['exit_code']")" "5" "json error exit code"

# A closed pipe is not a crash.
set +e
$CAIRN -r repo cat latest:big 2>/dev/null | head -c 10 > /dev/null
rc=${PIPESTATUS[0]}
set -e
[ "$rc" -lt 128 ] || fail "cat into a closed pipe died of a signal ($rc)"; ok

# Repository files that are truncated or not what their name says.
cp -a repo broken
head -c 20 repo/config > broken/config
expect_exit 4 $CAIRN -r broken log
expect_one_line_error "repository config is damaged"
cp repo/config broken/config
sed -i -E 's/"format": [123]/"format": 99/' broken/config
expect_exit 1 $CAIRN -r broken log
expect_one_line_error "upgrade cairn"
cp repo/config broken/config
snap=$($CAIRN -r repo rev-parse latest)
head -c 30 repo/snapshots/$snap > broken/snapshots/$snap
expect_exit 4 $CAIRN -r broken log
expect_one_line_error "damaged"
expect_exit 4 $CAIRN -r broken check
unchanged "all of the above"

# A backup that cannot read some files says so, saves the rest, exits 3.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
  chmod 755 "$WORK"
  mkdir -p part/src; echo fine > part/src/ok; echo secret > part/src/locked; chmod 000 part/src/locked
  mkdir part/unreadable-dir; chmod 000 part/unreadable-dir; mv part/unreadable-dir part/src/
  chown -R nobody part; chmod 000 part/src/locked
  # nobody has its own key file and cache (ours are root's, mode 0600/0700).
  run_nobody() {
    setpriv --reuid=nobody --regid=nogroup --clear-groups \
      env CAIRN_KEY_FILE="$WORK/part/.key" CAIRN_CACHE_DIR="$WORK/part/.cache" "$@"
  }
  expect_exit 0 run_nobody $CAIRN key generate part/.key
  expect_exit 0 run_nobody $CAIRN init part/repo
  expect_exit 3 run_nobody $CAIRN -r part/repo --json backup part/src
  assert_eq "$(json_get "len(j['errors'])")" "2" "errors recorded in the snapshot"
  grep -q "locked" "$WORK/.err" || fail "unreadable file not named: $(err)"; ok
  expect_exit 0 run_nobody $CAIRN -r part/repo ls latest
  assert_eq "$(out)" "ok" "the readable file is in the snapshot"
else
  echo "SKIPPED: partial-backup case needs root and setpriv"
fi
finish
