// SPDX-License-Identifier: MIT
//
// Reading a file and cutting it into chunks: the one loop that backup,
// diff against a live folder and hash-object share.

#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "objstore/chunker.h"
#include "objstore/core/object_id.h"
#include "objstore/core/status.h"
#include "objstore/id_hasher.h"

namespace cairn::objstore {

// Reads `fd` to its end, cuts the content into chunks, names each with
// `hasher`, and calls `emit(chunk, id)` for each, in order. `buf` is scratch space the caller
// keeps between calls (resized as needed). A failure of `emit` is returned
// as is; a read failure is returned with *read_error set.
Status ChunkFd(int fd, const ChunkerParams& params, const IdHasher& hasher, std::string* buf,
               const std::function<Status(std::string_view chunk, const ObjectId& id)>& emit,
               bool* read_error);

// Cuts content that arrives in pieces (the chunks of another repository,
// when copy re-chunks) into this chunker's chunks, exactly as ChunkFd would
// cut the whole: emit(chunk, id) per chunk, in order. Only the unfinished
// chunk is buffered (at most params.max_size bytes).
class ChunkStream {
 public:
  using Emit = std::function<Status(std::string_view chunk, const ObjectId& id)>;
  ChunkStream(const ChunkerParams& params, const IdHasher& hasher, Emit emit);
  // The next piece of content. A failure of `emit` is returned as is.
  Status Feed(std::string_view data);
  // Ends the content: emits the last, unfinished chunk.
  Status Finish();
  // Bytes fed so far.
  uint64_t bytes() const { return bytes_; }

 private:
  Chunker chunker_;
  const IdHasher& hasher_;
  Emit emit_;
  std::string tail_;  // the unfinished chunk's bytes, when it spans pieces
  uint64_t bytes_ = 0;
};

// The content id of a file: SHA-256 of the concatenation of its chunk ids
// (which the repository's IdHasher made, keyed or not).
// Two files have the same content id exactly when they have the same
// content (under one repository's chunker). Used by diff to detect renames
// and printed by hash-object and ls-tree; it is not stored.
ObjectId FileContentId(const std::vector<ObjectId>& chunks);

}  // namespace cairn::objstore
