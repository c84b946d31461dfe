# Git-like versioning: tags, branches, every revision form, log options,
# show, rev-parse, cat-file, ls-tree, hash-object, and the approval step.
source "$(dirname "$0")/lib.sh"

mkdir -p src/d; echo one > src/a.txt; echo dee > src/d/x
expect_exit 0 $CAIRN init repo --encryption none  # writes snapshot files itself (format 1)
export CAIRN_REPO=$WORK/repo
snap() { expect_exit 0 $CAIRN --json backup "$@" src; json_get "j['snapshot']"; }
s1=$(snap -m one); echo two > src/a.txt
s2=$(snap -m two); echo three > src/a.txt
s3=$(snap -m three)
s4=$(snap --branch side -m side)   # a second lineage, starting fresh

# --- revisions
rp() { expect_exit 0 $CAIRN rev-parse "$1"; out; }
assert_eq "$(rp latest)" "$s3" "latest"
assert_eq "$(rp HEAD)" "$s3" "HEAD"
assert_eq "$(rp main)" "$s3" "branch name"
assert_eq "$(rp branches/main)" "$s3" "explicit branch ref"
assert_eq "$(rp side)" "$s4" "second branch"
assert_eq "$(rp main~1)" "$s2" "~1"
assert_eq "$(rp main~2)" "$s1" "~2"
assert_eq "$(rp main~)" "$s2" "~"
assert_eq "$(rp main^)" "$s2" "^"
assert_eq "$(rp main^1)" "$s2" "^1"
assert_eq "$(rp main^^)" "$s1" "^^"
assert_eq "$(rp main~1^0)" "$s2" "^0"
assert_eq "$(rp "${s2:0:7}")" "$s2" "id prefix"
assert_eq "$(rp "$s1")" "$s1" "full id"
assert_eq "$(rp "main@{now}")" "$s3" "@{now}"
assert_eq "$(rp "main@{2099-01-01}")" "$s3" "@{future date}"
t2=$($CAIRN --json log -n 1 main~1 | python3 -c "import json,sys; print(json.load(sys.stdin)[0]['time'])")
assert_eq "$(rp "main@{$t2}")" "$s2" "@{ISO time of the second snapshot}"
assert_eq "$(rp "main@{$t2}~1")" "$s1" "@{time}~1"
expect_exit 0 $CAIRN rev-parse latest main~1 "${s1:0:6}"
assert_eq "$(out | tr '\n' ' ')" "$s3 $s2 $s1 " "rev-parse of several"
expect_exit 0 $CAIRN --json rev-parse latest
assert_eq "$(json_get "j[0]")" "$s3" "rev-parse --json"

# revision errors
expect_exit 5 $CAIRN rev-parse nosuch
expect_one_line_error "not a branch, tag, snapshot id"
expect_exit 5 $CAIRN rev-parse main~3
expect_one_line_error "beyond the first snapshot"
expect_exit 5 $CAIRN rev-parse main^2
expect_one_line_error "parent"
expect_exit 5 $CAIRN rev-parse "main@{2001-01-01}"
expect_one_line_error "no snapshot at or before"
expect_exit 2 $CAIRN rev-parse "main@{half past nine}"
expect_one_line_error "cannot understand the time"
expect_exit 2 $CAIRN rev-parse "main@{2026-13-45}"
expect_exit 2 $CAIRN rev-parse "main@{yesterday"
expect_one_line_error "missing '}'"
expect_exit 5 $CAIRN rev-parse ffff1234
# Ambiguous prefix: 3000 more valid snapshots (copies of s1 with other
# messages, written as files) make two ids share 4 leading hex digits
# (the chance that none do is below 1e-29).
python3 - "$WORK/repo/snapshots" "$s1" <<'PY'
import hashlib, json, os, sys
d, base = sys.argv[1], sys.argv[2]
raw = open(os.path.join(d, base), "rb").read()
head, snap = raw[:15], json.loads(raw[15:])
for i in range(3000):
    snap["message"] = "copy %d" % i
    f = head + json.dumps(snap, sort_keys=True, separators=(",", ":")).encode()
    open(os.path.join(d, hashlib.sha256(f).hexdigest()), "wb").write(f)
