// SPDX-License-Identifier: MIT

#include "objstore/core/object_id.h"

#include <openssl/evp.h>

namespace cairn {
namespace {

// One fetched SHA-256 implementation for the process: EVP_sha256() would
// make OpenSSL 3 look the provider up again on every call.
const EVP_MD* Sha256Md() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

bool IsHexPrefix(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (HexValue(c) < 0) return false;
  }
  return true;
}

bool IsFullHex(std::string_view s) { return s.size() == 2 * ObjectId::kSize && IsHexPrefix(s); }

Result<ObjectId> ObjectId::FromHex(std::string_view hex) {
  if (!IsFullHex(hex)) {
    return Status::InvalidArgument("'" + std::string(hex) +
                                   "' is not an object id (64 lowercase hex digits)");
  }
  ObjectId id;
  for (size_t i = 0; i < kSize; i++) {
    id.bytes_[i] = static_cast<uint8_t>(HexValue(hex[2 * i]) << 4 | HexValue(hex[2 * i + 1]));
  }
  return id;
}

std::string ObjectId::ToHex() const {
  static const char kDigits[] = "0123456789abcdef";
  std::string out(2 * kSize, '0');
  for (size_t i = 0; i < kSize; i++) {
    out[2 * i] = kDigits[bytes_[i] >> 4];
    out[2 * i + 1] = kDigits[bytes_[i] & 15];
  }
  return out;
}

bool ObjectId::IsZero() const {
  for (uint8_t b : bytes_) {
    if (b != 0) return false;
  }
  return true;
}

ObjectId Sha256(std::string_view data) {
  // One context per thread: EVP_Digest would allocate and free one per call,
  // which costs more than hashing a small chunk.
  struct Ctx {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ~Ctx() { EVP_MD_CTX_free(ctx); }
  };
  thread_local Ctx c;
  ObjectId id;
  unsigned int len = 0;
  EVP_DigestInit_ex(c.ctx, Sha256Md(), nullptr);
  EVP_DigestUpdate(c.ctx, data.data(), data.size());
  EVP_DigestFinal_ex(c.ctx, id.mutable_data(), &len);
  CAIRN_CHECK(len == ObjectId::kSize);
  return id;
}

Sha256Hasher::Sha256Hasher() : ctx_(EVP_MD_CTX_new()) {
  CAIRN_CHECK(ctx_ != nullptr);
  EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), Sha256Md(), nullptr);
}

Sha256Hasher::~Sha256Hasher() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }

void Sha256Hasher::Update(std::string_view data) {
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data.data(), data.size());
}

ObjectId Sha256Hasher::Finish() {
  ObjectId id;
  unsigned int len = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), id.mutable_data(), &len);
  CAIRN_CHECK(len == ObjectId::kSize);
  return id;
}

}  // namespace cairn
