// SPDX-License-Identifier: MIT
//
// copy: snapshots, and the branches and tags that name them, into another
// repository (repo/copy.h; docs/cli.md#copy).

#include <iostream>
#include <map>
#include <set>

#include "cli/commands.h"
#include "repo/copy.h"
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

// True if `ancestor` is `id` or reachable from it through parents in `r`.
Result<bool> IsAncestor(const Repository& r, const ObjectId& ancestor, const ObjectId& id) {
  std::set<ObjectId> seen;
  std::vector<ObjectId> todo{id};
  while (!todo.empty()) {
    ObjectId cur = todo.back();
    todo.pop_back();
    if (cur == ancestor) return true;
    if (!seen.insert(cur).second) continue;
    CAIRN_ASSIGN_OR_RETURN(objstore::Snapshot s, r.ReadSnapshot(cur));
    for (const auto& p : s.parents) todo.push_back(p);
  }
  return false;
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

int RunCopy(Context& ctx, CopyCmd& o) {
  if (o.to.empty()) return ctx.Fail(Status::InvalidArgument("copy needs the target repository: --to REPO"));
  if (o.all && !o.revs.empty()) {
    return ctx.Fail(Status::InvalidArgument("give either REV... or --all, not both"));
  }
  ctx.audit().operation = o.dry_run ? "copy dry-run" : "copy";
  CAIRN_OPEN_OR_FAIL(ctx, src);

  // What to copy: the snapshots named (and the refs among the names), or
  // everything.
  std::vector<ObjectId> ids;
  std::vector<RefToCopy> refs;
  auto add_ref = [&](const std::string& ref, const ObjectId& id) -> Status {
    CAIRN_ASSIGN_OR_RETURN(auto v, src.ReadRefValue(ref));
    refs.push_back({ref, id, v ? v->annotation : std::string()});
    return Status::OK();
  };
  if (o.revs.empty()) {
    auto all = src.ListSnapshots();
    if (!all.ok()) return ctx.Fail(all.status());
    for (const auto& [id, s] : *all) ids.push_back(id);
    for (const char* kind : {"branches", "tags"}) {
      auto list = src.ListRefs(kind);
      if (!list.ok()) return ctx.Fail(list.status());
      for (const auto& [name, id] : *list) {
        if (Status st = add_ref(std::string(kind) + "/" + name, id); !st.ok()) return ctx.Fail(st);
        ids.push_back(id);
      }
    }
  } else {
    for (const auto& rev : o.revs) {
      auto id = src.ResolveRevision(rev);
      if (!id.ok()) return ctx.Fail(id.status());
      ids.push_back(*id);
      if (!repo::ValidRefName(rev)) continue;
      for (const char* kind : {"branches", "tags"}) {
        const std::string ref = std::string(kind) + "/" + rev;
        auto at = src.ReadRef(ref);
        if (!at.ok()) return ctx.Fail(at.status());
        if (*at && **at == *id) {
          if (Status st = add_ref(ref, *id); !st.ok()) return ctx.Fail(st);
        }
      }
    }
  }

  // The target, unlocked with its own keys.
  if (auto loc = repo::ParseLocation(o.to); !loc.ok()) return ctx.Fail(loc.status().WithContext("--to"));
  auto opened = Repository::Open(o.to, MakeKeyAccess(o.to_keys));
  if (!opened.ok()) {
    Status st = opened.status();
    if (st.IsNotFound()) {
      return ctx.Fail(Status::NotFound("no repository at the target '" + o.to + "'; create it with 'cairn -r " +
                                       o.to + " init'"),
                      kExitNoRepo);
    }
    return ctx.Fail(st.WithContext("the target '" + o.to + "'"));
  }
  Repository& dst = **opened;
  for (const auto& w : dst.warnings()) ctx.Warn("target: " + w);
  dst.set_on_message([&ctx](const std::string& m) { ctx.Warn("target: " + m); });

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

  // Refs: created where absent; branches moved only forward; anything
  // else is a conflict, left as it is.
  std::vector<RefOutcome> outcomes;
  bool conflict = false;
  Status ref_error;
  for (const auto& r : refs) {
    RefOutcome out{r.ref, mapped.count(r.source) ? mapped[r.source] : ObjectId(), "", ""};
    auto cur = dst.ReadRefValue(r.ref);
    if (!cur.ok()) {
      ref_error = cur.status();
      break;
    }
    if (o.dry_run) {
      out.result = !*cur ? "would create" : "would update";
      if (*cur && !out.target.IsZero() && (*cur)->id == out.target) out.result = "unchanged";
      outcomes.push_back(out);
      continue;
    }
    if (!*cur) {
      Status st = dst.UpdateRef(r.ref, std::nullopt, out.target, r.annotation);
      if (!st.ok()) {
        ref_error = st;
        break;
      }
      out.result = "created";
    } else if ((*cur)->id == out.target) {
      out.result = "unchanged";
    } else {
      bool forward = false;
      if (r.ref.rfind("branches/", 0) == 0) {
        auto anc = IsAncestor(dst, (*cur)->id, out.target);
        if (!anc.ok()) {
          ref_error = anc.status();
          break;
        }
        forward = *anc;
      }
      if (forward) {
        Status st = dst.UpdateRef(r.ref, (*cur)->id, out.target, (*cur)->annotation);
        if (!st.ok()) {
          ref_error = st;
          break;
        }
        out.result = "updated";
      } else {
        out.result = "conflict";
        out.detail = Short((*cur)->id);
        conflict = true;
      }
    }
    outcomes.push_back(out);
  }

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
    json jrefs = json::array();
    for (const auto& r : outcomes) {
      json j{{"ref", r.ref}, {"result", r.result}};
      j["target"] = r.target.IsZero() ? json(nullptr) : json(r.target.ToHex());
      if (!r.detail.empty()) j["target_has"] = r.detail;
      jrefs.push_back(j);
    }
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
    for (const auto& r : outcomes) {
      std::cout << r.ref << ": " << r.result;
      if (!r.detail.empty()) std::cout << " (the target's points at " << r.detail << "; left as it is)";
      std::cout << "\n";
    }
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

}  // namespace

void RegisterCopy(CLI::App& app, Context& ctx, Action* action) {
  auto o = std::make_shared<CopyCmd>();
  o->to_keys.env_prefix = "CAIRN_TO_";
  o->to_keys.flag_prefix = "--to-";
  auto* c = app.add_subcommand("copy", "copy snapshots, branches and tags into another repository");
  c->add_option("--to", o->to, "the target repository (it keeps its own keys, chunker and compression)");
  c->add_option("revs", o->revs, "snapshots, branches or tags to copy, with their ancestors (default: all)");
  c->add_flag("--all", o->all, "copy every snapshot, branch and tag (the default without REV)");
  c->add_flag("-n,--dry-run", o->dry_run, "say what would be copied; read no content and write nothing");
  c->add_option("--to-key-file", o->to_keys.key_file, "open the target with this key file (or CAIRN_TO_KEY_FILE)");
  c->add_option("--to-password-file", o->to_keys.password_file,
                "read the target's password from FILE (or CAIRN_TO_PASSWORD_FILE)");
  c->add_option("--to-password-command", o->to_keys.password_command,
                "run CMD for the target's password (or CAIRN_TO_PASSWORD_COMMAND)");
  c->callback([&ctx, action, o] { *action = [&ctx, o] { return RunCopy(ctx, *o); }; });
}

}  // namespace cairn::cli
