# Usage errors: one line "cairn: ..." and exit 2; an unknown command or
# option names the closest ones; the hint "Run 'cairn help ...' for usage."
# is a second line only when stderr is a terminal.
source "$(dirname "$0")/lib.sh"
expect_exit 0 $CAIRN init repo -q
export CAIRN_REPO=$WORK/repo

# error CODE EXPECTED-STDERR ARGS...: exactly that one line on stderr.
error() {
  local code=$1 want=$2; shift 2
  expect_exit "$code" $CAIRN "$@"
  assert_eq "$(err)" "$want" "stderr of cairn $*"
  assert_eq "$(out)" "" "stdout of cairn $*"
}

error 2 "cairn: unknown command 'backupp'; did you mean 'backup'?" backupp
error 2 "cairn: unknown command 'stat'; did you mean 'stats'?" stat
error 2 "cairn: unknown command 'lo'; did you mean 'log' or 'ls'?" lo
error 2 "cairn: unknown command 'rev'; did you mean 'rev-parse'?" rev
error 2 "cairn: unknown command 'xyzzy'; run 'cairn help' for the list of commands" xyzzy
error 2 "cairn: unknown command 'qq'; run 'cairn help' for the list of commands" -q qq
error 2 "cairn: unknown command 'backupp'; did you mean 'backup'?" -r repo --quiet backupp --exclude x
error 2 "cairn: unknown command 'repair idx'; did you mean 'repair index'?" repair idx
error 2 "cairn: unknown command 'repair frob'; run 'cairn help repair' for the list of commands" repair frob
error 2 "cairn: 'cairn repair' needs a command: cairn repair index" repair
error 2 "cairn: unknown option '--jsn' for 'cairn log'; did you mean '--json'?" log --jsn
error 2 "cairn: unknown option '--jsn'; did you mean '--json'?" --jsn log
error 2 "cairn: unknown option '--exclud' for 'cairn backup'; did you mean '--exclude'?" backup --exclud x src
error 2 "cairn: unknown option '--frobnicate' for 'cairn log'" log --frobnicate
error 2 "cairn: option '--type' needs a value" backup --type
error 2 "cairn: invalid value 'many' for --threads: expected a whole number" backup --threads many src
error 2 "cairn: too many arguments for 'cairn log': 'b', 'c'" log a b c
error 2 "cairn: unexpected argument for 'cairn check': 'extra'" check extra
error 2 "cairn: --compression-level: value 99 not in range 0 to 19" init --compression-level 99 other
error 2 "cairn: no completion for shell 'fish'; there is one for bash and one for zsh" completion fish
# A real command still runs with options around it.
mkdir -p src; echo x > src/f
expect_exit 0 $CAIRN -q backup src
expect_exit 0 $CAIRN -q log --oneline
expect_exit 0 $CAIRN log -n1 --oneline --json

# With --json a usage error is also the JSON error object on stdout.
expect_exit 2 $CAIRN --json backupp
assert_eq "$(json_get "j['error']['exit_code']")" "2" "JSON exit code of a usage error"
assert_eq "$(json_get "j['error']['message']")" "unknown command 'backupp'; did you mean 'backup'?" "JSON message"
expect_exit 2 $CAIRN log --json --jsn
assert_eq "$(json_get "j['error']['exit_code']")" "2" "JSON exit code of an unknown option"

# On a terminal: the same line, then the hint naming the command.
if command -v script >/dev/null; then
  on_tty() { script -qec "$*" /dev/null | tr -d '\r'; }
  assert_eq "$(on_tty "$CAIRN backupp")" "cairn: unknown command 'backupp'; did you mean 'backup'?
Run 'cairn help' for usage." "unknown command on a terminal"
  assert_eq "$(on_tty "$CAIRN log --jsn")" "cairn: unknown option '--jsn' for 'cairn log'; did you mean '--json'?
Run 'cairn help log' for usage." "unknown option on a terminal"
  assert_eq "$(on_tty "$CAIRN repair idx")" "cairn: unknown command 'repair idx'; did you mean 'repair index'?
Run 'cairn help repair' for usage." "unknown nested command on a terminal"
  assert_eq "$(on_tty "$CAIRN backup --type")" "cairn: option '--type' needs a value
Run 'cairn help backup' for usage." "missing value on a terminal"
  set +e; script -qec "$CAIRN backupp" /dev/null >/dev/null; rc=$?; set -e
  assert_eq "$rc" "2" "exit code on a terminal"
else
  echo "SKIPPED: terminal cases need script(1)"
fi
finish
