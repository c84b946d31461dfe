// SPDX-License-Identifier: MIT
//
// restore: recreate a snapshot or a path of it in a folder.

#include <chrono>
#include <filesystem>
#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "repo/backup.h"
#include "repo/restore.h"

namespace cairn::cli {
namespace {

using nlohmann::json;
using objstore::EntryType;
using objstore::TreeEntry;
using repo::Repository;

// --- restore ---

struct RestoreCmd {
  std::string spec, target, overwrite;
  bool force = false, verify = false, dry_run = false, delete_extra = false, no_safety = false;
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

std::string AbsolutePath(const std::string& dir) {
  std::error_code ec;
  std::string abs = std::filesystem::absolute(dir, ec).lexically_normal().string();
  if (abs.size() > 1 && abs.back() == '/') abs.pop_back();
  return abs.empty() ? dir : abs;
}

// The branch that keeps the safety snapshots of target folder `abs`.
std::string SafetyBranch(const std::string& abs) { return "safety-" + Sha256(abs).ToHex().substr(0, 16); }

json CountsJson(const repo::RestoreResult& r) {
  return json{{"create", r.created}, {"overwrite", r.overwritten}, {"unchanged", r.unchanged},
              {"skip", r.skipped}, {"delete", r.deleted}};
}

std::string CountsText(const repo::RestoreResult& r, bool would) {
  std::string t = std::string(would ? "would create " : "created ") + std::to_string(r.created) + ", " +
                  (would ? "overwrite " : "overwrote ") + std::to_string(r.overwritten) + ", " +
                  (would ? "delete " : "deleted ") + std::to_string(r.deleted) + "; " + std::to_string(r.unchanged) +
                  " unchanged, " + std::to_string(r.skipped) + " kept";
  return t;
}

Result<repo::Overwrite> ParseOverwrite(const std::string& s) {
  if (s.empty() || s == "always") return repo::Overwrite::kAlways;
  if (s == "if-changed") return repo::Overwrite::kIfChanged;
  if (s == "if-newer") return repo::Overwrite::kIfNewer;
  if (s == "never") return repo::Overwrite::kNever;
  return Status::InvalidArgument("invalid value '" + s + "' for --overwrite: expected always, if-changed, if-newer or never");
}

// Takes a safety snapshot of `target` on its safety branch; returns its id.
Result<ObjectId> TakeSafetySnapshot(Context& ctx, Repository& r, const std::string& target, const std::string& what) {
  repo::BackupOptions b;
  b.paths = {target};
  b.branch = SafetyBranch(AbsolutePath(target));
  b.message = "safety snapshot of " + AbsolutePath(target) + " before restoring " + what;
  b.on_warning = [&](const std::string& m) { ctx.Warn(m); };
  b.on_error = [&](const std::string& path, const std::string& err) {
    ctx.Warn("the safety snapshot could not read '" + path + "': " + err);
  };
  CAIRN_ASSIGN_OR_RETURN(repo::BackupResult res, repo::Backup(&r, b));
  if (!res.snapshot_id) return Status::IOError("the safety snapshot of '" + target + "' was not saved");
  if (!res.snapshot.errors.empty()) {
    return Status::IOError("the safety snapshot of '" + target + "' could not read " +
                           std::to_string(res.snapshot.errors.size()) +
                           " entr(ies), so a rollback could not bring them back; nothing was restored "
                           "(use --no-safety-snapshot to restore without one)");
  }
  return *res.snapshot_id;
}

// Brings `target` back to snapshot `id` exactly (content, metadata, and no
// entry the snapshot lacks).
Result<repo::RestoreResult> RollBack(Repository& r, const ObjectId& id, const std::string& target, unsigned threads) {
  CAIRN_ASSIGN_OR_RETURN(Repository::PathTarget t, r.ResolvePath(id.ToHex()));
  repo::RestoreOptions ro;
  ro.target = target;
  ro.force = true;
  ro.overwrite = repo::Overwrite::kIfChanged;
  ro.delete_extra = true;
  ro.threads = threads;
  return repo::Restore(r, t, ro);
}

int RunRestore(Context& ctx, const RestoreCmd& o) {
  if (o.spec.empty() || o.target.empty()) {
    return ctx.Fail(Status::InvalidArgument(std::string(o.spec.empty() ? "restore needs a revision" : "restore needs a target folder") +
                                            ": cairn restore REV[:PATH] --target DIR"));
  }
  auto mode = ParseOverwrite(o.overwrite);
  if (!mode.ok()) return ctx.Fail(mode.status());
  CAIRN_OPEN_OR_FAIL(ctx, r);
  auto t = r.ResolvePath(o.spec);
  if (!t.ok()) return ctx.Fail(t.status());
  if (o.delete_extra && t->entry.type != EntryType::kDir) {
    return ctx.Fail(Status::InvalidArgument("--delete needs a folder to mirror; '" + o.spec + "' is a " +
                                            objstore::EntryTypeName(t->entry.type)));
  }
  ctx.audit().snapshots.push_back(t->snapshot_id.ToHex());
  const std::string what = t->snapshot_id.ShortHex() + (t->path.empty() ? "" : ":" + t->path);
  const bool over = NonEmptyTarget(o.target);
  // Over a non-empty folder: --force, or a choice of what to overwrite.
  const bool force = o.force || !o.overwrite.empty() || o.delete_extra;
  repo::RestoreOptions opts;
  opts.target = o.target;
  opts.force = force;
  opts.overwrite = *mode;
  opts.delete_extra = o.delete_extra;
  opts.verify = o.verify;
  opts.threads = o.threads;
  if (o.dry_run) {
    ctx.audit().read_only = true;
    opts.dry_run = true;
    opts.record_items = true;
    auto plan = repo::Restore(r, *t, opts);
    if (!plan.ok()) return ctx.Fail(plan.status());
    if (ctx.g().json) {
      json items = json::array();
      for (const auto& i : plan->items) items.push_back({{"path", i.path}, {"action", i.action}});
      std::cout << Dump(json{{"dry_run", true}, {"snapshot", t->snapshot_id.ToHex()}, {"target", o.target},
                             {"overwrite", repo::OverwriteName(*mode)}, {"delete", o.delete_extra},
                             {"plan", CountsJson(*plan)}, {"entries", items}})
                << "\n";
    } else if (!ctx.g().quiet) {
      for (const auto& i : plan->items) {
        if (i.action != "unchanged" && i.action != "skip") std::printf("%-9s %s\n", i.action.c_str(), i.path.c_str());
      }
      std::printf("dry run: restoring %s into %s %s\n", what.c_str(), o.target.c_str(), CountsText(*plan, true).c_str());
    }
    return kExitOk;
  }
  {
    std::error_code ec;
    auto st = std::filesystem::symlink_status(o.target, ec);
    if (std::filesystem::exists(st) && !std::filesystem::is_directory(st)) {
      return ctx.Fail(Status::AlreadyExists("restore target '" + o.target + "' exists and is not a folder"));
    }
  }
  if (over && !force) {
    return ctx.Fail(Status::AlreadyExists("restore target '" + o.target +
                                          "' is not empty; choose an empty folder, or use --force (or --overwrite "
                                          "MODE, --delete) to restore over it after a safety snapshot"));
  }
  {
    const std::string abs = AbsolutePath(o.target);
    repo::Operation op{(over ? "restore over the files in '" : "restore into '") + o.target + "'",
                       "  snapshot " + what, over ? repo::Risk::kHigh : repo::Risk::kMedium,
                       over ? "restore over" : "restore"};
    op.affected = {{"snapshot", t->snapshot_id.ToHex()}, {"path", t->path}, {"target", abs}};
    if (over) {
      // What it will do, exactly as a dry run says; a plan holds while the
      // target is as it was.
      repo::RestoreOptions dry = opts;
      dry.dry_run = true;
      dry.record_items = true;
      auto plan = repo::Restore(r, *t, dry);
      if (!plan.ok()) return ctx.Fail(plan.status());
      std::string items;
      for (const auto& i : plan->items) items += i.action + " " + i.path + "\n";
      op.affected["plan"] = CountsJson(*plan);
      op.affected["items_hash"] = Sha256(items).ToHex();
      op.affected["overwrite"] = repo::OverwriteName(*mode);
      op.affected["delete"] = o.delete_extra;
      op.details += "\n  " + CountsText(*plan, true) +
                    (o.no_safety ? "\n  no safety snapshot is taken (--no-safety-snapshot)"
                                 : "\n  a safety snapshot of the target is taken first ('cairn rollback' returns to it)");
    }
    TerminalApprover approver(ctx, r, o.approval);
    if (Status st = repo::RequireApproval(&approver, op); !st.ok()) return ctx.Fail(st);
  }
  std::optional<ObjectId> safety;
  if (over && !o.no_safety) {
    auto id = TakeSafetySnapshot(ctx, r, o.target, what);
    if (!id.ok()) return ctx.Fail(id.status());
    safety = *id;
    ctx.audit().snapshots.push_back(id->ToHex());
    if (!ctx.g().quiet && !ctx.g().json) {
      std::fprintf(stderr, "safety snapshot %s of %s taken (on branch %s)\n", id->ShortHex().c_str(), o.target.c_str(),
                   SafetyBranch(AbsolutePath(o.target)).c_str());
    }
  }
  repo::RestoreProgress prog;
  opts.progress = &prog;
  opts.record_items = ctx.g().json && ctx.g().verbose;
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
  const bool failed = !res.ok() || !res->errors.empty();
  if (failed && safety) {
    // A restore over a folder is all or nothing: back to the safety snapshot.
    if (res.ok()) {
      for (const auto& e : res->errors) {
        std::fprintf(stderr, "cairn: cannot restore '%s': %s\n", e.path.c_str(), e.error.c_str());
      }
    }
    auto back = RollBack(r, *safety, o.target, o.threads);
    const Status why = res.ok() ? (res->damaged ? Status::Corruption("the restore failed") : Status::IOError("the restore failed"))
                                : res.status();
    auto same_kind = [](const Status& w, std::string m) {
      return w.IsCorruption() ? Status::Corruption(std::move(m)) : Status::IOError(std::move(m));
    };
    if (!back.ok() || !back->errors.empty()) {
      return ctx.Fail(same_kind(why, why.message() + "; rolling the target back to safety snapshot " +
                                             safety->ShortHex() + " failed too (" +
                                             (back.ok() ? back->errors[0].path + ": " + back->errors[0].error
                                                        : back.status().message()) +
                                             "); run 'cairn rollback --target " + o.target + "'"));
    }
    return ctx.Fail(same_kind(why, why.message() + "; the target was rolled back to safety snapshot " +
                                           safety->ShortHex() + ", as it was before"));
  }
  if (!res.ok()) return ctx.Fail(res.status());
  ctx.audit().bytes = res->bytes;
  for (const auto& e : res->errors) {
    std::fprintf(stderr, "cairn: cannot restore '%s': %s\n", e.path.c_str(), e.error.c_str());
  }
  if (ctx.g().json) {
    json j{{"snapshot", t->snapshot_id.ToHex()}, {"target", o.target}, {"files", res->files},
           {"dirs", res->dirs}, {"symlinks", res->links}, {"others", res->others},
           {"bytes", res->bytes}, {"verified", o.verify}, {"errors", json::array()},
           {"plan", CountsJson(*res)}, {"safety_snapshot", safety ? json(safety->ToHex()) : json(nullptr)}};
    for (const auto& e : res->errors) j["errors"].push_back({{"path", e.path}, {"error", e.error}});
    if (opts.record_items) {
      j["entries"] = json::array();
      for (const auto& i : res->items) j["entries"].push_back({{"path", i.path}, {"action", i.action}});
    }
    std::cout << Dump(j) << "\n";
  } else if (!ctx.g().quiet) {
    std::cout << "restored snapshot " << what << " to " << o.target << ": " << res->files << " files, " << res->dirs
              << " folders, " << res->links << " symlinks, " << HumanBytes(res->bytes) << (o.verify ? ", verified" : "")
              << "\n";
    if (over) std::cout << "  " << CountsText(*res, false) << "\n";
  }
  if (!res->errors.empty()) {
    std::fprintf(stderr, "cairn: %zu entr%s could not be restored\n", res->errors.size(),
                 res->errors.size() == 1 ? "y" : "ies");
    return res->damaged ? kExitDamaged : kExitFailure;
  }
  return kExitOk;
}

// --- rollback ---

struct RollbackCmd {
  std::string target;
  unsigned threads = 0;
  ApprovalFlags approval;
};

int RunRollback(Context& ctx, const RollbackCmd& o) {
  if (o.target.empty()) return ctx.Fail(Status::InvalidArgument("rollback needs the folder: cairn rollback --target DIR"));
  CAIRN_OPEN_OR_FAIL(ctx, r);
  const std::string abs = AbsolutePath(o.target);
  const std::string branch = SafetyBranch(abs);
  auto head = r.ReadRef("branches/" + branch);
  if (!head.ok()) return ctx.Fail(head.status());
  if (!*head) {
    return ctx.Fail(Status::NotFound("no safety snapshot of '" + abs +
                                     "': one is taken when a restore goes over a non-empty folder"));
  }
  auto snap = r.ReadSnapshot(**head);
  if (!snap.ok()) return ctx.Fail(snap.status());
  ctx.audit().snapshots.push_back((*head)->ToHex());
  repo::Operation op{"roll '" + o.target + "' back to safety snapshot " + (*head)->ShortHex(),
                     "  taken " + FormatTimeNs(snap->time_ns) + ": " + snap->message +
                         "\n  entries the snapshot lacks are deleted; changed files are replaced",
                     repo::Risk::kHigh, "rollback"};
  op.affected = {{"snapshot", (*head)->ToHex()}, {"target", abs}};
  TerminalApprover approver(ctx, r, o.approval);
  if (Status st = repo::RequireApproval(&approver, op); !st.ok()) return ctx.Fail(st);
  auto res = RollBack(r, **head, o.target, o.threads);
  if (!res.ok()) return ctx.Fail(res.status());
  for (const auto& e : res->errors) {
    std::fprintf(stderr, "cairn: cannot restore '%s': %s\n", e.path.c_str(), e.error.c_str());
  }
  ctx.audit().bytes = res->bytes;
  if (ctx.g().json) {
    std::cout << Dump(json{{"snapshot", (*head)->ToHex()}, {"target", o.target}, {"plan", CountsJson(*res)},
                           {"errors", res->errors.size()}})
              << "\n";
  } else if (!ctx.g().quiet) {
    std::cout << "rolled " << o.target << " back to safety snapshot " << (*head)->ShortHex() << " ("
              << FormatTimeNs(snap->time_ns) << "): " << CountsText(*res, false) << "\n";
  }
  if (!res->errors.empty()) return res->damaged ? kExitDamaged : kExitFailure;
  return kExitOk;
}

}  // namespace

void RegisterRestore(CLI::App& app, Context& ctx, Action* action) {
  auto restore = std::make_shared<RestoreCmd>();
  auto* c_restore = app.add_subcommand("restore", "restore a snapshot or a path of it");
  c_restore->add_option("REV", restore->spec, "REV or REV:PATH");
  c_restore->add_option("-t,--target", restore->target, "folder to restore into (required)");
  c_restore->add_flag("--force", restore->force,
                      "restore into a non-empty folder, replacing entries (after a safety snapshot)");
  c_restore->add_flag("--dry-run", restore->dry_run, "print what would be created, overwritten and deleted");
  c_restore->add_flag("--delete", restore->delete_extra, "delete what the target has and the snapshot does not");
  c_restore->add_option("--overwrite", restore->overwrite,
                        "existing entries: always (default), if-changed, if-newer or never");
  c_restore->add_flag("--no-safety-snapshot", restore->no_safety,
                      "restore over a folder without a safety snapshot first (no rollback)");
  c_restore->add_flag("--verify", restore->verify, "read restored files back and compare");
  c_restore->add_option("--threads", restore->threads, "worker threads (default: one per core)");
  AddApprovalFlags(c_restore, &restore->approval);
  c_restore->callback([&ctx, action, restore] { *action = [&ctx, restore] { return RunRestore(ctx, *restore); }; });

  auto rb = std::make_shared<RollbackCmd>();
  auto* c_rb = app.add_subcommand("rollback", "bring a folder back to the safety snapshot taken before the last restore over it");
  c_rb->add_option("-t,--target", rb->target, "the folder (required)");
  c_rb->add_option("--threads", rb->threads, "worker threads (default: one per core)");
  AddApprovalFlags(c_rb, &rb->approval);
  c_rb->callback([&ctx, action, rb] { *action = [&ctx, rb] { return RunRollback(ctx, *rb); }; });
}

}  // namespace cairn::cli
