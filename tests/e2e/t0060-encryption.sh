# Encryption as a user meets it: a password-protected repository round-trips
# a real tree exactly; nothing a user backed up (content, names, branch and
# tag names, messages) and no password is readable in the repository; two
# repositories under different keys share nothing; a pack of another
# repository is damage; the password sources and their order; no source and
# no terminal is an error, never a hang; unencrypted (format 1) repositories
# still work.
source "$(dirname "$0")/lib.sh"

# Password slots use the cheapest Argon2id cost the product accepts, except
# the one repository that checks the default cost works.
FAST="--kdf-memory 64 --kdf-ops 2"
PASSWORD='Sesame-7f3a9c-correct-horse'
WRONG='Sesame-7f3a9c-wrong-battery'
printf '%s\n' "$PASSWORD" > "$WORK/pw"
printf '%s\n' "$WRONG" > "$WORK/pw-wrong"
unset CAIRN_KEY_FILE

# Every stdout and stderr of the case is kept, to look for the password at the end.
: > "$WORK/all-output"
run() { expect_exit "$@"; cat "$WORK/.out" "$WORK/.err" >> "$WORK/all-output"; }

# --- round trip of a real tree, password from CAIRN_PASSWORD_FILE, default KDF cost ---
make_rich_tree src
cp -a /usr/share/doc/bash src/bash-doc
mkdir -p src/include && cp -a /usr/include/linux/netfilter src/include/
export CAIRN_PASSWORD_FILE=$WORK/pw
run 0 $CAIRN init repo
grep -q "created encrypted cairn repository" "$WORK/.out" || fail "init does not say the repository is encrypted: $(out)"; ok
export CAIRN_REPO=$WORK/repo
run 0 $CAIRN --json key list
assert_eq "$(json_get "(j['keys'][0]['kdf']['opslimit'], j['keys'][0]['kdf']['memlimit'])")" "(3, 268435456)" "the default KDF cost (opslimit, memlimit)"
run 0 $CAIRN --json backup -m "first" src
run 0 $CAIRN restore latest --target out --verify
$TREECMP src out >/dev/null || fail "restored tree differs from the source"; ok
run 0 $CAIRN check --read-data
run 0 $CAIRN --json show-config
assert_eq "$(json_get "j['encryption']")" "xchacha20-poly1305" "encryption"
assert_eq "$(json_get "j['format']")" "3" "format"
assert_eq "$(json_get "j['id_hash']")" "hmac-sha256" "id hash"
assert_eq "$(json_get "j['chunker']['seed']")" "keyed" "chunker seed"
cache=$(json_get "j['cache']")
case "$cache" in "$WORK/.cache/"*) ok ;; *) fail "cache '$cache' is not under CAIRN_CACHE_DIR" ;; esac
[ -d "$cache" ] || fail "the cache folder '$cache' does not exist"; ok
[ ! -e repo/cache ] || fail "an encrypted repository holds its cache"; ok
unset CAIRN_REPO

