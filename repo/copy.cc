// SPDX-License-Identifier: MIT

#include "repo/copy.h"

#include <algorithm>
#include <optional>
#include <set>
#include <unordered_map>
#include <utility>

#include "objstore/file_chunks.h"

namespace cairn::repo {

using objstore::EntryType;

namespace {

// Converts the trees of one snapshot after another from the source's
// naming to the target's, storing what the target lacks. Iterative, so
// that the stack does not grow with folder depth.
class TreeCopier {
 public:
  TreeCopier(const CopySource& src, Repository* dst, BlobWriter* writer, bool rechunk, CopyResult* res,
             std::atomic<uint64_t>* progress)
      : src_(src), dst_(dst), writer_(writer), rechunk_(rechunk), res_(res), progress_(progress) {}

  // The target's id of source tree `root`. `base_src`/`base_dst`: the root
  // trees of a snapshot the target already has, in the source and in the
  // target (zero when there is none): files unchanged since it are not cut
  // again.
  Result<ObjectId> Copy(const ObjectId& root, const ObjectId& base_src, const ObjectId& base_dst) {
    if (auto it = done_.find(root); it != done_.end()) return it->second;
    std::vector<Frame> stack;
    CAIRN_RETURN_IF_ERROR(Push(&stack, root, "", base_src, base_dst));
    ObjectId result;
    while (!stack.empty()) {
      Frame& f = stack.back();
      if (f.next == f.src.entries.size()) {
        std::string blob = objstore::EncodeTree(f.out);
        ObjectId id = dst_->codec().BlobId(blob);
        CAIRN_RETURN_IF_ERROR(writer_->Add(BlobType::kTree, id, blob).status());
        done_.emplace(f.src_id, id);
        stack.pop_back();
        if (stack.empty()) {
          result = id;
        } else {
          stack.back().out.entries.back().subtree = id;
        }
        continue;
      }
      const TreeEntry& e = f.src.entries[f.next++];
      const TreeEntry* bs = f.has_base ? objstore::FindEntry(f.base_src, e.name) : nullptr;
      const TreeEntry* bd = f.has_base ? objstore::FindEntry(f.base_dst, e.name) : nullptr;
      f.out.entries.push_back(e);
      TreeEntry& o = f.out.entries.back();
      const std::string path = f.path.empty() ? e.name : f.path + "/" + e.name;
      if (e.type == EntryType::kDir) {
        if (auto it = done_.find(e.subtree); it != done_.end()) {
          o.subtree = it->second;
          continue;
        }
        ObjectId cbs, cbd;
        if (bs != nullptr && bd != nullptr && bs->type == EntryType::kDir && bd->type == EntryType::kDir) {
          cbs = bs->subtree;
          cbd = bd->subtree;
        }
        const ObjectId sub = e.subtree;
        CAIRN_RETURN_IF_ERROR(Push(&stack, sub, path, cbs, cbd));  // f is invalid from here
      } else if (objstore::CarriesContent(e.type)) {
        CAIRN_ASSIGN_OR_RETURN(o.chunks, Content(e, bs, bd, path));
      }
    }
    return result;
  }

 private:
  struct Frame {
    ObjectId src_id;
    Tree src;
    bool has_base = false;
    Tree base_src, base_dst;  // the same folder in the base snapshot
    Tree out;
    size_t next = 0;
    std::string path;
  };

  Status Push(std::vector<Frame>* stack, const ObjectId& id, const std::string& path, const ObjectId& base_src,
              const ObjectId& base_dst) {
    CAIRN_RETURN_IF_ERROR(objstore::CheckTreePath(path));
    Frame f;
    f.src_id = id;
    f.path = path;
    auto t = src_.ReadTree(id);
    if (!t.ok()) return t.status().WithContext("cannot copy folder '" + (path.empty() ? "/" : path) + "'");
    f.src = std::move(*t);
    f.out.entries.reserve(f.src.entries.size());
    // The base only saves work; a base that does not read is not used.
    if (rechunk_ && !base_src.IsZero() && !base_dst.IsZero()) {
      auto a = src_.ReadTree(base_src);
      auto b = dst_->ReadTree(base_dst);
      if (a.ok() && b.ok()) {
        f.has_base = true;
        f.base_src = std::move(*a);
        f.base_dst = std::move(*b);
      }
    }
    stack->push_back(std::move(f));
    return Status::OK();
  }

