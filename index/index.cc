// SPDX-License-Identifier: MIT

#include "index/index.h"

#include <lmdb.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <unistd.h>

#include "objstore/core/bytes.h"

namespace cairn::index {
namespace {

// Bumped whenever the layout of the LMDB values changes; an older cache is
// dropped and rebuilt.
constexpr std::string_view kCacheVersion = "cairn-index-5";
constexpr size_t kLocationSize = 50;

Status FromLmdb(int rc, std::string_view what) {
  std::string msg = "index: " + std::string(what) + ": " + mdb_strerror(rc);
  if (rc == MDB_CORRUPTED || rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH || rc == MDB_PAGE_NOTFOUND) {
    // The cache, not the repository: say which, and how to mend it.
    return Status::Corruption("the local index is damaged (" + std::string(what) + ": " + mdb_strerror(rc) +
                              "); the repository is not: run 'cairn repair index' to rebuild it");
  }
  return Status::IOError(msg);
}

// LMDB maps the whole file and trusts its meta pages: a file cut short
// (a full disk, a copy that stopped) would raise SIGBUS on the first read
// past its end. So before LMDB sees it, the newer valid meta page is read
// by hand (lmdb's MDB_meta after the 16-byte page header: magic, version,
// address, map size, two MDB_db records of 48 bytes, the last page number,
// the transaction id; the page size is the free table's md_pad) and the
// file must reach that page. Corruption otherwise; a missing or empty
// file is left to LMDB (it creates one).
Status CheckLmdbFile(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || st.st_size == 0) return Status::OK();
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return Status::OK();  // LMDB says why
  constexpr uint32_t kMagic = 0xBEEFC0DE;
  constexpr size_t kHeader = 16, kLastPg = kHeader + 120, kTxnid = kHeader + 128, kPsize = kHeader + 24;
  auto read_meta = [&](uint64_t offset, uint64_t* last_pg, uint64_t* txnid, uint32_t* psize) {
    unsigned char b[kTxnid + 8];
    if (std::fseek(f, static_cast<long>(offset), SEEK_SET) != 0 || std::fread(b, 1, sizeof(b), f) != sizeof(b)) {
      return false;
    }
    uint32_t magic;
    std::memcpy(&magic, b + kHeader, 4);
    if (magic != kMagic) return false;
    std::memcpy(last_pg, b + kLastPg, 8);
    std::memcpy(txnid, b + kTxnid, 8);
    std::memcpy(psize, b + kPsize, 4);
    return true;
  };
  uint64_t last0 = 0, txn0 = 0, last1 = 0, txn1 = 0;
  uint32_t psize = 0, psize1 = 0;
  const bool ok0 = read_meta(0, &last0, &txn0, &psize);
  const bool psize_ok = ok0 && psize >= 512 && psize <= (1u << 16) && (psize & (psize - 1)) == 0;
  const bool ok1 = psize_ok && read_meta(psize, &last1, &txn1, &psize1);
  std::fclose(f);
  if (!ok0 || !psize_ok) {
    return Status::Corruption("index: '" + path + "' is not an LMDB file (no valid meta page)");
  }
  const uint64_t last = ok1 && txn1 > txn0 ? last1 : last0;
  const uint64_t need = (last + 1) * psize;
  if (last > (uint64_t{1} << 40) || static_cast<uint64_t>(st.st_size) < need) {
    return Status::Corruption("index: '" + path + "' is cut short (" + std::to_string(st.st_size) +
                              " bytes; its meta page needs " + std::to_string(need) + ")");
  }
  return Status::OK();
}

MDB_val Val(std::string_view s) {
  return MDB_val{s.size(), const_cast<char*>(s.data())};
}
std::string_view View(const MDB_val& v) { return {static_cast<const char*>(v.mv_data), v.mv_size}; }

std::string EncodeLocation(const ObjectId& pack_id, const objstore::PackEntry& e) {
  std::string out = std::string(pack_id.view());
  PutU8(&out, static_cast<uint8_t>(e.type));
  PutU8(&out, e.flags);
  PutU32(&out, e.stored_length);
  PutU32(&out, e.raw_length);
  PutU64(&out, e.offset);
  return out;
}

bool DecodeLocation(const ObjectId& id, std::string_view v, BlobLocation* loc) {
  if (v.size() != kLocationSize) return false;
  loc->pack_id = ObjectId(reinterpret_cast<const uint8_t*>(v.data()));
  loc->entry.id = id;
  loc->entry.type = static_cast<objstore::BlobType>(v[32]);
  loc->entry.flags = static_cast<uint8_t>(v[33]);
  loc->entry.stored_length = DecodeU32(v.data() + 34);
  loc->entry.raw_length = DecodeU32(v.data() + 38);
  loc->entry.offset = DecodeU64(v.data() + 42);
  return true;
}

// Aborts the transaction on destruction unless committed.
class Txn {
 public:
  Txn() = default;
  ~Txn() {
    if (txn_ != nullptr) mdb_txn_abort(txn_);
  }
  Status Begin(MDB_env* env, unsigned flags) {
    int rc = mdb_txn_begin(env, nullptr, flags, &txn_);
    if (rc != 0) {
      txn_ = nullptr;
      return FromLmdb(rc, "cannot begin transaction");
    }
    return Status::OK();
  }
  Status Commit() {
    int rc = mdb_txn_commit(txn_);
    txn_ = nullptr;
    return rc == 0 ? Status::OK() : FromLmdb(rc, "cannot commit");
  }
  MDB_txn* get() const { return txn_; }

 private:
  MDB_txn* txn_ = nullptr;
};

}  // namespace

FolderKey FileCacheFolderKey(std::string_view folder_path) {
  ObjectId h = Sha256(folder_path);
  FolderKey k;
  std::memcpy(k.data(), h.view().data(), k.size());
  return k;
}

std::string FileCacheKey(const FolderKey& folder, std::string_view name) {
  std::string k(reinterpret_cast<const char*>(folder.data()), folder.size());
  k.append(name);
  return k;
}

