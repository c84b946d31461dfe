// SPDX-License-Identifier: MIT

#include "diff/tree_diff.h"

#include <unordered_map>

#include "objstore/file_chunks.h"

namespace cairn::diff {
namespace {

using objstore::EntryType;
using objstore::Tree;
using objstore::TreeEntry;

class Differ {
 public:
  Differ(const TreeReader& r, const DiffOptions& o, const std::function<void(const Change&)>& fn,
         DiffStats* s)
      : reader_(r), opts_(o), fn_(fn), stats_(s) {}

  Status Trees(const ObjectId& a, const ObjectId& b, const std::string& prefix) {
    if (a == b) return Status::OK();
    CAIRN_RETURN_IF_ERROR(objstore::CheckTreePath(prefix));
    CAIRN_ASSIGN_OR_RETURN(Tree ta, Read(a));
    CAIRN_ASSIGN_OR_RETURN(Tree tb, Read(b));
    size_t i = 0, j = 0;
    while (i < ta.entries.size() || j < tb.entries.size()) {
      const TreeEntry* ea = i < ta.entries.size() ? &ta.entries[i] : nullptr;
      const TreeEntry* eb = j < tb.entries.size() ? &tb.entries[j] : nullptr;
      const std::string& name = (eb == nullptr || (ea != nullptr && ea->name < eb->name)) ? ea->name : eb->name;
      std::string path = Join(prefix, name);
      bool selected = PathSelected(path, opts_.paths, true);
      if (eb == nullptr || (ea != nullptr && ea->name < eb->name)) {
        if (selected) CAIRN_RETURN_IF_ERROR(All(*ea, path, ChangeKind::kDeleted));
        i++;
      } else if (ea == nullptr || eb->name < ea->name) {
        if (selected) CAIRN_RETURN_IF_ERROR(All(*eb, path, ChangeKind::kAdded));
        j++;
      } else {
        if (selected) CAIRN_RETURN_IF_ERROR(Pair(*ea, *eb, path));
        i++;
        j++;
      }
    }
    return Status::OK();
  }

 private:
  static std::string Join(const std::string& a, const std::string& b) { return a.empty() ? b : a + "/" + b; }

  Result<Tree> Read(const ObjectId& id) {
    if (stats_) stats_->trees_read++;
    return reader_.ReadTree(id);
  }

  // Every non-folder entry at or under `e`, reported as `kind`.
  Status All(const TreeEntry& e, const std::string& path, ChangeKind kind) {
    if (e.type != EntryType::kDir) {
      if (!PathSelected(path, opts_.paths, false)) return Status::OK();
      Change c{kind, path, std::nullopt, std::nullopt, ""};
      (kind == ChangeKind::kDeleted ? c.old_entry : c.new_entry) = e;
      fn_(c);
      return Status::OK();
    }
    CAIRN_RETURN_IF_ERROR(objstore::CheckTreePath(path));
    CAIRN_ASSIGN_OR_RETURN(Tree t, Read(e.subtree));
    for (const auto& c : t.entries) {
      std::string p = Join(path, c.name);
      if (PathSelected(p, opts_.paths, true)) CAIRN_RETURN_IF_ERROR(All(c, p, kind));
    }
    return Status::OK();
  }

  static bool SameContent(const TreeEntry& a, const TreeEntry& b) {
    switch (a.type) {
      case EntryType::kFile: return a.chunks == b.chunks;
      case EntryType::kHardlink: return a.chunks == b.chunks && a.link_target == b.link_target;
      case EntryType::kSymlink:
      case EntryType::kGitlink: return a.link_target == b.link_target;
      case EntryType::kCharDevice:
      case EntryType::kBlockDevice: return a.rdev == b.rdev;
      default: return true;
    }
  }

  static bool SameMetadata(const TreeEntry& a, const TreeEntry& b) {
    return a.mode == b.mode && a.uid == b.uid && a.gid == b.gid && a.mtime_ns == b.mtime_ns;
  }

