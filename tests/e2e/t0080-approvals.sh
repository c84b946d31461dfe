# Approvals by risk level: what needs no approval, the prompt (accepted and
# refused, on a real pseudo-terminal), no terminal without --yes, the
# stored approval policy (--yes not allowed, medium required), two-step
# plans (--plan-out, approve, apply; used once; stale, edited and foreign
# plans refused) and a second person required by the policy.
source "$(dirname "$0")/lib.sh"
set -e

# on_tty ANSWER CMD...: runs CMD on a pseudo-terminal, typing ANSWER; its
# output in .out, its exit code returned in $rc.
on_tty() {
  local answer=$1; shift
  set +e
  printf '%s\n' "$answer" | script -qec "$*" /dev/null > "$WORK/.out" 2>&1
  rc=$?
  set -e
  tr -d '\r' < "$WORK/.out" > "$WORK/.out2" && mv "$WORK/.out2" "$WORK/.out"
}
tag_at() { $CAIRN --json tag -l | python3 -c "import json,sys; t={x['name']:x['snapshot'] for x in json.load(sys.stdin)}; print(t.get('$1','none'))"; }

expect_exit 0 $CAIRN init repo
export CAIRN_REPO=$WORK/repo
mkdir src; echo one > src/a
expect_exit 0 $CAIRN --json backup src
s1=$(json_get "j['snapshot']")
echo two > src/a
expect_exit 0 $CAIRN --json backup src
s2=$(json_get "j['snapshot']")

# --- the risk table: one in the code, the same in docs/cli.md ---
expect_exit 0 $CAIRN --json approval-policy risks
python3 - "$TESTS/../docs/cli.md" "$WORK/.out" <<'EOF'
import json, re, sys
doc = open(sys.argv[1]).read()
rows = re.findall(r'^\| `([a-z -]+)` \| (low|medium|high|critical) \| (always|if audit_reads) \| (.*) \|$', doc, re.M)
code = [(o['operation'], o['risk'], 'always' if o['changes'] else 'if audit_reads', o['what'])
        for o in json.load(open(sys.argv[2]))]
assert rows == code, "docs/cli.md's risk table differs from the code's:\n%s\n%s" % (rows, code)
EOF
ok

# --- the default policy: medium needs nothing, high asks ---
expect_exit 0 $CAIRN tag v1 "$s1" < /dev/null
expect_exit 7 $CAIRN tag -d v1 < /dev/null
expect_one_line_error "delete tag 'v1' needs approval (risk high) and there is no terminal to ask: pass --yes, or write a plan with --plan-out FILE"
assert_eq "$(tag_at v1)" "$s1" "tag after a refusal without a terminal"

# The prompt shows the operation and its risk; 'n' refuses, 'y' proceeds.
on_tty n $CAIRN tag -d v1
assert_eq "$rc" "7" "exit after answering no"
grep -q "delete tag 'v1' (risk: high)" "$WORK/.out" || fail "prompt does not show the operation and risk: $(cat "$WORK/.out")"; ok
grep -q "was refused at the prompt (risk high); nothing was changed" "$WORK/.out" || fail "refusal message: $(cat "$WORK/.out")"; ok
grep -q "confirm on a terminal" "$WORK/.out" && fail "a refusal on a terminal says to confirm on a terminal"; ok
assert_eq "$(tag_at v1)" "$s1" "tag after answering no"
on_tty y $CAIRN tag -d v1
assert_eq "$rc" "0" "exit after answering yes"
assert_eq "$(tag_at v1)" "none" "tag after answering yes"
expect_exit 0 $CAIRN tag v1 "$s1"
expect_exit 0 $CAIRN tag -d v1 --yes
assert_eq "$(tag_at v1)" "none" "tag after --yes"

# --- the risk of every kind of change ---
expect_exit 0 $CAIRN tag v1 "$s1"
expect_exit 7 $CAIRN tag v1 "$s2" --force < /dev/null
expect_one_line_error "(risk high)"
expect_exit 7 $CAIRN branch --force main "$s1" < /dev/null
expect_one_line_error "reset branch 'main' needs approval (risk high)"
expect_exit 0 $CAIRN backup -q src
expect_exit 7 $CAIRN delete "$s2" < /dev/null
expect_one_line_error "(risk high)"
expect_exit 7 $CAIRN prune < /dev/null
expect_one_line_error "prune needs approval (risk high)"
mkdir -p over && echo mine > over/a
expect_exit 7 $CAIRN restore "$s1" --target over --force < /dev/null
expect_one_line_error "restore over the files in 'over' needs approval (risk high)"
assert_eq "$(cat over/a)" "mine" "a file after a refused restore over it"
expect_exit 0 $CAIRN restore "$s1" --target fresh < /dev/null   # medium: no approval by default
assert_eq "$(cat fresh/a)" "one" "restore into a new folder"