namespace {

std::string EncodeFileEntry(const FileCacheEntry& f) {
  std::string out;
  PutU64(&out, f.dev);
  PutU64(&out, f.ino);
  PutU64(&out, f.size);
  PutU64(&out, static_cast<uint64_t>(f.mtime_ns));
  PutU64(&out, static_cast<uint64_t>(f.ctime_ns));
  for (const auto& c : f.chunks) out.append(c.view());
  return out;
}

bool DecodeFileEntry(std::string_view v, FileCacheEntry* f) {
  if (v.size() < 40 || (v.size() - 40) % ObjectId::kSize != 0) return false;
  f->dev = DecodeU64(v.data());
  f->ino = DecodeU64(v.data() + 8);
  f->size = DecodeU64(v.data() + 16);
  f->mtime_ns = static_cast<int64_t>(DecodeU64(v.data() + 24));
  f->ctime_ns = static_cast<int64_t>(DecodeU64(v.data() + 32));
  f->chunks.clear();
  for (size_t p = 40; p < v.size(); p += ObjectId::kSize) {
    f->chunks.emplace_back(reinterpret_cast<const uint8_t*>(v.data() + p));
  }
  return true;
}

// Reference tables (docs/format.md#local-index). refs: blob id -> u64
// count, u8 blob type. children: tree id -> u32 number of subtrees, the
// subtree ids, then the chunk ids. roots: snapshot id -> root tree id.
constexpr size_t kNodeSize = 9;

std::string EncodeNode(const RefNode& n) {
  std::string out;
  PutU64(&out, n.count);
  PutU8(&out, static_cast<uint8_t>(n.type));
  return out;
}

bool DecodeNode(std::string_view v, RefNode* n) {
  if (v.size() != kNodeSize) return false;
  n->count = DecodeU64(v.data());
  n->type = static_cast<objstore::BlobType>(v[8]);
  return n->count > 0 && (n->type == objstore::BlobType::kData || n->type == objstore::BlobType::kTree);
}

std::string EncodeChildren(const TreeChildren& c) {
  std::string out;
  out.reserve(4 + ObjectId::kSize * (c.trees.size() + c.chunks.size()));
  PutU32(&out, static_cast<uint32_t>(c.trees.size()));
  for (const auto& id : c.trees) out.append(id.view());
  for (const auto& id : c.chunks) out.append(id.view());
  return out;
}

bool DecodeChildren(std::string_view v, TreeChildren* c) {
  if (v.size() < 4 || (v.size() - 4) % ObjectId::kSize != 0) return false;
  size_t n = (v.size() - 4) / ObjectId::kSize;
  size_t trees = DecodeU32(v.data());
  if (trees > n) return false;
  c->trees.clear();
  c->chunks.clear();
  c->trees.reserve(trees);
  c->chunks.reserve(n - trees);
  for (size_t i = 0; i < n; i++) {
    ObjectId id(reinterpret_cast<const uint8_t*>(v.data() + 4 + i * ObjectId::kSize));
    (i < trees ? c->trees : c->chunks).push_back(id);
  }
  return true;
}

}  // namespace

namespace {

// A page whose pointers LMDB follows outside the file (damage inside its
// B-tree, which LMDB does not checksum) raises SIGBUS or SIGSEGV in the
// middle of a read. The local index is derived data, so such a fault inside
// a mapped index ends the command with a one-line error naming the file,
// removes the file (the next command builds a new one from the index files)
// and exits with the code the CLI chose (Index::ExitOnMapFault). Faults
// anywhere else go to the handler that was there before, or kill as usual.
struct MapRange {
  std::atomic<uintptr_t> begin{0}, end{0};
  char path[4096];
};
MapRange g_maps[8];
std::mutex g_maps_mu;  // registering and unregistering, never in the handler
std::atomic<int> g_fault_exit{-1};
struct sigaction g_old_bus, g_old_segv;

void WriteAll(const char* s) {
  size_t n = std::strlen(s);
  while (n > 0) {
    ssize_t w = ::write(2, s, n);
    if (w <= 0) return;
    s += w;
    n -= static_cast<size_t>(w);
  }
}

void OnMapFault(int sig, siginfo_t* si, void* ctx) {
  uintptr_t a = reinterpret_cast<uintptr_t>(si->si_addr);
  for (auto& m : g_maps) {
    uintptr_t b = m.begin.load(std::memory_order_acquire);
    if (b != 0 && a >= b && a < m.end.load(std::memory_order_relaxed)) {
      WriteAll("cairn: the local index is damaged ('");
      WriteAll(m.path);
      WriteAll("' has a page that points outside the file); the repository is not: the file was removed, run the "
               "command again to rebuild it\n");
      ::unlink(m.path);
      char lock[sizeof(m.path) + 8];
      std::strcpy(lock, m.path);
      std::strcat(lock, "-lock");
      ::unlink(lock);
      ::_exit(g_fault_exit.load());
    }
  }
  const struct sigaction& old = sig == SIGBUS ? g_old_bus : g_old_segv;
  if ((old.sa_flags & SA_SIGINFO) != 0 && old.sa_sigaction != nullptr) {
    old.sa_sigaction(sig, si, ctx);
    return;
  }
  if (old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN && old.sa_handler != nullptr) {
    old.sa_handler(sig);
    return;
  }
  // Default: the faulting instruction runs again and kills; a signal sent
  // by kill() is sent again.
  ::signal(sig, SIG_DFL);
  if (si->si_code <= 0) ::raise(sig);
}

void RegisterMap(const std::string& path, void* map, size_t size) {
  if (map == nullptr || path.size() >= sizeof(g_maps[0].path)) return;
  std::lock_guard<std::mutex> l(g_maps_mu);
  for (auto& m : g_maps) {
    if (m.begin.load() != 0) continue;
    std::memcpy(m.path, path.c_str(), path.size() + 1);
    m.end.store(reinterpret_cast<uintptr_t>(map) + size);
    m.begin.store(reinterpret_cast<uintptr_t>(map), std::memory_order_release);
    return;
  }
}

void UnregisterMap(void* map) {
  if (map == nullptr) return;
  std::lock_guard<std::mutex> l(g_maps_mu);
  for (auto& m : g_maps) {
    if (m.begin.load() == reinterpret_cast<uintptr_t>(map)) m.begin.store(0);
  }
}

void* FindMapping(int fd, size_t size);

}  // namespace

void Index::ExitOnMapFault(int exit_code) {
  if (g_fault_exit.exchange(exit_code) >= 0) return;
  struct sigaction sa;
  std::memset(&sa, 0, sizeof(sa));
  sa.sa_sigaction = OnMapFault;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGBUS, &sa, &g_old_bus);
  ::sigaction(SIGSEGV, &sa, &g_old_segv);
}

struct Index::Impl {
  std::string path;
  MDB_env* env = nullptr;
  MDB_dbi blobs = 0, files = 0, snaps = 0, meta = 0, filecache = 0;
  MDB_dbi refs = 0, children = 0, roots = 0;
  MDB_dbi dups = 0, packs = 0, suspects = 0;
  void* map = nullptr;  // where LMDB mapped the file (ReleaseMappedPages, the fault handler)
  std::atomic<uint64_t> lookups{0};
  ~Impl() {
    UnregisterMap(map);
    if (env != nullptr) mdb_env_close(env);
  }
};

