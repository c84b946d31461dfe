# restore --include / --exclude: exactly the chosen entries are restored,
# with the folders that lead to them (their metadata as stored), what an
# exclude pattern names is left out with everything below it, a dry run
# says what the restore then does, --delete removes only what the patterns
# would restore, REV:PATH matches relative to PATH, a hard link whose other
# name is left out gets its content, and patterns that choose nothing warn.
source "$(dirname "$0")/lib.sh"
set -e

expect_exit 0 $CAIRN init repo --encryption none
export CAIRN_REPO=$WORK/repo
make_rich_tree src
mkdir -p src/proj/lib/empty src/proj/doc
echo 'int main;' > src/proj/main.c
echo 'int lib;' > src/proj/lib/lib.c
echo '# doc' > src/proj/doc/README.md
echo 'log' > src/proj/build.log
touch -d '2003-03-03 03:03:03' src/proj/lib src/proj/doc src/proj
expect_exit 0 $CAIRN --json backup src
snap=$(json_get "j['snapshot']")

# expected NAME PATH...: a copy of the listed paths of src (relative to it)
# with the folders that lead to them, their metadata as in src.
expected() {
  local name=$1; shift
  mkdir "$name"
  (cd src && cp -a --parents "$@" "../$name/")
  python3 - "$name" <<'PYEOF'
import os, sys
exp = sys.argv[1]
for dirpath, dirnames, _ in os.walk(exp, topdown=False):
    for d in dirnames:
        p = os.path.join(dirpath, d)
        s = os.lstat(os.path.join("src", os.path.relpath(p, exp)))
        os.chmod(p, s.st_mode & 0o7777)
        os.utime(p, ns=(s.st_atime_ns, s.st_mtime_ns))
PYEOF
}
listing() { (cd "$1" && find . -mindepth 1 | LC_ALL=C sort); }

# --- --include a glob: the matching files and the folders leading to them ---
expect_exit 0 $CAIRN restore "$snap" --target only-c --include '*.c'
expected exp-c proj/main.c proj/lib/lib.c
$TREECMP exp-c only-c || fail "--include '*.c' did not restore exactly the .c files: $(listing only-c)"; ok

# --- --include a folder: everything below it, empty folders too ---
expect_exit 0 $CAIRN restore "$snap" --target only-proj --include 'proj/'
expected exp-proj proj
$TREECMP exp-proj only-proj || fail "--include proj/ differs"; ok

# --- --exclude: left out with everything below it; wins over --include ---
expect_exit 0 $CAIRN restore "$snap" --target no-sub --exclude sub --exclude '*.log' --exclude 'mode/'
[ ! -e no-sub/sub ] && [ ! -e no-sub/mode ] && [ ! -e no-sub/proj/build.log ] || fail "--exclude left something: $(listing no-sub)"; ok
[ -f no-sub/hello.txt ] && [ -f no-sub/proj/lib/lib.c ] && [ -d no-sub/proj/lib/empty ] || fail "--exclude took too much"; ok
# sub/deep/hardlink is left out: hello.txt is a plain file with its content.
cmp -s no-sub/hello.txt src/hello.txt || fail "hello.txt content"; ok
expect_exit 0 $CAIRN restore "$snap" --target both --include 'proj/' --exclude 'lib'
expected exp-both proj/main.c proj/build.log proj/doc
$TREECMP exp-both both || fail "--include proj/ --exclude lib differs: $(listing both)"; ok

# --- a hard link whose first name is left out: its content is written ---
expect_exit 0 $CAIRN restore "$snap" --target link-only --include 'sub/deep/'
cmp -s link-only/sub/deep/hardlink src/hello.txt || fail "the hard link without its other name has no content"; ok
[ ! -e link-only/hello.txt ] || fail "--include sub/deep/ restored hello.txt"; ok

# --- REV:PATH: patterns are relative to PATH ---
expect_exit 0 $CAIRN restore "$snap:proj" --target sub-path --include 'lib/*.c'
assert_eq "$(listing sub-path | tr '\n' ' ')" "./lib ./lib/lib.c " "REV:PATH --include"

# --- a dry run says what the restore then does ---
cp -a src drifted
echo changed > drifted/proj/main.c
echo extra > drifted/proj/extra.c
echo extra > drifted/proj/extra.txt
mkdir drifted/proj/new-dir
echo extra > drifted/proj/new-dir/x.c
cp -a drifted drifted-before
expect_exit 0 $CAIRN --json restore "$snap" --target drifted --include '*.c' --delete --overwrite if-changed --dry-run
python3 -c "import json; j=json.load(open('$WORK/.out')); print('\n'.join(e['action']+' '+e['path'] for e in j['entries']))" > dry.txt
$TREECMP drifted-before drifted || fail "a dry run changed the target"; ok
assert_eq "$(grep -v '^unchanged' dry.txt | tr '\n' ';')" "delete proj/extra.c;overwrite proj/main.c;" "dry-run plan with --include"
expect_exit 0 $CAIRN --json --verbose restore "$snap" --target drifted --include '*.c' --delete --overwrite if-changed --yes
python3 -c "import json; j=json.load(open('$WORK/.out')); print('\n'.join(e['action']+' '+e['path'] for e in j['entries']))" > real.txt
diff dry.txt real.txt >/dev/null || fail "the restore did not do what the dry run said: $(diff dry.txt real.txt)"; ok
# --delete kept what the patterns do not choose (extra.txt, and new-dir:
# a folder no pattern chose), removed the .c file the snapshot lacks.
[ -f drifted/proj/extra.txt ] && [ -f drifted/proj/new-dir/x.c ] && [ ! -e drifted/proj/extra.c ] || fail "--delete with --include: $(listing drifted/proj)"; ok
cmp -s drifted/proj/main.c src/proj/main.c || fail "main.c not restored"; ok
cmp -s drifted/hello.txt src/hello.txt || fail "hello.txt changed"; ok

# --- patterns that choose nothing: a warning, nothing restored ---
expect_exit 0 $CAIRN restore "$snap" --target none --include '*.nothing'
err | grep -q "no entry of the snapshot matches the --include patterns" || fail "no warning: $(err)"; ok
[ -z "$(ls -A none)" ] || fail "something was restored: $(listing none)"; ok

echo "ok: $checks checks"
