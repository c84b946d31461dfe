// SPDX-License-Identifier: MIT
//
// The local filesystem Backend. See backend.h for the contract.

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <list>
#include <mutex>
#include <random>
#include <set>
#include <unordered_map>
#include <vector>

#include "objstore/backend.h"
#include "objstore/core/io.h"
#include "objstore/core/system.h"

namespace cairn::objstore {
namespace {

Status FsyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno(errno, "cannot open folder '" + dir + "'");
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return Status::FromErrno(err, "cannot fsync folder '" + dir + "'");
  return Status::OK();
}

Status MakeDir(const std::string& p) {
  if (::mkdir(p.c_str(), 0755) != 0 && errno != EEXIST) {
    return Status::FromErrno(errno, "cannot create folder '" + p + "'");
  }
  return Status::OK();
}

// Creates `p` and its missing parents.
Status MakeDirs(const std::string& p) {
  for (size_t i = 1; i <= p.size(); i++) {
    if (i == p.size() || p[i] == '/') CAIRN_RETURN_IF_ERROR(MakeDir(p.substr(0, i)));
  }
  return Status::OK();
}

class LocalBackend : public Backend {
 public:
  explicit LocalBackend(std::string root) : root_(std::move(root)) {}
  ~LocalBackend() override {
    for (auto& [name, fd] : fds_) ::close(fd.first);
  }

  Status Create() override {
    struct stat st;
    if (::stat(root_.c_str(), &st) == 0) {
      if (!S_ISDIR(st.st_mode)) {
        return Status::AlreadyExists("'" + root_ + "' exists and is not a folder; choose another path");
      }
      DIR* d = ::opendir(root_.c_str());
      if (d == nullptr) return Status::FromErrno(errno, "cannot list '" + root_ + "'");
      bool empty = true;
      int err = 0;
      while (struct dirent* e = NextEntry(d, &err)) {
        std::string_view n(e->d_name);
        if (n != "." && n != "..") empty = false;
      }
      ::closedir(d);
      if (err != 0) return Status::FromErrno(err, "cannot list '" + root_ + "'");
      if (!empty) {
        return Status::AlreadyExists("'" + root_ + "' is not empty; create a repository in a new or empty folder");
      }
    } else if (errno != ENOENT) {
      return Status::FromErrno(errno, "cannot use '" + root_ + "'");
    }
    CAIRN_RETURN_IF_ERROR(MakeDirs(root_));
    for (const char* d : {"data", "index", "snapshots", "refs", "refs/branches", "refs/tags", "keys", "locks", "tmp"}) {
      CAIRN_RETURN_IF_ERROR(MakeDir(root_ + "/" + d));
    }
    static const char kHex[] = "0123456789abcdef";
    for (int i = 0; i < 256; i++) {
      CAIRN_RETURN_IF_ERROR(MakeDir(root_ + "/data/" + kHex[i >> 4] + kHex[i & 15]));
    }
    return FsyncDir(root_);
  }

  Status Put(std::string_view name, std::string_view data) override {
    std::string path = Path(name);
    std::string tmp;
    CAIRN_RETURN_IF_ERROR(WriteTemp(path, data, &tmp));
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
      Status st = Status::FromErrno(errno, "cannot rename '" + tmp + "' to '" + path + "'");
      ::unlink(tmp.c_str());
      return st;
    }
    Forget(name);
    return FsyncDir(path.substr(0, path.rfind('/')));
  }

  Status PutIfAbsent(std::string_view name, std::string_view data) override {
    std::string path = Path(name);
    std::string tmp;
    CAIRN_RETURN_IF_ERROR(WriteTemp(path, data, &tmp));
    // link() never replaces: exactly one of several racing writers wins.
    int rc = ::link(tmp.c_str(), path.c_str());
    int err = errno;
    ::unlink(tmp.c_str());
    if (rc != 0) {
      if (err == EEXIST) return Status::AlreadyExists("'" + path + "' already exists");
      return Status::FromErrno(err, "cannot create '" + path + "'");
    }
    return FsyncDir(path.substr(0, path.rfind('/')));
  }

  Status PutFile(std::string_view name, const std::string& local_path) override {
    std::string path = Path(name);
    std::string dir = path.substr(0, path.rfind('/'));
    int rc = ::rename(local_path.c_str(), path.c_str());
    if (rc != 0 && errno == ENOENT && ::access(local_path.c_str(), F_OK) == 0 &&
        ::access(root_.c_str(), F_OK) == 0 && MakeDirs(dir).ok() && FsyncDir(dir.substr(0, dir.rfind('/'))).ok()) {
      rc = ::rename(local_path.c_str(), path.c_str());  // a shard folder that was missing
    }
    if (rc != 0) {
      int err = errno;
      ::unlink(local_path.c_str());
      return Status::FromErrno(err, "cannot rename '" + local_path + "' to '" + path + "'");
    }
    Forget(name);
    return FsyncDir(dir);
  }

