# forget on a history with fake times (backup --time, CAIRN_NOW): each
# retention policy keeps exactly the snapshots restic's rules keep, computed
# independently below in Python; the reasons for tags and heads; applying
# moves the rest to the trash and log, ~N, diff and restore still work;
# undelete; approval; the stored policy; bad input changes nothing.
#
# A tiny backup takes 70-100 ms here (2 shared cores), so a year of daily
# backups would take most of a minute: the history is 120 days (1-2 backups
# a day, some days skipped) on main plus an hourly series on branch dev.
source "$(dirname "$0")/lib.sh"
# These checks make many small Python calls, and python3 may be a slow
# wrapper (pyenv's shim): call the interpreter itself, without site.
PY="$(python3 -c 'import sys; print(sys.executable)') -S"
TREECMP="$PY $TESTS/e2e/treecmp.py"
json_get() { $PY -c "import json; j=json.load(open('$WORK/.out')); print($1)"; }
export TZ=UTC  # calendar buckets are local time
export CAIRN_NOW=2026-11-06T00:00:00Z

mkdir src; echo 0 > src/f
expect_exit 0 $CAIRN init repo -q
export CAIRN_REPO=$WORK/repo

# The times: seeded, so a failure reproduces.
$PY - > times-main <<'EOF'
import datetime, random
random.seed(70)
start = datetime.datetime(2026, 7, 9)
out = []
for d in range(120):
    day = start + datetime.timedelta(days=d)
    if d not in (0, 119) and random.random() < 0.1:
        continue  # a day without backup
    hours = [random.randint(0, 11)]
    if random.random() < 0.12:
        hours.append(random.randint(12, 23))  # a second one that day
    for h in hours:
        out.append(day + datetime.timedelta(hours=h, minutes=random.randint(0, 59), seconds=random.randint(0, 59)))
for t in out:
    print(t.strftime('%Y-%m-%dT%H:%M:%SZ'))
EOF
$PY - > times-dev <<'EOF'
import datetime, random
random.seed(71)
t = datetime.datetime(2026, 11, 3, 9, 5)
for i in range(30):
    print(t.strftime('%Y-%m-%dT%H:%M:%SZ'))
    # mostly hourly, sometimes two in one hour, sometimes a gap
    t += datetime.timedelta(minutes=random.choice([20, 60, 60, 60, 60, 150]))
EOF
n=0
while read -r t; do
  n=$((n + 1)); echo "main $n" > src/f
  $CAIRN -q backup --time "$t" src || fail "backup --time $t"
done < times-main
while read -r t; do
  n=$((n + 1)); echo "dev $n" > src/f
  $CAIRN -q backup --branch dev --time "$t" src || fail "backup --branch dev --time $t"
done < times-dev
# A branch deleted later: its snapshots have no head to protect them.
for t in 2026-08-01T10:00:00Z 2026-08-02T10:00:00Z; do
  n=$((n + 1)); echo "tmp $n" > src/f
  $CAIRN -q backup --branch tmp --time "$t" src || fail "backup --branch tmp"
done
expect_exit 0 $CAIRN branch -d tmp --yes
echo "backups done at ${SECONDS}s"

expect_exit 0 $CAIRN --json snapshots
cp .out snaps.json
nmain=$(json_get "sum(1 for s in j if s['branch'] == 'main')")
assert_eq "$nmain" "$(wc -l < times-main)" "main snapshots"
assert_eq "$(json_get "sum(1 for s in j if s['branch'] == 'dev')")" "30" "dev snapshots"
# A release tag on an old snapshot (the 4th), so every policy must keep it.
tagged=$(json_get "sorted((s for s in j if s['branch'] == 'main'), key=lambda s: s['time'])[3]['id']")
expect_exit 0 $CAIRN tag v1 "$tagged" -m release
expect_exit 0 $CAIRN --json snapshots
cp .out snaps.json
expect_exit 0 $CAIRN rev-parse main
main_head=$(out)
expect_exit 0 $CAIRN rev-parse dev
dev_head=$(out)

