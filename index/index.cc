// SPDX-License-Identifier: MIT

#include "index/index.h"

#include <lmdb.h>

#include "objstore/core/bytes.h"

namespace cairn::index {
namespace {

// Bumped whenever the layout of the LMDB values changes; an older cache is
// dropped and rebuilt.
constexpr std::string_view kCacheVersion = "cairn-index-2";
constexpr size_t kLocationSize = 50;

Status FromLmdb(int rc, std::string_view what) {
  std::string msg = "index: " + std::string(what) + ": " + mdb_strerror(rc);
  if (rc == MDB_CORRUPTED || rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH || rc == MDB_PAGE_NOTFOUND) {
    return Status::Corruption(msg);
  }
  return Status::IOError(msg);
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

}  // namespace

struct Index::Impl {
  MDB_env* env = nullptr;
  MDB_dbi blobs = 0, files = 0, snaps = 0, meta = 0, filecache = 0;
  ~Impl() {
    if (env != nullptr) mdb_env_close(env);
  }
};

Index::Index(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Index::~Index() = default;

Result<std::unique_ptr<Index>> Index::Open(const std::string& path) {
  auto impl = std::make_unique<Impl>();
  int rc = mdb_env_create(&impl->env);
  if (rc != 0) return FromLmdb(rc, "cannot create environment");
  mdb_env_set_maxdbs(impl->env, 8);
  // Address space only; the file grows as it is used.
  mdb_env_set_mapsize(impl->env, size_t{256} << 30);
  rc = mdb_env_open(impl->env, path.c_str(), MDB_NOSUBDIR | MDB_NOTLS, 0644);
  if (rc != 0) return FromLmdb(rc, "cannot open '" + path + "'");
  Txn txn;
  CAIRN_RETURN_IF_ERROR(txn.Begin(impl->env, 0));
  for (auto [name, dbi] : {std::pair{"blobs", &impl->blobs}, std::pair{"indexfiles", &impl->files},
                           std::pair{"snapshots", &impl->snaps}, std::pair{"meta", &impl->meta},
                           std::pair{"filecache", &impl->filecache}}) {
    rc = mdb_dbi_open(txn.get(), name, MDB_CREATE, dbi);
    if (rc != 0) return FromLmdb(rc, std::string("cannot open table ") + name);
  }
  MDB_val k = Val("version"), v;
  rc = mdb_get(txn.get(), impl->meta, &k, &v);
  if (rc != 0 && rc != MDB_NOTFOUND) return FromLmdb(rc, "cannot read version");
  if (rc == MDB_NOTFOUND || View(v) != kCacheVersion) {
    // New, or written by another cache version: start empty.
    for (MDB_dbi dbi : {impl->blobs, impl->files, impl->snaps, impl->filecache}) mdb_drop(txn.get(), dbi, 0);
    MDB_val nv = Val(kCacheVersion);
    rc = mdb_put(txn.get(), impl->meta, &k, &nv, 0);
    if (rc != 0) return FromLmdb(rc, "cannot write version");
  }
  CAIRN_RETURN_IF_ERROR(txn.Commit());
  return std::unique_ptr<Index>(new Index(std::move(impl)));
}

Result<std::optional<BlobLocation>> Index::Lookup(const ObjectId& id) const {
  Txn txn;
  CAIRN_RETURN_IF_ERROR(txn.Begin(impl_->env, MDB_RDONLY));
  MDB_val k = Val(id.view()), v;
  int rc = mdb_get(txn.get(), impl_->blobs, &k, &v);
  if (rc == MDB_NOTFOUND) return std::optional<BlobLocation>();
  if (rc != 0) return FromLmdb(rc, "cannot look up blob");
  BlobLocation loc;
  if (!DecodeLocation(id, View(v), &loc)) {
    return Status::Corruption("index: damaged location record; run 'cairn repair index'");
  }
  return std::optional<BlobLocation>(loc);
}

Status Index::AddPacks(const std::string& index_file, const std::vector<objstore::PackRecord>& packs) {
  Txn txn;
  CAIRN_RETURN_IF_ERROR(txn.Begin(impl_->env, 0));
  for (const auto& p : packs) {
    for (const auto& e : p.entries) {
      std::string loc = EncodeLocation(p.pack_id, e);
      MDB_val k = Val(e.id.view()), v = Val(loc);
      // A blob stored twice (two hosts, or a crash and retry) keeps its
      // first location; both copies are valid.
      int rc = mdb_put(txn.get(), impl_->blobs, &k, &v, MDB_NOOVERWRITE);
      if (rc != 0 && rc != MDB_KEYEXIST) return FromLmdb(rc, "cannot add blob");
    }
  }
  if (!index_file.empty()) {
    MDB_val k = Val(index_file), v = Val("");
    int rc = mdb_put(txn.get(), impl_->files, &k, &v, 0);
    if (rc != 0) return FromLmdb(rc, "cannot mark index file");
  }
  return txn.Commit();
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
  LmdbReadSession(MDB_txn* txn, MDB_dbi blobs, MDB_dbi files) : txn_(txn), blobs_(blobs), files_(files) {}
  ~LmdbReadSession() override { mdb_txn_abort(txn_); }

  Result<bool> HasBlob(const ObjectId& id) override {
    MDB_val k = Val(id.view()), v;
    int rc = mdb_get(txn_, blobs_, &k, &v);
    if (rc == MDB_NOTFOUND) return false;
    if (rc != 0) return FromLmdb(rc, "cannot look up blob");
    return true;
  }

  Result<std::optional<FileCacheEntry>> GetFile(std::string_view path) override {
    if (path.empty() || path.size() > 511) return std::optional<FileCacheEntry>();  // LMDB's key limit
    MDB_val k = Val(path), v;
    int rc = mdb_get(txn_, files_, &k, &v);
    if (rc == MDB_NOTFOUND) return std::optional<FileCacheEntry>();
    if (rc != 0) return FromLmdb(rc, "cannot read the file-change cache");
    FileCacheEntry f;
    if (!DecodeFileEntry(View(v), &f)) return std::optional<FileCacheEntry>();  // damaged: re-read the file
    return std::optional<FileCacheEntry>(std::move(f));
  }

 private:
  MDB_txn* txn_;
  MDB_dbi blobs_, files_;
};

}  // namespace

Result<std::unique_ptr<ReadSession>> Index::BeginRead() const {
  MDB_txn* txn;
  int rc = mdb_txn_begin(impl_->env, nullptr, MDB_RDONLY, &txn);
  if (rc != 0) return FromLmdb(rc, "cannot begin transaction");
  return std::unique_ptr<ReadSession>(new LmdbReadSession(txn, impl_->blobs, impl_->filecache));
}

Status Index::PutFiles(const std::vector<std::pair<std::string, FileCacheEntry>>& files) {
  if (files.empty()) return Status::OK();
  Txn txn;
  CAIRN_RETURN_IF_ERROR(txn.Begin(impl_->env, 0));
  for (const auto& [path, f] : files) {
    if (path.empty() || path.size() > 511) continue;
    std::string v = EncodeFileEntry(f);
    MDB_val k = Val(path), val = Val(v);
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

Status Index::ClearBlobs() {
  Txn txn;
  CAIRN_RETURN_IF_ERROR(txn.Begin(impl_->env, 0));
  for (MDB_dbi dbi : {impl_->blobs, impl_->files}) {
    int rc = mdb_drop(txn.get(), dbi, 0);
    if (rc != 0) return FromLmdb(rc, "cannot clear");
  }
  return txn.Commit();
}

}  // namespace cairn::index
