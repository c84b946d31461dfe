// SPDX-License-Identifier: MIT

#include "repo/prune_plan.h"

#include <nlohmann/json.hpp>

#include "objstore/core/json_int.h"

namespace cairn::repo {

using nlohmann::json;

namespace {

constexpr int kPlanVersion = 1;

json Ids(const std::vector<ObjectId>& ids) {
  json a = json::array();
  for (const auto& id : ids) a.push_back(id.ToHex());
  return a;
}

std::vector<ObjectId> ParseIds(const json& a, const std::string& name, const char* field) {
  std::vector<ObjectId> out;
  for (const auto& v : a) {
    auto id = ObjectId::FromHex(v.get<std::string>());
    if (!id.ok()) throw std::runtime_error(std::string("bad id in '") + field + "' of " + name);
    out.push_back(*id);
  }
  return out;
}

}  // namespace

const char* PlanStateName(PrunePlan::State s) {
  switch (s) {
    case PrunePlan::State::kPending: return "pending";
    case PrunePlan::State::kMarked: return "marked";
    case PrunePlan::State::kIndexed: return "indexed";
  }
  return "?";
}

std::string EncodePrunePlan(const objstore::ObjectCodec& codec, const PrunePlan& p) {
  json j{{"version", kPlanVersion},
         {"state", PlanStateName(p.state)},
         {"created_ns", p.created_ns},
         {"host", p.host},
         {"condemned_packs", Ids(p.condemned_packs)},
         {"condemned_bytes", p.condemned_bytes},
         {"garbage", Ids(p.garbage)},
         {"unindexed_packs", Ids(p.unindexed_packs)},
         {"index_files", p.index_files},
         {"sessions", p.sessions}};
  return codec.EncodeFile(objstore::FileType::kPrunePlan, j.dump(-1, ' ', false, json::error_handler_t::replace),
                          /*compress=*/true, p.name);
}

Result<PrunePlan> DecodePrunePlan(const objstore::ObjectCodec& codec, std::string_view file, const std::string& name) {
  CAIRN_ASSIGN_OR_RETURN(std::string payload,
                         codec.DecodeFile(file, objstore::FileType::kPrunePlan, nullptr, name, name));
  json j = json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Status::Corruption("prune plan '" + name + "' is not valid JSON");
  PrunePlan p;
  p.name = name;
  try {
    if (JsonInt<int>(j.at("version")) > kPlanVersion) {
      return Status::NotSupported("prune plan '" + name + "' is of a newer version; upgrade cairn");
    }
    std::string state = j.at("state").get<std::string>();
    if (state == "pending") {
      p.state = PrunePlan::State::kPending;
    } else if (state == "marked") {
      p.state = PrunePlan::State::kMarked;
    } else if (state == "indexed") {
      p.state = PrunePlan::State::kIndexed;
    } else {
      return Status::Corruption("prune plan '" + name + "' has an unknown state '" + state + "'");
    }
    p.created_ns = JsonInt<int64_t>(j.at("created_ns"));
    p.host = j.at("host").get<std::string>();
    p.condemned_packs = ParseIds(j.at("condemned_packs"), name, "condemned_packs");
    p.condemned_bytes = JsonInt<uint64_t>(j.at("condemned_bytes"));
    p.garbage = ParseIds(j.at("garbage"), name, "garbage");
    p.unindexed_packs = ParseIds(j.at("unindexed_packs"), name, "unindexed_packs");
    p.sessions = j.at("sessions").get<std::vector<std::string>>();
    p.index_files = j.at("index_files").get<std::vector<std::string>>();
  } catch (const std::exception& e) {
    return Status::Corruption("prune plan '" + name + "' has a missing or mistyped field (" + e.what() + ")");
  }
  return p;
}

}  // namespace cairn::repo
