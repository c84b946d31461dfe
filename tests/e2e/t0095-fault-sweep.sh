#!/usr/bin/env bash
# The fault sweep (tests/fault/sweep.py): backup, restore, forget, prune,
# tag, key add, copy and bundle import, each run once per fault point with the Nth I/O call on
# the repository, the cache or the restore target failing (EIO; a full disk
# from then on; a short write then ENOSPC) or ending the process (SIGKILL),
# then check, restores of every earlier snapshot and the operation run
# again. The default run takes 12 points per operation and mode, evenly
# spread (the first and last included); FAULT_MAX_POINTS=N takes more and
# CAIRN_LONG_TESTS=1 takes every point (docs/reliability.md has its figures).
# Under the sanitizers (a Debug build, several times slower) it takes 3
# points per operation and mode; the release pass takes 12.
source "$(dirname "$0")/lib.sh"
points=12
if ldd "$CAIRN" 2>/dev/null | grep -q -E "libasan|libubsan"; then
  points=3
  # The sanitizer runtime wants to be first in the library list; the layer
  # only forwards calls to it.
  export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
fi
[ -n "${FAULTFS:-}" ] && [ -f "$FAULTFS" ] || fail "FAULTFS must name the faultfs library (tests/fault/faultfs.c)"

# The layer itself: a counted write fails with the asked errno, and a
# process that is not watched is left alone (else the sweep proves nothing).
mkdir watched
expect_exit 0 $CAIRN init watched/repo -q
set +e
LD_PRELOAD=$FAULTFS FAULTFS_PATHS=$WORK/watched FAULTFS_AT=1 FAULTFS_MODE=enospc FAULTFS_OPS=open \
  $CAIRN init watched/repo2 -q 2>"$WORK/.err"
rc=$?
set -e
[ "$rc" != 0 ] || fail "init succeeded although faultfs failed its first file creation"
grep -q "No space left on device" "$WORK/.err" || fail "the injected ENOSPC is not reported: $(err)"
ok
LD_PRELOAD=$FAULTFS FAULTFS_PATHS=$WORK/elsewhere FAULTFS_AT=1 FAULTFS_MODE=eio \
  expect_exit 0 $CAIRN init watched/repo3 -q

TESTS="$TESTS" FAULTFS="$FAULTFS" CAIRN="$CAIRN" FAULT_MAX_POINTS="${FAULT_MAX_POINTS:-$points}" FAULT_FIGURES="$WORK/figures.json" python3 "$TESTS/fault/sweep.py" \
  || fail "the fault sweep found a broken guarantee (above)"
ok
python3 - "$WORK/figures.json" "${FAULT_MAX_POINTS:-$points}" <<'PYEOF' || fail "the sweep did not cover every operation and mode"
import json, sys
f = json.load(open(sys.argv[1]))
want = int(sys.argv[2])
assert set(f) == {"backup", "restore", "forget", "prune", "tag", "key-add", "copy", "bundle-import"}, f.keys()
for op, v in f.items():
    assert set(v["modes"]) == {"eio", "enospc", "short", "kill"}, (op, v["modes"].keys())
    for mode, s in v["modes"].items():
        # Every point the sweep's spacing gives (sweep.py points()).
        stride = max(1, -(-v["calls"] // want))
        spread = len(range(1, v["calls"] + 1, stride)) + (0 if (v["calls"] - 1) % stride == 0 else 1)
        assert s["points"] == spread, (op, mode, s, spread)
        if mode == "kill":
            # A multi-threaded operation does not make the same number of
            # calls every run: a point past this run's last call is a
            # verified success, not a kill (only the last points can be).
            assert s["killed"] + s["succeeded"] == s["points"], (op, mode, s)
            assert s["killed"] >= max(1, s["points"] - 2), (op, mode, s)
        else:
            assert s["failed_cleanly"] > 0, (op, mode, s)
PYEOF
ok
finish
