// SPDX-License-Identifier: MIT
//
// Repository locations: where a repository is, parsed once. A plain path
// (or "local:PATH") is a folder on this machine; "s3:…" is a bucket and
// prefix in an S3-compatible store (objstore/s3.h); a location with the
// scheme of another remote store ("sftp:…", "rest:…", any "SCHEME://…") is
// refused until that backend exists, with a clear message, never taken
// for a local folder named "sftp:…". See docs/architecture.md#locations.

#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "objstore/backend.h"
#include "objstore/s3.h"
#include "objstore/core/object_id.h"
#include "objstore/core/status.h"

namespace cairn::repo {

struct Location {
  enum class Kind { kLocal, kS3 };
  Kind kind = Kind::kLocal;
  std::string spec;  // as the user wrote it
  std::string path;  // kLocal: the folder
  objstore::S3Location s3;  // kS3
};

// InvalidArgument for an empty location or a scheme this cairn has no
// backend for yet (a usage error: exit 2).
Result<Location> ParseLocation(std::string_view spec);

// The repository the user means: `flag` (-r/--repo) if given, else
// $CAIRN_REPO. InvalidArgument if neither is set.
Result<std::string> RepositoryFromFlagOrEnv(const std::string& flag);

// The backend for a location (not yet checked for a repository). For S3,
// the credentials and settings come from the environment
// (objstore::S3OptionsFromEnvironment): InvalidArgument when they are
// missing or malformed.
Result<std::unique_ptr<objstore::Backend>> MakeBackend(const Location& loc);

// The folder for the local cache (the LMDB index) of the unencrypted
// repository at `loc`: inside the repository for a local one
// (docs/architecture.md); "" for a remote one, whose cache is always in
// the user's cache folder (UserCacheDir).
std::string CacheDir(const Location& loc);

// The cache folder of an encrypted repository, which never lies inside it
// (the cache holds file names and sizes in plaintext): $CAIRN_CACHE_DIR,
// else $XDG_CACHE_HOME/cairn, else $HOME/.cache/cairn; then the repository
// id in hex. InvalidArgument if none of these is set.
Result<std::string> UserCacheDir(const ObjectId& repo_id);

}  // namespace cairn::repo
