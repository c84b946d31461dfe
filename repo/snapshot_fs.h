// SPDX-License-Identifier: MIT
//
// SnapshotFs: the repository as a read-only file system, for `cairn mount`
// (docs/cli.md#mount). It knows nothing of FUSE: cli/cmd_mount.cc turns
// kernel requests into calls here, so the logic is tested without
// /dev/fuse (tests/unit/snapshot_fs_test.cc).
//
// Layout:
//   snapshots/ID/...        every snapshot, by full id (a folder)
//   latest                  symlink to snapshots/ID of `latest`
//   branches/NAME, tags/NAME, by-time/TIME   symlinks to ../snapshots/ID
//
// Inodes are handed out as names are looked up and dropped when the kernel
// forgets them (Forget), so the table holds what the kernel holds, never
// the whole snapshot. Decoded trees and chunks live in byte-bounded LRU
// caches. A file's chunks are read through the chunk cache: a read that
// continues the previous one fetches the next chunks in the background.
// Every call may come from many threads at once.

#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "repo/repository.h"

namespace cairn::repo {

// What stat(2) shows of one node.
struct FsAttr {
  uint64_t ino = 0;
  uint32_t mode = 0;  // file type and permission bits, as st_mode
  uint32_t uid = 0, gid = 0;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  uint32_t nlink = 1;
  uint64_t rdev = 0;
  // Inside a snapshot: never changes, so the kernel may cache it long. The
  // top folders and their symlinks change as snapshots come and go.
  bool immutable = false;
};

class SnapshotFs {
 public:
  struct Options {
    uint32_t uid = 0, gid = 0;  // owner of the top folders and symlinks
    // New snapshots, branches and tags are picked up when a top folder is
    // looked at, at most this often.
    std::chrono::milliseconds refresh{2000};
    size_t tree_cache_bytes = 32u << 20;
    size_t chunk_cache_bytes = 64u << 20;
    // Chunks fetched ahead of a sequential read.
    size_t readahead_chunks = 4;
    size_t fetch_threads = 2;
    // Where problems go (a damaged chunk, a refresh that failed).
    std::function<void(const std::string&)> log;
  };

  static constexpr uint64_t kRootIno = 1;

  SnapshotFs(Repository* repo, Options options);
  ~SnapshotFs();
  SnapshotFs(const SnapshotFs&) = delete;
  SnapshotFs& operator=(const SnapshotFs&) = delete;

  // Each returns 0 or a positive errno value.

  // Looks `name` up in folder `parent` and counts one reference to the
  // node found (the kernel's lookup count; Forget drops it).
  int Lookup(uint64_t parent, const std::string& name, FsAttr* out);
  void Forget(uint64_t ino, uint64_t n);
  int GetAttr(uint64_t ino, FsAttr* out);
  int ReadLink(uint64_t ino, std::string* out);

  // Folder listing: OpenDir takes the folder's entries as they are now
  // ("." and ".." first); ReadDir hands them out from index `offset`, each
  // with the index of the next. With `plus`, each entry comes with its
  // attributes and counts one reference when `emit` accepts it. `emit`
  // returns false when the caller's buffer is full.
  using DirEmit = std::function<bool(const std::string& name, const FsAttr& attr, bool counted, uint64_t next)>;
  int OpenDir(uint64_t ino, uint64_t* handle);
  int ReadDir(uint64_t handle, uint64_t offset, bool plus, const DirEmit& emit);
  void ReleaseDir(uint64_t handle);

  int Open(uint64_t ino, uint64_t* handle);
  // Up to `size` bytes at `offset` (fewer only at the end of the file).
  // EIO if a chunk is missing or damaged (logged once per open file):
  // never wrong bytes.
  int Read(uint64_t handle, uint64_t offset, size_t size, std::string* out);
  void Release(uint64_t handle);

  // For tests and the log: nodes the kernel holds, bytes cached.
  struct Stats {
    size_t nodes = 0;
    size_t tree_cache_bytes = 0, chunk_cache_bytes = 0;
    uint64_t chunk_fetches = 0, chunk_hits = 0, prefetches = 0, tree_prefetches = 0;
    uint64_t refreshes = 0;
  };
  Stats stats() const;

