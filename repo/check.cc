// SPDX-License-Identifier: MIT

#include "repo/check.h"

#include "repo/keyring.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <map>
#include <random>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "objstore/core/system.h"
#include "objstore/pack.h"

namespace cairn::repo {
namespace {

std::string Basename(const std::string& n) { return n.substr(n.rfind('/') + 1); }

// What the stages of a check share.
class Checker {
 public:
  Checker(Repository* repo, const CheckOptions& opts, CheckReport* rep)
      : repo_(repo), be_(repo->backend()), opts_(opts), rep_(*rep) {}

  Status Run() {
    // Listed in the opposite order of a backup's writes (packs, index file,
    // snapshot): whatever a listed snapshot needs was written before it,
    // so it is in the listings that follow. Listed the other way, a backup
    // beside the check could show a snapshot whose index file came after
    // the index listing (a tree "missing" that is not).
    CAIRN_RETURN_IF_ERROR(
        be_->List("snapshots/", [&](const std::string& n, uint64_t) { snapshot_names_.push_back(n); }));
    CAIRN_RETURN_IF_ERROR(IndexFiles());
    CAIRN_RETURN_IF_ERROR(be_->List("data/", [&](const std::string& n, uint64_t size) { pack_files_[n] = size; }));
    for (auto& [file, rec] : read_index_) AddIndexed(file, std::move(rec));
    read_index_.clear();
    PackHeaders();
    CAIRN_RETURN_IF_ERROR(Snapshots());
    Refs();
    KeySlots();
    if (opts_.read_data) ReadData();
    Temporaries();
    return Status::OK();
  }

 private:
  // 6. What writes that were killed left behind (temporary files, staged
  // packs) whose writers have ended: harmless, never objects, but space.
  void Temporaries() {
    uint64_t count = 0, bytes = 0;
    Status st = be_->RemoveStaleTemporaries(NowNs(), 0, /*dry_run=*/true, &count, &bytes);
    if (!st.ok()) {
      rep_.warnings.push_back("cannot look for leftover temporary files: " + st.message());
    } else if (count > 0) {
      rep_.temporaries = count;
      rep_.temporary_bytes = bytes;
      rep_.warnings.push_back(std::to_string(count) + " temporary file(s) of " + std::to_string(bytes) +
                              " bytes left by interrupted writes whose processes have ended; 'cairn prune' "
                              "removes them once they are older than its grace period");
    }
  }

  // 5. Key slots (encrypted repositories): each must parse and its sealed
  // info open under the repository's keys. (The config's MAC and the slot
  // in use were checked when the repository was opened.)
  void KeySlots() {
    if (!repo_->encrypted()) return;
    std::vector<std::string> problems;
    auto slots = ListKeySlots(*repo_, &problems);
    if (!slots.ok()) rep_.errors.push_back(slots.status().message());
    for (auto& p : problems) rep_.errors.push_back(std::move(p));
  }

  // 1. Index files: each must be intact; collect where every blob lives.
  Status IndexFiles() {
    std::vector<std::string> names;
    CAIRN_RETURN_IF_ERROR(be_->List("index/", [&](const std::string& n, uint64_t) { names.push_back(n); }));
    for (const auto& n : names) {
      rep_.index_files++;
      auto id = ObjectId::FromHex(Basename(n));
      if (!id.ok()) {
        rep_.warnings.push_back("'" + n + "' is not named like an index file; ignored");
        continue;
      }
      auto data = be_->Get(n);
      if (!data.ok()) {
        rep_.errors.push_back(data.status().message());
        continue;
      }
      auto packs = repo_->DecodeIndexFile(*data, *id, n);
      if (!packs.ok()) {
        rep_.errors.push_back(packs.status().message());
        continue;
      }
      for (auto& p : *packs) read_index_.emplace_back(n, std::move(p));
    }
    return Status::OK();
  }

