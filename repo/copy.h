// SPDX-License-Identifier: MIT
//
// Copy: snapshots from one repository into another (docs/cli.md#copy,
// docs/architecture.md#copy). Only what the target lacks is read and
// stored. When the two repositories name and cut content the same way
// (both unencrypted with the same chunker) blobs, trees and snapshots keep
// their ids; otherwise every file's content is cut again with the target's
// chunker and named with its hasher, trees are rebuilt, and each copied
// snapshot records the snapshot it came from ("copied_from"), so that a
// second run, or one after an interruption, copies nothing twice.
//
// Write order in the target is a backup's: packs, index file, then the
// snapshots (parents first). A copy killed at any point leaves at most
// packs that the next copy or backup takes in (AdoptPacksOfDeadBackups).

#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "repo/blob_writer.h"
#include "repo/repository.h"

namespace cairn::repo {

struct CopyOptions {
  // Snapshots of the source to copy; their ancestors that the target lacks
  // come too, parents before children.
  std::vector<ObjectId> snapshots;
  unsigned threads = 0;  // compression threads in the target; 0: one per core
  bool dry_run = false;  // say what would be copied; read no content, write nothing
  std::function<void(const std::string&)> on_warning;
  std::atomic<uint64_t>* bytes_done = nullptr;  // source content read so far (progress)
};

struct CopiedSnapshot {
  ObjectId source;  // its id in the source
  ObjectId target;  // its id in the target (== source when the id was kept; zero in a dry run)
  bool copied = false;  // false: the target had it already
};

struct CopyResult {
  // Every snapshot asked for and every ancestor looked at, parents first.
  std::vector<CopiedSnapshot> snapshots;
  bool rechunked = false;  // content was cut and named again (docs/architecture.md#copy)
  uint64_t blobs_read = 0, bytes_read = 0;  // source content read
  uint64_t files_rechunked = 0;
  BlobWriter::Stats written;
};

// Where a conversion reads trees and chunks from: a repository, or a
// bundle.
class CopySource {
 public:
  virtual ~CopySource() = default;
  virtual Result<Tree> ReadTree(const ObjectId& id) const = 0;
  virtual Result<std::string> ReadBlob(const ObjectId& id) const = 0;
};

// Converts trees, one snapshot's after another, from a source's naming to
// the target's, storing what the target lacks through `writer`. `rechunk`:
// cut every file again with the target's chunker (else chunks keep their
// ids). Iterative: the stack does not grow with folder depth.
class TreeConverter {
 public:
  TreeConverter(const CopySource& src, Repository* dst, BlobWriter* writer, bool rechunk, CopyResult* counters,
                std::atomic<uint64_t>* progress);
  ~TreeConverter();
  // The target's id of source tree `root`. `base_src`/`base_dst`: the root
  // trees of a snapshot the target already has, in the source's naming and
  // in the target (zero when there is none): files unchanged since it are
  // not cut again.
  Result<ObjectId> Convert(const ObjectId& root, const ObjectId& base_src, const ObjectId& base_dst);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// True if `a` and `b` name content with the same ids and cut it the same
// way: blobs and trees can move between them unchanged.
bool SameContentNaming(const Repository& a, const Repository& b);

// Copies o.snapshots (and missing ancestors) from `src` into `dst`.
// InvalidArgument if they are the same repository. A source snapshot,
// tree or blob that is damaged or missing stops the copy (Corruption,
// naming it); the snapshots copied before it stay.
Result<CopyResult> CopySnapshots(const Repository& src, Repository* dst, const CopyOptions& o);

// The target id of every snapshot of `dst`, by origin (SnapshotOrigin):
// how copy knows what the target already has.
Result<std::map<ObjectId, ObjectId>> SnapshotsByOrigin(const Repository& dst);

}  // namespace cairn::repo
