// SPDX-License-Identifier: MIT

#include "repo/forget.h"

#include <algorithm>
#include <map>
#include <set>

#include "objstore/core/system.h"
#include "repo/prune.h"
#include "repo/refs.h"

namespace cairn::repo {
namespace {

constexpr std::string_view kPolicyName = "policy";

struct RefInfo {
  std::map<ObjectId, std::vector<std::string>> tags;   // snapshot -> tag names
  std::map<ObjectId, std::vector<std::string>> heads;  // snapshot -> branch names
  std::set<std::string> branches;
};

Result<RefInfo> ReadRefInfo(const Repository& repo) {
  RefInfo out;
  CAIRN_ASSIGN_OR_RETURN(auto refs, RefsBySnapshot(repo));
  for (const auto& [id, names] : refs) {
    for (const auto& n : names) {
      if (n.kind == "tag") {
        out.tags[id].push_back(n.name);
      } else {
        out.heads[id].push_back(n.name);
        out.branches.insert(n.name);
      }
    }
  }
  return out;
}

Status FillFreed(Repository* repo, ForgetPlan* plan) {
  CAIRN_ASSIGN_OR_RETURN(auto roots, DataRoots(*repo));
  CAIRN_RETURN_IF_ERROR(SyncSpace(*repo, roots));
  if (plan->remove.empty()) return Status::OK();
  CAIRN_ASSIGN_OR_RETURN(plan->freed, ExclusiveSpace(*repo, plan->remove));
  return Status::OK();
}

}  // namespace

Result<StoredPolicy> ReadPolicy(const Repository& repo) {
  auto data = repo.backend()->Get(kPolicyName);
  if (!data.ok()) {
    if (data.status().IsNotFound()) return StoredPolicy{};
    return data.status();
  }
  CAIRN_ASSIGN_OR_RETURN(std::string payload, repo.codec().DecodeFile(*data, objstore::FileType::kPolicy, nullptr,
                                                                      std::string(kPolicyName), kPolicyName));
  return DecodePolicy(payload, std::string(kPolicyName));
}

Status WritePolicy(Repository* repo, const StoredPolicy& p) {
  if (p.fallback) CAIRN_RETURN_IF_ERROR(ValidatePolicy(*p.fallback));
  for (const auto& [b, pol] : p.branches) {
    CAIRN_RETURN_IF_ERROR(ValidatePolicy(pol).WithContext("policy for branch '" + b + "'"));
  }
  return repo->backend()->Put(kPolicyName, repo->codec().EncodeFile(objstore::FileType::kPolicy, EncodePolicy(p),
                                                                    /*compress=*/false, kPolicyName));
}

Result<ForgetPlan> PlanForget(Repository* repo, const ForgetRequest& req) {
  int64_t now = req.now_ns != 0 ? req.now_ns : NowNs();
  StoredPolicy stored;
  if (!req.policy) {
    CAIRN_ASSIGN_OR_RETURN(stored, ReadPolicy(*repo));
    if (!stored.fallback && stored.branches.empty()) {
      return Status::InvalidArgument(
          "no retention rules given and no policy stored; give --keep-* rules or set one with 'cairn policy set'");
    }
  } else {
    CAIRN_RETURN_IF_ERROR(ValidatePolicy(*req.policy));
  }
  CAIRN_ASSIGN_OR_RETURN(RefInfo refs, ReadRefInfo(*repo));
  CAIRN_ASSIGN_OR_RETURN(auto snaps, repo->ListSnapshots());
  std::map<std::string, std::vector<std::pair<ObjectId, const Snapshot*>>> by_branch;
  for (const auto& [id, s] : snaps) by_branch[s.branch].emplace_back(id, &s);

  std::vector<std::string> groups;
  if (req.all_branches || (!req.policy && req.branches.empty())) {
    for (const auto& [b, list] : by_branch) groups.push_back(b);
  } else if (req.branches.empty()) {
    groups.push_back(std::string(kDefaultBranch));
  } else {
    groups = req.branches;
  }
  ForgetPlan plan;
  for (const auto& b : groups) {
    if (!req.all_branches && req.policy && by_branch.count(b) == 0 && refs.branches.count(b) == 0) {
      return Status::NotFound("branch '" + b + "' has no snapshots; 'cairn branch' lists the branches");
    }
    const RetentionPolicy* pol = req.policy ? &*req.policy : stored.For(b);
    if (pol == nullptr) {
      if (!req.branches.empty()) {
        return Status::InvalidArgument("no policy is stored for branch '" + b +
                                       "'; set one with 'cairn policy set --branch " + b + " --keep-...'");
      }
      continue;  // the stored policy leaves this branch alone
    }
    std::vector<RetentionItem> items;
    for (const auto& [id, s] : by_branch[b]) {
      RetentionItem it;
      it.id = id;
      it.time_ns = s->time_ns;
      if (auto t = refs.tags.find(id); t != refs.tags.end()) it.tags = t->second;
      if (auto h = refs.heads.find(id); h != refs.heads.end()) {
        for (const auto& name : h->second) it.protect.push_back("branch head " + name);
      }
      items.push_back(std::move(it));
    }
    ForgetGroup g;
    g.branch = b;
    g.policy = DescribePolicy(*pol);
    g.decisions = ApplyRetention(*pol, items, now);
    bool any_kept = std::any_of(g.decisions.begin(), g.decisions.end(), [](const auto& d) { return d.keep; });
    if (!g.decisions.empty() && !any_kept && !req.force) {
      return Status::InvalidArgument("the policy (" + g.policy + ") would remove every snapshot of branch '" + b +
                                     "'; nothing was changed; pass --force if that is what you want");
    }
    for (const auto& d : g.decisions) {
      if (!d.keep) plan.remove.push_back(d.id);
    }
    plan.groups.push_back(std::move(g));
  }
  CAIRN_RETURN_IF_ERROR(FillFreed(repo, &plan));
  return plan;
}

Result<ForgetPlan> PlanDelete(Repository* repo, const std::vector<std::string>& revisions) {
  CAIRN_ASSIGN_OR_RETURN(RefInfo refs, ReadRefInfo(*repo));
  ForgetPlan plan;
  ForgetGroup g;
  std::set<ObjectId> seen;
  for (const auto& rev : revisions) {
    CAIRN_ASSIGN_OR_RETURN(ObjectId id, repo->ResolveRevision(rev));
    if (auto t = refs.tags.find(id); t != refs.tags.end()) {
      return Status::InvalidArgument("snapshot " + id.ShortHex() + " is tagged '" + t->second[0] +
                                     "' (a release); delete the tag first ('cairn tag -d " + t->second[0] +
                                     "'); nothing was changed");
    }
    if (auto h = refs.heads.find(id); h != refs.heads.end()) {
      return Status::InvalidArgument("snapshot " + id.ShortHex() + " is the head of branch '" + h->second[0] +
                                     "'; move the branch ('cairn branch reset') or delete it first; nothing was changed");
    }
    if (!seen.insert(id).second) continue;
    CAIRN_ASSIGN_OR_RETURN(Snapshot s, repo->ReadSnapshot(id));
    RetentionDecision d;
    d.id = id;
    d.time_ns = s.time_ns;
    g.decisions.push_back(d);
    plan.remove.push_back(id);
  }
  g.policy = "named";
  plan.groups.push_back(std::move(g));
  CAIRN_RETURN_IF_ERROR(FillFreed(repo, &plan));
  return plan;
}

Result<size_t> ApplyForget(Repository* repo, const ForgetPlan& plan, const std::string& reason, int64_t now_ns,
                           int64_t trash_for_ns, Approver* approver) {
  if (plan.remove.empty()) return size_t{0};
  Operation op;
  op.action = reason + " of " + std::to_string(plan.remove.size()) + " snapshot(s)";
  op.details = "they go to the trash ('cairn trash'; 'cairn undelete ID' brings one back until it is purged)";
  op.risk = Risk::kHigh;
  op.kind = reason.rfind("delete", 0) == 0 ? "delete" : reason.rfind("archive", 0) == 0 ? "archive" : "forget";
  // Removing every snapshot a branch has (forget --force) is critical.
  std::vector<std::string> emptied;
  for (const auto& g : op.kind == "forget" ? plan.groups : std::vector<ForgetGroup>{}) {
    bool kept = false;
    for (const auto& d : g.decisions) kept = kept || d.keep;
    if (!g.decisions.empty() && !kept) emptied.push_back(g.branch);
  }
  if (!emptied.empty()) {
    op.risk = Risk::kCritical;
    op.kind = "forget branch";
    op.details += "\n  every snapshot of branch";
    for (const auto& b : emptied) op.details += " '" + b + "'";
    op.details += " is removed";
  }
  nlohmann::json ids = nlohmann::json::array();
  for (const auto& id : plan.remove) ids.push_back(id.ToHex());
  op.affected = {{"snapshots", ids}, {"reason", reason}, {"bytes", plan.freed.bytes}};
  CAIRN_RETURN_IF_ERROR(RequireApproval(approver, op));
  int64_t now = now_ns != 0 ? now_ns : NowNs();
  size_t n = 0;
  for (const auto& id : plan.remove) {
    CAIRN_RETURN_IF_ERROR(repo->TrashSnapshot(id, reason, now, now + trash_for_ns));
    n++;
  }
  return n;
}

}  // namespace cairn::repo
