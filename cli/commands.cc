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
#include <optional>
#include <queue>
#include <set>

#include "cli/context.h"
#include "cli/output.h"
#include "diff/tree_diff.h"
#include "repo/timespec.h"
#include "repo/backup.h"
#include "repo/check.h"
#include "repo/location.h"
#include "repo/repository.h"
#include "repo/restore.h"

namespace cairn::cli {
namespace {

using nlohmann::json;
using objstore::EntryType;
using repo::Repository;

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
  auto where = repo::RepositoryFromFlagOrEnv(o.path.empty() ? ctx.g().repo : o.path);
  if (!where.ok()) return ctx.Fail(Status::InvalidArgument("init needs a path: cairn init PATH"));
  const std::string& path = *where;
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
  std::string message, branch = std::string(repo::kDefaultBranch), type = "incremental";
  unsigned threads = 0;
  bool skip_if_unchanged = false, dry_run = false, ignore_ctime = false, ignore_inode = false, force_read = false;
  std::vector<std::string> excludes, exclude_files;
  bool exclude_caches = false, one_file_system = false;
  std::string exclude_larger_than;
  bool use_stdin = false;
  std::string stdin_name, stdin_command, sqlite;
  std::string parent;
};

int RunBackup(Context& ctx, const BackupCmd& o) {
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
  if (!o.stdin_name.empty() && !o.use_stdin && o.stdin_command.empty()) {
    return ctx.Fail(Status::InvalidArgument("--stdin-name goes with --stdin or --stdin-from-command"));
  }
  opts.read_stdin = o.use_stdin;
  opts.stdin_command = o.stdin_command;
  if (!o.stdin_name.empty()) opts.stream_name = o.stdin_name;
  CAIRN_OPEN_OR_FAIL(ctx, r);
  repo::BackupProgress prog;
  opts.paths = o.paths;
  opts.branch = o.branch;
  opts.message = o.message;
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
  opts.parent = o.parent;
  opts.on_warning = [&](const std::string& msg) { ctx.Warn(msg); };
  opts.progress = &prog;
  opts.on_error = [&](const std::string& path, const std::string& err) {
    std::fprintf(stderr, "cairn: cannot read '%s': %s\n", path.c_str(), err.c_str());
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
              << "\n  " << s.stats.files_new << " new, " << s.stats.files_changed << " changed, "
              << s.stats.files_unchanged << " unchanged, " << s.stats.files_deleted << " deleted; "
              << s.stats.files_read << " read from disk"
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

// --- log ---

struct LogCmd {
  std::string rev;
  int max_count = -1;
  bool oneline = false, graph = false;
  std::string since, until;
  std::vector<std::string> paths;
};

// True if the entry at `path` differs between snapshot `id` and its first
// parent (or exists at all, for a snapshot without parents).
Result<bool> TouchesPath(const repo::Repository& r, const ObjectId& id, const objstore::Snapshot& s,
                         const std::string& path) {
  auto now = r.ResolvePath(id.ToHex() + ":" + path);
  if (!now.ok() && !now.status().IsNotFound()) return now.status();
  if (s.parents.empty()) return now.ok();
  auto before = r.ResolvePath(s.parents[0].ToHex() + ":" + path);
  if (!before.ok() && !before.status().IsNotFound()) return before.status();
  if (now.ok() != before.ok()) return true;
  if (!now.ok()) return false;
  const auto& a = before->entry;
  const auto& b = now->entry;
  return a.type != b.type || a.subtree != b.subtree || a.chunks != b.chunks || a.link_target != b.link_target ||
         a.mode != b.mode || a.mtime_ns != b.mtime_ns;
}

// "branch: main, tag: v1" for the refs that point at each snapshot.
std::map<ObjectId, std::vector<std::string>> RefNames(const repo::Repository& r) {
  std::map<ObjectId, std::vector<std::string>> out;
  for (const char* kind : {"branches", "tags"}) {
    auto refs = r.ListRefs(kind);
    if (!refs.ok()) continue;
    for (const auto& [name, id] : *refs) out[id].push_back(std::string(kind[0] == 'b' ? "branch: " : "tag: ") + name);
  }
  return out;
}

int RunLog(Context& ctx, const LogCmd& o) {
  CAIRN_OPEN_OR_FAIL(ctx, r);
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
  int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                    std::chrono::system_clock::now().time_since_epoch()).count();
  std::optional<int64_t> since, until;
  if (!o.since.empty()) {
    auto t = repo::ParseTime(o.since, now);
    if (!t.ok()) return ctx.Fail(t.status());
    since = *t;
  }
  if (!o.until.empty()) {
    auto t = repo::ParseTime(o.until, now);
    if (!t.ok()) return ctx.Fail(t.status());
    until = *t;
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
  // Children before parents (so --graph lines never cross back), and
  // otherwise newest first, as git log does with --graph.
  {
    std::map<ObjectId, size_t> children;
    for (const auto& [id, snap] : out) {
      children.emplace(id, 0);
      for (const auto& p : snap.parents) children[p]++;
    }
    auto newer = [&](size_t a, size_t b) {
      const auto& x = out[a];
      const auto& y = out[b];
      return x.second.time_ns != y.second.time_ns ? x.second.time_ns < y.second.time_ns : x.first < y.first;
    };
    std::map<ObjectId, size_t> at;
    for (size_t i = 0; i < out.size(); i++) at[out[i].first] = i;
    std::priority_queue<size_t, std::vector<size_t>, decltype(newer)> ready(newer);
    for (size_t i = 0; i < out.size(); i++) {
      if (children[out[i].first] == 0) ready.push(i);
    }
    std::vector<std::pair<ObjectId, objstore::Snapshot>> ordered;
    while (!ready.empty()) {
      size_t i = ready.top();
      ready.pop();
      for (const auto& p : out[i].second.parents) {
        auto it = at.find(p);
        if (it != at.end() && --children[p] == 0) ready.push(it->second);
      }
      ordered.push_back(std::move(out[i]));
    }
    out = std::move(ordered);
  }
  std::vector<std::pair<ObjectId, objstore::Snapshot>> shown;
  for (auto& [id, s] : out) {
    if (since && s.time_ns < *since) continue;
    if (until && s.time_ns > *until) continue;
    bool keep = o.paths.empty();
    for (const auto& p : o.paths) {
      auto t = TouchesPath(r, id, s, p);
      if (!t.ok()) return ctx.Fail(t.status());
      keep = keep || *t;
    }
    if (!keep) continue;
    shown.emplace_back(id, std::move(s));
    if (o.max_count >= 0 && shown.size() >= static_cast<size_t>(o.max_count)) break;
  }
  auto refs = RefNames(r);
  if (ctx.g().json) {
    json arr = json::array();
    for (const auto& [id, s] : shown) {
      json j = SnapshotJson(id, s);
      j["refs"] = refs.count(id) ? refs[id] : std::vector<std::string>{};
      arr.push_back(std::move(j));
    }
    std::cout << Dump(arr) << "\n";
    return kExitOk;
  }
  // --graph: one lane per line of descent; '*' marks the snapshot's lane.
  std::vector<ObjectId> lanes;
  auto prefix = [&](const ObjectId* at) {
    std::string p;
    for (const auto& l : lanes) p += (at != nullptr && l == *at) ? "* " : "| ";
    return p;
  };
  for (size_t i = 0; i < shown.size(); i++) {
    const auto& [id, s] = shown[i];
    if (o.graph && std::find(lanes.begin(), lanes.end(), id) == lanes.end()) lanes.push_back(id);
    std::string star = o.graph ? prefix(&id) : "";
    std::string bar = o.graph ? prefix(nullptr) : "";
    std::string deco;
    if (refs.count(id)) {
      for (const auto& n : refs[id]) deco += (deco.empty() ? "" : ", ") + n;
      deco = " (" + deco + ")";
    }
    if (o.oneline) {
      std::cout << star << id.ShortHex() << deco << " " << FormatTimeNs(s.time_ns) << " "
                << (s.message.empty() ? "(no message)" : s.message) << "\n";
    } else {
      if (i) std::cout << bar << "\n";
      std::cout << star << "snapshot " << id.ToHex() << deco << "\n";
      if (!s.parents.empty()) {
        std::cout << bar << "Parents: ";
        for (const auto& p : s.parents) std::cout << p.ShortHex() << " ";
        std::cout << "\n";
      }
      std::cout << bar << "Branch:  " << s.branch << "\n"
                << bar << "Date:    " << FormatTimeNs(s.time_ns) << " UTC\n"
                << bar << "Source:  " << s.user << "@" << s.host;
      for (const auto& p : s.paths) std::cout << " " << p;
      std::cout << "\n" << bar << "Kind:    " << s.kind << "\n" << bar << "Stats:   " << s.stats.files << " files, "
                << HumanBytes(s.stats.bytes) << "; added " << HumanBytes(s.stats.added_bytes) << " ("
                << s.stats.new_chunks << " chunks)\n";
      if (!s.errors.empty()) std::cout << bar << "Errors:  " << s.errors.size() << " unreadable source path(s)\n";
      if (!s.message.empty()) std::cout << bar << "\n" << bar << "    " << s.message << "\n";
    }
    if (o.graph) {
      auto it = std::find(lanes.begin(), lanes.end(), id);
      size_t idx = static_cast<size_t>(it - lanes.begin());
      if (s.parents.empty()) {
        lanes.erase(it);
      } else {
        lanes[idx] = s.parents[0];
        for (size_t k = 1; k < s.parents.size(); k++) {
          if (std::find(lanes.begin(), lanes.end(), s.parents[k]) == lanes.end()) {
            lanes.insert(lanes.begin() + static_cast<long>(idx + k), s.parents[k]);
          }
        }
        // Two lanes waiting for the same snapshot join.
        for (size_t a = 0; a < lanes.size(); a++) {
          for (size_t b = a + 1; b < lanes.size();) {
            if (lanes[b] == lanes[a]) lanes.erase(lanes.begin() + static_cast<long>(b));
            else b++;
          }
        }
      }
    }
  }
  return kExitOk;
}

// --- ls ---

struct LsCmd {
  std::string spec;
  bool long_form = false;
};

int RunLs(Context& ctx, const LsCmd& o) {
  CAIRN_OPEN_OR_FAIL(ctx, r);
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
  CAIRN_OPEN_OR_FAIL(ctx, r);
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
  CAIRN_OPEN_OR_FAIL(ctx, r);
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

struct CheckCmd {
  bool read_data = false;
  std::string subset;
};

int RunCheck(Context& ctx, const CheckCmd& o) {
  repo::CheckOptions opts;
  if (!o.subset.empty()) {
    auto subset = repo::ParseDataSubset(o.subset);
    if (!subset.ok()) return ctx.Fail(subset.status());
    opts.subset = *subset;
  }
  const bool read_data = o.read_data || !o.subset.empty();
  CAIRN_OPEN_OR_FAIL(ctx, r);
  std::atomic<uint64_t> done{0};
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
           {"read_data", read_data}, {"packs_read", rep->packs_read}, {"unindexed_packs", rep->unindexed_packs},
           {"unreachable_snapshots", rep->unreachable_snapshots}};
    std::cout << Dump(j) << "\n";
  } else if (!ctx.g().quiet) {
    std::cout << "checked " << rep->packs << " packs, " << rep->index_files << " index files, "
              << rep->snapshots << " snapshots, " << rep->trees << " trees";
    if (read_data) {
      std::cout << ", read " << rep->packs_read << " of " << rep->packs << " packs and " << rep->blobs << " blobs ("
                << HumanBytes(rep->bytes_read) << ")";
    }
    std::cout << ": " << (rep->errors.empty() ? "no errors found" : std::to_string(rep->errors.size()) + " error(s) found")
              << "\n";
  }
  return rep->errors.empty() ? kExitOk : kExitDamaged;
}

// --- stats ---

int RunStats(Context& ctx) {
  CAIRN_OPEN_OR_FAIL(ctx, r);
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
  CAIRN_OPEN_OR_FAIL(ctx, r);
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

}  // namespace

void RegisterCoreCommands(CLI::App& app, Context& ctx, Action* action) {
  auto init = std::make_shared<InitOptions>();
  auto* c_init = app.add_subcommand("init", "create a repository");
  c_init->add_option("path", init->path, "where to create it (default: -r or $CAIRN_REPO)");
  c_init->add_option("--compression-level", init->level, "zstd level 0-19 (0: store raw)")->check(CLI::Range(0, 19));
  c_init->add_option("--avg-chunk", init->avg_chunk, "average chunk size in bytes (power of two)");
  c_init->callback([&ctx, action, init] { *action = [&ctx, init] { return RunInit(ctx, *init); }; });

  auto backup = std::make_shared<BackupCmd>();
  auto* c_backup = app.add_subcommand("backup", "take a snapshot of files and folders");
  c_backup->add_option("paths", backup->paths, "files and folders to back up");
  c_backup->add_option("-m,--message", backup->message, "a message recorded in the snapshot");
  c_backup->add_option("--branch", backup->branch, "the branch to advance (default: main)");
  c_backup->add_option("--type", backup->type, "incremental (default), differential or full");
  c_backup->add_option("--parent", backup->parent, "count the changes against REV and make it the first parent");
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

  auto log = std::make_shared<LogCmd>();
  auto* c_log = app.add_subcommand("log", "show the history of a snapshot");
  c_log->add_option("rev", log->rev, "revision (default: latest)");
  c_log->add_option("-n,--max-count", log->max_count, "show at most N snapshots");
  c_log->add_flag("--oneline", log->oneline, "one line per snapshot");
  c_log->add_flag("--graph", log->graph, "draw the parent graph");
  c_log->add_option("--since", log->since, "only snapshots at or after this time");
  c_log->add_option("--until", log->until, "only snapshots at or before this time");
  c_log->footer("cairn log [REV] -- PATH...: only snapshots that changed these paths");
  c_log->callback([&ctx, action, log] {
    *action = [&ctx, log] {
      log->paths = ctx.g().paths;
      return RunLog(ctx, *log);
    };
  });

  auto ls = std::make_shared<LsCmd>();
  auto* c_ls = app.add_subcommand("ls", "list the files of a snapshot");
  c_ls->add_option("rev", ls->spec, "REV or REV:PATH")->required();
  c_ls->add_flag("-l,--long", ls->long_form, "mode, owner, size and mtime");
  c_ls->callback([&ctx, action, ls] { *action = [&ctx, ls] { return RunLs(ctx, *ls); }; });

  auto cat_spec = std::make_shared<std::string>();
  auto* c_cat = app.add_subcommand("cat", "print one file of a snapshot");
  c_cat->add_option("spec", *cat_spec, "REV:PATH")->required();
  c_cat->callback([&ctx, action, cat_spec] { *action = [&ctx, cat_spec] { return RunCat(ctx, *cat_spec); }; });

  auto restore = std::make_shared<RestoreCmd>();
  auto* c_restore = app.add_subcommand("restore", "restore a snapshot or a path of it");
  c_restore->add_option("rev", restore->spec, "REV or REV:PATH")->required();
  c_restore->add_option("-t,--target", restore->target, "folder to restore into")->required();
  c_restore->add_flag("--force", restore->force, "restore into a non-empty folder, replacing entries");
  c_restore->add_flag("--verify", restore->verify, "read restored files back and compare");
  c_restore->add_option("--threads", restore->threads, "worker threads (default: one per core)");
  c_restore->callback([&ctx, action, restore] { *action = [&ctx, restore] { return RunRestore(ctx, *restore); }; });

  auto check = std::make_shared<CheckCmd>();
  auto* c_check = app.add_subcommand("check", "verify the repository");
  c_check->add_flag("--read-data", check->read_data, "also read every pack and re-hash every object");
  c_check->add_option("--read-data-subset", check->subset,
                      "read only part of the packs: N/M (the N-th of M slices) or P% (a random share)");
  c_check->callback([&ctx, action, check] { *action = [&ctx, check] { return RunCheck(ctx, *check); }; });

  auto* c_stats = app.add_subcommand("stats", "sizes, deduplication and compression");
  c_stats->callback([&ctx, action] { *action = [&ctx] { return RunStats(ctx); }; });

  auto* c_repair = app.add_subcommand("repair", "rebuild derived data");
  c_repair->require_subcommand(1);
  auto* c_repair_index = c_repair->add_subcommand("index", "rebuild the index from the packs alone");
  c_repair_index->callback([&ctx, action] { *action = [&ctx] { return RunRepairIndex(ctx); }; });
}

}  // namespace cairn::cli
