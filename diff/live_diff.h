// SPDX-License-Identifier: MIT
//
// Diff of a restore point against a live folder ("what would a restore
// change", "what changed since"). Files whose size and mtime (ns) equal the
// snapshot's are taken as unchanged without being read; the others are read,
// chunked with the repository's chunker, named with its id hasher and
// compared by chunk ids.

#pragma once

#include <functional>
#include <string>

#include "diff/tree_diff.h"
#include "objstore/chunker.h"
#include "objstore/id_hasher.h"

namespace cairn::diff {

// Reports each change from tree `tree` (old side) to folder `dir` (new
// side), in path order. New-side entries carry metadata from lstat; their
// chunk lists are filled only for files that were read. Returns IOError if
// `dir` cannot be read.
Status DiffTreeDir(const TreeReader& reader, const ObjectId& tree, const std::string& dir,
                   const objstore::ChunkerParams& chunker, const objstore::IdHasher& hasher,
                   const DiffOptions& options,
                   const std::function<void(const Change&)>& fn, DiffStats* stats);

}  // namespace cairn::diff
