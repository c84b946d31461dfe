// SPDX-License-Identifier: MIT

#include "repo/trash.h"

#include <nlohmann/json.hpp>

#include "objstore/core/json_int.h"

namespace cairn::repo {

using nlohmann::json;

namespace {
constexpr int kTrashVersion = 1;
}

std::string TrashName(const ObjectId& id) { return "trash/" + id.ToHex(); }

// The payload: one line of canonical JSON (the record's own fields), a
// newline, then the snapshot file's bytes unchanged.
std::string EncodeTrashRecord(const objstore::ObjectCodec& codec, const TrashRecord& r) {
  json j{{"version", kTrashVersion}, {"id", r.id.ToHex()},       {"removed_ns", r.removed_ns},
         {"expires_ns", r.expires_ns}, {"purged_ns", r.purged_ns}, {"reason", r.reason},
         {"host", r.host},           {"user", r.user}};
  std::string payload = j.dump(-1, ' ', false, json::error_handler_t::replace);
  payload += '\n';
  payload += r.snapshot_file;
  return codec.EncodeFile(objstore::FileType::kTrash, payload, /*compress=*/true, TrashName(r.id));
}

Result<TrashRecord> DecodeTrashRecord(const objstore::ObjectCodec& codec, std::string_view file, const ObjectId& id,
                                      const std::function<Result<objstore::Snapshot>(std::string_view)>& decode) {
  const std::string name = TrashName(id);
  CAIRN_ASSIGN_OR_RETURN(std::string payload,
                         codec.DecodeFile(file, objstore::FileType::kTrash, nullptr, name, name));
  size_t nl = payload.find('\n');
  if (nl == std::string::npos) return Status::Corruption("trash record '" + name + "' is damaged (no header line)");
  json j = json::parse(payload.substr(0, nl), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::Corruption("trash record '" + name + "' is damaged (its header is not JSON)");
  }
  TrashRecord r;
  try {
    int version = JsonInt<int>(j.at("version"));
    if (version > kTrashVersion) {
      return Status::NotSupported("trash record '" + name + "' is of a newer version; upgrade cairn");
    }
    auto hex = ObjectId::FromHex(j.at("id").get<std::string>());
    if (!hex.ok() || *hex != id) {
      return Status::Corruption("trash record '" + name + "' is damaged (it names another snapshot)");
    }
    r.id = id;
    r.removed_ns = JsonInt<int64_t>(j.at("removed_ns"));
    r.expires_ns = JsonInt<int64_t>(j.at("expires_ns"));
    r.purged_ns = JsonInt<int64_t>(j.at("purged_ns"));
    r.reason = j.at("reason").get<std::string>();
    r.host = j.at("host").get<std::string>();
    r.user = j.at("user").get<std::string>();
  } catch (const json::exception& e) {
    return Status::Corruption("trash record '" + name + "' has a missing or mistyped field (" + e.what() + ")");
  }
  r.snapshot_file = payload.substr(nl + 1);
  auto snap = decode(r.snapshot_file);
  if (!snap.ok()) {
    return Status::Corruption("trash record '" + name + "' is damaged: " + snap.status().message());
  }
  r.snapshot = std::move(snap).value();
  return r;
}

}  // namespace cairn::repo
