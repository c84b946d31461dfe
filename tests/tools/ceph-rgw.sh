#!/usr/bin/env bash
# (The team's shared script, kept here so that a clean clone's tests can
# start the server; scripts/setup.sh installs its Debian packages.)
# ceph-rgw.sh - run a real, throw-away S3 server (Ceph RADOS Gateway) on 127.0.0.1
# for tests. Single-node Ceph: one ceph-mon, one ceph-osd on the in-memory
# "memstore" object store, one radosgw. No ceph-mgr (not needed for S3 I/O).
# Uses only Debian 12 packages (Ceph 16.2.x "pacific").
#
#   ceph-rgw.sh start  DIR   start everything under DIR; prints S3_* lines on
#                            stdout and writes them to DIR/env
#   ceph-rgw.sh stop   DIR   stop exactly the daemons started by "start DIR"
#                            (by the PIDs recorded in DIR/pids)
#   ceph-rgw.sh status DIR   show the recorded daemons, alive or not, and memory
#
# Optional environment for "start":
#   S3_ACCESS_KEY, S3_SECRET_KEY  use these keys instead of random ones
#   S3_REGION                     region name to advertise (default us-east-1;
#                                 RGW accepts any region in a SigV4 scope)
#   S3_PORT                       HTTP port (default: a free port)
#   CEPH_RGW_TIMEOUT              seconds to wait for readiness (default 120)
#   CEPH_RGW_MEMSTORE_MB          size the OSD reports as its capacity (default 4096)
#   CEPH_RGW_DEBUG=1              verbose radosgw/osd/mon logs in DIR/log
#   CEPH_RGW_NO_INSTALL=1         never run apt-get; fail if Ceph is missing
#
# Progress and errors go to stderr; only the S3_* lines go to stdout, so
#   eval "$(ceph-rgw.sh start /tmp/s3)"      works, as does
#   set -a; . /tmp/s3/env; set +a
set -euo pipefail
unset CEPH_ARGS CEPH_CONF  # only our own ceph.conf and keyring are used

PKGS=(ceph-mon ceph-osd radosgw ceph-common)
BINS=(ceph-mon ceph-osd radosgw radosgw-admin ceph ceph-authtool monmaptool)

