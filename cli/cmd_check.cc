// SPDX-License-Identifier: MIT
//
// check and repair: verifying the repository, and rebuilding derived data
// (stats, which measures it, is in cmd_stats.cc).

#include <atomic>
#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "repo/check.h"

namespace cairn::cli {
namespace {

using nlohmann::json;
using objstore::EntryType;
using objstore::TreeEntry;
using repo::Repository;

// --- check ---

struct CheckCmd {
  bool read_data = false;
  std::string subset;
};

int RunCheck(Context& ctx, const CheckCmd& o) {
  repo::CheckOptions opts;
  if (!o.subset.empty()) {
    auto subset = repo::ParseDataSubset(o.subset);
    if (!subset.ok()) return ctx.Fail(subset.status());
    opts.subset = *subset;
  }
  const bool read_data = o.read_data || !o.subset.empty();
  CAIRN_OPEN_OR_FAIL(ctx, r);
  std::atomic<uint64_t> done{0};
  opts.read_data = read_data;
  opts.packs_done = &done;
  Result<repo::CheckReport> rep = Status::IOError("not run");
  {
    ProgressLine line(ctx.Progress() && read_data, [&] { return "check: " + std::to_string(done.load()) + " packs read"; });
    rep = repo::Check(&r, opts);
  }
  if (!rep.ok()) return ctx.Fail(rep.status());
  for (const auto& w : rep->warnings) ctx.Warn(w);
  for (const auto& e : rep->errors) std::fprintf(stderr, "cairn: error: %s\n", OneLine(e).c_str());
  if (ctx.g().json) {
    json j{{"ok", rep->errors.empty()}, {"errors", rep->errors}, {"warnings", rep->warnings},
           {"packs", rep->packs}, {"index_files", rep->index_files}, {"snapshots", rep->snapshots},
           {"trees", rep->trees}, {"blobs_read", rep->blobs}, {"bytes_read", rep->bytes_read},
           {"read_data", read_data}, {"packs_read", rep->packs_read}, {"unindexed_packs", rep->unindexed_packs},
           {"unreachable_snapshots", rep->unreachable_snapshots},
           {"trashed_snapshots", rep->trashed},
           {"temporaries", rep->temporaries}, {"temporary_bytes", rep->temporary_bytes}};
    std::cout << Dump(j) << "\n";
  } else if (!ctx.g().quiet) {
    std::cout << "checked " << rep->packs << " packs, " << rep->index_files << " index files, "
              << rep->snapshots << " snapshots, " << rep->trees << " trees";
    if (read_data) {
      std::cout << ", read " << rep->packs_read << " of " << rep->packs << " packs and " << rep->blobs << " blobs ("
                << HumanBytes(rep->bytes_read) << ")";
    }
    std::cout << ": " << (rep->errors.empty() ? "no errors found" : std::to_string(rep->errors.size()) + " error(s) found")
              << "\n";
  }
  return rep->errors.empty() ? kExitOk : kExitDamaged;
}

// --- repair index ---

int RunRepairIndex(Context& ctx, const ApprovalFlags& af) {
  CAIRN_OPEN_OR_FAIL(ctx, r);
  repo::Operation op{"rebuild the index from the packs",
                     "  every pack is read and verified; one new index file replaces the old ones",
                     repo::Risk::kMedium, "repair index"};
  TerminalApprover approver(ctx, r, af);
  if (Status st = repo::RequireApproval(&approver, op); !st.ok()) return ctx.Fail(st);
  std::vector<std::string> problems;
  size_t packs = 0, blobs = 0;
  Status st = r.RebuildIndexFromPacks(&problems, &packs, &blobs);
  if (!st.ok()) return ctx.Fail(st);
  for (const auto& p : problems) ctx.Warn(p);
  if (ctx.g().json) {
    std::cout << Dump(json{{"packs", packs}, {"blobs", blobs}, {"problems", problems}}) << "\n";
  } else if (!ctx.g().quiet) {
    std::cout << "rebuilt the index from " << packs << " packs (" << blobs << " blobs)";
    if (!problems.empty()) std::cout << "; " << problems.size() << " damaged pack(s) left out";
    std::cout << "\n";
  }
  return problems.empty() ? kExitOk : kExitDamaged;
}

}  // namespace

void RegisterCheck(CLI::App& app, Context& ctx, Action* action) {
  auto check = std::make_shared<CheckCmd>();
  auto* c_check = app.add_subcommand("check", "verify the repository");
  c_check->add_flag("--read-data", check->read_data, "also read every pack and re-hash every object");
  c_check->add_option("--read-data-subset", check->subset,
                      "read only part of the packs: N/M (the N-th of M slices) or P% (a random share)");
  c_check->callback([&ctx, action, check] { *action = [&ctx, check] { return RunCheck(ctx, *check); }; });

  auto* c_repair = app.add_subcommand("repair", "rebuild derived data");
  c_repair->require_subcommand(1);  // "cairn repair" alone: app.cc names the commands
  auto* c_repair_index = c_repair->add_subcommand("index", "rebuild the index from the packs alone");
  auto af = std::make_shared<ApprovalFlags>();
  AddApprovalFlags(c_repair_index, af.get());
  c_repair_index->callback([&ctx, action, af] { *action = [&ctx, af] { return RunRepairIndex(ctx, *af); }; });
}

}  // namespace cairn::cli
