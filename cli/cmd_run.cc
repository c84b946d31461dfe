// SPDX-License-Identifier: MIT
//
// run: a snapshot of the sources before a command (a deployment, a
// migration), the command, and on its failure the way back: a rollback of
// every source to that snapshot, asked for or done at once.

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "cli/commands.h"
#include "repo/backup.h"
#include "repo/restore.h"

extern char** environ;

namespace cairn::cli {
namespace {

using nlohmann::json;
using repo::Repository;

struct RunCmd {
  std::vector<std::string> sources;
  std::string branch;
  bool rollback_on_failure = false;
  ApprovalFlags approval;
};

// The branch of a folder's safety snapshots (as restore and rollback use).
std::string SafetyBranchOf(const std::string& abs) { return "safety-" + Sha256(abs).ToHex().substr(0, 16); }

std::string Absolute(const std::string& p) {
  std::error_code ec;
  std::string abs = std::filesystem::absolute(p, ec).lexically_normal().string();
  if (abs.size() > 1 && abs.back() == '/') abs.pop_back();
  return abs.empty() ? p : abs;
}

// Runs argv with the same stdin, stdout and stderr; its exit code (128+N
// for a signal N, 127 when it cannot be started).
int Spawn(const std::vector<std::string>& args, std::string* error) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  int rc = ::posix_spawnp(&pid, argv[0], nullptr, nullptr, argv.data(), environ);
  if (rc != 0) {
    *error = std::strerror(rc);
    return 127;
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      *error = std::strerror(errno);
      return 127;
    }
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

int RunRun(Context& ctx, const RunCmd& o) {
  const std::vector<std::string>& command = ctx.g().paths;
  if (o.sources.empty() || command.empty()) {
    return ctx.Fail(Status::InvalidArgument("run needs sources and a command: cairn run --source PATH... -- COMMAND ARGS"));
  }
  for (const auto& s : o.sources) {
    std::error_code ec;
    if (!std::filesystem::is_directory(std::filesystem::symlink_status(s, ec))) {
      return ctx.Fail(Status::NotFound("run --source '" + s + "' is not a folder; give the folders the command changes"));
    }
  }
  CAIRN_OPEN_OR_FAIL(ctx, r);
  ctx.audit().operation = "run";
  std::string cmdline;
  for (const auto& a : command) cmdline += (cmdline.empty() ? "" : " ") + a;
  // One snapshot per source, each on its own lineage (the source's safety
  // branch, or --branch B), so that each can be rolled back alone.
  std::vector<std::pair<std::string, ObjectId>> taken;
  for (const auto& s : o.sources) {
    repo::BackupOptions b;
    b.paths = {s};
    b.branch = o.branch.empty() ? SafetyBranchOf(Absolute(s)) : o.branch;
    b.message = "before running: " + cmdline;
    b.on_warning = [&](const std::string& m) { ctx.Warn(m); };
    auto res = repo::Backup(&r, b);
    if (!res.ok()) return ctx.Fail(res.status().WithContext("the snapshot before the command"));
    if (!res->snapshot.errors.empty()) {
      return ctx.Fail(Status::IOError("the snapshot of '" + s + "' could not read " +
                                      std::to_string(res->snapshot.errors.size()) +
                                      " entr(ies), so it could not be rolled back; the command was not run"));
    }
    taken.emplace_back(s, *res->snapshot_id);
    ctx.audit().snapshots.push_back(res->snapshot_id->ToHex());
    if (!ctx.g().quiet && !ctx.g().json) {
      std::fprintf(stderr, "snapshot %s of %s taken before the command\n", res->snapshot_id->ShortHex().c_str(),
                   s.c_str());
    }
  }
  std::string spawn_error;
  const int code = Spawn(command, &spawn_error);
  ctx.audit().affected = {{"command", command}, {"exit_code", code}};
  if (code == 127 && !spawn_error.empty()) {
    std::fprintf(stderr, "cairn: cannot run '%s': %s\n", command[0].c_str(), spawn_error.c_str());
  }
  json out{{"command", command}, {"exit_code", code}, {"snapshots", json::array()}, {"rolled_back", false}};
  for (const auto& [s, id] : taken) out["snapshots"].push_back({{"source", s}, {"snapshot", id.ToHex()}});
  if (code == 0) {
    if (ctx.g().json) std::cout << Dump(out) << "\n";
    return kExitOk;
  }
  // The command failed: roll back, if approved.
  repo::Operation op{"roll back " + std::to_string(taken.size()) + " source(s) to the snapshot(s) before '" + cmdline +
                         "' (it exited " + std::to_string(code) + ")",
                     "", repo::Risk::kHigh, "rollback"};
  json ids = json::array();
  for (const auto& [s, id] : taken) {
    op.details += (op.details.empty() ? "  " : "\n  ") + s + " -> " + id.ShortHex();
    ids.push_back({{"source", Absolute(s)}, {"snapshot", id.ToHex()}});
  }
  op.affected = {{"rollback", ids}};
  ApprovalFlags af = o.approval;
  af.yes = af.yes || o.rollback_on_failure;
  TerminalApprover approver(ctx, r, af);
  Status approved = repo::RequireApproval(&approver, op);
  // The entry of a run names the command and its exit code, and what the
  // rollback covers.
  ctx.audit().affected = {{"command", command}, {"exit_code", code}, {"rollback", ids}};
  if (Status st = approved; !st.ok()) {
    std::fprintf(stderr, "cairn: '%s' exited %d; not rolled back (%s)\n", cmdline.c_str(), code, st.message().c_str());
    for (const auto& [s, id] : taken) {
      std::fprintf(stderr, "  to roll back: cairn restore %s --target %s --overwrite if-changed --delete\n",
                   id.ShortHex().c_str(), s.c_str());
    }
    ctx.audit().operation = "run";
    if (ctx.g().json) std::cout << Dump(out) << "\n";
    return code;
  }
  ctx.audit().operation = "run";
  for (const auto& [s, id] : taken) {
    auto t = r.ResolvePath(id.ToHex());
    if (!t.ok()) return ctx.Fail(t.status());
    repo::RestoreOptions ro;
    ro.target = s;
    ro.force = true;
    ro.overwrite = repo::Overwrite::kIfChanged;
    ro.delete_extra = true;
    auto res = repo::Restore(r, *t, ro);
    if (!res.ok() || !res->errors.empty()) {
      return ctx.Fail(Status::IOError("'" + cmdline + "' exited " + std::to_string(code) + " and rolling '" + s +
                                      "' back to snapshot " + id.ShortHex() + " failed: " +
                                      (res.ok() ? res->errors[0].path + ": " + res->errors[0].error
                                                : res.status().message())));
    }
  }
  out["rolled_back"] = true;
  if (ctx.g().json) {
    std::cout << Dump(out) << "\n";
  } else if (!ctx.g().quiet) {
    std::fprintf(stderr, "cairn: '%s' exited %d; rolled %zu source(s) back to the snapshot(s) taken before it\n",
                 cmdline.c_str(), code, taken.size());
  }
  return code;
}

}  // namespace

void RegisterRun(CLI::App& app, Context& ctx, Action* action) {
  auto o = std::make_shared<RunCmd>();
  auto* c = app.add_subcommand("run", "snapshot folders, run a command, and roll them back if it fails");
  c->add_option("-s,--source", o->sources, "a folder the command changes (repeatable)");
  c->add_option("--branch", o->branch, "keep the snapshots on branch B (default: each folder's safety branch)");
  c->add_flag("--rollback-on-failure", o->rollback_on_failure,
              "roll back at once when the command fails (an approval of the rollback, as --yes)");
  c->add_flag("-y,--yes", o->approval.yes, "approve the rollback without asking (where the policy allows it)");
  c->callback([&ctx, action, o] { *action = [&ctx, o] { return RunRun(ctx, *o); }; });
}

}  // namespace cairn::cli
