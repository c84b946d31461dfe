#!/usr/bin/env bash
# Evil repositories, table-driven (tests/e2e/evil_repos.py): 57 repositories
# written by an independent writer of the format (tests/tools/rawrepo.py),
# each holding something cairn never writes — hostile names, symlink and
# hard-link tricks, lying sizes and counts, trees 10,000 and 100,000 levels
# deep, trees and parent chains that loop, huge folders, refs to nothing.
# For each: restore, ls, ls-tree -r and check --read-data end with the
# expected exit code (never a signal), within 60 s and 768 MiB, failures on
# a `cairn: ` line, nothing outside the target changed, and a successful
# restore wrote what it must.
source "$(dirname "$0")/lib.sh"
CAIRN="$CAIRN" TESTS="$TESTS" python3 "$TESTS/e2e/evil_repos.py" "$WORK/evil" > "$WORK/evil.log" 2>&1 || {
  cat "$WORK/evil.log"
  fail "an evil repository broke a guarantee (above)"
}
ok
grep -q "^evil repositories: 57 cases, 0 problems$" "$WORK/evil.log" || { cat "$WORK/evil.log"; fail "not all 57 cases ran"; }
ok
tail -1 "$WORK/evil.log"
finish
