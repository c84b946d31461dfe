// SPDX-License-Identifier: MIT

#include "objstore/keys.h"

#include <cstring>

#include <nlohmann/json.hpp>

#include "objstore/core/json_int.h"

#include "objstore/core/bytes.h"

namespace cairn::objstore {
namespace {

using nlohmann::json;
using crypto::SecretBytes;

constexpr std::string_view kAadMagic = "cairn2";
constexpr std::string_view kKeyFileMagic = "cairn-key-file";

SecretBytes Subkey(const SecretBytes& master, const ObjectId& repo_id, std::string_view purpose) {
  return crypto::Hkdf(master.view(), repo_id.view(), "cairn/v2/" + std::string(purpose), crypto::kKeySize);
}

std::string Hex(std::string_view bytes) {
  static const char* d = "0123456789abcdef";
  std::string s;
  s.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    s += d[c >> 4];
    s += d[c & 15];
  }
  return s;
}

bool Unhex(std::string_view hex, std::string* out) {
  if (hex.size() % 2 != 0) return false;
  out->clear();
  auto v = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (size_t i = 0; i < hex.size(); i += 2) {
    int a = v(hex[i]), b = v(hex[i + 1]);
    if (a < 0 || b < 0) return false;
    out->push_back(static_cast<char>(a * 16 + b));
  }
  return true;
}

// The KEK of a slot: Argon2id of the password, or HKDF of the key file's
// secret (which is random and needs no slow KDF).
Result<SecretBytes> Kek(const KeySlot& s, std::string_view secret) {
  if (s.kind == SlotKind::kKeyFile) {
    return crypto::Hkdf(secret, s.salt, "cairn/v2/key-file-kek", crypto::kKeySize);
  }
  return crypto::Argon2id(secret, s.salt, s.opslimit, s.memlimit);
}

json PublicJson(const KeySlot& s) {
  json j;
  j["version"] = 1;
  j["id"] = s.id;
  j["kind"] = SlotKindName(s.kind);
  j["repository"] = s.repo_id.ToHex();
  // Absent on full slots, so that slots made before write-only ones keep
  // their text (and their AAD).
  if (s.access == SlotAccess::kWriteOnly) j["access"] = "write-only";
  if (s.kind == SlotKind::kPassword) {
    j["kdf"] = {{"algorithm", "argon2id13"}, {"opslimit", s.opslimit}, {"memlimit", s.memlimit}, {"salt", Hex(s.salt)}};
  } else {
    j["kdf"] = {{"algorithm", "hkdf-sha256"}, {"salt", Hex(s.salt)}};
  }
  return j;
}

// The wrapped master's AAD: the canonical text of every public field, so
// that no KDF parameter, kind or repository id can be changed unnoticed.
std::string WrapAad(const KeySlot& s) { return "cairn2-slot" + PublicJson(s).dump(); }

// The info's AAD context: the slot id, the same public fields and the
// wrapped key, so that whoever holds the repository's keys (check) can tell
// that any part of a slot of someone else's password was changed.
std::string InfoContext(const KeySlot& s) { return s.id + PublicJson(s).dump() + s.wrapped; }

}  // namespace

std::unique_ptr<RepoKeys> RepoKeys::Derive(const SecretBytes& master, const ObjectId& repo_id, int format) {
  CAIRN_CHECK(master.size() == crypto::kKeySize);
  std::unique_ptr<RepoKeys> k(new RepoKeys());
  k->master_ = SecretBytes(master.data(), master.size());
  k->repo_id_ = repo_id;
  k->enc_ = Subkey(master, repo_id, "enc");
  k->id_ = Subkey(master, repo_id, "id");
  k->chunker_ = Subkey(master, repo_id, "chunker");
  k->config_ = Subkey(master, repo_id, "config");
  k->names_ = Subkey(master, repo_id, "names");
  if (format >= 3) {
    k->meta_ = Subkey(master, repo_id, "meta");
    k->box_public_ = crypto::BoxKeypairFromSeed(Subkey(master, repo_id, "box"), &k->box_secret_);
  } else {
    k->meta_ = SecretBytes(k->enc_.data(), k->enc_.size());
  }
  k->Finish();
  return k;
}

