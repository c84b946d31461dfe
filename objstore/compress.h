// SPDX-License-Identifier: MIT
//
// zstd compression of single blobs. A blob is stored compressed only where
// that makes it smaller; decompression is capped at the length the index
// declares, so a hostile pack cannot inflate into unbounded memory.

#pragma once

#include <string>
#include <string_view>

#include "objstore/core/status.h"

namespace cairn::objstore {

// Blobs in packs are stored as bare frames: zstd's magicless format with no
// content size, since the pack entry already says both what the bytes are
// and how long they expand (docs/format.md#blob-ids-and-compression).
// Standalone files use standard frames, which carry their size.
enum class ZstdFrame { kStandard, kBare };

// Compresses `in` at `level` into *out. Returns true if the result is
// smaller than the input (then *out holds a zstd frame), false if the blob
// should be stored raw (then *out is unspecified). Thread-safe: each thread
// keeps its own zstd contexts.
bool CompressIfSmaller(std::string_view in, int level, std::string* out,
                       ZstdFrame frame = ZstdFrame::kBare);

// Decompresses the zstd frame `in`, which must expand to exactly
// `raw_length` bytes. Returns Corruption for a damaged frame or any other
// length.
Result<std::string> Decompress(std::string_view in, size_t raw_length, ZstdFrame frame = ZstdFrame::kBare);

// Decompresses the standard zstd frame `in` whose size is not known from a
// trusted source, growing the output as data actually comes out, up to
// `max_length` bytes. Corruption for a damaged frame, trailing bytes, or more
// output than allowed. A header that lies about the size allocates nothing.
Result<std::string> DecompressBounded(std::string_view in, size_t max_length);

}  // namespace cairn::objstore
