# On a terminal, long commands show progress on stderr (files, bytes, rate);
# never with --json, and never when stderr is not a terminal.
source "$(dirname "$0")/lib.sh"
command -v script >/dev/null || { echo "SKIPPED: needs script(1)"; finish; exit 0; }

mkdir src
head -c 400000000 /dev/urandom > src/big.bin    # long enough for a few progress ticks
expect_exit 0 $CAIRN init repo -q
export CAIRN_REPO=$WORK/repo
script -qec "$CAIRN backup --threads 1 src" /dev/null > tty.txt 2>&1 || fail "backup on a pty failed: $(cat tty.txt)"
grep -a -q "backup: [0-9]*/1 files, .* / 381.47 MiB" tty.txt || fail "no progress line on a terminal: $(tr '\r' '\n' < tty.txt | head -5)"; ok
grep -a -q "/s" tty.txt || fail "no rate in the progress line"; ok
echo more >> src/big.bin
script -qec "$CAIRN --json backup --threads 1 --force-read src" /dev/null > tty-json.txt 2>&1
grep -a -q "backup: " tty-json.txt && fail "progress shown with --json"; ok
python3 -c "import json,sys; json.loads(open('tty-json.txt').read().strip())" || fail "--json output on a pty is not one JSON document"; ok
expect_exit 0 $CAIRN backup --force-read src
grep -q "backup: " "$WORK/.err" && fail "progress shown when stderr is not a terminal"; ok
script -qec "$CAIRN restore --threads 1 --verify latest --target out" /dev/null > tty-restore.txt 2>&1
grep -a -q "restore: " tty-restore.txt || fail "no restore progress on a terminal"; ok
cmp out/big.bin src/big.bin || fail "restore differs"; ok
finish