std::unique_ptr<RepoKeys> RepoKeys::FromWriteOnly(const SecretBytes& material, const ObjectId& repo_id) {
  CAIRN_CHECK(material.size() == kWriteOnlyMaterialSize);
  std::unique_ptr<RepoKeys> k(new RepoKeys());
  k->repo_id_ = repo_id;
  k->write_only_ = true;
  const uint8_t* p = material.data();
  constexpr size_t n = crypto::kKeySize;
  k->id_ = SecretBytes(p, n);
  k->chunker_ = SecretBytes(p + n, n);
  k->config_ = SecretBytes(p + 2 * n, n);
  k->names_ = SecretBytes(p + 3 * n, n);
  k->meta_ = SecretBytes(p + 4 * n, n);
  k->box_public_.assign(reinterpret_cast<const char*>(p + 5 * n), n);
  // This process's pack key: it seals every blob and pack header written
  // here, and only the box secret (full keys) opens it again once the
  // process has ended.
  k->enc_ = SecretBytes(n);
  crypto::RandomBytes(k->enc_.data(), n);
  k->boxed_pack_key_ = crypto::BoxSeal(k->box_public_, k->enc_.view());
  k->Finish();
  return k;
}

void RepoKeys::Finish() {
  id_mac_ = std::make_unique<crypto::HmacSha256Key>(id_);
  ObjectId fp = crypto::HmacSha256(meta_, "cairn/v2/key-id");
  key_id_ = DecodeU64(reinterpret_cast<const char*>(fp.data()));
  if (key_id_ == 0) key_id_ = 1;  // 0 means "not sealed" in file headers
}

SecretBytes RepoKeys::SlotSecret(SlotAccess access) const {
  CAIRN_CHECK(!write_only_);
  if (access == SlotAccess::kFull) return SecretBytes(master_.data(), master_.size());
  CAIRN_CHECK(has_box());
  SecretBytes m(kWriteOnlyMaterialSize);
  uint8_t* p = m.data();
  for (const SecretBytes* key : {&id_, &chunker_, &config_, &names_, &meta_}) {
    std::memcpy(p, key->data(), crypto::kKeySize);
    p += crypto::kKeySize;
  }
  std::memcpy(p, box_public_.data(), crypto::kKeySize);
  return m;
}

bool RepoKeys::OpenPackKey(std::string_view boxed, SecretBytes* out) const {
  if (write_only_ || !has_box()) return false;
  return crypto::BoxSealOpen(box_public_, box_secret_, boxed, out) && out->size() == crypto::kKeySize;
}

std::string RepoKeys::Aad(SealDomain d, std::string_view context) const {
  std::string aad;
  aad.reserve(kAadMagic.size() + 1 + ObjectId::kSize + context.size());
  aad.append(kAadMagic);
  aad.push_back(static_cast<char>(d));
  aad.append(repo_id_.view());
  aad.append(context);
  return aad;
}

const SecretBytes& RepoKeys::KeyFor(SealDomain d) const {
  return d == SealDomain::kBlob || d == SealDomain::kPackHeader ? enc_ : meta_;
}

void RepoKeys::Seal(SealDomain d, std::string_view context, std::string_view plaintext, std::string* out) const {
  crypto::Seal(KeyFor(d), plaintext, Aad(d, context), out);
}

bool RepoKeys::Open(SealDomain d, std::string_view context, std::string_view sealed, std::string* out) const {
  return crypto::Open(KeyFor(d), sealed, Aad(d, context), out);
}

bool RepoKeys::OpenWith(const SecretBytes& key, SealDomain d, std::string_view context, std::string_view sealed,
                        std::string* out) const {
  return crypto::Open(key, sealed, Aad(d, context), out);
}

