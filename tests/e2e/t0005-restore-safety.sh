# Restore never writes outside its target: hostile trees (written by an
# independent writer of the format) and symlinks planted in the target are
# refused or replaced, never followed. A repository written by that second
# implementation of docs/format.md is read exactly.
source "$(dirname "$0")/lib.sh"
RAW="python3 $TESTS/tools/rawrepo.py"

mkdir -p victim; echo "precious" > victim/file
victim_before=$(tree_hash victim)
victim_ok() { assert_eq "$(tree_hash victim)" "$victim_before" "victim folder unchanged ($1)"; }
expect_exit 0 $CAIRN init repo --encryption none  # rawrepo.py writes format 1 objects
export CAIRN_REPO=$WORK/repo

# 1. The format, written by someone else, reads back exactly.
cat > good.json <<'J'
[{"name": "a.txt", "type": "file", "data": "alpha\n", "mode": 420},
 {"name": "dir", "type": "dir", "entries": [
    {"name": "b.txt", "type": "file", "data": "bravo\n", "mode": 384},
    {"name": "hard", "type": "hardlink", "data": "alpha\n", "target": "a.txt"}]},
 {"name": "hex:6e6f6e2dff7574663", "type": "file", "data": "x"},
 {"name": "link", "type": "symlink", "target": "a.txt"}]
J
sed -i 's/hex:6e6f6e2dff7574663/hex:6e6f6e2dff757466/' good.json
expect_exit 0 $RAW repo good good.json
expect_exit 0 $CAIRN check --read-data
expect_exit 0 $CAIRN restore good --target good-out
assert_eq "$(cat good-out/a.txt) $(cat good-out/dir/b.txt)" "alpha bravo" "content written by the second implementation"
assert_eq "$(stat -c %a good-out/dir/b.txt)" "600" "mode written by the second implementation"
assert_eq "$(readlink good-out/link)" "a.txt" "symlink"
[ "$(stat -c %i good-out/a.txt)" = "$(stat -c %i good-out/dir/hard)" ] || fail "hard link"; ok
[ -f "good-out/$(printf 'non-\xffutf')" ] || fail "non-UTF-8 name"; ok

# 2. Hostile trees: each restore fails, and nothing outside the target changes.
n=0
for spec in \
  '[{"name": "..", "type": "file", "data": "evil"}]' \
  '[{"name": ".", "type": "file", "data": "evil"}]' \
  '[{"name": "a/../../victim/file", "type": "file", "data": "evil"}]' \
  '[{"name": "/abs", "type": "file", "data": "evil"}]' \
  '[{"name": "", "type": "file", "data": "evil"}]' \
  '[{"name": "hex:610062", "type": "file", "data": "evil"}]' \
  '[{"name": "x", "type": "file", "data": "1"}, {"name": "x", "type": "file", "data": "2"}]' \
  '[{"name": "d", "type": "dir", "entries": [{"name": "..", "type": "dir", "entries": [{"name": "victim", "type": "file", "data": "evil"}]}]}]'
do
  n=$((n + 1))
  echo "$spec" > evil.json
  expect_exit 0 $RAW repo "evil$n" evil.json
  expect_exit 4 $CAIRN restore "evil$n" --target "t$n"
  grep -q "damaged" "$WORK/.err" || fail "evil tree $n not reported as damaged: $(err)"; ok
  victim_ok "evil tree $n"
done
# Unsorted entries are refused too.
echo '[{"name": "b", "type": "file", "data": "1"}, {"name": "a", "type": "file", "data": "2"}]' > evil.json
RAW_UNSORTED=1 expect_exit 0 $RAW repo unsorted evil.json
expect_exit 4 $CAIRN restore unsorted --target t-unsorted
expect_exit 4 $CAIRN check

# A symlink in the snapshot pointing outside is restored as a link, never
# written through; a hard link whose other name climbs out makes its tree
# damaged (t0092 has the other hard-link cases).
cat > links.json <<J
[{"name": "escape", "type": "symlink", "target": "$WORK/victim"}]
J
expect_exit 0 $RAW repo links links.json
expect_exit 0 $CAIRN restore links --target t-links
assert_eq "$(readlink t-links/escape)" "$WORK/victim" "escaping symlink restored as a link"
cat > hlinks.json <<J
[{"name": "h", "type": "hardlink", "data": "evil", "target": "../../victim/file"}]
J
expect_exit 0 $RAW repo hlinks hlinks.json
expect_exit 4 $CAIRN restore hlinks --target t-hlinks
[ ! -e t-hlinks/h ] || fail "hard link with an escaping target was restored"; ok
victim_ok "links"

# 3. Symlinks planted in a non-empty target are replaced, not followed.
mkdir -p src/sub; echo new > src/file; echo new > src/sub/inner
expect_exit 0 $CAIRN backup src
mkdir planted
ln -s "$WORK/victim/file" planted/file
ln -s "$WORK/victim" planted/sub
expect_exit 0 $CAIRN restore latest --target planted --force --yes
[ ! -L planted/file ] && [ "$(cat planted/file)" = new ] || fail "planted file symlink followed or kept"; ok
[ ! -L planted/sub ] && [ "$(cat planted/sub/inner)" = new ] || fail "planted folder symlink followed or kept"; ok
victim_ok "planted symlinks"
finish
