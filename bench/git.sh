#!/usr/bin/env bash
# bench/git.sh CAIRN [PASSES] [KERNEL_SRC]   (issue 14: git import and export)
#
# 1. The rich history of tests/e2e/make_git_history.py (2,000 commits, real
#    files of this machine, a 52 MiB file edited once), made once. Per pass:
#      clone    git clone --mirror file://SRC (git's own transfer: it packs)
#      import   cairn git import SRC --all into a new encrypted repository
#      export   cairn git export OUT.git --all of that repository (new bare)
#    with wall time, peak RSS and the size of what each wrote.
# 2. With KERNEL_SRC (the kernel tree, src-v1): a backup of it (not timed),
#    then per pass
#      git-add      git add -A -f (its .gitignore files ignored) and git commit of KERNEL_SRC into a new repository
#      export-tree  cairn git export of the snapshot into a new bare repository
# Writes $GIT_OUT/git.tsv (default /tmp/cairn-gitbench) and prints medians.
set -euo pipefail
CAIRN=$(realpath "${1:?usage: bench/git.sh CAIRN [PASSES] [KERNEL_SRC]}")
PASSES=${2:-3}
KSRC=${3:-}
OUT=${GIT_OUT:-/tmp/cairn-gitbench}
HERE=$(cd "$(dirname "$0")" && pwd)
rm -rf "$OUT"
mkdir -p "$OUT"
export CAIRN_CACHE_DIR=$OUT/cache CAIRN_KEY_FILE=$OUT/key HOME=$OUT GIT_CONFIG_NOSYSTEM=1
git config --global user.name bench && git config --global user.email bench@example.org
# No background `git gc --auto` after the git-add step's commit (it ran into the next steps).
git config --global gc.auto 0
"$CAIRN" key generate "$CAIRN_KEY_FILE" >/dev/null
python3 "$HERE/../tests/e2e/make_git_history.py" "$OUT/src" 2000
echo -e "pass\tstep\twall_s\tpeak_rss_kib\tbytes" > "$OUT/git.tsv"

# step NAME DIR CMD...: runs CMD under /usr/bin/time, records wall, RSS and the size of DIR.
step() {
  local name=$1 dir=$2; shift 2
  sync; sleep 1
  /usr/bin/time -f "%e %M" -o "$OUT/time" "$@" >/dev/null 2>"$OUT/step.err" || { cat "$OUT/step.err"; exit 1; }
  read -r wall rss < "$OUT/time"
  local bytes; bytes=$(du -sb "$dir" | cut -f1)
  echo -e "$pass\t$name\t$wall\t$rss\t$bytes" >> "$OUT/git.tsv"
  echo "pass $pass $name: $wall s, peak RSS $((rss / 1024)) MiB, $((bytes / 1048576)) MiB written"
}

if [ -n "$KSRC" ]; then
  "$CAIRN" -r "$OUT/krepo" init -q
  "$CAIRN" -r "$OUT/krepo" backup "$KSRC" -q
fi
for pass in $(seq "$PASSES"); do
  rm -rf "$OUT/mirror.git" "$OUT/repo" "$OUT/out.git" "$OUT/cache/"*
  step clone "$OUT/mirror.git" git clone -q --mirror "file://$OUT/src" "$OUT/mirror.git"
  "$CAIRN" -r "$OUT/repo" init -q
  step import "$OUT/repo" "$CAIRN" -r "$OUT/repo" -q git import "$OUT/src" --all
  step export "$OUT/out.git" "$CAIRN" -r "$OUT/repo" -q git export "$OUT/out.git" --all
  if [ -n "$KSRC" ]; then
    rm -rf "$OUT/kgit" "$OUT/kout.git"
    git init -q "$OUT/kgit"
    step git-add "$OUT/kgit" sh -c "git --git-dir='$OUT/kgit/.git' --work-tree='$KSRC' add -A -f && git --git-dir='$OUT/kgit/.git' --work-tree='$KSRC' commit -q -m tree"
    step export-tree "$OUT/kout.git" "$CAIRN" -r "$OUT/krepo" -q git export "$OUT/kout.git" latest
  fi
done
echo "source: $(git -C "$OUT/src" rev-list --all --count) commits, $(du -sb "$OUT/src/.git" | cut -f1) bytes in .git"
python3 - "$OUT/git.tsv" <<'EOF'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
steps = []
for r in rows:
    if r["step"] not in steps:
        steps.append(r["step"])
print("| step | wall s | peak RSS MiB | MiB written |")
print("|---|---:|---:|---:|")
for s in steps:
    rs = [r for r in rows if r["step"] == s]
    med = lambda k: statistics.median(float(r[k]) for r in rs)
    print(f"| {s} | {med('wall_s'):.2f} | {med('peak_rss_kib') / 1024:.0f} | {med('bytes') / 1048576:.1f} |")
EOF