PY
amb=$(ls repo/snapshots | cut -c1-4 | sort | uniq -d | head -1)
[ -n "$amb" ] || fail "no shared prefix among 3000 snapshots"
expect_exit 2 $CAIRN rev-parse "$amb"
expect_one_line_error "ambiguous"
grep -q "candidates:" "$WORK/.err" || fail "ambiguity does not list candidates"; ok
expect_exit 0 $CAIRN check

# --- tags
expect_exit 0 $CAIRN tag v1 main~2 -m "first release"
expect_exit 0 $CAIRN tag v2
assert_eq "$(rp v1)" "$s1" "tag resolves"
assert_eq "$(rp v2)" "$s3" "tag defaults to latest"
assert_eq "$(rp tags/v1~0)" "$s1" "explicit tag ref"
expect_exit 0 $CAIRN tag
assert_eq "$(out | tr '\n' ' ')" "v1 v2 " "tag list"
expect_exit 0 $CAIRN tag -l 'v1*'
assert_eq "$(out)" "v1" "tag -l PATTERN"
expect_exit 0 $CAIRN --json tag -l
assert_eq "$(json_get "j[0]['message']")" "first release" "tag message"
assert_eq "$(json_get "j[0]['snapshot']")" "$s1" "tag snapshot in JSON"
# tags are immutable
expect_exit 6 $CAIRN tag v1 latest
expect_one_line_error "already exists"
assert_eq "$(rp v1)" "$s1" "tag unchanged after refused move"
# moving or deleting needs approval: no terminal and no --yes is refused
expect_exit 7 $CAIRN tag v1 latest --force < /dev/null
expect_one_line_error "needs approval"
assert_eq "$(rp v1)" "$s1" "tag unchanged without approval"
expect_exit 0 $CAIRN tag v1 latest --force --yes
assert_eq "$(rp v1)" "$s3" "tag moved with --yes"
expect_exit 7 $CAIRN tag -d v1 < /dev/null
expect_exit 0 $CAIRN rev-parse v1
expect_exit 0 $CAIRN tag -d v1 --yes
expect_exit 5 $CAIRN rev-parse v1
expect_exit 5 $CAIRN tag -d v1 --yes
expect_one_line_error "no tag"
expect_exit 2 $CAIRN tag "bad/name"
expect_exit 2 $CAIRN tag abcd1234
expect_one_line_error "could be read as a snapshot id prefix"
# The approval prompt on a terminal (script(1) gives a pty).
if command -v script >/dev/null; then
  printf 'n\n' | script -qec "$CAIRN tag -d v2" /dev/null > prompt.txt 2>&1 || true
  grep -q "Proceed?" prompt.txt || fail "no prompt on a terminal: $(cat prompt.txt)"; ok
  expect_exit 0 $CAIRN rev-parse v2
  printf 'y\n' | script -qec "$CAIRN tag -d v2" /dev/null > prompt.txt 2>&1 || true
  expect_exit 5 $CAIRN rev-parse v2
fi

# --- branches
expect_exit 0 $CAIRN branch
out | grep -q "^\* main " || fail "default branch not marked: $(out)"; ok
expect_exit 0 $CAIRN branch fix main~1
assert_eq "$(rp fix)" "$s2" "branch created at REV"
expect_exit 6 $CAIRN branch fix
expect_one_line_error "already exists"
echo fix > src/a.txt
expect_exit 0 $CAIRN --json backup --branch fix src
assert_eq "$(json_get "j['parents']")" "['$s2']" "backup on a branch has the branch head as parent"
expect_exit 0 $CAIRN --json branch
assert_eq "$(json_get "sorted(b['name'] for b in j)")" "['fix', 'main', 'side']" "branch --json"
expect_exit 7 $CAIRN branch -d fix < /dev/null
expect_exit 0 $CAIRN branch -d fix --yes
expect_exit 5 $CAIRN rev-parse fix

