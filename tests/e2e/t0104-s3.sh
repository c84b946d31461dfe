#!/usr/bin/env bash
# The S3 backend against a real S3 server (Ceph RGW on loopback, which checks
# every SigV4 signature): init, backup, log, ls, diff, restore, check
# --read-data, forget and prune on an encrypted and an unencrypted repository
# under a prefix; multipart uploads; the request counts of the everyday
# commands; a deleted local cache; credentials from ~/.aws/credentials; and
# the bad cases (wrong secret, unknown key, missing bucket, nothing listening,
# malformed locations, no credentials, init over a used prefix), each one
# line with its documented exit code and never the secret; https with the
# certificate verified (a private CA added with CAIRN_S3_CA_FILE).
source "$(dirname "$0")/lib.sh"
source "$TESTS/e2e/s3lib.sh"
start_s3
STATS=$WORK/s3-stats
export CAIRN_S3_STATS=$STATS

# --- an encrypted repository: the whole round trip ---
ENC="s3:$S3_ENDPOINT/cairn-e2e/enc"
expect_exit 0 $CAIRN init "$ENC"
grep -q "$ENC" "$WORK/.out" || fail "init does not name the location: $(out)"; ok
export CAIRN_REPO=$ENC
make_rich_tree src
expect_exit 0 $CAIRN --json backup src -m first
s1=$(json_get "j['snapshot']")
cp -a src saved1
restores_as -- "$s1" saved1
echo "changed" > src/hello.txt
head -c 1000000 /dev/urandom > src/sub/new.bin
rm src/sub/text.txt
expect_exit 0 $CAIRN --json backup src -m second
s2=$(json_get "j['snapshot']")
cp -a src saved2
restores_as -- "$s2" saved2
restores_as -- "$s1" saved1
expect_exit 0 $CAIRN diff "$s1" "$s2"
out | grep -q "^M.*hello.txt" || fail "diff does not show hello.txt modified: $(out)"; ok
out | grep -q "^A.*sub/new.bin" || fail "diff does not show sub/new.bin added: $(out)"; ok
out | grep -q "^D.*sub/text.txt" || fail "diff does not show sub/text.txt deleted: $(out)"; ok
expect_exit 0 $CAIRN --json log
assert_eq "$(json_get "len(j)")" 2 "snapshots in log"
expect_exit 0 $CAIRN ls "$s2:sub"
out | grep -q "new.bin" || fail "ls of sub does not list new.bin: $(out)"; ok
expect_exit 0 $CAIRN check --read-data
expect_exit 0 $CAIRN tag v1 "$s1" -m "release one"
expect_exit 0 $CAIRN --json log v1
assert_eq "$(json_get "j[0]['id']")" "$s1" "tag v1"

# Nothing of the repository lies in the bucket in plaintext: no file name.
python3 - "$S3_ENDPOINT" <<'EOF' || fail "a file name of the source is readable in the bucket"
import subprocess, sys, os
# Fetch every object with curl's own signer and look for a name of the source.
ep = sys.argv[1]
auth = ["--aws-sigv4", "aws:amz:%s:s3" % os.environ["S3_REGION"], "--user",
        "%s:%s" % (os.environ["S3_ACCESS_KEY"], os.environ["S3_SECRET_KEY"]),
        "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"]
listing = subprocess.run(["curl", "-s"] + auth + [ep + "/cairn-e2e?list-type=2&prefix=enc%2F"],
                         capture_output=True, check=True).stdout.decode()
keys = [k.split("</Key>")[0] for k in listing.split("<Key>")[1:]]
assert len(keys) > 10, listing
for k in keys:
    body = subprocess.run(["curl", "-s"] + auth + [ep + "/cairn-e2e/" + k], capture_output=True, check=True).stdout
    for name in (b"hello.txt", b"random.bin", b"rel-link"):
        if name in body:
            print("plaintext", name, "in", k)
            sys.exit(1)
EOF
ok

# --- request counts: the everyday commands make a handful of requests ---
: > "$STATS"
expect_exit 0 $CAIRN --json backup src -m unchanged
unchanged=$(s3_requests "$STATS")
[ "$unchanged" -le 20 ] || fail "an unchanged re-backup made $unchanged requests (goal: at most 20)"; ok
for cmd in "log" "ls $s2" "diff $s1 $s2" "stats"; do
  expect_exit 0 $CAIRN $cmd
  n=$(s3_requests "$STATS")
  [ "$n" -le 15 ] || fail "'cairn $cmd' made $n requests (at most 15 expected)"; ok
