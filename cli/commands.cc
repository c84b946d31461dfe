// SPDX-License-Identifier: MIT
//
// The two entry points app.cc calls: they register every command, in the
// order `cairn --help` lists them. The commands themselves are in
// cli/cmd_*.cc.

#include "cli/commands.h"

namespace cairn::cli {

void RegisterCoreCommands(CLI::App& app, Context& ctx, Action* action) {
  RegisterInit(app, ctx, action);
  RegisterBackup(app, ctx, action);
  RegisterLog(app, ctx, action);
  RegisterSnapshots(app, ctx, action);
  RegisterLs(app, ctx, action);
  RegisterCat(app, ctx, action);
  RegisterRestore(app, ctx, action);
  RegisterRun(app, ctx, action);
  RegisterCheck(app, ctx, action);
  RegisterStats(app, ctx, action);
  RegisterLifecycle(app, ctx, action);
  RegisterKey(app, ctx, action);
  RegisterDestroy(app, ctx, action);
  RegisterCopy(app, ctx, action);
  RegisterBundle(app, ctx, action);
  RegisterMount(app, ctx, action);
  RegisterGit(app, ctx, action);
}

void RegisterGraphCommands(CLI::App& app, Context& ctx, Action* action) {
  RegisterTag(app, ctx, action);
  RegisterBranch(app, ctx, action);
  RegisterShow(app, ctx, action);
  RegisterDiff(app, ctx, action);
  RegisterRevParse(app, ctx, action);
  RegisterCatFile(app, ctx, action);
  RegisterLsTree(app, ctx, action);
  RegisterHashObject(app, ctx, action);
}

}  // namespace cairn::cli
