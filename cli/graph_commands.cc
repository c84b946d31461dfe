// SPDX-License-Identifier: MIT
//
// The git-like commands: tag, branch, show, diff, rev-parse, cat-file,
// ls-tree, hash-object. Destructive ones (deleting a tag or branch, moving a
// tag) go through the approval step.

#include <fcntl.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <optional>

#include "cli/context.h"
#include "cli/output.h"
#include "diff/live_diff.h"
#include "diff/text_diff.h"
#include "diff/tree_diff.h"
#include "objstore/file_chunks.h"
#include "repo/blob_writer.h"

namespace cairn::cli {
namespace {

using nlohmann::json;
using objstore::EntryType;
using objstore::TreeEntry;
using repo::Repository;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string CurrentUser() {
  const char* u = std::getenv("USER");
  return u ? u : "";
}

std::string Describe(const Repository& r, const ObjectId& id) {
  auto s = r.ReadSnapshot(id);
  if (!s.ok()) return id.ShortHex();
  return id.ShortHex() + " (" + FormatTimeNs(s->time_ns) + (s->message.empty() ? "" : ", \"" + s->message + "\"") + ")";
}

// --- tag ---

struct TagCmd {
  std::vector<std::string> args;
  std::string message;
  bool list = false, del = false, force = false, yes = false;
};

int ListTags(Context& ctx, Repository& r, const std::string& pattern) {
  auto tags = r.ListRefs("tags");
  if (!tags.ok()) return ctx.Fail(tags.status());
  json arr = json::array();
  for (const auto& [name, id] : *tags) {
    if (!pattern.empty() && ::fnmatch(pattern.c_str(), name.c_str(), 0) != 0) continue;
    auto info = r.ReadTag(name);
    if (!info.ok()) return ctx.Fail(info.status());
    const auto& t = **info;
    if (ctx.g().json) {
      arr.push_back({{"name", name}, {"snapshot", id.ToHex()}, {"message", t.message},
                     {"time", t.time_ns ? IsoTimeNs(t.time_ns) : ""}, {"user", t.user}});
    } else if (ctx.g().verbose) {
      std::printf("%-20s %s %s\n", name.c_str(), id.ShortHex().c_str(), t.message.c_str());
    } else {
      std::printf("%s\n", name.c_str());
    }
  }
  if (ctx.g().json) std::cout << Dump(arr) << "\n";
  return kExitOk;
}

int RunTag(Context& ctx, const TagCmd& o) {
  CAIRN_OPEN_OR_FAIL(ctx, r);
  if (o.list || o.args.empty()) {
    if (o.del || o.force || !o.message.empty() || o.args.size() > 1) {
      return ctx.Fail(Status::InvalidArgument("tag -l takes one optional PATTERN"));
    }
    return ListTags(ctx, r, o.args.empty() ? "" : o.args[0]);
  }
  const std::string& name = o.args[0];
  if (!repo::ValidRefName(name)) {
    return ctx.Fail(Status::InvalidArgument("'" + name + "' is not a valid tag name (letters, digits, '.', '_', '-')"));
  }
  auto cur = r.ReadRef("tags/" + name);
  if (!cur.ok()) return ctx.Fail(cur.status());
  TerminalApprover approver(o.yes);
  if (o.del) {
    if (o.args.size() > 1) return ctx.Fail(Status::InvalidArgument("tag -d takes only NAME"));
    if (!*cur) return ctx.Fail(Status::NotFound("no tag '" + name + "'"));
    repo::Operation op{"delete tag '" + name + "'", "  the tag points to snapshot " + Describe(r, **cur) +
                                                      "; the snapshot itself is kept", repo::Risk::kMedium};
    Status st = repo::RequireApproval(&approver, op);
    if (!st.ok()) return ctx.Fail(st, kExitNotApproved);
    st = r.DeleteRef("tags/" + name, **cur);
    if (!st.ok()) return ctx.Fail(st);
    if (ctx.g().json) {
      std::cout << Dump(json{{"deleted", name}, {"snapshot", cur->value().ToHex()}}) << "\n";
    } else if (!ctx.g().quiet) {
      std::cout << "deleted tag " << name << " (was " << cur->value().ShortHex() << ")\n";
    }
    return kExitOk;
  }
  if (o.args.size() > 2) return ctx.Fail(Status::InvalidArgument("tag takes NAME and at most one REV"));
  auto target = r.ResolveRevision(o.args.size() > 1 ? o.args[1] : "latest");
  if (!target.ok()) return ctx.Fail(target.status());
  if (*cur) {
    if (!o.force) {
      return ctx.Fail(Status::AlreadyExists("tag '" + name + "' already exists (points to " + cur->value().ShortHex() +
                                            "); tags are immutable, use --force to move it"));
    }
    if (**cur != *target) {
      repo::Operation op{"move tag '" + name + "'", "  from snapshot " + Describe(r, **cur) + "\n  to   snapshot " +
                                                       Describe(r, *target), repo::Risk::kMedium};
      Status st = repo::RequireApproval(&approver, op);
      if (!st.ok()) return ctx.Fail(st, kExitNotApproved);
    }
  }
  json note{{"message", o.message}, {"time_ns", NowNs()}, {"user", CurrentUser()}};
  Status st = r.UpdateRef("tags/" + name, *cur, *target, Dump(note));
  if (!st.ok()) return ctx.Fail(st);
  if (ctx.g().json) {
    std::cout << Dump(json{{"tag", name}, {"snapshot", target->ToHex()}, {"message", o.message},
                           {"moved_from", *cur ? cur->value().ToHex() : ""}}) << "\n";
  } else if (!ctx.g().quiet) {
    std::cout << (*cur ? "moved" : "created") << " tag " << name << " -> " << target->ShortHex() << "\n";
  }
  return kExitOk;
}

// --- branch ---

struct BranchCmd {
  std::vector<std::string> args;
  bool del = false, yes = false;
};

int RunBranch(Context& ctx, const BranchCmd& o) {
  CAIRN_OPEN_OR_FAIL(ctx, r);
  if (o.args.empty() && !o.del) {
    auto branches = r.ListRefs("branches");
    if (!branches.ok()) return ctx.Fail(branches.status());
    json arr = json::array();
    for (const auto& [name, id] : *branches) {
      auto s = r.ReadSnapshot(id);
      bool def = name == repo::kDefaultBranch;
      if (ctx.g().json) {
        arr.push_back({{"name", name}, {"head", id.ToHex()}, {"default", def},
                       {"time", s.ok() ? IsoTimeNs(s->time_ns) : ""}, {"message", s.ok() ? s->message : ""}});
      } else {
        std::printf("%s %-20s %s %s %s\n", def ? "*" : " ", name.c_str(), id.ShortHex().c_str(),
                    s.ok() ? FormatTimeNs(s->time_ns).c_str() : "?", s.ok() ? s->message.c_str() : "");
      }
    }
    if (ctx.g().json) std::cout << Dump(arr) << "\n";
    return kExitOk;
  }
  if (o.args.empty()) return ctx.Fail(Status::InvalidArgument("branch -d needs a NAME"));
  const std::string& name = o.args[0];
  if (!repo::ValidRefName(name)) {
    return ctx.Fail(Status::InvalidArgument("'" + name + "' is not a valid branch name (letters, digits, '.', '_', '-')"));
  }
  auto cur = r.ReadRef("branches/" + name);
  if (!cur.ok()) return ctx.Fail(cur.status());
  if (o.del) {
    if (o.args.size() > 1) return ctx.Fail(Status::InvalidArgument("branch -d takes only NAME"));
    if (!*cur) return ctx.Fail(Status::NotFound("no branch '" + name + "'"));
    TerminalApprover approver(o.yes);
    repo::Operation op{"delete branch '" + name + "'",
                       "  its head is snapshot " + Describe(r, **cur) +
                           "; snapshots reachable only from it stay until a prune removes them",
                       name == repo::kDefaultBranch ? repo::Risk::kHigh : repo::Risk::kMedium};
    Status st = repo::RequireApproval(&approver, op);
    if (!st.ok()) return ctx.Fail(st, kExitNotApproved);
    st = r.DeleteRef("branches/" + name, **cur);
    if (!st.ok()) return ctx.Fail(st);
    if (ctx.g().json) {
      std::cout << Dump(json{{"deleted", name}, {"head", cur->value().ToHex()}}) << "\n";
    } else if (!ctx.g().quiet) {
      std::cout << "deleted branch " << name << " (was " << cur->value().ShortHex() << ")\n";
    }
    return kExitOk;
  }
  if (o.args.size() > 2) return ctx.Fail(Status::InvalidArgument("branch takes NAME and at most one REV"));
  if (*cur) {
    return ctx.Fail(Status::AlreadyExists("branch '" + name + "' already exists (head " + cur->value().ShortHex() + ")"));
  }
  auto target = r.ResolveRevision(o.args.size() > 1 ? o.args[1] : "latest");
  if (!target.ok()) return ctx.Fail(target.status());
  Status st = r.UpdateRef("branches/" + name, std::nullopt, *target);
  if (!st.ok()) return ctx.Fail(st);
  if (ctx.g().json) {
    std::cout << Dump(json{{"branch", name}, {"head", target->ToHex()}}) << "\n";
  } else if (!ctx.g().quiet) {
    std::cout << "created branch " << name << " at " << target->ShortHex() << "\n";
  }
  return kExitOk;
}

// --- diff and show ---

class RepoTreeReader : public diff::TreeReader {
 public:
  explicit RepoTreeReader(const Repository& r) : r_(r) {}
  Result<objstore::Tree> ReadTree(const ObjectId& id) const override { return r_.ReadTree(id); }

