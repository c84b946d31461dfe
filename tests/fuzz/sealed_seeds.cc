// SPDX-License-Identifier: MIT
//
// cairn_fuzz_seeds OUT_DIR: writes seed inputs for the sealed-bytes targets
// of decoders.cc into OUT_DIR/TARGET/, made
// with the fuzz target's fixed keys (fixed_keys.h): valid key slots, a key
// file, an encrypted config, sealed index, snapshot and ref files, sealed
// and plain blobs with their entries, pack tails and whole packs. Python
// cannot make these (no libsodium there), so tests/fuzz/make_seeds.py runs
// this program. The seeds are committed under tests/fuzz/corpus/; a run
// makes new ones (random nonces and salts), which is harmless.

#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fixed_keys.h"
#include "objstore/codec.h"
#include "objstore/config.h"
#include "objstore/core/bytes.h"
#include "objstore/keys.h"
#include "objstore/pack.h"
#include "objstore/snapshot.h"
#include "repo/prune_plan.h"
#include "repo/retention.h"
#include "repo/trash.h"

namespace {

using namespace cairn;
using namespace cairn::objstore;

std::string out_dir;
int written = 0;

// Writes `data` as a seed of the target called `target` (decoders.cc).
void Seed(const char* target, std::string_view data) {
  std::filesystem::create_directories(out_dir + "/" + target);
  std::ofstream(out_dir + "/" + target + "/" + Sha256(data).ToHex().substr(0, 40), std::ios::binary) << data;
  written++;
}

std::string Data(size_t n, char seed) {
  std::string s;
  uint32_t x = static_cast<uint8_t>(seed) * 2654435761u + 1;
  for (size_t i = 0; i < n; i++) {
    x = x * 1103515245u + 12345u;
    s.push_back(static_cast<char>(x >> 24));
  }
  return s;
}

// A pack of a few blobs made by `codec` (sealed with `keys` when not null).
std::string MakePack(const ObjectCodec& codec, const RepoKeys* keys, PackRecord* rec) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "cairn-seeds-XXXXXX").string();
  std::string dir = ::mkdtemp(tmpl.data());
  std::string file;
  {
    auto w = PackFileWriter::Create(dir).value();
    for (int i = 0; i < 3; i++) {
      std::string plain = Data(200 + 50 * i, static_cast<char>('a' + i));
      if (i != 1) plain += std::string(300, 'z');  // compressible
      BlobType type = i == 2 ? BlobType::kTree : BlobType::kData;
      ObjectId id = codec.BlobId(plain);
      std::string scratch;
      std::string_view stored;
      uint8_t flags = codec.EncodeBlob(type, id, plain, &scratch, &stored);
      CAIRN_CHECK(w->Add(id, type, flags, stored, static_cast<uint32_t>(plain.size())).ok());
    }
    *rec = w->Finish(keys).value();
    std::ifstream in(w->path(), std::ios::binary);
    file.assign(std::istreambuf_iterator<char>(in), {});
  }
  std::filesystem::remove_all(dir);
  return file;
}

void BlobSeeds(const ObjectCodec& codec) {
  for (std::string plain : {Data(150, 'b'), std::string(400, 'y') + "tail"}) {
    for (BlobType type : {BlobType::kData, BlobType::kTree}) {
      ObjectId id = codec.BlobId(plain);
      std::string scratch;
      std::string_view stored;
      uint8_t flags = codec.EncodeBlob(type, id, plain, &scratch, &stored);
      std::string in;
      PutU8(&in, type == BlobType::kTree ? 1 : 0);
      PutU8(&in, flags);
      PutU32(&in, static_cast<uint32_t>(plain.size()));
      in.append(id.view());
      in.append(stored);
      Seed("blob", in);
    }
  }
}

