// SPDX-License-Identifier: MIT

#include "repo/prune.h"

#include <algorithm>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "objstore/backend.h"
#include "objstore/core/system.h"
#include "objstore/crypto.h"
#include "repo/blob_writer.h"
#include "repo/space.h"

namespace cairn::repo {
namespace {

using objstore::PackRecord;

std::string Basename(const std::string& n) { return n.substr(n.rfind('/') + 1); }

// A new plan's name, "prune/" and 16 hex digits. The random bytes must not
// be used raw: a '/' makes a folder, "../" escapes prune/ (a plan no backup
// would see), and a NUL cuts the file name short, so that the plan, bound
// to its name by the codec, never authenticates again and every backup
// fails on it.
std::string NewPlanName() {
  static const char* digits = "0123456789abcdef";
  std::string name = "prune/";
  for (unsigned char c : objstore::crypto::RandomString(8)) {
    name += digits[c >> 4];
    name += digits[c & 15];
  }
  return name;
}

constexpr std::string_view kIndexDir = "index/";

// Index files prune has read, by name ("index/HEX"). Prune reads only the
// files that name a pack it changes; the local index says which.
class IndexFileCache {
 public:
  explicit IndexFileCache(const Repository& repo) : repo_(repo) {}

  Result<const std::vector<PackRecord>*> Get(const std::string& name) {
    auto it = files_.find(name);
    if (it != files_.end()) return &it->second;
    auto id = ObjectId::FromHex(Basename(name));
    if (!id.ok()) return Status::Corruption("'" + name + "' is not named like an index file");
    CAIRN_ASSIGN_OR_RETURN(std::string data, repo_.backend()->Get(name));
    auto records = repo_.DecodeIndexFile(data, *id, name);
    if (!records.ok()) {
      return records.status().WithContext("prune needs every index file; run 'cairn repair index' first");
    }
    return &files_.emplace(name, std::move(records).value()).first->second;
  }

  // Pack `pack`'s record in the first loaded index file that names it;
  // nullptr if none does.
  Result<const PackRecord*> Pack(const ObjectId& pack) {
    CAIRN_ASSIGN_OR_RETURN(auto names, repo_.index()->IndexFilesOf(pack));
    for (const auto& n : names) {
      CAIRN_ASSIGN_OR_RETURN(const std::vector<PackRecord>* recs, Get(std::string(kIndexDir) + n));
      for (const auto& r : *recs) {
        if (r.pack_id == pack) return &r;
      }
    }
    return static_cast<const PackRecord*>(nullptr);
  }

 private:
  const Repository& repo_;
  std::map<std::string, std::vector<PackRecord>> files_;
};

// The loaded index files ("index/HEX") that name any of `packs`.
Result<std::set<std::string>> IndexFilesNaming(const Repository& repo, const std::vector<ObjectId>& packs) {
  std::set<std::string> out;
  for (const auto& pack : packs) {
    CAIRN_ASSIGN_OR_RETURN(auto names, repo.index()->IndexFilesOf(pack));
    for (auto& n : names) out.insert(std::string(kIndexDir) + n);
  }
  return out;
}

// Fails unless the local index has loaded every index file there is: a
// pack named only by a file it could not read would look unindexed, and
// its blobs unknown. Brings the local index up to date first, so a file a
// concurrent backup has just written is loaded, not mistaken for a damaged
// one; a file another prune has just removed is no longer asked for.
Status RequireEveryIndexFile(Repository* repo) {
  CAIRN_RETURN_IF_ERROR(repo->Refresh());
  std::vector<std::string> listed;
  CAIRN_RETURN_IF_ERROR(repo->backend()->List(std::string(kIndexDir), [&](const std::string& n, uint64_t) {
    if (ObjectId::FromHex(Basename(n)).ok()) listed.push_back(n);  // another name: check reports it
  }));
  CAIRN_ASSIGN_OR_RETURN(auto loaded, repo->index()->LoadedIndexFiles());
  std::vector<std::string> missing;
  for (const auto& n : listed) {
    if (loaded.count(Basename(n)) == 0) missing.push_back(n);
  }
  if (missing.empty()) return Status::OK();
  // Written after the refresh listed index/: load it now.
  CAIRN_RETURN_IF_ERROR(repo->Refresh());
  CAIRN_ASSIGN_OR_RETURN(loaded, repo->index()->LoadedIndexFiles());
  for (const auto& n : missing) {
    if (loaded.count(Basename(n)) != 0) continue;
    auto size = repo->backend()->Stat(n);
    if (!size.ok() && size.status().IsNotFound()) continue;  // removed since
    if (!size.ok()) return size.status();
    return Status::Corruption("index file '" + n +
                              "' cannot be read; prune needs every index file; run 'cairn repair index' first");
  }
  return Status::OK();
}

// Every pack file in data/ -> its size.
Result<std::map<ObjectId, uint64_t>> ListPacks(const Repository& repo) {
  std::map<ObjectId, uint64_t> out;
  CAIRN_RETURN_IF_ERROR(repo.backend()->List("data/", [&](const std::string& n, uint64_t size) {
    auto id = ObjectId::FromHex(Basename(n));
    if (id.ok()) out[*id] = size;
  }));
  return out;
}

class Pruner {
 public:
  Pruner(Repository* repo, const PruneOptions& o) : repo_(repo), o_(o) {
    now_ = o.now_ns != 0 ? o.now_ns : NowNs();
    report_.dry_run = o.dry_run;
  }

