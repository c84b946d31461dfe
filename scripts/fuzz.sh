#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/decoders.cc: one program per
# decoder of untrusted bytes, cairn_fuzz_NAME) with clang under
# AddressSanitizer and UndefinedBehaviorSanitizer into build-fuzz/ (only
# those programs and the libraries they link) and fuzzes each for
# FUZZ_SECONDS_PER_TARGET (default 5; about 2.5 minutes for all), starting from
# tests/fuzz/corpus/NAME/. FUZZ_TARGETS="a b" fuzzes only those. Installs
# clang-14 and its runtime (Debian 12 packages) if missing. New inputs go to
# build-fuzz/corpus/NAME, not into the source tree; a crash fails the script
# and leaves its input in build-fuzz/artifacts/NAME- (add it to
# tests/fuzz/corpus/NAME/ with the fix; cairn_fuzz_replay NAME FILE replays it).
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(clang-14 libclang-rt-14-dev)
bash scripts/install-packages.sh fuzz "${PACKAGES[@]}"

BUILD=${FUZZ_BUILD_DIR:-build-fuzz}
PER_TARGET=${FUZZ_SECONDS_PER_TARGET:-5}
start=$(date +%s)
# -O1 and line tables only: the usual fuzzing build, and quicker to compile
# than RelWithDebInfo (the build is most of this script's time).
cmake -S . -B "$BUILD" -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=None \
  -DCMAKE_CXX_FLAGS="-O1 -gline-tables-only" -DCAIRN_FUZZ=ON -DCAIRN_SANITIZE=address,undefined >/dev/null
cmake --build "$BUILD" --target cairn_fuzz_all cairn_fuzz_replay -j "$(nproc)"
targets=${FUZZ_TARGETS:-$("$BUILD/tests/cairn_fuzz_replay" --list)}
n=$(echo $targets | wc -w)
echo "fuzz: built $n targets in $(( $(date +%s) - start )) s; fuzzing each for ${PER_TARGET} s"

# UBSan findings are crashes too.
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=1
mkdir -p "$BUILD/artifacts"
runs=0
for t in $targets; do
  [ -d "tests/fuzz/corpus/$t" ] || { echo "fuzz: no seed corpus tests/fuzz/corpus/$t for target $t" >&2; exit 1; }
  mkdir -p "$BUILD/corpus/$t"
  log="$BUILD/fuzz-$t.log"
  if ! "$BUILD/tests/cairn_fuzz_$t" -max_total_time="$PER_TARGET" -timeout=10 -rss_limit_mb=2048 \
      -max_len=65536 -print_final_stats=1 -artifact_prefix="$BUILD/artifacts/$t-" \
      "$BUILD/corpus/$t" "tests/fuzz/corpus/$t" > "$log" 2>&1; then
    tail -40 "$log" >&2
    echo "fuzz: target $t crashed (log $log, input in $BUILD/artifacts/)" >&2
    exit 1
  fi
  execs=$(grep -o "stat::number_of_executed_units: *[0-9]*" "$log" | grep -o "[0-9]*$" || echo "?")
  echo "fuzz: $t: $execs runs, no crash"
  runs=$((runs + 1))
done
echo "fuzz: $runs targets, no crash; total $(( $(date +%s) - start )) s"
