// SPDX-License-Identifier: MIT
//
// Packs, index files and the common file header: the binary containers of a
// repository. See docs/format.md#packs, #index-files and #file-header for the
// byte layouts; the constants below are defined there.

#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "objstore/backend.h"
#include "objstore/core/object_id.h"
#include "objstore/core/status.h"

namespace cairn::objstore {

enum class BlobType : uint8_t { kData = 1, kTree = 2 };
const char* BlobTypeName(BlobType t);

class RepoKeys;
namespace crypto {
class SecretBytes;
}

// Blob flags (a bit set).
inline constexpr uint8_t kFlagZstd = 1;    // the (opened) bytes are a zstd frame
inline constexpr uint8_t kFlagSealed = 2;  // the stored bytes are sealed (encrypted repository)
inline constexpr uint8_t kFlagPackKey = 4;  // sealed under its pack's own key (a write-only host's pack)
inline constexpr uint8_t kKnownFlags = kFlagZstd | kFlagSealed | kFlagPackKey;

// Upper bounds a reader enforces before allocating (RELIABILITY R13).
inline constexpr uint32_t kMaxDataBlob = 16 * 1024 * 1024;  // the largest max chunk size
inline constexpr uint32_t kMaxTreeBlob = 64 * 1024 * 1024;

// Where one blob lives inside its pack.
struct PackEntry {
  ObjectId id;
  BlobType type = BlobType::kData;
  uint8_t flags = 0;
  uint64_t offset = 0;
  uint32_t stored_length = 0;  // bytes in the pack
  uint32_t raw_length = 0;     // bytes after decompression
};

// One pack and everything in it: the unit of an index file.
struct PackRecord {
  ObjectId pack_id;
  uint64_t pack_size = 0;
  std::vector<PackEntry> entries;
};

// Backend name of a pack: "data/ab/ab12…".
std::string PackName(const ObjectId& pack_id);

// Writes one pack to a temporary file in a staging folder, hashing it as it
// goes, so a pack never has to be held in memory. Not thread-safe.
class PackFileWriter {
 public:
  // Creates a new temporary pack file in `dir`. IOError if it cannot.
  static Result<std::unique_ptr<PackFileWriter>> Create(const std::string& dir);
  // Removes the temporary file unless Finish() succeeded.
  ~PackFileWriter();
  PackFileWriter(const PackFileWriter&) = delete;
  PackFileWriter& operator=(const PackFileWriter&) = delete;

  // Appends a blob whose stored bytes are `stored`. IOError on a write
  // failure (sticky: later calls return it too).
  Status Add(const ObjectId& id, BlobType type, uint8_t flags, std::string_view stored, uint32_t raw_length);
  uint64_t size() const { return size_; }
  bool empty() const { return entries_.empty(); }

  // Appends header and trailer (the header sealed with `keys` in an
  // encrypted repository, checksummed otherwise), fsyncs and closes the
  // file, and returns the pack's record (its id is the SHA-256 of the
  // file). The file stays at path() for the caller to store
  // (Backend::PutFile).
  Result<PackRecord> Finish(const RepoKeys* keys = nullptr);
  const std::string& path() const { return path_; }

 private:
  PackFileWriter(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  Status Write(std::string_view data);

  int fd_;
  std::string path_;
  uint64_t size_ = 0;
  Sha256Hasher hasher_;
  std::vector<PackEntry> entries_;
  Status error_;
  bool finished_ = false;
};

// Parses the header of a pack of `file_size` bytes whose last bytes are
// `tail` (at least kPackTrailerSize bytes; the whole header when
// *header_length says so). Two-step use: call with the trailer to learn
// *header_length, then with header+trailer. Returns Corruption, naming
// `name`, if anything is inconsistent. `keys` (null in an unencrypted
// repository) opens a sealed header; a sealed pack never parses without
// them, nor an unsealed one with them. A pack written by a write-only key
// holds its pack key sealed to the repository's box key: full keys open it
// (into *pack_key, when not null), write-only keys refuse (WriteOnly).
inline constexpr size_t kPackTrailerSize = 16;
Status ParsePackTrailer(std::string_view trailer, uint64_t file_size, const std::string& name,
                        uint32_t* header_length, const RepoKeys* keys = nullptr);
Result<std::vector<PackEntry>> ParsePackHeader(std::string_view header_and_trailer, uint64_t file_size,
                                               const std::string& name, const RepoKeys* keys = nullptr,
                                               crypto::SecretBytes* pack_key = nullptr);

// Parses the header of a whole pack file held in memory.
Result<std::vector<PackEntry>> ParsePackFile(std::string_view file, const std::string& name,
                                             const RepoKeys* keys = nullptr, crypto::SecretBytes* pack_key = nullptr);

// Reads and parses the header of pack `name` through `backend`.
Result<std::vector<PackEntry>> ReadPackHeader(Backend* backend, const std::string& name,
                                              const RepoKeys* keys = nullptr, crypto::SecretBytes* pack_key = nullptr);

// --- Common file header (index files, snapshots); see ObjectCodec ---

// kTrash: a forgotten snapshot (trash/ID); kPolicy: the retention policy
// (policy); kPrunePlan: a prune's pending sweep (prune/GEN). See docs/gc.md.
// kApprovalPolicy (approval-policy), kApproval (approvals/…), kAudit
// (audit/SEQ) and kAuditHead (audit/head): repo/approval.h, repo/audit.h.
// kGitMap (gitmap/ID): the commits a git export made, repo/git_interop.h.
enum class FileType : uint8_t {
  kIndex = 1,
  kSnapshot = 2,
  kRef = 3,
  kTrash = 4,
  kPolicy = 5,
  kPrunePlan = 6,
  kApprovalPolicy = 7,
  kApproval = 8,
  kAudit = 9,
  kAuditHead = 10,
  kGitMap = 11,
};
inline constexpr size_t kFileHeaderSize = 15;

// File header flags.
inline constexpr uint8_t kFileFlagZstd = 1;    // the (opened) payload is one zstd frame
inline constexpr uint8_t kFileFlagSealed = 2;  // the payload is sealed (encrypted repository)

// --- Index files ---

// The payload of an index file (ObjectCodec::EncodeFile frames it,
// compressed).
std::string EncodeIndexPayload(const std::vector<PackRecord>& packs);
// Decodes the payload of an index file. Corruption on any inconsistency,
// naming `name`.
Result<std::vector<PackRecord>> DecodeIndexPayload(std::string_view payload, const std::string& name);

}  // namespace cairn::objstore
