#!/usr/bin/env bash
# cairn git import | export | map (docs/git-interop.md).
#
# A rich git history made here with git itself from this machine's files
# (make_git_history.py: 2,000 commits over five branches, merges and an
# octopus merge, annotated and lightweight tags, renames, deletions,
# symlinks, executable bits, empty files, a path that changes type, a
# submodule entry, names that are not UTF-8, a 52 MiB file edited once) is
# imported whole and exported into a new bare repository: every commit's
# tree id, parents, author and message, every tag's tree and message match,
# and `git fsck --strict` passes. Re-runs transfer only what is new. Real
# backups exported to git: `git diff` between two exported snapshots names
# the paths `cairn diff` names, a checkout equals the restore for what git
# holds, and importing the export back gives the same content; exports are
# deterministic. Bad input (not a git repository, a shallow clone, a damaged
# object, a diverged branch, a write-only key) is refused or reported as
# documented. Import and export killed at moments ever later and run again
# lose and duplicate nothing.
source "$(dirname "$0")/lib.sh"
command -v git >/dev/null || fail "git is missing (scripts/setup.sh installs it)"
GITCMP="python3 $TESTS/e2e/gitcmp.py"
MAKE_HISTORY="python3 $TESTS/e2e/make_git_history.py"
export GIT_CONFIG_NOSYSTEM=1 HOME=$WORK
git config --global user.name "Test" && git config --global user.email "test@example.org"
git config --global init.defaultBranch main

# --- the rich history: import everything, export it again ---
$MAKE_HISTORY hist 2000
commits=$(git -C hist rev-list --all --count)
[ "$commits" -ge 2000 ] || fail "the history has only $commits commits"; ok
[ "$(git -C hist rev-list --all --min-parents=3 --count)" -ge 1 ] || fail "no octopus merge in the history"; ok
expect_exit 0 $CAIRN init repo
export CAIRN_REPO=$WORK/repo
expect_exit 0 $CAIRN --json git import hist --all
cp "$WORK/.out" import.json
assert_eq "$(json_get "j['imported']")" "$commits" "every commit imported"
assert_eq "$(json_get "j['submodules'] >= 1")" "True" "the submodule entry is recorded as one"
# Two versions of a 52 MiB random file cost about one: content-defined chunks.
assert_eq "$(json_get "j['stored_bytes'] < 80 * 2**20")" "True" "stored bytes ($(json_get "j['stored_bytes']")) show deduplication"
assert_eq "$(json_get "sorted(r['result'] for r in j['refs']) == ['created'] * len(j['refs'])")" "True" "every branch and tag created"
expect_exit 0 $CAIRN --json snapshots
assert_eq "$(json_get "sum(1 for s in j if s.get('source') == 'git' and 'git' in s)")" "$commits" "a snapshot per commit, recording it"
expect_exit 0 $CAIRN --json branch
assert_eq "$(json_get "sorted(b['name'] for b in j)")" "['dev', 'feature-1', 'feature-2', 'feature-3', 'main']" "branches"
expect_exit 0 $CAIRN --json tag
assert_eq "$(json_get "len(j)")" "$(git -C hist tag | wc -l)" "tags, annotated and lightweight"
assert_eq "$(json_get "[t['message'] for t in j if t['name'] == 'v1.0']")" "['the one-oh release']" "an annotated tag's message"
expect_exit 0 $CAIRN ls main
out | grep -q "vendor/submodule" || fail "ls does not show the submodule"; ok
out | grep -q -F "$(printf 'caf\xe9-latin1.txt')" || fail "a name that is not UTF-8 lost its bytes"; ok
expect_exit 0 $CAIRN check

expect_exit 0 $CAIRN --json git export out.git --all
cp "$WORK/.out" export.json
assert_eq "$(json_get "j['created']") $(json_get "j['exported']")" "True $commits" "a new bare repository, every snapshot exported"
[ "$(git -C out.git rev-parse --is-bare-repository)" = true ] || fail "the export is not a bare repository"; ok
git -C out.git fsck --strict 2>fsck.err || fail "git fsck --strict: $(cat fsck.err)"; ok
[ ! -s fsck.err ] || fail "git fsck --strict says: $(cat fsck.err)"; ok
$GITCMP history hist out.git import.json export.json || fail "the exported history differs"; ok
[ "$(git -C out.git symbolic-ref HEAD)" = refs/heads/main ] || fail "HEAD of the export is not main"; ok
# A checkout of an exported commit is the restore of its snapshot, and the
# source's own checkout, for what git holds.
mkdir co-src co-out
git -C hist archive main | tar -x -C co-src
git -C out.git archive main | tar -x -C co-out
expect_exit 0 $CAIRN restore main --target rst
$GITCMP tree co-src co-out >/dev/null || fail "the checkouts of main differ"; ok
$GITCMP tree co-src rst >/dev/null || fail "the restore of main differs from git's checkout"; ok
[ -d rst/vendor/submodule ] || fail "the submodule is not restored as a folder"; ok

