// SPDX-License-Identifier: MIT
//
// Repository: one cairn repository: its config, its backend, its object
// codec and id hasher, its local index (in a local cache folder), and the
// object graph on top (blobs, trees, snapshots, refs, revisions). Every
// command goes through here. It reaches storage only through its Backend.
//
// Thread safety: the const methods (reads, revisions, refs) may be called
// from many threads at once; UpdateRef and DeleteRef may too (they take the
// repository's "refs" lock). SaveSnapshot, Refresh and
// RebuildIndexFromPacks must not run concurrently with other calls on the
// same Repository object. Several processes may use one repository at once:
// objects are immutable, refs change by compare-and-swap under a lock.
//
// Write order (crash safety, docs/architecture.md): packs, then index files,
// then the snapshot file, then the ref. A crash at any point leaves at most
// unreferenced packs or blobs, never a ref to missing data.

#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "index/index.h"
#include "objstore/backend.h"
#include "objstore/codec.h"
#include "objstore/config.h"
#include "objstore/core/object_id.h"
#include "objstore/snapshot.h"
#include "objstore/tree.h"
#include "repo/keyring.h"
#include "repo/prune_plan.h"
#include "repo/trash.h"

namespace cairn::repo {

using objstore::BlobType;
using objstore::Snapshot;
using objstore::Tree;
using objstore::TreeEntry;

inline constexpr std::string_view kDefaultBranch = "main";

class Repository {
 public:
  // Creates a repository in `backend` (Backend::Create, the first key slot
  // of an encrypted one, then the config, last: its presence is what makes
  // a repository). An encrypted config (config.encrypted()) needs `key`;
  // a fresh master secret is made and wrapped by it. AlreadyExists if a
  // repository or anything else is there.
  static Status Init(objstore::Backend* backend, const objstore::RepoConfig& config, const NewKey* key = nullptr);
  // The same at a location string (repo/location.h): a local folder that
  // must not exist or be empty. InvalidArgument for a remote scheme.
  static Status Init(const std::string& location, const objstore::RepoConfig& config, const NewKey* key = nullptr);

  // Opens the repository in `backend`, with its local index in the folder
  // `cache_dir` (created if missing), and brings the index up to date. An
  // encrypted repository is unlocked through `access` first (WrongKey if
  // it opens no slot). NotFound if there is no repository there;
  // Corruption if its config is damaged or was changed; NotSupported if it
  // is of a newer format.
  static Result<std::unique_ptr<Repository>> Open(std::unique_ptr<objstore::Backend> backend,
                                                  const std::string& cache_dir, const KeyAccess& access = {});
  // The same at a location string; the cache folder comes from the location
  // (inside an unencrypted local repository; UserCacheDir for an encrypted
  // one).
  static Result<std::unique_ptr<Repository>> Open(const std::string& location, const KeyAccess& access = {});

  // Picks up what other processes wrote since Open (or the last Refresh):
  // new index files, new and removed snapshots. Refs are always read fresh.
  Status Refresh();

  const objstore::RepoConfig& config() const { return config_; }
  objstore::Backend* backend() const { return backend_.get(); }
  index::Index* index() const { return index_.get(); }
  // Compressing, checksumming and hashing of every stored object.
  const objstore::ObjectCodec& codec() const { return *codec_; }

  // The packs index file `name` ("index/HEX", whose id is `id`) lists,
  // from its bytes `data`: opened, verified against its name and decoded.
  // A file that fails verification is an error starting "index file ".
  Result<std::vector<objstore::PackRecord>> DecodeIndexFile(std::string_view data, const ObjectId& id,
                                                           const std::string& name) const;
  const objstore::IdHasher& hasher() const { return *hasher_; }
  bool encrypted() const { return keys_ != nullptr; }
  // The key slot that opened an encrypted repository ("" otherwise).
  const std::string& key_slot() const { return key_slot_; }
  // The key in use is a write-only host key: it can back up and list
  // snapshots, not read content or delete (docs/security.md).
  bool write_only() const { return keys_ != nullptr && keys_->write_only(); }
  void set_key_slot(std::string id) { key_slot_ = std::move(id); }
  // The local cache folder in use.
  const std::string& cache_dir() const { return cache_dir_; }
  // The location as given (for messages).
  const std::string& location() const { return location_; }
  // Problems met while opening or refreshing (damaged index or snapshot
  // files skipped).
  const std::vector<std::string>& warnings() const { return warnings_; }
  // Snapshot files found damaged (unreadable or not decoding) while the
  // local index was brought up to date: each warned about once, and left
  // out of every listing.
  size_t damaged_snapshots() const { return damaged_snapshots_.size(); }
  // Where messages met later go (a stale lock broken, waiting for a lock);
  // by default they are added to warnings().
  void set_on_message(std::function<void(const std::string&)> fn) { on_message_ = std::move(fn); }
  // How long a ref update waits for a live holder of the "refs" lock before
  // it fails with Busy (default 60 s).
  void set_lock_wait(std::chrono::milliseconds wait) { lock_wait_ = wait; }

