#!/usr/bin/env bash
# Bundles: a real history (several snapshots, a tag, a branch) into empty
# repositories of other keys and chunkers, restoring exactly; a thin bundle
# onto a repository that has its base; sealed with their own password or
# key file, holding none of the repository's secrets; the published schema
# is the enforced one; and a table of bad bundles, each refused with its
# own message and exit code and the target unchanged.
source "$(dirname "$0")/lib.sh"
[ -n "${BUNDLE_TAMPER:-}" ] && [ -x "$BUNDLE_TAMPER" ] || fail "BUNDLE_TAMPER must name tests/tools/bundle_tamper"
T=$BUNDLE_TAMPER

expect_exit 0 $CAIRN init src-repo
export CAIRN_REPO=$WORK/src-repo
make_rich_tree src
expect_exit 0 $CAIRN --json backup src -m "first"
s1=$(json_get "j['snapshot']"); cp -a src saved1
expect_exit 0 $CAIRN tag v1 "$s1" -m "release one"
head -c 1500000 /dev/urandom > src/sub/more.bin
echo "changed" > src/hello.txt
expect_exit 0 $CAIRN --json backup src -m "second"
s2=$(json_get "j['snapshot']"); cp -a src saved2
expect_exit 0 $CAIRN branch dev "$s2"
echo "dev" > src/dev.txt
expect_exit 0 $CAIRN --json backup src -m "dev work" --branch dev
s3=$(json_get "j['snapshot']"); cp -a src saved3
rm src/dev.txt; echo third > src/third.txt
expect_exit 0 $CAIRN --json backup src -m "third"
s4=$(json_get "j['snapshot']"); cp -a src saved4

$CAIRN key generate bkey >/dev/null
B=(--bundle-key-file "$WORK/bkey")
history_text >graph.src

# --- the whole history, into repositories of other keys and chunkers ---
expect_exit 0 $CAIRN --json bundle create all.bundle --all "${B[@]}"
assert_eq "$(json_get "j['snapshots']") $(json_get "j['required_snapshots']")" "4 0" "a full bundle"
expect_exit 0 $CAIRN --json bundle verify all.bundle "${B[@]}"
assert_eq "$(json_get "j['ok']") $(json_get "len(j['snapshots'])")" "True 4" "verify"
expect_exit 0 $CAIRN --json bundle list all.bundle "${B[@]}"
assert_eq "$(json_get "[t['name'] for t in j['tags']]") $(json_get "sorted(b['name'] for b in j['branches'])")" \
  "['v1'] ['dev', 'main']" "list: the tags and branches inside"
assert_eq "$(json_get "[s['parents'] == [] for s in j['snapshots']][0]")" "True" "dependency order: a root first"
# The manifest names objects by SHA-256 and says what it needs.
$T dump all.bundle bkey > manifest.json || fail "cannot read the manifest back"
python3 - manifest.json <<'EOF' || fail "the manifest does not hold what the issue asks"
import json, sys
m = json.load(open(sys.argv[1]))
for k in ("schema_version", "cairn_version", "created", "created_by", "snapshots", "tags", "branches", "objects", "requires", "hash"):
    assert k in m, k
assert m["tags"][0]["annotation"] and "release one" in m["tags"][0]["annotation"]
assert all(len(o["id"]) == 64 and o["size"] >= 0 for o in m["objects"])
EOF
ok
# The published schema is the one enforced.
expect_exit 0 $CAIRN bundle schema
diff <(out) "$TESTS/../docs/bundle-manifest.schema.json" >/dev/null || fail "docs/bundle-manifest.schema.json differs from 'cairn bundle schema'"; ok

$CAIRN key generate k2 >/dev/null
expect_exit 0 $CAIRN -r enc --key-file k2 init
expect_exit 0 $CAIRN -r enc --key-file k2 --json bundle import all.bundle "${B[@]}"
assert_eq "$(json_get "j['imported']")" "4" "imported into an encrypted repository of another key"
expect_exit 0 $CAIRN -r enc --key-file k2 check --read-data
history_text -r enc --key-file k2 >graph.enc
diff graph.src graph.enc || fail "the imported history differs"; ok
restores_as -r enc --key-file k2 -- v1 saved1
restores_as -r enc --key-file k2 -- main~1 saved2
restores_as -r enc --key-file k2 -- dev saved3
restores_as -r enc --key-file k2 -- main saved4
expect_exit 0 $CAIRN -r enc --key-file k2 --json tag -l
assert_eq "$(json_get "j[0]['message']")" "release one" "the tag's message"
expect_exit 0 $CAIRN init plain --encryption none --avg-chunk 16384
expect_exit 0 $CAIRN -r plain --json bundle import all.bundle "${B[@]}"
assert_eq "$(json_get "j['imported']")" "4" "imported into an unencrypted repository with 16 KiB chunks"
restores_as -r plain -- main saved4
restores_as -r plain -- dev saved3
# Again: nothing new, nothing changed.
before=$(tree_hash plain)
expect_exit 0 $CAIRN -r plain --json bundle import all.bundle "${B[@]}"
assert_eq "$(json_get "j['imported']")" "0" "a second import adds nothing"
assert_eq "$(tree_hash plain)" "$before" "a second import changes nothing"
expect_exit 0 $CAIRN -r plain --json audit log
assert_eq "$(json_get "len([e for e in (j.get('entries', j) if isinstance(j, dict) else j) if e['operation'] == 'bundle import'])")" "2" \
  "each import is in the audit log"

