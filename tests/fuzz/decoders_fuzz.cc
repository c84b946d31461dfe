// SPDX-License-Identifier: MIT
//
// One fuzz target for every decoder of untrusted repository bytes. The first
// input byte picks the decoder; the rest is its input. Each must return an
// error for bad input, never crash, assert, overflow or allocate without
// bound (RELIABILITY.md R13, case 35).
//
// Built two ways: with clang and -fsanitize=fuzzer (CAIRN_FUZZ=ON) for
// fuzzing, and with fuzz_replay_main.cc into cairn_fuzz_replay, which CI runs
// over tests/fuzz/corpus/ so every input ever found stays a regression test.
//
// The decoders of sealed bytes (key slots, key files, the authenticated
// config, sealed index/snapshot/ref files, sealed blobs and packs) run with
// fixed keys (fixed_keys.h) behind the selector byte 0xff; their seeds are
// made by sealed_seeds.cc, since only bytes sealed under those keys get past
// authentication.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "objstore/backend.h"
#include "objstore/codec.h"
#include "objstore/compress.h"
#include "objstore/config.h"
#include "objstore/core/bytes.h"
#include "objstore/keys.h"
#include "objstore/pack.h"
#include "objstore/snapshot.h"
#include "objstore/tree.h"
#include "repo/check.h"
#include "repo/exclude.h"
#include "repo/location.h"
#include "repo/prune_plan.h"
#include "repo/retention.h"
#include "repo/trash.h"
#include "repo/refs.h"
#include "repo/timespec.h"
#include "fixed_keys.h"

