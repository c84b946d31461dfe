// SPDX-License-Identifier: MIT

#include "repo/git_interop.h"

#include <git2.h>
#include <git2/sys/mempack.h>
#include <git2/sys/odb_backend.h>
#include <openssl/evp.h>
#include <zlib.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "objstore/crypto.h"
#include "objstore/file_chunks.h"
#include "objstore/pack.h"
#include "repo/blob_writer.h"
#include "repo/history.h"
#include "repo/refs.h"

namespace cairn::repo {

using nlohmann::json;
using objstore::EntryType;

namespace {

constexpr std::string_view kGitMapDir = "gitmap/";
constexpr const char* kTrailer = "Cairn-Snapshot: ";

// --- libgit2 glue ---

void InitLibgit2() {
  static const bool done = [] {
    git_libgit2_init();
    // Objects are fsynced before the refs that name them (crash safety, as
    // for cairn's own files).
    git_libgit2_opts(GIT_OPT_ENABLE_FSYNC_GITDIR, 1);
    return true;
  }();
  (void)done;
}

// The last libgit2 error as a Status (Corruption for damaged objects).
Status GitError(int rc, const std::string& what) {
  const git_error* e = git_error_last();
  std::string msg = what + ": " + (e != nullptr && e->message != nullptr ? e->message : "libgit2 error " + std::to_string(rc));
  if (rc == GIT_ENOTFOUND) return Status::NotFound(msg);
  if (e != nullptr && (e->klass == GIT_ERROR_ODB || e->klass == GIT_ERROR_ZLIB || e->klass == GIT_ERROR_OBJECT ||
                       e->klass == GIT_ERROR_INDEXER || e->klass == GIT_ERROR_SHA)) {
    return Status::Corruption(msg + " (the git repository is damaged; run 'git fsck')");
  }
  return Status::IOError(msg);
}

#define GIT_TRY(expr, what)                              \
  do {                                                   \
    int rc_ = (expr);                                    \
    if (rc_ < 0) return GitError(rc_, (what));           \
  } while (0)

template <class T, void (*Free)(T*)>
struct GitPtr {
  T* p = nullptr;
  GitPtr() = default;
  GitPtr(const GitPtr&) = delete;
  GitPtr& operator=(const GitPtr&) = delete;
  GitPtr(GitPtr&& o) noexcept : p(o.p) { o.p = nullptr; }
  GitPtr& operator=(GitPtr&& o) noexcept {
    std::swap(p, o.p);
    return *this;
  }
  ~GitPtr() {
    if (p != nullptr) Free(p);
  }
  T** out() { return &p; }
  T* get() const { return p; }
};
using GitRepo = GitPtr<git_repository, git_repository_free>;
using GitOdb = GitPtr<git_odb, git_odb_free>;
using GitTree = GitPtr<git_tree, git_tree_free>;
using GitCommit = GitPtr<git_commit, git_commit_free>;
using GitBuilder = GitPtr<git_treebuilder, git_treebuilder_free>;
using GitSig = GitPtr<git_signature, git_signature_free>;
using GitRef = GitPtr<git_reference, git_reference_free>;
using GitObject = GitPtr<git_object, git_object_free>;
using GitTag = GitPtr<git_tag, git_tag_free>;
using GitBlob = GitPtr<git_blob, git_blob_free>;
using GitOdbObject = GitPtr<git_odb_object, git_odb_object_free>;
using GitRefIter = GitPtr<git_reference_iterator, git_reference_iterator_free>;

std::string Hex(const git_oid& id) {
  char buf[GIT_OID_HEXSZ + 1];
  git_oid_tostr(buf, sizeof(buf), &id);
  return buf;
}

Result<git_oid> OidFromHex(const std::string& hex) {
  git_oid id;
  if (hex.size() != GIT_OID_HEXSZ || git_oid_fromstr(&id, hex.c_str()) != 0) {
    return Status::InvalidArgument("'" + hex + "' is not a git object id (this libgit2 handles SHA-1 only)");
  }
  return id;
}

struct OidHash {
  size_t operator()(const git_oid& o) const {
    size_t h;
    std::memcpy(&h, o.id, sizeof(h));
    return h;
  }
};
struct OidEq {
  bool operator()(const git_oid& a, const git_oid& b) const { return git_oid_equal(&a, &b) != 0; }
};

// The absolute, normalized form of `path` (it need not exist).
std::string AbsolutePath(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  char buf[PATH_MAX];
  if (::realpath(path.c_str(), buf) != nullptr) return buf;
  if (!path.empty() && path[0] == '/') return path;
  if (::getcwd(buf, sizeof(buf)) == nullptr) return path;
  return std::string(buf) + "/" + path;
}

// Opens the git repository at `dir` (its .git folder or a bare one); no
// search upwards. NotFound, saying so, if it is not one.
Result<GitRepo> OpenGit(const std::string& dir) {
  InitLibgit2();
  GitRepo repo;
  int rc = git_repository_open_ext(repo.out(), dir.c_str(), GIT_REPOSITORY_OPEN_NO_SEARCH, nullptr);
  if (rc == GIT_ENOTFOUND) {
    return Status::NotFound("'" + dir + "' is not a git repository (give the folder of one, or its .git folder)");
  }
  if (rc < 0) return GitError(rc, "cannot open git repository '" + dir + "'");
  return repo;
}

// True if `path` is a folder with nothing in it.
bool EmptyFolder(const std::string& path) {
  DIR* d = ::opendir(path.c_str());
  if (d == nullptr) return false;
  bool empty = true;
  while (struct dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") {
      empty = false;
      break;
    }
  }
  ::closedir(d);
  return empty;
}

// Removes `path` and all below it (a folder an interrupted CreateBare left).
void RemoveTree(const std::string& path) {
  std::vector<std::pair<std::string, bool>> stack{{path, false}};
  while (!stack.empty()) {
    auto [p, listed] = stack.back();
    struct stat st;
    if (::lstat(p.c_str(), &st) != 0) {
      stack.pop_back();
      continue;
    }
    if (!S_ISDIR(st.st_mode)) {
      ::unlink(p.c_str());
      stack.pop_back();
      continue;
    }
    if (listed) {
      ::rmdir(p.c_str());
      stack.pop_back();
      continue;
    }
    stack.back().second = true;
    if (DIR* d = ::opendir(p.c_str())) {
      while (struct dirent* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n != "." && n != "..") stack.emplace_back(p + "/" + n, false);
      }
      ::closedir(d);
    }
  }
}

// A new bare git repository at `dir`, made whole under a temporary name
// beside it and renamed into place (a run killed while libgit2 writes it
// leaves no half repository at `dir`). Temporary folders of runs that
// died are removed first.
Result<GitRepo> CreateBare(const std::string& dir) {
  const size_t slash = dir.rfind('/');
  const std::string parent = slash == 0 ? "/" : dir.substr(0, slash);
  const std::string prefix = dir.substr(slash + 1) + ".cairn-tmp-";
  if (DIR* d = ::opendir(parent.c_str())) {
    std::vector<std::string> stale;
    while (struct dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n.compare(0, prefix.size(), prefix) != 0) continue;
      const long pid = std::strtol(n.c_str() + prefix.size(), nullptr, 10);
      if (pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM)) continue;  // still running
      stale.push_back(parent + "/" + n);
    }
    ::closedir(d);
    for (const auto& p : stale) RemoveTree(p);
  }
  const std::string tmp = parent + "/" + prefix + std::to_string(::getpid());
  RemoveTree(tmp);
  {
    GitRepo made;
    GIT_TRY(git_repository_init(made.out(), tmp.c_str(), /*is_bare=*/1), "cannot create git repository '" + dir + "'");
  }
  if (::rename(tmp.c_str(), dir.c_str()) != 0) {
    Status st = Status::FromErrno(errno, "cannot create git repository '" + dir + "'");
    RemoveTree(tmp);
    return st;
  }
  if (int fd = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
  return OpenGit(dir);
}

// --- gitmap files: what exports wrote ---

struct GitMapFile {
  std::string git_dir;
  std::vector<std::pair<ObjectId, std::string>> commits;
};

