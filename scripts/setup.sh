#!/usr/bin/env bash
# Installs what cairn needs to build and test (Debian 12 packages) and builds
# it into build/. Safe to run again: installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(g++ cmake make pkg-config python3 liblmdb-dev libzstd-dev libssl-dev libcli11-dev
          nlohmann-json3-dev catch2 libsqlite3-dev libsodium-dev libcurl4-openssl-dev libfuse3-dev util-linux git groff-base zsh)
# `cairn mount` and its tests: fusermount3 unmounts.
PACKAGES+=(fuse3)
# `cairn git export|import` (repo/git_interop.cc): libgit2 1.5, and zlib for
# the pack files export writes.
PACKAGES+=(libgit2-dev zlib1g-dev)
# The real S3 server the tests of the S3 backend start (tests/tools/ceph-rgw.sh):
# Ceph's monitor, OSD and radosgw.
PACKAGES+=(ceph-mon ceph-osd radosgw ceph-common openssl)
bash scripts/install-packages.sh setup "${PACKAGES[@]}"

BUILD=${BUILD_DIR:-build}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-RelWithDebInfo} ${CMAKE_ARGS:-} >/dev/null
cmake --build "$BUILD" -j "$(nproc)"
