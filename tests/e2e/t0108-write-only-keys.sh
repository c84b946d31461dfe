# Write-only host keys (issue 12): a key added with `key add --write-only`
# backs up (deduplicating against what other hosts stored), lists
# snapshots and keys, and nothing else: every command that would read a
# chunk or a tree, delete or change keys refuses with exit 13 and changes
# nothing. What it wrote restores exactly with a full key, and check
# --read-data passes. Its packs carry their own key sealed to the box key:
# flipping a byte of that sealed key is damage a full check names. A
# repository opened with the write-only key file and the key material
# checked by the unit tests (crypto_test.cc "write-only keys") cannot open
# a chunk or a tree, its own included.
source "$(dirname "$0")/lib.sh"

FULL=$CAIRN_KEY_FILE
WO=$WORK/web1.key
WO2=$WORK/web2.key
$CAIRN key generate "$WO" >/dev/null
$CAIRN key generate "$WO2" >/dev/null
export CAIRN_REPO=$WORK/repo

expect_exit 0 $CAIRN init repo
expect_exit 0 $CAIRN --json show-config
assert_eq "$(json_get "j['format']")" "3" "format of a new encrypted repository"
grep -q '"box_public_key": "[0-9a-f]\{64\}"' repo/config || fail "config has no box public key"; ok

# --- adding write-only keys ---
expect_exit 0 $CAIRN --json key add --write-only --host web1 --key-file "$WO" --yes
assert_eq "$(json_get "j['access']")" "write-only" "access of the added key"
expect_exit 0 $CAIRN key add --write-only --host web2 --key-file "$WO2" --yes
expect_exit 2 $CAIRN key add --host web3 --key-file "$WO2" --yes
expect_one_line_error "--write-only"
expect_exit 0 $CAIRN --json key list
assert_eq "$(json_get "sorted((k['access'], k['host']) for k in j['keys'] if k['access'] == 'write-only')")" \
  "[('write-only', 'web1'), ('write-only', 'web2')]" "write-only slots and their hosts"