Result<std::vector<GitMapFile>> ReadGitMaps(const Repository& r) {
  std::vector<std::string> names;
  CAIRN_RETURN_IF_ERROR(r.backend()->List(kGitMapDir, [&](const std::string& n, uint64_t) {
    if (n.find("/.tmp-") == std::string::npos) names.push_back(n);
  }));
  std::sort(names.begin(), names.end());
  std::vector<GitMapFile> out;
  for (const auto& name : names) {
    auto data = r.backend()->Get(name);
    if (data.status().IsNotFound()) continue;
    CAIRN_RETURN_IF_ERROR(data.status());
    auto payload = r.codec().DecodeFile(*data, objstore::FileType::kGitMap, nullptr, name, name);
    if (!payload.ok()) return payload.status();
    json j = json::parse(*payload, nullptr, /*allow_exceptions=*/false);
    auto bad = [&] { return Status::Corruption("git map '" + name + "' is damaged (not the JSON of a git map)"); };
    if (j.is_discarded() || !j.is_object() || !j.contains("git_dir") || !j.contains("commits")) return bad();
    GitMapFile f;
    try {
      f.git_dir = j.at("git_dir").get<std::string>();
      for (const auto& p : j.at("commits")) {
        auto id = ObjectId::FromHex(p.at(0).get<std::string>());
        std::string c = p.at(1).get<std::string>();
        if (!id.ok() || !objstore::GitCommitHex(c)) return bad();
        f.commits.emplace_back(*id, c);
      }
    } catch (const json::exception&) {
      return bad();
    }
    out.push_back(std::move(f));
  }
  return out;
}

Status WriteGitMap(Repository* r, const GitMapFile& f, int64_t now_ns) {
  if (f.commits.empty()) return Status::OK();
  json commits = json::array();
  for (const auto& [s, c] : f.commits) commits.push_back(json::array({s.ToHex(), c}));
  json j{{"v", 1}, {"git_dir", f.git_dir}, {"time_ns", now_ns}, {"commits", commits}};
  static const char* digits = "0123456789abcdef";
  std::string name(kGitMapDir);
  for (unsigned char c : objstore::crypto::RandomString(8)) {
    name += digits[c >> 4];
    name += digits[c & 15];
  }
  std::string file = r->codec().EncodeFile(objstore::FileType::kGitMap, j.dump(), /*compress=*/true, name);
  return r->backend()->PutIfAbsent(name, file);
}

int64_t NowNs() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

// ============================== export ==============================

// True for a name git refuses in a tree (fsck: hasDotgit), any case.
bool DotGit(const std::string& name) {
  if (name.size() != 4) return false;
  std::string l = name;
  for (char& c : l) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return l == ".git";
}

// The commit message of a snapshot: its message (or a line saying what it
// is) and the trailer naming it.
std::string CommitMessage(const ObjectId& id, const Snapshot& s) {
  std::string m = s.message;
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  if (m.empty()) m = "cairn snapshot " + id.ToHex().substr(0, 12);
  return m + "\n\n" + kTrailer + id.ToHex() + "\n";
}

// The same folder in a base snapshot converted earlier: its cairn tree and
// its git tree. False (and no base: it only saves work) when there is none
// or either does not read.
bool LoadBase(const Repository& r, git_repository* g, const ObjectId& base_cairn, const git_oid* base_git,
              objstore::Tree* tree, GitTree* git_tree) {
  if (base_cairn.IsZero() || base_git == nullptr) return false;
  auto b = r.ReadTree(base_cairn);
  if (!b.ok() || git_tree_lookup(git_tree->out(), g, base_git) != 0) {
    git_error_clear();
    return false;
  }
  *tree = std::move(*b);
  return true;
}

void PutBe32(std::string* out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) *out += static_cast<char>((v >> shift) & 0xff);
}

// Where an export's objects go: into memory (libgit2's mempack, the
// highest-priority backend of the repository's object database), out as
// one pack file (through the odb's indexer, fsynced) every 64 MiB and at
// the end, so a big export is a few packs rather than a loose file per
// object. Files of 8 MiB and more are streamed into loose objects of their
// own through a second object database without the mempack (a pack in
// memory would hold them whole).
class ObjectSink {
 public:
  static constexpr uint64_t kBigBlob = 8u << 20;
  static constexpr uint64_t kFlushBytes = 64u << 20;  // CAIRN_GIT_PACK_MIB changes it (tests)

  Status Open(git_repository* g, git_odb* odb) {
    g_ = g;
    odb_ = odb;
    if (const char* v = std::getenv("CAIRN_GIT_PACK_MIB"); v != nullptr && std::atoll(v) > 0) {
      flush_bytes_ = static_cast<uint64_t>(std::atoll(v)) << 20;
    }
    GIT_TRY(git_mempack_new(&mempack_), "cannot start writing git objects");
    int rc = git_odb_add_backend(odb, mempack_, 1000);
    if (rc < 0) {
      mempack_->free(mempack_);
      mempack_ = nullptr;
      return GitError(rc, "cannot start writing git objects");
    }
    const std::string objects = std::string(git_repository_path(g)) + "objects";
    GIT_TRY(git_odb_open(big_.out(), objects.c_str()), "cannot open '" + objects + "'");
    return Status::OK();
  }
  git_odb* big() const { return big_.get(); }
  // Object `id` of `n` bytes was written (into memory).
  Status Added(const git_oid& id, uint64_t n) {
    written_.push_back(id);
    pending_ += n;
    return pending_ >= flush_bytes_ ? Flush() : Status::OK();
  }
  // Writes what is in memory out as a pack file: each object whole
  // (deflated, no deltas: delta search over a big export cost libgit2's
  // packbuilder 6x the time of `git add`; `git gc` can add deltas later),
  // streamed into the odb's indexer, which checks it and writes .pack and
  // .idx. (git_mempack_dump packs only what its commits reach, and would
  // lose a snapshot's blobs written before its commit, and tag objects.)
  Status Flush() {
    if (written_.empty()) return Status::OK();
    std::sort(written_.begin(), written_.end(),
              [](const git_oid& a, const git_oid& b) { return git_oid_cmp(&a, &b) < 0; });
    written_.erase(std::unique(written_.begin(), written_.end(),
                               [](const git_oid& a, const git_oid& b) { return git_oid_equal(&a, &b) != 0; }),
                   written_.end());
    git_odb_writepack* wp = nullptr;
    GIT_TRY(git_odb_write_pack(&wp, odb_, nullptr, nullptr), "cannot write a git pack");
    std::unique_ptr<git_odb_writepack, void (*)(git_odb_writepack*)> guard(wp, [](git_odb_writepack* w) { w->free(w); });
    std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> sha(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    if (!sha || EVP_DigestInit_ex(sha.get(), EVP_sha1(), nullptr) != 1) return Status::IOError("cannot start SHA-1");
    git_indexer_progress st{};
    std::string out;
    auto emit = [&]() -> Status {
      EVP_DigestUpdate(sha.get(), out.data(), out.size());
      int rc = wp->append(wp, out.data(), out.size(), &st);
      out.clear();
      if (rc < 0) return GitError(rc, "cannot write a git pack");
      return Status::OK();
    };
    out = "PACK";
    PutBe32(&out, 2);
    PutBe32(&out, static_cast<uint32_t>(written_.size()));
    std::string deflated;
    for (const auto& id : written_) {
      GitOdbObject obj;
      GIT_TRY(git_odb_read(obj.out(), odb_, &id), "cannot read git object " + Hex(id) + " to pack it");
      const size_t size = git_odb_object_size(obj.get());
      const int type = git_odb_object_type(obj.get());  // commit 1, tree 2, blob 3, tag 4: the pack's codes
      // The entry header: type and size, 4 bits then 7 per byte.
      uint64_t rest = size >> 4;
      out += static_cast<char>((type << 4) | (size & 15) | (rest != 0 ? 0x80 : 0));
      while (rest != 0) {
        const uint8_t b = rest & 0x7f;
        rest >>= 7;
        out += static_cast<char>(b | (rest != 0 ? 0x80 : 0));
      }
      uLongf len = compressBound(static_cast<uLong>(size));
      deflated.resize(len);
      if (compress2(reinterpret_cast<Bytef*>(deflated.data()), &len,
                    static_cast<const Bytef*>(git_odb_object_data(obj.get())), static_cast<uLong>(size),
                    Z_BEST_SPEED) != Z_OK) {
        return Status::IOError("cannot deflate git object " + Hex(id));
      }
      out.append(deflated.data(), len);
      if (out.size() >= (1u << 20)) CAIRN_RETURN_IF_ERROR(emit());
    }
    if (!out.empty()) CAIRN_RETURN_IF_ERROR(emit());
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_DigestFinal_ex(sha.get(), md, &mdlen);
    GIT_TRY(wp->append(wp, md, mdlen, &st), "cannot write a git pack");
    GIT_TRY(wp->commit(wp, &st), "cannot write a git pack");
    // The new pack is read through the odb from here on (the objects in
    // memory go).
    GIT_TRY(git_odb_refresh(odb_), "cannot read the new git pack");
    GIT_TRY(git_mempack_reset(mempack_), "cannot reset the git objects in memory");
    packs_++;
    pending_ = 0;
    written_.clear();
    return Status::OK();
  }
  uint64_t packs() const { return packs_; }

 private:
  git_repository* g_ = nullptr;
  git_odb* odb_ = nullptr;
  git_odb_backend* mempack_ = nullptr;  // owned by odb_
  GitOdb big_;
  uint64_t flush_bytes_ = kFlushBytes;
  uint64_t pending_ = 0, packs_ = 0;
  std::vector<git_oid> written_;  // in memory, not yet in a pack
};

class Exporter {
 public:
  Exporter(Repository* r, git_repository* g, git_odb* odb, ObjectSink* sink, GitExportResult* res,
           const std::function<void(const std::string&)>& warn)
      : r_(r), g_(g), odb_(odb), sink_(sink), res_(res), warn_(warn) {}

