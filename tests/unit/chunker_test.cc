// SPDX-License-Identifier: MIT

#include "objstore/chunker.h"

#include <catch2/catch.hpp>
#include <random>
#include <set>
#include <vector>

#include "test_util.h"

namespace cairn::objstore {
namespace {

std::vector<size_t> Cuts(const ChunkerParams& p, const std::string& data, const std::vector<size_t>& slices) {
  Chunker c(p);
  std::vector<size_t> out;
  size_t pos = 0, chunk_start = 0;
  size_t si = 0;
  const auto* bytes = reinterpret_cast<const uint8_t*>(data.data());
  while (pos < data.size()) {
    size_t len = std::min(slices[si++ % slices.size()], data.size() - pos);
    size_t off = 0;
    while (off < len) {
      bool cut;
      size_t used = c.Next(bytes + pos + off, len - off, &cut);
      off += used;
      if (cut) {
        out.push_back(pos + off);
        chunk_start = pos + off;
      }
    }
    pos += len;
  }
  if (chunk_start < data.size()) out.push_back(data.size());
  return out;
}

ChunkerParams TestParams() {
  ChunkerParams p;
  p.min_size = 2048;
  p.avg_size = 8192;
  p.max_size = 32768;
  for (int i = 0; i < 32; i++) p.seed[static_cast<size_t>(i)] = static_cast<uint8_t>(i);
  return p;
}

TEST_CASE("gear table is SHA-256 of seed and byte, as docs/format.md says", "[objstore][chunker]") {
  ChunkerParams p;  // zero seed
  Chunker c(p);
  // Values from tests/tools/fastcdc_ref.py (Python hashlib).
  CHECK(c.gear()[0] == 0xca5682ac319e9c7fULL);
  CHECK(c.gear()[255] == 0x6f0bcd79efa030acULL);
}

TEST_CASE("chunker cut points match the reference implementation", "[objstore][chunker]") {
  std::string data = testing::RandomData(1 << 20);
  auto cuts = Cuts(TestParams(), data, {data.size()});
  // Golden values from tests/tools/fastcdc_ref.py: 109 chunks.
  REQUIRE(cuts.size() == 109);
  CHECK(cuts[0] == 8641);
  CHECK(cuts[1] == 21100);
  CHECK(cuts[2] == 30181);
  CHECK(cuts[19] == 195362);
  CHECK(cuts[54] == 539943);
  CHECK(cuts[100] == 989144);
  CHECK(cuts[107] == 1042913);
  CHECK(cuts[108] == 1048576);
}

TEST_CASE("chunker boundaries do not depend on how the input is fed", "[objstore][chunker]") {
  std::string data = testing::RandomData(3 << 20, "feed");
  auto p = TestParams();
  auto whole = Cuts(p, data, {data.size()});
  CHECK(Cuts(p, data, {1}) == whole);
  CHECK(Cuts(p, data, {4095, 17, 1 << 16, 3}) == whole);
  std::mt19937 rng(42);
  std::vector<size_t> random_slices;
  for (int i = 0; i < 1000; i++) random_slices.push_back(1 + rng() % 50000);
  CHECK(Cuts(p, data, random_slices) == whole);
}

TEST_CASE("chunks respect the minimum and maximum sizes", "[objstore][chunker]") {
  auto p = TestParams();
  // Random data, and a run of zeros that never matches the mask.
  std::string data = testing::RandomData(2 << 20, "sizes") + std::string(200000, '\0');
  auto cuts = Cuts(p, data, {data.size()});
  size_t prev = 0;
  for (size_t i = 0; i < cuts.size(); i++) {
    size_t len = cuts[i] - prev;
    CHECK(len <= p.max_size);
    if (i + 1 < cuts.size()) CHECK(len >= p.min_size);
    prev = cuts[i];
  }
  // Average within a factor of two of the target on random data.
  double avg = static_cast<double>(2 << 20) / static_cast<double>(cuts.size());
  CHECK(avg > p.avg_size / 2.0);
  CHECK(avg < p.avg_size * 2.0);
}

TEST_CASE("an insertion changes only the chunks around it", "[objstore][chunker]") {
  auto p = TestParams();
  std::string a = testing::RandomData(1 << 20, "insert");
  std::string b = a.substr(0, 500000) + "inserted bytes!" + a.substr(500000);
  auto ca = Cuts(p, a, {a.size()});
  auto cb = Cuts(p, b, {b.size()});
  std::set<std::string> chunks_a;
  size_t prev = 0;
  for (size_t c : ca) {
    chunks_a.insert(a.substr(prev, c - prev));
    prev = c;
  }
  size_t shared = 0;
  prev = 0;
  for (size_t c : cb) {
    shared += chunks_a.count(b.substr(prev, c - prev));
    prev = c;
  }
  CHECK(shared >= cb.size() - 3);
}

TEST_CASE("different seeds cut differently", "[objstore][chunker]") {
  auto p = TestParams();
  auto q = p;
  q.seed[0] ^= 1;
  std::string data = testing::RandomData(1 << 20);
  CHECK(Cuts(p, data, {data.size()}) != Cuts(q, data, {data.size()}));
}

TEST_CASE("chunker parameters are validated", "[objstore][chunker]") {
  ChunkerParams p;
  CHECK(ValidChunkerParams(p));
  p.avg_size = 60000;  // not a power of two
  CHECK_FALSE(ValidChunkerParams(p));
  p = ChunkerParams();
  p.min_size = p.avg_size;
  CHECK_FALSE(ValidChunkerParams(p));
  p = ChunkerParams();
  p.max_size = 32 << 20;
  CHECK_FALSE(ValidChunkerParams(p));
}

}  // namespace
}  // namespace cairn::objstore
