#!/usr/bin/env bash
# cairn copy between repositories with different keys, encryption and chunk
# sizes: every snapshot, branch and tag arrives, restores exactly, keeps its
# parents, times and messages; a second copy adds nothing; copies back and
# onward recognise what is already there (copied_from); refs that differ in
# the target are left alone (exit 6); bad targets and keys are refused with
# one line and the target unchanged; both audit logs record the copy with
# the target's password command hidden. Killing a copy at random moments
# and running it again until it completes loses and duplicates nothing.
source "$(dirname "$0")/lib.sh"

# The history: main with three snapshots (a tag on the first), a branch
# "dev" off the second.
expect_exit 0 $CAIRN init src-repo
export CAIRN_REPO=$WORK/src-repo
make_rich_tree src
expect_exit 0 $CAIRN --json backup src -m "first"
s1=$(json_get "j['snapshot']")
cp -a src saved1
expect_exit 0 $CAIRN tag v1 "$s1" -m "release one"
head -c 2000000 /dev/urandom > src/sub/more.bin
echo "changed" > src/hello.txt
expect_exit 0 $CAIRN --json backup src -m "second"
s2=$(json_get "j['snapshot']")
cp -a src saved2
expect_exit 0 $CAIRN branch dev "$s2"
echo "on dev" > src/dev.txt
expect_exit 0 $CAIRN --json backup src -m "dev work" --branch dev
s3=$(json_get "j['snapshot']")
cp -a src saved3
rm src/dev.txt
rm src/sub/random.bin
expect_exit 0 $CAIRN --json backup src -m "third"
s4=$(json_get "j['snapshot']")
cp -a src saved4

history_text >graph.src

# --- into an unencrypted repository with smaller chunks: cut again ---
expect_exit 0 $CAIRN init plain --encryption none --avg-chunk 16384
expect_exit 0 $CAIRN -r plain snapshots  # makes its local cache
before=$(tree_hash plain)
expect_exit 0 $CAIRN --json copy --to plain --dry-run
assert_eq "$(json_get "j['copied']")" "4" "a dry run counts the snapshots to copy"
assert_eq "$(tree_hash plain)" "$before" "a dry run writes nothing into the target"
expect_exit 0 $CAIRN --json copy --to plain
assert_eq "$(json_get "j['copied']")" "4" "snapshots copied"
assert_eq "$(json_get "j['rechunked']")" "True" "other chunker parameters: content cut again"
assert_eq "$(json_get "sorted(r['ref'] + ' ' + r['result'] for r in j['refs'])")" \
  "['branches/dev created', 'branches/main created', 'tags/v1 created']" "refs copied"
expect_exit 0 $CAIRN -r plain check --read-data
history_text -r plain >graph.plain
diff graph.src graph.plain || fail "the copied history differs (messages, times, branches, parents)"; ok
restores_as -r plain -- v1 saved1
restores_as -r plain -- main~1 saved2
restores_as -r plain -- dev saved3
restores_as -r plain -- main saved4
expect_exit 0 $CAIRN -r plain --json tag -l
assert_eq "$(json_get "j[0]['name'] + ': ' + j[0]['message']")" "v1: release one" "the tag's message"
expect_exit 0 $CAIRN -r plain --json show v1
assert_eq "$(json_get "j['copied_from']")" "$s1" "a copied snapshot names the one it came from"
# The chunks really are the target's: smaller on average than the source's.
expect_exit 0 $CAIRN -r plain --json stats
plain_chunks=$(json_get "j['chunks']")
expect_exit 0 $CAIRN --json stats
src_chunks=$(json_get "j['chunks']")
[ "$plain_chunks" -gt "$src_chunks" ] || fail "16 KiB chunks ($plain_chunks) are not more than 128 KiB ones ($src_chunks)"; ok

# A second copy adds nothing.
before=$(tree_hash plain)
expect_exit 0 $CAIRN --json copy --to plain
assert_eq "$(json_get "j['copied']") $(json_get "j['bytes_read']")" "0 0" "a second copy reads and copies nothing"
assert_eq "$(tree_hash plain)" "$before" "a second copy changes nothing in the target"

# A new snapshot: only it is copied, and files unchanged since its parent
# are not read again.
echo "fourth" > src/hello.txt
expect_exit 0 $CAIRN --json backup src -m "fourth"
s5=$(json_get "j['snapshot']")
cp -a src saved5
expect_exit 0 $CAIRN --json copy --to plain main
assert_eq "$(json_get "j['copied']")" "1" "only the new snapshot"
read_bytes=$(json_get "j['bytes_read']")
[ "$read_bytes" -lt 100000 ] || fail "the incremental copy read $read_bytes bytes for a one-line change"; ok
assert_eq "$(json_get "[r['result'] for r in j['refs']]")" "['updated']" "main moved forward in the target"
restores_as -r plain -- main saved5

