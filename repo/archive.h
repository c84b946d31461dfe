// SPDX-License-Identifier: MIT
//
// Archive: old snapshots move to a second repository (docs/cli.md#archive).
// PlanArchive chooses them, CopySnapshots (repo/copy.h) copies them,
// VerifyCopies reads every copied file back from the archive and compares
// it with the source, and only then does the caller forget them here
// (ApplyForget, to the trash).

#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "repo/copy.h"
#include "repo/repository.h"

namespace cairn::repo {

struct ArchiveRequest {
  int64_t cutoff_ns = 0;  // snapshots taken before this time may go
  size_t keep_min = 10;   // this many of the newest snapshots always stay here
};

struct ArchiveDecision {
  ObjectId id;
  Snapshot snapshot;
  bool archive = false;
  std::string reason;  // why it stays or goes ("older than the cutoff", "a tag points at it: v1", …)
};

struct ArchivePlan {
  std::vector<ArchiveDecision> decisions;  // every snapshot, newest first
  std::vector<ObjectId> archive;           // the ones to archive, oldest first
};

// Decides, changing nothing: a snapshot goes when it is older than the
// cutoff, is not one of the keep_min newest, and no branch or tag points
// at it (those stay: move or delete the ref first).
Result<ArchivePlan> PlanArchive(const Repository& src, const ArchiveRequest& req);

struct VerifyReport {
  uint64_t snapshots = 0, files = 0, bytes = 0;
};

// For each pair (source snapshot, its copy in `dst`): the copy's metadata
// (time, host, user, paths, branch, message), every folder's entries (name,
// type, mode, owner, mtime, size, link target, device) and every file's
// content, read from `dst` (each chunk verified against its id there) and
// from `src`, must be the same. Corruption naming the snapshot and path of
// the first difference. Files and folders met again are not read again.
Result<VerifyReport> VerifyCopies(const Repository& src, const Repository& dst,
                                  const std::vector<CopiedSnapshot>& pairs, std::atomic<uint64_t>* bytes_done);

}  // namespace cairn::repo
