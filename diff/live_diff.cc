// SPDX-License-Identifier: MIT

#include "diff/live_diff.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "objstore/core/io.h"
#include "objstore/file_chunks.h"

namespace cairn::diff {
namespace {

using objstore::EntryType;
using objstore::Tree;
using objstore::TreeEntry;

struct DiskEntry {
  TreeEntry entry;
  std::string path;  // on disk
};

std::string Join(const std::string& a, const std::string& b) { return a.empty() ? b : a + "/" + b; }

bool FileLike(EntryType t) { return t == EntryType::kFile || t == EntryType::kHardlink; }

Status Stat(const std::string& path, const std::string& name, DiskEntry* out) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return Status::FromErrno(errno, "cannot stat '" + path + "'");
  TreeEntry& e = out->entry;
  e.name = name;
  e.mode = st.st_mode & 07777;
  e.uid = st.st_uid;
  e.gid = st.st_gid;
  e.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  out->path = path;
  if (S_ISREG(st.st_mode)) {
    e.type = EntryType::kFile;
    e.size = static_cast<uint64_t>(st.st_size);
  } else if (S_ISDIR(st.st_mode)) {
    e.type = EntryType::kDir;
  } else if (S_ISLNK(st.st_mode)) {
    e.type = EntryType::kSymlink;
    char buf[4096];
    ssize_t n = ::readlink(path.c_str(), buf, sizeof(buf));
    if (n < 0) return Status::FromErrno(errno, "cannot read link '" + path + "'");
    e.link_target.assign(buf, static_cast<size_t>(n));
  } else if (S_ISFIFO(st.st_mode)) {
    e.type = EntryType::kFifo;
  } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
    e.type = S_ISCHR(st.st_mode) ? EntryType::kCharDevice : EntryType::kBlockDevice;
    e.rdev = st.st_rdev;
  } else {
    return Status::NotSupported("socket");  // not backed up, so not compared
  }
  return Status::OK();
}

Status ListDir(const std::string& dir, std::vector<DiskEntry>* out) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return Status::FromErrno(errno, "cannot read folder '" + dir + "'");
  std::vector<std::string> names;
  int err = 0;
  while (struct dirent* de = NextEntry(d, &err)) {
    std::string n = de->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  ::closedir(d);
  if (err != 0) return Status::FromErrno(err, "cannot read folder '" + dir + "'");
  std::sort(names.begin(), names.end());
  for (const auto& n : names) {
    DiskEntry e;
    Status st = Stat(dir + "/" + n, n, &e);
    if (st.code() == Code::kNotSupported) continue;
    CAIRN_RETURN_IF_ERROR(st);
    out->push_back(std::move(e));
  }
  return Status::OK();
}

class LiveDiffer {
 public:
  LiveDiffer(const TreeReader& r, const objstore::ChunkerParams& p, const objstore::IdHasher& h,
             const DiffOptions& o, const std::function<void(const Change&)>& fn, DiffStats* s)
      : reader_(r), params_(p), hasher_(h), opts_(o), fn_(fn), stats_(s) {}

  Status Dir(const ObjectId& tree_id, const std::string& dir, const std::string& prefix) {
    stats_->trees_read++;
    CAIRN_ASSIGN_OR_RETURN(Tree tree, reader_.ReadTree(tree_id));
    std::vector<DiskEntry> disk;
    CAIRN_RETURN_IF_ERROR(ListDir(dir, &disk));
    size_t i = 0, j = 0;
    while (i < tree.entries.size() || j < disk.size()) {
      const TreeEntry* a = i < tree.entries.size() ? &tree.entries[i] : nullptr;
      DiskEntry* b = j < disk.size() ? &disk[j] : nullptr;
      bool take_a = b == nullptr || (a != nullptr && a->name < b->entry.name);
      bool take_b = a == nullptr || (b != nullptr && b->entry.name < a->name);
      std::string path = Join(prefix, take_b ? b->entry.name : a->name);
      bool selected = PathSelected(path, opts_.paths, true);
      if (take_a) {
        if (selected) CAIRN_RETURN_IF_ERROR(OldOnly(*a, path));
        i++;
      } else if (take_b) {
        if (selected) CAIRN_RETURN_IF_ERROR(NewOnly(*b, path));
        j++;
      } else {
        if (selected) CAIRN_RETURN_IF_ERROR(Pair(*a, *b, path));
        i++;
        j++;
      }
    }
    return Status::OK();
  }