  // --- Reading (every read is verified against the id) ---

  // Where blob `id` lives, per the local index. A record the local index
  // cannot decode (damage in the cache, not the repository) makes the
  // blob table be rebuilt from the index files once, and the lookup asked
  // again.
  Result<std::optional<index::BlobLocation>> Locate(const ObjectId& id) const;

  // Returns the plaintext of blob `id`. NotFound if the index does not know
  // it; Corruption if the stored bytes do not hash to `id` or do not
  // decompress; the message names the pack.
  Result<std::string> ReadBlob(const ObjectId& id) const;
  Result<std::string> ReadBlob(const index::BlobLocation& loc) const;
  // Corruption when `id` is missing or is not a tree (whoever named it is
  // damaged).
  Result<Tree> ReadTree(const ObjectId& id) const;
  // OK if hard-link entry `e`, at `path` in the snapshot whose root tree is
  // `root`, names a file of that snapshot holding the content it records
  // (size and chunks); Corruption naming `path` if it names nothing, a
  // folder, a symlink, another hard link (itself included) or other
  // content; a read error as it is.
  Status CheckHardlinkTarget(const ObjectId& root, const std::string& path, const TreeEntry& e) const;
  // NotFound if there is no such snapshot (the message says so when it is
  // in the trash); Corruption if damaged. Parents that forget or delete
  // removed are replaced by their nearest kept ancestors (through the
  // trash records, see repo/trash.h), so every walk of the graph sees
  // only kept snapshots; ReadStoredSnapshot gives the parents as stored.
  // Of a remote repository both read the snapshot catalog of the local
  // index (synced at the open) unless `from_store`, as `check` asks.
  Result<Snapshot> ReadSnapshot(const ObjectId& id, bool from_store = false) const;
  Result<Snapshot> ReadStoredSnapshot(const ObjectId& id, bool from_store = false) const;
  // ReadSnapshot of a parent that snapshot `child` names: a parent that is
  // missing is damage (Corruption, naming both), not an unknown revision.
  Result<Snapshot> ReadParentSnapshot(const ObjectId& child, const ObjectId& parent) const;
  // All snapshots, oldest first.
  Result<std::vector<std::pair<ObjectId, Snapshot>>> ListSnapshots() const;

  // --- Trash (repo/trash.h, docs/gc.md) ---

  // Moves snapshot `id` to the trash: writes its record first, then
  // removes snapshots/ID (a crash in between leaves it live). The caller
  // checks that no ref points at it.
  Status TrashSnapshot(const ObjectId& id, const std::string& reason, int64_t now_ns, int64_t expires_ns);
  // Puts a recoverable trashed snapshot back (snapshots/ID first, then the
  // record goes). NotFound if it is not in the trash, or if
  // its data was purged (NotFound then says so).
  Status Undelete(const ObjectId& id);
  // Every trash record, recoverable and purged, oldest removal first.
  // Damaged records are left out with a warning.
  Result<std::vector<TrashRecord>> ListTrash() const;
  // The record of `id`, or std::nullopt if it has none.
  Result<std::optional<TrashRecord>> ReadTrash(const ObjectId& id) const;
  // Replaces a record (prune marks records purged). Removes a stale record
  // of a snapshot that is live again (a crash inside Undelete).
  Status PutTrash(const TrashRecord& r);
  Status RemoveTrash(const ObjectId& id);
  // The trash records whose id starts with `hex_prefix`.
  Result<std::vector<ObjectId>> TrashWithPrefix(std::string_view hex_prefix) const;

  // --- Sessions and prune plans (docs/gc.md) ---

