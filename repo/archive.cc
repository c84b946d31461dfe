// SPDX-License-Identifier: MIT

#include "repo/archive.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "objstore/file_chunks.h"

namespace cairn::repo {

using objstore::EntryType;

Result<ArchivePlan> PlanArchive(const Repository& src, const ArchiveRequest& req) {
  CAIRN_ASSIGN_OR_RETURN(auto all, src.ListSnapshots());
  std::map<ObjectId, std::string> named;  // snapshot -> the first ref that points at it
  for (const char* kind : {"branches", "tags"}) {
    CAIRN_ASSIGN_OR_RETURN(auto refs, src.ListRefs(kind));
    for (const auto& [name, id] : refs) {
      named.emplace(id, std::string(kind[0] == 'b' ? "branch " : "tag ") + name);
    }
  }
  std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.second.time_ns > b.second.time_ns; });
  ArchivePlan plan;
  for (size_t i = 0; i < all.size(); i++) {
    ArchiveDecision d;
    d.id = all[i].first;
    d.snapshot = std::move(all[i].second);
    if (i < req.keep_min) {
      d.reason = "one of the " + std::to_string(req.keep_min) + " newest";
    } else if (auto it = named.find(d.id); it != named.end()) {
      d.reason = it->second + " points at it";
    } else if (d.snapshot.time_ns >= req.cutoff_ns) {
      d.reason = "newer than the cutoff";
    } else {
      d.archive = true;
      d.reason = "older than the cutoff";
      plan.archive.push_back(d.id);
    }
    plan.decisions.push_back(std::move(d));
  }
  std::reverse(plan.archive.begin(), plan.archive.end());
  return plan;
}

namespace {

class Verifier {
 public:
  Verifier(const Repository& src, const Repository& dst, VerifyReport* rep, std::atomic<uint64_t>* progress)
      : src_(src), dst_(dst), rep_(rep), progress_(progress) {}

  Status Snapshot(const CopiedSnapshot& p) {
    const std::string name = "the archived copy " + p.target.ToHex().substr(0, 12) + " of snapshot " +
                             p.source.ToHex().substr(0, 12);
    CAIRN_ASSIGN_OR_RETURN(objstore::Snapshot a, src_.ReadSnapshot(p.source));
    auto b = dst_.ReadSnapshot(p.target);
    if (!b.ok()) return b.status().WithContext(name);
    if (a.time_ns != b->time_ns || a.host != b->host || a.user != b->user || a.paths != b->paths ||
        a.branch != b->branch || a.message != b->message || a.kind != b->kind) {
      return Status::Corruption(name + " differs from it in its time, host, user, paths, branch, kind or message");
    }
    Status st = Trees(a.tree, b->tree);
    if (!st.ok()) return st.WithContext(name);
    rep_->snapshots++;
    return Status::OK();
  }

 private:
  struct Pair {
    ObjectId a, b;
    std::string path;
  };

  static bool SameMeta(const TreeEntry& x, const TreeEntry& y) {
    return x.name == y.name && x.type == y.type && x.mode == y.mode && x.uid == y.uid && x.gid == y.gid &&
           x.user == y.user && x.group == y.group && x.mtime_ns == y.mtime_ns && x.size == y.size &&
           x.link_target == y.link_target && x.rdev == y.rdev;
  }

  Status Trees(const ObjectId& ra, const ObjectId& rb) {
    std::vector<Pair> todo{{ra, rb, ""}};
    while (!todo.empty()) {
      Pair p = std::move(todo.back());
      todo.pop_back();
      if (!trees_.insert({p.a, p.b}).second) continue;
      CAIRN_RETURN_IF_ERROR(objstore::CheckTreePath(p.path));
      const std::string where = p.path.empty() ? "/" : p.path;
      CAIRN_ASSIGN_OR_RETURN(Tree ta, src_.ReadTree(p.a));
      auto tb = dst_.ReadTree(p.b);
      if (!tb.ok()) return tb.status().WithContext("folder '" + where + "'");
      if (ta.entries.size() != tb->entries.size()) {
        return Status::Corruption("folder '" + where + "' holds " + std::to_string(tb->entries.size()) +
                                  " entries, the source's " + std::to_string(ta.entries.size()));
      }
      for (size_t i = 0; i < ta.entries.size(); i++) {
        const TreeEntry& x = ta.entries[i];
        const TreeEntry& y = tb->entries[i];
        const std::string path = p.path.empty() ? x.name : p.path + "/" + x.name;
        if (!SameMeta(x, y)) return Status::Corruption("'" + path + "' differs from the source's (name, type or metadata)");
        if (x.type == EntryType::kDir) {
          todo.push_back({x.subtree, y.subtree, path});
        } else if (objstore::CarriesContent(x.type)) {
          CAIRN_RETURN_IF_ERROR(Content(x, y, path));
        }
      }
    }
    return Status::OK();
  }

  // The content of `x` (source) and `y` (archive) hash the same.
  Status Content(const TreeEntry& x, const TreeEntry& y, const std::string& path) {
    auto key = std::make_pair(objstore::FileContentId(x.chunks), objstore::FileContentId(y.chunks));
    if (files_.count(key)) return Status::OK();
    auto digest = [&](const Repository& r, const std::vector<ObjectId>& chunks, const char* side,
                      ObjectId* out) -> Status {
      Sha256Hasher h;
      uint64_t n = 0;
      for (const auto& c : chunks) {
        auto data = r.ReadBlob(c);
        if (!data.ok()) return data.status().WithContext("'" + path + "' (" + side + ")");
        h.Update(*data);
        n += data->size();
        if (progress_ != nullptr) progress_->fetch_add(data->size(), std::memory_order_relaxed);
      }
      if (n != x.size) {
        return Status::Corruption("'" + path + "' (" + side + ") holds " + std::to_string(n) + " bytes, its entry says " +
                                  std::to_string(x.size));
      }
      *out = h.Finish();
      return Status::OK();
    };
    ObjectId da, db;
    CAIRN_RETURN_IF_ERROR(digest(dst_, y.chunks, "archive", &db));
    CAIRN_RETURN_IF_ERROR(digest(src_, x.chunks, "source", &da));
    if (da != db) return Status::Corruption("'" + path + "' in the archive differs from the source's content");
    files_.insert(key);
    rep_->files++;
    rep_->bytes += x.size;
    return Status::OK();
  }

  const Repository& src_;
  const Repository& dst_;
  VerifyReport* rep_;
  std::atomic<uint64_t>* progress_;
  std::set<std::pair<ObjectId, ObjectId>> trees_, files_;
};

}  // namespace

Result<VerifyReport> VerifyCopies(const Repository& src, const Repository& dst,
                                  const std::vector<CopiedSnapshot>& pairs, std::atomic<uint64_t>* bytes_done) {
  VerifyReport rep;
  Verifier v(src, dst, &rep, bytes_done);
  for (const auto& p : pairs) CAIRN_RETURN_IF_ERROR(v.Snapshot(p));
  return rep;
}

}  // namespace cairn::repo
