// SPDX-License-Identifier: MIT
//
// Git interop through libgit2 (docs/git-interop.md): snapshots out as
// commits (`cairn git export`), a git history in as snapshots (`cairn git
// import`), and the map between the two (`cairn git map`).
//
// Export: every snapshot becomes a commit whose tree holds what git can hold
// of the snapshot's tree (files as blobs, 100644 or 100755 by the owner's
// execute bit; symlinks 120000; folders; submodule entries 160000), whose
// parents are its parents' commits, whose author and committer are the
// snapshot's user and host at its time, and whose message is the snapshot's
// message and a "Cairn-Snapshot: ID" trailer. The export is a function of
// the snapshot: exporting it again, anywhere, gives the same commit id.
// Branches become git branches, tags annotated git tags. What was exported
// is recorded in the repository (gitmap/ files, docs/format.md#git-maps),
// so a re-run writes only what is new.
//
// Import: every commit reachable from the chosen refs becomes a snapshot
// with the same parents, message, author and time, recording the commit
// and tree ids it came from (the snapshot's "git" field); file contents are
// chunked and deduplicated like a backup. Branches and tags come along. A
// re-run imports only the commits no snapshot records.
//
// Write order (crash safety): export writes git objects, then the git refs,
// then its gitmap file; import writes packs, then the index file, then the
// snapshots (parents first), then the refs. A run killed at any point
// leaves nothing that names missing data, and the next run completes it.

#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "repo/repository.h"

namespace cairn::repo {

struct GitRefToExport {
  std::string kind;  // "branches" | "tags"
  std::string name;
  ObjectId snapshot;
  std::string annotation;  // the cairn ref's annotation (tags: message, user, time)
};

struct GitExportOptions {
  std::string git_dir;               // created (bare) if missing
  std::vector<ObjectId> snapshots;   // their ancestors come too
  std::vector<GitRefToExport> refs;  // branches and tags to write
  std::string branch_prefix;         // prepended to every git branch and tag name
  bool force = false;                // replace git branches that diverged, tags that differ
  std::function<void(const std::string&)> on_warning;
};

struct GitRefOutcome {
  std::string ref;     // the git ref, "refs/heads/NAME", "refs/tags/NAME", "refs/cairn/snapshots/ID"
  std::string commit;  // hex
  std::string result;  // created | updated | unchanged | conflict | forced
  std::string had;     // conflict, forced: the commit the git ref pointed at
};

struct GitExportResult {
  struct Item {
    ObjectId snapshot;
    std::string commit;  // hex
    bool exported = false;  // false: the git repository had it from an earlier export
  };
  std::vector<Item> commits;  // every snapshot asked for and its ancestors, parents first
  std::vector<GitRefOutcome> refs;
  bool created = false;  // the git repository was created
  bool conflict = false;  // some git refs diverged and were left as they are
  uint64_t blobs_written = 0, trees_written = 0, bytes_read = 0;
  uint64_t packs_written = 0;  // git pack files (files of 8 MiB and more are loose objects)
  // What git cannot hold, left out of the commits (summed over exported snapshots).
  uint64_t skipped_empty_dirs = 0, skipped_special = 0, skipped_names = 0;
};

// Exports the snapshots and refs of `o` into the git repository at
// o.git_dir. NotFound if git_dir exists and is not a git repository;
// Corruption if the cairn repository is damaged.
Result<GitExportResult> GitExport(Repository* r, const GitExportOptions& o);

struct GitImportOptions {
  std::string git_dir;
  std::vector<std::string> refs;  // branch or tag names, or full ref names
  bool all = false;               // every branch and tag
  std::string branch_prefix;      // prepended to every cairn branch and tag name
  unsigned threads = 0;           // compression threads; 0: one per core
  std::function<void(const std::string&)> on_warning;
};

struct GitImportResult {
  struct Item {
    std::string commit;  // hex
    ObjectId snapshot;
    bool imported = false;  // false: a snapshot of it existed
  };
  std::vector<Item> commits;  // parents first
  struct RefOutcome {
    std::string ref;  // "branches/NAME" | "tags/NAME"
    ObjectId snapshot;
    std::string result;  // created | updated | unchanged | conflict (left as it is) | skipped (bad name)
    std::string detail;
  };
  std::vector<RefOutcome> refs;
  bool shallow = false;
  bool conflict = false;
  uint64_t blobs_read = 0, bytes_read = 0, submodules = 0;
  uint64_t new_chunks = 0, new_trees = 0, stored_bytes = 0;
};

// Imports the history of the chosen refs of the git repository at
// o.git_dir. NotFound if it is not a git repository or a ref does not
// exist; Corruption (naming the object) if a git object is damaged: then
// nothing is imported.
Result<GitImportResult> GitImport(Repository* r, const GitImportOptions& o);

// One pairing of a snapshot and a commit.
struct GitMapping {
  ObjectId snapshot;
  std::string commit;
  std::string git_dir;  // exported: where to; imported: where from
  std::string how;      // "exported" | "imported"
};

// Every pairing the repository records: the gitmap files of exports and
// the "git" field of imported snapshots.
Result<std::vector<GitMapping>> GitMappings(const Repository& r);

}  // namespace cairn::repo
