// SPDX-License-Identifier: MIT
//
// copy: snapshots, and the branches and tags that name them, into another
// repository (repo/copy.h; docs/cli.md#copy).

#include <iostream>
#include <map>
#include <set>

#include "cli/commands.h"
#include "repo/archive.h"
#include "repo/copy.h"
#include "repo/forget.h"
#include "repo/history.h"
#include "repo/location.h"

namespace cairn::cli {
namespace {

using nlohmann::json;
using repo::Repository;

struct CopyCmd {
  std::string to;
  std::vector<std::string> revs;
  bool all = false;
  bool dry_run = false;
  KeyFlags to_keys;
};

std::string Short(const ObjectId& id) { return id.ToHex().substr(0, 12); }

// The target of copy or archive (`--to`), unlocked with its own keys;
// NotFound when there is no repository there.
Result<std::unique_ptr<Repository>> OpenTarget(Context& ctx, const std::string& to, const KeyFlags& keys) {
  if (to.empty()) return Status::InvalidArgument("name the target repository with --to REPO");
  if (auto loc = repo::ParseLocation(to); !loc.ok()) return loc.status().WithContext("--to");
  auto opened = Repository::Open(to, MakeKeyAccess(keys));
  if (!opened.ok()) {
    if (opened.status().IsNotFound()) {
      return Status::NotFound("no repository at the target '" + to + "'; create it with 'cairn -r " + to + " init'");
    }
    return opened.status().WithContext("the target '" + to + "'");
  }
  for (const auto& w : (*opened)->warnings()) ctx.Warn("target: " + w);
  (*opened)->set_on_message([&ctx](const std::string& m) { ctx.Warn("target: " + m); });
  return opened;
}

void AddTargetKeyFlags(CLI::App* c, KeyFlags* k) {
  k->env_prefix = "CAIRN_TO_";
  k->flag_prefix = "--to-";
  c->add_option("--to-key-file", k->key_file, "open the target with this key file (or CAIRN_TO_KEY_FILE)");
  c->add_option("--to-password-file", k->password_file, "read the target's password from FILE (or CAIRN_TO_PASSWORD_FILE)");
  c->add_option("--to-password-command", k->password_command,
                "run CMD for the target's password (or CAIRN_TO_PASSWORD_COMMAND)");
}

struct RefToCopy {
  std::string ref;  // "branches/NAME", "tags/NAME"
  ObjectId source;  // the snapshot it names in the source
  std::string annotation;
};

// What happened to one ref in the target.
struct RefOutcome {
  std::string ref;
  ObjectId target;
  std::string result;  // created | updated | unchanged | conflict (| would create, would update in a dry run)
  std::string detail;  // conflict: where the target's ref points
};

// Refs in the target: created where absent; branches moved only forward;
// anything else is a conflict, left as it is (*conflict set). `mapped`:
// source snapshot -> its copy.
Status ApplyRefs(Repository& dst, const std::vector<RefToCopy>& refs, const std::map<ObjectId, ObjectId>& mapped,
                 bool dry_run, std::vector<RefOutcome>* outcomes, bool* conflict) {
  for (const auto& r : refs) {
    auto m = mapped.find(r.source);
    RefOutcome out{r.ref, m != mapped.end() ? m->second : ObjectId(), "", ""};
    CAIRN_ASSIGN_OR_RETURN(auto cur, dst.ReadRefValue(r.ref));
    if (dry_run) {
      out.result = !cur ? "would create" : "would update";
      if (cur && !out.target.IsZero() && cur->id == out.target) out.result = "unchanged";
      outcomes->push_back(out);
      continue;
    }
    if (!cur) {
      CAIRN_RETURN_IF_ERROR(dst.UpdateRef(r.ref, std::nullopt, out.target, r.annotation));
      out.result = "created";
    } else if (cur->id == out.target) {
      out.result = "unchanged";
    } else {
      bool forward = false;
      if (r.ref.rfind("branches/", 0) == 0) {
        CAIRN_ASSIGN_OR_RETURN(forward, repo::IsAncestor(dst, cur->id, {out.target}));
      }
      if (forward) {
        CAIRN_RETURN_IF_ERROR(dst.UpdateRef(r.ref, cur->id, out.target, cur->annotation));
        out.result = "updated";
      } else {
        out.result = "conflict";
        out.detail = Short(cur->id);
        *conflict = true;
      }
    }
    outcomes->push_back(out);
  }
  return Status::OK();
}

json RefsJson(const std::vector<RefOutcome>& outcomes) {
  json jrefs = json::array();
  for (const auto& r : outcomes) {
    json j{{"ref", r.ref}, {"result", r.result}};
    j["target"] = r.target.IsZero() ? json(nullptr) : json(r.target.ToHex());
    if (!r.detail.empty()) j["target_has"] = r.detail;
    jrefs.push_back(j);
  }
  return jrefs;
}

void PrintRefs(const std::vector<RefOutcome>& outcomes) {
  for (const auto& r : outcomes) {
    std::cout << r.ref << ": " << r.result;
    if (!r.detail.empty()) std::cout << " (the target's points at " << r.detail << "; left as it is)";
    std::cout << "\n";
  }
}

int RunCopy(Context& ctx, CopyCmd& o) {
  if (o.to.empty()) return ctx.Fail(Status::InvalidArgument("copy needs the target repository: --to REPO"));
  if (o.all && !o.revs.empty()) {
    return ctx.Fail(Status::InvalidArgument("give either REV... or --all, not both"));
  }
  ctx.audit().operation = o.dry_run ? "copy dry-run" : "copy";
  CAIRN_OPEN_OR_FAIL(ctx, src);

  // What to copy: the snapshots named (and the refs among the names), or
  // everything.
  auto sel = SelectRevisions(src, o.revs, o.revs.empty());
  if (!sel.ok()) return ctx.Fail(sel.status());
  const std::vector<ObjectId>& ids = sel->snapshots;
  std::vector<RefToCopy> refs;
  for (const auto& r : sel->refs) refs.push_back({r.kind + "/" + r.name, r.snapshot, r.annotation});

  auto opened = OpenTarget(ctx, o.to, o.to_keys);
  if (!opened.ok()) return ctx.Fail(opened.status(), opened.status().IsNotFound() ? kExitNoRepo : -1);
  Repository& dst = **opened;

  std::atomic<uint64_t> read{0};
  repo::CopyOptions opts;
  opts.snapshots = ids;
  opts.dry_run = o.dry_run;
  opts.bytes_done = &read;
  opts.on_warning = [&ctx](const std::string& w) { ctx.Warn(w); };
  Result<repo::CopyResult> res = Status::IOError("not run");
  {
    ProgressLine line(ctx.Progress() && !o.dry_run, [&] { return "copy: " + HumanBytes(read.load()) + " read"; });
    res = repo::CopySnapshots(src, &dst, opts);
  }

  // The audit entry in the target says what came in and from where.
  AuditInfo in = ctx.audit();
  in.affected = json{{"from", src.location()}, {"to", dst.location()}};
  ctx.audit().affected = in.affected;
  if (!res.ok()) {
    ctx.audit().error = res.status().message();
    if (!o.dry_run) {
      in.error = res.status().message();
      (void)ctx.AppendAuditTo(dst, "failed", ExitCodeFor(res.status()), in);
    }
    return ctx.Fail(res.status());
  }

  std::map<ObjectId, ObjectId> mapped;
  size_t copied = 0;
  for (const auto& s : res->snapshots) {
    mapped[s.source] = s.target;
    if (s.copied) {
      copied++;
      ctx.audit().snapshots.push_back(s.source.ToHex());
      in.snapshots.push_back(s.target.ToHex());
    }
  }
  ctx.audit().bytes = res->bytes_read;
  in.bytes = res->written.stored_bytes;

  std::vector<RefOutcome> outcomes;
  bool conflict = false;
  Status ref_error = ApplyRefs(dst, refs, mapped, o.dry_run, &outcomes, &conflict);

  int code = !ref_error.ok() ? ExitCodeFor(ref_error) : conflict ? kExitExists : kExitOk;
  if (!o.dry_run) {
    if (!ref_error.ok()) in.error = ref_error.message();
    auto rec = ctx.AppendAuditTo(dst, code == kExitOk ? "ok" : "failed", code, in);
    if (!rec.ok()) ctx.Warn("this copy was not recorded in the target's audit log: " + rec.status().message());
  }
  if (!ref_error.ok()) return ctx.Fail(ref_error.WithContext("the snapshots were copied, but a ref was not"));

  if (ctx.g().json) {
    json snaps = json::array();
    for (const auto& s : res->snapshots) {
      json j{{"source", s.source.ToHex()}, {"copied", s.copied}};
      j["target"] = s.target.IsZero() ? json(nullptr) : json(s.target.ToHex());
      snaps.push_back(j);
    }
    json jrefs = RefsJson(outcomes);
    std::cout << Dump(json{{"to", dst.location()},
                           {"dry_run", o.dry_run},
                           {"rechunked", res->rechunked},
                           {"copied", copied},
                           {"already_there", res->snapshots.size() - copied},
                           {"snapshots", snaps},
                           {"refs", jrefs},
                           {"blobs_read", res->blobs_read},
                           {"bytes_read", res->bytes_read},
                           {"files_rechunked", res->files_rechunked},
                           {"new_chunks", res->written.new_chunks},
                           {"new_trees", res->written.new_trees},
                           {"stored_bytes", res->written.stored_bytes},
                           {"packs", res->written.packs}})
              << "\n";
  } else if (!ctx.g().quiet) {
    for (const auto& s : res->snapshots) {
      if (!s.copied) continue;
      if (o.dry_run) {
        std::cout << "would copy " << Short(s.source) << "\n";
      } else {
        std::cout << "copied " << Short(s.source) << " -> " << Short(s.target) << "\n";
      }
    }
    PrintRefs(outcomes);
    std::cout << (o.dry_run ? "would copy " : "copied ") << copied << " snapshot(s), "
              << res->snapshots.size() - copied << " already in the target";
    if (!o.dry_run) {
      std::cout << "; read " << HumanBytes(res->bytes_read) << ", stored " << HumanBytes(res->written.stored_bytes)
                << " in " << res->written.packs << " pack(s)";
    }
    if (res->rechunked) std::cout << "; content cut again with the target's chunker";
    std::cout << "\n";
  }
  if (conflict) {
    std::fprintf(stderr,
                 "cairn: error: some refs differ in the target and were left as they are; the snapshots were "
                 "copied (move the ref there with 'cairn branch reset' or 'cairn tag move')\n");
  }
  return code;
}

// --- archive ---

struct ArchiveCmd {
  std::string to;
  std::string older_than = "30d";
  size_t keep_min = 10;
  std::string trash_for = "7d";
  bool dry_run = false;
  KeyFlags to_keys;
  ApprovalFlags approval;
};

int RunArchive(Context& ctx, ArchiveCmd& o) {
  ctx.audit().operation = o.dry_run ? "archive dry-run" : "archive";
  auto now = Now();
  if (!now.ok()) return ctx.Fail(now.status());
  auto age = DurationNs(o.older_than, "--older-than", *now, /*zero_ok=*/true);
  if (!age.ok()) return ctx.Fail(age.status());
  auto trash_for = DurationNs(o.trash_for, "--trash-for", *now, /*zero_ok=*/true);
  if (!trash_for.ok()) return ctx.Fail(trash_for.status());
  CAIRN_OPEN_OR_FAIL(ctx, src);
  repo::ArchiveRequest req;
  req.cutoff_ns = *now - *age;
  req.keep_min = o.keep_min;
  auto plan = repo::PlanArchive(src, req);
  if (!plan.ok()) return ctx.Fail(plan.status());
  auto opened = OpenTarget(ctx, o.to, o.to_keys);
  if (!opened.ok()) return ctx.Fail(opened.status(), opened.status().IsNotFound() ? kExitNoRepo : -1);
  Repository& dst = **opened;
  json affected{{"from", src.location()}, {"to", dst.location()}};
  ctx.audit().affected = affected;

  std::atomic<uint64_t> read{0};
  repo::CopyOptions copts;
  copts.snapshots = plan->archive;
  copts.dry_run = o.dry_run;
  copts.bytes_done = &read;
  copts.on_warning = [&ctx](const std::string& w) { ctx.Warn(w); };
  Result<repo::CopyResult> copied = repo::CopyResult{};
  Result<repo::VerifyReport> verified = repo::VerifyReport{};
  std::vector<RefOutcome> refs;
  bool conflict = false;
  std::map<ObjectId, ObjectId> mapped;
  std::set<ObjectId> going(plan->archive.begin(), plan->archive.end());
  std::vector<repo::CopiedSnapshot> pairs;
  AuditInfo in = ctx.audit();
  // What the target's log says: the ids there.
  auto record_target = [&](const std::string& result, int code, const std::string& error) {
    if (o.dry_run) return;
    in.error = error;
    in.snapshots.clear();
    for (const auto& p : pairs) in.snapshots.push_back(p.target.ToHex());
    in.bytes = copied.ok() ? copied->written.stored_bytes : 0;
    auto rec = ctx.AppendAuditTo(dst, result, code, in);
    if (!rec.ok()) ctx.Warn("this archive was not recorded in the target's audit log: " + rec.status().message());
  };
  if (!plan->archive.empty()) {
    {
      ProgressLine line(ctx.Progress() && !o.dry_run, [&] { return "archive: " + HumanBytes(read.load()) + " read"; });
      copied = repo::CopySnapshots(src, &dst, copts);
    }
    if (!copied.ok()) {
      ctx.audit().error = copied.status().message();
      record_target("failed", ExitCodeFor(copied.status()), copied.status().message());
      return ctx.Fail(copied.status().WithContext("nothing was removed here"));
    }
    for (const auto& c : copied->snapshots) {
      mapped[c.source] = c.target;
      if (going.count(c.source)) pairs.push_back(c);
    }
    // Each branch of the archived snapshots points, in the archive, at its
    // newest archived snapshot (so the archive's history is reachable).
    std::map<std::string, std::pair<int64_t, ObjectId>> newest;
    for (const auto& d : plan->decisions) {
      if (!d.archive || d.snapshot.branch.empty() || !repo::ValidRefName(d.snapshot.branch)) continue;
      auto& n = newest[d.snapshot.branch];
      if (n.second.IsZero() || d.snapshot.time_ns > n.first) n = {d.snapshot.time_ns, d.id};
    }
    std::vector<RefToCopy> branch_refs;
    for (const auto& [b, n] : newest) branch_refs.push_back({"branches/" + b, n.second, ""});
    Status st = ApplyRefs(dst, branch_refs, mapped, o.dry_run, &refs, &conflict);
    if (!st.ok()) {
      record_target("failed", ExitCodeFor(st), st.message());
      return ctx.Fail(st.WithContext("nothing was removed here"));
    }
    if (conflict) {
      ctx.Warn("a branch of the archive points elsewhere and was left as it is; the snapshots were archived");
    }
    if (!o.dry_run) {
      ProgressLine line(ctx.Progress(), [&] { return "archive: verifying, " + HumanBytes(read.load()) + " read"; });
      read.store(0);
      verified = repo::VerifyCopies(src, dst, pairs, &read);
    }
    if (!verified.ok()) {
      ctx.audit().error = verified.status().message();
      record_target("failed", kExitDamaged, verified.status().message());
      return ctx.Fail(verified.status().WithContext("the archive does not verify; nothing was removed here"),
                      kExitDamaged);
    }
  }

  // Only now: forget them here (to the trash), behind approval.
  size_t removed = 0;
  if (!o.dry_run && !plan->archive.empty()) {
    std::vector<std::string> revs;
    for (const auto& id : plan->archive) revs.push_back(id.ToHex());
    auto fp = repo::PlanDelete(&src, revs);
    if (!fp.ok()) {
      record_target("ok", kExitOk, "");
      return ctx.Fail(fp.status().WithContext("archived and verified, but not removed here"));
    }
    TerminalApprover approver(ctx, src, o.approval);
    auto n = repo::ApplyForget(&src, *fp, "archive to " + dst.location(), *now, *trash_for, &approver);
    record_target("ok", kExitOk, "");
    if (!n.ok()) {
      int code = ctx.Fail(n.status().WithContext("archived and verified in '" + dst.location() +
                                                 "', but nothing was removed here"));
      return code;
    }
    removed = *n;
    for (const auto& id : plan->archive) ctx.audit().snapshots.push_back(id.ToHex());
  }

  if (ctx.g().json) {
    json snaps = json::array();
    for (const auto& d : plan->decisions) {
      json j{{"id", d.id.ToHex()}, {"time", objstore::FormatTime(d.snapshot.time_ns)}, {"branch", d.snapshot.branch},
             {"archive", d.archive}, {"reason", d.reason}};
      auto m = mapped.find(d.id);
      j["target"] = m == mapped.end() || m->second.IsZero() ? json(nullptr) : json(m->second.ToHex());
      snaps.push_back(j);
    }
    json out{{"to", dst.location()},
             {"dry_run", o.dry_run},
             {"cutoff", objstore::FormatTime(req.cutoff_ns)},
             {"keep_min", o.keep_min},
             {"snapshots", snaps},
             {"archived", plan->archive.size()},
             {"copied", 0},
             {"removed", removed},
             {"refs", RefsJson(refs)},
             {"verified", {{"snapshots", verified->snapshots}, {"files", verified->files}, {"bytes", verified->bytes}}}};
    if (copied.ok()) {
      size_t n = 0;
      for (const auto& c : copied->snapshots) n += c.copied ? 1 : 0;
      out["copied"] = n;
      out["rechunked"] = copied->rechunked;
      out["stored_bytes"] = copied->written.stored_bytes;
    }
    std::cout << Dump(out) << "\n";
  } else if (!ctx.g().quiet) {
    for (const auto& d : plan->decisions) {
      std::cout << (d.archive ? (o.dry_run ? "would archive " : "archived ") : "keep ") << Short(d.id) << "  "
                << objstore::FormatTime(d.snapshot.time_ns) << "  " << d.reason << "\n";
    }
    PrintRefs(refs);
    if (plan->archive.empty()) {
      std::cout << "nothing to archive (cutoff " << objstore::FormatTime(req.cutoff_ns) << ", keeping at least "
                << o.keep_min << ")\n";
    } else if (o.dry_run) {
      std::cout << "would archive " << plan->archive.size() << " snapshot(s) to " << dst.location() << "\n";
    } else {
      std::cout << "archived " << plan->archive.size() << " snapshot(s) to " << dst.location() << " (verified "
                << verified->files << " files, " << HumanBytes(verified->bytes) << "); moved " << removed
                << " to the trash here ('cairn prune' frees their space once their trash time is over)\n";
    }
  }
  return kExitOk;
}

}  // namespace

void RegisterCopy(CLI::App& app, Context& ctx, Action* action) {
  auto o = std::make_shared<CopyCmd>();
  auto* c = app.add_subcommand("copy", "copy snapshots, branches and tags into another repository");
  c->add_option("--to", o->to, "the target repository (it keeps its own keys, chunker and compression)");
  c->add_option("revs", o->revs, "snapshots, branches or tags to copy, with their ancestors (default: all)");
  c->add_flag("--all", o->all, "copy every snapshot, branch and tag (the default without REV)");
  c->add_flag("-n,--dry-run", o->dry_run, "say what would be copied; read no content and write nothing");
  AddTargetKeyFlags(c, &o->to_keys);
  c->callback([&ctx, action, o] { *action = [&ctx, o] { return RunCopy(ctx, *o); }; });

  auto a = std::make_shared<ArchiveCmd>();
  auto* ca = app.add_subcommand("archive", "move old snapshots to another repository: copy, verify, then forget here");
  ca->add_option("--to", a->to, "the archive repository");
  ca->add_option("--older-than", a->older_than, "archive snapshots older than DURATION (default 30d)");
  ca->add_option("--keep-min", a->keep_min, "never keep fewer than N snapshots here (default 10)");
  ca->add_option("--trash-for", a->trash_for, "keep the archived snapshots recoverable here for DURATION (default 7d)");
  ca->add_flag("-n,--dry-run", a->dry_run, "say what would be archived; copy, verify and remove nothing");
  AddTargetKeyFlags(ca, &a->to_keys);
  AddApprovalFlags(ca, &a->approval);
  ca->callback([&ctx, action, a] { *action = [&ctx, a] { return RunArchive(ctx, *a); }; });
}

}  // namespace cairn::cli
