#!/usr/bin/env bash
# bench/compare-bytes.sh OLD_CAIRN NEW_CAIRN DIR...
#
# Are the stored bytes of two cairn builds the same? Every repository gets a
# random chunker seed at init, so two runs of bench/run.sh cut different
# chunks and differ by noise. Here both builds back up the same folders into
# copies of one freshly made repository (same config, same seed), one
# snapshot per DIR in order, and the blob statistics are compared: chunk and
# tree counts, unique bytes and stored bytes must be equal for a change that
# claims not to touch the format. Prints a table; exit 1 if they differ.
set -euo pipefail
OLD=$1 NEW=$2; shift 2
W=$(mktemp -d /tmp/cairn-bytes.XXXXXX)
trap 'rm -rf "$W"' EXIT
"$OLD" -q init "$W/old"
mkdir "$W/new"
cp "$W/old/config" "$W/new/config"
"$NEW" -q -r "$W/new" check >/dev/null 2>&1 || true   # lets the new build lay out what it needs
for d in "$@"; do
  "$OLD" -q -r "$W/old" backup "$d"
  "$NEW" -q -r "$W/new" backup "$d"
done
stats() { "$1" --json -r "$2" stats | python3 -c '
import json, sys
j = json.load(sys.stdin)
print(j["chunks"], j["trees"], j["unique_bytes"], j["stored_bytes"], j["pack_bytes"], j["repository_bytes"])'; }
read -r oc ot ou os op orb <<<"$(stats "$OLD" "$W/old")"
read -r nc nt nu ns np nrb <<<"$(stats "$NEW" "$W/new")"
printf '| | chunks | trees | unique bytes | stored bytes | pack bytes | repository bytes |\n|---|---:|---:|---:|---:|---:|---:|\n'
printf '| old | %s | %s | %s | %s | %s | %s |\n' "$oc" "$ot" "$ou" "$os" "$op" "$orb"
printf '| new | %s | %s | %s | %s | %s | %s |\n' "$nc" "$nt" "$nu" "$ns" "$np" "$nrb"
[ "$oc $ot $ou $os" = "$nc $nt $nu $ns" ] || { echo "blob statistics differ"; exit 1; }
echo "same chunks, trees and stored blob bytes"
