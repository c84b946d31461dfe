#!/usr/bin/env bash
# cairn archive: snapshots older than the cutoff, beyond the newest
# --keep-min and not named by a ref, are copied to the archive repository,
# verified there against the source file by file, and only then moved to
# the trash here, behind approval. A refused approval removes nothing; an
# archive that does not verify removes nothing (exit 4); a later archive
# continues the archive's history; both audit logs record it.
source "$(dirname "$0")/lib.sh"

expect_exit 0 $CAIRN init src-repo
export CAIRN_REPO=$WORK/src-repo
export CAIRN_NOW=2026-12-01T00:00:00Z
mkdir data
# Eight monthly snapshots on main (March to October), one on dev (April,
# its head).
for m in 03 04 05 06 07 08 09 10; do
  echo "month $m" > data/month.txt
  head -c 300000 /dev/urandom > "data/blob-$m.bin"
  expect_exit 0 $CAIRN --json backup data -m "month $m" --time "2026-$m-15T12:00:00Z"
  eval "s$m=$(json_get "j['snapshot']")"
  cp -a data "saved-$m"
done
expect_exit 0 $CAIRN branch dev "$s03"
echo dev > data/dev.txt
expect_exit 0 $CAIRN --json backup data -m "dev work" --branch dev --time "2026-04-20T00:00:00Z"
sdev=$(json_get "j['snapshot']")
cp -a data saved-dev
rm data/dev.txt
# A tag on June's snapshot: it stays, whatever its age.
expect_exit 0 $CAIRN tag release-june "$s06" -m "kept by its tag"

$CAIRN key generate arch-key >/dev/null
expect_exit 0 $CAIRN -r archive --key-file arch-key init
A=(-r archive --key-file arch-key)
expect_exit 0 $CAIRN "${A[@]}" snapshots
src_before=$(tree_hash src-repo)
arch_before=$(tree_hash archive)

# --- dry run: the decisions, nothing changed ---
# Cutoff 2026-09-01 (90 days before CAIRN_NOW); keep the 3 newest (Oct, Sep, Aug).
expect_exit 0 $CAIRN --json archive --to archive --to-key-file arch-key --older-than 91d --keep-min 3 --dry-run
assert_eq "$(json_get "sorted(s['id'] for s in j['snapshots'] if s['archive']) == sorted(['$s03', '$s04', '$s05', '$s07'])")" \
  "True" "the snapshots to archive: older than the cutoff, not the 3 newest, no ref on them"
assert_eq "$(json_get "[s['reason'] for s in j['snapshots'] if s['id'] == '$s06']")" "['tag release-june points at it']" \
  "the tagged one stays and says why"
assert_eq "$(json_get "[s['reason'] for s in j['snapshots'] if s['id'] == '$s08']")" "['one of the 3 newest']" "kept by count"
assert_eq "$(json_get "[s['reason'] for s in j['snapshots'] if s['id'] == '$sdev']")" "['branch dev points at it']" \
  "a branch head stays"
assert_eq "$(tree_hash src-repo) $(tree_hash archive)" "$src_before $arch_before" "a dry run changes neither repository"

# --- approval refused (no terminal, no --yes): nothing removed here ---
expect_exit 7 $CAIRN archive --to archive --to-key-file arch-key --older-than 91d --keep-min 3
expect_one_line_error "nothing was removed here"
expect_exit 0 $CAIRN --json snapshots
assert_eq "$(json_get "len(j)")" "9" "a refused archive leaves every snapshot here"

