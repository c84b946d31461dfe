// SPDX-License-Identifier: MIT
//
// Destroy: removes a whole repository, every object in it, in an order that
// keeps it consistent for as long as it can be opened: references first
// (nothing lists a snapshot any more), then snapshots and the trash, then
// packs, indexes and the rest, then the config, then the locks, then the
// key slots, then the layout's empty folders. A destroy that is killed leaves either a
// repository that opens (and a second destroy finishes the work) or, killed
// between the config and the last key slot, a remnant of key slots only,
// which DestroyRemnant removes. Risk critical (approval.h).

#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "repo/repository.h"

namespace cairn::repo {

// What a destroy removes, for its plan and its report.
struct DestroyInventory {
  uint64_t snapshots = 0;  // stored snapshots (trashed ones included)
  uint64_t branches = 0, tags = 0;
  // The stored objects and their size; for InventoryForDestroy without the
  // ones every command adds or changes (locks, the audit log, approval
  // records, an unencrypted repository's cache), which a plan must not
  // bind; for DestroyRepository's report, every object removed.
  uint64_t objects = 0;
  uint64_t bytes = 0;
  // SHA-256 (hex) of the sorted list of those object names with their
  // sizes: a plan holds while the repository has not changed.
  std::string content_hash;
};

Result<DestroyInventory> InventoryForDestroy(const Repository& r);

struct DestroyOptions {
  std::chrono::milliseconds stale_after{std::chrono::minutes(10)};
  std::chrono::milliseconds lock_wait{std::chrono::seconds(5)};
  std::function<void(const std::string&)> on_message;
  // Called after every removed object with the count removed and the total.
  std::function<void(uint64_t done, uint64_t total)> progress;
};

// Removes every object of `r` (Busy, and nothing removed, while a prune or
// a backup, restore or check session is alive). `r` must not be used after.
Status DestroyRepository(Repository* r, const DestroyOptions& o, DestroyInventory* removed);

// A folder that a destroy killed in its last step left behind: nothing but
// key slots (keys/), locks and empty layout folders. Removes them; NotFound
// if `backend` holds anything else (then it is not such a remnant) or
// nothing at all.
Status DestroyRemnant(objstore::Backend* backend, uint64_t* removed);

}  // namespace cairn::repo