  // The git tree of cairn tree `root`. `base_cairn`/`base_git`: the root
  // trees of a snapshot exported earlier and its commit's tree (zero/null
  // when none): files and folders unchanged since it are not read again.
  Result<git_oid> Tree(const ObjectId& root, const ObjectId& base_cairn, const git_oid* base_git) {
    if (auto it = trees_.find(root); it != trees_.end() && it->second) return *it->second;
    std::vector<Frame> stack;
    CAIRN_RETURN_IF_ERROR(Push(&stack, root, "", base_cairn, base_git));
    git_oid result{};
    while (!stack.empty()) {
      Frame& f = stack.back();
      if (f.next == f.tree.entries.size()) {
        std::optional<git_oid> id;
        if (git_treebuilder_entrycount(f.builder.get()) > 0 || stack.size() == 1) {
          git_oid oid;
          const size_t entries = git_treebuilder_entrycount(f.builder.get());
          GIT_TRY(git_treebuilder_write(&oid, f.builder.get()), "cannot write git tree for '" + Shown(f.path) + "'");
          res_->trees_written++;
          CAIRN_RETURN_IF_ERROR(sink_->Added(oid, entries * 48));
          id = oid;
        } else {
          skipped_.empty_dirs++;  // git holds no empty folders
        }
        trees_[f.id] = id;
        std::string name = f.name;
        stack.pop_back();
        if (stack.empty()) {
          result = *id;
        } else if (id) {
          CAIRN_RETURN_IF_ERROR(Insert(stack.back(), name, *id, GIT_FILEMODE_TREE));
        }
        continue;
      }
      const TreeEntry& e = f.tree.entries[f.next++];
      const std::string path = f.path.empty() ? e.name : f.path + "/" + e.name;
      if (DotGit(e.name)) {
        skipped_.names++;
        warn_("'" + path + "' is left out: git cannot hold a file or folder named .git");
        continue;
      }
      const TreeEntry* be = f.base ? objstore::FindEntry(f.base_tree, e.name) : nullptr;
      const git_tree_entry* bg = f.base ? git_tree_entry_byname(f.base_git.get(), e.name.c_str()) : nullptr;
      switch (e.type) {
        case EntryType::kDir: {
          if (auto it = trees_.find(e.subtree); it != trees_.end()) {
            if (it->second) {
              CAIRN_RETURN_IF_ERROR(Insert(f, e.name, *it->second, GIT_FILEMODE_TREE));
            } else {
              skipped_.empty_dirs++;
            }
            continue;
          }
          if (be != nullptr && bg != nullptr && be->type == EntryType::kDir && be->subtree == e.subtree &&
              git_tree_entry_filemode(bg) == GIT_FILEMODE_TREE) {
            trees_[e.subtree] = *git_tree_entry_id(bg);
            CAIRN_RETURN_IF_ERROR(Insert(f, e.name, *git_tree_entry_id(bg), GIT_FILEMODE_TREE));
            continue;
          }
          ObjectId bc;
          const git_oid* bgo = nullptr;
          if (be != nullptr && bg != nullptr && be->type == EntryType::kDir &&
              git_tree_entry_filemode(bg) == GIT_FILEMODE_TREE) {
            bc = be->subtree;
            bgo = git_tree_entry_id(bg);
          }
          const ObjectId sub = e.subtree;
          const std::string name = e.name;
          CAIRN_RETURN_IF_ERROR(Push(&stack, sub, path, bc, bgo));  // f is invalid from here
          stack.back().name = name;
          break;
        }
        case EntryType::kFile:
        case EntryType::kHardlink: {
          const git_filemode_t mode = (e.mode & S_IXUSR) != 0 ? GIT_FILEMODE_BLOB_EXECUTABLE : GIT_FILEMODE_BLOB;
          std::optional<git_oid> blob;
          if (be != nullptr && bg != nullptr && objstore::CarriesContent(be->type) && be->chunks == e.chunks &&
              be->size == e.size && git_tree_entry_type(bg) == GIT_OBJECT_BLOB) {
            blob = *git_tree_entry_id(bg);
          }
          if (!blob) {
            CAIRN_ASSIGN_OR_RETURN(git_oid b, Blob(e, path));
            blob = b;
          }
          CAIRN_RETURN_IF_ERROR(Insert(f, e.name, *blob, mode));
          break;
        }
        case EntryType::kSymlink: {
          git_oid b;
          GIT_TRY(git_blob_create_from_buffer(&b, g_, e.link_target.data(), e.link_target.size()),
                  "cannot write git blob for symlink '" + path + "'");
          CAIRN_RETURN_IF_ERROR(sink_->Added(b, e.link_target.size()));
          CAIRN_RETURN_IF_ERROR(Insert(f, e.name, b, GIT_FILEMODE_LINK));
          break;
        }
        case EntryType::kGitlink: {
          CAIRN_ASSIGN_OR_RETURN(git_oid c, OidFromHex(e.link_target));
          CAIRN_RETURN_IF_ERROR(Insert(f, e.name, c, GIT_FILEMODE_COMMIT));
          break;
        }
        case EntryType::kFifo:
        case EntryType::kCharDevice:
        case EntryType::kBlockDevice:
          skipped_.special++;  // git holds no fifos or devices
          break;
      }
    }
    return result;
  }

  struct Skipped {
    uint64_t empty_dirs = 0, special = 0, names = 0;
  };
  // What the last Tree() call left out, then reset.
  Skipped TakeSkipped() { return std::exchange(skipped_, Skipped{}); }

 private:
  struct Frame {
    ObjectId id;
    std::string name;  // in the parent
    std::string path;
    objstore::Tree tree;
    size_t next = 0;
    GitBuilder builder;
    bool base = false;
    objstore::Tree base_tree;
    GitTree base_git;
  };

  static std::string Shown(const std::string& path) { return path.empty() ? "/" : path; }

  Status Push(std::vector<Frame>* stack, const ObjectId& id, const std::string& path, const ObjectId& base_cairn,
              const git_oid* base_git) {
    CAIRN_RETURN_IF_ERROR(objstore::CheckTreePath(path));
    Frame f;
    f.id = id;
    f.path = path;
    auto t = r_->ReadTree(id);
    if (!t.ok()) return t.status().WithContext("cannot export folder '" + Shown(path) + "'");
    f.tree = std::move(*t);
    GIT_TRY(git_treebuilder_new(f.builder.out(), g_, nullptr), "cannot start a git tree");
    f.base = LoadBase(*r_, g_, base_cairn, base_git, &f.base_tree, &f.base_git);
    stack->push_back(std::move(f));
    return Status::OK();
  }

  Status Insert(Frame& f, const std::string& name, const git_oid& id, git_filemode_t mode) {
    int rc = git_treebuilder_insert(nullptr, f.builder.get(), name.c_str(), &id, mode);
    if (rc < 0) {
      const std::string path = f.path.empty() ? name : f.path + "/" + name;
      const git_error* e = git_error_last();
      if (e != nullptr && e->klass == GIT_ERROR_TREE) {
        // A name git refuses in a tree (libgit2 checks as fsck does).
        skipped_.names++;
        warn_("'" + path + "' is left out: git refuses the name (" + e->message + ")");
        return Status::OK();
      }
      return GitError(rc, "cannot add '" + path + "' to a git tree");
    }
    return Status::OK();
  }

