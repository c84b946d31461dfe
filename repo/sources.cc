// SPDX-License-Identifier: MIT

#include "repo/sources.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <utility>

namespace cairn::repo {
namespace {

using objstore::EntryType;

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

}  // namespace

// Copies the live SQLite database at `src` into `dest` with SQLite's online
// backup API: one consistent state of the database, while other connections
// keep writing.
Status CheckSqliteSource(const std::string& path) {
  const std::string what = "cannot back up '" + path + "' as an SQLite database: ";
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return Status::FromErrno(errno, "cannot back up '" + path + "'");
  if (!S_ISREG(st.st_mode)) return Status::InvalidArgument(what + "it is not a file");
  if (st.st_size == 0) {
    return Status::InvalidArgument(what + "it is empty (0 bytes); back it up as a file if that is meant");
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno(errno, "cannot back up '" + path + "'");
  char head[16] = {};
  const ssize_t n = ::pread(fd, head, sizeof(head), 0);
  ::close(fd);
  static const char kHeader[16] = "SQLite format 3";  // and its terminating NUL: 16 bytes
  if (n != static_cast<ssize_t>(sizeof(head)) || std::memcmp(head, kHeader, sizeof(head)) != 0) {
    return Status::InvalidArgument(what + "it does not begin with SQLite's header; back it up as a file if that is meant");
  }
  return Status::OK();
}

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
    return Status::IOError("cannot open SQLite database '" + dest + "' to copy '" + src + "' into it");
  }
  sqlite3_busy_timeout(out, 10000);
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


Status SqliteIntegrityCheck(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    if (db) sqlite3_close(db);
    return Status::Corruption("'" + path + "' does not open as a SQLite database: " + msg);
  }
  sqlite3_busy_timeout(db, 10000);
  sqlite3_stmt* st = nullptr;
  std::string problems;
  int rows = 0;
  int rc = sqlite3_prepare_v2(db, "PRAGMA integrity_check(20)", -1, &st, nullptr);
  if (rc == SQLITE_OK) {
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      const unsigned char* t = sqlite3_column_text(st, 0);
      std::string line = t ? reinterpret_cast<const char*>(t) : "";
      if (line != "ok") problems += (problems.empty() ? "" : "; ") + line;
      rows++;
    }
  }
  std::string msg = sqlite3_errmsg(db);
  sqlite3_finalize(st);
  sqlite3_close(db);
  if (rc != SQLITE_DONE) return Status::Corruption("SQLite's integrity check of '" + path + "' failed: " + msg);
  if (!problems.empty() || rows == 0) {
    return Status::Corruption("'" + path + "' fails SQLite's integrity check: " +
                              (problems.empty() ? std::string("no result") : problems));
  }
  return Status::OK();
}

std::string LastComponent(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  size_t s = p.rfind('/');
  return s == std::string::npos ? p : p.substr(s + 1);
}

std::string CleanAbsolute(const std::string& p) { return Clean(Absolute(p)); }

