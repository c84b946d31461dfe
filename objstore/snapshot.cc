// SPDX-License-Identifier: MIT

#include "objstore/snapshot.h"
#include "objstore/snapshot_json.h"

#include <ctime>
#include <nlohmann/json.hpp>

#include "objstore/core/json_int.h"

#include "objstore/pack.h"
#include "objstore/tree.h"

namespace cairn::objstore {

using nlohmann::json;

std::string SnapshotName(const ObjectId& id) { return "snapshots/" + id.ToHex(); }

std::string FormatTime(int64_t time_ns) {
  time_t secs = static_cast<time_t>(time_ns / 1000000000);
  if (time_ns < 0 && time_ns % 1000000000 != 0) secs--;
  struct tm tm;
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

json StatsToJson(const SnapshotStats& s) {
  json j = {{"files", s.files},
          {"dirs", s.dirs},
          {"bytes", s.bytes},
          {"new_chunks", s.new_chunks},
          {"new_trees", s.new_trees},
          {"added_raw_bytes", s.added_raw_bytes},
          {"added_bytes", s.added_bytes},
          {"duration_ms", s.duration_ms},
          {"files_new", s.files_new},
          {"files_changed", s.files_changed},
          {"files_unchanged", s.files_unchanged},
          {"files_deleted", s.files_deleted},
          {"files_read", s.files_read}};
  if (s.counts_unknown) j["counts_unknown"] = true;
  return j;
}

json SnapshotToJson(const Snapshot& s) {
  json j;
  j["v"] = 1;
  j["tree"] = s.tree.ToHex();
  j["parents"] = json::array();
  for (const auto& p : s.parents) j["parents"].push_back(p.ToHex());
  j["time_ns"] = s.time_ns;
  j["host"] = s.host;
  j["user"] = s.user;
  j["paths"] = s.paths;
  j["kind"] = s.kind;
  j["branch"] = s.branch;
  j["message"] = s.message;
  j["stats"] = StatsToJson(s.stats);
  j["excludes"] = s.excludes;
  j["source"] = s.source;
  j["errors"] = json::array();
  for (const auto& e : s.errors) j["errors"].push_back({{"path", e.path}, {"error", e.error}});
  if (s.root) {
    j["root"] = {{"mode", s.root->mode}, {"uid", s.root->uid},     {"gid", s.root->gid},
                 {"user", s.root->user}, {"group", s.root->group}, {"mtime_ns", s.root->mtime_ns}};
  }
  if (s.copied_from) j["copied_from"] = s.copied_from->ToHex();
  if (s.git) j["git"] = {{"commit", s.git->commit}, {"tree", s.git->tree}};
  return j;
}

std::string EncodeSnapshotPayload(const Snapshot& s) {
  // Names that are not UTF-8 are replaced by U+FFFD here; the exact bytes
  // live in the trees.
  return SnapshotToJson(s).dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<Snapshot> DecodeSnapshotPayload(std::string_view payload, const std::string& name) {
  json j = json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::Corruption("snapshot '" + name + "' is damaged: not valid JSON");
  }
  return SnapshotFromJson(j, name);
}

Result<Snapshot> SnapshotFromJson(const json& j, const std::string& name) {
  auto bad = [&](const std::string& why) {
    return Status::Corruption("snapshot '" + name + "' is damaged: " + why);
  };
  if (!j.is_object()) return bad("not a JSON object");
  Snapshot s;
  try {
    if (JsonInt<int>(j.at("v")) != 1) {
      return Status::NotSupported("snapshot '" + name + "' has a newer format; upgrade cairn");
    }
    // An id that does not parse is damage in this snapshot, not a bad
    // argument of the command that read it.
    auto tree = ObjectId::FromHex(j.at("tree").get<std::string>());
    if (!tree.ok()) return bad("field 'tree' is not an object id");
    s.tree = *tree;
    for (const auto& p : j.at("parents")) {
      auto pid = ObjectId::FromHex(p.get<std::string>());
      if (!pid.ok()) return bad("a parent is not an object id");
      s.parents.push_back(*pid);
    }
    s.time_ns = JsonInt<int64_t>(j.at("time_ns"));
    s.host = j.at("host").get<std::string>();
    s.user = j.at("user").get<std::string>();
    s.paths = j.at("paths").get<std::vector<std::string>>();
    s.kind = j.at("kind").get<std::string>();
    s.branch = j.at("branch").get<std::string>();
    s.message = j.at("message").get<std::string>();
    const json& st = j.at("stats");
    s.stats.files = JsonInt<uint64_t>(st.at("files"));
    s.stats.dirs = JsonInt<uint64_t>(st.at("dirs"));
    s.stats.bytes = JsonInt<uint64_t>(st.at("bytes"));
    s.stats.new_chunks = JsonInt<uint64_t>(st.at("new_chunks"));
    s.stats.new_trees = JsonInt<uint64_t>(st.at("new_trees"));
    s.stats.added_raw_bytes = JsonInt<uint64_t>(st.at("added_raw_bytes"));
    s.stats.added_bytes = JsonInt<uint64_t>(st.at("added_bytes"));
    s.stats.duration_ms = JsonInt<uint64_t>(st.at("duration_ms"));
    // Added after the first snapshots were written: optional.
    s.stats.files_new = st.value("files_new", uint64_t{0});
    s.stats.files_changed = st.value("files_changed", uint64_t{0});
    s.stats.files_unchanged = st.value("files_unchanged", uint64_t{0});
    s.stats.files_deleted = st.value("files_deleted", uint64_t{0});
    s.stats.files_read = st.value("files_read", uint64_t{0});
    s.stats.counts_unknown = st.value("counts_unknown", false);
    if (j.contains("excludes")) s.excludes = j.at("excludes").get<std::vector<std::string>>();
    s.source = j.value("source", std::string("files"));
    if (j.contains("root")) {
      const json& r = j.at("root");
      RootMeta m;
      m.mode = JsonInt<uint32_t>(r.at("mode"));
      if (m.mode > 07777) return bad("root mode out of range");
      m.uid = JsonInt<uint32_t>(r.at("uid"));
      m.gid = JsonInt<uint32_t>(r.at("gid"));
      m.user = r.at("user").get<std::string>();
      m.group = r.at("group").get<std::string>();
      m.mtime_ns = JsonInt<int64_t>(r.at("mtime_ns"));
      s.root = m;
    }
    if (j.contains("copied_from")) {
      auto from = ObjectId::FromHex(j.at("copied_from").get<std::string>());
      if (!from.ok()) return bad("field 'copied_from' is not an object id");
      s.copied_from = *from;
    }
    if (j.contains("git")) {
      GitOrigin g;
      g.commit = j.at("git").at("commit").get<std::string>();
      g.tree = j.at("git").at("tree").get<std::string>();
      if (!GitCommitHex(g.commit) || !GitCommitHex(g.tree)) return bad("field 'git' does not hold git object ids");
      s.git = g;
    }
    for (const auto& e : j.at("errors")) {
      s.errors.push_back({e.at("path").get<std::string>(), e.at("error").get<std::string>()});
    }
  } catch (const json::exception& e) {
    return bad(std::string("missing or mistyped field (") + e.what() + ")");
  }
  return s;
}

}  // namespace cairn::objstore
