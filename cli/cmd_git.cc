// SPDX-License-Identifier: MIT
//
// git export | import | map: snapshots out as git commits, a git history in
// as snapshots, and the pairs of the two (repo/git_interop.h;
// docs/git-interop.md, docs/cli.md#git).

#include <iostream>
#include <set>

#include "cli/cmd_common.h"
#include "cli/commands.h"
#include "repo/git_interop.h"

namespace cairn::cli {
namespace {

using nlohmann::json;

struct GitOptions {
  std::string git_dir;
  std::vector<std::string> revs;
  bool all = false;
  std::string prefix;
  bool force = false;
  std::string rev;  // map
};

std::string Short(const ObjectId& id) { return id.ToHex().substr(0, 12); }

int RunExport(Context& ctx, GitOptions& o) {
  if (o.all == !o.revs.empty()) return ctx.Fail(Status::InvalidArgument("give REV... or --all (exactly one of them)"));
  CAIRN_OPEN_OR_FAIL(ctx, r);
  auto sel = SelectRevisions(r, o.revs, o.all);
  if (!sel.ok()) return ctx.Fail(sel.status());
  repo::GitExportOptions opts;
  opts.git_dir = o.git_dir;
  opts.snapshots = sel->snapshots;
  for (const auto& ref : sel->refs) opts.refs.push_back({ref.kind, ref.name, ref.snapshot, ref.annotation});
  opts.branch_prefix = o.prefix;
  opts.force = o.force;
  opts.on_warning = [&ctx](const std::string& w) { ctx.Warn(w); };
  ctx.audit().affected = json{{"git_dir", o.git_dir}};
  auto res = repo::GitExport(&r, opts);
  if (!res.ok()) return ctx.Fail(res.status());
  size_t exported = 0;
  for (const auto& c : res->commits) {
    if (c.exported) exported++;
  }
  if (ctx.g().json) {
    json commits = json::array(), refs = json::array();
    for (const auto& c : res->commits) {
      commits.push_back({{"snapshot", c.snapshot.ToHex()}, {"commit", c.commit}, {"exported", c.exported}});
    }
    for (const auto& ref : res->refs) {
      json j{{"ref", ref.ref}, {"commit", ref.commit}, {"result", ref.result}};
      if (!ref.had.empty()) j["had"] = ref.had;
      refs.push_back(j);
    }
    std::cout << Dump(json{{"git_dir", o.git_dir},
                           {"created", res->created},
                           {"exported", exported},
                           {"already_there", res->commits.size() - exported},
                           {"commits", commits},
                           {"refs", refs},
                           {"blobs_written", res->blobs_written},
                           {"trees_written", res->trees_written},
                           {"packs_written", res->packs_written},
                           {"bytes_read", res->bytes_read},
                           {"left_out", {{"empty_folders", res->skipped_empty_dirs},
                                         {"special_files", res->skipped_special},
                                         {"names", res->skipped_names}}}})
              << "\n";
  } else if (!ctx.g().quiet) {
    for (const auto& c : res->commits) {
      if (c.exported) std::cout << "exported " << Short(c.snapshot) << " -> " << c.commit.substr(0, 12) << "\n";
    }
    for (const auto& ref : res->refs) {
      std::cout << ref.ref << ": " << ref.result;
      if (ref.result == "conflict") std::cout << " (it points at " << ref.had.substr(0, 12) << "; left as it is)";
      std::cout << "\n";
    }
    std::cout << "exported " << exported << " snapshot(s), " << res->commits.size() - exported
              << " already there; " << res->blobs_written << " blob(s), " << HumanBytes(res->bytes_read) << " read";
    if (res->skipped_empty_dirs + res->skipped_special + res->skipped_names > 0) {
      std::cout << "; left out what git cannot hold: " << res->skipped_empty_dirs << " empty folder(s), "
                << res->skipped_special << " fifo(s)/device(s), " << res->skipped_names << " name(s)";
    }
    std::cout << "\n";
  }
  if (res->conflict) {
    std::fprintf(stderr,
                 "cairn: error: some git refs have diverged and were left as they are; the commits were written "
                 "(replace the refs with --force)\n");
    return kExitExists;
  }
  return kExitOk;
}

int RunImport(Context& ctx, GitOptions& o) {
  if (o.all == !o.revs.empty()) return ctx.Fail(Status::InvalidArgument("give REF... or --all (exactly one of them)"));
  CAIRN_OPEN_OR_FAIL(ctx, r);
  auto session = r.BeginSession("backup");
  if (!session.ok()) return ctx.Fail(session.status());
  repo::GitImportOptions opts;
  opts.git_dir = o.git_dir;
  opts.refs = o.revs;
  opts.all = o.all;
  opts.branch_prefix = o.prefix;
  opts.on_warning = [&ctx](const std::string& w) { ctx.Warn(w); };
  ctx.audit().affected = json{{"git_dir", o.git_dir}};
  auto res = repo::GitImport(&r, opts);
  if (!res.ok()) return ctx.Fail(res.status().IsCorruption() ? res.status().WithContext("nothing was imported")
                                                              : res.status());
  size_t imported = 0;
  for (const auto& c : res->commits) {
    if (!c.imported) continue;
    imported++;
    ctx.audit().snapshots.push_back(c.snapshot.ToHex());
  }
  ctx.audit().bytes = res->bytes_read;
  if (ctx.g().json) {
    json commits = json::array(), refs = json::array();
    for (const auto& c : res->commits) {
      commits.push_back({{"commit", c.commit}, {"snapshot", c.snapshot.ToHex()}, {"imported", c.imported}});
    }
    for (const auto& ref : res->refs) {
      json j{{"ref", ref.ref}, {"snapshot", ref.snapshot.ToHex()}, {"result", ref.result}};
      if (!ref.detail.empty()) j["detail"] = ref.detail;
      refs.push_back(j);
    }
    std::cout << Dump(json{{"git_dir", o.git_dir},
                           {"shallow", res->shallow},
                           {"imported", imported},
                           {"already_there", res->commits.size() - imported},
                           {"commits", commits},
                           {"refs", refs},
                           {"blobs_read", res->blobs_read},
                           {"bytes_read", res->bytes_read},
                           {"submodules", res->submodules},
                           {"new_chunks", res->new_chunks},
                           {"new_trees", res->new_trees},
                           {"stored_bytes", res->stored_bytes}})
              << "\n";
  } else if (!ctx.g().quiet) {
    for (const auto& ref : res->refs) {
      std::cout << ref.ref << ": " << ref.result;
      if (ref.result == "conflict") std::cout << " (it points at " << ref.detail.substr(0, 12) << "; left as it is)";
      std::cout << "\n";
    }
    std::cout << "imported " << imported << " commit(s), " << res->commits.size() - imported
              << " already there; read " << res->blobs_read << " blob(s), " << HumanBytes(res->bytes_read)
              << ", stored " << HumanBytes(res->stored_bytes) << " new\n";
  }
  if (res->conflict) {
    std::fprintf(stderr,
                 "cairn: error: some branches or tags differ here and were left as they are; the commits were "
                 "imported (move them with 'cairn branch reset' or 'cairn tag move')\n");
    return kExitExists;
  }
  return kExitOk;
}

bool HexOnly(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

int RunMap(Context& ctx, GitOptions& o) {
  CAIRN_OPEN_OR_FAIL(ctx, r);
  auto maps = repo::GitMappings(r);
  if (!maps.ok()) return ctx.Fail(maps.status());
  // A commit id (or a prefix of one, 7 digits or more) that some pairing
  // names; otherwise a cairn revision.
  std::vector<repo::GitMapping> found;
  bool by_commit = false;
  std::string lower = o.rev;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (HexOnly(lower) && lower.size() >= 7 && lower.size() <= 40) {
    for (const auto& m : *maps) {
      if (m.commit.compare(0, lower.size(), lower) == 0) found.push_back(m);
    }
    std::set<std::string> commits;
    for (const auto& m : found) commits.insert(m.commit);
    if (commits.size() > 1) {
      return ctx.Fail(Status::Ambiguous("'" + o.rev + "' is the start of " + std::to_string(commits.size()) +
                                        " commits; give more digits"));
    }
    by_commit = !found.empty();
  }
  ObjectId snapshot;
  if (!by_commit) {
    auto id = r.ResolveRevision(o.rev);
    if (!id.ok()) return ctx.Fail(id.status());
    snapshot = *id;
    for (const auto& m : *maps) {
      if (m.snapshot == snapshot) found.push_back(m);
    }
    if (found.empty()) {
      return ctx.Fail(Status::NotFound("snapshot " + Short(snapshot) +
                                       " has not been exported to git or imported from it ('cairn git export "
                                       "GITDIR " + o.rev + "' makes its commit)"));
    }
  }
  if (ctx.g().json) {
    json pairs = json::array();
    for (const auto& m : found) {
      pairs.push_back({{"snapshot", m.snapshot.ToHex()}, {"commit", m.commit}, {"git_dir", m.git_dir}, {"how", m.how}});
    }
    std::cout << Dump(json{{"rev", o.rev}, {"pairs", pairs}}) << "\n";
  } else {
    std::set<std::string> shown;
    for (const auto& m : found) {
      std::string line = (by_commit ? m.snapshot.ToHex() : m.commit) + "  " + m.how + " " + m.git_dir;
      if (shown.insert(line).second) std::cout << line << "\n";
    }
  }
  return kExitOk;
}

}  // namespace

void RegisterGit(CLI::App& app, Context& ctx, Action* action) {
  auto o = std::make_shared<GitOptions>();
  auto* c_git = app.add_subcommand("git", "git interop: snapshots out as commits, a git history in as snapshots");
  c_git->require_subcommand(1);

  auto* ex = c_git->add_subcommand("export", "write snapshots as git commits (and branches, tags) into GITDIR");
  ex->add_option("GITDIR", o->git_dir, "a git repository (created bare if missing or empty)")->required();
  ex->add_option("REV", o->revs, "snapshots, branches or tags to export (with their history)");
  ex->add_flag("--all", o->all, "every snapshot, branch and tag");
  ex->add_option("--branch-prefix", o->prefix, "put this before every git branch and tag name");
  ex->add_flag("--force", o->force, "replace git branches that diverged and tags that differ");
  ex->callback([&ctx, action, o] { *action = [&ctx, o] { return RunExport(ctx, *o); }; });

  auto* im = c_git->add_subcommand("import", "take the history of git branches and tags in as snapshots");
  im->add_option("GITDIR", o->git_dir, "a git repository (its folder or its .git folder)")->required();
  im->add_option("REF", o->revs, "branches or tags to import (with their history)");
  im->add_flag("--all", o->all, "every branch and tag");
  im->add_option("--branch-prefix", o->prefix, "put this before every cairn branch and tag name");
  im->callback([&ctx, action, o] { *action = [&ctx, o] { return RunImport(ctx, *o); }; });

  auto* map = c_git->add_subcommand("map", "the git commit of a snapshot, or the snapshot of a git commit");
  map->add_option("REV", o->rev, "a revision, or a git commit id (7 to 40 hex digits)")->required();
  map->callback([&ctx, action, o] { *action = [&ctx, o] { return RunMap(ctx, *o); }; });
}

}  // namespace cairn::cli
