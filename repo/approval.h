// SPDX-License-Identifier: MIT
//
// The approval step for operations that cannot be undone (deleting a tag or
// branch, moving a tag; later retention, prune and in-place restore). The
// library describes the operation and its risk; an Approver (the CLI's asks
// on a terminal and otherwise requires --yes) decides.

#pragma once

#include <string>

#include "objstore/core/status.h"

namespace cairn::repo {

enum class Risk { kLow, kMedium, kHigh };
const char* RiskName(Risk r);

struct Operation {
  std::string action;   // "delete tag 'v1'"
  std::string details;  // what will happen, one or more lines
  Risk risk = Risk::kMedium;
};

class Approver {
 public:
  virtual ~Approver() = default;
  // Returns true if `op` may proceed.
  virtual bool Approve(const Operation& op) = 0;
};

// Returns OK if `approver` approves `op`, NotApproved otherwise (the message
// says how to approve).
Status RequireApproval(Approver* approver, const Operation& op);

}  // namespace cairn::repo
