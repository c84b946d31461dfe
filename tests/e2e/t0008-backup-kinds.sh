# Backup kinds, the file-change cache (and why files are re-read), change
# counts, --skip-if-unchanged, --dry-run, stdin and command sources, and
# exclusions.
source "$(dirname "$0")/lib.sh"

mkdir -p src/d src/e
for i in $(seq 1 20); do head -c $((1000 + i * 500)) /dev/urandom > src/d/f$i; done
echo keep > src/e/k
expect_exit 0 $CAIRN init repo
export CAIRN_REPO=$WORK/repo
stat_of() { json_get "j['stats']['$1']"; }

# --- full, incrementals, then a differential against the full.
expect_exit 0 $CAIRN --json backup --type full -m base src
full=$(json_get "j['snapshot']")
assert_eq "$(json_get "j['kind']")" "full" "kind of the first snapshot"
assert_eq "$(stat_of files_new)" "21" "all files new in the first snapshot"
echo one >> src/d/f1
expect_exit 0 $CAIRN --json backup src
inc1=$(json_get "j['snapshot']")
assert_eq "$(json_get "j['kind']")" "incremental" "default kind"
assert_eq "$(json_get "j['parents']")" "['$full']" "incremental parent"
assert_eq "$(stat_of files_changed) $(stat_of files_unchanged) $(stat_of files_read)" "1 20 1" "incremental reads only the changed file"
rm src/d/f2; echo new > src/d/new
expect_exit 0 $CAIRN --json backup src
assert_eq "$(stat_of files_new) $(stat_of files_deleted)" "1 1" "new and deleted counts"
expect_exit 0 $CAIRN --json backup --type differential -m diff src
diffsnap=$(json_get "j['snapshot']")
assert_eq "$(json_get "j['kind']")" "differential" "differential kind"
assert_eq "$(json_get "j['parents'][0]")" "$full" "differential first parent is the full snapshot"
assert_eq "$(stat_of files_new) $(stat_of files_changed) $(stat_of files_deleted)" "1 1 1" "differential counts against the full"
expect_exit 0 $CAIRN restore "$diffsnap" --target out-diff
$TREECMP src out-diff > /dev/null || fail "differential snapshot differs from the live tree"; ok
# The next differential is still against the same full snapshot.
echo two >> src/e/k
expect_exit 0 $CAIRN --json backup --type differential src
assert_eq "$(json_get "j['parents']")" "['$full', '$diffsnap']" "second differential parents: the full, then the head"
assert_eq "$(stat_of files_changed)" "2" "second differential counts both changes since the full"
# --type full reads everything again but stores nothing twice.
expect_exit 0 $CAIRN --json backup --type full src
assert_eq "$(stat_of files_read)" "21" "full backup reads every file"
assert_eq "$(json_get "j['new_chunks']")" "0" "full backup stores nothing twice"
expect_exit 0 $CAIRN log --oneline
expect_exit 2 $CAIRN backup --type weekly src
expect_exit 2 $CAIRN backup --branch fresh --type differential src
expect_one_line_error "no full snapshot"

# --- why files are re-read (-v), and what loosens it.
reasons() { $CAIRN -v backup "$@" src 2>&1 >/dev/null | grep '^read ' | sed "s#^read $WORK/##"; }
assert_eq "$(reasons)" "" "unchanged tree: nothing read"
touch -d '2021-01-01' src/d/f3
assert_eq "$(reasons)" "src/d/f3: mtime changed" "mtime change"
chmod 600 src/d/f4
assert_eq "$(reasons)" "src/d/f4: ctime changed" "ctime change"
chmod 644 src/d/f4
assert_eq "$(reasons --ignore-ctime)" "" "--ignore-ctime"
cp -p src/d/f5 f5.tmp && mv f5.tmp src/d/f5     # same content and times, new inode
assert_eq "$(reasons --ignore-ctime --ignore-inode)" "" "--ignore-inode"
assert_eq "$(reasons --ignore-ctime)" "src/d/f5: inode changed" "inode change"
assert_eq "$(reasons --force-read | wc -l)" "21" "--force-read reads everything"

