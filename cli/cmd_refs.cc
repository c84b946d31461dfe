// SPDX-License-Identifier: MIT
//
// tag and branch: creating, listing, moving and deleting refs. Deleting a
// tag or branch and moving a tag go through the approval step.

#include <fnmatch.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>

#include "cli/commands.h"

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

}  // namespace

void RegisterTag(CLI::App& app, Context& ctx, Action* action) {
  auto tag = std::make_shared<TagCmd>();
  auto* c_tag = app.add_subcommand("tag", "create, list, move or delete tags");
  c_tag->add_option("args", tag->args, "NAME [REV], or a PATTERN with -l");
  c_tag->add_option("-m,--message", tag->message, "the tag's message");
  c_tag->add_flag("-l,--list", tag->list, "list tags (matching PATTERN)");
  c_tag->add_flag("-d,--delete", tag->del, "delete the tag (asks first)");
  c_tag->add_flag("-f,--force", tag->force, "move an existing tag (asks first)");
  c_tag->add_flag("-y,--yes", tag->yes, "approve without asking");
  c_tag->callback([&ctx, action, tag] { *action = [&ctx, tag] { return RunTag(ctx, *tag); }; });
}

void RegisterBranch(CLI::App& app, Context& ctx, Action* action) {
  auto branch = std::make_shared<BranchCmd>();
  auto* c_branch = app.add_subcommand("branch", "list, create or delete branches");
  c_branch->add_option("args", branch->args, "NAME [REV]");
  c_branch->add_flag("-d,--delete", branch->del, "delete the branch (asks first)");
  c_branch->add_flag("-y,--yes", branch->yes, "approve without asking");
  c_branch->callback([&ctx, action, branch] { *action = [&ctx, branch] { return RunBranch(ctx, *branch); }; });
}

}  // namespace cairn::cli
