// SPDX-License-Identifier: MIT
//
// diff: what changed between two restore points, or a restore point and a
// folder on disk.

#include <sys/stat.h>

#include <cstdio>
#include <iostream>
#include <optional>

#include "cli/commands.h"
#include "diff/live_diff.h"
#include "diff/text_diff.h"
#include "diff/tree_diff.h"
#include "objstore/file_chunks.h"

namespace cairn::cli {
namespace {

using nlohmann::json;
using objstore::EntryType;
using objstore::TreeEntry;
using repo::Repository;

struct DiffCmd {
  std::string a, b;
  std::vector<std::string> paths;
  bool name_status = false, stat = false, patch = false, metadata = false, exit_code = false;
  bool no_renames = false;
};

Status Patch(const Repository& r, const diff::Change& c, const std::string& live_root, std::string* out) {
  std::string a_path = c.kind == diff::ChangeKind::kRenamed ? c.old_path : c.path;
  *out += "diff --cairn a/" + a_path + " b/" + c.path + "\n";
  if (c.kind == diff::ChangeKind::kRenamed) *out += "rename from " + c.old_path + "\nrename to " + c.path + "\n";
  if (c.old_entry && c.new_entry && c.old_entry->mode != c.new_entry->mode) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "old mode %04o\nnew mode %04o\n", c.old_entry->mode, c.new_entry->mode);
    *out += buf;
  }
  std::string a, b;
  if (c.old_entry) {
    CAIRN_ASSIGN_OR_RETURN(a, Content(r, *c.old_entry, a_path, ""));
  }
  if (c.new_entry) {
    CAIRN_ASSIGN_OR_RETURN(b, Content(r, *c.new_entry, c.path, live_root.empty() ? "" : live_root + "/" + c.path));
  }
  if (a == b) return Status::OK();
  if (diff::LooksBinary(a) || diff::LooksBinary(b)) {
    *out += "Binary files " + (c.old_entry ? "a/" + a_path : std::string("/dev/null")) + " and " +
            (c.new_entry ? "b/" + c.path : std::string("/dev/null")) + " differ (" + std::to_string(a.size()) +
            " -> " + std::to_string(b.size()) + " bytes)\n";
    return Status::OK();
  }
  *out += "--- " + (c.old_entry ? "a/" + a_path : std::string("/dev/null")) + "\n";
  *out += "+++ " + (c.new_entry ? "b/" + c.path : std::string("/dev/null")) + "\n";
  diff::UnifiedDiff(a, b, 3, out);
  return Status::OK();
}

json ChangeJson(const diff::Change& c) {
  json j{{"path", c.path}, {"kind", diff::ChangeName(c.kind)}, {"status", std::string(1, diff::ChangeLetter(c.kind))}};
  if (c.kind == diff::ChangeKind::kRenamed) j["old_path"] = c.old_path;
  if (c.old_entry) {
    j["old"] = EntryJson(c.kind == diff::ChangeKind::kRenamed ? c.old_path : c.path, *c.old_entry);
    if (!c.old_entry->chunks.empty() || c.old_entry->type == EntryType::kFile) {
      j["old_id"] = objstore::FileContentId(c.old_entry->chunks).ToHex();
    }
  }
  if (c.new_entry) {
    j["new"] = EntryJson(c.path, *c.new_entry);
    if (!c.new_entry->chunks.empty() || (c.new_entry->type == EntryType::kFile && c.new_entry->size == 0)) {
      j["new_id"] = objstore::FileContentId(c.new_entry->chunks).ToHex();
    }
  }
  return j;
}

// Resolves a diff side that must be a folder of a snapshot.
Result<Repository::PathTarget> FolderSide(const Repository& r, const std::string& spec) {
  CAIRN_ASSIGN_OR_RETURN(auto t, r.ResolvePath(spec));
  if (t.entry.type != EntryType::kDir) {
    return Status::InvalidArgument("'" + spec + "' is a " + objstore::EntryTypeName(t.entry.type) +
                                   "; diff compares snapshots or folders in them");
  }
  return t;
}