Index::Index(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Index::~Index() = default;

Result<std::unique_ptr<Index>> Index::Open(const std::string& path) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  int rc = mdb_env_create(&impl->env);
  if (rc != 0) return FromLmdb(rc, "cannot create environment");
  mdb_env_set_maxdbs(impl->env, 16);
  // Address space only; the file grows as it is used.
  mdb_env_set_mapsize(impl->env, size_t{256} << 30);
  CAIRN_RETURN_IF_ERROR(CheckLmdbFile(path));
  rc = mdb_env_open(impl->env, path.c_str(), MDB_NOSUBDIR | MDB_NOTLS, 0644);
  if (rc != 0) return FromLmdb(rc, "cannot open '" + path + "'");
  {
    mdb_filehandle_t fd;
    MDB_envinfo env;
    if (mdb_env_get_fd(impl->env, &fd) == 0 && mdb_env_info(impl->env, &env) == 0) {
      impl->map = FindMapping(fd, env.me_mapsize);
      RegisterMap(path, impl->map, env.me_mapsize);
    }
  }
  {
    // LMDB marks this process as a reader, on its first read transaction,
    // by locking the byte at its process id in the lock file: a process
    // with the same id in another PID namespace (a container, where cairn
    // may be pid 1) may hold it already. Found here, not in a later read.
    Txn probe;
    if (Status st = probe.Begin(impl->env, MDB_RDONLY); !st.ok()) {
      if (st.message().find(mdb_strerror(EAGAIN)) != std::string::npos) {
        return Status::Busy("index: '" + path + "' is in use by a process with the same process id in another PID namespace");
      }
      return st;
    }
  }
  Txn txn;
  CAIRN_RETURN_IF_ERROR(txn.Begin(impl->env, 0));
  for (auto [name, dbi] : {std::pair{"blobs", &impl->blobs}, std::pair{"indexfiles", &impl->files},
                           std::pair{"snapshots", &impl->snaps}, std::pair{"meta", &impl->meta},
                           std::pair{"filecache", &impl->filecache}, std::pair{"refs", &impl->refs},
                           std::pair{"children", &impl->children}, std::pair{"roots", &impl->roots},
                           std::pair{"dups", &impl->dups}, std::pair{"packs", &impl->packs},
                           std::pair{"suspects", &impl->suspects}}) {
    rc = mdb_dbi_open(txn.get(), name, MDB_CREATE, dbi);
    if (rc != 0) return FromLmdb(rc, std::string("cannot open table ") + name);
  }
  MDB_val k = Val("version"), v;
  rc = mdb_get(txn.get(), impl->meta, &k, &v);
  if (rc != 0 && rc != MDB_NOTFOUND) return FromLmdb(rc, "cannot read version");
  if (rc == MDB_NOTFOUND || View(v) != kCacheVersion) {
    // New, or written by another cache version: start empty.
    for (MDB_dbi dbi : {impl->blobs, impl->files, impl->snaps, impl->filecache, impl->refs, impl->children,
                        impl->roots, impl->dups, impl->packs, impl->suspects}) {
      mdb_drop(txn.get(), dbi, 0);
    }
    MDB_val nv = Val(kCacheVersion);
    rc = mdb_put(txn.get(), impl->meta, &k, &nv, 0);
    if (rc != 0) return FromLmdb(rc, "cannot write version");
  }
  CAIRN_RETURN_IF_ERROR(txn.Commit());
  return std::unique_ptr<Index>(new Index(std::move(impl)));
}

Result<std::optional<BlobLocation>> Index::Lookup(const ObjectId& id) const {
  Looked();
  Txn txn;
  CAIRN_RETURN_IF_ERROR(txn.Begin(impl_->env, MDB_RDONLY));
  MDB_val k = Val(id.view()), v;
  int rc = mdb_get(txn.get(), impl_->blobs, &k, &v);
  if (rc == MDB_NOTFOUND) return std::optional<BlobLocation>();
  if (rc != 0) return FromLmdb(rc, "cannot look up blob");
  BlobLocation loc;
  if (!DecodeLocation(id, View(v), &loc)) {
    return Status::Corruption(
        "the local index is damaged (a location record that does not decode); the repository is not: run 'cairn "
        "repair index' to rebuild it");
  }
  return std::optional<BlobLocation>(loc);
}

namespace {

// The tables that say where blobs are (docs/format.md#local-index), inside
// one write transaction.
struct BlobTables {
  MDB_txn* txn;
  MDB_dbi blobs, files, dups, packs, suspects, refs;
  const Index* index;  // counts each record as a lookup (Index::Looked)

  Status Put(MDB_dbi dbi, std::string_view key, std::string_view value, std::string_view what) const {
    MDB_val k = Val(key), v = Val(value);
    int rc = mdb_put(txn, dbi, &k, &v, 0);
    return rc == 0 ? Status::OK() : FromLmdb(rc, "cannot " + std::string(what));
  }
  Status Del(MDB_dbi dbi, std::string_view key, std::string_view what) const {
    MDB_val k = Val(key);
    int rc = mdb_del(txn, dbi, &k, nullptr);
    return rc == 0 || rc == MDB_NOTFOUND ? Status::OK() : FromLmdb(rc, "cannot " + std::string(what));
  }
  Result<bool> Has(MDB_dbi dbi, std::string_view key) const {
    MDB_val k = Val(key), v;
    int rc = mdb_get(txn, dbi, &k, &v);
    if (rc == MDB_NOTFOUND) return false;
    if (rc != 0) return FromLmdb(rc, "cannot read the index");
    return true;
  }
};

// Key of a copy in `dups`: blob id, pack id, offset.
std::string DupKey(const ObjectId& id, const ObjectId& pack_id, uint64_t offset) {
  std::string k = std::string(id.view()) + std::string(pack_id.view());
  PutU64(&k, offset);
  return k;
}

// Appends blob ids to the suspect log `suspects` inside one write
// transaction: key = sequence number u64 big-endian, value = blob id. The
// keys only grow, so an append fills pages in order (MDB_APPEND: no page
// splits), which keeps the cost a backup pays for it small.
class SuspectLog {
 public:
  SuspectLog(MDB_txn* txn, MDB_dbi dbi) : txn_(txn), dbi_(dbi) {}

  Status Add(std::string_view blob_id) {
    if (!started_) CAIRN_RETURN_IF_ERROR(Start());
    char key[8];
    for (int i = 0; i < 8; i++) key[i] = static_cast<char>(next_ >> (56 - 8 * i));
    MDB_val k = Val(std::string_view(key, sizeof key)), v = Val(blob_id);
    int rc = mdb_put(txn_, dbi_, &k, &v, MDB_APPEND);
    if (rc != 0) return FromLmdb(rc, "cannot add a suspect");
    next_++;
    return Status::OK();
  }

 private:
  Status Start() {
    MDB_cursor* cur;
    int rc = mdb_cursor_open(txn_, dbi_, &cur);
    if (rc != 0) return FromLmdb(rc, "cannot open cursor");
    MDB_val k, v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    mdb_cursor_close(cur);
    if (rc == 0 && k.mv_size == 8) {
      const auto* b = static_cast<const uint8_t*>(k.mv_data);
      for (int i = 0; i < 8; i++) next_ = next_ << 8 | b[i];
      next_++;
    } else if (rc != 0 && rc != MDB_NOTFOUND) {
      return FromLmdb(rc, "cannot read the suspect log");
    }
    started_ = true;
    return Status::OK();
  }

