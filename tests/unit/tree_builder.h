// SPDX-License-Identifier: MIT
//
// Helpers for the diff tests: an in-memory diff::TreeReader that stores
// hand-made trees under their real ids and counts what is read, and
// shorthands for tree entries.

#pragma once

#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "diff/tree_diff.h"
#include "objstore/tree.h"

namespace cairn::testing {

class FakeTreeReader : public diff::TreeReader {
 public:
  // Stores `t` (entries sorted here) and returns its id.
  ObjectId Put(objstore::Tree t) {
    std::sort(t.entries.begin(), t.entries.end(),
              [](const objstore::TreeEntry& a, const objstore::TreeEntry& b) { return a.name < b.name; });
    ObjectId id = Sha256(objstore::EncodeTree(t));
    trees_[id] = std::move(t);
    return id;
  }

  Result<objstore::Tree> ReadTree(const ObjectId& id) const override {
    reads_.push_back(id);
    auto it = trees_.find(id);
    if (it == trees_.end()) return Status::NotFound("no tree " + id.ShortHex());
    return it->second;
  }

  // Every id read so far, in order (duplicates kept).
  const std::vector<ObjectId>& reads() const { return reads_; }
  size_t ReadCount(const ObjectId& id) const { return static_cast<size_t>(std::count(reads_.begin(), reads_.end(), id)); }
  void ClearReads() { reads_.clear(); }

 private:
  std::map<ObjectId, objstore::Tree> trees_;
  mutable std::vector<ObjectId> reads_;
};

// A file whose content is `content`, stored as one chunk per '|'-separated
// piece (so tests can say "same content, other chunking" when they need to).
inline objstore::TreeEntry FileEntry(const std::string& name, const std::string& content, uint32_t mode = 0644) {
  objstore::TreeEntry e;
  e.name = name;
  e.type = objstore::EntryType::kFile;
  e.mode = mode;
  e.uid = 1000;
  e.gid = 1000;
  e.mtime_ns = 1700000000000000000;
  size_t start = 0;
  for (;;) {
    size_t bar = content.find('|', start);
    std::string piece = content.substr(start, bar == std::string::npos ? std::string::npos : bar - start);
    e.size += piece.size();
    if (!piece.empty()) e.chunks.push_back(Sha256(piece));
    if (bar == std::string::npos) break;
    start = bar + 1;
  }
  return e;
}

inline objstore::TreeEntry DirEntry(const std::string& name, const ObjectId& subtree) {
  objstore::TreeEntry e;
  e.name = name;
  e.type = objstore::EntryType::kDir;
  e.mode = 0755;
  e.uid = 1000;
  e.gid = 1000;
  e.subtree = subtree;
  return e;
}

inline objstore::TreeEntry SymlinkEntry(const std::string& name, const std::string& target) {
  objstore::TreeEntry e;
  e.name = name;
  e.type = objstore::EntryType::kSymlink;
  e.mode = 0777;
  e.link_target = target;
  return e;
}

inline objstore::Tree MakeTree(std::vector<objstore::TreeEntry> entries) {
  objstore::Tree t;
  t.entries = std::move(entries);
  return t;
}

}  // namespace cairn::testing