  Result<PruneReport> Run() {
    std::unique_ptr<objstore::BackendLock> lock;
    if (!o_.dry_run) {
      objstore::LockOptions lo;
      lo.wait = o_.lock_wait;
      lo.stale_after = o_.stale_after;
      lo.on_message = o_.on_message;
      auto l = repo_->backend()->Lock("prune", lo);
      if (!l.ok()) {
        if (l.status().code() == Code::kBusy) {
          return Status::Busy("another prune is running (" + l.status().message() + ")");
        }
        return l.status().WithContext("cannot start prune");
      }
      lock = std::move(l).value();
    }
    // Before anything is counted or deleted: an index file the local
    // index could not load hides blobs, which would look missing or unused.
    CAIRN_RETURN_IF_ERROR(RequireEveryIndexFile(repo_));
    CAIRN_RETURN_IF_ERROR(PurgeTrash());
    CAIRN_RETURN_IF_ERROR(SyncCounts());
    // Files a killed writer left half-written: never objects, so nothing
    // references them; the grace period covers writers on other hosts.
    CAIRN_RETURN_IF_ERROR(repo_->backend()->RemoveStaleTemporaries(now_, o_.grace_ns, o_.dry_run,
                                                                   &report_.temporaries_removed,
                                                                   &report_.temporaries_bytes));
    // Sessions write-only hosts ended by overwriting (they may not delete).
    CAIRN_RETURN_IF_ERROR(LiveSessions().status());

    CAIRN_ASSIGN_OR_RETURN(auto plans, repo_->ListPrunePlans());
    bool pending = false;
    for (auto& p : plans) {
      if (o_.dry_run) {
        report_.deferred.push_back(p.name + " (" + PlanStateName(p.state) + ") is pending");
        pending = true;
        continue;
      }
      CAIRN_ASSIGN_OR_RETURN(bool done, Advance(&p));
      pending = pending || !done;
    }
    // A new mark only on a settled repository: while a plan is pending its
    // copies are not yet what the local index points at.
    if (!pending) {
      CAIRN_ASSIGN_OR_RETURN(std::optional<PrunePlan> plan, Mark());
      if (plan && !o_.dry_run) CAIRN_RETURN_IF_ERROR(Advance(&*plan).status());
    }
    return report_;
  }

 private:
  void Say(const std::string& m) {
    if (o_.on_message) o_.on_message(m);
  }

  // Trash records that expired (or that the caller names) lose their
  // protection; the records stay as tombstones.
  Status PurgeTrash() {
    CAIRN_ASSIGN_OR_RETURN(auto trash, repo_->ListTrash());
    std::set<ObjectId> named(o_.purge.begin(), o_.purge.end());
    for (auto& r : trash) {
      if (r.purged()) continue;
      auto live = repo_->backend()->Stat(objstore::SnapshotName(r.id));
      if (live.ok()) {  // an unfinished undelete: the snapshot is back
        if (!o_.dry_run) CAIRN_RETURN_IF_ERROR(repo_->RemoveTrash(r.id));
        continue;
      }
      if (r.expires_ns > now_ && named.count(r.id) == 0) continue;
      report_.trash_purged++;
      purged_.insert(r.id);
      if (o_.dry_run) continue;
      r.purged_ns = now_;
      CAIRN_RETURN_IF_ERROR(repo_->PutTrash(r));
    }
    return Status::OK();
  }

  Status SyncCounts() {
    CAIRN_ASSIGN_OR_RETURN(auto roots, DataRoots(*repo_));
    for (const auto& id : purged_) roots.erase(id);  // dry run: as if purged
    return SyncSpace(*repo_, roots);
  }

