#!/usr/bin/env bash
# scripts/install-packages.sh WHO PACKAGE...: installs the Debian packages
# that are missing (nothing if all are there), saying so as "WHO: installing
# …". Shared by setup.sh and fuzz.sh.
set -euo pipefail
who=$1; shift
missing=()
for p in "$@"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -gt 0 ] || exit 0
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
echo "$who: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