# --- nothing the user backed up is readable in the repository ---
# Markers in file content (in random data, so compression cannot hide them,
# and in a repository that does not compress at all), a file name, a folder
# name, a branch name, a tag name, a tag message and a snapshot message.
M_CONTENT=zq7CONTENTmarker91f
M_FILE=zq7FILENAMEmarker91f
M_DIR=zq7DIRNAMEmarker91f
M_BRANCH=zq7BRANCHmarker91f
M_TAG=zq7TAGNAMEmarker91f
M_TAGMSG=zq7TAGMESSAGEmarker91f
M_SNAPMSG=zq7SNAPMESSAGEmarker91f
MARKERS="$M_CONTENT $M_FILE $M_DIR $M_BRANCH $M_TAG $M_TAGMSG $M_SNAPMSG"
mkdir -p "marked/$M_DIR"
{ head -c 50000 /dev/urandom; for i in $(seq 1 50); do printf '%s' "$M_CONTENT"; head -c 700 /dev/urandom; done; } > "marked/$M_DIR/$M_FILE"
echo "plain text $M_CONTENT" > marked/notes.txt
# leak_check REPO WANT: WANT=none (no marker anywhere, in content or names)
# or WANT=all (every marker somewhere: proves the search can find them).
leak_check() {
  local repo=$1 want=$2 m found
  for m in $MARKERS; do
    found=no
    if grep -r -a -q -F -- "$m" "$repo" || find "$repo" | grep -q -F -- "$m"; then found=yes; fi
    if [ "$want" = none ] && [ $found = yes ]; then
      fail "'$m' is readable in $repo: $(grep -r -a -l -F -- "$m" "$repo"; find "$repo" | grep -F -- "$m")"
    fi
    [ "$want" = all ] && [ $found = no ] && fail "control: '$m' not found in the unencrypted $repo (the search is blind)"
    ok
  done
}
back_up_marked() {
  run 0 $CAIRN -r "$1" backup -q --branch "$M_BRANCH" -m "$M_SNAPMSG" marked
  run 0 $CAIRN -r "$1" tag "$M_TAG" "$M_BRANCH" -m "$M_TAGMSG"
  run 0 $CAIRN -r "$1" cat "$M_TAG:$M_DIR/$M_FILE"
  cmp -s "$WORK/.out" "marked/$M_DIR/$M_FILE" || fail "the marked file does not read back from $1"; ok
}
back_up_marked repo
run 0 $CAIRN -r raw0 init $FAST --compression-level 0 -q
back_up_marked raw0
# Control: the same in an unencrypted, uncompressed repository shows every marker.
run 0 $CAIRN -r plain0 init --encryption none --compression-level 0 -q
back_up_marked plain0
leak_check plain0 all
leak_check repo none
leak_check raw0 none
[ ! -e raw0/cache ] || fail "raw0 holds its cache"; ok

