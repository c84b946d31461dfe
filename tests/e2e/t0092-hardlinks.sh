# Issue 16 defect 10: hard-link entries are validated one way. A target
# that is not a path inside the snapshot ('../x', '/abs', 'a//b', 'a/./b')
# makes its tree damaged: restore, ls and check say so (exit 4) and nothing
# is written for it. A hard link whose recorded content differs from its
# target's is not linked (that would give it the other file's content): exit
# 4, named. A consistent one is restored as a hard link; one whose other
# name is left out of the restore gets its own content. Trees are written
# by the independent writer tests/tools/rawrepo.py.
source "$(dirname "$0")/lib.sh"
set -e
RAW="python3 $TESTS/tools/rawrepo.py"
# fresh NAME: a new repository, used by the commands that follow.
fresh() { expect_exit 0 $CAIRN init "$1" --encryption none; export CAIRN_REPO=$WORK/$1; }

n=0
for target in "../x" "/etc/passwd" "a//b" "a/./b" "a/" "./a" "d/../a"; do
  n=$((n + 1))
  fresh "repo$n"
  cat > bad.json <<J
[{"name": "a", "type": "file", "data": "alpha"},
 {"name": "h", "type": "hardlink", "data": "alpha", "target": "$target"}]
J
  expect_exit 0 $RAW "repo$n" "evil$n" bad.json
  expect_exit 4 $CAIRN restore "evil$n" --target "out$n"
  err | grep -q "hard link 'h' has a target outside the snapshot" || fail "target '$target': $(err)"; ok
  [ ! -e "out$n/h" ] || fail "target '$target': the link was written"; ok
  expect_exit 4 $CAIRN ls "evil$n"
  expect_exit 4 $CAIRN check
done

# Recorded content that differs from the target's: not linked, named.
fresh repo-lie
cat > lie.json <<'J'
[{"name": "a", "type": "file", "data": "alpha"},
 {"name": "h", "type": "hardlink", "data": "something else", "target": "a"}]
J
expect_exit 0 $RAW repo-lie lie lie.json
expect_exit 4 $CAIRN restore lie --target out-lie
err | grep -q "cannot restore 'h': hard link to 'a' records other content than that file" || fail "lying link: $(err)"; ok
assert_eq "$(cat out-lie/a)" "alpha" "the target of the lying link"
[ ! -e out-lie/h ] || fail "the lying link was restored: $(cat out-lie/h)"; ok

# Consistent: a hard link; the other name left out: its own content.
fresh repo-good
cat > good.json <<'J'
[{"name": "a", "type": "file", "data": "alpha"},
 {"name": "d", "type": "dir", "entries": [
   {"name": "h", "type": "hardlink", "data": "alpha", "target": "a"}]}]
J
expect_exit 0 $RAW repo-good good good.json
expect_exit 0 $CAIRN check --read-data
expect_exit 0 $CAIRN restore good --target out-good
[ "$(stat -c %i out-good/a)" = "$(stat -c %i out-good/d/h)" ] || fail "not restored as a hard link"; ok
expect_exit 0 $CAIRN restore good:d --target out-part
assert_eq "$(cat out-part/h)" "alpha" "a hard link restored without its other name"
expect_exit 0 $CAIRN restore good --target out-incl --include 'd/'
assert_eq "$(cat out-incl/d/h)" "alpha" "a hard link restored with --include, its other name left out"
[ ! -e out-incl/a ] || fail "--include d/ restored a"; ok

# A snapshot whose tree field is malformed is damaged (exit 4), not a bad
# argument (it was exit 2 for an id that does not parse).
fresh repo-snap
TESTS="$TESTS" python3 - <<'PYEOF'
import hashlib, json, os, sys, time
sys.path.insert(0, os.path.join(os.environ["TESTS"], "tools"))
import rawrepo
for name, tree in [("s-nothex", "nothex"), ("s-short", "ab" * 31), ("s-upper", "AB" * 32), ("s-missing", None), ("s-number", 12)]:
    snap = {"v": 1, "tree": tree, "parents": [], "time_ns": time.time_ns(), "host": "raw", "user": "raw",
            "paths": ["/raw"], "kind": "full", "branch": name, "message": "m", "errors": [],
            "stats": {k: 0 for k in ("files", "dirs", "bytes", "new_chunks", "new_trees", "added_raw_bytes",
                                     "added_bytes", "duration_ms")}}
    if tree is None:
        del snap["tree"]
    f = rawrepo.frame(2, json.dumps(snap, sort_keys=True, separators=(",", ":")).encode())
    sid = hashlib.sha256(f).hexdigest()
    open(os.path.join("repo-snap", "snapshots", sid), "wb").write(f)
    open(os.path.join("repo-snap", "refs", "branches", name), "w").write(sid + "\n")
PYEOF
for b in s-nothex s-short s-upper s-missing s-number; do
  expect_exit 4 $CAIRN restore "$b" --target "out-$b"
  err | tail -1 | grep -q "is damaged" || fail "snapshot $b: $(err)"; ok
  expect_exit 4 $CAIRN log "$b"
done
expect_exit 4 $CAIRN check
# A listing that leaves damaged snapshots out says so (exit 4), naming
# each once, so that a script never takes a short list for the whole.
expect_exit 4 $CAIRN snapshots
err | grep -q "5 snapshot file(s) are damaged and not listed" || fail "snapshots: $(err)"; ok
assert_eq "$(err | grep -c 'is damaged:')" "5" "warnings about damaged snapshots"
expect_exit 4 $CAIRN --json snapshots
json_get "j['error']['exit_code']" | grep -qx 4 || fail "snapshots --json: $(out)"; ok

echo "ok: $checks checks"
