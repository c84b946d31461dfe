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

enum class ChangeKind { kAdded, kDeleted, kModified, kTypeChanged };
// "A", "D", "M", "T" as in git's --name-status.
char ChangeLetter(ChangeKind k);
const char* ChangeName(ChangeKind k);

struct Change {
  ChangeKind kind;
  std::string path;
  std::optional<objstore::TreeEntry> old_entry, new_entry;
};

struct DiffOptions {
  // Also report entries whose content is equal but mode, owner or mtime differ.
  bool metadata = false;
};

struct DiffStats {
  uint64_t trees_read = 0;
};

// Calls `fn` for each change between trees `a` and `b`, in path order.
// Errors of the reader (NotFound, Corruption) are returned.
Status DiffTrees(const TreeReader& reader, const ObjectId& a, const ObjectId& b,
                 const DiffOptions& options, const std::function<void(const Change&)>& fn,
                 DiffStats* stats);

}  // namespace cairn::diff
