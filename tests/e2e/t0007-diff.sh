# diff between restore points and against a live folder: every output mode,
# subtree pruning, and agreement with an independent tool (git diff --no-index).
source "$(dirname "$0")/lib.sh"

expect_exit 0 $CAIRN init repo
export CAIRN_REPO=$WORK/repo

# --- 1. Agreement with git on two real trees.
if [ -d /usr/include ] && command -v git >/dev/null; then
  mkdir A; cp -a /usr/include/. A/
  cp -a A B
  python3 - B <<'PY'
import os, sys
root = sys.argv[1]
files = sorted(os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs
               if not os.path.islink(os.path.join(d, f)))
for i, f in enumerate(files):
    if i % 37 == 5:
        open(f, "a").write("/* edited */\n")
    elif i % 53 == 7:
        os.remove(f)
    elif i % 101 == 9:
        os.remove(f); os.symlink("elsewhere.h", f)          # type change
    elif i % 149 == 11:
        os.remove(f); os.mkdir(f); open(os.path.join(f, "inner.h"), "w").write("x\n")  # file -> folder
dirs = sorted(d for d, _, _ in os.walk(root) if d != root)
import shutil
shutil.rmtree(dirs[len(dirs) // 2])                           # a whole folder removed
os.makedirs(os.path.join(root, "brand/new/dir"))
for i in range(30):
    open(os.path.join(root, "brand/new/dir", "n%02d.h" % i), "w").write("new %d\n" % i)
PY
  n=$(find A -type f | wc -l)
  [ "$n" -gt 300 ] || fail "/usr/include is too small for the comparison ($n files)"
  expect_exit 0 $CAIRN backup --branch git-a A
  expect_exit 0 $CAIRN backup --branch git-b B
  expect_exit 0 $CAIRN diff --no-renames --name-status git-a git-b
  out | LC_ALL=C sort > ours.txt
  set +e
  git -c core.quotepath=off diff --no-index --no-renames --name-status A B > theirs.raw
  set -e
  # git names the sides A/... and B/...; strip that first component.
  sed -E 's#^([A-Z])\t[AB]/#\1\t#' theirs.raw | LC_ALL=C sort > theirs.txt
  diff ours.txt theirs.txt > cmp.txt || fail "cairn and git disagree ($(wc -l < cmp.txt) lines): $(head -20 cmp.txt)"; ok
  echo "agreement with git: $(wc -l < ours.txt) changed paths out of $n files"
  [ "$(wc -l < ours.txt)" -gt 50 ] || fail "too few changes to be a real comparison"; ok
  grep -q "^T" ours.txt || fail "no type change in the comparison"; ok
else
  echo "SKIPPED: git comparison needs git and /usr/include"
fi

# --- 2. Subtree pruning: a change deep in a big tree reads only its path.
mkdir -p big
for i in $(seq 1 40); do mkdir -p big/d$i/e/f; for j in 1 2 3; do echo "$i $j" > big/d$i/e/f/file$j; done; done
expect_exit 0 $CAIRN backup --branch prune big
echo changed > big/d17/e/f/file2
expect_exit 0 $CAIRN backup --branch prune big
expect_exit 0 $CAIRN -v diff prune~1 prune
assert_eq "$(out)" "$(printf 'M\td17/e/f/file2')" "pruned diff output"
reads=$(grep -o '[0-9]* tree objects read' "$WORK/.err" | cut -d' ' -f1)
[ "$reads" -le 8 ] || fail "diff read $reads trees for a change at depth 4 (of 121 folders)"; ok
expect_exit 0 $CAIRN --json diff prune~1 prune
assert_eq "$(json_get "j['trees_read']")" "8" "trees_read in JSON"

# --- 3. Output modes on a small tree.
mkdir -p s/sub; printf 'a\nb\nc\n' > s/t.txt; head -c 5000 /dev/urandom > s/bin.dat; echo same > s/keep; echo mv > s/old-name
chmod 644 s/keep
expect_exit 0 $CAIRN backup --branch modes s
printf 'a\nB\nc\nd\n' > s/t.txt; head -c 6000 /dev/urandom > s/bin.dat; mv s/old-name s/sub/new-name
echo added > s/sub/added; chmod 600 s/keep
expect_exit 0 $CAIRN backup --branch modes s
expect_exit 0 $CAIRN diff modes~1 modes
assert_eq "$(out)" "$(printf 'M\tbin.dat\nA\tsub/added\nR\told-name\tsub/new-name\nM\tt.txt')" "name-status with rename"
expect_exit 0 $CAIRN diff --no-renames modes~1 modes
assert_eq "$(out | tr '\n\t' ' :')" "M:bin.dat D:old-name A:sub/added A:sub/new-name M:t.txt " "--no-renames"
expect_exit 0 $CAIRN diff --metadata modes~1 modes
out | grep -q "^M	keep$" || fail "--metadata does not list the mode change: $(out)"; ok
expect_exit 0 $CAIRN diff -p modes~1 modes -- t.txt
cat > want.txt <<'P'
diff --cairn a/t.txt b/t.txt
--- a/t.txt
+++ b/t.txt
@@ -1,3 +1,4 @@
 a
-b
+B
 c
+d
P
diff <(out) want.txt || fail "unified diff differs"; ok
expect_exit 0 $CAIRN diff -p modes~1 modes -- bin.dat
out | grep -q "^Binary files a/bin.dat and b/bin.dat differ (5000 -> 6000 bytes)" || fail "binary diff: $(out)"; ok
expect_exit 0 $CAIRN diff --stat modes~1 modes
out | grep -q "4 files changed" || fail "--stat summary: $(out)"; ok
expect_exit 0 $CAIRN --json diff modes~1 modes
assert_eq "$(json_get "[c['status'] for c in j['changes']]")" "['M', 'A', 'R', 'M']" "json statuses"
assert_eq "$(json_get "j['changes'][2]['old_path']")" "old-name" "json rename old_path"
assert_eq "$(json_get "j['changes'][0]['old']['size']")" "5000" "json old size"
assert_eq "$(json_get "j['changes'][0]['new']['size']")" "6000" "json new size"
assert_eq "$(json_get "len(j['changes'][3]['old_id'])")" "64" "json old_id"
expect_exit 1 $CAIRN diff --exit-code modes~1 modes
expect_exit 0 $CAIRN diff --exit-code modes modes
assert_eq "$(out)" "" "no differences"
expect_exit 0 $CAIRN diff modes~1 modes -- sub
assert_eq "$(out | tr '\n\t' ' :')" "A:sub/added A:sub/new-name " "-- PATH filter (rename partner outside the filter)"
expect_exit 0 $CAIRN diff modes~1:sub modes:sub
assert_eq "$(out | tr '\n\t' ' :')" "A:added A:new-name " "REV:PATH sides"
expect_exit 2 $CAIRN diff modes:t.txt modes
expect_one_line_error "diff compares"
expect_exit 5 $CAIRN diff nosuch modes

# --- 4. Against a live folder: unchanged files are not read.
expect_exit 0 $CAIRN -v diff modes ./s
assert_eq "$(out)" "" "live diff of an unchanged folder"
grep -q "0 files read" "$WORK/.err" || fail "unchanged files were read: $(err)"; ok
touch -d '2020-01-01' s/t.txt                       # new mtime, same content
expect_exit 0 $CAIRN -v diff modes ./s
assert_eq "$(out)" "" "mtime-only change is not a content change"
grep -q "1 files read" "$WORK/.err" || fail "the touched file should have been read: $(err)"; ok
printf 'a\nX\nc\nd\n' > s/t.txt                     # same size, new content
rm s/sub/added; echo fresh > s/fresh
expect_exit 0 $CAIRN diff modes ./s
assert_eq "$(out | tr '\n\t' ' :')" "A:fresh D:sub/added M:t.txt " "live diff"
expect_exit 0 $CAIRN diff -p modes ./s -- t.txt
out | grep -q "^+X" || fail "live -p: $(out)"; ok
expect_exit 1 $CAIRN diff --exit-code modes ./s
finish