  void AddIndexed(const std::string& index_file, objstore::PackRecord p) {
    std::string pname = objstore::PackName(p.pack_id);
    auto it = pack_files_.find(pname);
    if (it == pack_files_.end()) {
      rep_.errors.push_back("pack '" + pname + "' named by index file '" + index_file + "' is missing");
      return;
    }
    if (it->second != p.pack_size) {
      rep_.errors.push_back("pack '" + pname + "' has " + std::to_string(it->second) + " bytes, but index file '" +
                            index_file + "' says " + std::to_string(p.pack_size) + " (truncated?)");
      return;
    }
    for (const auto& e : p.entries) blobs_.emplace(e.id, index::BlobLocation{p.pack_id, e});
    indexed_[pname] = std::move(p.entries);
  }

  // 2. Packs: every header must parse and agree with the index.
  void PackHeaders() {
    for (const auto& [name, size] : pack_files_) {
      rep_.packs++;
      auto pid = ObjectId::FromHex(Basename(name));
      if (!pid.ok() || objstore::PackName(*pid) != name) {
        rep_.warnings.push_back("'" + name + "' is not named like a pack; ignored");
        continue;
      }
      auto entries = repo_->codec().ReadPackHeader(be_, name);
      if (!entries.ok()) {
        rep_.errors.push_back(entries.status().message());
        bad_packs_.insert(name);
        continue;
      }
      auto it = indexed_.find(name);
      if (it == indexed_.end()) {
        rep_.unindexed_packs++;
        rep_.warnings.push_back("pack '" + name +
                                "' is not in any index file (left by an interrupted backup; "
                                "'cairn repair index' adds it)");
        continue;
      }
      if (!SameEntries(it->second, *entries)) {
        rep_.errors.push_back("pack '" + name + "' does not match its index entry; run 'cairn repair index'");
        bad_packs_.insert(name);
      }
    }
  }

  static bool SameEntries(const std::vector<objstore::PackEntry>& want, const std::vector<objstore::PackEntry>& got) {
    if (want.size() != got.size()) return false;
    for (size_t i = 0; i < want.size(); i++) {
      const auto& a = want[i];
      const auto& b = got[i];
      if (!(a.id == b.id && a.offset == b.offset && a.stored_length == b.stored_length &&
            a.raw_length == b.raw_length && a.type == b.type && a.flags == b.flags)) {
        return false;
      }
    }
    return true;
  }

  // 3. Snapshots and the trees they reach.
  Status Snapshots() {
    const std::vector<std::string>& names = snapshot_names_;
    std::set<ObjectId> present;  // damaged ones too: they are reported as such
    for (const auto& n : names) {
      rep_.snapshots++;
      auto id = ObjectId::FromHex(Basename(n));
      if (!id.ok()) {
        rep_.warnings.push_back("'" + n + "' is not named like a snapshot; ignored");
        continue;
      }
      auto snap = repo_->ReadSnapshot(*id, /*from_store=*/true);
      if (!snap.ok() && snap.status().IsNotFound()) {
        // Listed, then gone: a forget or delete beside this check moved it
        // to the trash (read below) — not damage.
        rep_.snapshots--;
        continue;
      }
      present.insert(*id);
      listed_.insert(*id);
      if (!snap.ok()) {
        rep_.errors.push_back(snap.status().message());
        continue;
      }
      parents_[*id] = snap->parents;
      Trees(*id, snap->tree);
    }
    // The trash: a snapshot still recoverable must still have its data
    // (undelete promises it); a damaged record is an error.
    auto trash = repo_->ListTrash();
    if (!trash.ok()) {
      rep_.errors.push_back(trash.status().message());
      return Status::OK();
    }
    std::set<ObjectId> trashed;
    for (const auto& r : *trash) {
      trashed.insert(r.id);
      if (r.purged()) continue;
      rep_.trashed++;
      Trees(r.id, r.snapshot.tree);
    }
    // Every parent is a snapshot here or one that forget or delete removed
    // (its trash record stays, purged or not): a parent that is neither is
    // a snapshot file lost from the middle of a history.
    for (const auto& [id, parents] : parents_) {
      for (const auto& p : parents) {
        if (present.count(p) == 0 && trashed.count(p) == 0 && !ExistsNow(p)) {
          rep_.errors.push_back("snapshot " + id.ShortHex() + " names parent " + p.ShortHex() +
                                ", which is missing (neither in snapshots/ nor in the trash)");
        }
      }
    }
    return Status::OK();
  }