const char* SlotAccessName(SlotAccess a) { return a == SlotAccess::kWriteOnly ? "write-only" : "full"; }

const char* SlotKindName(SlotKind k) { return k == SlotKind::kKeyFile ? "key-file" : "password"; }

std::string EncodeKeySlot(const KeySlot& s) {
  json j = PublicJson(s);
  j["wrapped"] = Hex(s.wrapped);
  j["info"] = Hex(s.info);
  return j.dump(2) + "\n";
}

Result<KeySlot> DecodeKeySlot(std::string_view text, const std::string& name) {
  auto bad = [&](const std::string& why) { return Status::Corruption("key slot '" + name + "' is damaged: " + why); };
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return bad("not valid JSON");
  KeySlot s;
  try {
    if (JsonInt<int>(j.at("version")) != 1) {
      return Status::NotSupported("key slot '" + name + "' has a newer format; upgrade cairn");
    }
    s.id = j.at("id").get<std::string>();
    std::string tmp;
    if (s.id.size() != 16 || !Unhex(s.id, &tmp)) return bad("invalid id");
    std::string kind = j.at("kind").get<std::string>();
    if (kind == "password") {
      s.kind = SlotKind::kPassword;
    } else if (kind == "key-file") {
      s.kind = SlotKind::kKeyFile;
    } else {
      return bad("unknown kind '" + kind + "'");
    }
    if (auto a = j.find("access"); a != j.end()) {
      std::string access = a->get<std::string>();
      if (access != "write-only") return bad("unknown access '" + access + "'");
      s.access = SlotAccess::kWriteOnly;
    }
    auto repo_id = ObjectId::FromHex(j.at("repository").get<std::string>());
    if (!repo_id.ok()) return bad("invalid repository id");
    s.repo_id = *repo_id;
    const json& kdf = j.at("kdf");
    std::string alg = kdf.at("algorithm").get<std::string>();
    if (!Unhex(kdf.at("salt").get<std::string>(), &s.salt) || s.salt.size() != crypto::kSaltSize) {
      return bad("invalid salt");
    }
    if (s.kind == SlotKind::kPassword) {
      if (alg != "argon2id13") return bad("a password slot must use argon2id13");
      s.opslimit = JsonInt<uint64_t>(kdf.at("opslimit"));
      s.memlimit = JsonInt<uint64_t>(kdf.at("memlimit"));
      // Bounds before the KDF ever runs: no downgrade to a cheap cost, no
      // memory exhaustion from a huge one.
      if (s.opslimit < crypto::kMinOps || s.opslimit > crypto::kMaxOps || s.memlimit < crypto::kMinMem ||
          s.memlimit > crypto::kMaxMem) {
        return bad("its key derivation cost is outside the allowed bounds (opslimit " +
                   std::to_string(crypto::kMinOps) + "-" + std::to_string(crypto::kMaxOps) + ", memlimit 64 MiB-2 GiB)");
      }
    } else if (alg != "hkdf-sha256") {
      return bad("a key-file slot must use hkdf-sha256");
    }
    const size_t secret_size = s.access == SlotAccess::kWriteOnly ? kWriteOnlyMaterialSize : crypto::kKeySize;
    if (!Unhex(j.at("wrapped").get<std::string>(), &s.wrapped) ||
        s.wrapped.size() != secret_size + crypto::kSealOverhead) {
      return bad("invalid wrapped key");
    }
    if (!Unhex(j.at("info").get<std::string>(), &s.info) || s.info.size() < crypto::kSealOverhead ||
        s.info.size() > 4096) {
      return bad("invalid info");
    }
  } catch (const json::exception& e) {
    return bad(std::string("missing or mistyped field (") + e.what() + ")");
  }
  return s;
}