# --- thin: only what the receiver lacks ---
expect_exit 0 $CAIRN --json bundle create base.bundle v1 "${B[@]}"
expect_exit 0 $CAIRN --json bundle create thin.bundle main dev --since v1 "${B[@]}"
assert_eq "$(json_get "j['snapshots']") $(json_get "j['required_snapshots']")" "3 1" "a thin bundle: three snapshots on one base"
thin_bytes=$(stat -c %s thin.bundle); all_bytes=$(stat -c %s all.bundle)
[ "$thin_bytes" -lt $((all_bytes * 2 / 3)) ] || fail "the thin bundle ($thin_bytes bytes) is not much smaller than the full one ($all_bytes)"; ok
expect_exit 0 $CAIRN init thin-target --encryption none
expect_exit 5 $CAIRN -r thin-target bundle import thin.bundle "${B[@]}"
expect_one_line_error "does not have"
expect_exit 0 $CAIRN -r thin-target --json snapshots
assert_eq "$(json_get "len(j)")" "0" "a thin bundle without its base: nothing imported"
# (The first refusal made the audit log; a second one changes nothing at all.)
before=$(tree_hash thin-target)
expect_exit 5 $CAIRN -r thin-target bundle import thin.bundle "${B[@]}"
assert_eq "$(tree_hash thin-target)" "$before" "a thin bundle without its base: the target unchanged"
expect_exit 0 $CAIRN -r thin-target bundle import base.bundle "${B[@]}"
expect_exit 0 $CAIRN -r thin-target --json bundle import thin.bundle "${B[@]}"
assert_eq "$(json_get "j['imported']")" "3" "the thin bundle on its base"
restores_as -r thin-target -- main saved4
restores_as -r thin-target -- dev saved3
expect_exit 0 $CAIRN -r thin-target check --read-data

# --- never secrets; its own password ---
echo "bundle-secret-pw" > bpw
expect_exit 0 $CAIRN bundle create pw.bundle v1 --bundle-password-file bpw
expect_exit 0 $CAIRN bundle verify pw.bundle --bundle-password-file bpw
echo "wrong" > wrongpw
expect_exit 11 $CAIRN bundle verify pw.bundle --bundle-password-file wrongpw
expect_one_line_error "does not open"
expect_exit 2 $CAIRN bundle verify pw.bundle
expect_one_line_error "--bundle-password-file"
expect_exit 11 $CAIRN bundle verify all.bundle --bundle-key-file k2
expect_one_line_error "does not open"
keytext=$(grep -v '^#' "$CAIRN_KEY_FILE" | tr -d '\n' | head -c 200)
for f in all.bundle thin.bundle pw.bundle manifest.json; do
  for secret in "$keytext" "bundle-secret-pw" "$(cat k2 | grep -v '^#' | tr -d '\n' | head -c 200)" AWS_SECRET CAIRN_KEY_FILE; do
    [ -n "$secret" ] || continue
    if grep -a -q -F -- "$secret" "$f"; then fail "$f holds a secret ($secret)"; fi
  done
done
ok
grep -q '"cache\|config\|key_slot' manifest.json && fail "the manifest holds repository-local configuration"; ok