  // The blob of file `e`, its content streamed from the repository into a
  // git object (never whole in memory).
  Result<git_oid> Blob(const TreeEntry& e, const std::string& path) {
    const ObjectId content = objstore::FileContentId(e.chunks);
    if (auto it = blobs_.find(content); it != blobs_.end()) return it->second;
    const std::string what = "cannot write git blob for '" + path + "'";
    auto wrong_size = [&](uint64_t n) {
      return Status::Corruption("cannot export '" + path + "': its chunks hold " + std::to_string(n) +
                                " bytes, its entry says " + std::to_string(e.size));
    };
    git_oid id;
    uint64_t n = 0;
    if (e.size >= ObjectSink::kBigBlob) {
      // Streamed into a loose object: never whole in memory.
      git_odb_stream* raw = nullptr;
      GIT_TRY(git_odb_open_wstream(&raw, sink_->big(), e.size, GIT_OBJECT_BLOB), what);
      std::unique_ptr<git_odb_stream, void (*)(git_odb_stream*)> stream(raw, git_odb_stream_free);
      for (const auto& c : e.chunks) {
        auto data = r_->ReadBlob(c);
        if (!data.ok()) return data.status().WithContext("cannot export '" + path + "'");
        n += data->size();
        if (n > e.size) return wrong_size(n);
        GIT_TRY(git_odb_stream_write(stream.get(), data->data(), data->size()), what);
      }
      if (n != e.size) return wrong_size(n);
      GIT_TRY(git_odb_stream_finalize_write(&id, stream.get()), what);
    } else {
      std::string buf;
      buf.reserve(e.size);
      for (const auto& c : e.chunks) {
        auto data = r_->ReadBlob(c);
        if (!data.ok()) return data.status().WithContext("cannot export '" + path + "'");
        n += data->size();
        if (n > e.size) return wrong_size(n);
        buf += *data;
      }
      if (n != e.size) return wrong_size(n);
      GIT_TRY(git_odb_write(&id, odb_, buf.data(), buf.size(), GIT_OBJECT_BLOB), what);
      CAIRN_RETURN_IF_ERROR(sink_->Added(id, buf.size()));
    }
    res_->blobs_written++;
    res_->bytes_read += n;
    blobs_.emplace(content, id);
    return id;
  }

  Repository* r_;
  git_repository* g_;
  git_odb* odb_;
  ObjectSink* sink_;
  GitExportResult* res_;
  const std::function<void(const std::string&)>& warn_;
  // cairn tree -> git tree (std::nullopt: an empty folder, left out).
  std::unordered_map<ObjectId, std::optional<git_oid>, ObjectIdHash> trees_;
  std::unordered_map<ObjectId, git_oid, ObjectIdHash> blobs_;  // file content id -> blob
  Skipped skipped_;
};

// The signature of a snapshot's author: user <user@host> (or <host> when
// the host is already an address, as for imported commits), at its time.
Status SnapshotSignature(const Snapshot& s, GitSig* sig) {
  std::string name = s.user.empty() ? "cairn" : s.user;
  std::string email = s.host.find('@') != std::string::npos ? s.host : name + "@" + (s.host.empty() ? "localhost" : s.host);
  int64_t secs = s.time_ns >= 0 ? s.time_ns / 1000000000 : -((-s.time_ns + 999999999) / 1000000000);
  GIT_TRY(git_signature_new(sig->out(), name.c_str(), email.c_str(), secs, 0), "cannot make a git signature");
  return Status::OK();
}

// Points git ref `name` at `target` (a commit, or a tag object for tags):
// created, moved forward (branches), or left as it is (conflict) unless
// `force`.
Status SetGitRef(git_repository* g, const std::string& name, const git_oid& target, bool branch, bool force,
                 GitExportResult* res) {
  GitRefOutcome out{name, Hex(target), "", ""};
  git_oid cur;
  int rc = git_reference_name_to_id(&cur, g, name.c_str());
  if (rc == 0 && git_oid_equal(&cur, &target)) {
    out.result = "unchanged";
  } else {
    bool ok = rc == GIT_ENOTFOUND;
    if (rc < 0 && rc != GIT_ENOTFOUND) return GitError(rc, "cannot read git ref '" + name + "'");
    if (rc == 0) {
      out.had = Hex(cur);
      if (branch) {
        int d = git_graph_descendant_of(g, &target, &cur);
        if (d < 0) return GitError(d, "cannot compare git ref '" + name + "'");
        ok = d == 1;
      }
    }
    if (!ok && !force) {
      out.result = "conflict";
      res->conflict = true;
    } else {
      GitRef ref;
      GIT_TRY(git_reference_create(ref.out(), g, name.c_str(), &target, /*force=*/1, "cairn git export"),
              "cannot write git ref '" + name + "'");
      out.result = rc == GIT_ENOTFOUND ? "created" : ok ? "updated" : "forced";
    }
  }
  res->refs.push_back(out);
  return Status::OK();
}

}  // namespace