  MDB_txn* txn_;
  MDB_dbi dbi_;
  bool started_ = false;
  uint64_t next_ = 0;
};

// Calls fn(key, value) for every entry of `dbi` whose key starts with
// `prefix`, in key order; fn returns false to stop.
Status ScanPrefix(MDB_txn* txn, MDB_dbi dbi, std::string_view prefix,
                  const std::function<bool(std::string_view, std::string_view)>& fn) {
  MDB_cursor* cur;
  int rc = mdb_cursor_open(txn, dbi, &cur);
  if (rc != 0) return FromLmdb(rc, "cannot open cursor");
  MDB_val k = Val(prefix), v;
  for (rc = mdb_cursor_get(cur, &k, &v, prefix.empty() ? MDB_FIRST : MDB_SET_RANGE); rc == 0;
       rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    std::string_view key = View(k);
    if (key.substr(0, prefix.size()) != prefix) break;
    if (!fn(key, View(v))) break;
  }
  mdb_cursor_close(cur);
  if (rc != 0 && rc != MDB_NOTFOUND) return FromLmdb(rc, "cannot scan the index");
  return Status::OK();
}

// Records every blob of `packs` and marks `index_file` loaded (with the
// packs it names), inside `t`. A blob stored twice keeps its first location
// in `blobs`; every other copy goes to `dups`. A blob new to the table is a
// suspect (it has no count yet, unless `check_refs` finds one).
Status PutPacks(const BlobTables& t, const std::string& index_file, const std::vector<objstore::PackRecord>& packs,
                bool check_refs) {
  std::string named;
  SuspectLog suspects(t.txn, t.suspects);
  for (const auto& p : packs) {
    for (const auto& e : p.entries) {
      // Mapped pages are released inside the transaction too: its reads go
      // through the mapping, its changes are in memory until the commit.
      t.index->Looked();
      std::string loc = EncodeLocation(p.pack_id, e);
      MDB_val k = Val(e.id.view()), v = Val(loc);
      int rc = mdb_put(t.txn, t.blobs, &k, &v, MDB_NOOVERWRITE);
      if (rc == MDB_KEYEXIST) {
        BlobLocation old;
        if (DecodeLocation(e.id, View(v), &old) && old.pack_id == p.pack_id && old.entry.offset == e.offset) continue;
        CAIRN_RETURN_IF_ERROR(t.Put(t.dups, DupKey(e.id, p.pack_id, e.offset), loc, "add a copy of a blob"));
        continue;
      }
      if (rc != 0) return FromLmdb(rc, "cannot add blob");
      if (check_refs) {
        CAIRN_ASSIGN_OR_RETURN(bool counted, t.Has(t.refs, e.id.view()));
        if (counted) continue;
      }
      CAIRN_RETURN_IF_ERROR(suspects.Add(e.id.view()));
    }
    if (index_file.empty()) continue;
    named.append(p.pack_id.view());
    CAIRN_RETURN_IF_ERROR(t.Put(t.packs, std::string(p.pack_id.view()) + index_file, "", "record a pack"));
  }
  if (index_file.empty()) return Status::OK();
  return t.Put(t.files, index_file, named, "mark index file");
}

}  // namespace

Status Index::AddPacks(const std::string& index_file, const std::vector<objstore::PackRecord>& packs) {
  Txn txn;
  CAIRN_RETURN_IF_ERROR(txn.Begin(impl_->env, 0));
  BlobTables t{txn.get(), impl_->blobs, impl_->files, impl_->dups, impl_->packs, impl_->suspects, impl_->refs, this};
  CAIRN_RETURN_IF_ERROR(PutPacks(t, index_file, packs, false));
  CAIRN_RETURN_IF_ERROR(txn.Commit());
  ReleaseMappedPages();  // the insertions touched pages all over the blob table
  return Status::OK();
}

Result<std::set<std::string>> Index::LoadedIndexFiles() const {
  Txn txn;
  CAIRN_RETURN_IF_ERROR(txn.Begin(impl_->env, MDB_RDONLY));
  MDB_cursor* cur;
  int rc = mdb_cursor_open(txn.get(), impl_->files, &cur);
  if (rc != 0) return FromLmdb(rc, "cannot open cursor");
  std::set<std::string> out;
  MDB_val k, v;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    out.emplace(View(k));
  }
  mdb_cursor_close(cur);
  if (rc != MDB_NOTFOUND) return FromLmdb(rc, "cannot list index files");
  return out;
}

Status Index::ForEachBlob(const std::function<void(const ObjectId&, const BlobLocation&)>& fn) const {
  Txn txn;
  CAIRN_RETURN_IF_ERROR(txn.Begin(impl_->env, MDB_RDONLY));
  MDB_cursor* cur;
  int rc = mdb_cursor_open(txn.get(), impl_->blobs, &cur);
  if (rc != 0) return FromLmdb(rc, "cannot open cursor");
  MDB_val k, v;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    if (k.mv_size != ObjectId::kSize) continue;
    ObjectId id(static_cast<const uint8_t*>(k.mv_data));
    BlobLocation loc;
    if (DecodeLocation(id, View(v), &loc)) fn(id, loc);
  }
  mdb_cursor_close(cur);
  if (rc != MDB_NOTFOUND) return FromLmdb(rc, "cannot list blobs");
  return Status::OK();
}

Status Index::PutSnapshot(const ObjectId& id, std::string_view file) {
  Txn txn;
  CAIRN_RETURN_IF_ERROR(txn.Begin(impl_->env, 0));
  MDB_val k = Val(id.view()), v = Val(file);
  int rc = mdb_put(txn.get(), impl_->snaps, &k, &v, 0);
  if (rc != 0) return FromLmdb(rc, "cannot add snapshot");
  return txn.Commit();
}

Status Index::RemoveSnapshot(const ObjectId& id) {
  Txn txn;
  CAIRN_RETURN_IF_ERROR(txn.Begin(impl_->env, 0));
  MDB_val k = Val(id.view());
  int rc = mdb_del(txn.get(), impl_->snaps, &k, nullptr);
  if (rc != 0 && rc != MDB_NOTFOUND) return FromLmdb(rc, "cannot remove snapshot");
  return txn.Commit();
}

Result<std::vector<std::pair<ObjectId, std::string>>> Index::Snapshots() const {
  Txn txn;
  CAIRN_RETURN_IF_ERROR(txn.Begin(impl_->env, MDB_RDONLY));
  MDB_cursor* cur;
  int rc = mdb_cursor_open(txn.get(), impl_->snaps, &cur);
  if (rc != 0) return FromLmdb(rc, "cannot open cursor");
  std::vector<std::pair<ObjectId, std::string>> out;
  MDB_val k, v;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    if (k.mv_size != ObjectId::kSize) continue;
    out.emplace_back(ObjectId(static_cast<const uint8_t*>(k.mv_data)), std::string(View(v)));
  }
  mdb_cursor_close(cur);
  if (rc != MDB_NOTFOUND) return FromLmdb(rc, "cannot list snapshots");
  return out;
}

Result<std::optional<std::string>> Index::SnapshotFile(const ObjectId& id) const {
  Txn txn;
  CAIRN_RETURN_IF_ERROR(txn.Begin(impl_->env, MDB_RDONLY));
  MDB_val k = Val(id.view()), v;
  int rc = mdb_get(txn.get(), impl_->snaps, &k, &v);
  if (rc == MDB_NOTFOUND) return std::optional<std::string>();
  if (rc != 0) return FromLmdb(rc, "cannot look up snapshot");
  return std::optional<std::string>(std::string(View(v)));
}

Result<std::vector<ObjectId>> Index::SnapshotsWithPrefix(std::string_view hex_prefix) const {
  CAIRN_ASSIGN_OR_RETURN(auto all, Snapshots());
  std::vector<ObjectId> out;
  for (const auto& [id, file] : all) {
    if (id.ToHex().compare(0, hex_prefix.size(), hex_prefix) == 0) out.push_back(id);
  }
  return out;
}

