# prune on a real history: forget --keep-last 2 and prune; every kept
# snapshot restores exactly, check --read-data passes, and the packs shrank
# by what forget --dry-run predicted. The trash protects data until it
# expires; an interrupted backup's packs go only after the grace period;
# --dry-run and a read-only repository change nothing; bad flags.
source "$(dirname "$0")/lib.sh"
# These checks make many small Python calls, and python3 may be a slow
# wrapper (pyenv's shim): call the interpreter itself, without site.
PY="$(python3 -c 'import sys; print(sys.executable)') -S"
TREECMP="$PY $TESTS/e2e/treecmp.py"
json_get() { $PY -c "import json; j=json.load(open('$WORK/.out')); print($1)"; }
# A read-only bind mount (below) must be gone before lib.sh's rm -rf.
trap 'umount "$WORK/ro" 2>/dev/null || true; rm -rf "$WORK"' EXIT

# Sum of the pack files' sizes.
pack_bytes() { find repo/data -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}'; }
# Every file of the repository with its content (the local cache is outside).
# Every file but the audit log (each prune, refused ones too, adds its entry there).
repo_files() { (cd repo && find . -path ./audit -prune -o -type f -print | LC_ALL=C sort | xargs -r sha256sum); }
at() { date -u -d "@$(( $(date +%s) + $1 ))" +%Y-%m-%dT%H:%M:%SZ; }  # now + SECONDS, for CAIRN_NOW

# Real files: Debian's documentation (changelogs are mostly gzip: little to
# compress, so stored bytes track file bytes), about 20 MB in 8 groups that
# come, change and go between the backups.
mkdir -p src
$PY - <<'EOF'
import os, shutil
files = []
for d, _, names in os.walk('/usr/share/doc'):
    for n in names:
        p = os.path.join(d, n)
        if os.path.isfile(p) and not os.path.islink(p) and os.path.getsize(p) > 512:
            files.append(p)
files.sort()
total = 0
for i, p in enumerate(files):
    g = 'src/g%d' % (i % 8)
    os.makedirs(g, exist_ok=True)
    shutil.copy2(p, '%s/%04d-%s' % (g, i, os.path.basename(p)))
    total += os.path.getsize(p)
    if total > 20 * 1024 * 1024:
        break
if total < 8 * 1024 * 1024:
    raise SystemExit('FAIL: too little under /usr/share/doc (%d bytes)' % total)
EOF
# A new content for the first N files of a group (text gets a changed middle,
# other files a changed tail), so old versions become garbage.
edit() {
  $PY - "$1" "$2" <<'EOF'
import os, sys
g, n = sys.argv[1], int(sys.argv[2])
for name in sorted(os.listdir(g))[:n]:
    p = os.path.join(g, name)
    data = open(p, 'rb').read()
    mid = len(data) // 2
    open(p, 'wb').write(data[:mid] + b'\n-- edited for %s --\n' % p.encode() + os.urandom(2000) + data[mid:])
EOF
}
expect_exit 0 $CAIRN init repo -q
export CAIRN_REPO=$WORK/repo
mkdir ver
snap() {  # snap N: back up src as version N and keep a copy of it
  expect_exit 0 $CAIRN --json backup src
  json_get "j['snapshot']" > "ver/id$1"
  cp -a src "ver/v$1"
}
mv src/g4 src/g5 src/g6 src/g7 .
snap 1                                  # g0 g1 g2 g3
mv g4 src/; edit src/g0 20; snap 2      # + g4, g0 edited
rm -r src/g1; mv g5 src/; snap 3        # - g1, + g5
edit src/g2 20; rm -r src/g4; snap 4    # g2 edited, - g4
mv g6 src/; rm -r src/g3; snap 5        # + g6, - g3
mv g7 src/; edit src/g5 10; snap 6      # + g7, g5 edited
sid() { cat "ver/id$1"; }
expect_exit 0 $CAIRN check

