// SPDX-License-Identifier: MIT
//
// cli::Run: the one place where the command line is parsed and where
// exceptions of CLI11 are caught.

#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include "cli/cli.h"
#include "cli/context.h"
#include "cli/docgen.h"
#include "cli/usage.h"
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
  auto r = repo::Repository::Open(location, MakeKeyAccess(g_->keys));
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

namespace {

// "option '--threads': 'x' is not ..." and friends: CLI11's texts that name
// its internals, said plainly. Anything else passes through, its first word
// after "NAME: " in lower case.
std::string Reword(const CLI::ParseError& e, const CLI::App& app, const ArgScan& scan) {
  const CLI::App& at = *scan.path.back();
  std::smatch m;
  const std::string what = e.what();
  if (dynamic_cast<const CLI::ExtrasError*>(&e) != nullptr) {
    if (!scan.unknown_options.empty()) {
      return UnknownOptionMessage(*scan.unknown_options[0].second, scan.unknown_options[0].first);
    }
    std::vector<std::string> extra = app.remaining(true);
    std::string list;
    for (const auto& x : extra) list += (list.empty() ? "'" : ", '") + x + "'";
    const std::string where = CommandPath(at).empty() ? "" : " for 'cairn " + CommandPath(at) + "'";
    if (!extra.empty()) return std::string(extra.size() > 1 ? "too many arguments" : "unexpected argument") + where + ": " + list;
  }
  static const std::regex kMissingValue(R"(^(\S+): (\d+) required (\S+) missing$)");
  if (std::regex_match(what, m, kMissingValue)) {
    const std::string name = m[1];
    if (name.rfind('-', 0) == 0) return "option '" + name + "' needs a value";
    return "missing " + name;
  }
  static const std::regex kConversion(R"(^Could not convert: (\S+) = (.*)$)");
  if (std::regex_match(what, m, kConversion)) {
    const std::string name = m[1];
    std::string expected;
    if (const CLI::Option* o = FindOption(at, name); o != nullptr) {
      const std::string t = o->get_type_name();
      expected = t == "UINT" ? "a whole number" : t == "INT" ? "a whole number" : t == "FLOAT" ? "a number" : t;
    }
    return "invalid value '" + std::string(m[2]) + "' for " + name + (expected.empty() ? "" : ": expected " + expected);
  }
  static const std::regex kCapitalised(R"(^(\S+): ([A-Z])([a-z].*)$)");
  if (std::regex_match(what, m, kCapitalised)) {
    return std::string(m[1]) + ": " + static_cast<char>(std::tolower(static_cast<unsigned char>(m[2].str()[0]))) +
           std::string(m[3]);
  }
  return what;
}

int Emit(Context& ctx, const std::string& text, const std::string& path) {
  if (path.empty()) {
    std::cout << text << std::flush;
    return std::cout ? static_cast<int>(kExitOk) : ctx.Fail(Status::IOError("cannot write to stdout"));
  }
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f << text;
    f.close();
    if (!f) return ctx.Fail(Status::IOError("cannot write '" + tmp + "'"));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return ctx.Fail(Status::FromErrno(errno, "rename to '" + path + "'"));
  return kExitOk;
}

}  // namespace

