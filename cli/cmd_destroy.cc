// SPDX-License-Identifier: MIT
//
// destroy: removes a whole repository (repo/destroy.h), risk critical.

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "objstore/core/io.h"
#include "repo/destroy.h"
#include "repo/location.h"

namespace cairn::cli {
namespace {

using nlohmann::json;

struct DestroyCmd {
  std::string audit_out;
  ApprovalFlags approval;
};

// A folder a destroy killed in its last step left (key slots only):
// removed, said, exit 0. Returns -1 when `location` is not such a remnant.
int FinishRemnant(Context& ctx) {
  auto spec = repo::RepositoryFromFlagOrEnv(ctx.g().repo);
  if (!spec.ok()) return -1;
  auto loc = repo::ParseLocation(*spec);
  if (!loc.ok()) return -1;
  auto backend = repo::MakeBackend(*loc);
  if (!backend.ok()) return -1;
  uint64_t n = 0;
  if (!repo::DestroyRemnant(backend->get(), &n).ok()) return -1;
  if (ctx.g().json) {
    std::cout << Dump(json{{"destroyed", *spec}, {"remnant", true}, {"objects", n}}) << "\n";
  } else if (!ctx.g().quiet) {
    std::printf("removed what an interrupted destroy left at %s (%llu key slot and lock files)\n", spec->c_str(),
                static_cast<unsigned long long>(n));
  }
  return kExitOk;
}

// The whole audit log, as `audit export` writes it, fsynced into `file`.
Status ExportAudit(const repo::Repository& r, const std::string& file) {
  CAIRN_ASSIGN_OR_RETURN(repo::AuditReport rep, repo::ReadAudit(r));
  std::string text;
  for (const auto& rec : rep.records) text += Dump(rec.entry) + "\n";
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::FromErrno(errno, "cannot create '" + file + "'");
  Status st = WriteAll(fd, text, "'" + file + "'");
  if (st.ok() && ::fsync(fd) != 0) st = Status::FromErrno(errno, "cannot fsync '" + file + "'");
  ::close(fd);
  return st;
}

int RunDestroy(Context& ctx, const DestroyCmd& o) {
  auto opened = ctx.Open();
  if (!opened.ok()) {
    if (opened.status().IsNotFound()) {
      if (int code = FinishRemnant(ctx); code >= 0) return code;
    }
    return ctx.OpenFailed(opened.status());
  }
  repo::Repository& r = **opened;
  const std::string location = r.location();
  auto inv = repo::InventoryForDestroy(r);
  if (!inv.ok()) return ctx.Fail(inv.status());
  repo::Operation op{"destroy the repository at '" + location + "'",
                     "  removes " + std::to_string(inv->snapshots) + " snapshot(s), " +
                         std::to_string(inv->branches) + " branch(es), " + std::to_string(inv->tags) +
                         " tag(s) and every other object (" + std::to_string(inv->objects) + " objects, " +
                         HumanBytes(inv->bytes) + "), the audit log included; nothing can be recovered",
                     repo::Risk::kCritical, "destroy"};
  op.affected = {{"repository", r.config().repo_id.ToHex()},
                 {"location", location},
                 {"snapshots", inv->snapshots},
                 {"objects", inv->objects},
                 {"bytes", inv->bytes},
                 {"content_hash", inv->content_hash}};
  TerminalApprover approver(ctx, r, o.approval);
  if (Status st = repo::RequireApproval(&approver, op); !st.ok()) return ctx.Fail(st);

  // The log goes with the repository: the entry is written first, and
  // --audit-out keeps the whole log, this entry included, outside it.
  ctx.audit().snapshots.clear();
  auto rec = ctx.AppendAuditNow("started", nullptr);
  if (!rec.ok()) ctx.Warn("this destroy was not recorded in the audit log: " + rec.status().message());
  if (!o.audit_out.empty()) {
    if (Status st = ExportAudit(r, o.audit_out); !st.ok()) {
      return ctx.Fail(Status::IOError("cannot keep the audit log in '" + o.audit_out + "' (" + st.message() +
                                      "); nothing was removed"));
    }
  }
  ctx.audit().skip = true;
  if (Context::applying != nullptr) Context::applying->destroyed = true;

  repo::DestroyOptions dopts;
  dopts.on_message = [&ctx](const std::string& m) { ctx.Warn(m); };
  uint64_t done_now = 0, total_now = 0;
  dopts.progress = [&](uint64_t done, uint64_t total) {
    done_now = done;
    total_now = total;
  };
  repo::DestroyInventory removed;
  Status st;
  {
    ProgressLine line(ctx.Progress(), [&] {
      return "destroy: " + std::to_string(done_now) + "/" + std::to_string(total_now) + " objects removed";
    });
    st = repo::DestroyRepository(&r, dopts, &removed);
  }
  if (!st.ok()) {
    if (removed.objects == 0) {
      // Nothing removed (a backup was running): the log says so.
      ctx.audit().skip = false;
      if (Context::applying != nullptr) Context::applying->destroyed = false;
      return ctx.Fail(st);
    }
    return ctx.Fail(st.WithContext("destroy stopped after removing " + std::to_string(removed.objects) +
                                   " objects; run 'cairn destroy' again to finish"));
  }
  if (ctx.g().json) {
    std::cout << Dump(json{{"destroyed", location},
                           {"repository", r.config().repo_id.ToHex()},
                           {"snapshots", removed.snapshots},
                           {"branches", removed.branches},
                           {"tags", removed.tags},
                           {"objects", removed.objects},
                           {"bytes", removed.bytes},
                           {"audit_out", o.audit_out.empty() ? json(nullptr) : json(o.audit_out)}})
              << "\n";
  } else if (!ctx.g().quiet) {
    std::printf("destroyed the repository at %s: %llu snapshot(s), %llu objects, %s removed\n", location.c_str(),
                static_cast<unsigned long long>(removed.snapshots), static_cast<unsigned long long>(removed.objects),
                HumanBytes(removed.bytes).c_str());
  }
  return kExitOk;
}

}  // namespace

void RegisterDestroy(CLI::App& app, Context& ctx, Action* action) {
  auto d = std::make_shared<DestroyCmd>();
  auto* c = app.add_subcommand("destroy", "remove the whole repository, every snapshot and object (risk critical)");
  c->add_option("--audit-out", d->audit_out, "first keep the audit log, this destroy's entry included, in FILE");
  AddApprovalFlags(c, &d->approval);
  c->callback([&ctx, action, d] { *action = [&ctx, d] { return RunDestroy(ctx, *d); }; });
}

}  // namespace cairn::cli
