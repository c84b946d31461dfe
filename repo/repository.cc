// SPDX-License-Identifier: MIT

#include "repo/repository.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <set>

#include <chrono>

#include "objstore/compress.h"
#include "objstore/pack.h"
#include "objstore/keys.h"
#include "objstore/core/system.h"
#include "repo/location.h"
#include "repo/refs.h"
#include "repo/timespec.h"

namespace cairn::repo {
namespace fs = std::filesystem;
using objstore::Backend;

namespace {

constexpr std::string_view kCacheFile = "index.mdb";

std::string Basename(const std::string& name) { return name.substr(name.rfind('/') + 1); }

}  // namespace

bool ValidRefName(std::string_view name) {
  if (name.empty() || name.size() > 200 || name[0] == '.' || name[0] == '-') return false;
  if (name.find("..") != std::string_view::npos) return false;
  if (name.size() >= 5 && name.substr(name.size() - 5) == ".lock") return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  if (name.size() >= 4 && IsHexPrefix(name)) return false;
  return name != "latest" && name != "HEAD";
}

Status Repository::Init(objstore::Backend* backend, const objstore::RepoConfig& config, const NewKey* key) {
  if (backend->Stat("config").ok()) {
    return Status::AlreadyExists("a repository already exists at '" + backend->Location() + "'");
  }
  if (config.encrypted() && key == nullptr) {
    return Status::InvalidArgument("an encrypted repository needs a first key (a password or key file)");
  }
  CAIRN_RETURN_IF_ERROR(backend->Create());
  if (!config.encrypted()) {
    // The config is written last: its presence is what makes a repository.
    return backend->Put("config", objstore::EncodeConfig(config));
  }
  objstore::crypto::SecretBytes master(objstore::crypto::kKeySize);
  objstore::crypto::RandomBytes(master.data(), master.size());
  auto keys = objstore::RepoKeys::Derive(master, config.repo_id, config.format);
  CAIRN_RETURN_IF_ERROR(WriteFirstSlot(backend, *keys, *key).status());
  return backend->Put("config", objstore::EncodeConfig(config, keys.get()));
}

Status Repository::Init(const std::string& location, const objstore::RepoConfig& config, const NewKey* key) {
  CAIRN_ASSIGN_OR_RETURN(Location loc, ParseLocation(location));
  CAIRN_ASSIGN_OR_RETURN(auto backend, MakeBackend(loc));
  return Init(backend.get(), config, key);
}

Result<std::unique_ptr<Repository>> Repository::Open(const std::string& location, const KeyAccess& access) {
  CAIRN_ASSIGN_OR_RETURN(Location loc, ParseLocation(location));
  CAIRN_ASSIGN_OR_RETURN(auto backend, MakeBackend(loc));
  return OpenImpl(
      std::move(backend),
      [&](const objstore::RepoConfig& c) -> Result<std::string> {
        if (c.encrypted() || loc.kind != Location::Kind::kLocal) return UserCacheDir(c.repo_id);
        // A repository this process cannot write to (a read-only mount, a
        // backup disk, another user's folder) keeps its local index in the
        // user's cache folder instead, so that every read works there.
        const std::string dir = CacheDir(loc);
        const std::string probe = ::access(dir.c_str(), F_OK) == 0 ? dir : loc.path;
        if (::access(probe.c_str(), W_OK) != 0) return UserCacheDir(c.repo_id);
        return dir;
      },
      access);
}

Result<std::unique_ptr<Repository>> Repository::Open(std::unique_ptr<objstore::Backend> backend,
                                                     const std::string& cache_dir, const KeyAccess& access) {
  return OpenImpl(
      std::move(backend), [&](const objstore::RepoConfig&) -> Result<std::string> { return cache_dir; }, access);
}

Result<std::unique_ptr<Repository>> Repository::OpenImpl(
    std::unique_ptr<objstore::Backend> backend,
    const std::function<Result<std::string>(const objstore::RepoConfig&)>& cache_dir_for, const KeyAccess& access) {
  std::string where = backend->Location();
  auto cfg = backend->Get("config");
  if (!cfg.ok()) {
    if (!cfg.status().IsNotFound()) return cfg.status();
    bool anything = false;
    CAIRN_RETURN_IF_ERROR(backend->List("", [&](const std::string&, uint64_t) { anything = true; }));
    if (anything) return Status::NotFound("'" + where + "' is not a cairn repository (no config file)");
    return Status::NotFound("no repository at '" + where + "'; create one with 'cairn init " + where + "'");
  }
  std::unique_ptr<Repository> repo(new Repository());
  repo->location_ = where;
  // Of an encrypted config nothing but what unlocking needs is read before
  // its MAC is verified.
  CAIRN_ASSIGN_OR_RETURN(objstore::RepoConfig head, objstore::DecodeConfigHead(*cfg));
  std::optional<Unlocked> unlocked;
  if (head.encrypted()) {
    CAIRN_ASSIGN_OR_RETURN(unlocked, Unlock(backend.get(), head, access));
    CAIRN_RETURN_IF_ERROR(objstore::VerifyConfig(*cfg, *unlocked->keys));
  } else {
    // A downgrade: someone replaced an encrypted repository's config by an
    // unencrypted one, so that the next backup would be written in the
    // clear. Key slots give it away.
    bool slots = false;
    CAIRN_RETURN_IF_ERROR(backend->List("keys/", [&](const std::string&, uint64_t) { slots = true; }));
    if (slots) {
      return Status::Corruption("repository '" + where +
                                "' has key slots but its config says it is not encrypted: the config was replaced; "
                                "refusing to open it");
    }
  }
  CAIRN_ASSIGN_OR_RETURN(repo->config_, objstore::DecodeConfig(*cfg));
  if (unlocked && repo->config_.box_public_key != unlocked->keys->box_public_key()) {
    // The config's MAC held, so the slot holds another box key: a damaged
    // (or forged by a key holder) write-only slot.
    return Status::Corruption("key slot 'keys/" + unlocked->slot_id + "' of repository '" + where +
                              "' holds another box key than the config: the slot is damaged");
  }
  if (unlocked) {
    Unlocked& u = *unlocked;
    const auto& seed = u.keys->chunker_seed();
    std::copy(seed.data(), seed.data() + seed.size(), repo->config_.chunker.seed.begin());
    repo->keys_ = std::move(u.keys);
    repo->key_slot_ = std::move(u.slot_id);
    repo->hasher_ = objstore::NewHmacSha256Hasher(repo->keys_.get());
  } else {
    repo->hasher_ = objstore::NewSha256Hasher();
  }
  repo->backend_ = std::move(backend);
  repo->codec_ = std::make_unique<objstore::ObjectCodec>(repo->hasher_.get(), repo->config_.compression_level,
                                                         repo->keys_.get());
  if (repo->keys_ != nullptr && repo->keys_->has_box() && !repo->keys_->write_only()) {
    // Blobs of write-only hosts' packs open with their pack's key, read
    // from the pack's header once per pack.
    Repository* self = repo.get();
    repo->codec_->set_pack_key_fetcher([self](const std::string& pack) -> Result<objstore::crypto::SecretBytes> {
      objstore::crypto::SecretBytes key;
      CAIRN_RETURN_IF_ERROR(objstore::ReadPackHeader(self->backend(), pack, self->keys_.get(), &key).status());
      if (key.empty()) return Status::Corruption("pack '" + pack + "' has no pack key, but its index entries say it has");
      return key;
    });
  }
  // The cache is a folder of this machine's, not part of the repository.
  CAIRN_ASSIGN_OR_RETURN(std::string cache_dir, cache_dir_for(repo->config_));
  repo->cache_dir_ = cache_dir;
  std::error_code ec;
  fs::create_directories(cache_dir, ec);
  if (ec) return Status::IOError("cannot create the cache folder '" + cache_dir + "': " + ec.message());
  if (repo->keys_ != nullptr) {
    // It holds file names and sizes in plaintext: for this user only.
    fs::permissions(cache_dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  }
  std::string cache = cache_dir + "/" + std::string(kCacheFile);
  auto index = index::Index::Open(cache);
  if (!index.ok() && index.status().code() == Code::kBusy) {
    // Its readers collide with ours in LMDB's lock file (a container):
    // this process builds a private index from the index files instead,
    // removed when it ends.
    std::string tmpl = cache_dir + "/private-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) {
      return Status::FromErrno(errno, "cannot create a private local index in '" + cache_dir + "'");
    }
    repo->private_cache_.dir = tmpl;
    repo->warnings_.push_back("local index '" + cache + "' is in use by a process with the same process id in "
                              "another PID namespace (a container); this command builds a private one");
    cache = tmpl + "/" + std::string(kCacheFile);
    index = index::Index::Open(cache);
  }
  if (!index.ok()) {
    // The local index is derived data: a damaged one is rebuilt, never trusted.
    repo->warnings_.push_back("local index '" + cache + "' was unusable (" + index.status().message() +
                              "); rebuilt it");
    ::unlink(cache.c_str());
    ::unlink((cache + "-lock").c_str());
    index = index::Index::Open(cache);
    if (!index.ok()) return index.status();
  }
  repo->index_ = std::move(index).value();
  repo->cache_file_ = cache;
  CAIRN_RETURN_IF_ERROR(repo->SyncIndex());
  return repo;
}

Status Repository::RecreateLocalIndex() {
  index_.reset();
  ::unlink(cache_file_.c_str());
  ::unlink((cache_file_ + "-lock").c_str());
  CAIRN_ASSIGN_OR_RETURN(index_, index::Index::Open(cache_file_));
  return SyncIndex();
}

Status Repository::Refresh() {
  {
    std::lock_guard<std::mutex> l(trash_mu_);
    trash_ids_.reset();
  }
  return SyncIndex();
}

void Repository::Message(const std::string& msg) const {
  std::lock_guard<std::mutex> l(message_mu_);
  if (on_message_) {
    on_message_(msg);
  } else {
    warnings_.push_back(msg);
  }
}

objstore::LockOptions Repository::RefLockOptions() {
  objstore::LockOptions o;
  o.on_message = [this](const std::string& m) { Message(m); };
  o.wait = lock_wait_;
  // A write-only host may be denied DeleteObject (docs/s3.md): it never
  // removes a lock or a session, it overwrites them as released.
  o.release_by_overwrite = write_only();
  return o;
}

Result<std::vector<objstore::PackRecord>> Repository::DecodeIndexFile(std::string_view data, const ObjectId& id,
                                                                     const std::string& name) const {
  auto payload = codec_->DecodeFile(data, objstore::FileType::kIndex, &id, name);
  if (!payload.ok()) {
    const Status& st = payload.status();
    std::string msg = "index file " + st.message();
    return st.code() == Code::kNotSupported ? Status::NotSupported(msg) : Status::Corruption(msg);
  }
  return objstore::DecodeIndexPayload(*payload, name);
}

Status Repository::SyncIndex(bool snapshots) {
  std::set<std::string> listed;
  CAIRN_RETURN_IF_ERROR(backend_->List("index/", [&](const std::string& name, uint64_t) {
    listed.insert(Basename(name));
  }));
  CAIRN_ASSIGN_OR_RETURN(std::set<std::string> loaded, index_->LoadedIndexFiles());
  bool removed = std::any_of(loaded.begin(), loaded.end(),
                             [&](const std::string& n) { return listed.count(n) == 0; });
  // Reads and decodes an index file; a damaged one is a warning and left
  // out.
  auto read = [&](const std::string& name) -> std::optional<std::vector<objstore::PackRecord>> {
    std::string full = "index/" + name;
    auto id = ObjectId::FromHex(name);
    if (!id.ok()) {
      warnings_.push_back("'" + full + "' is not named like an index file; ignored");
      return std::nullopt;
    }
    auto data = backend_->Get(full);
    if (!data.ok()) {
      warnings_.push_back(data.status().message());
      return std::nullopt;
    }
    auto packs = DecodeIndexFile(*data, *id, full);
    if (!packs.ok()) {
      warnings_.push_back(packs.status().message() + "; run 'cairn repair index'");
      return std::nullopt;
    }
    return std::move(packs).value();
  };
  if (removed) {
    // An index file went away (repair or prune): rebuild the blob table from
    // the files there are, in one transaction (other processes share it).
    std::vector<std::pair<std::string, std::vector<objstore::PackRecord>>> all;
    for (const auto& name : listed) {
      auto packs = read(name);
      if (packs) all.emplace_back(name, std::move(*packs));
    }
    CAIRN_RETURN_IF_ERROR(index_->ReplaceBlobs(all));
  } else {
    for (const auto& name : listed) {
      if (loaded.count(name) != 0) continue;
      auto packs = read(name);
      if (packs) CAIRN_RETURN_IF_ERROR(index_->AddPacks(name, *packs));
    }
  }

  if (!snapshots) return Status::OK();
  std::set<std::string> snaps;
  CAIRN_RETURN_IF_ERROR(backend_->List("snapshots/", [&](const std::string& name, uint64_t) {
    snaps.insert(Basename(name));
  }));
  CAIRN_ASSIGN_OR_RETURN(auto catalog, index_->Snapshots());
  std::set<std::string> known;
  for (const auto& [id, file] : catalog) {
    std::string hex = id.ToHex();
    if (snaps.count(hex) == 0) {
      CAIRN_RETURN_IF_ERROR(index_->RemoveSnapshot(id));
    } else {
      known.insert(hex);
    }
  }
  for (const auto& hex : snaps) {
    if (known.count(hex) != 0) continue;
    auto id = ObjectId::FromHex(hex);
    if (!id.ok()) {
      warnings_.push_back("'snapshots/" + hex + "' is not named like a snapshot; ignored");
      continue;
    }
    auto data = backend_->Get("snapshots/" + hex);
    if (!data.ok()) {
      if (damaged_snapshots_.insert(*id).second) warnings_.push_back(data.status().message());
      continue;
    }
    auto snap = DecodeSnapshotFile(*data, &*id, "snapshots/" + hex);
    if (!snap.ok()) {
      if (damaged_snapshots_.insert(*id).second) warnings_.push_back(snap.status().message());
      continue;
    }
    CAIRN_RETURN_IF_ERROR(index_->PutSnapshot(*id, *data));
  }
  return Status::OK();
}

Result<Snapshot> Repository::DecodeSnapshotFile(std::string_view file, const ObjectId* id,
                                                const std::string& name) const {
  auto payload = codec_->DecodeFile(file, objstore::FileType::kSnapshot, id, name);
  if (!payload.ok()) {
    if (payload.status().code() == Code::kCorruption && id != nullptr) {
      return Status::Corruption("snapshot " + id->ShortHex() + " is damaged (" + payload.status().message() + ")");
    }
    return payload.status();
  }
  return objstore::DecodeSnapshotPayload(*payload, name);
}

bool Repository::ReloadBlobTable() const {
  std::lock_guard<std::mutex> l(reload_mu_);
  if (reloaded_) return true;  // done once already (perhaps by another thread)
  reloaded_ = true;
  std::vector<std::string> names;
  if (!backend_->List("index/", [&](const std::string& n, uint64_t) { names.push_back(Basename(n)); }).ok()) {
    return false;
  }
  std::vector<std::pair<std::string, std::vector<objstore::PackRecord>>> all;
  for (const auto& name : names) {
    auto id = ObjectId::FromHex(name);
    if (!id.ok()) continue;
    auto data = backend_->Get("index/" + name);
    if (!data.ok()) continue;
    auto packs = DecodeIndexFile(*data, *id, "index/" + name);
    if (packs.ok()) all.emplace_back(name, std::move(packs).value());
  }
  return index_->ReplaceBlobs(all).ok();
}

Result<std::optional<index::BlobLocation>> Repository::LookupAgain(
    const ObjectId& id, const std::optional<index::BlobLocation>& had) const {
  if (!ReloadBlobTable()) return had;
  CAIRN_ASSIGN_OR_RETURN(std::optional<index::BlobLocation> now, Locate(id));
  const bool moved = now.has_value() != had.has_value() ||
                     (now && (now->pack_id != had->pack_id || now->entry.offset != had->entry.offset ||
                              now->entry.stored_length != had->entry.stored_length ||
                              now->entry.raw_length != had->entry.raw_length || now->entry.type != had->entry.type ||
                              now->entry.flags != had->entry.flags));
  if (moved) {
    Message("the local index named a wrong place for object " + id.ShortHex() +
            "; its blob table was rebuilt from the repository's index files");
  }
  return now;
}

Result<std::optional<index::BlobLocation>> Repository::Locate(const ObjectId& id) const {
  auto loc = index_->Lookup(id);
  if (loc.ok() || !loc.status().IsCorruption()) return loc;
  if (!ReloadBlobTable()) return loc;
  auto again = index_->Lookup(id);
  if (again.ok()) {
    Message("the local index held a damaged record for object " + id.ShortHex() +
            "; its blob table was rebuilt from the repository's index files");
  }
  return again;
}

Result<std::string> Repository::ReadBlob(const ObjectId& id) const {
  CAIRN_ASSIGN_OR_RETURN(std::optional<index::BlobLocation> loc, Locate(id));
  if (!loc) {
    CAIRN_ASSIGN_OR_RETURN(loc, LookupAgain(id, loc));
    if (!loc) return Status::NotFound("object " + id.ShortHex() + " is not in the repository");
  }
  auto data = ReadBlob(*loc);
  // Any failure, not only damage: a flipped offset in the local index can
  // make the read itself fail (EINVAL for an offset past what off_t holds).
  // The blob table is rebuilt at most once per process.
  if (data.ok()) return data;
  auto again = LookupAgain(id, loc);
  if (!again.ok() || !*again) return data;
  const index::BlobLocation& now = **again;
  if (now.pack_id == loc->pack_id && now.entry.offset == loc->entry.offset &&
      now.entry.stored_length == loc->entry.stored_length && now.entry.flags == loc->entry.flags &&
      now.entry.raw_length == loc->entry.raw_length) {
    return data;  // the index files say the same: the repository is damaged
  }
  return ReadBlob(now);
}

Result<std::string> Repository::ReadBlob(const index::BlobLocation& loc) const {
  const auto& e = loc.entry;
  std::string pack = objstore::PackName(loc.pack_id);
  auto stored = e.type == objstore::BlobType::kTree ? backend_->GetMetadataRange(pack, e.offset, e.stored_length)
                                                    : backend_->GetRange(pack, e.offset, e.stored_length);
  if (!stored.ok()) {
    std::string what = std::string(objstore::BlobTypeName(e.type)) + " " + e.id.ShortHex() + " in pack '" + pack + "'";
    if (stored.status().IsNotFound()) {
      return Status::Corruption("cannot read " + what + ": the pack is missing");
    }
    return stored.status().WithContext("cannot read " + what);
  }
  return codec_->DecodeBlob(e, std::move(stored).value(), pack);
}

Result<Tree> Repository::ReadTree(const ObjectId& id) const {
  // Trees are read where a snapshot or another tree names them: one that is
  // missing, or is file content, means the naming object is damaged.
  CAIRN_ASSIGN_OR_RETURN(std::optional<index::BlobLocation> loc, Locate(id));
  if (!loc || loc->entry.type != objstore::BlobType::kTree) {
    CAIRN_ASSIGN_OR_RETURN(loc, LookupAgain(id, loc));
  }
  if (!loc) return Status::Corruption("tree " + id.ShortHex() + " is missing from the repository");
  if (loc->entry.type != objstore::BlobType::kTree) {
    return Status::Corruption("object " + id.ShortHex() + " is named as a tree but holds file content");
  }
  CAIRN_ASSIGN_OR_RETURN(std::string blob, ReadBlob(id));
  return objstore::DecodeTree(blob, id);
}

Status Repository::CheckHardlinkTarget(const ObjectId& root, const std::string& path, const TreeEntry& e) const {
  auto bad = [&](const std::string& why) {
    return Status::Corruption("hard link '" + path + "' names '" + e.link_target + "', " + why +
                              "; the tree is damaged");
  };
  TreeEntry at;
  at.type = objstore::EntryType::kDir;
  at.subtree = root;
  std::string_view rest = e.link_target;
  while (!rest.empty()) {
    size_t slash = rest.find('/');
    std::string_view comp = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    if (at.type != objstore::EntryType::kDir) return bad("which is not a file of the snapshot");
    CAIRN_ASSIGN_OR_RETURN(Tree tree, ReadTree(at.subtree));
    const TreeEntry* found = objstore::FindEntry(tree, comp);
    if (found == nullptr) return bad("which is not in the snapshot");
    at = *found;
  }
  if (at.type != objstore::EntryType::kFile) {
    const char* kind = at.type == objstore::EntryType::kDir       ? "a folder"
                       : at.type == objstore::EntryType::kSymlink  ? "a symlink"
                       : at.type == objstore::EntryType::kHardlink ? "a hard link itself"
                                                                  : "a special file";
    return bad(std::string("which is ") + kind + ", not a file");
  }
  if (at.size != e.size || at.chunks != e.chunks) return bad("which holds other content than the link records");
  return Status::OK();
}

Result<Snapshot> Repository::ReadStoredSnapshot(const ObjectId& id, bool from_store) const {
  std::string name = objstore::SnapshotName(id);
  // Of a remote repository, the catalog holds every snapshot file listed
  // when this process last synced (SyncIndex), verified then: read without
  // a request. A damaged catalog entry is never trusted: the file is read
  // from the repository instead. `check` always reads the file itself.
  if (!from_store && backend_->Remote()) {
    auto cached = index_->SnapshotFile(id);
    if (!cached.ok() || !*cached) return ReadStoredSnapshot(id, true);
    auto s = DecodeSnapshotFile(**cached, &id, name);
    if (s.ok()) return s;
    return ReadStoredSnapshot(id, true);
  }
  auto data = backend_->Get(name);
  if (!data.ok()) {
    if (!data.status().IsNotFound()) return data.status();
    auto rec = ReadTrash(id);
    if (rec.ok() && *rec) {
      const TrashRecord& t = **rec;
      if (t.purged()) {
        return Status::NotFound("snapshot " + id.ShortHex() + " was removed (" + t.reason + ") on " +
                                objstore::FormatTime(t.removed_ns) + " and its data pruned on " +
                                objstore::FormatTime(t.purged_ns));
      }
      return Status::NotFound("snapshot " + id.ShortHex() + " is in the trash (" + t.reason + ", " +
                              objstore::FormatTime(t.removed_ns) + "); 'cairn undelete " + id.ShortHex() +
                              "' brings it back");
    }
    return Status::NotFound("no snapshot " + id.ShortHex());
  }
  return DecodeSnapshotFile(*data, &id, name);
}

Result<Snapshot> Repository::ReadSnapshot(const ObjectId& id, bool from_store) const {
  CAIRN_ASSIGN_OR_RETURN(Snapshot s, ReadStoredSnapshot(id, from_store));
  CAIRN_RETURN_IF_ERROR(SkipRemovedParents(&s));
  return s;
}

Repository::PrivateCache::~PrivateCache() {
  if (dir.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

Result<Snapshot> Repository::ReadParentSnapshot(const ObjectId& child, const ObjectId& parent) const {
  auto s = ReadSnapshot(parent);
  if (!s.ok() && s.status().IsNotFound()) {
    return Status::Corruption("snapshot " + child.ShortHex() + " names parent " + parent.ShortHex() +
                              ", which is missing from the repository; run 'cairn check'");
  }
  return s;
}

// --- Sessions and prune plans ---

Result<std::unique_ptr<objstore::BackendLock>> Repository::BeginSession(std::string_view kind) {
  CAIRN_ASSIGN_OR_RETURN(auto session, objstore::BeginSession(backend_.get(), kind, RefLockOptions()));
  // Only after the session object is durable: a plan written before it is
  // read here, and a prune that writes one later sees this session.
  CAIRN_ASSIGN_OR_RETURN(auto plans, ListPrunePlans());
  condemned_.clear();
  for (const auto& p : plans) condemned_.insert(p.garbage.begin(), p.garbage.end());
  for (const auto& p : plans) AddCondemnedPacks(p.condemned_packs);
  own_session_ = session->object();
  {
    std::lock_guard<std::mutex> l(trash_mu_);
    trash_ids_.reset();
  }
  // The blobs written since the open (another host's backup) and gone
  // since (a prune); the snapshot catalog was synced at the open.
  CAIRN_RETURN_IF_ERROR(SyncIndex(/*snapshots=*/false));
  return session;
}

Result<std::vector<PrunePlan>> Repository::ListPrunePlans() const {
  std::vector<std::string> names;
  CAIRN_RETURN_IF_ERROR(backend_->List("prune/", [&](const std::string& name, uint64_t) { names.push_back(name); }));
  std::sort(names.begin(), names.end());
  std::vector<PrunePlan> out;
  for (const auto& name : names) {
    auto data = backend_->Get(name);
    if (!data.ok()) {
      if (data.status().IsNotFound()) continue;  // finished meanwhile
      return data.status();
    }
    CAIRN_ASSIGN_OR_RETURN(PrunePlan p, DecodePrunePlan(*codec_, *data, name));
    out.push_back(std::move(p));
  }
  return out;
}

// --- Trash ---

Result<std::set<ObjectId>> Repository::TrashIds() const {
  std::lock_guard<std::mutex> l(trash_mu_);
  if (trash_ids_) return *trash_ids_;
  std::set<ObjectId> ids;
  CAIRN_RETURN_IF_ERROR(backend_->List("trash/", [&](const std::string& name, uint64_t) {
    auto id = ObjectId::FromHex(Basename(name));
    if (id.ok()) ids.insert(*id);
  }));
  trash_ids_ = ids;
  return ids;
}

Result<bool> Repository::Removed(const ObjectId& id) const {
  CAIRN_ASSIGN_OR_RETURN(auto ids, TrashIds());
  if (ids.count(id) == 0) return false;
  // A record beside a live snapshot file is left from an unfinished forget
  // or undelete: the snapshot is live.
  auto st = backend_->Stat(objstore::SnapshotName(id));
  if (st.ok()) return false;
  if (!st.status().IsNotFound()) return st.status();
  return true;
}

Status Repository::SkipRemovedParents(Snapshot* s) const {
  if (s->parents.empty()) return Status::OK();
  // A parent whose snapshot file was listed at the last sync is live (a
  // trash record beside a live file is left from an unfinished forget):
  // then the trash need not be listed.
  bool all_listed = std::all_of(s->parents.begin(), s->parents.end(), [&](const ObjectId& p) {
    auto f = index_->SnapshotFile(p);
    return f.ok() && f->has_value();
  });
  if (all_listed) return Status::OK();
  CAIRN_ASSIGN_OR_RETURN(auto ids, TrashIds());
  bool any = std::any_of(s->parents.begin(), s->parents.end(), [&](const ObjectId& p) { return ids.count(p) != 0; });
  if (!any) return Status::OK();
  std::vector<ObjectId> out;
  std::set<ObjectId> seen;
  // Depth first, in parent order: a removed parent is replaced by its own
  // parents, in their order, until kept snapshots are reached.
  std::vector<ObjectId> todo(s->parents.rbegin(), s->parents.rend());
  while (!todo.empty()) {
    ObjectId p = todo.back();
    todo.pop_back();
    if (!seen.insert(p).second) continue;
    CAIRN_ASSIGN_OR_RETURN(bool removed, Removed(p));
    std::optional<TrashRecord> rec;
    if (removed) {
      auto r = ReadTrash(p);
      if (r.ok()) rec = std::move(*r);
    }
    if (!rec) {
      out.push_back(p);  // kept (or missing: whoever reads it reports that)
      continue;
    }
    const auto& pp = rec->snapshot.parents;
    for (auto it = pp.rbegin(); it != pp.rend(); ++it) todo.push_back(*it);
  }
  s->parents = std::move(out);
  return Status::OK();
}

Result<Snapshot> Repository::DecodeStoredSnapshot(std::string_view file, const ObjectId& id) const {
  return DecodeSnapshotFile(file, &id, objstore::SnapshotName(id));
}

Result<std::optional<TrashRecord>> Repository::ReadTrash(const ObjectId& id) const {
  auto data = backend_->Get(TrashName(id));
  if (!data.ok()) {
    if (data.status().IsNotFound()) return std::optional<TrashRecord>();
    return data.status();
  }
  CAIRN_ASSIGN_OR_RETURN(TrashRecord r, DecodeTrashRecord(*codec_, *data, id, [&](std::string_view f) {
                           return DecodeStoredSnapshot(f, id);
                         }));
  return std::optional<TrashRecord>(std::move(r));
}

Result<std::vector<TrashRecord>> Repository::ListTrash() const {
  CAIRN_ASSIGN_OR_RETURN(auto ids, TrashIds());
  std::vector<TrashRecord> out;
  for (const auto& id : ids) {
    auto r = ReadTrash(id);
    if (!r.ok()) {
      // A damaged record is named and passed over (check reports it); a
      // record that could not be read at all (EIO) fails the listing, so
      // prune never acts on part of the trash.
      if (r.status().code() != Code::kCorruption) return r.status();
      const_cast<Repository*>(this)->Message(r.status().message());
      continue;
    }
    if (*r) out.push_back(std::move(**r));
  }
  std::sort(out.begin(), out.end(), [](const TrashRecord& a, const TrashRecord& b) {
    return a.removed_ns != b.removed_ns ? a.removed_ns < b.removed_ns : a.id < b.id;
  });
  return out;
}

Result<std::vector<ObjectId>> Repository::TrashWithPrefix(std::string_view hex_prefix) const {
  CAIRN_ASSIGN_OR_RETURN(auto ids, TrashIds());
  std::vector<ObjectId> out;
  for (const auto& id : ids) {
    if (id.ToHex().rfind(hex_prefix, 0) == 0) out.push_back(id);
  }
  return out;
}

Status Repository::PutTrash(const TrashRecord& r) {
  CAIRN_RETURN_IF_ERROR(backend_->Put(TrashName(r.id), EncodeTrashRecord(*codec_, r)));
  std::lock_guard<std::mutex> l(trash_mu_);
  if (trash_ids_) trash_ids_->insert(r.id);
  return Status::OK();
}

Status Repository::RemoveTrash(const ObjectId& id) {
  Status st = backend_->Remove(TrashName(id));
  if (!st.ok() && !st.IsNotFound()) return st;
  std::lock_guard<std::mutex> l(trash_mu_);
  if (trash_ids_) trash_ids_->erase(id);
  return Status::OK();
}

Status Repository::TrashSnapshot(const ObjectId& id, const std::string& reason, int64_t now_ns, int64_t expires_ns) {
  std::string name = objstore::SnapshotName(id);
  CAIRN_ASSIGN_OR_RETURN(std::string file, backend_->Get(name));
  TrashRecord r;
  r.id = id;
  CAIRN_ASSIGN_OR_RETURN(r.snapshot, DecodeStoredSnapshot(file, id));
  r.snapshot_file = std::move(file);
  r.removed_ns = now_ns;
  r.expires_ns = expires_ns;
  r.reason = reason;
  r.host = HostName();
  r.user = CurrentUserName();
  // The record is durable before the snapshot file goes.
  CAIRN_RETURN_IF_ERROR(PutTrash(r));
  Status st = backend_->Remove(name);
  if (!st.ok() && !st.IsNotFound()) return st;
  return index_->RemoveSnapshot(id);
}

Status Repository::Undelete(const ObjectId& id) {
  CAIRN_ASSIGN_OR_RETURN(auto rec, ReadTrash(id));
  if (!rec) return Status::NotFound("snapshot " + id.ShortHex() + " is not in the trash");
  if (rec->purged()) {
    return Status::NotFound("snapshot " + id.ShortHex() + " cannot be brought back: its data was pruned on " +
                            objstore::FormatTime(rec->purged_ns));
  }
  std::string name = objstore::SnapshotName(id);
  CAIRN_RETURN_IF_ERROR(backend_->Put(name, rec->snapshot_file));
  CAIRN_RETURN_IF_ERROR(RemoveTrash(id));
  return index_->PutSnapshot(id, rec->snapshot_file);
}

Result<std::vector<std::pair<ObjectId, Snapshot>>> Repository::ListSnapshots() const {
  CAIRN_ASSIGN_OR_RETURN(auto catalog, index_->Snapshots());
  std::vector<std::pair<ObjectId, Snapshot>> out;
  for (const auto& [id, file] : catalog) {
    auto s = DecodeSnapshotFile(file, nullptr, objstore::SnapshotName(id));
    if (s.ok()) out.emplace_back(id, std::move(s).value());
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.second.time_ns != b.second.time_ns ? a.second.time_ns < b.second.time_ns
                                                : a.first < b.first;
  });
  return out;
}

std::string Repository::RefFile(const std::string& ref) const {
  if (keys_ == nullptr) return "refs/" + ref;
  size_t slash = ref.find('/');
  return "refs/" + ref.substr(0, slash) + "/" + keys_->NameMac(ref).ToHex();
}

// An unencrypted ref file: "HEX\n" and optionally "ANNOTATION\n". An
// encrypted one: a sealed file (type ref, bound to its file name) whose
// payload is "REF\nHEX\n" and optionally "ANNOTATION\n".
Result<Repository::RefValue> Repository::DecodeRef(std::string_view data, const std::string& file,
                                                   std::string* name) const {
  std::string payload;
  std::string_view v = data;
  if (keys_ != nullptr) {
    CAIRN_ASSIGN_OR_RETURN(payload, codec_->DecodeFile(data, objstore::FileType::kRef, nullptr, file, file));
    v = payload;
    size_t nl = v.find('\n');
    if (nl == std::string_view::npos) return Status::Corruption("ref file '" + file + "' is damaged (no name)");
    *name = std::string(v.substr(0, nl));
    if (RefFile(*name) != file) {
      return Status::Corruption("ref file '" + file + "' is damaged (it names another ref)");
    }
    v = v.substr(nl + 1);
  }
  RefValue out;
  size_t nl = v.find('\n');
  auto id = ObjectId::FromHex(v.substr(0, nl));
  if (!id.ok()) return Status::Corruption("ref file '" + file + "' is damaged (not a snapshot id)");
  out.id = *id;
  if (nl != std::string_view::npos && nl + 1 < v.size()) {
    std::string_view rest = v.substr(nl + 1);
    out.annotation = std::string(rest.substr(0, rest.find('\n')));
  }
  return out;
}

Result<std::optional<Repository::RefValue>> Repository::ReadRefValue(const std::string& ref) const {
  std::string file = RefFile(ref);
  auto data = backend_->Get(file);
  if (!data.ok()) {
    if (data.status().IsNotFound()) return std::optional<RefValue>();
    return data.status();
  }
  std::string name;
  auto v = DecodeRef(*data, file, &name);
  if (!v.ok()) {
    if (v.status().code() == Code::kCorruption) return Status::Corruption("ref '" + ref + "' is damaged (" + v.status().message() + ")");
    return v.status();
  }
  if (keys_ != nullptr && name != ref) return Status::Corruption("ref '" + ref + "' is damaged (it names another ref)");
  return std::optional<RefValue>(std::move(v).value());
}

Result<std::optional<ObjectId>> Repository::ReadRef(const std::string& ref) const {
  CAIRN_ASSIGN_OR_RETURN(std::optional<RefValue> v, ReadRefValue(ref));
  if (!v) return std::optional<ObjectId>();
  return std::optional<ObjectId>(v->id);
}

Status Repository::UpdateRef(const std::string& ref, const std::optional<ObjectId>& expected,
                             const ObjectId& new_id, const std::string& annotation) {
  CAIRN_ASSIGN_OR_RETURN(auto lock, backend_->Lock("refs", RefLockOptions()));
  CAIRN_ASSIGN_OR_RETURN(std::optional<ObjectId> cur, ReadRef(ref));
  if (cur != expected) {
    return Status::Conflict("ref '" + ref + "' was changed by another process; retry");
  }
  std::string content = new_id.ToHex() + "\n";
  if (!annotation.empty()) content += annotation + "\n";
  std::string file = RefFile(ref);
  if (keys_ != nullptr) content = codec_->EncodeFile(objstore::FileType::kRef, ref + "\n" + content, false, file);
  return backend_->Put(file, content);
}

Status Repository::DeleteRef(const std::string& ref, const ObjectId& expected) {
  CAIRN_ASSIGN_OR_RETURN(auto lock, backend_->Lock("refs", RefLockOptions()));
  CAIRN_ASSIGN_OR_RETURN(std::optional<ObjectId> cur, ReadRef(ref));
  if (!cur) return Status::NotFound("no ref '" + ref + "'");
  if (*cur != expected) return Status::Conflict("ref '" + ref + "' was changed by another process; retry");
  return backend_->Remove(RefFile(ref));
}

Result<std::vector<std::pair<std::string, ObjectId>>> Repository::ListRefs(const std::string& kind) const {
  std::vector<std::string> files;
  CAIRN_RETURN_IF_ERROR(backend_->List("refs/" + kind + "/", [&](const std::string& name, uint64_t) {
    files.push_back(name);
  }));
  std::vector<std::pair<std::string, ObjectId>> out;
  for (const auto& f : files) {
    if (keys_ == nullptr) {
      std::string n = Basename(f);
      if (!ValidRefName(n)) continue;
      CAIRN_ASSIGN_OR_RETURN(std::optional<ObjectId> id, ReadRef(kind + "/" + n));
      if (id) out.emplace_back(n, *id);
      continue;
    }
    auto data = backend_->Get(f);
    if (!data.ok()) {
      if (data.status().IsNotFound()) continue;  // removed meanwhile
      return data.status();
    }
    std::string name;
    CAIRN_ASSIGN_OR_RETURN(RefValue v, DecodeRef(*data, f, &name));
    if (name.rfind(kind + "/", 0) != 0) return Status::Corruption("ref file '" + f + "' is damaged (wrong kind)");
    out.emplace_back(name.substr(kind.size() + 1), v.id);
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<ObjectId> Repository::ResolveRevision(std::string_view rev, int64_t now_ns) const {
  std::string base, ops, when;
  bool has_time = false;
  size_t at = rev.find("@{");
  if (at != std::string_view::npos) {
    size_t close = rev.find('}', at);
    if (close == std::string_view::npos) {
      return Status::InvalidArgument("malformed revision '" + std::string(rev) + "': missing '}'");
    }
    base = rev.substr(0, at);
    when = rev.substr(at + 2, close - at - 2);
    ops = rev.substr(close + 1);
    has_time = true;
    if (!ops.empty() && ops[0] != '~' && ops[0] != '^') {
      return Status::InvalidArgument("malformed revision '" + std::string(rev) + "'");
    }
  } else {
    size_t op = rev.find_first_of("~^");
    base = rev.substr(0, op);
    ops = op == std::string_view::npos ? "" : rev.substr(op);
  }
  if (base.empty()) return Status::InvalidArgument("empty revision in '" + std::string(rev) + "'");

  std::optional<ObjectId> id;
  if (base == "latest" || base == "HEAD") {
    std::string ref = "branches/" + std::string(kDefaultBranch);
    CAIRN_ASSIGN_OR_RETURN(id, ReadRef(ref));
    if (!id) return Status::NotFound("branch '" + std::string(kDefaultBranch) + "' has no snapshots yet");
  } else if (base.rfind("branches/", 0) == 0 || base.rfind("tags/", 0) == 0) {
    CAIRN_ASSIGN_OR_RETURN(id, ReadRef(base));
    if (!id) return Status::NotFound("unknown ref '" + base + "'");
  } else if (ValidRefName(base)) {
    CAIRN_ASSIGN_OR_RETURN(id, ReadRef("branches/" + base));
    if (!id) {
      CAIRN_ASSIGN_OR_RETURN(id, ReadRef("tags/" + base));
    }
  }
  if (id) {
    // A ref that names a snapshot file that is not there is damage (the
    // ref is intact, its snapshot lost), not an unknown name.
    auto st = backend_->Stat(objstore::SnapshotName(*id));
    if (!st.ok() && st.status().IsNotFound()) {
      std::string ref = base == "latest" || base == "HEAD" ? "branches/" + std::string(kDefaultBranch) : base;
      return Status::Corruption("'" + ref + "' points to snapshot " + id->ShortHex() +
                                ", which is missing from the repository; run 'cairn check'");
    }
    if (!st.ok()) return st.status();
  }
  if (!id && IsFullHex(base)) {
    CAIRN_ASSIGN_OR_RETURN(auto m, index_->SnapshotsWithPrefix(base));
    if (m.empty()) {
      auto full = ObjectId::FromHex(base);
      if (full.ok()) return ReadStoredSnapshot(*full).status();  // NotFound, saying if it is in the trash
      return Status::NotFound("no snapshot " + base);
    }
    id = m[0];
  } else if (!id && base.size() >= 4 && IsHexPrefix(base)) {
    CAIRN_ASSIGN_OR_RETURN(auto m, index_->SnapshotsWithPrefix(base));
    if (m.empty()) {
      CAIRN_ASSIGN_OR_RETURN(auto t, TrashWithPrefix(base));
      if (t.size() == 1) return ReadStoredSnapshot(t[0]).status();  // says where it went
      return Status::NotFound("no snapshot id starts with '" + base + "'");
    }
    if (m.size() > 1) {
      std::string msg = "snapshot id prefix '" + base + "' is ambiguous; candidates:";
      for (const auto& c : m) msg += " " + c.ShortHex();
      return Status::Ambiguous(msg);
    }
    id = m[0];
  }
  if (!id) {
    return Status::NotFound("unknown revision '" + base +
                            "': not a branch, tag, snapshot id, or id prefix of at least 4 hex digits");
  }
  if (has_time) {
    if (now_ns == 0) {
      now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                   std::chrono::system_clock::now().time_since_epoch()).count();
    }
    CAIRN_ASSIGN_OR_RETURN(int64_t limit, ParseTime(when, now_ns));
    // The lineage: first parents, newest first.
    std::optional<ObjectId> child;  // the snapshot that named *id as its parent
    for (;;) {
      CAIRN_ASSIGN_OR_RETURN(Snapshot s, child ? ReadParentSnapshot(*child, *id) : ReadSnapshot(*id));
      if (s.time_ns <= limit) break;
      if (s.parents.empty()) {
        return Status::NotFound("'" + base + "' has no snapshot at or before " + objstore::FormatTime(limit));
      }
      child = *id;
      id = s.parents[0];
    }
  }
  // Ancestry operators, left to right: ~N (N-th first-parent ancestor), ^N
  // (N-th parent, ^0 the snapshot itself).
  std::optional<ObjectId> named_by;  // the snapshot whose parent *id is
  size_t i = 0;
  while (i < ops.size()) {
    char c = ops[i++];
    size_t j = i;
    while (j < ops.size() && ops[j] >= '0' && ops[j] <= '9') j++;
    if (j - i > 6) return Status::InvalidArgument("number too large in revision '" + std::string(rev) + "'");
    int n = j > i ? std::stoi(ops.substr(i, j - i)) : 1;
    i = j;
    if (i < ops.size() && ops[i] != '~' && ops[i] != '^') {
      return Status::InvalidArgument("malformed revision '" + std::string(rev) + "'");
    }
    if (c == '~') {
      for (int k = 0; k < n; k++) {
        CAIRN_ASSIGN_OR_RETURN(Snapshot s, named_by ? ReadParentSnapshot(*named_by, *id) : ReadSnapshot(*id));
        if (s.parents.empty()) {
          return Status::NotFound("revision '" + std::string(rev) + "' goes beyond the first snapshot");
        }
        named_by = *id;
        id = s.parents[0];
      }
    } else if (n > 0) {
      CAIRN_ASSIGN_OR_RETURN(Snapshot s, named_by ? ReadParentSnapshot(*named_by, *id) : ReadSnapshot(*id));
      if (static_cast<size_t>(n) > s.parents.size()) {
        return Status::NotFound("revision '" + std::string(rev) + "': snapshot " + id->ShortHex() +
                                " has " + std::to_string(s.parents.size()) + " parent(s)");
      }
      named_by = *id;
      id = s.parents[static_cast<size_t>(n - 1)];
    }
  }
  // A parent reached by ~ or ^ must be there: its absence is damage.
  if (named_by) CAIRN_RETURN_IF_ERROR(ReadParentSnapshot(*named_by, *id).status());
  return *id;
}

Result<Repository::PathTarget> Repository::ResolvePath(std::string_view spec) const {
  // REV:PATH splits at the first ':' that is not inside "@{...}".
  size_t colon = std::string_view::npos;
  int depth = 0;
  for (size_t i = 0; i < spec.size(); i++) {
    if (spec[i] == '{') depth++;
    if (spec[i] == '}') depth--;
    if (spec[i] == ':' && depth == 0) {
      colon = i;
      break;
    }
  }
  std::string_view rev = spec.substr(0, colon);
  std::string_view path = colon == std::string_view::npos ? "" : spec.substr(colon + 1);
  PathTarget t;
  CAIRN_ASSIGN_OR_RETURN(t.snapshot_id, ResolveRevision(rev));
  CAIRN_ASSIGN_OR_RETURN(t.snapshot, ReadSnapshot(t.snapshot_id));
  t.entry.type = objstore::EntryType::kDir;
  t.entry.mode = 0755;
  t.entry.subtree = t.snapshot.tree;
  t.entry.mtime_ns = t.snapshot.time_ns;
  if (t.snapshot.root) {  // the folder a single-folder backup was taken of
    const auto& m = *t.snapshot.root;
    t.entry.mode = m.mode;
    t.entry.uid = m.uid;
    t.entry.gid = m.gid;
    t.entry.user = m.user;
    t.entry.group = m.group;
    t.entry.mtime_ns = m.mtime_ns;
  }
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    std::string_view comp = path.substr(pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos);
    pos = slash == std::string_view::npos ? path.size() + 1 : slash + 1;
    if (comp.empty() || comp == ".") continue;
    if (comp == "..") return Status::InvalidArgument("path '" + std::string(path) + "' may not contain '..'");
    if (t.entry.type != objstore::EntryType::kDir) {
      return Status::NotFound("'" + t.path + "' is not a directory in snapshot " + t.snapshot_id.ShortHex());
    }
    CAIRN_ASSIGN_OR_RETURN(Tree tree, ReadTree(t.entry.subtree));
    const TreeEntry* found = objstore::FindEntry(tree, comp);
    if (!t.path.empty()) t.path += "/";
    t.path += comp;
    if (found == nullptr) {
      return Status::NotFound("path '" + t.path + "' does not exist in snapshot " + t.snapshot_id.ShortHex());
    }
    t.entry = *found;
  }
  return t;
}

Result<ObjectId> Repository::SaveSnapshot(const Snapshot& s) {
  std::string file = codec_->EncodeFile(objstore::FileType::kSnapshot, objstore::EncodeSnapshotPayload(s), false);
  ObjectId id = codec_->FileId(file);
  CAIRN_RETURN_IF_ERROR(backend_->Put(objstore::SnapshotName(id), file));
  CAIRN_RETURN_IF_ERROR(index_->PutSnapshot(id, file));
  return id;
}

Result<Repository::Adopted> Repository::AdoptPacksOfDeadBackups() {
  Adopted out;
  // A write-only key can neither verify another backup's packs nor (under
  // a policy that denies DeleteObject) remove a session: a full-key backup
  // or prune does both.
  if (write_only()) return out;
  CAIRN_ASSIGN_OR_RETURN(auto sessions,
                         objstore::ListSessions(backend_.get(), RefLockOptions().stale_after, own_session_));
  std::vector<std::string> dead, released;
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  for (const auto& ses : sessions) {
    // Copy writes packs the way backup does (repo/copy.cc).
    if (ses.name.find("session-backup-") == std::string::npos && ses.name.find("session-copy-") == std::string::npos) {
      continue;
    }
    if (ses.released) {
      released.push_back(ses.name);  // ended, its packs indexed: only the object is left
    } else if (!ses.dead.empty()) {
      dead.push_back(ses.name);
    } else if (ses.holder.pid != ::getpid() || ses.holder.host != host) {
      return out;  // another backup is running: its packs may not be indexed yet
    }
  }
  for (const auto& r : released) {
    Status st = backend_->Remove(r);
    if (!st.ok() && !st.IsNotFound()) return st;
  }
  if (dead.empty()) return out;
  std::set<ObjectId> indexed;
  CAIRN_RETURN_IF_ERROR(
      index_->ForEachBlob([&](const ObjectId&, const index::BlobLocation& loc) { indexed.insert(loc.pack_id); }));
  std::vector<std::string> names;
  CAIRN_RETURN_IF_ERROR(backend_->List("data/", [&](const std::string& n, uint64_t) { names.push_back(n); }));
  std::vector<objstore::PackRecord> records;
  for (const auto& n : names) {
    auto id = ObjectId::FromHex(Basename(n));
    if (!id.ok() || objstore::PackName(*id) != n || indexed.count(*id) || PackCondemned(*id)) continue;
    auto data = backend_->Get(n);
    if (!data.ok()) {
      if (data.status().IsNotFound()) continue;  // removed meanwhile
      return data.status();
    }
    auto verified = codec_->VerifyPack(*data, *id, n);
    if (!verified.errors.empty()) continue;  // not trusted: prune removes it
    objstore::PackRecord rec;
    rec.pack_id = *id;
    rec.pack_size = data->size();
    rec.entries = std::move(verified.entries);
    out.packs++;
    out.blobs += rec.entries.size();
    out.bytes += rec.pack_size;
    records.push_back(std::move(rec));
  }
  if (!records.empty()) {
    // The index file is durable before the sessions that told of the packs go.
    std::string file = codec_->EncodeFile(objstore::FileType::kIndex, objstore::EncodeIndexPayload(records), true);
    std::string name = codec_->FileId(file).ToHex();
    CAIRN_RETURN_IF_ERROR(backend_->Put("index/" + name, file));
    CAIRN_RETURN_IF_ERROR(index_->AddPacks(name, records));
  }
  for (const auto& d : dead) {
    Status st = backend_->Remove(d);
    if (!st.ok() && !st.IsNotFound()) return st;
  }
  return out;
}

Status Repository::RebuildIndexFromPacks(std::vector<std::string>* problems, size_t* packs,
                                         size_t* blobs) {
  std::vector<std::string> names;
  CAIRN_RETURN_IF_ERROR(backend_->List("data/", [&](const std::string& n, uint64_t) { names.push_back(n); }));
  std::sort(names.begin(), names.end());
  std::vector<objstore::PackRecord> records;
  *blobs = 0;
  for (const auto& n : names) {
    auto id = ObjectId::FromHex(Basename(n));
    if (!id.ok() || objstore::PackName(*id) != n) {
      problems->push_back("'" + n + "' is not named like a pack; left out");
      continue;
    }
    // Trust nothing: the whole pack must match its name and every blob its
    // id before any of it is indexed.
    auto data = backend_->Get(n);
    if (!data.ok()) {
      problems->push_back(data.status().message() + "; its blobs are left out of the index");
      continue;
    }
    auto verified = codec_->VerifyPack(*data, *id, n);
    if (!verified.errors.empty()) {
      problems->push_back(verified.errors.front() +
                          (verified.errors.size() > 1
                               ? " (and " + std::to_string(verified.errors.size() - 1) + " more problem(s))"
                               : "") +
                          "; the pack is left out of the index");
      continue;
    }
    objstore::PackRecord rec;
    rec.pack_id = *id;
    rec.pack_size = data->size();
    rec.entries = std::move(verified.entries);
    *blobs += rec.entries.size();
    records.push_back(std::move(rec));
  }
  *packs = records.size();
  std::vector<std::string> old;
  CAIRN_RETURN_IF_ERROR(backend_->List("index/", [&](const std::string& n, uint64_t) { old.push_back(n); }));
  // New index file first, then remove the old ones: a crash in between
  // leaves duplicates, never a gap.
  std::string file = codec_->EncodeFile(objstore::FileType::kIndex, objstore::EncodeIndexPayload(records), true);
  std::string name = codec_->FileId(file).ToHex();
  CAIRN_RETURN_IF_ERROR(backend_->Put("index/" + name, file));
  for (const auto& o : old) {
    if (Basename(o) != name) CAIRN_RETURN_IF_ERROR(backend_->Remove(o));
  }
  Status cleared = index_->ClearBlobs();
  if (cleared.code() == Code::kCorruption) {
    // LMDB's own pages are damaged (dropping a table walks them): the local
    // index is made anew and fills from the index files (the new one alone
    // now); its file-change cache goes too, so the next backup reads every
    // file once more (and stores nothing new).
    Message("the local index '" + cache_file_ + "' was damaged inside LMDB's pages; made a new one");
    return RecreateLocalIndex();
  }
  CAIRN_RETURN_IF_ERROR(cleared);
  return index_->AddPacks(name, records);
}

}  // namespace cairn::repo
