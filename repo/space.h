// SPDX-License-Identifier: MIT
//
// Space accounting: which stored bytes each snapshot holds, holds alone, or
// shares, known without reading packs. The local index keeps reference
// counts over the object graph (index::RefNode): SyncSpace brings them up
// to date with the set of snapshots whose data must be kept, at a cost
// proportional to the trees new snapshots add (a tree already counted is
// never read again) and, for snapshots no longer kept, to what they held
// alone. The queries below read the counts and child lists only.

#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <vector>

#include "index/index.h"
#include "objstore/core/object_id.h"
#include "objstore/core/status.h"

namespace cairn::repo {

class Repository;

// A set of distinct blobs: how many, and their bytes as stored in packs.
struct SpaceReport {
  uint64_t blobs = 0, bytes = 0;
  uint64_t trees = 0, chunks = 0;
};

// The roots whose data must be kept: snapshot id -> its root tree id, for
// every live snapshot and every trash record not purged (repo/trash.h).
Result<std::map<ObjectId, ObjectId>> DataRoots(const Repository& repo);

// Brings the counts up to date with `roots`: counts the roots not counted
// yet (reading from the packs only the trees no counted tree shares), then
// uncounts the counted roots no longer listed (no pack reads). Each root is
// counted or uncounted in one LMDB write transaction together with its
// entry in the roots table, so a crash never leaves counts and roots out of
// step. Empty tables (a new cache) are rebuilt this way. Errors: a tree
// that cannot be read (the message names it and the snapshot).
Status SyncSpace(const Repository& repo, const std::map<ObjectId, ObjectId>& roots);

// What removing `snapshots` (all counted) together would free: the blobs
// whose count would reach 0, simulated in memory over the stored counts
// (no writes, no pack reads). Cost proportional to what is freed.
// NotFound for a snapshot that is not counted (call SyncSpace first).
Result<SpaceReport> ExclusiveSpace(const Repository& repo, const std::vector<ObjectId>& snapshots);

// Every distinct blob counted snapshot `snapshot` references, from the
// stored child lists (no pack reads). NotFound if it is not counted.
Result<SpaceReport> SnapshotSpace(const Repository& repo, const ObjectId& snapshot);

// Every blob with a count: the distinct blobs of all counted roots.
Result<SpaceReport> ReferencedSpace(const Repository& repo);

// Calls fn for every blob of the local blob index that has no count
// (referenced by no counted root).
Status ForEachUnreferenced(const Repository& repo,
                           const std::function<void(const ObjectId&, const index::BlobLocation&)>& fn);

// True if blob `id` has a count (some counted root references it).
Result<bool> IsReferenced(const Repository& repo, const ObjectId& id);

}  // namespace cairn::repo
