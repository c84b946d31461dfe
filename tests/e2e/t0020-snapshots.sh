# Every snapshot is listable: `cairn snapshots` (reachable or not, with the
# refs that point at it, filters) and `log --all`.
source "$(dirname "$0")/lib.sh"

mkdir src; echo one > src/a.txt
expect_exit 0 $CAIRN init repo
export CAIRN_REPO=$WORK/repo
snap() { expect_exit 0 $CAIRN --json backup "$@" src; json_get "j['snapshot']"; }

# An empty repository lists nothing, successfully.
expect_exit 0 $CAIRN --json snapshots
assert_eq "$(json_get "j")" "[]" "no snapshots in a new repository"
expect_exit 0 $CAIRN --json log --all
assert_eq "$(json_get "j")" "[]" "log --all of a new repository"

s1=$(snap -m one); echo two > src/a.txt
s2=$(snap -m two); echo three > src/a.txt
s3=$(snap -m three)
s4=$(snap --branch side -m side)
expect_exit 0 $CAIRN tag v1 "$s1" -m "first release"
# Reset main to s2: s3 is then reachable from no branch or tag.
expect_exit 0 $CAIRN branch --force main "$s2" --yes

expect_exit 0 $CAIRN --json snapshots
assert_eq "$(json_get "len(j)")" "4" "every snapshot listed"
assert_eq "$(json_get "[s['id'] for s in j]")" "['$s1', '$s2', '$s3', '$s4']" "oldest first"
assert_eq "$(json_get "{s['id'][:12]: s['reachable'] for s in j}")" \
  "{'${s1:0:12}': True, '${s2:0:12}': True, '${s3:0:12}': False, '${s4:0:12}': True}" "reachability"
assert_eq "$(json_get "j[0]['refs']")" "['tag: v1']" "refs of s1"
assert_eq "$(json_get "j[1]['refs']")" "['branch: main']" "refs of s2"
assert_eq "$(json_get "j[2]['refs']")" "[]" "refs of the unreachable one"
assert_eq "$(json_get "j[3]['refs']")" "['branch: side']" "refs of s4"
assert_eq "$(json_get "j[2]['message']")" "three" "snapshot fields as in log --json"
assert_eq "$(json_get "{'id','short_id','time','host','user','kind','branch','paths','stats'} <= set(j[0].keys())")" "True" "snapshot keys"
assert_eq "$(json_get "j[0]['stats']['bytes']")" "4" "size"

expect_exit 0 $CAIRN snapshots
out | grep "^${s3:0:12} " | grep -q " no " || fail "unreachable snapshot not marked: $(out)"; ok
out | grep "^${s2:0:12} " | grep -q "branch: main" || fail "refs not shown: $(out)"; ok
out | grep -q "1 not reachable from any branch or tag" || fail "no summary: $(out)"; ok
assert_eq "$(out | grep -c "$(hostname)")" "4" "host shown"

# Filters.
expect_exit 0 $CAIRN --json snapshots --branch side
assert_eq "$(json_get "[s['id'] for s in j]")" "['$s4']" "--branch"
expect_exit 0 $CAIRN --json snapshots --host "$(hostname)"
assert_eq "$(json_get "len(j)")" "4" "--host of this machine"
expect_exit 0 $CAIRN --json snapshots --host no-such-host.invalid
assert_eq "$(json_get "j")" "[]" "--host of another machine"

# log shows only what main reaches; log --all every snapshot, children first.
expect_exit 0 $CAIRN --json log
assert_eq "$(json_get "[s['id'] for s in j]")" "['$s2', '$s1']" "log after the reset"
expect_exit 0 $CAIRN --json log --all
assert_eq "$(json_get "sorted(s['id'] for s in j)")" "$(python3 -c "print(sorted(['$s1','$s2','$s3','$s4']))")" "log --all"
pos() { json_get "[s['id'] for s in j].index('$1')"; }
[ "$(pos "$s3")" -lt "$(pos "$s2")" ] && [ "$(pos "$s2")" -lt "$(pos "$s1")" ] || fail "log --all: a child after its parent"; ok
expect_exit 0 $CAIRN --json log --all -n 2
assert_eq "$(json_get "len(j)")" "2" "log --all -n"
expect_exit 0 $CAIRN log --all --oneline
assert_eq "$(out | wc -l)" "4" "log --all --oneline"
finish