# map both ways
main_commit=$(git -C hist rev-parse main)
main_snap=$(python3 -c "import json; print({c['commit']: c['snapshot'] for c in json.load(open('import.json'))['commits']}['$main_commit'])")
expect_exit 0 $CAIRN git map "$main_commit"
assert_eq "$(out | cut -d' ' -f1)" "$main_snap" "git map COMMIT gives the imported snapshot"
expect_exit 0 $CAIRN --json git map main
assert_eq "$(json_get "sorted(p['how'] for p in j['pairs'])")" "['exported', 'imported']" "git map REV names both pairings"
assert_eq "$(json_get "[p['commit'] for p in j['pairs'] if p['how'] == 'imported']")" "['$main_commit']" "the imported commit"
assert_eq "$(json_get "[p['commit'] for p in j['pairs'] if p['how'] == 'exported']")" "['$(git -C out.git rev-parse main)']" "the exported commit"
expect_exit 0 $CAIRN git map "$(git -C out.git rev-parse main | cut -c1-10)"
assert_eq "$(out | cut -d' ' -f1)" "$main_snap" "git map of an exported commit's prefix"

# --- incremental: new commits, then a re-run of both ---
$MAKE_HISTORY hist --extra 10
expect_exit 0 $CAIRN --json git import hist --all
assert_eq "$(json_get "j['imported']") $(json_get "j['already_there']")" "10 $commits" "a re-run imports only the new commits"
cp "$WORK/.out" import2.json
# (10 commits of one new file each; the first run read thousands of blobs)
assert_eq "$(json_get "j['blobs_read'] < 30")" "True" "a re-run reads only new content ($(json_get "j['blobs_read']") blobs)"
expect_exit 0 $CAIRN --json git export out.git --all
cp "$WORK/.out" export2.json
assert_eq "$(json_get "j['exported']") $(json_get "j['blobs_written'] <= 10")" "10 True" "a re-run exports only the new snapshots"
assert_eq "$(json_get "[r['result'] for r in j['refs'] if r['ref'] == 'refs/heads/main']")" "['updated']" "main moved forward"
$GITCMP history hist out.git import2.json export2.json >/dev/null || fail "the exported history differs after the re-runs"; ok
git -C out.git fsck --strict 2>fsck.err && [ ! -s fsck.err ] || fail "git fsck --strict after the re-run: $(cat fsck.err)"; ok

# --- real backups out to git and back ---
unset CAIRN_REPO
expect_exit 0 $CAIRN init brepo
export CAIRN_REPO=$WORK/brepo
make_rich_tree bsrc
chmod +x bsrc/hello.txt
expect_exit 0 $CAIRN --json backup bsrc -m "first backup"
b1=$(json_get "j['snapshot']")
echo "edited" >> bsrc/sub/text.txt
rm bsrc/empty.txt
head -c 100000 /dev/urandom > bsrc/sub/added.bin
rm bsrc/dangling && ln -s hello.txt bsrc/dangling
mkdir bsrc/empty-2
expect_exit 0 $CAIRN --json backup bsrc -m "second backup"
b2=$(json_get "j['snapshot']")
expect_exit 0 $CAIRN tag rel -m "a release"
expect_exit 0 $CAIRN --json git export bexp.git --all
assert_eq "$(json_get "j['left_out']['empty_folders'] >= 1 and j['left_out']['special_files'] >= 1")" "True" "what git cannot hold is counted"
git -C bexp.git fsck --strict 2>fsck.err && [ ! -s fsck.err ] || fail "git fsck --strict of exported backups: $(cat fsck.err)"; ok
assert_eq "$(git -C bexp.git rev-list --count main)" "2" "git log shows both backups"
c1=$(git -C bexp.git rev-parse main~1); c2=$(git -C bexp.git rev-parse main)
git -C bexp.git log -1 --format=%B "$c2" | grep -q "^Cairn-Snapshot: $b2$" || fail "no trailer naming the snapshot"; ok
assert_eq "$(git -C bexp.git log -1 --format=%s "$c2")" "second backup" "the commit message"
assert_eq "$(git -C bexp.git cat-file -p rel | sed -n '/^$/,$p' | sed 1d)" "a release" "the tag's message"
# git diff A B names the paths cairn diff names (what git holds).
git -C bexp.git diff --no-renames --name-only "$c1" "$c2" | LC_ALL=C sort > gitdiff.txt
expect_exit 0 $CAIRN --json diff "$b1" "$b2"
python3 -c "
import json
j = json.load(open('$WORK/.out'))
paths = set()
for c in j['changes']:
    for side in ('old', 'new'):
        e = c.get(side)
        if e and e['type'] in ('file', 'symlink', 'hardlink'):
            paths.add(e['path'] if 'path' in e else c['path'])
