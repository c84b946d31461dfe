# Every command run without a required argument: exit 2, one line that says
# what to give, and never an internal argument name of the parser.
source "$(dirname "$0")/lib.sh"

mkdir src; echo one > src/a.txt
expect_exit 0 $CAIRN init repo
export CAIRN_REPO=$WORK/repo
expect_exit 0 $CAIRN backup src

check_missing() {
  local want=$1; shift
  expect_exit 2 "$@"
  expect_one_line_error "$want"
  if grep -q -E "\b(rev|revs|spec|args|a|b|files|object|paths|path) is required|\bargs\b|\[Option|-->|Required" "$WORK/.err"; then
    fail "internal argument name in the message of '$*': $(err)"
  fi
  ok
}
check_missing "cairn backup PATH" $CAIRN backup
check_missing "cairn ls REV" $CAIRN ls
check_missing "cairn cat REV:PATH" $CAIRN cat
check_missing "cairn restore REV" $CAIRN restore
check_missing "needs a target folder" $CAIRN restore latest
check_missing "cairn diff A B" $CAIRN diff
check_missing "cairn diff A B" $CAIRN diff latest
check_missing "cairn rev-parse REV" $CAIRN rev-parse
check_missing "cairn cat-file (-t | -s | -p) OBJECT" $CAIRN cat-file
check_missing "exactly one of -t, -s, -p" $CAIRN cat-file latest
check_missing "cairn ls-tree" $CAIRN ls-tree
check_missing "cairn hash-object" $CAIRN hash-object
check_missing "cairn tag -d NAME" $CAIRN tag -d
check_missing "cairn branch -d NAME" $CAIRN branch -d
check_missing "cairn branch --force NAME REV" $CAIRN branch --force
check_missing "cairn repair index" $CAIRN repair
check_missing "cairn init PATH" env -u CAIRN_REPO $CAIRN init
# Nothing was written by any of them.
expect_exit 0 $CAIRN --json snapshots
assert_eq "$(json_get "len(j)")" "1" "still one snapshot"
# --help names the positionals as the user sees them.
expect_exit 0 $CAIRN diff --help
out | grep -q "^  A " || fail "diff --help: $(out)"; ok
finish
