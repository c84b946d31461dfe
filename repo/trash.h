// SPDX-License-Identifier: MIT
//
// The trash: snapshots that forget or delete removed. Snapshot files are
// immutable and named by their hash, so a child's parent pointer cannot be
// changed; instead a removed snapshot leaves a record "trash/ID" that holds
// its whole snapshot file. While the record is in the trash, the
// snapshot's data is kept (prune treats it as a root) and `undelete` puts
// the file back. Once it expires and a prune purges it, the record stays
// as a tombstone: the snapshot's parents are still known, so walks of the
// graph (log, ~N, @{time}) go through it to the nearest kept ancestor.
// See docs/gc.md.

#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "objstore/codec.h"
#include "objstore/core/object_id.h"
#include "objstore/core/status.h"
#include "objstore/snapshot.h"

namespace cairn::repo {

struct TrashRecord {
  ObjectId id;                  // the snapshot's id
  std::string snapshot_file;    // its whole file, as it was in snapshots/ (verified against id)
  objstore::Snapshot snapshot;  // decoded from snapshot_file
  int64_t removed_ns = 0;       // when forget or delete moved it here
  int64_t expires_ns = 0;       // from then on prune may purge it
  int64_t purged_ns = 0;        // when a prune purged its data (0: still recoverable)
  std::string reason;           // "forget (keep-daily 7, ...)", "delete"
  std::string host, user;       // who removed it

  bool purged() const { return purged_ns != 0; }
};

// The backend name of a trash record.
std::string TrashName(const ObjectId& id);

// The file for `r` (framed, compressed and, in an encrypted repository,
// sealed by `codec`, bound to its name).
std::string EncodeTrashRecord(const objstore::ObjectCodec& codec, const TrashRecord& r);

// Opens a trash record file named `name` (trash/ID for `id`). `decode`
// opens the snapshot file it holds (verified against id). Corruption,
// naming the record, for any damage.
Result<TrashRecord> DecodeTrashRecord(const objstore::ObjectCodec& codec, std::string_view file, const ObjectId& id,
                                      const std::function<Result<objstore::Snapshot>(std::string_view)>& decode);

}  // namespace cairn::repo