  void Trees(const ObjectId& snap, const ObjectId& root) {
    std::vector<std::pair<ObjectId, std::string>> stack{{root, ""}};
    while (!stack.empty()) {
      auto [tid, path] = stack.back();
      stack.pop_back();
      if (!seen_trees_.insert(tid).second) continue;
      rep_.trees++;
      std::string where = "snapshot " + snap.ShortHex() + " path '" + (path.empty() ? "/" : path) + "'";
      auto loc = blobs_.find(tid);
      if (loc == blobs_.end()) {
        rep_.errors.push_back("tree " + tid.ShortHex() + " (" + where + ") is missing");
        continue;
      }
      auto blob = repo_->ReadBlob(loc->second);
      if (!blob.ok()) {
        rep_.errors.push_back(blob.status().message() + " (" + where + ")");
        continue;
      }
      auto tree = objstore::DecodeTree(*blob, tid);
      if (!tree.ok()) {
        rep_.errors.push_back(tree.status().message() + " (" + where + ")");
        continue;
      }
      for (const auto& e : tree->entries) {
        std::string p = path.empty() ? e.name : path + "/" + e.name;
        if (e.type == objstore::EntryType::kDir) {
          if (Status deep = objstore::CheckTreePath(p); !deep.ok()) {
            rep_.errors.push_back(deep.message() + " (snapshot " + snap.ShortHex() + ")");
            continue;
          }
          stack.emplace_back(e.subtree, p);
        } else if (e.type == objstore::EntryType::kFile || e.type == objstore::EntryType::kHardlink) {
          if (e.type == objstore::EntryType::kHardlink) {
            // Its other name must be a file of this snapshot with its content.
            Status st = repo_->CheckHardlinkTarget(root, p, e);
            if (st.IsCorruption()) rep_.errors.push_back(st.message() + " (snapshot " + snap.ShortHex() + ")");
          }
          uint64_t held = 0;
          bool all = true;
          for (const auto& c : e.chunks) {
            auto cl = blobs_.find(c);
            if (cl == blobs_.end()) {
              all = false;
              if (missing_chunks_.insert(c).second) {
                rep_.errors.push_back("chunk " + c.ShortHex() + " of file '" + p + "' in snapshot " +
                                      snap.ShortHex() + " is missing");
              }
              continue;
            }
            held += cl->second.entry.raw_length;
          }
          if (all && held != e.size) {
            rep_.errors.push_back("file '" + p + "' in snapshot " + snap.ShortHex() + " (tree " + tid.ShortHex() +
                                  ") records " + std::to_string(e.size) + " bytes, but its chunks hold " +
                                  std::to_string(held));
          }
        }
      }
    }
  }

  // Whether snapshot `id` has a file or a trash record now: a writer beside
  // this check may have made it after the listing (a ref moved on to it)
  // or moved it to the trash after the trash was read. Only what is
  // missing now is damage.
  bool ExistsNow(const ObjectId& id) {
    if (be_->Stat(objstore::SnapshotName(id)).ok()) return true;
    return be_->Stat(TrashName(id)).ok();
  }

