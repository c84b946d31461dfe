// SPDX-License-Identifier: MIT
//
// Finding any object by what a user types: a snapshot, tree or chunk id or a
// unique id prefix (across all three), a revision, or REV:PATH (cat-file).

#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "objstore/core/object_id.h"
#include "objstore/core/status.h"
#include "repo/repository.h"

namespace cairn::repo {

struct Object {
  std::string type;  // snapshot, tree, chunk, file, symlink, fifo, chardev, blockdev
  uint64_t size = 0;  // a snapshot's file size; a blob's uncompressed size; a file's content length
  std::optional<ObjectId> id;      // snapshots, trees and chunks
  std::optional<TreeEntry> entry;  // for REV:PATH naming something other than a folder
};

// Ambiguous (listing the candidates) for a prefix that matches several
// objects; NotFound for nothing; InvalidArgument for a malformed revision.
Result<Object> FindObject(const Repository& r, const std::string& spec);

}  // namespace cairn::repo
