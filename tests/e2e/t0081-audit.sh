# The audit log: one entry per changing command with the right fields, reads
# only when the policy asks, no secret in it, filters and summary, export
# as a verifiable chain, concurrent appends, `audit verify` catching an
# edited, a deleted, a reordered and a cut-off entry (also with the head
# rewritten, through this machine's anchor), and SIGKILLs during appends
# that never break verification.
source "$(dirname "$0")/lib.sh"
set -e

n_entries() { $CAIRN --json audit log | python3 -c "import json,sys; print(len(json.load(sys.stdin)))"; }
last() { $CAIRN --json audit log | python3 -c "import json,sys; e=json.load(sys.stdin)[-1]; print($1)"; }

# --- fields, one entry per changing command (unencrypted: the files are readable) ---
expect_exit 0 $CAIRN init repo --encryption none
export CAIRN_REPO=$WORK/repo
mkdir src; head -c 200000 /dev/urandom > src/data; echo hi > src/hi
assert_eq "$(n_entries)" "0" "entries in a new repository"
expect_exit 0 $CAIRN --json backup src
snap=$(json_get "j['snapshot']")
assert_eq "$(n_entries)" "1" "entries after a backup"
assert_eq "$(last "e['operation']")" "backup" "operation"
assert_eq "$(last "e['result']")" "ok" "result"
assert_eq "$(last "e['exit_code']")" "0" "exit code"
assert_eq "$(last "e['snapshots']")" "['$snap']" "snapshots of a backup"
assert_eq "$(last "e['user']")" "$(id -un)" "user"
assert_eq "$(last "e['host']")" "$(hostname)" "host"
assert_eq "$(last "e['risk']")" "medium" "risk of a backup"
assert_eq "$(last "e['args']")" "['--json', 'backup', 'src']" "arguments"
assert_eq "$(last "e['bytes'] > 0")" "True" "bytes added"
assert_eq "$(last "e['seq']")" "1" "first seq"
assert_eq "$(last "e['prev']")" "$(printf '0%.0s' $(seq 64))" "prev of the first entry"
assert_eq "$(last "e['duration_ms'] >= 0 and e['time_ns'] > 0")" "True" "times"
# Reads leave nothing ...
expect_exit 0 $CAIRN log
expect_exit 0 $CAIRN ls latest
expect_exit 0 $CAIRN check
expect_exit 0 $CAIRN audit log
assert_eq "$(n_entries)" "1" "entries after reads"
# ... every change one entry each, refusals and failures too.
expect_exit 0 $CAIRN tag v1
assert_eq "$(last "e['operation'] + ' ' + e['result']")" "tag create ok" "tag create entry"
expect_exit 7 $CAIRN tag -d v1 < /dev/null
assert_eq "$(last "e['operation'] + ' ' + e['result'] + ' ' + str(e['exit_code']) + ' ' + e['risk']")" "tag delete refused 7 high" "refused entry"
assert_eq "$(last "e['approval']['how']")" "refused" "approval of a refusal"
expect_exit 0 $CAIRN tag -d v1 --yes
assert_eq "$(last "e['approval']['how'] + ' ' + e['affected']['from']")" "yes $snap" "approval and affected of a delete"
expect_exit 5 $CAIRN backup does-not-exist
assert_eq "$(last "e['result'] + ' ' + str(e['exit_code'])")" "failed 5" "failed backup entry"
last "e['error']" | grep -q "does-not-exist" || fail "the failure's message is not in the entry"; ok
expect_exit 0 $CAIRN restore latest --target out
assert_eq "$(last "e['operation'] + ' ' + e['snapshots'][0]")" "restore $snap" "restore entry"
echo more > src/more
expect_exit 0 $CAIRN --json backup src
snap2=$(json_get "j['snapshot']")
expect_exit 0 $CAIRN forget --keep-last 1 --yes
assert_eq "$(last "e['operation'] + ' ' + ','.join(e['snapshots'])")" "forget $snap" "forget entry"
expect_exit 0 $CAIRN prune --yes --grace 0
assert_eq "$(last "e['operation'] + ' ' + e['result']")" "prune ok" "prune entry"
expect_exit 0 $CAIRN forget --keep-last 1 --dry-run
expect_exit 0 $CAIRN backup -q --dry-run src
assert_eq "$(last "e['operation']")" "prune" "dry runs are reads"
count=$(n_entries)
assert_eq "$count" "9" "entries after 9 changing commands"
# With audit_reads on, reads are recorded too.
expect_exit 0 $CAIRN approval-policy set --audit-reads on --yes
expect_exit 0 $CAIRN log
assert_eq "$(last "e['operation'] + ' ' + e['risk']")" "log low" "a read recorded"
expect_exit 0 $CAIRN approval-policy set --audit-reads off --yes
assert_eq "$(last "e['risk']")" "critical" "turning reads off is a loosening"