for p in sorted(paths): print(p)" | LC_ALL=C sort > cairndiff.txt
diff gitdiff.txt cairndiff.txt >/dev/null || fail "git diff and cairn diff name other paths: $(diff gitdiff.txt cairndiff.txt | head -5)"; ok
# git diff --stat counts the same files.
assert_eq "$(git -C bexp.git diff --no-renames --stat "$c1" "$c2" | tail -1 | awk '{print $1}')" "$(wc -l < cairndiff.txt)" "files changed"
git clone -q --no-checkout bexp.git bco && git -C bco checkout -q "$c2"
expect_exit 0 $CAIRN restore "$b2" --target brst
$GITCMP tree bco brst >/dev/null || fail "git checkout of the exported backup differs from its restore (for what git holds)"; ok
# Exporting again, anywhere, gives the same commits.
expect_exit 0 $CAIRN --json git export bexp2.git "$b2"
assert_eq "$(json_get "[c['commit'] for c in j['commits'] if c['snapshot'] == '$b2']")" "['$c2']" "a re-export gives the same commit id"
assert_eq "$(git -C bexp2.git show-ref | awk '{print $2}')" "refs/cairn/snapshots/$b2" "a snapshot that no ref names gets its own ref"
# ... and importing the export back gives the same content.
unset CAIRN_REPO
expect_exit 0 $CAIRN init back
expect_exit 0 $CAIRN -r back git import bexp.git main
expect_exit 0 $CAIRN -r back restore main --target back-rst
$GITCMP tree brst back-rst >/dev/null || fail "exporting then importing changed the content"; ok
expect_exit 0 $CAIRN -r back --json show main
assert_eq "$(json_get "j['message']")" "second backup" "the message comes back without the trailer"
export CAIRN_REPO=$WORK/brepo

# --- bad input ---
mkdir notgit && echo "mine" > notgit/file
expect_exit 5 $CAIRN git import notgit --all
expect_one_line_error "is not a git repository"
expect_exit 5 $CAIRN git export notgit --all
expect_one_line_error "is not a git repository"
assert_eq "$(ls -A notgit)" "file" "export wrote nothing into a folder that is not a git repository"
# An empty folder is a place to make one (as git init would).
mkdir empty.git
expect_exit 0 $CAIRN --json git export empty.git "$b2"
assert_eq "$(json_get "j['created']")" "True" "a new repository in an empty folder"
[ "$(git -C empty.git rev-parse --is-bare-repository)" = true ] || fail "no bare repository in the empty folder"; ok
expect_exit 0 $CAIRN git export bexp3.git/ "$b2"
[ -d bexp3.git/objects ] || fail "a trailing slash in GITDIR"; ok
expect_exit 2 $CAIRN git export
expect_exit 2 $CAIRN git import hist
expect_one_line_error "--all"
expect_exit 5 $CAIRN git import hist no-such-branch
expect_one_line_error "no-such-branch"
expect_exit 5 $CAIRN git map 0123456789abcdef0123
expect_exit 5 $CAIRN git map "$b1~1"
# A shallow clone: said, and what it has is imported.
git clone -q --depth 3 "file://$WORK/hist" shallow
unset CAIRN_REPO
expect_exit 0 $CAIRN init srepo
expect_exit 0 $CAIRN -r srepo --json git import shallow --all
err | grep -q "shallow" || fail "a shallow clone is not reported"; ok
assert_eq "$(json_get "j['imported']") $(json_get "j['shallow']")" "$(git -C shallow rev-list --all --count) True" "a shallow clone's commits imported"
expect_exit 0 $CAIRN -r srepo check
# A damaged object: named, and nothing of that history imported.
git init -q small && (cd small && for i in 1 2 3; do echo "v$i" > f && echo "other $i" > g && git add f g && git commit -qm "c$i"; done)
blob=$(git -C small rev-parse main~1:f)
victim=small/.git/objects/${blob:0:2}/${blob:2}
chmod u+w "$victim" && cp "small/.git/objects/$(git -C small rev-parse main:g | sed 's/^\(..\)/\1\//')" "$victim"
expect_exit 0 $CAIRN init crepo
expect_exit 4 $CAIRN -r crepo git import small main
expect_one_line_error "$blob"
expect_exit 0 $CAIRN -r crepo --json snapshots
assert_eq "$(json_get "len(j)")" "0" "nothing imported from a damaged history"
# A git branch that diverged from cairn's: refused without --force.
export CAIRN_REPO=$WORK/brepo
git clone -q bexp.git work && (cd work && echo "in git" > new.txt && git add new.txt && git commit -qm "made in git" && git push -q origin main)
echo "newer" > bsrc/newer.txt
expect_exit 0 $CAIRN backup bsrc -m "third backup" -q
before=$(git -C bexp.git rev-parse main)
expect_exit 6 $CAIRN git export bexp.git --all
err | grep -q "diverged" || fail "no word of the diverged branch: $(err)"; ok
assert_eq "$(git -C bexp.git rev-parse main)" "$before" "a diverged git branch is left as it is"
expect_exit 0 $CAIRN --json git export bexp.git --all --force
assert_eq "$(json_get "[r['result'] for r in j['refs'] if r['ref'] == 'refs/heads/main']")" "['forced']" "--force replaces it"
assert_eq "$(git -C bexp.git log -1 --format=%s main)" "third backup" "main is cairn's again"
# A write-only key cannot export (it cannot read content).
expect_exit 0 $CAIRN key generate "$WORK/wo.key"
expect_exit 0 $CAIRN key add --write-only --host h1 --key-file "$WORK/wo.key" --yes
CAIRN_KEY_FILE=$WORK/wo.key expect_exit 13 $CAIRN git export wo.git --all
[ ! -e wo.git ] || fail "a refused export created the git repository"; ok

