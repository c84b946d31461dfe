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

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "objstore/backend.h"
#include "objstore/codec.h"
#include "objstore/compress.h"
#include "objstore/config.h"
#include "objstore/core/bytes.h"
#include "objstore/pack.h"
#include "objstore/snapshot.h"
#include "objstore/tree.h"
#include "repo/check.h"
#include "repo/exclude.h"
#include "repo/location.h"
#include "repo/refs.h"
#include "repo/timespec.h"

namespace {
const cairn::objstore::ObjectCodec& Codec() {
  static auto hasher = cairn::objstore::NewSha256Hasher();
  static cairn::objstore::ObjectCodec codec(hasher.get(), 3);
  return codec;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cairn;
  if (size == 0) return 0;
  const uint8_t which = data[0];
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
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
