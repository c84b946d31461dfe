// SPDX-License-Identifier: MIT
//
// BlobWriter: one writing session (a backup). It deduplicates blobs against
// the repository and against itself, compresses new ones on a pool of
// threads, appends them to packs (data and trees in separate packs, so tree
// reads stay local), writes each full pack, and records the packs in index
// files. Add() is safe to call from many threads.
//
// Durability: a blob is durable and findable once Flush() returns. Packs are
// written before the index file that names them, which is written before
// the local index learns of them.

#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_set>
#include <vector>

#include "objstore/pack.h"
#include "repo/repository.h"

namespace cairn::repo {

class BlobWriter {
 public:
  struct Stats {
    uint64_t new_chunks = 0;
    uint64_t new_trees = 0;
    uint64_t raw_bytes = 0;     // of new blobs, before compression
    uint64_t stored_bytes = 0;  // of new blobs, as stored in packs
    uint64_t packs = 0;
  };

  enum class Mode {
    kWrite,
    kDryRun,  // deduplicate and compress to count, but write nothing
  };

  // Starts `threads` compression workers (0: one per core).
  BlobWriter(Repository* repo, unsigned threads, Mode mode = Mode::kWrite);
  // Stops the workers. Blobs not flushed are dropped (and were never
  // referenced by an index file).
  ~BlobWriter();
  BlobWriter(const BlobWriter&) = delete;
  BlobWriter& operator=(const BlobWriter&) = delete;

  enum class Placement {
    kQueue,   // hand the blob to the compression pool (keeps cores busy on one big file)
    kInline,  // compress in the calling thread (no hand-off when every core has its own file)
  };

  // Stores `data` as blob `id` (REQUIRES: id == repo->codec().BlobId(data)) unless the
  // repository or this session already has it. Returns true if it is new.
  // After a failure, every later call returns that failure (sticky).
  Result<bool> Add(BlobType type, const ObjectId& id, std::string_view data,
                   Placement placement = Placement::kQueue);

  // True if Add(id) would store nothing: this session stores it, or the
  // repository has it and no pending prune condemned it. For callers that
  // would have to read or compute the blob's bytes first (copy).
  Result<bool> Has(const ObjectId& id);

  // Writes the partly filled packs and the index file. Returns the first
  // failure of the session, if any.
  Status Flush();

  Stats stats() const;
  // Blobs for which `fn` is true are stored even though the index has them
  // (prune copies live blobs out of packs it will delete). Set before the
  // first Add.
  void set_force_store(std::function<bool(const ObjectId&)> fn) { force_ = std::move(fn); }
  // The repository's id hasher, which names what is Add()ed.
  const objstore::IdHasher& hasher() const { return repo_->hasher(); }

 private:
  struct Job {
    BlobType type;
    ObjectId id;
    std::string data;
  };

  void Worker();
  void Store(BlobType type, const ObjectId& id, std::string_view data);
  Status WritePack(std::unique_ptr<objstore::PackFileWriter> pack);
  Status WriteIndexLocked(std::vector<objstore::PackRecord> records);
  void Fail(const Status& st);

  Repository* const repo_;
  const Mode mode_;
  const size_t pack_size_;

  mutable std::mutex mu_;  // pending_, error_, queue_, stats_
  std::condition_variable cv_work_, cv_space_, cv_idle_;
  std::unordered_set<ObjectId, ObjectIdHash> pending_;
  std::function<bool(const ObjectId&)> force_;
  Status error_;
  std::deque<Job> queue_;
  size_t queued_bytes_ = 0;
  size_t busy_ = 0;
  bool stop_ = false;
  Stats stats_;

  std::mutex pack_mu_;  // packs_: the open data pack and tree pack
  std::unique_ptr<objstore::PackFileWriter> packs_[2];

  std::mutex index_mu_;  // finished_
  std::vector<objstore::PackRecord> finished_;
  size_t finished_blobs_ = 0;  // entries in finished_

  std::vector<std::thread> workers_;
};

}  // namespace cairn::repo
