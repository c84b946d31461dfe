// SPDX-License-Identifier: MIT
//
// cli::Run: the one place where the command line is parsed and where
// exceptions of CLI11 are caught.

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "cli/cli.h"
#include "cli/context.h"
#include "objstore/config.h"
#include "repo/location.h"

namespace cairn::cli {

namespace {
constexpr const char* kVersion = "0.1.0";
}

int Context::Fail(const Status& st, int code) {
  if (code < 0) code = ExitCodeFor(st);
  std::fprintf(stderr, "cairn: %s\n", st.message().c_str());
  if (g_->json) {
    std::cout << Dump(nlohmann::json{{"error", {{"message", st.message()}, {"exit_code", code}}}}) << "\n";
  }
  return code;
}

void Context::Warn(const std::string& msg) {
  if (!g_->quiet) std::fprintf(stderr, "cairn: warning: %s\n", msg.c_str());
}

Result<std::unique_ptr<repo::Repository>> Context::Open() {
  CAIRN_ASSIGN_OR_RETURN(std::string location, repo::RepositoryFromFlagOrEnv(g_->repo));
  auto r = repo::Repository::Open(location);
  if (r.ok()) {
    for (const auto& w : (*r)->warnings()) Warn(w);
    (*r)->set_on_message([this](const std::string& m) { Warn(m); });
  }
  return r;
}

int Context::OpenFailed(const Status& st) { return Fail(st, st.IsNotFound() ? kExitNoRepo : ExitCodeFor(st)); }

bool TerminalApprover::Approve(const repo::Operation& op) {
  if (yes_) return true;
  if (!::isatty(STDIN_FILENO) || !::isatty(STDERR_FILENO)) return false;
  std::fprintf(stderr, "%s (risk: %s)\n%s\nProceed? [y/N] ", op.action.c_str(), repo::RiskName(op.risk),
               op.details.c_str());
  std::fflush(stderr);
  std::string answer;
  if (!std::getline(std::cin, answer)) return false;
  return answer == "y" || answer == "Y" || answer == "yes";
}

int Run(int argc, char** argv) {
  Global g;
  Context ctx(&g);
  CLI::App app{"cairn: a content-addressed versioning and backup store"};
  app.name("cairn");
  app.set_version_flag("--version", std::string("cairn ") + kVersion + " (repository format " +
                                        std::to_string(objstore::kFormatVersion) + ")");
  app.require_subcommand(1);
  app.fallthrough();
  app.add_option("-r,--repo", g.repo, "repository path (default: $CAIRN_REPO)");
  app.add_flag("--json", g.json, "print one JSON document on stdout");
  app.add_flag("-v,--verbose", g.verbose, "say more");
  app.add_flag("-q,--quiet", g.quiet, "say only what went wrong");

  Action action;
  RegisterCoreCommands(app, ctx, &action);
  RegisterGraphCommands(app, ctx, &action);
  auto* c_help = app.add_subcommand("help", "show help");
  c_help->callback([&] { action = [&] { std::cout << app.help(); return static_cast<int>(kExitOk); }; });

  // "--" ends the options and the revisions, as in git: what follows is
  // a list of paths. CLI11 would fold them into the positionals.
  for (int i = 1; i < argc; i++) {
    if (std::string(argv[i]) == "--") {
      for (int k = i + 1; k < argc; k++) g.paths.push_back(argv[k]);
      g.dashdash = true;
      argc = i;
      break;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "cairn: %s\nRun 'cairn --help' or 'cairn COMMAND --help' for usage.\n", e.what());
    return kExitUsage;
  }
  if (!action) return kExitUsage;
  try {
    return action();
  } catch (const std::exception& e) {
    // Nothing below cli/ throws; this is a bug, reported, never a crash.
    std::fprintf(stderr, "cairn: internal error: %s\n", e.what());
    return kExitFailure;
  }
}

}  // namespace cairn::cli
