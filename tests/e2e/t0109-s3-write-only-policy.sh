#!/usr/bin/env bash
# A write-only host under the recommended bucket policy (docs/s3.md): its S3
# user may read, list and write objects but is denied DeleteObject by the
# server, and its cairn key is write-only. It backs up round after round
# (beside a full-key host backing up at the same time, so the ref lock
# passes between a host that deletes it and one that may not), never
# needs a DELETE, leaves its sessions and the ref lock released rather than
# removed, and cannot delete an object itself (the server refuses). A
# full-key host then restores every one of its snapshots exactly, forgets,
# prunes (removing the released sessions) and check --read-data passes.
source "$(dirname "$0")/lib.sh"
source "$TESTS/e2e/s3lib.sh"
start_s3
BUCKET=cairn-policy
REPO="s3:$S3_ENDPOINT/$BUCKET/r"
FULL_AK=$AWS_ACCESS_KEY_ID FULL_SK=$AWS_SECRET_ACCESS_KEY
WEB_AK=WEB1ACCESSKEY0000001 WEB_SK=web1-secret-0123456789abcdefghijklmnop

# A second S3 user for the write-only host (radosgw reads users from RADOS:
# no restart).
timeout 60 radosgw-admin -c "$WORK/s3/ceph.conf" -n client.admin user create --uid=web1 \
  --display-name="write-only host" --access-key="$WEB_AK" --secret-key="$WEB_SK" >"$WORK/user.log" 2>&1 ||
  fail "radosgw-admin user create failed: $(tail -5 "$WORK/user.log")"
ok

expect_exit 0 $CAIRN init "$REPO"
export CAIRN_REPO=$REPO
expect_exit 0 $CAIRN key generate "$WORK/web1.key"
expect_exit 0 $CAIRN key add --write-only --host web1 --key-file "$WORK/web1.key" --yes

# s3curl AK SK METHOD PATH [curl args...]: a SigV4-signed request; prints the HTTP status.
s3curl() {
  local ak=$1 sk=$2 method=$3 path=$4; shift 4
  curl -s -o "$WORK/curl.out" -w '%{http_code}' --max-time 20 -X "$method" \
    --aws-sigv4 "aws:amz:$S3_REGION:s3" --user "$ak:$sk" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' \
    "$@" "$S3_ENDPOINT/$path"
}

# The policy of docs/s3.md: web1 may list, read and write, and is denied
# every delete. The bucket's owner (the full-key host) keeps full access.
cat > "$WORK/policy.json" <<EOF
{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "HostsWrite", "Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam:::user/web1"]},
     "Action": ["s3:ListBucket", "s3:ListBucketMultipartUploads", "s3:GetObject", "s3:PutObject",
                "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
     "Resource": ["arn:aws:s3:::$BUCKET", "arn:aws:s3:::$BUCKET/*"]},
    {"Sid": "HostsNeverDelete", "Effect": "Deny", "Principal": {"AWS": ["arn:aws:iam:::user/web1"]},
     "Action": ["s3:DeleteObject", "s3:DeleteObjectVersion", "s3:DeleteBucket", "s3:PutBucketPolicy"],
     "Resource": ["arn:aws:s3:::$BUCKET", "arn:aws:s3:::$BUCKET/*"]}
  ]
}
EOF
code=$(s3curl "$FULL_AK" "$FULL_SK" PUT "$BUCKET?policy=" --data-binary "@$WORK/policy.json" \
  -H "Content-MD5: $(openssl md5 -binary "$WORK/policy.json" | base64)")
[ "$code" = 200 ] || [ "$code" = 204 ] || fail "PutBucketPolicy answered $code: $(cat "$WORK/curl.out")"; ok

# The server enforces it: web1 reads and writes, and may not delete.
code=$(s3curl "$WEB_AK" "$WEB_SK" PUT "$BUCKET/probe" --data-binary "probe")
assert_eq "$code" "200" "a PUT by the write-only host's user"
code=$(s3curl "$WEB_AK" "$WEB_SK" GET "$BUCKET/r/config")
assert_eq "$code" "200" "a GET by the write-only host's user"
code=$(s3curl "$WEB_AK" "$WEB_SK" DELETE "$BUCKET/probe")
assert_eq "$code" "403" "a DELETE by the write-only host's user"
code=$(s3curl "$FULL_AK" "$FULL_SK" DELETE "$BUCKET/probe")
assert_eq "$code" "204" "a DELETE by the bucket's owner"

# web1: AWS credentials of its own user, its write-only key, its own cache,
# the grant that lets the bucket's owner read and remove what it writes
# (RGW gives each object to its writer); every request it sends is traced
# on stderr (CAIRN_S3_TRACE).
web1() {
  AWS_ACCESS_KEY_ID=$WEB_AK AWS_SECRET_ACCESS_KEY=$WEB_SK CAIRN_KEY_FILE=$WORK/web1.key \
    CAIRN_CACHE_DIR=$WORK/cache-web1 CAIRN_S3_ACL=bucket-owner-full-control CAIRN_S3_TRACE=1 "$@"
}
# no_delete_sent WHAT: web1's last command sent no DELETE and met no refusal.
no_delete_sent() {
  grep -q "^cairn: s3 DELETE" "$WORK/.err" && fail "$1 sent a DELETE: $(grep "^cairn: s3 DELETE" "$WORK/.err" | head -3)"
  grep -v "^cairn: s3 " "$WORK/.err" | grep -q -i "denied\|403\|warning" && fail "$1 met a refusal: $(err)"
  ok
}
full() { CAIRN_CACHE_DIR=$WORK/cache-full "$@"; }

