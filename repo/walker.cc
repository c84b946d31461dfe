// SPDX-License-Identifier: MIT

#include "repo/walker.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "objstore/core/io.h"

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

// A later name of a file with several names gets what its first name read.
void TakeLink(Node* n) {
  const LinkInfo& l = *n->link;
  if (!l.error.ok()) {
    n->error = Status::IOError("its other name '" + n->entry.link_target + "' could not be read");
    return;
  }
  n->entry.chunks = l.chunks;
  n->entry.size = l.size;
}

}  // namespace

std::string SourcePath(const Node* n) {
  if (!n->source.empty() || n->parent == nullptr) return n->source;
  std::string p = SourcePath(n->parent);
  return p == "/" ? "/" + n->entry.name : p + "/" + n->entry.name;
}

std::string FileCacheKey(const Node* n) {
  if (n->parent != nullptr && n->parent->has_dir_key) return index::FileCacheKey(n->parent->dir_key, n->entry.name);
  // A file named on the command line: the key of the folder it is in.
  std::string path = SourcePath(n);
  size_t slash = path.rfind('/');
  std::string folder = slash == 0 ? "/" : path.substr(0, slash);
  return index::FileCacheKey(index::FileCacheFolderKey(folder), path.substr(slash + 1));
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

Walker::Visited Walker::Visit(const std::string& path, const std::string& name, const std::string& rel,
                              Node* node, dev_t root_dev) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    Error(path, std::strerror(errno));
    return Visited::kOmitted;
  }
  TreeEntry& e = node->entry;
  e.name = name;
  e.mode = st.st_mode & 07777;
  e.uid = st.st_uid;
  e.gid = st.st_gid;
  e.user = names_.User(st.st_uid);
  e.group = names_.Group(st.st_gid);
  e.mtime_ns = Ns(st.st_mtim);
  // The top of the sources: the single folder, or each path of several
  // (entries of a root that is on no disk).
  Node* up = node->parent;
  if (up == nullptr || (up->parent == nullptr && up->source.empty())) node->source = path;
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
        node->link = it->second.second;
        std::lock_guard<std::mutex> l(node->link->mu);
        if (!node->link->done) {
          node->link->waiters.push_back(node);
          return Visited::kPending;
        }
        TakeLink(node);
        return Visited::kFinal;
      }
      node->link = std::make_shared<LinkInfo>();
      links_.emplace(key, std::make_pair(rel, node->link));
    }
    Found(node);
    return Visited::kPending;
  } else if (S_ISDIR(st.st_mode)) {
    e.type = EntryType::kDir;
    dirs_++;
    node->pending.n.store(1);  // the listing
    if (opts_.one_file_system && st.st_dev != root_dev) {  // the mount point, empty
      trees_->Release(node);
      return Visited::kPending;
    }
    DIR* d = ::opendir(path.c_str());
    if (d == nullptr) {
      dirs_--;
      Error(path, std::strerror(errno));
      return Visited::kOmitted;
    }
    std::vector<std::string> names;
    int err = 0;
    while (struct dirent* de = NextEntry(d, &err)) {
      std::string_view n(de->d_name);
      if (n != "." && n != "..") names.emplace_back(n);
    }
    ::closedir(d);
    if (err != 0) {
      // Part of a folder saved as the whole of it would hide the rest.
      dirs_--;
      Error(path, std::strerror(err));
      return Visited::kOmitted;
    }
    std::sort(names.begin(), names.end());
    node->dir_key = index::FileCacheFolderKey(path);
    node->has_dir_key = true;
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
      Child(node, child, n, crel, root_dev);
    }
    rules_.resize(rules_before);
    trees_->Release(node);
    return Visited::kPending;
  } else if (S_ISLNK(st.st_mode)) {
    e.type = EntryType::kSymlink;
    std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
    ssize_t n = ::readlink(path.c_str(), target.data(), target.size());
    if (n <= 0 || static_cast<size_t>(n) >= target.size()) {
      Error(path, n < 0 ? std::strerror(errno) : "symlink changed while reading it");
      return Visited::kOmitted;
    }
    target.resize(static_cast<size_t>(n));
    e.link_target = target;
  } else if (S_ISFIFO(st.st_mode)) {
    e.type = EntryType::kFifo;
  } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
    e.type = S_ISCHR(st.st_mode) ? EntryType::kCharDevice : EntryType::kBlockDevice;
    e.rdev = static_cast<uint64_t>(st.st_rdev);
  } else {
    return Visited::kOmitted;  // sockets (and unknown types) are not backed up, as in restic and tar
  }
  return Visited::kFinal;
}

void Walker::Child(Node* dir, const std::string& path, const std::string& name, const std::string& rel,
                   dev_t root_dev) {
  dir->children.emplace_back();  // within the reserved size: earlier entries never move
  Node* c = &dir->children.back();
  c->parent = dir;
  dir->pending.n.fetch_add(1);
  Visited v = Visit(path, name, rel, c, root_dev);
  // Neither takes the count to zero: the listing holds one.
  if (v != Visited::kPending) dir->pending.n.fetch_sub(1);
  if (v == Visited::kOmitted) dir->children.pop_back();
}

void TreeStreamer::Publish(Node* first) {
  std::shared_ptr<LinkInfo> link = std::move(first->link);
  std::vector<Node*> waiting;
  {
    std::lock_guard<std::mutex> l(link->mu);
    link->done = true;
    link->error = first->error;
    link->size = first->entry.size;
    link->chunks = first->entry.chunks;
    waiting.swap(link->waiters);
  }
  for (Node* n : waiting) {
    TakeLink(n);
    Final(n);
  }
}

void TreeStreamer::Release(Node* dir) {
  while (dir != nullptr) {
    if (dir->pending.n.fetch_sub(1) != 1) return;
    Build(dir);
    dir = dir->parent;
  }
  root_done_ = true;
}

void TreeStreamer::Build(Node* dir) {
  Tree tree;
  tree.entries.reserve(dir->children.size());
  for (auto& c : dir->children) {
    if (!c.error.ok()) {
      errors_->Add(SourcePath(&c), c.error.message());
      continue;
    }
    if (!c.warning.empty()) errors_->Add(SourcePath(&c), c.warning);
    if (FileLike(c.entry.type)) {
      files_++;
      bytes_ += c.entry.size;
    }
    tree.entries.push_back(std::move(c.entry));
  }
  std::string blob = objstore::EncodeTree(tree);
  dir->entry.subtree = writer_->hasher().Id(blob);
  auto added = writer_->Add(objstore::BlobType::kTree, dir->entry.subtree, blob);
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!added.ok() && error_.ok()) error_ = added.status();
    if (keep_trees_) kept_.emplace(dir->entry.subtree, std::move(blob));
  }
  // The folder's entries are in its tree now. The root's stay: the
  // backup looks at a stream's entry afterwards, and they are few.
  if (dir->parent != nullptr) std::vector<Node>().swap(dir->children);
}

std::optional<std::string> TreeStreamer::KeptTree(const ObjectId& id) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = kept_.find(id);
  if (it == kept_.end()) return std::nullopt;
  return it->second;
}

}  // namespace cairn::repo
