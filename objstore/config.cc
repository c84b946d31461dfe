// SPDX-License-Identifier: MIT

#include "objstore/config.h"

#include <openssl/rand.h>

#include <nlohmann/json.hpp>

#include "objstore/core/json_int.h"

#include "objstore/crypto.h"
#include "objstore/keys.h"

namespace cairn::objstore {

using nlohmann::json;

RepoConfig NewRepoConfig() {
  RepoConfig c;
  uint8_t buf[64];
  CAIRN_CHECK(RAND_bytes(buf, sizeof(buf)) == 1);
  c.repo_id = ObjectId(buf);
  std::copy(buf + 32, buf + 64, c.chunker.seed.begin());
  return c;
}

Result<ChunkerParams> ChunkerParamsForAverage(uint32_t avg, const ChunkerParams& base) {
  constexpr uint32_t kMinAvg = 256, kMaxAvg = 4u << 20;
  ChunkerParams p = base;
  p.avg_size = avg;
  p.min_size = avg / 4;
  p.max_size = avg <= kMaxAvg ? avg * 4 : 0;
  if (avg < kMinAvg || avg > kMaxAvg || !ValidChunkerParams(p)) {
    return Status::InvalidArgument("--avg-chunk must be a power of two from " + std::to_string(kMinAvg) + " to " +
                                   std::to_string(kMaxAvg) + ", not " + std::to_string(avg));
  }
  return p;
}

void RepoConfig::SetEncrypted(bool on) {
  encryption = on ? std::string(kEncryptionSuite) : "none";
  format = on ? kFormatWriteOnly : kFormatPlain;
}

std::string EncodeConfig(const RepoConfig& c, const RepoKeys* keys) {
  json j;
  j["format"] = c.format;
  j["id"] = c.repo_id.ToHex();
  j["chunker"] = {{"algorithm", "fastcdc-gear64"},
                  {"min_size", c.chunker.min_size},
                  {"avg_size", c.chunker.avg_size},
                  {"max_size", c.chunker.max_size},
                  {"seed", ObjectId(c.chunker.seed.data()).ToHex()}};
  j["compression"] = {{"algorithm", "zstd"}, {"level", c.compression_level}};
  j["pack_size"] = c.pack_size;
  j["encryption"] = c.encryption;
  if (c.encrypted()) {
    CAIRN_CHECK(keys != nullptr);
    j["chunker"].erase("seed");  // derived from the keys
    if (c.format >= kFormatWriteOnly) {
      CAIRN_CHECK(keys->box_public_key().size() == 32);
      j["box_public_key"] = ObjectId(reinterpret_cast<const uint8_t*>(keys->box_public_key().data())).ToHex();
    }
    j["mac"] = keys->ConfigMac(j.dump()).ToHex();
  }
  return j.dump(2) + "\n";
}

Status VerifyConfig(std::string_view data, const RepoKeys& keys) {
  json j = json::parse(data, nullptr, /*allow_exceptions=*/false);
  auto it = j.is_object() ? j.find("mac") : j.end();
  if (!j.is_object() || it == j.end() || !it->is_string()) {
    return Status::Corruption("repository config is damaged: it has no MAC");
  }
  std::string mac = it->get<std::string>();
  j.erase("mac");
  if (!crypto::ConstantTimeEqual(mac, keys.ConfigMac(j.dump()).ToHex())) {
    return Status::Corruption("repository config is damaged: its MAC does not match (it was changed)");
  }
  return Status::OK();
}

namespace {

Status Bad(const std::string& why) { return Status::Corruption("repository config is damaged: " + why); }

// The members needed before the keys are known: format, id, encryption.
Status DecodeHead(const json& j, RepoConfig* c) {
  c->format = JsonInt<int>(j.at("format"));
  if (c->format > kFormatVersion || c->format < 1) {
    return Status::NotSupported("repository has format version " + std::to_string(c->format) +
                                ", but this cairn reads only up to version " + std::to_string(kFormatVersion) +
                                "; upgrade cairn");
  }
  auto id = ObjectId::FromHex(j.at("id").get<std::string>());
  if (!id.ok()) return Bad("invalid repository id");
  c->repo_id = *id;
  c->encryption = j.at("encryption").get<std::string>();
  if (c->format == kFormatPlain && c->encryption != "none") {
    return Bad("a format 1 repository cannot be encrypted ('" + c->encryption + "')");
  }
  if (c->format >= kFormatEncrypted && c->encryption != kEncryptionSuite) {
    return Status::NotSupported("repository uses the encryption '" + c->encryption +
                                "', which this cairn does not know; upgrade cairn");
  }
  return Status::OK();
}

}  // namespace

Result<RepoConfig> DecodeConfigHead(std::string_view data) {
  json j = json::parse(data, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Bad("not valid JSON");
  RepoConfig c;
  try {
    CAIRN_RETURN_IF_ERROR(DecodeHead(j, &c));
  } catch (const json::exception& e) {
    return Bad(std::string("missing or mistyped field (") + e.what() + ")");
  }
  return c;
}

Result<RepoConfig> DecodeConfig(std::string_view data) {
  json j = json::parse(data, nullptr, /*allow_exceptions=*/false);
  auto bad = [](const std::string& why) { return Bad(why); };
  if (j.is_discarded() || !j.is_object()) return bad("not valid JSON");
  RepoConfig c;
  try {
    CAIRN_RETURN_IF_ERROR(DecodeHead(j, &c));
    const json& ch = j.at("chunker");
    if (ch.at("algorithm").get<std::string>() != "fastcdc-gear64") {
      return Status::NotSupported("repository uses an unknown chunker; upgrade cairn");
    }
    c.chunker.min_size = JsonInt<uint32_t>(ch.at("min_size"));
    c.chunker.avg_size = JsonInt<uint32_t>(ch.at("avg_size"));
    c.chunker.max_size = JsonInt<uint32_t>(ch.at("max_size"));
    if (c.format == kFormatPlain) {
      auto parsed = ObjectId::FromHex(ch.at("seed").get<std::string>());
    if (!parsed.ok()) return bad("invalid chunker seed");
    ObjectId seed = *parsed;
      std::copy(seed.data(), seed.data() + 32, c.chunker.seed.begin());
    } else if (ch.contains("seed")) {
      return bad("an encrypted repository's config must not hold a chunker seed");
    }
    if (!ValidChunkerParams(c.chunker)) return bad("invalid chunker sizes");
    if (c.format >= kFormatWriteOnly) {
      auto pk = ObjectId::FromHex(j.at("box_public_key").get<std::string>());
      if (!pk.ok()) return bad("invalid box_public_key");
      c.box_public_key = std::string(pk->view());
    }
    const json& comp = j.at("compression");
    if (comp.at("algorithm").get<std::string>() != "zstd") {
      return Status::NotSupported("repository uses an unknown compression; upgrade cairn");
    }
    c.compression_level = JsonInt<int>(comp.at("level"));
    if (c.compression_level < 0 || c.compression_level > 22) return bad("invalid zstd level");
    c.pack_size = JsonInt<uint32_t>(j.at("pack_size"));
    if (c.pack_size < 1024 * 1024 || c.pack_size > 1024u * 1024 * 1024) return bad("invalid pack size");
  } catch (const json::exception& e) {
    return bad(std::string("missing or mistyped field (") + e.what() + ")");
  }
  return c;
}

}  // namespace cairn::objstore
