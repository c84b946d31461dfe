// SPDX-License-Identifier: MIT
//
// Index: the local LMDB view of a repository. It maps blob ids to their place
// in a pack, remembers which index files it has loaded, and keeps a catalog of
// snapshots for fast listing and prefix lookup. Everything in it is derived
// from the repository's immutable files, so it can be deleted and rebuilt at
// any time (docs/format.md#local-index).
//
// An Index is safe for concurrent use by several threads and processes;
// LMDB serializes writers.

#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "objstore/core/object_id.h"
#include "objstore/core/status.h"
#include "objstore/pack.h"

namespace cairn::index {

struct BlobLocation {
  ObjectId pack_id;
  objstore::PackEntry entry;
};

// What the file-change cache remembers of a file at its last backup.
struct FileCacheEntry {
  uint64_t dev = 0, ino = 0, size = 0;
  int64_t mtime_ns = 0, ctime_ns = 0;
  std::vector<ObjectId> chunks;
};

// A long-lived read transaction for lookups on one thread (blob existence
// and the file-change cache). It sees the index as it was when it began.
// Not thread-safe; use one per thread. REQUIRES: the Index outlives it.
class ReadSession {
 public:
  virtual ~ReadSession() = default;
  // True if the index has blob `id`.
  virtual Result<bool> HasBlob(const ObjectId& id) = 0;
  // The cache entry for source path `path`, or std::nullopt.
  virtual Result<std::optional<FileCacheEntry>> GetFile(std::string_view path) = 0;
};

class Index {
 public:
  // Opens (creating if needed) the LMDB file at `path`. Returns Corruption if
  // the file exists but is not a usable LMDB of this version; the caller may
  // then delete it and open again.
  static Result<std::unique_ptr<Index>> Open(const std::string& path);
  ~Index();
  Index(const Index&) = delete;
  Index& operator=(const Index&) = delete;

  // Returns where blob `id` lives, or std::nullopt if the index has no such
  // blob. IOError if LMDB fails.
  Result<std::optional<BlobLocation>> Lookup(const ObjectId& id) const;

  // Records every blob of `packs` and marks index file `index_file` (its
  // name, may be empty) as loaded, in one transaction.
  Status AddPacks(const std::string& index_file, const std::vector<objstore::PackRecord>& packs);

  // The names of the index files loaded so far.
  Result<std::set<std::string>> LoadedIndexFiles() const;

  // Calls fn for every blob, in id order, inside one read transaction.
  Status ForEachBlob(const std::function<void(const ObjectId&, const BlobLocation&)>& fn) const;

  // Snapshot catalog: id -> whole snapshot file.
  Status PutSnapshot(const ObjectId& id, std::string_view file);
  Status RemoveSnapshot(const ObjectId& id);
  Result<std::vector<std::pair<ObjectId, std::string>>> Snapshots() const;
  // Snapshot ids whose hex form starts with `hex_prefix`.
  Result<std::vector<ObjectId>> SnapshotsWithPrefix(std::string_view hex_prefix) const;

  // Starts a read session (see ReadSession).
  Result<std::unique_ptr<ReadSession>> BeginRead() const;

  // Records the file-change cache entries `files` (source path -> entry) in
  // one transaction, replacing older entries of the same paths.
  Status PutFiles(const std::vector<std::pair<std::string, FileCacheEntry>>& files);

  // Blob ids whose hex form starts with `hex_prefix` (at most `limit`).
  Result<std::vector<ObjectId>> BlobsWithPrefix(std::string_view hex_prefix, size_t limit) const;

  // Drops every blob and every loaded-index-file mark (not the catalog).
  Status ClearBlobs();

 private:
  struct Impl;
  explicit Index(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cairn::index