assert_eq "$(json_get "[k['access'] for k in j['keys'] if k['current']]")" "['full']" "the slot in use"
# Its slot wraps more than a master secret, and says what it is.
grep -l '"access": "write-only"' repo/keys/* | wc -l | grep -qx 2 || fail "write-only slots do not say so"; ok

# --- a full host backs up first; the write-only host deduplicates against it ---
make_rich_tree src
cp -a /usr/share/doc/bash src/bash-doc
mkdir -p src/include && cp -a /usr/include/linux/netfilter src/include/
expect_exit 0 $CAIRN --json backup --branch full-host src
expect_exit 0 $CAIRN --key-file "$WO" --json backup src
assert_eq "$(json_get "j['stats']['new_chunks']")" "0" "chunks a write-only host adds for content already stored"
WO_FIRST=$(json_get "j['id']")
# New content from the write-only host, then an unchanged re-backup.
head -c 3000000 /dev/urandom > src/new-on-web1.bin
echo "changed by web1" >> src/bash-doc/README
expect_exit 0 $CAIRN --key-file "$WO" --json backup src
WO_SECOND=$(json_get "j['id']")
assert_eq "$(json_get "j['stats'].get('counts_unknown')")" "True" "a write-only incremental says its counts are unknown"
[ "$(json_get "j['stats']['new_chunks']")" -gt 0 ] || fail "the write-only host stored no new chunks"; ok
rm -rf saved && cp -a src saved
expect_exit 0 $CAIRN --key-file "$WO" --json backup src
assert_eq "$(json_get "(j['stats']['files_read'], j['stats']['new_chunks'])")" "(0, 0)" \
  "an unchanged re-backup by the write-only host (files read, chunks added)"
expect_exit 0 $CAIRN --key-file "$WO" backup src
grep -q "changes not counted" "$WORK/.out" || fail "backup output does not say the changes were not counted: $(out)"; ok
expect_exit 0 $CAIRN --key-file "$WO2" --json backup --branch web2 src/include
WEB2=$(json_get "j['id']")

# --- what a write-only key may read: the snapshot list, refs, its keys, the audit log ---
expect_exit 0 $CAIRN --key-file "$WO" --json log --all
assert_eq "$(json_get "len(j)")" "6" "snapshots a write-only key lists"
expect_exit 0 $CAIRN --key-file "$WO" rev-parse main
main_seen_by_wo=$(out)
expect_exit 0 $CAIRN rev-parse main
assert_eq "$main_seen_by_wo" "$(out)" "main as a write-only key resolves it"
expect_exit 0 $CAIRN --key-file "$WO" --json key list
assert_eq "$(json_get "[(k['access'], k['host']) for k in j['keys'] if k['current']]")" "[('write-only', 'web1')]" \
  "the slot a write-only key opened"
expect_exit 0 $CAIRN --key-file "$WO" --json show-config
expect_exit 0 $CAIRN --key-file "$WO" audit verify

# --- everything else refuses with exit 13 and changes nothing ---
before=$(tree_hash repo)
for cmd in "restore latest --target wo-out" "restore $WO_FIRST:bash-doc --target wo-out" "ls latest" "ls latest:bash-doc" \
  "cat latest:bash-doc/README" "diff $WO_FIRST $WO_SECOND" "show latest" "stats" "check" "check --read-data" \
  "ls-tree -r latest" "forget $WO_FIRST --yes" "delete $WO_FIRST --yes" "prune --yes" "tag v1" "branch copy main" \
  "key add --key-file $WO2 --yes" "key remove $(ls repo/keys | head -1) --yes" "key passwd" "repair index" \
  "copy --to $WORK/other" "archive --to $WORK/other --older-than 0d --yes" "bundle create b.cbundle --all" "destroy --yes"; do
  # shellcheck disable=SC2086
  expect_exit 13 $CAIRN --key-file "$WO" $cmd
  expect_one_line_error "write-only"
done
assert_eq "$(tree_hash repo)" "$before" "repository after the refused commands"
[ ! -e wo-out ] || fail "a refused restore wrote something"; ok

# --- a full key reads everything the write-only hosts wrote ---
restores_as -- "$WO_SECOND" saved
restores_as -- "$WEB2" src/include
expect_exit 0 $CAIRN --json check --read-data
expect_exit 0 $CAIRN diff "$WO_FIRST" "$WO_SECOND"
grep -q "new-on-web1.bin" "$WORK/.out" || fail "diff of two write-only snapshots misses the new file: $(out)"; ok

# --- nothing of the keys' secrets is in the repository ---
for k in "$FULL" "$WO" "$WO2"; do
  secret=$(tail -1 "$k")
  ! grep -r -q -F "$secret" repo "$CAIRN_CACHE_DIR" || fail "a key file's secret is in the repository or cache"; ok
done

# --- SIGKILL during write-only backups: nothing half-written is referenced ---
# Each run adds new random data (so there is something to write); a killed
# run leaves its session as a dead holder's (not released), which the next
# run and a full-key check take in their stride; every snapshot that was
# reported restores exactly.
random_tree kill-src 6 8 20000 400000 7
delays=($(growing_delays 25 0.004 1.2))
kills=0
rm -rf saved-kills && mkdir saved-kills
for round in $(seq 1 25); do
  head -c 2000000 /dev/urandom > "kill-src/round-$round.bin"
  run_killed "${delays[$((round - 1))]}" "$WORK/kill.out" $CAIRN --key-file "$WO" --json backup --branch kills kill-src
  if [ "$KILLED" = 1 ]; then
    kills=$((kills + 1))
    continue
  fi
  [ "$RC" = 0 ] || fail "an uninterrupted write-only backup exited $RC: $(err)"
  id=$(python3 -c "import json; print(json.load(open('$WORK/kill.out'))['id'])")
  cp -a kill-src "saved-kills/$id"
done
[ "$kills" -ge 3 ] || fail "only $kills write-only backups were killed midway"; ok
expect_exit 0 $CAIRN --key-file "$WO" --json backup --branch kills kill-src
id=$(json_get "j['id']")
cp -a kill-src "saved-kills/$id"
expect_exit 0 $CAIRN check --read-data
for id in $(ls saved-kills); do restores_as -- "$id" "saved-kills/$id"; done

# --- a damaged pack key of a write-only pack is damage, named ---
# The write-only packs are those whose trailer declares a sealed pack key
# (80 bytes in the second trailer word).
wo_pack=$(python3 - repo <<'EOF'
import os, struct, sys
for root, _, files in os.walk(os.path.join(sys.argv[1], "data")):
    for f in sorted(files):
        p = os.path.join(root, f)
        with open(p, "rb") as fh:
            fh.seek(-16, 2)
            length, boxed = struct.unpack("<II", fh.read(8))
        if boxed == 80 and os.path.getsize(p) > 1000:
            print(p, length)
            sys.exit(0)
EOF
)
[ -n "$wo_pack" ] || fail "no pack of a write-only host found"; ok
set -- $wo_pack
cp -a repo repo-damaged
python3 - "repo-damaged/${1#repo/}" "$2" <<'EOF'
import os, sys
p, length = sys.argv[1], int(sys.argv[2])
size = os.path.getsize(p)
with open(p, "r+b") as f:
    f.seek(size - 16 - length + 5)  # inside the sealed pack key
    b = f.read(1)
    f.seek(-1, 1)
    f.write(bytes([b[0] ^ 0x40]))
EOF
expect_exit 4 $CAIRN -r repo-damaged check --read-data
grep -q "$(basename "$1")" "$WORK/.out" "$WORK/.err" || fail "check does not name the damaged pack: $(out) $(err)"; ok
expect_exit 0 $CAIRN check --read-data
finish
