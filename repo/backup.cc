// SPDX-License-Identifier: MIT

#include "repo/backup.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <set>
#include <mutex>
#include <thread>

#include "objstore/chunker.h"
#include "objstore/file_chunks.h"
#include "repo/blob_writer.h"

namespace cairn::repo {
namespace {

using objstore::EntryType;
using objstore::SourceError;

struct Node {
  TreeEntry entry;
  Node* first_name = nullptr;  // for a hard link: the node of its first name
  std::string source;  // absolute path on disk
  std::vector<Node> children;
  Status error;  // set by a file worker that could not read the file
};

int64_t MtimeNs(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

// Owner and group names, looked up once per id.
class NameCache {
 public:
  const std::string& User(uid_t uid) {
    auto it = users_.find(uid);
    if (it != users_.end()) return it->second;
    struct passwd pw, *res = nullptr;
    char buf[4096];
    std::string name;
    if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) == 0 && res != nullptr) name = res->pw_name;
    return users_.emplace(uid, name).first->second;
  }
  const std::string& Group(gid_t gid) {
    auto it = groups_.find(gid);
    if (it != groups_.end()) return it->second;
    struct group gr, *res = nullptr;
    char buf[4096];
    std::string name;
    if (getgrgid_r(gid, &gr, buf, sizeof(buf), &res) == 0 && res != nullptr) name = res->gr_name;
    return groups_.emplace(gid, name).first->second;
  }

 private:
  std::map<uid_t, std::string> users_;
  std::map<gid_t, std::string> groups_;
};

class Walker {
 public:
  Walker(const BackupOptions& opts, std::vector<SourceError>* errors)
      : opts_(opts), errors_(errors) {}

