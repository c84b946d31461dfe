// SPDX-License-Identifier: MIT
//
// init: create a repository.

#include <cstdlib>
#include <iostream>

#include "cli/commands.h"
#include "repo/location.h"

namespace cairn::cli {
namespace {

using nlohmann::json;
using objstore::EntryType;
using objstore::TreeEntry;
using repo::Repository;

// --- init ---

struct InitOptions {
  std::string path;
  int level = 3;
  uint32_t avg_chunk = 0;
};

int RunInit(Context& ctx, const InitOptions& o) {
  auto where = repo::RepositoryFromFlagOrEnv(o.path.empty() ? ctx.g().repo : o.path);
  if (!where.ok()) return ctx.Fail(Status::InvalidArgument("init needs a path: cairn init PATH"));
  const std::string& path = *where;
  auto cfg = objstore::NewRepoConfig();
  cfg.compression_level = o.level;
  if (o.avg_chunk != 0) {
    auto params = objstore::ChunkerParamsForAverage(o.avg_chunk, cfg.chunker);
    if (!params.ok()) return ctx.Fail(params.status());
    cfg.chunker = *params;
  }
  Status st = Repository::Init(path, cfg);
  if (!st.ok()) return ctx.Fail(st);
  if (ctx.g().json) {
    std::cout << Dump(json{{"repository", path}, {"id", cfg.repo_id.ToHex()}, {"format", cfg.format}}) << "\n";
  } else if (!ctx.g().quiet) {
    std::cout << "created cairn repository " << cfg.repo_id.ShortHex() << " at " << path << "\n";
  }
  return kExitOk;
}

}  // namespace

void RegisterInit(CLI::App& app, Context& ctx, Action* action) {
  auto init = std::make_shared<InitOptions>();
  auto* c_init = app.add_subcommand("init", "create a repository");
  c_init->add_option("PATH", init->path, "where to create it (default: -r or $CAIRN_REPO)");
  c_init->add_option("--compression-level", init->level, "zstd level 0-19 (0: store raw)")->check(CLI::Range(0, 19));
  c_init->add_option("--avg-chunk", init->avg_chunk, "average chunk size in bytes (power of two)");
  c_init->callback([&ctx, action, init] { *action = [&ctx, init] { return RunInit(ctx, *init); }; });
}

}  // namespace cairn::cli