  // 4. Refs point at intact snapshots; snapshots no ref reaches are named.
  void Refs() {
    std::vector<ObjectId> todo;
    for (const char* kind : {"branches", "tags"}) {
      auto refs = repo_->ListRefs(kind);
      if (!refs.ok()) {
        rep_.errors.push_back(refs.status().message());
        continue;
      }
      for (const auto& [name, id] : *refs) {
        // Not read: listed but damaged, or not there (unless a backup beside
        // this check wrote it after the listing).
        if (parents_.count(id) == 0 && (listed_.count(id) != 0 || !ExistsNow(id))) {
          rep_.errors.push_back(std::string(kind) + "/" + name + " points to snapshot " + id.ShortHex() +
                                ", which is missing or damaged");
        }
        todo.push_back(id);
      }
    }
    std::set<ObjectId> reached;
    while (!todo.empty()) {
      ObjectId id = todo.back();
      todo.pop_back();
      if (!reached.insert(id).second) continue;
      auto it = parents_.find(id);
      if (it != parents_.end()) todo.insert(todo.end(), it->second.begin(), it->second.end());
    }
    for (const auto& [id, parents] : parents_) {
      if (reached.count(id) != 0) continue;
      rep_.unreachable_snapshots++;
      rep_.warnings.push_back("snapshot " + id.ShortHex() +
                              " is not reachable from any branch or tag (list it with 'cairn snapshots')");
    }
  }

  // 5. Data: the chosen packs read whole, indexed or not, and every blob
  // verified through the codec.
  void ReadData() {
    std::vector<std::pair<std::string, ObjectId>> chosen;
    for (const auto& [name, size] : pack_files_) {
      auto pid = ObjectId::FromHex(Basename(name));
      if (!pid.ok() || objstore::PackName(*pid) != name) continue;
      if (opts_.subset.kind == DataSubset::Kind::kSlice && !InSlice(*pid, opts_.subset.n, opts_.subset.m)) continue;
      chosen.emplace_back(name, *pid);
    }
    if (opts_.subset.kind == DataSubset::Kind::kPercent) {
      size_t keep = static_cast<size_t>(std::ceil(static_cast<double>(chosen.size()) * opts_.subset.percent / 100.0));
      std::shuffle(chosen.begin(), chosen.end(), std::mt19937_64(std::random_device{}()));
      chosen.resize(std::min(keep, chosen.size()));
      std::sort(chosen.begin(), chosen.end());
    }
    // Each pack is read whole (one sequential read) and its blobs verified
    // by one thread per core, a pack at a time each; the results are taken
    // in pack order, so the report does not depend on the threads.
    struct PackResult {
      bool read = false;
      uint64_t bytes = 0, blobs = 0;
      std::vector<std::string> errors;
    };
    std::vector<PackResult> results(chosen.size());
    std::atomic<size_t> next{0};
    auto work = [&] {
      for (size_t i = next++; i < chosen.size(); i = next++) {
        const auto& [name, pid] = chosen[i];
        PackResult& r = results[i];
        auto data = be_->Get(name);
        if (opts_.packs_done) (*opts_.packs_done)++;
        if (!data.ok()) {
          r.errors.push_back(data.status().message());
          continue;
        }
        r.read = true;
        r.bytes = data->size();
        auto verified = repo_->codec().VerifyPack(*data, pid, name);
        r.blobs = verified.blobs_verified;
        bool indexed = indexed_.count(name) != 0;
        for (auto& e : verified.errors) {
          // A damaged header was reported by stage 2 already.
          if (bad_packs_.count(name) && verified.entries.empty()) continue;
          r.errors.push_back(indexed ? e : e + " (a pack no index names)");
        }
      }
    };
    unsigned n = std::max(1u, std::thread::hardware_concurrency());
    std::vector<std::thread> pool;
    for (unsigned t = 1; t < n && t < chosen.size(); t++) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
    for (auto& r : results) {
      if (r.read) rep_.packs_read++;
      rep_.bytes_read += r.bytes;
      rep_.blobs += r.blobs;
      for (auto& e : r.errors) rep_.errors.push_back(std::move(e));
    }
  }

