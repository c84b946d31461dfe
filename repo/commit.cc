// SPDX-License-Identifier: MIT

#include "repo/commit.h"

#include <algorithm>

namespace cairn::repo {
namespace {

using objstore::EntryType;

// Counts files new, changed and deleted against the parent, reading trees
// only where the new tree differs from the parent's; every other file is
// unchanged. The new trees are read back from the repository (or, for a dry
// run, from the trees it built), not held in memory since the walk.
class ChangeCounter {
 public:
  ChangeCounter(const TreeSource& trees, objstore::SnapshotStats* stats) : trees_(trees), stats_(stats) {}

  void Dir(const ObjectId& tree, const std::optional<ObjectId>& parent_tree) {
    if (parent_tree && *parent_tree == tree) return;
    auto now = trees_(tree);
    if (!now.ok()) return Note(now.status());
    Tree old;
    if (parent_tree) {
      auto t = trees_(*parent_tree);
      if (!t.ok()) return Note(t.status());
      old = std::move(t).value();
    }
    std::vector<bool> seen(old.entries.size(), false);
    for (const auto& c : now->entries) {
      auto it = std::lower_bound(old.entries.begin(), old.entries.end(), c.name,
                                 [](const TreeEntry& e, const std::string& n) { return e.name < n; });
      const TreeEntry* pe = (it != old.entries.end() && it->name == c.name) ? &*it : nullptr;
      if (pe) seen[static_cast<size_t>(it - old.entries.begin())] = true;
      if (c.type == EntryType::kDir) {
        Dir(c.subtree, pe && pe->type == EntryType::kDir ? std::optional<ObjectId>(pe->subtree) : std::nullopt);
        if (pe && FileLike(pe->type)) stats_->files_deleted++;
      } else if (FileLike(c.type)) {
        if (!pe || !FileLike(pe->type)) {
          stats_->files_new++;
          if (pe && pe->type == EntryType::kDir) stats_->files_deleted += Files(pe->subtree);
        } else if (pe->chunks != c.chunks) {
          stats_->files_changed++;
        }
      }
    }
    for (size_t i = 0; i < old.entries.size(); i++) {
      if (seen[i]) continue;
      const TreeEntry& e = old.entries[i];
      if (FileLike(e.type)) stats_->files_deleted++;
      if (e.type == EntryType::kDir) stats_->files_deleted += Files(e.subtree);
    }
  }

 private:
  // The files under `tree` of the parent snapshot (for the counts only):
  // no deeper than a tree reader goes (objstore::kMaxTreePath, at least 2
  // bytes a level), so a crafted parent cannot exhaust the stack.
  uint64_t Files(const ObjectId& tree, size_t depth = 0) {
    if (depth > objstore::kMaxTreePath / 2) return 0;
    auto t = trees_(tree);
    if (!t.ok()) {
      Note(t.status());
      return 0;
    }
    uint64_t n = 0;
    for (const auto& e : t->entries) {
      if (FileLike(e.type)) n++;
      if (e.type == EntryType::kDir) n += Files(e.subtree, depth + 1);
    }
    return n;
  }

  void Note(const Status& st) {
    if (error_.empty()) error_ = st.message();
  }

  const TreeSource& trees_;
  objstore::SnapshotStats* stats_;

