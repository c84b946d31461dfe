// SPDX-License-Identifier: MIT
//
// Forget and delete: decide which snapshots go (a retention policy per
// branch, or names), say why each one is kept, count what removing the
// rest frees, and move them to the trash. Nothing is freed until prune.

#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "objstore/core/object_id.h"
#include "objstore/core/status.h"
#include "repo/approval.h"
#include "repo/repository.h"
#include "repo/retention.h"
#include "repo/space.h"

namespace cairn::repo {

// The stored policy ("policy" in the repository); an empty one when none
// was set.
Result<StoredPolicy> ReadPolicy(const Repository& repo);
Status WritePolicy(Repository* repo, const StoredPolicy& p);

struct ForgetRequest {
  // The rules; std::nullopt: the stored policy of each branch.
  std::optional<RetentionPolicy> policy;
  std::vector<std::string> branches;  // the groups ("" = main unless all_branches)
  bool all_branches = false;
  int64_t now_ns = 0;  // 0: the clock
  bool force = false;  // allow a policy to remove every snapshot of a branch
};

struct ForgetGroup {
  std::string branch;
  std::string policy;                       // DescribePolicy
  std::vector<RetentionDecision> decisions;  // newest first
};

struct ForgetPlan {
  std::vector<ForgetGroup> groups;
  std::vector<ObjectId> remove;  // every snapshot to remove
  SpaceReport freed;             // what removing them all frees (after prune)
};

// Decides, changing nothing. InvalidArgument for a bad policy, a branch
// with no policy, or (without force) a policy that would remove every
// snapshot of a branch.
Result<ForgetPlan> PlanForget(Repository* repo, const ForgetRequest& req);

// Resolves each revision to a snapshot that can be deleted: NotFound for an
// unknown one, InvalidArgument for one a branch head or a tag points at
// (the message says which ref to move or delete first).
Result<ForgetPlan> PlanDelete(Repository* repo, const std::vector<std::string>& revisions);

// Asks `approver` (risk high; the operation is "delete" or "archive" when
// `reason` starts with that word, else "forget"), then moves the plan's snapshots to the trash
// for `trash_for` (0: until the next prune). Returns how many were moved.
Result<size_t> ApplyForget(Repository* repo, const ForgetPlan& plan, const std::string& reason, int64_t now_ns,
                           int64_t trash_for_ns, Approver* approver);

}  // namespace cairn::repo