  // Announces a backup, restore or check (objstore::BeginSession), then
  // reads the pending prune plans (Condemned() answers from them) and
  // refreshes the index. The session lasts as long as the returned object.
  Result<std::unique_ptr<objstore::BackendLock>> BeginSession(std::string_view kind);
  // True if a pending prune plan, as read by the last BeginSession,
  // condemned blob `id`: a writer must store it again rather than rely on it.
  bool Condemned(const ObjectId& id) const {
    return !condemned_.empty() && condemned_.count(id) != 0;
  }
  // True if a pending plan (as read by the last BeginSession, or added by
  // the prune running in this process) condemned pack `id`: a writer must
  // not produce a pack of that name (BlobWriter).
  bool PackCondemned(const ObjectId& id) const {
    std::lock_guard<std::mutex> l(condemned_mu_);
    return condemned_packs_.count(id) != 0;
  }
  void AddCondemnedPacks(const std::vector<ObjectId>& ids) {
    std::lock_guard<std::mutex> l(condemned_mu_);
    condemned_packs_.insert(ids.begin(), ids.end());
  }
  // Every prune plan in the repository (damaged ones are an error: prune
  // cannot proceed past them).
  Result<std::vector<PrunePlan>> ListPrunePlans() const;

  // --- Refs: "branches/NAME", "tags/NAME" ---

  // std::nullopt if the ref does not exist.
  Result<std::optional<ObjectId>> ReadRef(const std::string& ref) const;
  // The ref's target and annotation ("" if none).
  struct RefValue {
    ObjectId id;
    std::string annotation;
  };
  Result<std::optional<RefValue>> ReadRefValue(const std::string& ref) const;
  // Points `ref` at `new_id` if it currently points at `expected`
  // (std::nullopt: must not exist), with an optional annotation (a JSON
  // object kept on the ref's second line; tags use it). Conflict, and
  // nothing written, otherwise.
  Status UpdateRef(const std::string& ref, const std::optional<ObjectId>& expected,
                   const ObjectId& new_id, const std::string& annotation = "");
  // Removes `ref` if it points at `expected`. Conflict otherwise; NotFound
  // if it does not exist.
  Status DeleteRef(const std::string& ref, const ObjectId& expected);

  // All refs under "branches/" or "tags/", sorted by name.
  Result<std::vector<std::pair<std::string, ObjectId>>> ListRefs(const std::string& kind) const;

  // --- Revisions ---

  // Resolves a revision to a snapshot id: "latest"/"HEAD", a branch or tag
  // name, a full id, a unique id prefix of at least 4 hex digits; then
  // optionally @{TIME} (the newest snapshot of that lineage, following
  // first parents, at or before TIME; see timespec.h) and any sequence of
  // ~N, ^ or ^N. NotFound for an unknown name, Ambiguous for a prefix that
  // matches several snapshots (the message lists them), InvalidArgument for
  // a malformed revision or time. `now_ns` anchors relative times (0: now).
  Result<ObjectId> ResolveRevision(std::string_view rev, int64_t now_ns = 0) const;

  // Resolves "REV" or "REV:PATH" to the snapshot and the entry at PATH (for
  // the root, a directory entry whose subtree is the root tree).
  struct PathTarget {
    ObjectId snapshot_id;
    Snapshot snapshot;
    TreeEntry entry;
    std::string path;  // normalized, "" for the root
  };
  Result<PathTarget> ResolvePath(std::string_view rev_and_path) const;

  // Writes snapshot `s` (after everything it references is durable) and
  // adds it to the catalog. Returns its id.
  Result<ObjectId> SaveSnapshot(const Snapshot& s);

  // What a backup (or copy) killed before its index file was written left
  // behind: packs in data/ that no index file names. When a backup or copy
  // session of a dead process is found and no other is running, every such pack
  // (not condemned by a pending prune plan) is read whole and verified, and
  // one new index file names the good ones, so the backup that follows
  // deduplicates against them instead of storing their blobs again; then
  // the dead backup sessions are removed. Damaged packs are left for prune.
  struct Adopted {
    size_t packs = 0, blobs = 0;
    uint64_t bytes = 0;
  };
  Result<Adopted> AdoptPacksOfDeadBackups();

