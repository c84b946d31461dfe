// SPDX-License-Identifier: MIT
//
// The commit step of a backup (internal to repo/backup*): choosing the
// parents from the branch, counting the changes against the parent, saving
// the snapshot and advancing the branch by compare-and-swap; when another
// backup advanced the branch first, the snapshot is re-parented onto the
// new head and the swap retried.

#pragma once

#include <functional>
#include <optional>
#include <vector>

#include "repo/backup.h"
#include "repo/sources.h"
#include "repo/walker.h"

namespace cairn::repo {

// What the parents are chosen from; fixed for the whole backup.
struct ParentRequest {
  std::string branch;
  BackupKind kind = BackupKind::kIncremental;
  SourceSet sources;               // this backup's
  std::optional<ObjectId> parent;  // --parent, resolved
};
// Resolves opts.parent (NotFound for an unknown revision, InvalidArgument
// for a malformed one or one given with a differential backup).
Result<ParentRequest> MakeParentRequest(const Repository& repo, const BackupOptions& opts);

// Where a new snapshot goes in the graph, chosen from the branch as it is:
// - with --parent REV: parents REV, then the head (if another snapshot);
//   the counts are against REV;
// - differential: parents the newest full snapshot of the branch (on the
//   first-parent line) with the same sources, then the head (if another
//   snapshot); the counts are against that full snapshot;
// - otherwise: parent the head; the counts are against it when it has the
//   same sources, else against nothing (and `warning` says so).
struct Lineage {
  std::optional<ObjectId> head;          // the branch head it was chosen against
  std::vector<ObjectId> parents;         // first parent first
  std::optional<Snapshot> first_parent;  // the snapshot of parents[0]
  std::optional<ObjectId> base_tree;     // the root tree the change counts are against
  std::string warning;                   // for the user, or empty
};

// Reads the branch head and chooses. InvalidArgument for a differential
// backup without a full snapshot of the same sources.
Result<Lineage> ChooseLineage(const Repository& repo, const ParentRequest& req);

// Where the change counts read trees from: the repository, or for a dry
// run the trees it built.
using TreeSource = std::function<Result<Tree>(const ObjectId&)>;

// Sets the parents, the kind and the change counts (files new, changed,
// unchanged, deleted) of `snap`, from its tree (snap->tree) and its file
// count (snap->stats.files) against the lineage's base tree.
// Returns a warning when a tree could not be read (the counts are partial).
std::string RelateToLineage(const TreeSource& trees, const Lineage& lineage, BackupKind kind, Snapshot* snap);

struct CommitOutcome {
  std::optional<ObjectId> snapshot_id;  // none when skipped
  bool skipped = false;                 // --skip-if-unchanged and the tree equals the first parent's
};

// Saves `snap` (already related to `*lineage`) and advances the branch from
// lineage->head to it. On a lost swap, removes the saved file, chooses the
// lineage again from the new head, relates `snap` to it and retries (a new
// warning goes to opts.on_warning). Everything `snap` references must be
// durable already.
Result<CommitOutcome> Commit(Repository* repo, const BackupOptions& opts, const ParentRequest& req,
                             Lineage* lineage, Snapshot* snap);

}  // namespace cairn::repo
