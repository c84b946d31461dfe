// SPDX-License-Identifier: MIT
//
// Backend: the small interface every repository store implements. Names are
// '/'-separated relative paths ("data/ab/ab12…", "index/…", "config").
// Everything above objstore/ reaches storage only through this interface, so
// an S3-compatible store can replace the local filesystem without touching
// the layers above.

#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "objstore/core/status.h"

namespace cairn::objstore {

// Released (and the lock dropped) on destruction.
class BackendLock {
 public:
  virtual ~BackendLock() = default;
  // The lock object's name ("locks/NAME").
  virtual std::string object() const = 0;
};

// Who holds a lock: written into the lock object, so that another process,
// on this host or another, can tell a live holder from a dead one.
struct LockHolder {
  std::string host;           // gethostname()
  std::string boot_id;        // /proc/sys/kernel/random/boot_id ("" if unknown)
  std::string pid_ns;         // the pid namespace, readlink /proc/self/ns/pid ("" if unknown)
  int64_t pid = 0;
  uint64_t process_start = 0;  // /proc/PID/stat start time (clock ticks since boot)
  int64_t acquired_ns = 0;    // Unix time
  int64_t heartbeat_ns = 0;   // refreshed while held
  std::string nonce;          // random: tells this holder from a later one
  bool released = false;      // the holder let go by overwriting the object (release_by_overwrite)
};

struct LockOptions {
  // How long to wait for a live holder before giving up with Busy.
  std::chrono::milliseconds wait{std::chrono::seconds(60)};
  // A holder on another host whose heartbeat is older than this is dead.
  std::chrono::milliseconds stale_after{std::chrono::minutes(10)};
  // The holder refreshes its heartbeat this often.
  std::chrono::milliseconds heartbeat{std::chrono::seconds(30)};
  // Told about a broken stale lock and about waiting (may be null).
  std::function<void(const std::string& message)> on_message;
  // Release by overwriting the object with a released record instead of
  // removing it: for holders whose credentials may not delete (write-only
  // hosts under a bucket policy that denies DeleteObject). A released or
  // dead object is taken over with PutIfMatch where the backend has it
  // (no DELETE either), else removed and taken anew.
  bool release_by_overwrite = false;
};

class Backend {
 public:
  virtual ~Backend() = default;

  // Prepares a new, empty store at the location (the local backend creates
  // the folder and its layout). AlreadyExists, with a message that says
  // what is there, if the location already holds anything.
  virtual Status Create() = 0;

  // Stores `data` under `name` atomically: a reader sees the old object or the
  // whole new one, never a part, and once Put returns the object is durable.
  // An existing object of that name is replaced. Returns IOError on failure.
  virtual Status Put(std::string_view name, std::string_view data) = 0;

  // Like Put, but only if there is no object `name` yet: AlreadyExists, and
  // nothing written, otherwise. Atomic against concurrent callers (of any
  // process): exactly one of them succeeds. Locks are built on it.
  virtual Status PutIfAbsent(std::string_view name, std::string_view data) = 0;

  // Replaces object `name` with `data` only if its content is still
  // `expected` (a compare-and-swap: S3's conditional PUT with If-Match on
  // the ETag, the MD5 of a single-part object). Conflict if it changed or
  // is gone; NotSupported where the backend has no such primitive (the
  // local file system: lock takeover removes and recreates there).
  virtual Status PutIfMatch(std::string_view name, std::string_view data, std::string_view expected) {
    (void)name, (void)data, (void)expected;
    return Status::NotSupported("conditional replace");
  }

  // Moves the finished local file `local_path` into the repository as
  // `name`, atomically; the file must already be fsynced, and is consumed.
  // Used for packs, which are written to StagingDir() as they fill.
  virtual Status PutFile(std::string_view name, const std::string& local_path) = 0;

  // A folder on the local disk for files that PutFile will store (on the
  // same file system as the repository for the local backend, so PutFile is
  // a rename).
  virtual std::string StagingDir() const = 0;

  // Temporary and staging files that unfinished writes left behind (a
  // process killed between creating one and its rename): removes each one
  // whose writer (the process id in its name) is not running on this host
  // and that was last written at least `min_age_ns` before `now_ns`; with
  // `dry_run` only counts them. Adds what it removed (or would) to *count
  // and *bytes. Backends that leave no such files do nothing.
  virtual Status RemoveStaleTemporaries(int64_t now_ns, int64_t min_age_ns, bool dry_run, uint64_t* count,
                                        uint64_t* bytes) {
    (void)now_ns, (void)min_age_ns, (void)dry_run, (void)count, (void)bytes;
    return Status::OK();
  }

  // Returns the whole object. NotFound if there is none.
  virtual Result<std::string> Get(std::string_view name) = 0;

  // Returns `length` bytes from `offset`. NotFound if there is no object,
  // Corruption if the object is shorter than offset + length.
  virtual Result<std::string> GetRange(std::string_view name, uint64_t offset,
                                       uint64_t length) = 0;

