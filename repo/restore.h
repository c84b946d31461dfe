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

// What restore does with an entry of the snapshot that already exists in
// the target (only with force).
enum class Overwrite {
  kAlways,     // replace it
  kIfChanged,  // replace it unless its content is the snapshot's (compared by chunk ids); fix its metadata
  kIfNewer,    // replace it if the snapshot's mtime is later than its own
  kNever,      // leave it
};
const char* OverwriteName(Overwrite o);

// One decision of a restore, for its plan (dry run) or its report.
// action: "create", "overwrite", "unchanged", "skip" (exists, kept by the
// overwrite mode), "delete" (--delete: in the target, not in the snapshot).
struct RestoreItem {
  std::string path;  // relative to the target
  std::string action;
};

struct RestoreOptions {
  std::string target;
  // Restore into a non-empty target: entries of the snapshot replace what is
  // at their path (files, symlinks; never a non-empty folder) as `overwrite`
  // says; other entries of the target are left alone unless delete_extra.
  bool force = false;
  Overwrite overwrite = Overwrite::kAlways;
  // Remove what the target has and the snapshot does not (a mirror).
  bool delete_extra = false;
  // Decide everything, change nothing.
  bool dry_run = false;
  // Which entries are restored, in the syntax of backup's --exclude
  // (exclude.h), matched against paths relative to what is restored. An
  // entry matching an exclude pattern is left out with everything below it.
  // With include patterns, only entries matching one (and everything below
  // a folder that matches) are restored, with the folders leading to them.
  // delete_extra deletes only what the patterns would restore.
  std::vector<std::string> includes, excludes;
  // Keep every decision in RestoreResult::items (sorted by path).
  bool record_items = false;
  // Read every restored file back and compare it with the snapshot.
  bool verify = false;
  unsigned threads = 0;
  RestoreProgress* progress = nullptr;
};

struct RestoreResult {
  uint64_t files = 0, dirs = 0, links = 0, others = 0, bytes = 0;
  // Decisions: entries (folders, files, links, others) created, replaced,
  // found unchanged, kept by the overwrite mode, deleted (delete_extra).
  uint64_t created = 0, overwritten = 0, unchanged = 0, skipped = 0, deleted = 0;
  std::vector<RestoreItem> items;  // with record_items
  std::vector<objstore::SourceError> errors;  // path in the target, reason
  bool damaged = false;  // some error was damaged or missing repository data
};

// Restores `what` into options.target. AlreadyExists if the target is not
// empty and force is off; IOError if the target cannot be created. Errors of
// single entries are collected in the result, not returned.
Result<RestoreResult> Restore(const Repository& repo, const Repository::PathTarget& what,
                              const RestoreOptions& options);

}  // namespace cairn::repo
