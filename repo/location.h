// SPDX-License-Identifier: MIT
//
// Repository locations: where a repository is, parsed once. A plain path
// (or "local:PATH") is a folder on this machine; a location with a scheme
// of a remote store ("s3:…", "sftp:…", "rest:…", any "SCHEME://…") is
// refused until that backend exists, with a clear message, never taken
// for a local folder named "s3:…". See docs/architecture.md#locations.

#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "objstore/backend.h"
#include "objstore/core/object_id.h"
#include "objstore/core/status.h"

namespace cairn::repo {

struct Location {
  enum class Kind { kLocal };
  Kind kind = Kind::kLocal;
  std::string spec;  // as the user wrote it
  std::string path;  // kLocal: the folder
};

// InvalidArgument for an empty location or a scheme this cairn has no
// backend for yet (a usage error: exit 2).
Result<Location> ParseLocation(std::string_view spec);

// The repository the user means: `flag` (-r/--repo) if given, else
// $CAIRN_REPO. InvalidArgument if neither is set.
Result<std::string> RepositoryFromFlagOrEnv(const std::string& flag);

// The backend for a location (not yet checked for a repository).
std::unique_ptr<objstore::Backend> MakeBackend(const Location& loc);

// The folder for the local cache (the LMDB index) of the unencrypted
// repository at `loc`: inside the repository for a local one
// (docs/architecture.md).
std::string CacheDir(const Location& loc);

// The cache folder of an encrypted repository, which never lies inside it
// (the cache holds file names and sizes in plaintext): $CAIRN_CACHE_DIR,
// else $XDG_CACHE_HOME/cairn, else $HOME/.cache/cairn; then the repository
// id in hex. InvalidArgument if none of these is set.
Result<std::string> UserCacheDir(const ObjectId& repo_id);

}  // namespace cairn::repo