 private:
  enum class Kind { kRoot, kSnapshots, kBranches, kTags, kByTime, kLink, kSnapshotRoot, kEntry };
  // What a node keeps of its tree entry: no name, no owner names (the
  // table holds one node per name the kernel holds, so every byte counts).
  struct Meta {
    objstore::EntryType type = objstore::EntryType::kFile;
    uint32_t mode = 0, uid = 0, gid = 0;
    int64_t mtime_ns = 0;
    uint64_t size = 0, rdev = 0;
    ObjectId subtree;
    std::vector<ObjectId> chunks;
    std::string link_target;
  };
  static Meta ToMeta(objstore::TreeEntry e);
  struct NameHash {
    size_t operator()(const std::pair<uint64_t, std::string_view>& k) const {
      return std::hash<std::string_view>{}(k.second) ^ (k.first * 0x9e3779b97f4a7c15ull);
    }
  };
  struct Node {
    Kind kind = Kind::kEntry;
    uint64_t nlookup = 0;
    uint64_t scope = 0;     // key of the name table: the folder (top) or snapshot root (kEntry)
    std::string key;        // the name (top) or path within the snapshot (kEntry, "" for its root)
    ObjectId snapshot;      // kSnapshotRoot, kEntry
    uint64_t snap_ino = 0;  // kEntry: its snapshot's root
    Meta entry;             // kEntry, kSnapshotRoot (a folder: the root tree)
    std::string link;           // kLink: the target
    int64_t time_ns = 0;        // kLink: the snapshot's time
  };
  struct Top;  // the top folders as of the last refresh
  struct DirHandle;
  struct FileHandle;
  template <class T>
  class Lru;

  std::shared_ptr<const Top> CurrentTop(bool refresh);
  std::shared_ptr<const Top> BuildTop();
  FsAttr AttrOf(uint64_t ino, const Node& n) const;
  Result<std::shared_ptr<const objstore::Tree>> GetTree(const ObjectId& id);
  // The node of entry `e` at `path` in the snapshot rooted at `snap_ino`
  // (a hard link: the node of the file it names), made if new; counts a
  // reference if `count`. *attr gets its attributes.
  int EntryNode(uint64_t snap_ino, const ObjectId& snapshot, const std::string& path,
                const objstore::TreeEntry& e, bool count, FsAttr* attr);
  uint64_t TopNode(Kind kind, uint64_t folder, const std::string& name, const ObjectId& snapshot,
                   const std::string& link, int64_t time_ns, bool count, FsAttr* attr);
  int LookupTop(uint64_t parent, const std::string& name, bool count, FsAttr* out);
  Result<std::shared_ptr<const std::string>> Chunk(const ObjectId& id, uint64_t size_hint);
  void Prefetch(const ObjectId& id, uint64_t size_hint);
  // Queues the trees of the folders in `tree` (a folder just opened: its
  // subfolders are likely next).
  void PrefetchSubtrees(const objstore::Tree& tree);
  void FetchLoop();
  void Log(const std::string& msg) const;

  Repository* repo_;
  Options opts_;
  int64_t mount_time_ns_;
  // Shared by every read of the repository; taken exclusively to Refresh it.
  mutable std::shared_mutex repo_mu_;

  std::mutex refresh_mu_;  // one refresh at a time
  mutable std::mutex top_mu_;
  std::shared_ptr<const Top> top_;
  std::chrono::steady_clock::time_point refreshed_;

  mutable std::mutex nodes_mu_;
  std::unordered_map<uint64_t, Node> nodes_;
  // (folder or snapshot root, name or path) -> inode; the string_view
  // points into the node's own key (nodes do not move in an unordered_map).
  std::unordered_map<std::pair<uint64_t, std::string_view>, uint64_t, NameHash> names_;
  uint64_t next_ino_ = 100;

  std::mutex handles_mu_;
  std::unordered_map<uint64_t, std::shared_ptr<DirHandle>> dirs_;
  std::unordered_map<uint64_t, std::shared_ptr<FileHandle>> files_;
  uint64_t next_handle_ = 1;

  std::unique_ptr<Lru<objstore::Tree>> trees_;
  std::unique_ptr<Lru<std::string>> chunks_;

  std::mutex fetch_mu_;
  std::condition_variable fetch_cv_;
  std::deque<std::pair<ObjectId, uint64_t>> fetch_queue_;  // chunks, before trees
  std::deque<ObjectId> tree_queue_;
  bool stopping_ = false;
  std::vector<std::thread> fetchers_;

  mutable std::mutex stats_mu_;
  Stats stats_;
};

}  // namespace cairn::repo
