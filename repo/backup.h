// SPDX-License-Identifier: MIT
//
// Backup: walks the sources, skips files the file-change cache says are
// unchanged, cuts the others into chunks, stores new chunks and trees
// through a BlobWriter, then writes the snapshot and advances the branch.
// Files that cannot be read are left out, listed in the snapshot's errors,
// and reported to the caller (exit code 3).

#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "repo/repository.h"

namespace cairn::repo {

struct BackupProgress {
  std::atomic<uint64_t> files_total{0}, bytes_total{0};
  std::atomic<uint64_t> files_done{0}, bytes_done{0};
};

// The parents and what the change counts are against: docs/cli.md#backup.
enum class BackupKind {
  kIncremental,   // parent: the branch head; unchanged files come from the cache
  kDifferential,  // parents: the newest full snapshot of the branch with the
                  // same sources, then the branch head (if it is another one)
  kFull,          // parent: the branch head; every file is read again
};
const char* BackupKindName(BackupKind k);

struct BackupOptions {
  std::vector<std::string> paths;
  // The snapshot's time (Unix ns; `backup --time`, for importing old
  // backups and for tests of retention); 0: now.
  int64_t time_ns = 0;
  std::string branch = std::string(kDefaultBranch);
  std::string message;
  BackupKind kind = BackupKind::kIncremental;
  // A revision (Repository::ResolveRevision) to count the changes against
  // and record as the first parent, whatever its sources; the branch head,
  // if it is another snapshot, becomes the second parent. Empty: the
  // branch head (or for a differential backup, its full snapshot).
  std::string parent;
  unsigned threads = 0;  // 0: one per core

  // Change detection: a file is taken from the cache when its size, mtime,
  // ctime, inode and device match; these loosen or disable that.
  bool ignore_ctime = false;
  bool ignore_inode = false;  // also ignores the device
  bool force_read = false;

  bool skip_if_unchanged = false;  // no snapshot when the tree equals the parent's
  bool dry_run = false;            // count what would be added; write nothing

  // Exclusions (see exclude.h).
  std::vector<std::string> excludes;      // --exclude patterns
  std::vector<std::string> exclude_files; // --exclude-file paths
  bool exclude_caches = false;            // folders with a CACHEDIR.TAG
  uint64_t exclude_larger_than = 0;       // 0: no limit
  bool one_file_system = false;

  // Sources other than paths (then `paths` must be empty).
  bool read_stdin = false;     // standard input is the file
  std::string stdin_command;   // run this with /bin/sh -c; its output is the file
  std::string stream_name = "stdin";  // the file name for those two
  std::string sqlite_path;     // an online-consistent copy of this SQLite database

  BackupProgress* progress = nullptr;  // may be null
  // Called for each source path that cannot be read (may be called from
  // several threads, one at a time).
  std::function<void(const std::string& path, const std::string& error)> on_error;
  // Called for each file that is read, with the reason (verbose output).
  std::function<void(const std::string& path, const std::string& reason)> on_read;
  // Called (from the calling thread) with a one-line warning, e.g. when the
  // branch head was taken from other sources, so the change counts are
  // against no parent.
  std::function<void(const std::string& message)> on_warning;
};

struct BackupResult {
  std::optional<ObjectId> snapshot_id;  // none for a dry run or a skipped backup
  Snapshot snapshot;
  bool skipped = false;  // --skip-if-unchanged and nothing changed
  uint64_t packs_written = 0;
};

// Takes a snapshot (see docs/cli.md#backup for how paths map to the root).
// InvalidArgument for unusable options (clashing names, invalid branch, a
// differential backup without a full one of the same sources, a malformed
// `parent`, `parent` with a differential backup), NotFound for a path that
// does not exist or an unknown `parent` (both before anything is read),
// IOError for repository write failures (then no snapshot is written), and
// IOError for a failed --stdin-from-command.
Result<BackupResult> Backup(Repository* repo, const BackupOptions& options);

// Parses "10M", "2G", "512K", "1000" (powers of 1024). InvalidArgument otherwise.
Result<uint64_t> ParseSize(std::string_view text);

}  // namespace cairn::repo