done

# --- the local cache is a view: deleted, it is rebuilt ---
rm -rf "$CAIRN_CACHE_DIR"
restores_as -- "$s2" saved2
expect_exit 0 $CAIRN check

# --- forget and prune against the remote repository ---
expect_exit 0 $CAIRN --json forget --keep-last 1 --yes
expect_exit 0 $CAIRN --json prune --yes --grace 0 --max-unused 0
expect_exit 0 $CAIRN check --read-data
restores_as -- latest saved2
restores_as -- v1 saved1   # the tag keeps its snapshot

# --- an unencrypted repository under a deeper prefix; multipart uploads ---
PLAIN="s3:$S3_ENDPOINT/cairn-e2e/plain/a/b"
expect_exit 0 $CAIRN init "$PLAIN" --encryption none
mkdir big
head -c 40000000 /dev/urandom > big/random.bin
: > "$STATS"
expect_exit 0 env CAIRN_S3_MULTIPART_THRESHOLD=6MiB CAIRN_S3_PART_SIZE=5MiB $CAIRN -r "$PLAIN" --json backup big
python3 - "$STATS" <<'EOF' || fail "the backup of 40 MB made no multipart upload: $(cat "$STATS")"
import json, sys
s = json.loads(open(sys.argv[1]).read().splitlines()[-1])
sys.exit(0 if s["POST"] >= 2 else 1)   # start and completion of at least one upload
EOF
ok
restores_as -r "$PLAIN" -- latest big
expect_exit 0 $CAIRN -r "$PLAIN" check --read-data
# The two repositories share a bucket and never see each other's objects.
expect_exit 0 $CAIRN -r "$PLAIN" --json log
assert_eq "$(json_get "len(j)")" 1 "snapshots of the unencrypted repository"

