// SPDX-License-Identifier: MIT
//
// Restore: recreates a snapshot (or one path of it) inside a target folder.
// It never writes outside the target: every name comes from a validated
// tree, every folder is opened relative to its parent with O_NOFOLLOW, and a
// symlink found in the target is replaced (with --force), never followed.
// A file whose data is damaged or missing is removed again and reported;
// the other files are restored.

#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "repo/repository.h"

namespace cairn::repo {

struct RestoreProgress {
  std::atomic<uint64_t> files_total{0}, bytes_total{0};
  std::atomic<uint64_t> files_done{0}, bytes_done{0};
};

struct RestoreOptions {
  std::string target;
  // Restore into a non-empty target: entries of the snapshot replace what is
  // at their path (files, symlinks; never a non-empty folder), other entries
  // of the target are left alone.
  bool force = false;
  // Read every restored file back and compare it with the snapshot.
  bool verify = false;
  unsigned threads = 0;
  RestoreProgress* progress = nullptr;
};

struct RestoreResult {
  uint64_t files = 0, dirs = 0, links = 0, others = 0, bytes = 0;
  std::vector<objstore::SourceError> errors;  // path in the target, reason
  bool damaged = false;  // some error was damaged or missing repository data
};

// Restores `what` into options.target. AlreadyExists if the target is not
// empty and force is off; IOError if the target cannot be created. Errors of
// single entries are collected in the result, not returned.
Result<RestoreResult> Restore(const Repository& repo, const Repository::PathTarget& what,
                              const RestoreOptions& options);

}  // namespace cairn::repo
