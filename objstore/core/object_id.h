// SPDX-License-Identifier: MIT
//
// ObjectId: the 32-byte SHA-256 name of every object, pack and file in a
// repository, and the SHA-256 functions that make it (OpenSSL EVP, which
// uses the CPU's SHA instructions).

#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>

#include "objstore/core/status.h"

namespace cairn {

class ObjectId {
 public:
  static constexpr size_t kSize = 32;

  ObjectId() { bytes_.fill(0); }
  explicit ObjectId(const uint8_t* raw) { std::memcpy(bytes_.data(), raw, kSize); }

  // Parses 64 lowercase hex characters. Anything else is InvalidArgument.
  static Result<ObjectId> FromHex(std::string_view hex);

  std::string ToHex() const;
  // The first 12 hex characters, for display.
  std::string ShortHex() const { return ToHex().substr(0, 12); }

  const uint8_t* data() const { return bytes_.data(); }
  uint8_t* mutable_data() { return bytes_.data(); }
  std::string_view view() const {
    return {reinterpret_cast<const char*>(bytes_.data()), kSize};
  }
  bool IsZero() const;

  friend bool operator==(const ObjectId& a, const ObjectId& b) { return a.bytes_ == b.bytes_; }
  friend bool operator!=(const ObjectId& a, const ObjectId& b) { return a.bytes_ != b.bytes_; }
  friend bool operator<(const ObjectId& a, const ObjectId& b) { return a.bytes_ < b.bytes_; }

 private:
  std::array<uint8_t, kSize> bytes_;
};

struct ObjectIdHash {
  size_t operator()(const ObjectId& id) const {
    size_t h;
    std::memcpy(&h, id.data(), sizeof(h));  // already uniformly distributed
    return h;
  }
};

// SHA-256 of `data`. Thread-safe.
ObjectId Sha256(std::string_view data);

// Incremental SHA-256, for data that arrives in pieces (whole pack files).
class Sha256Hasher {
 public:
  Sha256Hasher();
  ~Sha256Hasher();
  Sha256Hasher(const Sha256Hasher&) = delete;
  Sha256Hasher& operator=(const Sha256Hasher&) = delete;

  void Update(std::string_view data);
  ObjectId Finish();

 private:
  void* ctx_;  // EVP_MD_CTX*
};

// True if `s` consists of 64 lowercase hex digits.
bool IsFullHex(std::string_view s);
// True if `s` is non-empty and consists of lowercase hex digits only.
bool IsHexPrefix(std::string_view s);

}  // namespace cairn
