// SPDX-License-Identifier: MIT
//
// What every command shares: global options, opening the repository,
// rendering failures, and the terminal approver. This header contains
// definitions that shall only be used by modules within cli/.

#pragma once

#include <CLI/CLI.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cli/output.h"
#include "cli/password.h"
#include "repo/approval.h"
#include "repo/audit.h"
#include "repo/repository.h"

namespace cairn::cli {

struct Global {
  std::string repo;
  bool json = false;
  bool verbose = false;
  bool quiet = false;
  KeyFlags keys;  // --key-file, --password-file, --password-command
  // Everything after a lone "--": paths, as in git (log -- PATH, diff A B -- PATH).
  std::vector<std::string> paths;
  bool dashdash = false;
  // The whole command line (argv[1..]), for plans and the audit log.
  std::vector<std::string> argv;
  // The command path as parsed ("tag", "key remove").
  std::string command;
};

// --yes and --plan-out, on every command that asks for approval.
struct ApprovalFlags {
  bool yes = false;
  std::string plan_out;
};
void AddApprovalFlags(CLI::App* c, ApprovalFlags* f);

// What the audit log records of this command (repo/audit.h); filled in as
// it runs.
struct AuditInfo {
  std::string operation;  // a name of repo::Operations(); default: the command path
  bool read_only = false;  // this run changed nothing (a dry run)
  bool skip = false;       // recorded elsewhere (apply records the command it runs)
  std::optional<repo::Risk> risk;
  nlohmann::json approval;  // {"how": …, …}; null when nothing was asked
  nlohmann::json affected;  // of the approved operation
  std::vector<std::string> snapshots;  // ids the command made, removed or restored
  uint64_t bytes = 0;
  std::string error;  // the failure's message
  std::string plan_written;  // --plan-out: the plan file written instead of running
};

// What `cairn apply` hands to the command it runs (cmd_safety.cc).
struct ApplyState {
  repo::Plan plan;
  std::string file;
  std::vector<repo::ApprovalRecord> approvals;
  repo::Repository* repo = nullptr;  // opened by apply; the command uses it
  bool asked = false;                // the command asked for approval (and the plan held)
  bool destroyed = false;            // the command was destroy: the repository is gone
};

class Context {
 public:
  explicit Context(Global* g) : g_(g) {}
  Global& g() { return *g_; }

  // Prints the error (stderr; with --json also the JSON error object on
  // stdout) and returns its exit code (`code`, or the one for `st`). After
  // --plan-out wrote a plan, says so and returns 0 instead.
  int Fail(const Status& st, int code = -1);
  void Warn(const std::string& msg);

  // Opens the repository from -r or CAIRN_REPO. The repository stays open
  // (owned here) until the audit entry is written.
  Result<repo::Repository*> Open();
  // Renders a failure to open (exit 10 when there is no repository).
  int OpenFailed(const Status& st);

  // True when progress lines may be shown.
  bool Progress() const { return !g_->json && !g_->quiet; }

  AuditInfo& audit() { return audit_; }
  // Appends this command's entry to the audit log of the repository it
  // opened (if it opened one), unless it is a read and the policy does not
  // ask for reads. A failure to append is a warning.
  void FinishAudit(int exit_code);
  // Appends this command's entry now, with `result` ("started": destroy,
  // whose log goes with the repository, records itself before it begins).
  Result<repo::AuditRecord> AppendAuditNow(const std::string& result, const nlohmann::json& exit_code);
  // The same entry, as `audit` describes it, in another repository's log
  // (copy records itself in the target too).
  Result<repo::AuditRecord> AppendAuditTo(repo::Repository& r, const std::string& result,
                                          const nlohmann::json& exit_code, const AuditInfo& audit);
  // When the command started (set by Run before its action).
  void MarkStarted();

  // The stored approval policy (read once).
  Result<repo::ApprovalPolicy> Policy(repo::Repository& r);

  // The command line without global options, as a plan stores it.
  std::vector<std::string> PlanArgs() const;
  // The command line with secrets removed, as the audit log stores it.
  std::vector<std::string> AuditArgs() const;

  // Set while `cairn apply` runs a plan's command.
  static ApplyState* applying;

 private:
  Global* g_;
  std::unique_ptr<repo::Repository> repo_;
  repo::Repository* open_ = nullptr;
  AuditInfo audit_;
  std::optional<repo::ApprovalPolicy> policy_;
  int64_t started_ns_ = 0;
  std::chrono::steady_clock::time_point t0_;
};

// The approver of the CLI, from the repository's policy: no question when
// the risk needs no approval; the plan being applied; --plan-out (writes
// the plan and stops); --yes where the policy lets it approve; a prompt on
// a terminal. Refuses otherwise, saying how to approve. Records its
// decision in ctx.audit().
class TerminalApprover : public repo::Approver {
 public:
  TerminalApprover(Context& ctx, repo::Repository& r, const ApprovalFlags& f) : ctx_(ctx), r_(r), f_(f) {}
  Status Approve(const repo::Operation& op) override;

 private:
  Context& ctx_;
  repo::Repository& r_;
  ApprovalFlags f_;
};

// Registers a command's flags; its callback sets *action to the work.
using Action = std::function<int()>;
void RegisterCoreCommands(CLI::App& app, Context& ctx, Action* action);
void RegisterGraphCommands(CLI::App& app, Context& ctx, Action* action);
void RegisterSafetyCommands(CLI::App& app, Context& ctx, Action* action);  // cmd_safety.cc

}  // namespace cairn::cli

#define CAIRN_OPEN_OR_FAIL(ctx, var)                               \
  auto var##_r = (ctx).Open();                                     \
  if (!var##_r.ok()) return (ctx).OpenFailed(var##_r.status());    \
  ::cairn::repo::Repository& var = **var##_r
