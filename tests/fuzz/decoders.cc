// SPDX-License-Identifier: MIT
//
// The fuzz targets: one for every decoder of untrusted bytes (Targets()
// below; tests/fuzz/README.md lists them). Each must return an error for
// bad input, never crash, assert, overflow or allocate without bound
// (RELIABILITY.md R13, case 35); where a decoder has an encoder, what
// decodes must encode back to what decodes the same.
//
// Built two ways: target_main.cc makes one libFuzzer program per target
// (CAIRN_FUZZ=ON, clang; scripts/fuzz.sh), and replay_main.cc makes
// cairn_fuzz_replay, which every test run uses to replay
// tests/fuzz/corpus/TARGET/ (gcc, no libFuzzer needed) so every input ever
// found stays a regression test.
//
// The decoders of sealed bytes (key slots, key files, the authenticated
// config, sealed index/snapshot/ref files, sealed blobs and packs) run with
// fixed keys (fixed_keys.h); their seeds are made by sealed_seeds.cc, since
// only bytes sealed under those keys get past authentication. The revision
// and audit targets run against a small repository in memory, made once.

#include "decoders.h"

#include <stdlib.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>

#include "fixed_keys.h"
#include "objstore/backend.h"
#include "objstore/codec.h"
#include "objstore/compress.h"
#include "objstore/config.h"
#include "objstore/core/bytes.h"
#include "objstore/keys.h"
#include "objstore/pack.h"
#include "objstore/snapshot.h"
#include "objstore/snapshot_json.h"
#include "objstore/tree.h"
#include "repo/approval.h"
#include "repo/audit.h"
#include "repo/backup.h"
#include "repo/bundle.h"
#include "repo/json_schema.h"
#include "repo/check.h"
#include "repo/exclude.h"
#include "repo/location.h"
#include "repo/prune_plan.h"
#include "repo/refs.h"
#include "repo/repository.h"
#include "repo/retention.h"
#include "repo/timespec.h"
#include "repo/trash.h"

namespace cairn::fuzz {
namespace {

using objstore::FileType;

const objstore::ObjectCodec& Codec() {
  static auto hasher = objstore::NewSha256Hasher();
  static objstore::ObjectCodec codec(hasher.get(), 3);
  return codec;
}

// The codec of an encrypted repository with the fixed keys.
const objstore::ObjectCodec& SealedCodec() {
  static auto hasher = objstore::NewHmacSha256Hasher(&FixedKeys());
  static objstore::ObjectCodec codec(hasher.get(), 3, &FixedKeys());
  return codec;
}

uint32_t U32(std::string_view s) {
  return static_cast<uint32_t>(static_cast<uint8_t>(s[0])) | static_cast<uint32_t>(static_cast<uint8_t>(s[1])) << 8 |
         static_cast<uint32_t>(static_cast<uint8_t>(s[2])) << 16 |
         static_cast<uint32_t>(static_cast<uint8_t>(s[3])) << 24;
}

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "fuzz: %s\n", what);
  __builtin_trap();
}

