// SPDX-License-Identifier: MIT
//
// Backup() puts the pipeline together (docs/architecture.md, "The backup
// pipeline"): the walk (walker.h) runs in this thread and queues each
// regular file as it is found; the file workers here check the file-change
// cache or read, chunk and hash the file, and hand its chunks to the
// BlobWriter; then the trees are built bottom-up, and the commit step
// (commit.h) relates the snapshot to its parent and advances the branch.

#include "repo/backup.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <thread>

#include "objstore/file_chunks.h"
#include "repo/blob_writer.h"
#include "repo/commit.h"
#include "repo/exclude.h"
#include "repo/sources.h"
#include "repo/walker.h"

namespace cairn::repo {
namespace {

using objstore::EntryType;

Status ValidateOptions(const BackupOptions& opts) {
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
  return Status::OK();
}

bool IsStream(const BackupOptions& opts) {
  return opts.read_stdin || !opts.stdin_command.empty() || !opts.sqlite_path.empty();
}

// The exclusion rules given on the command line (they apply from the
// snapshot root), recorded in snap->excludes as they are parsed.
Result<std::vector<ExcludeRule>> CommandLineRules(const BackupOptions& opts, Snapshot* snap) {
  std::vector<ExcludeRule> rules;
  for (const auto& p : opts.excludes) {
    ExcludeRule r;
    if (ParseExcludeRule(p, "", &r)) rules.push_back(r);
    snap->excludes.push_back("--exclude " + p);
  }
  for (const auto& f : opts.exclude_files) {
    size_t before = rules.size();
    CAIRN_RETURN_IF_ERROR(ReadRulesFile(f, "", &rules));
    for (size_t i = before; i < rules.size(); i++) {
      snap->excludes.push_back("--exclude-file " + f + ": " + std::string(rules[i].negate ? "!" : "") +
                               (rules[i].anchored ? "/" : "") + rules[i].pattern + (rules[i].dir_only ? "/" : ""));
    }
  }
  if (opts.exclude_caches) snap->excludes.push_back("--exclude-caches");
  if (opts.exclude_larger_than) {
    snap->excludes.push_back("--exclude-larger-than " + std::to_string(opts.exclude_larger_than));
  }
  if (opts.one_file_system) snap->excludes.push_back("--one-file-system");
  if (!IsStream(opts)) snap->excludes.push_back(".cairnignore files");
  return rules;
}

// Why a file must be read, or "" if the file-change cache has it unchanged
// (then its chunk list is filled in).
Result<std::string> CheckCache(const Repository& repo, Node* n, index::ReadSession* rs, const BackupOptions& o) {
  if (o.force_read) return std::string("--force-read");
  if (o.kind == BackupKind::kFull) return std::string("full backup");
  if (n->fd >= 0) return std::string("stream");
  CAIRN_ASSIGN_OR_RETURN(std::optional<index::FileCacheEntry> c, rs->GetFile(FileCacheKey(n)));
  if (!c) return std::string("new (not in the file-change cache)");
  if (c->size != n->entry.size) return std::string("size changed");
  if (c->mtime_ns != n->entry.mtime_ns) return std::string("mtime changed");
  if (!o.ignore_ctime && c->ctime_ns != n->ctime_ns) return std::string("ctime changed");
  if (!o.ignore_inode && (c->ino != n->ino || c->dev != n->dev)) return std::string("inode changed");
  // Never trust the cache for existence: every chunk must still be stored.
  for (const auto& id : c->chunks) {
    CAIRN_ASSIGN_OR_RETURN(bool has, rs->HasBlob(id));
    if (!has) return std::string("its chunks are no longer in the repository");
    // A chunk a pending prune will delete is not relied on (docs/gc.md).
    if (repo.Condemned(id)) return std::string("its chunks are about to be pruned");
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
  auto ns = [](const struct timespec& t) { return int64_t{t.tv_sec} * 1000000000 + t.tv_nsec; };
  // A file that changes while it is read (its size, mtime or ctime after
  // the read differ from what the read began with) may have been read
  // torn: it is read once more from the start. If it changed again, what
  // the second read got is saved, with a warning (the backup exits 3), and
  // the file-change cache is not told about it, so the next backup reads
  // it again. Size and chunks always agree: both are what was read.
  for (int attempt = 0;; attempt++) {
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
    e.size = total;
    if (read_error) {
      if (own) ::close(fd);
      node->error = s;
      return Status::OK();
    }
    if (!s.ok() || !own) {
      if (own) ::close(fd);
      return s;
    }
    struct stat after;
    if (::fstat(fd, &after) != 0) {
      node->error = Status::FromErrno(errno, "cannot stat after reading");
      ::close(fd);
      return Status::OK();
    }
    const bool changed = static_cast<uint64_t>(after.st_size) != total || ns(after.st_mtim) != e.mtime_ns ||
                         ns(after.st_ctim) != node->ctime_ns;
    if (!changed) break;
    if (attempt == 1) {
      node->warning = "changed while it was read, twice; saved as the second read found it";
      break;
    }
    // Read again, from what the file is now.
    e.mtime_ns = ns(after.st_mtim);
    node->ctime_ns = ns(after.st_ctim);
    if (progress) progress->bytes_done -= total;
    if (::lseek(fd, 0, SEEK_SET) != 0) {
      node->error = Status::FromErrno(errno, "changed while it was read and cannot be read again");
      ::close(fd);
      return Status::OK();
    }
  }
  ::close(fd);
  return Status::OK();
}

// The file workers: one per core, started before the walk so that files
// are read while the walk goes on; the walking thread reads a file itself
// whenever the queue is full (Help), and joins in at the end (Finish).
// Each takes a file from the queue, checks the file-change cache or reads,
// chunks and hashes it, and hands it to the TreeStreamer as final; the
// writer compresses and packs on its own pool.
class FileWorkers {
 public:
  FileWorkers(Repository* repo, const BackupOptions& opts, FileQueue* queue, BlobWriter* writer,
              TreeStreamer* trees)
      : repo_(repo),
        opts_(opts),
        queue_(queue),
        writer_(writer),
        trees_(trees),
        params_(repo->config().chunker),
        nthreads_(opts.threads ? opts.threads : std::max(1u, std::thread::hardware_concurrency())) {}
  FileWorkers(const FileWorkers&) = delete;
  FileWorkers& operator=(const FileWorkers&) = delete;
  // Closes the queue and joins the pool on every way out.
  ~FileWorkers() { Join(); }

  void Start() {
    for (unsigned t = 1; t < nthreads_; t++) threads_.emplace_back([this] { Work(); });
  }
  // In the walking thread, when the queue is full: reads one queued file.
  void Help() {
    if (!helper_) helper_ = NewState();
    size_t left;
    Node* n = queue_->TryPop(&left);
    if (n != nullptr) Process(helper_.get(), n, left);
  }
  // Once the walk is over: closes the queue, works in this thread until it
  // is empty, joins the pool. Returns the first repository failure.
  Status Finish() {
    queue_->Close();
    if (!helper_) helper_ = NewState();
    Drain(helper_.get());
    Join();
    return write_error_;
  }
  uint64_t files_read() const { return files_read_; }

 private:
  // What each reading thread keeps: its buffer, its read session, and the
  // file-change cache entries it has yet to write.
  struct State {
    std::string buf;
    std::unique_ptr<index::ReadSession> rs;
    std::vector<std::pair<std::string, index::FileCacheEntry>> updates;
  };

  std::unique_ptr<State> NewState() {
    auto s = std::make_unique<State>();
    auto rs = repo_->index()->BeginRead();
    if (rs.ok()) {
      s->rs = std::move(rs).value();
    } else {
      Fail(rs.status());
    }
    return s;
  }

  void Join() {
    queue_->Close();
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

  void Fail(const Status& st) {
    std::lock_guard<std::mutex> l(mu_);
    if (write_error_.ok()) write_error_ = st;
    failed_ = true;
  }

  void Work() {
    std::unique_ptr<State> s = NewState();
    Drain(s.get());
  }

  void Drain(State* s) {
    for (;;) {
      size_t left;
      Node* n = queue_->Pop(&left);
      if (n == nullptr) break;
      Process(s, n, left);
    }
    FlushUpdates(s);
  }

  // File-change cache entries go to LMDB in batches as the backup runs:
  // memory stays bounded, and an entry written for a backup that then
  // fails is harmless, since every cached chunk is checked before use.
  void FlushUpdates(State* s) {
    if (!opts_.dry_run && !s->updates.empty()) (void)repo_->index()->PutFiles(s->updates);
    s->updates.clear();
  }

  void Process(State* s, Node* n, size_t left) {
    if (failed_) return;  // drain the queue so the walk never blocks
    auto reason = CheckCache(*repo_, n, s->rs.get(), opts_);
    Status st = reason.ok() ? Status::OK() : reason.status();
    if (st.ok() && !reason->empty()) {
      if (opts_.on_read) {
        std::lock_guard<std::mutex> l(mu_);
        opts_.on_read(SourcePath(n), *reason);
      }
      // While every core has a file of its own, compress in this thread;
      // near the end (or for one big file) hand chunks to the pool.
      auto placement = left >= nthreads_ ? BlobWriter::Placement::kInline : BlobWriter::Placement::kQueue;
      st = ChunkFile(n, params_, writer_, &s->buf, opts_.progress, placement);
      files_read_++;
      if (st.ok() && n->error.ok() && n->warning.empty() && n->fd < 0) {
        index::FileCacheEntry c{n->dev, n->ino, n->entry.size, n->entry.mtime_ns, n->ctime_ns, n->entry.chunks};
        s->updates.emplace_back(FileCacheKey(n), std::move(c));
        if (s->updates.size() >= 8192) FlushUpdates(s);
      }
    } else if (st.ok() && opts_.progress) {
      opts_.progress->bytes_done += n->entry.size;
    }
    if (!st.ok()) {
      // The repository side failed: abort the whole backup, no snapshot.
      Fail(st);
      return;
    }
    if (opts_.progress) opts_.progress->files_done++;
    if (n->link) trees_->Publish(n);  // the first name of a file with several
    trees_->Final(n);
  }

  Repository* repo_;
  const BackupOptions& opts_;
  FileQueue* queue_;
  BlobWriter* writer_;
  TreeStreamer* trees_;
  const objstore::ChunkerParams params_;
  const unsigned nthreads_;
  std::vector<std::thread> threads_;
  std::unique_ptr<State> helper_;  // the walking thread's
  std::atomic<bool> failed_{false};
  std::atomic<uint64_t> files_read_{0};
  std::mutex mu_;  // write_error_, callbacks
  Status write_error_;
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
  CAIRN_RETURN_IF_ERROR(ValidateOptions(opts));
  CAIRN_ASSIGN_OR_RETURN(ParentRequest parent_req, MakeParentRequest(*repo, opts));
  CAIRN_ASSIGN_OR_RETURN(Lineage lineage, ChooseLineage(*repo, parent_req));
  if (!lineage.warning.empty() && opts.on_warning) opts.on_warning(lineage.warning);

  Snapshot snap;
  CAIRN_ASSIGN_OR_RETURN(std::vector<ExcludeRule> rules, CommandLineRules(opts, &snap));
  Node root;
  root.entry.type = EntryType::kDir;
  StreamSource stream;  // destroyed after the workers, which read from it
  PathSources paths;
  if (IsStream(opts)) {
    CAIRN_RETURN_IF_ERROR(stream.Open(opts, &root));
    snap.source = stream.kind();
    paths.paths.push_back(stream.path());
  } else {
    CAIRN_ASSIGN_OR_RETURN(paths, ResolvePaths(opts.paths));
  }

  // Announced before the index is consulted, so a prune does not delete
  // what this backup may deduplicate against (docs/gc.md). A dry run
  // writes nothing and needs none.
  std::unique_ptr<objstore::BackendLock> session;
  if (!opts.dry_run) {
    CAIRN_ASSIGN_OR_RETURN(session, repo->BeginSession("backup"));
    // A backup killed before its index file leaves packs no index names;
    // take them in, so that this one does not store their blobs again.
    CAIRN_ASSIGN_OR_RETURN(Repository::Adopted adopted, repo->AdoptPacksOfDeadBackups());
    if (adopted.packs && opts.on_warning) {
      opts.on_warning("took in " + std::to_string(adopted.packs) + " pack(s) of " + std::to_string(adopted.blobs) +
                      " blobs (" + std::to_string(adopted.bytes) + " bytes) that a killed backup had written");
    }
  }

  // Walk, read and store the files; each folder's tree is stored as soon
  // as its entries are final, so trees go out while the walk goes on.
  ErrorLog errors(opts, &snap.errors);
  BlobWriter writer(repo, opts.threads, opts.dry_run ? BlobWriter::Mode::kDryRun : BlobWriter::Mode::kWrite);
  TreeStreamer trees(&writer, &errors, opts.dry_run);
  FileQueue queue;
  FileWorkers workers(repo, opts, &queue, &writer, &trees);
  Walker walker(opts, &errors, std::move(rules), &queue, &trees, [&workers] { workers.Help(); });
  workers.Start();
  if (IsStream(opts)) {
    root.pending.n.store(2);  // the listing and the stream
    walker.AddFile(&root.children[0]);
    trees.Release(&root);
  } else {
    CAIRN_RETURN_IF_ERROR(WalkPaths(&walker, &trees, paths, &root));
  }
  Status write_error = workers.Finish();
  if (IsStream(opts)) {
    CAIRN_RETURN_IF_ERROR(stream.Finish());
    CAIRN_RETURN_IF_ERROR(write_error);
    if (!root.children[0].error.ok()) {
      return root.children[0].error.WithContext("cannot read '" + stream.path() + "'");
    }
  }
  CAIRN_RETURN_IF_ERROR(write_error);
  CAIRN_RETURN_IF_ERROR(trees.status());
  if (!trees.root_done()) {
    return Status::IOError("internal error: the walk left folders unfinished; no snapshot was written");
  }
  snap.tree = root.entry.subtree;
  // Everything but the snapshot is durable.
  CAIRN_RETURN_IF_ERROR(writer.Flush());
  // Errors come from several threads: list them in path order.
  std::stable_sort(snap.errors.begin(), snap.errors.end(),
                   [](const objstore::SourceError& a, const objstore::SourceError& b) { return a.path < b.path; });

  snap.time_ns = opts.time_ns != 0 ? opts.time_ns : NowNs();
  snap.host = HostName();
  snap.user = UserName(::getuid());
  snap.paths = std::move(paths.paths);
  snap.branch = opts.branch;
  snap.message = opts.message;
  if (paths.single_dir) {
    const TreeEntry& e = root.entry;
    snap.root = objstore::RootMeta{e.mode, e.uid, e.gid, e.user, e.group, e.mtime_ns};
  }
  auto ws = writer.stats();
  snap.stats.files = trees.files();
  snap.stats.bytes = trees.bytes();
  // The root folder of a single-folder backup is the snapshot root, not an entry.
  snap.stats.dirs = walker.dirs() - (paths.single_dir ? 1 : 0);
  snap.stats.new_chunks = ws.new_chunks;
  snap.stats.new_trees = ws.new_trees;
  snap.stats.added_raw_bytes = ws.raw_bytes;
  snap.stats.added_bytes = ws.stored_bytes;
  snap.stats.files_read = workers.files_read();
  // A dry run stored no tree: the change counts read the ones it built.
  TreeSource tree_source = [&](const ObjectId& id) -> Result<Tree> {
    if (auto kept = trees.KeptTree(id)) return objstore::DecodeTree(*kept, id);
    return repo->ReadTree(id);
  };
  // A write-only key cannot read the parent's trees (nor, once written,
  // its own): its snapshots carry no change counts (docs/security.md).
  std::string counts_warning = RelateToLineage(repo->write_only() ? TreeSource() : tree_source, lineage, opts.kind, &snap);
  if (!counts_warning.empty() && opts.on_warning) opts.on_warning(counts_warning);
  snap.stats.duration_ms = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count());

  BackupResult r;
  r.packs_written = ws.packs;
  if (!opts.dry_run) {
    CAIRN_ASSIGN_OR_RETURN(CommitOutcome c, Commit(repo, opts, parent_req, &lineage, &snap));
    r.snapshot_id = c.snapshot_id;
    r.skipped = c.skipped;
  }
  r.snapshot = std::move(snap);
  return r;
}

}  // namespace cairn::repo
