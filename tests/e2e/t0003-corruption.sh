# Damage in any repository file is detected and named; a restore loses only
# the files whose data is damaged, and never writes wrong content.
source "$(dirname "$0")/lib.sh"

mkdir -p src/d
for i in $(seq 1 40); do head -c $((20000 + i * 3000)) /dev/urandom > src/d/f$i; done
python3 -c "print('text line\n' * 300000)" > src/text.txt
head -c 40000000 /dev/urandom > src/big.bin   # restored in ranges by several threads
expect_exit 0 $CAIRN init repo
export CAIRN_REPO=$WORK/repo
expect_exit 0 $CAIRN backup src
expect_exit 0 $CAIRN check --read-data
cp -a repo pristine

largest_pack() { find repo/data -type f -printf '%s %p\n' | sort -n | tail -1 | cut -d' ' -f2; }
reset() { rm -rf repo; cp -a pristine repo; }
flip() { python3 - "$1" "$2" <<'PY'
import sys
path, off = sys.argv[1], int(sys.argv[2])
with open(path, 'r+b') as f:
    f.seek(off); b = f.read(1); f.seek(off); f.write(bytes([b[0] ^ 0x01]))
PY
}

# 1. One flipped byte in a pack's data: check --read-data names the pack;
#    the structural check (no data read) cannot see it and passes.
pack=$(largest_pack); packname=$(basename "$pack")
flip "$pack" 1000
expect_exit 0 $CAIRN check
expect_exit 4 $CAIRN check --read-data
grep -q "$packname" "$WORK/.err" || fail "check does not name the damaged pack: $(err)"; ok

# Restore: the damaged file fails with a clear message, every other file is exact.
expect_exit 4 $CAIRN --json restore latest --target out
nerr=$(json_get "len(j['errors'])")
[ "$nerr" -ge 1 ] && [ "$nerr" -le 2 ] || fail "expected 1-2 damaged files, got $nerr"; ok
grep -q "damaged" "$WORK/.err" || fail "restore error does not say damaged: $(err)"; ok
json_get "'\n'.join(e['path'] for e in j['errors'])" > damaged.txt
(cd src && find . -type f -printf '%P\n') | while read -r f; do
  if grep -qxF "$f" damaged.txt; then
    [ ! -e "out/$f" ] || fail "damaged file $f was left in the target"
  else
    cmp -s "src/$f" "out/$f" || fail "undamaged file $f not restored exactly"
  fi
done; ok

# cat of the damaged file fails, and says why.
bad=$(head -1 damaged.txt)
expect_exit 4 $CAIRN cat "latest:$bad"
expect_one_line_error "damaged"

# 2. Damage in the pack header or trailer: even the structural check sees it.
reset; pack=$(largest_pack); size=$(stat -c %s "$pack")
flip "$pack" $((size - 20))
expect_exit 4 $CAIRN check
grep -q "$(basename "$pack")" "$WORK/.err" || fail "header damage not named: $(err)"; ok

# 3. A truncated pack, a zero-length pack, a missing pack.
reset; pack=$(largest_pack)
truncate -s 5000 "$pack"
expect_exit 4 $CAIRN check
grep -q "truncated" "$WORK/.err" || fail "truncation not reported: $(err)"; ok
reset; pack=$(largest_pack); : > "$pack"
expect_exit 4 $CAIRN check
reset; pack=$(largest_pack); rm "$pack"
expect_exit 4 $CAIRN check
grep -q "missing" "$WORK/.err" || fail "missing pack not reported: $(err)"; ok
expect_exit 4 $CAIRN restore latest --target out2
[ -f out2/text.txt ] || [ -f out2/d/f1 ] || echo "note: every file lived in the removed pack"

# 4. A damaged index file: reported by check; repair index rebuilds from packs.
reset; idx=$(ls repo/index/* | head -1)
flip "$idx" 40
expect_exit 4 $CAIRN check
grep -q "index file" "$WORK/.err" || fail "index damage not named: $(err)"; ok
expect_exit 0 $CAIRN repair index
expect_exit 0 $CAIRN check --read-data
expect_exit 0 $CAIRN restore latest --target out3
$TREECMP src out3 > /dev/null || fail "restore after repair index differs"; ok

# 5. A damaged snapshot file is named; a damaged ref is named.
reset; snap=$(ls repo/snapshots | head -1)
flip "repo/snapshots/$snap" 30
expect_exit 4 $CAIRN check
grep -q "${snap:0:12}" "$WORK/.err" || fail "snapshot damage not named: $(err)"; ok
reset; echo "garbage" > repo/refs/branches/main
expect_exit 4 $CAIRN check
grep -q "branches/main" "$WORK/.err" || fail "ref damage not named: $(err)"; ok
finish
