// SPDX-License-Identifier: MIT
//
// Backend::Lock: lock objects with holder identity and a heartbeat, written
// once for every backend on PutIfAbsent / Get / Put / Remove.

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>

#include "objstore/core/json_int.h"
#include <random>
#include <sstream>
#include <thread>

#include "objstore/backend.h"
#include "objstore/core/system.h"

namespace cairn::objstore {
namespace {

using nlohmann::json;

std::string ReadSmallFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Field 22 of /proc/PID/stat: the process start time in clock ticks since
// boot; 0 if the process does not exist or cannot be read.
uint64_t ProcessStart(int64_t pid) {
  std::string stat = ReadSmallFile("/proc/" + std::to_string(pid) + "/stat");
  size_t close = stat.rfind(')');  // the command name may contain spaces
  if (close == std::string::npos) return 0;
  std::istringstream fields(stat.substr(close + 2));
  std::string f;
  // Fields after the name start at 3 (state); the start time is field 22.
  for (int i = 3; i <= 22; i++) {
    if (!(fields >> f)) return 0;
  }
  return std::strtoull(f.c_str(), nullptr, 10);
}

std::string BootId() {
  std::string id = ReadSmallFile("/proc/sys/kernel/random/boot_id");
  while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
  return id;
}

std::string PidNamespace() {
  char buf[64];
  ssize_t n = ::readlink("/proc/self/ns/pid", buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

std::string RandomNonce() {
  std::random_device rd;
  char buf[33];
  std::snprintf(buf, sizeof(buf), "%08x%08x%08x%08x", rd(), rd(), rd(), rd());
  return buf;
}

std::string Describe(const LockHolder& h) {
  return "pid " + std::to_string(h.pid) + " on host '" + h.host + "'";
}

// Why the holder is known to be dead, or "" if it may be alive.
std::string DeadReason(const LockHolder& h, const LockHolder& me, int64_t now_ns,
                       std::chrono::milliseconds stale_after) {
  if (h.released) return "its holder released it";
  if (h.host == me.host && !h.boot_id.empty() && !me.boot_id.empty() && h.boot_id != me.boot_id) {
    return "it was taken before this host last booted";
  }
  // Its process can be looked up only from the same pid namespace; a holder
  // in another container on this host is judged by its heartbeat.
  bool same_ns = h.pid_ns.empty() || me.pid_ns.empty() || h.pid_ns == me.pid_ns;
  if (h.host == me.host && same_ns) {
    if (h.pid <= 0) return "it names no process";
    if (ProcessGone(h.pid)) return "that process no longer exists";
    uint64_t start = ProcessStart(h.pid);
    if (h.process_start != 0 && start != 0 && start != h.process_start) {
      return "that process no longer exists (its pid now belongs to another process)";
    }
    return "";
  }
  int64_t age = now_ns - h.heartbeat_ns;
  if (age > std::chrono::duration_cast<std::chrono::nanoseconds>(stale_after).count()) {
    return "its heartbeat is " + std::to_string(age / 1000000000) + " s old";
  }
  return "";
}

// Sessions are lock objects with a name of their own ("session-KIND-NONCE"
// under locks/): nobody but their holder ever writes one.
constexpr std::string_view kSessionLockPrefix = "session-";
constexpr std::string_view kSessionObjectPrefix = "locks/session-";

class ObjectLock : public BackendLock {
 public:
  ObjectLock(Backend* backend, std::string object, LockHolder holder, std::chrono::milliseconds heartbeat,
             bool release_by_overwrite)
      : backend_(backend), object_(std::move(object)), holder_(std::move(holder)),
        release_by_overwrite_(release_by_overwrite) {
    thread_ = std::thread([this, heartbeat] {
      std::unique_lock<std::mutex> l(mu_);
      while (!cv_.wait_for(l, heartbeat, [this] { return stop_; })) {
        l.unlock();
        Refresh();
        l.lock();
      }
    });
  }

  ~ObjectLock() override {
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
    // Remove the object only while it is still ours (a holder that stalled
    // for longer than stale_after may have been broken and replaced). A
    // session's name is unique to its holder: nobody else ever writes it.
    const bool session = object_.rfind(kSessionObjectPrefix, 0) == 0;
    if (release_by_overwrite_) {
      // No DELETE: the object says it was released; a full-key prune
      // removes released sessions, the next holder takes a released lock
      // over. A lock is overwritten only while it is ours, and then only
      // if it still is (PutIfMatch) where the backend can tell.
      auto data = backend_->Get(object_);
      if (!data.ok()) return;
      auto h = DecodeLockHolder(*data);
      if (!h.ok() || h->nonce != holder_.nonce) return;
      LockHolder released = holder_;
      released.released = true;
      released.heartbeat_ns = NowNs();
      Status st = backend_->PutIfMatch(object_, EncodeLockHolder(released), *data);
      if (st.code() == Code::kNotSupported) (void)backend_->Put(object_, EncodeLockHolder(released));
      return;
    }
    if (session || Ours()) (void)backend_->Remove(object_);
  }

  std::string object() const override { return object_; }

 private:
  bool Ours() {
    auto data = backend_->Get(object_);
    if (!data.ok()) return false;
    auto h = DecodeLockHolder(*data);
    return h.ok() && h->nonce == holder_.nonce;
  }

  void Refresh() {
    if (!Ours()) return;
    holder_.heartbeat_ns = NowNs();
    (void)backend_->Put(object_, EncodeLockHolder(holder_));
  }

  Backend* backend_;
  std::string object_;
  LockHolder holder_;
  bool release_by_overwrite_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace

std::string EncodeLockHolder(const LockHolder& h) {
  json j{{"host", h.host},
         {"boot_id", h.boot_id},
         {"pid_ns", h.pid_ns},
         {"pid", h.pid},
         {"process_start", h.process_start},
         {"acquired_ns", h.acquired_ns},
         {"heartbeat_ns", h.heartbeat_ns},
         {"nonce", h.nonce}};
  if (h.released) j["released"] = true;
  return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

Result<LockHolder> DecodeLockHolder(std::string_view data) {
  json j = json::parse(data, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Status::Corruption("lock object is not valid JSON");
  LockHolder h;
  try {
    h.host = j.at("host").get<std::string>();
    h.boot_id = j.value("boot_id", std::string());
    h.pid_ns = j.value("pid_ns", std::string());
    h.pid = JsonInt<int64_t>(j.at("pid"));
    h.process_start = j.value("process_start", uint64_t{0});
    h.acquired_ns = JsonInt<int64_t>(j.at("acquired_ns"));
    h.heartbeat_ns = JsonInt<int64_t>(j.at("heartbeat_ns"));
    h.nonce = j.at("nonce").get<std::string>();
    h.released = j.value("released", false);
  } catch (const json::exception& e) {
    return Status::Corruption(std::string("lock object has a missing or mistyped field (") + e.what() + ")");
  }
  return h;
}

LockHolder CurrentLockHolder() {
  LockHolder h;
  h.host = HostName();
  h.boot_id = BootId();
  h.pid_ns = PidNamespace();
  h.pid = ::getpid();
  h.process_start = ProcessStart(h.pid);
  h.acquired_ns = h.heartbeat_ns = NowNs();
  return h;
}

std::string HolderDeadReason(const LockHolder& h, std::chrono::milliseconds stale_after) {
  return DeadReason(h, CurrentLockHolder(), NowNs(), stale_after);
}

Result<std::unique_ptr<BackendLock>> BeginSession(Backend* backend, std::string_view kind, const LockOptions& options) {
  return backend->Lock(std::string(kSessionLockPrefix) + std::string(kind) + "-" + RandomNonce(), options);
}

Result<std::vector<SessionInfo>> ListSessions(Backend* backend, std::chrono::milliseconds stale_after,
                                              std::string_view except) {
  std::vector<std::string> names;
  CAIRN_RETURN_IF_ERROR(backend->List("locks/", [&](const std::string& name, uint64_t) {
    if (name.rfind(kSessionObjectPrefix, 0) == 0 && name != except) names.push_back(name);
  }));
  LockHolder me = CurrentLockHolder();
  std::vector<SessionInfo> out;
  for (const auto& name : names) {
    auto data = backend->Get(name);
    if (!data.ok()) {
      if (data.status().IsNotFound()) continue;  // ended meanwhile
      return data.status();
    }
    SessionInfo info;
    info.name = name;
    auto h = DecodeLockHolder(*data);
    if (!h.ok()) {
      info.dead = "the session object is damaged";
    } else {
      info.holder = *h;
      info.released = h->released;
      info.dead = DeadReason(*h, me, NowNs(), stale_after);
    }
    out.push_back(std::move(info));
  }
  return out;
}

Result<std::unique_ptr<BackendLock>> Backend::Lock(std::string_view name, const LockOptions& opts) {
  const std::string object = "locks/" + std::string(name);
  LockHolder me = CurrentLockHolder();
  me.nonce = RandomNonce();
  auto deadline = std::chrono::steady_clock::now() + opts.wait;
  auto pause = std::chrono::milliseconds(5);
  bool told_waiting = false;
  for (;;) {
    me.acquired_ns = me.heartbeat_ns = NowNs();
    Status st = PutIfAbsent(object, EncodeLockHolder(me));
    if (st.ok()) {
      return std::unique_ptr<BackendLock>(new ObjectLock(this, object, me, opts.heartbeat, opts.release_by_overwrite));
    }
    if (st.code() != Code::kAlreadyExists) return st.WithContext("cannot take lock '" + std::string(name) + "'");
    auto data = Get(object);
    if (!data.ok()) {
      if (data.status().IsNotFound() && std::chrono::steady_clock::now() < deadline) continue;  // released meanwhile
      return data.status().WithContext("cannot read lock '" + std::string(name) + "'");
    }
    auto holder = DecodeLockHolder(*data);
    std::string dead;
    if (!holder.ok()) {
      dead = "the lock object is damaged (" + holder.status().message() + ")";
    } else {
      dead = DeadReason(*holder, me, NowNs(), opts.stale_after);
    }
    if (!dead.empty()) {
      // Take it over in one step where the backend can: replace exactly
      // the object we judged, or lose the race and look again.
      me.acquired_ns = me.heartbeat_ns = NowNs();
      Status taken = PutIfMatch(object, EncodeLockHolder(me), *data);
      if (taken.ok()) {
        if (opts.on_message && !(holder.ok() && holder->released)) {
          opts.on_message("broke the stale lock '" + std::string(name) + "'" +
                          (holder.ok() ? " held by " + Describe(*holder) : "") + ": " + dead);
        }
        return std::unique_ptr<BackendLock>(
            new ObjectLock(this, object, me, opts.heartbeat, opts.release_by_overwrite));
      }
      if (taken.code() == Code::kConflict) {
        // Someone else took it (or changed it) first: look again, after a
        // pause, within the same deadline.
        if (std::chrono::steady_clock::now() >= deadline) {
          return Status::Busy("lock '" + std::string(name) + "' keeps changing hands; retry");
        }
        std::this_thread::sleep_for(pause);
        pause = std::min(pause * 2, std::chrono::milliseconds(500));
        continue;
      }
      if (taken.code() != Code::kNotSupported) {
        return taken.WithContext("cannot take over lock '" + std::string(name) + "'");
      }
      // Remove it only if it is still the same object we judged.
      auto again = Get(object);
      if (again.ok() && *again == *data) {
        Status rm = Remove(object);
        if (!rm.ok() && !rm.IsNotFound()) return rm.WithContext("cannot break stale lock '" + std::string(name) + "'");
        if (opts.on_message && !(holder.ok() && holder->released)) {
          opts.on_message("broke the stale lock '" + std::string(name) + "'" +
                          (holder.ok() ? " held by " + Describe(*holder) : "") + ": " + dead);
        }
      }
      continue;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      int64_t age_s = (NowNs() - holder->heartbeat_ns) / 1000000000;
      return Status::Busy("lock '" + std::string(name) + "' is held by " + Describe(*holder) + " (heartbeat " +
                              std::to_string(age_s) + " s ago); retry when that process has finished");
    }
    if (!told_waiting && opts.on_message && pause >= std::chrono::milliseconds(500)) {
      opts.on_message("waiting for lock '" + std::string(name) + "' held by " + Describe(*holder));
      told_waiting = true;
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(500));
  }
}

}  // namespace cairn::objstore
