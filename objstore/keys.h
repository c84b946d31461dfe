// SPDX-License-Identifier: MIT
//
// The keys of an encrypted repository (docs/security.md#keys):
//
//   master secret (32 random bytes, made at init, never changes)
//     HKDF-SHA256(master, salt = repo id, info = "cairn/v2/<purpose>") ->
//       enc      XChaCha20-Poly1305 key of every sealed object
//       id       HMAC-SHA256 key of every content id
//       chunker  the seed of the chunker's gear table
//       config   HMAC-SHA256 key authenticating the public config
//       names    HMAC-SHA256 key making ref file names opaque
//       meta     (format 3) XChaCha20-Poly1305 key of index files,
//                snapshots, refs, audit entries and slot infos; format 2:
//                the enc key
//       box      (format 3) the seed of an X25519 key pair; the public key
//                is in the config, pack keys of write-only hosts are
//                sealed to it
//
// and the key slots, one per password or key file (keys/<slot id>,
// docs/format.md#key-slots): a full slot wraps the master secret, a
// write-only slot (format 3) only id, chunker, config, names, meta and the
// box public key. A write-only process seals its blobs and pack headers
// under a random pack key of its own, stored in each pack sealed to the box
// public key, and forgets it when it ends: it can add packs, index files,
// snapshots and refs, and read the index, snapshots and refs, but no
// chunk or tree (docs/security.md#write-only-host-keys).

#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "objstore/core/object_id.h"
#include "objstore/core/status.h"
#include "objstore/crypto.h"

namespace cairn::objstore {

// What a sealed object is; the first byte after "cairn2" in every AAD, so a
// sealed object of one kind never opens as another.
enum class SealDomain : uint8_t {
  kBlob = 1,        // a chunk or tree in a pack
  kPackHeader = 2,  // the header of a pack
  kFile = 3,        // an index file, snapshot or ref (the file header says which)
  kSlotInfo = 4,    // the host/user/created of a key slot
};

// What a key slot gives: everything, or writing only.
enum class SlotAccess { kFull, kWriteOnly };
const char* SlotAccessName(SlotAccess a);  // "full", "write-only"

// The bytes a write-only slot wraps: id | chunker | config | names | meta |
// box public key, 32 each.
inline constexpr size_t kWriteOnlyMaterialSize = 6 * crypto::kKeySize;

class RepoKeys {
 public:
  // Derives every key from `master` (32 bytes) for repository `repo_id`;
  // `format` 3 has its own meta key and the box key pair, format 2 neither.
  static std::unique_ptr<RepoKeys> Derive(const crypto::SecretBytes& master, const ObjectId& repo_id, int format = 2);
  // The keys of a write-only slot from the bytes it wraps (WriteOnlyMaterial),
  // with a fresh random pack key for this process.
  static std::unique_ptr<RepoKeys> FromWriteOnly(const crypto::SecretBytes& material, const ObjectId& repo_id);

  // The master secret (empty for write-only keys).
  const crypto::SecretBytes& master() const { return master_; }
  bool write_only() const { return write_only_; }
  // Format 3 keys: a box public key (in the config), write-only slots possible.
  bool has_box() const { return !box_public_.empty(); }
  const std::string& box_public_key() const { return box_public_; }
  // What a slot of `access` wraps: the master secret, or the write-only
  // material. Full keys only (and format 3 for kWriteOnly).
  crypto::SecretBytes SlotSecret(SlotAccess access) const;

  // Write-only keys: this process's pack key sealed to the box public key
  // (crypto_box_seal, 80 bytes), stored in every pack it writes.
  const std::string& boxed_pack_key() const { return boxed_pack_key_; }
  // Full format 3 keys: the pack key inside `boxed`; false if it does not
  // open (damage, or not this repository's).
  bool OpenPackKey(std::string_view boxed, crypto::SecretBytes* out) const;
  // Open under an explicit data key (a write-only pack's key).
  bool OpenWith(const crypto::SecretBytes& key, SealDomain d, std::string_view context, std::string_view sealed,
                std::string* out) const;

