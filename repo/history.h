// SPDX-License-Identifier: MIT
//
// History: the snapshots reachable from some heads through their parents,
// in the order log shows them (children before parents, otherwise newest
// first), filtered by time range and by paths; and the list of every
// snapshot with the refs that point at it and whether any ref reaches it.

#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "objstore/core/object_id.h"
#include "objstore/core/status.h"
#include "repo/refs.h"
#include "repo/repository.h"

namespace cairn::repo {

struct HistoryOptions {
  std::vector<ObjectId> heads;   // where the walk starts
  bool all = false;              // also every branch and tag head and every snapshot, reachable or not
  std::optional<int64_t> since;  // keep snapshots at or after this time (ns)
  std::optional<int64_t> until;  // keep snapshots at or before this time (ns)
  // Keep snapshots in which one of these paths differs from the first parent
  // (TouchesPath); empty: keep all.
  std::vector<std::string> paths;
  int max_count = -1;  // at most this many (after filtering); -1: no limit
};

using SnapshotList = std::vector<std::pair<ObjectId, Snapshot>>;

// The history, ordered: a snapshot comes before its parents, and among the
// snapshots whose children are all listed, the newest (time, then id)
// comes first. NotFound or Corruption if a snapshot on the way cannot be
// read.
Result<SnapshotList> History(const Repository& r, const HistoryOptions& o);

// True if the entry at `path` (relative to the snapshot root) differs
// between snapshot `id` and its first parent in type, content, target, mode
// or mtime, or exists at all for a snapshot without parents.
Result<bool> TouchesPath(const Repository& r, const ObjectId& id, const Snapshot& s, const std::string& path);

// The snapshots reachable from any branch or tag through their parents.
Result<std::set<ObjectId>> ReachableSnapshots(const Repository& r);

// True if `ancestor` is one of `from` or reachable from them through
// parents (a fast-forward test: copy's and bundle import's refs).
Result<bool> IsAncestor(const Repository& r, const ObjectId& ancestor, const std::vector<ObjectId>& from);

struct SnapshotListing {
  ObjectId id;
  Snapshot snapshot;
  std::vector<RefName> refs;  // branches and tags pointing at it
  bool reachable = false;     // some branch or tag reaches it
};
struct ListingFilter {
  std::string branch;  // only snapshots made on this branch (Snapshot::branch); "" all
  std::string host;    // only snapshots from this host; "" all
};
// Every snapshot in the repository, oldest first (time, then id).
Result<std::vector<SnapshotListing>> ListAllSnapshots(const Repository& r, const ListingFilter& f = {});

}  // namespace cairn::repo
