// SPDX-License-Identifier: MIT
//
// The commands, one file or a small group per file (cli/cmd_*.cc). Each
// has an options struct, a Register function that adds its flags to CLI11,
// and a Run function that does the work through the library and renders
// the result. This header contains definitions that shall only be used by
// modules within cli/.

#pragma once

#include <CLI/CLI.hpp>

#include "cli/cmd_common.h"
#include "cli/context.h"
#include "cli/output.h"

namespace cairn::cli {

void RegisterInit(CLI::App& app, Context& ctx, Action* action);        // cmd_init.cc
void RegisterBackup(CLI::App& app, Context& ctx, Action* action);      // cmd_backup.cc
void RegisterLog(CLI::App& app, Context& ctx, Action* action);         // cmd_log.cc
void RegisterShow(CLI::App& app, Context& ctx, Action* action);        // cmd_log.cc
void RegisterSnapshots(CLI::App& app, Context& ctx, Action* action);   // cmd_log.cc
void RegisterLs(CLI::App& app, Context& ctx, Action* action);          // cmd_tree.cc
void RegisterCat(CLI::App& app, Context& ctx, Action* action);         // cmd_tree.cc
void RegisterCatFile(CLI::App& app, Context& ctx, Action* action);     // cmd_tree.cc
void RegisterLsTree(CLI::App& app, Context& ctx, Action* action);      // cmd_tree.cc
void RegisterRestore(CLI::App& app, Context& ctx, Action* action);     // cmd_restore.cc: restore, rollback
void RegisterRun(CLI::App& app, Context& ctx, Action* action);         // cmd_run.cc
void RegisterCheck(CLI::App& app, Context& ctx, Action* action);       // cmd_check.cc: check, repair
void RegisterStats(CLI::App& app, Context& ctx, Action* action);       // cmd_stats.cc
void RegisterKey(CLI::App& app, Context& ctx, Action* action);
void RegisterDestroy(CLI::App& app, Context& ctx, Action* action);     // cmd_destroy.cc         // cmd_key.cc: key, show-config
void RegisterLifecycle(CLI::App& app, Context& ctx, Action* action);   // cmd_lifecycle.cc: forget, delete, trash, undelete, policy, prune
void RegisterTag(CLI::App& app, Context& ctx, Action* action);         // cmd_refs.cc
void RegisterBranch(CLI::App& app, Context& ctx, Action* action);      // cmd_refs.cc
void RegisterDiff(CLI::App& app, Context& ctx, Action* action);        // cmd_diff.cc
void RegisterCopy(CLI::App& app, Context& ctx, Action* action);        // cmd_copy.cc: copy, archive
void RegisterBundle(CLI::App& app, Context& ctx, Action* action);      // cmd_bundle.cc
void RegisterRevParse(CLI::App& app, Context& ctx, Action* action);    // cmd_plumbing.cc
void RegisterHashObject(CLI::App& app, Context& ctx, Action* action);  // cmd_plumbing.cc
void RegisterMount(CLI::App& app, Context& ctx, Action* action);       // cmd_mount.cc
void RegisterGit(CLI::App& app, Context& ctx, Action* action);         // cmd_git.cc: git export, import, map

}  // namespace cairn::cli
