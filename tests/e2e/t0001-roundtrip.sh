# Back up a tree with every entry type, list it, cat it, restore it, and
# compare field by field; the JSON contract of backup and log.
source "$(dirname "$0")/lib.sh"

make_rich_tree src
expect_exit 0 $CAIRN init repo
export CAIRN_REPO=$WORK/repo

expect_exit 0 $CAIRN --json backup -m "first snapshot" src
snap1=$(json_get "j['snapshot']")
[ ${#snap1} = 64 ] || fail "backup --json snapshot is not a full id: $snap1"
assert_eq "$(json_get "j['parents']")" "[]" "parents of first snapshot"
assert_eq "$(json_get "j['files']")" "$(find src -type f | wc -l)" "files count"
assert_eq "$(json_get "j['bytes']")" "$(find src -type f -printf '%s\n' | awk '{s+=$1} END {print s}')" "bytes"
[ "$(json_get "j['added_bytes'] > 0")" = True ] || fail "first backup added nothing"

# ls lists every path, and -l shows modes.
expect_exit 0 $CAIRN ls latest
out | grep -qx "sub/deep/hardlink" || fail "ls misses sub/deep/hardlink"
out | grep -qx "empty-dir/" || fail "ls misses empty-dir/"
assert_eq "$(out | wc -l)" "$(cd src && find . -mindepth 1 | wc -l)" "ls entry count"
expect_exit 0 $CAIRN ls -l latest:mode
out | grep -q -- "-rwxr-xr-x .* mode/exec.sh" || fail "ls -l mode of exec.sh: $(out)"
expect_exit 0 $CAIRN --json ls latest:sub
assert_eq "$(json_get "sorted(e['path'] for e in j)[0]")" "sub/deep" "ls --json path"

# cat gives the exact bytes.
expect_exit 0 $CAIRN cat latest:sub/random.bin
cmp "$WORK/.out" src/sub/random.bin || fail "cat output differs"; ok
expect_exit 0 $CAIRN cat "latest:sub/deep/hardlink"
assert_eq "$(out)" "hello world" "cat through a hard link"

# restore is field-exact.
expect_exit 0 $CAIRN restore latest --target restored --verify
$TREECMP src restored || fail "restored tree differs"; ok
# holes stay holes
used=$(du -k restored/sparse.img | cut -f1)
[ "$used" -lt 2048 ] || fail "sparse file restored dense ($used KiB)"; ok
# hard links are hard links again
[ "$(stat -c %i restored/hello.txt)" = "$(stat -c %i restored/sub/deep/hardlink)" ] || fail "hard link not restored"; ok

# restore of one path
expect_exit 0 $CAIRN restore latest:sub/deep --target part
[ -f part/hardlink ] && [ "$(cat part/hardlink)" = "hello world" ] || fail "partial restore of a hard link"; ok
expect_exit 0 $CAIRN restore latest:sub/text.txt --target onefile
cmp onefile/text.txt src/sub/text.txt || fail "single-file restore"; ok
expect_exit 0 $CAIRN restore latest:sub/deep/hardlink --target onelink
assert_eq "$(cat onelink/hardlink)" "hello world" "restore of a single hard-link path"

expect_exit 0 $CAIRN check --read-data
out | grep -q "no errors found" || fail "check output: $(out)"

# An unchanged second backup adds no chunks and records its parent.
expect_exit 0 $CAIRN --json backup src
assert_eq "$(json_get "j['parents']")" "['$snap1']" "parent of second snapshot"
assert_eq "$(json_get "j['new_chunks']")" "0" "new chunks of unchanged backup"
# A change adds little.
echo "changed" >> src/hello.txt
expect_exit 0 $CAIRN --json backup -m third src
snap3=$(json_get "j['snapshot']")
[ "$(json_get "j['added_raw_bytes'] < 100000")" = True ] || fail "small change added too much"

# log: newest first, with parents, branch and message.
expect_exit 0 $CAIRN --json log
assert_eq "$(json_get "len(j)")" "3" "log length"
assert_eq "$(json_get "j[0]['id']")" "$snap3" "log newest"
assert_eq "$(json_get "j[2]['message']")" "first snapshot" "log message"
assert_eq "$(json_get "j[2]['branch']")" "main" "log branch"
assert_eq "$(json_get "{'id','time','parents','branch','message'} <= set(j[0].keys())")" "True" "log keys"
expect_exit 0 $CAIRN log --oneline
assert_eq "$(out | wc -l)" "3" "log --oneline"
expect_exit 0 $CAIRN log "${snap3:0:8}~2"
out | grep -q "first snapshot" || fail "log REV~2"

# diff between restore points
expect_exit 0 $CAIRN diff "$snap1" latest
assert_eq "$(out)" "$(printf 'M\thello.txt\nM\tsub/deep/hardlink')" "diff output"

# stats
expect_exit 0 $CAIRN --json stats
assert_eq "$(json_get "j['snapshots']")" "3" "stats snapshots"
[ "$(json_get "j['dedup_ratio'] > 2")" = True ] || fail "dedup ratio of 3 near-identical snapshots"; ok

# Several paths: one root entry per path, named by its last component.
mkdir -p other/x; echo 1 > other/x/f; echo 2 > single.txt
expect_exit 0 $CAIRN backup --branch multi other/x single.txt
expect_exit 0 $CAIRN ls multi
assert_eq "$(out | tr '\n' ' ')" "single.txt x/ x/f " "multi-path root"
finish