log() { printf '[ceph-rgw] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

usage() {
  sed -n '2,/^[^#]/p' "$0" | sed -n 's/^# \{0,1\}//p' >&2
  exit 2
}

have_ceph() {
  local b
  for b in "${BINS[@]}"; do command -v "$b" >/dev/null 2>&1 || return 1; done
  return 0
}

install_ceph() {
  have_ceph && return 0
  [ "${CEPH_RGW_NO_INSTALL:-0}" = 1 ] && die "Ceph binaries missing and CEPH_RGW_NO_INSTALL=1 (need: ${PKGS[*]})"
  command -v apt-get >/dev/null || die "Ceph binaries missing and no apt-get (need Debian packages: ${PKGS[*]})"
  local sudo=()
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || die "need root or sudo to install ${PKGS[*]}"
    sudo=(sudo)
  fi
  local t0=$SECONDS
  log "installing ${PKGS[*]} with apt-get (about 64 MiB download) ..."
  export DEBIAN_FRONTEND=noninteractive
  local aptopts=(-y -q --no-install-recommends -o Dpkg::Use-Pty=0 -o DPkg::Lock::Timeout=300)
  if ! ls /var/lib/apt/lists/*Packages* >/dev/null 2>&1; then
    "${sudo[@]}" apt-get update -q >&2
  fi
  if ! "${sudo[@]}" apt-get install "${aptopts[@]}" "${PKGS[@]}" >&2; then
    "${sudo[@]}" apt-get update -q >&2
    "${sudo[@]}" apt-get install "${aptopts[@]}" "${PKGS[@]}" >&2
  fi
  have_ceph || die "apt-get finished but Ceph binaries are still missing"
  log "install took $((SECONDS - t0)) s"
}

# pid_is_ours PID: true if PID is alive and was started by us for this DIR
# (its command line mentions our ceph.conf), so a recycled PID is never hit.
pid_is_ours() {
  local pid=$1
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- " -c $CONF " || return 1
}

stop_all() {
  [ -f "$DIR/pids" ] || { log "nothing recorded in $DIR/pids"; return 0; }
  local name pid alive
  # Newest first: radosgw, then the OSD, then the monitor.
  while read -r name pid; do
    pid_is_ours "$pid" || continue
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do pid_is_ours "$pid" || break; sleep 0.1; done
    if pid_is_ours "$pid"; then
      log "$name (pid $pid) still alive after 10 s, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do pid_is_ours "$pid" || break; sleep 0.1; done
    fi
  done < <(tac "$DIR/pids")
  alive=0
  while read -r name pid; do pid_is_ours "$pid" && alive=1; done <"$DIR/pids"
  [ "$alive" = 0 ] || die "some daemons are still running, see: $0 status $DIR"
  rm -f "$DIR/pids"
  # The OSD keeps all objects in RAM; these dirs only hold cluster metadata.
  rm -rf "$DIR/mon" "$DIR/osd" "$DIR/run"
  log "stopped"
}

status_all() {
  [ -f "$DIR/pids" ] || { echo "not running (no $DIR/pids)"; return 1; }
  local name pid rc=0 rss hwm
  while read -r name pid; do
    if pid_is_ours "$pid"; then
      rss=$(awk '/^VmRSS/{print $2}' "/proc/$pid/status")
      hwm=$(awk '/^VmHWM/{print $2}' "/proc/$pid/status")
      printf '%-4s pid %-8s running  rss %6d MiB  peak %6d MiB\n' "$name" "$pid" $((rss / 1024)) $((hwm / 1024))
    else
      printf '%-4s pid %-8s NOT running\n' "$name" "$pid"; rc=1
    fi
  done <"$DIR/pids"
  return $rc
}

show_logs() {
  local f
  for f in "$DIR"/log/*.log "$DIR"/log/*.out; do
    [ -s "$f" ] || continue
    log "---- last lines of $f ----"
    tail -n 15 "$f" >&2 || true
  done
}

# free_ports N: N distinct free TCP ports on 127.0.0.1, chosen at random in
# 20000-32767, below Linux's usual range for outgoing connections, so a port
# is unlikely to be taken by someone's connection before our daemon binds it.
free_ports() {
  python3 - "$1" <<'PYEOF'
import random, socket, sys
want, got, socks = int(sys.argv[1]), [], []
for _ in range(2000):
    if len(got) == want:
        break
    p = random.randrange(20000, 32768)
    if p in got:
        continue
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        s.close()
        continue
    socks.append(s)
    got.append(p)
if len(got) != want:
    sys.exit("no free ports found")
print(" ".join(map(str, got)))
PYEOF
}

# start_daemon NAME CMD...: run CMD in the background, record its PID.
start_daemon() {
  local name=$1; shift
  (
    # Do not let the daemon hold on to any other descriptor of our caller
    # (a test runner's pipe would otherwise stay open until "stop").
    for fd in /proc/$BASHPID/fd/*; do
      fd=${fd##*/}
      [ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-" 2>/dev/null
    done
    exec "$@"
  ) </dev/null >>"$DIR/log/$name.out" 2>&1 &
  local pid=$!
  echo "$name $pid" >>"$DIR/pids"
  log "started $name (pid $pid)"
}

check_alive() {
  local name pid
  while read -r name pid; do
    pid_is_ours "$pid" || die "$name (pid $pid) exited during start-up; logs are in $DIR/log"
  done <"$DIR/pids"
}