# --- the policy: --yes not allowed for high ---
expect_exit 0 $CAIRN --json approval-policy show
assert_eq "$(json_get "j['require']")" "['high', 'critical']" "default levels needing approval"
assert_eq "$(json_get "j['second_person']")" "[]" "default second person levels"
expect_exit 0 $CAIRN approval-policy set --yes-allowed low,medium --yes   # asks more: risk high
expect_exit 7 $CAIRN tag -d v1 --yes
expect_one_line_error "the repository's approval policy does not let --yes give it"
assert_eq "$(tag_at v1)" "$s1" "tag after a refused --yes"
on_tty y $CAIRN tag -d v1
assert_eq "$rc" "0" "the prompt still approves"
# Loosening the policy (--yes for high again) is critical.
expect_exit 7 $CAIRN approval-policy set --yes-allowed low,medium,high,critical --yes
expect_one_line_error "change the approval policy needs approval (risk critical)"
on_tty y $CAIRN approval-policy set --yes-allowed low,medium,high,critical
assert_eq "$rc" "0" "loosening approved at the prompt"
grep -q "(risk: critical)" "$WORK/.out" || fail "loosening was not asked at risk critical: $(cat "$WORK/.out")"; ok

# --- the policy: medium needs approval too ---
expect_exit 0 $CAIRN approval-policy set --require medium,high,critical --yes
expect_exit 7 $CAIRN tag v9 < /dev/null
expect_one_line_error "create tag 'v9' needs approval (risk medium)"
expect_exit 7 $CAIRN restore "$s1" --target fresh2 < /dev/null
expect_one_line_error "(risk medium)"
[ ! -e fresh2 ] || fail "a refused restore created its target"; ok
expect_exit 0 $CAIRN tag v9 --yes
expect_exit 7 $CAIRN approval-policy set --require high,critical < /dev/null
expect_one_line_error "(risk critical)"
expect_exit 0 $CAIRN approval-policy set --require high,critical --yes

# --- two-step: plan, approve, apply ---
expect_exit 0 $CAIRN tag v2 "$s1"
expect_exit 0 $CAIRN tag -d v2 --plan-out plan.json
out | grep -q "plan written to plan.json" || fail "no word of the plan: $(out)"; ok
assert_eq "$(tag_at v2)" "$s1" "tag after writing a plan"
python3 - <<'EOF'
import json
p = json.load(open('plan.json'))
b = p['plan']
assert b['operation'] == 'tag delete', b
assert b['risk'] == 'high', b
assert b['args'] == ['tag', '-d', 'v2'], b['args']
assert b['affected']['tag'] == 'v2', b
EOF
ok
expect_exit 7 $CAIRN apply plan.json
expect_one_line_error "has no approval"
assert_eq "$(tag_at v2)" "$s1" "tag after applying an unapproved plan"
expect_exit 7 $CAIRN approve plan.json < /dev/null
expect_one_line_error "needs an answer on a terminal, or --yes"
expect_exit 0 $CAIRN approve plan.json --yes
expect_exit 0 $CAIRN apply plan.json
assert_eq "$(tag_at v2)" "none" "tag after apply"
expect_exit 7 $CAIRN apply plan.json
expect_one_line_error "has no approval (or was applied already)"

# A plan approved on a terminal, as its author would.
expect_exit 0 $CAIRN tag v2 "$s1"
expect_exit 0 $CAIRN tag -d v2 --plan-out plan-t.json
on_tty y $CAIRN approve plan-t.json
assert_eq "$rc" "0" "approve on a terminal"
grep -q "delete tag 'v2' (risk high)" "$WORK/.out" || fail "approve does not show the plan: $(cat "$WORK/.out")"; ok
expect_exit 0 $CAIRN apply plan-t.json

# A stale plan: the tag moved after the plan was approved.
expect_exit 0 $CAIRN tag v3 "$s1"
expect_exit 0 $CAIRN tag -d v3 --plan-out stale.json
expect_exit 0 $CAIRN approve stale.json --yes
expect_exit 0 $CAIRN tag v3 "$s2" --force --yes
expect_exit 7 $CAIRN apply stale.json
expect_one_line_error "plan 'stale.json' no longer holds: what it affects changed ('from'); nothing was changed"
assert_eq "$(tag_at v3)" "$s2" "tag after a stale plan"

