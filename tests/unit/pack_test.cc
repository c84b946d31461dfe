// SPDX-License-Identifier: MIT

#include "objstore/pack.h"

#include <catch2/catch.hpp>
#include <fstream>

#include "objstore/codec.h"
#include "objstore/compress.h"
#include "objstore/core/bytes.h"
#include "test_util.h"

namespace cairn::objstore {
namespace {

std::string MakePack(PackRecord* rec, std::vector<std::string>* blobs) {
  testing::TempDir dir;
  auto b = PackFileWriter::Create(dir.path()).value();
  for (int i = 0; i < 5; i++) {
    std::string data = testing::RandomData(1000 + 777 * static_cast<size_t>(i), "blob" + std::to_string(i));
    if (i % 2 == 0) data = std::string(3000, 'a') + data;  // compressible
    std::string z;
    bool zstd = CompressIfSmaller(data, 3, &z);
    REQUIRE(b->Add(Sha256(data), i == 4 ? BlobType::kTree : BlobType::kData, zstd ? kFlagZstd : 0,
                   zstd ? std::string_view(z) : std::string_view(data), static_cast<uint32_t>(data.size()))
                .ok());
    blobs->push_back(data);
  }
  *rec = b->Finish().value();
  std::ifstream in(b->path(), std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST_CASE("a pack's header lists its blobs and its id is the SHA-256 of the file", "[objstore][pack]") {
  PackRecord rec;
  std::vector<std::string> blobs;
  std::string pack = MakePack(&rec, &blobs);
  CHECK(rec.pack_id == Sha256(pack));
  CHECK(rec.pack_size == pack.size());
  auto entries = ParsePackHeader(pack, pack.size(), "p");
  REQUIRE(entries.ok());
  REQUIRE(entries->size() == 5);
  for (size_t i = 0; i < 5; i++) {
    const auto& e = (*entries)[i];
    CHECK(e.id == Sha256(blobs[i]));
    std::string_view stored(pack.data() + e.offset, e.stored_length);
    std::string plain = (e.flags & kFlagZstd) ? Decompress(stored, e.raw_length).value() : std::string(stored);
    CHECK(plain == blobs[i]);
  }
  CHECK((*entries)[4].type == BlobType::kTree);
  CHECK(((*entries)[0].flags & kFlagZstd) != 0);  // compressible blob was compressed
  CHECK(((*entries)[1].flags & kFlagZstd) == 0);  // random blob stored raw
}

TEST_CASE("a pack truncated at any length is reported as damaged, never misread", "[objstore][pack]") {
  PackRecord rec;
  std::vector<std::string> blobs;
  std::string pack = MakePack(&rec, &blobs);
  for (size_t len = 0; len < pack.size(); len++) {
    std::string t = pack.substr(0, len);
    auto entries = ParsePackHeader(t, t.size(), "p");
    REQUIRE_FALSE(entries.ok());
    CHECK(entries.status().code() == Code::kCorruption);
  }
}

TEST_CASE("every flipped byte in a pack's header or trailer is detected", "[objstore][pack]") {
  PackRecord rec;
  std::vector<std::string> blobs;
  std::string pack = MakePack(&rec, &blobs);
  auto entries = ParsePackHeader(pack, pack.size(), "p");
  REQUIRE(entries.ok());
  size_t data_end = entries->back().offset + entries->back().stored_length;
  for (size_t i = data_end; i < pack.size(); i++) {
    std::string bad = pack;
    bad[i] = static_cast<char>(bad[i] ^ 0x40);
    auto r = ParsePackHeader(bad, bad.size(), "p");
    CAPTURE(i);
    CHECK_FALSE(r.ok());
  }
  // A flip in the data section leaves the header valid but changes the id.
  std::string bad = pack;
  bad[10] ^= 1;
  CHECK(Sha256(bad) != rec.pack_id);
}

namespace {
// An index file as the repository writes and reads it: through the codec.
std::string EncodeIndexFile(const std::vector<PackRecord>& packs) {
  static auto hasher = NewSha256Hasher();
  return ObjectCodec(hasher.get(), 3).EncodeFile(FileType::kIndex, EncodeIndexPayload(packs), true);
}
Result<std::vector<PackRecord>> DecodeIndexFile(std::string_view file, const std::string& name) {
  static auto hasher = NewSha256Hasher();
  CAIRN_ASSIGN_OR_RETURN(std::string payload,
                         ObjectCodec(hasher.get(), 3).DecodeFile(file, FileType::kIndex, nullptr, name));
  return DecodeIndexPayload(payload, name);
}
}  // namespace

TEST_CASE("index files round-trip and reject damage", "[objstore][index-file]") {
  PackRecord rec;
  std::vector<std::string> blobs;
  MakePack(&rec, &blobs);
  std::string file = EncodeIndexFile({rec, rec});
  auto back = DecodeIndexFile(file, "i");
  REQUIRE(back.ok());
  REQUIRE(back->size() == 2);
  CHECK((*back)[1].pack_id == rec.pack_id);
  CHECK((*back)[1].entries.size() == rec.entries.size());
  CHECK((*back)[0].entries[3].offset == rec.entries[3].offset);
  for (size_t len = 0; len < file.size(); len++) {
    CHECK_FALSE(DecodeIndexFile(file.substr(0, len), "i").ok());
  }
  std::string bad = file;
  bad[5] = 9;  // another file type
  CHECK(DecodeIndexFile(bad, "i").status().code() == Code::kCorruption);
  bad = file;
  bad[4] = 2;  // a newer file version
  CHECK(DecodeIndexFile(bad, "i").status().code() == Code::kNotSupported);
}

TEST_CASE("a compressed file whose header lies about its size allocates nothing and is rejected",
          "[objstore][compress]") {
  std::string data(100000, 'q');
  std::string z;
  REQUIRE(CompressIfSmaller(data, 3, &z, ZstdFrame::kStandard));
  auto ok = DecompressBounded(z, 1 << 20);
  REQUIRE(ok.ok());
  CHECK(*ok == data);
  CHECK(DecompressBounded(z, 50000).status().code() == Code::kCorruption);  // over the limit
  CHECK(DecompressBounded(z.substr(0, z.size() - 5), 1 << 20).status().code() == Code::kCorruption);
  CHECK(DecompressBounded(z + "x", 1 << 20).status().code() == Code::kCorruption);
  // A frame header declaring 1.5 GiB followed by nothing: rejected quickly.
  std::string liar = z.substr(0, 4);                       // magic
  liar += static_cast<char>(0xa0);                          // 8-byte content size, single segment off
  liar += static_cast<char>(0x50);                          // window descriptor
  uint64_t huge = uint64_t{3} << 29;
  for (int i = 0; i < 8; i++) liar += static_cast<char>(huge >> (8 * i));
  CHECK(DecompressBounded(liar, uint64_t{2} << 30).status().code() == Code::kCorruption);
}

TEST_CASE("decompression is capped at the declared length", "[objstore][compress]") {
  std::string big(1 << 20, 'x');
  std::string z;
  REQUIRE(CompressIfSmaller(big, 3, &z));
  CHECK(Decompress(z, big.size()).ok());
  CHECK(Decompress(z, 1000).status().code() == Code::kCorruption);
  CHECK(Decompress(z, big.size() + 1).status().code() == Code::kCorruption);
  CHECK(Decompress("garbage", 7).status().code() == Code::kCorruption);
}

TEST_CASE("varints accept only the minimal encoding", "[objstore][bytes]") {
  std::string s;
  PutVarint(&s, 300);
  uint64_t v;
  Reader r(s);
  REQUIRE(r.GetVarint(&v));
  CHECK(v == 300);
  std::string nonminimal = "\x80\x00";
  Reader r2(nonminimal);
  CHECK_FALSE(r2.GetVarint(&v));
  std::string overflow(11, '\xff');
  Reader r3(overflow);
  CHECK_FALSE(r3.GetVarint(&v));
  for (int64_t x : {int64_t{0}, int64_t{-1}, int64_t{1}, INT64_MIN, INT64_MAX, int64_t{-1234567890123}}) {
    std::string t;
    PutSignedVarint(&t, x);
    Reader rr(t);
    int64_t y;
    REQUIRE(rr.GetSignedVarint(&y));
    CHECK(y == x);
  }
}

}  // namespace
}  // namespace cairn::objstore
