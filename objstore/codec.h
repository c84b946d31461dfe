// SPDX-License-Identifier: MIT
//
// The object codec: the one place where stored bytes are made from content
// and content is recovered from stored bytes. Every blob written into a
// pack, every standalone file (index files, snapshots) and every read of
// them goes through an ObjectCodec, and so does every content id (through
// its IdHasher). The blob writer, the repository's reads, check, repair and
// restore's verification all use it; none of them compresses, frames,
// checksums or hashes on its own.
//
//   blob:  plaintext --(zstd if smaller)--> stored bytes in a pack
//          id = hasher.Id(plaintext)
//   file:  payload --(zstd if asked and smaller)--> 15-byte header + payload
//          name = SHA-256 of the whole file (docs/format.md#file-header)
//
// In an encrypted repository (docs/format.md#sealed-objects) the codec
// also seals: every blob, pack header and file is sealed with the
// repository's keys after compression and opened (authenticated) before
// decompression, and the hasher is keyed (HMAC-SHA256). Callers do not
// change.

#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "objstore/core/object_id.h"
#include "objstore/core/status.h"
#include "objstore/id_hasher.h"
#include "objstore/keys.h"
#include "objstore/pack.h"

namespace cairn::objstore {

class ObjectCodec {
 public:
  // `hasher` (and `keys`, when not null: an encrypted repository) must
  // outlive the codec. `compression_level` is zstd's (0: store everything
  // raw).
  ObjectCodec(const IdHasher* hasher, int compression_level, const RepoKeys* keys = nullptr);

  const IdHasher& hasher() const { return *hasher_; }
  // The repository's keys; null when it is not encrypted.
  const RepoKeys* keys() const { return keys_; }
  ObjectId BlobId(std::string_view plaintext) const { return hasher_->Id(plaintext); }

  // --- Blobs in packs ---

  // Makes the stored form of blob `plaintext` of type `type` with id `id`
  // and returns its pack entry flags (kFlagZstd when compressed,
  // kFlagSealed when sealed). *stored views either `scratch` (which the
  // caller keeps between calls) or, when stored raw and unsealed,
  // `plaintext` itself: no copy. Thread-safe.
  uint8_t EncodeBlob(BlobType type, const ObjectId& id, std::string_view plaintext, std::string* scratch,
                     std::string_view* stored) const;

  // Recovers the plaintext of the blob described by `entry` from its stored
  // bytes and verifies it against entry.id. Corruption, naming the blob and
  // `pack` ("chunk 1a2b… in pack 'data/1a/…'"), if the bytes do not decode
  // or do not hash to the id. Thread-safe.
  Result<std::string> DecodeBlob(const PackEntry& entry, std::string_view stored,
                                 const std::string& pack) const;
  // The same for stored bytes the caller no longer needs: a blob stored raw
  // is returned without a copy.
  Result<std::string> DecodeBlob(const PackEntry& entry, std::string&& stored, const std::string& pack) const;

  // Verifies a whole pack file: its bytes against its name (`pack_id`), its
  // header, and every blob against its id. Returns the header's entries
  // (empty if the header is unreadable) and one message per problem.
  struct PackCheck {
    std::vector<PackEntry> entries;
    std::vector<std::string> errors;
    uint64_t blobs_verified = 0;
  };
  PackCheck VerifyPack(std::string_view file, const ObjectId& pack_id, const std::string& name) const;

  // --- Standalone files (index files, snapshots) ---

  // The whole file for `payload`: header, then the payload, compressed when
  // `compress` is set and that makes it smaller, and sealed in an encrypted
  // repository, bound to `context` (the logical name of a file whose name
  // is not its hash: refs).
  std::string EncodeFile(FileType type, std::string_view payload, bool compress,
                         std::string_view context = "") const;

  // The name a file is stored under: the SHA-256 of its bytes.
  ObjectId FileId(std::string_view file) const;

  // Verifies `file` against `expected_id` (the id its name says; skipped when
  // null, for bytes verified before, such as the local snapshot catalog),
  // checks its header and returns the payload. Corruption, naming `name`, for
  // a mismatch or damage; NotSupported for a newer version or unknown flags.
  Result<std::string> DecodeFile(std::string_view file, FileType type, const ObjectId* expected_id,
                                 const std::string& name, std::string_view context = "") const;

  // The pack header functions of pack.h with this codec's keys.
  Result<std::vector<PackEntry>> ReadPackHeader(Backend* backend, const std::string& name) const {
    return objstore::ReadPackHeader(backend, name, keys_);
  }

  // Where the key of a write-only host's pack comes from (format 3, full
  // keys): `fetch` reads pack `name`'s header (ReadPackHeader with a
  // pack_key). Each pack's key is fetched once and kept. Without a fetcher
  // such blobs do not decode.
  using PackKeyFetcher = std::function<Result<crypto::SecretBytes>(const std::string& pack)>;
  void set_pack_key_fetcher(PackKeyFetcher f) { fetch_pack_key_ = std::move(f); }

 private:
  Result<std::string> Open(const PackEntry& e, std::string_view stored, std::string* owned, const std::string& pack,
                           const crypto::SecretBytes* pack_key) const;
  Result<std::shared_ptr<const crypto::SecretBytes>> PackKey(const std::string& pack) const;

  const IdHasher* hasher_;
  int level_;
  const RepoKeys* keys_;
  PackKeyFetcher fetch_pack_key_;
  mutable std::mutex pack_keys_mu_;
  mutable std::map<std::string, std::shared_ptr<const crypto::SecretBytes>> pack_keys_;
};

}  // namespace cairn::objstore
