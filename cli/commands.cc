// SPDX-License-Identifier: MIT
//
// The commands. Each has an options struct, a Register function that adds
// its flags to CLI11, and a Run function that does the work through the
// library and renders the result.

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <set>

#include "cli/cli.h"
#include "cli/output.h"
#include "diff/tree_diff.h"
#include "repo/backup.h"
#include "repo/check.h"
#include "repo/repository.h"
#include "repo/restore.h"

namespace cairn::cli {
namespace {

using nlohmann::json;
using objstore::EntryType;
using repo::Repository;

constexpr const char* kVersion = "0.1.0";

struct Global {
  std::string repo;
  bool json = false;
  bool verbose = false;
  bool quiet = false;
};

// A failure that has already been rendered for the user; carries the exit code.
struct Exit {
  int code;
};

class Context {
 public:
  explicit Context(Global* g) : g_(g) {}
  Global& g() { return *g_; }

  // Prints the error (stderr; with --json also the JSON error object on
  // stdout) and returns its exit code.
  int Fail(const Status& st, int code = -1) {
    if (code < 0) code = ExitCodeFor(st);
    std::fprintf(stderr, "cairn: %s\n", st.message().c_str());
    if (g_->json) {
      std::cout << Dump(json{{"error", {{"message", st.message()}, {"exit_code", code}}}}) << "\n";
    }
    return code;
  }

  void Warn(const std::string& msg) {
    if (!g_->quiet) std::fprintf(stderr, "cairn: warning: %s\n", msg.c_str());
  }

  // Opens the repository from -r or CAIRN_REPO.
  Result<std::unique_ptr<Repository>> Open() {
    std::string path = g_->repo;
    if (path.empty()) {
      const char* env = std::getenv("CAIRN_REPO");
      if (env != nullptr) path = env;
    }
    if (path.empty()) {
      return Status::InvalidArgument("no repository given; use -r PATH or set CAIRN_REPO");
    }
    auto r = Repository::Open(path);
    if (r.ok()) {
      for (const auto& w : (*r)->warnings()) Warn(w);
    }
    return r;
  }

  int OpenFailed(const Status& st) {
    return Fail(st, st.IsNotFound() ? kExitNoRepo : ExitCodeFor(st));
  }

  bool Progress() const { return !g_->json && !g_->quiet; }

