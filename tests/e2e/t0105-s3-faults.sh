#!/usr/bin/env bash
# The S3 backend through a fault-injecting proxy (tests/tools/s3proxy.py)
# in front of a real S3 server: dropped connections before and after the
# server applied a request, delays, 500/503/429 answers, truncated bodies and
# reordered listings on about one request in six. Every backup either
# succeeds, and then its snapshot restores exactly, or fails with one clear
# line and records no snapshot; nothing half-written is ever referenced
# (check --read-data passes on the direct connection afterwards). A server
# that always fails gives up within the deadline; a bucket in another region
# is named with the region to set.
source "$(dirname "$0")/lib.sh"
source "$TESTS/e2e/s3lib.sh"
start_s3
start_proxy --rate 0.16 --seed 7
export CAIRN_S3_ATTEMPTS=12

FAULTY="s3:$PROXY/cairn-faults/r"
DIRECT="s3:$S3_ENDPOINT/cairn-faults/r"
expect_exit 0 $CAIRN init "$FAULTY"
export CAIRN_REPO=$FAULTY
make_rich_tree src
mkdir -p saved
ok_runs=0 failed_runs=0
for round in $(seq 1 10); do
  head -c $((200000 * round)) /dev/urandom > "src/round-$round.bin"
  echo "round $round" > src/hello.txt
  [ $round -gt 3 ] && rm -f "src/round-$((round - 3)).bin"
  set +e
  $CAIRN --json backup src -m "round $round" >"$WORK/.out" 2>"$WORK/.err"
  rc=$?
  set -e
  if [ $rc = 0 ]; then
    id=$(json_get "j['snapshot']")
    rm -rf "saved/$id"; cp -a src "saved/$id"
    ok_runs=$((ok_runs + 1))
  else
    # A failure names what failed on one line, and leaves no snapshot.
    expect_one_line_error "S3"
    failed_runs=$((failed_runs + 1))
  fi
done
echo "backups through the proxy: $ok_runs succeeded, $failed_runs failed" >&2
[ $ok_runs -ge 5 ] || fail "only $ok_runs of 10 backups got through the retries"; ok

# Each kind of fault was injected.
for kind in drop_before drop_after status delay truncate reorder; do
  grep -q "^$kind " "$PROXY_LOG" || fail "the proxy never injected '$kind' ($(cut -d' ' -f1 "$PROXY_LOG" | sort | uniq -c | tr '\n' ' '))"; ok
done

# On the direct connection: exactly the snapshots that succeeded, each
# restoring exactly, and nothing damaged or half-written.
expect_exit 0 $CAIRN -r "$DIRECT" --json log
got=$(json_get "' '.join(sorted(s['id'] for s in j))")
want=$(ls saved | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//')
assert_eq "$got" "$want" "the snapshots recorded"
expect_exit 0 $CAIRN -r "$DIRECT" check --read-data
RESTORED=$WORK/restored
mkdir -p "$RESTORED"
for id in $(ls saved); do
  expect_exit 0 $CAIRN -r "$DIRECT" restore "$id" --target "$RESTORED/$id"
done
compare_trees $(ls saved) || fail "a snapshot restored from S3 differs from its source"; ok

# Restores through the faults are exact too (or fail clearly, never wrong).
rm -rf "$RESTORED"; mkdir -p "$RESTORED"
restored_through=0
for id in $(ls saved); do
  set +e
  $CAIRN restore "$id" --target "$RESTORED/$id" >"$WORK/.out" 2>"$WORK/.err"
  rc=$?
  set -e
  if [ $rc = 0 ]; then
    restored_through=$((restored_through + 1))
    compare_trees "$id" || fail "snapshot $id restored through the faulty proxy differs"; ok
  else
    expect_one_line_error "S3"
    rm -rf "${RESTORED:?}/$id"
  fi
done
[ $restored_through -ge 1 ] || fail "no restore got through the proxy"; ok

# A server that always fails: the command gives up within the deadline,
# with the attempts counted, and records nothing.
start_proxy --faults always500
before=$(ls saved | wc -l)
start=$SECONDS
expect_exit 1 env CAIRN_S3_DEADLINE=6 $CAIRN -r "s3:$PROXY/cairn-faults/r" backup src
expect_one_line_error "HTTP 500 InternalError"
[ $((SECONDS - start)) -le 20 ] || fail "giving up took $((SECONDS - start)) s with a 6 s deadline"; ok
expect_exit 0 $CAIRN -r "$DIRECT" --json log
assert_eq "$(json_get "len(j)")" "$before" "snapshots after the failed backup"

# A bucket in another region: the region to set is named.
start_proxy --faults region
expect_exit 2 $CAIRN -r "s3:$PROXY/cairn-faults/r" log
expect_one_line_error "set AWS_DEFAULT_REGION=eu-west-9"
finish
