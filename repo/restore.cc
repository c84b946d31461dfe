// SPDX-License-Identifier: MIT

#include "repo/restore.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <condition_variable>
#include <cerrno>
#include <cstring>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "objstore/core/io.h"
#include "objstore/file_chunks.h"
#include "repo/exclude.h"

namespace cairn::repo {
namespace {

using objstore::EntryType;

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Fd& operator=(Fd&& o) noexcept {
    std::swap(fd_, o.fd_);
    return *this;
  }
  int get() const { return fd_; }
  bool ok() const { return fd_ >= 0; }

 private:
  int fd_;
};

std::vector<std::string> Split(const std::string& rel) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i <= rel.size()) {
    size_t j = rel.find('/', i);
    if (j == std::string::npos) j = rel.size();
    if (j > i) out.push_back(rel.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

std::string Join(const std::string& a, const std::string& b) { return a.empty() ? b : a + "/" + b; }

bool AllZero(std::string_view d) {
  return d.empty() || (d[0] == 0 && std::memcmp(d.data(), d.data() + 1, d.size() - 1) == 0);
}

struct timespec ToTimespec(int64_t ns) {
  struct timespec ts;
  ts.tv_sec = static_cast<time_t>(ns / 1000000000);
  ts.tv_nsec = static_cast<long>(ns % 1000000000);
  if (ts.tv_nsec < 0) {
    ts.tv_sec--;
    ts.tv_nsec += 1000000000;
  }
  return ts;
}

uint64_t NextRestorerId() {
  static std::atomic<uint64_t> next{1};
  return next++;
}

class Restorer {
 public:
  Restorer(const Repository& repo, const Repository::PathTarget& what, const RestoreOptions& opts)
      : repo_(repo), what_(what), opts_(opts), is_root_(::geteuid() == 0) {
    ExcludeRule r;
    for (const auto& p : opts_.includes) {
      if (ParseExcludeRule(p, "", &r)) include_rules_.push_back(r);
    }
    for (const auto& p : opts_.excludes) {
      if (ParseExcludeRule(p, "", &r)) exclude_rules_.push_back(r);
    }
  }

  Result<RestoreResult> Run() {
    CAIRN_RETURN_IF_ERROR(PrepareTarget());
    if (!target_missing_) {
      root_ = Fd(::open(opts_.target.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      if (!root_.ok()) return Status::FromErrno(errno, "cannot open restore target '" + opts_.target + "'");
    }
    // Announced, so that a prune does not delete packs this restore reads
    // (docs/gc.md). A repository this process cannot write to (mounted
    // read-only) is read without one: no prune runs through it either.
    auto session = objstore::BeginSession(repo_.backend(), "restore");

    // The folders are planned (created, their entries queued) while the
    // workers restore what is queued; the queue is bounded, so memory holds
    // a few folders' entries, not the snapshot's.
    StartWorkers();
    Status planned = Status::OK();
    if (what_.entry.type == EntryType::kDir) {
      dirs_.push_back({"", what_.entry});
      planned = Plan(what_.entry.subtree, "", !target_missing_, false);
    } else if (Choose(what_.entry.name, false, false) == Pick::kOut) {
      // Left out by --include or --exclude: nothing to restore.
    } else if (target_missing_) {
      Record(what_.entry.name, kCreate);
    } else {
      // One non-directory entry: restored under its own name in the target.
      // A hard link alone is its content: a plain file here.
      TreeEntry e = what_.entry;
      if (e.type == EntryType::kHardlink) e.type = EntryType::kFile;
      Job job{"", {e}};
      Queue(std::move(job));
      if (opts_.progress) opts_.progress->files_total = 1;
    }
    FinishWorkers();
    CAIRN_RETURN_IF_ERROR(planned);
    if (opts_.dry_run) {
      for (const auto& [dir, e] : links_) {
        const std::string rel = Join(dir, e.name);
        Fd dirfd = OpenDir(dir);
        Record(rel, dirfd.ok() ? Decide(dirfd.get(), e) : kCreate);
      }
      return Finish();
    }
    RunBigFiles();
    RestoreHardlinks();
    // Folder metadata last and deepest first, so that setting a folder's
    // mtime or a read-only mode does not disturb the restore of its content.
    for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
      if (it->first.empty()) {
        RestoreTargetMetadata();
        continue;
      }
      Fd fd = OpenDir(it->first);
      if (!fd.ok()) {
        Error(it->first, Status::FromErrno(errno, "cannot open folder"));
        continue;
      }
      ApplyMetadata(fd.get(), nullptr, it->second, it->first);
    }
    return Finish();
  }

 private:
  struct Job {
    std::string dir;                 // folder in the target, relative
    std::vector<TreeEntry> entries;  // its non-directory entries
  };

  // A file large enough to be written by several threads at once: created
  // empty by its folder's job, filled by range jobs with pwrite, finished
  // (size, verification, metadata) when every range is done.
  struct BigFile {
    std::string dir, rel;
    TreeEntry entry_copy;    // its job is gone by the time the ranges are written
    const TreeEntry* entry = &entry_copy;
    std::vector<uint64_t> offsets;  // of each chunk
    std::atomic<bool> failed{false};
    Status error;  // the first failure, under Restorer::mu_
  };
  static constexpr uint64_t kBigFile = 32 << 20;   // files at least this large are split
  static constexpr uint64_t kRangeBytes = 8 << 20;  // into ranges of about this size

  static constexpr const char* kCreate = "create";
  static constexpr const char* kOverwrite = "overwrite";
  static constexpr const char* kUnchanged = "unchanged";
  static constexpr const char* kSkip = "skip";
  static constexpr const char* kDelete = "delete";

  Result<RestoreResult> Finish() {
    std::sort(result_.errors.begin(), result_.errors.end(),
              [](const auto& a, const auto& b) { return a.path < b.path; });
    std::sort(result_.items.begin(), result_.items.end(),
              [](const auto& a, const auto& b) { return a.path < b.path; });
    return std::move(result_);
  }

  // Notes one decision.
  void Record(const std::string& rel, const char* action) {
    std::lock_guard<std::mutex> l(mu_);
    if (action == kCreate) result_.created++;
    if (action == kOverwrite) result_.overwritten++;
    if (action == kUnchanged) result_.unchanged++;
    if (action == kSkip) result_.skipped++;
    if (action == kDelete) result_.deleted++;
    if (opts_.record_items) result_.items.push_back({rel, action});
  }

  // What to do with non-folder entry `e` at (dirfd, e.name).
  const char* Decide(int dirfd, const TreeEntry& e) {
    if (fresh_) return kCreate;  // an empty or new target holds nothing to compare
    struct stat st;
    if (::fstatat(dirfd, e.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      return errno == ENOENT ? kCreate : kOverwrite;
    }
    switch (opts_.overwrite) {
      case Overwrite::kNever: return kSkip;
      case Overwrite::kIfNewer: {
        const int64_t have = int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec;
        return e.mtime_ns > have ? kOverwrite : kSkip;
      }
      case Overwrite::kIfChanged: return SameContent(dirfd, e, st) ? kUnchanged : kOverwrite;
      case Overwrite::kAlways: return kOverwrite;
    }
    return kOverwrite;
  }

  // True if what is at (dirfd, e.name), stat `st`, has the content of `e`:
  // a regular file whose chunk ids are e's (read and chunked with the
  // repository's chunker), a symlink with e's target, a device or fifo of
  // the same kind.
  bool SameContent(int dirfd, const TreeEntry& e, const struct stat& st) {
    switch (e.type) {
      case EntryType::kFile:
      case EntryType::kHardlink: {
        if (!S_ISREG(st.st_mode) || static_cast<uint64_t>(st.st_size) != e.size) return false;
        Fd fd(::openat(dirfd, e.name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
        if (!fd.ok()) return false;
        size_t i = 0;
        bool same = true, read_error = false;
        std::string buf;
        Status s = objstore::ChunkFd(fd.get(), repo_.config().chunker, repo_.hasher(), &buf,
                                     [&](std::string_view, const ObjectId& id) -> Status {
                                       if (i >= e.chunks.size() || e.chunks[i] != id) {
                                         same = false;
                                         return Status::Conflict("differs");
                                       }
                                       i++;
                                       return Status::OK();
                                     },
                                     &read_error);
        return s.ok() && same && i == e.chunks.size();
      }
      case EntryType::kSymlink: {
        if (!S_ISLNK(st.st_mode)) return false;
        std::string target(e.link_target.size() + 1, '\0');
        ssize_t n = ::readlinkat(dirfd, e.name.c_str(), target.data(), target.size());
        return n == static_cast<ssize_t>(e.link_target.size()) && target.compare(0, n, e.link_target) == 0;
      }
      case EntryType::kFifo: return S_ISFIFO(st.st_mode);
      case EntryType::kGitlink: return S_ISDIR(st.st_mode);
      case EntryType::kCharDevice: return S_ISCHR(st.st_mode) && st.st_rdev == static_cast<dev_t>(e.rdev);
      case EntryType::kBlockDevice: return S_ISBLK(st.st_mode) && st.st_rdev == static_cast<dev_t>(e.rdev);
      default: return false;
    }
  }

  // An entry left in place whose content is right: its owner, mode and
  // mtime are set if they differ.
  void FixMetadata(int dirfd, const TreeEntry& e, const std::string& rel) {
    struct stat st;
    if (::fstatat(dirfd, e.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return;
    const int64_t mtime = int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec;
    const bool link = e.type == EntryType::kSymlink;
    if (mtime == e.mtime_ns && (link || (st.st_mode & 07777) == (e.mode & 07777)) &&
        (!is_root_ || (st.st_uid == e.uid && st.st_gid == e.gid))) {
      return;
    }
    if (e.type == EntryType::kFile || e.type == EntryType::kHardlink) {
      Fd fd(::openat(dirfd, e.name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
      if (fd.ok()) ApplyMetadata(fd.get(), nullptr, e, rel);
      return;
    }
    ApplyMetadata(-1, &dirfd, e, rel);
  }

  // Removes `name` in `dirfd` and, for a folder, everything in it; never
  // follows a symlink.
  Status RemoveTree(int dirfd, const std::string& name) {
    if (::unlinkat(dirfd, name.c_str(), 0) == 0) return Status::OK();
    if (errno != EISDIR && errno != EPERM) return Status::FromErrno(errno, "cannot delete");
    int sub = ::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub < 0) return Status::FromErrno(errno, "cannot open folder to delete");
    DIR* d = ::fdopendir(sub);
    if (d == nullptr) {
      ::close(sub);
      return Status::FromErrno(errno, "cannot list folder to delete");
    }
    std::vector<std::string> names;
    int err = 0;
    while (struct dirent* de = NextEntry(d, &err)) {
      std::string n = de->d_name;
      if (n != "." && n != "..") names.push_back(n);
    }
    Status st = err != 0 ? Status::FromErrno(err, "cannot list folder to delete") : Status::OK();
    for (const auto& n : names) {
      st = RemoveTree(::dirfd(d), n);
      if (!st.ok()) break;
    }
    ::closedir(d);
    CAIRN_RETURN_IF_ERROR(st);
    if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0) return Status::FromErrno(errno, "cannot delete folder");
    return Status::OK();
  }

  // Whether the entry at `rel` (relative to what is restored) is restored:
  // kOut, not it nor anything below it; kIn, it and everything below it
  // that no exclude pattern leaves out; kMaybe, a folder that no include
  // pattern chose, entered to look for entries that one does (it is created
  // only if one is found). `inside`: a folder above was chosen.
  enum class Pick { kOut, kIn, kMaybe };
  Pick Choose(const std::string& rel, bool is_dir, bool inside) const {
    if (!exclude_rules_.empty() && Excluded(exclude_rules_, rel, is_dir)) return Pick::kOut;
    if (include_rules_.empty() || inside || Excluded(include_rules_, rel, is_dir)) return Pick::kIn;
    return is_dir ? Pick::kMaybe : Pick::kOut;
  }

  // delete_extra: removes what folder `rel` (open as dirfd) has and `tree`
  // does not, as far as the patterns would restore it (`inside` as for
  // Choose): what they leave out is kept.
  void DeleteExtra(int dirfd, const std::string& rel, const Tree& tree, bool inside) {
    int dup = ::dup(dirfd);
    DIR* d = dup >= 0 ? ::fdopendir(dup) : nullptr;
    if (d == nullptr) {
      if (dup >= 0) ::close(dup);
      Error(rel.empty() ? "." : rel, Status::FromErrno(errno, "cannot list folder"));
      return;
    }
    std::vector<std::string> extra;
    int err = 0;
    while (struct dirent* de = NextEntry(d, &err)) {
      std::string n = de->d_name;
      if (n == "." || n == "..") continue;
      if (objstore::FindEntry(tree, n) != nullptr) continue;
      if (!include_rules_.empty() || !exclude_rules_.empty()) {
        struct stat st;
        const bool is_dir = ::fstatat(dirfd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
        if (Choose(Join(rel, n), is_dir, inside) != Pick::kIn) continue;
      }
      extra.push_back(n);
    }
    ::closedir(d);
    if (err != 0) {
      // A listing cut short: deleting from part of it would be a guess.
      Error(rel.empty() ? "." : rel, Status::FromErrno(err, "cannot list folder"));
      return;
    }
    std::sort(extra.begin(), extra.end());
    for (const auto& n : extra) {
      const std::string crel = Join(rel, n);
      Record(crel, kDelete);
      if (opts_.dry_run) continue;
      Status st = RemoveTree(dirfd, n);
      if (!st.ok()) Error(crel, st);
    }
  }

  Status PrepareTarget() {
    namespace fs = std::filesystem;
    std::error_code ec;
    struct stat st;
    if (::stat(opts_.target.c_str(), &st) != 0) {
      if (opts_.dry_run) {
        target_missing_ = true;
        return Status::OK();
      }
      fs::create_directories(opts_.target, ec);
      if (ec) return Status::IOError("cannot create restore target '" + opts_.target + "': " + ec.message());
      created_target_ = true;
      fresh_ = true;
      return Status::OK();
    }
    if (!S_ISDIR(st.st_mode)) {
      return Status::AlreadyExists("restore target '" + opts_.target + "' exists and is not a folder");
    }
    fresh_ = fs::is_empty(opts_.target, ec) && !ec;
    if (!opts_.force && !fresh_) {
      return Status::AlreadyExists("restore target '" + opts_.target +
                                   "' is not empty; choose an empty folder, or use --force (or --overwrite MODE, --delete) to restore over it after a safety snapshot");
    }
    return Status::OK();
  }

  // Creates the folders (depth first, in the main thread) and queues one job
  // per folder for its other entries.
  Status Plan(const ObjectId& tree_id, const std::string& rel, bool exists, bool inside) {
    auto tree = repo_.ReadTree(tree_id);
    if (!tree.ok()) {
      Error(rel.empty() ? "." : rel, tree.status().IsNotFound()
                                         ? Status::Corruption("tree " + tree_id.ShortHex() + " is missing from the repository")
                                         : tree.status());
      return Status::OK();
    }
    Job job{rel, {}};
    Fd dirfd;
    if (exists) {
      dirfd = OpenDir(rel);
      if (!dirfd.ok()) {
        Error(rel, Status::FromErrno(errno, "cannot open folder"));
        return Status::OK();
      }
      if (opts_.delete_extra) DeleteExtra(dirfd.get(), rel, *tree, inside);
    }
    struct Sub {
      std::string rel;
      ObjectId id;
      bool exists;
      bool chosen;  // Pick::kIn; otherwise entered for --include (pending)
      TreeEntry entry;  // a pending folder's, for creating it later
      const char* action;  // a pending folder's decision (nullptr: it is there)
    };
    std::vector<Sub> subdirs;
    for (auto& e : tree->entries) {
      std::string crel = Join(rel, e.name);
      const Pick pick = Choose(crel, e.type == EntryType::kDir, inside);
      if (pick == Pick::kOut) continue;
      if (pick == Pick::kIn && !pending_.empty()) {
        // The first entry chosen inside folders --include entered: they
        // are created now, this one included.
        Materialize();
        if (!exists && !opts_.dry_run) {
          exists = true;
          dirfd = OpenDir(rel);
          if (!dirfd.ok()) return Status::OK();  // Materialize named the error
        }
      }
      if (e.type == EntryType::kDir) {
        if (Status deep = objstore::CheckTreePath(crel); !deep.ok()) {
          Error(crel.substr(0, 48) + "…", deep);
          continue;
        }
        struct stat st;
        const bool is_dir =
            exists && !fresh_ && ::fstatat(dirfd.get(), e.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
        const char* action = !is_dir ? kCreate : !S_ISDIR(st.st_mode) ? kOverwrite : nullptr;
        const bool dir_there = is_dir && S_ISDIR(st.st_mode);
        if (pick == Pick::kMaybe) {
          subdirs.push_back({crel, e.subtree, dir_there, false, e, action});
          continue;
        }
        if (action != nullptr) Record(crel, action);
        if (opts_.dry_run) {
          subdirs.push_back({crel, e.subtree, dir_there, true, {}, nullptr});
          continue;
        }
        Status mk = MakeDir(dirfd.get(), e.name);
        if (!mk.ok()) {
          Error(crel, mk);
          continue;
        }
        dirs_.push_back({crel, e});
        result_.dirs++;
        subdirs.push_back({crel, e.subtree, true, true, {}, nullptr});
      } else if (!exists) {
        // Inside a folder a dry run would create: everything is new.
        Record(crel, kCreate);
      } else if (e.type == EntryType::kHardlink) {
        links_.push_back({rel, e});
      } else {
        if (opts_.progress && e.type == EntryType::kFile) {
          opts_.progress->files_total++;
          opts_.progress->bytes_total += e.size;
        }
        job.entries.push_back(std::move(e));
      }
    }
    dirfd = Fd();
    if (!job.entries.empty()) Queue(std::move(job));
    for (auto& sub : subdirs) {
      if (sub.chosen) {
        CAIRN_RETURN_IF_ERROR(Plan(sub.id, sub.rel, sub.exists, true));
        continue;
      }
      const size_t depth = pending_.size();
      pending_.push_back({sub.rel, std::move(sub.entry), sub.action});
      Status st = Plan(sub.id, sub.rel, sub.exists, false);
      if (pending_.size() > depth) pending_.resize(depth);
      CAIRN_RETURN_IF_ERROR(st);
    }
    return Status::OK();
  }

  // Creates the folders on the current path that --include entered without
  // choosing them (pending_, outermost first), now that an entry inside
  // them is restored.
  void Materialize() {
    for (auto& p : pending_) {
      if (p.action != nullptr) Record(p.rel, p.action);
      if (opts_.dry_run) continue;
      const size_t slash = p.rel.rfind('/');
      Fd parent = OpenDir(slash == std::string::npos ? "" : p.rel.substr(0, slash));
      Status mk = parent.ok() ? MakeDir(parent.get(), p.entry.name) : Status::FromErrno(errno, "cannot open folder");
      if (!mk.ok()) {
        Error(p.rel, mk);
        break;
      }
      dirs_.push_back({p.rel, p.entry});
      result_.dirs++;
    }
    pending_.clear();
  }

  Status MakeDir(int parent, const std::string& name) {
    if (::mkdirat(parent, name.c_str(), 0700) == 0) return Status::OK();
    if (errno != EEXIST) return Status::FromErrno(errno, "cannot create folder");
    struct stat st;
    if (::fstatat(parent, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      return Status::FromErrno(errno, "cannot inspect existing entry");
    }
    if (S_ISDIR(st.st_mode)) return Status::OK();
    // A file or a symlink where the snapshot has a folder: replaced, never
    // followed (this is only reachable with --force).
    if (::unlinkat(parent, name.c_str(), 0) != 0 || ::mkdirat(parent, name.c_str(), 0700) != 0) {
      return Status::FromErrno(errno, "cannot replace existing entry with a folder");
    }
    return Status::OK();
  }

  // Opens folder `rel` of the target, one component at a time, never
  // following a symlink. Each thread keeps the descriptors of the last
  // folders it opened on the way to the last one (its ancestors: 48 in the
  // thread that plans, 4 in each worker, so that descriptors stay few on
  // many cores), and starts from the deepest of them that contains `rel`:
  // folders are planned depth first and their metadata set deepest first,
  // so a deep chain of folders costs one openat per folder, not one per
  // level.
  Fd OpenDir(const std::string& rel) const {
    const size_t kChain = std::this_thread::get_id() == planner_ ? 48 : 4;
    struct Chain {
      uint64_t owner = 0;
      std::vector<std::pair<std::string, Fd>> dirs;  // outermost first
    };
    thread_local Chain chain;
    if (chain.owner != id_) {
      chain.owner = id_;
      chain.dirs.clear();
    }
    auto within = [&](const std::string& dir) {
      return dir.empty() || rel == dir || (rel.size() > dir.size() && rel.compare(0, dir.size(), dir) == 0 &&
                                           rel[dir.size()] == '/');
    };
    size_t keep = chain.dirs.size();
    while (keep > 0 && !within(chain.dirs[keep - 1].first)) keep--;
    chain.dirs.resize(keep);
    Fd fd(::dup(keep > 0 ? chain.dirs.back().second.get() : root_.get()));
    std::string at = keep > 0 ? chain.dirs.back().first : std::string();
    if (at == rel) return fd;
    for (const auto& comp : Split(at.empty() ? rel : rel.substr(at.size() + 1))) {
      int next = ::openat(fd.get(), comp.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (next < 0) return Fd();
      fd = Fd(next);
      at = at.empty() ? comp : at + "/" + comp;
      chain.dirs.emplace_back(at, Fd(::dup(fd.get())));
      if (chain.dirs.size() > kChain) chain.dirs.erase(chain.dirs.begin());
    }
    return fd;
  }

  // Calls fn(0) … fn(count-1) on one thread per core (or opts_.threads).
  void ParallelFor(size_t count, const std::function<void(size_t)>& fn) {
    unsigned n = opts_.threads ? opts_.threads : std::max(1u, std::thread::hardware_concurrency());
    std::atomic<size_t> next{0};
    auto work = [&] {
      for (size_t i = next++; i < count; i = next++) fn(i);
    };
    std::vector<std::thread> pool;
    for (unsigned t = 1; t < n; t++) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
  }

  // The job queue: Plan() adds each folder's entries, the workers take
  // them. When it is full, the planning thread restores a folder itself.
  static constexpr size_t kQueuedEntries = 8192;

  void StartWorkers() {
    unsigned n = opts_.threads ? opts_.threads : std::max(1u, std::thread::hardware_concurrency());
    for (unsigned t = 1; t < n; t++) workers_.emplace_back([this] { Work(); });
  }
  void FinishWorkers() {
    {
      std::lock_guard<std::mutex> l(queue_mu_);
      closed_ = true;
    }
    queue_cv_.notify_all();
    Work();
    for (auto& t : workers_) t.join();
    workers_.clear();
  }
  void Queue(Job job) {
    for (;;) {
      std::unique_lock<std::mutex> l(queue_mu_);
      if (queued_entries_ < kQueuedEntries || queue_.empty()) {
        queued_entries_ += job.entries.size();
        queue_.push_back(std::move(job));
        l.unlock();
        queue_cv_.notify_one();
        return;
      }
      Job other = TakeLocked();
      l.unlock();
      RunJob(other);
    }
  }
  Job TakeLocked() {
    Job j = std::move(queue_.front());
    queue_.pop_front();
    queued_entries_ -= j.entries.size();
    return j;
  }
  void Work() {
    for (;;) {
      std::unique_lock<std::mutex> l(queue_mu_);
      queue_cv_.wait(l, [&] { return closed_ || !queue_.empty(); });
      if (queue_.empty()) return;
      Job j = TakeLocked();
      l.unlock();
      RunJob(j);
    }
  }
  void RunJob(const Job& job) {
    Fd dirfd = OpenDir(job.dir);
    if (!dirfd.ok()) {
      Error(job.dir.empty() ? "." : job.dir, Status::FromErrno(errno, "cannot open folder"));
      return;
    }
    for (const auto& e : job.entries) RestoreEntry(dirfd.get(), job.dir, e);
  }

  // Removes what is at `name` (only with --force; never a folder).
  bool ClearSlot(int dirfd, const std::string& name, const std::string& rel) {
    if (!opts_.force) return true;
    if (::unlinkat(dirfd, name.c_str(), 0) == 0 || errno == ENOENT) return true;
    Error(rel, Status::FromErrno(errno, "cannot replace existing entry"));
    return false;
  }

  void RestoreEntry(int dirfd, const std::string& dir, const TreeEntry& e) {
    std::string rel = Join(dir, e.name);
    const char* action = Decide(dirfd, e);
    Record(rel, action);
    if (opts_.dry_run || action == kSkip) return;
    if (action == kUnchanged) {
      FixMetadata(dirfd, e, rel);
      if (e.type == EntryType::kFile) {
        Written key{PathKey(SnapshotPath(rel)), ContentKey(e)};
        std::lock_guard<std::mutex> l(mu_);
        restored_.push_back(key);  // a hard link may point at it
        result_.files++;
      }
      return;
    }
    if (action == kOverwrite && !ClearSlot(dirfd, e.name, rel)) return;
    switch (e.type) {
      case EntryType::kFile:
        if (e.size >= kBigFile && e.chunks.size() > 1) {
          StartBigFile(dirfd, dir, rel, e);
        } else {
          RestoreFile(dirfd, rel, e, e.name);
        }
        return;
      case EntryType::kSymlink:
        if (::symlinkat(e.link_target.c_str(), dirfd, e.name.c_str()) != 0) {
          Error(rel, Status::FromErrno(errno, "cannot create symlink"));
          return;
        }
        ApplyMetadata(-1, &dirfd, e, rel);
        Count([&] { result_.links++; });
        return;
      case EntryType::kFifo:
      case EntryType::kCharDevice:
      case EntryType::kBlockDevice: {
        mode_t kind = e.type == EntryType::kFifo ? S_IFIFO
                      : e.type == EntryType::kCharDevice ? S_IFCHR : S_IFBLK;
        if (::mknodat(dirfd, e.name.c_str(), kind | 0600, static_cast<dev_t>(e.rdev)) != 0) {
          Error(rel, Status::FromErrno(errno, std::string("cannot create ") + objstore::EntryTypeName(e.type)));
          return;
        }
        ApplyMetadata(-1, &dirfd, e, rel);
        Count([&] { result_.others++; });
        return;
      }
      case EntryType::kGitlink:
        // A git submodule: an empty folder, as git checks one out that was
        // not initialized (its content is another repository's).
        if (::mkdirat(dirfd, e.name.c_str(), 0700) != 0) {
          Error(rel, Status::FromErrno(errno, "cannot create folder for submodule"));
          return;
        }
        ApplyMetadata(-1, &dirfd, e, rel);
        Count([&] { result_.others++; });
        return;
      default:
        return;
    }
  }

  void StartBigFile(int dirfd, const std::string& dir, const std::string& rel, const TreeEntry& e) {
    Fd fd(::openat(dirfd, e.name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd.ok()) {
      Error(rel, Status::FromErrno(errno, "cannot create file"));
      return;
    }
    auto big = std::make_unique<BigFile>();
    big->dir = dir;
    big->rel = rel;
    big->entry_copy = e;
    uint64_t off = 0;
    for (const auto& id : e.chunks) {
      big->offsets.push_back(off);
      auto loc = repo_.Locate(id);
      if (!loc.ok() || !*loc) {
        big->failed = true;
        big->error = loc.ok() ? Status::Corruption("chunk " + id.ShortHex() + " is missing") : loc.status();
        break;
      }
      off += (*loc)->entry.raw_length;
    }
    if (!big->failed && off != e.size) {
      big->failed = true;
      big->error = Status::Corruption("content is " + std::to_string(off) + " bytes, the snapshot says " +
                                      std::to_string(e.size));
    }
    std::lock_guard<std::mutex> l(mu_);
    big_files_.push_back(std::move(big));
  }

  // Writes chunks [first, last) of `big` at their offsets.
  Status WriteRange(BigFile* big, size_t first, size_t last) {
    Fd dirfd = OpenDir(big->dir);
    if (!dirfd.ok()) return Status::FromErrno(errno, "cannot open folder");
    Fd fd(::openat(dirfd.get(), big->entry->name.c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.ok()) return Status::FromErrno(errno, "cannot open file");
    for (size_t i = first; i < last && !big->failed; i++) {
      CAIRN_ASSIGN_OR_RETURN(std::string data, Chunk(big->entry->chunks[i]));
      if (!AllZero(data)) CAIRN_RETURN_IF_ERROR(WriteAll(fd.get(), data, big->rel, big->offsets[i]));
      if (opts_.progress) opts_.progress->bytes_done += data.size();
    }
    return Status::OK();
  }

  void RunBigFiles() {
    struct Range {
      BigFile* big;
      size_t first, last;
    };
    std::vector<Range> ranges;
    for (auto& b : big_files_) {
      if (b->failed) continue;
      size_t first = 0;
      for (size_t i = 1; i <= b->offsets.size(); i++) {
        uint64_t end = i < b->offsets.size() ? b->offsets[i] : b->entry->size;
        if (end - b->offsets[first] >= kRangeBytes || i == b->offsets.size()) {
          ranges.push_back({b.get(), first, i});
          first = i;
        }
      }
    }
    ParallelFor(ranges.size(), [&](size_t i) {
      Range& r = ranges[i];
      if (r.big->failed) return;
      Status st = WriteRange(r.big, r.first, r.last);
      if (!st.ok() && !r.big->failed.exchange(true)) {
        std::lock_guard<std::mutex> l(mu_);
        r.big->error = st;
      }
    });
    // Finish each file: size, verification and metadata, or removal.
    for (auto& b : big_files_) {
      Fd dirfd = OpenDir(b->dir);
      if (!dirfd.ok()) {
        Error(b->rel, Status::FromErrno(errno, "cannot open folder"));
        continue;
      }
      const TreeEntry& e = *b->entry;
      Status st = b->failed ? b->error : Status::OK();
      Fd fd;
      if (st.ok()) {
        fd = Fd(::openat(dirfd.get(), e.name.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC));
        if (!fd.ok()) st = Status::FromErrno(errno, "cannot open file");
      }
      if (st.ok() && ::ftruncate(fd.get(), static_cast<off_t>(e.size)) != 0) {
        st = Status::FromErrno(errno, "cannot set size");
      }
      if (st.ok() && opts_.verify) st = VerifyContent(fd.get(), e);
      if (!st.ok()) {
        fd = Fd();
        ::unlinkat(dirfd.get(), e.name.c_str(), 0);
        Error(b->rel, st);
        continue;
      }
      ApplyMetadata(fd.get(), nullptr, e, b->rel);
      Written key{PathKey(SnapshotPath(b->rel)), ContentKey(e)};
      std::lock_guard<std::mutex> l(mu_);
      result_.files++;
      result_.bytes += e.size;
      restored_.push_back(key);
      if (opts_.progress) opts_.progress->files_done++;
    }
  }

  // Writes one file's content; on any failure removes the partial file.
  void RestoreFile(int dirfd, const std::string& rel, const TreeEntry& e, const std::string& name) {
    Fd fd(::openat(dirfd, name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd.ok()) {
      Error(rel, Status::FromErrno(errno, "cannot create file"));
      return;
    }
    Status st = WriteContent(fd.get(), e);
    if (st.ok() && opts_.verify) st = VerifyContent(fd.get(), e);
    if (!st.ok()) {
      fd = Fd();
      ::unlinkat(dirfd, name.c_str(), 0);
      Error(rel, st);
      return;
    }
    ApplyMetadata(fd.get(), nullptr, e, rel);
    Written key{PathKey(SnapshotPath(rel)), ContentKey(e)};  // hashed outside the lock
    {
      std::lock_guard<std::mutex> l(mu_);
      result_.files++;
      result_.bytes += e.size;
      restored_.push_back(key);
    }
    if (opts_.progress) opts_.progress->files_done++;
  }

  // Reads a chunk; one the repository does not have is damage, not a
  // missing path.
  Result<std::string> Chunk(const ObjectId& id) {
    auto data = repo_.ReadBlob(id);
    if (!data.ok() && data.status().IsNotFound()) {
      return Status::Corruption("chunk " + id.ShortHex() + " is missing from the repository");
    }
    return data;
  }

  Status WriteContent(int fd, const TreeEntry& e) {
    uint64_t off = 0;
    for (const auto& id : e.chunks) {
      CAIRN_ASSIGN_OR_RETURN(std::string data, Chunk(id));
      if (!AllZero(data)) CAIRN_RETURN_IF_ERROR(WriteAll(fd, data, e.name, off));  // zero runs become holes
      off += data.size();
      if (opts_.progress) opts_.progress->bytes_done += data.size();
    }
    if (off != e.size) {
      return Status::Corruption("content is " + std::to_string(off) + " bytes, the snapshot says " +
                                std::to_string(e.size));
    }
    if (::ftruncate(fd, static_cast<off_t>(off)) != 0) return Status::FromErrno(errno, "cannot set size");
    return Status::OK();
  }

  Status VerifyContent(int fd, const TreeEntry& e) {
    uint64_t off = 0;
    std::string buf;
    for (const auto& id : e.chunks) {
      CAIRN_ASSIGN_OR_RETURN(std::optional<index::BlobLocation> loc, repo_.Locate(id));
      if (!loc) return Status::Corruption("chunk " + id.ShortHex() + " is missing");
      buf.resize(loc->entry.raw_length);
      ssize_t n = ::pread(fd, buf.data(), buf.size(), static_cast<off_t>(off));
      if (n != static_cast<ssize_t>(buf.size()) || repo_.hasher().Id(buf) != id) {
        return Status::Corruption("verification failed: restored content differs at offset " +
                                  std::to_string(off));
      }
      off += buf.size();
    }
    return Status::OK();
  }

  // Owner (as root), mode and mtime. Either `fd` is an open descriptor of
  // the entry, or (`*dirfd`, e.name) names it and it is not followed.
  void ApplyMetadata(int fd, const int* dirfd, const TreeEntry& e, const std::string& rel) {
    struct timespec ts[2] = {ToTimespec(e.mtime_ns), ToTimespec(e.mtime_ns)};
    bool link = e.type == EntryType::kSymlink;
    if (is_root_) {
      int rc = fd >= 0 ? ::fchown(fd, e.uid, e.gid)
                       : ::fchownat(*dirfd, e.name.c_str(), e.uid, e.gid, AT_SYMLINK_NOFOLLOW);
      if (rc != 0) Error(rel, Status::FromErrno(errno, "cannot set owner"));
    }
    if (!link) {
      int rc = fd >= 0 ? ::fchmod(fd, e.mode) : ::fchmodat(*dirfd, e.name.c_str(), e.mode, 0);
      if (rc != 0) Error(rel, Status::FromErrno(errno, "cannot set mode"));
    }
    int rc = fd >= 0 ? ::futimens(fd, ts) : ::utimensat(*dirfd, e.name.c_str(), ts, AT_SYMLINK_NOFOLLOW);
    if (rc != 0) Error(rel, Status::FromErrno(errno, "cannot set modification time"));
  }

  // The target folder stands for the restored folder. A folder of the
  // snapshot (REV:PATH), and the folder a single-folder backup was taken of
  // (the snapshot's `root`), have stored metadata: the target gets the
  // mtime and, if this restore created the target, the mode (and owner, as
  // root) like every other folder. The root of a multi-path backup (or of
  // a snapshot written before `root` existed) is synthetic: the target gets
  // the snapshot's time as its mtime, and its mode is left alone.
  // See docs/cli.md#restore.
  void RestoreTargetMetadata() {
    if (!what_.path.empty() || what_.snapshot.root) {
      if (created_target_) {
        ApplyMetadata(root_.get(), nullptr, what_.entry, ".");
        return;
      }
      SetMtime(what_.entry.mtime_ns);
      return;
    }
    SetMtime(what_.snapshot.time_ns);
  }

  void SetMtime(int64_t mtime_ns) {
    struct timespec ts[2] = {ToTimespec(mtime_ns), ToTimespec(mtime_ns)};
    if (::futimens(root_.get(), ts) != 0) Error(".", Status::FromErrno(errno, "cannot set modification time"));
  }

  // Hard links are made after every file exists. A link whose first name is
  // outside the restored part gets a copy of the content instead.
  void RestoreHardlinks() {
    std::sort(restored_.begin(), restored_.end());
    for (const auto& [dir, e] : links_) {
      std::string rel = Join(dir, e.name);
      Fd dirfd = OpenDir(dir);
      if (!dirfd.ok()) {
        Error(rel, Status::FromErrno(errno, "cannot open folder"));
        continue;
      }
      const char* action = Decide(dirfd.get(), e);
      Record(rel, action);
      if (action == kSkip) continue;
      if (action == kUnchanged) {
        FixMetadata(dirfd.get(), e, rel);
        continue;
      }
      if (action == kOverwrite && !ClearSlot(dirfd.get(), e.name, rel)) continue;
      bool ok_target = true;
      for (const auto& c : Split(e.link_target)) ok_target = ok_target && objstore::ValidEntryName(c);
      if (!ok_target) {
        Error(rel, Status::Corruption("hard link target '" + e.link_target + "' is not a valid path"));
        continue;
      }
      std::string prefix = what_.path.empty() ? "" : what_.path + "/";
      const PathKeyBytes target_key = PathKey(e.link_target);
      auto found = std::lower_bound(restored_.begin(), restored_.end(), Written{target_key, {}});
      const bool written = found != restored_.end() && found->first == target_key;
      if (written && found->second != ContentKey(e)) {
        // Linking would give this name the other file's content, not its own.
        Error(rel, Status::Corruption("hard link to '" + e.link_target +
                                      "' records other content than that file; the tree is damaged"));
        continue;
      }
      if (written && e.link_target.rfind(prefix, 0) == 0) {
        std::string target_rel = e.link_target.substr(prefix.size());
        size_t slash = target_rel.rfind('/');
        std::string tdir = slash == std::string::npos ? "" : target_rel.substr(0, slash);
        std::string tname = slash == std::string::npos ? target_rel : target_rel.substr(slash + 1);
        Fd tfd = OpenDir(tdir);
        if (tfd.ok() && ::linkat(tfd.get(), tname.c_str(), dirfd.get(), e.name.c_str(), 0) == 0) {
          result_.files++;
          continue;
        }
        Error(rel, Status::FromErrno(errno, "cannot create hard link"));
        continue;
      }
      // The other name is not part of this restore (left out by a filter or
      // a path, or it could not be written): write the content, which the
      // hard-link entry carries, once the snapshot says that name is a file
      // of that content.
      if (Status st = repo_.CheckHardlinkTarget(what_.snapshot.tree, SnapshotPath(rel), e); !st.ok()) {
        Error(rel, st);
        continue;
      }
      RestoreFile(dirfd.get(), rel, e, e.name);
    }
  }

  using PathKeyBytes = std::array<uint8_t, 16>;
  static PathKeyBytes PathKey(const std::string& path) {
    ObjectId h = Sha256(path);
    PathKeyBytes k;
    std::memcpy(k.data(), h.view().data(), k.size());
    return k;
  }

  // A file's content, as its size and chunk ids say: a hard link is made
  // only to a file of its own content.
  static PathKeyBytes ContentKey(const TreeEntry& e) {
    Sha256Hasher h;
    const uint64_t size = e.size;
    h.Update(std::string_view(reinterpret_cast<const char*>(&size), sizeof(size)));
    for (const auto& c : e.chunks) h.Update(c.view());
    ObjectId d = h.Finish();
    PathKeyBytes k;
    std::memcpy(k.data(), d.view().data(), k.size());
    return k;
  }
  // A written file: the key of its snapshot path, the key of its content.
  using Written = std::pair<PathKeyBytes, PathKeyBytes>;

  std::string SnapshotPath(const std::string& rel) const {
    if (what_.entry.type != EntryType::kDir) return what_.path;
    return what_.path.empty() ? rel : what_.path + "/" + rel;
  }

  template <typename F>
  void Count(F f) {
    std::lock_guard<std::mutex> l(mu_);
    f();
  }

  void Error(const std::string& rel, const Status& st) {
    std::lock_guard<std::mutex> l(mu_);
    if (st.IsCorruption()) result_.damaged = true;
    result_.errors.push_back({rel, st.message()});
  }

  const Repository& repo_;
  const Repository::PathTarget& what_;
  const RestoreOptions& opts_;
  const bool is_root_;
  // Tells this restore's folder chains (OpenDir) from an earlier one's.
  const uint64_t id_ = NextRestorerId();
  const std::thread::id planner_ = std::this_thread::get_id();
  bool created_target_ = false;  // the target did not exist before this restore
  bool target_missing_ = false;  // dry run: the target does not exist
  bool fresh_ = false;           // the target was missing or empty: every entry is created
  Fd root_;
  std::mutex mu_;
  RestoreResult result_;
  std::vector<std::pair<std::string, TreeEntry>> dirs_;   // pre-order
  std::vector<std::pair<std::string, TreeEntry>> links_;  // folder, entry
  std::vector<ExcludeRule> include_rules_, exclude_rules_;
  struct Pending {
    std::string rel;
    TreeEntry entry;
    const char* action;  // its decision when created (nullptr: it is there)
  };
  std::vector<Pending> pending_;  // folders on the current path entered for --include, not created yet
  std::mutex queue_mu_;  // queue_, queued_entries_, closed_
  std::condition_variable queue_cv_;
  std::deque<Job> queue_;
  size_t queued_entries_ = 0;
  bool closed_ = false;
  std::vector<std::thread> workers_;
  // The files written, as keys of their snapshot paths (for hard links
  // made at the end): 16 bytes each rather than a path string.
  std::vector<Written> restored_;
  std::vector<std::unique_ptr<BigFile>> big_files_;
};

}  // namespace

const char* OverwriteName(Overwrite o) {
  switch (o) {
    case Overwrite::kAlways: return "always";
    case Overwrite::kIfChanged: return "if-changed";
    case Overwrite::kIfNewer: return "if-newer";
    case Overwrite::kNever: return "never";
  }
  return "always";
}

Result<RestoreResult> Restore(const Repository& repo, const Repository::PathTarget& what,
                              const RestoreOptions& options) {
  Restorer r(repo, what, options);
  return r.Run();
}

}  // namespace cairn::repo