  // Rebuilds the local index from the packs alone: every pack is read whole
  // and verified against its name, its header parsed and every blob opened
  // and verified against its id; then one new index file covering the
  // verified packs is written and the old index files removed. A damaged
  // or foreign pack is reported in *problems and left out (never indexed).
  Status RebuildIndexFromPacks(std::vector<std::string>* problems, size_t* packs, size_t* blobs);

 private:
  Repository() = default;
  static Result<std::unique_ptr<Repository>> OpenImpl(
      std::unique_ptr<objstore::Backend> backend,
      const std::function<Result<std::string>(const objstore::RepoConfig&)>& cache_dir, const KeyAccess& access);
  // Brings the local index up to the index files listed now, and with
  // `snapshots` the snapshot catalog up to the snapshot files listed now.
  Status SyncIndex(bool snapshots = true);
  // The backend name of ref "branches/NAME": the same in an unencrypted
  // repository, "branches/<HMAC of the name>" in an encrypted one.
  std::string RefFile(const std::string& ref) const;
  // The name a ref file holds, or the error why it does not open.
  Result<RefValue> DecodeRef(std::string_view data, const std::string& file, std::string* name) const;
  // Opens a snapshot file: verified against *id unless id is null.
  Result<Snapshot> DecodeSnapshotFile(std::string_view file, const ObjectId* id, const std::string& name) const;
  void Message(const std::string& msg) const;
  // The ids that have a trash record (loaded on first use, dropped by
  // Refresh and by changes through this object).
  Result<std::set<ObjectId>> TrashIds() const;
  // True if `id` was removed (a trash record and no snapshot file).
  Result<bool> Removed(const ObjectId& id) const;
  Status SkipRemovedParents(Snapshot* s) const;
  Result<Snapshot> DecodeStoredSnapshot(std::string_view file, const ObjectId& id) const;
  objstore::LockOptions RefLockOptions();
  // Throws the local index away and builds a new one from the index files:
  // for damage inside LMDB's pages, which only shows when a page is read.
  Status RecreateLocalIndex();

  std::string location_;
  objstore::RepoConfig config_;
  std::unique_ptr<objstore::Backend> backend_;
  std::unique_ptr<objstore::RepoKeys> keys_;
  std::string key_slot_;
  std::string cache_dir_;
  std::string cache_file_;  // the local index (LMDB) this process opened
  // A private local index for this process (removed with the repository,
  // after index_ closes): when the shared one is held by a process with the
  // same process id in another PID namespace.
  struct PrivateCache {
    std::string dir;
    ~PrivateCache();
  } private_cache_;
  std::unique_ptr<objstore::IdHasher> hasher_;
  std::unique_ptr<objstore::ObjectCodec> codec_;
  std::unique_ptr<index::Index> index_;
  std::unordered_set<ObjectId, ObjectIdHash> condemned_;
  mutable std::mutex condemned_mu_;  // condemned_packs_
  std::unordered_set<ObjectId, ObjectIdHash> condemned_packs_;
  mutable std::mutex trash_mu_;  // trash_ids_
  // The local index is derived data: when a blob read through it fails
  // (no such blob, a wrong place, bytes that do not verify), its blob
  // table is rebuilt once from the repository's index files and the read
  // tried again, so a damaged cache is never reported as a damaged
  // repository. reload_mu_ guards reloaded_.
  bool ReloadBlobTable() const;
  Result<std::optional<index::BlobLocation>> LookupAgain(const ObjectId& id,
                                                         const std::optional<index::BlobLocation>& had) const;
  mutable std::mutex reload_mu_;
  mutable bool reloaded_ = false;
  mutable std::optional<std::set<ObjectId>> trash_ids_;
  std::string own_session_;  // "locks/session-…" of BeginSession, "" before
  mutable std::mutex message_mu_;  // warnings_, calls of on_message_
  mutable std::vector<std::string> warnings_;
  std::set<ObjectId> damaged_snapshots_;
  std::function<void(const std::string&)> on_message_;
  std::chrono::milliseconds lock_wait_{std::chrono::seconds(60)};
};

// True if `name` is a valid branch or tag name: [A-Za-z0-9._-], not
// starting with '.' or '-', no "..", not ending in ".lock", at most 200
// characters, and not a hex string of 4 or more digits (those are ids).
bool ValidRefName(std::string_view name);

}  // namespace cairn::repo
