// SPDX-License-Identifier: MIT

#include "objstore/chunker.h"

#include <map>
#include <mutex>
#include <string>

#include "objstore/core/object_id.h"

namespace cairn::objstore {
namespace {

int Log2(uint32_t v) {
  int n = 0;
  while (v > 1) {
    v >>= 1;
    n++;
  }
  return n;
}

// A mask of the `bits` most significant bits. With the left-shifting gear
// hash, bit k depends on the last k+1 bytes, so the top bits see a window of
// about 64 - bits bytes, the most any bit sees.
uint64_t TopBits(int bits) { return bits <= 0 ? 0 : ~uint64_t{0} << (64 - bits); }

}  // namespace

bool ValidChunkerParams(const ChunkerParams& p) {
  return p.min_size >= 64 && p.min_size < p.avg_size && p.avg_size < p.max_size &&
         p.max_size <= 16 * 1024 * 1024 && (p.avg_size & (p.avg_size - 1)) == 0;
}

namespace {

// gear[i] = first 8 bytes, little-endian, of SHA-256(seed || byte i).
std::array<uint64_t, 256> MakeGear(const std::array<uint8_t, 32>& seed) {
  std::array<uint64_t, 256> gear;
  std::string buf(reinterpret_cast<const char*>(seed.data()), seed.size());
  buf.push_back(0);
  for (int i = 0; i < 256; i++) {
    buf.back() = static_cast<char>(i);
    ObjectId h = Sha256(buf);
    uint64_t v = 0;
    for (int b = 7; b >= 0; b--) v = (v << 8) | h.data()[b];
    gear[static_cast<size_t>(i)] = v;
  }
  return gear;
}

// A chunker is made for every file; the table is made once per seed.
const std::array<uint64_t, 256>& GearFor(const std::array<uint8_t, 32>& seed) {
  static std::mutex mu;
  static std::map<std::array<uint8_t, 32>, std::array<uint64_t, 256>> tables;
  std::lock_guard<std::mutex> l(mu);
  auto it = tables.find(seed);
  if (it == tables.end()) it = tables.emplace(seed, MakeGear(seed)).first;
  return it->second;  // std::map nodes never move
}

}  // namespace

Chunker::Chunker(const ChunkerParams& params)
    : gear_(GearFor(params.seed)), min_(params.min_size), avg_(params.avg_size), max_(params.max_size) {
  CAIRN_CHECK(ValidChunkerParams(params));
  // Normalization level 2: two bits harder before avg, two easier after.
  int bits = Log2(avg_);
  mask_small_ = TopBits(bits + 2);
  mask_large_ = TopBits(bits - 2);
}

size_t Chunker::Next(const uint8_t* data, size_t n, bool* cut) {
  size_t i = 0;
  // The first min_ bytes of a chunk are never hashed (FastCDC's cut-point
  // skipping); the hash starts from zero at min_.
  if (pos_ < min_) {
    size_t skip = min_ - pos_;
    if (skip >= n) {
      pos_ += static_cast<uint32_t>(n);
      *cut = false;
      return n;
    }
    i = skip;
    pos_ = min_;
  }
  uint64_t h = hash_;
  // Phase 1 (pos_ < avg_) uses the harder mask, phase 2 the easier one; a
  // chunk that reaches max_ is cut there.
  while (i < n) {
    uint64_t mask = pos_ < avg_ ? mask_small_ : mask_large_;
    uint32_t phase_end = pos_ < avg_ ? avg_ : max_;
    size_t avail = n - i;
    size_t steps = phase_end - pos_;
    if (steps > avail) steps = avail;
    const size_t stop = i + steps;
    for (; i < stop; i++) {
      h = (h << 1) + gear_[data[i]];
      if (!(h & mask)) {
        *cut = true;
        Reset();
        return i + 1;
      }
    }
    pos_ += static_cast<uint32_t>(steps);
    if (pos_ == max_) {
      *cut = true;
      Reset();
      return i;
    }
  }
  hash_ = h;
  *cut = false;
  return n;
}

}  // namespace cairn::objstore
