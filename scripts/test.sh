#!/usr/bin/env bash
# Installs, builds and runs every test: unit tests and end-to-end tests, then
# the same suite again under AddressSanitizer and UndefinedBehaviorSanitizer.
# Set CAIRN_NO_SANITIZE=1 to skip the second pass.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
(cd build && ctest --output-on-failure -j "$(nproc)")

if [ -z "${CAIRN_NO_SANITIZE:-}" ]; then
  echo "== the same tests under address and undefined-behaviour sanitizers"
  BUILD_DIR=build-asan BUILD_TYPE=Debug CMAKE_ARGS="-DCAIRN_SANITIZE=address,undefined" bash scripts/setup.sh
  (cd build-asan && ctest --output-on-failure -j "$(nproc)")
fi
