// SPDX-License-Identifier: MIT
//
// Backend: the small interface every repository store implements. Names are
// '/'-separated relative paths ("data/ab/ab12…", "index/…", "config").
// Everything above objstore/ reaches storage only through this interface, so
// an S3-compatible store can replace the local filesystem without touching
// the layers above.

#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "objstore/core/status.h"

namespace cairn::objstore {

// Released (and the lock dropped) on destruction.
class BackendLock {
 public:
  virtual ~BackendLock() = default;
};

class Backend {
 public:
  virtual ~Backend() = default;

  // Stores `data` under `name` atomically: a reader sees the old object or the
  // whole new one, never a part, and once Put returns the object is durable.
  // An existing object of that name is replaced. Returns IOError on failure.
  virtual Status Put(std::string_view name, std::string_view data) = 0;

  // Moves the finished local file `local_path` into the repository as
  // `name`, atomically; the file must already be fsynced, and is consumed.
  // Used for packs, which are written to StagingDir() as they fill.
  virtual Status PutFile(std::string_view name, const std::string& local_path) = 0;

  // A folder on the local disk for files that PutFile will store (on the
  // same file system as the repository for the local backend, so PutFile is
  // a rename).
  virtual std::string StagingDir() const = 0;

  // Returns the whole object. NotFound if there is none.
  virtual Result<std::string> Get(std::string_view name) = 0;

  // Returns `length` bytes from `offset`. NotFound if there is no object,
  // Corruption if the object is shorter than offset + length.
  virtual Result<std::string> GetRange(std::string_view name, uint64_t offset,
                                       uint64_t length) = 0;

  // Returns the object's size in bytes. NotFound if there is none.
  virtual Result<uint64_t> Stat(std::string_view name) = 0;

  // Calls `fn(name, size)` for every object whose name starts with `prefix`
  // (a folder such as "data/" or "index/"). Temporary files of unfinished
  // writes are not listed. Order is unspecified.
  virtual Status List(std::string_view prefix,
                      const std::function<void(const std::string& name, uint64_t size)>& fn) = 0;

  // Removes `name`. NotFound if there is none.
  virtual Status Remove(std::string_view name) = 0;

  // Takes an exclusive lock named `name`, waiting for other holders. The lock
  // dies with the process that holds it.
  virtual Result<std::unique_ptr<BackendLock>> Lock(std::string_view name) = 0;

  // A human-readable location, for messages.
  virtual std::string Location() const = 0;
};

// The local filesystem backend, rooted at `root` (which must exist).
// Writes go to a temporary file in the destination folder, are fsynced,
// renamed into place, and the folder is fsynced. Safe for concurrent use.
std::unique_ptr<Backend> NewLocalBackend(const std::string& root);

// Prefix of temporary file names; never a valid object name.
inline constexpr std::string_view kTempPrefix = ".tmp-";

}  // namespace cairn::objstore