  // Fills `node` from `path`; `rel` is its path inside the snapshot. Returns
  // false if the entry is to be left out (unreadable, or a socket).
  bool Visit(const std::string& path, const std::string& name, const std::string& rel, Node* node) {
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
    e.mtime_ns = MtimeNs(st);
    node->source = path;
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
      files_.push_back(node);
      bytes_ += e.size;
    } else if (S_ISDIR(st.st_mode)) {
      e.type = EntryType::kDir;
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
      node->children.reserve(names.size());
      for (const auto& n : names) {
        node->children.emplace_back();
        std::string child = path == "/" ? "/" + n : path + "/" + n;
        if (!Visit(child, n, rel.empty() ? n : rel + "/" + n, &node->children.back())) {
          node->children.pop_back();
        }
      }
      dirs_++;
    } else if (S_ISLNK(st.st_mode)) {
      e.type = EntryType::kSymlink;
      std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
      ssize_t n = ::readlink(path.c_str(), target.data(), target.size());
      if (n < 0 || static_cast<size_t>(n) >= target.size() || n == 0) {
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

  std::vector<Node*>& files() { return files_; }
  std::vector<Node*>& hardlinks() { return hardlinks_; }
  uint64_t bytes() const { return bytes_; }
  uint64_t dirs() const { return dirs_; }

 private:
  void Error(const std::string& path, const std::string& what) {
    errors_->push_back({path, what});
    if (opts_.on_error) opts_.on_error(path, what);
  }

  const BackupOptions& opts_;
  std::vector<SourceError>* errors_;
  NameCache names_;
  // Pointers into Node::children stay valid: each vector is reserved before
  // it is filled and never grows afterwards.
  std::map<std::pair<dev_t, ino_t>, std::pair<std::string, Node*>> links_;
  std::vector<Node*> files_;
  std::vector<Node*> hardlinks_;
  uint64_t bytes_ = 0;
  uint64_t dirs_ = 0;
};

// Reads one file, cuts it into chunks and stores them. Sets the entry's
// chunk list and size to what was actually read. A failure to read the
// source file is put in node->error (the file is left out of the snapshot);
// a failure to store is returned (the backup is aborted).
Status ChunkFile(Node* node, const objstore::ChunkerParams& params, BlobWriter* writer,
                 std::string* buf, BackupProgress* progress) {
  int fd = ::open(node->source.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
  if (fd < 0 && errno == EPERM) fd = ::open(node->source.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    node->error = Status::FromErrno(errno, "cannot open");
    return Status::OK();
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    node->error = Status::IOError("file was replaced while backing it up");
    return Status::OK();
  }
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  TreeEntry& e = node->entry;
  e.chunks.clear();
  uint64_t total = 0;
  bool read_error = false;
  Status s = objstore::ChunkFd(fd, params, buf, [&](std::string_view chunk, const ObjectId& id) -> Status {
    e.chunks.push_back(id);
    total += chunk.size();
    if (progress) progress->bytes_done += chunk.size();
    auto added = writer->Add(objstore::BlobType::kData, id, chunk);
    return added.ok() ? Status::OK() : added.status();
  }, &read_error);
  ::close(fd);
  e.size = total;
  if (read_error) {
    node->error = s;
    return Status::OK();
  }
  return s;
}

std::string LastComponent(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  size_t s = p.rfind('/');
  return s == std::string::npos ? p : p.substr(s + 1);
}

std::string Absolute(const std::string& p) {
  if (!p.empty() && p[0] == '/') return p;
  char cwd[4096];
  if (::getcwd(cwd, sizeof(cwd)) == nullptr) return p;
  std::string out = cwd;
  return out == "/" ? "/" + p : out + "/" + p;
}

// Normalizes away "." components and trailing slashes, keeping symlinks.
std::string Clean(const std::string& p) {
  std::string out;
  size_t i = 0;
  while (i < p.size()) {
    size_t j = p.find('/', i);
    if (j == std::string::npos) j = p.size();
    std::string comp = p.substr(i, j - i);
    if (!comp.empty() && comp != ".") {
      if (comp == ".." ) {
        size_t s = out.rfind('/');
        out = s == std::string::npos ? "" : out.substr(0, s);
      } else {
        out += "/" + comp;
      }
    }
    i = j + 1;
  }
  return out.empty() ? "/" : out;
}

}  // namespace

Result<BackupResult> Backup(Repository* repo, const BackupOptions& opts) {
  auto t0 = std::chrono::steady_clock::now();
  if (opts.paths.empty()) return Status::InvalidArgument("backup needs at least one path");
  if (!ValidRefName(opts.branch)) {
    return Status::InvalidArgument("'" + opts.branch + "' is not a valid branch name");
  }
  std::vector<std::string> sources;
  std::map<std::string, std::string> by_name;
  for (const auto& p : opts.paths) {
    std::string abs = Clean(Absolute(p));
    struct stat st;
    if (::lstat(abs.c_str(), &st) != 0) {
      return Status::FromErrno(errno, "cannot back up '" + p + "'");
    }
    std::string name = LastComponent(abs);
    if (opts.paths.size() > 1) {
      if (abs == "/") return Status::InvalidArgument("'/' can only be backed up on its own");
      auto [it, fresh] = by_name.emplace(name, p);
      if (!fresh) {
        return Status::InvalidArgument("'" + it->second + "' and '" + p +
                                       "' have the same last component '" + name +
                                       "'; back them up separately");
      }
    }
    sources.push_back(abs);
  }

  Snapshot snap;
  Walker walker(opts, &snap.errors);
  Node root;
  root.entry.type = EntryType::kDir;
  bool single_dir = false;
  if (sources.size() == 1) {
    struct stat st;
    single_dir = ::lstat(sources[0].c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  }
  if (single_dir) {
    if (!walker.Visit(sources[0], LastComponent(sources[0]), "", &root)) {
      return Status::IOError("cannot read '" + sources[0] + "': " +
                             (snap.errors.empty() ? "unknown error" : snap.errors.back().error));
    }
  } else {
    std::vector<std::pair<std::string, std::string>> order;  // name, source
    for (const auto& s : sources) order.emplace_back(LastComponent(s), s);
    std::sort(order.begin(), order.end());
    root.children.reserve(order.size());
    for (const auto& [name, src] : order) {
      root.children.emplace_back();
      if (!walker.Visit(src, name, name, &root.children.back())) root.children.pop_back();
    }
  }
  if (opts.progress) {
    opts.progress->files_total = walker.files().size();
    opts.progress->bytes_total = walker.bytes();
  }

  BlobWriter writer(repo, opts.threads);
  // File workers: read, chunk, hash; the writer compresses on its own pool.
  unsigned nthreads = opts.threads ? opts.threads : std::max(1u, std::thread::hardware_concurrency());
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  Status write_error;
  std::mutex err_mu;
  const auto& files = walker.files();
  auto params = repo->config().chunker;
  auto work = [&] {
    std::string buf;
    for (;;) {
      size_t i = next++;
      if (i >= files.size() || failed) return;
      Node* n = files[i];
      Status st = ChunkFile(n, params, &writer, &buf, opts.progress);
      if (!st.ok()) {
        // The repository side failed: abort the whole backup, no snapshot.
        std::lock_guard<std::mutex> l(err_mu);
        if (write_error.ok()) write_error = st;
        failed = true;
        return;
      }
      if (opts.progress) opts.progress->files_done++;
    }
  };
  {
    std::vector<std::thread> pool;
    for (unsigned t = 1; t < nthreads; t++) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
  }
  if (!write_error.ok()) return write_error;
  // A hard link carries the content of its first name.
  for (Node* h : walker.hardlinks()) {
    if (!h->first_name->error.ok()) {
      h->error = Status::IOError("its other name '" + h->entry.link_target + "' could not be read");
      continue;
    }
    h->entry.chunks = h->first_name->entry.chunks;
    h->entry.size = h->first_name->entry.size;
  }

  // Trees, bottom-up. Files that failed to read are left out and listed.
  uint64_t nfiles = 0;
  std::function<Result<ObjectId>(Node*, const std::string&)> build =
      [&](Node* dir, const std::string& rel) -> Result<ObjectId> {
    Tree tree;
    tree.entries.reserve(dir->children.size());
    for (auto& c : dir->children) {
      std::string crel = rel.empty() ? c.entry.name : rel + "/" + c.entry.name;
      if (!c.error.ok()) {
        snap.errors.push_back({c.source, c.error.message()});
        if (opts.on_error) opts.on_error(c.source, c.error.message());
        continue;
      }
      if (c.entry.type == EntryType::kDir) {
        CAIRN_ASSIGN_OR_RETURN(c.entry.subtree, build(&c, crel));
      } else if (c.entry.type == EntryType::kFile || c.entry.type == EntryType::kHardlink) {
        nfiles++;
        snap.stats.bytes += c.entry.size;
      }
      tree.entries.push_back(std::move(c.entry));
    }
    dir->children.clear();
    std::string blob = objstore::EncodeTree(tree);
    ObjectId id = Sha256(blob);
    CAIRN_ASSIGN_OR_RETURN(bool added, writer.Add(objstore::BlobType::kTree, id, blob));
    (void)added;
    return id;
  };
  CAIRN_ASSIGN_OR_RETURN(ObjectId root_id, build(&root, ""));
  CAIRN_RETURN_IF_ERROR(writer.Flush());

  std::string ref = "branches/" + opts.branch;
  CAIRN_ASSIGN_OR_RETURN(std::optional<ObjectId> head, repo->ReadRef(ref));
  snap.tree = root_id;
  if (head) snap.parents.push_back(*head);
  snap.time_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
  char host[256] = {0};
  ::gethostname(host, sizeof(host) - 1);
  snap.host = host;
  struct passwd pw, *res = nullptr;
  char pwbuf[4096];
  if (getpwuid_r(::getuid(), &pw, pwbuf, sizeof(pwbuf), &res) == 0 && res != nullptr) snap.user = res->pw_name;
  snap.paths = sources;
  snap.kind = head ? "incremental" : "full";
  snap.branch = opts.branch;
  snap.message = opts.message;
  auto ws = writer.stats();
  snap.stats.files = nfiles;
  // The root folder of a single-folder backup is the snapshot root, not an entry.
  snap.stats.dirs = walker.dirs() - (single_dir ? 1 : 0);
  snap.stats.new_chunks = ws.new_chunks;
  snap.stats.new_trees = ws.new_trees;
  snap.stats.added_raw_bytes = ws.raw_bytes;
  snap.stats.added_bytes = ws.stored_bytes;
  snap.stats.duration_ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                     std::chrono::steady_clock::now() - t0)
                                                     .count());
  CAIRN_ASSIGN_OR_RETURN(ObjectId snap_id, repo->SaveSnapshot(snap));
  Status st = repo->UpdateRef(ref, head, snap_id);
  if (!st.ok()) {
    return st.WithContext("snapshot " + snap_id.ShortHex() + " was saved but branch '" + opts.branch +
                          "' was not advanced");
  }
  BackupResult r;
  r.snapshot_id = snap_id;
  r.snapshot = std::move(snap);
  r.packs_written = ws.packs;
  return r;
}

}  // namespace cairn::repo