  // GetRange of a range that holds metadata (a tree, read again and again
  // while a restore, ls or diff walks): a remote backend keeps such ranges
  // apart from file content, so that content read after them does not
  // push them out of its read cache.
  virtual Result<std::string> GetMetadataRange(std::string_view name, uint64_t offset, uint64_t length) {
    return GetRange(name, offset, length);
  }

  // Returns the object's size in bytes. NotFound if there is none.
  virtual Result<uint64_t> Stat(std::string_view name) = 0;

  // Calls `fn(name, size)` for every object whose name starts with `prefix`
  // (a folder such as "data/" or "index/"). Temporary files of unfinished
  // writes are not listed. Order is unspecified.
  virtual Status List(std::string_view prefix,
                      const std::function<void(const std::string& name, uint64_t size)>& fn) = 0;

  // When object `name` was last written (Unix ns). NotFound if there is
  // none; NotSupported by a backend that cannot tell (then prune never
  // judges an object by its age).
  virtual Result<int64_t> ModifiedNs(std::string_view name) {
    (void)name;
    return Status::NotSupported("this backend does not report modification times");
  }

  // Removes `name`. NotFound if there is none.
  virtual Status Remove(std::string_view name) = 0;

  // After every object is removed (a destroy): removes the store's empty
  // folders and the location itself. IOError naming an entry if something
  // cairn did not write is left in it (it is kept). With `only_layout`,
  // removes nothing (NotFound) unless the location holds nothing but
  // empty folders of the layout Create() makes. Backends without folders
  // do nothing.
  virtual Status RemoveEmptyLayout(bool only_layout) {
    (void)only_layout;
    return Status::OK();
  }

  // Takes the exclusive lock `name` (the object "locks/NAME", holding a
  // LockHolder as JSON), waiting up to options.wait for a live holder, then
  // Busy naming the holder. A holder that is dead is detected and its
  // lock broken, with a message through options.on_message, never waited
  // for: on this host and in this pid namespace, a holder whose process is
  // gone (pid not running, or running with another start time, or from an
  // earlier boot); on another host or in another pid namespace (a
  // container), a holder whose heartbeat is older than options.stale_after. While
  // held, a thread refreshes the heartbeat. Implemented once for every
  // backend (objstore/lock.cc) on PutIfAbsent, Get, Put and Remove.
  Result<std::unique_ptr<BackendLock>> Lock(std::string_view name, const LockOptions& options = {});

  // A human-readable location, for messages.
  virtual std::string Location() const = 0;

  // True for a store reached over the network (S3), where each call is a
  // request: the layers above then serve what they may from the local
  // cache (the snapshot catalog) instead of reading it again.
  virtual bool Remote() const { return false; }
};

// The local filesystem backend, rooted at `root` (made by Create()).
// Writes go to a temporary file in the destination folder, are fsynced,
// renamed into place, and the folder is fsynced. Safe for concurrent use.
std::unique_ptr<Backend> NewLocalBackend(const std::string& root);

// A backend that keeps every object in memory, for fast tests of the layers
// above. Safe for concurrent use. Its staging folder is a private temporary
// folder on disk, removed with the backend.
std::unique_ptr<Backend> NewMemoryBackend(const std::string& location = "memory:");

// The JSON form of a lock object, and its parser (Corruption if damaged).
std::string EncodeLockHolder(const LockHolder& h);
Result<LockHolder> DecodeLockHolder(std::string_view data);

// The LockHolder for this process now (host, boot id, pid, start time).
LockHolder CurrentLockHolder();

// Why holder `h` is known to be dead, seen from this process now, or "" if
// it may be alive (the rules of Backend::Lock).
std::string HolderDeadReason(const LockHolder& h, std::chrono::milliseconds stale_after);

// A session: the object "locks/session-KIND-NONCE", unique to this call so
// it never waits, held (heartbeat and all) until the returned object is
// destroyed. Backups, restores and checks announce themselves this way so
// that a prune can tell whether one that began before its plan is still
// running (docs/gc.md).
Result<std::unique_ptr<BackendLock>> BeginSession(Backend* backend, std::string_view kind,
                                                  const LockOptions& options = {});

struct SessionInfo {
  std::string name;    // "locks/session-..."
  LockHolder holder;
  std::string dead;    // why it is dead, "" if it may be alive
  bool released = false;  // its holder ended it by overwriting (a write-only host): nothing to adopt
};
// Every session object in `backend` (a damaged one counts as dead) but
// `except` (the caller's own, which it need not read).
Result<std::vector<SessionInfo>> ListSessions(Backend* backend, std::chrono::milliseconds stale_after,
                                              std::string_view except = {});

// Prefix of temporary file names; never a valid object name. Both kinds
// of unfinished write carry the writer's process id next:
// ".tmp-PID-N-R" beside the object, "pack-PID-N" in StagingDir().
inline constexpr std::string_view kTempPrefix = ".tmp-";
inline constexpr std::string_view kStagingPackPrefix = "pack-";

}  // namespace cairn::objstore
