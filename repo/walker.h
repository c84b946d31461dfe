// SPDX-License-Identifier: MIT
//
// The walk of a backup (internal to repo/backup*): one Node per entry of
// the sources, filled from lstat in the main thread, and the queue that
// hands each regular file to the file workers as soon as it is visited, so
// reading starts while the walk goes on. See docs/architecture.md, "The
// backup pipeline".

#pragma once

#include <sys/types.h>
#include <time.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "index/index.h"
#include "objstore/core/status.h"
#include "objstore/core/system.h"
#include "objstore/snapshot.h"
#include "objstore/tree.h"
#include "repo/backup.h"
#include "repo/blob_writer.h"
#include "repo/exclude.h"

namespace cairn::repo {

struct Node;

// A file with several names (hard links): what its first name read, for
// the later names, which may be found before or after it was read.
struct LinkInfo {
  std::mutex mu;
  bool done = false;
  Status error;
  uint64_t size = 0;
  std::vector<ObjectId> chunks;
  std::vector<Node*> waiters;  // later names found before the first was read
};

// A count that a vector of Nodes can hold (moved only before it is shared).
struct Pending {
  std::atomic<int64_t> n{0};
  Pending() = default;
  Pending(Pending&& o) noexcept : n(o.n.load(std::memory_order_relaxed)) {}
};

// One entry of the sources while its folder is open. A folder's children
// exist from the moment the walk lists it until its tree is stored; then
// they are freed (docs/architecture.md, "The backup pipeline"), so memory
// holds the folders on the walk's path and those with files in flight, not
// the whole tree.
struct Node {
  TreeEntry entry;
  // The absolute path on disk, kept only where it cannot be derived (the
  // top of each source, streams); SourcePath() builds the others from the
  // parent chain, which saves a path string per entry.
  std::string source;
  Node* parent = nullptr;
  std::vector<Node> children;
  // A regular file with more than one link: its first name publishes here
  // what it read; a later name (kHardlink) takes it from here.
  std::shared_ptr<LinkInfo> link;
  Status error;                // set when the file could not be read (it is left out)
  std::string warning;         // set when it was saved but changed while read (exit 3)
  uint64_t dev = 0, ino = 0;
  int64_t ctime_ns = 0;
  int fd = -1;                 // a source that is already open (stdin, a command's output)
  // Folders: the file-change cache key of the folder's path (its files'
  // keys are this and their names); set while it is listed.
  index::FolderKey dir_key{};
  bool has_dir_key = false;
  // Folders: entries not yet final, plus one while the walk lists the
  // folder. Whoever takes it to zero builds the folder's tree.
  Pending pending;
};

// The path of `n` on disk (for a stream: its name).
std::string SourcePath(const Node* n);
// The file-change cache key of file `n`: its folder's key and its name,
// without building its path where the folder has one.
std::string FileCacheKey(const Node* n);

inline int64_t Ns(const struct timespec& ts) {
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}
inline bool FileLike(objstore::EntryType t) { return objstore::CarriesContent(t); }

// Files found by the walk, handed to the workers while the walk goes on.
// Bounded, so that the walk cannot run ahead of the reading and hold the
// whole tree: when it is full, the walking thread reads a file itself.
class FileQueue {
 public:
  static constexpr size_t kCapacity = 1024;

  // False when the queue is full.
  bool TryPush(Node* n) {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (q_.size() >= kCapacity) return false;
      q_.push_back(n);
    }
    cv_.notify_one();
    return true;
  }
  void Close() {
    {
      std::lock_guard<std::mutex> l(mu_);
      closed_ = true;
    }
    cv_.notify_all();
  }
  // Blocks for the next file; nullptr once closed and empty. *left is the
  // number still queued, or SIZE_MAX while the walk is still adding files.
  Node* Pop(size_t* left) {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return !q_.empty() || closed_; });
    return Take(left);
  }
  // The next file if there is one, without waiting.
  Node* TryPop(size_t* left) {
    std::lock_guard<std::mutex> l(mu_);
    return Take(left);
  }

 private:
  Node* Take(size_t* left) {
    if (q_.empty()) return nullptr;
    Node* n = q_.front();
    q_.pop_front();
    *left = closed_ ? q_.size() : SIZE_MAX;
    return n;
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Node*> q_;
  bool closed_ = false;
};

// The entries that could not be read, from the walk and from the files'
// readers, reported through opts.on_error one at a time.
class ErrorLog {
 public:
  ErrorLog(const BackupOptions& opts, std::vector<objstore::SourceError>* errors) : opts_(opts), errors_(errors) {}
  void Add(const std::string& path, const std::string& what) {
    std::lock_guard<std::mutex> l(mu_);
    errors_->push_back({path, what});
    if (opts_.on_error) opts_.on_error(path, what);
  }
  // The message of the last one.
  std::string last() const {
    std::lock_guard<std::mutex> l(mu_);
    return errors_->empty() ? "unknown error" : errors_->back().error;
  }

