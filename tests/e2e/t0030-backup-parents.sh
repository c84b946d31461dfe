set -e
# The parent a backup is compared with follows its sources: a warning and
# counts against nothing when the branch head was taken from other sources,
# --parent REV, and the same sources in another order or as another stream
# name.
source "$(dirname "$0")/lib.sh"

mkdir -p a b
for i in 1 2 3; do echo "a$i" > a/f$i; done
for i in 1 2; do echo "b$i" > b/g$i; done
expect_exit 0 $CAIRN init repo
export CAIRN_REPO=$WORK/repo
counts() { json_get "'%d new %d changed %d unchanged %d deleted' % tuple(j['stats'][k] for k in ('files_new', 'files_changed', 'files_unchanged', 'files_deleted'))"; }
no_warning() { grep -q "warning" "$WORK/.err" && fail "unexpected warning: $(err)"; ok; }

# --- the head was taken from other sources: warned, every file new, none deleted.
expect_exit 0 $CAIRN --json backup a
snap_a=$(json_get "j['snapshot']")
no_warning
expect_exit 0 $CAIRN --json backup b
snap_b=$(json_get "j['snapshot']")
assert_eq "$(counts)" "2 new 0 changed 0 unchanged 0 deleted" "counts against no parent when the sources differ"
assert_eq "$(json_get "j['parents']")" "['$snap_a']" "the head is still the parent"
assert_eq "$(json_get "j['kind']")" "incremental" "kind as asked for"
grep -q "^cairn: warning: the head of branch 'main' (${snap_a:0:12}) is a backup of files $WORK/a, not of files $WORK/b" "$WORK/.err" \
  || fail "warning about other sources: $(err)"; ok
assert_eq "$(grep -c . "$WORK/.err")" "1" "the warning is one line"
expect_exit 0 $CAIRN --quiet backup a
assert_eq "$(err)" "" "--quiet silences the warning"
expect_exit 0 $CAIRN rev-parse main
snap_a2=$(out)

# --- --parent REV: counts against REV, REV first parent, the head second.
echo changed > a/f1; echo new > a/f4; rm a/f3
expect_exit 0 $CAIRN --json backup --parent "$snap_a" -m "against a" a
merge=$(json_get "j['snapshot']")
assert_eq "$(counts)" "1 new 1 changed 1 unchanged 1 deleted" "counts against --parent"
assert_eq "$(json_get "j['parents']")" "['$snap_a', '$snap_a2']" "parents: REV, then the head"
no_warning
expect_exit 0 $CAIRN --json show main
assert_eq "$(json_get "j['id']")" "$merge" "the branch moved to the new snapshot"
assert_eq "$(json_get "j['parents']")" "['$snap_a', '$snap_a2']" "show lists both parents"
assert_eq "$($CAIRN rev-parse main~1)" "$snap_a" "~1 is REV"
assert_eq "$($CAIRN rev-parse main^2)" "$snap_a2" "^2 is the previous head"
expect_exit 0 $CAIRN --json log main
assert_eq "$(json_get "len(j)")" "4" "log still lists the whole branch"
# --parent naming the head itself: one parent; any sources.
expect_exit 0 $CAIRN --json backup --parent main b
assert_eq "$(json_get "j['parents']")" "['$merge']" "--parent at the head: one parent"
assert_eq "$(counts)" "2 new 0 changed 0 unchanged 3 deleted" "--parent counts against REV whatever its sources"
no_warning
# --parent from another branch; the branch it advances is --branch.
expect_exit 0 $CAIRN --json backup --branch side --parent "$snap_a" a
assert_eq "$(json_get "j['parents']")" "['$snap_a']" "a new branch: REV only"
assert_eq "$(json_get "j['branch']")" "side" "branch recorded"

# --- bad --parent: nothing is read, nothing written.
n=$(ls repo/snapshots | wc -l)
expect_exit 5 $CAIRN backup --parent no-such-rev --stdin-from-command "touch $WORK/ran"
expect_one_line_error "no-such-rev"
[ ! -e "$WORK/ran" ] || fail "the command ran although --parent is unknown"; ok
expect_exit 5 $CAIRN backup --parent "main~40" a
expect_one_line_error "--parent"
expect_exit 2 $CAIRN backup --parent 'main@{' a
expect_one_line_error "malformed"
expect_exit 2 $CAIRN backup --parent main --type differential a
expect_one_line_error "--parent cannot be used with --type differential"
assert_eq "$(ls repo/snapshots | wc -l)" "$n" "no snapshot written for a bad --parent"

# --- the same paths in another order are the same sources.
expect_exit 0 $CAIRN backup --branch two a b
expect_exit 0 $CAIRN --json backup --branch two b a
no_warning
assert_eq "$(json_get "j['stats']['files_new'] + j['stats']['files_deleted']")" "0" "same paths, other order: nothing new"

# --- streams: the stream's name is part of the sources.
echo v1 > dump
expect_exit 0 sh -c "$CAIRN --json backup --branch dumps --stdin --stdin-name db.dump < dump"
echo v2 > dump
expect_exit 0 sh -c "$CAIRN --json backup --branch dumps --stdin --stdin-name db.dump < dump"
no_warning
assert_eq "$(counts)" "0 new 1 changed 0 unchanged 0 deleted" "same stream name: compared"
expect_exit 0 sh -c "$CAIRN --json backup --branch dumps --stdin --stdin-name other.dump < dump"
assert_eq "$(counts)" "1 new 0 changed 0 unchanged 0 deleted" "another stream name: counted against nothing"
grep -q "^cairn: warning: .*is a backup of stdin - as db.dump, not of stdin - as other.dump" "$WORK/.err" \
  || fail "warning names the streams: $(err)"; ok
expect_exit 0 $CAIRN --json backup --branch dumps --stdin-from-command "cat dump" --stdin-name other.dump
assert_eq "$(counts)" "1 new 0 changed 0 unchanged 0 deleted" "a command is not stdin"
grep -q "not of command 'cat dump' as other.dump" "$WORK/.err" || fail "warning names the command: $(err)"; ok

expect_exit 0 $CAIRN check
finish