// A small repository in memory for the decoders that need one (revisions,
// audit entries): two snapshots on main, one on branch "side", tag "v1",
// two audit entries. Made once per process; the cache is a temporary
// folder, removed at exit.
repo::Repository& FuzzRepo() {
  static repo::Repository* r = [] {
    std::string tmpl = (std::filesystem::temp_directory_path() / "cairn-fuzz-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) Fail("mkdtemp");
    static std::string dir = tmpl;
    std::atexit([] { std::error_code ec; std::filesystem::remove_all(dir, ec); });
    auto store = objstore::NewMemoryBackend("memory:fuzz");
    if (!repo::Repository::Init(store.get(), objstore::NewRepoConfig()).ok()) Fail("init");
    auto opened = repo::Repository::Open(std::move(store), dir + "/cache");
    if (!opened.ok()) Fail("open");
    repo::Repository* repo = opened->release();
    std::filesystem::create_directories(dir + "/src");
    std::vector<ObjectId> snaps;
    for (int i = 0; i < 3; i++) {
      std::ofstream(dir + "/src/f") << "version " << i;
      repo::BackupOptions o;
      o.paths = {dir + "/src"};
      if (i == 2) o.branch = "side";
      auto res = repo::Backup(repo, o);
      if (!res.ok() || !res->snapshot_id) Fail("backup");
      snaps.push_back(*res->snapshot_id);
    }
    repo::TagOptions to;
    if (!repo::CreateOrMoveTag(*repo, "v1", snaps[0], to, nullptr).ok()) Fail("tag");
    for (int i = 0; i < 2; i++) {
      if (!repo::AppendAudit(repo, {{"operation", "fuzz"}, {"n", i}}).ok()) Fail("audit");
    }
    return repo;
  }();
  return *r;
}

// --- plain decoders ---

void Tree(std::string_view in) {
  auto t = objstore::DecodeTree(in, ObjectId());
  // Whatever decodes must encode back to the same bytes (canonical).
  if (t.ok() && objstore::EncodeTree(*t) != in) Fail("a decoded tree encodes to other bytes");
}

void PackHeader(std::string_view in) { (void)objstore::ParsePackHeader(in, in.size(), "fuzz"); }

void IndexFile(std::string_view in) {
  if (auto p = Codec().DecodeFile(in, FileType::kIndex, nullptr, "fuzz"); p.ok()) {
    (void)objstore::DecodeIndexPayload(*p, "fuzz");
  }
}

void SnapshotFile(std::string_view in) {
  if (auto p = Codec().DecodeFile(in, FileType::kSnapshot, nullptr, "fuzz"); p.ok()) {
    (void)objstore::DecodeSnapshotPayload(*p, "fuzz");
  }
}

void Config(std::string_view in) { (void)objstore::DecodeConfig(in); (void)objstore::DecodeConfigHead(in); }

// Lock objects, which other hosts write.
void Lock(std::string_view in) { (void)objstore::DecodeLockHolder(in); }

void TagAnnotation(std::string_view in) {
  repo::TagAnnotation a = repo::DecodeTagAnnotation(in);
  // What decodes encodes to a line that decodes the same.
  repo::TagAnnotation b = repo::DecodeTagAnnotation(repo::EncodeTagAnnotation(a));
  if (repo::EncodeTagAnnotation(b) != repo::EncodeTagAnnotation(a)) Fail("a tag annotation does not round-trip");
}

void Decompress(std::string_view in) {
  if (in.size() < 3) return;
  // Declared length: at most 1 MiB, so a bomb cannot allocate more.
  size_t raw = (static_cast<uint8_t>(in[0]) | static_cast<uint8_t>(in[1]) << 8 |
                (static_cast<uint8_t>(in[2]) & 0x0f) << 16);
  auto frame = (in[2] & 0x10) ? objstore::ZstdFrame::kStandard : objstore::ZstdFrame::kBare;
  auto out = objstore::Decompress(in.substr(3), raw, frame);
  if (out.ok() && out->size() != raw) Fail("decompressed to a length other than the declared one");
}

// A flag byte (bit 0: the path is a folder), the pattern, '\n', the path.
void Exclude(std::string_view in) {
  if (in.empty()) return;
  bool is_dir = in[0] & 1;
  in.remove_prefix(1);
  size_t nl = in.find('\n');
  std::string_view pat = in.substr(0, nl == std::string_view::npos ? in.size() : nl);
  std::string_view path = nl == std::string_view::npos ? "" : in.substr(nl + 1);
  if (pat.size() > 64 || path.size() > 256) return;  // the matcher backtracks; real patterns are short
  repo::ExcludeRule rule;
  if (repo::ParseExcludeRule(pat, "", &rule)) (void)repo::Excluded({rule}, std::string(path), is_dir);
}

void Time(std::string_view in) { (void)repo::ParseTime(in, 1790000000000000000); }
void DataSubset(std::string_view in) { (void)repo::ParseDataSubset(in); }
void Location(std::string_view in) { (void)repo::ParseLocation(in); }

// The small values of the command line: sizes, durations, risk levels.
void SizeDuration(std::string_view in) {
  (void)repo::ParseSize(in);
  (void)repo::ParseDuration(in);
  (void)repo::ParseRisk(in);
}

void Varint(std::string_view in) {
  uint64_t v;
  int64_t sv;
  Reader r(in);
  while (r.GetVarint(&v) || r.GetSignedVarint(&sv)) {
  }
}

// Plan files (approvals), which a user may bring from elsewhere.
void PlanFile(std::string_view in) {
  auto p = repo::DecodePlanFile(in, "fuzz.plan");
  if (!p.ok()) return;
  auto again = repo::DecodePlanFile(repo::EncodePlanFile(*p), "fuzz.plan");
  if (!again.ok() || again->hash != p->hash) Fail("a decoded plan does not round-trip");
}

// Revisions, resolved in a small repository (names, prefixes, ~N, ^N, @{TIME}).
void Revision(std::string_view in) {
  if (in.size() > 256) return;
  (void)FuzzRepo().ResolveRevision(in, 1790000000000000000);
  (void)FuzzRepo().ResolvePath(in);
}

// An audit entry in the place of entry 2 of a log of two, then the log read
// and verified; the good entry is put back. Bytes that verify must hold the
// entry that was there (the hash covers its JSON, not its encoding).
void AuditEntry(std::string_view in) {
  repo::Repository& r = FuzzRepo();
  static const std::string good = [&] {
    auto g = r.backend()->Get(repo::AuditEntryName(2));
    if (!g.ok()) Fail("audit entry 2");
    return *g;
  }();
  static const nlohmann::json good_entry = [&] {
    auto rep = repo::ReadAudit(r);
    if (!rep.ok() || !rep->problem.empty() || rep->records.size() != 2) Fail("the fuzz repository's audit log");
    return rep->records[1].entry;
  }();
  if (!r.backend()->Put(repo::AuditEntryName(2), in).ok()) Fail("put");
  auto rep = repo::ReadAudit(r);
  if (rep.ok() && rep->problem.empty() && (rep->records.size() != 2 || rep->records[1].entry != good_entry)) {
    Fail("a changed audit entry verified");
  }
  if (!r.backend()->Put(repo::AuditEntryName(2), good).ok()) Fail("put");
}

// --- decoders of sealed bytes, with the fixed keys ---

void KeySlot(std::string_view in) {
  const objstore::RepoKeys& keys = FixedKeys();
  auto s = objstore::DecodeKeySlot(in, "fuzz");
  if (!s.ok()) return;
  // Whatever decodes encodes to text that decodes to the same slot.
  auto again = objstore::DecodeKeySlot(objstore::EncodeKeySlot(*s), "fuzz");
  if (!again.ok() || again->wrapped != s->wrapped || again->info != s->info || again->salt != s->salt ||
      again->opslimit != s->opslimit || again->memlimit != s->memlimit || again->repo_id != s->repo_id) {
    Fail("a key slot does not round-trip");
  }
  (void)objstore::OpenSlotInfo(*s, keys);
  // Key-file slots only: a password slot runs Argon2id with at least
  // 64 MiB, far too slow for a fuzzer (its bounds are checked above).
  if (s->kind == objstore::SlotKind::kKeyFile) {
    auto m = objstore::UnwrapKeySlot(*s, kKeyFileSecret, s->repo_id);
    if (m.ok() && *m && (*m)->view() != keys.master().view()) Fail("a key slot unwrapped to another master key");
  }
}

void KeyFile(std::string_view in) { (void)objstore::ParseKeyFile(in, "fuzz"); }

void SealedConfig(std::string_view in) {
  const objstore::RepoKeys& keys = FixedKeys();
  auto c = objstore::DecodeConfig(in);
  Status v = objstore::VerifyConfig(in, keys);
  // A config whose MAC verifies under the keys encodes back to one that does.
  if (c.ok() && c->encrypted() && v.ok() && c->repo_id == keys.repo_id() &&
      !objstore::VerifyConfig(objstore::EncodeConfig(*c, &keys), keys).ok()) {
    Fail("a verified config re-encodes to one that does not verify");
  }
}

void SealedIndex(std::string_view in) {
  if (auto p = SealedCodec().DecodeFile(in, FileType::kIndex, nullptr, "fuzz"); p.ok()) {
    (void)objstore::DecodeIndexPayload(*p, "fuzz");
  }
}

void SealedSnapshot(std::string_view in) {
  if (auto p = SealedCodec().DecodeFile(in, FileType::kSnapshot, nullptr, "fuzz"); p.ok()) {
    (void)objstore::DecodeSnapshotPayload(*p, "fuzz");
  }
}

void TrashRecord(std::string_view in) {
  // A trash record of a fixed id; the snapshot file inside is opened with
  // the same codec, unverified (the id cannot match fuzzed bytes).
  ObjectId id = Sha256("fuzz");
  (void)repo::DecodeTrashRecord(SealedCodec(), in, id, [](std::string_view f) -> Result<objstore::Snapshot> {
    CAIRN_ASSIGN_OR_RETURN(std::string p, SealedCodec().DecodeFile(f, FileType::kSnapshot, nullptr, "fuzz"));
    return objstore::DecodeSnapshotPayload(p, "fuzz");
  });
}

void PrunePlan(std::string_view in) { (void)repo::DecodePrunePlan(SealedCodec(), in, "prune/fuzz"); }

// A bundle manifest's text: parsed, validated against the published schema
// (repo/json_schema's validator: regexes and $refs on hostile strings),
// then, when valid, decoded as Bundle::Open does (snapshots, paths).
void BundleManifest(std::string_view in) {
  auto m = nlohmann::json::parse(in, nullptr, false);
  if (m.is_discarded()) return;
  static const nlohmann::json schema = nlohmann::json::parse(repo::BundleManifestSchema());
  auto errors = repo::ValidateJson(schema, m, 5);
  if (!errors.empty()) {
    for (const auto& e : errors) {
      if (e.empty()) Fail("an empty schema error");
    }
    return;
  }
  for (const auto& e : m["snapshots"]) (void)objstore::SnapshotFromJson(e["snapshot"], "fuzz");
  for (const auto& r : m["requires"]["objects"]) {
    auto p = repo::DecodeManifestPath(r["path"].get<std::string>());
    if (p.ok()) {
      auto again = repo::DecodeManifestPath(repo::EncodeManifestPath(*p));
      if (!again.ok() || *again != *p) Fail("a manifest path does not round-trip");
    }
  }
}

void Policy(std::string_view in) {
  auto p = repo::DecodePolicy(in, "policy");
  // What decodes encodes to a document that decodes to the same policy.
  if (p.ok()) {
    auto again = repo::DecodePolicy(repo::EncodePolicy(*p), "policy");
    if (!again.ok() || repo::EncodePolicy(*again) != repo::EncodePolicy(*p)) Fail("a policy does not round-trip");
  }
}

// A length byte, the logical name (the ref's file name), the sealed file.
void RefFile(std::string_view in) {
  if (in.empty()) return;
  size_t n = static_cast<uint8_t>(in[0]);
  if (in.size() < 1 + n) return;
  (void)SealedCodec().DecodeFile(in.substr(1 + n), FileType::kRef, nullptr, "fuzz", in.substr(1, n));
}

// The pack entry: type, flags, raw length (4 bytes), id; then the stored
// bytes. Entries are what ParsePackHeader/DecodeIndexPayload accept: a
// known type and flags, a length within the caps.
void Blob(std::string_view in) {
  if (in.size() < 6 + ObjectId::kSize) return;
  objstore::PackEntry e;
  e.type = (in[0] & 1) ? objstore::BlobType::kTree : objstore::BlobType::kData;
  e.flags = static_cast<uint8_t>(in[1] & objstore::kKnownFlags);
  e.raw_length = U32(in.substr(2));
  if (e.raw_length > (1u << 20)) return;  // the caps are 16/64 MiB; 1 MiB keeps runs fast
  e.id = ObjectId(reinterpret_cast<const uint8_t*>(in.data() + 6));
  std::string_view stored = in.substr(6 + ObjectId::kSize);
  e.stored_length = static_cast<uint32_t>(stored.size());
  const auto& codec = (e.flags & objstore::kFlagSealed) ? SealedCodec() : Codec();
  auto plain = codec.DecodeBlob(e, stored, "fuzz");
  if (plain.ok() && (plain->size() != e.raw_length || codec.BlobId(*plain) != e.id)) {
    Fail("a blob decoded to bytes of another length or id");
  }
  (void)codec.DecodeBlob(e, std::string(stored), "fuzz");
}

// The length of the data section before it (4 bytes), then the header and
// trailer: what ReadPackHeader reads of a pack, sealed and not.
void SealedPackHeader(std::string_view in) {
  if (in.size() < 4) return;
  uint64_t file_size = uint64_t{U32(in)} + (in.size() - 4);
  std::string_view tail = in.substr(4);
  uint32_t len = 0;
  if (objstore::ParsePackTrailer(tail, file_size, "fuzz", &len, &FixedKeys()).ok()) {
    (void)objstore::ParsePackHeader(tail, file_size, "fuzz", &FixedKeys());
  }
  (void)objstore::ParsePackHeader(tail, file_size, "fuzz");
}

// A whole pack: its header and every blob in it, sealed and not.
void PackFile(std::string_view in) {
  ObjectId id = Codec().FileId(in);
  (void)SealedCodec().VerifyPack(in, id, "fuzz");
  (void)Codec().VerifyPack(in, id, "fuzz");
}

const Target kTargets[] = {
    {"tree", Tree},
    {"pack_header", PackHeader},
    {"index_file", IndexFile},
    {"snapshot_file", SnapshotFile},
    {"config", Config},
    {"lock", Lock},
    {"tag_annotation", TagAnnotation},
    {"decompress", Decompress},
    {"exclude", Exclude},
    {"time", Time},
    {"data_subset", DataSubset},
    {"location", Location},
    {"size_duration", SizeDuration},
    {"varint", Varint},
    {"plan_file", PlanFile},
    {"revision", Revision},
    {"audit_entry", AuditEntry},
    {"key_slot", KeySlot},
    {"key_file", KeyFile},
    {"sealed_config", SealedConfig},
    {"sealed_index", SealedIndex},
    {"sealed_snapshot", SealedSnapshot},
    {"trash_record", TrashRecord},
    {"prune_plan", PrunePlan},
    {"policy", Policy},
    {"ref_file", RefFile},
    {"blob", Blob},
    {"sealed_pack_header", SealedPackHeader},
    {"pack_file", PackFile},
    {"bundle_manifest", BundleManifest},
};

}  // namespace

std::span<const Target> Targets() { return kTargets; }

const Target* FindTarget(std::string_view name) {
  for (const Target& t : kTargets) {
    if (name == t.name) return &t;
  }
  return nullptr;
}

}  // namespace cairn::fuzz