# What forgetting all but the last 2 frees, as predicted; then forget.
expect_exit 0 $CAIRN --json forget --keep-last 2 --dry-run
assert_eq "$(json_get "sorted(j['remove'])")" "$($PY -c "print(sorted('$(sid 1) $(sid 2) $(sid 3) $(sid 4)'.split()))")" "v1-v4 to remove"
predicted=$(json_get "j['freed']['bytes']")
[ "$predicted" -gt $((2 * 1024 * 1024)) ] || fail "predicted freed bytes too small: $predicted"; ok
expect_exit 0 $CAIRN --json forget --keep-last 2 --yes
assert_eq "$(json_get "j['removed']")" "4" "forget removed 4"

# A prune while they are in the trash frees none of their data: v3 comes
# back and restores exactly.
expect_exit 0 $CAIRN --json prune --yes --grace 0 --max-unused 0
assert_eq "$(json_get "j['trash_purged']")" "0" "nothing purged before expiry"
[ "$(json_get "j['unused_bytes']")" -lt 65536 ] || fail "prune saw the trash's data as unused: $(out)"; ok
expect_exit 0 $CAIRN check --read-data
expect_exit 0 $CAIRN undelete "$(sid 3)"
expect_exit 0 $CAIRN restore "$(sid 3)" --target out3
$TREECMP ver/v3 out3 || fail "v3 from the trash after a prune differs"; ok
expect_exit 0 $CAIRN delete "$(sid 3)" --yes
expect_exit 0 $CAIRN --json trash
assert_eq "$(json_get "len(j)")" "4" "v1-v4 in the trash again"

# Past the expiry (7 days), a prune purges the trash and frees what was
# predicted. Tolerance: the predicted bytes are the blobs' stored bytes; the
# packs also hold a header entry per blob and the index files change, so
# the shrink may differ by 5% plus 64 KiB.
before=$(pack_bytes)
expect_exit 0 env CAIRN_NOW="$(at $((8 * 86400)))" $CAIRN --json prune --yes --grace 0 --max-unused 0
assert_eq "$(json_get "j['trash_purged']")" "4" "purged the 4 expired"
assert_eq "$(json_get "j['deferred']")" "[]" "nothing pending"
after=$(pack_bytes)
shrink=$((before - after))
$PY -c "
p, s = $predicted, $shrink
tol = p * 0.05 + 65536
assert abs(s - p) <= tol, 'packs shrank by %d bytes, forget --dry-run predicted %d (tolerance %d)' % (s, p, tol)
" || fail "shrink does not match the prediction"; ok
echo "predicted $predicted, packs shrank by $shrink (from $before to $after)"
for v in 5 6; do
  expect_exit 0 $CAIRN restore "$(sid $v)" --target "out$v"
  $TREECMP "ver/v$v" "out$v" || fail "v$v after prune differs"; ok
done
expect_exit 0 $CAIRN check --read-data
expect_exit 0 $CAIRN --json trash
assert_eq "$(json_get "j")" "[]" "trash empty after purge"
expect_exit 0 $CAIRN --json trash --all
assert_eq "$(json_get "sorted(t['id'] for t in j if t['purged'])")" \
  "$($PY -c "print(sorted('$(sid 1) $(sid 2) $(sid 3) $(sid 4)'.split()))")" "tombstones of the purged"
expect_exit 5 $CAIRN undelete "$(sid 1)"
expect_one_line_error "its data was pruned"
expect_exit 5 $CAIRN restore "$(sid 2)" --target out2
expect_one_line_error "pruned"
expect_exit 0 $CAIRN log
assert_eq "$(out | grep -c '^snapshot ')" "2" "log after prune"