  // The sessions that may still be running.
  Result<std::vector<objstore::SessionInfo>> LiveSessions() {
    CAIRN_ASSIGN_OR_RETURN(auto all, objstore::ListSessions(repo_->backend(), o_.stale_after));
    std::vector<objstore::SessionInfo> out;
    for (auto& s : all) {
      if (s.dead.empty()) {
        out.push_back(std::move(s));
      } else if (s.released && !o_.dry_run) {
        // Ended by a write-only host, which may not delete: its packs are
        // indexed, only the object is left.
        Status st = repo_->backend()->Remove(s.name);
        if (!st.ok() && !st.IsNotFound()) return st;
      }
    }
    return out;
  }

  // Records the sessions alive now in the plan and stores it in `state`.
  Status Publish(PrunePlan* p, PrunePlan::State state) {
    CAIRN_ASSIGN_OR_RETURN(auto live, LiveSessions());
    p->sessions.clear();
    for (const auto& s : live) p->sessions.push_back(s.name);
    p->state = state;
    return repo_->backend()->Put(p->name, EncodePrunePlan(repo_->codec(), *p));
  }

  // "" if every session the plan waits for has ended, else who it waits for.
  Result<std::string> Waiting(const PrunePlan& p) {
    CAIRN_ASSIGN_OR_RETURN(auto live, LiveSessions());
    std::set<std::string> wait(p.sessions.begin(), p.sessions.end());
    for (const auto& s : live) {
      if (wait.count(s.name) != 0) {
        return s.name.substr(std::string("locks/").size()) + " (pid " + std::to_string(s.holder.pid) + " on '" +
               s.holder.host + "')";
      }
    }
    return std::string();
  }

  int64_t AgeNs(const ObjectId& pack) {
    auto m = repo_->backend()->ModifiedNs(objstore::PackName(pack));
    if (!m.ok()) return o_.grace_ns == 0 ? INT64_MAX : -1;  // unknown age: old only without a grace period
    return now_ - *m;
  }

