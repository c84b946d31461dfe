// SPDX-License-Identifier: MIT
//
// What a process asks the system about itself: the time, the host's name,
// and user names. One place, so that snapshots, tags and lock objects name
// hosts and users the same way.

#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace cairn {

// Unix time in nanoseconds.
int64_t NowNs();

// gethostname(); "" if it fails.
std::string HostName();

// The passwd name of `uid`; "" if it has none.
std::string UserName(uid_t uid);

// The passwd name of `gid`'s group; "" if it has none.
std::string GroupName(gid_t gid);

// True if no process `pid` exists in this pid namespace (kill(pid, 0) says
// ESRCH, or `pid` cannot be a process id). A process of another user counts
// as existing.
bool ProcessGone(int64_t pid);

}  // namespace cairn