namespace {

class LmdbReadSession : public ReadSession {
 public:
  LmdbReadSession(const Index* index, MDB_txn* txn, MDB_dbi blobs, MDB_dbi files)
      : index_(index), txn_(txn), blobs_(blobs), files_(files) {}
  ~LmdbReadSession() override { mdb_txn_abort(txn_); }

  Result<bool> HasBlob(const ObjectId& id) override {
    index_->Looked();
    MDB_val k = Val(id.view()), v;
    int rc = mdb_get(txn_, blobs_, &k, &v);
    if (rc == MDB_NOTFOUND) return false;
    if (rc != 0) return FromLmdb(rc, "cannot look up blob");
    return true;
  }

  Result<std::optional<FileCacheEntry>> GetFile(std::string_view key) override {
    if (key.empty() || key.size() > 511) return std::optional<FileCacheEntry>();  // LMDB's key limit
    index_->Looked();
    MDB_val k = Val(key), v;
    int rc = mdb_get(txn_, files_, &k, &v);
    if (rc == MDB_NOTFOUND) return std::optional<FileCacheEntry>();
    if (rc != 0) return FromLmdb(rc, "cannot read the file-change cache");
    FileCacheEntry f;
    if (!DecodeFileEntry(View(v), &f)) return std::optional<FileCacheEntry>();  // damaged: re-read the file
    return std::optional<FileCacheEntry>(std::move(f));
  }

 private:
  const Index* index_;
  MDB_txn* txn_;
  MDB_dbi blobs_, files_;
};

}  // namespace

Result<std::unique_ptr<ReadSession>> Index::BeginRead() const {
  MDB_txn* txn;
  int rc = mdb_txn_begin(impl_->env, nullptr, MDB_RDONLY, &txn);
  if (rc != 0) return FromLmdb(rc, "cannot begin transaction");
  return std::unique_ptr<ReadSession>(new LmdbReadSession(this, txn, impl_->blobs, impl_->filecache));
}

namespace {

// Where LMDB mapped the file open as `fd` (mdb_env_info reports only a
// fixed address): in /proc/self/maps, the shared mapping at offset 0 of
// the file's device and inode, at least `size` bytes long (the map size).
// Anything less certain is no match: MADV_DONTNEED on another mapping, a
// private one with changed pages, would lose data.
void* FindMapping(int fd, size_t size) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return nullptr;
  FILE* maps = std::fopen("/proc/self/maps", "re");
  if (maps == nullptr) return nullptr;
  void* found = nullptr;
  char line[4096];
  while (found == nullptr && std::fgets(line, sizeof(line), maps) != nullptr) {
    unsigned long start = 0, end = 0, offset = 0, inode = 0;
    unsigned int dev_major = 0, dev_minor = 0;
    char perms[8];
    if (std::sscanf(line, "%lx-%lx %7s %lx %x:%x %lu", &start, &end, perms, &offset, &dev_major, &dev_minor,
                    &inode) == 7 &&
        offset == 0 && perms[3] == 's' && inode == static_cast<unsigned long>(st.st_ino) &&
        dev_major == major(st.st_dev) && dev_minor == minor(st.st_dev) && end - start >= size) {
      found = reinterpret_cast<void*>(start);
    }
  }
  std::fclose(maps);
  return found;
}

}  // namespace

void Index::Looked() const {
  // A lookup maps about one leaf page and the pages around it: every 1,024
  // lookups hold some tens of MB mapped (measured: docs/architecture.md).
  if (impl_->lookups.fetch_add(1, std::memory_order_relaxed) % 1024 == 1023) ReleaseMappedPages();
}

void Index::ReleaseMappedPages() const {
  MDB_envinfo info;
  MDB_stat st;
  if (impl_->map == nullptr || mdb_env_info(impl_->env, &info) != 0 || mdb_env_stat(impl_->env, &st) != 0) return;
  size_t used = (static_cast<size_t>(info.me_last_pgno) + 1) * st.ms_psize;
  (void)::madvise(impl_->map, used, MADV_DONTNEED);
}

Status Index::PutFiles(const std::vector<std::pair<std::string, FileCacheEntry>>& files) {
  if (files.empty()) return Status::OK();
  Txn txn;
  CAIRN_RETURN_IF_ERROR(txn.Begin(impl_->env, 0));
  for (const auto& [key, f] : files) {
    if (key.empty() || key.size() > 511) continue;
    Looked();
    std::string v = EncodeFileEntry(f);
    MDB_val k = Val(key), val = Val(v);
    int rc = mdb_put(txn.get(), impl_->filecache, &k, &val, 0);
    if (rc != 0) return FromLmdb(rc, "cannot update the file-change cache");
  }
  return txn.Commit();
}

Result<std::vector<ObjectId>> Index::BlobsWithPrefix(std::string_view hex_prefix, size_t limit) const {
  // Seek to the smallest id with this prefix (an odd last digit is the high
  // half of a byte whose low half is 0), then scan while the hex form still
  // matches.
  if (limit == 0) return std::vector<ObjectId>();
  std::string start;
  auto nib = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  for (size_t i = 0; i < hex_prefix.size(); i += 2) {
    int lo = i + 1 < hex_prefix.size() ? nib(hex_prefix[i + 1]) : 0;
    start.push_back(static_cast<char>(nib(hex_prefix[i]) << 4 | lo));
  }
  Txn txn;
  CAIRN_RETURN_IF_ERROR(txn.Begin(impl_->env, MDB_RDONLY));
  MDB_cursor* cur;
  int rc = mdb_cursor_open(txn.get(), impl_->blobs, &cur);
  if (rc != 0) return FromLmdb(rc, "cannot open cursor");
  std::vector<ObjectId> out;
  MDB_val k = Val(start), v;
  for (rc = mdb_cursor_get(cur, &k, &v, start.empty() ? MDB_FIRST : MDB_SET_RANGE); rc == 0;
       rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    if (k.mv_size != ObjectId::kSize) continue;
    ObjectId id(static_cast<const uint8_t*>(k.mv_data));
    if (id.ToHex().compare(0, hex_prefix.size(), hex_prefix) != 0) break;
    out.push_back(id);
    if (out.size() >= limit) break;
  }
  mdb_cursor_close(cur);
  if (rc != 0 && rc != MDB_NOTFOUND) return FromLmdb(rc, "cannot scan blobs");
  return out;
}

Status Index::ReplaceBlobs(const std::vector<std::pair<std::string, std::vector<objstore::PackRecord>>>& files) {
  Txn txn;
  CAIRN_RETURN_IF_ERROR(txn.Begin(impl_->env, 0));
  for (MDB_dbi dbi : {impl_->blobs, impl_->files, impl_->dups, impl_->packs, impl_->suspects}) {
    int rc = mdb_drop(txn.get(), dbi, 0);
    if (rc != 0) return FromLmdb(rc, "cannot clear");
  }
  BlobTables t{txn.get(), impl_->blobs, impl_->files, impl_->dups, impl_->packs, impl_->suspects, impl_->refs, this};
  for (const auto& [name, packs] : files) CAIRN_RETURN_IF_ERROR(PutPacks(t, name, packs, true));
  return txn.Commit();
}