Result<PathSources> ResolvePaths(const std::vector<std::string>& paths) {
  PathSources out;
  std::map<std::string, std::string> by_name;
  for (const auto& p : paths) {
    std::string abs = CleanAbsolute(p);
    struct stat st;
    if (::lstat(abs.c_str(), &st) != 0) return Status::FromErrno(errno, "cannot back up '" + p + "'");
    std::string name = LastComponent(abs);
    if (paths.size() > 1) {
      if (abs == "/") return Status::InvalidArgument("'/' can only be backed up on its own");
      auto [it, fresh] = by_name.emplace(name, p);
      if (!fresh) {
        return Status::InvalidArgument("'" + it->second + "' and '" + p + "' have the same last component '" +
                                       name + "'; back them up separately");
      }
    }
    out.paths.push_back(abs);
  }
  if (out.paths.size() == 1) {
    struct stat st;
    out.single_dir = ::lstat(out.paths[0].c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  }
  return out;
}

SourceSet SourcesOf(const BackupOptions& opts) {
  SourceSet s;
  if (!opts.sqlite_path.empty()) {
    s.kind = "sqlite";
    s.paths.push_back(CleanAbsolute(opts.sqlite_path));
  } else if (!opts.stdin_command.empty()) {
    s.kind = "command";
    s.paths.push_back(opts.stdin_command);
    s.stream_name = opts.stream_name;
  } else if (opts.read_stdin) {
    s.kind = "stdin";
    s.paths.push_back("-");
    s.stream_name = opts.stream_name;
  } else {
    s.kind = "files";
    for (const auto& p : opts.paths) s.paths.push_back(CleanAbsolute(p));
  }
  return s;
}

SourceSet SourcesOf(const Repository& repo, const Snapshot& snap) {
  SourceSet s;
  s.kind = snap.source;
  s.paths = snap.paths;
  if (s.kind == "stdin" || s.kind == "command") {
    auto tree = repo.ReadTree(snap.tree);
    if (tree.ok() && tree->entries.size() == 1) s.stream_name = tree->entries[0].name;
  }
  return s;
}

bool SameSources(const SourceSet& a, const SourceSet& b) {
  if (a.kind != b.kind || a.stream_name != b.stream_name || a.paths.size() != b.paths.size()) return false;
  // As the snapshot file stores them: names that are not UTF-8 are kept
  // there with U+FFFD in place of the invalid bytes.
  auto stored = [](const std::vector<std::string>& paths) {
    std::vector<std::string> out;
    out.reserve(paths.size());
    for (const auto& p : paths) {
      out.push_back(nlohmann::json(p).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    }
    std::sort(out.begin(), out.end());
    return out;
  };
  return stored(a.paths) == stored(b.paths);
}

std::string DescribeSources(const SourceSet& s) {
  std::string out = s.kind;
  for (size_t i = 0; i < s.paths.size(); i++) {
    out += (i == 0 ? " " : ", ");
    out += s.kind == "command" ? "'" + s.paths[i] + "'" : s.paths[i];
  }
  if (!s.stream_name.empty()) out += " as " + s.stream_name;
  return out;
}

Status WalkPaths(Walker* walker, TreeStreamer* trees, const PathSources& sources, Node* root) {
  if (sources.single_dir) {
    struct stat st;
    ::lstat(sources.paths[0].c_str(), &st);
    if (walker->Visit(sources.paths[0], LastComponent(sources.paths[0]), "", root, st.st_dev) ==
        Walker::Visited::kOmitted) {
      return Status::IOError("cannot read '" + sources.paths[0] + "': " + walker->last_error());
    }
    return Status::OK();
  }
  std::vector<std::pair<std::string, std::string>> order;  // name, source
  for (const auto& s : sources.paths) order.emplace_back(LastComponent(s), s);
  std::sort(order.begin(), order.end());
  root->children.reserve(order.size());
  root->pending.n.store(1);  // the listing
  for (const auto& [name, src] : order) {
    struct stat st;
    ::lstat(src.c_str(), &st);
    walker->Child(root, src, name, name, st.st_dev);
  }
  trees->Release(root);
  return Status::OK();
}

StreamSource::~StreamSource() {
  if (!finished_ && node_ != nullptr && node_->fd > STDERR_FILENO) ::close(node_->fd);
  if (temp_dir_.empty()) return;
  for (const char* f : {"/copy.db", "/copy.db-journal", "/copy.db-wal", "/copy.db-shm"}) {
    ::unlink((temp_dir_ + f).c_str());
  }
  ::rmdir(temp_dir_.c_str());
}

Status StreamSource::Open(const BackupOptions& opts, Node* root) {
  root->children.reserve(1);
  root->children.emplace_back();
  Node& n = root->children.back();
  n.parent = root;
  node_ = &n;
  TreeEntry& e = n.entry;
  e.type = EntryType::kFile;
  e.mode = 0644;
  e.uid = ::getuid();
  e.gid = ::getgid();
  e.mtime_ns = NowNs();
  if (!opts.sqlite_path.empty()) {
    std::string abs = CleanAbsolute(opts.sqlite_path);
    struct stat st;
    if (::stat(abs.c_str(), &st) != 0) return Status::FromErrno(errno, "cannot back up '" + opts.sqlite_path + "'");
    CAIRN_RETURN_IF_ERROR(CheckSqliteSource(opts.sqlite_path));
    const char* tmpdir = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmpdir ? tmpdir : "/tmp") + "/cairn-sqlite-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) {
      return Status::FromErrno(errno, "cannot create a temporary folder for the copy of '" + abs + "'");
    }
    temp_dir_ = tmpl;
    std::string temp_copy = temp_dir_ + "/copy.db";
    CAIRN_RETURN_IF_ERROR(SqliteCopy(abs, temp_copy));
    n.fd = ::open(temp_copy.c_str(), O_RDONLY | O_CLOEXEC);
    if (n.fd < 0) return Status::FromErrno(errno, "cannot read the copy of '" + abs + "'");
    e.name = LastComponent(abs);
    e.mode = st.st_mode & 07777;
    e.uid = st.st_uid;
    e.gid = st.st_gid;
    e.mtime_ns = Ns(st.st_mtim);
    n.source = abs;
    path_ = abs;
    kind_ = "sqlite";
  } else {
    e.name = opts.stream_name;
    if (!opts.stdin_command.empty()) {
      int fd = -1;
      CAIRN_RETURN_IF_ERROR(StartCommand(opts.stdin_command, &command_pid_, &fd));
      n.fd = fd;
      command_ = opts.stdin_command;
      kind_ = "command";
      path_ = opts.stdin_command;
    } else {
      n.fd = STDIN_FILENO;
      kind_ = "stdin";
      path_ = "-";
    }
    n.source = e.name;
  }
  if (!objstore::ValidEntryName(e.name)) {
    return Status::InvalidArgument("'" + e.name + "' is not a usable file name (no '/', not '.' or '..')");
  }
  return Status::OK();
}

Status StreamSource::Finish() {
  if (node_->fd > STDERR_FILENO) ::close(node_->fd);
  finished_ = true;
  if (command_pid_ <= 0) return Status::OK();
  int wstatus = 0;
  while (::waitpid(command_pid_, &wstatus, 0) < 0 && errno == EINTR) {
  }
  command_pid_ = -1;
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
    std::string how = WIFEXITED(wstatus) ? "exit status " + std::to_string(WEXITSTATUS(wstatus))
                                         : "signal " + std::to_string(WTERMSIG(wstatus));
    return Status::IOError("command '" + command_ + "' failed (" + how + "); no snapshot was written");
  }
  return Status::OK();
}

}  // namespace cairn::repo
