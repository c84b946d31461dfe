// SPDX-License-Identifier: MIT

#include "repo/destroy.h"

#include <algorithm>
#include <filesystem>
#include <utility>
#include <vector>

#include "objstore/core/system.h"
#include "repo/location.h"

namespace cairn::repo {
namespace {

bool StartsWith(const std::string& s, std::string_view p) { return s.compare(0, p.size(), p) == 0; }

using Listing = std::vector<std::pair<std::string, uint64_t>>;

// True for the names cairn writes (docs/format.md#layout); whatever else a
// user put in the repository's folder is neither counted nor removed.
bool CairnName(const std::string& n) {
  static const char* const kFiles[] = {"config", "policy", "approval-policy"};
  static const char* const kFolders[] = {"data/",  "index/", "snapshots/", "refs/",      "keys/",  "locks/",
                                         "tmp/",   "trash/", "audit/",     "approvals/", "cache/", "prune/",
                                         "gitmap/"};
  for (const char* f : kFiles) {
    if (n == f) return true;
  }
  for (const char* f : kFolders) {
    if (StartsWith(n, f)) return true;
  }
  return false;
}

Result<Listing> ListAll(objstore::Backend* b) {
  Listing all;
  CAIRN_RETURN_IF_ERROR(b->List("", [&](const std::string& n, uint64_t size) {
    if (CairnName(n)) all.emplace_back(n, size);
  }));
  std::sort(all.begin(), all.end());
  return all;
}

// The order of removal: 0 references, 1 snapshots and the trash, 2 data
// and everything else, 3 the config, 4 locks (the one this destroy held is
// released before the config goes), 5 key slots, last: until the last
// object is gone, a key slot marks what is left as cairn's.
int Rank(const std::string& n) {
  if (StartsWith(n, "refs/")) return 0;
  if (StartsWith(n, "snapshots/") || StartsWith(n, "trash/")) return 1;
  if (n == "config") return 3;
  if (StartsWith(n, "locks/")) return 4;
  if (StartsWith(n, "keys/")) return 5;
  return 2;
}

Status RemoveOne(objstore::Backend* b, const std::string& n) {
  Status st = b->Remove(n);
  return st.IsNotFound() ? Status::OK() : st;
}

}  // namespace

Result<DestroyInventory> InventoryForDestroy(const Repository& r) {
  CAIRN_ASSIGN_OR_RETURN(Listing all, ListAll(r.backend()));
  DestroyInventory inv;
  std::string text;
  for (const auto& [n, size] : all) {
    if (StartsWith(n, "snapshots/")) inv.snapshots++;
    if (StartsWith(n, "refs/branches/")) inv.branches++;
    if (StartsWith(n, "refs/tags/")) inv.tags++;
    // Locks come and go with every command, and the audit log and approval
    // records grow with the plan's own approval: not what a plan binds.
    if (StartsWith(n, "locks/") || StartsWith(n, "audit/") || StartsWith(n, "approvals/") ||
        StartsWith(n, "cache/")) {
      continue;
    }
    inv.objects++;
    inv.bytes += size;
    text += n + " " + std::to_string(size) + "\n";
  }
  inv.content_hash = Sha256(text).ToHex();
  return inv;
}

Status DestroyRepository(Repository* r, const DestroyOptions& o, DestroyInventory* removed) {
  objstore::Backend* b = r->backend();
  objstore::LockOptions lo;
  lo.wait = o.lock_wait;
  lo.stale_after = o.stale_after;
  lo.on_message = o.on_message;
  auto lock = b->Lock("prune", lo);
  if (!lock.ok()) {
    if (lock.status().code() == Code::kBusy) {
      return Status::Busy("a prune is running (" + lock.status().message() + "); nothing was removed");
    }
    return lock.status().WithContext("cannot start destroy");
  }
  CAIRN_ASSIGN_OR_RETURN(auto sessions, objstore::ListSessions(b, o.stale_after));
  for (const auto& s : sessions) {
    if (!s.dead.empty()) continue;
    return Status::Busy(s.name.substr(std::string("locks/").size()) + " is running (pid " +
                        std::to_string(s.holder.pid) + " on '" + s.holder.host +
                        "'); nothing was removed; destroy the repository when it has finished");
  }
  CAIRN_ASSIGN_OR_RETURN(Listing all, ListAll(b));
  std::stable_sort(all.begin(), all.end(),
                   [](const auto& x, const auto& y) { return Rank(x.first) < Rank(y.first); });
  const uint64_t total = all.size();
  uint64_t done = 0;
  auto count = [&](uint64_t size) {
    done++;
    if (removed != nullptr) {
      removed->objects++;
      removed->bytes += size;
    }
    if (o.progress) o.progress(done, total);
  };
  for (const auto& [n, size] : all) {
    // Nothing opens the repository once the config is gone: no prune to
    // keep out any more, and the lock goes with the others.
    if (Rank(n) >= 3 && *lock != nullptr) (*lock).reset();
    if (removed != nullptr && StartsWith(n, "snapshots/")) removed->snapshots++;
    if (removed != nullptr && StartsWith(n, "refs/branches/")) removed->branches++;
    if (removed != nullptr && StartsWith(n, "refs/tags/")) removed->tags++;
    CAIRN_RETURN_IF_ERROR(RemoveOne(b, n).WithContext("cannot remove '" + n + "'"));
    count(size);
  }
  (*lock).reset();
  uint64_t temps = 0, temp_bytes = 0;
  CAIRN_RETURN_IF_ERROR(b->RemoveStaleTemporaries(NowNs(), 0, false, &temps, &temp_bytes));
  // This host's cache of the repository (the index cache and the audit
  // anchor), which nothing will read again.
  if (auto dir = UserCacheDir(r->config().repo_id); dir.ok()) {
    std::error_code ec;
    std::filesystem::remove_all(*dir, ec);
  }
  // What cairn did not write is kept, and said; the repository is gone.
  if (Status left = b->RemoveEmptyLayout(false); !left.ok() && o.on_message) o.on_message(left.message());
  return Status::OK();
}

Status DestroyRemnant(objstore::Backend* b, uint64_t* removed) {
  CAIRN_ASSIGN_OR_RETURN(Listing all, ListAll(b));
  const Status not_repo = Status::NotFound("'" + b->Location() + "' is not a cairn repository (it has no config)");
  bool keys = false;
  for (const auto& [n, size] : all) {
    if (StartsWith(n, "keys/")) keys = true;
    if (!StartsWith(n, "keys/") && !StartsWith(n, "locks/")) return not_repo;
  }
  if (!keys) {
    // Nothing at all: the last key slot went, the folders did not. Only
    // a folder of nothing but cairn's empty layout folders is removed.
    if (!all.empty()) return not_repo;
    uint64_t temps = 0, temp_bytes = 0;
    CAIRN_RETURN_IF_ERROR(b->RemoveStaleTemporaries(NowNs(), 0, false, &temps, &temp_bytes));
    Status st = b->RemoveEmptyLayout(true);
    return st.IsNotFound() ? not_repo : st;
  }
  std::stable_sort(all.begin(), all.end(),
                   [](const auto& x, const auto& y) { return Rank(x.first) < Rank(y.first); });
  for (const auto& [n, size] : all) {
    CAIRN_RETURN_IF_ERROR(RemoveOne(b, n).WithContext("cannot remove '" + n + "'"));
    if (removed != nullptr) (*removed)++;
  }
  uint64_t temps = 0, temp_bytes = 0;
  CAIRN_RETURN_IF_ERROR(b->RemoveStaleTemporaries(NowNs(), 0, false, &temps, &temp_bytes));
  return b->RemoveEmptyLayout(false);
}

}  // namespace cairn::repo