Status Index::ClearBlobs() {
  Txn txn;
  CAIRN_RETURN_IF_ERROR(txn.Begin(impl_->env, 0));
  for (MDB_dbi dbi : {impl_->blobs, impl_->files, impl_->dups, impl_->packs, impl_->suspects}) {
    int rc = mdb_drop(txn.get(), dbi, 0);
    if (rc != 0) return FromLmdb(rc, "cannot clear");
  }
  return txn.Commit();
}

// --- Reference counts ---

namespace {

// The reference tables inside one transaction (read or write).
struct RefTables {
  MDB_txn* txn;
  MDB_dbi blobs, refs, children, roots;
  const std::string* path;  // the LMDB file, for messages

  Status OutOfStep(const ObjectId& id, const std::string& what) const {
    return Status::Corruption("index: the reference counts are out of step (" + what + " " + id.ShortHex() +
                              "); delete the local cache file '" + *path + "' and they are rebuilt");
  }

  Result<std::optional<RefNode>> GetNode(const ObjectId& id) const {
    MDB_val k = Val(id.view()), v;
    int rc = mdb_get(txn, refs, &k, &v);
    if (rc == MDB_NOTFOUND) return std::optional<RefNode>();
    if (rc != 0) return FromLmdb(rc, "cannot read a reference count");
    RefNode n;
    if (!DecodeNode(View(v), &n)) return OutOfStep(id, "damaged count of blob");
    return std::optional<RefNode>(n);
  }
  Status PutNode(const ObjectId& id, const RefNode& n) const {
    std::string enc = EncodeNode(n);
    MDB_val k = Val(id.view()), v = Val(enc);
    int rc = mdb_put(txn, refs, &k, &v, 0);
    return rc == 0 ? Status::OK() : FromLmdb(rc, "cannot write a reference count");
  }
  Status Del(MDB_dbi dbi, const ObjectId& id) const {
    MDB_val k = Val(id.view());
    int rc = mdb_del(txn, dbi, &k, nullptr);
    return rc == 0 || rc == MDB_NOTFOUND ? Status::OK() : FromLmdb(rc, "cannot remove a reference record");
  }
  Result<std::optional<TreeChildren>> GetChildren(const ObjectId& tree) const {
    MDB_val k = Val(tree.view()), v;
    int rc = mdb_get(txn, children, &k, &v);
    if (rc == MDB_NOTFOUND) return std::optional<TreeChildren>();
    if (rc != 0) return FromLmdb(rc, "cannot read the children of a tree");
    TreeChildren c;
    if (!DecodeChildren(View(v), &c)) return OutOfStep(tree, "damaged child list of tree");
    return std::optional<TreeChildren>(std::move(c));
  }
  Status PutChildren(const ObjectId& tree, const TreeChildren& c) const {
    std::string enc = EncodeChildren(c);
    MDB_val k = Val(tree.view()), v = Val(enc);
    int rc = mdb_put(txn, children, &k, &v, 0);
    return rc == 0 ? Status::OK() : FromLmdb(rc, "cannot write the children of a tree");
  }
  Result<std::optional<ObjectId>> GetRoot(const ObjectId& snapshot) const {
    MDB_val k = Val(snapshot.view()), v;
    int rc = mdb_get(txn, roots, &k, &v);
    if (rc == MDB_NOTFOUND) return std::optional<ObjectId>();
    if (rc != 0) return FromLmdb(rc, "cannot read a counted root");
    if (v.mv_size != ObjectId::kSize) return OutOfStep(snapshot, "damaged root of snapshot");
    return std::optional<ObjectId>(ObjectId(static_cast<const uint8_t*>(v.mv_data)));
  }
};

class LmdbRefReader : public RefReader {
 public:
  explicit LmdbRefReader(RefTables t) : t_(t) {}
  ~LmdbRefReader() override { mdb_txn_abort(t_.txn); }

  Result<std::optional<RefNode>> Node(const ObjectId& id) override { return t_.GetNode(id); }
  Result<std::optional<TreeChildren>> Children(const ObjectId& tree) override { return t_.GetChildren(tree); }
  Result<std::optional<ObjectId>> Root(const ObjectId& snapshot) override { return t_.GetRoot(snapshot); }

  Result<std::optional<BlobLocation>> Lookup(const ObjectId& id) override {
    MDB_val k = Val(id.view()), v;
    int rc = mdb_get(t_.txn, t_.blobs, &k, &v);
    if (rc == MDB_NOTFOUND) return std::optional<BlobLocation>();
    if (rc != 0) return FromLmdb(rc, "cannot look up blob");
    BlobLocation loc;
    if (!DecodeLocation(id, View(v), &loc)) {
      return Status::Corruption(
        "the local index is damaged (a location record that does not decode); the repository is not: run 'cairn "
        "repair index' to rebuild it");
    }
    return std::optional<BlobLocation>(loc);
  }

  Status ForEachNode(const std::function<void(const ObjectId&, const RefNode&)>& fn) override {
    MDB_cursor* cur;
    int rc = mdb_cursor_open(t_.txn, t_.refs, &cur);
    if (rc != 0) return FromLmdb(rc, "cannot open cursor");
    MDB_val k, v;
    Status st;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
      if (k.mv_size != ObjectId::kSize) continue;
      ObjectId id(static_cast<const uint8_t*>(k.mv_data));
      RefNode n;
      if (!DecodeNode(View(v), &n)) {
        st = t_.OutOfStep(id, "damaged count of blob");
        break;
      }
      fn(id, n);
    }
    mdb_cursor_close(cur);
    if (!st.ok()) return st;
    if (rc != MDB_NOTFOUND) return FromLmdb(rc, "cannot list reference counts");
    return Status::OK();
  }

 private:
  RefTables t_;
};

}  // namespace

Result<std::unique_ptr<RefReader>> Index::BeginRefRead() const {
  MDB_txn* txn;
  int rc = mdb_txn_begin(impl_->env, nullptr, MDB_RDONLY, &txn);
  if (rc != 0) return FromLmdb(rc, "cannot begin transaction");
  return std::unique_ptr<RefReader>(
      new LmdbRefReader(RefTables{txn, impl_->blobs, impl_->refs, impl_->children, impl_->roots, &impl_->path}));
}

Result<std::map<ObjectId, ObjectId>> Index::CountedRoots() const {
  Txn txn;
  CAIRN_RETURN_IF_ERROR(txn.Begin(impl_->env, MDB_RDONLY));
  MDB_cursor* cur;
  int rc = mdb_cursor_open(txn.get(), impl_->roots, &cur);
  if (rc != 0) return FromLmdb(rc, "cannot open cursor");
  std::map<ObjectId, ObjectId> out;
  MDB_val k, v;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    if (k.mv_size != ObjectId::kSize || v.mv_size != ObjectId::kSize) continue;
    out.emplace(ObjectId(static_cast<const uint8_t*>(k.mv_data)), ObjectId(static_cast<const uint8_t*>(v.mv_data)));
  }
  mdb_cursor_close(cur);
  if (rc != MDB_NOTFOUND) return FromLmdb(rc, "cannot list counted roots");
  return out;
}

