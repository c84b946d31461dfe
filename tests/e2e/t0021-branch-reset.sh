# `branch --force NAME REV` moves a branch (approval, risk high), creates it
# when missing; log on a branch that does not exist or has no snapshots is
# exit 5 with a message, never empty output.
source "$(dirname "$0")/lib.sh"

mkdir src; echo one > src/a.txt
expect_exit 0 $CAIRN init repo --encryption none  # reads ref files (format 1)
export CAIRN_REPO=$WORK/repo

# log before the first snapshot.
expect_exit 5 $CAIRN log
expect_one_line_error "branch 'main' has no snapshots yet"
assert_eq "$(out)" "" "no output on stdout"
expect_exit 5 $CAIRN --json log
assert_eq "$(json_get "j['error']['exit_code']")" "5" "JSON error object"
assert_eq "$(json_get "'no snapshots yet' in j['error']['message']")" "True" "JSON error message"
expect_exit 5 $CAIRN log main
expect_one_line_error "no snapshots yet"

snap() { expect_exit 0 $CAIRN --json backup "$@" src; json_get "j['snapshot']"; }
s1=$(snap -m one); echo two > src/a.txt
s2=$(snap -m two)
expect_exit 5 $CAIRN log nosuchbranch
expect_one_line_error "nosuchbranch"
expect_exit 5 $CAIRN log branches/nosuchbranch
expect_one_line_error "nosuchbranch"

# Only another branch has snapshots: the message points to it.
expect_exit 0 $CAIRN init repo2 --encryption none
echo x > src/b.txt
expect_exit 0 $CAIRN -r repo2 backup --branch work src
expect_exit 5 $CAIRN -r repo2 log
expect_one_line_error "other branches: work"

# Reset an existing branch: refused without approval, ref unchanged.
expect_exit 0 $CAIRN branch side "$s1"
expect_exit 7 $CAIRN branch --force side "$s2" < /dev/null
expect_one_line_error "needs approval (risk high)"
expect_exit 0 $CAIRN rev-parse side
assert_eq "$(out)" "$s1" "branch unchanged without approval"
expect_exit 0 $CAIRN --json branch --force side "$s2" --yes
assert_eq "$(json_get "j['head']")" "$s2" "reset head in JSON"
assert_eq "$(json_get "j['moved_from']")" "$s1" "moved_from in JSON"
assert_eq "$(json_get "j['created']")" "False" "not created"
expect_exit 0 $CAIRN rev-parse side
assert_eq "$(out)" "$s2" "branch moved"
assert_eq "$(head -1 repo/refs/branches/side)" "$s2" "the ref file"
expect_exit 0 $CAIRN branch -f side "$s1" --yes
out | grep -q "reset branch side to ${s1:0:12} (was ${s2:0:12})" || fail "reset output: $(out)"; ok

# A backup on the reset branch takes the new head as its parent.
echo three > src/a.txt
expect_exit 0 $CAIRN --json backup --branch side src
assert_eq "$(json_get "j['parents']")" "['$s1']" "parent after reset"

# --force creates a missing branch, without asking.
expect_exit 0 $CAIRN branch --force fresh "$s1" < /dev/null
out | grep -q "created branch fresh" || fail "create with --force: $(out)"; ok
expect_exit 0 $CAIRN rev-parse fresh
assert_eq "$(out)" "$s1" "created at REV"
# Plain create of an existing branch is still refused (exit 6) and says how to move it.
expect_exit 6 $CAIRN branch fresh "$s2"
expect_one_line_error "--force"
expect_exit 2 $CAIRN branch --force 1234abcd "$s2" --yes
expect_one_line_error "could be read as a snapshot id prefix"
expect_exit 2 $CAIRN branch -d --force fresh --yes
finish
