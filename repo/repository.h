// SPDX-License-Identifier: MIT
//
// Repository: one cairn repository: its config, its backend, its local
// index, and the object graph on top (blobs, trees, snapshots, refs,
// revisions). Every command goes through here.
//
// Write order (crash safety, docs/architecture.md): packs, then index files,
// then the snapshot file, then the ref. A crash at any point leaves at most
// unreferenced packs or blobs, never a ref to missing data.

#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "index/index.h"
#include "objstore/backend.h"
#include "objstore/config.h"
#include "objstore/core/object_id.h"
#include "objstore/snapshot.h"
#include "objstore/tree.h"

namespace cairn::repo {

using objstore::BlobType;
using objstore::Snapshot;
using objstore::Tree;
using objstore::TreeEntry;

inline constexpr std::string_view kDefaultBranch = "main";

class Repository {
 public:
  // Creates a repository at `path`, which must not exist or be an empty
  // folder. AlreadyExists if a repository or other files are there.
  static Status Init(const std::string& path, const objstore::RepoConfig& config);

  // Opens the repository at `path` and brings its local index up to date.
  // NotFound if there is no repository there; Corruption if its config is
  // damaged; NotSupported if it is of a newer format.
  static Result<std::unique_ptr<Repository>> Open(const std::string& path);

  const objstore::RepoConfig& config() const { return config_; }
  objstore::Backend* backend() const { return backend_.get(); }
  index::Index* index() const { return index_.get(); }
  const std::string& path() const { return path_; }
  // Problems met while opening (damaged index or snapshot files skipped).
  const std::vector<std::string>& warnings() const { return warnings_; }

  // --- Reading (every read is verified against the id) ---

  // Returns the plaintext of blob `id`. NotFound if the index does not know
  // it; Corruption if the stored bytes do not hash to `id` or do not
  // decompress; the message names the pack.
  Result<std::string> ReadBlob(const ObjectId& id) const;
  Result<std::string> ReadBlob(const index::BlobLocation& loc) const;
  Result<Tree> ReadTree(const ObjectId& id) const;
  // NotFound if there is no such snapshot; Corruption if damaged.
  Result<Snapshot> ReadSnapshot(const ObjectId& id) const;
  // All snapshots, oldest first.
  Result<std::vector<std::pair<ObjectId, Snapshot>>> ListSnapshots() const;

  // --- Refs: "branches/NAME", "tags/NAME" ---

  // std::nullopt if the ref does not exist.
  Result<std::optional<ObjectId>> ReadRef(const std::string& ref) const;
  // Points `ref` at `new_id` if it currently points at `expected`
  // (std::nullopt: must not exist), with an optional annotation (a JSON
  // object kept on the ref's second line; tags use it). Conflict, and
  // nothing written, otherwise.
  Status UpdateRef(const std::string& ref, const std::optional<ObjectId>& expected,
                   const ObjectId& new_id, const std::string& annotation = "");
  // Removes `ref` if it points at `expected`. Conflict otherwise; NotFound
  // if it does not exist.
  Status DeleteRef(const std::string& ref, const ObjectId& expected);

  struct TagInfo {
    ObjectId snapshot;
    std::string message, user;
    int64_t time_ns = 0;
  };
  // std::nullopt if there is no tag `name`.
  Result<std::optional<TagInfo>> ReadTag(const std::string& name) const;
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

  // Rebuilds the local index from the pack headers alone, writes one new
  // index file that covers every readable pack and removes the old index
  // files. Damaged packs are reported in *problems and left out.
  Status RebuildIndexFromPacks(std::vector<std::string>* problems, size_t* packs, size_t* blobs);

 private:
  Repository() = default;
  Status SyncIndex();

  std::string path_;
  objstore::RepoConfig config_;
  std::unique_ptr<objstore::Backend> backend_;
  std::unique_ptr<index::Index> index_;
  std::vector<std::string> warnings_;
};

// True if `name` is a valid branch or tag name: [A-Za-z0-9._-], not
// starting with '.' or '-', no "..", not ending in ".lock", at most 200
// characters, and not a hex string of 4 or more digits (those are ids).
bool ValidRefName(std::string_view name);

}  // namespace cairn::repo
