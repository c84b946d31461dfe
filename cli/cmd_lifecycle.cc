// SPDX-License-Identifier: MIT
//
// forget, delete, trash, undelete, policy and prune: retention and garbage
// collection, through repo/forget.h and repo/prune.h (docs/gc.md).

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>

#include "cli/commands.h"
#include "objstore/core/system.h"
#include "repo/backup.h"
#include "repo/forget.h"
#include "repo/prune.h"
#include "repo/timespec.h"

namespace cairn::cli {
namespace {

using nlohmann::json;
using repo::Repository;

struct RuleFlags {
  int last = 0, hourly = 0, daily = 0, weekly = 0, monthly = 0, yearly = 0, min_count = 0;
  std::string within, older_than;
  std::vector<std::string> keep_tags;
  // The rule options, to tell "no rule flags" (apply the stored policy)
  // from rule flags that add up to nothing (--keep-daily 0).
  std::vector<CLI::Option*> options;
  bool Given() const {
    for (const auto* o : options) {
      if (o->count() > 0) return true;
    }
    return false;
  }
};

void AddRuleFlags(CLI::App* c, RuleFlags* f) {
  f->options = {
      c->add_option("--keep-last", f->last, "keep the N newest snapshots (-1: all)"),
      c->add_option("--keep-hourly", f->hourly, "keep the newest snapshot of each of the N newest hours"),
      c->add_option("--keep-daily", f->daily, "the same per day (local time)"),
      c->add_option("--keep-weekly", f->weekly, "the same per ISO week"),
      c->add_option("--keep-monthly", f->monthly, "the same per month"),
      c->add_option("--keep-yearly", f->yearly, "the same per year"),
      c->add_option("--keep-within", f->within, "keep every snapshot within DURATION (1y6m, 30d, 24h) of the newest"),
      c->add_option("--keep-tag", f->keep_tags, "keep snapshots with a tag matching PATTERN (tagged ones always are)"),
      c->add_option("--older-than", f->older_than, "remove only snapshots older than DURATION (a bare number: days)"),
      c->add_option("--min-count", f->min_count, "always keep the N newest snapshots of each branch"),
  };
}

Result<std::optional<repo::RetentionPolicy>> RulesFrom(const RuleFlags& f) {
  repo::RetentionPolicy p;
  p.last = f.last;
  p.hourly = f.hourly;
  p.daily = f.daily;
  p.weekly = f.weekly;
  p.monthly = f.monthly;
  p.yearly = f.yearly;
  p.min_count = f.min_count;
  p.keep_tags = f.keep_tags;
  if (!f.within.empty()) {
    auto d = repo::ParseDuration(f.within);
    if (!d.ok()) return d.status().WithContext("--keep-within");
    p.within = *d;
  }
  if (!f.older_than.empty()) {
    auto d = repo::ParseDuration(f.older_than);
    if (!d.ok()) return d.status().WithContext("--older-than");
    p.older_than = *d;
  }
  // Only no rule flags at all means "the stored policy": rule flags that
  // are all zero must not fall back to it (forget --keep-daily 0 would
  // otherwise apply whatever policy is stored). ValidatePolicy refuses the
  // empty policy with "the policy keeps nothing".
  if (p.Empty() && !f.Given()) return std::optional<repo::RetentionPolicy>();
  CAIRN_RETURN_IF_ERROR(repo::ValidatePolicy(p));
  return std::optional<repo::RetentionPolicy>(p);
}

json SpaceJson(const repo::SpaceReport& s) { return json{{"blobs", s.blobs}, {"bytes", s.bytes}}; }

json PruneJson(const repo::PruneReport& r) {
  return json{{"dry_run", r.dry_run},
              {"trash_purged", r.trash_purged},
              {"packs", r.packs},
              {"pack_bytes", r.pack_bytes},
              {"unused_blobs", r.unused_blobs},
              {"unused_bytes", r.unused_bytes},
              {"condemned_packs", r.condemned_packs},
              {"condemned_bytes", r.condemned_bytes},
              {"repacked_blobs", r.repacked_blobs},
              {"repacked_bytes", r.repacked_bytes},
              {"unindexed_packs", r.unindexed_packs},
              {"unindexed_bytes", r.unindexed_bytes},
              {"resurrected_blobs", r.resurrected_blobs},
              {"index_files_rewritten", r.index_files_rewritten},
              {"deleted_packs", r.deleted_packs},
              {"freed_bytes", r.freed_bytes},
              {"temporaries_removed", r.temporaries_removed},
              {"temporaries_bytes", r.temporaries_bytes},
              {"plans_finished", r.plans_finished},
              {"deferred", r.deferred}};
}

void PrintPrune(const repo::PruneReport& r) {
  auto n = [](uint64_t v) { return std::to_string(v); };
  if (r.trash_purged) std::cout << "purged " << n(r.trash_purged) << " snapshot(s) from the trash\n";
  std::cout << n(r.packs) << " pack(s), " << HumanBytes(r.pack_bytes) << "; unused: " << n(r.unused_blobs)
            << " blob(s), " << HumanBytes(r.unused_bytes) << "\n";
  std::cout << (r.dry_run ? "would delete " : "condemned ") << n(r.condemned_packs) << " pack(s) ("
            << HumanBytes(r.condemned_bytes) << "), copying " << n(r.repacked_blobs) << " live blob(s) ("
            << HumanBytes(r.repacked_bytes) << "); " << n(r.unindexed_packs) << " unindexed pack(s) ("
            << HumanBytes(r.unindexed_bytes) << ")\n";
  if (!r.dry_run) {
    std::cout << "deleted " << n(r.deleted_packs) << " pack(s), freed " << HumanBytes(r.freed_bytes) << "\n";
  }
  if (r.temporaries_removed) {
    std::cout << (r.dry_run ? "would remove " : "removed ") << n(r.temporaries_removed)
              << " temporary file(s) that killed writers left (" << HumanBytes(r.temporaries_bytes) << ")\n";
  }
  for (const auto& d : r.deferred) std::cout << "pending: " << d << "\n";
}

struct PruneFlags {
  bool dry_run = false;
  std::string max_unused = "5%";
  std::string max_repack;
  std::string grace = "1h";
};

void AddPruneFlags(CLI::App* c, PruneFlags* f, bool with_dry_run) {
  if (with_dry_run) c->add_flag("--dry-run", f->dry_run, "say what would be deleted; change nothing");
  c->add_option("--max-unused", f->max_unused, "leave up to this much unused space in packs (default 5%; 0 repacks all)");
  c->add_option("--max-repack-size", f->max_repack, "copy at most SIZE of live data out of packs (K, M, G)");
  c->add_option("--grace", f->grace, "leave packs younger than DURATION alone (default 1h; 0 for none)");
}

Result<repo::PruneOptions> PruneOptionsFrom(Context& ctx, const PruneFlags& f, int64_t now) {
  repo::PruneOptions o;
  o.dry_run = f.dry_run;
  o.now_ns = now;
  std::string mu = f.max_unused;
  bool pct = !mu.empty() && mu.back() == '%';
  if (pct) mu.pop_back();
  char* end = nullptr;
  double v = std::strtod(mu.c_str(), &end);
  if (mu.empty() || end == nullptr || *end != '\0' || v < 0 || v > 100) {
    return Status::InvalidArgument("--max-unused '" + f.max_unused + "': give a percentage from 0% to 100%");
  }
  o.max_unused = v / 100.0;
  if (!f.max_repack.empty()) {
    auto n = repo::ParseSize(f.max_repack);
    if (!n.ok()) return n.status().WithContext("--max-repack-size");
    o.max_repack_bytes = *n;
  }
  CAIRN_ASSIGN_OR_RETURN(o.grace_ns, DurationNs(f.grace, "--grace", now, /*zero_ok=*/true));
  o.on_message = [&ctx](const std::string& m) {
    if (!ctx.g().quiet && !ctx.g().json) std::fprintf(stderr, "cairn: %s\n", OneLine(m).c_str());
  };
  return o;
}

// --- forget / delete ---

struct ForgetCmd {
  std::vector<std::string> snapshots;
  RuleFlags rules;
  std::vector<std::string> branches;
  bool all_branches = false, dry_run = false, prune = false, force = false;
  ApprovalFlags approval;
  std::string trash_for = "7d";
  PruneFlags prune_flags;
};

void PrintPlan(const repo::ForgetPlan& plan) {
  for (const auto& g : plan.groups) {
    if (!g.branch.empty()) std::printf("branch %s: %s\n", g.branch.c_str(), g.policy.c_str());
    for (const auto& d : g.decisions) {
      std::string why;
      for (const auto& r : d.reasons) why += (why.empty() ? "" : ", ") + r;
      std::printf("  %-6s %s  %s  %s\n", d.keep ? "keep" : "remove", d.id.ShortHex().c_str(),
                  FormatTimeNs(d.time_ns).c_str(), why.c_str());
    }
  }
}

json PlanJson(const repo::ForgetPlan& plan) {
  json groups = json::array();
  for (const auto& g : plan.groups) {
    json snaps = json::array();
    for (const auto& d : g.decisions) {
      snaps.push_back({{"id", d.id.ToHex()}, {"time", IsoTimeNs(d.time_ns)}, {"keep", d.keep}, {"reasons", d.reasons}});
    }
    groups.push_back({{"branch", g.branch}, {"policy", g.policy}, {"snapshots", snaps}});
  }
  json remove = json::array();
  for (const auto& id : plan.remove) remove.push_back(id.ToHex());
  return json{{"groups", groups}, {"remove", remove}, {"freed", SpaceJson(plan.freed)}};
}

int RunForget(Context& ctx, const ForgetCmd& o, bool is_delete) {
  auto now = Now();
  if (!now.ok()) return ctx.Fail(now.status());
  auto rules = RulesFrom(o.rules);
  if (!rules.ok()) return ctx.Fail(rules.status());
  if (is_delete && o.snapshots.empty()) {
    return ctx.Fail(Status::InvalidArgument("delete needs the snapshots to delete: cairn delete SNAPSHOT..."));
  }
  if (!o.snapshots.empty() && (*rules || !o.branches.empty() || o.all_branches)) {
    return ctx.Fail(Status::InvalidArgument("give either snapshots or --keep-*/--branch rules to forget, not both"));
  }
  if (!o.branches.empty() && o.all_branches) {
    return ctx.Fail(Status::InvalidArgument("--branch and --all-branches exclude each other"));
  }
  auto trash_for = DurationNs(o.trash_for, "--trash-for", *now, /*zero_ok=*/true);
  if (!trash_for.ok()) return ctx.Fail(trash_for.status());
  PruneFlags pf = o.prune_flags;
  pf.dry_run = o.dry_run;
  auto popts = PruneOptionsFrom(ctx, pf, *now);
  if (!popts.ok()) return ctx.Fail(popts.status());
  CAIRN_OPEN_OR_FAIL(ctx, r);
  auto make_plan = [&]() -> Result<repo::ForgetPlan> {
    if (!o.snapshots.empty()) return repo::PlanDelete(&r, o.snapshots);
    repo::ForgetRequest req;
    req.policy = *rules;
    req.branches = o.branches;
    req.all_branches = o.all_branches;
    req.now_ns = *now;
    req.force = o.force;
    return repo::PlanForget(&r, req);
  };
  auto plan = make_plan();
  if (!plan.ok()) return ctx.Fail(plan.status());
  json out = PlanJson(*plan);
  out["dry_run"] = o.dry_run;
  if (o.dry_run) {
    ctx.audit().operation = is_delete ? "delete dry-run" : "forget dry-run";
    if (ctx.g().json) {
      std::cout << Dump(out) << "\n";
    } else if (!ctx.g().quiet) {
      PrintPlan(*plan);
      std::printf("would remove %zu snapshot(s), freeing %s after prune\n", plan->remove.size(),
                  HumanBytes(plan->freed.bytes).c_str());
    }
    return kExitOk;
  }
  TerminalApprover approver(ctx, r, o.approval);
  std::string reason = is_delete || !o.snapshots.empty() ? "delete" : "forget";
  if (!is_delete && o.snapshots.empty()) {
    std::string pols;
    for (const auto& g : plan->groups) pols += (pols.empty() ? "" : "; ") + g.policy;
    reason += " (" + pols + ")";
  }
  auto n = repo::ApplyForget(&r, *plan, reason, *now, *trash_for, &approver);
  if (!n.ok()) return ctx.Fail(n.status());
  out["removed"] = *n;
  for (const auto& id : plan->remove) ctx.audit().snapshots.push_back(id.ToHex());
  ctx.audit().bytes = plan->freed.bytes;
  if (!ctx.g().json && !ctx.g().quiet) {
    if (ctx.g().verbose) PrintPlan(*plan);
    std::printf("moved %zu snapshot(s) to the trash (%s to free with prune)\n", *n,
                HumanBytes(plan->freed.bytes).c_str());
  }
  if (o.prune) {
    popts->purge = plan->remove;  // forget --prune frees at once
    auto rep = repo::Prune(&r, *popts);
    if (!rep.ok()) return ctx.Fail(rep.status());
    out["prune"] = PruneJson(*rep);
    if (!ctx.g().json && !ctx.g().quiet) PrintPrune(*rep);
  }
  if (ctx.g().json) std::cout << Dump(out) << "\n";
  return kExitOk;
}

// --- trash / undelete ---

int RunTrash(Context& ctx, bool all) {
  CAIRN_OPEN_OR_FAIL(ctx, r);
  auto trash = r.ListTrash();
  if (!trash.ok()) return ctx.Fail(trash.status());
  json arr = json::array();
  for (const auto& t : *trash) {
    if (t.purged() && !all) continue;
    if (ctx.g().json) {
      arr.push_back({{"id", t.id.ToHex()},
                     {"time", IsoTimeNs(t.snapshot.time_ns)},
                     {"branch", t.snapshot.branch},
                     {"message", t.snapshot.message},
                     {"removed", IsoTimeNs(t.removed_ns)},
                     {"expires", IsoTimeNs(t.expires_ns)},
                     {"purged", t.purged() ? IsoTimeNs(t.purged_ns) : ""},
                     {"reason", t.reason},
                     {"host", t.host},
                     {"user", t.user}});
    } else {
      std::printf("%s  %s  %-10s removed %s by %s, %s %s\n", t.id.ShortHex().c_str(),
                  FormatTimeNs(t.snapshot.time_ns).c_str(), t.snapshot.branch.c_str(),
                  FormatTimeNs(t.removed_ns).c_str(), t.reason.c_str(), t.purged() ? "purged" : "expires",
                  FormatTimeNs(t.purged() ? t.purged_ns : t.expires_ns).c_str());
    }
  }
  if (ctx.g().json) std::cout << Dump(arr) << "\n";
  return kExitOk;
}

int RunUndelete(Context& ctx, const std::vector<std::string>& ids, const ApprovalFlags& af) {
  if (ids.empty()) return ctx.Fail(Status::InvalidArgument("undelete needs a snapshot id: cairn undelete ID"));
  CAIRN_OPEN_OR_FAIL(ctx, r);
  std::vector<ObjectId> found;
  for (const auto& text : ids) {
    auto m = r.TrashWithPrefix(text);
    if (!m.ok()) return ctx.Fail(m.status());
    if (text.size() < 4 || m->empty()) {
      return ctx.Fail(Status::NotFound("no snapshot in the trash has an id starting with '" + text +
                                       "'; 'cairn trash' lists them"));
    }
    if (m->size() > 1) {
      return ctx.Fail(Status::Ambiguous("trash id prefix '" + text + "' is ambiguous; give more digits"));
    }
    found.push_back((*m)[0]);
  }
  json arr = json::array();
  for (const auto& id : found) arr.push_back(id.ToHex());
  repo::Operation op{"bring back " + std::to_string(found.size()) + " snapshot(s) from the trash", "", repo::Risk::kMedium,
                     "undelete"};
  for (const auto& id : found) op.details += (op.details.empty() ? "  " : "\n  ") + id.ToHex();
  op.affected = {{"snapshots", arr}};
  TerminalApprover approver(ctx, r, af);
  if (Status st = repo::RequireApproval(&approver, op); !st.ok()) return ctx.Fail(st);
  for (const auto& id : found) {
    Status st = r.Undelete(id);
    if (!st.ok()) return ctx.Fail(st);
    ctx.audit().snapshots.push_back(id.ToHex());
    if (!ctx.g().json && !ctx.g().quiet) std::printf("brought back snapshot %s\n", id.ShortHex().c_str());
  }
  if (ctx.g().json) std::cout << Dump(json{{"undeleted", arr}}) << "\n";
  return kExitOk;
}

// --- policy ---

struct PolicyCmd {
  RuleFlags rules;
  std::string branch;
  ApprovalFlags approval;
};

int RunPolicy(Context& ctx, const PolicyCmd& o, const std::string& what) {
  CAIRN_OPEN_OR_FAIL(ctx, r);
  auto stored = repo::ReadPolicy(r);
  if (!stored.ok()) return ctx.Fail(stored.status());
  ctx.audit().operation = "policy " + what;
  if (what == "set" || what == "clear") {
    if (what == "set") {
      auto rules = RulesFrom(o.rules);
      if (!rules.ok()) return ctx.Fail(rules.status());
      if (!*rules) return ctx.Fail(Status::InvalidArgument("policy set needs rules: cairn policy set --keep-daily 7 ..."));
      if (o.branch.empty()) {
        stored->fallback = **rules;
      } else {
        stored->branches[o.branch] = **rules;
      }
    } else if (o.branch.empty()) {
      stored->fallback.reset();
    } else {
      stored->branches.erase(o.branch);
    }
    repo::Operation op{what == "set" ? "store retention rules" : "remove retention rules",
                       "  the policy becomes " + repo::EncodePolicy(*stored), repo::Risk::kMedium, "policy " + what};
    op.affected = {{"policy", json::parse(repo::EncodePolicy(*stored))}};
    TerminalApprover approver(ctx, r, o.approval);
    if (Status st = repo::RequireApproval(&approver, op); !st.ok()) return ctx.Fail(st);
    Status st = repo::WritePolicy(&r, *stored);
    if (!st.ok()) return ctx.Fail(st);
  }
  if (ctx.g().json) {
    std::cout << repo::EncodePolicy(*stored) << "\n";
    return kExitOk;
  }
  if (ctx.g().quiet && what != "show") return kExitOk;
  if (!stored->fallback && stored->branches.empty()) {
    std::printf("no retention policy is set ('cairn policy set --keep-daily 7 ...')\n");
  }
  if (stored->fallback) std::printf("every branch: %s\n", repo::DescribePolicy(*stored->fallback).c_str());
  for (const auto& [b, p] : stored->branches) std::printf("branch %s: %s\n", b.c_str(), repo::DescribePolicy(p).c_str());
  return kExitOk;
}

// --- prune ---

// What a prune affects, cheaply: the trash records it purges and the
// snapshots whose data it keeps (everything else unused goes).
Result<repo::Operation> PruneOperation(Repository& r, const repo::PruneOptions& o) {
  repo::Operation op{"prune", "", repo::Risk::kHigh, "prune"};
  CAIRN_ASSIGN_OR_RETURN(auto trash, r.ListTrash());
  json purge = json::array();
  for (const auto& t : trash) {
    if (t.purged()) continue;
    bool now = t.expires_ns <= o.now_ns || std::find(o.purge.begin(), o.purge.end(), t.id) != o.purge.end();
    if (now) purge.push_back(t.id.ToHex());
  }
  CAIRN_ASSIGN_OR_RETURN(auto snaps, r.ListSnapshots());
  std::string ids;
  for (const auto& [id, s] : snaps) ids += id.ToHex() + "\n";
  op.details = "  deletes the data that none of the " + std::to_string(snaps.size()) +
               " kept snapshots needs, and purges " + std::to_string(purge.size()) +
               " expired snapshot(s) from the trash for good";
  op.affected = {{"purge", purge},
                 {"kept_snapshots", snaps.size()},
                 {"kept_hash", Sha256(ids).ToHex()},
                 {"max_unused", o.max_unused},
                 {"max_repack_bytes", o.max_repack_bytes},
                 {"grace_ns", o.grace_ns}};
  return op;
}

int RunPrune(Context& ctx, const PruneFlags& f, const ApprovalFlags& af) {
  auto now = Now();
  if (!now.ok()) return ctx.Fail(now.status());
  auto o = PruneOptionsFrom(ctx, f, *now);
  if (!o.ok()) return ctx.Fail(o.status());
  CAIRN_OPEN_OR_FAIL(ctx, r);
  if (o->dry_run) {
    ctx.audit().operation = "prune dry-run";
  } else {
    auto op = PruneOperation(r, *o);
    if (!op.ok()) return ctx.Fail(op.status());
    TerminalApprover approver(ctx, r, af);
    if (Status st = repo::RequireApproval(&approver, *op); !st.ok()) return ctx.Fail(st);
  }
  auto rep = repo::Prune(&r, *o);
  if (!rep.ok()) return ctx.Fail(rep.status());
  ctx.audit().bytes = rep->freed_bytes;
  if (ctx.g().json) {
    std::cout << Dump(PruneJson(*rep)) << "\n";
  } else if (!ctx.g().quiet) {
    PrintPrune(*rep);
  }
  return kExitOk;
}

}  // namespace

void RegisterLifecycle(CLI::App& app, Context& ctx, Action* action) {
  auto forget = std::make_shared<ForgetCmd>();
  auto* c = app.add_subcommand("forget", "remove snapshots by a retention policy (to the trash)");
  c->add_option("SNAPSHOT", forget->snapshots, "snapshots to remove by name (instead of rules)");
  AddRuleFlags(c, &forget->rules);
  c->add_option("--branch", forget->branches, "apply the rules to branch B (default: main; repeatable)");
  c->add_flag("--all-branches", forget->all_branches, "apply the rules to every branch");
  c->add_flag("--dry-run", forget->dry_run, "show what would be kept and why; change nothing");
  c->add_flag("--prune", forget->prune, "prune right after, freeing the space at once (skips the trash)");
  c->add_option("--trash-for", forget->trash_for, "keep removed snapshots recoverable for DURATION (default 7d)");
  c->add_flag("-f,--force", forget->force, "allow removing every snapshot of a branch");
  AddApprovalFlags(c, &forget->approval);
  AddPruneFlags(c, &forget->prune_flags, false);
  c->callback([&ctx, action, forget] { *action = [&ctx, forget] { return RunForget(ctx, *forget, false); }; });

  auto del = std::make_shared<ForgetCmd>();
  auto* d = app.add_subcommand("delete", "remove named snapshots (to the trash)");
  d->add_option("SNAPSHOT", del->snapshots, "the snapshots to remove");
  d->add_flag("--dry-run", del->dry_run, "show what would be removed; change nothing");
  d->add_option("--trash-for", del->trash_for, "keep them recoverable for DURATION (default 7d)");
  AddApprovalFlags(d, &del->approval);
  d->callback([&ctx, action, del] { *action = [&ctx, del] { return RunForget(ctx, *del, true); }; });

  auto all = std::make_shared<bool>(false);
  auto* t = app.add_subcommand("trash", "list removed snapshots that can still be brought back");
  t->add_flag("--all", *all, "also the purged ones (tombstones)");
  t->callback([&ctx, action, all] { *action = [&ctx, all] { return RunTrash(ctx, *all); }; });

  auto ids = std::make_shared<std::vector<std::string>>();
  auto uaf = std::make_shared<ApprovalFlags>();
  auto* u = app.add_subcommand("undelete", "bring removed snapshots back from the trash");
  u->add_option("ID", *ids, "snapshot id or prefix (cairn trash lists them)");
  AddApprovalFlags(u, uaf.get());
  u->callback([&ctx, action, ids, uaf] { *action = [&ctx, ids, uaf] { return RunUndelete(ctx, *ids, *uaf); }; });

  auto* p = app.add_subcommand("policy", "set or show the retention policy stored in the repository");
  p->require_subcommand(1);
  for (const char* what : {"set", "show", "clear"}) {
    auto pol = std::make_shared<PolicyCmd>();
    auto* s = p->add_subcommand(what, std::string(what) == "set"    ? "store rules (for every branch, or --branch B)"
                                      : std::string(what) == "show" ? "show the stored rules"
                                                                    : "remove the rules (of every branch, or --branch B)");
    if (std::string(what) == "set") AddRuleFlags(s, &pol->rules);
    if (std::string(what) != "show") {
      s->add_option("--branch", pol->branch, "the branch the rules are for");
      AddApprovalFlags(s, &pol->approval);
    }
    std::string w = what;
    s->callback([&ctx, action, pol, w] { *action = [&ctx, pol, w] { return RunPolicy(ctx, *pol, w); }; });
  }

  auto prune = std::make_shared<PruneFlags>();
  auto paf = std::make_shared<ApprovalFlags>();
  auto* pr = app.add_subcommand("prune", "delete data no snapshot needs; never blocks a backup");
  AddPruneFlags(pr, prune.get(), true);
  AddApprovalFlags(pr, paf.get());
  pr->callback([&ctx, action, prune, paf] { *action = [&ctx, prune, paf] { return RunPrune(ctx, *prune, *paf); }; });
}

}  // namespace cairn::cli