# The expected keep set of one branch, from the rules as restic documents
# them, without looking at cairn's code: group by calendar key, the newest of
# each of the N newest groups; a rule with fewer groups than N also keeps the
# oldest snapshot (restic >= 0.14); tagged snapshots and heads always.
# keepset.py DRYRUN_JSON SNAPS_JSON BRANCH NOW [RULE=N | head=ID | tagged=ID]...
# compares that set with the group BRANCH of a `forget --dry-run --json`
# (keep flags, reasons, "remove") and says what differs; with DRYRUN_JSON
# "-" it prints the expected set.
cat > keepset.py <<'EOF_PY'
import datetime, json, sys
dry, snaps_file, branch, now, *args = sys.argv[1:]
heads = set(a.split('=', 1)[1] for a in args if a.startswith('head='))
tagged = set(a.split('=', 1)[1] for a in args if a.startswith('tagged='))
pol = dict(a.split('=', 1) for a in args if not a.startswith(('head=', 'tagged=')))
def ts(s):
    return datetime.datetime.strptime(s[:19], '%Y-%m-%dT%H:%M:%S')
now = ts(now)
snaps = [(ts(s['time']), s['id']) for s in json.load(open(snaps_file)) if s['branch'] == branch]
# newest first; equal times by ascending id
snaps.sort(key=lambda x: x[1])
snaps.sort(key=lambda x: x[0], reverse=True)
keep = set()
if 'last' in pol:
    n = int(pol['last'])
    keep |= {i for _, i in (snaps if n == -1 else snaps[:n])}
keys = {
    'hourly': lambda t: (t.date(), t.hour),
    'daily': lambda t: t.date(),
    'weekly': lambda t: t.isocalendar()[:2],
    'monthly': lambda t: (t.year, t.month),
    'yearly': lambda t: t.year,
}
for rule, key in keys.items():
    if rule not in pol:
        continue
    n = int(pol[rule])
    groups = {}
    for t, i in snaps:
        groups.setdefault(key(t), []).append(i)  # dicts keep insertion order: newest group first
    g = list(groups.values())
    keep |= {members[0] for members in (g if n == -1 else g[:n])}
    if n != -1 and len(g) < n and snaps:
        keep.add(snaps[-1][1])
if 'within_days' in pol:
    newest = next(t for t, _ in snaps if t <= now)
    cut = newest - datetime.timedelta(days=int(pol['within_days']))
    keep |= {i for t, i in snaps if t > cut}
if 'min_count' in pol:
    keep |= {i for _, i in snaps[:int(pol['min_count'])]}
if 'older_days' in pol:
    cut = now - datetime.timedelta(days=int(pol['older_days']))
    keep |= {i for t, i in snaps if t > cut}
keep |= {i for _, i in snaps if i in heads or i in tagged}
if dry == '-':
    print(' '.join(sorted(keep)))
    sys.exit(0)
j = json.load(open(dry))
g = [g for g in j['groups'] if g['branch'] == branch]
if len(g) != 1:
    sys.exit('no single group %s in %s' % (branch, [g['branch'] for g in j['groups']]))
ds = g[0]['snapshots']
problems = []
if [d['time'] for d in ds] != sorted((d['time'] for d in ds), reverse=True):
    problems.append('decisions are not newest first')
if sorted(d['id'] for d in ds) != sorted(i for _, i in snaps):
    problems.append('the group is not every snapshot of the branch')
for d in ds:
    if d['keep'] != bool(d['reasons']):
        problems.append('keep without reason or reason without keep: %s' % d)
got = {d['id'] for d in ds if d['keep']}
removed = {d['id'] for d in ds if not d['keep']}
if not removed <= set(j['remove']):
    problems.append('removed snapshots missing from "remove"')