 public:
  // The first tree that could not be read; the counts are partial then.
  std::string error_;
};

}  // namespace

Result<ParentRequest> MakeParentRequest(const Repository& repo, const BackupOptions& opts) {
  ParentRequest req;
  req.branch = opts.branch;
  req.kind = opts.kind;
  req.sources = SourcesOf(opts);
  if (!opts.parent.empty()) {
    if (opts.kind == BackupKind::kDifferential) {
      return Status::InvalidArgument(
          "--parent cannot be used with --type differential (its parent is the newest full snapshot of its "
          "sources)");
    }
    auto id = repo.ResolveRevision(opts.parent);
    if (!id.ok()) return id.status().WithContext("--parent");
    req.parent = *id;
  }
  return req;
}

Result<Lineage> ChooseLineage(const Repository& repo, const ParentRequest& req) {
  Lineage l;
  CAIRN_ASSIGN_OR_RETURN(l.head, repo.ReadRef("branches/" + req.branch));
  auto add_head = [&] {
    if (l.head && *l.head != l.parents[0]) l.parents.push_back(*l.head);
  };
  if (req.parent) {
    l.parents.push_back(*req.parent);
    CAIRN_ASSIGN_OR_RETURN(l.first_parent, repo.ReadSnapshot(*req.parent));
    l.base_tree = l.first_parent->tree;
    add_head();
  } else if (req.kind == BackupKind::kDifferential) {
    // The newest full snapshot of these sources on the first-parent line.
    std::optional<ObjectId> at = l.head;
    while (at) {
      CAIRN_ASSIGN_OR_RETURN(Snapshot s, repo.ReadSnapshot(*at));
      if (s.kind == "full" && SameSources(SourcesOf(repo, s), req.sources)) {
        l.parents.push_back(*at);
        l.first_parent = std::move(s);
        break;
      }
      at = s.parents.empty() ? std::nullopt : std::optional<ObjectId>(s.parents[0]);
    }
    if (l.parents.empty()) {
      return Status::InvalidArgument("branch '" + req.branch + "' has no full snapshot of " +
                                     DescribeSources(req.sources) +
                                     " to be differential to; take one with --type full");
    }
    l.base_tree = l.first_parent->tree;
    add_head();
  } else if (l.head) {
    l.parents.push_back(*l.head);
    CAIRN_ASSIGN_OR_RETURN(l.first_parent, repo.ReadSnapshot(*l.head));
    SourceSet theirs = SourcesOf(repo, *l.first_parent);
    if (SameSources(theirs, req.sources)) {
      l.base_tree = l.first_parent->tree;
    } else {
      l.warning = "the head of branch '" + req.branch + "' (" + l.head->ShortHex() + ") is a backup of " +
                  DescribeSources(theirs) + ", not of " + DescribeSources(req.sources) +
                  "; the change counts are against no snapshot (every file new; --parent REV counts against REV)";
    }
  }
  return l;
}

std::string RelateToLineage(const TreeSource& trees, const Lineage& lineage, BackupKind kind, Snapshot* snap) {
  snap->parents = lineage.parents;
  snap->kind = lineage.parents.empty() ? "full" : BackupKindName(kind);
  auto& st = snap->stats;
  st.files_new = st.files_changed = st.files_unchanged = st.files_deleted = 0;
  if (!lineage.base_tree) {
    st.files_new = st.files;
    return "";
  }
  if (!trees) {  // no trees to compare (a write-only key): no counts
    st.counts_unknown = true;
    return "";
  }
  ChangeCounter counter(trees, &st);
  counter.Dir(snap->tree, lineage.base_tree);
  uint64_t counted = st.files_new + st.files_changed;
  st.files_unchanged = st.files > counted ? st.files - counted : 0;
  if (counter.error_.empty()) return "";
  return "the counts of new, changed and deleted files are incomplete (the snapshot is not): " + counter.error_;
}

Result<CommitOutcome> Commit(Repository* repo, const BackupOptions& opts, const ParentRequest& req,
                             Lineage* lineage, Snapshot* snap) {
  CommitOutcome out;
  TreeSource trees = [repo](const ObjectId& id) { return repo->ReadTree(id); };
  auto unchanged = [&] {
    return opts.skip_if_unchanged && lineage->first_parent && lineage->first_parent->tree == snap->tree;
  };
  if (unchanged()) {
    out.skipped = true;
    return out;
  }
  const std::string ref = "branches/" + opts.branch;
  for (int attempt = 0;; attempt++) {
    CAIRN_ASSIGN_OR_RETURN(ObjectId id, repo->SaveSnapshot(*snap));
    Status st = repo->UpdateRef(ref, lineage->head, id);
    if (st.ok()) {
      out.snapshot_id = id;
      return out;
    }
    if (st.code() != Code::kConflict || attempt >= 20) {
      return st.WithContext("snapshot " + id.ShortHex() + " was saved but branch '" + opts.branch +
                            "' was not advanced");
    }
    // Another backup advanced the branch meanwhile (two hosts or jobs on one
    // lineage): put this snapshot on top of the new head instead, as git
    // would after a rebase, and drop the file no ref will ever reach.
    (void)repo->backend()->Remove(objstore::SnapshotName(id));
    (void)repo->index()->RemoveSnapshot(id);
    std::string warned = lineage->warning;
    CAIRN_ASSIGN_OR_RETURN(*lineage, ChooseLineage(*repo, req));
    if (!lineage->warning.empty() && lineage->warning != warned && opts.on_warning) {
      opts.on_warning(lineage->warning);
    }
    if (unchanged()) {
      out.skipped = true;
      return out;
    }
    if (opts.time_ns == 0) {
      snap->time_ns = std::max(NowNs(), lineage->first_parent ? lineage->first_parent->time_ns + 1 : int64_t{0});
    }
    std::string warning = RelateToLineage(trees, *lineage, opts.kind, snap);
    if (!warning.empty() && opts.on_warning) opts.on_warning(warning);
  }
}

}  // namespace cairn::repo