# --- the cache never vouches for data that is gone (on a copy that loses its packs).
expect_exit 0 $CAIRN backup src
cp -a repo lost
rm -f lost/data/*/*
expect_exit 0 $CAIRN -r lost repair index
expect_exit 0 $CAIRN -r lost -v --json backup src
assert_eq "$(json_get "j['stats']['files_read']")" "21" "files whose chunks are gone are read again"
grep -q "no longer in the repository" "$WORK/.err" || fail "reason for re-reading: $(err)"; ok
expect_exit 0 $CAIRN -r lost restore latest --target out-healed
$TREECMP src out-healed > /dev/null || fail "the backup after losing packs is not complete"; ok

# --- --skip-if-unchanged and --dry-run
n=$(ls repo/snapshots | wc -l)
expect_exit 0 $CAIRN --json backup --skip-if-unchanged src
assert_eq "$(json_get "j['skipped']")" "True" "skipped"
assert_eq "$(json_get "j['snapshot']")" "None" "no snapshot id when skipped"
assert_eq "$(ls repo/snapshots | wc -l)" "$n" "no snapshot written when unchanged"
head -c 300000 /dev/urandom > src/e/big
before=$(tree_hash repo)
expect_exit 0 $CAIRN --json backup --dry-run src
[ "$(json_get "j['added_raw_bytes'] >= 300000")" = True ] || fail "dry run reports what would be added"; ok
assert_eq "$(json_get "j['dry_run']")" "True" "dry_run flag"
assert_eq "$(tree_hash repo)" "$before" "dry run writes nothing"
expect_exit 0 $CAIRN --json backup --skip-if-unchanged src
assert_eq "$(json_get "j['skipped']")" "False" "not skipped after a change"

# --- stdin and command sources
head -c 3000000 /dev/urandom > blob.bin
expect_exit 0 sh -c "$CAIRN --json backup --branch dumps --stdin --stdin-name db.dump < blob.bin"
assert_eq "$(json_get "j['source']")" "stdin" "stdin source recorded"
expect_exit 0 $CAIRN cat dumps:db.dump
cmp "$WORK/.out" blob.bin || fail "stdin does not round-trip"; ok
expect_exit 0 $CAIRN --json backup --branch dumps --stdin-from-command "cat blob.bin; printf tail" --stdin-name cmd.out
expect_exit 0 $CAIRN cat dumps:cmd.out
{ cat blob.bin; printf tail; } | cmp - "$WORK/.out" || fail "command output does not round-trip"; ok
head_before=$($CAIRN rev-parse dumps)
expect_exit 1 $CAIRN backup --branch dumps --stdin-from-command "echo partial; exit 3"
expect_one_line_error "exit status 3"
assert_eq "$($CAIRN rev-parse dumps)" "$head_before" "a failing command makes no snapshot"
expect_exit 2 $CAIRN backup --stdin src
expect_exit 2 $CAIRN backup --stdin-name x src

# --- exclusions
mkdir -p ex/build ex/keep ex/sub/build ex/cache ex/sub/deep
echo o > ex/a.o; echo c > ex/a.c; echo b > ex/build/out; echo k > ex/keep/k.o; echo s > ex/sub/build/x
echo top > ex/top.log; echo deep > ex/sub/deep/app.log; echo d > ex/sub/deep/data.txt
printf 'Signature: 8a477f597d28d172789f06886806bc55\n' > ex/cache/CACHEDIR.TAG; echo junk > ex/cache/junk
head -c 2000000 /dev/urandom > ex/huge.bin
printf '# rules\n*.log\n!keep-this.log\n/build/\n' > ex/.cairnignore
printf 'data.txt\n' > ex/sub/deep/.cairnignore
echo kept > ex/sub/deep/keep-this.log
printf '*.o\n!keep/*.o\n' > rules.txt
expect_exit 0 $CAIRN --json backup --branch ex --exclude-file rules.txt --exclude-caches --exclude-larger-than 1M ex
expect_exit 0 $CAIRN ls ex
got=$(out | tr '\n' ' ')
assert_eq "$got" ".cairnignore a.c cache/ cache/CACHEDIR.TAG keep/ keep/k.o sub/ sub/build/ sub/build/x sub/deep/ sub/deep/.cairnignore sub/deep/keep-this.log " "excluded paths"
expect_exit 0 $CAIRN --json log -n 1 ex
[ "$(json_get "len(j[0]['excludes']) >= 4")" = True ] || fail "exclusion rules recorded: $(out)"; ok
expect_exit 0 $CAIRN backup --branch ex2 --exclude 'sub/' --exclude '*.c' ex
expect_exit 0 $CAIRN ls ex2
out | grep -q "^sub/" && fail "--exclude sub/ kept sub"; ok
out | grep -q "a.c" && fail "--exclude *.c kept a.c"; ok
expect_exit 2 $CAIRN backup --exclude-larger-than lots ex

# --one-file-system: a tmpfs mounted inside the source stays an empty folder.
mkdir -p fs/mnt; echo top > fs/top
if mount -t tmpfs -o size=1m tmpfs fs/mnt 2>/dev/null; then
  echo inside > fs/mnt/file
  expect_exit 0 $CAIRN backup --branch fs --one-file-system fs
  expect_exit 0 $CAIRN ls fs
  umount fs/mnt
  assert_eq "$(out | tr '\n' ' ')" "mnt/ top " "--one-file-system"
else
  echo "SKIPPED: --one-file-system needs mount rights"
fi
expect_exit 0 $CAIRN check --read-data
finish