for i in sorted(keep - got):
    problems.append('should keep %s %s' % (i[:12], dict((b, a) for a, b in snaps)[i]))
for i in sorted(got - keep):
    d = [d for d in ds if d['id'] == i][0]
    problems.append('should remove %s %s (kept for %s)' % (i[:12], d['time'], d['reasons']))
if problems:
    sys.exit('\n'.join(problems))
EOF_PY
# check_group BRANCH RULE=N...: the dry run in .out keeps what restic would.
check_group() {
  local b=$1; shift
  $PY keepset.py "$WORK/.out" snaps.json "$b" "$CAIRN_NOW" "head=$main_head" "head=$dev_head" "tagged=$tagged" "$@" \
    || fail "branch $b, rules $*: the kept set differs (above) from restic's rules"
  ok
}
check_policy() {  # check_policy "FLAGS" RULE=N...
  local flags=$1; shift
  # shellcheck disable=SC2086
  expect_exit 0 $CAIRN --json forget $flags --dry-run
  check_group main "$@"
}

check_policy "--keep-daily 7" daily=7
check_policy "--keep-weekly 4" weekly=4
check_policy "--keep-monthly 6" monthly=6     # 4 months of history: the oldest is kept too
check_policy "--keep-monthly 2" monthly=2
check_policy "--keep-yearly 3" yearly=3
check_policy "--keep-last 3" last=3
check_policy "--keep-within 10d" within_days=10
check_policy "--older-than 30 --keep-last 1" older_days=30 last=1
check_policy "--min-count 10 --keep-monthly 1" min_count=10 monthly=1
check_policy "--keep-daily 7 --keep-weekly 4 --keep-monthly 6 --keep-last 3 --keep-within 3d" \
  daily=7 weekly=4 monthly=6 last=3 within_days=3
check_policy "--keep-daily -1" daily=-1
# The monthly rule really kept the oldest (count left), and said so.
expect_exit 0 $CAIRN --json forget --keep-monthly 6 --dry-run
assert_eq "$(json_get "j['groups'][0]['snapshots'][-1]['reasons']")" "['monthly 2026-07 (oldest)']" "oldest kept by monthly"
# The hourly series on dev.
for spec in "hourly=24" "hourly=6 daily=2"; do
  flags=$(echo "$spec" | sed -E 's/([a-z]+)=(-?[0-9]+)/--keep-\1 \2/g')
  # shellcheck disable=SC2086
  expect_exit 0 $CAIRN --json forget --branch dev $flags --dry-run
  # shellcheck disable=SC2086
  check_group dev $spec
done

# Reasons: the tag and the head, whatever the policy.
expect_exit 0 $CAIRN --json forget --keep-last 1 --dry-run
reasons() { json_get "[s['reasons'] for s in j['groups'][0]['snapshots'] if s['id'] == '$1'][0]"; }
assert_eq "$(reasons "$tagged")" "['tagged v1']" "tagged snapshot's reason"
assert_eq "$(reasons "$main_head")" "['branch head main', 'last']" "head's reasons"
assert_eq "$(json_get "j['freed']['bytes'] > 0 and j['freed']['blobs'] > 0")" "True" "dry run frees bytes"
assert_eq "$(json_get "len(j['remove'])")" "$((nmain - 2))" "keep-last 1 removes all but head and tag"
victim=$(json_get "j['remove'][0]")
expect_exit 0 $CAIRN forget --keep-last 1 --dry-run
out | grep -q "^  keep   ${tagged:0:12}  .*  tagged v1$" || fail "text dry run: no tagged line: $(out)"; ok
out | grep -q "^would remove $((nmain - 2)) snapshot(s), freeing " || fail "text dry run: no total: $(out)"; ok

# A dry run changes nothing; neither does forget without approval (no
# terminal, no --yes: exit 7).
before=$(tree_hash repo)
expect_exit 7 $CAIRN forget --keep-last 3 < /dev/null
expect_one_line_error "needs approval"
expect_exit 7 $CAIRN delete "$victim" < /dev/null
assert_eq "$(tree_hash repo)" "$before" "repository after refused approval"
expect_exit 0 $CAIRN --json snapshots
cmp -s .out snaps.json || fail "snapshots changed without approval"; ok

