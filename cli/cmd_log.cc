// SPDX-License-Identifier: MIT
//
// log, show and snapshots: the history of a snapshot, one snapshot in
// detail, and every snapshot in the repository.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <optional>

#include "cli/commands.h"
#include "diff/tree_diff.h"
#include "repo/history.h"
#include "repo/refs.h"
#include "repo/timespec.h"

namespace cairn::cli {
namespace {

using nlohmann::json;
using objstore::EntryType;
using objstore::TreeEntry;
using repo::Repository;

// --- log ---

struct LogCmd {
  std::string rev;
  int max_count = -1;
  bool oneline = false, graph = false, all = false;
  std::string since, until;
  std::vector<std::string> paths;
};

// "branch: main", "tag: v1": the decoration of a snapshot.
std::vector<std::string> Decorations(const std::vector<repo::RefName>& refs) {
  std::vector<std::string> out;
  for (const auto& n : refs) out.push_back(n.kind + ": " + n.name);
  return out;
}

// The tags among `refs` with their messages, for --json.
json TagsJson(const std::vector<repo::RefName>& refs, const std::map<std::string, repo::Tag>& tags) {
  json arr = json::array();
  for (const auto& n : refs) {
    if (n.kind != "tag") continue;
    auto it = tags.find(n.name);
    arr.push_back({{"name", n.name}, {"message", it == tags.end() ? "" : it->second.annotation.message}});
  }
  return arr;
}

Result<std::map<std::string, repo::Tag>> TagsByName(const Repository& r) {
  CAIRN_ASSIGN_OR_RETURN(auto list, repo::ListTags(r));
  std::map<std::string, repo::Tag> out;
  for (auto& t : list) out.emplace(t.name, std::move(t));
  return out;
}

// Why `cairn log` without REV (or with the default branch) has nothing to
// show: the default branch has no snapshot yet.
Status NoDefaultBranch(const Repository& r) {
  std::string msg = "branch '" + std::string(repo::kDefaultBranch) + "' has no snapshots yet";
  auto branches = repo::ListBranches(r);
  std::string others;
  if (branches.ok()) {
    for (const auto& b : *branches) others += (others.empty() ? "" : ", ") + b.name;
  }
  if (others.empty()) return Status::NotFound(msg + "; take one with 'cairn backup PATH'");
  return Status::NotFound(msg + " (other branches: " + others + "); use 'cairn log NAME' or 'cairn log --all'");
}

int RunLog(Context& ctx, const LogCmd& o) {
  CAIRN_OPEN_OR_FAIL(ctx, r);
  repo::HistoryOptions h;
  h.all = o.all;
  h.paths = o.paths;
  h.max_count = o.max_count;
  if (!o.all || !o.rev.empty()) {
    std::string rev = o.rev.empty() ? "latest" : o.rev;
    auto head = r.ResolveRevision(rev);
    if (!head.ok()) {
      if (head.status().IsNotFound() &&
          (rev == "latest" || rev == "HEAD" || rev == repo::kDefaultBranch)) {
        auto main = r.ReadRef("branches/" + std::string(repo::kDefaultBranch));
        if (main.ok() && !*main) return ctx.Fail(NoDefaultBranch(r));
      }
      return ctx.Fail(head.status());
    }
    h.heads.push_back(*head);
  }
  int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                    std::chrono::system_clock::now().time_since_epoch()).count();
  if (!o.since.empty()) {
    auto t = repo::ParseTime(o.since, now);
    if (!t.ok()) return ctx.Fail(t.status());
    h.since = *t;
  }
  if (!o.until.empty()) {
    auto t = repo::ParseTime(o.until, now);
    if (!t.ok()) return ctx.Fail(t.status());
    h.until = *t;
  }
  auto shown_r = repo::History(r, h);
  if (!shown_r.ok()) return ctx.Fail(shown_r.status());
  const auto& shown = *shown_r;
  auto refs_r = repo::RefsBySnapshot(r);
  if (!refs_r.ok()) return ctx.Fail(refs_r.status());
  auto& refs = *refs_r;
  auto tags = TagsByName(r);
  if (!tags.ok()) return ctx.Fail(tags.status());
  if (ctx.g().json) {
    json arr = json::array();
    for (const auto& [id, s] : shown) {
      json j = SnapshotJson(id, s);
      auto it = refs.find(id);
      const std::vector<repo::RefName> none;
      const auto& names = it == refs.end() ? none : it->second;
      j["refs"] = Decorations(names);
      j["tags"] = TagsJson(names, *tags);
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
    std::vector<std::pair<std::string, std::string>> tag_lines;  // name, message
    if (auto it = refs.find(id); it != refs.end()) {
      for (const auto& n : Decorations(it->second)) deco += (deco.empty() ? "" : ", ") + n;
      deco = " (" + deco + ")";
      for (const auto& n : it->second) {
        if (n.kind != "tag") continue;
        auto t = tags->find(n.name);
        if (t != tags->end() && !t->second.annotation.message.empty()) {
          tag_lines.emplace_back(n.name, t->second.annotation.message);
        }
      }
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
      for (const auto& [tname, tmsg] : tag_lines) std::cout << bar << "Tag:     " << tname << ": " << tmsg << "\n";
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

int RunShow(Context& ctx, const std::string& rev) {
  CAIRN_OPEN_OR_FAIL(ctx, r);
  auto id = r.ResolveRevision(rev);
  if (!id.ok()) return ctx.Fail(id.status());
  auto s = r.ReadSnapshot(*id);
  if (!s.ok()) return ctx.Fail(s.status());
  auto by_snapshot = repo::RefsBySnapshot(r);
  if (!by_snapshot.ok()) return ctx.Fail(by_snapshot.status());
  std::vector<repo::RefName> names;
  if (auto it = by_snapshot->find(*id); it != by_snapshot->end()) names = it->second;
  std::vector<std::string> refs;  // "branches/main", "tags/v1"
  for (const auto& n : names) refs.push_back((n.kind == "branch" ? "branches/" : "tags/") + n.name);
  auto tags = TagsByName(r);
  if (!tags.ok()) return ctx.Fail(tags.status());
  std::vector<diff::Change> changes;
  if (!s->parents.empty()) {
    auto parent = r.ReadParentSnapshot(*id, s->parents[0]);
    if (!parent.ok()) return ctx.Fail(parent.status());
    RepoTreeReader reader(r);
    Status st = diff::DiffTrees(reader, parent->tree, s->tree, {}, [&](const diff::Change& c) { changes.push_back(c); },
                                nullptr);
    if (!st.ok()) return ctx.Fail(st);
    diff::DetectRenames(&changes);
  }
  if (ctx.g().json) {
    json j = SnapshotJson(*id, *s);
    j["refs"] = refs;
    j["tags"] = TagsJson(names, *tags);
    json arr = json::array();
    for (const auto& c : changes) {
      arr.push_back({{"path", c.path}, {"status", std::string(1, diff::ChangeLetter(c.kind))},
                     {"old_size", OldSize(c)}, {"new_size", NewSize(c)}});
      if (c.kind == diff::ChangeKind::kRenamed) arr.back()["old_path"] = c.old_path;
    }
    j["changes"] = arr;
    std::cout << Dump(j) << "\n";
    return kExitOk;
  }
  std::cout << "snapshot " << id->ToHex();
  if (!refs.empty()) {
    std::cout << " (";
    for (size_t i = 0; i < refs.size(); i++) std::cout << (i ? ", " : "") << refs[i];
    std::cout << ")";
  }
  std::cout << "\n";
  for (const auto& n : names) {
    if (n.kind != "tag") continue;
    auto t = tags->find(n.name);
    std::string msg = t == tags->end() ? "" : t->second.annotation.message;
    std::cout << "Tag:     " << n.name << (msg.empty() ? "" : ": " + msg) << "\n";
  }
  for (const auto& p : s->parents) std::cout << "Parent:  " << p.ToHex() << "\n";
  std::cout << "Tree:    " << s->tree.ToHex() << "\nBranch:  " << s->branch << "\nDate:    "
            << FormatTimeNs(s->time_ns) << " UTC\nSource:  " << s->user << "@" << s->host;
  for (const auto& p : s->paths) std::cout << " " << p;
  std::cout << "\nKind:    " << s->kind << "\nStats:   " << s->stats.files << " files, " << s->stats.dirs
            << " folders, " << HumanBytes(s->stats.bytes) << "; added " << s->stats.new_chunks << " chunks, "
            << s->stats.new_trees << " trees, " << HumanBytes(s->stats.added_bytes) << " stored in "
            << s->stats.duration_ms / 1000.0 << " s\n";
  for (const auto& e : s->errors) std::cout << "Error:   " << e.path << ": " << e.error << "\n";
  if (!s->message.empty()) std::cout << "\n    " << s->message << "\n";
  std::cout << "\n";
  if (s->parents.empty()) {
    std::cout << " (first snapshot: " << s->stats.files << " files)\n";
  } else {
    PrintStat(changes);
  }
  return kExitOk;
}

// --- snapshots ---

struct SnapshotsCmd {
  std::string branch, host;
};

// After a listing: the snapshots left out because their files are damaged
// make the command fail (exit 4), so that a script never takes a short
// list for the whole.
int SnapshotsResult(Context& ctx, Repository& r) {
  const size_t n = r.damaged_snapshots();
  if (n == 0) return kExitOk;
  return ctx.Fail(Status::Corruption(std::to_string(n) + " snapshot file(s) are damaged and not listed (named above); "
                                     "run 'cairn check'"));
}

int RunSnapshots(Context& ctx, const SnapshotsCmd& o) {
  CAIRN_OPEN_OR_FAIL(ctx, r);
  repo::ListingFilter f;
  f.branch = o.branch;
  f.host = o.host;
  auto list = repo::ListAllSnapshots(r, f);
  if (!list.ok()) return ctx.Fail(list.status());
  if (r.damaged_snapshots() > 0 && ctx.g().json) return SnapshotsResult(ctx, r);
  if (ctx.g().json) {
    json arr = json::array();
    for (const auto& l : *list) {
      json j = SnapshotJson(l.id, l.snapshot);
      j["refs"] = Decorations(l.refs);
      j["reachable"] = l.reachable;
      arr.push_back(std::move(j));
    }
    std::cout << Dump(arr) << "\n";
    return kExitOk;
  }
  if (list->empty()) {
    if (!ctx.g().quiet && r.damaged_snapshots() == 0) std::cout << "no snapshots\n";
    return SnapshotsResult(ctx, r);
  }
  std::printf("%-12s  %-19s  %-12s  %-10s  %-12s  %-12s  %10s  %-9s  %s\n", "ID", "TIME (UTC)", "HOST", "USER", "KIND",
              "BRANCH", "SIZE", "REACHABLE", "REFS / PATHS");
  size_t unreachable = 0;
  for (const auto& l : *list) {
    const auto& s = l.snapshot;
    std::string refs;
    for (const auto& n : Decorations(l.refs)) refs += (refs.empty() ? "(" : ", ") + n;
    if (!refs.empty()) refs += ") ";
    std::string paths;
    for (const auto& p : s.paths) paths += (paths.empty() ? "" : " ") + p;
    if (s.paths.empty()) paths = s.source;
    std::printf("%-12s  %-19s  %-12s  %-10s  %-12s  %-12s  %10s  %-9s  %s%s\n", l.id.ShortHex().c_str(),
                FormatTimeNs(s.time_ns).c_str(), s.host.c_str(), s.user.c_str(), s.kind.c_str(), s.branch.c_str(),
                HumanBytes(s.stats.bytes).c_str(), l.reachable ? "yes" : "no", refs.c_str(), paths.c_str());
    if (!l.reachable) unreachable++;
  }
  if (!ctx.g().quiet) {
    std::cout << list->size() << " snapshot" << (list->size() == 1 ? "" : "s");
    if (unreachable) std::cout << ", " << unreachable << " not reachable from any branch or tag";
    std::cout << "\n";
  }
  return SnapshotsResult(ctx, r);
}

}  // namespace

void RegisterLog(CLI::App& app, Context& ctx, Action* action) {
  auto log = std::make_shared<LogCmd>();
  auto* c_log = app.add_subcommand("log", "show the history of a snapshot");
  c_log->add_option("REV", log->rev, "revision (default: latest)");
  c_log->add_option("-n,--max-count", log->max_count, "show at most N snapshots");
  c_log->add_flag("--oneline", log->oneline, "one line per snapshot");
  c_log->add_flag("--graph", log->graph, "draw the parent graph");
  c_log->add_flag("--all", log->all, "the history of every branch and tag, and snapshots no ref reaches");
  c_log->add_option("--since", log->since, "only snapshots at or after this time");
  c_log->add_option("--until", log->until, "only snapshots at or before this time");
  c_log->footer("cairn log [REV] -- PATH...: only snapshots that changed these paths");
  c_log->callback([&ctx, action, log] {
    *action = [&ctx, log] {
      log->paths = ctx.g().paths;
      return RunLog(ctx, *log);
    };
  });
}

void RegisterShow(CLI::App& app, Context& ctx, Action* action) {
  auto show = std::make_shared<std::string>();
  auto* c_show = app.add_subcommand("show", "a snapshot's metadata and what changed against its first parent");
  c_show->add_option("REV", *show, "REV (default: latest)");
  c_show->callback([&ctx, action, show] {
    *action = [&ctx, show] { return RunShow(ctx, show->empty() ? "latest" : *show); };
  });
}

void RegisterSnapshots(CLI::App& app, Context& ctx, Action* action) {
  auto o = std::make_shared<SnapshotsCmd>();
  auto* c = app.add_subcommand("snapshots", "list every snapshot in the repository, reachable or not");
  c->add_option("--branch", o->branch, "only snapshots made on this branch");
  c->add_option("--host", o->host, "only snapshots taken on this host");
  c->callback([&ctx, action, o] { *action = [&ctx, o] { return RunSnapshots(ctx, *o); }; });
}

}  // namespace cairn::cli
