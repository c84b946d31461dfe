// SPDX-License-Identifier: MIT
//
// Prune: removes what no kept snapshot (and nothing in the trash) needs,
// without ever blocking a backup or being blocked by one. It marks,
// copies the live blobs out of the packs it will delete, and deletes only
// once every backup that could have relied on the old packs has ended; a
// pending plan (repo/prune_plan.h) carries the work across runs and
// crashes. The argument is in docs/gc.md.

#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "objstore/core/object_id.h"
#include "objstore/core/status.h"
#include "repo/repository.h"

namespace cairn::repo {

struct PruneOptions {
  bool dry_run = false;
  // Packs are repacked, most wasteful first, until the unused bytes left
  // are at most this fraction of all pack bytes (restic's --max-unused).
  double max_unused = 0.05;
  uint64_t max_repack_bytes = 0;  // live bytes copied at most (0: no limit)
  // Packs written less than this long ago are left alone: unindexed ones
  // may belong to a backup still running elsewhere, and a fresh pack's
  // blobs are usually about to be referenced.
  int64_t grace_ns = int64_t{3600} * 1000000000;
  int64_t now_ns = 0;              // 0: the clock (tests pass a fake time)
  std::vector<ObjectId> purge;     // trash records to purge now, expired or not (forget --prune)
  // A session whose holder's heartbeat is older than this, on another host,
  // is dead.
  std::chrono::milliseconds stale_after{std::chrono::minutes(10)};
  std::chrono::milliseconds lock_wait{std::chrono::seconds(5)};
  std::function<void(const std::string&)> on_message;
};

struct PruneReport {
  bool dry_run = false;
  uint64_t trash_purged = 0;
  uint64_t packs = 0, pack_bytes = 0;           // in the repository before
  uint64_t unused_blobs = 0, unused_bytes = 0;  // referenced by nothing kept, at the mark
  uint64_t condemned_packs = 0, condemned_bytes = 0;
  uint64_t repacked_blobs = 0, repacked_bytes = 0;  // live blobs copied out of condemned packs
  uint64_t unindexed_packs = 0, unindexed_bytes = 0;
  uint64_t resurrected_blobs = 0;  // condemned, then referenced by a backup that began before the plan
  uint64_t index_files_rewritten = 0;
  uint64_t deleted_packs = 0, freed_bytes = 0;  // deleted by this run
  uint64_t temporaries_removed = 0, temporaries_bytes = 0;  // left by killed writers (or would be, dry run)
  std::vector<std::string> deferred;  // plans left pending, and why
  uint64_t plans_finished = 0;
};

// Runs prune: purges expired trash, advances pending plans, marks a new one
// when none is pending, and finishes it at once when no session stands in
// the way. Busy if another prune holds the "prune" lock.
Result<PruneReport> Prune(Repository* repo, const PruneOptions& o);

}  // namespace cairn::repo