 private:
  const Repository& r_;
};

struct DiffCmd {
  std::string a, b;
  std::vector<std::string> paths;
  bool name_status = false, stat = false, patch = false, metadata = false, exit_code = false;
  bool no_renames = false;
};

uint64_t OldSize(const diff::Change& c) { return c.old_entry ? c.old_entry->size : 0; }
uint64_t NewSize(const diff::Change& c) { return c.new_entry ? c.new_entry->size : 0; }

// Content of one side of a change: from the repository, or (live) from disk.
Result<std::string> Content(const Repository& r, const TreeEntry& e, const std::string& live_path) {
  if (e.type == EntryType::kSymlink) return e.link_target;
  if (e.type != EntryType::kFile && e.type != EntryType::kHardlink) return std::string();
  if (!live_path.empty()) {
    int fd = ::open(live_path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return Status::FromErrno(errno, "cannot open '" + live_path + "'");
    std::string out;
    char buf[1 << 16];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
    ::close(fd);
    return out;
  }
  std::string out;
  for (const auto& c : e.chunks) {
    CAIRN_ASSIGN_OR_RETURN(std::string d, r.ReadBlob(c));
    out += d;
  }
  return out;
}

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
    CAIRN_ASSIGN_OR_RETURN(a, Content(r, *c.old_entry, ""));
  }
  if (c.new_entry) {
    CAIRN_ASSIGN_OR_RETURN(b, Content(r, *c.new_entry, live_root.empty() ? "" : live_root + "/" + c.path));
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

// --- plumbing ---

int RunRevParse(Context& ctx, const std::vector<std::string>& revs) {
  CAIRN_OPEN_OR_FAIL(ctx, r);
  json arr = json::array();
  for (const auto& rev : revs) {
    auto id = r.ResolveRevision(rev);
    if (!id.ok()) return ctx.Fail(id.status());
    if (ctx.g().json) {
      arr.push_back(id->ToHex());
    } else {
      std::cout << id->ToHex() << "\n";
    }
  }
  if (ctx.g().json) std::cout << Dump(arr) << "\n";
  return kExitOk;
}

struct CatFileCmd {
  std::string object;
  bool type = false, size = false, pretty = false;
};

struct Object {
  std::string type;  // snapshot, tree, chunk, file, symlink, fifo, ...
  uint64_t size = 0;
  std::optional<ObjectId> id;
  std::optional<TreeEntry> entry;  // for REV:PATH
};

Result<Object> FindObject(const Repository& r, const std::string& spec) {
  Object o;
  if (spec.find(':') != std::string::npos) {
    CAIRN_ASSIGN_OR_RETURN(auto t, r.ResolvePath(spec));
    if (t.entry.type == EntryType::kDir) {
      o.type = "tree";
      o.id = t.entry.subtree;
      CAIRN_ASSIGN_OR_RETURN(auto loc, r.index()->Lookup(*o.id));
      o.size = loc ? loc->entry.raw_length : 0;
    } else {
      o.type = (t.entry.type == EntryType::kHardlink) ? "file" : objstore::EntryTypeName(t.entry.type);
      o.size = t.entry.type == EntryType::kSymlink ? t.entry.link_target.size() : t.entry.size;
      o.entry = t.entry;
    }
    return o;
  }
  std::vector<ObjectId> candidates;
  if (IsHexPrefix(spec) && spec.size() >= 4) {
    CAIRN_ASSIGN_OR_RETURN(auto snaps, r.index()->SnapshotsWithPrefix(spec));
    CAIRN_ASSIGN_OR_RETURN(auto blobs, r.index()->BlobsWithPrefix(spec, 16));
    candidates = snaps;
    candidates.insert(candidates.end(), blobs.begin(), blobs.end());
    if (candidates.size() > 1) {
      std::string msg = "object id prefix '" + spec + "' is ambiguous; candidates:";
      for (const auto& c : candidates) msg += " " + c.ShortHex();
      return Status::Ambiguous(msg);
    }
  }
  if (candidates.empty()) {
    CAIRN_ASSIGN_OR_RETURN(ObjectId sid, r.ResolveRevision(spec));
    candidates.push_back(sid);
  }
  o.id = candidates[0];
  auto snap = r.ReadSnapshot(*o.id);
  if (snap.ok()) {
    o.type = "snapshot";
    CAIRN_ASSIGN_OR_RETURN(o.size, r.backend()->Stat(objstore::SnapshotName(*o.id)));
    return o;
  }
  if (!snap.status().IsNotFound()) return snap.status();
  CAIRN_ASSIGN_OR_RETURN(auto loc, r.index()->Lookup(*o.id));
  if (!loc) return Status::NotFound("no object " + spec);
  o.type = loc->entry.type == objstore::BlobType::kTree ? "tree" : "chunk";
  o.size = loc->entry.raw_length;
  return o;
}

std::string TreeLine(const Repository& r, const TreeEntry& e, const std::string& path, bool long_form) {
  std::string type = objstore::EntryTypeName(e.type);
  ObjectId id;
  if (e.type == EntryType::kDir) id = e.subtree;
  else if (e.type == EntryType::kFile || e.type == EntryType::kHardlink) id = objstore::FileContentId(e.chunks);
  else if (e.type == EntryType::kSymlink) id = r.hasher().Id(e.link_target);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04o %-8s ", e.mode, type.c_str());
  std::string out = buf + id.ToHex();
  if (long_form) {
    std::snprintf(buf, sizeof(buf), " %12llu", static_cast<unsigned long long>(e.size));
    out += buf;
  }
  return out + "\t" + path;
}

int RunCatFile(Context& ctx, const CatFileCmd& o) {
  CAIRN_OPEN_OR_FAIL(ctx, r);
  if (o.type + o.size + o.pretty != 1) return ctx.Fail(Status::InvalidArgument("cat-file needs exactly one of -t, -s, -p"));
  auto obj = FindObject(r, o.object);
  if (!obj.ok()) return ctx.Fail(obj.status());
  if (o.type) {
    std::cout << (ctx.g().json ? Dump(json{{"type", obj->type}}) : obj->type) << "\n";
    return kExitOk;
  }
  if (o.size) {
    std::cout << (ctx.g().json ? Dump(json{{"size", obj->size}}) : std::to_string(obj->size)) << "\n";
    return kExitOk;
  }
  if (obj->type == "snapshot") {
    auto s = r.ReadSnapshot(*obj->id);
    if (!s.ok()) return ctx.Fail(s.status());
    std::cout << SnapshotJson(*obj->id, *s).dump(2, ' ', false, json::error_handler_t::replace) << "\n";
  } else if (obj->type == "tree") {
    auto t = r.ReadTree(*obj->id);
    if (!t.ok()) return ctx.Fail(t.status());
    if (ctx.g().json) {
      json arr = json::array();
      for (const auto& e : t->entries) arr.push_back(EntryJson(e.name, e));
      std::cout << Dump(arr) << "\n";
    } else {
      for (const auto& e : t->entries) std::cout << TreeLine(r, e, e.name, true) << "\n";
    }
  } else if (obj->type == "chunk") {
    auto d = r.ReadBlob(*obj->id);
    if (!d.ok()) return ctx.Fail(d.status());
    std::cout.write(d->data(), static_cast<std::streamsize>(d->size()));
  } else if (obj->entry) {
    auto d = Content(r, *obj->entry, "");
    if (!d.ok()) return ctx.Fail(d.status());
    std::cout.write(d->data(), static_cast<std::streamsize>(d->size()));
  }
  std::cout.flush();
  return kExitOk;
}

struct LsTreeCmd {
  std::string spec;
  bool recursive = false, long_form = false;
};

int RunLsTree(Context& ctx, const LsTreeCmd& o) {
  CAIRN_OPEN_OR_FAIL(ctx, r);
  auto t = r.ResolvePath(o.spec);
  if (!t.ok()) return ctx.Fail(t.status());
  json arr = json::array();
  auto emit = [&](const TreeEntry& e, const std::string& path) {
    if (ctx.g().json) {
      json j = EntryJson(path, e);
      j["id"] = TreeLine(r, e, "", false).substr(14, 64);
      arr.push_back(std::move(j));
    } else {
      std::cout << TreeLine(r, e, path, o.long_form) << "\n";
    }
  };
  if (t->entry.type != EntryType::kDir) {
    emit(t->entry, t->path);
  } else {
    std::function<Status(const ObjectId&, const std::string&)> walk = [&](const ObjectId& id,
                                                                         const std::string& prefix) -> Status {
      CAIRN_ASSIGN_OR_RETURN(objstore::Tree tree, r.ReadTree(id));
      for (const auto& e : tree.entries) {
        std::string p = prefix.empty() ? e.name : prefix + "/" + e.name;
        if (o.recursive && e.type == EntryType::kDir) {
          CAIRN_RETURN_IF_ERROR(walk(e.subtree, p));
        } else {
          emit(e, p);
        }
      }
      return Status::OK();
    };
    Status st = walk(t->entry.subtree, t->path);
    if (!st.ok()) return ctx.Fail(st);
  }
  if (ctx.g().json) std::cout << Dump(arr) << "\n";
  return kExitOk;
}

struct HashObjectCmd {
  std::vector<std::string> files;
  bool write = false;
};

int RunHashObject(Context& ctx, const HashObjectCmd& o) {
  CAIRN_OPEN_OR_FAIL(ctx, r);
  std::optional<repo::BlobWriter> writer;
  if (o.write) writer.emplace(&r, 0);
  json arr = json::array();
  std::string buf;
  for (const auto& f : o.files) {
    int fd = ::open(f.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ctx.Fail(Status::FromErrno(errno, "cannot open '" + f + "'"));
    struct stat st;
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      return ctx.Fail(Status::InvalidArgument("'" + f + "' is not a regular file"));
    }
    std::vector<ObjectId> chunks;
    uint64_t size = 0;
    bool read_error;
    Status s = objstore::ChunkFd(fd, r.config().chunker, r.hasher(), &buf, [&](std::string_view chunk, const ObjectId& id) -> Status {
      chunks.push_back(id);
      size += chunk.size();
      if (!writer) return Status::OK();
      auto added = writer->Add(objstore::BlobType::kData, id, chunk);
      return added.ok() ? Status::OK() : added.status();
    }, &read_error);
    ::close(fd);
    if (!s.ok()) return ctx.Fail(s.WithContext("'" + f + "'"));
    ObjectId id = objstore::FileContentId(chunks);
    if (ctx.g().json) {
      json cj = json::array();
      for (const auto& c : chunks) cj.push_back(c.ToHex());
      arr.push_back({{"path", f}, {"id", id.ToHex()}, {"size", size}, {"chunks", cj}, {"written", o.write}});
    } else {
      std::cout << id.ToHex() << "  " << f << "\n";
    }
  }
  if (writer) {
    Status s = writer->Flush();
    if (!s.ok()) return ctx.Fail(s);
  }
  if (ctx.g().json) std::cout << Dump(arr) << "\n";
  return kExitOk;
}

}  // namespace

void RegisterGraphCommands(CLI::App& app, Context& ctx, Action* action) {
  auto tag = std::make_shared<TagCmd>();
  auto* c_tag = app.add_subcommand("tag", "create, list, move or delete tags");
  c_tag->add_option("args", tag->args, "NAME [REV], or a PATTERN with -l");
  c_tag->add_option("-m,--message", tag->message, "the tag's message");
  c_tag->add_flag("-l,--list", tag->list, "list tags (matching PATTERN)");
  c_tag->add_flag("-d,--delete", tag->del, "delete the tag (asks first)");
  c_tag->add_flag("-f,--force", tag->force, "move an existing tag (asks first)");
  c_tag->add_flag("-y,--yes", tag->yes, "approve without asking");
  c_tag->callback([&ctx, action, tag] { *action = [&ctx, tag] { return RunTag(ctx, *tag); }; });

  auto branch = std::make_shared<BranchCmd>();
  auto* c_branch = app.add_subcommand("branch", "list, create or delete branches");
  c_branch->add_option("args", branch->args, "NAME [REV]");
  c_branch->add_flag("-d,--delete", branch->del, "delete the branch (asks first)");
  c_branch->add_flag("-y,--yes", branch->yes, "approve without asking");
  c_branch->callback([&ctx, action, branch] { *action = [&ctx, branch] { return RunBranch(ctx, *branch); }; });

  auto show = std::make_shared<std::string>();
  auto* c_show = app.add_subcommand("show", "a snapshot's metadata and what changed against its first parent");
  c_show->add_option("rev", *show, "REV (default: latest)");
  c_show->callback([&ctx, action, show] {
    *action = [&ctx, show] { return RunShow(ctx, show->empty() ? "latest" : *show); };
  });

  auto d = std::make_shared<DiffCmd>();
  auto* c_diff = app.add_subcommand("diff", "what changed between two restore points, or a restore point and a folder");
  c_diff->add_option("a", d->a, "REV or REV:PATH")->required();
  c_diff->add_option("b", d->b, "REV, REV:PATH, or a folder on disk")->required();
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

  auto revs = std::make_shared<std::vector<std::string>>();
  auto* c_rev = app.add_subcommand("rev-parse", "print the full ids of revisions");
  c_rev->add_option("revs", *revs, "REV...")->required();
  c_rev->callback([&ctx, action, revs] { *action = [&ctx, revs] { return RunRevParse(ctx, *revs); }; });

  auto cf = std::make_shared<CatFileCmd>();
  auto* c_cf = app.add_subcommand("cat-file", "type, size or content of any object");
  c_cf->add_option("object", cf->object, "id, id prefix, REV or REV:PATH")->required();
  c_cf->add_flag("-t", cf->type, "print the type (snapshot, tree, chunk, file, symlink, ...)");
  c_cf->add_flag("-s", cf->size, "print the size in bytes");
  c_cf->add_flag("-p", cf->pretty, "print the content, pretty-printed");
  c_cf->callback([&ctx, action, cf] { *action = [&ctx, cf] { return RunCatFile(ctx, *cf); }; });

  auto lt = std::make_shared<LsTreeCmd>();
  auto* c_lt = app.add_subcommand("ls-tree", "list a tree: mode, type, id and name");
  c_lt->add_option("rev", lt->spec, "REV or REV:PATH")->required();
  c_lt->add_flag("-r", lt->recursive, "recurse into folders");
  c_lt->add_flag("-l,--long", lt->long_form, "add sizes");
  c_lt->callback([&ctx, action, lt] { *action = [&ctx, lt] { return RunLsTree(ctx, *lt); }; });

  auto ho = std::make_shared<HashObjectCmd>();
  auto* c_ho = app.add_subcommand("hash-object", "the content id cairn gives a file");
  c_ho->add_option("files", ho->files, "FILE...")->required();
  c_ho->add_flag("-w", ho->write, "also store the file's chunks");
  c_ho->callback([&ctx, action, ho] { *action = [&ctx, ho] { return RunHashObject(ctx, *ho); }; });
}

}  // namespace cairn::cli
