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

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "objstore/core/status.h"
#include "objstore/core/system.h"
#include "objstore/snapshot.h"
#include "objstore/tree.h"
#include "repo/backup.h"
#include "repo/exclude.h"

namespace cairn::repo {

struct Node {
  TreeEntry entry;
  // The absolute path on disk, kept only where it cannot be derived (the
  // top of each source, streams); SourcePath() builds the others from the
  // parent chain, which saves a path string per entry.
  std::string source;
  Node* parent = nullptr;
  std::vector<Node> children;
  Node* first_name = nullptr;  // for a hard link: the node of its first name
  Status error;                // set when the file could not be read
  uint64_t dev = 0, ino = 0;
  int64_t ctime_ns = 0;
  int fd = -1;                 // a source that is already open (stdin, a command's output)
  uint64_t files_under = 0;    // folders: files in the built tree, recursively
};

// The path of `n` on disk (for a stream: its name).
std::string SourcePath(const Node* n);

inline int64_t Ns(const struct timespec& ts) {
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}
inline bool FileLike(objstore::EntryType t) {
  return t == objstore::EntryType::kFile || t == objstore::EntryType::kHardlink;
}

// Files found by the walk, handed to the workers while the walk goes on.
class FileQueue {
 public:
  void Push(Node* n) {
    {
      std::lock_guard<std::mutex> l(mu_);
      q_.push_back(n);
    }
    cv_.notify_one();
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
    if (q_.empty()) return nullptr;
    Node* n = q_.front();
    q_.pop_front();
    *left = closed_ ? q_.size() : SIZE_MAX;
    return n;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Node*> q_;
  bool closed_ = false;
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
  // Entries that cannot be read are appended to *errors (and reported
  // through opts.on_error); every regular file found goes on *queue.
  Walker(const BackupOptions& opts, std::vector<objstore::SourceError>* errors, std::vector<ExcludeRule> rules,
         FileQueue* queue)
      : opts_(opts), errors_(errors), rules_(std::move(rules)), queue_(queue) {}

  // Fills `node` from `path`; `rel` is its path inside the snapshot, and
  // `root_dev` the device of the source it belongs to (--one-file-system).
  // Returns false if the entry is to be left out (unreadable, a socket).
  bool Visit(const std::string& path, const std::string& name, const std::string& rel, Node* node,
             dev_t root_dev);

  // Registers a file that is not in the walked tree (stdin, a command, SQLite).
  void AddFile(Node* n) { Found(n); }

  // The hard links found (second and later names), to be given the content
  // of their first name once every file is read.
  std::vector<Node*>& hardlinks() { return hardlinks_; }
  uint64_t dirs() const { return dirs_; }
  // The message of the last entry that could not be read.
  std::string last_error() const { return errors_->empty() ? "unknown error" : errors_->back().error; }

 private:
  void Error(const std::string& path, const std::string& what);
  // A regular file is complete once visited: the workers may start on it.
  void Found(Node* n) {
    if (opts_.progress) {
      opts_.progress->files_total++;
      opts_.progress->bytes_total += n->entry.size;
    }
    queue_->Push(n);
  }

  const BackupOptions& opts_;
  std::vector<objstore::SourceError>* errors_;
  std::vector<ExcludeRule> rules_;  // a stack: each folder's .cairnignore is popped on leaving it
  NameCache names_;
  // Pointers into Node::children stay valid: each vector is reserved before
  // it is filled and never grows afterwards.
  std::map<std::pair<dev_t, ino_t>, std::pair<std::string, Node*>> links_;
  std::vector<Node*> hardlinks_;
  FileQueue* queue_;
  uint64_t dirs_ = 0;
};

}  // namespace cairn::repo
