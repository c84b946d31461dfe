// SPDX-License-Identifier: MIT
//
// Small POSIX I/O helpers shared by the modules that write files.

#pragma once

#include <dirent.h>

#include <cerrno>
#include <cstdint>
#include <string>
#include <string_view>

#include "objstore/core/status.h"

namespace cairn {

// Writes all of `data` to `fd` (at `offset` with pwrite, or at the current
// position when offset is kAppend), retrying short writes and EINTR.
// IOError naming `what` otherwise (ENOSPC included).
inline constexpr uint64_t kAppend = UINT64_MAX;
Status WriteAll(int fd, std::string_view data, const std::string& what, uint64_t offset = kAppend);

// readdir that tells the end of a folder from a failure to read it: the
// next entry, or nullptr with *err 0 at the end and the errno otherwise (a
// listing cut short by EIO must never read as a shorter folder).
inline struct dirent* NextEntry(DIR* d, int* err) {
  errno = 0;
  struct dirent* e = ::readdir(d);
  *err = e != nullptr ? 0 : errno;
  return e;
}

}  // namespace cairn
