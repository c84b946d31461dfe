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
#include <map>
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

// The file-change cache is keyed by folder and name: the first 16 bytes of
// SHA-256 of the folder's absolute path, then the file's name (at most 255
// bytes), so a lookup needs the folder's key, never the file's full path.
using FolderKey = std::array<uint8_t, 16>;
FolderKey FileCacheFolderKey(std::string_view folder_path);
std::string FileCacheKey(const FolderKey& folder, std::string_view name);

// A long-lived read transaction for lookups on one thread (blob existence
// and the file-change cache). It sees the index as it was when it began.
// Not thread-safe; use one per thread. REQUIRES: the Index outlives it.
class ReadSession {
 public:
  virtual ~ReadSession() = default;
  // True if the index has blob `id`.
  virtual Result<bool> HasBlob(const ObjectId& id) = 0;
  // The cache entry for `key` (FileCacheKey), or std::nullopt.
  virtual Result<std::optional<FileCacheEntry>> GetFile(std::string_view key) = 0;
};

// --- Reference counts over the object graph (space accounting) ---
//
// A snapshot's root tree, a tree's subtrees and a file's chunks are edges of
// one DAG in which trees and chunks are shared. The index keeps, for every
// blob reachable from a counted root, how many references it has (from
// counted roots and from counted trees, every occurrence counting: a chunk
// listed twice in one file counts twice), and for every counted tree its
// children, so that what a snapshot holds alone is known without reading
// packs. Like everything here it is derived: empty tables are rebuilt by
// counting the roots again (repo/space.h).

// A blob with a count. Present exactly while count > 0.
struct RefNode {
  uint64_t count = 0;
  objstore::BlobType type = objstore::BlobType::kData;
};

// What one tree references, one id per occurrence, in entry order.
struct TreeChildren {
  std::vector<ObjectId> trees;   // subtrees of its directory entries
  std::vector<ObjectId> chunks;  // chunks of its file and hardlink entries
};

// A read transaction over the blob and reference tables: one consistent
// view of both. Not thread-safe; use one per thread. REQUIRES: the Index
// outlives it.
class RefReader {
 public:
  virtual ~RefReader() = default;
  // The count of blob `id`, or std::nullopt if it has none.
  virtual Result<std::optional<RefNode>> Node(const ObjectId& id) = 0;
  // The children of counted tree `tree`, or std::nullopt if it is not counted.
  virtual Result<std::optional<TreeChildren>> Children(const ObjectId& tree) = 0;
  // The root tree counted for `snapshot`, or std::nullopt.
  virtual Result<std::optional<ObjectId>> Root(const ObjectId& snapshot) = 0;
  // Where blob `id` lives (Index::Lookup in this view).
  virtual Result<std::optional<BlobLocation>> Lookup(const ObjectId& id) = 0;
  // Calls fn for every counted blob, in id order.
  virtual Status ForEachNode(const std::function<void(const ObjectId&, const RefNode&)>& fn) = 0;
};

// Loads the children of a tree from the repository (for CountRoot).
using TreeLoader = std::function<Result<TreeChildren>(const ObjectId& tree)>;

class Index {
 public:
  // Opens (creating if needed) the LMDB file at `path`. Returns Corruption if
  // the file exists but is not a usable LMDB of this version; the caller may
  // then delete it and open again.
  static Result<std::unique_ptr<Index>> Open(const std::string& path);
  // From now on a SIGBUS or SIGSEGV inside the mapping of an open index
  // (damage in LMDB's pages that sends a read outside the file) prints a
  // one-line error naming the file, removes it, and exits with exit_code.
  // Other faults go to the handler installed before, or kill as usual.
  static void ExitOnMapFault(int exit_code);
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
  // The file of one snapshot of the catalog; std::nullopt if it has none.
  Result<std::optional<std::string>> SnapshotFile(const ObjectId& id) const;
  // Snapshot ids whose hex form starts with `hex_prefix`.
  Result<std::vector<ObjectId>> SnapshotsWithPrefix(std::string_view hex_prefix) const;

  // Starts a read session (see ReadSession).
  Result<std::unique_ptr<ReadSession>> BeginRead() const;

  // Drops this process's mappings of the index file's pages (they stay in
  // the page cache; the next lookup maps what it needs again). LMDB reads
  // through a shared read-only mapping, and the kernel maps pages around
  // each one touched, so without this a backup's resident size grows with
  // the index, not with what it holds. Safe while other threads read.
  // Lookups call ReleaseMappedPages every so often, so a long run holds a
  // bounded part of the file mapped, whatever the index's size.
  void ReleaseMappedPages() const;
  // Counts one lookup (for ReleaseMappedPages); called by read sessions.
  void Looked() const;