# --- The stored policy ---
expect_exit 0 $CAIRN policy show
assert_eq "$(out)" "no retention policy is set ('cairn policy set --keep-daily 7 ...')" "no policy"
expect_exit 0 $CAIRN policy set --keep-daily 7
expect_exit 0 $CAIRN policy show
assert_eq "$(out)" "every branch: keep-daily 7" "policy show"
expect_exit 0 $CAIRN --json forget --dry-run
check_group main daily=7
check_group dev daily=7
assert_eq "$(json_get "sorted(g['branch'] for g in j['groups'])")" "['dev', 'main', 'tmp']" "stored policy: every branch"
expect_exit 0 $CAIRN policy set --branch dev --keep-last 2 --keep-hourly 3
expect_exit 0 $CAIRN policy show
assert_eq "$(out)" "$(printf 'every branch: keep-daily 7\nbranch dev: keep-last 2, keep-hourly 3')" "policy show with a branch"
expect_exit 0 $CAIRN --json policy show
assert_eq "$(out)" '{"branches":{"dev":{"hourly":3,"last":2}},"default":{"daily":7},"version":1}' "policy show --json"
expect_exit 0 $CAIRN --json forget --dry-run
check_group dev last=2 hourly=3
check_group main daily=7
assert_eq "$(json_get "[g['policy'] for g in j['groups'] if g['branch'] == 'dev'][0]")" "keep-last 2, keep-hourly 3" "dev policy text"
expect_exit 0 $CAIRN --json forget --branch dev --dry-run
assert_eq "$(json_get "[g['branch'] for g in j['groups']]")" "['dev']" "stored policy of one branch"
expect_exit 0 $CAIRN policy clear --branch dev
expect_exit 0 $CAIRN policy show
assert_eq "$(out)" "every branch: keep-daily 7" "policy clear --branch"

# --- Bad input: one line, the documented exit code, nothing changed ---
before=$(tree_hash repo)
bad() {  # bad CODE MESSAGE ARGS...
  local code=$1 msg=$2; shift 2
  expect_exit "$code" $CAIRN "$@"
  expect_one_line_error "$msg"
  [ "$(tree_hash repo)" == "$before" ] || fail "repository changed by: cairn $*"
  ok
}
bad 5 "unknown revision 'nosuch'" forget nosuch --yes
bad 5 "no snapshot id starts with 'deadbeef00'" forget deadbeef00 --yes
bad 5 "unknown revision 'nosuch'" delete nosuch --yes
# --keep-daily 0 is no rule at all: refused, not "apply the stored policy"
# (one is stored here: keep-daily 7 would remove most of main).
bad 2 "the policy keeps nothing" forget --keep-daily 0 --yes
bad 2 "the policy keeps nothing" forget --keep-daily 0 --keep-last 0 --dry-run
bad 2 "invalid duration '-3d'" forget --keep-within -3d --yes
bad 2 "invalid duration '3x'" forget --keep-within 3x --yes
bad 2 "invalid duration 'abc'" forget --older-than abc --keep-last 1 --yes
bad 2 "invalid duration '0d'" forget --keep-within 0d --yes
bad 2 "invalid --keep-last -2" forget --keep-last -2 --yes
bad 2 "is tagged 'v1' (a release); delete the tag first ('cairn tag -d v1')" forget "$tagged" --yes
bad 2 "is tagged 'v1'" delete v1 --yes
bad 2 "is the head of branch 'main'" delete "$main_head" --yes
bad 2 "is the head of branch 'dev'" forget dev --yes
bad 5 "branch 'nosuch' has no snapshots" forget --branch nosuch --keep-last 1 --yes
bad 2 "either snapshots or --keep-*" forget "$tagged" --keep-last 1 --yes
# Every branch with a head keeps its head, so "removes every snapshot" can
# only happen to a deleted branch's snapshots (tmp).
bad 2 "would remove every snapshot of branch 'tmp'" forget --branch tmp --keep-tag nomatch --yes
bad 2 "would remove every snapshot of branch 'tmp'" forget --branch tmp --older-than 1d --yes
expect_exit 0 $CAIRN --json forget --branch tmp --keep-tag nomatch --force --dry-run
assert_eq "$(json_get "len(j['remove'])")" "2" "--force allows removing all of tmp"
bad 5 "no snapshot in the trash has an id starting with 'abcd1234'" undelete abcd1234
bad 5 "no snapshot in the trash has an id starting with 'nosuch'" undelete nosuch
assert_eq "$(tree_hash repo)" "$before" "repository after bad input"

