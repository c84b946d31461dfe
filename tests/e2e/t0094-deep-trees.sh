# Issue 16 defects 1 and 2: depth. Trees nested 2,000 levels deep (as deep
# as the backup walk can read) restore exactly, in time linear in the depth;
# trees nested deeper than the 4,095-byte path limit (3,000 and 100,000
# levels, written by the independent writer) are refused as damaged by
# restore, ls, ls-tree -r, diff and check (exit 4, no crash, nothing written
# outside the target); a source deeper than the walk can read is reported,
# and the rest saved (exit 3). Every command here runs under a 120 s timeout.
source "$(dirname "$0")/lib.sh"
set -e
RAW="$TESTS/tools"
expect_exit 0 $CAIRN init repo --encryption none
expect_exit 0 $CAIRN init evil --encryption none
export CAIRN_REPO=$WORK/repo
t() { expect_exit "$1" timeout 120 "${@:2}"; }

TESTS="$TESTS" python3 - <<'PYEOF'
import os, sys
sys.path.insert(0, os.path.join(os.environ["TESTS"], "tools"))
import rawrepo
for repo, depth, branch in [("repo", 2000, "deep-2000"), ("evil", 2000, "deep-2000"), ("evil", 3000, "deep-3000"),
                            ("evil", 100000, "deep-100k")]:
    w = rawrepo.Writer(repo)
    root = rawrepo.chain(w, depth, leaf=[{"name": "leaf", "type": "file", "data": "bottom %d\n" % depth}])
    w.pack()
    w.snapshot(root, branch)
PYEOF

# --- 2,000 levels: every reader works ---
t 0 $CAIRN restore deep-2000 --target out-2000
python3 - out-2000 <<'PYEOF' || fail "the 2,000-level restore is not exact"
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
for _ in range(2000):
    assert os.listdir(fd) == ["d"], os.listdir(fd)
    nfd = os.open("d", os.O_RDONLY, dir_fd=fd); os.close(fd); fd = nfd
assert os.listdir(fd) == ["leaf"], os.listdir(fd)
with os.fdopen(os.open("leaf", os.O_RDONLY, dir_fd=fd)) as f:
    assert f.read() == "bottom 2000\n"
PYEOF
ok
t 0 $CAIRN ls deep-2000
assert_eq "$(out | wc -l)" "2001" "entries listed by ls"
t 0 $CAIRN ls-tree -r deep-2000
assert_eq "$(out | wc -l)" "1" "files listed by ls-tree -r"
t 0 $CAIRN diff deep-2000 deep-2000
t 0 $CAIRN check

# --- deeper than the limit: refused as damaged, everywhere ---
mkdir -p victim && echo precious > victim/file
export CAIRN_REPO=$WORK/evil
for b in deep-3000 deep-100k; do
  t 4 $CAIRN restore "$b" --target "out-$b"
  err | grep -q "nests deeper than the 4095-byte limit; cairn never writes such trees" || fail "$b restore: $(err)"; ok
  t 4 $CAIRN ls "$b"
  t 4 $CAIRN ls-tree -r "$b"
  t 4 $CAIRN diff deep-2000 "$b"
  err | grep -q "nests deeper than the 4095-byte limit" || fail "$b diff: $(err)"; ok
done
t 4 $CAIRN check
err | grep -q "nests deeper than the 4095-byte limit.*(snapshot" || fail "check: $(err)"; ok
assert_eq "$(cat victim/file)" "precious" "a file outside the targets"
assert_eq "$(ls "$WORK" | grep -c '^out-')" "3" "restore targets"

# --- a source deeper than the walk can read ---
python3 - <<'PYEOF'
import os
fd = os.open(".", os.O_RDONLY)
os.mkdir("src", dir_fd=fd)
fd = os.open("src", os.O_RDONLY, dir_fd=fd)
with open(os.open("top.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), "w") as f:
    f.write("top\n")
for _ in range(2100):
    os.mkdir("d", dir_fd=fd)
    nfd = os.open("d", os.O_RDONLY, dir_fd=fd); os.close(fd); fd = nfd
PYEOF
expect_exit 0 $CAIRN init src-repo --encryption none
t 3 $CAIRN -r src-repo backup src
expect_one_line_error "File name too long"
t 0 $CAIRN -r src-repo cat latest:top.txt
assert_eq "$(out)" "top" "the rest of a source with a too-deep folder"
rm -rf src 2>/dev/null || python3 -c "import shutil; shutil.rmtree('src')"

echo "ok: $checks checks"
