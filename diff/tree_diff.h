// SPDX-License-Identifier: MIT
//
// Tree diff: compares two trees and reports changed paths the way git lists
// them: files, not folders (an added or removed folder lists every file under
// it). Pairs of subtrees with equal ids are skipped without reading them, so
// the cost grows with the size of the change, not with the size of the tree.

#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "objstore/core/object_id.h"
#include "objstore/core/status.h"
#include "objstore/tree.h"

namespace cairn::diff {

// The narrow interface the diff needs (repo::Repository implements it
// through an adapter; tests fake it with a map).
class TreeReader {
 public:
  virtual ~TreeReader() = default;
  virtual Result<objstore::Tree> ReadTree(const ObjectId& id) const = 0;
};

enum class ChangeKind { kAdded, kDeleted, kModified, kTypeChanged, kRenamed };
// "A", "D", "M", "T", "R" as in git's --name-status.
char ChangeLetter(ChangeKind k);
const char* ChangeName(ChangeKind k);

struct Change {
  ChangeKind kind;
  std::string path;
  std::optional<objstore::TreeEntry> old_entry, new_entry;
  std::string old_path;  // kRenamed: where it was
};

struct DiffOptions {
  // Also report entries whose content is equal but mode, owner or mtime differ.
  bool metadata = false;
  // Only paths equal to or below one of these (relative, '/'-separated);
  // empty: everything. Subtrees outside them are not read.
  std::vector<std::string> paths;
};

struct DiffStats {
  uint64_t trees_read = 0;
  uint64_t files_read = 0;  // live-folder diff: files whose content was read
};

// True if `path` is selected by `filters` (see DiffOptions::paths); with
// `ancestor_ok`, also if a filter lies below `path` (so it must be entered).
bool PathSelected(const std::string& path, const std::vector<std::string>& filters, bool ancestor_ok);

// Pairs each deleted file with an added file of the same non-empty content
// (equal chunk lists) into one kRenamed change, as git's rename detection
// with exact matches does. Keeps path order.
void DetectRenames(std::vector<Change>* changes);

// Calls `fn` for each change between trees `a` and `b`, in path order.
// Errors of the reader (NotFound, Corruption) are returned.
Status DiffTrees(const TreeReader& reader, const ObjectId& a, const ObjectId& b,
                 const DiffOptions& options, const std::function<void(const Change&)>& fn,
                 DiffStats* stats);

}  // namespace cairn::diff
