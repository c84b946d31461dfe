set -e
# The streaming walk (issue 17): each folder's tree is stored as soon as its
# entries are final and its entries are freed, with a bounded file queue
# (the walking thread reads files itself when it is full). What a user
# checks: a tree with more files than the queue holds, deep chains, empty
# folders and hard links across folders (later names found before and
# after their first name was read) restores exactly, with one thread and
# with several, to the same snapshot; and the change counts, now taken from
# the stored trees, are right, the same in a dry run.
source "$(dirname "$0")/lib.sh"

mkdir -p src
python3 - "$WORK/src" <<'EOF'
import os, sys, random
root = sys.argv[1]
rnd = random.Random(17)
# 40 folders of 60 files: 2,400 files, more than the file queue's 1,024.
for d in range(40):
    dd = os.path.join(root, "d%02d" % d)
    os.makedirs(dd)
    for f in range(60):
        with open(os.path.join(dd, "f%02d" % f), "wb") as fh:
            fh.write(rnd.randbytes(rnd.randrange(0, 3000)))
# A chain 60 folders deep with a file at every level.
p = os.path.join(root, "deep")
for i in range(60):
    p = os.path.join(p, "l%02d" % i)
    os.makedirs(p)
    with open(os.path.join(p, "x"), "w") as fh:
        fh.write("level %d\n" % i)
os.makedirs(os.path.join(root, "empty/inner/innermost"))
# Hard links. A big first name (read long after its later names are
# found), later names in the same folder and in folders walked later.
os.makedirs(os.path.join(root, "links"))
big = os.path.join(root, "d00", "big")
with open(big, "wb") as fh:
    fh.write(rnd.randbytes(6 << 20))
os.link(big, os.path.join(root, "d00", "big2"))
os.link(big, os.path.join(root, "links", "big3"))
os.link(big, os.path.join(root, "deep", "l00", "big4"))
for i in range(50):
    first = os.path.join(root, "d%02d" % (i % 40), "f%02d" % i)
    os.link(first, os.path.join(root, "links", "h%02d" % i))
    os.link(first, first + ".same-folder")
for i in range(5):
    os.symlink("../d%02d/f00" % i, os.path.join(root, "links", "s%d" % i))
EOF
nfiles=$(find src -type f | wc -l)

expect_exit 0 $CAIRN init repo --encryption none
export CAIRN_REPO=$WORK/repo
stat_of() { json_get "j['stats']['$1']"; }

# One thread: the walking thread is the only reader, so every full queue
# is drained by the walk itself.
expect_exit 0 $CAIRN --json backup --threads 1 --branch one src
one=$(json_get "j['snapshot']")
assert_eq "$(json_get "j['files']")" "$nfiles" "files counted with one thread"
assert_eq "$(stat_of files_new)" "$nfiles" "every file new in the first snapshot"
expect_exit 0 $CAIRN restore "$one" --target out-one
$TREECMP src out-one > /dev/null || fail "the one-thread snapshot differs from the source"; ok

# Several threads, read again: the same trees.
expect_exit 0 $CAIRN --json backup --threads 3 --force-read --branch three src
three=$(json_get "j['snapshot']")
assert_eq "$(json_get "j['new_trees']")" "0" "the same trees with three threads"
expect_exit 0 $CAIRN diff "$one" "$three"
assert_eq "$(out)" "" "no difference between the one- and three-thread snapshots"
expect_exit 0 $CAIRN restore "$three" --target out-three
$TREECMP src out-three > /dev/null || fail "the three-thread snapshot differs from the source"; ok
[ "$(stat -c %i out-three/links/big3)" = "$(stat -c %i out-three/d00/big)" ] || fail "hard link across folders lost"; ok
[ "$(stat -c %h out-three/d00/big)" = "4" ] || fail "the big file should have 4 names"; ok

# Unchanged: nothing read, every file unchanged.
expect_exit 0 $CAIRN --json backup --branch three src
assert_eq "$(stat_of files_read) $(stat_of files_unchanged) $(stat_of files_new)" "0 $nfiles 0" "unchanged re-backup"

# Edits: 10 changed, 5 deleted, 7 added; a file replaced by a folder of 3
# (1 deleted, 3 new); a folder of 61 files removed (60 and a hard link).
for i in $(seq 10 19); do echo edit >> src/d05/f$i; done
for i in $(seq 30 34); do rm src/d06/f$i; done
for i in $(seq 1 7); do echo new $i > src/d07/new$i; done
rm src/d08/f40 && mkdir src/d08/f40 && for i in 1 2 3; do echo $i > src/d08/f40/g$i; done
rm -r src/d39
nfiles2=$(find src -type f | wc -l)
expect_exit 0 $CAIRN --json backup --dry-run --branch three src
dry="$(stat_of files_new) $(stat_of files_changed) $(stat_of files_unchanged) $(stat_of files_deleted)"
expect_exit 0 $CAIRN --json backup --branch three src
real="$(stat_of files_new) $(stat_of files_changed) $(stat_of files_unchanged) $(stat_of files_deleted)"
assert_eq "$real" "10 10 $((nfiles2 - 20)) 67" "change counts after the edits"
assert_eq "$dry" "$real" "a dry run counts the same changes"
expect_exit 0 $CAIRN restore three --target out-edit
$TREECMP src out-edit > /dev/null || fail "the edited snapshot differs from the source"; ok

# The file-change cache is keyed by folder and name, so a file whose path
# is longer than LMDB's 511-byte key limit is found there too (it was read
# again on every backup when the cache was keyed by the full path).
long=src/$(printf 'a%.0s' $(seq 1 200))/$(printf 'b%.0s' $(seq 1 200))/$(printf 'c%.0s' $(seq 1 200))
mkdir -p "$long" && echo deep > "$long/file"
expect_exit 0 $CAIRN --json backup --branch three src
assert_eq "$(stat_of files_read)" "1" "the long-path file is read once"
expect_exit 0 $CAIRN --json backup --branch three src
assert_eq "$(stat_of files_read)" "0" "the long-path file comes from the file-change cache"

finish
