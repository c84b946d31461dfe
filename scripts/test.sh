#!/usr/bin/env bash
# Installs, builds and runs every test: unit tests and end-to-end tests, then
# the same suite again under AddressSanitizer and UndefinedBehaviorSanitizer,
# then each decoder's libFuzzer target for a few seconds (scripts/fuzz.sh: clang,
# installed if missing). Set CAIRN_NO_SANITIZE=1 to skip the second pass,
# CAIRN_NO_FUZZ=1 to skip the fuzzing, FUZZ_SECONDS_PER_TARGET to fuzz longer.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
(cd build && ctest --output-on-failure -j "$(nproc)")

if [ -z "${CAIRN_NO_SANITIZE:-}" ]; then
  echo "== the same tests under address and undefined-behaviour sanitizers"
  BUILD_DIR=build-asan BUILD_TYPE=Debug CMAKE_ARGS="-DCAIRN_SANITIZE=address,undefined" bash scripts/setup.sh
  # The loops of prune under SIGKILL and beside backups run fewer rounds
  # here (a Debug build under the sanitizers is several times slower); the
  # first pass runs them in full.
  (cd build-asan && PRUNE_KILLS=4 PRUNE_ROUNDS=12 ctest --output-on-failure -j "$(nproc)")
fi

if [ -z "${CAIRN_NO_FUZZ:-}" ]; then
  echo "== every decoder under libFuzzer"
  bash scripts/fuzz.sh
fi