start_all() {
  install_ceph
  command -v python3 >/dev/null || die "python3 is needed (it comes with ceph-common)"
  command -v curl >/dev/null || die "curl is needed"

  mkdir -p "$DIR"
  if [ -f "$DIR/pids" ]; then
    local name pid
    while read -r name pid; do
      pid_is_ours "$pid" && die "already running in $DIR ($name pid $pid); run: $0 stop $DIR"
    done <"$DIR/pids"
  fi
  rm -rf "$DIR/mon" "$DIR/osd" "$DIR/run" "$DIR/log" "$DIR/crash" \
         "$DIR/pids" "$DIR/env" "$DIR/keyring" "$DIR/monmap" "$CONF"
  mkdir -p "$DIR/mon/ceph-a" "$DIR/osd/ceph-0" "$DIR/run" "$DIR/log" "$DIR/crash"
  : >"$DIR/pids"

  local t0=$SECONDS timeout=${CEPH_RGW_TIMEOUT:-120} tries
  local region=${S3_REGION:-us-east-1}
  local memstore_mb=${CEPH_RGW_MEMSTORE_MB:-4096}

  # Free loopback ports (mon v2, mon v1, http) and random keys.
  local ports mon2 mon1 http
  ports=$(free_ports 3)
  read -r mon2 mon1 http <<<"$ports"
  http=${S3_PORT:-$http}
  local keys ak sk
  keys=$(python3 -c 'import secrets,string as s
print("".join(secrets.choice(s.ascii_uppercase+s.digits) for _ in range(20)),
      "".join(secrets.choice(s.ascii_letters+s.digits) for _ in range(40)))')
  read -r ak sk <<<"$keys"
  ak=${S3_ACCESS_KEY:-$ak}
  sk=${S3_SECRET_KEY:-$sk}

  local fsid osd_uuid
  fsid=$(python3 -c 'import uuid; print(uuid.uuid4())')
  osd_uuid=$(python3 -c 'import uuid; print(uuid.uuid4())')

  local dbg=""
  if [ "${CEPH_RGW_DEBUG:-0}" = 1 ]; then
    dbg=$'debug_rgw = 20\ndebug_ms = 1\ndebug_osd = 10\ndebug_mon = 10\ndebug_auth = 10'
  fi

  cat >"$CONF" <<EOF
# generated by ceph-rgw.sh for a throw-away test cluster
[global]
fsid = $fsid
mon_host = [v2:127.0.0.1:$mon2,v1:127.0.0.1:$mon1]
mon_initial_members = a
public_addr = 127.0.0.1
cluster_addr = 127.0.0.1
ms_bind_ipv6 = false
auth_cluster_required = cephx
auth_service_required = cephx
auth_client_required = cephx
keyring = $DIR/keyring
run_dir = $DIR/run
admin_socket = $DIR/run/\$name.asok
log_file = $DIR/log/\$name.log
log_to_file = true
log_to_stderr = false
err_to_stderr = true
mon_cluster_log_file = $DIR/log/cluster.log
crash_dir = $DIR/crash
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
osd_crush_chooseleaf_type = 0
mon_allow_pool_size_one = true
mon_allow_pool_delete = true
mon_warn_on_pool_no_redundancy = false
mon_max_pg_per_osd = 1000
mon_data_avail_crit = 1
mon_data_avail_warn = 2
auth_allow_insecure_global_id_reclaim = false
# one monitor only: commit map changes quickly (radosgw creates pools at start)
paxos_propose_interval = 0.1
$dbg

[mon]
mon_data = $DIR/mon/\$cluster-\$id
# give up at once if a port is taken (the script then picks other ports)
ms_bind_retry_count = 1

[osd]
osd_data = $DIR/osd/\$cluster-\$id
keyring = $DIR/osd/\$cluster-\$id/keyring
osd_objectstore = memstore
memstore_device_bytes = $((memstore_mb * 1024 * 1024))
osd_op_num_shards = 2
osd_op_num_threads_per_shard = 1

[client.rgw.a]
rgw_frontends = beast endpoint=127.0.0.1:$http
rgw_thread_pool_size = 32
rgw_dynamic_resharding = false
rgw_crypt_require_ssl = false
rgw_init_timeout = $timeout
# virtual-hosted addressing (BUCKET.localhost:PORT, which curl resolves to
# loopback itself) beside path-style (127.0.0.1:PORT/BUCKET)
rgw_dns_name = localhost
# data of deleted/overwritten objects is freed by garbage collection; run it
# often so the in-memory OSD does not keep it for hours (defaults: 2 h / 1 h)
rgw_gc_obj_min_wait = 30
rgw_gc_processor_period = 30
rgw_gc_processor_max_time = 30
EOF

  trap 'rc=$?; if [ $rc != 0 ]; then show_logs; log "start failed; stopping what was started"; stop_all || true; fi' EXIT

  # Keys: mon., client.admin (for the CLI tools), client.rgw.a.
  local kr=$DIR/keyring
  ceph-authtool --create-keyring "$kr" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool "$kr" --gen-key -n client.admin --cap mon 'allow *' --cap osd 'allow *' \
    --cap mgr 'allow *' --cap mds 'allow *' >/dev/null
  ceph-authtool "$kr" --gen-key -n client.rgw.a --cap mon 'allow rw' --cap osd 'allow rwx' \
    --cap mgr 'allow rw' >/dev/null

  # Monitor. If a port we picked was taken meanwhile, pick others (3 tries).
  local mon_pid
  tries=0
  while :; do
    tries=$((tries + 1))
    sed -i "s|^mon_host = .*|mon_host = [v2:127.0.0.1:$mon2,v1:127.0.0.1:$mon1]|" "$CONF"
    rm -rf "$DIR/mon/ceph-a" "$DIR/monmap"
    mkdir -p "$DIR/mon/ceph-a"
    monmaptool --create --enable-all-features --fsid "$fsid" \
      --addv a "[v2:127.0.0.1:$mon2,v1:127.0.0.1:$mon1]" "$DIR/monmap" >/dev/null
    ceph-mon -c "$CONF" --mkfs -i a --monmap "$DIR/monmap" --keyring "$kr" \
      >>"$DIR/log/mkfs.out" 2>&1 || die "ceph-mon --mkfs failed"
    start_daemon mon ceph-mon -c "$CONF" -i a -f
    mon_pid=$!
    # Up once it has bound its ports and formed its one-member quorum.
    while pid_is_ours "$mon_pid" && ! grep -q 'mon.a is new leader' "$DIR/log/mon.a.log" 2>/dev/null; do
      [ $((SECONDS - t0)) -lt "$timeout" ] || die "ceph-mon did not come up within $timeout s"
      sleep 0.1
    done
    pid_is_ours "$mon_pid" && break
    if [ "$tries" -lt 3 ] && grep -q 'unable to bind' "$DIR/log/mon.a.log" 2>/dev/null; then
      log "a monitor port was taken, trying others"
      sed -i "/^mon $mon_pid\$/d" "$DIR/pids"
      : >"$DIR/log/mon.a.log"
      read -r mon2 mon1 <<<"$(free_ports 2)"
      continue
    fi
    die "ceph-mon exited during start-up; logs are in $DIR/log"
  done

  # OSD: register it with the mon, make its (in-memory) store, start it.
  local osd_key
  osd_key=$(ceph-authtool --gen-print-key)
  printf '[osd.0]\n\tkey = %s\n' "$osd_key" >"$DIR/osd/ceph-0/keyring"
  printf '{"cephx_secret": "%s"}\n' "$osd_key" >"$DIR/osd/new.json"
  ceph -c "$CONF" --connect-timeout "$timeout" osd new "$osd_uuid" 0 -i "$DIR/osd/new.json" \
    >>"$DIR/log/mkfs.out" 2>&1 || die "'ceph osd new' failed (is the mon up? see $DIR/log/mon.a.log)"
  rm -f "$DIR/osd/new.json"
  ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$osd_uuid" \
    >>"$DIR/log/mkfs.out" 2>&1 || die "ceph-osd --mkfs failed"
  start_daemon osd ceph-osd -c "$CONF" -i 0 -f
  while ! grep -q 'state: booting -> active' "$DIR/log/osd.0.log" 2>/dev/null; do
    check_alive
    [ $((SECONDS - t0)) -lt "$timeout" ] || die "ceph-osd did not come up within $timeout s"
    sleep 0.1
  done

  # The S3 user and the zone setup, written into RADOS before radosgw starts.
  # "user create" also creates the default zone and zonegroup; the
  # zonegroup's api_name is then set to the region, so a CreateBucket whose
  # LocationConstraint names the region is accepted, as is one without.
  local rga=(timeout "$timeout" radosgw-admin -c "$CONF" -n client.admin)
  "${rga[@]}" user create --uid=test --display-name="test user" \
    --access-key="$ak" --secret-key="$sk" >>"$DIR/log/mkfs.out" 2>&1 \
    || die "radosgw-admin user create failed (see $DIR/log/mkfs.out)"
  check_alive
  "${rga[@]}" zonegroup modify --rgw-zonegroup=default --api-name="$region" \
    >>"$DIR/log/mkfs.out" 2>&1 || die "radosgw-admin zonegroup modify failed (see $DIR/log/mkfs.out)"

  # radosgw. If the port we picked was taken meanwhile, pick another one
  # (up to 3 tries; not when S3_PORT was given).
  local code
  tries=0
  while :; do
    tries=$((tries + 1))
    sed -i "s|^rgw_frontends = .*|rgw_frontends = beast endpoint=127.0.0.1:$http|" "$CONF"
    start_daemon rgw radosgw -c "$CONF" -n client.rgw.a -f
    local rgw_pid=$!
    log "waiting for S3 on http://127.0.0.1:$http ..."
    # Ready when a request signed with the new key is accepted.
    code=000
    while :; do
      code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
        --aws-sigv4 "aws:amz:$region:s3" --user "$ak:$sk" \
        -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "http://127.0.0.1:$http/" || true)
      [ "$code" = 200 ] && pid_is_ours "$rgw_pid" && break 2
      pid_is_ours "$rgw_pid" || break
      check_alive
      [ $((SECONDS - t0)) -lt "$timeout" ] || die "signed request still fails (HTTP $code) after $timeout s"
      sleep 0.5
    done
    # radosgw exited: retry only for a port clash on a port we chose.
    if [ -z "${S3_PORT:-}" ] && [ "$tries" -lt 3 ] &&
        grep -q 'failed to bind address' "$DIR/log/client.rgw.a.log" 2>/dev/null; then
      log "port $http was taken, trying another one"
      sed -i "/^rgw $rgw_pid\$/d" "$DIR/pids"
      : >"$DIR/log/client.rgw.a.log"
      http=$(free_ports 1)
      continue
    fi
    check_alive
    die "radosgw exited during start-up; logs are in $DIR/log"
  done

  cat >"$DIR/env" <<EOF
S3_ENDPOINT=http://127.0.0.1:$http
S3_ACCESS_KEY=$ak
S3_SECRET_KEY=$sk
S3_REGION=$region
EOF
  trap - EXIT
  log "ready in $((SECONDS - t0)) s (logs: $DIR/log, stop with: $0 stop $DIR)"
  cat "$DIR/env"
}

[ $# -eq 2 ] || usage
CMD=$1
DIR=$2
case $DIR in /*) ;; *) DIR="$(pwd)/$DIR" ;; esac
DIR=${DIR%/}
CONF="$DIR/ceph.conf"

case $CMD in
  start) start_all ;;
  stop) stop_all ;;
  status) status_all ;;
  *) usage ;;
esac
