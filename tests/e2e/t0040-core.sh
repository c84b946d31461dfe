# The core as a user meets it: repository locations (remote schemes without
# a backend refused, never a local folder named "s3:…"), stale locks broken with a message,
# check --read-data-subset, check and repair that trust no pack, snapshots
# no ref reaches, and paths with "..".
source "$(dirname "$0")/lib.sh"

mkdir -p src/a
head -c 3000000 /dev/urandom > src/a/big.bin
echo hello > src/a/hello.txt

# --- locations ---
# An s3: location without credentials is refused before any request; one of
# a store cairn has no backend for is refused as such.
expect_exit 2 env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY HOME=$WORK $CAIRN -r s3:http://127.0.0.1:7480/bucket/prefix init
expect_one_line_error "no S3 credentials"
expect_exit 2 $CAIRN init s3:https://example.com/b
expect_one_line_error "bucket name"
expect_exit 2 $CAIRN init rest:https://example.com/bucket
expect_one_line_error "rest repositories are not supported yet"
[ -z "$(ls -A "$WORK" | grep -v -e '^src$' -e '^\.cache$' -e '^\.keyfile$' -e '^\.out$' -e '^\.err$')" ] || fail "a remote location left something on disk: $(ls -A)"; ok
expect_exit 2 $CAIRN -r sftp:host:/backups log
expect_one_line_error "not supported yet"
echo not-a-folder > afile
expect_exit 10 $CAIRN -r afile log
expect_one_line_error "no repository at 'afile'"
expect_exit 6 $CAIRN init afile
expect_one_line_error "exists and is not a folder"
rm afile
expect_exit 0 $CAIRN init local:repo -q
[ -f repo/config ] || fail "local:PATH did not create the repository at PATH"; ok
export CAIRN_REPO=$WORK/repo
expect_exit 0 $CAIRN backup -q src

# --- locks ---
# A lock left by a process that died (kill -9 at the wrong moment): the next
# command breaks it with a message instead of waiting for ever.
sh -c 'exit 0' & dead=$!; wait $dead
python3 - "$dead" > repo/locks/refs <<'EOF'
import json, socket, sys
boot = open('/proc/sys/kernel/random/boot_id').read().strip()
print(json.dumps({"host": socket.gethostname(), "boot_id": boot, "pid": int(sys.argv[1]), "process_start": 1,
                  "acquired_ns": 1, "heartbeat_ns": 1, "nonce": "dead"}))
EOF
echo change >> src/a/hello.txt
expect_exit 0 $CAIRN backup src
grep -q "warning: broke the stale lock 'refs' held by pid $dead" "$WORK/.err" || fail "no message about the broken lock: $(err)"; ok
[ ! -e repo/locks/refs ] || fail "the lock object was left behind"; ok
# Another host's lock with a heartbeat from long ago is stale too.
python3 - > repo/locks/refs <<'EOF'
import json
print(json.dumps({"host": "elsewhere.example", "pid": 4242, "acquired_ns": 1, "heartbeat_ns": 1, "nonce": "x"}))
EOF
expect_exit 0 $CAIRN tag v1
grep -q "held by pid 4242 on host 'elsewhere.example': its heartbeat is" "$WORK/.err" || fail "other host's stale lock: $(err)"; ok
# A repository made before locks/ existed works, and gets the folder.
rm -r repo/locks
echo again >> src/a/hello.txt
expect_exit 0 $CAIRN backup -q src
[ -d repo/locks ] || fail "locks/ was not created"; ok

# --- check --read-data-subset ---
for i in 1 2 3 4 5 6; do head -c 1000000 /dev/urandom > "src/r$i.bin"; $CAIRN backup -q src; done
expect_exit 0 $CAIRN --json check
packs=$(json_get "j['packs']")
[ "$packs" -ge 7 ] || fail "expected several packs, got $packs"; ok
total=0
for n in 1 2 3; do
  expect_exit 0 $CAIRN --json check --read-data-subset $n/3
  assert_eq "$(json_get "j['read_data']")" "True" "subset implies --read-data"
  total=$((total + $(json_get "j['packs_read']")))