# --- onward into an encrypted repository with its own key, and back ---
$CAIRN key generate key2 >/dev/null
expect_exit 0 $CAIRN -r enc --key-file key2 init
expect_exit 0 $CAIRN -r plain --json copy --to enc --to-key-file key2
assert_eq "$(json_get "j['copied']")" "5" "unencrypted to encrypted"
expect_exit 0 $CAIRN -r enc --key-file key2 check --read-data
restores_as -r enc --key-file key2 -- dev saved3
restores_as -r enc --key-file key2 -- main saved5
expect_exit 0 $CAIRN -r enc --key-file key2 --json show main
assert_eq "$(json_get "j['copied_from']")" "$s5" "a copy of a copy names the first snapshot"
# The target's keys come only from the --to-* flags and CAIRN_TO_*.
CAIRN_TO_KEY_FILE=$WORK/key2 expect_exit 0 $CAIRN -r plain --json copy --to enc
assert_eq "$(json_get "j['copied']")" "0" "CAIRN_TO_KEY_FILE opens the target"
# Back into the source: everything is already there.
before=$(tree_hash src-repo)
expect_exit 0 $CAIRN -r enc --key-file key2 --json copy --to src-repo --to-key-file "$CAIRN_KEY_FILE"
assert_eq "$(json_get "j['copied']")" "0" "copied back: nothing new"
assert_eq "$(tree_hash src-repo)" "$before" "copied back: the source unchanged"

# --- the same chunker (init --chunker-from): every id kept, nothing cut again ---
expect_exit 0 $CAIRN init kept --encryption none --chunker-from plain
expect_exit 0 $CAIRN -r plain --json copy --to kept
assert_eq "$(json_get "j['rechunked']")" "False" "the same chunker: not cut again"
assert_eq "$(json_get "all(s['source'] == s['target'] for s in j['snapshots'])") $(json_get "j['copied']")" "True 5" \
  "the same naming: every snapshot keeps its id"
assert_eq "$(json_get "j['files_rechunked']")" "0" "no file cut again"
expect_exit 0 $CAIRN -r kept check --read-data
restores_as -r kept -- dev saved3
restores_as -r kept -- main saved5
expect_exit 0 $CAIRN -r plain --json stats
plain_chunks=$(json_get "j['chunks']")
expect_exit 0 $CAIRN -r kept --json stats
assert_eq "$(json_get "j['chunks']")" "$plain_chunks" "the same chunks"
expect_exit 2 $CAIRN init kept2 --chunker-from enc
expect_one_line_error "--encryption none"
expect_exit 2 $CAIRN init kept2 --encryption none --chunker-from enc
expect_one_line_error "is encrypted"
expect_exit 10 $CAIRN init kept2 --encryption none --chunker-from nowhere
expect_one_line_error "nowhere"
[ ! -e kept2 ] || fail "a refused init created kept2"; ok

# --- refs that differ in the target are left alone ---
expect_exit 0 $CAIRN init other
expect_exit 0 $CAIRN -r other backup saved1 -m "unrelated"
expect_exit 0 $CAIRN -r other tag v1 -m "theirs"
expect_exit 6 $CAIRN --json copy --to other --to-key-file "$CAIRN_KEY_FILE"
assert_eq "$(json_get "[r['result'] for r in j['refs'] if r['ref'] == 'tags/v1']")" "['conflict']" "tag conflict"
assert_eq "$(json_get "[r['result'] for r in j['refs'] if r['ref'] == 'branches/main']")" "['conflict']" "main diverged"
assert_eq "$(json_get "j['copied']")" "5" "the snapshots are copied all the same"
grep -q "left as they are" "$WORK/.err" || fail "the conflict is not explained: $(err)"; ok
expect_exit 0 $CAIRN -r other --json tag -l
assert_eq "$(json_get "j[0]['message']")" "theirs" "the target's tag was not moved"
expect_exit 0 $CAIRN -r other check

