// SPDX-License-Identifier: MIT
//
// The safety commands: approve and apply (two-step approval of a plan),
// approval-policy (show, set), and audit (log, summary, export, verify).
// See docs/cli.md#risk-levels-and-approvals and #audit.

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "cli/cli.h"
#include "cli/commands.h"
#include "objstore/core/system.h"
#include "repo/audit.h"
#include "repo/timespec.h"

namespace cairn::cli {
namespace {

using nlohmann::json;
using repo::Repository;

Result<repo::Plan> ReadPlan(const std::string& file) {
  std::ifstream f(file, std::ios::binary);
  if (!f) return Status::NotFound("cannot read plan '" + file + "': no such file");
  std::stringstream ss;
  ss << f.rdbuf();
  return repo::DecodePlanFile(ss.str(), file);
}

Status SameRepository(const Repository& r, const repo::Plan& p, const std::string& file) {
  const std::string id = p.body.value("repository", "");
  if (id != r.config().repo_id.ToHex()) {
    return Status::InvalidArgument("plan '" + file + "' is for repository " + id.substr(0, 12) + ", not for " +
                                   r.location() + " (" + r.config().repo_id.ShortHex() + ")");
  }
  return Status::OK();
}

std::string PlanCommand(const repo::Plan& p) {
  std::string cmd = "cairn";
  for (const auto& a : p.body["args"]) cmd += " " + a.get<std::string>();
  return cmd;
}

void PrintPlan(const repo::Plan& p) {
  const json& b = p.body;
  std::fprintf(stderr, "plan %s, written by %s at %s\n  %s (risk %s)\n%s\n  command: %s\n", p.hash.substr(0, 12).c_str(),
               b.value("by", "").c_str(), FormatTimeNs(b.value("created_ns", int64_t{0})).c_str(),
               b.value("action", "").c_str(), b.value("risk", "").c_str(), b.value("details", "").c_str(),
               PlanCommand(p).c_str());
}

// --- approve ---

struct ApproveCmd {
  std::string file;
  bool yes = false;
};

int RunApprove(Context& ctx, const ApproveCmd& o) {
  auto plan = ReadPlan(o.file);
  if (!plan.ok()) return ctx.Fail(plan.status());
  CAIRN_OPEN_OR_FAIL(ctx, r);
  if (Status st = SameRepository(r, *plan, o.file); !st.ok()) return ctx.Fail(st);
  const repo::Risk risk = *repo::ParseRisk(plan->body["risk"].get<std::string>());
  AuditInfo& a = ctx.audit();
  a.operation = "approve";
  a.affected = {{"plan", plan->hash},
                {"operation", plan->body["operation"]},
                {"action", plan->body["action"]},
                {"risk", plan->body["risk"]}};
  if (!ctx.g().quiet) PrintPlan(*plan);
  if (o.yes) {
    a.approval = {{"how", "yes"}};
  } else if (::isatty(STDIN_FILENO) && ::isatty(STDERR_FILENO)) {
    std::fprintf(stderr, "Approve this plan? [y/N] ");
    std::fflush(stderr);
    std::string answer;
    if (!std::getline(std::cin, answer) || !(answer == "y" || answer == "Y" || answer == "yes")) {
      a.approval = {{"how", "refused"}, {"why", "answered no"}};
      return ctx.Fail(Status::NotApproved("plan '" + o.file + "' was not approved (answered no at the prompt)"));
    }
    a.approval = {{"how", "prompt"}};
  } else {
    a.approval = {{"how", "refused"}, {"why", "no terminal"}};
    return ctx.Fail(Status::NotApproved("approving plan '" + o.file +
                                        "' needs an answer on a terminal, or --yes"));
  }
  auto rec = repo::RecordApproval(&r, plan->hash, 0);
  if (!rec.ok()) return ctx.Fail(rec.status());
  auto pol = ctx.Policy(r);
  const bool needs_second = pol.ok() && pol->second_person.count(risk) != 0;
  if (ctx.g().json) {
    std::cout << Dump(json{{"approved", plan->hash},
                           {"by", rec->user + "@" + rec->host},
                           {"record", rec->name},
                           {"second_person_required", needs_second}})
              << "\n";
  } else if (!ctx.g().quiet) {
    std::printf("approved plan %s (%s) as %s@%s; run it with 'cairn apply %s'%s\n", plan->hash.substr(0, 12).c_str(),
                plan->body["action"].get<std::string>().c_str(), rec->user.c_str(), rec->host.c_str(), o.file.c_str(),
                needs_second ? " (by a user other than the approver: the policy asks for a second person)" : "");
  }
  return kExitOk;
}

// --- apply ---

int RunApply(Context& ctx, const std::string& file) {
  auto plan = ReadPlan(file);
  if (!plan.ok()) return ctx.Fail(plan.status());
  CAIRN_OPEN_OR_FAIL(ctx, r);
  AuditInfo& a = ctx.audit();
  a.operation = plan->body["operation"].get<std::string>();
  a.risk = *repo::ParseRisk(plan->body["risk"].get<std::string>());
  a.affected = plan->body["affected"];
  if (Status st = SameRepository(r, *plan, file); !st.ok()) return ctx.Fail(st);
  std::vector<std::string> problems;
  auto approvals = repo::ListApprovals(r, plan->hash, &problems);
  if (!approvals.ok()) return ctx.Fail(approvals.status());
  for (const auto& p : problems) ctx.Warn(p);
  a.approval = {{"how", "plan"}, {"plan", plan->hash}};
  if (approvals->empty()) {
    return ctx.Fail(Status::NotApproved("plan '" + file + "' has no approval (or was applied already): run 'cairn approve " +
                                        file + "' first"));
  }
  auto pol = ctx.Policy(r);
  if (!pol.ok()) return ctx.Fail(pol.status());
  const std::string me = repo::AccountName();
  if (pol->second_person.count(*a.risk) != 0) {
    bool other = false;
    for (const auto& rec : *approvals) other = other || rec.user != me;
    if (!other) {
      return ctx.Fail(Status::NotApproved("plan '" + file + "' needs the approval of a second person (risk " +
                                          std::string(repo::RiskName(*a.risk)) +
                                          ", the repository's approval policy): a user other than " + me +
                                          " must run 'cairn approve " + file + "'"));
    }
  }
  // Run the plan's command in this process, on this repository; its
  // approver checks that the operation computed now is the plan's.
  ApplyState state;
  state.plan = *plan;
  state.file = file;
  state.approvals = *approvals;
  state.repo = &r;
  std::vector<std::string> args{"cairn"};
  const Global& g = ctx.g();
  if (!g.repo.empty()) args.insert(args.end(), {"--repo", g.repo});
  if (!g.keys.key_file.empty()) args.insert(args.end(), {"--key-file", g.keys.key_file});
  if (!g.keys.password_file.empty()) args.insert(args.end(), {"--password-file", g.keys.password_file});
  if (!g.keys.password_command.empty()) args.insert(args.end(), {"--password-command", g.keys.password_command});
  if (g.json) args.push_back("--json");
  if (g.quiet) args.push_back("--quiet");
  if (g.verbose) args.push_back("--verbose");
  for (const auto& x : plan->body["args"]) args.push_back(x.get<std::string>());
  std::vector<char*> argv;
  for (auto& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);
  a.skip = true;  // the command records itself, with the plan as its approval
  Context::applying = &state;
  const int code = Run(static_cast<int>(args.size()), argv.data());
  Context::applying = nullptr;
  if (code == kExitOk && !state.asked) {
    // Every change asks first, so a command that never asked changed
    // nothing: what the plan describes is no longer there to do.
    std::fprintf(stderr, "cairn: plan '%s' no longer holds: its command now has nothing to do that needs approval; "
                         "nothing was changed\n", file.c_str());
    return kExitNotApproved;
  }
  if (code == kExitOk && !state.destroyed) {
    // One plan, one use (a destroyed repository took its approvals along).
    if (Status st = repo::RemoveApprovals(&r, *approvals); !st.ok()) {
      ctx.Warn("the plan ran, but its approvals could not be removed: " + st.message());
    }
  }
  return code;
}

// --- approval-policy ---

struct PolicyFlags {
  std::string require, yes, second_person, audit_reads;
  ApprovalFlags approval;
};

Result<std::set<repo::Risk>> ParseLevels(const std::string& text, const std::string& flag) {
  std::set<repo::Risk> out;
  if (text == "none") return out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    auto r = repo::ParseRisk(item);
    if (!r) {
      return Status::InvalidArgument("invalid value '" + text + "' for " + flag +
                                     ": expected risk levels separated by commas (low,medium,high,critical) or none");
    }
    out.insert(*r);
  }
  if (out.empty()) return Status::InvalidArgument(flag + " needs risk levels (low,medium,high,critical) or none");
  return out;
}

std::string LevelsText(const std::set<repo::Risk>& s) {
  std::string t;
  for (auto r : s) t += (t.empty() ? "" : ",") + std::string(repo::RiskName(r));
  return t.empty() ? "none" : t;
}

void PrintPolicy(const repo::ApprovalPolicy& p) {
  std::printf("approval needed for: %s\n--yes may approve:   %s\nsecond person for:   %s\naudit reads:         %s\n",
              LevelsText(p.require).c_str(), LevelsText(p.yes).c_str(), LevelsText(p.second_person).c_str(),
              p.audit_reads ? "yes" : "no");
}

int RunPolicyShow(Context& ctx) {
  CAIRN_OPEN_OR_FAIL(ctx, r);
  ctx.audit().operation = "approval-policy show";
  auto p = ctx.Policy(r);
  if (!p.ok()) return ctx.Fail(p.status());
  if (ctx.g().json) {
    std::cout << Dump(repo::ApprovalPolicyJson(*p)) << "\n";
  } else {
    PrintPolicy(*p);
  }
  return kExitOk;
}

// The risk table (repo::Operations()), the one docs/cli.md shows.
int RunRisks(Context& ctx) {
  if (ctx.g().json) {
    json arr = json::array();
    for (const auto& o : repo::Operations()) {
      arr.push_back({{"operation", std::string(o.name)},
                     {"risk", repo::RiskName(o.risk)},
                     {"changes", o.changes},
                     {"what", std::string(o.what)}});
    }
    std::cout << Dump(arr) << "\n";
    return kExitOk;
  }
  for (const auto& o : repo::Operations()) {
    std::printf("%-24s %-9s %s\n", std::string(o.name).c_str(), repo::RiskName(o.risk), std::string(o.what).c_str());
  }
  return kExitOk;
}

int RunPolicySet(Context& ctx, const PolicyFlags& f) {
  if (f.require.empty() && f.yes.empty() && f.second_person.empty() && f.audit_reads.empty()) {
    return ctx.Fail(Status::InvalidArgument(
        "approval-policy set needs a rule: --require, --yes-allowed, --second-person or --audit-reads"));
  }
  CAIRN_OPEN_OR_FAIL(ctx, r);
  auto cur = ctx.Policy(r);
  if (!cur.ok()) return ctx.Fail(cur.status());
  repo::ApprovalPolicy next = *cur;
  auto levels = [&](const std::string& text, const std::string& flag, std::set<repo::Risk>* out) -> Status {
    if (text.empty()) return Status::OK();
    CAIRN_ASSIGN_OR_RETURN(*out, ParseLevels(text, flag));
    return Status::OK();
  };
  for (Status st : {levels(f.require, "--require", &next.require), levels(f.yes, "--yes-allowed", &next.yes),
                    levels(f.second_person, "--second-person", &next.second_person)}) {
    if (!st.ok()) return ctx.Fail(st);
  }
  if (!f.audit_reads.empty()) {
    if (f.audit_reads != "on" && f.audit_reads != "off") {
      return ctx.Fail(Status::InvalidArgument("invalid value '" + f.audit_reads + "' for --audit-reads: expected on or off"));
    }
    next.audit_reads = f.audit_reads == "on";
  }
  const repo::Risk risk = repo::PolicyChangeRisk(*cur, next);
  repo::Operation op{"change the approval policy",
                     "  approval needed for: " + LevelsText(cur->require) + " -> " + LevelsText(next.require) +
                         "\n  --yes may approve:   " + LevelsText(cur->yes) + " -> " + LevelsText(next.yes) +
                         "\n  second person for:   " + LevelsText(cur->second_person) + " -> " +
                         LevelsText(next.second_person) + "\n  audit reads:         " +
                         (cur->audit_reads ? "yes" : "no") + " -> " + (next.audit_reads ? "yes" : "no"),
                     risk, risk == repo::Risk::kCritical ? "approval-policy loosen" : "approval-policy set"};
  op.affected = {{"from", repo::ApprovalPolicyJson(*cur)}, {"to", repo::ApprovalPolicyJson(next)}};
  TerminalApprover approver(ctx, r, f.approval);
  if (Status st = repo::RequireApproval(&approver, op); !st.ok()) return ctx.Fail(st);
  if (Status st = repo::WriteApprovalPolicy(&r, next); !st.ok()) return ctx.Fail(st);
  if (ctx.g().json) {
    std::cout << Dump(repo::ApprovalPolicyJson(next)) << "\n";
  } else if (!ctx.g().quiet) {
    PrintPolicy(next);
  }
  return kExitOk;
}

// --- audit ---

struct AuditCmd {
  std::string since, until, type, user, output;
  bool jsonl = false;
};

// The log, verified; entries after damage are not shown. Prints the
// problem and returns false when the log does not verify.
bool LoadAudit(Context& ctx, Repository& r, repo::AuditReport* rep, Status* st) {
  auto got = repo::ReadAudit(r);
  if (!got.ok()) {
    *st = got.status();
    return false;
  }
  *rep = std::move(*got);
  if (!rep->problem.empty()) {
    ctx.Warn("the audit log does not verify: " + rep->problem + " (only the " + std::to_string(rep->records.size()) +
             " entries before it are shown)");
  }
  return true;
}

bool Matches(const AuditCmd& o, const json& e, int64_t since, int64_t until) {
  const int64_t t = e.value("time_ns", int64_t{0});
  if (since != 0 && t < since) return false;
  if (until != 0 && t > until) return false;
  const std::string op = e.value("operation", "");
  if (!o.type.empty() && op != o.type && op.rfind(o.type + " ", 0) != 0) return false;
  if (!o.user.empty() && e.value("user", "") != o.user) return false;
  return true;
}

int RunAuditLog(Context& ctx, const AuditCmd& o, const std::string& what) {
  int64_t since = 0, until = 0;
  const int64_t now = NowNs();
  if (!o.since.empty()) {
    auto t = repo::ParseTime(o.since, now);
    if (!t.ok()) return ctx.Fail(t.status().WithContext("--since"));
    since = *t;
  }
  if (!o.until.empty()) {
    auto t = repo::ParseTime(o.until, now);
    if (!t.ok()) return ctx.Fail(t.status().WithContext("--until"));
    until = *t;
  }
  CAIRN_OPEN_OR_FAIL(ctx, r);
  ctx.audit().operation = "audit " + what;
  repo::AuditReport rep;
  Status st;
  if (!LoadAudit(ctx, r, &rep, &st)) return ctx.Fail(st);
  std::vector<const json*> shown;
  for (const auto& rec : rep.records) {
    if (Matches(o, rec.entry, since, until)) shown.push_back(&rec.entry);
  }
  const int code = rep.problem.empty() ? kExitOk : kExitDamaged;
  if (what == "export") {
    std::string text;
    for (const json* e : shown) text += Dump(*e) + "\n";
    if (o.output.empty()) {
      std::cout << text << std::flush;
    } else {
      std::ofstream f(o.output, std::ios::binary | std::ios::trunc);
      f << text;
      if (!f.flush()) return ctx.Fail(Status::IOError("cannot write '" + o.output + "'"));
    }
    return code;
  }
  if (what == "summary") {
    std::map<std::string, std::map<std::string, uint64_t>> counts;
    for (const json* e : shown) counts[e->value("operation", "?")][e->value("result", "?")]++;
    if (ctx.g().json) {
      json ops = json::object();
      for (const auto& [op, by] : counts) ops[op] = by;
      json j{{"entries", shown.size()}, {"operations", ops}, {"verified", rep.problem.empty()}};
      if (!shown.empty()) {
        j["first"] = IsoTimeNs(shown.front()->value("time_ns", int64_t{0}));
        j["last"] = IsoTimeNs(shown.back()->value("time_ns", int64_t{0}));
      }
      std::cout << Dump(j) << "\n";
    } else {
      std::printf("%zu entries", shown.size());
      if (!shown.empty()) {
        std::printf(", %s to %s", FormatTimeNs(shown.front()->value("time_ns", int64_t{0})).c_str(),
                    FormatTimeNs(shown.back()->value("time_ns", int64_t{0})).c_str());
      }
      std::printf("\n");
      for (const auto& [op, by] : counts) {
        std::string parts;
        for (const auto& [res, n] : by) parts += (parts.empty() ? "" : ", ") + std::to_string(n) + " " + res;
        std::printf("  %-24s %s\n", op.c_str(), parts.c_str());
      }
    }
    return code;
  }
  if (ctx.g().json) {
    json arr = json::array();
    for (const json* e : shown) arr.push_back(*e);
    std::cout << Dump(arr) << "\n";
    return code;
  }
  for (const json* e : shown) {
    std::string snaps;
    if (e->contains("snapshots") && (*e)["snapshots"].is_array()) {
      for (const auto& s : (*e)["snapshots"]) {
        if (s.is_string()) snaps += " " + s.get<std::string>().substr(0, 12);
      }
    }
    std::string how = e->contains("approval") && (*e)["approval"].is_object()
                          ? (*e)["approval"].value("how", "")
                          : std::string();
    std::printf("%6llu  %s  %-16s %-20s %-8s %-8s %s%s\n",
                static_cast<unsigned long long>(e->value("seq", uint64_t{0})),
                FormatTimeNs(e->value("time_ns", int64_t{0})).c_str(),
                (e->value("user", "") + "@" + e->value("host", "")).c_str(), e->value("operation", "").c_str(),
                e->value("result", "").c_str(), e->value("risk", "").c_str(),
                how == "none" || how == "not required" ? "" : ("approval: " + how).c_str(), snaps.c_str());
  }
  return code;
}

int RunAuditVerify(Context& ctx) {
  CAIRN_OPEN_OR_FAIL(ctx, r);
  ctx.audit().operation = "audit verify";
  auto rep = repo::ReadAudit(r);
  if (!rep.ok()) return ctx.Fail(rep.status());
  const bool ok = rep->problem.empty();
  if (ok && !rep->records.empty()) repo::UpdateAuditAnchor(r, rep->records.back().seq, rep->records.back().hash);
  if (ctx.g().json) {
    json j{{"ok", ok},
           {"entries", rep->records.size()},
           {"head", rep->head_seq},
           {"anchor", rep->anchor_seq},
           {"notes", rep->notes}};
    if (!ok) {
      j["problem"] = rep->problem;
      j["bad_entry"] = rep->bad_seq;
    }
    std::cout << Dump(j) << "\n";
  }
  if (!ok) {
    std::fprintf(stderr, "cairn: the audit log does not verify: %s\n", OneLine(rep->problem).c_str());
    return kExitDamaged;
  }
  for (const auto& n : rep->notes) ctx.Warn(n);
  if (!ctx.g().json && !ctx.g().quiet) {
    std::printf("audit log verified: %zu entries, chain intact, head at entry %llu%s\n", rep->records.size(),
                static_cast<unsigned long long>(rep->head_seq),
                rep->anchor_seq != 0 ? (", this machine's anchor at entry " + std::to_string(rep->anchor_seq)).c_str()
                                     : "");
  }
  return kExitOk;
}

}  // namespace

