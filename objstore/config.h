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

// The format this cairn writes and the newest it reads.
inline constexpr int kFormatVersion = 1;

struct RepoConfig {
  int format = kFormatVersion;
  ObjectId repo_id;
  ChunkerParams chunker;
  int compression_level = 3;          // zstd level; 0 = store raw
  uint32_t pack_size = 16 << 20;      // target size of a pack file
  std::string encryption = "none";
};

// A new config with a random repository id and chunker seed.
RepoConfig NewRepoConfig();

// The chunk sizes for average size `avg` (init --avg-chunk): min = avg/4,
// max = avg*4, and `base`'s seed. InvalidArgument unless avg is a power of
// two from 256 to 4194304 (so min >= 64 and max <= 16 MiB).
Result<ChunkerParams> ChunkerParamsForAverage(uint32_t avg, const ChunkerParams& base = {});

std::string EncodeConfig(const RepoConfig& c);
// Corruption if `data` is not a config; NotSupported if it is of a newer
// format or uses features this cairn lacks (encryption).
Result<RepoConfig> DecodeConfig(std::string_view data);

}  // namespace cairn::objstore