# --- bad targets, keys and arguments: one line, nothing written ---
before=$(tree_hash enc)
expect_exit 10 $CAIRN copy --to nowhere
expect_one_line_error "no repository at the target 'nowhere'"
$CAIRN key generate wrong-key >/dev/null
expect_exit 11 $CAIRN copy --to enc --to-key-file wrong-key
expect_one_line_error "enc"
expect_exit 11 $CAIRN copy --to enc
expect_one_line_error "open it with --to-key-file"
expect_exit 0 $CAIRN -r pw0 --key-file key2 init
expect_exit 0 $CAIRN -r pw0 --key-file key2 key add --new-password-file key2 --yes
expect_exit 2 $CAIRN copy --to pw0
expect_one_line_error "CAIRN_TO_PASSWORD"
expect_exit 2 $CAIRN copy --to "$CAIRN_REPO" --to-key-file "$CAIRN_KEY_FILE"
expect_one_line_error "same repository"
expect_exit 5 $CAIRN copy --to enc --to-key-file key2 no-such-rev
expect_one_line_error "no-such-rev"
expect_exit 2 $CAIRN copy --to enc --to-key-file key2 --all main
expect_one_line_error "not both"
expect_exit 2 $CAIRN copy main
expect_one_line_error "--to"
assert_eq "$(tree_hash enc)" "$before" "refused copies left the target unchanged"

# --- both audit logs; the target's password command hidden ---
echo "pw-of-target" > pwfile
expect_exit 0 env -u CAIRN_KEY_FILE $CAIRN -r pw --password-file pwfile init
expect_exit 0 $CAIRN copy --to pw --to-password-command "cat $WORK/pwfile" v1
expect_exit 0 env -u CAIRN_KEY_FILE $CAIRN -r pw --password-file pwfile --json audit log
python3 - "$WORK/.out" "$s1" <<'EOF' || fail "the target's audit log lacks the copy"
import json, sys
log = json.load(open(sys.argv[1]))
log = log.get("entries", log) if isinstance(log, dict) else log
copies = [e for e in log if e["operation"] == "copy"]
assert len(copies) == 1, log
e = copies[0]
assert e["result"] == "ok" and len(e["snapshots"]) == 1, e
assert "--to-password-command=(hidden)" in e["args"], e["args"]
assert not any("pwfile" in a for a in e["args"]), e["args"]
EOF
ok
expect_exit 0 $CAIRN --json audit log
python3 - "$WORK/.out" "$s1" <<'EOF' || fail "the source's audit log lacks the copy"
import json, sys
log = json.load(open(sys.argv[1]))
log = log.get("entries", log) if isinstance(log, dict) else log
copies = [e for e in log if e["operation"] == "copy" and e["result"] == "ok"]
assert copies and sys.argv[2] in copies[-1]["snapshots"], copies[-1:]
assert all("cat " not in a for e in log for a in e["args"]), "a password command in the source's log"
EOF
ok
grep -r -q -F "pw-of-target" pw src-repo .cache 2>/dev/null && fail "the target's password is stored somewhere"; ok

# --- killed at moments ever later, then run again until it completes ---
expect_exit 0 $CAIRN init big-src --encryption none
random_tree bigsrc 4 12 100000 900000 7
expect_exit 0 $CAIRN -r big-src backup bigsrc -m b1
cp -a bigsrc bsaved1
head -c 3000000 /dev/urandom > bigsrc/d0/new
expect_exit 0 $CAIRN -r big-src backup bigsrc -m b2
cp -a bigsrc bsaved2
expect_exit 0 $CAIRN -r big-src tag rel -m "big release"
expect_exit 0 $CAIRN init big-dst --encryption none --avg-chunk 65536
kills=0
# Later and later (computed first: starting python3 takes longer than the
# first delays; growing by 15 % a round, so that a slow build, ASan's, also
# reaches a run that completes): the first rounds die early.
delays=($(growing_delays 40 0.004 1.15))
completed=0
for round in $(seq 1 40); do
  run_killed "${delays[$((round - 1))]}" /dev/null $CAIRN -r big-src -q copy --to big-dst
  if [ "$KILLED" = 1 ]; then
    kills=$((kills + 1))
    expect_exit 0 $CAIRN -r big-dst check
    continue
  fi
  [ "$RC" = 0 ] || fail "an uninterrupted copy exited $RC: $(err)"
  completed=1
  break
done
[ "$kills" -ge 1 ] || fail "no copy was killed midway (the data set is too small for the delays)"; ok
# Resumed: a copy left alone finishes what the killed ones left (nothing,
# when the loop's last run completed), and one more finds nothing to do.
expect_exit 0 $CAIRN -r big-src -q copy --to big-dst
expect_exit 0 $CAIRN -r big-src --json copy --to big-dst
assert_eq "$(json_get "j['copied']") $(json_get "j['bytes_read']")" "0 0" "after the completed copy nothing is left to do"
expect_exit 0 $CAIRN -r big-dst --json snapshots
assert_eq "$(json_get "len(j)")" "2" "no snapshot copied twice after $kills kills"
expect_exit 0 $CAIRN -r big-dst check --read-data
restores_as -r big-dst -- rel bsaved2
restores_as -r big-dst -- main~1 bsaved1
echo "copy: $kills kills, then a copy that completed ($([ $completed = 1 ] && echo "in the loop" || echo "after it"))"
finish