mkdir -p src-web1 src-full saved
cp -r /usr/share/doc/bash src-web1/doc
cp -r /usr/share/doc/coreutils src-full/doc 2>/dev/null || cp -r /usr/share/doc/bash src-full/doc
ROUNDS=${POLICY_ROUNDS:-6}
full_host() {
  local i
  for i in $(seq 1 "$ROUNDS"); do
    head -c 50000 /dev/urandom > src-full/state.bin
    full $CAIRN backup src-full --branch full -m "full $i" >"$WORK/out-full" 2>"$WORK/err-full" ||
      { echo "full backup $i failed: $(cat "$WORK/err-full")" > "$WORK/failed-full"; return 1; }
  done
}
full_host & full_pid=$!
for i in $(seq 1 "$ROUNDS"); do
  head -c $((100000 + RANDOM * 5)) /dev/urandom > "src-web1/state-$i.bin"
  [ "$i" -gt 2 ] && rm -f "src-web1/state-$((i - 2)).bin"
  echo "round $i" >> src-web1/doc/changes.log
  expect_exit 0 web1 $CAIRN --json backup src-web1 -m "web1 $i"
  id=$(json_get "j['id']")
  no_delete_sent "backup $i of web1"
  cp -a src-web1 "saved/$id"
  echo "$id" >> "$WORK/web1-ids"
done
wait $full_pid || true
[ ! -e "$WORK/failed-full" ] || fail "$(cat "$WORK/failed-full")"; ok

# Every backup of both hosts is there.
expect_exit 0 full $CAIRN --json log --all
assert_eq "$(json_get "len([s for s in j if s['branch'] == 'main'])")" "$ROUNDS" "snapshots of web1"
assert_eq "$(json_get "len([s for s in j if s['branch'] == 'full'])")" "$ROUNDS" "snapshots of the full host"
# (The full host's backups removed the released sessions they saw.) One
# more backup of web1 alone leaves its session and the ref lock released:
# every session object left is a released one.
echo "alone" >> src-web1/doc/changes.log
expect_exit 0 web1 $CAIRN --json backup src-web1 -m "web1 alone"
no_delete_sent "the last backup of web1"
id=$(json_get "j['id']")
cp -a src-web1 "saved/$id"
echo "$id" >> "$WORK/web1-ids"
code=$(s3curl "$FULL_AK" "$FULL_SK" GET "$BUCKET?list-type=2&prefix=r%2Flocks%2F")
sessions=$(grep -o '<Key>r/locks/session-backup-[^<]*</Key>' "$WORK/curl.out" | sed 's/<Key>//; s/<\/Key>//')
# (One more if web1's last concurrent backup ended after the full host's last.)
[ "$(echo "$sessions" | grep -c .)" -ge 1 ] || fail "web1 left no released session: $(cat "$WORK/curl.out")"; ok
for obj in $sessions r/locks/refs; do
  code=$(s3curl "$FULL_AK" "$FULL_SK" GET "$BUCKET/$obj")
  assert_eq "$code" "200" "GET $obj"
  grep -q '"released":true' "$WORK/curl.out" || fail "$obj is not marked released: $(cat "$WORK/curl.out")"; ok
done
# The write-only key still refuses to read or delete, under any credentials.
expect_exit 13 web1 $CAIRN restore latest --target web1-out
expect_exit 13 web1 $CAIRN forget latest --yes
expect_exit 13 web1 $CAIRN prune --yes

# A full key restores every snapshot web1 made, exactly.
RESTORED=$WORK/restored
while read -r id; do
  expect_exit 0 full $CAIRN restore "$id" --target "$RESTORED/$id"
done < "$WORK/web1-ids"
compare_trees $(cat "$WORK/web1-ids") || fail "a snapshot of web1 does not restore as its source was"; ok

# The full-key host forgets and prunes; released sessions go with the prune.
expect_exit 0 full $CAIRN forget --all-branches --keep-last 2 --yes
expect_exit 0 full $CAIRN prune --yes --grace 0 --max-unused 0
code=$(s3curl "$FULL_AK" "$FULL_SK" GET "$BUCKET?list-type=2&prefix=r%2Flocks%2Fsession-")
assert_eq "$(grep -o '<Key>[^<]*</Key>' "$WORK/curl.out" | wc -l)" "0" "session objects left after prune"
newest=$(tail -1 "$WORK/web1-ids")
rm -rf "$RESTORED" && mkdir -p "$RESTORED"
expect_exit 0 full $CAIRN restore "$newest" --target "$RESTORED/$newest"
compare_trees "$newest" || fail "web1's newest snapshot does not restore after the prune"; ok
expect_exit 0 full $CAIRN check --read-data
# And web1 goes on backing up after the prune.
echo "after prune" >> src-web1/doc/changes.log
expect_exit 0 web1 $CAIRN backup src-web1 -m "web1 after prune"
no_delete_sent "the backup of web1 after the prune"
finish