  const crypto::SecretBytes& id_key() const { return id_; }
  // HMAC-SHA256 under the id key: every content id.
  ObjectId ContentId(std::string_view data) const { return id_mac_->Mac(data); }
  const crypto::SecretBytes& chunker_seed() const { return chunker_; }
  const ObjectId& repo_id() const { return repo_id_; }
  // A public fingerprint of the keys (8 bytes of HMAC(meta, "key id")),
  // written into file headers so that a file sealed under other keys
  // is named as such rather than as damage.
  uint64_t key_id() const { return key_id_; }

  // Seals `plaintext` (appending nonce | ciphertext | tag to *out) with
  // AAD = "cairn2" | domain | repo id | context, under the meta key (files,
  // slot infos) or the enc key (blobs, pack headers; a write-only process's
  // own pack key).
  void Seal(SealDomain d, std::string_view context, std::string_view plaintext, std::string* out) const;
  // False unless `sealed` authenticates with the same domain and context.
  bool Open(SealDomain d, std::string_view context, std::string_view sealed, std::string* out) const;

  // HMAC-SHA256 under the config key / the names key.
  ObjectId ConfigMac(std::string_view data) const { return crypto::HmacSha256(config_, data); }
  ObjectId NameMac(std::string_view data) const { return crypto::HmacSha256(names_, data); }

 private:
  RepoKeys() = default;
  std::string Aad(SealDomain d, std::string_view context) const;

  const crypto::SecretBytes& KeyFor(SealDomain d) const;
  void Finish();  // id mac and key id from the keys set

  crypto::SecretBytes master_, enc_, id_, chunker_, config_, names_, meta_, box_secret_;
  std::string box_public_, boxed_pack_key_;
  bool write_only_ = false;
  std::unique_ptr<crypto::HmacSha256Key> id_mac_;
  ObjectId repo_id_;
  uint64_t key_id_ = 0;
};

// --- Key slots ---

enum class SlotKind { kPassword, kKeyFile };
const char* SlotKindName(SlotKind k);  // "password", "key-file"

struct KeySlot {
  std::string id;  // 16 hex digits, random; the file is keys/<id>
  SlotKind kind = SlotKind::kPassword;
  SlotAccess access = SlotAccess::kFull;
  ObjectId repo_id;
  uint64_t opslimit = 0, memlimit = 0;  // Argon2id cost (password slots)
  std::string salt;                     // 16 bytes
  std::string wrapped;                  // the sealed slot secret (nonce | ct | tag): master or write-only material
  std::string info;                     // sealed {host, user, created} (RepoKeys, kSlotInfo)
};

struct SlotInfo {
  std::string host, user;
  int64_t created_ns = 0;
};

// The JSON text of a slot file, and back. Decode checks every field and the
// KDF bounds (crypto::kMin/kMax*) before anything runs on them: Corruption,
// naming `name`, otherwise.
std::string EncodeKeySlot(const KeySlot& s);
Result<KeySlot> DecodeKeySlot(std::string_view text, const std::string& name);

// A new slot of `kind` and `access` for `keys` (full keys), opened by
// `secret` (the password, or a key file's 32-byte secret), with Argon2id
// cost ops/mem for passwords.
Result<KeySlot> NewKeySlot(SlotKind kind, std::string_view secret, const RepoKeys& keys, uint64_t ops,
                           uint64_t mem, const SlotInfo& info, SlotAccess access = SlotAccess::kFull);

// What the slot wraps (the master secret, or the write-only material), if
// `secret` opens it; std::nullopt if it does not (wrong password or key
// file, or a slot of another repository).
Result<std::optional<crypto::SecretBytes>> UnwrapKeySlot(const KeySlot& s, std::string_view secret,
                                                         const ObjectId& repo_id);
// The slot's sealed info. Corruption if it does not open under `keys`.
Result<SlotInfo> OpenSlotInfo(const KeySlot& s, const RepoKeys& keys);

// --- Key files (cairn key generate) ---

// The text of a new key file: a fresh 32-byte secret.
std::string NewKeyFileText();
// The secret in a key file's text. InvalidArgument, naming `name`, if it is
// not a cairn key file.
Result<crypto::SecretBytes> ParseKeyFile(std::string_view text, const std::string& name);

}  // namespace cairn::objstore