# --- log
expect_exit 0 $CAIRN log --oneline
assert_eq "$(out | wc -l)" "3" "log of main"
expect_exit 0 $CAIRN log --oneline -n 2
assert_eq "$(out | wc -l)" "2" "log -n"
expect_exit 0 $CAIRN log --graph --oneline
assert_eq "$(out | grep -c '^\* ')" "3" "log --graph marks"
expect_exit 0 $CAIRN --json log --since "$t2"
assert_eq "$(json_get "[s['id'] for s in j]")" "['$s3', '$s2']" "log --since"
expect_exit 0 $CAIRN --json log --until "$t2"
assert_eq "$(json_get "[s['id'] for s in j]")" "['$s2', '$s1']" "log --until"
expect_exit 0 $CAIRN --json log --since "1 hour ago"
assert_eq "$(json_get "len(j)")" "3" "log --since relative"
expect_exit 2 $CAIRN log --since "the day before"
expect_exit 0 $CAIRN --json log -- d/x
assert_eq "$(json_get "[s['id'] for s in j]")" "['$s1']" "log -- PATH (only the snapshot that added it)"
expect_exit 0 $CAIRN --json log -- a.txt
assert_eq "$(json_get "len(j)")" "3" "log -- PATH (changed each time)"
expect_exit 0 $CAIRN log main
out | grep -q "tag: v2\|branch: main" || fail "log decorations: $(out)"; ok

# --- show
expect_exit 0 $CAIRN show main
out | grep -q "a.txt" || fail "show --stat lists a.txt"; ok
out | grep -q "1 file changed" || fail "show summary: $(out)"; ok
expect_exit 0 $CAIRN --json show main
assert_eq "$(json_get "[c['path'] + ':' + c['status'] for c in j['changes']]")" "['a.txt:M']" "show --json changes"
assert_eq "$(json_get "j['parents']")" "['$s2']" "show parents"

# --- cat-file, ls-tree, hash-object
expect_exit 0 $CAIRN cat-file -t latest
assert_eq "$(out)" "snapshot" "cat-file -t snapshot"
expect_exit 0 $CAIRN cat-file -t latest:d
assert_eq "$(out)" "tree" "cat-file -t tree"
expect_exit 0 $CAIRN cat-file -t latest:a.txt
assert_eq "$(out)" "file" "cat-file -t file"
expect_exit 0 $CAIRN cat-file -s latest:a.txt
assert_eq "$(out)" "6" "cat-file -s file"
expect_exit 0 $CAIRN cat-file -p latest:a.txt
assert_eq "$(out)" "three" "cat-file -p file"
expect_exit 0 $CAIRN --json ls latest:a.txt
chunk=$(json_get "j[0]['chunks'][0]")
expect_exit 0 $CAIRN cat-file -t "$chunk"
assert_eq "$(out)" "chunk" "cat-file -t chunk"
expect_exit 0 $CAIRN cat-file -p "${chunk:0:10}"
assert_eq "$(out)" "three" "cat-file -p chunk by prefix"
expect_exit 0 $CAIRN cat-file -p latest
assert_eq "$(python3 -c "import json,sys; print(json.load(open('$WORK/.out'))['id'])")" "$s3" "cat-file -p snapshot"
tree=$($CAIRN --json show latest | python3 -c "import json,sys; print(json.load(sys.stdin)['tree'])")
expect_exit 0 $CAIRN cat-file -p "$tree"
out | grep -q "a.txt" || fail "cat-file -p tree"; ok
expect_exit 2 $CAIRN cat-file latest
expect_exit 5 $CAIRN cat-file -t latest:nope
expect_exit 0 $CAIRN ls-tree latest
assert_eq "$(out | cut -f2 | tr '\n' ' ')" "a.txt d " "ls-tree one level"
expect_exit 0 $CAIRN ls-tree -r latest
assert_eq "$(out | cut -f2 | tr '\n' ' ')" "a.txt d/x " "ls-tree -r"
lsid=$(out | grep 'd/x$' | awk '{print $3}')
expect_exit 0 $CAIRN hash-object src/d/x
assert_eq "$(out | awk '{print $1}')" "$lsid" "hash-object id equals the ls-tree id of the same content"
head -c 1000000 /dev/urandom > big.bin
expect_exit 0 $CAIRN --json hash-object big.bin
[ "$(json_get "j[0]['written']")" = False ] || fail "hash-object without -w wrote"; ok
c0=$(json_get "j[0]['chunks'][0]")
expect_exit 5 $CAIRN cat-file -t "$c0"
expect_exit 0 $CAIRN hash-object -w big.bin
expect_exit 0 $CAIRN cat-file -t "$c0"
assert_eq "$(out)" "chunk" "hash-object -w stored the chunks"
expect_exit 0 $CAIRN check --read-data
finish
