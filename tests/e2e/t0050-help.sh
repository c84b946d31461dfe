# cairn help lists every command and the global options on stdout; help
# COMMAND shows that command's arguments and flags; cairn alone prints the
# list on stderr and exits 2, like git.
source "$(dirname "$0")/lib.sh"

# Every command docs/cli.md documents (its "## name" sections), and help.
commands=$(grep -E '^## [a-z][a-z-]*( [a-z-]+)?$' "$TESTS/../docs/cli.md" | sed 's/^## //')
[ "$(echo "$commands" | wc -l)" -ge 15 ] || fail "docs/cli.md lists too few commands: $commands"; ok
commands="$commands
help"

expect_exit 0 $CAIRN help
[ -s "$WORK/.err" ] && fail "cairn help wrote to stderr: $(err)"; ok
out > help.txt
while IFS= read -r cmd; do
  grep -q -E "^  $cmd  +[a-z].{8,}" help.txt || fail "cairn help does not list '$cmd' with a description: $(cat help.txt)"
  ok
done <<< "$commands"
for opt in "-r, --repo" "--json" "-v, --verbose" "-q, --quiet" "--version"; do
  grep -q -F -- "$opt" help.txt || fail "cairn help does not list the global option '$opt'"; ok
done
grep -q "completion\|^  man " help.txt && fail "hidden commands listed: $(cat help.txt)"; ok

expect_exit 0 $CAIRN --help
assert_eq "$(out)" "$(cat help.txt)" "cairn --help prints the command list"

# No command: the list, on stderr, exit 2.
expect_exit 2 $CAIRN
assert_eq "$(out)" "" "stdout of cairn with no command"
assert_eq "$(err)" "$(cat help.txt)" "stderr of cairn with no command"
expect_exit 2 $CAIRN -r somewhere --json
grep -q "^Commands:" "$WORK/.err" || fail "cairn -r X --json without a command: $(err)"; ok

# help COMMAND: that command's usage and every flag, as COMMAND --help.
expect_exit 0 $CAIRN help backup
out > backup-help.txt
for flag in --message --branch --type --dry-run --exclude --exclude-file --exclude-caches --exclude-larger-than --threads --stdin; do
  grep -q -F -- "$flag" backup-help.txt || fail "cairn help backup lacks $flag: $(cat backup-help.txt)"; ok
done
grep -q "Usage: cairn backup " backup-help.txt || fail "usage line of backup: $(cat backup-help.txt)"; ok
expect_exit 0 $CAIRN backup --help
assert_eq "$(out)" "$(cat backup-help.txt)" "cairn backup --help"
expect_exit 0 $CAIRN help restore
out | grep -q -F -- "--target" || fail "cairn help restore lacks --target"; ok
expect_exit 0 $CAIRN help repair
out | grep -q "index" || fail "cairn help repair does not list index: $(out)"; ok
expect_exit 0 $CAIRN help repair index
out | grep -q "Usage: cairn repair index" || fail "cairn help repair index: $(out)"; ok
out | grep -q "rebuild the index" || fail "cairn help repair index lacks the description"; ok
expect_exit 0 $CAIRN help help

# help for what does not exist: a usage error, with a suggestion when one is close.
expect_exit 2 $CAIRN help nosuch
expect_one_line_error "unknown command 'nosuch'"
assert_eq "$(out)" "" "stdout of help nosuch"
expect_exit 2 $CAIRN help restor
assert_eq "$(err)" "cairn: unknown command 'restor'; did you mean 'restore'?" "help restor"
expect_exit 2 $CAIRN help repair idx
assert_eq "$(err)" "cairn: unknown command 'repair idx'; did you mean 'repair index'?" "help repair idx"
finish
