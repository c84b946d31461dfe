# Tags: a forced move keeps the message without -m and replaces it with -m
# (and says which); the message shows in show and log (text and JSON); names
# that could be ids are refused with that reason; the user is recorded even
# without $USER.
source "$(dirname "$0")/lib.sh"

mkdir src; echo one > src/a.txt
expect_exit 0 $CAIRN init repo --encryption none  # reads ref files (format 1)
export CAIRN_REPO=$WORK/repo
snap() { expect_exit 0 $CAIRN --json backup "$@" src; json_get "j['snapshot']"; }
s1=$(snap -m one); echo two > src/a.txt
s2=$(snap -m two)
tagmsg() { expect_exit 0 $CAIRN --json tag -l "$1"; json_get "j[0]['message']"; }

expect_exit 0 $CAIRN tag v1 "$s1" -m "first release"
# Move without -m: kept, and the output says so.
expect_exit 0 $CAIRN tag v1 "$s2" --force --yes
out | grep -q 'message kept: "first release"' || fail "move output: $(out)"; ok
assert_eq "$(tagmsg v1)" "first release" "message kept on move"
assert_eq "$(sed -n 1p repo/refs/tags/v1)" "$s2" "tag ref moved"
# Move with -m: replaced.
expect_exit 0 $CAIRN --json tag v1 "$s1" --force --yes -m "re-cut"
assert_eq "$(json_get "j['message_action']")" "replaced" "JSON says replaced"
assert_eq "$(json_get "j['old_message']")" "first release" "JSON old message"
assert_eq "$(json_get "j['moved_from']")" "$s2" "JSON moved_from"
assert_eq "$(tagmsg v1)" "re-cut" "message replaced"
expect_exit 0 $CAIRN --json tag v1 "$s2" --force --yes
assert_eq "$(json_get "j['message_action']")" "kept" "JSON says kept"
assert_eq "$(json_get "j['message']")" "re-cut" "JSON message after keep"
# Changing only the message of a tag also needs approval.
expect_exit 7 $CAIRN tag v1 "$s2" --force -m "other" < /dev/null
assert_eq "$(tagmsg v1)" "re-cut" "message unchanged without approval"

# show and log carry the message.
expect_exit 0 $CAIRN show v1
out | grep -q "^Tag:     v1: re-cut$" || fail "show: no Tag line: $(out)"; ok
expect_exit 0 $CAIRN --json show v1
assert_eq "$(json_get "j['tags']")" "[{'message': 're-cut', 'name': 'v1'}]" "show --json tags"
expect_exit 0 $CAIRN log
out | grep -q "^Tag:     v1: re-cut$" || fail "log: no Tag line: $(out)"; ok
expect_exit 0 $CAIRN --json log
assert_eq "$(json_get "j[0]['tags']")" "[{'message': 're-cut', 'name': 'v1'}]" "log --json tags"
assert_eq "$(json_get "j[1]['tags']")" "[]" "log --json: no tags on s1"

# Names that could be read as ids.
expect_exit 2 $CAIRN tag beef
expect_one_line_error "'beef' could be read as a snapshot id prefix; use a tag name that is not only hex digits"
expect_exit 2 $CAIRN branch cafe1234
expect_one_line_error "could be read as a snapshot id prefix"
expect_exit 2 $CAIRN tag "bad/name"
expect_one_line_error "not a valid tag name"
grep -q "snapshot id" "$WORK/.err" && fail "generic invalid name mentions ids: $(err)"; ok
assert_eq "$(ls repo/refs/tags)" "v1" "no tag written by refused names"

# The user comes from the passwd entry when USER is unset.
expect_exit 0 env -u USER $CAIRN tag v2 "$s1" -m two
expect_exit 0 $CAIRN --json tag -l v2
assert_eq "$(json_get "j[0]['user']")" "$(id -un)" "user from passwd"
finish
