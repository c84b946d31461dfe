# Key slots as a user manages them: key files, passwords added, changed and
# removed, approval for removal, the last slot and the slot in use kept;
# what removing a slot does and does not protect against; tampered slots
# and slots of other repositories open nothing.
source "$(dirname "$0")/lib.sh"

FAST="--kdf-memory 64 --kdf-ops 2"
unset CAIRN_KEY_FILE
printf 'first-password-5d1e\n' > p1
printf 'second-password-9b7c\n' > p2
printf 'other-repo-password-2a4f\n' > p3
printf 'wrong-password-0000\n' > pw-wrong
# slot_ids: the ids key list --json shows, sorted; current_id: the one in use.
slot_ids() { json_get "' '.join(sorted(k['id'] for k in j['keys']))"; }
current_id() { json_get "' '.join(k['id'] for k in j['keys'] if k['current'])"; }
files_in_keys() { ls repo/keys | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//'; }

# --- key generate ---
expect_exit 0 $CAIRN key generate k1
assert_eq "$(stat -c %a k1)" "600" "mode of a new key file"
cp k1 k1.copy
expect_exit 6 $CAIRN key generate k1
expect_one_line_error "never overwritten"
cmp -s k1 k1.copy || fail "key generate changed an existing key file"; ok
echo "precious" > notakey
expect_exit 6 $CAIRN key generate notakey
assert_eq "$(cat notakey)" "precious" "a file key generate refused to overwrite"
expect_exit 0 $CAIRN key generate k2
! cmp -s k1 k2 || fail "two generated key files are the same"; ok

# --- init with a key file; key list ---
expect_exit 0 $CAIRN init repo --key-file k1
export CAIRN_REPO=$WORK/repo
mkdir src; head -c 300000 /dev/urandom > src/data.bin; echo hello > src/hello.txt
expect_exit 0 $CAIRN --key-file k1 backup -q src
expect_exit 0 $CAIRN --key-file k1 --json key list
assert_eq "$(json_get "len(j['keys'])")" "1" "slots after init"
assert_eq "$(json_get "j['keys'][0]['kind']")" "key-file" "kind of the init slot"
assert_eq "$(json_get "j['keys'][0]['current']")" "True" "the init slot is in use"
assert_eq "$(json_get "'kdf' in j['keys'][0]")" "False" "a key-file slot has no KDF"
kf_slot=$(json_get "j['keys'][0]['id']")
[[ "$kf_slot" =~ ^[0-9a-f]{16}$ ]] || fail "slot id '$kf_slot' is not 16 hex digits"; ok
assert_eq "$(files_in_keys)" "$kf_slot" "files under keys/"
# A key file opens only its repository's slot: another key file is refused.
expect_exit 11 $CAIRN --key-file k2 log --oneline
expect_one_line_error

# --- key add (a password), open with it ---
expect_exit 0 $CAIRN --key-file k1 --json key add --new-password-file p1 $FAST
pw1_slot=$(json_get "j['id']")
assert_eq "$(json_get "j['kind']")" "password" "kind of the added slot"
expect_exit 0 $CAIRN --password-file p1 log --oneline
assert_eq "$(grep -c . "$WORK/.out")" "1" "log opened with the added password"
expect_exit 0 $CAIRN --password-file p1 --json key list
assert_eq "$(json_get "len(j['keys'])")" "2" "slots after key add"
assert_eq "$(slot_ids)" "$(printf '%s\n' "$kf_slot" "$pw1_slot" | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//')" "slot ids"
assert_eq "$(current_id)" "$pw1_slot" "the password slot is in use when opened with the password"
assert_eq "$(json_get "[k['kdf'] for k in j['keys'] if k['id'] == '$pw1_slot'][0]['opslimit']")" "2" "opslimit of the added slot"
assert_eq "$(json_get "[k['kdf'] for k in j['keys'] if k['id'] == '$pw1_slot'][0]['memlimit']")" "67108864" "memlimit of the added slot"
expect_exit 0 $CAIRN --password-file p1 key list
assert_eq "$(grep -c '^\* ' "$WORK/.out")" "1" "slots marked with * in text output"
grep -q "^\* $pw1_slot  *password" "$WORK/.out" || fail "text key list does not mark the password slot: $(out)"; ok
grep -q "^  $kf_slot  *key file" "$WORK/.out" || fail "text key list does not list the key-file slot unmarked: $(out)"; ok
expect_exit 0 $CAIRN --key-file k1 --json key list
assert_eq "$(current_id)" "$kf_slot" "the key-file slot is in use when opened with the key file"
# A key file wins over a password (even a wrong one).
expect_exit 0 $CAIRN --key-file k1 --password-file pw-wrong --json key list
assert_eq "$(current_id)" "$kf_slot" "key file and password given: the key file is used"
expect_exit 0 env CAIRN_KEY_FILE="$WORK/k1" CAIRN_PASSWORD="wrong" $CAIRN --json key list
assert_eq "$(current_id)" "$kf_slot" "CAIRN_KEY_FILE and CAIRN_PASSWORD: the key file is used"

# --- key passwd: a new slot replaces the one in use ---
expect_exit 0 $CAIRN --password-file p1 --json key passwd --new-password-file p2 $FAST
pw2_slot=$(json_get "j['id']")
assert_eq "$(json_get "j['replaced']")" "$pw1_slot" "key passwd replaced"
[ "$pw2_slot" != "$pw1_slot" ] || fail "key passwd kept the slot id"; ok
assert_eq "$(files_in_keys)" "$(printf '%s\n' "$kf_slot" "$pw2_slot" | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//')" "files under keys/ after key passwd"
expect_exit 11 $CAIRN --password-file p1 log --oneline
expect_one_line_error "the password does not open any key slot of repository '$WORK/repo'"
expect_exit 0 $CAIRN --password-file p2 --json key list
assert_eq "$(current_id)" "$pw2_slot" "the new password opens its new slot"
expect_exit 0 $CAIRN --password-file p2 restore latest --target out1
cmp -s src/data.bin out1/data.bin || fail "restore with the new password"; ok

# --- key remove: approval, the slot in use, the last slot, unknown ids ---
expect_exit 0 $CAIRN --key-file k1 --json key add --new-password-file p1 $FAST
pw1b_slot=$(json_get "j['id']")
before=$(tree_hash repo)
set +e; timeout 20 $CAIRN --key-file k1 key remove "$pw1b_slot" </dev/null >"$WORK/.out" 2>"$WORK/.err"; rc=$?; set -e
assert_eq "$rc" "7" "key remove without --yes and without a terminal"
expect_one_line_error "needs approval"
[ -f "repo/keys/$pw1b_slot" ] || fail "an unapproved key remove removed the slot"; ok
assert_eq "$(tree_hash repo)" "$before" "repository after an unapproved key remove"
expect_exit 0 $CAIRN --password-file p1 log --oneline
# The slot in use is never removed (it would lock the user out mid-command).
expect_exit 2 $CAIRN --password-file p1 key remove "$pw1b_slot" --yes
expect_one_line_error "in use"
[ -f "repo/keys/$pw1b_slot" ] || fail "the slot in use was removed"; ok
# Unknown ids.
for id in 0123456789abcdef nothex "${pw1b_slot:0:8}"; do
  expect_exit 5 $CAIRN --key-file k1 key remove "$id" --yes
  expect_one_line_error "no key slot '$id'"
done
assert_eq "$(tree_hash repo)" "$before" "repository after refused key removals"

# --- removing a slot whose file someone kept ---
# Key removal is not key rotation: every slot wraps the same master key, so
# whoever kept a copy of a slot file and knows its password (or an old
# password, before key passwd) keeps access to every snapshot, past and
# future, under that master key. Removing a slot only stops the repository
# from offering it. Protecting data from a leaked password means a new
# repository (new master key) and copying the data over.
cp "repo/keys/$pw1b_slot" kept-slot
expect_exit 0 $CAIRN --key-file k1 key remove "$pw1b_slot" --yes
grep -q "$pw1b_slot" "$WORK/.out" || fail "key remove does not name the removed slot: $(out)"; ok
[ ! -e "repo/keys/$pw1b_slot" ] || fail "the removed slot's file is still there"; ok
expect_exit 11 $CAIRN --password-file p1 log --oneline
expect_one_line_error "does not open any key slot"
expect_exit 0 $CAIRN --key-file k1 --json key list
assert_eq "$(json_get "len(j['keys'])")" "2" "slots after key remove"
cp kept-slot "repo/keys/$pw1b_slot"
expect_exit 0 $CAIRN --password-file p1 restore latest --target out2
cmp -s src/data.bin out2/data.bin || fail "the kept slot file does not give the data back"; ok
rm "repo/keys/$pw1b_slot"

# The last slot is never removed.
expect_exit 0 $CAIRN --key-file k1 key remove "$pw2_slot" --yes
expect_exit 11 $CAIRN --password-file p2 log
expect_one_line_error "has no password slot; open it with --key-file"
expect_exit 2 $CAIRN --key-file k1 key remove "$kf_slot" --yes
expect_one_line_error "last"
assert_eq "$(files_in_keys)" "$kf_slot" "the last slot is kept"
expect_exit 0 $CAIRN --key-file k1 check --read-data

# --- tampered slots ---
expect_exit 0 $CAIRN --key-file k1 --json key add --new-password-file p2 $FAST
pw_slot=$(json_get "j['id']")
cp "repo/keys/$pw_slot" slot.orig
set_field() { python3 - "repo/keys/$pw_slot" "$1" "$2" <<'EOF'
import json, sys
path, field, value = sys.argv[1], sys.argv[2], int(sys.argv[3])
d = json.load(open(path)); d['kdf'][field] = value; open(path, 'w').write(json.dumps(d, indent=2))
EOF
}
expect_exit 0 $CAIRN --password-file p2 log --oneline
# A cost still inside the allowed bounds (3, or twice the memory) derives
# another key: the slot does not open. One outside them (1) is refused as
# damaged. Either way the password's other uses (the key file) are unharmed.
for change in "opslimit 3" "opslimit 1" "memlimit 134217728"; do
  cp slot.orig "repo/keys/$pw_slot"
  set_field $change
  expect_exit 11 $CAIRN --password-file p2 log --oneline
  expect_one_line_error
  grep -q -e "does not open any key slot" -e "keys/$pw_slot' is damaged" "$WORK/.err" || fail "tampered slot ($change): $(err)"; ok
  expect_exit 0 $CAIRN --key-file k1 log --oneline
  assert_eq "$(grep -c . "$WORK/.out")" "1" "the key file opens next to a tampered slot ($change)"
done
cp slot.orig "repo/keys/$pw_slot"
expect_exit 0 $CAIRN --password-file p2 log --oneline
# A slot of another repository (sealed under its master key): it opens
# nothing here, not even with its own password, and not when its
# "repository" field is rewritten to name this one.
expect_exit 0 $CAIRN init other --password-file p3 $FAST -q
other_slot=$(ls other/keys)
cp "other/keys/$other_slot" "repo/keys/$other_slot"
expect_exit 11 $CAIRN --password-file p3 log --oneline
expect_one_line_error "does not open any key slot"
expect_exit 0 $CAIRN --password-file p2 log --oneline
assert_eq "$(grep -c . "$WORK/.out")" "1" "this repository's password opens next to a foreign slot"
python3 - "other/keys/$other_slot" "repo/keys/$other_slot" repo/config <<'EOF'
import json, sys
d = json.load(open(sys.argv[1])); d['repository'] = json.load(open(sys.argv[3]))['id']
open(sys.argv[2], 'w').write(json.dumps(d, indent=2))
EOF
expect_exit 11 $CAIRN --password-file p3 log --oneline
expect_one_line_error "does not open any key slot"
expect_exit 0 $CAIRN --password-file p2 restore latest --target out3
cmp -s src/data.bin out3/data.bin || fail "restore next to a foreign slot"; ok
rm "repo/keys/$other_slot"
expect_exit 0 $CAIRN --key-file k1 check --read-data

# --- key commands on an unencrypted repository ---
expect_exit 0 $CAIRN init plain --encryption none -q
for cmd in "key list" "key add --new-password-file p1 $FAST" "key passwd --new-password-file p1" "key remove 0123456789abcdef --yes"; do
  expect_exit 2 $CAIRN -r plain $cmd
  expect_one_line_error "not encrypted"
done
[ ! -e plain/keys ] || [ -z "$(ls -A plain/keys)" ] || fail "a key command wrote a slot into an unencrypted repository"; ok
finish
