// SPDX-License-Identifier: MIT
//
// Small POSIX I/O helpers shared by the modules that write files.

#pragma once

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

}  // namespace cairn
