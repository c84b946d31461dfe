// SPDX-License-Identifier: MIT
//
// The repository config: format version, repository id, chunker parameters,
// compression and pack size. A small JSON file named "config" at the
// repository root, written once at init. See docs/format.md#config.

#pragma once

#include <string>

#include "objstore/chunker.h"
#include "objstore/core/object_id.h"
#include "objstore/core/status.h"

namespace cairn::objstore {

class RepoKeys;

// The newest format this cairn reads: 1 is an unencrypted repository, 2 an
// encrypted one, 3 an encrypted one that can have write-only keys (its own
// meta key and a box key pair; docs/format.md#config). init makes 1 or 3.
inline constexpr int kFormatVersion = 3;
inline constexpr int kFormatPlain = 1;
inline constexpr int kFormatEncrypted = 2;
inline constexpr int kFormatWriteOnly = 3;
// The only encryption suite: XChaCha20-Poly1305 sealing, HMAC-SHA256 ids.
inline constexpr std::string_view kEncryptionSuite = "xchacha20-poly1305";

struct RepoConfig {
  int format = kFormatPlain;
  ObjectId repo_id;
  ChunkerParams chunker;
  int compression_level = 3;          // zstd level; 0 = store raw
  uint32_t pack_size = 16 << 20;      // target size of a pack file
  std::string encryption = "none";  // or kEncryptionSuite (format 2, 3)
  std::string box_public_key;       // format 3: the X25519 public key pack keys are sealed to (32 bytes)

  bool encrypted() const { return encryption != "none"; }
  // Makes this an encrypted (format 3) or unencrypted (format 1) config.
  void SetEncrypted(bool on);
};

// A new config with a random repository id and chunker seed.
RepoConfig NewRepoConfig();

// The chunk sizes for average size `avg` (init --avg-chunk): min = avg/4,
// max = avg*4, and `base`'s seed. InvalidArgument unless avg is a power of
// two from 256 to 4194304 (so min >= 64 and max <= 16 MiB).
Result<ChunkerParams> ChunkerParamsForAverage(uint32_t avg, const ChunkerParams& base = {});

// The config's text. An encrypted config has no chunker seed (it comes from
// the keys) and carries a MAC under `keys`, which it then needs.
std::string EncodeConfig(const RepoConfig& c, const RepoKeys* keys = nullptr);
// Corruption if `data` is not a config; NotSupported if it is of a newer
// format or uses features this cairn lacks. An encrypted config decodes
// without its keys (its seed zero) and must then pass VerifyConfig.
Result<RepoConfig> DecodeConfig(std::string_view data);
// Only format, repository id and encryption (what unlocking needs, before
// the MAC can be checked); the same errors as DecodeConfig for those.
Result<RepoConfig> DecodeConfigHead(std::string_view data);
// Checks the MAC of encrypted config text `data` under `keys`: Corruption
// if anything in it was changed.
Status VerifyConfig(std::string_view data, const RepoKeys& keys);

}  // namespace cairn::objstore
