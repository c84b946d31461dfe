set -e
# Tamper sweep over an encrypted repository: for every kind of repository
# file, flip a byte at many offsets, truncate it, swap two files of a kind,
# put an older snapshot under a newer one's name. Every time, check
# --read-data reports damage naming the file (exit 4; exit 11 when the key
# slot in use itself is damaged: then nothing can be opened, and the message
# names the slot), nothing crashes, and what still restores is exact: a
# restore either fails or gives the original bytes, never wrong content.
source "$(dirname "$0")/lib.sh"

mkdir -p src/a src/b
for i in 1 2 3; do head -c $((150000 + i * 1000)) /dev/urandom > src/a/f$i; done
echo "first file" > src/a/small.txt
expect_exit 0 $CAIRN init repo --kdf-ops 2 --kdf-memory 64
export CAIRN_REPO=$WORK/repo
expect_exit 0 $CAIRN backup -q src
snap1=$($CAIRN --json log -n 1 | python3 -c "import json,sys; print(json.load(sys.stdin)[0]['id'])")
expect_exit 0 $CAIRN tag v1 -m "the first"
ls repo/data/*/* | sort > packs1.txt
for i in 1 2; do head -c $((200000 + i * 1000)) /dev/urandom > src/b/g$i; done
expect_exit 0 $CAIRN backup -q src
snap2=$($CAIRN --json log -n 1 | python3 -c "import json,sys; print(json.load(sys.stdin)[0]['id'])")
# A second slot (a password), not the one in use.
printf 'second password\n' > pw
expect_exit 0 $CAIRN key add --new-password-file pw --kdf-ops 2 --kdf-memory 64
expect_exit 0 $CAIRN check --read-data
cp -a repo pristine

# One file of each kind.
ls repo/data/*/* | sort > packs2.txt
pack_b=$(comm -13 packs1.txt packs2.txt | xargs ls -S | head -1)   # the largest pack the 2nd backup wrote: b's data
index=$(ls repo/index/* | head -1)
snapfile=repo/snapshots/$snap2
main_ref=$(ls repo/refs/branches/* | head -1)
tag_ref=$(ls repo/refs/tags/* | head -1)
inuse=$($CAIRN --json key list | python3 -c "import json,sys; print([k['id'] for k in json.load(sys.stdin)['keys'] if k['current']][0])")
other=$($CAIRN --json key list | python3 -c "import json,sys; print([k['id'] for k in json.load(sys.stdin)['keys'] if not k['current']][0])")
slot_other=repo/keys/$other
slot_inuse=repo/keys/$inuse
[ -f "$pack_b" ] && [ -f "$index" ] && [ -f "$snapfile" ] && [ -f "$main_ref" ] && [ -f "$tag_ref" ] \
  && [ -f "$slot_other" ] && [ -f "$slot_inuse" ] || fail "could not find one file of each kind"; ok

trial=0
reset() {
  rm -rf repo; cp -a pristine repo
  trial=$((trial + 1))
  export CAIRN_CACHE_DIR=$WORK/.cache-$trial   # no cached catalog may hide damage
}
flip() { python3 - "$1" "$2" <<'PY'
import sys
path, off = sys.argv[1], int(sys.argv[2])
with open(path, 'r+b') as f:
    f.seek(off); b = f.read(1); f.seek(off); f.write(bytes([b[0] ^ 0x01]))
PY
}
offsets() { # many offsets across a file of size $1: its start, headers, middle and end
  local n=$1
  python3 - "$n" <<'PY'
import sys
n = int(sys.argv[1])
offs = {0, 5, 6, 14, 15, 38, 40, n // 3, (2 * n) // 3, n - 17, n - 16, n - 1}
print(" ".join(str(o) for o in sorted(offs) if 0 <= o < n))
PY
}
no_crash() {
  if grep -q -i -E "terminate called|core dumped|Assertion|Segmentation|AddressSanitizer|runtime error" "$WORK/.err"; then
    fail "crash-like output ($1): $(err)"
  fi
}
# damaged WHAT NAME: check --read-data finds damage and names NAME.
damaged() {
  local what=$1 name=$2
  set +e; $CAIRN check --read-data >"$WORK/.out" 2>"$WORK/.err"; local rc=$?; set -e
  no_crash "$what"
  [ "$rc" = 4 ] || { cat "$WORK/.err"; fail "$what: check --read-data exit $rc, expected 4"; }
  grep -q -F "$name" "$WORK/.err" || fail "$what: check does not name '$name': $(err)"
  ok
}
# restored_exact REV DIR: restoring REV either fails or gives exactly src's DIR.
restored_exact() {
  local rev=$1 dir=$2
  rm -rf out
  set +e; $CAIRN restore "$rev" --target out >"$WORK/.out" 2>"$WORK/.err"; local rc=$?; set -e
  no_crash "restore $rev"
  if [ "$rc" = 0 ]; then
    diff -r "src/$dir" "out" >/dev/null || fail "restore of $rev gave wrong content after tampering"
  fi
  ok
}
must_restore() {
  local rev=$1 dir=$2
  rm -rf out
  expect_exit 0 $CAIRN restore "$rev" --target out --verify
  diff -r "src/$dir" out >/dev/null || fail "restore of untouched $rev differs"; ok
}

# --- flipped bytes, every kind ---
for kind in pack index snapshot branch tag slot; do
  case $kind in
    pack) f=$pack_b ;; index) f=$index ;; snapshot) f=$snapfile ;;
    branch) f=$main_ref ;; tag) f=$tag_ref ;; slot) f=$slot_other ;;
  esac
  rel=${f#repo/}
  size=$(stat -c %s "pristine/$rel")
  for off in $(offsets "$size"); do
    reset
    flip "repo/$rel" "$off"
    damaged "$kind byte $off" "$(basename "$rel")"
    case $kind in
      pack) must_restore "$snap1:a" a; restored_exact "$snap2:b" b ;;
      snapshot) must_restore v1:a a; restored_exact "$snap2:b" b ;;
      branch) must_restore v1:a a; must_restore "$snap2:b" b ;;
      tag|slot) must_restore "$snap2:b" b ;;
      # A damaged index file hides where its blobs are until the index is
      # rebuilt from the packs, which are intact.
      index) restored_exact "$snap2:b" b; expect_exit 0 $CAIRN repair index; must_restore "$snap2:b" b ;;
    esac
  done
  # Truncated to half, and to nothing.
  for keep in $((size / 2)) 0; do
    reset
    truncate -s "$keep" "repo/$rel"
    damaged "$kind truncated to $keep" "$(basename "$rel")"
  done
done

# --- the config and the slot in use: nothing opens, and the message says why ---
for off in $(offsets "$(stat -c %s pristine/config)"); do
  reset
  flip repo/config "$off"
  set +e; $CAIRN check --read-data >"$WORK/.out" 2>"$WORK/.err"; rc=$?; set -e
  no_crash "config byte $off"
  # 4: damaged (bad JSON, a MAC mismatch); 11: the id changed, so no slot
  # belongs to it; 1: the format or suite now reads as a newer one.
  case $rc in 4|11|1) ;; *) fail "config byte $off: exit $rc, expected 4, 11 or 1: $(err)" ;; esac
  grep -q -E "config|key slot|upgrade cairn" "$WORK/.err" || fail "config byte $off: message names neither config nor slot: $(err)"; ok
done
for off in $(offsets "$(stat -c %s "pristine/keys/$inuse")"); do
  reset
  flip "repo/keys/$inuse" "$off"
  set +e; $CAIRN check >"$WORK/.out" 2>"$WORK/.err"; rc=$?; set -e
  no_crash "slot in use byte $off"
  case $rc in 0|4|11) ;; *) fail "slot in use byte $off: exit $rc: $(err)" ;; esac
  # A flip that leaves the slot valid JSON with the same meaning (none
  # should) would be exit 0; otherwise the slot is named.
  [ "$rc" = 0 ] || grep -q -F "$inuse" "$WORK/.err" || grep -q "does not open any key slot" "$WORK/.err" \
    || fail "slot in use byte $off: not named: $(err)"
  [ "$rc" != 0 ] || fail "slot in use byte $off: a changed slot still opened"
  ok
done

# --- swaps ---
reset
idx=($(ls repo/index)); [ ${#idx[@]} -ge 2 ] || fail "expected two index files"
mv "repo/index/${idx[0]}" x; mv "repo/index/${idx[1]}" "repo/index/${idx[0]}"; mv x "repo/index/${idx[1]}"
damaged "swapped index files" "${idx[0]}"
reset
mv "repo/snapshots/$snap1" x; mv "repo/snapshots/$snap2" "repo/snapshots/$snap1"; mv x "repo/snapshots/$snap2"
damaged "swapped snapshots" "$snap1"
reset
a=$(comm -13 packs1.txt packs2.txt | head -1); b=$(head -1 packs1.txt)
cp "pristine/${b#repo/}" "$a"; cp "pristine/${a#repo/}" "$b"
damaged "swapped packs" "$(basename "$a")"
# A branch file copied over the tag's file (make v1 point where main does).
reset
cp "$main_ref" "$tag_ref"
damaged "branch copied over a tag" "$(basename "$tag_ref")"
# An older snapshot under a newer one's name (a replay).
reset
cp "repo/snapshots/$snap1" "repo/snapshots/$snap2"
damaged "older snapshot under a new name" "$snap2"
must_restore v1:a a
# A pack of another repository (same key file, other master secret).
reset
expect_exit 0 $CAIRN init other -q
expect_exit 0 $CAIRN -r other backup -q src/b
foreign=$(cd other && ls data/*/* | head -1)
cp "other/$foreign" "repo/$foreign"
damaged "another repository's pack" "$(basename "$foreign")"
must_restore "$snap2:b" b

# A downgrade: the config replaced by an unencrypted repository's, so that the
# next backup would be written in the clear. Refused (the key slots give it
# away), and nothing is written.
reset
expect_exit 0 $CAIRN init plain --encryption none -q
cp plain/config repo/config
before=$(tree_hash repo)
expect_exit 4 $CAIRN backup -q src
expect_one_line_error "config says it is not encrypted"
assert_eq "$(tree_hash repo)" "$before" "a refused downgrade writes nothing"

echo "$trial tampered repositories"
finish