  // Records the file-change cache entries `files` (FileCacheKey -> entry)
  // in one transaction, replacing older entries of the same keys.
  Status PutFiles(const std::vector<std::pair<std::string, FileCacheEntry>>& files);

  // Blob ids whose hex form starts with `hex_prefix` (at most `limit`).
  Result<std::vector<ObjectId>> BlobsWithPrefix(std::string_view hex_prefix, size_t limit) const;

  // Drops every blob and every loaded-index-file mark (not the catalog,
  // nor the reference counts: those depend on tree contents, which an id
  // fixes, not on where the blobs are stored).
  Status ClearBlobs();

  // Replaces the whole blob table and the loaded-index-file marks by
  // `files` (index file name -> its packs) in one transaction, so another
  // process reading meanwhile sees the old table or the new one, never an
  // empty or partial one (after a prune removed index files).
  Status ReplaceBlobs(const std::vector<std::pair<std::string, std::vector<objstore::PackRecord>>>& files);

  // --- Reference counts (see RefNode above) ---

  // Starts a read transaction over the blob and reference tables.
  Result<std::unique_ptr<RefReader>> BeginRefRead() const;

  // The roots counted: snapshot id -> root tree id.
  Result<std::map<ObjectId, ObjectId>> CountedRoots() const;

  // Counts root tree `tree` of snapshot `snapshot` and records the root, in
  // one write transaction: the tree gets one more reference; a tree that
  // had no count gets its children recorded (from `preloaded`, else
  // through `load`, which then runs inside the transaction) and each child
  // one more reference, down the DAG. Nothing happens if `snapshot` is
  // counted already with this tree; InvalidArgument if with another one.
  Status CountRoot(const ObjectId& snapshot, const ObjectId& tree,
                   const std::map<ObjectId, TreeChildren>& preloaded, const TreeLoader& load);

  // Uncounts the root of `snapshot` in one write transaction: its tree
  // loses one reference; a blob left with none is removed and, if a tree,
  // its children lose one each, down the DAG. Reads no pack. Nothing
  // happens if `snapshot` is not counted. Corruption if the counts are
  // out of step (a blob they need has none).
  Status UncountRoot(const ObjectId& snapshot);

  // Calls fn for every blob of the blob table that has no count, in id
  // order, inside one read transaction.
  Status ForEachUnreferencedBlob(const std::function<void(const ObjectId&, const BlobLocation&)>& fn) const;

  // --- What prune needs, at a cost proportional to the waste ---
  //
  // The index keeps a log of suspects: every blob of the blob table that
  // has no count is on it (a blob is appended when it enters the blob table
  // and when its count falls to 0, so a backup pays one append per new
  // blob; counting leaves it alone and CompactSuspects runs after), and
  // every copy of a blob besides the one Lookup returns (a blob stored
  // twice) is kept too.

  // The blob-table location of every blob that has no count, in id order.
  // The log is rewritten in the same write transaction with only those:
  // suspects found counted, or no longer in the blob table, leave it.
  Result<std::vector<BlobLocation>> Unreferenced();

  // The same rewrite of the log, without the answer: called after roots
  // were counted (repo/space.cc), while the counted blobs' pages are still
  // hot, so that a later prune reads a short log.
  Status CompactSuspects(std::vector<BlobLocation>* out = nullptr);

  // Calls fn for every copy of a blob other than the one Lookup returns,
  // in blob id order, inside one read transaction.
  Status ForEachDuplicate(const std::function<void(const BlobLocation&)>& fn) const;

  // Every known location of blob `id`: the one Lookup returns first, then
  // the other copies. Empty if the index does not have it.
  Result<std::vector<BlobLocation>> Copies(const ObjectId& id) const;

  // The loaded index files that name pack `pack_id`, in name order.
  Result<std::vector<std::string>> IndexFilesOf(const ObjectId& pack_id) const;

  // After index files `removed` were replaced by `added` (name -> its
  // packs) in the repository, brings the blob table up to date in one
  // write transaction instead of rebuilding it: forgets `removed`, loads
  // `added`, and for every pack of `dropped` that no loaded index file
  // names any more, forgets its blobs' locations there (a blob with another
  // copy keeps that one; one without any leaves the blob table).
  Status ReplaceIndexFiles(const std::vector<std::string>& removed,
                           const std::vector<std::pair<std::string, std::vector<objstore::PackRecord>>>& added,
                           const std::vector<objstore::PackRecord>& dropped);

  // Drops every count, child list and counted root.
  Status ClearRefs();

 private:
  struct Impl;
  explicit Index(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cairn::index
