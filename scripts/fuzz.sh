#!/usr/bin/env bash
# Builds the libFuzzer target (tests/fuzz/decoders_fuzz.cc) with clang under
# AddressSanitizer and UndefinedBehaviorSanitizer into build-fuzz/ (only that
# target and the libraries it links) and fuzzes for FUZZ_SECONDS (default 60)
# starting from tests/fuzz/corpus/. Installs clang-14 and its runtime
# (Debian 12 packages) if missing. New inputs go to build-fuzz/corpus, not
# into the source tree; a crash fails the script and leaves its input in
# build-fuzz/artifacts/ (add it to tests/fuzz/corpus/ with the fix).
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(clang-14 libclang-rt-14-dev)
bash scripts/install-packages.sh fuzz "${PACKAGES[@]}"

BUILD=${FUZZ_BUILD_DIR:-build-fuzz}
SECONDS_TOTAL=${FUZZ_SECONDS:-60}
start=$(date +%s)
# -O1 and line tables only: the usual fuzzing build, and quicker to compile
# than RelWithDebInfo (the build is most of this script's time).
cmake -S . -B "$BUILD" -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=None \
  -DCMAKE_CXX_FLAGS="-O1 -gline-tables-only" -DCAIRN_FUZZ=ON -DCAIRN_SANITIZE=address,undefined >/dev/null
cmake --build "$BUILD" --target cairn_decoders_fuzz -j "$(nproc)"
echo "fuzz: built in $(( $(date +%s) - start )) s; fuzzing for ${SECONDS_TOTAL} s"

mkdir -p "$BUILD/corpus" "$BUILD/artifacts"
# UBSan findings are crashes too.
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=1
"$BUILD/tests/cairn_decoders_fuzz" -max_total_time="$SECONDS_TOTAL" -timeout=10 -rss_limit_mb=2048 \
  -max_len=65536 -print_final_stats=1 -artifact_prefix="$BUILD/artifacts/" \
  "$BUILD/corpus" tests/fuzz/corpus
echo "fuzz: no crash in ${SECONDS_TOTAL} s; total $(( $(date +%s) - start )) s"