# --- virtual-hosted addressing: BUCKET.localhost:PORT/KEY (the server is
# told its DNS name is localhost; curl resolves *.localhost to loopback) ---
VHOST="s3:http://localhost:${S3_ENDPOINT##*:}/cairn-e2e/vhost"
expect_exit 0 env CAIRN_S3_ADDRESSING=virtual CAIRN_S3_TRACE=1 $CAIRN init "$VHOST"
expect_exit 0 env CAIRN_S3_ADDRESSING=virtual $CAIRN -r "$VHOST" backup saved1
CAIRN_S3_ADDRESSING=virtual restores_as -r "$VHOST" -- latest saved1
# What virtual-hosted requests wrote is where path-style requests find it:
# bucket cairn-e2e, prefix vhost.
restores_as -r "$VHOST" -- latest saved1
code=$(curl -s -o "$WORK/vh.xml" -w '%{http_code}' --aws-sigv4 "aws:amz:$S3_REGION:s3" \
  --user "$S3_ACCESS_KEY:$S3_SECRET_KEY" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' \
  "$S3_ENDPOINT/cairn-e2e?list-type=2&prefix=vhost%2Fconfig")
assert_eq "$code" "200" "listing the virtual-hosted repository path-style"
grep -q "<Key>vhost/config</Key>" "$WORK/vh.xml" || fail "the virtual-hosted init wrote no cairn-e2e/vhost/config"; ok

# --- credentials from a profile in ~/.aws/credentials ---
mkdir -p home/.aws
printf '[ci]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$S3_ACCESS_KEY" "$S3_SECRET_KEY" \
  > home/.aws/credentials
expect_exit 0 env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SHARED_CREDENTIALS_FILE HOME=$WORK/home \
  AWS_PROFILE=ci $CAIRN -r "$PLAIN" log

# --- bad input: one line, the documented exit code, no secret shown ---
secret_free() {
  ! grep -q -F "$S3_SECRET_KEY" "$WORK/.out" "$WORK/.err" || fail "the secret key appears in the output"; ok
}
expect_exit 12 env AWS_SECRET_ACCESS_KEY=wrong-secret-0123456789 $CAIRN log
expect_one_line_error "AWS_SECRET_ACCESS_KEY"
grep -q "wrong-secret-0123456789" "$WORK/.err" && fail "the wrong secret is shown: $(err)"; ok
expect_exit 12 env AWS_ACCESS_KEY_ID=NOSUCHKEY0000000 $CAIRN --json log
expect_one_line_error "refused the credentials"
assert_eq "$(json_get "j['error']['exit_code']")" 12 "JSON exit code"
secret_free
printf '[ci]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$S3_ACCESS_KEY" "not-the-secret-key" \
  > home/.aws/credentials
expect_exit 12 env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SHARED_CREDENTIALS_FILE HOME=$WORK/home \
  AWS_PROFILE=ci $CAIRN -r "$PLAIN" log
expect_one_line_error "profile 'ci' in $WORK/home/.aws/credentials"
expect_exit 10 $CAIRN -r "s3:$S3_ENDPOINT/no-such-bucket/r" log
expect_one_line_error "cairn init"
expect_exit 10 $CAIRN -r "s3:$S3_ENDPOINT/cairn-e2e/no-such-prefix" log
expect_one_line_error "cairn init"
# Nothing listens on port 1: a clear error within the deadline, no hang.
start=$SECONDS
expect_exit 1 env CAIRN_S3_DEADLINE=5 $CAIRN -r "s3:http://127.0.0.1:1/cairn-e2e/x" log
expect_one_line_error "cannot connect to 127.0.0.1:1"
[ $((SECONDS - start)) -le 15 ] || fail "a refused connection took $((SECONDS - start)) s"; ok
expect_exit 2 $CAIRN -r "s3:htp://127.0.0.1/cairn-e2e/x" log
expect_one_line_error "scheme must be http or https"
expect_exit 2 $CAIRN -r "s3:http://127.0.0.1:99999/cairn-e2e/x" log
expect_one_line_error "port"
expect_exit 2 $CAIRN -r "s3:${S3_ENDPOINT}" log
expect_one_line_error "no bucket"
expect_exit 2 $CAIRN -r "s3:http://user:pass@127.0.0.1/cairn-e2e/x" log
expect_one_line_error "never carry credentials"
expect_exit 2 $CAIRN -r "s3:$S3_ENDPOINT/Bad_Bucket/x" log
expect_one_line_error "bucket name"
expect_exit 2 env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY $CAIRN log
expect_one_line_error "AWS_ACCESS_KEY_ID"
expect_exit 2 env -u AWS_SECRET_ACCESS_KEY $CAIRN log
expect_one_line_error "AWS_SECRET_ACCESS_KEY is not set"
expect_exit 6 $CAIRN init "$ENC"
expect_one_line_error "already exists"
expect_exit 6 $CAIRN init "s3:$S3_ENDPOINT/cairn-e2e/plain" --encryption none
expect_one_line_error "not empty"

# --- https: the server's certificate is verified, always; a private CA is
# added with CAIRN_S3_CA_FILE; a certificate for another name is refused.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
  -keyout tls.key -out tls.crt 2>/dev/null || fail "openssl cannot make a test certificate"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=other.example -addext subjectAltName=DNS:other.example \
  -keyout other.key -out other.crt 2>/dev/null || fail "openssl cannot make a test certificate"
start_proxy --faults "" --tls tls.crt tls.key
HTTPS="s3:https://${PROXY#http://}/cairn-e2e/plain/a/b"
expect_exit 1 $CAIRN -r "$HTTPS" log
expect_one_line_error "set CAIRN_S3_CA_FILE"
expect_exit 0 env CAIRN_S3_CA_FILE=$WORK/tls.crt $CAIRN -r "$HTTPS" --json log
assert_eq "$(json_get "len(j)")" 1 "snapshots over https"
CAIRN_S3_CA_FILE=$WORK/tls.crt restores_as -r "$HTTPS" -- latest big
expect_exit 2 env CAIRN_S3_CA_FILE=$WORK/no-such.crt $CAIRN -r "$HTTPS" log
expect_one_line_error "CAIRN_S3_CA_FILE"
start_proxy --faults "" --tls other.crt other.key
expect_exit 1 env CAIRN_S3_CA_FILE=$WORK/other.crt $CAIRN -r "s3:https://${PROXY#http://}/cairn-e2e/plain/a/b" log
expect_one_line_error "S3"

# Secrets never reach the local cache or the audit log either.
! grep -r -q -F "$S3_SECRET_KEY" "$CAIRN_CACHE_DIR" || fail "the secret key is in the local cache"; ok
expect_exit 0 $CAIRN --json audit log
secret_free

# destroy empties the prefix (the other repository in the bucket stays),
# and a new repository can be made there.
expect_exit 0 $CAIRN -r "$PLAIN" destroy --yes
expect_exit 10 $CAIRN -r "$PLAIN" log
expect_one_line_error "cairn init"
expect_exit 0 $CAIRN check
expect_exit 0 $CAIRN init "$PLAIN" --encryption none
finish