# --- the archive does not verify: nothing removed here (exit 4) ---
cp -a archive archive-good
pack=$(find archive/data -type f -size +100k | sort | head -1)
[ -n "$pack" ] || fail "no data pack in the archive"
python3 - "$pack" <<'EOF'
import os, sys
p = sys.argv[1]
with open(p, "r+b") as f:
    f.seek(os.path.getsize(p) // 2)
    b = f.read(1)
    f.seek(-1, 1)
    f.write(bytes([b[0] ^ 0x40]))
EOF
expect_exit 4 $CAIRN archive --to archive --to-key-file arch-key --older-than 91d --keep-min 3 --yes
expect_one_line_error "nothing was removed here"
expect_exit 0 $CAIRN --json snapshots
assert_eq "$(json_get "len(j)")" "9" "an archive that does not verify leaves every snapshot here"
rm -rf archive && mv archive-good archive

# --- approved: copied, verified, removed here ---
expect_exit 0 $CAIRN --json archive --to archive --to-key-file arch-key --older-than 91d --keep-min 3 --yes
assert_eq "$(json_get "j['archived']") $(json_get "j['removed']")" "4 4" "four archived and removed here"
assert_eq "$(json_get "j['verified']['snapshots']")" "4" "each archived snapshot verified"
expect_exit 0 $CAIRN --json snapshots
assert_eq "$(json_get "sorted(s['id'] for s in j) == sorted(['$s06', '$s08', '$s09', '$s10', '$sdev'])")" "True" \
  "what stays here: the tagged one, the branch head and the 3 newest"
expect_exit 0 $CAIRN check
expect_exit 0 $CAIRN "${A[@]}" check --read-data
# The ancestors come along: June (tagged, so it also stays here) is July's
# parent, and the archive's history is whole.
expect_exit 0 $CAIRN "${A[@]}" --json snapshots
assert_eq "$(json_get "len(j)")" "5" "the archive holds the four and June, July's parent"
# Their ids in the archive are new (other keys): find each by its origin.
expect_exit 0 $CAIRN "${A[@]}" --json log --all
python3 - "$WORK/.out" "$s03" "$s04" "$s05" "$s07" >ids.txt <<'EOF2'
import json, sys
snaps = json.load(open(sys.argv[1]))
by_origin = {s.get("copied_from", s["id"]): s for s in snaps}
by_id = {s["id"]: s for s in snaps}
for o in sys.argv[2:]:
    s = by_origin[o]
    print(o, s["id"], s["message"] + ":", ",".join(by_id[p]["message"] for p in s["parents"]))
EOF2
grep -q "month 04: month 03$" ids.txt && grep -q "month 03: $" ids.txt && grep -q "month 07: month 06$" ids.txt ||
  fail "the archive's parents are not the source's: $(cat ids.txt)"
ok
while read -r origin id rest; do
  case "$origin" in
    "$s03") saved=saved-03 ;; "$s04") saved=saved-04 ;; "$s05") saved=saved-05 ;;
    "$s07") saved=saved-07 ;; *) fail "unexpected origin $origin" ;;
  esac
  rm -rf out
  expect_exit 0 $CAIRN "${A[@]}" restore "$id" --target out
  $TREECMP "$saved" out || fail "archived $origin restores differently from $saved"; ok
done <ids.txt
expect_exit 0 $CAIRN "${A[@]}" --json branch
assert_eq "$(json_get "sorted(b['name'] for b in j)")" "['main']" "the archive's branch: main, at July"
# Removed here means in the trash: recoverable.
expect_exit 0 $CAIRN --json trash
assert_eq "$(json_get "len(j)")" "4" "the archived snapshots are in the trash here"

# --- both audit logs ---
expect_exit 0 $CAIRN --json audit log
assert_eq "$(json_get "[e['result'] for e in (j.get('entries', j) if isinstance(j, dict) else j) if e['operation'] == 'archive']")" \
  "['refused', 'failed', 'ok']" "the source's log: refused, failed, then done"
expect_exit 0 $CAIRN "${A[@]}" --json audit log
assert_eq "$(json_get "[len(e['snapshots']) for e in (j.get('entries', j) if isinstance(j, dict) else j) if e['operation'] == 'archive' and e['result'] == 'ok']")" \
  "[4, 4]" "the archive's log names what came in (the refused run had copied them already)"

# --- a month later: the next one goes, and the archive's history goes on ---
export CAIRN_NOW=2027-01-01T00:00:00Z
echo "month 11" > data/month.txt
expect_exit 0 $CAIRN --json backup data -m "month 11" --time "2026-11-15T12:00:00Z"
expect_exit 0 $CAIRN --json archive --to archive --to-key-file arch-key --older-than 91d --keep-min 3 --yes
assert_eq "$(json_get "[s['id'] for s in j['snapshots'] if s['archive']]")" "['$s08']" "August goes next"
expect_exit 0 $CAIRN "${A[@]}" --json log main
assert_eq "$(json_get "[s['message'] for s in j][:4]")" "['month 08', 'month 07', 'month 06', 'month 05']" \
  "August's copy follows July's in the archive, although July is no longer here"

# --- keep-min larger than what there is: nothing goes ---
expect_exit 0 $CAIRN --json archive --to archive --to-key-file arch-key --older-than 1d --keep-min 100 --yes
assert_eq "$(json_get "j['archived']")" "0" "keep-min bounds the archive"
expect_exit 2 $CAIRN archive --to archive --to-key-file arch-key --older-than nonsense
expect_one_line_error "--older-than"
expect_exit 10 $CAIRN archive --to nowhere --yes
expect_one_line_error "nowhere"
finish
