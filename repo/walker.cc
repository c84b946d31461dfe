// SPDX-License-Identifier: MIT

#include "repo/walker.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace cairn::repo {
namespace {

using objstore::EntryType;

constexpr std::string_view kCacheDirSignature = "Signature: 8a477f597d28d172789f06886806bc55";

bool IsCacheDir(const std::string& dir) {
  int fd = ::open((dir + "/CACHEDIR.TAG").c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[64];
  ssize_t n = ::read(fd, buf, kCacheDirSignature.size());
  ::close(fd);
  return n == static_cast<ssize_t>(kCacheDirSignature.size()) &&
         std::string_view(buf, static_cast<size_t>(n)) == kCacheDirSignature;
}

}  // namespace

std::string SourcePath(const Node* n) {
  if (!n->source.empty() || n->parent == nullptr) return n->source;
  std::string p = SourcePath(n->parent);
  return p == "/" ? "/" + n->entry.name : p + "/" + n->entry.name;
}

const std::string& NameCache::User(uid_t uid) {
  auto it = users_.find(uid);
  if (it != users_.end()) return it->second;
  return users_.emplace(uid, UserName(uid)).first->second;
}

const std::string& NameCache::Group(gid_t gid) {
  auto it = groups_.find(gid);
  if (it != groups_.end()) return it->second;
  return groups_.emplace(gid, GroupName(gid)).first->second;
}

Status ReadRulesFile(const std::string& path, const std::string& base, std::vector<ExcludeRule>* rules) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno(errno, "cannot read exclusion rules '" + path + "'");
  std::string data;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      Status st = Status::FromErrno(errno, "cannot read exclusion rules '" + path + "'");
      ::close(fd);
      return st;  // never a silently shortened rule list
    }
    data.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  size_t i = 0;
  while (i < data.size()) {
    size_t j = data.find('\n', i);
    if (j == std::string::npos) j = data.size();
    ExcludeRule r;
    if (ParseExcludeRule(std::string_view(data).substr(i, j - i), base, &r)) rules->push_back(std::move(r));
    i = j + 1;
  }
  return Status::OK();
}

bool Walker::Visit(const std::string& path, const std::string& name, const std::string& rel, Node* node,
                   dev_t root_dev) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    Error(path, std::strerror(errno));
    return false;
  }
  TreeEntry& e = node->entry;
  e.name = name;
  e.mode = st.st_mode & 07777;
  e.uid = st.st_uid;
  e.gid = st.st_gid;
  e.user = names_.User(st.st_uid);
  e.group = names_.Group(st.st_gid);
  e.mtime_ns = Ns(st.st_mtim);
  if (node->parent == nullptr) node->source = path;
  node->dev = st.st_dev;
  node->ino = st.st_ino;
  node->ctime_ns = Ns(st.st_ctim);
  if (S_ISREG(st.st_mode)) {
    e.type = EntryType::kFile;
    e.size = static_cast<uint64_t>(st.st_size);
    if (st.st_nlink > 1) {
      auto key = std::make_pair(st.st_dev, st.st_ino);
      auto it = links_.find(key);
      if (it != links_.end()) {
        e.type = EntryType::kHardlink;
        e.link_target = it->second.first;
        node->first_name = it->second.second;
        hardlinks_.push_back(node);
        return true;
      }
      links_.emplace(key, std::make_pair(rel, node));
    }
    Found(node);
  } else if (S_ISDIR(st.st_mode)) {
    e.type = EntryType::kDir;
    dirs_++;
    if (opts_.one_file_system && st.st_dev != root_dev) return true;  // the mount point, empty
    DIR* d = ::opendir(path.c_str());
    if (d == nullptr) {
      Error(path, std::strerror(errno));
      return false;
    }
    std::vector<std::string> names;
    while (struct dirent* de = ::readdir(d)) {
      std::string_view n(de->d_name);
      if (n != "." && n != "..") names.emplace_back(n);
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    size_t rules_before = rules_.size();
    if (std::binary_search(names.begin(), names.end(), ".cairnignore")) {
      Status st2 = ReadRulesFile(path + "/.cairnignore", rel, &rules_);
      if (!st2.ok()) Error(path + "/.cairnignore", st2.message());
    }
    bool cache_dir = opts_.exclude_caches && std::binary_search(names.begin(), names.end(), "CACHEDIR.TAG") &&
                     IsCacheDir(path);
    node->children.reserve(names.size());
    for (const auto& n : names) {
      if (cache_dir && n != "CACHEDIR.TAG") continue;
      std::string child = path == "/" ? "/" + n : path + "/" + n;
      std::string crel = rel.empty() ? n : rel + "/" + n;
      if (!rules_.empty() || opts_.exclude_larger_than > 0) {
        struct stat cst;
        bool is_dir = ::lstat(child.c_str(), &cst) == 0 && S_ISDIR(cst.st_mode);
        if (!rules_.empty() && Excluded(rules_, crel, is_dir)) continue;
        if (opts_.exclude_larger_than > 0 && S_ISREG(cst.st_mode) &&
            static_cast<uint64_t>(cst.st_size) > opts_.exclude_larger_than) {
          continue;
        }
      }
      node->children.emplace_back();
      node->children.back().parent = node;
      if (!Visit(child, n, crel, &node->children.back(), root_dev)) node->children.pop_back();
    }
    rules_.resize(rules_before);
  } else if (S_ISLNK(st.st_mode)) {
    e.type = EntryType::kSymlink;
    std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
    ssize_t n = ::readlink(path.c_str(), target.data(), target.size());
    if (n <= 0 || static_cast<size_t>(n) >= target.size()) {
      Error(path, n < 0 ? std::strerror(errno) : "symlink changed while reading it");
      return false;
    }
    target.resize(static_cast<size_t>(n));
    e.link_target = target;
  } else if (S_ISFIFO(st.st_mode)) {
    e.type = EntryType::kFifo;
  } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
    e.type = S_ISCHR(st.st_mode) ? EntryType::kCharDevice : EntryType::kBlockDevice;
    e.rdev = static_cast<uint64_t>(st.st_rdev);
  } else {
    return false;  // sockets (and unknown types) are not backed up, as in restic and tar
  }
  return true;
}

void Walker::Error(const std::string& path, const std::string& what) {
  errors_->push_back({path, what});
  if (opts_.on_error) opts_.on_error(path, what);
}

}  // namespace cairn::repo