Result<KeySlot> NewKeySlot(SlotKind kind, std::string_view secret, const RepoKeys& keys, uint64_t ops, uint64_t mem,
                           const SlotInfo& info, SlotAccess access) {
  if (keys.write_only()) {
    return Status::WriteOnly("a write-only key cannot add keys; open the repository with a full key");
  }
  if (access == SlotAccess::kWriteOnly && !keys.has_box()) {
    return Status::NotSupported("this repository (format 2) cannot have write-only keys: it has no box key; "
                                "copy its snapshots into a new repository ('cairn init', 'cairn copy --to')");
  }
  KeySlot s;
  s.id = Hex(crypto::RandomString(8));
  s.kind = kind;
  s.access = access;
  s.repo_id = keys.repo_id();
  s.salt = crypto::RandomString(crypto::kSaltSize);
  if (kind == SlotKind::kPassword) {
    if (ops < crypto::kMinOps || ops > crypto::kMaxOps || mem < crypto::kMinMem || mem > crypto::kMaxMem) {
      return Status::InvalidArgument("the password's key derivation cost must be --kdf-ops 2-10 and --kdf-memory "
                                     "64-2048 (MiB)");
    }
    s.opslimit = ops;
    s.memlimit = mem;
  }
  CAIRN_ASSIGN_OR_RETURN(SecretBytes kek, Kek(s, secret));
  crypto::Seal(kek, keys.SlotSecret(access).view(), WrapAad(s), &s.wrapped);
  json j = {{"host", info.host}, {"user", info.user}, {"created_ns", info.created_ns}};
  keys.Seal(SealDomain::kSlotInfo, InfoContext(s), j.dump(), &s.info);
  return s;
}

Result<std::optional<SecretBytes>> UnwrapKeySlot(const KeySlot& s, std::string_view secret, const ObjectId& repo_id) {
  if (s.repo_id != repo_id) return std::optional<SecretBytes>();  // a slot of another repository
  CAIRN_ASSIGN_OR_RETURN(SecretBytes kek, Kek(s, secret));
  std::string plain;
  bool ok = crypto::Open(kek, s.wrapped, WrapAad(s), &plain);
  std::optional<SecretBytes> out;
  const size_t want = s.access == SlotAccess::kWriteOnly ? kWriteOnlyMaterialSize : crypto::kKeySize;
  if (ok && plain.size() == want) out.emplace(plain.data(), plain.size());
  crypto::Wipe(&plain);
  return out;
}

Result<SlotInfo> OpenSlotInfo(const KeySlot& s, const RepoKeys& keys) {
  std::string plain;
  if (!keys.Open(SealDomain::kSlotInfo, InfoContext(s), s.info, &plain)) {
    return Status::Corruption("key slot 'keys/" + s.id + "' is damaged: it does not authenticate (changed?)");
  }
  json j = json::parse(plain, nullptr, false);
  SlotInfo info;
  try {
    info.host = j.at("host").get<std::string>();
    info.user = j.at("user").get<std::string>();
    info.created_ns = JsonInt<int64_t>(j.at("created_ns"));
  } catch (const json::exception&) {
    return Status::Corruption("key slot 'keys/" + s.id + "' is damaged: its info is malformed");
  }
  return info;
}

std::string NewKeyFileText() {
  std::string secret = crypto::RandomString(crypto::kKeySize);
  std::string text = std::string(kKeyFileMagic) + " v1\n" + Hex(secret) + "\n";
  crypto::Wipe(&secret);
  return text;
}

Result<SecretBytes> ParseKeyFile(std::string_view text, const std::string& name) {
  auto bad = [&] {
    return Status::InvalidArgument("'" + name + "' is not a cairn key file; make one with 'cairn key generate FILE'");
  };
  std::string head = std::string(kKeyFileMagic) + " v1\n";
  if (text.substr(0, head.size()) != head) return bad();
  std::string_view hex = text.substr(head.size());
  if (!hex.empty() && hex.back() == '\n') hex.remove_suffix(1);
  std::string secret;
  if (hex.size() != 2 * crypto::kKeySize || !Unhex(hex, &secret)) return bad();
  SecretBytes out(secret.data(), secret.size());
  crypto::Wipe(&secret);
  return out;
}

}  // namespace cairn::objstore