# --- two repositories, same data, different keys: nothing in common ---
# What still leaks to someone who can read the storage (and nothing more): the
# number and sizes of packs (so roughly how much data, and how much each
# backup added), the sizes of index and snapshot files, the number of
# snapshots, branches, tags and key slots, and when each file was written.
# Not which files or chunks there are, nor their names or sizes one by one,
# nor that two repositories hold the same data.
run 0 $CAIRN -r twin1 init $FAST -q
run 0 $CAIRN -r twin2 init $FAST -q
run 0 $CAIRN -r twin1 backup -q src
run 0 $CAIRN -r twin2 backup -q src
# Every id ls-tree prints: of chunks, files and symlinks. Left out: entries
# that have no content to name (fifos, devices: all-zero id; empty files:
# the content id of no chunks, SHA-256 of nothing, never stored).
ids_of() {
  run 0 $CAIRN -r "$1" --json ls-tree -r latest
  json_get "'\n'.join(sorted(set([e['id'] for e in j if e.get('chunks', ['?'])] + [c for e in j for c in e.get('chunks', [])]) - {'0' * 64}))" > "$2"
}
ids_of twin1 ids1; ids_of twin2 ids2
[ "$(wc -l < ids1)" -gt 20 ] || fail "too few ids listed: $(wc -l < ids1)"; ok
[ -z "$(comm -12 ids1 ids2)" ] || fail "two repositories under different keys share ids: $(comm -12 ids1 ids2 | head -3)"; ok
files_of() { (cd "$1" && find data index snapshots refs -type f -printf '%f\n' | LC_ALL=C sort); }
[ -z "$(comm -12 <(files_of twin1) <(files_of twin2))" ] || fail "the two repositories share file names"; ok
sizes_of() { find "$1/data" -type f -printf '%s\n' | sort -n | tr '\n' ' '; }
[ "$(sizes_of twin1)" != "$(sizes_of twin2)" ] || fail "same data under different keys gives the same pack sizes: $(sizes_of twin1)"; ok
# The same file's content id differs between the two; within one repository
# hash-object gives the id ls-tree shows.
run 0 $CAIRN -r twin1 hash-object src/sub/text.txt; id1=$(out | cut -c1-64)
run 0 $CAIRN -r twin2 hash-object src/sub/text.txt; id2=$(out | cut -c1-64)
[ ${#id1} = 64 ] && [ "$id1" != "$id2" ] || fail "text.txt has the same id '$id1' in both repositories"; ok
grep -q -x -F "$id1" ids1 || fail "hash-object id $id1 is not the id ls-tree shows"; ok

# --- a pack of another encrypted repository is damage ---
# twin2's pack under twin1's data/: its name is the hash of its bytes (so a
# name check alone would accept it), but it does not authenticate under twin1's keys.
foreign=$(cd twin2 && find data -type f -printf '%s %p\n' | sort -n | tail -1 | cut -d' ' -f2)
cp "twin2/$foreign" "twin1/$foreign"
run 4 $CAIRN -r twin1 check --read-data
grep -q -F "$(basename "$foreign")" "$WORK/.err" || fail "check does not name the foreign pack: $(err)"; ok
grep -q -i "damaged" "$WORK/.err" || fail "check does not call the foreign pack damaged: $(err)"; ok
run 0 $CAIRN -r twin1 restore latest --target out-twin1
$TREECMP src out-twin1 >/dev/null || fail "restore next to a foreign pack differs"; ok
rm "twin1/$foreign"
run 0 $CAIRN -r twin1 check --read-data

# --- password sources and their order ---
unset CAIRN_PASSWORD_FILE CAIRN_PASSWORD CAIRN_PASSWORD_COMMAND
run 0 $CAIRN -r pwrepo init $FAST -q --password-file "$WORK/pw"
run 0 $CAIRN -r pwrepo backup -q --password-file "$WORK/pw" marked
export CAIRN_REPO=$WORK/pwrepo
opens() { run 0 "$@" $CAIRN log --oneline; [ "$(grep -c . "$WORK/.out")" = 1 ] || fail "log after opening: $(out)"; ok; }
refused() { run 11 "$@" $CAIRN log --oneline; expect_one_line_error "the password does not open any key slot of repository"; }
# Each source alone.
run 0 $CAIRN --password-file "$WORK/pw" log --oneline
run 0 $CAIRN log --oneline --password-file "$WORK/pw"       # after the command too
run 0 $CAIRN --password-command "cat $WORK/pw" log --oneline
opens env CAIRN_PASSWORD_FILE="$WORK/pw"
opens env CAIRN_PASSWORD_COMMAND="cat '$WORK/pw'"
opens env CAIRN_PASSWORD="$PASSWORD"
# Each wrong alone.
run 11 $CAIRN --password-file "$WORK/pw-wrong" log
expect_one_line_error "the password does not open any key slot of repository '$WORK/pwrepo'"
refused env CAIRN_PASSWORD="$WRONG"
# Order: --password-file, --password-command, CAIRN_PASSWORD_FILE,
# CAIRN_PASSWORD_COMMAND, CAIRN_PASSWORD; the first source given is used.
run 0 env CAIRN_PASSWORD="$WRONG" $CAIRN --password-file "$WORK/pw" log --oneline
run 11 env CAIRN_PASSWORD="$PASSWORD" $CAIRN --password-file "$WORK/pw-wrong" log --oneline
run 0 $CAIRN --password-file "$WORK/pw" --password-command "cat $WORK/pw-wrong" log --oneline
run 11 $CAIRN --password-file "$WORK/pw-wrong" --password-command "cat $WORK/pw" log --oneline
run 0 env CAIRN_PASSWORD_FILE="$WORK/pw-wrong" $CAIRN --password-command "cat $WORK/pw" log --oneline
run 11 env CAIRN_PASSWORD_FILE="$WORK/pw" $CAIRN --password-command "cat $WORK/pw-wrong" log --oneline
opens env CAIRN_PASSWORD_FILE="$WORK/pw" CAIRN_PASSWORD_COMMAND="cat '$WORK/pw-wrong'"
refused env CAIRN_PASSWORD_FILE="$WORK/pw-wrong" CAIRN_PASSWORD_COMMAND="cat '$WORK/pw'"
opens env CAIRN_PASSWORD_COMMAND="cat '$WORK/pw'" CAIRN_PASSWORD="$WRONG"
refused env CAIRN_PASSWORD_COMMAND="cat '$WORK/pw-wrong'" CAIRN_PASSWORD="$PASSWORD"
# A failing password command is a usage error, not a wrong password.
run 2 $CAIRN --password-command false log
expect_one_line_error "password command"
run 2 env CAIRN_PASSWORD_COMMAND="exit 3" $CAIRN log
expect_one_line_error "password command"
run 2 $CAIRN --password-file "$WORK/no-such-file" log
expect_one_line_error "no-such-file"
# No source and no terminal: an error at once, never a prompt that hangs.
before=$(tree_hash pwrepo)
set +e; timeout 20 setsid -w $CAIRN log </dev/null >"$WORK/.out" 2>"$WORK/.err"; rc=$?; set -e
cat "$WORK/.out" "$WORK/.err" >> "$WORK/all-output"
[ $rc != 124 ] || fail "with no password source and no terminal cairn waits"; ok
assert_eq "$rc" "2" "exit code with no password source"
expect_one_line_error "no password was given"
assert_eq "$(grep -c . "$WORK/.err")" "1" "lines of the no-source error"
set +e; timeout 20 $CAIRN backup marked </dev/null >"$WORK/.out" 2>"$WORK/.err"; rc=$?; set -e
assert_eq "$rc" "2" "backup with no password source (stdin not a terminal)"
expect_one_line_error "no password was given"
# A wrong password changes nothing in the repository, whatever the command.
for cmd in "backup marked" "tag t-wrong" "branch b-wrong" "check" "key add --new-password-file $WORK/pw-wrong $FAST" "key passwd --new-password-file $WORK/pw-wrong"; do
  run 11 $CAIRN --password-file "$WORK/pw-wrong" $cmd
  expect_one_line_error "does not open any key slot"
done
run 11 env CAIRN_PASSWORD="$WRONG" $CAIRN --json backup marked
assert_eq "$(tree_hash pwrepo)" "$before" "repository after wrong or missing passwords"
unset CAIRN_REPO

# --- init with no source and no terminal ---
caches_before=$(ls -A "$WORK/.cache")
set +e; timeout 20 setsid -w $CAIRN init norepo </dev/null >"$WORK/.out" 2>"$WORK/.err"; rc=$?; set -e
assert_eq "$rc" "2" "init with no password source"
expect_one_line_error "needs a password"
[ ! -e norepo ] || fail "a refused init left '$(ls -A norepo | tr '\n' ' ')'"; ok
assert_eq "$(ls -A "$WORK/.cache")" "$caches_before" "cache folders after a refused init"

# --- format 1 (unencrypted) still works, and says so ---
run 0 $CAIRN init plain --encryption none
grep -q "created unencrypted cairn repository" "$WORK/.out" || fail "init --encryption none: $(out)"; ok
run 0 $CAIRN -r plain --json show-config
assert_eq "$(json_get "j['encryption']")" "none" "encryption of a format-1 repository"
assert_eq "$(json_get "j['format']")" "1" "format"
assert_eq "$(json_get "j['id_hash']")" "sha256" "id hash"
assert_eq "$(json_get "j['chunker']['seed']")" "public" "chunker seed"
run 0 $CAIRN -r plain backup -q src
run 0 $CAIRN -r plain check --read-data
run 0 $CAIRN -r plain restore latest --target out-plain --verify
$TREECMP src out-plain >/dev/null || fail "format-1 restore differs"; ok
# A format-1 repository opens with no key or password source at all.
set +e; timeout 20 setsid -w env -u CAIRN_KEY_FILE $CAIRN -r plain log --oneline </dev/null >"$WORK/.out" 2>"$WORK/.err"; rc=$?; set -e
assert_eq "$rc" "0" "format 1 with no password source"

# --- the password is never in any output, the repositories or the caches ---
run 0 $CAIRN -r pwrepo --password-file "$WORK/pw" --json show-config
run 0 $CAIRN -r pwrepo --password-file "$WORK/pw" --json key list
run 0 $CAIRN -r pwrepo --password-file "$WORK/pw" --json log
[ -s "$WORK/all-output" ] || fail "no output was collected"; ok
! grep -a -q -F "$PASSWORD" "$WORK/all-output" || fail "the password appears in the output of a command"; ok
! grep -a -q -F "$WRONG" "$WORK/all-output" || fail "the wrong password appears in the output of a command"; ok
for d in repo raw0 twin1 twin2 pwrepo "$WORK/.cache"; do
  ! grep -r -a -q -F "$PASSWORD" "$d" || fail "the password is stored in $d: $(grep -r -a -l -F "$PASSWORD" "$d")"; ok
  ! grep -r -a -q -F "$WRONG" "$d" || fail "the wrong password is stored in $d"; ok
done
finish
