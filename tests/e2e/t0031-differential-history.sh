set -e
# Differential snapshots keep the branch's previous head as their second
# parent: `log BRANCH` lists every snapshot, `log --graph` draws a merge,
# `REV~1` is the full snapshot; and a differential's base is the newest
# full snapshot of the same sources.
source "$(dirname "$0")/lib.sh"

mkdir -p src other
for i in 1 2 3 4; do echo "s$i" > src/f$i; done
echo o > other/o
expect_exit 0 $CAIRN init repo
export CAIRN_REPO=$WORK/repo
snap() { json_get "j['snapshot']"; }

expect_exit 0 $CAIRN --json backup --type full src;   full=$(snap)
echo x >> src/f1
expect_exit 0 $CAIRN --json backup src;               inc1=$(snap)
echo x >> src/f2
expect_exit 0 $CAIRN --json backup src;               inc2=$(snap)
echo x >> src/f3
expect_exit 0 $CAIRN --json backup --type differential src; diff1=$(snap)
assert_eq "$(json_get "j['parents']")" "['$full', '$inc2']" "differential parents: the full, then the previous head"
assert_eq "$(json_get "j['stats']['files_changed']")" "3" "differential counts against the full"
expect_exit 0 $CAIRN --json log main
assert_eq "$(json_get "' '.join(s['id'] for s in j)")" "$diff1 $inc2 $inc1 $full" "log lists every snapshot of the branch"
assert_eq "$($CAIRN rev-parse main~1)" "$full" "REV~1 of a differential is its full snapshot"
assert_eq "$($CAIRN rev-parse main^2)" "$inc2" "REV^2 is the previous head"
assert_eq "$($CAIRN rev-parse main^2~2)" "$full" "and leads back to the full"
expect_exit 0 $CAIRN log --graph --oneline main
# A merge: the second parent is drawn in a second column.
out | grep -q "^| \* ${inc2:0:12}" || fail "log --graph does not draw the differential as a merge: $(out)"; ok

# The next differential: the same full, the previous differential as second parent.
echo x >> src/f4
expect_exit 0 $CAIRN --json backup --type differential src; diff2=$(snap)
assert_eq "$(json_get "j['parents']")" "['$full', '$diff1']" "second differential parents"
assert_eq "$(json_get "j['stats']['files_changed']")" "4" "second differential still counts against the full"
# An incremental on top of it is an ordinary child.
echo y >> src/f4
expect_exit 0 $CAIRN --json backup src;               inc3=$(snap)
assert_eq "$(json_get "j['parents']")" "['$diff2']" "incremental after a differential"
assert_eq "$(json_get "j['stats']['files_changed'] + j['stats']['files_unchanged']")" "4" "counted against the differential"
expect_exit 0 $CAIRN --json log main
assert_eq "$(json_get "len(j)")" "6" "log lists all six snapshots"
assert_eq "$($CAIRN rev-parse main~2)" "$full" "first parents: incremental, differential, full"
# A differential straight after a full has the full as its only parent.
expect_exit 0 $CAIRN --json backup --type full src;   full2=$(snap)
expect_exit 0 $CAIRN --json backup --type differential src
assert_eq "$(json_get "j['parents']")" "['$full2']" "no second parent when the head is the full"

# --- the base is the newest full snapshot of the same sources.
expect_exit 0 $CAIRN --json backup --branch mix --type full src;  mixfull=$(snap)
expect_exit 0 $CAIRN --json backup --branch mix --type full other; otherfull=$(snap)
echo z >> src/f1
expect_exit 0 $CAIRN --json backup --branch mix --type differential src
assert_eq "$(json_get "j['parents']")" "['$mixfull', '$otherfull']" "differential skips the full of other sources"
assert_eq "$(json_get "j['stats']['files_changed'] + j['stats']['files_unchanged'] + j['stats']['files_deleted']")" "4" \
  "counted against the full of the same sources"
grep -q warning "$WORK/.err" && fail "differential against its own full warns: $(err)"; ok
mkdir -p third; echo t > third/t
expect_exit 2 $CAIRN backup --branch mix --type differential third
expect_one_line_error "no full snapshot of files $WORK/third"

# --- a differential kept in history restores like any snapshot.
expect_exit 0 $CAIRN restore "$diff1" --target out
expect_exit 0 $CAIRN cat "$diff1:f3"
assert_eq "$(out)" "$(printf 's3\nx')" "content of the differential"
expect_exit 0 $CAIRN check
finish
