#!/usr/bin/env bash
# The long mode's random SIGKILLs (tests/fault/long_kills.py): one
# repository through KILLS rounds (1,000), each killing backup, two
# backups at once, restore over a folder, forget, prune, tag or branch at
# a random I/O call or a random moment; after each: check passes, no
# snapshot lost, the operation run again succeeds; every 25 rounds every
# snapshot restores exactly. Long mode only (CAIRN_LONG_TESTS=1); the
# figures of its last run are in docs/reliability.md.
source "$(dirname "$0")/lib.sh"
if [ -z "${CAIRN_LONG_TESTS:-}" ]; then
  echo "$(basename "$0"): skipped (the long mode: CAIRN_LONG_TESTS=1)"
  exit 0
fi
[ -n "${FAULTFS:-}" ] && [ -f "$FAULTFS" ] || fail "FAULTFS must name the faultfs library (tests/fault/faultfs.c)"
KILLS="${KILLS:-1000}" KILL_FIGURES="$WORK/figures.json" CAIRN="$CAIRN" FAULTFS="$FAULTFS" TESTS="$TESTS" \
  python3 "$TESTS/fault/long_kills.py" || fail "a random kill broke a guarantee (above)"
ok
cat "$WORK/figures.json"
finish
