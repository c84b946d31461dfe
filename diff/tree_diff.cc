// SPDX-License-Identifier: MIT

#include "diff/tree_diff.h"

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
    CAIRN_ASSIGN_OR_RETURN(Tree ta, Read(a));
    CAIRN_ASSIGN_OR_RETURN(Tree tb, Read(b));
    size_t i = 0, j = 0;
    while (i < ta.entries.size() || j < tb.entries.size()) {
      const TreeEntry* ea = i < ta.entries.size() ? &ta.entries[i] : nullptr;
      const TreeEntry* eb = j < tb.entries.size() ? &tb.entries[j] : nullptr;
      if (eb == nullptr || (ea != nullptr && ea->name < eb->name)) {
        CAIRN_RETURN_IF_ERROR(All(*ea, Join(prefix, ea->name), ChangeKind::kDeleted));
        i++;
      } else if (ea == nullptr || eb->name < ea->name) {
        CAIRN_RETURN_IF_ERROR(All(*eb, Join(prefix, eb->name), ChangeKind::kAdded));
        j++;
      } else {
        CAIRN_RETURN_IF_ERROR(Pair(*ea, *eb, Join(prefix, ea->name)));
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
      Change c{kind, path, std::nullopt, std::nullopt};
      (kind == ChangeKind::kDeleted ? c.old_entry : c.new_entry) = e;
      fn_(c);
      return Status::OK();
    }
    CAIRN_ASSIGN_OR_RETURN(Tree t, Read(e.subtree));
    for (const auto& c : t.entries) CAIRN_RETURN_IF_ERROR(All(c, Join(path, c.name), kind));
    return Status::OK();
  }

  static bool SameContent(const TreeEntry& a, const TreeEntry& b) {
    switch (a.type) {
      case EntryType::kFile: return a.chunks == b.chunks;
      case EntryType::kHardlink: return a.chunks == b.chunks && a.link_target == b.link_target;
      case EntryType::kSymlink: return a.link_target == b.link_target;
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
    if (a.type != b.type) {
      fn_(Change{ChangeKind::kTypeChanged, path, a, b});
    } else if (!SameContent(a, b) || (opts_.metadata && !SameMetadata(a, b))) {
      fn_(Change{ChangeKind::kModified, path, a, b});
    }
    return Status::OK();
  }

  const TreeReader& reader_;
  const DiffOptions& opts_;
  const std::function<void(const Change&)>& fn_;
  DiffStats* stats_;
};

}  // namespace

char ChangeLetter(ChangeKind k) {
  switch (k) {
    case ChangeKind::kAdded: return 'A';
    case ChangeKind::kDeleted: return 'D';
    case ChangeKind::kModified: return 'M';
    case ChangeKind::kTypeChanged: return 'T';
  }
  return '?';
}

const char* ChangeName(ChangeKind k) {
  switch (k) {
    case ChangeKind::kAdded: return "added";
    case ChangeKind::kDeleted: return "deleted";
    case ChangeKind::kModified: return "modified";
    case ChangeKind::kTypeChanged: return "type-changed";
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