 private:
  void Emit(ChangeKind k, const std::string& path, std::optional<TreeEntry> a, std::optional<TreeEntry> b) {
    if (PathSelected(path, opts_.paths, false)) fn_(Change{k, path, std::move(a), std::move(b), ""});
  }

  Status OldOnly(const TreeEntry& e, const std::string& path) {
    if (e.type != EntryType::kDir) {
      Emit(ChangeKind::kDeleted, path, e, std::nullopt);
      return Status::OK();
    }
    CAIRN_RETURN_IF_ERROR(objstore::CheckTreePath(path));
    stats_->trees_read++;
    CAIRN_ASSIGN_OR_RETURN(Tree t, reader_.ReadTree(e.subtree));
    for (const auto& c : t.entries) CAIRN_RETURN_IF_ERROR(OldOnly(c, Join(path, c.name)));
    return Status::OK();
  }

  Status NewOnly(const DiskEntry& d, const std::string& path) {
    if (d.entry.type != EntryType::kDir) {
      Emit(ChangeKind::kAdded, path, std::nullopt, d.entry);
      return Status::OK();
    }
    std::vector<DiskEntry> children;
    CAIRN_RETURN_IF_ERROR(ListDir(d.path, &children));
    for (const auto& c : children) CAIRN_RETURN_IF_ERROR(NewOnly(c, Join(path, c.entry.name)));
    return Status::OK();
  }

  Status Chunks(DiskEntry* d) {
    int fd = ::open(d->path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return Status::FromErrno(errno, "cannot open '" + d->path + "'");
    stats_->files_read++;
    bool read_error;
    d->entry.chunks.clear();
    Status st = objstore::ChunkFd(fd, params_, hasher_, &buf_, [&](std::string_view, const ObjectId& id) {
      d->entry.chunks.push_back(id);
      return Status::OK();
    }, &read_error);
    ::close(fd);
    return st.WithContext("'" + d->path + "'");
  }

  Status Pair(const TreeEntry& a, DiskEntry& b, const std::string& path) {
    bool da = a.type == EntryType::kDir, db = b.entry.type == EntryType::kDir;
    if (da && db) return Dir(a.subtree, b.path, path);  // folders themselves are not listed, as in git
    if (da != db) {
      CAIRN_RETURN_IF_ERROR(OldOnly(a, path));
      return NewOnly(b, path);
    }
    if (!PathSelected(path, opts_.paths, false)) return Status::OK();
    bool meta_differs = a.mode != b.entry.mode || a.uid != b.entry.uid || a.gid != b.entry.gid ||
                        a.mtime_ns != b.entry.mtime_ns;
    if (FileLike(a.type) && FileLike(b.entry.type)) {
      bool changed;
      if (a.size == b.entry.size && a.mtime_ns == b.entry.mtime_ns) {
        changed = false;  // metadata says unchanged: not read
        b.entry.chunks = a.chunks;
      } else if (a.size != b.entry.size) {
        changed = true;
      } else {
        CAIRN_RETURN_IF_ERROR(Chunks(&b));
        changed = b.entry.chunks != a.chunks;
      }
      if (changed || (opts_.metadata && meta_differs)) Emit(ChangeKind::kModified, path, a, b.entry);
      return Status::OK();
    }
    if (a.type != b.entry.type) {
      Emit(ChangeKind::kTypeChanged, path, a, b.entry);
      return Status::OK();
    }
    bool changed = ((a.type == EntryType::kSymlink || a.type == EntryType::kGitlink) &&
                    a.link_target != b.entry.link_target) ||
                   ((a.type == EntryType::kCharDevice || a.type == EntryType::kBlockDevice) &&
                    a.rdev != b.entry.rdev);
    if (changed || (opts_.metadata && meta_differs)) Emit(ChangeKind::kModified, path, a, b.entry);
    return Status::OK();
  }

  const TreeReader& reader_;
  const objstore::ChunkerParams& params_;
  const objstore::IdHasher& hasher_;
  const DiffOptions& opts_;
  const std::function<void(const Change&)>& fn_;
  DiffStats* stats_;
  std::string buf_;
};

}  // namespace

Status DiffTreeDir(const TreeReader& reader, const ObjectId& tree, const std::string& dir,
                   const objstore::ChunkerParams& chunker, const objstore::IdHasher& hasher,
                   const DiffOptions& options, const std::function<void(const Change&)>& fn, DiffStats* stats) {
  DiffStats local;
  LiveDiffer d(reader, chunker, hasher, options, fn, stats ? stats : &local);
  return d.Dir(tree, dir, "");
}

}  // namespace cairn::diff