  std::string StagingDir() const override {
    std::string dir = root_ + "/tmp";
    (void)MakeDir(dir);  // repositories made before it existed; a failure shows when it is used
    return dir;
  }

  Result<std::string> Get(std::string_view name) override {
    std::string path = Path(name);
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::FromErrno(Missing(errno), "cannot open '" + path + "'");
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      int err = errno;
      ::close(fd);
      return Status::FromErrno(err, "cannot stat '" + path + "'");
    }
    std::string out(static_cast<size_t>(st.st_size), '\0');
    Status s = ReadAt(fd, out.data(), out.size(), 0, path);
    ::close(fd);
    if (!s.ok()) return s;
    return out;
  }

  Result<std::string> GetRange(std::string_view name, uint64_t offset, uint64_t length) override {
    CAIRN_ASSIGN_OR_RETURN(int fd, CachedFd(name));
    std::string out(length, '\0');
    Status s = ReadAt(fd, out.data(), length, offset, Path(name));
    Release(name);
    if (!s.ok()) return s;
    return out;
  }

  Result<uint64_t> Stat(std::string_view name) override {
    std::string path = Path(name);
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return Status::FromErrno(Missing(errno), "cannot stat '" + path + "'");
    return static_cast<uint64_t>(st.st_size);
  }

  Result<int64_t> ModifiedNs(std::string_view name) override {
    struct stat st;
    std::string path = Path(std::string(name));
    if (::stat(path.c_str(), &st) != 0) {
      if (errno == ENOENT) return Status::NotFound("no object '" + std::string(name) + "'");
      return Status::FromErrno(errno, "cannot stat '" + path + "'");
    }
    return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  }

  Status List(std::string_view prefix,
              const std::function<void(const std::string&, uint64_t)>& fn) override {
    return ListDir(std::string(prefix), fn);
  }

  Status Remove(std::string_view name) override {
    std::string path = Path(name);
    Forget(name);
    if (::unlink(path.c_str()) != 0) return Status::FromErrno(errno, "cannot remove '" + path + "'");
    return FsyncDir(path.substr(0, path.rfind('/')));
  }

  Status RemoveEmptyLayout(bool only_layout) override {
    if (only_layout && !OnlyEmptyLayout()) {
      return Status::NotFound("'" + root_ + "' holds more than the empty folders of a repository");
    }
    std::string left;
    RemoveEmptyDirs(root_, &left);
    if (::rmdir(root_.c_str()) == 0 || errno == ENOENT) return Status::OK();
    return Status::IOError("'" + root_ + "' was kept: it holds " +
                           (left.empty() ? std::string("entries") : "'" + left + "'") +
                           ", which cairn did not write; remove it by hand if it is not needed");
  }

  std::string Location() const override { return root_; }

 private:
  // True if the root holds nothing but empty folders, its top-level ones
  // among those of the layout (Create and later versions' folders).
  bool OnlyEmptyLayout() const {
    static const std::set<std::string> kLayout = {"data", "index", "snapshots", "refs", "keys", "locks", "tmp",
                                                  "trash", "audit", "approvals", "cache", "prune"};
    DIR* d = ::opendir(root_.c_str());
    if (d == nullptr) return false;
    bool ok = true;
    int err = 0;
    while (struct dirent* e = NextEntry(d, &err)) {
      std::string n(e->d_name);
      if (n == "." || n == "..") continue;
      struct stat st;
      if (kLayout.count(n) == 0 || ::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
          !S_ISDIR(st.st_mode) || !OnlyFolders(root_ + "/" + n)) {
        ok = false;
        break;
      }
    }
    ::closedir(d);
    return ok && err == 0;
  }
  static bool OnlyFolders(const std::string& dir) {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return false;
    bool ok = true;
    std::vector<std::string> subdirs;
    int err = 0;
    while (struct dirent* e = NextEntry(d, &err)) {
      std::string_view n(e->d_name);
      if (n == "." || n == "..") continue;
      struct stat st;
      if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode)) {
        ok = false;
        break;
      }
      subdirs.push_back(dir + "/" + std::string(n));
    }
    ::closedir(d);
    if (err != 0) ok = false;
    for (const auto& s : subdirs) ok = ok && OnlyFolders(s);
    return ok;
  }

  // Removes the empty folders below `dir` (deepest first); names in *left
  // the first entry that is not a folder.
  static void RemoveEmptyDirs(const std::string& dir, std::string* left) {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return;
    std::vector<std::string> subdirs;
    int err = 0;
    while (struct dirent* e = NextEntry(d, &err)) {
      std::string_view n(e->d_name);
      if (n == "." || n == "..") continue;
      struct stat st;
      if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
        subdirs.push_back(dir + "/" + std::string(n));
      } else if (left->empty()) {
        *left = dir + "/" + std::string(n);
      }
    }
    ::closedir(d);
    if (err != 0 && left->empty()) *left = dir + " (" + std::strerror(err) + ")";
    for (const auto& s : subdirs) {
      RemoveEmptyDirs(s, left);
      ::rmdir(s.c_str());
    }
  }

  using FdEntry = std::pair<int, int>;  // fd, users

  std::string Path(std::string_view name) const { return root_ + "/" + std::string(name); }

  // A path through something that is not a folder (the root is a file)
  // names no object: ENOTDIR reads as ENOENT (NotFound).
  static int Missing(int err) { return err == ENOTDIR ? ENOENT : err; }

  // Writes `data` to a new fsynced temporary file beside `path` (creating
  // the folder if it is missing, e.g. locks/ in an older repository).
  Status WriteTemp(const std::string& path, std::string_view data, std::string* tmp) {
    std::string dir = path.substr(0, path.rfind('/'));
    *tmp = dir + "/" + std::string(kTempPrefix) + TempSuffix();
    int fd = ::open(tmp->c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 && errno == ENOENT && dir.size() > root_.size() && ::access(root_.c_str(), F_OK) == 0 &&
        MakeDirs(dir).ok() && FsyncDir(dir.substr(0, dir.rfind('/'))).ok()) {
      fd = ::open(tmp->c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    }
    if (fd < 0) return Status::FromErrno(errno, "cannot create '" + *tmp + "'");
    Status st = WriteAll(fd, data, *tmp);
    if (st.ok() && ::fsync(fd) != 0) st = Status::FromErrno(errno, "cannot fsync '" + *tmp + "'");
    if (::close(fd) != 0 && st.ok()) st = Status::FromErrno(errno, "cannot close '" + *tmp + "'");
    if (!st.ok()) ::unlink(tmp->c_str());
    return st;
  }

  static std::string TempSuffix() {
    static std::atomic<uint64_t> counter{0};
    thread_local std::mt19937_64 rng(std::random_device{}());
    return std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" +
           std::to_string(rng() & 0xffffffff);
  }

  static Status ReadAt(int fd, char* buf, uint64_t len, uint64_t off, const std::string& path) {
    while (len > 0) {
      ssize_t n = ::pread(fd, buf, len, static_cast<off_t>(off));
      if (n < 0) {
        if (errno == EINTR) continue;
        return Status::FromErrno(errno, "cannot read '" + path + "'");
      }
      if (n == 0) return Status::Corruption("'" + path + "' is shorter than expected (truncated?)");
      buf += n;
      len -= static_cast<uint64_t>(n);
      off += static_cast<uint64_t>(n);
    }
    return Status::OK();
  }

  // Packs are read many times during a restore; keep a bounded set of open
  // descriptors instead of opening the pack for every blob.
  // The descriptor stays open until the matching Release(name).
  Result<int> CachedFd(std::string_view name) {
    std::lock_guard<std::mutex> l(mu_);
    auto it = fds_.find(std::string(name));
    if (it != fds_.end()) {
      it->second.second++;
      return it->second.first;
    }
    if (fds_.size() >= 64) {
      for (auto e = fds_.begin(); e != fds_.end();) {
        if (e->second.second == 0) {
          ::close(e->second.first);
          e = fds_.erase(e);
        } else {
          ++e;
        }
      }
    }
    std::string path = Path(name);
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::FromErrno(errno, "cannot open '" + path + "'");
    fds_.emplace(std::string(name), FdEntry{fd, 1});
    return fd;
  }

  void Release(std::string_view name) {
    std::lock_guard<std::mutex> l(mu_);
    auto it = fds_.find(std::string(name));
    if (it != fds_.end()) it->second.second--;
  }

  void Forget(std::string_view name) {
    std::lock_guard<std::mutex> l(mu_);
    auto it = fds_.find(std::string(name));
    if (it != fds_.end() && it->second.second == 0) {
      ::close(it->second.first);
      fds_.erase(it);
    }
  }

  Status RemoveStaleTemporaries(int64_t now_ns, int64_t min_age_ns, bool dry_run, uint64_t* count,
                                uint64_t* bytes) override {
    return SweepTemporaries(root_, now_ns, min_age_ns, dry_run, count, bytes);
  }

  // The writer's process id in a temporary's name: ".tmp-PID-N-R" anywhere,
  // "pack-PID-N" in tmp/ (backend.h); 0 if the name is neither.
  static int64_t TemporaryWriter(std::string_view n, bool in_staging) {
    std::string_view rest;
    if (n.substr(0, kTempPrefix.size()) == kTempPrefix) {
      rest = n.substr(kTempPrefix.size());
    } else if (in_staging && n.substr(0, kStagingPackPrefix.size()) == kStagingPackPrefix) {
      rest = n.substr(kStagingPackPrefix.size());
    } else {
      return 0;
    }
    int64_t pid = 0;
    size_t digits = 0;
    for (; digits < rest.size() && digits < 10 && rest[digits] >= '0' && rest[digits] <= '9'; digits++) {
      pid = pid * 10 + (rest[digits] - '0');
    }
    return digits > 0 && digits < rest.size() && rest[digits] == '-' ? pid : 0;
  }

  Status SweepTemporaries(const std::string& dir, int64_t now_ns, int64_t min_age_ns, bool dry_run, uint64_t* count,
                          uint64_t* bytes) {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) {
      if (errno == ENOENT || errno == ENOTDIR) return Status::OK();
      return Status::FromErrno(errno, "cannot list '" + dir + "'");
    }
    bool in_staging = dir == root_ + "/tmp";
    std::list<std::string> subdirs;
    std::list<std::string> stale;
    int err = 0;
    while (struct dirent* e = NextEntry(d, &err)) {
      std::string_view n(e->d_name);
      if (n == "." || n == "..") continue;
      struct stat st;
      if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
      if (S_ISDIR(st.st_mode)) {
        subdirs.push_back(dir + "/" + std::string(n));
        continue;
      }
      if (!S_ISREG(st.st_mode)) continue;
      int64_t pid = TemporaryWriter(n, in_staging);
      if (pid <= 0 || !ProcessGone(pid)) continue;
      int64_t mtime = int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
      if (now_ns - mtime < min_age_ns) continue;
      stale.push_back(dir + "/" + std::string(n));
      *count += 1;
      *bytes += static_cast<uint64_t>(st.st_size);
    }
    ::closedir(d);
    if (err != 0) return Status::FromErrno(err, "cannot list '" + dir + "'");
    if (!dry_run) {
      for (const auto& path : stale) {
        if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
          return Status::FromErrno(errno, "cannot remove '" + path + "'");
        }
      }
    }
    for (const auto& s : subdirs) CAIRN_RETURN_IF_ERROR(SweepTemporaries(s, now_ns, min_age_ns, dry_run, count, bytes));
    return Status::OK();
  }

  Status ListDir(const std::string& rel,
                 const std::function<void(const std::string&, uint64_t)>& fn) {
    std::string dir = Path(rel);
    if (!dir.empty() && dir.back() == '/') dir.pop_back();
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) {
      if (errno == ENOENT || errno == ENOTDIR) return Status::OK();
      return Status::FromErrno(errno, "cannot list '" + dir + "'");
    }
    std::string base = rel;
    if (!base.empty() && base.back() != '/') base.push_back('/');
    std::list<std::string> subdirs;
    int err = 0;
    while (struct dirent* e = NextEntry(d, &err)) {
      std::string_view n(e->d_name);
      if (n == "." || n == ".." || n.substr(0, kTempPrefix.size()) == kTempPrefix) continue;
      struct stat st;
      if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
      if (S_ISDIR(st.st_mode)) {
        subdirs.push_back(base + std::string(n));
      } else if (S_ISREG(st.st_mode)) {
        fn(base + std::string(n), static_cast<uint64_t>(st.st_size));
      }
    }
    ::closedir(d);
    if (err != 0) return Status::FromErrno(err, "cannot list '" + dir + "'");
    for (const auto& s : subdirs) CAIRN_RETURN_IF_ERROR(ListDir(s, fn));
    return Status::OK();
  }

  const std::string root_;
  std::mutex mu_;
  std::unordered_map<std::string, FdEntry> fds_;
};

}  // namespace

std::unique_ptr<Backend> NewLocalBackend(const std::string& root) {
  return std::make_unique<LocalBackend>(root);
}

}  // namespace cairn::objstore