void RegisterSafetyCommands(CLI::App& app, Context& ctx, Action* action) {
  auto ap = std::make_shared<ApproveCmd>();
  auto* c_approve = app.add_subcommand("approve", "approve a plan written with --plan-out");
  c_approve->add_option("PLAN", ap->file, "the plan file")->required();
  c_approve->add_flag("-y,--yes", ap->yes, "approve without asking");
  c_approve->callback([&ctx, action, ap] { *action = [&ctx, ap] { return RunApprove(ctx, *ap); }; });

  auto file = std::make_shared<std::string>();
  auto* c_apply = app.add_subcommand("apply", "run an approved plan, if it still holds");
  c_apply->add_option("PLAN", *file, "the plan file")->required();
  c_apply->callback([&ctx, action, file] { *action = [&ctx, file] { return RunApply(ctx, *file); }; });

  auto* c_pol = app.add_subcommand("approval-policy", "show or change which risks need approval, and how");
  c_pol->require_subcommand(1);
  auto* c_pol_show = c_pol->add_subcommand("show", "show the approval policy");
  c_pol_show->callback([&ctx, action] { *action = [&ctx] { return RunPolicyShow(ctx); }; });
  auto* c_pol_risks = c_pol->add_subcommand("risks", "list every operation with its risk level");
  c_pol_risks->callback([&ctx, action] { *action = [&ctx] { return RunRisks(ctx); }; });
  auto pf = std::make_shared<PolicyFlags>();
  auto* c_pol_set = c_pol->add_subcommand("set", "change the approval policy (itself approved under the current one)");
  c_pol_set->add_option("--require", pf->require, "the risk levels that need approval (e.g. high,critical; or none)");
  c_pol_set->add_option("--yes-allowed", pf->yes, "the risk levels --yes may approve (or none)");
  c_pol_set->add_option("--second-person", pf->second_person,
                        "the risk levels whose plan another user must approve (or none)");
  c_pol_set->add_option("--audit-reads", pf->audit_reads, "on: also record read-only commands in the audit log");
  AddApprovalFlags(c_pol_set, &pf->approval);
  c_pol_set->callback([&ctx, action, pf] { *action = [&ctx, pf] { return RunPolicySet(ctx, *pf); }; });

  auto* c_audit = app.add_subcommand("audit", "read and verify the audit log");
  c_audit->require_subcommand(1);
  for (const char* what : {"log", "summary", "export"}) {
    auto o = std::make_shared<AuditCmd>();
    const std::string w = what;
    auto* c = c_audit->add_subcommand(what, w == "log"       ? "list the entries (filters: --since, --until, --type, --user)"
                                            : w == "summary" ? "count the entries per operation and result"
                                                             : "print every entry as one JSON line (JSON Lines)");
    c->add_option("--since", o->since, "entries at or after TIME");
    c->add_option("--until", o->until, "entries at or before TIME");
    c->add_option("--type", o->type, "entries of operation OP (e.g. backup, or tag for every tag operation)");
    c->add_option("--user", o->user, "entries of user U");
    if (w == "export") {
      c->add_flag("--jsonl", o->jsonl, "JSON Lines (the only format; accepted for clarity)");
      c->add_option("-o,--output", o->output, "write to FILE instead of stdout");
    }
    c->callback([&ctx, action, o, w] { *action = [&ctx, o, w] { return RunAuditLog(ctx, *o, w); }; });
  }
  auto* c_verify = c_audit->add_subcommand("verify", "verify the chain, the head and this machine's anchor");
  c_verify->callback([&ctx, action] { *action = [&ctx] { return RunAuditVerify(ctx); }; });
}

}  // namespace cairn::cli
