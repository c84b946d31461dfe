// SPDX-License-Identifier: MIT
//
// What every command shares: global options, opening the repository,
// rendering failures, and the terminal approver. This header contains
// definitions that shall only be used by modules within cli/.

#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>

#include "cli/output.h"
#include "cli/password.h"
#include "repo/approval.h"
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
};

class Context {
 public:
  explicit Context(Global* g) : g_(g) {}
  Global& g() { return *g_; }

  // Prints the error (stderr; with --json also the JSON error object on
  // stdout) and returns its exit code (`code`, or the one for `st`).
  int Fail(const Status& st, int code = -1);
  void Warn(const std::string& msg);

  // Opens the repository from -r or CAIRN_REPO.
  Result<std::unique_ptr<repo::Repository>> Open();
  // Renders a failure to open (exit 10 when there is no repository).
  int OpenFailed(const Status& st);

  // True when progress lines may be shown.
  bool Progress() const { return !g_->json && !g_->quiet; }

 private:
  Global* g_;
};

// Asks on the terminal (stdin and stderr both terminals) or approves when
// --yes was given; refuses otherwise.
class TerminalApprover : public repo::Approver {
 public:
  explicit TerminalApprover(bool yes) : yes_(yes) {}
  bool Approve(const repo::Operation& op) override;

 private:
  bool yes_;
};

// Registers a command's flags; its callback sets *action to the work.
using Action = std::function<int()>;
void RegisterCoreCommands(CLI::App& app, Context& ctx, Action* action);
void RegisterGraphCommands(CLI::App& app, Context& ctx, Action* action);

}  // namespace cairn::cli

#define CAIRN_OPEN_OR_FAIL(ctx, var)                               \
  auto var##_r = (ctx).Open();                                     \
  if (!var##_r.ok()) return (ctx).OpenFailed(var##_r.status());    \
  ::cairn::repo::Repository& var = **var##_r
