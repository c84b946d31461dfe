// SPDX-License-Identifier: MIT

#include "repo/history.h"

#include <map>
#include <queue>

namespace cairn::repo {
namespace {

// Every snapshot reachable from `todo` through parents, each once, in no
// particular order. A snapshot that cannot be read is an error when
// `strict`, and otherwise left out (the walk does not go past it).
Result<SnapshotList> Ancestors(const Repository& r, std::vector<ObjectId> todo, bool strict) {
  SnapshotList out;
  std::set<ObjectId> seen;
  std::map<ObjectId, ObjectId> named_by;  // parent -> a snapshot that names it
  while (!todo.empty()) {
    ObjectId id = todo.back();
    todo.pop_back();
    if (!seen.insert(id).second) continue;
    auto child = named_by.find(id);
    auto s = child != named_by.end() ? r.ReadParentSnapshot(child->second, id) : r.ReadSnapshot(id);
    if (!s.ok()) {
      if (strict) return s.status();
      continue;
    }
    for (const auto& p : s->parents) {
      named_by.emplace(p, id);
      todo.push_back(p);
    }
    out.emplace_back(id, std::move(s).value());
  }
  return out;
}

}  // namespace

Result<bool> TouchesPath(const Repository& r, const ObjectId& id, const Snapshot& s, const std::string& path) {
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

Result<SnapshotList> History(const Repository& r, const HistoryOptions& o) {
  std::vector<ObjectId> todo = o.heads;
  if (o.all) {
    CAIRN_ASSIGN_OR_RETURN(auto refs, RefsBySnapshot(r));
    for (const auto& [id, names] : refs) todo.push_back(id);
    CAIRN_ASSIGN_OR_RETURN(auto snaps, r.ListSnapshots());
    for (const auto& [id, s] : snaps) todo.push_back(id);
  }
  CAIRN_ASSIGN_OR_RETURN(SnapshotList out, Ancestors(r, std::move(todo), /*strict=*/true));
  // Children before parents (so --graph lines never cross back), and
  // otherwise newest first, as git log does with --graph.
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
  SnapshotList ordered;
  while (!ready.empty()) {
    size_t i = ready.top();
    ready.pop();
    for (const auto& p : out[i].second.parents) {
      auto it = at.find(p);
      if (it != at.end() && --children[p] == 0) ready.push(it->second);
    }
    ordered.push_back(std::move(out[i]));
  }
  SnapshotList shown;
  for (auto& [id, s] : ordered) {
    if (o.since && s.time_ns < *o.since) continue;
    if (o.until && s.time_ns > *o.until) continue;
    bool keep = o.paths.empty();
    for (const auto& p : o.paths) {
      CAIRN_ASSIGN_OR_RETURN(bool t, TouchesPath(r, id, s, p));
      keep = keep || t;
    }
    if (!keep) continue;
    shown.emplace_back(id, std::move(s));
    if (o.max_count >= 0 && shown.size() >= static_cast<size_t>(o.max_count)) break;
  }
  return shown;
}

namespace {

// The snapshots `refs` (RefsBySnapshot) reach through parents.
Result<std::set<ObjectId>> ReachableFrom(const Repository& r, const std::map<ObjectId, std::vector<RefName>>& refs) {
  std::vector<ObjectId> todo;
  for (const auto& [id, names] : refs) todo.push_back(id);
  // A damaged or missing snapshot only ends its line here (check reports it).
  CAIRN_ASSIGN_OR_RETURN(SnapshotList found, Ancestors(r, std::move(todo), /*strict=*/false));
  std::set<ObjectId> out;
  for (const auto& [id, s] : found) out.insert(id);
  return out;
}

}  // namespace

Result<std::set<ObjectId>> ReachableSnapshots(const Repository& r) {
  CAIRN_ASSIGN_OR_RETURN(auto refs, RefsBySnapshot(r));
  return ReachableFrom(r, refs);
}

Result<std::vector<SnapshotListing>> ListAllSnapshots(const Repository& r, const ListingFilter& f) {
  CAIRN_ASSIGN_OR_RETURN(auto refs, RefsBySnapshot(r));  // read once: names and reachability
  CAIRN_ASSIGN_OR_RETURN(std::set<ObjectId> reachable, ReachableFrom(r, refs));
  CAIRN_ASSIGN_OR_RETURN(auto snaps, r.ListSnapshots());
  std::vector<SnapshotListing> out;
  for (auto& [id, s] : snaps) {
    if (!f.branch.empty() && s.branch != f.branch) continue;
    if (!f.host.empty() && s.host != f.host) continue;
    SnapshotListing l;
    l.id = id;
    l.snapshot = std::move(s);
    if (auto it = refs.find(id); it != refs.end()) l.refs = it->second;
    l.reachable = reachable.count(id) != 0;
    out.push_back(std::move(l));
  }
  return out;
}

Result<bool> IsAncestor(const Repository& r, const ObjectId& ancestor, const std::vector<ObjectId>& from) {
  std::set<ObjectId> seen;
  std::vector<ObjectId> todo = from;
  while (!todo.empty()) {
    ObjectId cur = todo.back();
    todo.pop_back();
    if (cur == ancestor) return true;
    if (!seen.insert(cur).second) continue;
    CAIRN_ASSIGN_OR_RETURN(Snapshot s, r.ReadSnapshot(cur));
    for (const auto& p : s.parents) todo.push_back(p);
  }
  return false;
}

}  // namespace cairn::repo
