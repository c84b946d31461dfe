// SPDX-License-Identifier: MIT

#include "repo/approval.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "objstore/core/object_id.h"
#include "objstore/core/system.h"
#include "objstore/crypto.h"
#include "objstore/pack.h"
#include "repo/repository.h"

namespace cairn::repo {

using nlohmann::json;

const char* RiskName(Risk r) {
  switch (r) {
    case Risk::kLow: return "low";
    case Risk::kMedium: return "medium";
    case Risk::kHigh: return "high";
    case Risk::kCritical: return "critical";
  }
  return "unknown";
}

std::optional<Risk> ParseRisk(std::string_view s) {
  for (Risk r : {Risk::kLow, Risk::kMedium, Risk::kHigh, Risk::kCritical}) {
    if (s == RiskName(r)) return r;
  }
  return std::nullopt;
}

const std::vector<OperationInfo>& Operations() {
  static const std::vector<OperationInfo> kTable = {
      // low: reads
      {"log", Risk::kLow, false, "list snapshots of a branch"},
      {"snapshots", Risk::kLow, false, "list every snapshot"},
      {"show", Risk::kLow, false, "show a snapshot"},
      {"ls", Risk::kLow, false, "list a snapshot's files"},
      {"cat", Risk::kLow, false, "print a file of a snapshot"},
      {"diff", Risk::kLow, false, "compare restore points"},
      {"check", Risk::kLow, false, "verify the repository"},
      {"stats", Risk::kLow, false, "sizes and counts"},
      {"show-config", Risk::kLow, false, "print the repository config"},
      {"rev-parse", Risk::kLow, false, "resolve a revision"},
      {"cat-file", Risk::kLow, false, "print a stored object"},
      {"ls-tree", Risk::kLow, false, "list a stored tree"},
      {"hash-object", Risk::kLow, false, "compute an object id"},
      {"tag list", Risk::kLow, false, "list tags"},
      {"branch list", Risk::kLow, false, "list branches"},
      {"key list", Risk::kLow, false, "list key slots"},
      {"trash", Risk::kLow, false, "list removed snapshots"},
      {"policy show", Risk::kLow, false, "show the retention policy"},
      {"approval-policy show", Risk::kLow, false, "show the approval policy"},
      {"audit log", Risk::kLow, false, "read the audit log"},
      {"audit summary", Risk::kLow, false, "count the audit log's entries"},
      {"audit export", Risk::kLow, false, "export the audit log"},
      {"audit verify", Risk::kLow, false, "verify the audit log's chain"},
      {"forget dry-run", Risk::kLow, false, "show what forget would remove"},
      {"delete dry-run", Risk::kLow, false, "show what delete would remove"},
      {"prune dry-run", Risk::kLow, false, "show what prune would delete"},
      {"copy dry-run", Risk::kLow, false, "show what copy would add to another repository"},
      {"archive dry-run", Risk::kLow, false, "show what archive would move to another repository"},
      {"bundle import dry-run", Risk::kLow, false, "check a bundle against the repository"},
      {"git map", Risk::kLow, false, "pair snapshots with git commits"},
      // medium: adds, or writes into a new place
      {"init", Risk::kMedium, true, "create a repository"},
      {"backup", Risk::kMedium, true, "add a snapshot"},
      {"restore", Risk::kMedium, true, "restore into a new or empty folder"},
      {"tag create", Risk::kMedium, true, "create a tag"},
      {"branch create", Risk::kMedium, true, "create a branch"},
      {"undelete", Risk::kMedium, true, "bring snapshots back from the trash"},
      {"key add", Risk::kMedium, true, "add a key slot"},
      {"key passwd", Risk::kMedium, true, "change the password of the slot in use"},
      {"policy set", Risk::kMedium, true, "store retention rules"},
      {"policy clear", Risk::kMedium, true, "remove retention rules"},
      {"repair index", Risk::kMedium, true, "rebuild the index from the packs"},
      {"approve", Risk::kMedium, true, "approve a plan"},
      {"copy", Risk::kMedium, true, "copy snapshots into another repository (recorded in both)"},
      {"bundle import", Risk::kMedium, true, "take a bundle's snapshots and refs in"},
      {"bundle create", Risk::kMedium, true, "write snapshots' content out into a bundle file"},
      {"run", Risk::kMedium, true, "snapshot folders, run a command, roll them back if it fails"},
      {"git import", Risk::kMedium, true, "take a git history in as snapshots"},
      {"git export", Risk::kMedium, true, "write snapshots as commits into a git repository (recorded in gitmap/)"},
      // high: replaces or removes
      {"restore over", Risk::kHigh, true, "restore over existing files (after a safety snapshot)"},
      {"rollback", Risk::kHigh, true, "return a folder to its safety snapshot"},
      {"forget", Risk::kHigh, true, "remove snapshots by retention rules (to the trash)"},
      {"delete", Risk::kHigh, true, "remove named snapshots (to the trash)"},
      {"archive", Risk::kHigh, true, "copy old snapshots to another repository, verify them, remove them here (to the trash)"},
      {"prune", Risk::kHigh, true, "delete data no kept snapshot needs"},
      {"tag move", Risk::kHigh, true, "move a tag or change its message"},
      {"tag delete", Risk::kHigh, true, "delete a tag"},
      {"branch reset", Risk::kHigh, true, "move a branch"},
      {"bundle import force", Risk::kHigh, true, "move refs to a bundle's snapshots"},
      {"branch delete", Risk::kHigh, true, "delete a branch"},
      {"key remove", Risk::kHigh, true, "remove a key slot"},
      {"approval-policy set", Risk::kHigh, true, "change the approval policy"},
      // critical: cannot be undone, or removes a safeguard
      {"forget branch", Risk::kCritical, true, "remove every snapshot of a branch"},
      {"destroy", Risk::kCritical, true, "remove the whole repository"},
      {"key remove last", Risk::kCritical, true, "remove the last key slot of its kind"},
      {"approval-policy loosen", Risk::kCritical, true, "ask less approval than before"},
  };
  return kTable;
}

const OperationInfo* FindOperation(std::string_view name) {
  for (const auto& o : Operations()) {
    if (o.name == name) return &o;
  }
  return nullptr;
}

Status RequireApproval(Approver* approver, const Operation& op) {
  if (approver == nullptr) {
    return Status::NotApproved(op.action + " was refused (risk " + RiskName(op.risk) + "): nothing can approve it here");
  }
  return approver->Approve(op);
}

// --- The approval policy ---

namespace {

json Levels(const std::set<Risk>& s) {
  json a = json::array();
  for (Risk r : s) a.push_back(RiskName(r));
  return a;
}

Result<std::set<Risk>> LevelsFrom(const json& j, const std::string& what) {
  if (!j.is_array()) return Status::Corruption(what + " is not a list of risk levels");
  std::set<Risk> out;
  for (const auto& v : j) {
    auto r = v.is_string() ? ParseRisk(v.get<std::string>()) : std::nullopt;
    if (!r) return Status::Corruption(what + " holds '" + v.dump() + "', not a risk level");
    out.insert(*r);
  }
  return out;
}

std::string Dumped(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace

json ApprovalPolicyJson(const ApprovalPolicy& p) {
  return json{{"version", 1},
              {"require", Levels(p.require)},
              {"yes", Levels(p.yes)},
              {"second_person", Levels(p.second_person)},
              {"audit_reads", p.audit_reads}};
}

Result<ApprovalPolicy> ApprovalPolicyFromJson(const json& j, const std::string& name) {
  const std::string damaged = "approval policy '" + name + "'";
  if (!j.is_object()) return Status::Corruption(damaged + " is damaged (not a JSON object)");
  if (!j.contains("version") || !j["version"].is_number_integer() || j["version"].get<int64_t>() < 1) {
    return Status::Corruption(damaged + " is damaged (no version)");
  }
  if (j["version"].get<int64_t>() > 1) {
    return Status::NotSupported(damaged + " has version " + j["version"].dump() + "; upgrade cairn");
  }
  ApprovalPolicy p;
  for (const auto& [k, v] : j.items()) {
    if (k == "version") continue;
    if (k == "require") {
      CAIRN_ASSIGN_OR_RETURN(p.require, LevelsFrom(v, damaged + " 'require'"));
    } else if (k == "yes") {
      CAIRN_ASSIGN_OR_RETURN(p.yes, LevelsFrom(v, damaged + " 'yes'"));
    } else if (k == "second_person") {
      CAIRN_ASSIGN_OR_RETURN(p.second_person, LevelsFrom(v, damaged + " 'second_person'"));
    } else if (k == "audit_reads") {
      if (!v.is_boolean()) return Status::Corruption(damaged + " 'audit_reads' is not true or false");
      p.audit_reads = v.get<bool>();
    } else {
      // An unknown rule could be one that asks for more approval: dropping
      // it would weaken the policy.
      return Status::Corruption(damaged + " has an unknown member '" + k + "'");
    }
  }
  return p;
}

Result<ApprovalPolicy> ReadApprovalPolicy(const Repository& r) {
  auto data = r.backend()->Get(kApprovalPolicyName);
  if (!data.ok()) {
    if (data.status().IsNotFound()) return ApprovalPolicy{};
    return data.status();
  }
  const std::string name(kApprovalPolicyName);
  CAIRN_ASSIGN_OR_RETURN(std::string payload,
                         r.codec().DecodeFile(*data, objstore::FileType::kApprovalPolicy, nullptr, name, name));
  auto j = json::parse(payload, nullptr, false);
  if (j.is_discarded()) return Status::Corruption("approval policy '" + name + "' is damaged (not JSON)");
  return ApprovalPolicyFromJson(j, name);
}

Status WriteApprovalPolicy(Repository* r, const ApprovalPolicy& p) {
  return r->backend()->Put(kApprovalPolicyName,
                           r->codec().EncodeFile(objstore::FileType::kApprovalPolicy, Dumped(ApprovalPolicyJson(p)),
                                                 /*compress=*/false, kApprovalPolicyName));
}

Risk PolicyChangeRisk(const ApprovalPolicy& from, const ApprovalPolicy& to) {
  auto subset = [](const std::set<Risk>& a, const std::set<Risk>& b) {
    return std::includes(b.begin(), b.end(), a.begin(), a.end());
  };
  const bool less = !subset(from.require, to.require) || !subset(from.second_person, to.second_person) ||
                    !subset(to.yes, from.yes) || (from.audit_reads && !to.audit_reads);
  return less ? Risk::kCritical : Risk::kHigh;
}

// --- Plans ---

std::string AccountName() {
  std::string name = UserName(::getuid());
  return name.empty() ? "uid " + std::to_string(::getuid()) : name;
}

Plan MakePlan(const Repository& r, const Operation& op, const std::vector<std::string>& args) {
  Plan p;
  p.body = json{{"version", kPlanVersion},
                {"repository", r.config().repo_id.ToHex()},
                {"operation", op.kind},
                {"risk", RiskName(op.risk)},
                {"action", op.action},
                {"details", op.details},
                {"affected", op.affected},
                {"args", args},
                {"created_ns", NowNs()},
                {"by", AccountName() + "@" + HostName()}};
  p.hash = Sha256(Dumped(p.body)).ToHex();
  return p;
}

std::string EncodePlanFile(const Plan& p) {
  return json{{"hash", p.hash}, {"plan", p.body}}.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

Result<Plan> DecodePlanFile(std::string_view text, const std::string& name) {
  auto j = json::parse(text, nullptr, false);
  const std::string what = "plan '" + name + "'";
  if (j.is_discarded() || !j.is_object()) return Status::Corruption(what + " is not a plan (not a JSON object)");
  if (!j.contains("hash") || !j["hash"].is_string() || !j.contains("plan") || !j["plan"].is_object()) {
    return Status::Corruption(what + " is not a plan (it needs 'hash' and 'plan')");
  }
  Plan p;
  p.body = j["plan"];
  p.hash = j["hash"].get<std::string>();
  const json& b = p.body;
  if (!b.contains("version") || !b["version"].is_number_integer()) {
    return Status::Corruption(what + " has no version");
  }
  if (b["version"].get<int64_t>() > kPlanVersion) {
    return Status::NotSupported(what + " has version " + b["version"].dump() + "; upgrade cairn");
  }
  if (Sha256(Dumped(b)).ToHex() != p.hash) {
    return Status::Corruption(what + " was changed after it was written (its hash does not match); write a new "
                              "plan with --plan-out");
  }
  for (const char* k : {"repository", "operation", "risk", "action", "by"}) {
    if (!b.contains(k) || !b[k].is_string()) return Status::Corruption(what + " has no '" + k + "'");
  }
  if (!b.contains("args") || !b["args"].is_array() || !b.contains("affected") || !b.contains("created_ns")) {
    return Status::Corruption(what + " has no 'args', 'affected' or 'created_ns'");
  }
  for (const auto& a : b["args"]) {
    if (!a.is_string()) return Status::Corruption(what + " has an argument that is not a string");
  }
  if (!ParseRisk(b["risk"].get<std::string>())) return Status::Corruption(what + " has an unknown risk");
  return p;
}

bool PlanHolds(const Plan& plan, const Operation& op, std::string* why) {
  const json& b = plan.body;
  if (b.value("operation", "") != op.kind || b.value("action", "") != op.action) {
    *why = "the command now " + op.action + " (" + op.kind + "), the plan was to " + b.value("action", "") + " (" +
           b.value("operation", "") + ")";
    return false;
  }
  if (b.value("risk", "") != RiskName(op.risk)) {
    *why = "its risk is now " + std::string(RiskName(op.risk)) + ", the plan said " + b.value("risk", "");
    return false;
  }
  if (b["affected"] != op.affected) {
    // Name the first member that differs.
    std::string member;
    if (b["affected"].is_object() && op.affected.is_object()) {
      for (const auto& [k, v] : op.affected.items()) {
        if (!b["affected"].contains(k) || b["affected"][k] != v) {
          member = k;
          break;
        }
      }
      if (member.empty()) {
        for (const auto& [k, v] : b["affected"].items()) {
          if (!op.affected.contains(k)) {
            member = k;
            break;
          }
        }
      }
    }
    *why = "what it affects changed" + (member.empty() ? std::string() : " ('" + member + "')");
    return false;
  }
  return true;
}

// --- Approval records ---

namespace {

constexpr std::string_view kApprovalsDir = "approvals/";

bool IsHex64(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

}  // namespace

Result<ApprovalRecord> RecordApproval(Repository* r, const std::string& plan_hash, int64_t now_ns) {
  if (!IsHex64(plan_hash)) return Status::InvalidArgument("'" + plan_hash + "' is not a plan hash");
  ApprovalRecord rec;
  const std::string nonce = objstore::crypto::RandomString(8);
  std::string hex;
  for (unsigned char c : nonce) {
    char b[3];
    std::snprintf(b, sizeof(b), "%02x", c);
    hex += b;
  }
  rec.name = std::string(kApprovalsDir) + plan_hash + "-" + hex;
  rec.plan_hash = plan_hash;
  rec.user = AccountName();
  rec.host = HostName();
  rec.key_slot = r->key_slot();
  rec.time_ns = now_ns != 0 ? now_ns : NowNs();
  json j{{"version", 1},         {"plan", plan_hash},         {"user", rec.user},
         {"host", rec.host},     {"key_slot", rec.key_slot},  {"time_ns", rec.time_ns}};
  CAIRN_RETURN_IF_ERROR(r->backend()->PutIfAbsent(
      rec.name, r->codec().EncodeFile(objstore::FileType::kApproval, Dumped(j), /*compress=*/false, rec.name)));
  return rec;
}

Result<std::vector<ApprovalRecord>> ListApprovals(const Repository& r, const std::string& plan_hash,
                                                  std::vector<std::string>* problems) {
  std::vector<std::string> names;
  const std::string prefix = std::string(kApprovalsDir) + plan_hash + "-";
  CAIRN_RETURN_IF_ERROR(r.backend()->List(kApprovalsDir, [&](const std::string& n, uint64_t) {
    if (n.rfind(prefix, 0) == 0) names.push_back(n);
  }));
  std::sort(names.begin(), names.end());
  std::vector<ApprovalRecord> out;
  for (const auto& n : names) {
    auto data = r.backend()->Get(n);
    if (!data.ok()) {
      if (!data.status().IsNotFound()) problems->push_back(data.status().message());
      continue;
    }
    auto payload = r.codec().DecodeFile(*data, objstore::FileType::kApproval, nullptr, n, n);
    if (!payload.ok()) {
      problems->push_back("approval '" + n + "' is damaged: " + payload.status().message());
      continue;
    }
    auto j = json::parse(*payload, nullptr, false);
    if (j.is_discarded() || !j.is_object() || j.value("plan", "") != plan_hash || !j.contains("user") ||
        !j["user"].is_string() || !j.contains("time_ns") || !j["time_ns"].is_number_integer()) {
      problems->push_back("approval '" + n + "' is damaged (not an approval of this plan)");
      continue;
    }
    ApprovalRecord rec;
    rec.name = n;
    rec.plan_hash = plan_hash;
    rec.user = j["user"].get<std::string>();
    rec.host = j.value("host", "");
    rec.key_slot = j.value("key_slot", "");
    rec.time_ns = j["time_ns"].get<int64_t>();
    out.push_back(std::move(rec));
  }
  return out;
}

Status RemoveApprovals(Repository* r, const std::vector<ApprovalRecord>& records) {
  for (const auto& rec : records) {
    Status st = r->backend()->Remove(rec.name);
    if (!st.ok() && !st.IsNotFound()) return st;
  }
  return Status::OK();
}

}  // namespace cairn::repo