 private:
  Global* g_;
};

#define OPEN_OR_FAIL(ctx, var)                      \
  auto var##_r = (ctx).Open();                      \
  if (!var##_r.ok()) return (ctx).OpenFailed(var##_r.status()); \
  Repository& var = **var##_r

double Seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// --- init ---

struct InitOptions {
  std::string path;
  int level = 3;
  uint32_t avg_chunk = 0;
};

int RunInit(Context& ctx, const InitOptions& o) {
  std::string path = o.path.empty() ? ctx.g().repo : o.path;
  if (path.empty()) {
    const char* env = std::getenv("CAIRN_REPO");
    if (env != nullptr) path = env;
  }
  if (path.empty()) return ctx.Fail(Status::InvalidArgument("init needs a path: cairn init PATH"));
  auto cfg = objstore::NewRepoConfig();
  cfg.compression_level = o.level;
  if (o.avg_chunk != 0) {
    cfg.chunker.avg_size = o.avg_chunk;
    cfg.chunker.min_size = o.avg_chunk / 4;
    cfg.chunker.max_size = o.avg_chunk * 4;
    if (!objstore::ValidChunkerParams(cfg.chunker)) {
      return ctx.Fail(Status::InvalidArgument("--avg-chunk must be a power of two from 256 to 4194304"));
    }
  }
  Status st = Repository::Init(path, cfg);
  if (!st.ok()) return ctx.Fail(st);
  if (ctx.g().json) {
    std::cout << Dump(json{{"repository", path}, {"id", cfg.repo_id.ToHex()}, {"format", cfg.format}}) << "\n";
  } else if (!ctx.g().quiet) {
    std::cout << "created cairn repository " << cfg.repo_id.ShortHex() << " at " << path << "\n";
  }
  return kExitOk;
}

// --- backup ---

struct BackupCmd {
  std::vector<std::string> paths;
  std::string message, branch = std::string(repo::kDefaultBranch);
  unsigned threads = 0;
};

int RunBackup(Context& ctx, const BackupCmd& o) {
  OPEN_OR_FAIL(ctx, r);
  repo::BackupProgress prog;
  repo::BackupOptions opts;
  opts.paths = o.paths;
  opts.branch = o.branch;
  opts.message = o.message;
  opts.threads = o.threads;
  opts.progress = &prog;
  opts.on_error = [&](const std::string& path, const std::string& err) {
    std::fprintf(stderr, "cairn: cannot read '%s': %s\n", path.c_str(), err.c_str());
  };
  auto t0 = std::chrono::steady_clock::now();
  Result<repo::BackupResult> res = Status::IOError("not run");
  {
    ProgressLine line(ctx.Progress(), [&] {
      return "backup: " + std::to_string(prog.files_done.load()) + "/" +
             std::to_string(prog.files_total.load()) + " files, " + HumanBytes(prog.bytes_done) + " / " +
             HumanBytes(prog.bytes_total) + "  " + RateAndEta(prog.bytes_done, prog.bytes_total, Seconds(t0));
    });
    res = repo::Backup(&r, opts);
  }
  if (!res.ok()) return ctx.Fail(res.status());
  const auto& s = res->snapshot;
  if (ctx.g().json) {
    json j = SnapshotJson(res->snapshot_id, s);
    j["snapshot"] = res->snapshot_id.ToHex();
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
    std::cout << "snapshot " << res->snapshot_id.ToHex() << " saved on branch " << s.branch;
    if (!s.parents.empty()) std::cout << " (parent " << s.parents[0].ShortHex() << ")";
    std::cout << "\n  " << s.stats.files << " files, " << s.stats.dirs << " folders, "
              << HumanBytes(s.stats.bytes) << "\n  added " << s.stats.new_chunks << " chunks and "
              << s.stats.new_trees << " trees: " << HumanBytes(s.stats.added_bytes) << " stored ("
              << HumanBytes(s.stats.added_raw_bytes) << " before compression) in "
              << s.stats.duration_ms / 1000.0 << " s\n";
  }
  if (!s.errors.empty()) {
    std::fprintf(stderr, "cairn: %zu source path(s) could not be read and are missing from snapshot %s\n",
                 s.errors.size(), res->snapshot_id.ShortHex().c_str());
    return kExitPartial;
  }
  return kExitOk;
}

// --- log ---

struct LogCmd {
  std::string rev;
  int max_count = -1;
  bool oneline = false;
};

int RunLog(Context& ctx, const LogCmd& o) {
  OPEN_OR_FAIL(ctx, r);
  std::vector<std::pair<ObjectId, objstore::Snapshot>> out;
  std::string rev = o.rev.empty() ? "latest" : o.rev;
  auto head = r.ResolveRevision(rev);
  if (!head.ok()) {
    // An empty repository has an empty history, not an error.
    auto branch = r.ReadRef("branches/" + std::string(repo::kDefaultBranch));
    if (o.rev.empty() && branch.ok() && !*branch) {
      if (ctx.g().json) std::cout << "[]\n";
      return kExitOk;
    }
    return ctx.Fail(head.status());
  }
  std::set<ObjectId> seen;
  std::vector<ObjectId> todo{*head};
  while (!todo.empty()) {
    ObjectId id = todo.back();
    todo.pop_back();
    if (!seen.insert(id).second) continue;
    auto s = r.ReadSnapshot(id);
    if (!s.ok()) return ctx.Fail(s.status());
    for (const auto& p : s->parents) todo.push_back(p);
    out.emplace_back(id, std::move(s).value());
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.second.time_ns != b.second.time_ns ? a.second.time_ns > b.second.time_ns : b.first < a.first;
  });
  if (o.max_count >= 0 && out.size() > static_cast<size_t>(o.max_count)) out.resize(static_cast<size_t>(o.max_count));
  if (ctx.g().json) {
    json arr = json::array();
    for (const auto& [id, s] : out) arr.push_back(SnapshotJson(id, s));
    std::cout << Dump(arr) << "\n";
    return kExitOk;
  }
  for (size_t i = 0; i < out.size(); i++) {
    const auto& [id, s] = out[i];
    if (o.oneline) {
      std::cout << id.ShortHex() << " " << FormatTimeNs(s.time_ns) << " " << s.branch << " "
                << (s.message.empty() ? "(no message)" : s.message) << "\n";
      continue;
    }
    if (i) std::cout << "\n";
    std::cout << "snapshot " << id.ToHex() << " (" << s.branch << ")\n";
    if (!s.parents.empty()) {
      std::cout << "Parents: ";
      for (const auto& p : s.parents) std::cout << p.ShortHex() << " ";
      std::cout << "\n";
    }
    std::cout << "Date:    " << FormatTimeNs(s.time_ns) << " UTC\n"
              << "Source:  " << s.user << "@" << s.host;
    for (const auto& p : s.paths) std::cout << " " << p;
    std::cout << "\nKind:    " << s.kind << "\nStats:   " << s.stats.files << " files, "
              << HumanBytes(s.stats.bytes) << "; added " << HumanBytes(s.stats.added_bytes) << " ("
              << s.stats.new_chunks << " chunks)\n";
    if (!s.errors.empty()) std::cout << "Errors:  " << s.errors.size() << " unreadable source path(s)\n";
    if (!s.message.empty()) std::cout << "\n    " << s.message << "\n";
  }
  return kExitOk;
}

// --- ls ---

struct LsCmd {
  std::string spec;
  bool long_form = false;
};

int RunLs(Context& ctx, const LsCmd& o) {
  OPEN_OR_FAIL(ctx, r);
  auto t = r.ResolvePath(o.spec);
  if (!t.ok()) return ctx.Fail(t.status());
  json arr = json::array();
  auto emit = [&](const std::string& path, const objstore::TreeEntry& e) {
    if (ctx.g().json) {
      arr.push_back(EntryJson(path, e));
      return;
    }
    std::string shown = path + (e.type == EntryType::kDir ? "/" : "");
    if (o.long_form) {
      std::string owner = e.user.empty() ? std::to_string(e.uid) : e.user;
      std::string group = e.group.empty() ? std::to_string(e.gid) : e.group;
      char buf[96];
      std::snprintf(buf, sizeof(buf), "%s %-8s %-8s %12llu %s ", ModeString(e).c_str(), owner.c_str(),
                    group.c_str(), static_cast<unsigned long long>(e.size), FormatTimeNs(e.mtime_ns).c_str());
      std::cout << buf << shown;
      if (e.type == EntryType::kSymlink) std::cout << " -> " << e.link_target;
      if (e.type == EntryType::kHardlink) std::cout << " => " << e.link_target;
      std::cout << "\n";
    } else {
      std::cout << shown << "\n";
    }
  };
  Status st;
  std::function<Status(const ObjectId&, const std::string&)> walk = [&](const ObjectId& id,
                                                                       const std::string& prefix) -> Status {
    CAIRN_ASSIGN_OR_RETURN(objstore::Tree tree, r.ReadTree(id));
    for (const auto& e : tree.entries) {
      std::string p = prefix.empty() ? e.name : prefix + "/" + e.name;
      emit(p, e);
      if (e.type == EntryType::kDir) CAIRN_RETURN_IF_ERROR(walk(e.subtree, p));
    }
    return Status::OK();
  };
  if (t->entry.type == EntryType::kDir) {
    st = walk(t->entry.subtree, t->path);
  } else {
    emit(t->path, t->entry);
  }
  if (!st.ok()) return ctx.Fail(st);
  if (ctx.g().json) std::cout << Dump(arr) << "\n";
  return kExitOk;
}

// --- cat ---

int RunCat(Context& ctx, const std::string& spec) {
  OPEN_OR_FAIL(ctx, r);
  auto t = r.ResolvePath(spec);
  if (!t.ok()) return ctx.Fail(t.status());
  const objstore::TreeEntry& e = t->entry;
  if (e.type != EntryType::kFile && e.type != EntryType::kHardlink) {
    return ctx.Fail(Status::InvalidArgument("'" + t->path + "' is a " + objstore::EntryTypeName(e.type) +
                                            ", not a file; use 'cairn ls' to list it"));
  }
  for (const auto& c : e.chunks) {
    auto data = r.ReadBlob(c);
    if (!data.ok()) {
      std::cout.flush();
      return ctx.Fail(data.status().WithContext("cannot read '" + t->path + "'"));
    }
    std::cout.write(data->data(), static_cast<std::streamsize>(data->size()));
    if (!std::cout) return ctx.Fail(Status::IOError("cannot write to standard output"));
  }
  std::cout.flush();
  return kExitOk;
}

// --- restore ---

struct RestoreCmd {
  std::string spec, target;
  bool force = false, verify = false;
  unsigned threads = 0;
};

int RunRestore(Context& ctx, const RestoreCmd& o) {
  OPEN_OR_FAIL(ctx, r);
  auto t = r.ResolvePath(o.spec);
  if (!t.ok()) return ctx.Fail(t.status());
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

// --- check ---

int RunCheck(Context& ctx, bool read_data) {
  OPEN_OR_FAIL(ctx, r);
  std::atomic<uint64_t> done{0};
  repo::CheckOptions opts;
  opts.read_data = read_data;
  opts.packs_done = &done;
  Result<repo::CheckReport> rep = Status::IOError("not run");
  {
    ProgressLine line(ctx.Progress() && read_data, [&] { return "check: " + std::to_string(done.load()) + " packs read"; });
    rep = repo::Check(&r, opts);
  }
  if (!rep.ok()) return ctx.Fail(rep.status());
  for (const auto& w : rep->warnings) ctx.Warn(w);
  for (const auto& e : rep->errors) std::fprintf(stderr, "cairn: error: %s\n", e.c_str());
  if (ctx.g().json) {
    json j{{"ok", rep->errors.empty()}, {"errors", rep->errors}, {"warnings", rep->warnings},
           {"packs", rep->packs}, {"index_files", rep->index_files}, {"snapshots", rep->snapshots},
           {"trees", rep->trees}, {"blobs_read", rep->blobs}, {"bytes_read", rep->bytes_read},
           {"read_data", read_data}};
    std::cout << Dump(j) << "\n";
  } else if (!ctx.g().quiet) {
    std::cout << "checked " << rep->packs << " packs, " << rep->index_files << " index files, "
              << rep->snapshots << " snapshots, " << rep->trees << " trees";
    if (read_data) std::cout << ", " << rep->blobs << " blobs (" << HumanBytes(rep->bytes_read) << " read)";
    std::cout << ": " << (rep->errors.empty() ? "no errors found" : std::to_string(rep->errors.size()) + " error(s) found")
              << "\n";
  }
  return rep->errors.empty() ? kExitOk : kExitDamaged;
}

// --- stats ---

int RunStats(Context& ctx) {
  OPEN_OR_FAIL(ctx, r);
  auto s = repo::ComputeStats(&r);
  if (!s.ok()) return ctx.Fail(s.status());
  double dedup = s->unique_raw_bytes ? static_cast<double>(s->logical_bytes) / static_cast<double>(s->unique_raw_bytes) : 0;
  double comp = s->stored_blob_bytes ? static_cast<double>(s->unique_raw_bytes) / static_cast<double>(s->stored_blob_bytes) : 0;
  if (ctx.g().json) {
    json j{{"snapshots", s->snapshots}, {"logical_bytes", s->logical_bytes},
           {"unique_bytes", s->unique_raw_bytes}, {"stored_bytes", s->stored_blob_bytes},
           {"pack_bytes", s->pack_bytes}, {"repository_bytes", s->repo_bytes}, {"chunks", s->chunks},
           {"trees", s->trees}, {"packs", s->packs}, {"dedup_ratio", dedup}, {"compression_ratio", comp}};
    std::cout << Dump(j) << "\n";
    return kExitOk;
  }
  char buf[64];
  std::cout << "snapshots:          " << s->snapshots << "\n"
            << "logical bytes:      " << HumanBytes(s->logical_bytes) << " (file content over all snapshots)\n"
            << "unique bytes:       " << HumanBytes(s->unique_raw_bytes) << " (" << s->chunks << " chunks, "
            << s->trees << " trees)\n"
            << "stored bytes:       " << HumanBytes(s->stored_blob_bytes) << " (in " << s->packs << " packs)\n"
            << "repository size:    " << HumanBytes(s->repo_bytes) << "\n";
  std::snprintf(buf, sizeof(buf), "%.2f", dedup);
  std::cout << "dedup ratio:        " << buf << "\n";
  std::snprintf(buf, sizeof(buf), "%.2f", comp);
  std::cout << "compression ratio:  " << buf << "\n";
  return kExitOk;
}

// --- repair index ---

int RunRepairIndex(Context& ctx) {
  OPEN_OR_FAIL(ctx, r);
  std::vector<std::string> problems;
  size_t packs = 0, blobs = 0;
  Status st = r.RebuildIndexFromPacks(&problems, &packs, &blobs);
  if (!st.ok()) return ctx.Fail(st);
  for (const auto& p : problems) ctx.Warn(p);
  if (ctx.g().json) {
    std::cout << Dump(json{{"packs", packs}, {"blobs", blobs}, {"problems", problems}}) << "\n";
  } else if (!ctx.g().quiet) {
    std::cout << "rebuilt the index from " << packs << " packs (" << blobs << " blobs)";
    if (!problems.empty()) std::cout << "; " << problems.size() << " damaged pack(s) left out";
    std::cout << "\n";
  }
  return problems.empty() ? kExitOk : kExitDamaged;
}

// --- diff ---

struct DiffCmd {
  std::string a, b;
  bool metadata = false, exit_code = false;
};

class RepoTreeReader : public diff::TreeReader {
 public:
  explicit RepoTreeReader(const Repository& r) : r_(r) {}
  Result<objstore::Tree> ReadTree(const ObjectId& id) const override { return r_.ReadTree(id); }

 private:
  const Repository& r_;
};

int RunDiff(Context& ctx, const DiffCmd& o) {
  OPEN_OR_FAIL(ctx, r);
  auto a = r.ResolvePath(o.a);
  if (!a.ok()) return ctx.Fail(a.status());
  auto b = r.ResolvePath(o.b);
  if (!b.ok()) return ctx.Fail(b.status());
  if (a->entry.type != EntryType::kDir || b->entry.type != EntryType::kDir) {
    return ctx.Fail(Status::InvalidArgument("diff compares folders; both sides must be a snapshot or a folder in one"));
  }
  RepoTreeReader reader(r);
  diff::DiffOptions opts;
  opts.metadata = o.metadata;
  diff::DiffStats stats;
  json changes = json::array();
  size_t n = 0;
  Status st = diff::DiffTrees(reader, a->entry.subtree, b->entry.subtree, opts, [&](const diff::Change& c) {
    n++;
    if (ctx.g().json) {
      json j{{"path", c.path}, {"kind", diff::ChangeName(c.kind)}, {"status", std::string(1, diff::ChangeLetter(c.kind))}};
      if (c.old_entry) j["old"] = EntryJson(c.path, *c.old_entry);
      if (c.new_entry) j["new"] = EntryJson(c.path, *c.new_entry);
      changes.push_back(std::move(j));
    } else {
      std::cout << diff::ChangeLetter(c.kind) << "\t" << c.path << "\n";
    }
  }, &stats);
  if (!st.ok()) return ctx.Fail(st);
  if (ctx.g().json) {
    std::cout << Dump(json{{"from", a->snapshot_id.ToHex()}, {"to", b->snapshot_id.ToHex()},
                           {"changes", changes}, {"trees_read", stats.trees_read}}) << "\n";
  }
  if (ctx.g().verbose) std::fprintf(stderr, "cairn: %llu tree objects read\n", static_cast<unsigned long long>(stats.trees_read));
  return (o.exit_code && n > 0) ? 1 : kExitOk;
}

}  // namespace

int Run(int argc, char** argv) {
  Global g;
  Context ctx(&g);
  CLI::App app{"cairn: a content-addressed versioning and backup store"};
  app.name("cairn");
  app.set_version_flag("--version", std::string("cairn ") + kVersion + " (repository format " +
                                        std::to_string(objstore::kFormatVersion) + ")");
  app.require_subcommand(1);
  app.fallthrough();
  app.add_option("-r,--repo", g.repo, "repository path (default: $CAIRN_REPO)");
  app.add_flag("--json", g.json, "print one JSON document on stdout");
  app.add_flag("-v,--verbose", g.verbose, "say more");
  app.add_flag("-q,--quiet", g.quiet, "say only what went wrong");

  std::function<int()> action;

  InitOptions init;
  auto* c_init = app.add_subcommand("init", "create a repository");
  c_init->add_option("path", init.path, "where to create it (default: -r or $CAIRN_REPO)");
  c_init->add_option("--compression-level", init.level, "zstd level 0-19 (0: store raw)")->check(CLI::Range(0, 19));
  c_init->add_option("--avg-chunk", init.avg_chunk, "average chunk size in bytes (power of two)");
  c_init->callback([&] { action = [&] { return RunInit(ctx, init); }; });

  BackupCmd backup;
  auto* c_backup = app.add_subcommand("backup", "take a snapshot of files and folders");
  c_backup->add_option("paths", backup.paths, "files and folders to back up")->required();
  c_backup->add_option("-m,--message", backup.message, "a message recorded in the snapshot");
  c_backup->add_option("--branch", backup.branch, "the branch to advance (default: main)");
  c_backup->add_option("--threads", backup.threads, "worker threads (default: one per core)");
  c_backup->callback([&] { action = [&] { return RunBackup(ctx, backup); }; });

  LogCmd log;
  auto* c_log = app.add_subcommand("log", "show the history of a snapshot");
  c_log->add_option("rev", log.rev, "revision (default: latest)");
  c_log->add_option("-n,--max-count", log.max_count, "show at most N snapshots");
  c_log->add_flag("--oneline", log.oneline, "one line per snapshot");
  c_log->callback([&] { action = [&] { return RunLog(ctx, log); }; });

  LsCmd ls;
  auto* c_ls = app.add_subcommand("ls", "list the files of a snapshot");
  c_ls->add_option("rev", ls.spec, "REV or REV:PATH")->required();
  c_ls->add_flag("-l,--long", ls.long_form, "mode, owner, size and mtime");
  c_ls->callback([&] { action = [&] { return RunLs(ctx, ls); }; });

  std::string cat_spec;
  auto* c_cat = app.add_subcommand("cat", "print one file of a snapshot");
  c_cat->add_option("spec", cat_spec, "REV:PATH")->required();
  c_cat->callback([&] { action = [&] { return RunCat(ctx, cat_spec); }; });

  RestoreCmd restore;
  auto* c_restore = app.add_subcommand("restore", "restore a snapshot or a path of it");
  c_restore->add_option("rev", restore.spec, "REV or REV:PATH")->required();
  c_restore->add_option("-t,--target", restore.target, "folder to restore into")->required();
  c_restore->add_flag("--force", restore.force, "restore into a non-empty folder, replacing entries");
  c_restore->add_flag("--verify", restore.verify, "read restored files back and compare");
  c_restore->add_option("--threads", restore.threads, "worker threads (default: one per core)");
  c_restore->callback([&] { action = [&] { return RunRestore(ctx, restore); }; });

  bool read_data = false;
  auto* c_check = app.add_subcommand("check", "verify the repository");
  c_check->add_flag("--read-data", read_data, "also read every pack and re-hash every object");
  c_check->callback([&] { action = [&] { return RunCheck(ctx, read_data); }; });

  auto* c_stats = app.add_subcommand("stats", "sizes, deduplication and compression");
  c_stats->callback([&] { action = [&] { return RunStats(ctx); }; });

  auto* c_repair = app.add_subcommand("repair", "rebuild derived data");
  c_repair->require_subcommand(1);
  auto* c_repair_index = c_repair->add_subcommand("index", "rebuild the index from the packs alone");
  c_repair_index->callback([&] { action = [&] { return RunRepairIndex(ctx); }; });

  DiffCmd diffc;
  auto* c_diff = app.add_subcommand("diff", "list what changed between two snapshots");
  c_diff->add_option("a", diffc.a, "REV or REV:PATH")->required();
  c_diff->add_option("b", diffc.b, "REV or REV:PATH")->required();
  bool name_status = false;
  c_diff->add_flag("--name-status", name_status, "list changes as STATUS<TAB>PATH (the default)");
  c_diff->add_flag("--metadata", diffc.metadata, "also list mode, owner and mtime changes");
  c_diff->add_flag("--exit-code", diffc.exit_code, "exit 1 if there are differences");
  c_diff->callback([&] { action = [&] { return RunDiff(ctx, diffc); }; });

  auto* c_help = app.add_subcommand("help", "show help");
  c_help->callback([&] { action = [&] { std::cout << app.help(); return kExitOk; }; });

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "cairn: %s\nRun 'cairn --help' or 'cairn COMMAND --help' for usage.\n", e.what());
    return kExitUsage;
  }
  if (!action) return kExitUsage;
  try {
    return action();
  } catch (const std::exception& e) {
    // Nothing below cli/ throws; this is a bug, reported, never a crash.
    std::fprintf(stderr, "cairn: internal error: %s\n", e.what());
    return kExitFailure;
  }
}

}  // namespace cairn::cli
