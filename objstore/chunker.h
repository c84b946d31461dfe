// SPDX-License-Identifier: MIT
//
// Content-defined chunking: FastCDC with normalized chunking (Xia et al.,
// 2016/2020). A 64-bit gear hash rolls over the input; a cut is made where
// the top bits of the hash are zero, with a harder mask before the average
// size and an easier one after it. The gear table comes from the
// repository's secret-free seed, so two repositories cut differently but one
// repository always cuts the same. See docs/format.md#chunking.
//
// A Chunker is a streaming state machine: the cut points depend only on the
// bytes, never on how they are split into calls. Not thread-safe; use one per
// thread (they are cheap to copy).

#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace cairn::objstore {

// Defaults chosen from measurements on the benchmark corpus (bench/README.md):
// 128 KiB on average keeps an edit inside a large state blob cheap (a few
// MB for 64 scattered 4 KiB writes and a 1 MiB insertion into 512 MiB) while
// compressing better and indexing fewer chunks than 64 KiB.
struct ChunkerParams {
  uint32_t min_size = 32 * 1024;
  uint32_t avg_size = 128 * 1024;  // must be a power of two
  uint32_t max_size = 512 * 1024;
  std::array<uint8_t, 32> seed{};
};

// Returns true if `p` is usable: 64 <= min < avg < max <= 16 MiB and avg a
// power of two.
bool ValidChunkerParams(const ChunkerParams& p);

class Chunker {
 public:
  // REQUIRES: ValidChunkerParams(params).
  explicit Chunker(const ChunkerParams& params);

  // Scans `data` as the continuation of the current chunk. If the chunk ends
  // inside `data`, returns the number of bytes of `data` that belong to it
  // and sets *cut; the chunker then starts a new chunk. Otherwise consumes
  // all of `data`, returns n and clears *cut. The caller ends the last chunk
  // itself at end of input.
  size_t Next(const uint8_t* data, size_t n, bool* cut);

  // Forgets the current chunk (start of a new file).
  void Reset() {
    pos_ = 0;
    hash_ = 0;
  }

  const std::array<uint64_t, 256>& gear() const { return gear_; }

 private:
  std::array<uint64_t, 256> gear_;
  uint64_t mask_small_;  // used before avg_size: more bits, harder to hit
  uint64_t mask_large_;  // used from avg_size on: fewer bits, easier to hit
  uint32_t min_, avg_, max_;
  uint32_t pos_ = 0;  // bytes of the current chunk seen so far
  uint64_t hash_ = 0;
};

}  // namespace cairn::objstore
