// SPDX-License-Identifier: MIT
//
// IdHasher: how a repository names content. Owned by the Repository and
// reached through its ObjectCodec; every chunk, tree and displayed content
// id is made by it, never by a free hash function.

#pragma once

#include <memory>
#include <string_view>

#include "objstore/core/object_id.h"

namespace cairn::objstore {

// Names content: the id of a chunk or tree is Id(its plaintext). Today plain
// SHA-256; keyed (HMAC-SHA256) in an encrypted repository, so that ids
// reveal nothing about content to whoever holds only the stored files.
// Thread-safe.
class IdHasher {
 public:
  virtual ~IdHasher() = default;
  virtual ObjectId Id(std::string_view data) const = 0;
  // "sha256" or "hmac-sha256" (the name recorded in docs and messages).
  virtual const char* Name() const = 0;
};

// The unkeyed SHA-256 hasher of unencrypted repositories.
std::unique_ptr<IdHasher> NewSha256Hasher();

class RepoKeys;
// The keyed hasher of encrypted repositories: HMAC-SHA256 under the id key.
// `keys` must outlive it.
std::unique_ptr<IdHasher> NewHmacSha256Hasher(const RepoKeys* keys);

}  // namespace cairn::objstore