  Repository* repo_;
  objstore::Backend* be_;
  const CheckOptions& opts_;
  CheckReport& rep_;
  std::map<std::string, uint64_t> pack_files_;
  std::vector<std::string> snapshot_names_;  // listed first (Run)
  std::set<ObjectId> listed_;                // of those, the ones still there when read
  std::vector<std::pair<std::string, objstore::PackRecord>> read_index_;  // index files read, before data/ is listed
  std::unordered_map<ObjectId, index::BlobLocation, ObjectIdHash> blobs_;
  std::map<std::string, std::vector<objstore::PackEntry>> indexed_;  // pack name -> entries
  std::set<std::string> bad_packs_;
  std::map<ObjectId, std::vector<ObjectId>> parents_;  // every intact snapshot
  std::unordered_set<ObjectId, ObjectIdHash> seen_trees_, missing_chunks_;
};

}  // namespace

Result<DataSubset> ParseDataSubset(std::string_view text) {
  auto bad = [&] {
    return Status::InvalidArgument("--read-data-subset must be N/M (e.g. 1/7) or a percentage (e.g. 10%), not '" +
                                   std::string(text) + "'");
  };
  auto number = [](std::string_view s, uint64_t* v) {
    if (s.empty() || s.size() > 9) return false;
    *v = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return false;
      *v = *v * 10 + static_cast<uint64_t>(c - '0');
    }
    return true;
  };
  DataSubset d;
  size_t slash = text.find('/');
  if (slash != std::string_view::npos) {
    uint64_t n, m;
    if (!number(text.substr(0, slash), &n) || !number(text.substr(slash + 1), &m) || m == 0 || n == 0 || n > m) {
      return bad();
    }
    d.kind = DataSubset::Kind::kSlice;
    d.n = static_cast<uint32_t>(n);
    d.m = static_cast<uint32_t>(m);
    return d;
  }
  if (!text.empty() && text.back() == '%') {
    std::string_view num = text.substr(0, text.size() - 1);
    size_t dot = num.find('.');
    uint64_t whole = 0, frac = 0;
    std::string_view fs = dot == std::string_view::npos ? "" : num.substr(dot + 1);
    if (!number(num.substr(0, dot), &whole) || (dot != std::string_view::npos && !number(fs, &frac))) return bad();
    double p = static_cast<double>(whole) + static_cast<double>(frac) / std::pow(10.0, static_cast<double>(fs.size()));
    if (p <= 0 || p > 100) return bad();
    d.kind = DataSubset::Kind::kPercent;
    d.percent = p;
    return d;
  }
  return bad();
}

bool InSlice(const ObjectId& pack_id, uint32_t n, uint32_t m) {
  const uint8_t* b = pack_id.data();
  uint32_t v = (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
  return v % m == n - 1;
}

Result<CheckReport> Check(Repository* repo, const CheckOptions& opts) {
  // Announced like a backup (docs/gc.md), so a prune does not delete packs
  // while they are read; best effort, so a read-only repository is checked.
  auto session = objstore::BeginSession(repo->backend(), "check");
  CheckReport rep;
  Checker c(repo, opts, &rep);
  CAIRN_RETURN_IF_ERROR(c.Run());
  return rep;
}

Result<RepoStats> ComputeStats(Repository* repo) {
  RepoStats s;
  CAIRN_ASSIGN_OR_RETURN(auto snaps, repo->ListSnapshots());
  s.snapshots = snaps.size();
  for (const auto& [id, snap] : snaps) s.logical_bytes += snap.stats.bytes;
  CAIRN_RETURN_IF_ERROR(repo->index()->ForEachBlob([&](const ObjectId&, const index::BlobLocation& loc) {
    (loc.entry.type == objstore::BlobType::kTree ? s.trees : s.chunks)++;
    s.unique_raw_bytes += loc.entry.raw_length;
    s.stored_blob_bytes += loc.entry.stored_length;
  }));
  for (const char* dir : {"data/", "index/", "snapshots/"}) {
    CAIRN_RETURN_IF_ERROR(repo->backend()->List(dir, [&](const std::string&, uint64_t size) {
      s.repo_bytes += size;
      if (dir[0] == 'd') {
        s.pack_bytes += size;
        s.packs++;
      }
    }));
  }
  return s;
}

}  // namespace cairn::repo