  Status Pair(const TreeEntry& a, const TreeEntry& b, const std::string& path) {
    bool da = a.type == EntryType::kDir, db = b.type == EntryType::kDir;
    if (da && db) return Trees(a.subtree, b.subtree, path);
    if (da != db) {
      // A folder became a file or the reverse: git lists a delete and an add.
      CAIRN_RETURN_IF_ERROR(All(a, path, ChangeKind::kDeleted));
      return All(b, path, ChangeKind::kAdded);
    }
    if (!PathSelected(path, opts_.paths, false)) return Status::OK();
    bool file_a = a.type == EntryType::kFile || a.type == EntryType::kHardlink;
    bool file_b = b.type == EntryType::kFile || b.type == EntryType::kHardlink;
    if (a.type != b.type && !(file_a && file_b)) {
      fn_(Change{ChangeKind::kTypeChanged, path, a, b, ""});
    } else if ((file_a ? a.chunks != b.chunks : !SameContent(a, b)) ||
               (opts_.metadata && !SameMetadata(a, b))) {
      fn_(Change{ChangeKind::kModified, path, a, b, ""});
    }
    return Status::OK();
  }

  const TreeReader& reader_;
  const DiffOptions& opts_;
  const std::function<void(const Change&)>& fn_;
  DiffStats* stats_;
};

}  // namespace

bool PathSelected(const std::string& path, const std::vector<std::string>& filters, bool ancestor_ok) {
  if (filters.empty()) return true;
  for (const auto& f : filters) {
    if (f.empty() || path == f) return true;
    if (path.size() > f.size() && path.compare(0, f.size(), f) == 0 && path[f.size()] == '/') return true;
    if (ancestor_ok && f.size() > path.size() && f.compare(0, path.size(), path) == 0 && f[path.size()] == '/') {
      return true;
    }
  }
  return false;
}

void DetectRenames(std::vector<Change>* changes) {
  auto is_file = [](const std::optional<objstore::TreeEntry>& e) {
    return e && (e->type == EntryType::kFile || e->type == EntryType::kHardlink) && !e->chunks.empty();
  };
  // Deleted files by content id; each may be claimed by one added file.
  std::unordered_map<ObjectId, std::vector<size_t>, ObjectIdHash> deleted;
  for (size_t i = 0; i < changes->size(); i++) {
    const Change& c = (*changes)[i];
    if (c.kind == ChangeKind::kDeleted && is_file(c.old_entry)) {
      deleted[objstore::FileContentId(c.old_entry->chunks)].push_back(i);
    }
  }
  std::vector<bool> drop(changes->size(), false);
  for (auto& c : *changes) {
    if (c.kind != ChangeKind::kAdded || !is_file(c.new_entry)) continue;
    auto it = deleted.find(objstore::FileContentId(c.new_entry->chunks));
    if (it == deleted.end() || it->second.empty()) continue;
    size_t d = it->second.front();
    it->second.erase(it->second.begin());
    Change& del = (*changes)[d];
    c.kind = ChangeKind::kRenamed;
    c.old_path = del.path;
    c.old_entry = del.old_entry;
    drop[d] = true;
  }
  std::vector<Change> out;
  for (size_t i = 0; i < changes->size(); i++) {
    if (!drop[i]) out.push_back(std::move((*changes)[i]));
  }
  *changes = std::move(out);
}

char ChangeLetter(ChangeKind k) {
  switch (k) {
    case ChangeKind::kAdded: return 'A';
    case ChangeKind::kDeleted: return 'D';
    case ChangeKind::kModified: return 'M';
    case ChangeKind::kTypeChanged: return 'T';
    case ChangeKind::kRenamed: return 'R';
  }
  return '?';
}

const char* ChangeName(ChangeKind k) {
  switch (k) {
    case ChangeKind::kAdded: return "added";
    case ChangeKind::kDeleted: return "deleted";
    case ChangeKind::kModified: return "modified";
    case ChangeKind::kTypeChanged: return "type-changed";
    case ChangeKind::kRenamed: return "renamed";
  }
  return "?";
}

Status DiffTrees(const TreeReader& reader, const ObjectId& a, const ObjectId& b,
                 const DiffOptions& options, const std::function<void(const Change&)>& fn,
                 DiffStats* stats) {
  Differ d(reader, options, fn, stats);
  return d.Trees(a, b, "");
}

}  // namespace cairn::diff
