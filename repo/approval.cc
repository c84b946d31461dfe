// SPDX-License-Identifier: MIT

#include "repo/approval.h"

namespace cairn::repo {

const char* RiskName(Risk r) {
  switch (r) {
    case Risk::kLow: return "low";
    case Risk::kMedium: return "medium";
    case Risk::kHigh: return "high";
  }
  return "unknown";
}

Status RequireApproval(Approver* approver, const Operation& op) {
  if (approver != nullptr && approver->Approve(op)) return Status::OK();
  return Status::NotApproved(op.action + " needs approval (risk " + RiskName(op.risk) +
                             "): confirm on a terminal, or pass --yes");
}

}  // namespace cairn::repo