int RunDiff(Context& ctx, const DiffCmd& o) {
  if (o.a.empty() || o.b.empty()) {
    return ctx.Fail(Status::InvalidArgument(std::string(o.a.empty() ? "diff needs two revisions"
                                                                     : "diff needs a second revision or a folder") +
                                            ": cairn diff A B, or cairn diff REV DIR"));
  }
  CAIRN_OPEN_OR_FAIL(ctx, r);
  auto a = FolderSide(r, o.a);
  if (!a.ok()) return ctx.Fail(a.status());
  // B is a live folder when it is not a revision and names a folder on disk,
  // or when it is written as a path (starts with '/' or '.').
  std::string live;
  std::optional<Repository::PathTarget> b;
  struct stat st;
  bool is_dir = ::stat(o.b.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  if (is_dir && (o.b[0] == '/' || o.b[0] == '.')) {
    live = o.b;
  } else {
    auto bt = FolderSide(r, o.b);
    if (bt.ok()) {
      b = std::move(bt).value();
    } else if (is_dir && bt.status().IsNotFound()) {
      live = o.b;
    } else {
      return ctx.Fail(bt.status());
    }
  }
  diff::DiffOptions opts;
  opts.metadata = o.metadata;
  for (auto p : o.paths) {
    while (!p.empty() && p.back() == '/') p.pop_back();
    while (p.rfind("./", 0) == 0) p = p.substr(2);
    opts.paths.push_back(p);
  }
  diff::DiffStats stats;
  std::vector<diff::Change> changes;
  auto collect = [&](const diff::Change& c) { changes.push_back(c); };
  RepoTreeReader reader(r);
  Status s = live.empty() ? diff::DiffTrees(reader, a->entry.subtree, b->entry.subtree, opts, collect, &stats)
                          : diff::DiffTreeDir(reader, a->entry.subtree, live, r.config().chunker, r.hasher(), opts, collect, &stats);
  if (!s.ok()) return ctx.Fail(s);
  if (!o.no_renames) diff::DetectRenames(&changes);
  if (ctx.g().verbose) {
    std::fprintf(stderr, "cairn: %llu tree objects read", static_cast<unsigned long long>(stats.trees_read));
    if (!live.empty()) std::fprintf(stderr, ", %llu files read", static_cast<unsigned long long>(stats.files_read));
    std::fprintf(stderr, "\n");
  }
  if (ctx.g().json) {
    json arr = json::array();
    for (const auto& c : changes) arr.push_back(ChangeJson(c));
    json j{{"from", a->snapshot_id.ToHex()}, {"changes", arr}, {"trees_read", stats.trees_read}};
    if (live.empty()) {
      j["to"] = b->snapshot_id.ToHex();
    } else {
      j["to_folder"] = live;
      j["files_read"] = stats.files_read;
    }
    std::cout << Dump(j) << "\n";
  } else if (o.stat) {
    PrintStat(changes);
  } else if (o.patch) {
    for (const auto& c : changes) {
      std::string out;
      Status ps = Patch(r, c, live, &out);
      if (!ps.ok()) return ctx.Fail(ps);
      std::cout << out;
    }
  } else {
    for (const auto& c : changes) {
      if (c.kind == diff::ChangeKind::kRenamed) {
        std::cout << "R\t" << c.old_path << "\t" << c.path << "\n";
      } else {
        std::cout << diff::ChangeLetter(c.kind) << "\t" << c.path << "\n";
      }
    }
  }
  std::cout.flush();
  return (o.exit_code && !changes.empty()) ? 1 : kExitOk;
}

}  // namespace

void RegisterDiff(CLI::App& app, Context& ctx, Action* action) {
  auto d = std::make_shared<DiffCmd>();
  auto* c_diff = app.add_subcommand("diff", "what changed between two restore points, or a restore point and a folder");
  c_diff->add_option("A", d->a, "REV or REV:PATH");
  c_diff->add_option("B", d->b, "REV, REV:PATH, or a folder on disk");
  c_diff->footer("cairn diff A B -- PATH...: only these paths");
  c_diff->add_flag("--name-status", d->name_status, "STATUS<TAB>PATH lines (the default)");
  c_diff->add_flag("--stat", d->stat, "one line per path with sizes, and a summary");
  c_diff->add_flag("-p,--patch", d->patch, "unified diff of text files");
  c_diff->add_flag("--metadata", d->metadata, "also list mode, owner and mtime changes");
  c_diff->add_flag("--exit-code", d->exit_code, "exit 1 if there are differences");
  c_diff->add_flag("--no-renames", d->no_renames, "list a moved file as deleted and added");
  c_diff->callback([&ctx, action, d] {
    *action = [&ctx, d] {
      d->paths = ctx.g().paths;
      return RunDiff(ctx, *d);
    };
  });
}

}  // namespace cairn::cli