  // Decides what to delete and copies the live blobs out of it. Returns the
  // plan, already stored as pending (nothing when nothing is to be done).
  Result<std::optional<PrunePlan>> Mark() {
    CAIRN_RETURN_IF_ERROR(RequireEveryIndexFile(repo_));
    CAIRN_ASSIGN_OR_RETURN(auto on_disk, ListPacks(*repo_));
    report_.packs = on_disk.size();
    for (const auto& [id, size] : on_disk) report_.pack_bytes += size;

    // Only packs holding waste need a look: those of the blobs without a
    // count and of the second copies, which the local index keeps listed
    // (index.h), so the cost follows the waste, not the repository.
    std::set<ObjectId> wasteful;
    {
      CAIRN_ASSIGN_OR_RETURN(auto unreferenced, repo_->index()->Unreferenced());
      for (const auto& loc : unreferenced) wasteful.insert(loc.pack_id);
    }
    CAIRN_RETURN_IF_ERROR(
        repo_->index()->ForEachDuplicate([&](const index::BlobLocation& loc) { wasteful.insert(loc.pack_id); }));

    struct PackUse {
      ObjectId id;
      uint64_t size = 0;     // the pack file
      uint64_t used = 0;     // stored bytes of its live blobs
      uint64_t unused = 0;   // stored bytes of the rest
      std::vector<objstore::PackEntry> live;  // referenced, and this is the copy the index uses
      std::vector<ObjectId> garbage;          // referenced by nothing kept
    };
    std::vector<PackUse> uses;
    uint64_t unused_total = 0;
    IndexFileCache files(*repo_);
    for (const auto& pack_id : wasteful) {
      auto disk = on_disk.find(pack_id);
      if (disk == on_disk.end()) continue;  // named but missing: check reports it
      CAIRN_ASSIGN_OR_RETURN(const PackRecord* rec, files.Pack(pack_id));
      if (rec == nullptr) continue;  // named by no loaded index file: nothing to rewrite
      PackUse u;
      u.id = pack_id;
      u.size = disk->second;
      for (const auto& e : rec->entries) {
        CAIRN_ASSIGN_OR_RETURN(bool referenced, IsReferenced(*repo_, e.id));
        if (!referenced) {
          u.garbage.push_back(e.id);
          u.unused += e.stored_length;
          report_.unused_blobs++;
          report_.unused_bytes += e.stored_length;
          continue;
        }
        CAIRN_ASSIGN_OR_RETURN(auto loc, repo_->index()->Lookup(e.id));
        if (loc && loc->pack_id == pack_id && loc->entry.offset == e.offset) {
          u.used += e.stored_length;
          u.live.push_back(e);
        } else {
          u.unused += e.stored_length;  // a second copy of a blob stored elsewhere
        }
      }
      if (u.unused == 0) continue;
      unused_total += u.unused;
      uses.push_back(std::move(u));
    }

    PrunePlan plan;
    plan.name = NewPlanName();
    plan.created_ns = now_;
    plan.host = HostName();
    std::vector<const PackUse*> repack;
    // Packs with nothing live go first and cost nothing; then the most
    // wasteful, while the waste left is above the allowance.
    std::sort(uses.begin(), uses.end(), [](const PackUse& a, const PackUse& b) {
      bool ea = a.live.empty(), eb = b.live.empty();
      if (ea != eb) return ea;
      double fa = double(a.unused) / double(a.unused + a.used), fb = double(b.unused) / double(b.unused + b.used);
      return fa != fb ? fa > fb : a.id < b.id;
    });
    double allowance = o_.max_unused * double(report_.pack_bytes);
    uint64_t repack_bytes = 0;
    for (const auto& u : uses) {
      if (AgeNs(u.id) < o_.grace_ns) continue;
      bool empty = u.live.empty();
      if (!empty) {
        if (double(unused_total) <= allowance) continue;
        if (o_.max_repack_bytes != 0 && repack_bytes + u.used > o_.max_repack_bytes) continue;
        repack_bytes += u.used;
        repack.push_back(&u);
      }
      unused_total -= u.unused;
      plan.condemned_packs.push_back(u.id);
      plan.condemned_bytes += u.size;
      plan.garbage.insert(plan.garbage.end(), u.garbage.begin(), u.garbage.end());
    }
    for (const auto& [id, size] : on_disk) {
      CAIRN_ASSIGN_OR_RETURN(auto naming, repo_->index()->IndexFilesOf(id));
      if (!naming.empty() || AgeNs(id) < o_.grace_ns) continue;
      plan.unindexed_packs.push_back(id);
      report_.unindexed_packs++;
      report_.unindexed_bytes += size;
    }
    {
      CAIRN_ASSIGN_OR_RETURN(auto naming, IndexFilesNaming(*repo_, plan.condemned_packs));
      plan.index_files.assign(naming.begin(), naming.end());
    }
    report_.condemned_packs = plan.condemned_packs.size();
    report_.condemned_bytes = plan.condemned_bytes;
    for (const auto* u : repack) {
      report_.repacked_blobs += u->live.size();
      report_.repacked_bytes += u->used;
    }
    if (plan.condemned_packs.empty() && plan.unindexed_packs.empty()) return std::optional<PrunePlan>();
    if (o_.dry_run) return std::optional<PrunePlan>(std::move(plan));

    // Copies first: the plan is written only once they are durable. None
    // may come out as a pack of a condemned name (BlobWriter).
    repo_->AddCondemnedPacks(plan.condemned_packs);
    if (!repack.empty()) {
      std::unordered_set<ObjectId, ObjectIdHash> copy;
      for (const auto* u : repack) {
        for (const auto& e : u->live) copy.insert(e.id);
      }
      CAIRN_RETURN_IF_ERROR(CopyBlobs(copy));
    }
    plan.state = PrunePlan::State::kPending;
    CAIRN_RETURN_IF_ERROR(repo_->backend()->Put(plan.name, EncodePrunePlan(repo_->codec(), plan)));
    CAIRN_RETURN_IF_ERROR(Publish(&plan, PrunePlan::State::kMarked));
    return std::optional<PrunePlan>(std::move(plan));
  }

  // Stores fresh copies of `ids` (read through the local index, wherever it
  // points) in new packs and an index file.
  Status CopyBlobs(const std::unordered_set<ObjectId, ObjectIdHash>& ids) {
    if (ids.empty()) return Status::OK();
    BlobWriter w(repo_, 0);
    w.set_force_store([&ids](const ObjectId& id) { return ids.count(id) != 0; });
    std::vector<ObjectId> sorted(ids.begin(), ids.end());
    // In pack order, so each pack is read front to back.
    std::vector<std::pair<index::BlobLocation, ObjectId>> locs;
    for (const auto& id : sorted) {
      CAIRN_ASSIGN_OR_RETURN(auto loc, repo_->index()->Lookup(id));
      if (!loc) return Status::Corruption("blob " + id.ShortHex() + " to copy is not in the index");
      locs.emplace_back(*loc, id);
    }
    std::sort(locs.begin(), locs.end(), [](const auto& a, const auto& b) {
      return a.first.pack_id != b.first.pack_id ? a.first.pack_id < b.first.pack_id
                                                : a.first.entry.offset < b.first.entry.offset;
    });
    for (const auto& [loc, id] : locs) {
      CAIRN_ASSIGN_OR_RETURN(std::string data, repo_->ReadBlob(loc));
      CAIRN_RETURN_IF_ERROR(w.Add(loc.entry.type, id, data).status());
    }
    return w.Flush();
  }

