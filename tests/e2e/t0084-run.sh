# cairn run: a snapshot of the sources before a command; a failing command
# is rolled back with --rollback-on-failure, at the prompt, or later with
# `cairn rollback`; a succeeding one keeps its changes; a command that does
# not exist is exit 127 with nothing changed.
source "$(dirname "$0")/lib.sh"
set -e

on_tty() {
  local answer=$1; shift
  set +e
  printf '%s\n' "$answer" | script -qec "$*" /dev/null > "$WORK/.out" 2>&1
  rc=$?
  set -e
}

expect_exit 0 $CAIRN init repo
export CAIRN_REPO=$WORK/repo
mk() { rm -rf app app.before; mkdir -p app/conf app/data; echo v1 > app/conf/app.ini; head -c 50000 /dev/urandom > app/data/blob; echo keep > app/data/k; cp -a app app.before; }
deploy='echo v2 > app/conf/app.ini; rm app/data/k; echo new > app/data/added; mkdir -p app/junk/deep; echo j > app/junk/deep/x'

# Failure, rolled back at once.
mk
expect_exit 3 $CAIRN --json run --source app --rollback-on-failure -- sh -c "$deploy; exit 3"
assert_eq "$(json_get "j['exit_code']") $(json_get "j['rolled_back']")" "3 True" "exit code and rollback"
$TREECMP app.before app || fail "run --rollback-on-failure did not bring the folder back"; ok

# Failure without a terminal and without the flag: not rolled back, said how.
mk
expect_exit 4 $CAIRN run --source app -- sh -c "$deploy; exit 4" < /dev/null
grep -q "not rolled back" "$WORK/.err" || fail "no word that nothing was rolled back: $(err)"; ok
grep -q "to roll back: cairn restore" "$WORK/.err" || fail "no way back named: $(err)"; ok
assert_eq "$(cat app/conf/app.ini)" "v2" "the command's change stays"
expect_exit 0 $CAIRN rollback --target app --yes
$TREECMP app.before app || fail "cairn rollback after run did not bring the folder back"; ok

# Failure on a terminal: asked; yes rolls back.
mk
on_tty y $CAIRN run --source app -- sh -c "'$deploy; exit 5'"
assert_eq "$rc" "5" "exit code on a terminal"
grep -q "(risk: high)" "$WORK/.out" || fail "the rollback was not asked: $(cat "$WORK/.out")"; ok
$TREECMP app.before app || fail "rollback approved at the prompt did not bring the folder back"; ok

# Success: the change stays; the snapshot before it is on the folder's safety branch.
mk
expect_exit 0 $CAIRN --json run --source app -- sh -c "$deploy"
snap=$(json_get "j['snapshots'][0]['snapshot']")
assert_eq "$(cat app/conf/app.ini)" "v2" "a successful command's change"
expect_exit 0 $CAIRN --json show "$snap"
assert_eq "$(json_get "j['message'].startswith('before running: sh -c')")" "True" "the snapshot's message"
expect_exit 0 $CAIRN --json run --source app --branch deploys -- true
expect_exit 0 $CAIRN --json log deploys
assert_eq "$(json_get "len(j)")" "1" "snapshots on --branch"

# A command that does not exist, and bad sources.
mk
expect_exit 127 $CAIRN run --source app -- /no/such/command < /dev/null
grep -q "cannot run '/no/such/command'" "$WORK/.err" || fail "no word of the missing command: $(err)"; ok
$TREECMP app.before app || fail "a command that did not start changed the folder"; ok
expect_exit 2 $CAIRN run --source app
expect_one_line_error "run needs sources and a command"
expect_exit 5 $CAIRN run --source nowhere -- true
expect_one_line_error "is not a folder"

# The audit log has one entry per run, with the command's exit code.
expect_exit 0 $CAIRN --json audit log --type run
assert_eq "$(json_get "[e['affected']['exit_code'] for e in j]")" "[3, 4, 5, 0, 0, 127]" "exit codes in the audit log"

echo "ok: $checks checks"