 private:
  const BackupOptions& opts_;
  mutable std::mutex mu_;
  std::vector<objstore::SourceError>* errors_;
};

// Builds each folder's tree as soon as its last entry is final, stores it
// through the BlobWriter and frees the folder's entries; then the folder is
// final in its parent. Safe to use from every thread of the backup.
class TreeStreamer {
 public:
  TreeStreamer(BlobWriter* writer, ErrorLog* errors, bool keep_trees)
      : writer_(writer), errors_(errors), keep_trees_(keep_trees) {}

  // `n` (a file read, a later name given its content) is final.
  void Final(Node* n) { Release(n->parent); }
  // Drops one count of `dir` (an entry of it is final, or the walk is done
  // listing it); at zero, builds it, and so on up the parents.
  void Release(Node* dir);
  // A file with several names was read (or failed): the later names found
  // so far get its content and are final.
  void Publish(Node* first);

  bool root_done() const { return root_done_; }
  // The first failure to store a tree (the backup then fails).
  Status status() const {
    std::lock_guard<std::mutex> l(mu_);
    return error_;
  }
  uint64_t files() const { return files_; }
  uint64_t bytes() const { return bytes_; }
  // For a dry run, which stores nothing: the encoded trees built, by id.
  std::optional<std::string> KeptTree(const ObjectId& id) const;

 private:
  void Build(Node* dir);

  BlobWriter* const writer_;
  ErrorLog* const errors_;
  const bool keep_trees_;
  std::atomic<bool> root_done_{false};
  std::atomic<uint64_t> files_{0}, bytes_{0};
  mutable std::mutex mu_;  // error_, kept_
  Status error_;
  std::map<ObjectId, std::string> kept_;
};

// Reads a rules file (--exclude-file, .cairnignore) whose rules apply under
// the snapshot-relative folder `base`, appending them to *rules.
Status ReadRulesFile(const std::string& path, const std::string& base, std::vector<ExcludeRule>* rules);

// Owner and group names, looked up once per id.
class NameCache {
 public:
  const std::string& User(uid_t uid);
  const std::string& Group(gid_t gid);

 private:
  std::map<uid_t, std::string> users_;
  std::map<gid_t, std::string> groups_;
};

class Walker {
 public:
  // Entries that cannot be read go to *errors; every regular file found
  // goes on *queue (when it is full, `help` is called to read one queued
  // file in this thread); folders are finished through *trees.
  Walker(const BackupOptions& opts, ErrorLog* errors, std::vector<ExcludeRule> rules, FileQueue* queue,
         TreeStreamer* trees, std::function<void()> help)
      : opts_(opts), errors_(errors), rules_(std::move(rules)), queue_(queue), trees_(trees), help_(std::move(help)) {}

  enum class Visited {
    kOmitted,  // left out (unreadable, a socket): not an entry of its folder
    kFinal,    // complete now (symlink, device, a later name of a file already read, ...)
    kPending,  // a file queued, a folder, a later name waiting for its first: final later
  };
  // Fills `node` from `path`; `rel` is its path inside the snapshot, and
  // `root_dev` the device of the source it belongs to (--one-file-system).
  // A folder is listed whole, its entries visited and its tree released to
  // the TreeStreamer.
  Visited Visit(const std::string& path, const std::string& name, const std::string& rel, Node* node,
                dev_t root_dev);

  // Visits `path` as a new entry of the folder `dir`, which the caller is
  // listing (dir->pending holds one for the listing until the caller
  // releases it through the TreeStreamer).
  void Child(Node* dir, const std::string& path, const std::string& name, const std::string& rel, dev_t root_dev);

  // Registers a file that is not in the walked tree (stdin, a command, SQLite).
  void AddFile(Node* n) { Found(n); }

  uint64_t dirs() const { return dirs_; }
  // The message of the last entry that could not be read.
  std::string last_error() const { return errors_->last(); }

 private:
  void Error(const std::string& path, const std::string& what) { errors_->Add(path, what); }
  // A regular file is complete once visited: the workers may start on it.
  void Found(Node* n) {
    if (opts_.progress) {
      opts_.progress->files_total++;
      opts_.progress->bytes_total += n->entry.size;
    }
    while (!queue_->TryPush(n)) help_();
  }

  const BackupOptions& opts_;
  ErrorLog* errors_;
  std::vector<ExcludeRule> rules_;  // a stack: each folder's .cairnignore is popped on leaving it
  NameCache names_;
  // Files with several links: the path of the first name in the snapshot,
  // and what it read.
  std::map<std::pair<dev_t, ino_t>, std::pair<std::string, std::shared_ptr<LinkInfo>>> links_;
  FileQueue* queue_;
  TreeStreamer* trees_;
  std::function<void()> help_;
  uint64_t dirs_ = 0;
};

}  // namespace cairn::repo
