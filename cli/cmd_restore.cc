// SPDX-License-Identifier: MIT
//
// restore: recreate a snapshot or a path of it in a folder.

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "objstore/core/system.h"
#include "repo/backup.h"
#include "repo/sources.h"
#include "repo/restore.h"

namespace cairn::cli {
namespace {

using nlohmann::json;
using objstore::EntryType;
using objstore::TreeEntry;
using repo::Repository;

// --- restore ---

struct RestoreCmd {
  std::string spec, target, overwrite, sqlite, at;
  std::vector<std::string> includes, excludes;
  bool force = false, verify = false, dry_run = false, delete_extra = false, no_safety = false;
  unsigned threads = 0;
  ApprovalFlags approval;
};

// True if a live database is at `abs`: a 0-byte file holds nothing to keep
// (and `backup --sqlite` refuses it).
bool LiveDatabase(const std::string& abs) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(abs, ec);
  return !ec && size > 0;
}

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

// Restores database snapshot `t` (taken with backup --sqlite) into the
// live database `live`: written beside it, checked with PRAGMA
// integrity_check, then copied into it with SQLite's backup API (one write
// transaction, safe beside other connections), checked again, and rolled
// back to the safety snapshot if that check fails. `safety` null: no
// safety snapshot (it does not exist yet, --no-safety-snapshot, or this is
// a rollback).
struct SqliteOutcome {
  uint64_t bytes = 0;
  std::optional<ObjectId> safety;
};

Result<SqliteOutcome> RestoreSqlite(Context& ctx, Repository& r, const Repository::PathTarget& t,
                                    const std::string& live, bool take_safety) {
  if (t.snapshot.source != "sqlite") {
    return Status::InvalidArgument("snapshot " + t.snapshot_id.ShortHex() +
                                   " was not taken with 'backup --sqlite'; restore it with --target");
  }
  Repository::PathTarget file = t;
  if (t.entry.type == EntryType::kDir) {
    CAIRN_ASSIGN_OR_RETURN(objstore::Tree tree, r.ReadTree(t.entry.subtree));
    if (tree.entries.size() != 1 || tree.entries[0].type != EntryType::kFile) {
      return Status::Corruption("snapshot " + t.snapshot_id.ShortHex() + " should hold one database file");
    }
    file.entry = tree.entries[0];
    file.path = file.entry.name;
  }
  const std::string abs = AbsolutePath(live);
  const std::string dir = abs.substr(0, abs.rfind('/'));
  const std::string stage = dir + "/.cairn-restore-" + std::to_string(::getpid()) + "-" +
                            Sha256(std::to_string(NowNs())).ToHex().substr(0, 8);
  struct Cleanup {
    std::string path;
    ~Cleanup() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  } cleanup{stage};
  repo::RestoreOptions ro;
  ro.target = stage;
  CAIRN_ASSIGN_OR_RETURN(repo::RestoreResult res, repo::Restore(r, file, ro));
  if (!res.errors.empty()) {
    const std::string m = "cannot restore database snapshot " + t.snapshot_id.ShortHex() + ": " + res.errors[0].error +
                          "; the live database '" + live + "' was not touched";
    return res.damaged ? Status::Corruption(m) : Status::IOError(m);
  }
  const std::string restored = stage + "/" + file.entry.name;
  if (Status st = repo::SqliteIntegrityCheck(restored); !st.ok()) {
    return Status::Corruption("the database in snapshot " + t.snapshot_id.ShortHex() +
                              " fails SQLite's integrity check (" + st.message() + "); the live database '" + live +
                              "' was not touched");
  }
  SqliteOutcome out;
  out.bytes = res.bytes;
  std::error_code ec;
  const bool exists = LiveDatabase(abs);
  if (!exists) {
    // Nothing live: the checked file takes the name.
    std::filesystem::rename(restored, abs, ec);
    if (ec) return Status::IOError("cannot move the restored database to '" + live + "': " + ec.message());
    return out;
  }
  if (take_safety) {
    repo::BackupOptions b;
    b.sqlite_path = abs;
    b.branch = SafetyBranch(abs);
    b.message = "safety snapshot of database " + abs + " before restoring " + t.snapshot_id.ShortHex();
    b.on_warning = [&](const std::string& m) { ctx.Warn(m); };
    CAIRN_ASSIGN_OR_RETURN(repo::BackupResult sb, repo::Backup(&r, b));
    if (!sb.snapshot_id) return Status::IOError("the safety snapshot of '" + live + "' was not saved");
    out.safety = *sb.snapshot_id;
  }
  CAIRN_RETURN_IF_ERROR(repo::SqliteCopy(restored, abs).WithContext("the live database was not changed"));
  if (Status st = repo::SqliteIntegrityCheck(abs); !st.ok()) {
    if (!out.safety) return Status::Corruption("after the restore, " + st.message());
    auto back = r.ResolvePath(out.safety->ToHex());
    if (back.ok()) {
      auto again = RestoreSqlite(ctx, r, *back, live, false);
      if (again.ok()) {
        return Status::Corruption("after the restore, " + st.message() + "; the database was rolled back to safety snapshot " +
                                  out.safety->ShortHex());
      }
    }
    return Status::Corruption("after the restore, " + st.message() + "; rolling back failed: run 'cairn rollback --sqlite " +
                              live + "'");
  }
  return out;
}

int RunRestoreSqlite(Context& ctx, Repository& r, const Repository::PathTarget& t, const RestoreCmd& o) {
  std::error_code ec;
  const std::string abs = AbsolutePath(o.sqlite);
  const bool exists = LiveDatabase(abs);
  repo::Operation op{(exists ? "restore over the database '" : "restore the database '") + o.sqlite + "'",
                     "  from snapshot " + t.snapshot_id.ShortHex() + " (" + FormatTimeNs(t.snapshot.time_ns) + ")" +
                         "\n  the restored file is checked with PRAGMA integrity_check before it replaces anything" +
                         (exists && !o.no_safety ? "\n  a safety snapshot of the live database is taken first" : ""),
                     exists ? repo::Risk::kHigh : repo::Risk::kMedium, exists ? "restore over" : "restore"};
  op.affected = {{"snapshot", t.snapshot_id.ToHex()}, {"database", abs}};
  TerminalApprover approver(ctx, r, o.approval);
  if (Status st = repo::RequireApproval(&approver, op); !st.ok()) return ctx.Fail(st);
  auto res = RestoreSqlite(ctx, r, t, o.sqlite, !o.no_safety);
  if (!res.ok()) return ctx.Fail(res.status());
  ctx.audit().bytes = res->bytes;
  if (res->safety) ctx.audit().snapshots.push_back(res->safety->ToHex());
  if (ctx.g().json) {
    std::cout << Dump(json{{"snapshot", t.snapshot_id.ToHex()}, {"database", o.sqlite}, {"integrity_check", "ok"},
                           {"safety_snapshot", res->safety ? json(res->safety->ToHex()) : json(nullptr)}})
              << "\n";
  } else if (!ctx.g().quiet) {
    std::cout << "restored database " << o.sqlite << " from snapshot " << t.snapshot_id.ShortHex()
              << " (integrity check ok" << (res->safety ? "; safety snapshot " + res->safety->ShortHex() : std::string())
              << ")\n";
  }
  return kExitOk;
}

// A warning when --include chose nothing of the snapshot (not an error: the
// patterns may be meant for other snapshots too, as in a script).
void WarnIfNothingChosen(Context& ctx, const RestoreCmd& o, const repo::RestoreResult& r) {
  if (o.includes.empty() || ctx.g().quiet) return;
  if (r.created + r.overwritten + r.unchanged + r.skipped > 0) return;
  std::fprintf(stderr, "cairn: warning: no entry of the snapshot matches the --include patterns; nothing was restored\n");
}

int RunRestore(Context& ctx, const RestoreCmd& o) {
  if (o.spec.empty() && o.at.empty()) {
    return ctx.Fail(Status::InvalidArgument("restore needs a revision: cairn restore REV[:PATH] --target DIR"));
  }
  if (o.target.empty() == o.sqlite.empty()) {
    return ctx.Fail(Status::InvalidArgument(o.target.empty() ? "restore needs a target folder: cairn restore REV[:PATH] --target DIR (or --sqlite DB)"
                                                             : "give --target or --sqlite, not both"));
  }
  auto mode = ParseOverwrite(o.overwrite);
  if (!mode.ok()) return ctx.Fail(mode.status());
  std::string spec = o.spec.empty() ? "latest" : o.spec;
  if (!o.at.empty()) {
    // Point in time: the newest snapshot of the lineage at or before TIME.
    const size_t colon = spec.find(':');
    std::string rev = spec.substr(0, colon), path = colon == std::string::npos ? "" : spec.substr(colon);
    if (rev.find("@{") != std::string::npos) {
      return ctx.Fail(Status::InvalidArgument("give the time either as REV@{TIME} or as --at TIME, not both"));
    }
    spec = rev + "@{" + o.at + "}" + path;
  }
  CAIRN_OPEN_OR_FAIL(ctx, r);
  auto t = r.ResolvePath(spec);
  if (!t.ok()) return ctx.Fail(t.status());
  if (!o.at.empty() && !ctx.g().quiet && !ctx.g().json) {
    std::fprintf(stderr, "point in time %s: snapshot %s, taken %s, is the newest at or before it\n", o.at.c_str(),
                 t->snapshot_id.ShortHex().c_str(), FormatTimeNs(t->snapshot.time_ns).c_str());
  }
  if (!o.sqlite.empty()) {
    ctx.audit().snapshots.push_back(t->snapshot_id.ToHex());
    return RunRestoreSqlite(ctx, r, *t, o);
  }
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
  opts.includes = o.includes;
  opts.excludes = o.excludes;
  if (o.dry_run) {
    ctx.audit().read_only = true;
    opts.dry_run = true;
    opts.record_items = true;
    auto plan = repo::Restore(r, *t, opts);
    if (!plan.ok()) return ctx.Fail(plan.status());
    WarnIfNothingChosen(ctx, o, *plan);
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
    if (!o.includes.empty()) op.affected["include"] = o.includes;
    if (!o.excludes.empty()) op.affected["exclude"] = o.excludes;
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
        std::fprintf(stderr, "cairn: cannot restore '%s': %s\n", OneLine(e.path).c_str(), OneLine(e.error).c_str());
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
  WarnIfNothingChosen(ctx, o, *res);
  for (const auto& e : res->errors) {
    std::fprintf(stderr, "cairn: cannot restore '%s': %s\n", OneLine(e.path).c_str(), OneLine(e.error).c_str());
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
  std::string target, sqlite;
  unsigned threads = 0;
  ApprovalFlags approval;
};

int RunRollback(Context& ctx, const RollbackCmd& o) {
  if (o.target.empty() == o.sqlite.empty()) {
    return ctx.Fail(Status::InvalidArgument("rollback needs the folder or the database: cairn rollback --target DIR "
                                            "(or --sqlite DB), one of them"));
  }
  CAIRN_OPEN_OR_FAIL(ctx, r);
  const std::string what = o.sqlite.empty() ? o.target : o.sqlite;
  const std::string abs = AbsolutePath(what);
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
  repo::Operation op{"roll '" + what + "' back to safety snapshot " + (*head)->ShortHex(),
                     "  taken " + FormatTimeNs(snap->time_ns) + ": " + snap->message +
                         "\n  entries the snapshot lacks are deleted; changed files are replaced",
                     repo::Risk::kHigh, "rollback"};
  op.affected = {{"snapshot", (*head)->ToHex()}, {"target", abs}};
  TerminalApprover approver(ctx, r, o.approval);
  if (Status st = repo::RequireApproval(&approver, op); !st.ok()) return ctx.Fail(st);
  if (!o.sqlite.empty()) {
    auto t = r.ResolvePath((*head)->ToHex());
    if (!t.ok()) return ctx.Fail(t.status());
    auto db = RestoreSqlite(ctx, r, *t, o.sqlite, false);
    if (!db.ok()) return ctx.Fail(db.status());
    if (ctx.g().json) {
      std::cout << Dump(json{{"snapshot", (*head)->ToHex()}, {"database", o.sqlite}, {"integrity_check", "ok"}}) << "\n";
    } else if (!ctx.g().quiet) {
      std::cout << "rolled database " << o.sqlite << " back to safety snapshot " << (*head)->ShortHex() << " ("
                << FormatTimeNs(snap->time_ns) << "; integrity check ok)\n";
    }
    return kExitOk;
  }
  auto res = RollBack(r, **head, o.target, o.threads);
  if (!res.ok()) return ctx.Fail(res.status());
  for (const auto& e : res->errors) {
    std::fprintf(stderr, "cairn: cannot restore '%s': %s\n", OneLine(e.path).c_str(), OneLine(e.error).c_str());
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
  c_restore->add_option("--include", restore->includes,
                        "restore only what matches PATTERN (backup's --exclude syntax; repeatable)")
      ->allow_extra_args(false);
  c_restore->add_option("--exclude", restore->excludes, "leave out what matches PATTERN (repeatable)")
      ->allow_extra_args(false);
  c_restore->add_option("--overwrite", restore->overwrite,
                        "existing entries: always (default), if-changed, if-newer or never");
  c_restore->add_option("--sqlite", restore->sqlite,
                        "restore a 'backup --sqlite' snapshot into this live database (checked with integrity_check first)");
  c_restore->add_option("--at", restore->at, "point in time: the newest snapshot of REV (default latest) at or before TIME");
  c_restore->add_flag("--no-safety-snapshot", restore->no_safety,
                      "restore over a folder without a safety snapshot first (no rollback)");
  c_restore->add_flag("--verify", restore->verify, "read restored files back and compare");
  c_restore->add_option("--threads", restore->threads, "worker threads (default: one per core)");
  AddApprovalFlags(c_restore, &restore->approval);
  c_restore->callback([&ctx, action, restore] { *action = [&ctx, restore] { return RunRestore(ctx, *restore); }; });

  auto rb = std::make_shared<RollbackCmd>();
  auto* c_rb = app.add_subcommand("rollback", "bring a folder back to the safety snapshot taken before the last restore over it");
  c_rb->add_option("-t,--target", rb->target, "the folder");
  c_rb->add_option("--sqlite", rb->sqlite, "the database (restored with backup --sqlite and restore --sqlite)");
  c_rb->add_option("--threads", rb->threads, "worker threads (default: one per core)");
  AddApprovalFlags(c_rb, &rb->approval);
  c_rb->callback([&ctx, action, rb] { *action = [&ctx, rb] { return RunRollback(ctx, *rb); }; });
}

}  // namespace cairn::cli
