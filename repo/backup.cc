// SPDX-License-Identifier: MIT

#include "repo/backup.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "objstore/file_chunks.h"
#include "repo/blob_writer.h"
#include "repo/exclude.h"

namespace cairn::repo {
namespace {

using objstore::EntryType;
using objstore::SourceError;

struct Node {
  TreeEntry entry;
  // The absolute path on disk, kept only where it cannot be derived (the
  // top of each source, streams); SourcePath() builds the others from the
  // parent chain, which saves a path string per entry.
  std::string source;
  Node* parent = nullptr;
  std::vector<Node> children;
  Node* first_name = nullptr;  // for a hard link: the node of its first name
  Status error;                // set when the file could not be read
  uint64_t dev = 0, ino = 0;
  int64_t ctime_ns = 0;
  int fd = -1;                 // a source that is already open (stdin, a command's output)
  uint64_t files_under = 0;    // folders: files in the built tree, recursively
};

std::string SourcePath(const Node* n) {
  if (!n->source.empty() || n->parent == nullptr) return n->source;
  std::string p = SourcePath(n->parent);
  return p == "/" ? "/" + n->entry.name : p + "/" + n->entry.name;
}

int64_t Ns(const struct timespec& ts) { return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec; }

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool FileLike(EntryType t) { return t == EntryType::kFile || t == EntryType::kHardlink; }

// Files found by the walk, handed to the workers while the walk goes on.
class FileQueue {
 public:
  void Push(Node* n) {
    {
      std::lock_guard<std::mutex> l(mu_);
      q_.push_back(n);
    }
    cv_.notify_one();
  }
  void Close() {
    {
      std::lock_guard<std::mutex> l(mu_);
      closed_ = true;
    }
    cv_.notify_all();
  }
  // Blocks for the next file; nullptr once closed and empty. *left is the
  // number still queued, or SIZE_MAX while the walk is still adding files.
  Node* Pop(size_t* left) {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return !q_.empty() || closed_; });
    if (q_.empty()) return nullptr;
    Node* n = q_.front();
    q_.pop_front();
    *left = closed_ ? q_.size() : SIZE_MAX;
    return n;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Node*> q_;
  bool closed_ = false;
};

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

Status ReadRulesFile(const std::string& path, const std::string& base, std::vector<ExcludeRule>* rules) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno(errno, "cannot read exclusion rules '" + path + "'");
  std::string data;
  char buf[65536];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0) data.append(buf, static_cast<size_t>(n));
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

class Walker {
 public:
  Walker(const BackupOptions& opts, std::vector<SourceError>* errors, std::vector<ExcludeRule> rules,
         FileQueue* queue)
      : opts_(opts), errors_(errors), rules_(std::move(rules)), queue_(queue) {}