Result<GitExportResult> GitExport(Repository* r, const GitExportOptions& o) {
  InitLibgit2();
  GitExportResult res;
  const std::string dir = AbsolutePath(o.git_dir);
  GitRepo g;
  struct stat st;
  const bool exists = ::stat(dir.c_str(), &st) == 0;
  if (!exists && errno != ENOENT) return Status::FromErrno(errno, "cannot look at '" + o.git_dir + "'");
  if (!exists || (S_ISDIR(st.st_mode) && EmptyFolder(dir))) {
    // Missing or an empty folder: a new bare repository (renamed over the
    // empty folder).
    CAIRN_ASSIGN_OR_RETURN(g, CreateBare(dir));
    res.created = true;
  } else {
    CAIRN_ASSIGN_OR_RETURN(g, OpenGit(dir));
  }
  GitOdb odb;
  GIT_TRY(git_repository_odb(odb.out(), g.get()), "cannot open the objects of '" + dir + "'");

  // What earlier exports into this git repository made (and it still has).
  std::unordered_map<ObjectId, git_oid, ObjectIdHash> done;
  CAIRN_ASSIGN_OR_RETURN(auto maps, ReadGitMaps(*r));
  for (const auto& m : maps) {
    if (m.git_dir != dir) continue;
    for (const auto& [s, c] : m.commits) {
      auto oid = OidFromHex(c);
      if (oid.ok() && git_odb_exists(odb.get(), &*oid) == 1) done[s] = *oid;
    }
  }

  // The snapshots to export, parents first (iterative: long histories).
  std::vector<ObjectId> order;
  std::unordered_map<ObjectId, Snapshot, ObjectIdHash> snaps;
  {
    std::set<ObjectId> seen;
    std::vector<std::pair<ObjectId, bool>> stack;
    std::vector<ObjectId> want = o.snapshots;
    for (const auto& ref : o.refs) want.push_back(ref.snapshot);
    for (auto it = want.rbegin(); it != want.rend(); ++it) stack.emplace_back(*it, false);
    while (!stack.empty()) {
      auto [id, expanded] = stack.back();
      stack.pop_back();
      if (expanded) {
        order.push_back(id);
        continue;
      }
      if (!seen.insert(id).second) continue;
      CAIRN_ASSIGN_OR_RETURN(Snapshot s, r->ReadSnapshot(id));
      stack.emplace_back(id, true);
      for (auto p = s.parents.rbegin(); p != s.parents.rend(); ++p) {
        if (!seen.count(*p)) stack.emplace_back(*p, false);
      }
      snaps.emplace(id, std::move(s));
    }
  }

  ObjectSink sink;
  CAIRN_RETURN_IF_ERROR(sink.Open(g.get(), odb.get()));
  Exporter ex(r, g.get(), odb.get(), &sink, &res, o.on_warning);
  GitMapFile made;
  made.git_dir = dir;
  for (const auto& id : order) {
    const Snapshot& s = snaps.at(id);
    if (auto it = done.find(id); it != done.end()) {
      res.commits.push_back({id, Hex(it->second), false});
      continue;
    }
    // The first parent's export, if any, saves reading unchanged files.
    ObjectId base_cairn;
    git_oid base_git{};
    bool has_base = false;
    if (!s.parents.empty()) {
      if (auto p = done.find(s.parents[0]); p != done.end()) {
        GitCommit pc;
        if (git_commit_lookup(pc.out(), g.get(), &p->second) == 0) {
          base_cairn = snaps.at(s.parents[0]).tree;
          base_git = *git_commit_tree_id(pc.get());
          has_base = true;
        }
      }
    }
    CAIRN_ASSIGN_OR_RETURN(git_oid tree_id, ex.Tree(s.tree, base_cairn, has_base ? &base_git : nullptr));
    auto skipped = ex.TakeSkipped();
    res.skipped_empty_dirs += skipped.empty_dirs;
    res.skipped_special += skipped.special;
    res.skipped_names += skipped.names;
    GitTree tree;
    GIT_TRY(git_tree_lookup(tree.out(), g.get(), &tree_id), "cannot read the git tree just written");
    std::vector<GitCommit> parents;
    std::vector<const git_commit*> pp;
    for (const auto& p : s.parents) {
      auto it = done.find(p);
      if (it == done.end()) return Status::Corruption("snapshot " + id.ShortHex() + " names parent " + p.ShortHex() + ", which was not exported");
      parents.emplace_back();
      GIT_TRY(git_commit_lookup(parents.back().out(), g.get(), &it->second), "cannot read git commit " + Hex(it->second));
    }
    for (const auto& p : parents) pp.push_back(p.get());
    GitSig sig;
    CAIRN_RETURN_IF_ERROR(SnapshotSignature(s, &sig));
    const std::string message = CommitMessage(id, s);
    git_oid commit;
    GIT_TRY(git_commit_create(&commit, g.get(), nullptr, sig.get(), sig.get(), nullptr, message.c_str(), tree.get(),
                              pp.size(), pp.data()),
            "cannot write git commit for snapshot " + id.ShortHex());
    CAIRN_RETURN_IF_ERROR(sink.Added(commit, message.size() + 200));
    done[id] = commit;
    made.commits.emplace_back(id, Hex(commit));
    res.commits.push_back({id, Hex(commit), true});
  }

  // Refs: branches, tags, and a ref for every asked-for snapshot that no
  // exported branch or tag reaches (git keeps only what refs reach).
  std::set<ObjectId> reached;
  {
    std::vector<ObjectId> stack;
    for (const auto& ref : o.refs) stack.push_back(ref.snapshot);
    while (!stack.empty()) {
      ObjectId id = stack.back();
      stack.pop_back();
      if (!reached.insert(id).second) continue;
      for (const auto& p : snaps.at(id).parents) stack.push_back(p);
    }
  }
  // Tag objects first; then every object goes out to disk before any ref
  // names it.
  std::vector<std::pair<std::string, git_oid>> targets;  // ref -> commit or tag object
  for (const auto& ref : o.refs) {
    const git_oid& c = done.at(ref.snapshot);
    if (ref.kind == "branches") {
      targets.emplace_back("refs/heads/" + o.branch_prefix + ref.name, c);
      continue;
    }
    // An annotated tag, a function of the cairn tag (the same tag object on
    // every export).
    TagAnnotation a = DecodeTagAnnotation(ref.annotation);
    const Snapshot& s = snaps.at(ref.snapshot);
    Snapshot who;
    who.user = a.user.empty() ? s.user : a.user;
    who.host = s.host;
    who.time_ns = a.time_ns != 0 ? a.time_ns : s.time_ns;
    GitSig tagger;
    CAIRN_RETURN_IF_ERROR(SnapshotSignature(who, &tagger));
    GitObject target;
    GIT_TRY(git_object_lookup(target.out(), g.get(), &c, GIT_OBJECT_COMMIT), "cannot read git commit " + Hex(c));
    std::string msg = a.message;
    if (!msg.empty() && msg.back() != '\n') msg += '\n';
    git_oid tag;
    GIT_TRY(git_tag_annotation_create(&tag, g.get(), (o.branch_prefix + ref.name).c_str(), target.get(),
                                      tagger.get(), msg.c_str()),
            "cannot write git tag '" + ref.name + "'");
    CAIRN_RETURN_IF_ERROR(sink.Added(tag, msg.size() + 200));
    targets.emplace_back("refs/tags/" + o.branch_prefix + ref.name, tag);
  }
  CAIRN_RETURN_IF_ERROR(sink.Flush());
  res.packs_written = sink.packs();
  Status ref_error;
  for (const auto& [name, target] : targets) {
    ref_error = SetGitRef(g.get(), name, target, name.rfind("refs/heads/", 0) == 0, o.force, &res);
    if (!ref_error.ok()) break;
  }
  if (ref_error.ok()) {
    for (const auto& id : o.snapshots) {
      if (reached.count(id)) continue;
      ref_error = SetGitRef(g.get(), "refs/cairn/snapshots/" + id.ToHex(), done.at(id), true, o.force, &res);
      if (!ref_error.ok()) break;
    }
  }
  // A new (or empty) git repository's HEAD names an exported branch: main
  // if there is one, else the first.
  if (ref_error.ok() && git_repository_head_unborn(g.get()) == 1) {
    std::string head;
    for (const auto& ref : o.refs) {
      if (ref.kind != "branches") continue;
      if (head.empty() || ref.name == kDefaultBranch) head = "refs/heads/" + o.branch_prefix + ref.name;
    }
    if (!head.empty() && git_repository_set_head(g.get(), head.c_str()) < 0) {
      ref_error = GitError(-1, "cannot point HEAD of '" + dir + "' at " + head);
    }
  }
  // The map last: what it names exists in git, whatever the refs did.
  CAIRN_RETURN_IF_ERROR(WriteGitMap(r, made, NowNs()));
  CAIRN_RETURN_IF_ERROR(ref_error);
  return res;
}

// ============================== import ==============================

namespace {

struct TreeInfo {
  ObjectId id;
  uint64_t files = 0, dirs = 0, bytes = 0;
};

struct BlobInfo {
  std::vector<ObjectId> chunks;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
};

class Importer {
 public:
  Importer(Repository* r, git_repository* g, git_odb* odb, BlobWriter* w, GitImportResult* res,
           const std::function<void(const std::string&)>& warn)
      : r_(r), g_(g), odb_(odb), w_(w), res_(res), warn_(warn), uid_(::getuid()), gid_(::getgid()),
        user_(CurrentUserName()) {}

