// SPDX-License-Identifier: MIT

#include "objstore/core/status.h"

#include <cstdio>
#include <cstring>

namespace cairn {

Status Status::FromErrno(int err, std::string_view what) {
  std::string msg(what);
  msg += ": ";
  msg += std::strerror(err);
  return err == ENOENT ? NotFound(std::move(msg)) : IOError(std::move(msg));
}

Status Status::WithContext(std::string_view prefix) const {
  if (ok()) return *this;
  std::string msg(prefix);
  msg += ": ";
  msg += msg_;
  return Status(code_, std::move(msg));
}

namespace internal {
void CheckFailed(const char* cond, const char* file, int line) {
  std::fprintf(stderr, "cairn: BUG: check failed: %s at %s:%d\n", cond, file, line);
  std::abort();
}
}  // namespace internal

}  // namespace cairn