# --- Apply ---
expect_exit 0 $CAIRN --json forget --keep-daily 7 --keep-weekly 4 --keep-monthly 6 --dry-run
check_group main daily=7 weekly=4 monthly=6
keep_main=$($PY keepset.py - snaps.json main "$CAIRN_NOW" "head=$main_head" "tagged=$tagged" daily=7 weekly=4 monthly=6)
removed=$(json_get "' '.join(sorted(j['remove']))")
nremoved=$(json_get "len(j['remove'])")
expect_exit 0 $CAIRN --json forget --keep-daily 7 --keep-weekly 4 --keep-monthly 6 --yes
assert_eq "$(json_get "j['removed']")" "$nremoved" "removed count"
assert_eq "$(json_get "' '.join(sorted(j['remove']))")" "$removed" "applied what the dry run said"
expect_exit 0 $CAIRN --json snapshots
assert_eq "$(json_get "' '.join(sorted(s['id'] for s in j if s['branch'] == 'main'))")" "$keep_main" "snapshots: the kept ones"
assert_eq "$(json_get "sum(1 for s in j if s['branch'] != 'main')")" "32" "other branches untouched"
expect_exit 0 $CAIRN --json trash
assert_eq "$(json_get "' '.join(sorted(t['id'] for t in j))")" "$removed" "trash: the removed ones"
assert_eq "$(json_get "set(t['expires'] for t in j)")" "{'2026-11-13T00:00:00.000000000Z'}" "trash expiry: now + 7d"
assert_eq "$(json_get "set(t['reason'] for t in j)")" "{'forget (keep-daily 7, keep-weekly 4, keep-monthly 6)'}" "trash reason"
assert_eq "$(json_get "all(t['purged'] == '' and t['branch'] == 'main' for t in j)")" "True" "trash: recoverable"
expect_exit 0 $CAIRN trash
assert_eq "$(out | wc -l)" "$nremoved" "trash: a line each"
out | grep -q "expires 2026-11-13" || fail "trash text: no expiry: $(out)"; ok

# log and ~N go through the removed snapshots to the nearest kept ancestor.
expect_exit 0 $CAIRN --json log main
assert_eq "$(json_get "' '.join(sorted(s['id'] for s in j))")" "$keep_main" "log: the kept ones"
log_ids=$(json_get "' '.join(s['id'] for s in j)")
read -r k0 k1 k2 _ <<< "$log_ids"
assert_eq "$(json_get "[s['time'] for s in j] == sorted((s['time'] for s in j), reverse=True)")" "True" "log newest first"
expect_exit 0 $CAIRN rev-parse latest~1
assert_eq "$(out)" "$k1" "latest~1"
expect_exit 0 $CAIRN rev-parse main~2
assert_eq "$(out)" "$k2" "main~2"
expect_exit 0 $CAIRN rev-parse "$k1^1"
assert_eq "$(out)" "$k2" "^1 of a kept snapshot"
# A kept snapshot whose stored parent (in the snapshots listed before the
# forget) was removed: ~1 names the nearest kept ancestor.
pair=$($PY - "$WORK/snaps.json" "$log_ids" "$removed" <<'EOF'
import json, sys
snaps = {s['id']: s for s in json.load(open(sys.argv[1]))}
log = sys.argv[2].split(); removed = set(sys.argv[3].split())
for a, b in zip(log, log[1:]):
    p = snaps[a]['parents']
    if p and p[0] in removed:
        print(a, b, p[0]); break
EOF
)
read -r child kept_anc stored_parent <<< "$pair"
[ -n "$stored_parent" ] || fail "no kept child of a removed snapshot"; ok
expect_exit 0 $CAIRN rev-parse "$child~1"
assert_eq "$(out)" "$kept_anc" "child re-pointed to the nearest kept ancestor"
expect_exit 0 $CAIRN diff "$kept_anc" "$child" --name-status
assert_eq "$(out)" "M	f" "diff across removed snapshots"

