// SPDX-License-Identifier: MIT
//
// backup: take a snapshot of files, folders, standard input, a command's
// output or a live SQLite database.

#include <chrono>
#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "repo/backup.h"
#include "repo/sources.h"
#include "repo/timespec.h"

namespace cairn::cli {
namespace {

using nlohmann::json;
using objstore::EntryType;
using objstore::TreeEntry;
using repo::Repository;

// --- backup ---

struct BackupCmd {
  std::vector<std::string> paths;
  std::string message, branch = std::string(repo::kDefaultBranch), type = "incremental";
  unsigned threads = 0;
  bool skip_if_unchanged = false, dry_run = false, ignore_ctime = false, ignore_inode = false, force_read = false;
  std::vector<std::string> excludes, exclude_files;
  bool exclude_caches = false, one_file_system = false;
  std::string exclude_larger_than;
  bool use_stdin = false;
  std::string stdin_name, stdin_command, sqlite;
  std::string parent;
  std::string time;
};

int RunBackup(Context& ctx, const BackupCmd& o) {
  if (o.paths.empty() && !o.use_stdin && o.stdin_command.empty() && o.sqlite.empty()) {
    return ctx.Fail(Status::InvalidArgument(
        "backup needs what to back up: cairn backup PATH..., or --stdin, --stdin-from-command CMD, --sqlite DB"));
  }
  repo::BackupOptions opts;
  if (o.type == "incremental") {
    opts.kind = repo::BackupKind::kIncremental;
  } else if (o.type == "differential") {
    opts.kind = repo::BackupKind::kDifferential;
  } else if (o.type == "full") {
    opts.kind = repo::BackupKind::kFull;
  } else {
    return ctx.Fail(Status::InvalidArgument("--type must be incremental, differential or full, not '" + o.type + "'"));
  }
  if (!o.exclude_larger_than.empty()) {
    auto size = repo::ParseSize(o.exclude_larger_than);
    if (!size.ok()) return ctx.Fail(size.status());
    opts.exclude_larger_than = *size;
  }
  if (!o.time.empty()) {
    auto t = repo::ParseTime(o.time, std::chrono::duration_cast<std::chrono::nanoseconds>(
                                         std::chrono::system_clock::now().time_since_epoch()).count());
    if (!t.ok()) return ctx.Fail(t.status().WithContext("--time"));
    opts.time_ns = *t;
  }
  if (!o.stdin_name.empty() && !o.use_stdin && o.stdin_command.empty()) {
    return ctx.Fail(Status::InvalidArgument("--stdin-name goes with --stdin or --stdin-from-command"));
  }
  if (!o.sqlite.empty()) {
    // Before the repository is opened and the branch's head looked at: the
    // refusal is the only line.
    if (Status st = repo::CheckSqliteSource(o.sqlite); !st.ok()) return ctx.Fail(st);
  }
  opts.read_stdin = o.use_stdin;
  opts.stdin_command = o.stdin_command;
  if (!o.stdin_name.empty()) opts.stream_name = o.stdin_name;
  CAIRN_OPEN_OR_FAIL(ctx, r);
  repo::BackupProgress prog;
  opts.paths = o.paths;
  opts.branch = o.branch;
  opts.message = o.message;
  opts.parent = o.parent;
  opts.on_warning = [&](const std::string& msg) { ctx.Warn(msg); };
  opts.threads = o.threads;
  opts.skip_if_unchanged = o.skip_if_unchanged;
  opts.dry_run = o.dry_run;
  opts.ignore_ctime = o.ignore_ctime;
  opts.ignore_inode = o.ignore_inode;
  opts.force_read = o.force_read;
  opts.excludes = o.excludes;
  opts.exclude_files = o.exclude_files;
  opts.exclude_caches = o.exclude_caches;
  opts.one_file_system = o.one_file_system;
  opts.sqlite_path = o.sqlite;
  opts.progress = &prog;
  opts.on_error = [&](const std::string& path, const std::string& err) {
    std::fprintf(stderr, "cairn: cannot read '%s': %s\n", OneLine(path).c_str(), OneLine(err).c_str());
  };
  if (ctx.g().verbose) {
    opts.on_read = [&](const std::string& path, const std::string& why) {
      std::fprintf(stderr, "read %s: %s\n", path.c_str(), why.c_str());
    };
  }
  auto t0 = std::chrono::steady_clock::now();
  Result<repo::BackupResult> res = Status::IOError("not run");
  {
    ProgressLine line(ctx.Progress() && !opts.read_stdin && opts.stdin_command.empty(), [&] {
      return "backup: " + std::to_string(prog.files_done.load()) + "/" +
             std::to_string(prog.files_total.load()) + " files, " + HumanBytes(prog.bytes_done) + " / " +
             HumanBytes(prog.bytes_total) + "  " + RateAndEta(prog.bytes_done, prog.bytes_total, Seconds(t0));
    });
    res = repo::Backup(&r, opts);
  }
  if (!res.ok()) return ctx.Fail(res.status());
  const auto& s = res->snapshot;
  if (res->snapshot_id) ctx.audit().snapshots.push_back(res->snapshot_id->ToHex());
  ctx.audit().bytes = s.stats.added_bytes;
  ctx.audit().read_only = o.dry_run || res->skipped;
  if (ctx.g().json) {
    json j = res->snapshot_id ? SnapshotJson(*res->snapshot_id, s) : SnapshotJson(ObjectId(), s);
    j["snapshot"] = res->snapshot_id ? json(res->snapshot_id->ToHex()) : json(nullptr);
    if (!res->snapshot_id) {
      j.erase("id");
      j.erase("short_id");
    }
    j["dry_run"] = o.dry_run;
    j["skipped"] = res->skipped;
    j["files"] = s.stats.files;
    j["dirs"] = s.stats.dirs;
    j["bytes"] = s.stats.bytes;
    j["added_bytes"] = s.stats.added_bytes;
    j["added_raw_bytes"] = s.stats.added_raw_bytes;
    j["new_chunks"] = s.stats.new_chunks;
    j["new_trees"] = s.stats.new_trees;
    j["packs_written"] = res->packs_written;
    std::cout << Dump(j) << "\n";
  } else if (!ctx.g().quiet) {
    if (o.dry_run) {
      std::cout << "dry run: no snapshot written";
    } else if (res->skipped) {
      std::cout << "nothing changed since snapshot " << s.parents[0].ShortHex() << "; no snapshot taken";
    } else {
      std::cout << s.kind << " snapshot " << res->snapshot_id->ToHex() << " saved on branch " << s.branch;
      if (!s.parents.empty()) std::cout << " (parent " << s.parents[0].ShortHex() << ")";
    }
    std::cout << "\n  " << s.stats.files << " files, " << s.stats.dirs << " folders, " << HumanBytes(s.stats.bytes)
              << "\n  ";
    if (s.stats.counts_unknown) {
      std::cout << "changes not counted (a write-only key cannot read the parent); ";
    } else {
      std::cout << s.stats.files_new << " new, " << s.stats.files_changed << " changed, " << s.stats.files_unchanged
                << " unchanged, " << s.stats.files_deleted << " deleted; ";
    }
    std::cout << s.stats.files_read << " read from disk"
              << "\n  " << (o.dry_run ? "would add " : "added ") << s.stats.new_chunks << " chunks and "
              << s.stats.new_trees << " trees: " << HumanBytes(s.stats.added_bytes) << " stored ("
              << HumanBytes(s.stats.added_raw_bytes) << " before compression) in "
              << s.stats.duration_ms / 1000.0 << " s\n";
  }
  if (!s.errors.empty()) {
    std::fprintf(stderr, "cairn: %zu source path(s) could not be read and are missing from the snapshot\n",
                 s.errors.size());
    return kExitPartial;
  }
  return kExitOk;
}

}  // namespace

void RegisterBackup(CLI::App& app, Context& ctx, Action* action) {
  auto backup = std::make_shared<BackupCmd>();
  auto* c_backup = app.add_subcommand("backup", "take a snapshot of files and folders");
  c_backup->add_option("PATH", backup->paths, "files and folders to back up");
  c_backup->add_option("-m,--message", backup->message, "a message recorded in the snapshot");
  c_backup->add_option("--branch", backup->branch, "the branch to advance (default: main)");
  c_backup->add_option("--time", backup->time, "record TIME as the snapshot's time (importing old backups)");
  c_backup->add_option("--parent", backup->parent, "count the changes against REV and make it the first parent");
  c_backup->add_option("--type", backup->type, "incremental (default), differential or full");
  c_backup->add_flag("--skip-if-unchanged", backup->skip_if_unchanged, "no snapshot when nothing changed");
  c_backup->add_flag("--dry-run", backup->dry_run, "report what would be added; write nothing");
  c_backup->add_flag("--ignore-ctime", backup->ignore_ctime, "a ctime change alone does not re-read a file");
  c_backup->add_flag("--ignore-inode", backup->ignore_inode, "an inode or device change alone does not re-read a file");
  c_backup->add_flag("--force-read", backup->force_read, "read every file, trusting no cache");
  c_backup->add_option("--exclude", backup->excludes, "leave out paths matching PATTERN (gitignore syntax)")
      ->allow_extra_args(false);
  c_backup->add_option("--exclude-file", backup->exclude_files, "read exclusion patterns from a file")
      ->allow_extra_args(false);
  c_backup->add_flag("--exclude-caches", backup->exclude_caches, "leave out the content of folders with a CACHEDIR.TAG");
  c_backup->add_option("--exclude-larger-than", backup->exclude_larger_than, "leave out files larger than SIZE (K, M, G)");
  c_backup->add_flag("--one-file-system", backup->one_file_system, "do not cross into other file systems");
  c_backup->add_flag("--stdin", backup->use_stdin, "back up standard input as one file");
  c_backup->add_option("--stdin-name", backup->stdin_name, "the file name for --stdin (default: stdin)");
  c_backup->add_option("--stdin-from-command", backup->stdin_command, "back up the output of a command");
  c_backup->add_option("--sqlite", backup->sqlite, "an online-consistent copy of a live SQLite database");
  c_backup->add_option("--threads", backup->threads, "worker threads (default: one per core)");
  c_backup->callback([&ctx, action, backup] { *action = [&ctx, backup] { return RunBackup(ctx, *backup); }; });
}

}  // namespace cairn::cli