  // The target's chunk list of file `e` at `path`, its content stored.
  Result<std::vector<ObjectId>> Content(const TreeEntry& e, const TreeEntry* bs, const TreeEntry* bd,
                                        const std::string& path) {
    auto ctx = [&](const Status& st) { return st.WithContext("cannot copy '" + path + "'"); };
    if (!rechunk_) {
      for (const auto& c : e.chunks) {
        CAIRN_ASSIGN_OR_RETURN(bool has, writer_->Has(c));
        if (has) continue;
        auto data = src_.ReadBlob(c);
        if (!data.ok()) return ctx(data.status());
        Count(data->size());
        CAIRN_RETURN_IF_ERROR(writer_->Add(BlobType::kData, c, *data).status());
      }
      return e.chunks;
    }
    // Unchanged since the base snapshot: its chunks in the target, if they
    // are all still there (and not condemned by a pending prune).
    if (bs != nullptr && bd != nullptr && objstore::CarriesContent(bs->type) && objstore::CarriesContent(bd->type) && bs->chunks == e.chunks &&
        bs->size == e.size && bd->size == e.size) {
      bool all = true;
      for (const auto& c : bd->chunks) {
        CAIRN_ASSIGN_OR_RETURN(bool has, writer_->Has(c));
        if (!has) {
          all = false;
          break;
        }
      }
      if (all) return bd->chunks;
    }
    std::vector<ObjectId> out;
    objstore::ChunkStream cs(dst_->config().chunker, dst_->hasher(), [&](std::string_view chunk, const ObjectId& id) {
      out.push_back(id);
      return writer_->Add(BlobType::kData, id, chunk).status();
    });
    for (const auto& c : e.chunks) {
      auto data = src_.ReadBlob(c);
      if (!data.ok()) return ctx(data.status());
      Count(data->size());
      CAIRN_RETURN_IF_ERROR(cs.Feed(*data));
    }
    CAIRN_RETURN_IF_ERROR(cs.Finish());
    if (cs.bytes() != e.size) {
      return ctx(Status::Corruption("its chunks hold " + std::to_string(cs.bytes()) + " bytes, its entry says " +
                                    std::to_string(e.size)));
    }
    res_->files_rechunked++;
    return out;
  }

  void Count(uint64_t n) {
    res_->blobs_read++;
    res_->bytes_read += n;
    if (progress_ != nullptr) progress_->fetch_add(n, std::memory_order_relaxed);
  }

  const CopySource& src_;
  Repository* dst_;
  BlobWriter* writer_;
  const bool rechunk_;
  CopyResult* res_;
  std::atomic<uint64_t>* progress_;
  // Source trees converted and stored in this run: their target ids.
  std::unordered_map<ObjectId, ObjectId, ObjectIdHash> done_;
};

// A repository as a copy source.
class RepoSource : public CopySource {
 public:
  explicit RepoSource(const Repository& r) : r_(r) {}
  Result<Tree> ReadTree(const ObjectId& id) const override { return r_.ReadTree(id); }
  Result<std::string> ReadBlob(const ObjectId& id) const override { return r_.ReadBlob(id); }

