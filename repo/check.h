// SPDX-License-Identifier: MIT
//
// Check: verifies a repository from its files, not from the local index.
// Structure: every index file, pack header, snapshot, tree and ref is
// readable and consistent, and every chunk a snapshot needs is in a pack;
// snapshots that no branch or tag reaches are reported. With read_data,
// additionally every pack (or a chosen subset of them) is read whole,
// indexed or not, compared with its name, and every blob is decompressed
// and verified against its id, all through the repository's ObjectCodec.

#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "repo/repository.h"

namespace cairn::repo {

// Which packs `check --read-data-subset` reads.
struct DataSubset {
  enum class Kind { kAll, kSlice, kPercent };
  Kind kind = Kind::kAll;
  uint32_t n = 1, m = 1;  // kSlice: the n-th of m slices (1 <= n <= m): deterministic
  double percent = 100;   // kPercent: a random choice of this share of the packs
};
// Parses "N/M" or "P%" (restic's syntax). InvalidArgument otherwise.
Result<DataSubset> ParseDataSubset(std::string_view text);
// True if pack `pack_id` is in slice n of m. The slices partition the packs.
bool InSlice(const ObjectId& pack_id, uint32_t n, uint32_t m);

struct CheckOptions {
  bool read_data = false;
  DataSubset subset;                            // with read_data
  std::atomic<uint64_t>* packs_done = nullptr;  // progress, may be null
};

struct CheckReport {
  std::vector<std::string> errors;    // damage: check fails
  std::vector<std::string> warnings;  // harmless leftovers (prune removes them)
  uint64_t packs = 0, index_files = 0, snapshots = 0, trees = 0, blobs = 0;
  uint64_t packs_read = 0, unindexed_packs = 0, unreachable_snapshots = 0;
  uint64_t trashed = 0;  // snapshots in the trash whose data was checked too
  uint64_t bytes_read = 0;
  uint64_t temporaries = 0, temporary_bytes = 0;  // left by killed writers (a warning)
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
