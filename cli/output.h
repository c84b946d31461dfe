// SPDX-License-Identifier: MIT
//
// Output helpers shared by the commands: exit codes, human-readable sizes
// and modes, JSON rendering of entries and snapshots, and the progress line.
// This header contains definitions that shall only be used by modules
// within cli/.

#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "objstore/core/status.h"
#include "objstore/snapshot.h"
#include "objstore/tree.h"

namespace cairn::cli {

// cairn's version (`--version`, the man page, bundle manifests).
inline constexpr const char* kVersion = "0.1.0";

// Exit codes; docs/cli.md#exit-codes lists them for users.
enum ExitCode : int {
  kExitOk = 0,
  kExitFailure = 1,
  kExitUsage = 2,
  kExitPartial = 3,    // backup saved, but some source files could not be read
  kExitDamaged = 4,    // damage found in the repository (check, restore, cat)
  kExitNotFound = 5,   // a revision, path or source that does not exist
  kExitExists = 6,     // refused to overwrite (init over a repository, non-empty target, existing tag)
  kExitNotApproved = 7,  // a destructive operation was not approved (no terminal and no --yes)
  kExitNoRepo = 10,    // no repository at the given path
  kExitWrongKey = 11,  // the password or key file opens no key slot
  kExitAccessDenied = 12,  // the storage (S3) refused the credentials or the request
  kExitWriteOnly = 13,     // the key in use is write-only: the command needs a full key
};

int ExitCodeFor(const Status& st);

std::string HumanBytes(uint64_t n);
// `msg` on one line, for stderr: a control character (a newline in a file
// name, an escape sequence) is shown as \n, \t, \r or \xNN, and a
// backslash as \\ only where that could be mistaken for one.
std::string OneLine(const std::string& msg);
std::string ModeString(const objstore::TreeEntry& e);  // "drwxr-xr-x"
std::string FormatTimeNs(int64_t ns);                  // "2026-11-21 22:12:46" UTC, for humans
std::string IsoTimeNs(int64_t ns);                     // "2026-11-21T22:12:46.123456789Z"

nlohmann::json SnapshotJson(const ObjectId& id, const objstore::Snapshot& s);
nlohmann::json EntryJson(const std::string& path, const objstore::TreeEntry& e);
// Dumps `j` as one line; invalid UTF-8 in names is replaced by U+FFFD.
std::string Dump(const nlohmann::json& j);

// Prints a progress line on stderr every 250 ms while alive, if stderr is a
// terminal and `enabled`; erases it at the end.
class ProgressLine {
 public:
  ProgressLine(bool enabled, std::function<std::string()> render);
  ~ProgressLine();

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
  bool active_ = false;
};

std::string RateAndEta(uint64_t done, uint64_t total, double seconds);

}  // namespace cairn::cli
