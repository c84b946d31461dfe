# cmake --install puts the binary, both completion scripts and the man page
# where docs/cli.md says, and they are the ones the binary generates.
source "$(dirname "$0")/lib.sh"
BUILD=${CAIRN_BUILD_DIR:-$(dirname "$CAIRN")}
if [ ! -f "$BUILD/cmake_install.cmake" ] || ! command -v cmake >/dev/null; then
  echo "SKIPPED: no CMake build folder at $BUILD (set CAIRN_BUILD_DIR)"; finish; exit 0
fi
cmake --install "$BUILD" --prefix "$WORK/prefix" > install.log 2>&1 || fail "cmake --install failed: $(cat install.log)"; ok
P=$WORK/prefix
[ -x "$P/bin/cairn" ] || fail "no bin/cairn: $(find "$P")"; ok
expect_exit 0 "$P/bin/cairn" --version
out | grep -q "^cairn " || fail "installed binary: $(out)"; ok
[ -f "$P/share/bash-completion/completions/cairn" ] || fail "no bash completion: $(find "$P")"; ok
[ -f "$P/share/zsh/site-functions/_cairn" ] || fail "no zsh completion: $(find "$P")"; ok
[ -f "$P/share/man/man1/cairn.1" ] || fail "no man page: $(find "$P")"; ok
expect_exit 0 "$P/bin/cairn" completion bash
out | cmp -s - "$P/share/bash-completion/completions/cairn" || fail "installed bash completion is stale"; ok
expect_exit 0 "$P/bin/cairn" completion zsh
out | cmp -s - "$P/share/zsh/site-functions/_cairn" || fail "installed zsh completion is stale"; ok
expect_exit 0 "$P/bin/cairn" man
out | cmp -s - "$P/share/man/man1/cairn.1" || fail "installed man page is stale"; ok
if command -v man >/dev/null; then
  MANPATH=$P/share/man man -w cairn 2>/dev/null | grep -q "$P/share/man/man1/cairn.1" || fail "man -w does not find it under the prefix"; ok
fi
finish
