#!/usr/bin/env bash
# Backups into an S3 repository killed (SIGKILL) at moments ever later: a
# killed backup records no snapshot, or one that restores exactly; after
# every kill `check` passes and the next backup adopts what the killed one
# uploaded, and removes the staging folders the killed ones left; a prune at the end removes what no snapshot needs (and aborts
# unfinished multipart uploads), and check --read-data passes.
source "$(dirname "$0")/lib.sh"
source "$TESTS/e2e/s3lib.sh"
start_s3
export CAIRN_REPO="s3:$S3_ENDPOINT/cairn-kills/r"
# Parts of 5 MiB above 6 MiB: packs of 16 MiB go up in several requests,
# so kills also land between the parts of a multipart upload.
export CAIRN_S3_MULTIPART_THRESHOLD=6MiB CAIRN_S3_PART_SIZE=5MiB
# Packs are staged in TMPDIR; the killed backups leave their staging folders.
mkdir -p "$WORK/tmp"
export TMPDIR=$WORK/tmp
expect_exit 0 $CAIRN init "$CAIRN_REPO"
random_tree src 6 10 200000 1500000 11
mkdir -p saved
delays=($(growing_delays 30 0.02 1.18))
kills=0 completed=0
for round in $(seq 1 30); do
  head -c 2500000 /dev/urandom > "src/d$((round % 6))/new-$round"
  rm -rf "saved/round $round"; cp -a src "saved/round $round"
  run_killed "${delays[$((round - 1))]}" /dev/null $CAIRN -q backup src -m "round $round"
  if [ "$KILLED" = 1 ]; then
    kills=$((kills + 1))
    expect_exit 0 $CAIRN check
    continue
  fi
  [ "$RC" = 0 ] || fail "a backup that was not killed exited $RC: $(err)"
  completed=$((completed + 1))
  [ $completed -ge 3 ] && break
done
echo "S3 backup: $kills kills, $completed completed" >&2
[ "$kills" -ge 3 ] || fail "only $kills backups were killed midway"; ok
# The killed backups' staging folders: once an hour old, the next command
# removes them (its own goes when it ends).
left=$(ls "$TMPDIR" | grep -c '^cairn-s3-staging-' || true)
echo "staging folders the kills left: $left" >&2
[ "$left" -ge 1 ] || fail "no killed backup left a staging folder (were any killed while writing?)"; ok
find "$TMPDIR" -maxdepth 1 -name 'cairn-s3-staging-*' -exec touch -d '2 hours ago' {} +
expect_exit 0 $CAIRN -q backup src -m "final"
cp -a src "saved/final"
assert_eq "$(ls "$TMPDIR" | grep -c '^cairn-s3-staging-' || true)" 0 "staging folders after the next backup"

# Every snapshot recorded, killed or not, restores as its round's source.
expect_exit 0 $CAIRN --json log
python3 -c "
import json
for s in json.load(open('$WORK/.out')): print(s['id'], s['message'])" > "$WORK/snaps"
while read -r id msg; do
  restores_as -- "$id" "saved/$msg"
done < "$WORK/snaps"
# uploads: the number of unfinished multipart uploads on the server.
uploads() {
  python3 - <<'EOF'
import os, subprocess
auth = ["--aws-sigv4", "aws:amz:%s:s3" % os.environ["S3_REGION"], "--user",
        "%s:%s" % (os.environ["S3_ACCESS_KEY"], os.environ["S3_SECRET_KEY"]),
        "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"]
out = subprocess.run(["curl", "-s"] + auth + [os.environ["S3_ENDPOINT"] + "/cairn-kills?prefix=r%2F&uploads="],
                     capture_output=True, check=True).stdout.decode()
print(out.count("<Upload>"))
EOF
}
echo "unfinished multipart uploads the kills left: $(uploads)" >&2
expect_exit 0 $CAIRN --json prune --yes --grace 0
expect_exit 0 $CAIRN check --read-data
restores_as -- latest saved/final
assert_eq "$(uploads)" 0 "unfinished multipart uploads after the prune"
finish
