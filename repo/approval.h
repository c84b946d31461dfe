// SPDX-License-Identifier: MIT
//
// Approvals (docs/cli.md#risk-levels-and-approvals): every operation's risk
// level, in one table used by the CLI (and later the HTTP API); the
// approval policy stored in the repository; plans (the exact description
// of an operation, written by `--plan-out` and approved before `apply`
// runs it); and the approval records `cairn approve` writes.
//
// The library describes each operation it is about to perform (an
// Operation: what, its risk, and what it affects) and asks an Approver
// before it changes anything. The Approver decides from the policy: no
// approval needed, a prompt, --yes, or a plan approved beforehand.

#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "objstore/core/status.h"

namespace cairn::repo {

class Repository;

enum class Risk { kLow = 0, kMedium = 1, kHigh = 2, kCritical = 3 };
const char* RiskName(Risk r);
std::optional<Risk> ParseRisk(std::string_view s);

// One row of the risk table: an operation cairn performs, its risk, and
// whether it changes the repository or restores from it (those are always
// written to the audit log; the others only when the policy asks).
struct OperationInfo {
  std::string_view name;  // "branch reset"
  Risk risk;
  bool changes;
  std::string_view what;  // one line for the documentation
};
// Every operation, in the order of docs/cli.md's table.
const std::vector<OperationInfo>& Operations();
// The row of `name`, or null.
const OperationInfo* FindOperation(std::string_view name);

// An operation about to be performed, as the approver sees it.
struct Operation {
  std::string action;   // "delete tag 'v1'"
  std::string details;  // what will happen, one or more lines
  Risk risk = Risk::kMedium;
  std::string kind;     // its row in Operations() ("tag delete")
  // What it affects, exactly (snapshots, refs and their current values,
  // files, bytes): a plan holds it, and `apply` refuses when the same
  // operation computed again affects anything else.
  nlohmann::json affected = nlohmann::json::object();
};

class Approver {
 public:
  virtual ~Approver() = default;
  // OK if `op` may proceed; NotApproved (saying why and how to approve)
  // otherwise.
  virtual Status Approve(const Operation& op) = 0;
};

// Asks `approver` (NotApproved when it is null).
Status RequireApproval(Approver* approver, const Operation& op);

// --- The approval policy (format.md#approval-policy) ---

struct ApprovalPolicy {
  // The levels that need approval.
  std::set<Risk> require{Risk::kHigh, Risk::kCritical};
  // The levels --yes may approve (a script's flag); the others need the
  // prompt or an approved plan.
  std::set<Risk> yes{Risk::kLow, Risk::kMedium, Risk::kHigh, Risk::kCritical};
  // The levels whose approval must come from a second person: a plan
  // approved by a user other than the one who applies it.
  std::set<Risk> second_person;
  // Also write read-only operations to the audit log.
  bool audit_reads = false;

  friend bool operator==(const ApprovalPolicy& a, const ApprovalPolicy& b) {
    return a.require == b.require && a.yes == b.yes && a.second_person == b.second_person &&
           a.audit_reads == b.audit_reads;
  }
};
inline constexpr std::string_view kApprovalPolicyName = "approval-policy";
nlohmann::json ApprovalPolicyJson(const ApprovalPolicy& p);
Result<ApprovalPolicy> ApprovalPolicyFromJson(const nlohmann::json& j, const std::string& name);
// The stored policy, or the default when none is stored.
Result<ApprovalPolicy> ReadApprovalPolicy(const Repository& r);
Status WriteApprovalPolicy(Repository* r, const ApprovalPolicy& p);
// The risk of replacing policy `from` by `to`: high, or critical when `to`
// asks for less (a level no longer needs approval, --yes or a second
// person where it did not before).
Risk PolicyChangeRisk(const ApprovalPolicy& from, const ApprovalPolicy& to);

// --- Plans (format.md#plans) ---

inline constexpr int kPlanVersion = 1;

// A plan: `body` holds version, repository (id hex), operation (kind),
// risk, action, details, affected, args (the command line that performs
// it, without global options), created_ns and by ("user@host"). `hash`
// is the hex SHA-256 of body's canonical JSON.
struct Plan {
  nlohmann::json body;
  std::string hash;
};
Plan MakePlan(const Repository& r, const Operation& op, const std::vector<std::string>& args);
// The plan file's text: {"hash": …, "plan": body}, indented.
std::string EncodePlanFile(const Plan& p);
// Parses a plan file and checks its hash and shape; Corruption naming
// `name` if it is damaged or was edited, NotSupported for a newer version.
Result<Plan> DecodePlanFile(std::string_view text, const std::string& name);
// True if `op`, computed now, is the operation `plan` describes (the same
// kind, risk, action and affected); otherwise *why says what differs.
bool PlanHolds(const Plan& plan, const Operation& op, std::string* why);

// --- Approval records (format.md#approval-records) ---

struct ApprovalRecord {
  std::string name;       // "approvals/<plan hash>-<16 hex>"
  std::string plan_hash;  // hex
  std::string user;       // the approver's account (passwd name of the uid)
  std::string host;
  std::string key_slot;   // the key slot the approver opened the repository with ("" unencrypted)
  int64_t time_ns = 0;
};
// The account name approvals and audit entries record: the passwd name of
// the process's real uid (never $USER, which anyone can set), else the uid.
std::string AccountName();
// Stores an approval of `plan_hash` by this process's account.
Result<ApprovalRecord> RecordApproval(Repository* r, const std::string& plan_hash, int64_t now_ns);
// The approvals of `plan_hash` (damaged records are skipped with a message
// in *problems).
Result<std::vector<ApprovalRecord>> ListApprovals(const Repository& r, const std::string& plan_hash,
                                                  std::vector<std::string>* problems);
// Removes the approvals of a plan that was applied (one plan, one use).
Status RemoveApprovals(Repository* r, const std::vector<ApprovalRecord>& records);

}  // namespace cairn::repo