  // Takes a plan as far as the sessions allow. True when it is finished.
  Result<bool> Advance(PrunePlan* p) {
    repo_->AddCondemnedPacks(p->condemned_packs);
    if (p->state == PrunePlan::State::kPending) {
      // Left by a prune that stopped between writing it and listing the
      // sessions: it has been visible since, so the sessions alive now are
      // the ones that may not have seen it.
      CAIRN_RETURN_IF_ERROR(Publish(p, PrunePlan::State::kMarked));
    }
    if (p->state == PrunePlan::State::kMarked) {
      CAIRN_ASSIGN_OR_RETURN(std::string who, Waiting(*p));
      if (!who.empty()) return Defer(*p, who);
      CAIRN_RETURN_IF_ERROR(Reindex(p));
      CAIRN_RETURN_IF_ERROR(Publish(p, PrunePlan::State::kIndexed));
    }
    CAIRN_ASSIGN_OR_RETURN(std::string who, Waiting(*p));
    if (!who.empty()) return Defer(*p, who);
    CAIRN_RETURN_IF_ERROR(Delete(*p));
    report_.plans_finished++;
    return true;
  }

  bool Defer(const PrunePlan& p, const std::string& who) {
    std::string m = p.name + " waits for " + who + ", which began before it; the next prune finishes it";
    report_.deferred.push_back(m);
    Say(m);
    return false;
  }

  // Every session that could have relied on the condemned packs has
  // ended: keep what their snapshots reference, then drop the packs from
  // the index files.
  Status Reindex(PrunePlan* p) {
    CAIRN_RETURN_IF_ERROR(RequireEveryIndexFile(repo_));  // refreshes first
    CAIRN_RETURN_IF_ERROR(SyncCounts());
    CAIRN_RETURN_IF_ERROR(Revive(p));
    std::set<ObjectId> condemned(p->condemned_packs.begin(), p->condemned_packs.end());
    // Garbage that a snapshot references now (its backup began before the
    // plan) is copied out, unless a copy outside the condemned packs exists
    // already (a backup that began after the plan stored it again).
    std::unordered_set<ObjectId, ObjectIdHash> rescue;
    for (const auto& g : p->garbage) {
      CAIRN_ASSIGN_OR_RETURN(bool referenced, IsReferenced(*repo_, g));
      if (!referenced) continue;
      CAIRN_ASSIGN_OR_RETURN(auto copies, repo_->index()->Copies(g));
      bool elsewhere = std::any_of(copies.begin(), copies.end(),
                                   [&](const index::BlobLocation& l) { return condemned.count(l.pack_id) == 0; });
      if (!elsewhere) rescue.insert(g);
    }
    report_.resurrected_blobs += rescue.size();
    CAIRN_RETURN_IF_ERROR(CopyBlobs(rescue));

    // Rewrite the index files that name a condemned pack without it.
    CAIRN_ASSIGN_OR_RETURN(auto touched, IndexFilesNaming(*repo_, p->condemned_packs));
    IndexFileCache files(*repo_);
    std::vector<ObjectId> must_survive(p->garbage.begin(), p->garbage.end());
    std::vector<PackRecord> dropped;
    std::set<ObjectId> dropped_ids;
    std::vector<std::pair<std::string, std::vector<PackRecord>>> added;
    std::vector<std::string> old;
    for (const auto& name : touched) {
      CAIRN_ASSIGN_OR_RETURN(const std::vector<PackRecord>* recs, files.Get(name));
      std::vector<PackRecord> keep;
      for (const auto& r : *recs) {
        if (condemned.count(r.pack_id) == 0) {
          keep.push_back(r);
          continue;
        }
        if (!dropped_ids.insert(r.pack_id).second) continue;
        for (const auto& e : r.entries) must_survive.push_back(e.id);
        dropped.push_back(r);
      }
      if (!keep.empty()) {
        std::string file = repo_->codec().EncodeFile(objstore::FileType::kIndex, objstore::EncodeIndexPayload(keep), true);
        std::string hex = repo_->codec().FileId(file).ToHex();
        CAIRN_RETURN_IF_ERROR(repo_->backend()->Put(std::string(kIndexDir) + hex, file));
        added.emplace_back(hex, std::move(keep));
      }
      old.push_back(name);
    }
    // New index files are durable before any old one goes.
    std::vector<std::string> old_hex;
    for (const auto& n : old) {
      Status st = repo_->backend()->Remove(n);
      if (!st.ok() && !st.IsNotFound()) return st;
      old_hex.push_back(Basename(n));
    }
    report_.index_files_rewritten += old.size();
    // The local index forgets the condemned locations in place (no
    // rebuild: a crash before this makes the next open rebuild it), then
    // every referenced blob must still be found outside the condemned packs.
    CAIRN_RETURN_IF_ERROR(repo_->index()->ReplaceIndexFiles(old_hex, added, dropped));
    CAIRN_RETURN_IF_ERROR(repo_->Refresh());
    for (const auto& g : must_survive) {
      CAIRN_ASSIGN_OR_RETURN(bool referenced, IsReferenced(*repo_, g));
      if (!referenced) continue;
      CAIRN_ASSIGN_OR_RETURN(auto loc, repo_->index()->Lookup(g));
      if (!loc || condemned.count(loc->pack_id) != 0) {
        return Status::Corruption("prune stopped: referenced blob " + g.ShortHex() + " would be lost (" +
                                  (loc ? "only in condemned pack " + loc->pack_id.ShortHex() : "in no index file") +
                                  "); nothing was deleted; run 'cairn check'");
      }
    }
    return Status::OK();
  }