namespace {
const cairn::objstore::ObjectCodec& Codec() {
  static auto hasher = cairn::objstore::NewSha256Hasher();
  static cairn::objstore::ObjectCodec codec(hasher.get(), 3);
  return codec;
}

// The codec of an encrypted repository with the fixed keys.
const cairn::objstore::ObjectCodec& SealedCodec() {
  static auto hasher = cairn::objstore::NewHmacSha256Hasher(&cairn::fuzz::FixedKeys());
  static cairn::objstore::ObjectCodec codec(hasher.get(), 3, &cairn::fuzz::FixedKeys());
  return codec;
}

uint32_t U32(std::string_view s) {
  return static_cast<uint32_t>(static_cast<uint8_t>(s[0])) | static_cast<uint32_t>(static_cast<uint8_t>(s[1])) << 8 |
         static_cast<uint32_t>(static_cast<uint8_t>(s[2])) << 16 |
         static_cast<uint32_t>(static_cast<uint8_t>(s[3])) << 24;
}

void SealedDecoders(uint8_t which, std::string_view in) {
  using namespace cairn;
  const objstore::RepoKeys& keys = fuzz::FixedKeys();
  switch (which % fuzz::kSealedDecoders) {
    case fuzz::kKeySlot: {
      auto s = objstore::DecodeKeySlot(in, "fuzz");
      if (!s.ok()) break;
      // Whatever decodes encodes to text that decodes to the same slot.
      auto again = objstore::DecodeKeySlot(objstore::EncodeKeySlot(*s), "fuzz");
      if (!again.ok() || again->wrapped != s->wrapped || again->info != s->info || again->salt != s->salt ||
          again->opslimit != s->opslimit || again->memlimit != s->memlimit || again->repo_id != s->repo_id) {
        __builtin_trap();
      }
      (void)objstore::OpenSlotInfo(*s, keys);
      // Key-file slots only: a password slot runs Argon2id with at least
      // 64 MiB, far too slow for a fuzzer (its bounds are checked above).
      if (s->kind == objstore::SlotKind::kKeyFile) {
        auto m = objstore::UnwrapKeySlot(*s, fuzz::kKeyFileSecret, s->repo_id);
        if (m.ok() && *m && (*m)->view() != keys.master().view()) __builtin_trap();
      }
      break;
    }
    case fuzz::kKeyFile:
      (void)objstore::ParseKeyFile(in, "fuzz");
      break;
    case fuzz::kConfig: {
      auto c = objstore::DecodeConfig(in);
      Status v = objstore::VerifyConfig(in, keys);
      // A config whose MAC verifies under the keys encodes back to one that does.
      if (c.ok() && c->encrypted() && v.ok() && c->repo_id == keys.repo_id() &&
          !objstore::VerifyConfig(objstore::EncodeConfig(*c, &keys), keys).ok()) {
        __builtin_trap();
      }
      break;
    }
    case fuzz::kIndexFile:
      if (auto p = SealedCodec().DecodeFile(in, objstore::FileType::kIndex, nullptr, "fuzz"); p.ok()) {
        (void)objstore::DecodeIndexPayload(*p, "fuzz");
      }
      break;
    case fuzz::kSnapshotFile:
      if (auto p = SealedCodec().DecodeFile(in, objstore::FileType::kSnapshot, nullptr, "fuzz"); p.ok()) {
        (void)objstore::DecodeSnapshotPayload(*p, "fuzz");
      }
      break;
    case fuzz::kTrashRecord: {
      // A trash record of a fixed id; the snapshot file inside is opened
      // with the same codec, unverified (the id cannot match fuzzed bytes).
      ObjectId id = Sha256("fuzz");
      (void)repo::DecodeTrashRecord(SealedCodec(), in, id, [](std::string_view f) -> Result<objstore::Snapshot> {
        CAIRN_ASSIGN_OR_RETURN(std::string p, SealedCodec().DecodeFile(f, objstore::FileType::kSnapshot, nullptr, "fuzz"));
        return objstore::DecodeSnapshotPayload(p, "fuzz");
      });
      break;
    }
    case fuzz::kPrunePlan:
      (void)repo::DecodePrunePlan(SealedCodec(), in, "prune/fuzz");
      break;
    case fuzz::kPolicy: {
      auto p = repo::DecodePolicy(in, "policy");
      // What decodes encodes to a document that decodes to the same policy.
      if (p.ok()) {
        auto again = repo::DecodePolicy(repo::EncodePolicy(*p), "policy");
        if (!again.ok() || repo::EncodePolicy(*again) != repo::EncodePolicy(*p)) __builtin_trap();
      }
      break;
    }
    case fuzz::kRefFile: {
      // A length byte, the logical name (the ref's file name), the file.
      if (in.empty()) break;
      size_t n = static_cast<uint8_t>(in[0]);
      if (in.size() < 1 + n) break;
      (void)SealedCodec().DecodeFile(in.substr(1 + n), objstore::FileType::kRef, nullptr, "fuzz", in.substr(1, n));
      break;
    }
    case fuzz::kBlob: {
      // The pack entry: type, flags, raw length (4 bytes), id; then the
      // stored bytes. Entries are what ParsePackHeader/DecodeIndexPayload
      // accept: a known type and flags, a length within the caps.
      if (in.size() < 6 + ObjectId::kSize) break;
      objstore::PackEntry e;
      e.type = (in[0] & 1) ? objstore::BlobType::kTree : objstore::BlobType::kData;
      e.flags = static_cast<uint8_t>(in[1] & objstore::kKnownFlags);
      e.raw_length = U32(in.substr(2));
      if (e.raw_length > (1u << 20)) break;  // the caps are 16/64 MiB; 1 MiB keeps runs fast
      e.id = ObjectId(reinterpret_cast<const uint8_t*>(in.data() + 6));
      std::string_view stored = in.substr(6 + ObjectId::kSize);
      e.stored_length = static_cast<uint32_t>(stored.size());
      const auto& codec = (e.flags & objstore::kFlagSealed) ? SealedCodec() : Codec();
      auto plain = codec.DecodeBlob(e, stored, "fuzz");
      if (plain.ok() && (plain->size() != e.raw_length || codec.BlobId(*plain) != e.id)) __builtin_trap();
      (void)codec.DecodeBlob(e, std::string(stored), "fuzz");
      break;
    }
    case fuzz::kPackHeader: {
      // The length of the data section before it (4 bytes), then the
      // header and trailer: what ReadPackHeader reads of a pack.
      if (in.size() < 4) break;
      uint64_t file_size = uint64_t{U32(in)} + (in.size() - 4);
      std::string_view tail = in.substr(4);
      uint32_t len = 0;
      if (objstore::ParsePackTrailer(tail, file_size, "fuzz", &len, &keys).ok()) {
        (void)objstore::ParsePackHeader(tail, file_size, "fuzz", &keys);
      }
      (void)objstore::ParsePackHeader(tail, file_size, "fuzz");
      break;
    }
    case fuzz::kPackFile: {
      // A whole pack: its header and every blob in it, sealed and not.
      ObjectId id = Codec().FileId(in);
      (void)SealedCodec().VerifyPack(in, id, "fuzz");
      (void)Codec().VerifyPack(in, id, "fuzz");
      break;
    }
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cairn;
  if (size == 0) return 0;
  const uint8_t which = data[0];
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  if (which == fuzz::kSealedSelector) {
    if (!in.empty()) SealedDecoders(static_cast<uint8_t>(in[0]), in.substr(1));
    return 0;
  }
  switch (which % 9) {
    case 0: {
      auto t = objstore::DecodeTree(in, ObjectId());
      if (t.ok()) {
        // Whatever decodes must encode back to the same bytes (canonical).
        if (objstore::EncodeTree(*t) != in) __builtin_trap();
      }
      break;
    }
    case 1:
      (void)objstore::ParsePackHeader(in, in.size(), "fuzz");
      break;
    case 2:
      if (auto p = Codec().DecodeFile(in, objstore::FileType::kIndex, nullptr, "fuzz"); p.ok()) {
        (void)objstore::DecodeIndexPayload(*p, "fuzz");
      }
      break;
    case 3:
      if (auto p = Codec().DecodeFile(in, objstore::FileType::kSnapshot, nullptr, "fuzz"); p.ok()) {
        (void)objstore::DecodeSnapshotPayload(*p, "fuzz");
      }
      break;
    case 4:
      // The small JSON objects of a repository: config, lock objects (which
      // other hosts write) and tag annotations.
      (void)objstore::DecodeConfig(in);
      (void)objstore::DecodeLockHolder(in);
      (void)repo::DecodeTagAnnotation(in);
      break;
    case 5: {
      if (in.size() < 3) break;
      // Declared length: at most 1 MiB, so a bomb cannot allocate more.
      size_t raw = (static_cast<uint8_t>(in[0]) | static_cast<uint8_t>(in[1]) << 8 |
                    (static_cast<uint8_t>(in[2]) & 0x0f) << 16);
      auto frame = (in[2] & 0x10) ? objstore::ZstdFrame::kStandard : objstore::ZstdFrame::kBare;
      (void)objstore::Decompress(in.substr(3), raw, frame);
      break;
    }
    case 6: {
      size_t nl = in.find('\n');
      std::string_view pat = in.substr(0, nl == std::string_view::npos ? in.size() : nl);
      std::string_view path = nl == std::string_view::npos ? "" : in.substr(nl + 1);
      if (pat.size() > 64 || path.size() > 256) break;  // the matcher backtracks; real patterns are short
      repo::ExcludeRule rule;
      if (repo::ParseExcludeRule(pat, "", &rule)) {
        (void)repo::Excluded({rule}, std::string(path), (which & 0x80) != 0);
      }
      break;
    }
    case 7:
      // Short user inputs: times, --read-data-subset, repository locations.
      (void)repo::ParseTime(in, 1790000000000000000);
      (void)repo::ParseDataSubset(in);
      (void)repo::ParseLocation(in);
      break;
    case 8: {
      uint64_t v;
      int64_t sv;
      Reader r(in);
      while (r.GetVarint(&v) || r.GetSignedVarint(&sv)) {
      }
      break;
    }
  }
  return 0;
}
