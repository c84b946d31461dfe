// SPDX-License-Identifier: MIT

#include "objstore/codec.h"

#include "objstore/compress.h"
#include "objstore/core/bytes.h"

namespace cairn::objstore {
namespace {

constexpr std::string_view kFileMagic = "CRNF";
constexpr uint8_t kFileVersion = 1;
// Standalone files are compressed at this level whatever the repository's
// blob level: they are small, and their bytes stay stable.
constexpr int kFileLevel = 3;
// Index files are at most this large uncompressed (about 40 million blobs);
// a larger declared size is damage, not data.
constexpr uint64_t kMaxFilePayload = uint64_t{2} << 30;

class Sha256IdHasher : public IdHasher {
 public:
  ObjectId Id(std::string_view data) const override { return Sha256(data); }
  const char* Name() const override { return "sha256"; }
};

}  // namespace

std::unique_ptr<IdHasher> NewSha256Hasher() { return std::make_unique<Sha256IdHasher>(); }

ObjectCodec::ObjectCodec(const IdHasher* hasher, int compression_level)
    : hasher_(hasher), level_(compression_level) {}

uint8_t ObjectCodec::EncodeBlob(std::string_view plaintext, std::string* scratch, std::string_view* stored) const {
  if (level_ > 0 && CompressIfSmaller(plaintext, level_, scratch)) {
    *stored = *scratch;
    return kFlagZstd;
  }
  *stored = plaintext;
  return 0;
}

Result<std::string> ObjectCodec::DecodeBlob(const PackEntry& e, std::string_view stored,
                                            const std::string& pack) const {
  return Open(e, stored, nullptr, pack);
}

Result<std::string> ObjectCodec::DecodeBlob(const PackEntry& e, std::string&& stored, const std::string& pack) const {
  return Open(e, stored, &stored, pack);
}

// `owned`, if not null, holds the bytes `stored` views and may be taken.
Result<std::string> ObjectCodec::Open(const PackEntry& e, std::string_view stored, std::string* owned,
                                      const std::string& pack) const {
  auto what = [&] {
    return std::string(BlobTypeName(e.type)) + " " + e.id.ShortHex() + " in pack '" + pack + "'";
  };
  std::string plain;
  if (e.flags & kFlagZstd) {
    auto out = Decompress(stored, e.raw_length);
    if (!out.ok()) return Status::Corruption(what() + " is damaged: " + out.status().message());
    plain = std::move(out).value();
  } else {
    if (stored.size() != e.raw_length) {
      return Status::Corruption(what() + " is damaged: it has " + std::to_string(stored.size()) +
                                " bytes, not " + std::to_string(e.raw_length));
    }
    if (owned != nullptr) {
      plain = std::move(*owned);
    } else {
      plain.assign(stored);
    }
  }
  if (hasher_->Id(plain) != e.id) {
    return Status::Corruption(what() + " is damaged: its content does not match its id");
  }
  return plain;
}

ObjectCodec::PackCheck ObjectCodec::VerifyPack(std::string_view file, const ObjectId& pack_id,
                                              const std::string& name) const {
  PackCheck out;
  if (FileId(file) != pack_id) {
    out.errors.push_back("pack '" + name + "' is damaged: its content does not match its name");
  }
  auto entries = ParsePackFile(file, name);
  if (!entries.ok()) {
    out.errors.push_back(entries.status().message());
    return out;
  }
  for (const auto& e : *entries) {
    // ParsePackFile guarantees every blob lies inside the data section.
    auto plain = DecodeBlob(e, file.substr(e.offset, e.stored_length), name);
    if (plain.ok()) {
      out.blobs_verified++;
    } else {
      out.errors.push_back(plain.status().message());
    }
  }
  out.entries = std::move(entries).value();
  return out;
}

std::string ObjectCodec::EncodeFile(FileType type, std::string_view payload, bool compress) const {
  std::string z;
  bool zstd = compress && CompressIfSmaller(payload, kFileLevel, &z, ZstdFrame::kStandard);
  std::string out;
  out.reserve(kFileHeaderSize + (zstd ? z.size() : payload.size()));
  out.append(kFileMagic);
  PutU8(&out, kFileVersion);
  PutU8(&out, static_cast<uint8_t>(type));
  PutU8(&out, zstd ? kFileFlagZstd : 0);
  PutU64(&out, 0);  // key id: 0 in an unencrypted repository
  out.append(zstd ? std::string_view(z) : payload);
  return out;
}

ObjectId ObjectCodec::FileId(std::string_view file) const { return Sha256(file); }

Result<std::string> ObjectCodec::DecodeFile(std::string_view file, FileType type, const ObjectId* expected_id,
                                            const std::string& name) const {
  if (expected_id != nullptr && FileId(file) != *expected_id) {
    return Status::Corruption("'" + name + "' is damaged: its content does not match its name");
  }
  if (file.size() < kFileHeaderSize || file.substr(0, 4) != kFileMagic) {
    return Status::Corruption("'" + name + "' is not a cairn file (bad header; truncated?)");
  }
  uint8_t version = static_cast<uint8_t>(file[4]);
  uint8_t ftype = static_cast<uint8_t>(file[5]);
  uint8_t flags = static_cast<uint8_t>(file[6]);
  if (version != kFileVersion || (flags & ~kFileFlagZstd) != 0 || DecodeU64(file.data() + 7) != 0) {
    return Status::NotSupported("'" + name + "' uses a file format this cairn does not know; upgrade cairn");
  }
  if (ftype != static_cast<uint8_t>(type)) {
    return Status::Corruption("'" + name + "' holds the wrong kind of file");
  }
  std::string_view payload = file.substr(kFileHeaderSize);
  if (!(flags & kFileFlagZstd)) return std::string(payload);
  auto plain = DecompressBounded(payload, kMaxFilePayload);
  if (!plain.ok()) return Status::Corruption("'" + name + "' is damaged: " + plain.status().message());
  return plain;
}

}  // namespace cairn::objstore
