set -e
# The restore target stands for the restored folder: REV:FOLDER, and the
# root of a single-folder backup (whose snapshot records the folder's own
# metadata), give it the folder's stored mtime (and mode and owner when the
# restore created it); the synthetic root of a multi-path backup gives it
# the snapshot's time.
source "$(dirname "$0")/lib.sh"

mtime_ns() { python3 -c "import os,sys; print(os.lstat(sys.argv[1]).st_mtime_ns)" "$1"; }
mode_of() { stat -c %a "$1"; }

mkdir -p src/sub/deep other
echo a > src/a; echo b > src/sub/b; echo c > src/sub/deep/c; echo o > other/o
chmod 750 src/sub
touch -d '2003-04-05 06:07:08.123456789' src/sub
touch -d '2001-02-03 04:05:06.5' src
sub_mtime=$(mtime_ns src/sub)
src_mtime=$(mtime_ns src)
expect_exit 0 $CAIRN init repo
export CAIRN_REPO=$WORK/repo

# --- a single-folder backup: the folder's content is the root.
expect_exit 0 $CAIRN --json backup src
snap=$(json_get "j['snapshot']")
snap_time=$(json_get "j['time_ns']")
assert_eq "$(json_get "j['root']['mtime_ns']")" "$src_mtime" "the snapshot records the folder's own mtime"
assert_eq "$(json_get "oct(j['root']['mode'])")" "0o$(mode_of src)" "and its mode"
expect_exit 0 $CAIRN restore "$snap" --target out
assert_eq "$(mtime_ns out)" "$src_mtime" "restored root: the target gets the backed-up folder's mtime"
assert_eq "$(mode_of out)" "$(mode_of src)" "and, created by the restore, its mode"
mkdir existing-root; chmod 700 existing-root
expect_exit 0 $CAIRN restore "$snap" --target existing-root
assert_eq "$(mtime_ns existing-root)" "$src_mtime" "existing target: the folder's mtime"
assert_eq "$(mode_of existing-root)" "700" "existing target keeps its mode"
assert_eq "$(mtime_ns out/sub)" "$sub_mtime" "a folder inside keeps its mtime"
$TREECMP src out > /dev/null || fail "restored tree differs"; ok

# REV:FOLDER into a new target: the folder's mtime and mode.
expect_exit 0 $CAIRN restore "$snap:sub" --target out-sub
assert_eq "$(mtime_ns out-sub)" "$sub_mtime" "REV:FOLDER: the target gets the folder's mtime"
assert_eq "$(mode_of out-sub)" "750" "REV:FOLDER into a new target: the folder's mode"
assert_eq "$(mtime_ns out-sub/deep)" "$(mtime_ns src/sub/deep)" "and its subfolders theirs"
# ... into an existing empty target: the mtime, but the target keeps its mode.
mkdir existing; chmod 700 existing
expect_exit 0 $CAIRN restore "$snap:sub" --target existing
assert_eq "$(mtime_ns existing)" "$sub_mtime" "existing target: the folder's mtime"
assert_eq "$(mode_of existing)" "700" "existing target keeps its mode"
# ... with --force over a target that has other content.
touch -d '2020-01-01' existing
expect_exit 0 $CAIRN restore "$snap:sub" --target existing --force --yes
assert_eq "$(mtime_ns existing)" "$sub_mtime" "--force: the folder's mtime again"

# --- several paths: each is an entry of the root, with its own metadata.
expect_exit 0 $CAIRN --json backup --branch multi src other
multi=$(json_get "j['snapshot']")
multi_time=$(json_get "j['time_ns']")
expect_exit 0 $CAIRN restore "$multi:src" --target out-src
assert_eq "$(mtime_ns out-src)" "$src_mtime" "a backed-up folder's own old mtime comes back (REV:src)"
expect_exit 0 $CAIRN restore "$multi" --target out-multi
assert_eq "$(mtime_ns out-multi)" "$multi_time" "multi-path root: the snapshot's time"
assert_eq "$(mtime_ns out-multi/src)" "$src_mtime" "the folder under the root keeps its old mtime"

# A single file goes into the target under its name, with its own mtime.
expect_exit 0 $CAIRN restore "$snap:a" --target filetarget
assert_eq "$(cat filetarget/a)" "a" "single file restored"
assert_eq "$(mtime_ns filetarget/a)" "$(mtime_ns src/a)" "single file keeps its mtime"
finish
