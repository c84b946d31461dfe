// SPDX-License-Identifier: MIT
//
// The fixed keys of the sealed-bytes decoders in decoders.cc and of
// their seeds (sealed_seeds.cc): RepoKeys::Derive of a constant master for a
// constant repository id. Only inputs sealed under these keys get past
// authentication, so the seeds must be made with them.

#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "objstore/keys.h"

namespace cairn::fuzz {

// The secret of the key-file slots in the seeds (and the one the fuzz
// target tries on every decoded key-file slot).
inline constexpr std::string_view kKeyFileSecret = "cairn fuzz key-file secret, 32b.";
static_assert(kKeyFileSecret.size() == 32);

inline ObjectId FixedRepoId() {
  uint8_t raw[ObjectId::kSize];
  for (size_t i = 0; i < sizeof raw; i++) raw[i] = static_cast<uint8_t>(0xa0 + i);
  return ObjectId(raw);
}

inline const objstore::RepoKeys& FixedKeys() {
  static const std::unique_ptr<objstore::RepoKeys> keys = [] {
    uint8_t master[objstore::crypto::kKeySize];
    for (size_t i = 0; i < sizeof master; i++) master[i] = static_cast<uint8_t>(i + 1);
    return objstore::RepoKeys::Derive(objstore::crypto::SecretBytes(master, sizeof master), FixedRepoId(), 3);
  }();
  return *keys;
}

}  // namespace cairn::fuzz
