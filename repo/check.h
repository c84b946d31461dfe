// SPDX-License-Identifier: MIT
//
// Check: verifies a repository from its files, not from the local index.
// Structure: every index file, pack header, snapshot, tree and ref is
// readable and consistent, and every chunk a snapshot needs is in a pack.
// With read_data, additionally every pack is read whole, its SHA-256 is
// compared with its name, and every blob is decompressed and re-hashed.

#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "repo/repository.h"

namespace cairn::repo {

struct CheckOptions {
  bool read_data = false;
  std::atomic<uint64_t>* packs_done = nullptr;  // progress, may be null
};

struct CheckReport {
  std::vector<std::string> errors;    // damage: check fails
  std::vector<std::string> warnings;  // harmless leftovers (prune removes them)
  uint64_t packs = 0, index_files = 0, snapshots = 0, trees = 0, blobs = 0;
  uint64_t bytes_read = 0;
};

// Returns the report; a non-OK Status only if the check itself could not run
// (e.g. the repository cannot be listed).
Result<CheckReport> Check(Repository* repo, const CheckOptions& options);

struct RepoStats {
  uint64_t snapshots = 0;
  uint64_t logical_bytes = 0;   // sum over snapshots of their file bytes
  uint64_t unique_raw_bytes = 0;  // distinct chunk and tree bytes, uncompressed
  uint64_t stored_blob_bytes = 0;  // the same blobs as stored
  uint64_t pack_bytes = 0;      // sum of pack file sizes
  uint64_t repo_bytes = 0;      // packs + index files + snapshots
  uint64_t chunks = 0, trees = 0, packs = 0;
};

Result<RepoStats> ComputeStats(Repository* repo);

}  // namespace cairn::repo