# --- killed at moments ever later, then run again until it completes ---
$MAKE_HISTORY khist 300
kc=$(git -C khist rev-list --all --count)
unset CAIRN_REPO
expect_exit 0 $CAIRN init krepo
export CAIRN_REPO=$WORK/krepo
kill_loop() {  # NAME CMD...: kills CMD at growing delays until a run completes
  local name=$1 kills=0 completed=0; shift
  local delays=($(growing_delays 40 0.02 1.2))
  for round in $(seq 1 40); do
    run_killed "${delays[$((round - 1))]}" /dev/null "$@"
    if [ "$KILLED" = 1 ]; then
      kills=$((kills + 1))
      expect_exit 0 $CAIRN check
      continue
    fi
    [ "$RC" = 0 ] || fail "an uninterrupted $name exited $RC: $(err)"
    completed=1
    break
  done
  [ "$kills" -ge 1 ] || fail "no $name was killed midway"; ok
  [ "$completed" = 1 ] || fail "no $name completed in 40 rounds"; ok
  echo "$name: $kills kills, then a run that completed"
}
kill_loop "git import" $CAIRN -q git import khist --all
expect_exit 0 $CAIRN --json git import khist --all
assert_eq "$(json_get "j['imported']") $(json_get "j['already_there']")" "0 $kc" "after the kills every commit is imported once"
cp "$WORK/.out" kimport.json
expect_exit 0 $CAIRN --json snapshots
assert_eq "$(json_get "len(j)")" "$kc" "no commit imported twice"
# Packs of 1 MiB: many more moments at which a pack is written, objects of
# a snapshot not yet committed among them.
export CAIRN_GIT_PACK_MIB=1
kill_loop "git export" $CAIRN -q git export kout.git --all
expect_exit 0 $CAIRN --json git export kout.git --all
assert_eq "$(json_get "j['exported']")" "0" "after the kills nothing is left to export"
unset CAIRN_GIT_PACK_MIB
expect_exit 0 env CAIRN_GIT_PACK_MIB=1 $CAIRN --json git export kout-small-packs.git --all
assert_eq "$(json_get "j['packs_written'] > 3")" "True" "an export in many small packs ($(json_get "j['packs_written']"))"
cp "$WORK/.out" ksmall.json
git -C kout-small-packs.git fsck --strict 2>fsck.err && [ ! -s fsck.err ] || fail "git fsck --strict of an export in small packs: $(cat fsck.err)"; ok
$GITCMP history khist kout-small-packs.git kimport.json ksmall.json >/dev/null || fail "the history exported in small packs differs"; ok
cp "$WORK/.out" kexport.json
git -C kout.git fsck --strict 2>fsck.err && [ ! -s fsck.err ] || fail "git fsck --strict after killed exports: $(cat fsck.err)"; ok
$GITCMP history khist kout.git kimport.json kexport.json >/dev/null || fail "the history exported with kills differs"; ok
finish