  // The cairn tree of git tree `root`, entries new in it dated `time_ns`.
  // `base`: a commit imported earlier (git tree, cairn tree): entries
  // unchanged since it keep their content and dates without being read.
  Result<TreeInfo> Tree(const git_oid& root, int64_t time_ns, const git_oid* base_git, const ObjectId& base_cairn) {
    if (auto it = trees_.find(root); it != trees_.end()) return it->second;
    std::vector<Frame> stack;
    CAIRN_RETURN_IF_ERROR(Push(&stack, root, "", time_ns, base_git, base_cairn));
    TreeInfo result;
    while (!stack.empty()) {
      Frame& f = stack.back();
      const size_t count = git_tree_entrycount(f.tree.get());
      if (f.next == count) {
        std::sort(f.out.entries.begin(), f.out.entries.end(),
                  [](const TreeEntry& a, const TreeEntry& b) { return a.name < b.name; });
        std::string blob = objstore::EncodeTree(f.out);
        f.info.id = r_->codec().BlobId(blob);
        CAIRN_RETURN_IF_ERROR(w_->Add(objstore::BlobType::kTree, f.info.id, blob).status());
        trees_.emplace(f.oid, f.info);
        TreeInfo done = f.info;
        stack.pop_back();
        if (stack.empty()) {
          result = done;
        } else {
          Frame& p = stack.back();
          p.out.entries.back().subtree = done.id;
          Add(&p.info, done);
        }
        continue;
      }
      const git_tree_entry* ge = git_tree_entry_byindex(f.tree.get(), f.next++);
      const std::string name = git_tree_entry_name(ge);
      const std::string path = f.path.empty() ? name : f.path + "/" + name;
      if (!objstore::ValidEntryName(name)) {
        warn_("'" + path + "' is left out: not a valid file name");
        continue;
      }
      const git_oid& oid = *git_tree_entry_id(ge);
      const git_filemode_t mode = git_tree_entry_filemode_raw(ge);
      const TreeEntry* be = nullptr;
      if (f.base) {
        const git_tree_entry* bg = git_tree_entry_byname(f.base_git.get(), name.c_str());
        if (bg != nullptr && git_oid_equal(git_tree_entry_id(bg), &oid) && git_tree_entry_filemode_raw(bg) == mode) {
          be = objstore::FindEntry(f.base_tree, name);
        }
      }
      TreeEntry e;
      e.name = name;
      e.uid = uid_;
      e.gid = gid_;
      e.user = user_;
      e.mtime_ns = f.time_ns;
      if (mode == GIT_FILEMODE_TREE) {
        e.type = EntryType::kDir;
        e.mode = 0755;
        if (auto it = trees_.find(oid); it != trees_.end()) {
          e.subtree = it->second.id;
          f.out.entries.push_back(e);
          Add(&f.info, it->second);
          continue;
        }
        if (be != nullptr && be->type == EntryType::kDir) {
          // Unchanged since the base: its cairn tree as it is.
          CAIRN_ASSIGN_OR_RETURN(TreeInfo info, CairnStats(be->subtree, path));
          trees_.emplace(oid, info);
          e.subtree = info.id;
          e.mtime_ns = be->mtime_ns;
          f.out.entries.push_back(e);
          Add(&f.info, info);
          continue;
        }
        const git_oid* bgo = nullptr;
        ObjectId bc;
        if (f.base) {
          const git_tree_entry* bg = git_tree_entry_byname(f.base_git.get(), name.c_str());
          const TreeEntry* bce = objstore::FindEntry(f.base_tree, name);
          if (bg != nullptr && bce != nullptr && git_tree_entry_filemode(bg) == GIT_FILEMODE_TREE &&
              bce->type == EntryType::kDir) {
            bgo = git_tree_entry_id(bg);
            bc = bce->subtree;
          }
        }
        f.out.entries.push_back(e);
        const int64_t t = f.time_ns;
        const git_oid sub = oid;
        CAIRN_RETURN_IF_ERROR(Push(&stack, sub, path, t, bgo, bc));  // f is invalid from here
        continue;
      }
      if (mode == GIT_FILEMODE_COMMIT) {
        e.type = EntryType::kGitlink;
        e.mode = 0755;
        e.link_target = Hex(oid);
        res_->submodules++;
        f.out.entries.push_back(std::move(e));
        continue;
      }
      if (mode == GIT_FILEMODE_LINK) {
        std::string target;
        if (be != nullptr && be->type == EntryType::kSymlink) {
          target = be->link_target;
        } else if (auto it = links_.find(oid); it != links_.end()) {
          target = it->second;
        } else {
          CAIRN_ASSIGN_OR_RETURN(target, WholeBlob(oid, path));
          links_.emplace(oid, target);
        }
        if (target.empty() || target.find('\0') != std::string::npos) {
          warn_("'" + path + "' is left out: a symlink with an empty target or a NUL in it");
          continue;
        }
        e.type = EntryType::kSymlink;
        e.mode = 0777;
        e.link_target = std::move(target);
        if (be != nullptr && be->type == EntryType::kSymlink) e.mtime_ns = be->mtime_ns;
        f.out.entries.push_back(std::move(e));
        continue;
      }
      if ((mode & 0170000) != 0100000) {
        warn_("'" + path + "' is left out: unknown git file mode " + std::to_string(mode));
        continue;
      }
      e.type = EntryType::kFile;
      e.mode = mode & 0777;  // 100644, 100755 (and 100664 of old histories)
      if (be != nullptr && be->type == EntryType::kFile) {
        e.chunks = be->chunks;
        e.size = be->size;
        e.mtime_ns = be->mtime_ns;
        blobs_.emplace(oid, BlobInfo{be->chunks, be->size, be->mtime_ns});
      } else {
        CAIRN_ASSIGN_OR_RETURN(const BlobInfo* b, Blob(oid, path, f.time_ns));
        e.chunks = b->chunks;
        e.size = b->size;
        e.mtime_ns = b->mtime_ns;
      }
      f.info.files++;
      f.info.bytes += e.size;
      f.out.entries.push_back(std::move(e));
    }
    return result;
  }

 private:
  struct Frame {
    git_oid oid;
    GitTree tree;
    std::string path;
    int64_t time_ns = 0;
    size_t next = 0;
    objstore::Tree out;
    TreeInfo info;
    bool base = false;
    GitTree base_git;
    objstore::Tree base_tree;
  };

  static void Add(TreeInfo* to, const TreeInfo& sub) {
    to->dirs += 1 + sub.dirs;
    to->files += sub.files;
    to->bytes += sub.bytes;
  }

  Status Push(std::vector<Frame>* stack, const git_oid& oid, const std::string& path, int64_t time_ns,
              const git_oid* base_git, const ObjectId& base_cairn) {
    CAIRN_RETURN_IF_ERROR(objstore::CheckTreePath(path));
    Frame f;
    f.oid = oid;
    f.path = path;
    f.time_ns = time_ns;
    GIT_TRY(git_tree_lookup(f.tree.out(), g_, &oid),
            "cannot read git tree " + Hex(oid) + " ('" + (path.empty() ? "/" : path) + "')");
    f.base = LoadBase(*r_, g_, base_cairn, base_git, &f.base_tree, &f.base_git);
    stack->push_back(std::move(f));
    return Status::OK();
  }

  // The counts of cairn tree `id` (imported earlier), walked once.
  Result<TreeInfo> CairnStats(const ObjectId& id, const std::string& path) {
    if (auto it = stats_.find(id); it != stats_.end()) return it->second;
    struct Item {
      ObjectId id;
      objstore::Tree tree;
      size_t next = 0;
      TreeInfo info;
    };
    std::vector<Item> stack;
    auto push = [&](const ObjectId& t) -> Status {
      if (stack.size() > objstore::kMaxTreePath / 2) return Status::Corruption("tree " + t.ShortHex() + " nests too deep");
      auto tree = r_->ReadTree(t);
      if (!tree.ok()) return tree.status().WithContext("cannot read the earlier import of '" + path + "'");
      stack.push_back({t, std::move(*tree), 0, TreeInfo{t, 0, 0, 0}});
      return Status::OK();
    };
    CAIRN_RETURN_IF_ERROR(push(id));
    TreeInfo result;
    while (!stack.empty()) {
      Item& it = stack.back();
      if (it.next == it.tree.entries.size()) {
        TreeInfo done = it.info;
        stats_.emplace(it.id, done);
        stack.pop_back();
        if (stack.empty()) {
          result = done;
        } else {
          Add(&stack.back().info, done);
        }
        continue;
      }
      const TreeEntry& e = it.tree.entries[it.next++];
      if (e.type == EntryType::kDir) {
        if (auto s = stats_.find(e.subtree); s != stats_.end()) {
          Add(&it.info, s->second);
        } else {
          const ObjectId sub = e.subtree;
          CAIRN_RETURN_IF_ERROR(push(sub));  // it is invalid from here
        }
      } else if (objstore::CarriesContent(e.type)) {
        it.info.files++;
        it.info.bytes += e.size;
      }
    }
    return result;
  }

  Result<std::string> WholeBlob(const git_oid& oid, const std::string& path) {
    GitBlob b;
    GIT_TRY(git_blob_lookup(b.out(), g_, &oid), "cannot read git blob " + Hex(oid) + " ('" + path + "')");
    res_->blobs_read++;
    res_->bytes_read += git_blob_rawsize(b.get());
    return std::string(static_cast<const char*>(git_blob_rawcontent(b.get())),
                       static_cast<size_t>(git_blob_rawsize(b.get())));
  }