done
assert_eq "$total" "$packs" "slices 1/3, 2/3, 3/3 together read every pack once"
expect_exit 0 $CAIRN --json check --read-data-subset 50%
assert_eq "$(json_get "j['packs_read']")" "$(( (packs + 1) / 2 ))" "50% reads half the packs, rounded up"
expect_exit 0 $CAIRN --json check --read-data-subset 100%
assert_eq "$(json_get "j['packs_read']")" "$packs" "100% reads every pack"
expect_exit 0 $CAIRN check --read-data-subset 2/3
grep -q "read [0-9]* of $packs packs" "$WORK/.out" || fail "text output does not say how many packs were read: $(out)"; ok
for bad in 0/3 4/3 3/0 x 1/ 0% 101% -5% 10; do
  expect_exit 2 $CAIRN check --read-data-subset "$bad"
  expect_one_line_error "--read-data-subset must be N/M"
done

# --- packs no index names ---
# A valid pack under the repository's keys that no index names (written by a
# copy of the repository, as an interrupted backup leaves one): check warns,
# --read-data reads and verifies it. (A pack of another repository does not
# authenticate at all: t0060.)
cp -a repo other
mkdir other-src; head -c 200000 /dev/urandom > other-src/x
CAIRN_CACHE_DIR=$WORK/.cache-other expect_exit 0 $CAIRN -r other backup -q other-src
extra=$(cd other && for p in data/*/*; do [ -e "../repo/$p" ] || echo "$p"; done | head -1)
cp "other/$extra" "repo/$extra"
expect_exit 0 $CAIRN --json check --read-data
assert_eq "$(json_get "j['unindexed_packs']")" "1" "the copied pack is unindexed"
assert_eq "$(json_get "j['packs_read']")" "$((packs + 1))" "--read-data reads the unindexed pack too"
# Damage inside it is found only by reading it.
python3 - "repo/$extra" <<'EOF'
import sys
p = sys.argv[1]; b = bytearray(open(p, 'rb').read()); b[40] ^= 0xff; open(p, 'wb').write(b)
EOF
expect_exit 0 $CAIRN check
expect_exit 4 $CAIRN check --read-data
grep -q "pack 'data/.*' is damaged: its content does not match its name (a pack no index names)" "$WORK/.err" \
  || fail "damaged unindexed pack not reported: $(err)"; ok
# repair index verifies before indexing: the damaged pack and a foreign one
# (a valid pack under a name that is not its hash) are left out and named.
good=$(cd repo && ls data/*/* | grep -v "$extra" | head -1)
foreign="data/$(basename "$good" | cut -c1-2)/$(basename "$good" | cut -c1-2)$(printf 'f%.0s' $(seq 1 62))"
cp "repo/$good" "repo/$foreign"
expect_exit 4 $CAIRN --json repair index
assert_eq "$(json_get "len(j['problems'])")" "2" "two packs left out"
json_get "'\n'.join(j['problems'])" | grep -q "$extra.*left out of the index" || fail "damaged pack not named: $(out)"; ok
json_get "'\n'.join(j['problems'])" | grep -q "$foreign.*does not match its name" || fail "foreign pack not named: $(out)"; ok
assert_eq "$(json_get "j['packs']")" "$packs" "every good pack indexed"
rm "repo/$extra" "repo/$foreign"
expect_exit 0 $CAIRN check --read-data
expect_exit 0 $CAIRN restore latest --target out --verify
cmp out/a/big.bin src/a/big.bin || fail "restore after repair differs"; ok

# --- snapshots no branch or tag reaches ---
expect_exit 0 $CAIRN backup -q --branch side src/a
expect_exit 0 $CAIRN --json check
assert_eq "$(json_get "j['unreachable_snapshots']")" "0" "all reachable"
expect_exit 0 $CAIRN branch -d side --yes
expect_exit 0 $CAIRN --json check
assert_eq "$(json_get "j['unreachable_snapshots']")" "1" "the deleted branch's snapshot"
assert_eq "$(json_get "j['ok']")" "True" "an unreachable snapshot is not damage"
expect_exit 0 $CAIRN check
grep -q "warning: snapshot [0-9a-f]* is not reachable from any branch or tag" "$WORK/.err" || fail "no warning: $(err)"; ok

# --- an exclusion file that cannot be read stops the backup (never a shorter rule list) ---
mkdir rules-dir
expect_exit 1 $CAIRN backup --exclude-file rules-dir src
expect_one_line_error "cannot read exclusion rules 'rules-dir'"

# --- paths with '..' are usage errors ---
for cmd in "cat latest:a/../../x" "ls latest:a/../a" "restore latest:../x --target t2"; do
  expect_exit 2 $CAIRN $cmd
  expect_one_line_error "may not contain '..'"
done
[ ! -e t2 ] || fail "a refused restore created its target"; ok
finish
