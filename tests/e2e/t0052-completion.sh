# The bash and zsh completion scripts are generated from the command
# definitions: bash completes commands, nested commands, each command's
# flags, paths and revisions; zsh knows every command.
source "$(dirname "$0")/lib.sh"

expect_exit 0 $CAIRN completion bash
out > cairn.bash
bash -n cairn.bash || fail "the bash completion script does not parse"; ok
expect_exit 0 $CAIRN completion bash -o written.bash
cmp -s written.bash cairn.bash || fail "completion bash -o differs from stdout"; ok

mkdir -p src/sub; echo a > src/file.txt
expect_exit 0 $CAIRN init repo -q
expect_exit 0 $CAIRN -r repo backup -q src
expect_exit 0 $CAIRN -r repo tag release-1
expect_exit 0 $CAIRN -r repo branch feature-x

# complete WORD...: what bash offers for the last word, sorted, one line.
complete_words() {
  CAIRN_BIN_DIR=$(dirname "$CAIRN") bash -c '
    PATH=$CAIRN_BIN_DIR:$PATH
    source ./cairn.bash
    [ "$(complete -p cairn)" = "complete -F _cairn cairn" ] || { echo "not registered for cairn" >&2; exit 1; }
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=()
    _cairn
    printf "%s\n" "${COMPREPLY[@]}" | LC_ALL=C sort | tr "\n" " " | sed "s/ $//"' complete "$@"
}
assert_eq "$(complete_words cairn ba)" "backup" "cairn ba"
assert_eq "$(complete_words cairn re)" "repair restore rev-parse" "cairn re"
assert_eq "$(complete_words cairn backup --ex)" "--exclude --exclude-caches --exclude-file --exclude-larger-than" "cairn backup --ex"
assert_eq "$(complete_words cairn repair "")" "index" "cairn repair"
assert_eq "$(complete_words cairn -r repo --json repair "")" "index" "cairn -r repo --json repair"
assert_eq "$(complete_words cairn log --js)" "--json" "global flags after a command"
assert_eq "$(complete_words cairn help rep)" "repair" "cairn help rep"
assert_eq "$(complete_words cairn help repair "")" "index" "cairn help repair"
assert_eq "$(complete_words cairn restore latest --target sr)" "src" "folder after --target"
assert_eq "$(complete_words cairn -r re)" "repo" "folder after -r"
assert_eq "$(complete_words cairn backup src/f)" "src/file.txt" "paths to back up"
assert_eq "$(complete_words cairn -r repo log "")" "HEAD feature-x latest main release-1" "revisions from the repository"
assert_eq "$(complete_words cairn -r repo diff latest fe)" "feature-x" "second diff argument"
assert_eq "$(complete_words cairn -r repo backup --branch "")" "feature-x main" "branch names for --branch"
assert_eq "$(complete_words cairn -r nothere log "")" "HEAD latest" "no repository: no names, no noise"
assert_eq "$(complete_words cairn check "")" "" "nothing to complete for check"

# zsh: every command is in the script; it parses if zsh is here.
expect_exit 0 $CAIRN completion zsh
out > _cairn
head -1 _cairn | grep -q "^#compdef cairn$" || fail "zsh script lacks #compdef"; ok
expect_exit 0 $CAIRN help
for cmd in $(out | sed -n '/^Commands:/,/^$/p' | awk 'NR > 1 && NF { print $1 }' | sort -u); do
  grep -q "'$cmd:" _cairn || fail "zsh completion does not describe '$cmd'"; ok
done
grep -q "'index:rebuild" _cairn || fail "zsh completion lacks 'repair index'"; ok
if command -v zsh >/dev/null; then
  zsh -n _cairn || fail "the zsh completion script does not parse"; ok
else
  echo "SKIPPED: zsh -n (zsh is not installed)"
fi
finish