# --- bad bundles: each refused with its message and code, the target unchanged ---
expect_exit 0 $CAIRN init target --encryption none
expect_exit 0 $CAIRN -r target backup saved1 -m "theirs"
expect_exit 0 $CAIRN -r target tag v1 -m "their v1"
target_before=$(tree_hash target)
edit() {  # edit OUT PYTHON: a rewritten manifest (hash recomputed)
  python3 - manifest.json "$WORK/edited.json" "$2" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
exec(sys.argv[3])
open(sys.argv[2], "w").write(json.dumps(m))
EOF
  $T rewrite all.bundle "$1" bkey "$WORK/edited.json" ${3:-} || fail "bundle_tamper rewrite failed"
}
python3 -c "
import sys
d = open('all.bundle', 'rb').read()
open('truncated.bundle', 'wb').write(d[:-100])
open('header-only.bundle', 'wb').write(d[:30])
open('not-a-bundle', 'wb').write(b'PK\x03\x04' + bytes(100))
b = bytearray(d); b[len(d) // 2] ^= 1; open('flipped-object.bundle', 'wb').write(bytes(b))
b = bytearray(d); b[60] ^= 1; open('flipped-manifest.bundle', 'wb').write(bytes(b))
b = bytearray(d); b[8] = 9; open('newer-format.bundle', 'wb').write(bytes(b))
"
edit schema2.bundle "m['schema_version'] = 2"
edit no-snapshots.bundle "del m['snapshots']"
edit objects-string.bundle "m['objects'] = 'x'"
edit time-string.bundle "m['snapshots'][0]['snapshot']['time_ns'] = 'yesterday'"
edit bad-id.bundle "m['tags'][0]['snapshot'] = 'xyz'"
edit extra-field.bundle "m['password'] = 'hunter2'"
edit bad-kind.bundle "m['snapshots'][0]['snapshot']['kind'] = 'weekly'"
edit bad-size.bundle "m['objects'][0]['size'] = -5"
edit bad-tag-name.bundle "m['tags'][0]['name'] = '..bad'"
edit created-by-number.bundle "m['created_by'] = 7"
edit cycle.bundle "m['snapshots'].reverse()"
edit missing-parent.bundle "m['snapshots'][1]['snapshot']['parents'] = ['ab' * 32]"
edit wrong-type.bundle "m['objects'][0]['type'] = 'tree' if m['objects'][0]['type'] == 'chunk' else 'chunk'"
edit bad-hash.bundle "m['snapshots'][0]['snapshot']['message'] = 'edited'" --keep-hash
edit dangling-tag.bundle "m['tags'][0]['snapshot'] = 'cd' * 32"
echo "other bytes" > other.bin
$T object all.bundle wrong-content.bundle bkey 1 other.bin || fail "bundle_tamper object failed"
$T swap all.bundle swapped.bundle bkey 1 2 || fail "bundle_tamper swap failed"
$T drop all.bundle dropped.bundle bkey 2 || fail "bundle_tamper drop failed"
cases=(
  "truncated.bundle 4 truncated"
  "header-only.bundle 4 too short"
  "not-a-bundle 4 not a cairn bundle"
  "flipped-object.bundle 4 does not authenticate"
  "flipped-manifest.bundle 11 does not open"
  "newer-format.bundle 1 format version 9"
  "schema2.bundle 1 schema version 2"
  "no-snapshots.bundle 4 snapshots: missing"
  "objects-string.bundle 4 objects: expected an array"
  "time-string.bundle 4 snapshots[0].snapshot.time_ns: expected an integer"
  "bad-id.bundle 4 tags[0].snapshot: expected a string matching"
  "extra-field.bundle 4 password: not allowed"
  "bad-kind.bundle 4 snapshots[0].snapshot.kind: expected one of"
  "bad-size.bundle 4 objects[0].size: expected at least 0"
  "bad-tag-name.bundle 4 tags[0].name: expected a string matching"
  "created-by-number.bundle 4 created_by: expected an object"
  "cycle.bundle 4 comes after it"
  "missing-parent.bundle 4 neither in the bundle nor required"
  "wrong-type.bundle 4 the manifest says"
  "bad-hash.bundle 4 hash does not match"
  "dangling-tag.bundle 4 neither holds nor requires"
  "wrong-content.bundle 4 does not match its id"
  "swapped.bundle 4 does not authenticate"
  "dropped.bundle 4 truncated"
)
for c in "${cases[@]}"; do
  file=${c%% *}; rest=${c#* }; code=${rest%% *}; msg=${rest#* }
  expect_exit "$code" $CAIRN -r target bundle import "$file" "${B[@]}"
  expect_one_line_error "$msg"
  assert_eq "$(tree_hash target)" "$target_before" "$file: the target unchanged"
done
[ "${#cases[@]}" -ge 20 ] || fail "fewer than 20 bad bundles"; ok
expect_exit 4 $CAIRN bundle verify flipped-object.bundle "${B[@]}"
expect_one_line_error "does not authenticate"

# --- refs in the way: refused whole, --branch-prefix, --force ---
expect_exit 6 $CAIRN -r target bundle import all.bundle "${B[@]}"
expect_one_line_error "tags/v1"
assert_eq "$(tree_hash target)" "$target_before" "a ref conflict: nothing imported"
expect_exit 0 $CAIRN -r target --json bundle import all.bundle "${B[@]}" --dry-run --force
assert_eq "$(json_get "j['imported']")" "4" "a dry run says what would come"
assert_eq "$(tree_hash target)" "$target_before" "a dry run writes nothing"
expect_exit 2 $CAIRN -r target bundle import all.bundle "${B[@]}" --branch-prefix "../"
expect_exit 7 $CAIRN -r target bundle import all.bundle "${B[@]}" --force
assert_eq "$(tree_hash target)" "$target_before" "--force without approval: nothing imported"
expect_exit 0 $CAIRN -r target --json bundle import all.bundle "${B[@]}" --branch-prefix imported- --force --yes
assert_eq "$(json_get "sorted(r['ref'] + ' ' + r['result'] for r in j['refs'])")" \
  "['branches/imported-dev created', 'branches/imported-main created', 'tags/v1 moved']" "prefixed branches, the tag moved"
restores_as -r target -- imported-main saved4
restores_as -r target -- v1 saved1
finish
