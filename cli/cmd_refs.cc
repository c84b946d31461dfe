// SPDX-License-Identifier: MIT
//
// tag and branch: creating, listing, moving and deleting refs, through
// repo/refs.h. Deleting a tag or branch, moving a tag and resetting a
// branch go through the approval step.

#include <fnmatch.h>

#include <cstdio>
#include <iostream>
#include <optional>

#include "cli/commands.h"
#include "repo/refs.h"

namespace cairn::cli {
namespace {

using nlohmann::json;
using repo::Repository;

// --- tag ---

struct TagCmd {
  std::vector<std::string> args;
  std::string message;
  bool message_given = false;
  bool list = false, del = false, force = false;
  ApprovalFlags approval;
};

int ListTags(Context& ctx, Repository& r, const std::string& pattern) {
  auto tags = repo::ListTags(r);
  if (!tags.ok()) return ctx.Fail(tags.status());
  json arr = json::array();
  for (const auto& t : *tags) {
    if (!pattern.empty() && ::fnmatch(pattern.c_str(), t.name.c_str(), 0) != 0) continue;
    const auto& a = t.annotation;
    if (ctx.g().json) {
      arr.push_back({{"name", t.name}, {"snapshot", t.snapshot.ToHex()}, {"message", a.message},
                     {"time", a.time_ns ? IsoTimeNs(a.time_ns) : ""}, {"user", a.user}});
    } else if (ctx.g().verbose) {
      std::printf("%-20s %s %s\n", t.name.c_str(), t.snapshot.ShortHex().c_str(), a.message.c_str());
    } else {
      std::printf("%s\n", t.name.c_str());
    }
  }
  if (ctx.g().json) std::cout << Dump(arr) << "\n";
  return kExitOk;
}

const char* MessageActionName(repo::TagMessage m) {
  switch (m) {
    case repo::TagMessage::kNew: return "new";
    case repo::TagMessage::kKept: return "kept";
    case repo::TagMessage::kReplaced: return "replaced";
  }
  return "new";
}

int RunTag(Context& ctx, const TagCmd& o) {
  if (o.list || o.args.empty()) {
    if (o.del) return ctx.Fail(Status::InvalidArgument("tag -d needs the tag to delete: cairn tag -d NAME"));
    if (o.force || o.message_given || o.args.size() > 1) {
      return ctx.Fail(Status::InvalidArgument(o.list ? "tag -l takes one optional PATTERN: cairn tag -l [PATTERN]"
                                                     : "tag needs a NAME: cairn tag NAME [REV] [-m MSG]"));
    }
  }
  if (o.del && o.args.size() > 1) return ctx.Fail(Status::InvalidArgument("tag -d takes only NAME: cairn tag -d NAME"));
  if (!o.list && o.args.size() > 2) {
    return ctx.Fail(Status::InvalidArgument("tag takes NAME and at most one REV: cairn tag NAME [REV]"));
  }
  CAIRN_OPEN_OR_FAIL(ctx, r);
  if (o.list || o.args.empty()) {
    ctx.audit().operation = "tag list";
    return ListTags(ctx, r, o.args.empty() ? "" : o.args[0]);
  }
  ctx.audit().operation = o.del ? "tag delete" : o.force ? "tag move" : "tag create";
  const std::string& name = o.args[0];
  if (Status st = repo::CheckRefName(name, "tag"); !st.ok()) return ctx.Fail(st);
  TerminalApprover approver(ctx, r, o.approval);
  if (o.del) {
    auto t = repo::DeleteTag(r, name, &approver);
    if (!t.ok()) return ctx.Fail(t.status());
    if (ctx.g().json) {
      std::cout << Dump(json{{"deleted", name}, {"snapshot", t->snapshot.ToHex()}}) << "\n";
    } else if (!ctx.g().quiet) {
      std::cout << "deleted tag " << name << " (was " << t->snapshot.ShortHex() << ")\n";
    }
    return kExitOk;
  }
  auto target = r.ResolveRevision(o.args.size() > 1 ? o.args[1] : "latest");
  if (!target.ok()) return ctx.Fail(target.status());
  repo::TagOptions opts;
  opts.message = o.message;
  opts.message_given = o.message_given;
  opts.force = o.force;
  auto res = repo::CreateOrMoveTag(r, name, *target, opts, &approver);
  if (!res.ok()) return ctx.Fail(res.status());
  const auto& t = res->tag;
  if (ctx.g().json) {
    json j{{"tag", name}, {"snapshot", t.snapshot.ToHex()}, {"message", t.annotation.message},
           {"moved_from", res->moved_from ? res->moved_from->ToHex() : ""},
           {"message_action", MessageActionName(res->message)}, {"unchanged", res->unchanged}};
    if (res->old_message) j["old_message"] = *res->old_message;
    std::cout << Dump(j) << "\n";
  } else if (!ctx.g().quiet) {
    if (res->unchanged) {
      std::cout << "tag " << name << " already points to " << t.snapshot.ShortHex() << "; nothing changed\n";
    } else if (!res->moved_from) {
      std::cout << "created tag " << name << " -> " << t.snapshot.ShortHex() << "\n";
    } else {
      std::cout << (*res->moved_from == t.snapshot ? "updated" : "moved") << " tag " << name << " -> "
                << t.snapshot.ShortHex() << " (was " << res->moved_from->ShortHex() << ")";
      if (res->message == repo::TagMessage::kReplaced) {
        std::cout << "; message replaced: \"" << t.annotation.message << "\"";
      } else if (!t.annotation.message.empty()) {
        std::cout << "; message kept: \"" << t.annotation.message << "\"";
      } else {
        std::cout << "; it had no message";
      }
      std::cout << "\n";
    }
  }
  return kExitOk;
}

// --- branch ---

struct BranchCmd {
  std::vector<std::string> args;
  bool del = false, force = false;
  ApprovalFlags approval;
};

int RunBranch(Context& ctx, const BranchCmd& o) {
  if (o.del && o.force) return ctx.Fail(Status::InvalidArgument("branch takes either -d or --force, not both"));
  if (o.args.empty() && o.del) {
    return ctx.Fail(Status::InvalidArgument("branch -d needs the branch to delete: cairn branch -d NAME"));
  }
  if (o.args.empty() && o.force) {
    return ctx.Fail(Status::InvalidArgument("branch --force needs a branch and a revision: cairn branch --force NAME REV"));
  }
  if (o.del && o.args.size() > 1) {
    return ctx.Fail(Status::InvalidArgument("branch -d takes only NAME: cairn branch -d NAME"));
  }
  if (o.args.size() > 2) {
    return ctx.Fail(Status::InvalidArgument("branch takes NAME and at most one REV: cairn branch NAME [REV]"));
  }
  CAIRN_OPEN_OR_FAIL(ctx, r);
  if (o.args.empty()) {
    ctx.audit().operation = "branch list";
    auto branches = repo::ListBranches(r);
    if (!branches.ok()) return ctx.Fail(branches.status());
    json arr = json::array();
    for (const auto& b : *branches) {
      auto s = r.ReadSnapshot(b.head);
      if (ctx.g().json) {
        arr.push_back({{"name", b.name}, {"head", b.head.ToHex()}, {"default", b.is_default},
                       {"time", s.ok() ? IsoTimeNs(s->time_ns) : ""}, {"message", s.ok() ? s->message : ""}});
      } else {
        std::printf("%s %-20s %s %s %s\n", b.is_default ? "*" : " ", b.name.c_str(), b.head.ShortHex().c_str(),
                    s.ok() ? FormatTimeNs(s->time_ns).c_str() : "?", s.ok() ? s->message.c_str() : "");
      }
    }
    if (ctx.g().json) std::cout << Dump(arr) << "\n";
    return kExitOk;
  }
  const std::string& name = o.args[0];
  if (Status st = repo::CheckRefName(name, "branch"); !st.ok()) return ctx.Fail(st);
  ctx.audit().operation = o.del ? "branch delete" : o.force ? "branch reset" : "branch create";
  TerminalApprover approver(ctx, r, o.approval);
  if (o.del) {
    auto b = repo::DeleteBranch(r, name, &approver);
    if (!b.ok()) return ctx.Fail(b.status());
    if (ctx.g().json) {
      std::cout << Dump(json{{"deleted", name}, {"head", b->head.ToHex()}}) << "\n";
    } else if (!ctx.g().quiet) {
      std::cout << "deleted branch " << name << " (was " << b->head.ShortHex() << ")\n";
    }
    return kExitOk;
  }
  auto target = r.ResolveRevision(o.args.size() > 1 ? o.args[1] : "latest");
  if (!target.ok()) return ctx.Fail(target.status());
  auto res = o.force ? repo::ResetBranch(r, name, *target, &approver) : repo::CreateBranch(r, name, *target, &approver);
  if (!res.ok()) return ctx.Fail(res.status());
  if (ctx.g().json) {
    std::cout << Dump(json{{"branch", name}, {"head", res->branch.head.ToHex()}, {"created", res->created},
                           {"moved_from", res->moved_from ? res->moved_from->ToHex() : ""},
                           {"unchanged", res->unchanged}})
              << "\n";
  } else if (!ctx.g().quiet) {
    if (res->created) {
      std::cout << "created branch " << name << " at " << res->branch.head.ShortHex() << "\n";
    } else if (res->unchanged) {
      std::cout << "branch " << name << " already is at " << res->branch.head.ShortHex() << "; nothing changed\n";
    } else {
      std::cout << "reset branch " << name << " to " << res->branch.head.ShortHex() << " (was "
                << res->moved_from->ShortHex() << ")\n";
    }
  }
  return kExitOk;
}

}  // namespace

void RegisterTag(CLI::App& app, Context& ctx, Action* action) {
  auto tag = std::make_shared<TagCmd>();
  auto* c_tag = app.add_subcommand("tag", "create, list, move or delete tags");
  c_tag->add_option("NAME", tag->args, "NAME [REV], or a PATTERN with -l");
  auto* m = c_tag->add_option("-m,--message", tag->message, "the tag's message (a moved tag keeps its message without -m)");
  c_tag->add_flag("-l,--list", tag->list, "list tags (matching PATTERN)");
  c_tag->add_flag("-d,--delete", tag->del, "delete the tag (asks first)");
  c_tag->add_flag("-f,--force", tag->force, "move an existing tag (asks first)");
  AddApprovalFlags(c_tag, &tag->approval);
  c_tag->callback([&ctx, action, tag, m] {
    tag->message_given = m->count() > 0;
    *action = [&ctx, tag] { return RunTag(ctx, *tag); };
  });
}

void RegisterBranch(CLI::App& app, Context& ctx, Action* action) {
  auto branch = std::make_shared<BranchCmd>();
  auto* c_branch = app.add_subcommand("branch", "list, create, reset or delete branches");
  c_branch->add_option("NAME", branch->args, "NAME [REV]");
  c_branch->add_flag("-d,--delete", branch->del, "delete the branch (asks first)");
  c_branch->add_flag("-f,--force", branch->force, "move an existing branch to REV, or create it (asks first)");
  AddApprovalFlags(c_branch, &branch->approval);
  c_branch->callback([&ctx, action, branch] { *action = [&ctx, branch] { return RunBranch(ctx, *branch); }; });
}

}  // namespace cairn::cli
