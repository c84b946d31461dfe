// SPDX-License-Identifier: MIT
//
// Trees: one directory of a snapshot, in a canonical binary encoding, so the
// same directory always has the same id and identical subtrees are stored
// once. See docs/format.md#trees.

#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "objstore/core/object_id.h"
#include "objstore/core/status.h"

namespace cairn::objstore {

enum class EntryType : uint8_t {
  kFile = 1,
  kDir = 2,
  kSymlink = 3,
  kHardlink = 4,  // another name of a file earlier in the snapshot (link_target);
                  // carries the same content (size, chunks) so tree ids follow it
  kFifo = 5,
  kCharDevice = 6,
  kBlockDevice = 7,
  kGitlink = 8,  // a git submodule entry (git import): link_target holds the
                 // commit id in hex; restored as an empty folder, as git does
};
const char* EntryTypeName(EntryType t);

struct TreeEntry {
  std::string name;  // bytes; need not be UTF-8
  EntryType type = EntryType::kFile;
  uint32_t mode = 0;  // permission bits, 07777
  uint32_t uid = 0, gid = 0;
  std::string user, group;  // owner names where known, else empty
  int64_t mtime_ns = 0;
  uint64_t size = 0;                // file content length; 0 for other types
  std::vector<ObjectId> chunks;     // kFile, kHardlink
  ObjectId subtree;                 // kDir
  std::string link_target;          // kSymlink: the target; kHardlink: root-relative path;
                                    // kGitlink: the submodule's commit id (40 or 64 lowercase hex)
  uint64_t rdev = 0;                // devices
};

// True for the entry types that carry content (size and chunks).
inline bool CarriesContent(EntryType t) { return t == EntryType::kFile || t == EntryType::kHardlink; }

struct Tree {
  std::vector<TreeEntry> entries;  // sorted by name, bytewise, no duplicates
};

// True if `name` is usable as one path component: not empty, not "." or
// "..", no '/' and no NUL.
bool ValidEntryName(std::string_view name);

// True if `s` is a git object id in lowercase hex (40 digits, SHA-1, or 64,
// SHA-256): the payload of a gitlink entry.
bool GitCommitHex(std::string_view s);

// The entry called `name` in `tree` (whose entries are sorted bytewise),
// or null: a binary search.
const TreeEntry* FindEntry(const Tree& tree, std::string_view name);

// The longest snapshot-relative path of a folder that a tree reader enters:
// PATH_MAX − 1, longer than any path the backup walk can read. A tree that
// nests deeper is refused as damaged (CheckTreePath), so that no reader's
// stack, time or memory grows without bound on a crafted tree.
inline constexpr size_t kMaxTreePath = 4095;

// OK, or Corruption naming the start of `path` when it is longer than
// kMaxTreePath.
Status CheckTreePath(std::string_view path);

// Encodes `tree` canonically. REQUIRES: entries sorted and names valid.
std::string EncodeTree(const Tree& tree);

// Decodes and validates a tree blob. Returns Corruption (naming `id`) for
// bad names, unsorted or duplicate entries, unknown types, or truncation.
Result<Tree> DecodeTree(std::string_view blob, const ObjectId& id);

}  // namespace cairn::objstore