  // The chunks of git blob `oid`, stored. Loose objects are streamed;
  // libgit2 inflates a packed object whole (docs/git-interop.md).
  Result<const BlobInfo*> Blob(const git_oid& oid, const std::string& path, int64_t time_ns) {
    if (auto it = blobs_.find(oid); it != blobs_.end()) return &it->second;
    BlobInfo info;
    info.mtime_ns = time_ns;
    objstore::ChunkStream cs(r_->config().chunker, r_->hasher(), [&](std::string_view chunk, const ObjectId& id) {
      info.chunks.push_back(id);
      return w_->Add(objstore::BlobType::kData, id, chunk).status();
    });
    const std::string what = "cannot read git blob " + Hex(oid) + " ('" + path + "')";
    git_odb_stream* raw = nullptr;
    size_t len = 0;
    git_object_t type;
    if (git_odb_open_rstream(&raw, &len, &type, odb_, &oid) == 0) {
      std::unique_ptr<git_odb_stream, void (*)(git_odb_stream*)> stream(raw, git_odb_stream_free);
      // A stream is not checked by libgit2: the object's id is computed
      // here (SHA-1 of "blob LEN\0" and the content) and compared.
      std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> sha(EVP_MD_CTX_new(), EVP_MD_CTX_free);
      const std::string header = "blob " + std::to_string(len) + std::string(1, '\0');
      if (!sha || EVP_DigestInit_ex(sha.get(), EVP_sha1(), nullptr) != 1 ||
          EVP_DigestUpdate(sha.get(), header.data(), header.size()) != 1) {
        return Status::IOError(what + ": cannot start SHA-1");
      }
      std::string buf(1 << 20, '\0');
      uint64_t got = 0;
      for (;;) {
        int n = stream->read(stream.get(), buf.data(), buf.size());
        if (n < 0) return GitError(n, what);
        if (n == 0) break;
        got += static_cast<uint64_t>(n);
        EVP_DigestUpdate(sha.get(), buf.data(), static_cast<size_t>(n));
        CAIRN_RETURN_IF_ERROR(cs.Feed(std::string_view(buf.data(), static_cast<size_t>(n))));
      }
      if (got != len) return Status::Corruption(what + ": it holds " + std::to_string(got) + " of " + std::to_string(len) + " bytes");
      unsigned char md[EVP_MAX_MD_SIZE];
      unsigned int mdlen = 0;
      git_oid actual;
      if (EVP_DigestFinal_ex(sha.get(), md, &mdlen) != 1 || mdlen != GIT_OID_RAWSZ) {
        return Status::IOError(what + ": cannot finish SHA-1");
      }
      git_oid_fromraw(&actual, md);
      if (!git_oid_equal(&actual, &oid)) {
        return Status::Corruption(what + ": its content hashes to " + Hex(actual) +
                                  " (the git repository is damaged; run 'git fsck')");
      }
    } else {
      git_error_clear();
      GitOdbObject obj;
      GIT_TRY(git_odb_read(obj.out(), odb_, &oid), what);
      const size_t n = git_odb_object_size(obj.get());
      const char* data = static_cast<const char*>(git_odb_object_data(obj.get()));
      for (size_t at = 0; at < n; at += (1 << 20)) {
        CAIRN_RETURN_IF_ERROR(cs.Feed(std::string_view(data + at, std::min<size_t>(1 << 20, n - at))));
      }
    }
    CAIRN_RETURN_IF_ERROR(cs.Finish());
    info.size = cs.bytes();
    res_->blobs_read++;
    res_->bytes_read += info.size;
    return &blobs_.emplace(oid, std::move(info)).first->second;
  }

  Repository* r_;
  git_repository* g_;
  git_odb* odb_;
  BlobWriter* w_;
  GitImportResult* res_;
  const std::function<void(const std::string&)>& warn_;
  const uint32_t uid_, gid_;
  const std::string user_;
  std::unordered_map<git_oid, TreeInfo, OidHash, OidEq> trees_;
  std::unordered_map<git_oid, BlobInfo, OidHash, OidEq> blobs_;
  std::unordered_map<ObjectId, TreeInfo, ObjectIdHash> stats_;  // cairn trees of earlier imports
  std::unordered_map<git_oid, std::string, OidHash, OidEq> links_;  // symlink blobs: their targets
};

// The snapshot message of a commit: its message without the final newline,
// and without the trailer a cairn export added.
std::string SnapshotMessage(const char* raw) {
  std::string m = raw != nullptr ? raw : "";
  while (!m.empty() && m.back() == '\n') m.pop_back();
  const size_t at = m.rfind(std::string("\n\n") + kTrailer);
  if (at != std::string::npos && m.size() - at == 2 + std::string(kTrailer).size() + 64) {
    m.resize(at);
    if (m.rfind("cairn snapshot ", 0) == 0 && m.size() == 15 + 12) m.clear();
  }
  return m;
}

struct RefToImport {
  std::string kind;  // branches | tags
  std::string name;  // without the prefix
  git_oid commit;
  bool annotated = false;
  std::string message, tagger;
  int64_t time_ns = 0;
};

// The ref `full` ("refs/heads/x", "refs/tags/v1") as what to import; a tag
// that does not end at a commit is skipped with a warning (std::nullopt).
Result<std::optional<RefToImport>> ReadGitRef(git_repository* g, const std::string& full,
                                              const std::function<void(const std::string&)>& warn) {
  RefToImport out;
  if (full.rfind("refs/heads/", 0) == 0) {
    out.kind = "branches";
    out.name = full.substr(11);
  } else if (full.rfind("refs/tags/", 0) == 0) {
    out.kind = "tags";
    out.name = full.substr(10);
  } else {
    return Status::InvalidArgument("'" + full + "' is not a branch or a tag; import takes refs/heads/* and refs/tags/*");
  }
  GitRef ref;
  GIT_TRY(git_reference_lookup(ref.out(), g, full.c_str()), "cannot read git ref '" + full + "'");
  GitObject target;
  GIT_TRY(git_reference_peel(target.out(), ref.get(), GIT_OBJECT_ANY), "cannot read git ref '" + full + "'");
  if (out.kind == "tags") {
    git_oid direct;
    GIT_TRY(git_reference_name_to_id(&direct, g, full.c_str()), "cannot read git ref '" + full + "'");
    GitTag tag;
    if (git_tag_lookup(tag.out(), g, &direct) == 0) {
      out.annotated = true;
      out.message = git_tag_message(tag.get()) != nullptr ? git_tag_message(tag.get()) : "";
      while (!out.message.empty() && out.message.back() == '\n') out.message.pop_back();
      if (const git_signature* t = git_tag_tagger(tag.get()); t != nullptr) {
        out.tagger = t->name;
        out.time_ns = static_cast<int64_t>(t->when.time) * 1000000000;
      }
    } else {
      git_error_clear();
    }
  }
  GitObject commit;
  if (git_reference_peel(commit.out(), ref.get(), GIT_OBJECT_COMMIT) != 0) {
    git_error_clear();
    warn("git ref '" + full + "' does not name a commit; it is not imported");
    return std::optional<RefToImport>();
  }
  out.commit = *git_object_id(commit.get());
  if (!out.annotated) {
    // A lightweight tag has no date of its own: its commit's.
    out.time_ns = static_cast<int64_t>(git_commit_time(reinterpret_cast<git_commit*>(commit.get()))) * 1000000000;
  }
  return std::optional<RefToImport>(out);
}

}  // namespace