# --- filters, summary, export ---
expect_exit 0 $CAIRN --json audit log --type tag
assert_eq "$(json_get "sorted(set(e['operation'] for e in j))")" "['tag create', 'tag delete']" "--type tag"
expect_exit 0 $CAIRN --json audit log --type backup --user "$(id -un)"
assert_eq "$(json_get "len(j)")" "3" "backups by this user"
expect_exit 0 $CAIRN --json audit log --user nobody-here
assert_eq "$(json_get "len(j)")" "0" "entries of another user"
expect_exit 0 $CAIRN --json audit log --since "1 hour ago" --until now
assert_eq "$(json_get "len(j)")" "$(n_entries)" "entries of the last hour"
expect_exit 0 $CAIRN --json audit log --until 2001-01-01
assert_eq "$(json_get "len(j)")" "0" "entries before 2001"
expect_exit 2 $CAIRN audit log --since "next tuesday"
expect_one_line_error "--since"
expect_exit 0 $CAIRN --json audit summary
assert_eq "$(json_get "j['operations']['tag delete']")" "{'ok': 1, 'refused': 1}" "summary of tag delete"
assert_eq "$(json_get "j['operations']['backup']")" "{'failed': 1, 'ok': 2}" "summary of backup"
assert_eq "$(json_get "j['verified']")" "True" "summary says verified"
expect_exit 0 $CAIRN audit export --jsonl -o export.jsonl
python3 - export.jsonl <<'EOF'
import hashlib, json, sys
prev = "0" * 64
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) >= 12, len(lines)
for i, line in enumerate(lines, 1):
    e = json.loads(line)
    assert e["seq"] == i, (i, e["seq"])
    assert e["prev"] == prev, i
    body = dict(e); h = body.pop("hash")
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert hashlib.sha256(text.encode()).hexdigest() == h, ("hash of entry", i)
    prev = h
EOF
ok

# --- concurrent appends: every entry lands, the chain holds ---
before=$(n_entries)
for i in $(seq 1 8); do $CAIRN tag "c$i" >/dev/null & done
wait
assert_eq "$(n_entries)" "$((before + 8))" "entries after 8 concurrent tags"
expect_exit 0 $CAIRN audit verify

# --- tampering (a copy of the repository for each) ---
verify_fails() {  # verify_fails DIR MESSAGE
  expect_exit 4 $CAIRN -r "$1" audit verify
  grep -q -F -- "$2" "$WORK/.err" || fail "audit verify of $1 does not say '$2': $(err)"; ok
}
n=$(n_entries)
cp -a repo edited
python3 - edited/audit/0000000000000003 <<'EOF'
import sys
p = sys.argv[1]
b = open(p, 'rb').read()
open(p, 'wb').write(b.replace(b'"operation":"tag', b'"operation":"tug', 1))
EOF
verify_fails edited "entry 3 (audit/0000000000000003) was changed"
# Edited with its own hash recomputed: the next entry names the old one.
cp -a repo rehashed
python3 - rehashed/audit/0000000000000003 <<'EOF'
import hashlib, json, sys
p = sys.argv[1]
b = open(p, 'rb').read()
head, body = b[:15], json.loads(b[15:])
body["user"] = "someone-else"
body.pop("hash")
text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
body["hash"] = hashlib.sha256(text.encode()).hexdigest()
open(p, 'wb').write(head + json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode())
EOF
verify_fails rehashed "entry 3 (audit/0000000000000003) was changed or replaced"
cp -a repo deleted
rm deleted/audit/0000000000000004
verify_fails deleted "entry 4 (audit/0000000000000004) is missing"
cp -a repo reordered
mv reordered/audit/0000000000000005 reordered/x && mv reordered/audit/0000000000000006 reordered/audit/0000000000000005 && mv reordered/x reordered/audit/0000000000000006
verify_fails reordered "entry 5 (audit/0000000000000005) says it is entry 6"
cp -a repo truncated
rm "truncated/audit/$(printf '%016d' "$n")" "truncated/audit/$(printf '%016d' $((n - 1)))"
verify_fails truncated "the log ends at entry $((n - 2)) but its head names entry $n"
# Cut off with the head rewritten to match: this machine's anchor remembers.
cp -a truncated cut-and-rehead
python3 - cut-and-rehead/audit "$((n - 2))" <<'EOF'
import json, sys
d, seq = sys.argv[1], int(sys.argv[2])
e = json.loads(open(f"{d}/{seq:016d}", 'rb').read()[15:])
h = open(f"{d}/head", 'rb').read()
open(f"{d}/head", 'wb').write(h[:15] + json.dumps({"hash": e["hash"], "seq": seq, "version": 1}, separators=(",", ":")).encode())
EOF
verify_fails cut-and-rehead "this machine has seen the log up to entry $n"
cp -a repo nohead
rm nohead/audit/head
verify_fails nohead "head (audit/head) is missing"
expect_exit 4 $CAIRN -r edited audit log
grep -q "does not verify" "$WORK/.err" || fail "audit log of a damaged log does not warn"; ok
assert_eq "$(out | wc -l)" "2" "entries shown before the damage"
# A change still runs on a damaged log, and says that it was not recorded.
expect_exit 0 $CAIRN -r nohead tag after-damage
grep -q "was not recorded in the audit log" "$WORK/.err" || fail "no warning of the missing entry: $(err)"; ok

