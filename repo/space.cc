// SPDX-License-Identifier: MIT

#include "repo/space.h"

#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "repo/repository.h"

namespace cairn::repo {
namespace {

using index::RefNode;
using index::RefReader;
using index::TreeChildren;

// The edges of a tree in the counted graph: every subtree, and every chunk
// of every file and hardlink entry (a hardlink carries its file's chunks,
// and stores nothing else, so it counts them like a file does).
TreeChildren ChildrenOf(const Tree& tree) {
  TreeChildren c;
  for (const auto& e : tree.entries) {
    if (e.type == objstore::EntryType::kDir) {
      c.trees.push_back(e.subtree);
    } else if (e.type == objstore::EntryType::kFile || e.type == objstore::EntryType::kHardlink) {
      c.chunks.insert(c.chunks.end(), e.chunks.begin(), e.chunks.end());
    }
  }
  return c;
}

Result<TreeChildren> LoadChildren(const Repository& repo, const ObjectId& tree, const ObjectId& snapshot) {
  auto t = repo.ReadTree(tree);
  if (!t.ok()) {
    std::string what = "space accounting: cannot read tree " + tree.ShortHex() + " of snapshot " + snapshot.ShortHex();
    // A snapshot whose tree the index lacks is damage, not an unknown name.
    if (t.status().IsNotFound()) return Status::Corruption(what + ": " + t.status().message() + "; run 'cairn check'");
    return t.status().WithContext(what);
  }
  return ChildrenOf(*t);
}

// The trees of `root` that have no count yet, with their children, read
// before the write transaction so that it is not held open across pack
// reads. The walk stops at every counted tree: what is below it is counted.
Result<std::map<ObjectId, TreeChildren>> NewTrees(const Repository& repo, const ObjectId& snapshot,
                                                  const ObjectId& root) {
  CAIRN_ASSIGN_OR_RETURN(std::unique_ptr<RefReader> rd, repo.index()->BeginRefRead());
  std::map<ObjectId, TreeChildren> out;
  std::vector<ObjectId> pending{root};
  while (!pending.empty()) {
    ObjectId id = pending.back();
    pending.pop_back();
    if (out.count(id) != 0) continue;
    CAIRN_ASSIGN_OR_RETURN(std::optional<RefNode> node, rd->Node(id));
    if (node) continue;
    CAIRN_ASSIGN_OR_RETURN(TreeChildren c, LoadChildren(repo, id, snapshot));
    pending.insert(pending.end(), c.trees.begin(), c.trees.end());
    out.emplace(id, std::move(c));
  }
  return out;
}

// Adds blob `id` to `r` with its stored size from the index. A counted blob
// the index does not know means a damaged repository: never counted as 0.
Status AddBlob(RefReader* rd, const ObjectId& id, const RefNode& node, SpaceReport* r) {
  CAIRN_ASSIGN_OR_RETURN(std::optional<index::BlobLocation> loc, rd->Lookup(id));
  if (!loc) {
    return Status::Corruption(std::string(node.type == objstore::BlobType::kTree ? "tree " : "chunk ") +
                              id.ShortHex() + " is referenced but not in the repository's index; run 'cairn check'");
  }
  r->blobs++;
  r->bytes += loc->entry.stored_length;
  (node.type == objstore::BlobType::kTree ? r->trees : r->chunks)++;
  return Status::OK();
}

Result<ObjectId> CountedRoot(RefReader* rd, const ObjectId& snapshot) {
  CAIRN_ASSIGN_OR_RETURN(std::optional<ObjectId> root, rd->Root(snapshot));
  if (!root) {
    return Status::NotFound("snapshot " + snapshot.ShortHex() +
                            " is not counted in the space accounting (it does not keep data)");
  }
  return *root;
}

}  // namespace

Result<std::map<ObjectId, ObjectId>> DataRoots(const Repository& repo) {
  CAIRN_ASSIGN_OR_RETURN(auto snaps, repo.ListSnapshots());
  std::map<ObjectId, ObjectId> out;
  for (const auto& [id, s] : snaps) out.emplace(id, s.tree);
  // A snapshot in the trash keeps its data until a prune purges it.
  CAIRN_ASSIGN_OR_RETURN(auto trash, repo.ListTrash());
  for (const auto& r : trash) {
    if (!r.purged()) out.emplace(r.id, r.snapshot.tree);
  }
  return out;
}

Status SyncSpace(const Repository& repo, const std::map<ObjectId, ObjectId>& roots) {
  index::Index* idx = repo.index();
  CAIRN_ASSIGN_OR_RETURN(auto counted, idx->CountedRoots());
  // New roots first: a root that goes away often shares most of its trees
  // with one that arrives (a snapshot replaced by its successor); counting
  // first keeps those trees in the table instead of dropping and reading
  // them again.
  bool counted_any = false;
  for (const auto& [snap, tree] : roots) {
    auto it = counted.find(snap);
    if (it != counted.end()) {
      if (it->second == tree) continue;
      CAIRN_RETURN_IF_ERROR(idx->UncountRoot(snap));  // cannot happen for a real snapshot id
    }
    CAIRN_ASSIGN_OR_RETURN(auto preloaded, NewTrees(repo, snap, tree));
    const ObjectId s = snap;
    CAIRN_RETURN_IF_ERROR(idx->CountRoot(snap, tree, preloaded,
                                         [&repo, s](const ObjectId& t) { return LoadChildren(repo, t, s); }));
    counted_any = true;
  }
  for (const auto& [snap, tree] : counted) {
    if (roots.count(snap) == 0) CAIRN_RETURN_IF_ERROR(idx->UncountRoot(snap));
  }
  // The blobs just counted leave the suspect log now (docs/format.md
  // "Local index"), not at the next prune, which then reads only the waste.
  if (counted_any) CAIRN_RETURN_IF_ERROR(idx->CompactSuspects());
  return Status::OK();
}

Result<SpaceReport> ExclusiveSpace(const Repository& repo, const std::vector<ObjectId>& snapshots) {
  CAIRN_ASSIGN_OR_RETURN(std::unique_ptr<RefReader> rd, repo.index()->BeginRefRead());
  std::vector<ObjectId> pending;
  std::unordered_set<ObjectId, ObjectIdHash> seen_snaps;
  for (const auto& s : snapshots) {
    if (!seen_snaps.insert(s).second) continue;
    CAIRN_ASSIGN_OR_RETURN(ObjectId root, CountedRoot(rd.get(), s));
    pending.push_back(root);
  }
  // The cascade of UncountRoot, with the decrements kept in memory: a blob
  // is freed when it has lost as many references as it has.
  std::unordered_map<ObjectId, uint64_t, ObjectIdHash> lost;
  SpaceReport r;
  while (!pending.empty()) {
    ObjectId id = pending.back();
    pending.pop_back();
    CAIRN_ASSIGN_OR_RETURN(std::optional<RefNode> node, rd->Node(id));
    uint64_t n = ++lost[id];
    if (!node || n > node->count) {
      return Status::Corruption("the local index's reference counts are out of step (blob " + id.ShortHex() +
                                "); delete the local cache folder '" + repo.cache_dir() + "' to rebuild it");
    }
    if (n < node->count) continue;
    CAIRN_RETURN_IF_ERROR(AddBlob(rd.get(), id, *node, &r));
    if (node->type != objstore::BlobType::kTree) continue;
    CAIRN_ASSIGN_OR_RETURN(std::optional<TreeChildren> c, rd->Children(id));
    if (!c) return Status::Corruption("the local index has no child list for counted tree " + id.ShortHex());
    pending.insert(pending.end(), c->trees.begin(), c->trees.end());
    pending.insert(pending.end(), c->chunks.begin(), c->chunks.end());
  }
  return r;
}

Result<SpaceReport> SnapshotSpace(const Repository& repo, const ObjectId& snapshot) {
  CAIRN_ASSIGN_OR_RETURN(std::unique_ptr<RefReader> rd, repo.index()->BeginRefRead());
  CAIRN_ASSIGN_OR_RETURN(ObjectId root, CountedRoot(rd.get(), snapshot));
  std::unordered_set<ObjectId, ObjectIdHash> seen{root};
  std::vector<ObjectId> pending{root};
  SpaceReport r;
  while (!pending.empty()) {
    ObjectId id = pending.back();
    pending.pop_back();
    CAIRN_ASSIGN_OR_RETURN(std::optional<RefNode> node, rd->Node(id));
    if (!node) {
      return Status::Corruption("the local index's reference counts are out of step (no count for blob " +
                                id.ShortHex() + " of snapshot " + snapshot.ShortHex() + ")");
    }
    CAIRN_RETURN_IF_ERROR(AddBlob(rd.get(), id, *node, &r));
    if (node->type != objstore::BlobType::kTree) continue;
    CAIRN_ASSIGN_OR_RETURN(std::optional<TreeChildren> c, rd->Children(id));
    if (!c) return Status::Corruption("the local index has no child list for counted tree " + id.ShortHex());
    for (const auto* list : {&c->trees, &c->chunks}) {
      for (const auto& child : *list) {
        if (seen.insert(child).second) pending.push_back(child);
      }
    }
  }
  return r;
}

Result<SpaceReport> ReferencedSpace(const Repository& repo) {
  CAIRN_ASSIGN_OR_RETURN(std::unique_ptr<RefReader> rd, repo.index()->BeginRefRead());
  SpaceReport r;
  Status st;
  CAIRN_RETURN_IF_ERROR(rd->ForEachNode([&](const ObjectId& id, const RefNode& node) {
    if (st.ok()) st = AddBlob(rd.get(), id, node, &r);
  }));
  CAIRN_RETURN_IF_ERROR(st);
  return r;
}

Status ForEachUnreferenced(const Repository& repo,
                           const std::function<void(const ObjectId&, const index::BlobLocation&)>& fn) {
  return repo.index()->ForEachUnreferencedBlob(fn);
}

Result<bool> IsReferenced(const Repository& repo, const ObjectId& id) {
  CAIRN_ASSIGN_OR_RETURN(std::unique_ptr<RefReader> rd, repo.index()->BeginRefRead());
  CAIRN_ASSIGN_OR_RETURN(std::optional<RefNode> node, rd->Node(id));
  return node.has_value();
}

}  // namespace cairn::repo