# --- An interrupted backup ---
head -c 150000000 /dev/urandom > src/big.bin
clean=$(pack_bytes)
$CAIRN -q backup src > /dev/null 2>&1 &
pid=$!
# Kill it midway: once it has written 20 MB of packs, well before 150 MB.
for _ in $(seq 1 600); do
  [ "$(pack_bytes)" -gt $((clean + 20000000)) ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.05
done
kill -9 "$pid" 2>/dev/null || fail "the backup of big.bin ended before it could be killed"
wait "$pid" 2>/dev/null || true
ok
killed=$(pack_bytes)
[ "$killed" -gt $((clean + 20000000)) ] || fail "the killed backup left no packs ($clean -> $killed)"; ok
expect_exit 0 $CAIRN check
expect_exit 0 $CAIRN --json snapshots
assert_eq "$(json_get "len(j)")" "2" "no snapshot from the killed backup"
# What killed writers leave besides packs: staging files in tmp/ and
# .tmp-* files beside objects. Besides the killed backup's own, two of a
# writer long gone (no process has id 999999999) and one of a running
# process (this shell), all written two hours ago.
printf 'half a pack' > repo/tmp/pack-999999999-0
printf 'half an index file' > repo/index/.tmp-999999999-0-1
printf 'a pack being written' > "repo/tmp/pack-$$-7"
touch -d '2 hours ago' repo/tmp/pack-999999999-0 repo/index/.tmp-999999999-0-1 "repo/tmp/pack-$$-7"
# Of dead writers, so prune may take them: every .tmp-* and every staging
# file but the running one.
dead=$(( $(find repo/tmp -name 'pack-*' ! -name "pack-$$-*" | wc -l) + $(find repo -name '.tmp-*' | wc -l) ))

# --dry-run changes nothing, even with work to do.
files=$(repo_files)
expect_exit 0 $CAIRN --json prune --yes --dry-run --grace 0
assert_eq "$(json_get "j['unindexed_packs'] > 0 and j['unindexed_bytes'] + j['condemned_bytes'] >= 20000000")" "True" \
  "dry run sees the leftovers"
assert_eq "$(json_get "j['temporaries_removed']")" "$dead" "dry run counts the temporaries of dead writers"
assert_eq "$(repo_files)" "$files" "repository after prune --dry-run"

# A read-only repository: prune fails with one line and changes nothing.
# Root ignores file modes, so the repository is bind-mounted read-only.
mkdir ro
if mount --bind repo ro 2>/dev/null && mount -o remount,ro,bind ro 2>/dev/null; then
  expect_exit 1 env CAIRN_REPO="$WORK/ro" $CAIRN prune --yes --grace 0
  expect_one_line_error "Read-only file system"
  err | grep -q -i "prune" || fail "read-only error does not name prune: $(err)"; ok
  expect_exit 1 env CAIRN_REPO="$WORK/ro" $CAIRN forget --keep-last 1 --yes
  expect_one_line_error "Read-only file system"
  # A dry run writes nothing, so it works there.
  expect_exit 0 env CAIRN_REPO="$WORK/ro" $CAIRN --json prune --yes --dry-run --grace 0
  assert_eq "$(json_get "j['unindexed_packs'] > 0")" "True" "dry run on a read-only mount"
  umount ro
  assert_eq "$(repo_files)" "$files" "repository after prune on a read-only mount"
elif [ "$(id -u)" != 0 ]; then
  umount ro 2>/dev/null || true
  chmod -R a-w repo
  expect_exit 1 $CAIRN prune --yes --grace 0
  expect_one_line_error "prune"
  chmod -R u+w repo
  assert_eq "$(repo_files)" "$files" "repository after prune on a read-only repository"
else
  umount ro 2>/dev/null || true
  echo "SKIP: read-only prune: root and no bind mount possible here"
fi

# Prune with the default grace (1h) leaves the fresh leftovers alone;
# --grace 0 deletes them and the packs are back to their size.
expect_exit 0 $CAIRN --json prune --yes
assert_eq "$(json_get "j['unindexed_packs']")" "0" "default grace: no unindexed pack taken"
assert_eq "$(pack_bytes)" "$killed" "default grace: leftovers stay"
# ... but the temporaries of the writer long gone, two hours old, go.
assert_eq "$(json_get "j['temporaries_removed']")" "2" "default grace: the old temporaries of a dead writer"
[ ! -e repo/tmp/pack-999999999-0 ] && [ ! -e repo/index/.tmp-999999999-0-1 ] || fail "old temporaries of a dead writer stay"; ok
expect_exit 0 $CAIRN --json prune --yes --grace 0
assert_eq "$(json_get "j['unindexed_packs'] > 0 and j['deleted_packs'] > 0")" "True" "grace 0 deletes the leftovers"
assert_eq "$(json_get "j['temporaries_removed']")" "$((dead - 2))" "grace 0: the killed backup's staging files"
assert_eq "$(ls repo/tmp)" "pack-$$-7" "staging files after prune --grace 0 (a running writer's stays)"
assert_eq "$(find repo -name '.tmp-*' | wc -l)" "0" "temporary files after prune --grace 0"
rm "repo/tmp/pack-$$-7"
after=$(pack_bytes)
[ "$after" -le $((clean + 65536)) ] || fail "packs after deleting the leftovers: $after, before the killed backup: $clean"; ok
expect_exit 0 $CAIRN check --read-data
for v in 5 6; do
  rm -rf "out$v"; expect_exit 0 $CAIRN restore "$(sid $v)" --target "out$v"
  $TREECMP "ver/v$v" "out$v" || fail "v$v after deleting the leftovers differs"; ok
done

# forget --prune frees at once, skipping the trash.
rm src/big.bin
expect_exit 0 $CAIRN --json forget --keep-last 1 --prune --grace 0 --max-unused 0 --yes
assert_eq "$(json_get "(j['remove'], j['prune']['trash_purged'])")" "(['$(sid 5)'], 1)" "forget --prune"
[ "$(pack_bytes)" -lt "$after" ] || fail "forget --prune freed nothing"; ok
rm -rf out6; expect_exit 0 $CAIRN restore "$(sid 6)" --target out6
$TREECMP ver/v6 out6 || fail "v6 after forget --prune differs"; ok
expect_exit 0 $CAIRN check --read-data

# An index file this machine's cache has not loaded and cannot read (a
# flipped byte; a fresh cache stands for another machine): prune refuses
# before it counts or deletes, in one line naming the file and the repair.
# After `repair index` the same prune runs and everything restores.
head -c 3000000 /dev/urandom > src/extra.bin
expect_exit 0 $CAIRN --json backup -m "to forget" src
extra=$(json_get "j['snapshot']")
rm src/extra.bin
expect_exit 0 $CAIRN backup -m "without it" src
expect_exit 0 $CAIRN forget "$extra" --yes --trash-for 0
idx=$(ls repo/index | head -1)
$PY - "repo/index/$idx" <<'EOF2'
import sys
p = sys.argv[1]
b = bytearray(open(p, 'rb').read())
b[len(b) // 2] ^= 0x40
open(p, 'wb').write(bytes(b))
EOF2
files=$(repo_files)
CAIRN_CACHE_DIR="$WORK/.cache-fresh" expect_exit 4 $CAIRN prune --yes --grace 0 --max-unused 0
expect_one_line_error "index file 'index/$idx' cannot be read; prune needs every index file; run 'cairn repair index' first"
assert_eq "$(repo_files)" "$files" "repository after the refused prune"
CAIRN_CACHE_DIR="$WORK/.cache-fresh" expect_exit 0 $CAIRN repair index
CAIRN_CACHE_DIR="$WORK/.cache-fresh" expect_exit 0 $CAIRN --json prune --yes --grace 0 --max-unused 0
[ "$(json_get "j['freed_bytes']")" -gt 0 ] || fail "prune after the repair freed nothing: $(out)"; ok
CAIRN_CACHE_DIR="$WORK/.cache-fresh" expect_exit 0 $CAIRN check --read-data
rm -rf out6; CAIRN_CACHE_DIR="$WORK/.cache-fresh" expect_exit 0 $CAIRN restore "$(sid 6)" --target out6
$TREECMP ver/v6 out6 || fail "v6 after the repair and prune differs"; ok

# Bad flags: one line, exit 2, nothing changed.
files=$(repo_files)
for args in "--max-unused 150%|--max-unused '150%'" "--max-unused abc|--max-unused 'abc'" \
            "--max-unused -5%|--max-unused '-5%'" "--grace -1h|invalid duration '-1h'" \
            "--grace 1x|invalid duration '1x'" "--max-repack-size 12Q|12Q"; do
  flags=${args%%|*}; msg=${args#*|}
  # shellcheck disable=SC2086
  expect_exit 2 $CAIRN prune --yes $flags
  expect_one_line_error "$msg"
done
expect_exit 2 $CAIRN forget --keep-last 1 --prune --grace -1h --yes
expect_one_line_error "invalid duration '-1h'"
assert_eq "$(repo_files)" "$files" "repository after bad flags"
finish
