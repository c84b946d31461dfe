// SPDX-License-Identifier: MIT

#include "objstore/core/io.h"

#include <unistd.h>

#include <cerrno>

namespace cairn {

Status WriteAll(int fd, std::string_view data, const std::string& what, uint64_t offset) {
  const char* p = data.data();
  size_t left = data.size();
  while (left > 0) {
    ssize_t n = offset == kAppend ? ::write(fd, p, left) : ::pwrite(fd, p, left, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, "cannot write '" + what + "'");
    }
    p += n;
    left -= static_cast<size_t>(n);
    if (offset != kAppend) offset += static_cast<uint64_t>(n);
  }
  return Status::OK();
}

}  // namespace cairn