  // Keeps a condemned pack that an index file the mark did not see names:
  // the same bytes were stored again (a backup that began before the plan
  // and wrote the same blobs in the same order).
  Status Revive(PrunePlan* p) {
    std::set<std::string> seen(p->index_files.begin(), p->index_files.end());
    std::vector<ObjectId> keep;
    for (const auto& id : p->condemned_packs) {
      CAIRN_ASSIGN_OR_RETURN(auto naming, IndexFilesNaming(*repo_, {id}));
      if (std::any_of(naming.begin(), naming.end(), [&](const std::string& n) { return seen.count(n) == 0; })) {
        Say("pack " + id.ShortHex() + " was stored again since the mark; it is kept");
        continue;
      }
      keep.push_back(id);
    }
    p->condemned_packs = std::move(keep);
    return Status::OK();
  }

  Status Delete(const PrunePlan& p) {
    // What the index files say now, including any written since the reindex.
    CAIRN_RETURN_IF_ERROR(RequireEveryIndexFile(repo_));
    auto remove = [&](const ObjectId& pack) -> Status {
      std::string name = objstore::PackName(pack);
      auto size = repo_->backend()->Stat(name);
      Status st = repo_->backend()->Remove(name);
      if (st.IsNotFound()) return Status::OK();  // a crashed run got here first
      CAIRN_RETURN_IF_ERROR(st);
      report_.deleted_packs++;
      if (size.ok()) report_.freed_bytes += *size;
      return Status::OK();
    };
    for (const auto& pack : p.condemned_packs) {
      CAIRN_ASSIGN_OR_RETURN(auto naming, repo_->index()->IndexFilesOf(pack));
      if (!naming.empty()) {
        return Status::Corruption("prune stopped: condemned pack " + pack.ShortHex() +
                                  " is still named by an index file; nothing more was deleted");
      }
      CAIRN_RETURN_IF_ERROR(remove(pack));
    }
    for (const auto& pack : p.unindexed_packs) {
      CAIRN_ASSIGN_OR_RETURN(auto naming, repo_->index()->IndexFilesOf(pack));
      if (!naming.empty()) continue;  // its backup finished after all
      CAIRN_RETURN_IF_ERROR(remove(pack));
    }
    Status st = repo_->backend()->Remove(p.name);
    if (!st.ok() && !st.IsNotFound()) return st;
    return Status::OK();
  }

  Repository* repo_;
  const PruneOptions& o_;
  int64_t now_ = 0;
  std::set<ObjectId> purged_;
  PruneReport report_;
};

}  // namespace

Result<PruneReport> Prune(Repository* repo, const PruneOptions& o) { return Pruner(repo, o).Run(); }

}  // namespace cairn::repo