Status Index::CountRoot(const ObjectId& snapshot, const ObjectId& tree,
                        const std::map<ObjectId, TreeChildren>& preloaded, const TreeLoader& load) {
  Txn txn;
  CAIRN_RETURN_IF_ERROR(txn.Begin(impl_->env, 0));
  RefTables t{txn.get(), impl_->blobs, impl_->refs, impl_->children, impl_->roots, &impl_->path};
  CAIRN_ASSIGN_OR_RETURN(std::optional<ObjectId> counted, t.GetRoot(snapshot));
  if (counted) {
    // Another process (or an earlier call) got here first.
    if (*counted == tree) return Status::OK();
    return Status::InvalidArgument("snapshot " + snapshot.ShortHex() + " is counted with root tree " +
                                   counted->ShortHex() + ", not " + tree.ShortHex());
  }
  // Depth-first over a stack of pending references, so a deep tree needs
  // no recursion. A tree new to the table is expanded once; every later
  // reference only adds to its count.
  std::vector<std::pair<ObjectId, objstore::BlobType>> pending{{tree, objstore::BlobType::kTree}};
  while (!pending.empty()) {
    auto [id, type] = pending.back();
    pending.pop_back();
    CAIRN_ASSIGN_OR_RETURN(std::optional<RefNode> node, t.GetNode(id));
    if (node) {
      node->count++;
      CAIRN_RETURN_IF_ERROR(t.PutNode(id, *node));
      continue;
    }
    CAIRN_RETURN_IF_ERROR(t.PutNode(id, RefNode{1, type}));
    if (type != objstore::BlobType::kTree) continue;
    TreeChildren loaded;
    const TreeChildren* c;
    if (auto it = preloaded.find(id); it != preloaded.end()) {
      c = &it->second;
    } else {
      CAIRN_ASSIGN_OR_RETURN(loaded, load(id));
      c = &loaded;
    }
    CAIRN_RETURN_IF_ERROR(t.PutChildren(id, *c));
    for (const auto& sub : c->trees) pending.emplace_back(sub, objstore::BlobType::kTree);
    for (const auto& chunk : c->chunks) pending.emplace_back(chunk, objstore::BlobType::kData);
  }
  MDB_val k = Val(snapshot.view()), v = Val(tree.view());
  int rc = mdb_put(txn.get(), impl_->roots, &k, &v, 0);
  if (rc != 0) return FromLmdb(rc, "cannot record a counted root");
  return txn.Commit();
}

Status Index::UncountRoot(const ObjectId& snapshot) {
  Txn txn;
  CAIRN_RETURN_IF_ERROR(txn.Begin(impl_->env, 0));
  RefTables t{txn.get(), impl_->blobs, impl_->refs, impl_->children, impl_->roots, &impl_->path};
  CAIRN_ASSIGN_OR_RETURN(std::optional<ObjectId> root, t.GetRoot(snapshot));
  if (!root) return Status::OK();
  SuspectLog suspects(txn.get(), impl_->suspects);
  CAIRN_RETURN_IF_ERROR(t.Del(impl_->roots, snapshot));
  std::vector<ObjectId> pending{*root};
  while (!pending.empty()) {
    ObjectId id = pending.back();
    pending.pop_back();
    CAIRN_ASSIGN_OR_RETURN(std::optional<RefNode> node, t.GetNode(id));
    if (!node) return t.OutOfStep(id, "no count for referenced blob");
    if (--node->count > 0) {
      CAIRN_RETURN_IF_ERROR(t.PutNode(id, *node));
      continue;
    }
    CAIRN_RETURN_IF_ERROR(t.Del(impl_->refs, id));
    CAIRN_RETURN_IF_ERROR(suspects.Add(id.view()));
    if (node->type != objstore::BlobType::kTree) continue;
    CAIRN_ASSIGN_OR_RETURN(std::optional<TreeChildren> c, t.GetChildren(id));
    if (!c) return t.OutOfStep(id, "no child list for counted tree");
    CAIRN_RETURN_IF_ERROR(t.Del(impl_->children, id));
    pending.insert(pending.end(), c->trees.begin(), c->trees.end());
    pending.insert(pending.end(), c->chunks.begin(), c->chunks.end());
  }
  return txn.Commit();
}

Status Index::ForEachUnreferencedBlob(const std::function<void(const ObjectId&, const BlobLocation&)>& fn) const {
  Txn txn;
  CAIRN_RETURN_IF_ERROR(txn.Begin(impl_->env, MDB_RDONLY));
  MDB_cursor* cur;
  int rc = mdb_cursor_open(txn.get(), impl_->blobs, &cur);
  if (rc != 0) return FromLmdb(rc, "cannot open cursor");
  MDB_val k, v;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    if (k.mv_size != ObjectId::kSize) continue;
    MDB_val rv;
    int rrc = mdb_get(txn.get(), impl_->refs, &k, &rv);
    if (rrc == 0) continue;
    if (rrc != MDB_NOTFOUND) {
      mdb_cursor_close(cur);
      return FromLmdb(rrc, "cannot read a reference count");
    }
    ObjectId id(static_cast<const uint8_t*>(k.mv_data));
    BlobLocation loc;
    if (DecodeLocation(id, View(v), &loc)) fn(id, loc);
  }
  mdb_cursor_close(cur);
  if (rc != MDB_NOTFOUND) return FromLmdb(rc, "cannot list blobs");
  return Status::OK();
}

Status Index::ClearRefs() {
  Txn txn;
  CAIRN_RETURN_IF_ERROR(txn.Begin(impl_->env, 0));
  for (MDB_dbi dbi : {impl_->refs, impl_->children, impl_->roots}) {
    int rc = mdb_drop(txn.get(), dbi, 0);
    if (rc != 0) return FromLmdb(rc, "cannot clear the reference counts");
  }
  // No blob has a count now: every one is a suspect.
  int rc = mdb_drop(txn.get(), impl_->suspects, 0);
  if (rc != 0) return FromLmdb(rc, "cannot clear the suspect log");
  SuspectLog suspects(txn.get(), impl_->suspects);
  MDB_cursor* cur;
  rc = mdb_cursor_open(txn.get(), impl_->blobs, &cur);
  if (rc != 0) return FromLmdb(rc, "cannot open cursor");
  MDB_val k, v;
  Status st;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    st = suspects.Add(View(k));
    if (!st.ok()) break;
  }
  mdb_cursor_close(cur);
  if (!st.ok()) return st;
  if (rc != MDB_NOTFOUND) return FromLmdb(rc, "cannot list blobs");
  return txn.Commit();
}

// --- What prune needs ---

Result<std::vector<BlobLocation>> Index::Unreferenced() {
  std::vector<BlobLocation> out;
  CAIRN_RETURN_IF_ERROR(CompactSuspects(&out));
  return out;
}

