// SPDX-License-Identifier: MIT
//
// Snapshots: the commits of the version graph. Stored as canonical JSON
// (sorted keys, no white space) inside the common file header; the id is the
// SHA-256 of the whole file. See docs/format.md#snapshots.

#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "objstore/core/object_id.h"
#include "objstore/core/status.h"

namespace cairn::objstore {

struct SnapshotStats {
  uint64_t files = 0;
  uint64_t dirs = 0;
  uint64_t bytes = 0;           // logical bytes of file content
  uint64_t new_chunks = 0;
  uint64_t new_trees = 0;
  uint64_t added_raw_bytes = 0;  // bytes of new blobs before compression
  uint64_t added_bytes = 0;      // bytes of new blobs as stored
  uint64_t duration_ms = 0;
  // Against the parent snapshot (all files are new when there is none).
  uint64_t files_new = 0, files_changed = 0, files_unchanged = 0, files_deleted = 0;
  // The four counts above were not computed (a write-only key cannot read
  // the parent's trees): they are 0, and "counts_unknown" is in the JSON.
  bool counts_unknown = false;
  uint64_t files_read = 0;  // read from disk; the others came from the file-change cache
};

struct SourceError {
  std::string path;
  std::string error;
};

// The metadata of the folder a single-folder backup was taken of: the
// snapshot's root tree holds its content, this its own mode, owner and mtime
// (so a restore of the whole snapshot can give the target folder its old
// metadata). Absent for other backups, whose root is synthetic.
struct RootMeta {
  uint32_t mode = 0;
  uint32_t uid = 0, gid = 0;
  std::string user, group;
  int64_t mtime_ns = 0;
};

// The git commit a snapshot was imported from (`cairn git import`).
struct GitOrigin {
  std::string commit;  // lowercase hex
  std::string tree;    // the commit's tree id, lowercase hex
};

struct Snapshot {
  ObjectId tree;
  std::vector<ObjectId> parents;
  int64_t time_ns = 0;  // Unix time
  std::string host, user;
  std::vector<std::string> paths;  // absolute source paths
  std::string kind = "full";       // full | incremental | differential
  std::string branch;              // the lineage it was made on
  std::string message;
  SnapshotStats stats;
  std::vector<SourceError> errors;  // source files that could not be read
  std::vector<std::string> excludes;  // the exclusion rules the backup used
  std::string source = "files";       // files | stdin | command | sqlite | git
  std::optional<RootMeta> root;       // single-folder backups only
  // `cairn copy`: the snapshot this one is a copy of, as first made (its
  // id in the repository it was backed up into). Absent for originals and
  // for copies that kept their id.
  std::optional<ObjectId> copied_from;
  // `cairn git import`: the commit this snapshot was made from.
  std::optional<GitOrigin> git;
};

// The snapshot that `s` (stored under `id`) is a copy of or is: two
// snapshots with the same origin hold the same backup.
inline ObjectId SnapshotOrigin(const ObjectId& id, const Snapshot& s) {
  return s.copied_from ? *s.copied_from : id;
}

// The payload of a snapshot file: canonical JSON (ObjectCodec::EncodeFile
// frames it).
std::string EncodeSnapshotPayload(const Snapshot& s);
// Decodes the payload of a snapshot file. Corruption, naming `name`, if
// damaged; NotSupported for a newer snapshot version.
Result<Snapshot> DecodeSnapshotPayload(std::string_view payload, const std::string& name);

// Backend name of a snapshot file.
std::string SnapshotName(const ObjectId& id);

// "2026-11-21T22:12:46Z" (UTC, seconds).
std::string FormatTime(int64_t time_ns);

}  // namespace cairn::objstore
