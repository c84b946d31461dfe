// SPDX-License-Identifier: MIT
//
// Bundles (docs/format.md#bundles, docs/cli.md#bundle): one file that
// carries snapshots, their trees and chunks, tags and branches from one
// repository to any other, sealed with a key of its own (a password or a
// key file given at create time), never with either repository's keys.
//
//   file    = header | record* ;  record = u32 length | sealed bytes
//   record 0: the manifest (JSON, validated against BundleManifestSchema);
//   records 1..n: the objects the manifest lists, in its order;
//   the last record: the end (object count and manifest hash).
//
// Objects are named by the SHA-256 of their plaintext, whatever the source
// repository's hasher, so any receiver can verify them; trees are
// re-encoded to name their chunks and subtrees that way. A thin bundle
// (--since BASE) leaves out the chunks BASE holds and says where in BASE
// (snapshot, path, offset) the receiver finds each one.

#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "objstore/crypto.h"
#include "repo/approval.h"
#include "repo/blob_writer.h"
#include "repo/copy.h"
#include "repo/repository.h"

namespace cairn::repo {

// The manifest's JSON Schema (draft 2020-12), as docs/ publishes it.
const char* BundleManifestSchema();
inline constexpr int kBundleSchemaVersion = 1;
inline constexpr int kBundleFormatVersion = 1;

// What seals a bundle: a password (stretched with Argon2id at this cost)
// or a key file's secret.
struct BundleKey {
  bool key_file = false;
  objstore::crypto::SecretBytes secret;
  uint64_t opslimit = objstore::crypto::kDefaultOps;
  uint64_t memlimit = objstore::crypto::kDefaultMem;
};

struct BundleRef {
  std::string name;
  ObjectId snapshot;       // creating: the source's id; in a Bundle: the origin
  std::string annotation;  // tags: the JSON text the ref keeps ("" for none)
};

struct BundleCreateOptions {
  std::vector<ObjectId> snapshots;  // with their ancestors, minus what `since` reaches
  std::vector<ObjectId> since;      // the receiver has these and their ancestors
  std::vector<BundleRef> tags, branches;
  std::string cairn_version;
  std::atomic<uint64_t>* bytes_done = nullptr;
};

struct BundleCreateResult {
  size_t snapshots = 0, objects = 0, required_snapshots = 0, required_objects = 0;
  uint64_t object_bytes = 0;  // plaintext bytes of the objects inside
  uint64_t file_bytes = 0;
  std::string hash;  // the manifest's
};

// Writes the bundle to `path` (a temporary name, fsynced, then renamed).
// AlreadyExists if `path` exists.
Result<BundleCreateResult> CreateBundle(const Repository& src, const std::string& path, const BundleKey& key,
                                        const BundleCreateOptions& o);

// An opened bundle: its header read, its key derived, its manifest checked
// against the schema and for sense (hash, references, order, no cycle),
// and every object read, opened and verified against its id and size.
class Bundle {
 public:
  // `key(key_file)` gives the secret when the header says what kind it is.
  // Corruption (naming the place) for anything damaged, truncated or
  // invalid; WrongKey when the secret does not open it; NotSupported for a
  // newer version.
  static Result<std::unique_ptr<Bundle>> Open(const std::string& path,
                                              const std::function<Result<BundleKey>(bool key_file)>& key);
  ~Bundle();

  struct Snap {
    ObjectId id;  // the origin (docs/format.md#snapshots)
    Snapshot s;   // tree and parents in bundle naming (parents: origins)
  };
  struct Required {
    ObjectId id;
    uint64_t size = 0;
    ObjectId snapshot;  // origin of the snapshot that holds it
    std::string path;   // exact bytes
    uint64_t offset = 0;
  };
  const nlohmann::json& manifest() const { return manifest_; }
  const std::vector<Snap>& snapshots() const { return snaps_; }  // parents first
  const std::vector<BundleRef>& tags() const { return tags_; }
  const std::vector<BundleRef>& branches() const { return branches_; }
  const std::vector<ObjectId>& required_snapshots() const { return req_snaps_; }
  const std::vector<Required>& required_objects() const { return req_objs_; }
  size_t object_count() const { return objects_.size(); }
  uint64_t object_bytes() const { return object_bytes_; }
  uint64_t file_bytes() const { return file_bytes_; }
  // The plaintext of object `id` (verified again). NotFound if the bundle
  // does not contain it.
  Result<std::string> ReadObject(const ObjectId& id) const;
  bool Contains(const ObjectId& id) const { return objects_.count(id) != 0; }
  const Required* FindRequired(const ObjectId& id) const;

 private:
  Bundle() = default;
  struct Where {
    uint64_t offset = 0;  // of the record's length field
    uint32_t length = 0;  // of the sealed bytes
    uint64_t index = 0;
    uint8_t type = 0;
    uint64_t size = 0;
  };
  Result<std::string> OpenRecord(const Where& w) const;

  int fd_ = -1;
  std::string path_;
  std::string header_;
  objstore::crypto::SecretBytes key_;
  nlohmann::json manifest_;
  std::vector<Snap> snaps_;
  std::vector<BundleRef> tags_, branches_;
  std::vector<ObjectId> req_snaps_;
  std::vector<Required> req_objs_;
  std::map<ObjectId, size_t> req_index_;
  std::map<ObjectId, Where> objects_;
  uint64_t object_bytes_ = 0, file_bytes_ = 0;
};

struct ImportOptions {
  std::string branch_prefix;  // prepended to every branch name the bundle brings
  bool dry_run = false;       // validate against the target and report; write nothing
  bool force = false;         // move conflicting refs (after approval, risk high)
  unsigned threads = 0;
  std::atomic<uint64_t>* bytes_done = nullptr;
};

struct ImportResult {
  std::vector<CopiedSnapshot> snapshots;  // source: the origin; target: zero in a dry run
  struct Ref {
    std::string ref;
    ObjectId target;
    std::string result;  // created | updated | unchanged | moved (--force) | would …
  };
  std::vector<Ref> refs;
  BlobWriter::Stats written;
  uint64_t required_bytes = 0;  // read from the target for a thin bundle
};

// Imports `b` into `dst`. Everything is checked against the target before
// anything is written (required snapshots and objects, ref conflicts);
// then all blobs are stored, then the snapshots, parents first, then the
// refs, so a failure before the snapshots leaves nothing visible.
// NotFound names a required snapshot or object the target lacks;
// AlreadyExists a ref that differs in the target (without force).
Result<ImportResult> ImportBundle(const Bundle& b, Repository* dst, const ImportOptions& o, Approver* approver);

// Percent-encoding of path bytes for the manifest: bytes outside printable
// ASCII, and '%', as %XX. Exact both ways.
std::string EncodeManifestPath(std::string_view path);
Result<std::string> DecodeManifestPath(std::string_view text);

}  // namespace cairn::repo
