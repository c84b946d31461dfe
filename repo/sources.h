// SPDX-License-Identifier: MIT
//
// The sources of a backup (internal to repo/backup*): the paths given on
// the command line, made absolute and checked, or one stream that becomes
// the only file of the snapshot root: standard input, the output of a
// command, or an online-consistent copy of a SQLite database (sqlite3.h
// is used in sources.cc only).

#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "objstore/core/status.h"
#include "repo/backup.h"
#include "repo/walker.h"

namespace cairn::repo {

// The last component of a path ("/" for "/").
std::string LastComponent(std::string p);
// `p` made absolute against the current folder (lexically, no symlinks
// resolved) with ".", ".." and trailing slashes normalized away.
std::string CleanAbsolute(const std::string& p);

// The paths of a files backup: absolute and clean, in the order given.
struct PathSources {
  std::vector<std::string> paths;
  bool single_dir = false;  // one folder: its content is the snapshot root
};
// NotFound (or another errno code) for a path that cannot be lstat'ed,
// InvalidArgument for two paths with the same last component or '/' among
// several paths.
Result<PathSources> ResolvePaths(const std::vector<std::string>& paths);

// Walks the paths into `root`: for a single folder, the folder is the root;
// otherwise each path is one entry of the root, in name order. The root is
// released to `trees` once listed. IOError if the single folder itself
// cannot be read.
Status WalkPaths(Walker* walker, TreeStreamer* trees, const PathSources& sources, Node* root);

// What a snapshot was taken from: its `source` kind, its `paths`, and for
// stdin and command sources the stream's name (the root's only entry).
struct SourceSet {
  std::string kind;                // files | stdin | command | sqlite
  std::vector<std::string> paths;  // as the snapshot records them
  std::string stream_name;         // stdin and command only
};
// The sources `opts` name (nothing is read; the paths are made absolute).
SourceSet SourcesOf(const BackupOptions& opts);
// The sources of a stored snapshot; reads its root tree for a stream's
// name (an unreadable tree leaves the name empty).
SourceSet SourcesOf(const Repository& repo, const Snapshot& snap);
// Same kind, same paths in any order (compared as the snapshot file stores
// them), same stream name.
bool SameSources(const SourceSet& a, const SourceSet& b);
// "files /a/b, /c", "command 'pg_dump db' as db.sql", "stdin as x".
std::string DescribeSources(const SourceSet& s);

// Copies the SQLite database at `src` into the database at `dest` with
// SQLite's online backup API, in one step: `src` is read in one read
// transaction (one consistent state while others write to it), and `dest`
// is replaced in one write transaction (other connections wait, then see
// the whole new content; a failure leaves it as it was). Waits up to 60 s
// for locks.
Status SqliteCopy(const std::string& src, const std::string& dest);

// InvalidArgument, naming `path` as given, unless it is a regular file that
// begins with SQLite's header ("SQLite format 3"): a folder, an empty file
// (SQLite would open it as a new, empty database) or another file's bytes
// are refused before anything is stored.
Status CheckSqliteSource(const std::string& path);
// OK if `path` opens as a SQLite database and PRAGMA integrity_check says
// "ok"; Corruption naming the first problems otherwise.
Status SqliteIntegrityCheck(const std::string& path);

// One stream as the only file of the snapshot root.
class StreamSource {
 public:
  StreamSource() = default;
  StreamSource(const StreamSource&) = delete;
  StreamSource& operator=(const StreamSource&) = delete;
  // Closes the stream if Finish() was not reached, removes the SQLite copy.
  ~StreamSource();

  // Opens the source `opts` names (read_stdin, stdin_command or
  // sqlite_path) and makes it the only child of `root`, with its name,
  // mode, owner and mtime and an open descriptor.
  Status Open(const BackupOptions& opts, Node* root);
  // "stdin", "command" or "sqlite".
  const std::string& kind() const { return kind_; }
  // What the snapshot records as its path: "-", the command, or the
  // database's absolute path.
  const std::string& path() const { return path_; }
  // After the file was read: closes the stream and waits for the command.
  // IOError if the command exited non-zero or died.
  Status Finish();

 private:
  Node* node_ = nullptr;
  std::string kind_, path_, command_;
  // SQLite: the consistent copy lives in a private folder of our own (made
  // with mkdtemp, mode 0700), so no other user can plant a symlink where it
  // is written; the folder and anything SQLite left in it go at the end.
  std::string temp_dir_;
  pid_t command_pid_ = -1;
  bool finished_ = false;
};

}  // namespace cairn::repo