  // Fills `node` from `path`; `rel` is its path inside the snapshot. Returns
  // false if the entry is to be left out (unreadable, a socket).
  bool Visit(const std::string& path, const std::string& name, const std::string& rel, Node* node,
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

  // Registers a file that is not in the walked tree (stdin, a command, SQLite).
  void AddFile(Node* n) { Found(n); }

  std::vector<Node*>& hardlinks() { return hardlinks_; }
  uint64_t dirs() const { return dirs_; }

 private:
  void Error(const std::string& path, const std::string& what) {
    errors_->push_back({path, what});
    if (opts_.on_error) opts_.on_error(path, what);
  }

  // A regular file is complete once visited: the workers may start on it.
  void Found(Node* n) {
    if (opts_.progress) {
      opts_.progress->files_total++;
      opts_.progress->bytes_total += n->entry.size;
    }
    queue_->Push(n);
  }

  const BackupOptions& opts_;
  std::vector<SourceError>* errors_;
  std::vector<ExcludeRule> rules_;  // a stack: each folder's .cairnignore is popped on leaving it
  NameCache names_;
  // Pointers into Node::children stay valid: each vector is reserved before
  // it is filled and never grows afterwards.
  std::map<std::pair<dev_t, ino_t>, std::pair<std::string, Node*>> links_;
  std::vector<Node*> hardlinks_;
  FileQueue* queue_;
  uint64_t dirs_ = 0;
};

// Why a file must be read, or "" if the file-change cache has it unchanged
// (then its chunk list is filled in).
Result<std::string> CheckCache(Node* n, index::ReadSession* rs, const BackupOptions& o) {
  if (o.force_read) return std::string("--force-read");
  if (o.kind == BackupKind::kFull) return std::string("full backup");
  if (n->fd >= 0) return std::string("stream");
  CAIRN_ASSIGN_OR_RETURN(std::optional<index::FileCacheEntry> c, rs->GetFile(SourcePath(n)));
  if (!c) return std::string("new (not in the file-change cache)");
  if (c->size != n->entry.size) return std::string("size changed");
  if (c->mtime_ns != n->entry.mtime_ns) return std::string("mtime changed");
  if (!o.ignore_ctime && c->ctime_ns != n->ctime_ns) return std::string("ctime changed");
  if (!o.ignore_inode && (c->ino != n->ino || c->dev != n->dev)) return std::string("inode changed");
  // Never trust the cache for existence: every chunk must still be stored.
  for (const auto& id : c->chunks) {
    CAIRN_ASSIGN_OR_RETURN(bool has, rs->HasBlob(id));
    if (!has) return std::string("its chunks are no longer in the repository");
  }
  n->entry.chunks = std::move(c->chunks);
  return std::string();
}

// Reads one file, cuts it into chunks and stores them. Sets the entry's
// chunk list and size to what was actually read. A failure to read the
// source is put in node->error (the file is left out of the snapshot); a
// failure to store is returned (the backup is aborted).
Status ChunkFile(Node* node, const objstore::ChunkerParams& params, BlobWriter* writer, std::string* buf,
                 BackupProgress* progress, BlobWriter::Placement placement) {
  int fd = node->fd;
  bool own = fd < 0;
  if (own) {
    std::string path = SourcePath(node);
    fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
    if (fd < 0 && errno == EPERM) fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
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
  }
  TreeEntry& e = node->entry;
  e.chunks.clear();
  uint64_t total = 0;
  bool read_error = false;
  Status s = objstore::ChunkFd(fd, params, writer->hasher(), buf, [&](std::string_view chunk, const ObjectId& id) -> Status {
    e.chunks.push_back(id);
    total += chunk.size();
    if (progress) progress->bytes_done += chunk.size();
    auto added = writer->Add(objstore::BlobType::kData, id, chunk, placement);
    return added.ok() ? Status::OK() : added.status();
  }, &read_error);
  if (own) ::close(fd);
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

// Normalizes away "." components, ".." and trailing slashes (lexically).
std::string Clean(const std::string& p) {
  std::string out;
  size_t i = 0;
  while (i < p.size()) {
    size_t j = p.find('/', i);
    if (j == std::string::npos) j = p.size();
    std::string comp = p.substr(i, j - i);
    if (!comp.empty() && comp != ".") {
      if (comp == "..") {
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

// Runs `cmd` with /bin/sh -c; returns its pid and the read end of its stdout.
Status StartCommand(const std::string& cmd, pid_t* pid, int* out_fd) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Status::FromErrno(errno, "cannot create a pipe");
  pid_t p = ::fork();
  if (p < 0) {
    int err = errno;
    ::close(fds[0]);
    ::close(fds[1]);
    return Status::FromErrno(err, "cannot start command");
  }
  if (p == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(fds[1]);
  *pid = p;
  *out_fd = fds[0];
  return Status::OK();
}

// Copies the live SQLite database at `src` into `dest` with SQLite's online
// backup API: one consistent state of the database, while other connections
// keep writing.
Status SqliteCopy(const std::string& src, const std::string& dest) {
  sqlite3* in = nullptr;
  sqlite3* out = nullptr;
  auto close_both = [&] {
    if (in) sqlite3_close(in);
    if (out) sqlite3_close(out);
  };
  if (sqlite3_open_v2(src.c_str(), &in, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    std::string msg = in ? sqlite3_errmsg(in) : "out of memory";
    close_both();
    return Status::IOError("cannot open SQLite database '" + src + "': " + msg);
  }
  sqlite3_busy_timeout(in, 10000);
  if (sqlite3_open(dest.c_str(), &out) != SQLITE_OK) {
    close_both();
    return Status::IOError("cannot create a temporary copy for '" + src + "'");
  }
  sqlite3_backup* b = sqlite3_backup_init(out, "main", in, "main");
  if (b == nullptr) {
    std::string msg = sqlite3_errmsg(out);
    close_both();
    return Status::IOError("cannot back up SQLite database '" + src + "': " + msg);
  }
  int rc;
  int waited_ms = 0;
  // One step copies every page under one read transaction: a consistent copy.
  while ((rc = sqlite3_backup_step(b, -1)) == SQLITE_BUSY || rc == SQLITE_LOCKED) {
    if (waited_ms >= 60000) break;
    sqlite3_sleep(10);
    waited_ms += 10;
  }
  sqlite3_backup_finish(b);
  std::string msg = sqlite3_errmsg(out);
  close_both();
  if (rc != SQLITE_DONE) {
    return Status::IOError("cannot back up SQLite database '" + src + "': " + (rc == SQLITE_NOTADB ? "not a database" : msg));
  }
  return Status::OK();
}

// Counts files new, changed, unchanged and deleted against the parent,
// reading parent trees only where the new tree differs.
class ChangeCounter {
 public:
  ChangeCounter(const Repository& repo, objstore::SnapshotStats* stats) : repo_(repo), stats_(stats) {}

  void Dir(const Node& dir, const std::optional<ObjectId>& parent_tree) {
    if (parent_tree && *parent_tree == dir.entry.subtree) {
      stats_->files_unchanged += dir.files_under;
      return;
    }
    Tree old;
    if (parent_tree) {
      auto t = repo_.ReadTree(*parent_tree);
      if (t.ok()) old = std::move(t).value();
    }
    std::vector<bool> seen(old.entries.size(), false);
    for (const auto& c : dir.children) {
      if (!c.error.ok()) continue;
      auto it = std::lower_bound(old.entries.begin(), old.entries.end(), c.entry.name,
                                 [](const TreeEntry& e, const std::string& n) { return e.name < n; });
      const TreeEntry* pe = (it != old.entries.end() && it->name == c.entry.name) ? &*it : nullptr;
      if (pe) seen[static_cast<size_t>(it - old.entries.begin())] = true;
      if (c.entry.type == EntryType::kDir) {
        Dir(c, pe && pe->type == EntryType::kDir ? std::optional<ObjectId>(pe->subtree) : std::nullopt);
        if (pe && FileLike(pe->type)) stats_->files_deleted++;
      } else if (FileLike(c.entry.type)) {
        if (!pe || !FileLike(pe->type)) {
          stats_->files_new++;
          if (pe && pe->type == EntryType::kDir) stats_->files_deleted += Files(pe->subtree);
        } else if (pe->chunks == c.entry.chunks) {
          stats_->files_unchanged++;
        } else {
          stats_->files_changed++;
        }
      }
    }
    for (size_t i = 0; i < old.entries.size(); i++) {
      if (seen[i]) continue;
      const TreeEntry& e = old.entries[i];
      if (FileLike(e.type)) stats_->files_deleted++;
      if (e.type == EntryType::kDir) stats_->files_deleted += Files(e.subtree);
    }
  }

 private:
  uint64_t Files(const ObjectId& tree) {
    auto t = repo_.ReadTree(tree);
    if (!t.ok()) return 0;
    uint64_t n = 0;
    for (const auto& e : t->entries) {
      if (FileLike(e.type)) n++;
      if (e.type == EntryType::kDir) n += Files(e.subtree);
    }
    return n;
  }

  const Repository& repo_;
  objstore::SnapshotStats* stats_;
};

}  // namespace

const char* BackupKindName(BackupKind k) {
  switch (k) {
    case BackupKind::kIncremental: return "incremental";
    case BackupKind::kDifferential: return "differential";
    case BackupKind::kFull: return "full";
  }
  return "?";
}

Result<uint64_t> ParseSize(std::string_view text) {
  auto bad = [&] {
    return Status::InvalidArgument("'" + std::string(text) + "' is not a size; use a number with K, M, G or T");
  };
  if (text.empty()) return bad();
  uint64_t mult = 1;
  char last = static_cast<char>(std::toupper(static_cast<unsigned char>(text.back())));
  if (last == 'B') {
    text.remove_suffix(1);
    if (text.empty()) return bad();
    last = static_cast<char>(std::toupper(static_cast<unsigned char>(text.back())));
  }
  if (last == 'K' || last == 'M' || last == 'G' || last == 'T') {
    mult = uint64_t{1} << (last == 'K' ? 10 : last == 'M' ? 20 : last == 'G' ? 30 : 40);
    text.remove_suffix(1);
  }
  if (text.empty() || text.size() > 12) return bad();
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return bad();
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v * mult;
}

Result<BackupResult> Backup(Repository* repo, const BackupOptions& opts) {
  auto t0 = std::chrono::steady_clock::now();
  int special = opts.read_stdin + !opts.stdin_command.empty() + !opts.sqlite_path.empty();
  if (special > 1) return Status::InvalidArgument("use only one of --stdin, --stdin-from-command and --sqlite");
  if (special == 1 && !opts.paths.empty()) {
    return Status::InvalidArgument("--stdin, --stdin-from-command and --sqlite take no other paths");
  }
  if (special == 0 && opts.paths.empty()) return Status::InvalidArgument("backup needs at least one path");
  if ((opts.read_stdin || !opts.stdin_command.empty()) && !objstore::ValidEntryName(opts.stream_name)) {
    return Status::InvalidArgument("'" + opts.stream_name + "' is not a usable file name (no '/', not '.' or '..')");
  }
  if (!ValidRefName(opts.branch)) {
    return Status::InvalidArgument("'" + opts.branch + "' is not a valid branch name");
  }

  // The parent: the branch head, or for a differential backup the newest
  // full snapshot of the branch.
  std::string ref = "branches/" + opts.branch;
  std::optional<ObjectId> head, parent;
  std::optional<Snapshot> parent_snap;
  auto find_parent = [&]() -> Status {
    CAIRN_ASSIGN_OR_RETURN(head, repo->ReadRef(ref));
    parent = head;
    parent_snap.reset();
    if (opts.kind == BackupKind::kDifferential) {
      parent.reset();
      std::optional<ObjectId> at = head;
      while (at) {
        CAIRN_ASSIGN_OR_RETURN(Snapshot s, repo->ReadSnapshot(*at));
        if (s.kind == "full") {
          parent = at;
          parent_snap = std::move(s);
          break;
        }
        at = s.parents.empty() ? std::nullopt : std::optional<ObjectId>(s.parents[0]);
      }
      if (!parent) {
        return Status::InvalidArgument("branch '" + opts.branch +
                                       "' has no full snapshot to be differential to; take one with --type full");
      }
    } else if (parent) {
      CAIRN_ASSIGN_OR_RETURN(parent_snap, repo->ReadSnapshot(*parent));
    }
    return Status::OK();
  };
  CAIRN_RETURN_IF_ERROR(find_parent());

  Snapshot snap;
  // Exclusion rules given on the command line apply from the snapshot root.
  std::vector<ExcludeRule> rules;
  for (const auto& p : opts.excludes) {
    ExcludeRule r;
    if (ParseExcludeRule(p, "", &r)) rules.push_back(r);
    snap.excludes.push_back("--exclude " + p);
  }
  for (const auto& f : opts.exclude_files) {
    size_t before = rules.size();
    CAIRN_RETURN_IF_ERROR(ReadRulesFile(f, "", &rules));
    for (size_t i = before; i < rules.size(); i++) {
      snap.excludes.push_back("--exclude-file " + f + ": " + std::string(rules[i].negate ? "!" : "") +
                              (rules[i].anchored ? "/" : "") + rules[i].pattern + (rules[i].dir_only ? "/" : ""));
    }
  }
  if (opts.exclude_caches) snap.excludes.push_back("--exclude-caches");
  if (opts.exclude_larger_than) snap.excludes.push_back("--exclude-larger-than " + std::to_string(opts.exclude_larger_than));
  if (opts.one_file_system) snap.excludes.push_back("--one-file-system");
  if (special == 0) snap.excludes.push_back(".cairnignore files");

  Node root;
  root.entry.type = EntryType::kDir;
  bool single_dir = false;
  std::vector<std::string> sources;
  // SQLite: the consistent copy lives in a private folder of our own (made
  // with mkdtemp, mode 0700), so no other user can plant a symlink where it
  // is written; the folder and anything SQLite left in it go at the end.
  std::string temp_dir;
  pid_t command_pid = -1;
  struct TempGuard {
    std::string* dir;
    ~TempGuard() {
      if (dir->empty()) return;
      for (const char* f : {"/copy.db", "/copy.db-journal", "/copy.db-wal", "/copy.db-shm"}) {
        ::unlink((*dir + f).c_str());
      }
      ::rmdir(dir->c_str());
    }
  } temp_guard{&temp_dir};

  if (special == 1) {
    root.children.reserve(1);
    root.children.emplace_back();
    Node& n = root.children.back();
    TreeEntry& e = n.entry;
    e.type = EntryType::kFile;
    e.mode = 0644;
    e.uid = ::getuid();
    e.gid = ::getgid();
    e.mtime_ns = NowNs();
    if (!opts.sqlite_path.empty()) {
      std::string abs = Clean(Absolute(opts.sqlite_path));
      struct stat st;
      if (::stat(abs.c_str(), &st) != 0) return Status::FromErrno(errno, "cannot back up '" + opts.sqlite_path + "'");
      const char* tmpdir = std::getenv("TMPDIR");
      std::string tmpl = std::string(tmpdir ? tmpdir : "/tmp") + "/cairn-sqlite-XXXXXX";
      if (::mkdtemp(tmpl.data()) == nullptr) {
        return Status::FromErrno(errno, "cannot create a temporary folder for the copy of '" + abs + "'");
      }
      temp_dir = tmpl;
      std::string temp_copy = temp_dir + "/copy.db";
      CAIRN_RETURN_IF_ERROR(SqliteCopy(abs, temp_copy));
      n.fd = ::open(temp_copy.c_str(), O_RDONLY | O_CLOEXEC);
      if (n.fd < 0) return Status::FromErrno(errno, "cannot read the copy of '" + abs + "'");
      e.name = LastComponent(abs);
      e.mode = st.st_mode & 07777;
      e.uid = st.st_uid;
      e.gid = st.st_gid;
      e.mtime_ns = Ns(st.st_mtim);
      n.source = abs;
      sources.push_back(abs);
      snap.source = "sqlite";
    } else {
      e.name = opts.stream_name;
      if (!opts.stdin_command.empty()) {
        int fd = -1;
        CAIRN_RETURN_IF_ERROR(StartCommand(opts.stdin_command, &command_pid, &fd));
        n.fd = fd;
        snap.source = "command";
        sources.push_back(opts.stdin_command);
      } else {
        n.fd = STDIN_FILENO;
        snap.source = "stdin";
        sources.push_back("-");
      }
      n.source = e.name;
    }
    if (!objstore::ValidEntryName(e.name)) {
      return Status::InvalidArgument("'" + e.name + "' is not a usable file name (no '/', not '.' or '..')");
    }
  } else {
    std::map<std::string, std::string> by_name;
    for (const auto& p : opts.paths) {
      std::string abs = Clean(Absolute(p));
      struct stat st;
      if (::lstat(abs.c_str(), &st) != 0) return Status::FromErrno(errno, "cannot back up '" + p + "'");
      std::string name = LastComponent(abs);
      if (opts.paths.size() > 1) {
        if (abs == "/") return Status::InvalidArgument("'/' can only be backed up on its own");
        auto [it, fresh] = by_name.emplace(name, p);
        if (!fresh) {
          return Status::InvalidArgument("'" + it->second + "' and '" + p + "' have the same last component '" +
                                         name + "'; back them up separately");
        }
      }
      sources.push_back(abs);
    }
    if (sources.size() == 1) {
      struct stat st;
      single_dir = ::lstat(sources[0].c_str(), &st) == 0 && S_ISDIR(st.st_mode);
    }
  }

  FileQueue queue;
  Walker walker(opts, &snap.errors, rules, &queue);
  BlobWriter writer(repo, opts.threads, opts.dry_run ? BlobWriter::Mode::kDryRun : BlobWriter::Mode::kWrite);
  // File workers: check the cache, or read, chunk and hash; the writer
  // compresses and packs on its own pool.
  unsigned nthreads = opts.threads ? opts.threads : std::max(1u, std::thread::hardware_concurrency());
  std::atomic<bool> failed{false};
  std::atomic<uint64_t> files_read{0};
  Status write_error;
  std::mutex mu;  // write_error, callbacks
  auto params = repo->config().chunker;
  auto work = [&] {
    std::string buf;
    auto rs = repo->index()->BeginRead();
    if (!rs.ok()) {
      std::lock_guard<std::mutex> l(mu);
      if (write_error.ok()) write_error = rs.status();
      failed = true;
      return;
    }
    // File-change cache entries go to LMDB in batches as the backup runs:
    // memory stays bounded, and an entry written for a backup that then
    // fails is harmless, since every cached chunk is checked before use.
    std::vector<std::pair<std::string, index::FileCacheEntry>> updates;
    auto flush_updates = [&] {
      if (!opts.dry_run && !updates.empty()) (void)repo->index()->PutFiles(updates);
      updates.clear();
    };
    for (;;) {
      size_t left;
      Node* n = queue.Pop(&left);
      if (n == nullptr) break;
      if (failed) continue;  // drain the queue so the walk never blocks
      auto reason = CheckCache(n, rs->get(), opts);
      Status st = reason.ok() ? Status::OK() : reason.status();
      if (st.ok() && !reason->empty()) {
        if (opts.on_read) {
          std::lock_guard<std::mutex> l(mu);
          opts.on_read(SourcePath(n), *reason);
        }
        // While every core has a file of its own, compress in this thread;
        // near the end (or for one big file) hand chunks to the pool.
        auto placement = left >= nthreads ? BlobWriter::Placement::kInline : BlobWriter::Placement::kQueue;
        st = ChunkFile(n, params, &writer, &buf, opts.progress, placement);
        files_read++;
        if (st.ok() && n->error.ok() && n->fd < 0) {
          index::FileCacheEntry c{n->dev, n->ino, n->entry.size, n->entry.mtime_ns, n->ctime_ns, n->entry.chunks};
          updates.emplace_back(SourcePath(n), std::move(c));
          if (updates.size() >= 8192) flush_updates();
        }
      } else if (st.ok() && opts.progress) {
        opts.progress->bytes_done += n->entry.size;
      }
      if (!st.ok()) {
        // The repository side failed: abort the whole backup, no snapshot.
        std::lock_guard<std::mutex> l(mu);
        if (write_error.ok()) write_error = st;
        failed = true;
        continue;
      }
      if (opts.progress) opts.progress->files_done++;
    }
    flush_updates();
  };
  // The pool reads files while this thread walks; then this thread joins
  // in. The guard closes the queue and joins the pool on every way out.
  struct Pool {
    FileQueue* queue;
    std::vector<std::thread> threads;
    ~Pool() {
      queue->Close();
      for (auto& t : threads) t.join();
    }
  } pool{&queue, {}};
  for (unsigned t = 1; t < nthreads; t++) pool.threads.emplace_back(work);
  if (special == 1) {
    walker.AddFile(&root.children[0]);
  } else {
    if (single_dir) {
      struct stat st;
      ::lstat(sources[0].c_str(), &st);
      if (!walker.Visit(sources[0], LastComponent(sources[0]), "", &root, st.st_dev)) {
        return Status::IOError("cannot read '" + sources[0] + "': " +
                               (snap.errors.empty() ? "unknown error" : snap.errors.back().error));
      }
    } else {
      std::vector<std::pair<std::string, std::string>> order;  // name, source
      for (const auto& s : sources) order.emplace_back(LastComponent(s), s);
      std::sort(order.begin(), order.end());
      root.children.reserve(order.size());
      for (const auto& [name, src] : order) {
        struct stat st;
        ::lstat(src.c_str(), &st);
        root.children.emplace_back();
        if (!walker.Visit(src, name, name, &root.children.back(), st.st_dev)) root.children.pop_back();
      }
    }
  }
  queue.Close();
  work();
  for (auto& t : pool.threads) t.join();
  pool.threads.clear();
  if (special == 1 && root.children[0].fd > STDERR_FILENO) ::close(root.children[0].fd);
  if (command_pid > 0) {
    int wstatus = 0;
    while (::waitpid(command_pid, &wstatus, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
      std::string how = WIFEXITED(wstatus) ? "exit status " + std::to_string(WEXITSTATUS(wstatus))
                                           : "signal " + std::to_string(WTERMSIG(wstatus));
      return Status::IOError("command '" + opts.stdin_command + "' failed (" + how + "); no snapshot was written");
    }
  }
  if (!write_error.ok()) return write_error;
  if (special == 1 && !root.children[0].error.ok()) {
    return root.children[0].error.WithContext("cannot read '" + sources[0] + "'");
  }
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
  std::function<Result<ObjectId>(Node*)> build = [&](Node* dir) -> Result<ObjectId> {
    Tree tree;
    tree.entries.reserve(dir->children.size());
    dir->files_under = 0;
    for (auto& c : dir->children) {
      if (!c.error.ok()) {
        std::string path = SourcePath(&c);
        snap.errors.push_back({path, c.error.message()});
        if (opts.on_error) opts.on_error(path, c.error.message());
        continue;
      }
      if (c.entry.type == EntryType::kDir) {
        CAIRN_ASSIGN_OR_RETURN(c.entry.subtree, build(&c));
        dir->files_under += c.files_under;
      } else if (FileLike(c.entry.type)) {
        nfiles++;
        dir->files_under++;
        snap.stats.bytes += c.entry.size;
      }
      tree.entries.push_back(c.entry);
    }
    std::string blob = objstore::EncodeTree(tree);
    dir->entry.subtree = repo->hasher().Id(blob);
    CAIRN_ASSIGN_OR_RETURN(bool added, writer.Add(objstore::BlobType::kTree, dir->entry.subtree, blob));
    (void)added;
    return dir->entry.subtree;
  };
  CAIRN_ASSIGN_OR_RETURN(ObjectId root_id, build(&root));
  CAIRN_RETURN_IF_ERROR(writer.Flush());

  snap.tree = root_id;
  snap.time_ns = NowNs();
  char host[256] = {0};
  ::gethostname(host, sizeof(host) - 1);
  snap.host = host;
  struct passwd pw, *res = nullptr;
  char pwbuf[4096];
  if (getpwuid_r(::getuid(), &pw, pwbuf, sizeof(pwbuf), &res) == 0 && res != nullptr) snap.user = res->pw_name;
  snap.paths = sources;
  // Parent, kind and the change counts against the parent; done again if
  // another backup advances the branch before this one is committed.
  auto relate_to_parent = [&] {
    snap.parents.clear();
    if (parent) snap.parents.push_back(*parent);
    snap.kind = parent ? BackupKindName(opts.kind) : "full";
    snap.stats.files_new = snap.stats.files_changed = snap.stats.files_unchanged = snap.stats.files_deleted = 0;
    ChangeCounter(*repo, &snap.stats).Dir(root, parent_snap ? std::optional<ObjectId>(parent_snap->tree) : std::nullopt);
  };
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
  snap.stats.files_read = files_read;
  relate_to_parent();
  snap.stats.duration_ms = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count());

  BackupResult r;
  r.packs_written = ws.packs;
  if (opts.dry_run) {
    r.snapshot = std::move(snap);
    return r;
  }
  if (opts.skip_if_unchanged && parent_snap && parent_snap->tree == root_id) {
    r.skipped = true;
    r.snapshot = std::move(snap);
    return r;
  }
  ObjectId snap_id;
  for (int attempt = 0;; attempt++) {
    CAIRN_ASSIGN_OR_RETURN(snap_id, repo->SaveSnapshot(snap));
    Status st = repo->UpdateRef(ref, head, snap_id);
    if (st.ok()) break;
    if (st.code() != Code::kConflict || attempt >= 20) {
      return st.WithContext("snapshot " + snap_id.ShortHex() + " was saved but branch '" + opts.branch +
                            "' was not advanced");
    }
    // Another backup advanced the branch meanwhile (two hosts or jobs on one
    // lineage): put this snapshot on top of the new head instead, as git
    // would after a rebase, and drop the file no ref will ever reach.
    (void)repo->backend()->Remove(objstore::SnapshotName(snap_id));
    (void)repo->index()->RemoveSnapshot(snap_id);
    CAIRN_RETURN_IF_ERROR(find_parent());
    if (opts.skip_if_unchanged && parent_snap && parent_snap->tree == root_id) {
      r.skipped = true;
      r.snapshot = std::move(snap);
      return r;
    }
    snap.time_ns = std::max(NowNs(), parent_snap ? parent_snap->time_ns + 1 : int64_t{0});
    relate_to_parent();
  }
  r.snapshot_id = snap_id;
  r.snapshot = std::move(snap);
  return r;
}

}  // namespace cairn::repo
