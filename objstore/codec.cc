// SPDX-License-Identifier: MIT

#include "objstore/codec.h"

#include "objstore/compress.h"
#include "objstore/core/bytes.h"
#include "objstore/crypto.h"

namespace cairn::objstore {
namespace {

constexpr std::string_view kFileMagic = "CRNF";
constexpr uint8_t kFileVersion = 1;
// Pack keys of write-only hosts' packs kept at once (ObjectCodec::PackKey).
constexpr size_t kMaxPackKeys = 1024;
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

class HmacIdHasher : public IdHasher {
 public:
  explicit HmacIdHasher(const RepoKeys* keys) : keys_(keys) {}
  ObjectId Id(std::string_view data) const override { return keys_->ContentId(data); }
  const char* Name() const override { return "hmac-sha256"; }

 private:
  const RepoKeys* keys_;
};

// A blob's AAD context: everything its pack entry says about it but where
// it lies, so a sealed blob opens only as the blob its entry describes.
std::string BlobContext(BlobType type, uint8_t flags, uint32_t raw_length, const ObjectId& id) {
  std::string c;
  PutU8(&c, static_cast<uint8_t>(type));
  PutU8(&c, flags);
  PutU32(&c, raw_length);
  c.append(id.view());
  return c;
}

}  // namespace

std::unique_ptr<IdHasher> NewSha256Hasher() { return std::make_unique<Sha256IdHasher>(); }
std::unique_ptr<IdHasher> NewHmacSha256Hasher(const RepoKeys* keys) { return std::make_unique<HmacIdHasher>(keys); }

ObjectCodec::ObjectCodec(const IdHasher* hasher, int compression_level, const RepoKeys* keys)
    : hasher_(hasher), level_(compression_level), keys_(keys) {}

uint8_t ObjectCodec::EncodeBlob(BlobType type, const ObjectId& id, std::string_view plaintext, std::string* scratch,
                                std::string_view* stored) const {
  if (keys_ == nullptr) {
    if (level_ > 0 && CompressIfSmaller(plaintext, level_, scratch)) {
      *stored = *scratch;
      return kFlagZstd;
    }
    *stored = plaintext;
    return 0;
  }
  thread_local std::string compressed;
  // A write-only key seals under its own pack key (RepoKeys::Seal does),
  // and says so in the flags, which the AAD binds.
  uint8_t flags = keys_->write_only() ? kFlagSealed | kFlagPackKey : kFlagSealed;
  std::string_view body = plaintext;
  if (level_ > 0 && CompressIfSmaller(plaintext, level_, &compressed)) {
    flags |= kFlagZstd;
    body = compressed;
  }
  scratch->clear();
  keys_->Seal(SealDomain::kBlob, BlobContext(type, flags, static_cast<uint32_t>(plaintext.size()), id), body, scratch);
  *stored = *scratch;
  return flags;
}

Result<std::string> ObjectCodec::DecodeBlob(const PackEntry& e, std::string_view stored,
                                            const std::string& pack) const {
  return Open(e, stored, nullptr, pack, nullptr);
}

Result<std::string> ObjectCodec::DecodeBlob(const PackEntry& e, std::string&& stored, const std::string& pack) const {
  return Open(e, stored, &stored, pack, nullptr);
}

Result<std::shared_ptr<const crypto::SecretBytes>> ObjectCodec::PackKey(const std::string& pack) const {
  {
    std::lock_guard<std::mutex> l(pack_keys_mu_);
    auto it = pack_keys_.find(pack);
    if (it != pack_keys_.end()) return it->second;
  }
  if (!fetch_pack_key_) return Status::Corruption("pack '" + pack + "' is under a pack key, which cannot be read here");
  CAIRN_ASSIGN_OR_RETURN(crypto::SecretBytes key, fetch_pack_key_(pack));
  auto shared = std::make_shared<const crypto::SecretBytes>(std::move(key));
  std::lock_guard<std::mutex> l(pack_keys_mu_);
  // Bounded: each key is a page-guarded allocation; a repository read from
  // end to end fetches each pack's key again at most once per 1024 packs.
  if (pack_keys_.size() >= kMaxPackKeys) pack_keys_.clear();
  return pack_keys_.emplace(pack, std::move(shared)).first->second;
}

// `owned`, if not null, holds the bytes `stored` views and may be taken.
// `pack_key`, if not null, is the key of the pack (VerifyPack read it).
Result<std::string> ObjectCodec::Open(const PackEntry& e, std::string_view stored, std::string* owned,
                                      const std::string& pack, const crypto::SecretBytes* pack_key) const {
  auto what = [&] {
    return std::string(BlobTypeName(e.type)) + " " + e.id.ShortHex() + " in pack '" + pack + "'";
  };
  if (((e.flags & kFlagSealed) != 0) != (keys_ != nullptr)) {
    return Status::Corruption(what() + (keys_ != nullptr ? " is not sealed, but the repository is encrypted"
                                                         : " is sealed, but the repository is not encrypted"));
  }
  std::string opened;
  if (keys_ != nullptr) {
    if (keys_->write_only()) {
      return Status::WriteOnly("cannot read " + what() +
                               ": the key in use is write-only (it can add backups, not read them); use a full key");
    }
    bool ok;
    const auto context = BlobContext(e.type, e.flags, e.raw_length, e.id);
    if (e.flags & kFlagPackKey) {
      if (!keys_->has_box()) {
        return Status::Corruption(what() + " claims a pack key, but this repository (format 2) has none");
      }
      std::shared_ptr<const crypto::SecretBytes> fetched;
      if (pack_key == nullptr) {
        auto k = PackKey(pack);
        if (!k.ok()) return k.status().WithContext("cannot read " + what());
        fetched = std::move(k).value();
        pack_key = fetched.get();
      }
      ok = keys_->OpenWith(*pack_key, SealDomain::kBlob, context, stored, &opened);
    } else {
      ok = keys_->Open(SealDomain::kBlob, context, stored, &opened);
    }
    if (!ok) {
      return Status::Corruption(what() + " is damaged: it does not authenticate (tampered with, or moved)");
    }
    stored = opened;
    owned = &opened;
  }
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
  crypto::SecretBytes pack_key;
  auto entries = ParsePackFile(file, name, keys_, &pack_key);
  if (!entries.ok()) {
    out.errors.push_back(entries.status().message());
    return out;
  }
  for (const auto& e : *entries) {
    // ParsePackFile guarantees every blob lies inside the data section.
    auto plain = Open(e, file.substr(e.offset, e.stored_length), nullptr, name,
                      pack_key.empty() ? nullptr : &pack_key);
    if (plain.ok()) {
      out.blobs_verified++;
    } else {
      out.errors.push_back(plain.status().message());
    }
  }
  out.entries = std::move(entries).value();
  return out;
}

std::string ObjectCodec::EncodeFile(FileType type, std::string_view payload, bool compress,
                                    std::string_view context) const {
  std::string z;
  bool zstd = compress && CompressIfSmaller(payload, kFileLevel, &z, ZstdFrame::kStandard);
  std::string_view body = zstd ? std::string_view(z) : payload;
  std::string out;
  out.reserve(kFileHeaderSize + body.size() + crypto::kSealOverhead);
  out.append(kFileMagic);
  PutU8(&out, kFileVersion);
  PutU8(&out, static_cast<uint8_t>(type));
  PutU8(&out, static_cast<uint8_t>((zstd ? kFileFlagZstd : 0) | (keys_ != nullptr ? kFileFlagSealed : 0)));
  PutU64(&out, keys_ != nullptr ? keys_->key_id() : 0);  // key id: 0 in an unencrypted repository
  if (keys_ == nullptr) {
    out.append(body);
    return out;
  }
  // AAD: the header (type, flags, key id) and the logical name.
  std::string aad = out;
  aad.append(context);
  keys_->Seal(SealDomain::kFile, aad, body, &out);
  return out;
}

ObjectId ObjectCodec::FileId(std::string_view file) const { return Sha256(file); }

Result<std::string> ObjectCodec::DecodeFile(std::string_view file, FileType type, const ObjectId* expected_id,
                                            const std::string& name, std::string_view context) const {
  if (expected_id != nullptr && FileId(file) != *expected_id) {
    return Status::Corruption("'" + name + "' is damaged: its content does not match its name");
  }
  if (file.size() < kFileHeaderSize || file.substr(0, 4) != kFileMagic) {
    return Status::Corruption("'" + name + "' is not a cairn file (bad header; truncated?)");
  }
  uint8_t version = static_cast<uint8_t>(file[4]);
  uint8_t ftype = static_cast<uint8_t>(file[5]);
  uint8_t flags = static_cast<uint8_t>(file[6]);
  uint64_t key_id = DecodeU64(file.data() + 7);
  if (version != kFileVersion || (flags & ~(kFileFlagZstd | kFileFlagSealed)) != 0) {
    return Status::NotSupported("'" + name + "' uses a file format this cairn does not know; upgrade cairn");
  }
  bool sealed = (flags & kFileFlagSealed) != 0;
  if (sealed != (keys_ != nullptr) || sealed != (key_id != 0)) {
    return Status::Corruption("'" + name + "' is damaged: " +
                              (keys_ != nullptr ? "it is not sealed, but the repository is encrypted"
                                                : "it is sealed, but the repository is not encrypted"));
  }
  if (ftype != static_cast<uint8_t>(type)) {
    return Status::Corruption("'" + name + "' holds the wrong kind of file");
  }
  std::string_view payload = file.substr(kFileHeaderSize);
  std::string opened;
  if (sealed) {
    if (key_id != keys_->key_id()) {
      return Status::Corruption("'" + name + "' is damaged: it is sealed under other keys (another repository's?)");
    }
    std::string aad(file.substr(0, kFileHeaderSize));
    aad.append(context);
    if (!keys_->Open(SealDomain::kFile, aad, payload, &opened)) {
      return Status::Corruption("'" + name + "' is damaged: it does not authenticate (tampered with, or moved)");
    }
    payload = opened;
  }
  if (!(flags & kFileFlagZstd)) return std::string(payload);
  auto plain = DecompressBounded(payload, kMaxFilePayload);
  if (!plain.ok()) return Status::Corruption("'" + name + "' is damaged: " + plain.status().message());
  return plain;
}

}  // namespace cairn::objstore