# --- encrypted: entries are sealed, no secret appears anywhere ---
secret="pw-$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
printf '%s\n' "$secret" > pwfile
unset CAIRN_KEY_FILE
expect_exit 0 $CAIRN init enc --password-file pwfile --kdf-memory 64 --kdf-ops 2
expect_exit 0 $CAIRN -r enc --password-command "echo $secret" backup -q src
expect_exit 0 env CAIRN_PASSWORD="$secret" $CAIRN -r enc tag s1
expect_exit 0 $CAIRN -r enc --password-file pwfile audit export --jsonl -o enc.jsonl
assert_eq "$(wc -l < enc.jsonl)" "2" "entries of the encrypted repository"
grep -q -F -- "$secret" enc.jsonl && fail "the password appears in the audit log"; ok
grep -q -F "(hidden)" enc.jsonl || fail "--password-command's value is not hidden"; ok
grep -r -q -F -- "$secret" enc "$CAIRN_CACHE_DIR" && fail "the password appears in the repository or cache"; ok
# A key file's secret and S3-style credentials in the environment of a
# command (the S3 backend will read them from there) stay out of the log.
expect_exit 0 $CAIRN key generate extra.key
expect_exit 0 $CAIRN -r enc --password-file pwfile key add --key-file extra.key --yes
aws_secret="awssecret-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"
expect_exit 0 env AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY="$aws_secret" \
  $CAIRN -r enc --key-file extra.key tag s2
expect_exit 0 $CAIRN -r enc --key-file extra.key audit export --jsonl -o enc2.jsonl
key_secret=$(sed -n 2p extra.key)
[ -n "$key_secret" ] || fail "no secret line in the key file"
grep -q -F -- "$key_secret" enc2.jsonl && fail "the key file's secret appears in the audit log"; ok
grep -q -F -- "$aws_secret" enc2.jsonl && fail "AWS_SECRET_ACCESS_KEY appears in the audit log"; ok
grep -r -q -F -e "$key_secret" -e "$aws_secret" enc "$CAIRN_CACHE_DIR" && fail "a secret appears in the repository or cache"; ok
grep -q -F '"operation"' enc/audit/0000000000000001 && fail "an encrypted repository's audit entry is plaintext"; ok
python3 - enc/audit/0000000000000002 <<'EOF'
import sys
p = sys.argv[1]
b = bytearray(open(p, 'rb').read())
b[-5] ^= 1
open(p, 'wb').write(bytes(b))
EOF
expect_exit 4 $CAIRN -r enc --password-file pwfile audit verify
grep -q "entry 2 (audit/0000000000000002) cannot be read" "$WORK/.err" || fail "a flipped sealed entry: $(err)"; ok
export CAIRN_KEY_FILE="$WORK/.keyfile"

# --- SIGKILL during appends never breaks verification ---
expect_exit 0 $CAIRN init kr
expect_exit 0 $CAIRN -r kr backup -q src
kills=0 lagging=0
for i in $(seq 1 50); do
  $CAIRN -r kr tag "k$i" >/dev/null 2>&1 &
  pid=$!
  sleep "0.0$(printf %02d $((RANDOM % 13)))"
  kill -9 "$pid" 2>/dev/null || true
  rc=0; wait "$pid" 2>/dev/null || rc=$?
  [ "$rc" != 137 ] || kills=$((kills + 1))
  expect_exit 0 $CAIRN -r kr --json audit verify
  [ "$(json_get "len(j['notes'])")" = 0 ] || lagging=$((lagging + 1))
done
[ "$kills" -ge 20 ] || fail "only $kills of 50 kills landed while the command ran"; ok
expect_exit 0 $CAIRN -r kr tag after-kills
expect_exit 0 $CAIRN -r kr --json audit verify
assert_eq "$(json_get "j['ok'] and j['head'] == j['entries']")" "True" "head after the kills and one more append"
echo "kills that landed: $kills of 50; rounds that left the head behind its last entry: $lagging"

echo "ok: $checks checks"
