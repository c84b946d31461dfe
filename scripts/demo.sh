#!/usr/bin/env bash
# The main job, end to end: installs and builds cairn, then backs up a sample
# folder into a new local repository, changes it, backs it up again, lists
# the history and the files, diffs the two restore points, restores the
# first one and compares it with the original.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
CAIRN=$PWD/build/cairn

DEMO=${DEMO_DIR:-$(mktemp -d /tmp/cairn-demo.XXXXXX)}
echo "== working in $DEMO"
mkdir -p "$DEMO"
cd "$DEMO"
rm -rf sample repo restored sample-v1
mkdir -p sample/docs sample/data
cp -r "$OLDPWD/objstore" "$OLDPWD/cli" sample/docs/
head -c 5000000 /dev/urandom > sample/data/state.bin
printf 'port = 8080\n' > sample/config.ini
ln -s config.ini sample/current.ini
cp -a sample sample-v1

# The repository is encrypted (the default); the demo opens it with a key
# file, as a script or a cron job would. Interactively, leave CAIRN_KEY_FILE
# unset and init asks for a password.
export CAIRN_CACHE_DIR=$DEMO/cache
rm -rf "$CAIRN_CACHE_DIR" demo.key
set -x
$CAIRN key generate demo.key
export CAIRN_KEY_FILE=$DEMO/demo.key
$CAIRN init repo
$CAIRN -r repo show-config
export CAIRN_REPO=$DEMO/repo
$CAIRN backup -m "first backup" sample
printf 'port = 9090\n' > sample/config.ini
echo "new note" > sample/docs/NOTES.txt
$CAIRN backup -m "port changed, note added" sample
$CAIRN log
$CAIRN ls -l latest:docs
$CAIRN diff latest~1 latest
$CAIRN cat latest~1:config.ini
$CAIRN restore latest~1 --target restored --verify
$CAIRN check --read-data
$CAIRN stats
set +x
python3 "$OLDPWD/tests/e2e/treecmp.py" sample-v1 restored
echo "== done: the first snapshot restored exactly into $DEMO/restored"
