# Helpers for the end-to-end tests of the S3 backend, sourced after lib.sh.
# start_s3 starts a real S3 server (Ceph RGW, tests/tools/ceph-rgw.sh: a
# single-node cluster on loopback that checks SigV4 signatures) under
# $WORK/s3, exports its credentials the way a user would (AWS_*), and makes
# the exit trap stop exactly the daemons it recorded before $WORK is removed.
RGW="$TESTS/tools/ceph-rgw.sh"

s3_cleanup() {
  [ -f "$WORK/s3/pids" ] && "$RGW" stop "$WORK/s3" >/dev/null 2>&1
  [ -n "${PROXY_PID:-}" ] && kill "$PROXY_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap s3_cleanup EXIT

start_s3() {
  local t0=$SECONDS try
  # A start that fails (a daemon that exits during start-up on a loaded
  # machine) is tried again from scratch, twice; what went wrong is shown.
  for try in 1 2 3; do
    "$RGW" start "$WORK/s3" >"$WORK/s3.env" 2>"$WORK/s3.log" && break
    echo "ceph-rgw.sh start failed (try $try):" >&2
    grep -h -i -E "error|abort|fail|unable" "$WORK/s3.log" "$WORK"/s3/log/*.log 2>/dev/null | grep -v rocksdb |
      tail -15 >&2
    [ $try = 3 ] && fail "the S3 server (Ceph RGW) did not start"
    rm -rf "$WORK/s3"
  done
  set -a; . "$WORK/s3.env"; set +a
  export AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET_KEY AWS_DEFAULT_REGION=$S3_REGION
  unset AWS_PROFILE AWS_SESSION_TOKEN AWS_REGION
  # No profile files of the machine's user: only what a case sets counts.
  export AWS_SHARED_CREDENTIALS_FILE=$WORK/no-aws-credentials AWS_CONFIG_FILE=$WORK/no-aws-config
  echo "S3 server up in $((SECONDS - t0)) s at $S3_ENDPOINT" >&2
}

# s3_requests FILE: the total request count of the last line the backend
# appended to FILE (CAIRN_S3_STATS), then empties FILE.
s3_requests() {
  python3 -c "import json,sys; print(json.loads(open(sys.argv[1]).read().splitlines()[-1])['requests'])" "$1"
  : > "$1"
}

# start_proxy ARGS...: the fault-injecting proxy (tests/tools/s3proxy.py) in
# front of the server; sets PROXY (its endpoint) and PROXY_LOG (one line per
# injected fault). A proxy started before is stopped first.
start_proxy() {
  if [ -n "${PROXY_PID:-}" ]; then kill "$PROXY_PID" 2>/dev/null || true; wait "$PROXY_PID" 2>/dev/null || true; fi
  rm -f "$WORK/proxy.port"
  PROXY_LOG=$WORK/proxy.log
  : > "$PROXY_LOG"
  python3 "$TESTS/tools/s3proxy.py" "${S3_ENDPOINT#http://}" "$WORK/proxy.port" "$PROXY_LOG" "$@" \
    2>"$WORK/proxy.err" &
  PROXY_PID=$!
  for _ in $(seq 100); do [ -f "$WORK/proxy.port" ] && break; sleep 0.05; done
  [ -f "$WORK/proxy.port" ] || fail "the fault proxy did not start: $(cat "$WORK/proxy.err")"
  PROXY="http://127.0.0.1:$(cat "$WORK/proxy.port")"
}