Result<GitImportResult> GitImport(Repository* r, const GitImportOptions& o) {
  GitImportResult res;
  const std::string dir = AbsolutePath(o.git_dir);
  CAIRN_ASSIGN_OR_RETURN(GitRepo g, OpenGit(o.git_dir));
  res.shallow = git_repository_is_shallow(g.get()) == 1;
  if (res.shallow) {
    o.on_warning("'" + o.git_dir + "' is a shallow clone: its history is cut short; what it has is imported, "
                 "and the first commits it has become snapshots without parents");
  }

  // The refs.
  std::vector<RefToImport> refs;
  {
    std::vector<std::string> names;
    if (o.all) {
      GitRefIter it;
      GIT_TRY(git_reference_iterator_glob_new(it.out(), g.get(), "refs/*"), "cannot list git refs");
      const char* name = nullptr;
      int rc;
      while ((rc = git_reference_next_name(&name, it.get())) == 0) {
        std::string n = name;
        if (n.rfind("refs/heads/", 0) == 0 || n.rfind("refs/tags/", 0) == 0) names.push_back(n);
      }
      if (rc != GIT_ITEROVER) return GitError(rc, "cannot list git refs");
      std::sort(names.begin(), names.end());
    }
    for (const auto& want : o.refs) {
      std::string full;
      for (const char* p : {"", "refs/heads/", "refs/tags/"}) {
        git_oid id;
        std::string cand = p + want;
        if (cand.rfind("refs/", 0) == 0 && git_reference_name_to_id(&id, g.get(), cand.c_str()) == 0) {
          full = cand;
          break;
        }
      }
      git_error_clear();
      if (full.empty()) return Status::NotFound("no branch or tag '" + want + "' in '" + o.git_dir + "'");
      names.push_back(full);
    }
    for (const auto& n : names) {
      CAIRN_ASSIGN_OR_RETURN(auto ref, ReadGitRef(g.get(), n, o.on_warning));
      if (ref) refs.push_back(std::move(*ref));
    }
  }

  // Commits some snapshot already records.
  std::unordered_map<git_oid, std::pair<ObjectId, ObjectId>, OidHash, OidEq> have;  // -> (snapshot, tree)
  CAIRN_ASSIGN_OR_RETURN(auto all, r->ListSnapshots());
  for (const auto& [id, s] : all) {
    if (!s.git) continue;
    auto oid = OidFromHex(s.git->commit);
    if (oid.ok() && !have.count(*oid)) have[*oid] = {id, s.tree};
  }

  // A shallow clone's cut: the commits whose parents it does not have.
  std::unordered_set<git_oid, OidHash, OidEq> cut;
  if (res.shallow) {
    FILE* f = std::fopen((std::string(git_repository_path(g.get())) + "shallow").c_str(), "r");
    if (f != nullptr) {
      char line[128];
      while (std::fgets(line, sizeof(line), f) != nullptr) {
        git_oid id;
        if (std::strlen(line) >= GIT_OID_HEXSZ && git_oid_fromstrn(&id, line, GIT_OID_HEXSZ) == 0) cut.insert(id);
      }
      std::fclose(f);
    }
  }

  // Every commit, parents first (depth first, iterative; libgit2 1.5's
  // revision walk does not know shallow clones).
  std::vector<git_oid> commits;
  {
    std::unordered_set<git_oid, OidHash, OidEq> seen;
    std::vector<std::pair<git_oid, bool>> stack;
    for (auto it = refs.rbegin(); it != refs.rend(); ++it) stack.emplace_back(it->commit, false);
    while (!stack.empty()) {
      auto [id, expanded] = stack.back();
      stack.pop_back();
      if (expanded) {
        commits.push_back(id);
        continue;
      }
      if (!seen.insert(id).second) continue;
      GitCommit c;
      int rc = git_commit_lookup(c.out(), g.get(), &id);
      if (rc == GIT_ENOTFOUND) {
        return Status::Corruption("git commit " + Hex(id) + " is missing from '" + o.git_dir +
                                  "', though the history names it (run 'git fsck')");
      }
      if (rc < 0) return GitError(rc, "cannot read git commit " + Hex(id));
      stack.emplace_back(id, true);
      if (cut.count(id)) continue;
      for (unsigned i = git_commit_parentcount(c.get()); i-- > 0;) {
        const git_oid* p = git_commit_parent_id(c.get(), i);
        if (!seen.count(*p)) stack.emplace_back(*p, false);
      }
    }
  }

  GitOdb odb;
  GIT_TRY(git_repository_odb(odb.out(), g.get()), "cannot open the objects of '" + o.git_dir + "'");
  BlobWriter writer(r, o.threads);
  Importer im(r, g.get(), odb.get(), &writer, &res, o.on_warning);
  // Snapshots are saved after every pack and the index file: nothing is
  // saved when any object of the history turns out damaged.
  struct Pending {
    git_oid commit;
    std::vector<git_oid> parents;  // named by their snapshots once those are saved
    Snapshot snapshot;
  };
  std::vector<Pending> pending;
  for (const git_oid& c : commits) {
    if (auto it = have.find(c); it != have.end()) {
      res.commits.push_back({Hex(c), it->second.first, false});
      continue;
    }
    GitCommit commit;
    GIT_TRY(git_commit_lookup(commit.out(), g.get(), &c), "cannot read git commit " + Hex(c));
    const git_signature* author = git_commit_author(commit.get());
    Snapshot s;
    s.time_ns = static_cast<int64_t>(author->when.time) * 1000000000;
    s.user = author->name != nullptr ? author->name : "";
    s.host = author->email != nullptr ? author->email : "";
    s.paths = {dir};
    s.kind = "full";
    s.source = "git";
    s.message = SnapshotMessage(git_commit_message_raw(commit.get()));
    s.git = objstore::GitOrigin{Hex(c), Hex(*git_commit_tree_id(commit.get()))};
    std::vector<git_oid> parents;
    const unsigned nparents = cut.count(c) ? 0 : git_commit_parentcount(commit.get());
    for (unsigned i = 0; i < nparents; i++) parents.push_back(*git_commit_parent_id(commit.get(), i));
    // A first parent imported by an earlier run gives a base: unchanged
    // content is not read (one imported in this run is in the memo).
    const git_oid* base_git = nullptr;
    ObjectId base_cairn;
    GitCommit first_parent;
    if (!parents.empty()) {
      if (auto it = have.find(parents[0]); it != have.end() &&
                                           git_commit_lookup(first_parent.out(), g.get(), &parents[0]) == 0) {
        base_git = git_commit_tree_id(first_parent.get());
        base_cairn = it->second.second;
      }
    }
    auto before = writer.stats();
    CAIRN_ASSIGN_OR_RETURN(TreeInfo t, im.Tree(*git_commit_tree_id(commit.get()), s.time_ns, base_git, base_cairn));
    auto after = writer.stats();
    s.tree = t.id;
    s.stats.files = s.stats.files_new = t.files;
    s.stats.dirs = t.dirs;
    s.stats.bytes = t.bytes;
    s.stats.new_chunks = after.new_chunks - before.new_chunks;
    s.stats.new_trees = after.new_trees - before.new_trees;
    s.stats.added_raw_bytes = after.raw_bytes - before.raw_bytes;
    s.stats.counts_unknown = true;
    pending.push_back({c, std::move(parents), std::move(s)});
  }
  CAIRN_RETURN_IF_ERROR(writer.Flush());
  auto ws = writer.stats();
  res.new_chunks = ws.new_chunks;
  res.new_trees = ws.new_trees;
  res.stored_bytes = ws.stored_bytes;

  // The snapshots, parents first (the walk's order).
  for (auto& p : pending) {
    for (const auto& parent : p.parents) {
      if (auto it = have.find(parent); it != have.end()) p.snapshot.parents.push_back(it->second.first);
    }
    CAIRN_ASSIGN_OR_RETURN(ObjectId id, r->SaveSnapshot(p.snapshot));
    have[p.commit] = {id, p.snapshot.tree};
    res.commits.push_back({Hex(p.commit), id, true});
  }

  // The refs last.
  for (const auto& ref : refs) {
    GitImportResult::RefOutcome out;
    const std::string name = o.branch_prefix + ref.name;
    out.ref = ref.kind + "/" + name;
    out.snapshot = have.at(ref.commit).first;
    Status valid = CheckRefName(name, ref.kind == "tags" ? "tag" : "branch");
    if (!valid.ok()) {
      out.result = "skipped";
      out.detail = valid.message();
      o.on_warning("git ref '" + ref.name + "' is not imported: " + valid.message());
      res.refs.push_back(out);
      continue;
    }
    CAIRN_ASSIGN_OR_RETURN(auto cur, r->ReadRefValue(out.ref));
    if (cur && cur->id == out.snapshot) {
      out.result = "unchanged";
    } else if (ref.kind == "tags") {
      if (cur) {
        out.result = "conflict";
        out.detail = cur->id.ToHex();
        res.conflict = true;
      } else {
        TagAnnotation a;
        a.message = ref.message;
        a.user = ref.annotated ? ref.tagger : CurrentUserName();
        a.time_ns = ref.time_ns;
        CAIRN_RETURN_IF_ERROR(r->UpdateRef(out.ref, std::nullopt, out.snapshot, EncodeTagAnnotation(a)));
        out.result = "created";
      }
    } else {
      bool forward = !cur;
      if (cur) {
        CAIRN_ASSIGN_OR_RETURN(forward, IsAncestor(*r, cur->id, {out.snapshot}));
      }
      if (forward) {
        CAIRN_RETURN_IF_ERROR(r->UpdateRef(out.ref, cur ? std::optional<ObjectId>(cur->id) : std::nullopt,
                                           out.snapshot, cur ? cur->annotation : ""));
        out.result = !cur ? "created" : "updated";
      } else {
        out.result = "conflict";
        out.detail = cur->id.ToHex();
        res.conflict = true;
      }
    }
    res.refs.push_back(out);
  }
  return res;
}

Result<std::vector<GitMapping>> GitMappings(const Repository& r) {
  std::vector<GitMapping> out;
  CAIRN_ASSIGN_OR_RETURN(auto maps, ReadGitMaps(r));
  for (const auto& m : maps) {
    for (const auto& [s, c] : m.commits) out.push_back({s, c, m.git_dir, "exported"});
  }
  CAIRN_ASSIGN_OR_RETURN(auto all, r.ListSnapshots());
  for (const auto& [id, s] : all) {
    if (s.git) out.push_back({id, s.git->commit, s.paths.empty() ? "" : s.paths[0], "imported"});
  }
  return out;
}

}  // namespace cairn::repo
