# cairn stats: per-snapshot exclusive ("freed if deleted"), shared and
# referenced bytes from the reference counts of the local index, on real
# files; the same answers after the local cache is deleted; bad snapshot
# names.
source "$(dirname "$0")/lib.sh"

# Real files: Debian's documentation, in three groups that come and go.
mkdir -p src/first src/common src/second
i=0
while IFS= read -r -d '' f; do
  case $((i % 3)) in
    0) dst=src/first ;;
    1) dst=src/common ;;
    *) dst=src/second ;;
  esac
  cp "$f" "$dst/$i-$(basename "$f")"
  i=$((i + 1))
done < <(find /usr/share/doc -type f -size +1k -print0 | LC_ALL=C sort -z | head -z -n 150)
[ "$i" -ge 30 ] || fail "too few files under /usr/share/doc ($i)"
mv src/second second-later

expect_exit 0 $CAIRN init repo -q
export CAIRN_REPO=$WORK/repo
snap() { expect_exit 0 $CAIRN --json backup src; json_get "j['snapshot']"; }

# An empty repository: no rows, nothing referenced.
expect_exit 0 $CAIRN --json stats --per-snapshot
assert_eq "$(json_get "(j['per_snapshot'], j['referenced_bytes'], j['unreferenced_bytes'])")" "([], 0, 0)" "empty repository"

s1=$(snap)                             # first + common
rm -r src/first; mv second-later src/second
s2=$(snap)                             # common + second: first's files are only in s1
s3=$(snap)                             # nothing changed: the same root tree as s2

expect_exit 0 $CAIRN --json stats --per-snapshot
cp "$WORK/.out" "$WORK/stats1.json"
check_stats() {
  python3 - "$WORK/.out" "$s1" "$s2" "$s3" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
s1, s2, s3 = sys.argv[2:5]
rows = {r['id']: r for r in j['per_snapshot']}
assert list(rows) == [s1, s2, s3], list(rows)
for r in rows.values():
    assert r['shared_bytes'] + r['exclusive_bytes'] == r['referenced_bytes'], r
    assert r['referenced_bytes'] <= j['stored_bytes'], r
    assert r['short_id'] == r['id'][:12] and r['branch'] == 'main', r
    assert r['files'] > 0 and r['bytes'] > 0, r
a, b, c = rows[s1], rows[s2], rows[s3]
# s1 alone holds first/ (deleted before s2) and its own trees.
assert 0 < a['exclusive_bytes'] <= a['added_bytes'], a
assert a['shared_bytes'] > 0, a
# s2 and s3 have one root tree: each alone frees nothing.
assert b['exclusive_bytes'] == 0 and c['exclusive_bytes'] == 0, (b, c)
assert b['referenced_bytes'] == c['referenced_bytes'] == b['shared_bytes'], (b, c)
# Everything stored is referenced by some snapshot.
assert j['referenced_bytes'] == j['stored_bytes'] and j['unreferenced_bytes'] == 0, j
assert j['referenced_blobs'] == j['chunks'] + j['trees'], j
assert j['referenced_bytes'] <= j['pack_bytes'], j
# Every blob is in s1 or s2: what each holds alone plus what they share.
assert a['referenced_bytes'] + b['referenced_bytes'] - (a['shared_bytes']) == j['stored_bytes'], (a, b, j)
EOF
}
check_stats || fail "stats --per-snapshot: $(out)"; ok

# Named snapshots, and what deleting them together would free.
expect_exit 0 $CAIRN --json stats "$s2" "${s3:0:8}"
assert_eq "$(json_get "[r['id'] for r in j['per_snapshot']]")" "['$s2', '$s3']" "named rows in order"
assert_eq "$(json_get "j['together']['snapshots']")" "['$s2', '$s3']" "together: the named snapshots"
assert_eq "$(json_get "j['together']['exclusive_bytes'] > 0")" "True" "s2 and s3 together hold data alone"
assert_eq "$(json_get "j['together']['exclusive_bytes'] < j['per_snapshot'][0]['referenced_bytes']")" "True" \
  "but not what they share with s1"
expect_exit 0 $CAIRN --json stats "$s1" "$s2" "$s3"
assert_eq "$(json_get "j['together']['exclusive_bytes'] == j['stored_bytes']")" "True" "all of them together: everything"
expect_exit 0 $CAIRN --json stats latest
assert_eq "$(json_get "([r['id'] for r in j['per_snapshot']], 'together' in j)")" "(['$s3'], False)" "one revision"
expect_exit 0 $CAIRN --json stats
assert_eq "$(json_get "(j['per_snapshot'], j['snapshots'])")" "([], 3)" "no rows unless asked"

# Human output: a table with one row per snapshot and the totals.
expect_exit 0 $CAIRN stats --per-snapshot
out | grep -q "^ID  *TIME  *FILES  *LOGICAL  *ADDED  *EXCLUSIVE  *SHARED  *REFERENCED$" || fail "no table header: $(out)"; ok
for s in "$s1" "$s2" "$s3"; do out | grep -q "^${s:0:12} " || fail "no row for $s: $(out)"; ok; done
out | grep -q "^referenced: " || fail "no referenced total: $(out)"; ok
expect_exit 0 $CAIRN stats "$s2" "$s3"
out | grep -q "deleting these 2 snapshots together would free" || fail "no together line: $(out)"; ok
expect_exit 0 $CAIRN stats
out | grep -q "^ID " && fail "a table without --per-snapshot: $(out)"; ok

# The counts are derived: a new cache rebuilds the same answers.
rm -rf "$CAIRN_CACHE_DIR"
expect_exit 0 $CAIRN --json stats --per-snapshot
cmp -s "$WORK/.out" "$WORK/stats1.json" || fail "after rebuilding the cache: $(out) vs $(cat "$WORK/stats1.json")"; ok

# A later backup is counted incrementally; s1's exclusive bytes stay.
echo "a new file" > src/common/new.txt
s4=$(snap)
expect_exit 0 $CAIRN --json stats --per-snapshot
assert_eq "$(json_get "len(j['per_snapshot'])")" "4" "four rows"
assert_eq "$(python3 -c "import json; print(json.load(open('$WORK/stats1.json'))['per_snapshot'][0]['exclusive_bytes'])")" \
  "$(json_get "j['per_snapshot'][0]['exclusive_bytes']")" "s1 exclusive unchanged by s4"
assert_eq "$(json_get "j['per_snapshot'][3]['exclusive_bytes'] > 0")" "True" "s4 holds its new file and trees alone"

# Bad snapshot names: one line naming it, the documented exit codes.
expect_exit 5 $CAIRN stats no-such-snapshot
expect_one_line_error "unknown revision 'no-such-snapshot'"
expect_exit 5 $CAIRN --json stats "$s1" abcdef0123
expect_one_line_error "no snapshot id starts with 'abcdef0123'"
assert_eq "$(json_get "j['error']['exit_code']")" "5" "JSON error"
expect_exit 2 $CAIRN stats "latest~x"
expect_one_line_error "latest~x"
expect_exit 5 $CAIRN stats "latest~9"
expect_one_line_error "beyond the first snapshot"

echo "ok: $checks checks"
