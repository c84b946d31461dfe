// SPDX-License-Identifier: MIT
//
// stats: sizes of the repository as a whole (deduplication, compression)
// and, per snapshot, what it references, what it holds alone ("freed if
// deleted") and what it shares, from the reference counts of the local
// index (repo/space.h), without reading packs once they are up to date.

#include <cstdio>
#include <iostream>
#include <set>

#include "cli/commands.h"
#include "repo/check.h"
#include "repo/space.h"

namespace cairn::cli {
namespace {

using nlohmann::json;
using repo::Repository;
using repo::SpaceReport;

struct StatsCmd {
  std::vector<std::string> snapshots;
  bool per_snapshot = false;
};

struct Row {
  ObjectId id;
  objstore::Snapshot snap;
  SpaceReport exclusive, referenced;
};

std::string Ratio(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f", v);
  return buf;
}

int RunStats(Context& ctx, const StatsCmd& o) {
  CAIRN_OPEN_OR_FAIL(ctx, r);
  // The snapshots to report on, named ones first so a typo fails before
  // anything is counted.
  std::vector<ObjectId> chosen;
  std::set<ObjectId> chosen_set;
  for (const auto& rev : o.snapshots) {
    auto id = r.ResolveRevision(rev);
    if (!id.ok()) return ctx.Fail(id.status());
    if (chosen_set.insert(*id).second) chosen.push_back(*id);
  }
  auto s = repo::ComputeStats(&r);
  if (!s.ok()) return ctx.Fail(s.status());
  auto roots = repo::DataRoots(r);
  if (!roots.ok()) return ctx.Fail(roots.status());
  Status st = repo::SyncSpace(r, *roots);
  if (!st.ok()) return ctx.Fail(st);
  auto referenced = repo::ReferencedSpace(r);
  if (!referenced.ok()) return ctx.Fail(referenced.status());
  SpaceReport unreferenced;
  st = repo::ForEachUnreferenced(r, [&](const ObjectId&, const index::BlobLocation& loc) {
    unreferenced.blobs++;
    unreferenced.bytes += loc.entry.stored_length;
    (loc.entry.type == objstore::BlobType::kTree ? unreferenced.trees : unreferenced.chunks)++;
  });
  if (!st.ok()) return ctx.Fail(st);

  std::vector<Row> rows;
  if (chosen.empty() && o.per_snapshot) {
    auto all = r.ListSnapshots();
    if (!all.ok()) return ctx.Fail(all.status());
    for (auto& [id, snap] : *all) rows.push_back(Row{id, std::move(snap), {}, {}});
  } else {
    for (const auto& id : chosen) {
      auto snap = r.ReadSnapshot(id);
      if (!snap.ok()) return ctx.Fail(snap.status());
      rows.push_back(Row{id, std::move(snap).value(), {}, {}});
    }
  }
  for (auto& row : rows) {
    auto ex = repo::ExclusiveSpace(r, {row.id});
    if (!ex.ok()) return ctx.Fail(ex.status());
    auto ref = repo::SnapshotSpace(r, row.id);
    if (!ref.ok()) return ctx.Fail(ref.status());
    row.exclusive = *ex;
    row.referenced = *ref;
  }
  // Several named snapshots: also what deleting them all would free, which
  // is more than the sum of their own exclusive bytes when they share data
  // only with each other.
  std::optional<SpaceReport> together;
  if (chosen.size() > 1) {
    auto t = repo::ExclusiveSpace(r, chosen);
    if (!t.ok()) return ctx.Fail(t.status());
    together = *t;
  }

  double dedup = s->unique_raw_bytes ? static_cast<double>(s->logical_bytes) / static_cast<double>(s->unique_raw_bytes) : 0;
  double comp = s->stored_blob_bytes ? static_cast<double>(s->unique_raw_bytes) / static_cast<double>(s->stored_blob_bytes) : 0;
  if (ctx.g().json) {
    json j{{"snapshots", s->snapshots}, {"logical_bytes", s->logical_bytes},
           {"unique_bytes", s->unique_raw_bytes}, {"stored_bytes", s->stored_blob_bytes},
           {"pack_bytes", s->pack_bytes}, {"repository_bytes", s->repo_bytes}, {"chunks", s->chunks},
           {"trees", s->trees}, {"packs", s->packs}, {"dedup_ratio", dedup}, {"compression_ratio", comp},
           {"referenced_bytes", referenced->bytes}, {"referenced_blobs", referenced->blobs},
           {"unreferenced_bytes", unreferenced.bytes}, {"unreferenced_blobs", unreferenced.blobs}};
    json arr = json::array();
    for (const auto& row : rows) {
      arr.push_back(json{{"id", row.id.ToHex()},
                         {"short_id", row.id.ShortHex()},
                         {"time", IsoTimeNs(row.snap.time_ns)},
                         {"branch", row.snap.branch},
                         {"files", row.snap.stats.files},
                         {"bytes", row.snap.stats.bytes},
                         {"added_bytes", row.snap.stats.added_bytes},
                         {"exclusive_bytes", row.exclusive.bytes},
                         {"exclusive_blobs", row.exclusive.blobs},
                         {"shared_bytes", row.referenced.bytes - row.exclusive.bytes},
                         {"referenced_bytes", row.referenced.bytes},
                         {"referenced_blobs", row.referenced.blobs}});
    }
    j["per_snapshot"] = arr;
    if (together) {
      json ids = json::array();
      for (const auto& id : chosen) ids.push_back(id.ToHex());
      j["together"] = json{{"snapshots", ids}, {"exclusive_bytes", together->bytes},
                           {"exclusive_blobs", together->blobs}};
    }
    std::cout << Dump(j) << "\n";
    return kExitOk;
  }
  if (!rows.empty()) {
    std::printf("%-12s  %-19s  %9s  %11s  %11s  %11s  %11s  %11s\n", "ID", "TIME", "FILES", "LOGICAL", "ADDED",
                "EXCLUSIVE", "SHARED", "REFERENCED");
    for (const auto& row : rows) {
      std::printf("%-12s  %-19s  %9llu  %11s  %11s  %11s  %11s  %11s\n", row.id.ShortHex().c_str(),
                  FormatTimeNs(row.snap.time_ns).c_str(), static_cast<unsigned long long>(row.snap.stats.files),
                  HumanBytes(row.snap.stats.bytes).c_str(), HumanBytes(row.snap.stats.added_bytes).c_str(),
                  HumanBytes(row.exclusive.bytes).c_str(),
                  HumanBytes(row.referenced.bytes - row.exclusive.bytes).c_str(),
                  HumanBytes(row.referenced.bytes).c_str());
    }
    if (together) {
      std::printf("deleting these %zu snapshots together would free %s (%llu blobs)\n", chosen.size(),
                  HumanBytes(together->bytes).c_str(), static_cast<unsigned long long>(together->blobs));
    }
    std::cout << "\n";
  }
  std::cout << "snapshots:          " << s->snapshots << "\n"
            << "logical bytes:      " << HumanBytes(s->logical_bytes) << " (file content over all snapshots)\n"
            << "unique bytes:       " << HumanBytes(s->unique_raw_bytes) << " (" << s->chunks << " chunks, "
            << s->trees << " trees)\n"
            << "stored bytes:       " << HumanBytes(s->stored_blob_bytes) << " (in " << s->packs << " packs)\n"
            << "referenced:         " << HumanBytes(referenced->bytes) << " (" << referenced->blobs
            << " blobs that snapshots use)\n"
            << "unreferenced:       " << HumanBytes(unreferenced.bytes) << " (" << unreferenced.blobs
            << " blobs that no snapshot uses)\n"
            << "repository size:    " << HumanBytes(s->repo_bytes) << " (" << HumanBytes(s->pack_bytes)
            << " of packs)\n"
            << "dedup ratio:        " << Ratio(dedup) << "\n"
            << "compression ratio:  " << Ratio(comp) << "\n";
  return kExitOk;
}

}  // namespace

void RegisterStats(CLI::App& app, Context& ctx, Action* action) {
  auto o = std::make_shared<StatsCmd>();
  auto* c = app.add_subcommand("stats", "sizes, deduplication, compression, and each snapshot's exclusive and shared bytes");
  c->add_option("SNAPSHOT", o->snapshots, "SNAPSHOT... (revisions) to report on");
  c->add_flag("--per-snapshot", o->per_snapshot, "report on every snapshot");
  c->callback([&ctx, action, o] { *action = [&ctx, o] { return RunStats(ctx, *o); }; });
}

}  // namespace cairn::cli
