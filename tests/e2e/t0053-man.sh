# cairn(1) is generated from the command definitions: a section for every
# command, the exit-status table of docs/cli.md, and no groff warnings.
source "$(dirname "$0")/lib.sh"

expect_exit 0 $CAIRN man
out > cairn.1
for sh in NAME SYNOPSIS DESCRIPTION "GLOBAL OPTIONS" COMMANDS "EXIT STATUS" ENVIRONMENT "SEE ALSO"; do
  grep -q "^\.SH \"\?$sh\"\?$" cairn.1 || fail "man page lacks section $sh"; ok
done
expect_exit 0 $CAIRN help
for cmd in $(out | sed -n '/^Commands:/,/^$/p' | awk 'NR > 1 && NF { print $1 }' | sort -u); do
  grep -q "^\.SS \"cairn $(echo "$cmd" | sed 's/-/\\\\-/g')\"$" cairn.1 || fail "man page has no section for '$cmd'"; ok
done
grep -q '^\.SS "cairn repair index"$' cairn.1 || fail "man page has no section for 'repair index'"; ok
grep -q 'exclude\\-larger\\-than' cairn.1 || fail "man page lacks backup's --exclude-larger-than"; ok
grep -q '^\.B CAIRN_REPO$' cairn.1 || fail "man page lacks CAIRN_REPO"; ok

# The exit-status table is the one of docs/cli.md, row by row.
python3 - "$TESTS/../docs/cli.md" cairn.1 <<'PY' || fail "exit status of the man page and docs/cli.md differ"
import re, sys
doc = open(sys.argv[1], encoding="utf-8").read()
table = doc.split("## Exit codes", 1)[1].split("\n\n", 2)[1]
rows = [tuple(c.strip() for c in l.strip("|").split("|")) for l in table.splitlines()[2:]]
want = [(c, m.replace("`", "").replace("…", "...")) for c, m in rows]
man = open(sys.argv[2], encoding="utf-8").read()
sect = man.split(".SH EXIT STATUS\n", 1)[1].split("\n.SH ", 1)[0]
plain = lambda s: s.replace("\\fB", "").replace("\\fR", "").replace("\\-", "-").replace("\\&", "")
got = [(a, plain(b)) for a, b in re.findall(r"^\.TP\n(\d+)\n(.*)$", sect, re.M)]
if got != want or len(want) < 9:
    for g, w in zip(got + [None] * len(want), want + [None] * len(got)):
        if g != w: print("man:", g, "\ndocs:", w, file=sys.stderr)
    sys.exit(1)
PY
ok

if command -v groff >/dev/null; then
  groff -man -Tutf8 -ww cairn.1 > cairn.txt 2> groff.err || fail "groff failed: $(cat groff.err)"
  [ -s groff.err ] && fail "groff warnings: $(cat groff.err)"; ok
  sed 's/.\x08//g' cairn.txt | grep -q "^EXIT STATUS" || fail "rendered page lacks EXIT STATUS"; ok
  groff -man -Tascii -ww cairn.1 > /dev/null 2> groff.err
  [ -s groff.err ] && fail "groff -Tascii warnings: $(cat groff.err)"; ok
else
  echo "SKIPPED: rendering with groff (not installed; apt-get install groff-base)"
fi
finish