void PackSeeds(const std::string& pack) {
  uint32_t hlen = DecodeU32(pack.data() + pack.size() - 16);
  size_t tail = hlen + kPackTrailerSize;
  std::string in;
  PutU32(&in, static_cast<uint32_t>(pack.size() - tail));
  in.append(pack.substr(pack.size() - tail));
  Seed("sealed_pack_header", in);
  Seed("pack_file", pack);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: cairn_fuzz_seeds OUT_DIR\n");
    return 2;
  }
  out_dir = argv[1];
  std::filesystem::create_directories(out_dir);
  const RepoKeys& keys = fuzz::FixedKeys();
  auto hasher = NewHmacSha256Hasher(&keys);
  ObjectCodec sealed(hasher.get(), 3, &keys);
  auto plain_hasher = NewSha256Hasher();
  ObjectCodec plain(plain_hasher.get(), 3);
  SlotInfo info{"fuzz-host", "fuzz-user", 1790000000000000000};

  // Key slots: a key file's (opened by the target with kKeyFileSecret) and
  // a password's (cheapest allowed cost; the target only decodes it).
  Seed("key_slot", EncodeKeySlot(NewKeySlot(SlotKind::kKeyFile, fuzz::kKeyFileSecret, keys, 0, 0, info).value()));
  Seed("key_slot", EncodeKeySlot(NewKeySlot(SlotKind::kPassword, "fuzz password", keys, crypto::kMinOps,
                                                crypto::kMinMem, info)
                                         .value()));
  Seed("key_file", NewKeyFileText());

  RepoConfig cfg = NewRepoConfig();
  cfg.repo_id = fuzz::FixedRepoId();
  cfg.SetEncrypted(true);
  Seed("sealed_config", EncodeConfig(cfg, &keys));

  PackRecord rec, plain_rec;
  std::string pack = MakePack(sealed, &keys, &rec);
  std::string plain_pack = MakePack(plain, nullptr, &plain_rec);
  Seed("sealed_index", sealed.EncodeFile(FileType::kIndex, EncodeIndexPayload({rec}), true));
  Seed("sealed_index", sealed.EncodeFile(FileType::kIndex, EncodeIndexPayload({rec, plain_rec}), false));

  Snapshot s;
  s.tree = rec.entries.back().id;
  s.time_ns = 1790000000000000000;
  s.host = "fuzz-host";
  s.user = "fuzz-user";
  s.paths = {"/src"};
  s.branch = "main";
  s.message = "a seed";
  Seed("sealed_snapshot", sealed.EncodeFile(FileType::kSnapshot, EncodeSnapshotPayload(s), true));
  ObjectId snap_id = sealed.FileId(sealed.EncodeFile(FileType::kSnapshot, EncodeSnapshotPayload(s), false));

  // A ref file: its logical name is its file name (repository.cc RefFile).
  for (std::string ref : {"branches/main", "tags/v1"}) {
    std::string ctx = "refs/" + ref.substr(0, ref.find('/')) + "/" + keys.NameMac(ref).ToHex();
    std::string payload = ref + "\n" + snap_id.ToHex() + "\n";
    if (ref == "tags/v1") payload += "{\"message\":\"m\"}\n";
    std::string in;
    PutU8(&in, static_cast<uint8_t>(ctx.size()));
    in.append(ctx);
    in.append(sealed.EncodeFile(FileType::kRef, payload, false, ctx));
    Seed("ref_file", in);
  }

  // A trash record holding that snapshot file (the target decodes it for
  // a fixed id, so the snapshot inside is opened unverified).
  repo::TrashRecord tr;
  tr.id = snap_id;
  tr.snapshot_file = sealed.EncodeFile(FileType::kSnapshot, EncodeSnapshotPayload(s), false);
  tr.snapshot = s;
  tr.removed_ns = 1790000000000000000;
  tr.expires_ns = tr.removed_ns + 7LL * 86400 * 1000000000;
  tr.reason = "forget (keep-last 1)";
  tr.host = "fuzz-host";
  tr.user = "fuzz-user";
  Seed("trash_record", repo::EncodeTrashRecord(sealed, tr));
  tr.purged_ns = tr.expires_ns + 1;
  Seed("trash_record", repo::EncodeTrashRecord(sealed, tr));

  // Prune plans in each state.
  for (auto state : {repo::PrunePlan::State::kPending, repo::PrunePlan::State::kMarked,
                     repo::PrunePlan::State::kIndexed}) {
    repo::PrunePlan pp;
    pp.name = "prune/00000000000000a1";
    pp.state = state;
    pp.created_ns = 1790000000000000000;
    pp.host = "fuzz-host";
    pp.condemned_packs = {rec.pack_id};
    pp.garbage = {rec.entries.front().id};
    pp.unindexed_packs = {plain_rec.pack_id};
    pp.index_files = {"index/" + snap_id.ToHex()};
    pp.sessions = {"session-backup-fuzz-host-1"};
    pp.condemned_bytes = 4096;
    Seed("prune_plan", repo::EncodePrunePlan(sealed, pp));
  }

  // Retention policies (plain JSON in the repository).
  repo::StoredPolicy sp;
  repo::RetentionPolicy daily;
  daily.daily = 7;
  daily.weekly = 4;
  daily.keep_tags = {"release"};
  sp.fallback = daily;
  repo::RetentionPolicy last;
  last.last = 3;
  last.within = repo::ParseDuration("2d").value();
  sp.branches["side"] = last;
  Seed("policy", repo::EncodePolicy(sp));
  sp.fallback.reset();
  Seed("policy", repo::EncodePolicy(sp));

  BlobSeeds(sealed);
  BlobSeeds(plain);
  PackSeeds(pack);
  PackSeeds(plain_pack);
  // A write-only host's pack: its pack key sealed to the box key, then its
  // header sealed under that pack key; and a write-only key slot.
  auto wo_keys = RepoKeys::FromWriteOnly(keys.SlotSecret(SlotAccess::kWriteOnly), fuzz::FixedRepoId());
  auto wo_hasher = NewHmacSha256Hasher(wo_keys.get());
  ObjectCodec wo_codec(wo_hasher.get(), 3, wo_keys.get());
  PackRecord wo_rec;
  PackSeeds(MakePack(wo_codec, wo_keys.get(), &wo_rec));
  Seed("key_slot", EncodeKeySlot(NewKeySlot(SlotKind::kKeyFile, fuzz::kKeyFileSecret, keys, 0, 0, info,
                                            SlotAccess::kWriteOnly)
                                     .value()));
  std::printf("%d seeds\n", written);
  return 0;
}
