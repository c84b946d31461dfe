// SPDX-License-Identifier: MIT
//
// restore: recreate a snapshot or a path of it in a folder.

#include <chrono>
#include <filesystem>
#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "repo/restore.h"

namespace cairn::cli {
namespace {

using nlohmann::json;
using objstore::EntryType;
using objstore::TreeEntry;
using repo::Repository;

// --- restore ---

struct RestoreCmd {
  std::string spec, target;
  bool force = false, verify = false;
  unsigned threads = 0;
  ApprovalFlags approval;
};

// True if `dir` exists and holds anything (a file where the folder would
// be counts as not empty).
bool NonEmptyTarget(const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::exists(std::filesystem::symlink_status(dir, ec))) return false;
  if (!std::filesystem::is_directory(std::filesystem::symlink_status(dir, ec))) return true;
  return !std::filesystem::is_empty(dir, ec) || ec;
}

int RunRestore(Context& ctx, const RestoreCmd& o) {
  if (o.spec.empty() || o.target.empty()) {
    return ctx.Fail(Status::InvalidArgument(std::string(o.spec.empty() ? "restore needs a revision" : "restore needs a target folder") +
                                            ": cairn restore REV[:PATH] --target DIR"));
  }
  CAIRN_OPEN_OR_FAIL(ctx, r);
  auto t = r.ResolvePath(o.spec);
  if (!t.ok()) return ctx.Fail(t.status());
  ctx.audit().snapshots.push_back(t->snapshot_id.ToHex());
  const bool over = NonEmptyTarget(o.target);
  if (!over || o.force) {
    std::error_code ec;
    const std::string abs = std::filesystem::absolute(o.target, ec).lexically_normal().string();
    repo::Operation op{(over ? "restore over the files in '" : "restore into '") + o.target + "'",
                       "  snapshot " + t->snapshot_id.ShortHex() + (t->path.empty() ? "" : ":" + t->path) +
                           (over ? "\n  entries of the snapshot replace what is at their path in the target" : ""),
                       over ? repo::Risk::kHigh : repo::Risk::kMedium, over ? "restore over" : "restore"};
    op.affected = {{"snapshot", t->snapshot_id.ToHex()}, {"path", t->path}, {"target", abs.empty() ? o.target : abs}};
    TerminalApprover approver(ctx, r, o.approval);
    if (Status st = repo::RequireApproval(&approver, op); !st.ok()) return ctx.Fail(st);
  }
  repo::RestoreProgress prog;
  repo::RestoreOptions opts;
  opts.target = o.target;
  opts.force = o.force;
  opts.verify = o.verify;
  opts.threads = o.threads;
  opts.progress = &prog;
  auto t0 = std::chrono::steady_clock::now();
  Result<repo::RestoreResult> res = Status::IOError("not run");
  {
    ProgressLine line(ctx.Progress(), [&] {
      return "restore: " + std::to_string(prog.files_done.load()) + "/" + std::to_string(prog.files_total.load()) +
             " files, " + HumanBytes(prog.bytes_done) + " / " + HumanBytes(prog.bytes_total) + "  " +
             RateAndEta(prog.bytes_done, prog.bytes_total, Seconds(t0));
    });
    res = repo::Restore(r, *t, opts);
  }
  if (!res.ok()) return ctx.Fail(res.status());
  ctx.audit().bytes = res->bytes;
  for (const auto& e : res->errors) {
    std::fprintf(stderr, "cairn: cannot restore '%s': %s\n", e.path.c_str(), e.error.c_str());
  }
  if (ctx.g().json) {
    json j{{"snapshot", t->snapshot_id.ToHex()}, {"target", o.target}, {"files", res->files},
           {"dirs", res->dirs}, {"symlinks", res->links}, {"others", res->others},
           {"bytes", res->bytes}, {"verified", o.verify}, {"errors", json::array()}};
    for (const auto& e : res->errors) j["errors"].push_back({{"path", e.path}, {"error", e.error}});
    std::cout << Dump(j) << "\n";
  } else if (!ctx.g().quiet) {
    std::cout << "restored snapshot " << t->snapshot_id.ShortHex() << (t->path.empty() ? "" : ":" + t->path)
              << " to " << o.target << ": " << res->files << " files, " << res->dirs << " folders, "
              << res->links << " symlinks, " << HumanBytes(res->bytes) << (o.verify ? ", verified" : "") << "\n";
  }
  if (!res->errors.empty()) {
    std::fprintf(stderr, "cairn: %zu entr%s could not be restored\n", res->errors.size(),
                 res->errors.size() == 1 ? "y" : "ies");
    return res->damaged ? kExitDamaged : kExitFailure;
  }
  return kExitOk;
}

}  // namespace

void RegisterRestore(CLI::App& app, Context& ctx, Action* action) {
  auto restore = std::make_shared<RestoreCmd>();
  auto* c_restore = app.add_subcommand("restore", "restore a snapshot or a path of it");
  c_restore->add_option("REV", restore->spec, "REV or REV:PATH");
  c_restore->add_option("-t,--target", restore->target, "folder to restore into (required)");
  c_restore->add_flag("--force", restore->force, "restore into a non-empty folder, replacing entries");
  c_restore->add_flag("--verify", restore->verify, "read restored files back and compare");
  c_restore->add_option("--threads", restore->threads, "worker threads (default: one per core)");
  AddApprovalFlags(c_restore, &restore->approval);
  c_restore->callback([&ctx, action, restore] { *action = [&ctx, restore] { return RunRestore(ctx, *restore); }; });
}

}  // namespace cairn::cli
