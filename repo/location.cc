// SPDX-License-Identifier: MIT

#include "repo/location.h"

#include <algorithm>
#include <cstdlib>

namespace cairn::repo {
namespace {

// Schemes of stores cairn has (or will have) backends for; a location that
// starts with one of them followed by ':' is never a local path.
constexpr std::string_view kRemoteSchemes[] = {"sftp", "rest", "b2", "gs", "azure", "swift", "rclone",
                                               "http", "https", "ftp", "webdav"};

bool SchemeChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' || c == '-' ||
         c == '.';
}

}  // namespace

Result<Location> ParseLocation(std::string_view spec) {
  if (spec.empty()) return Status::InvalidArgument("the repository location is empty; give a folder with -r PATH");
  Location loc;
  loc.spec = spec;
  size_t colon = spec.find(':');
  if (colon != std::string_view::npos && colon > 0) {
    std::string_view scheme = spec.substr(0, colon);
    bool word = std::all_of(scheme.begin(), scheme.end(), SchemeChar) && scheme.find('/') == std::string_view::npos;
    if (word && scheme == "local") {
      loc.path = spec.substr(colon + 1);
      if (loc.path.empty()) return Status::InvalidArgument("'local:' needs a folder: local:PATH");
      return loc;
    }
    if (word && scheme == "s3") {
      CAIRN_ASSIGN_OR_RETURN(loc.s3, objstore::ParseS3Location(spec.substr(colon + 1)));
      loc.kind = Location::Kind::kS3;
      return loc;
    }
    bool known = false;
    for (auto s : kRemoteSchemes) known = known || scheme == s;
    if (word && (known || spec.substr(colon + 1, 2) == "//")) {
      return Status::InvalidArgument("'" + std::string(spec) + "': " + std::string(scheme) +
                                  " repositories are not supported yet; use a local folder or s3:… (write './" +
                                  std::string(spec) + "' for a folder of that name)");
    }
  }
  loc.path = spec;
  return loc;
}

Result<std::string> RepositoryFromFlagOrEnv(const std::string& flag) {
  if (!flag.empty()) return flag;
  const char* env = std::getenv("CAIRN_REPO");
  if (env != nullptr && *env != '\0') return std::string(env);
  return Status::InvalidArgument("no repository given; use -r PATH or set CAIRN_REPO");
}

Result<std::unique_ptr<objstore::Backend>> MakeBackend(const Location& loc) {
  if (loc.kind == Location::Kind::kS3) {
    CAIRN_ASSIGN_OR_RETURN(objstore::S3Options o, objstore::S3OptionsFromEnvironment(loc.s3));
    return objstore::NewS3Backend(std::move(o));
  }
  return objstore::NewLocalBackend(loc.path);
}

std::string CacheDir(const Location& loc) { return loc.kind == Location::Kind::kS3 ? "" : loc.path + "/cache"; }

Result<std::string> UserCacheDir(const ObjectId& repo_id) {
  auto env = [](const char* n) -> std::string {
    const char* v = std::getenv(n);
    return v != nullptr ? std::string(v) : std::string();
  };
  std::string root = env("CAIRN_CACHE_DIR");
  if (root.empty() && !env("XDG_CACHE_HOME").empty()) root = env("XDG_CACHE_HOME") + "/cairn";
  if (root.empty() && !env("HOME").empty()) root = env("HOME") + "/.cache/cairn";
  if (root.empty()) {
    return Status::InvalidArgument("no folder for the local cache: set CAIRN_CACHE_DIR (or HOME)");
  }
  return root + "/" + repo_id.ToHex();
}

}  // namespace cairn::repo