 private:
  const Repository& r_;
};

bool SameChunker(const objstore::ChunkerParams& a, const objstore::ChunkerParams& b) {
  return a.min_size == b.min_size && a.avg_size == b.avg_size && a.max_size == b.max_size && a.seed == b.seed;
}

}  // namespace

struct TreeConverter::Impl {
  TreeCopier copier;
};

TreeConverter::TreeConverter(const CopySource& src, Repository* dst, BlobWriter* writer, bool rechunk,
                             CopyResult* counters, std::atomic<uint64_t>* progress)
    : impl_(new Impl{TreeCopier(src, dst, writer, rechunk, counters, progress)}) {}
TreeConverter::~TreeConverter() = default;

Result<ObjectId> TreeConverter::Convert(const ObjectId& root, const ObjectId& base_src, const ObjectId& base_dst) {
  return impl_->copier.Copy(root, base_src, base_dst);
}

bool SameContentNaming(const Repository& a, const Repository& b) {
  // Keyed hashers agree only under the same key: compare what they make.
  static constexpr std::string_view kProbe = "cairn copy: do these repositories name content alike?";
  return a.hasher().Id(kProbe) == b.hasher().Id(kProbe) && SameChunker(a.config().chunker, b.config().chunker);
}

Result<std::map<ObjectId, ObjectId>> SnapshotsByOrigin(const Repository& dst) {
  std::map<ObjectId, ObjectId> out;
  CAIRN_ASSIGN_OR_RETURN(auto all, dst.ListSnapshots());
  for (const auto& [id, s] : all) out.emplace(objstore::SnapshotOrigin(id, s), id);
  return out;
}

Result<CopyResult> CopySnapshots(const Repository& src, Repository* dst, const CopyOptions& o) {
  if (src.config().repo_id == dst->config().repo_id) {
    return Status::InvalidArgument("the source and the target are the same repository (id " +
                                   src.config().repo_id.ToHex().substr(0, 12) + "); name another one with --to");
  }
  CopyResult res;
  res.rechunked = !SameContentNaming(src, *dst);

  // Announced before the target's index is consulted, as a backup does.
  std::unique_ptr<objstore::BackendLock> session;
  if (!o.dry_run) {
    CAIRN_ASSIGN_OR_RETURN(session, dst->BeginSession("copy"));
    CAIRN_ASSIGN_OR_RETURN(Repository::Adopted adopted, dst->AdoptPacksOfDeadBackups());
    if (adopted.packs && o.on_warning) {
      o.on_warning("took in " + std::to_string(adopted.packs) + " pack(s) of " + std::to_string(adopted.blobs) +
                   " blobs that a killed backup or copy had written into the target");
    }
  }
  CAIRN_ASSIGN_OR_RETURN(auto have, SnapshotsByOrigin(*dst));

  // The snapshots to look at, parents before children: a depth-first walk
  // from the ones asked for, stopping at snapshots the target has.
  std::map<ObjectId, Snapshot> snaps;
  std::vector<ObjectId> order;
  // Parents removed from the source that the target has: their id there and
  // their root tree.
  std::map<ObjectId, std::pair<ObjectId, ObjectId>> removed_parents;
  {
    std::set<ObjectId> seen;
    std::vector<std::pair<ObjectId, bool>> stack;  // id, parents pushed
    for (auto it = o.snapshots.rbegin(); it != o.snapshots.rend(); ++it) stack.emplace_back(*it, false);
    while (!stack.empty()) {
      auto [id, expanded] = stack.back();
      if (expanded) {
        stack.pop_back();
        order.push_back(id);
        continue;
      }
      if (!seen.insert(id).second) {
        stack.pop_back();
        continue;
      }
      CAIRN_ASSIGN_OR_RETURN(Snapshot s, src.ReadSnapshot(id));
      stack.back().second = true;
      const bool in_target = have.count(objstore::SnapshotOrigin(id, s)) != 0;
      if (!in_target) {
        // Parents removed here (forget, archive) that the target has: the
        // copy keeps them as parents, so an archive's history stays whole.
        CAIRN_ASSIGN_OR_RETURN(Snapshot stored, src.ReadStoredSnapshot(id));
        if (stored.parents != s.parents) {
          std::set<ObjectId> live(s.parents.begin(), s.parents.end());
          std::map<ObjectId, std::pair<ObjectId, ObjectId>> found;  // removed parent -> target id, its tree
          bool all = true;
          for (const auto& p : stored.parents) {
            if (live.count(p)) continue;
            auto rec = src.ReadTrash(p);
            if (!rec.ok() || !*rec) {
              all = false;
              break;
            }
            auto t = have.find(objstore::SnapshotOrigin(p, (*rec)->snapshot));
            if (t == have.end()) {
              all = false;
              break;
            }
            found[p] = {t->second, (*rec)->snapshot.tree};
          }
          if (all) {
            s.parents = stored.parents;
            for (const auto& [p, t] : found) removed_parents.emplace(p, t);
          }
        }
        for (auto p = s.parents.rbegin(); p != s.parents.rend(); ++p) {
          if (!seen.count(*p) && !removed_parents.count(*p)) stack.emplace_back(*p, false);
        }
      }
      snaps.emplace(id, std::move(s));
    }
  }

  std::optional<BlobWriter> writer;
  if (!o.dry_run) writer.emplace(dst, o.threads);
  RepoSource source(src);
  TreeCopier copier(source, dst, o.dry_run ? nullptr : &*writer, res.rechunked, &res, o.bytes_done);
  std::map<ObjectId, ObjectId> dst_trees;  // target snapshot id -> its root tree
  auto dst_tree = [&](const ObjectId& id) -> ObjectId {
    if (auto it = dst_trees.find(id); it != dst_trees.end()) return it->second;
    auto s = dst->ReadSnapshot(id);
    ObjectId t = s.ok() ? s->tree : ObjectId();
    dst_trees.emplace(id, t);
    return t;
  };

  for (const ObjectId& id : order) {
    const Snapshot& s = snaps.at(id);
    const ObjectId origin = objstore::SnapshotOrigin(id, s);
    if (auto it = have.find(origin); it != have.end()) {
      res.snapshots.push_back({id, it->second, false});
      continue;
    }
    if (o.dry_run) {
      res.snapshots.push_back({id, ObjectId(), true});
      continue;
    }
    Snapshot t = s;
    t.parents.clear();
    ObjectId base_src, base_dst;
    for (const auto& p : s.parents) {
      if (auto r = removed_parents.find(p); r != removed_parents.end()) {
        t.parents.push_back(r->second.first);
        if (base_src.IsZero()) {
          base_src = r->second.second;
          base_dst = dst_tree(r->second.first);
        }
        continue;
      }
      auto ps = snaps.find(p);
      auto mapped = ps == snaps.end() ? have.end() : have.find(objstore::SnapshotOrigin(p, ps->second));
      if (mapped == have.end()) {
        return Status::Corruption("snapshot " + id.ToHex().substr(0, 12) + " names parent " + p.ToHex().substr(0, 12) +
                                  ", which could not be copied first");
      }
      t.parents.push_back(mapped->second);
      if (base_src.IsZero()) {
        base_src = ps->second.tree;
        base_dst = dst_tree(mapped->second);
      }
    }
    auto tree = copier.Copy(s.tree, base_src, base_dst);
    if (!tree.ok()) return tree.status().WithContext("snapshot " + id.ToHex().substr(0, 12));
    t.tree = *tree;
    // Packs and index before the snapshot (crash safety).
    CAIRN_RETURN_IF_ERROR(writer->Flush());
    // The snapshot keeps its id when the target would store the very same
    // file (the same naming, unencrypted); otherwise it says where it came from.
    bool kept = false;
    if (!res.rechunked && !dst->encrypted()) {
      std::string file = dst->codec().EncodeFile(objstore::FileType::kSnapshot, objstore::EncodeSnapshotPayload(t), false);
      kept = dst->codec().FileId(file) == id;
    }
    if (!kept) t.copied_from = origin;
    CAIRN_ASSIGN_OR_RETURN(ObjectId new_id, dst->SaveSnapshot(t));
    have.emplace(origin, new_id);
    dst_trees.emplace(new_id, t.tree);
    res.snapshots.push_back({id, new_id, true});
  }
  if (writer) {
    CAIRN_RETURN_IF_ERROR(writer->Flush());
    res.written = writer->stats();
  }
  return res;
}

}  // namespace cairn::repo