Status Index::CompactSuspects(std::vector<BlobLocation>* out) {
  Txn txn;
  CAIRN_RETURN_IF_ERROR(txn.Begin(impl_->env, 0));
  // Every suspect still without a count and still in the blob table; a blob
  // may be on the log more than once.
  std::map<ObjectId, BlobLocation> uncounted;
  MDB_cursor* cur;
  int rc = mdb_cursor_open(txn.get(), impl_->suspects, &cur);
  if (rc != 0) return FromLmdb(rc, "cannot open cursor");
  MDB_val k, v;
  Status st;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    if (v.mv_size != ObjectId::kSize) continue;  // not a blob id: dropped below
    MDB_val rv, bv;
    int rrc = mdb_get(txn.get(), impl_->refs, &v, &rv);
    if (rrc == 0) continue;  // counted
    int brc = rrc == MDB_NOTFOUND ? mdb_get(txn.get(), impl_->blobs, &v, &bv) : rrc;
    if (brc == MDB_NOTFOUND) continue;  // not in the blob table any more
    if (brc != 0) {
      st = FromLmdb(brc, "cannot read a suspect");
      break;
    }
    ObjectId id(static_cast<const uint8_t*>(v.mv_data));
    BlobLocation loc;
    if (DecodeLocation(id, View(bv), &loc)) uncounted.emplace(id, loc);
  }
  mdb_cursor_close(cur);
  if (!st.ok()) return st;
  if (rc != MDB_NOTFOUND) return FromLmdb(rc, "cannot list suspects");
  // The log is written again with only those, once each.
  rc = mdb_drop(txn.get(), impl_->suspects, 0);
  if (rc != 0) return FromLmdb(rc, "cannot clear the suspect log");
  SuspectLog log(txn.get(), impl_->suspects);
  if (out != nullptr) out->reserve(uncounted.size());
  for (const auto& [id, loc] : uncounted) {
    CAIRN_RETURN_IF_ERROR(log.Add(id.view()));
    if (out != nullptr) out->push_back(loc);
  }
  return txn.Commit();
}

Status Index::ForEachDuplicate(const std::function<void(const BlobLocation&)>& fn) const {
  Txn txn;
  CAIRN_RETURN_IF_ERROR(txn.Begin(impl_->env, MDB_RDONLY));
  return ScanPrefix(txn.get(), impl_->dups, "", [&](std::string_view key, std::string_view value) {
    BlobLocation loc;
    if (key.size() >= ObjectId::kSize &&
        DecodeLocation(ObjectId(reinterpret_cast<const uint8_t*>(key.data())), value, &loc)) {
      fn(loc);
    }
    return true;
  });
}

Result<std::vector<BlobLocation>> Index::Copies(const ObjectId& id) const {
  Txn txn;
  CAIRN_RETURN_IF_ERROR(txn.Begin(impl_->env, MDB_RDONLY));
  std::vector<BlobLocation> out;
  MDB_val k = Val(id.view()), v;
  int rc = mdb_get(txn.get(), impl_->blobs, &k, &v);
  if (rc == MDB_NOTFOUND) return out;
  if (rc != 0) return FromLmdb(rc, "cannot look up blob");
  BlobLocation loc;
  if (!DecodeLocation(id, View(v), &loc)) {
    return Status::Corruption(
        "the local index is damaged (a location record that does not decode); the repository is not: run 'cairn "
        "repair index' to rebuild it");
  }
  out.push_back(loc);
  CAIRN_RETURN_IF_ERROR(ScanPrefix(txn.get(), impl_->dups, id.view(), [&](std::string_view, std::string_view value) {
    if (DecodeLocation(id, value, &loc)) out.push_back(loc);
    return true;
  }));
  return out;
}

Result<std::vector<std::string>> Index::IndexFilesOf(const ObjectId& pack_id) const {
  Txn txn;
  CAIRN_RETURN_IF_ERROR(txn.Begin(impl_->env, MDB_RDONLY));
  std::vector<std::string> out;
  CAIRN_RETURN_IF_ERROR(ScanPrefix(txn.get(), impl_->packs, pack_id.view(), [&](std::string_view key, std::string_view) {
    out.emplace_back(key.substr(ObjectId::kSize));
    return true;
  }));
  return out;
}

Status Index::ReplaceIndexFiles(const std::vector<std::string>& removed,
                                const std::vector<std::pair<std::string, std::vector<objstore::PackRecord>>>& added,
                                const std::vector<objstore::PackRecord>& dropped) {
  Txn txn;
  CAIRN_RETURN_IF_ERROR(txn.Begin(impl_->env, 0));
  BlobTables t{txn.get(), impl_->blobs, impl_->files, impl_->dups, impl_->packs, impl_->suspects, impl_->refs, this};
  for (const auto& name : removed) {
    MDB_val k = Val(name), v;
    int rc = mdb_get(txn.get(), impl_->files, &k, &v);
    if (rc == MDB_NOTFOUND) continue;
    if (rc != 0) return FromLmdb(rc, "cannot read an index file mark");
    std::string named(View(v));
    for (size_t i = 0; i + ObjectId::kSize <= named.size(); i += ObjectId::kSize) {
      CAIRN_RETURN_IF_ERROR(t.Del(impl_->packs, named.substr(i, ObjectId::kSize) + name, "forget a pack"));
    }
    CAIRN_RETURN_IF_ERROR(t.Del(impl_->files, name, "forget an index file"));
  }
  for (const auto& [name, packs] : added) CAIRN_RETURN_IF_ERROR(PutPacks(t, name, packs, true));

  // The packs no loaded index file names any more.
  std::set<ObjectId> gone;
  for (const auto& p : dropped) {
    bool named = false;
    CAIRN_RETURN_IF_ERROR(ScanPrefix(txn.get(), impl_->packs, p.pack_id.view(), [&](std::string_view, std::string_view) {
      named = true;
      return false;
    }));
    if (!named) gone.insert(p.pack_id);
  }
  for (const auto& p : dropped) {
    if (gone.count(p.pack_id) == 0) continue;
    for (const auto& e : p.entries) {
      CAIRN_RETURN_IF_ERROR(t.Del(impl_->dups, DupKey(e.id, p.pack_id, e.offset), "forget a copy"));
      MDB_val k = Val(e.id.view()), v;
      int rc = mdb_get(txn.get(), impl_->blobs, &k, &v);
      if (rc == MDB_NOTFOUND) continue;
      if (rc != 0) return FromLmdb(rc, "cannot look up blob");
      BlobLocation cur;
      if (DecodeLocation(e.id, View(v), &cur) && gone.count(cur.pack_id) == 0) continue;
      // The blob table's copy is in a pack that is gone: another copy
      // takes its place, or the blob leaves the table.
      std::string next_key, next_loc;
      CAIRN_RETURN_IF_ERROR(ScanPrefix(txn.get(), impl_->dups, e.id.view(), [&](std::string_view key, std::string_view value) {
        BlobLocation d;
        if (!DecodeLocation(e.id, value, &d) || gone.count(d.pack_id) != 0) return true;
        next_key = std::string(key);
        next_loc = std::string(value);
        return false;
      }));
      if (next_key.empty()) {
        CAIRN_RETURN_IF_ERROR(t.Del(impl_->blobs, e.id.view(), "forget a blob"));
        continue;
      }
      CAIRN_RETURN_IF_ERROR(t.Put(impl_->blobs, e.id.view(), next_loc, "move a blob"));
      CAIRN_RETURN_IF_ERROR(t.Del(impl_->dups, next_key, "move a blob"));
    }
  }
  return txn.Commit();
}

}  // namespace cairn::index
