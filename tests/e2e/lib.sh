# Helpers for the end-to-end tests. Each case script sources this file, runs
# cairn ($CAIRN) in a fresh temporary folder, and fails on the first broken
# expectation with a message that names it.
set -u
CAIRN=${CAIRN:?set CAIRN to the cairn binary}
TESTS=${TESTS:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
TREECMP="python3 $TESTS/e2e/treecmp.py"
WORK=$(mktemp -d /tmp/cairn-e2e.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
checks=0
# Repositories are encrypted by default. The cases open them with a key file
# (no slow password KDF on every call) and keep the local cache of
# encrypted repositories (never inside them) in the case's folder.
export CAIRN_CACHE_DIR="$WORK/.cache"
export CAIRN_KEY_FILE="$WORK/.keyfile"
unset CAIRN_PASSWORD CAIRN_PASSWORD_FILE CAIRN_PASSWORD_COMMAND CAIRN_NEW_PASSWORD_FILE
"$CAIRN" key generate "$CAIRN_KEY_FILE" >/dev/null || { echo "FAIL: cannot make a key file" >&2; exit 1; }

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { checks=$((checks + 1)); }

# expect_exit CODE CMD...: runs CMD, stores stdout/stderr in $out/$err files.
expect_exit() {
  local want=$1; shift
  set +e
  "$@" >"$WORK/.out" 2>"$WORK/.err"
  local got=$?
  set -e
  if [ "$got" != "$want" ]; then
    echo "--- stdout"; cat "$WORK/.out"; echo "--- stderr"; cat "$WORK/.err"
    fail "expected exit $want, got $got: $*"
  fi
  ok
}
out() { cat "$WORK/.out"; }
err() { cat "$WORK/.err"; }

# stderr must be exactly one line naming the subject and not look like a crash.
expect_one_line_error() {
  local n; n=$(grep -c . "$WORK/.err" || true)
  [ "$n" -ge 1 ] || fail "no error message on stderr"
  grep -q -E "^cairn: " "$WORK/.err" || fail "error does not start with 'cairn: ': $(err)"
  if grep -q -i -E "terminate called|core dumped|Assertion|Segmentation|AddressSanitizer" "$WORK/.err"; then
    fail "crash-like output: $(err)"
  fi
  [ $# -eq 0 ] || grep -q -F -- "$1" "$WORK/.err" || fail "error does not mention '$1': $(err)"
  ok
}

# json_get EXPR: evaluates a Python expression on the JSON document in stdout (as j).
json_get() { python3 -c "import json,sys; j=json.load(open('$WORK/.out')); print($1)"; }

assert_eq() { [ "$1" == "$2" ] || fail "${3:-value}: expected '$2', got '$1'"; ok; }

# Hash of every file, name, mode and size below a folder: detects any change.
# cache/ (the local LMDB view, derived and rebuilt at will) is left out.
# The locks/ folder's own mtime is left out: backups, restores and checks
# announce themselves there for the time they run (docs/gc.md); every file
# in it still counts, so a lock left behind is seen. The audit log (audit/)
# is left out too: every command that opens the repository to change it
# records itself there, refused and failed ones included (t0080 and t0081
# check those entries).
tree_hash() { (cd "$1" && find . \( -path ./cache -o -path ./audit \) -prune -o ! -path ./locks -printf '%p %y %m %s %T@\n' | LC_ALL=C sort | sha256sum | cut -d' ' -f1; find . \( -path ./cache -o -path ./audit \) -prune -o -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum | sha256sum | cut -d' ' -f1); }

# A source tree with every entry type cairn keeps.
make_rich_tree() {
  local d=$1
  mkdir -p "$d/sub/deep" "$d/empty-dir" "$d/mode"
  echo "hello world" > "$d/hello.txt"
  head -c 3000000 /dev/urandom > "$d/sub/random.bin"
  python3 -c "import sys; sys.stdout.write('line of text %d\n' * 1 % 0 * 0 + ''.join('line of text %d\n' % i for i in range(200000)))" > "$d/sub/text.txt"
  : > "$d/empty.txt"
  ln -s ../hello.txt "$d/sub/rel-link"
  ln -s /etc/passwd "$d/abs-link"
  ln -s does-not-exist "$d/dangling"
  ln "$d/hello.txt" "$d/sub/deep/hardlink"
  mkfifo "$d/fifo"
  truncate -s 20M "$d/sparse.img"; printf 'data' | dd of="$d/sparse.img" bs=1 seek=7000000 conv=notrunc status=none
  printf 'not utf-8' > "$d/$(printf 'caf\xe9-latin1')"
  printf 'spaces' > "$d/name with spaces and 'quotes'"
  echo x > "$d/mode/exec.sh"; chmod 755 "$d/mode/exec.sh"
  echo x > "$d/mode/private"; chmod 600 "$d/mode/private"
  echo x > "$d/mode/setgid"; chmod 2755 "$d/mode/setgid"
  chmod 1777 "$d/mode"
  if [ "$(id -u)" = 0 ]; then
    mknod "$d/null-dev" c 1 3
    echo owned > "$d/owned"; chown 1234:5678 "$d/owned"
  fi
  touch -h -d '2001-02-03 04:05:06.123456789' "$d/sub/rel-link"
  touch -d '1999-12-31 23:59:59.5' "$d/sub/deep"
  touch -d '2010-01-01 00:00:00.000000001' "$d/hello.txt"
}

# compare_trees ID...: treecmp of saved/ID and $RESTORED/ID for each, in one
# Python process (starting one per snapshot would dominate the run time);
# prints the differences and fails if there are any. For the loops that keep
# a copy of each snapshot's source under saved/.
compare_trees() {
  python3 - "$TESTS/e2e" "$RESTORED" "$@" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import treecmp
restored = sys.argv[2]
bad = 0
for i in sys.argv[3:]:
    sys.argv = ["treecmp", "saved/" + i, restored + "/" + i]
    try:
        treecmp.main()
    except SystemExit as e:
        if e.code:
            print("snapshot", i, "differs")
            bad = 1
sys.exit(bad)
EOF
}

# restores_as REPO-ARGS... -- REV SAVED: the snapshot REV of the repository
# the arguments open restores to the folder SAVED exactly.
restores_as() {
  local args=() ; while [ "$1" != "--" ]; do args+=("$1"); shift; done; shift
  rm -rf out; expect_exit 0 $CAIRN "${args[@]}" restore "$1" --target out
  $TREECMP "$2" out || fail "$1 restored from ${args[*]} differs from $2"; ok
}

# history_text REPO-ARGS...: every snapshot's message, time, branch, host and
# its parents' messages, one line each in time order (ids left out, so a
# copied or imported history compares equal to its source).
history_text() {
  $CAIRN "$@" --json log --all >"$WORK/.graph" || fail "log --all failed"
  python3 - "$WORK/.graph" <<'EOF'
import json, sys
snaps = json.load(open(sys.argv[1]))
by_id = {s["id"]: s for s in snaps}
for s in sorted(snaps, key=lambda s: (s["time_ns"], s["message"])):
    print(s["message"], s["time_ns"], s["branch"], s["host"], [by_id[p]["message"] for p in s["parents"]])
EOF
}

# random_tree DIR FOLDERS FILES MIN MAX SEED: FOLDERS folders d0… under DIR
# of FILES random files f0… each, of MIN to MAX bytes (sizes from SEED).
random_tree() {
  python3 - "$@" <<'EOF'
import os, random, sys
d, folders, files, lo, hi, seed = sys.argv[1], *map(int, sys.argv[2:])
r = random.Random(seed)
for i in range(folders):
    os.makedirs(f"{d}/d{i}", exist_ok=True)
    for j in range(files):
        with open(f"{d}/d{i}/f{j}", "wb") as f:
            f.write(os.urandom(r.randint(lo, hi)))
EOF
}

# run_killed DELAY OUT CMD...: runs CMD in the background (stdout to OUT,
# stderr to $WORK/.err) and SIGKILLs it after DELAY seconds. Sets RC to its
# exit status and KILLED to 1 if the kill stopped it midway, else 0.
run_killed() {
  local delay=$1 out=$2 pid; shift 2
  set +e
  "$@" >"$out" 2>"$WORK/.err" &
  pid=$!
  sleep "$delay"
  kill -9 $pid 2>/dev/null && KILLED=1 || KILLED=0
  wait $pid; RC=$?
  set -e
  [ "$KILLED" = 1 ] && [ "$RC" = 137 ] || KILLED=0
}

# growing_delays COUNT FIRST FACTOR: COUNT delays in seconds for a kill loop,
# FIRST * FACTOR^i for i = 1 … COUNT, each off by up to 20 % at random.
growing_delays() {
  python3 -c "import random, sys; r = random.Random(); n, a, f = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]); print(' '.join('%.4f' % (a * f ** i * r.uniform(0.8, 1.2)) for i in range(1, n + 1)))" "$@"
}

finish() { echo "$(basename "$0"): $checks checks passed"; }
set -e
