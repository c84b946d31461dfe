// SPDX-License-Identifier: MIT
//
// The in-memory Backend (backend.h): a map from name to bytes under one
// mutex, for fast tests of the layers above. Only the staging folder is on
// disk, because packs are written to a file as they fill.

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>

#include "objstore/backend.h"

namespace cairn::objstore {
namespace {

class MemoryBackend : public Backend {
 public:
  explicit MemoryBackend(std::string location) : location_(std::move(location)) {
    const char* tmpdir = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmpdir ? tmpdir : "/tmp") + "/cairn-mem-XXXXXX";
    if (::mkdtemp(tmpl.data()) != nullptr) staging_ = tmpl;
  }
  ~MemoryBackend() override {
    if (staging_.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(staging_, ec);
  }

  Status Create() override {
    std::lock_guard<std::mutex> l(mu_);
    if (!objects_.empty()) return Status::AlreadyExists("'" + location_ + "' is not empty");
    return Status::OK();
  }

  Status Put(std::string_view name, std::string_view data) override {
    std::lock_guard<std::mutex> l(mu_);
    objects_[std::string(name)] = std::string(data);
    return Status::OK();
  }

  Status PutIfAbsent(std::string_view name, std::string_view data) override {
    std::lock_guard<std::mutex> l(mu_);
    auto [it, fresh] = objects_.emplace(std::string(name), std::string(data));
    if (!fresh) return Status::AlreadyExists("'" + std::string(name) + "' already exists");
    return Status::OK();
  }

  Status PutIfMatch(std::string_view name, std::string_view data, std::string_view expected) override {
    std::lock_guard<std::mutex> l(mu_);
    auto it = objects_.find(std::string(name));
    if (it == objects_.end() || it->second != expected) {
      return Status::Conflict("'" + std::string(name) + "' was changed by another process");
    }
    it->second.assign(data);
    return Status::OK();
  }

  Status PutFile(std::string_view name, const std::string& local_path) override {
    int fd = ::open(local_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::FromErrno(errno, "cannot open '" + local_path + "'");
    std::string data;
    char buf[1 << 16];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof(buf))) != 0) {
      if (n < 0) {
        if (errno == EINTR) continue;
        int err = errno;
        ::close(fd);
        return Status::FromErrno(err, "cannot read '" + local_path + "'");
      }
      data.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    ::unlink(local_path.c_str());
    return Put(name, data);
  }

  std::string StagingDir() const override { return staging_; }

  Result<std::string> Get(std::string_view name) override {
    std::lock_guard<std::mutex> l(mu_);
    auto it = objects_.find(std::string(name));
    if (it == objects_.end()) return Status::NotFound("no object '" + std::string(name) + "'");
    return it->second;
  }

  Result<std::string> GetRange(std::string_view name, uint64_t offset, uint64_t length) override {
    std::lock_guard<std::mutex> l(mu_);
    auto it = objects_.find(std::string(name));
    if (it == objects_.end()) return Status::NotFound("no object '" + std::string(name) + "'");
    if (offset > it->second.size() || length > it->second.size() - offset) {
      return Status::Corruption("'" + std::string(name) + "' is shorter than expected (truncated?)");
    }
    return it->second.substr(offset, length);
  }

  Result<uint64_t> Stat(std::string_view name) override {
    std::lock_guard<std::mutex> l(mu_);
    auto it = objects_.find(std::string(name));
    if (it == objects_.end()) return Status::NotFound("no object '" + std::string(name) + "'");
    return static_cast<uint64_t>(it->second.size());
  }

  Status List(std::string_view prefix,
              const std::function<void(const std::string& name, uint64_t size)>& fn) override {
    std::vector<std::pair<std::string, uint64_t>> found;
    {
      std::lock_guard<std::mutex> l(mu_);
      for (auto it = objects_.lower_bound(std::string(prefix));
           it != objects_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
        found.emplace_back(it->first, it->second.size());
      }
    }
    for (const auto& [name, size] : found) fn(name, size);  // fn may call back into the backend
    return Status::OK();
  }

  Status Remove(std::string_view name) override {
    std::lock_guard<std::mutex> l(mu_);
    if (objects_.erase(std::string(name)) == 0) return Status::NotFound("no object '" + std::string(name) + "'");
    return Status::OK();
  }

  std::string Location() const override { return location_; }

 private:
  const std::string location_;
  std::string staging_;
  std::mutex mu_;
  std::map<std::string, std::string> objects_;
};

}  // namespace

std::unique_ptr<Backend> NewMemoryBackend(const std::string& location) {
  return std::make_unique<MemoryBackend>(location);
}

}  // namespace cairn::objstore
