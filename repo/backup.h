// SPDX-License-Identifier: MIT
//
// Backup: walks the source paths, cuts file contents into chunks, stores new
// chunks and trees through a BlobWriter, then writes the snapshot and
// advances the branch. Files that cannot be read are left out, listed in the
// snapshot's errors, and reported to the caller (exit code 3).

#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "repo/repository.h"

namespace cairn::repo {

struct BackupProgress {
  std::atomic<uint64_t> files_total{0}, bytes_total{0};
  std::atomic<uint64_t> files_done{0}, bytes_done{0};
};

struct BackupOptions {
  std::vector<std::string> paths;
  std::string branch = std::string(kDefaultBranch);
  std::string message;
  unsigned threads = 0;  // 0: one per core
  BackupProgress* progress = nullptr;  // may be null
  // Called (from the walking thread) for each source path that cannot be read.
  std::function<void(const std::string& path, const std::string& error)> on_error;
};

struct BackupResult {
  ObjectId snapshot_id;
  Snapshot snapshot;
  uint64_t packs_written = 0;
};

// Takes a snapshot of `options.paths` (see docs/cli.md#backup for how paths
// map to the snapshot root). InvalidArgument for unusable paths (two with
// the same last component, an invalid branch name), NotFound for a path
// that does not exist, IOError for repository write failures (then no
// snapshot is written).
Result<BackupResult> Backup(Repository* repo, const BackupOptions& options);

}  // namespace cairn::repo