int Run(int argc, char** argv) {
  Global g;
  Context ctx(&g);
  CLI::App app{"cairn: a content-addressed versioning and backup store"};
  app.name("cairn");
  app.set_help_flag("-h,--help", "show this help");
  app.set_version_flag("--version",
                       std::string("cairn ") + kVersion + " (repository format " +
                           std::to_string(objstore::kFormatVersion) + ")",
                       "print the version and exit");
  app.require_subcommand(1);
  app.fallthrough();
  app.add_option("-r,--repo", g.repo, "repository path (default: $CAIRN_REPO)");
  app.add_flag("--json", g.json, "print one JSON document on stdout");
  app.add_flag("-v,--verbose", g.verbose, "say more");
  app.add_flag("-q,--quiet", g.quiet, "say only what went wrong");
  app.add_option("--key-file", g.keys.key_file, "open (or create) an encrypted repository with this key file "
                                                "(default: $CAIRN_KEY_FILE)");
  app.add_option("--password-file", g.keys.password_file, "read the repository password from FILE");
  app.add_option("--password-command", g.keys.password_command,
                 "run CMD (with sh -c) and read the repository password from its output");

  // A usage error: one line, exit 2; on a terminal a second line that says
  // where the usage is (docs/cli.md#exit-codes).
  bool json_given = false;
  auto usage = [&](const std::string& msg, const CLI::App& at) {
    g.json = g.json || json_given;
    const int code = ctx.Fail(Status::InvalidArgument(msg), kExitUsage);
    if (::isatty(STDERR_FILENO)) {
      const std::string path = CommandPath(at);
      std::fprintf(stderr, "Run 'cairn help%s' for usage.\n", path.empty() ? "" : (" " + path).c_str());
    }
    return code;
  };

  Action action;
  RegisterCoreCommands(app, ctx, &action);
  RegisterGraphCommands(app, ctx, &action);

  auto topic = std::make_shared<std::vector<std::string>>();
  auto* c_help = app.add_subcommand("help", "list the commands, or show the arguments and options of one");
  c_help->add_option("command", *topic, "COMMAND [SUBCOMMAND]: the command to explain");
  c_help->callback([&, topic] {
    action = [&, topic] {
      const CLI::App* cur = &app;
      for (const auto& w : *topic) {
        const CLI::App* next = nullptr;
        for (const CLI::App* s : Subcommands(*cur, true)) {
          if (s->check_name(w)) next = s;
        }
        if (next == nullptr) return usage(UnknownCommandMessage(*cur, w), *c_help);
        cur = next;
      }
      return Emit(ctx, cur == &app ? CommandList(app) : CommandHelp(*cur), "");
    };
  });

  // Hidden: what the build runs to make the completion scripts and the man page.
  auto completion = std::make_shared<std::pair<std::string, std::string>>();
  auto* c_completion = app.add_subcommand("completion", "print a shell completion script (bash or zsh)");
  c_completion->group("");
  c_completion->add_option("shell", completion->first, "bash or zsh")->required();
  c_completion->add_option("-o,--output", completion->second, "write it to FILE instead of stdout");
  c_completion->callback([&, completion] {
    action = [&, completion] {
      if (completion->first == "bash") return Emit(ctx, BashCompletion(app), completion->second);
      if (completion->first == "zsh") return Emit(ctx, ZshCompletion(app), completion->second);
      return usage("no completion for shell '" + completion->first + "'; there is one for bash and one for zsh",
                   *c_completion);
    };
  });
  auto man_out = std::make_shared<std::string>();
  auto* c_man = app.add_subcommand("man", "print the man page cairn(1) as roff");
  c_man->group("");
  c_man->add_option("-o,--output", *man_out, "write it to FILE instead of stdout");
  c_man->callback([&, man_out] { action = [&, man_out] { return Emit(ctx, ManPage(app, kVersion), *man_out); }; });

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

  // Unknown commands and missing subcommands are found before CLI11 parses:
  // it would only say "A subcommand is required".
  const ArgScan scan = ScanArgs(app, std::vector<std::string>(argv + 1, argv + argc));
  json_given = scan.json;
  const CLI::App& at = *scan.path.back();
  if (!scan.unknown_command.empty()) return usage(UnknownCommandMessage(at, scan.unknown_command), at);
  if (!scan.help && !scan.version && !scan.dangling && at.get_require_subcommand_min() > 0) {
    if (scan.path.size() == 1) {
      // Like git: the command list, on stderr.
      std::cerr << CommandList(app);
      return kExitUsage;
    }
    std::string names;
    for (const CLI::App* s : Subcommands(at)) {
      names += (names.empty() ? "" : ", ") + ("cairn " + CommandPath(at) + " " + s->get_name());
    }
    return usage("'cairn " + CommandPath(at) + "' needs a command: " + names, at);
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    if (app.get_subcommands().empty()) return Emit(ctx, CommandList(app), "");
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return usage(Reword(e, app, scan), at);
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