# Restore: a removed snapshot is refused with a pointer to the trash; undelete
# brings it back.
gone=$stored_parent
expect_exit 5 $CAIRN restore "$gone" --target out1
expect_one_line_error "is in the trash"
err | grep -q "cairn undelete ${gone:0:12}" || fail "restore error does not say how to undelete: $(err)"; ok
[ ! -e out1 ] || [ -z "$(ls -A out1)" ] || fail "restore of a removed snapshot wrote files"; ok
# What src/f held at the backup of snapshot ID: "main N" for the N-th time.
content_of() {
  $PY -c "import json; t = {s['id']: s['time'][:19] + 'Z' for s in json.load(open('snaps.json'))}['$1']
print('main %d' % (open('times-main').read().split().index(t) + 1))"
}
expect_exit 0 $CAIRN restore "$child" --target out2
assert_eq "$(cat out2/f)" "$(content_of "$child")" "restore of a kept snapshot"
expect_exit 0 $CAIRN undelete "${gone:0:12}"
out | grep -q "brought back snapshot ${gone:0:12}" || fail "undelete output: $(out)"; ok
expect_exit 0 $CAIRN restore "$gone" --target out3
assert_eq "$(cat out3/f)" "$(content_of "$gone")" "restore of the undeleted snapshot"
expect_exit 0 $CAIRN --json snapshots
assert_eq "$(json_get "'$gone' in [s['id'] for s in j]")" "True" "snapshots lists the undeleted one"
expect_exit 0 $CAIRN --json trash
assert_eq "$(json_get "len(j)")" "$((nremoved - 1))" "trash after undelete"
expect_exit 0 $CAIRN rev-parse "$child~1"
assert_eq "$(out)" "$gone" "child's parent is back"
expect_exit 5 $CAIRN undelete "${gone:0:12}"
expect_one_line_error "no snapshot in the trash"

# Delete by name; then forget without rules applies the stored policy.
victim=$($PY -c "import sys; print(sys.argv[1].split()[3])" "$log_ids")
expect_exit 0 $CAIRN --json delete "$victim" --yes
assert_eq "$(json_get "j['remove']")" "['$victim']" "delete removes the named one"
expect_exit 0 $CAIRN --json trash
assert_eq "$(json_get "[t['reason'] for t in j if t['id'] == '$victim']")" "['delete']" "delete reason"
expect_exit 0 $CAIRN --json snapshots
cp .out snaps2.json
expect_exit 0 $CAIRN --json forget --yes  # the stored policy: keep-daily 7 on every branch
expect_exit 0 $CAIRN --json snapshots
for b in main dev; do
  assert_eq "$(json_get "' '.join(sorted(s['id'] for s in j if s['branch'] == '$b'))")" \
    "$($PY keepset.py - snaps2.json "$b" "$CAIRN_NOW" "head=$main_head" "head=$dev_head" "tagged=$tagged" daily=7)" \
    "forget with the stored policy on $b"
done
echo "done at ${SECONDS}s"
finish