# A forget plan goes stale when what the rules remove changes: here a tag
# set after the plan now keeps the snapshot it would have removed.
expect_exit 0 $CAIRN forget --keep-last 1 --plan-out forget.json
python3 -c "import json; assert json.load(open('forget.json'))['plan']['affected']['snapshots'] == ['$s1']" || fail "the forget plan does not name $s1"; ok
expect_exit 0 $CAIRN approve forget.json --yes
expect_exit 0 $CAIRN tag keep "$s1"
n_before=$($CAIRN --json snapshots | python3 -c "import json,sys; print(len(json.load(sys.stdin)))")
expect_exit 7 $CAIRN apply forget.json
expect_one_line_error "plan 'forget.json' no longer holds"
n_after=$($CAIRN --json snapshots | python3 -c "import json,sys; print(len(json.load(sys.stdin)))")
assert_eq "$n_after" "$n_before" "snapshots after a stale forget plan"
# The same plan, once the tag is gone again, holds and runs.
expect_exit 0 $CAIRN tag -d keep --yes
expect_exit 0 $CAIRN apply forget.json
expect_exit 5 $CAIRN show "$s1"

# An edited plan is refused before anything is asked.
expect_exit 0 $CAIRN tag v4 "$s2"
expect_exit 0 $CAIRN tag -d v4 --plan-out edit.json
sed -i 's/"v4"/"v1"/' edit.json
expect_exit 4 $CAIRN approve edit.json --yes
expect_one_line_error "was changed after it was written"
expect_exit 4 $CAIRN apply edit.json
expect_one_line_error "was changed after it was written"
echo "not json" > garbage.json
expect_exit 4 $CAIRN approve garbage.json --yes
expect_one_line_error "is not a plan"
expect_exit 5 $CAIRN approve missing.json --yes
expect_one_line_error "no such file"

# A plan for another repository.
expect_exit 0 $CAIRN init other
expect_exit 0 $CAIRN tag -d v4 --plan-out mine.json
expect_exit 2 $CAIRN -r other approve mine.json --yes
expect_one_line_error "is for repository"

# --- a second person ---
expect_exit 0 $CAIRN approval-policy set --second-person critical --yes   # asks more: high
expect_exit 7 $CAIRN approval-policy set --require high --yes
expect_one_line_error "needs a second person's approval (risk critical"
on_tty y $CAIRN approval-policy set --require high
assert_eq "$rc" "7" "a prompt cannot give a second person's approval"
expect_exit 0 $CAIRN approval-policy set --require high --plan-out loosen.json
expect_exit 0 $CAIRN approve loosen.json --yes
expect_exit 7 $CAIRN apply loosen.json
expect_one_line_error "needs the approval of a second person (risk critical"
if [ "$(id -u)" = 0 ]; then
  id cairn-approver >/dev/null 2>&1 || useradd -M -r -s /usr/sbin/nologin cairn-approver
  chmod 755 "$WORK"
  chmod -R a+rwX "$WORK/repo"
  install -m 600 -o cairn-approver "$CAIRN_KEY_FILE" "$WORK/approver.key"
  mkdir -p "$WORK/approver-cache" && chown cairn-approver "$WORK/approver-cache"
  set +e
  runuser -u cairn-approver -- env CAIRN_CACHE_DIR="$WORK/approver-cache" CAIRN_KEY_FILE="$WORK/approver.key" \
    HOME="$WORK/approver-cache" "$CAIRN" -r "$WORK/repo" approve "$WORK/loosen.json" --yes > approver.out 2>&1
  rc=$?
  set -e
  [ "$rc" = 0 ] || fail "the second person's approve failed ($rc): $(cat approver.out)"; ok
  grep -q "as cairn-approver@" approver.out || fail "approve does not name its user: $(cat approver.out)"; ok
  expect_exit 0 $CAIRN apply loosen.json
  expect_exit 0 $CAIRN --json approval-policy show
  assert_eq "$(json_get "j['require']")" "['high']" "levels after the second person's approval"
  # The audit log names both.
  expect_exit 0 $CAIRN --json audit log --type approval-policy
  assert_eq "$(json_get "sorted(x.split('@')[0] for x in j[-1]['approval']['approved_by'])")" "['cairn-approver', 'root']" "approvers in the audit log"
  assert_eq "$(json_get "j[-1]['user']")" "root" "who applied it"
else
  echo "skip: the second-person case needs root (to add a user)"
fi

echo "ok: $checks checks"
