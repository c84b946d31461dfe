// SPDX-License-Identifier: MIT
//
// log and show: the history of a snapshot and one snapshot in detail.

#include <algorithm>
#include <chrono>
#include <iostream>
#include <map>
#include <optional>
#include <queue>
#include <set>

#include "cli/commands.h"
#include "diff/tree_diff.h"
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

int RunShow(Context& ctx, const std::string& rev) {
  CAIRN_OPEN_OR_FAIL(ctx, r);
  auto id = r.ResolveRevision(rev);
  if (!id.ok()) return ctx.Fail(id.status());
  auto s = r.ReadSnapshot(*id);
  if (!s.ok()) return ctx.Fail(s.status());
  std::vector<std::string> refs;
  for (const char* kind : {"branches", "tags"}) {
    auto list = r.ListRefs(kind);
    if (!list.ok()) return ctx.Fail(list.status());
    for (const auto& [name, rid] : *list) {
      if (rid == *id) refs.push_back(std::string(kind) + "/" + name);
    }
  }
  std::vector<diff::Change> changes;
  if (!s->parents.empty()) {
    auto parent = r.ReadSnapshot(s->parents[0]);
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

}  // namespace

void RegisterLog(CLI::App& app, Context& ctx, Action* action) {
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
}

void RegisterShow(CLI::App& app, Context& ctx, Action* action) {
  auto show = std::make_shared<std::string>();
  auto* c_show = app.add_subcommand("show", "a snapshot's metadata and what changed against its first parent");
  c_show->add_option("rev", *show, "REV (default: latest)");
  c_show->callback([&ctx, action, show] {
    *action = [&ctx, show] { return RunShow(ctx, show->empty() ? "latest" : *show); };
  });
}

}  // namespace cairn::cli
