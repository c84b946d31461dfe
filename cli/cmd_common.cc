// SPDX-License-Identifier: MIT

#include "cli/cmd_common.h"

#include <cstdio>
#include <cstdlib>
#include <map>

#include "cli/output.h"
#include "objstore/core/system.h"
#include "repo/file_reader.h"
#include "repo/retention.h"
#include "repo/timespec.h"

namespace cairn::cli {

using objstore::EntryType;
using objstore::TreeEntry;
using repo::Repository;

double Seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

Result<int64_t> Now() {
  int64_t real = NowNs();
  const char* fake = std::getenv("CAIRN_NOW");
  if (fake == nullptr || *fake == '\0') return real;
  auto t = repo::ParseTime(fake, real);
  if (!t.ok()) return t.status().WithContext("CAIRN_NOW");
  return *t;
}

Result<int64_t> DurationNs(const std::string& text, const char* option, int64_t now, bool zero_ok) {
  if (zero_ok && (text == "0" || text == "0h" || text == "0d")) return int64_t{0};
  auto d = repo::ParseDuration(text);
  if (!d.ok()) return d.status().WithContext(option);
  return now - repo::SubtractDuration(now, *d);
}

Result<RevisionSelection> SelectRevisions(const Repository& r, const std::vector<std::string>& revs, bool all) {
  RevisionSelection sel;
  auto add_ref = [&](const char* kind, const std::string& name, const ObjectId& id) -> Status {
    for (const auto& x : sel.refs) {
      if (x.kind == kind && x.name == name) return Status::OK();  // named twice
    }
    CAIRN_ASSIGN_OR_RETURN(auto v, r.ReadRefValue(std::string(kind) + "/" + name));
    sel.refs.push_back({kind, name, id, v ? v->annotation : std::string()});
    return Status::OK();
  };
  if (all) {
    CAIRN_ASSIGN_OR_RETURN(auto snaps, r.ListSnapshots());
    for (const auto& [id, s] : snaps) sel.snapshots.push_back(id);
    for (const char* kind : {"branches", "tags"}) {
      CAIRN_ASSIGN_OR_RETURN(auto list, r.ListRefs(kind));
      for (const auto& [name, id] : list) {
        CAIRN_RETURN_IF_ERROR(add_ref(kind, name, id));
        sel.snapshots.push_back(id);
      }
    }
  }
  for (const auto& rev : revs) {
    CAIRN_ASSIGN_OR_RETURN(ObjectId id, r.ResolveRevision(rev));
    sel.snapshots.push_back(id);
    if (!repo::ValidRefName(rev)) continue;
    for (const char* kind : {"branches", "tags"}) {
      CAIRN_ASSIGN_OR_RETURN(auto at, r.ReadRef(std::string(kind) + "/" + rev));
      if (at && *at == id) CAIRN_RETURN_IF_ERROR(add_ref(kind, rev, id));
    }
  }
  return sel;
}

uint64_t OldSize(const diff::Change& c) { return c.old_entry ? c.old_entry->size : 0; }
uint64_t NewSize(const diff::Change& c) { return c.new_entry ? c.new_entry->size : 0; }

Result<std::string> Content(const Repository& r, const TreeEntry& e, const std::string& path,
                            const std::string& live_path) {
  if (e.type == EntryType::kSymlink) return e.link_target;
  if (e.type != EntryType::kFile && e.type != EntryType::kHardlink) return std::string();
  std::string out;
  auto append = [&](std::string_view piece) {
    out.append(piece);
    return Status::OK();
  };
  Status st = live_path.empty() ? repo::ReadEntryContent(r, e, path, append) : repo::ReadLiveFile(live_path, append);
  if (!st.ok()) return st;
  return out;
}

void PrintStat(const std::vector<diff::Change>& changes) {
  size_t width = 0;
  for (const auto& c : changes) {
    std::string p = c.kind == diff::ChangeKind::kRenamed ? c.old_path + " => " + c.path : c.path;
    width = std::max(width, p.size());
  }
  width = std::min<size_t>(width, 60);
  uint64_t added = 0, removed = 0;
  std::map<char, size_t> counts;
  for (const auto& c : changes) {
    std::string p = c.kind == diff::ChangeKind::kRenamed ? c.old_path + " => " + c.path : c.path;
    std::printf(" %-*s | %c %s -> %s\n", static_cast<int>(width), p.c_str(), diff::ChangeLetter(c.kind),
                HumanBytes(OldSize(c)).c_str(), HumanBytes(NewSize(c)).c_str());
    counts[diff::ChangeLetter(c.kind)]++;
    if (NewSize(c) > OldSize(c)) added += NewSize(c) - OldSize(c);
    else removed += OldSize(c) - NewSize(c);
  }
  std::printf(" %zu file%s changed (%zu added, %zu deleted, %zu modified, %zu renamed, %zu type changed), +%s, -%s\n",
              changes.size(), changes.size() == 1 ? "" : "s", counts['A'], counts['D'], counts['M'], counts['R'],
              counts['T'], HumanBytes(added).c_str(), HumanBytes(removed).c_str());
}

}  // namespace cairn::cli
