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
#include "cli/cmd_common.h"
#include "cli/context.h"
#include "cli/docgen.h"
#include "cli/usage.h"
#include "index/index.h"
#include "objstore/config.h"
#include "objstore/core/system.h"
#include "repo/audit.h"
#include "repo/location.h"

namespace cairn::cli {


ApplyState* Context::applying = nullptr;

int Context::Fail(const Status& st, int code) {
  if (!audit_.plan_written.empty() && st.code() == Code::kNotApproved) {
    // --plan-out: the command stopped where it would have asked.
    if (g_->json) {
      std::cout << Dump(nlohmann::json{{"plan", audit_.plan_written}}) << "\n";
    } else if (!g_->quiet) {
      std::printf("plan written to %s: approve it with 'cairn approve %s', then run it with 'cairn apply %s'\n",
                  audit_.plan_written.c_str(), audit_.plan_written.c_str(), audit_.plan_written.c_str());
    }
    return kExitOk;
  }
  if (code < 0) code = ExitCodeFor(st);
  audit_.error = st.message();
  std::fprintf(stderr, "cairn: %s\n", OneLine(st.message()).c_str());
  if (g_->json) {
    std::cout << Dump(nlohmann::json{{"error", {{"message", st.message()}, {"exit_code", code}}}}) << "\n";
  }
  return code;
}

void Context::Warn(const std::string& msg) {
  if (!g_->quiet) std::fprintf(stderr, "cairn: warning: %s\n", OneLine(msg).c_str());
}

namespace {

// What a write-only host key may do: add backups and look at the list of
// snapshots, refs, its keys and the audit log (docs/security.md). Anything
// else would need to read chunks or trees, or to delete.
constexpr const char* kWriteOnlyCommands[] = {"backup",   "log",       "snapshots",    "rev-parse",
                                              "show-config", "key list", "audit log", "audit verify"};

bool WriteOnlyMayRun(const std::string& command) {
  for (const char* c : kWriteOnlyCommands) {
    if (command == c) return true;
  }
  return false;
}

std::string WriteOnlyCommands() {
  std::string out;
  for (const char* c : kWriteOnlyCommands) {
    if (!out.empty()) out += ", ";
    out += c;
  }
  return out;
}

}  // namespace

Result<repo::Repository*> Context::Open() {
  if (open_ != nullptr) return open_;
  if (applying != nullptr && applying->repo != nullptr) {
    open_ = applying->repo;
    return open_;
  }
  CAIRN_ASSIGN_OR_RETURN(std::string location, repo::RepositoryFromFlagOrEnv(g_->repo));
  auto r = repo::Repository::Open(location, MakeKeyAccess(g_->keys));
  if (!r.ok()) return r.status();
  if ((*r)->write_only() && !WriteOnlyMayRun(g_->command)) {
    return Status::WriteOnly("'cairn " + g_->command + "' needs a full key: the key in use (slot " + (*r)->key_slot() +
                             ") is write-only; it can run only " + WriteOnlyCommands());
  }
  for (const auto& w : (*r)->warnings()) Warn(w);
  (*r)->set_on_message([this](const std::string& m) { Warn(m); });
  repo_ = std::move(*r);
  open_ = repo_.get();
  return open_;
}

int Context::OpenFailed(const Status& st) { return Fail(st, st.IsNotFound() ? kExitNoRepo : ExitCodeFor(st)); }

Result<repo::ApprovalPolicy> Context::Policy(repo::Repository& r) {
  if (!policy_) {
    CAIRN_ASSIGN_OR_RETURN(repo::ApprovalPolicy p, repo::ReadApprovalPolicy(r));
    policy_ = p;
  }
  return *policy_;
}

namespace {

// Global options and what they take: a plan leaves them out (apply gives
// its own), the audit log hides the values of those that may hold a secret.
struct GlobalOption {
  const char* name;
  bool value;
  bool secret;
};
constexpr GlobalOption kGlobalOptions[] = {
    {"-r", true, false},         {"--repo", true, false},      {"--json", false, false},
    {"-v", false, false},        {"--verbose", false, false},  {"-q", false, false},
    {"--quiet", false, false},   {"--key-file", true, false},  {"--password-file", true, false},
    {"--password-command", true, true},
};
// Options of commands whose values may hold a secret (a password command
// may carry the password): the audit log hides them too.
constexpr GlobalOption kSecretCommandOptions[] = {{"--to-password-command", true, true},
                                                   {"--bundle-password-command", true, true}};

// Options of the approval step: not part of what a plan does.
constexpr GlobalOption kApprovalOptions[] = {{"--plan-out", true, false}, {"-y", false, false}, {"--yes", false, false}};

const GlobalOption* Match(const std::string& arg, bool approval, bool* inline_value) {
  auto try_list = [&](const GlobalOption* b, const GlobalOption* e) -> const GlobalOption* {
    for (const GlobalOption* o = b; o != e; ++o) {
      const std::string n = o->name;
      if (arg == n) {
        *inline_value = false;
        return o;
      }
      if (o->value && n.size() > 2 && arg.rfind(n + "=", 0) == 0) {
        *inline_value = true;
        return o;
      }
    }
    return nullptr;
  };
  if (const GlobalOption* o = try_list(std::begin(kGlobalOptions), std::end(kGlobalOptions))) return o;
  if (approval) return try_list(std::begin(kApprovalOptions), std::end(kApprovalOptions));
  return nullptr;
}

}  // namespace

std::vector<std::string> Context::PlanArgs() const {
  std::vector<std::string> out;
  const auto& a = g_->argv;
  bool in_command = false;  // past the command's first word
  for (size_t i = 0; i < a.size(); i++) {
    if (a[i] == "--") {
      out.insert(out.end(), a.begin() + static_cast<long>(i), a.end());
      break;
    }
    bool inline_value = false;
    const GlobalOption* o = Match(a[i], /*approval=*/true, &inline_value);
    // After the command word, --key-file may be the command's own (key add).
    if (o != nullptr && in_command && std::string(o->name) == "--key-file" && g_->command.rfind("key", 0) == 0) {
      o = nullptr;
    }
    if (o != nullptr) {
      if (o->value && !inline_value) i++;
      continue;
    }
    if (!a[i].empty() && a[i][0] != '-') in_command = true;
    out.push_back(a[i]);
  }
  return out;
}

std::vector<std::string> Context::AuditArgs() const {
  std::vector<std::string> out;
  const auto& a = g_->argv;
  for (size_t i = 0; i < a.size(); i++) {
    if (a[i] == "--") {
      out.insert(out.end(), a.begin() + static_cast<long>(i), a.end());
      break;
    }
    bool inline_value = false;
    const GlobalOption* o = Match(a[i], /*approval=*/false, &inline_value);
    for (const auto& c : kSecretCommandOptions) {
      const std::string n = c.name;
      if (o == nullptr && (a[i] == n || a[i].rfind(n + "=", 0) == 0)) {
        o = &c;
        inline_value = a[i] != n;
      }
    }
    if (o != nullptr && o->secret) {
      out.push_back(std::string(o->name) + "=(hidden)");
      if (!inline_value) i++;
      continue;
    }
    out.push_back(a[i]);
  }
  return out;
}

void Context::MarkStarted() {
  started_ns_ = NowNs();
  t0_ = std::chrono::steady_clock::now();
}

void Context::FinishAudit(int exit_code) {
  if (open_ == nullptr || audit_.skip) return;
  repo::Repository& r = *open_;
  std::string op = audit_.operation.empty() ? g_->command : audit_.operation;
  const repo::OperationInfo* info = repo::FindOperation(op);
  bool changes = info == nullptr || info->changes;
  if (audit_.read_only) changes = false;
  if (!changes) {
    auto pol = Policy(r);
    if (!pol.ok() || !pol->audit_reads) return;
  }
  std::string result = exit_code == kExitOk ? "ok" : exit_code == kExitNotApproved ? "refused" : "failed";
  if (!audit_.plan_written.empty()) result = "planned";
  if (exit_code == kExitPartial) result = "partial";
  auto rec = AppendAuditNow(result, exit_code);
  if (rec.ok()) return;
  // A repository on a read-only mount: a read works and says that it
  // could not be recorded; a change has already failed for that reason,
  // on one line.
  const bool read_only = ::access(r.location().c_str(), W_OK) != 0 && errno == EROFS;
  if (read_only && exit_code != kExitOk) return;
  Warn("this " + op + " was not recorded in the audit log: " +
       (read_only ? "the repository is on a read-only file system" : rec.status().message()));
}

Result<repo::AuditRecord> Context::AppendAuditNow(const std::string& result, const nlohmann::json& exit_code) {
  if (open_ == nullptr) return Status::InvalidArgument("no repository is open");
  return AppendAuditTo(*open_, result, exit_code, audit_);
}

Result<repo::AuditRecord> Context::AppendAuditTo(repo::Repository& r, const std::string& result,
                                                 const nlohmann::json& exit_code, const AuditInfo& a) {
  std::string op = a.operation.empty() ? g_->command : a.operation;
  const repo::OperationInfo* info = repo::FindOperation(op);
  const repo::Risk risk = a.risk ? *a.risk : info != nullptr ? info->risk : repo::Risk::kMedium;
  nlohmann::json e{{"time_ns", started_ns_},
                   {"host", HostName()},
                   {"user", repo::AccountName()},
                   {"key_slot", r.key_slot()},
                   {"operation", op},
                   {"args", AuditArgs()},
                   {"risk", repo::RiskName(risk)},
                   {"approval", a.approval.is_null() ? nlohmann::json{{"how", "none"}} : a.approval},
                   {"result", result},
                   {"exit_code", exit_code},
                   {"snapshots", a.snapshots},
                   {"bytes", a.bytes},
                   {"duration_ms", static_cast<int64_t>(Seconds(t0_) * 1000)}};
  if (!a.affected.is_null()) e["affected"] = a.affected;
  if (!a.error.empty()) e["error"] = a.error;
  if (!a.plan_written.empty()) e["plan"] = a.plan_written;
  return repo::AppendAudit(&r, std::move(e));
}

void AddApprovalFlags(CLI::App* c, ApprovalFlags* f) {
  c->add_flag("-y,--yes", f->yes, "approve without asking (where the approval policy allows it)");
  c->add_option("--plan-out", f->plan_out,
                "write the exact plan to FILE instead of running; 'cairn approve FILE', then 'cairn apply FILE'");
}

Status TerminalApprover::Approve(const repo::Operation& op) {
  AuditInfo& a = ctx_.audit();
  a.operation = op.kind.empty() ? a.operation : op.kind;
  a.risk = op.risk;
  a.affected = op.affected;
  const std::string risk = repo::RiskName(op.risk);
  if (ApplyState* ap = Context::applying; ap != nullptr) {
    std::string why;
    if (!repo::PlanHolds(ap->plan, op, &why)) {
      a.approval = {{"how", "plan"}, {"plan", ap->plan.hash}, {"held", false}};
      return Status::NotApproved("plan '" + ap->file + "' no longer holds: " + why +
                                 "; nothing was changed; write a new plan with --plan-out");
    }
    nlohmann::json by = nlohmann::json::array();
    for (const auto& rec : ap->approvals) by.push_back(rec.user + "@" + rec.host);
    a.approval = {{"how", "plan"}, {"plan", ap->plan.hash}, {"approved_by", by}};
    ap->asked = true;
    return Status::OK();
  }
  if (!f_.plan_out.empty()) {
    repo::Plan plan = repo::MakePlan(r_, op, ctx_.PlanArgs());
    const std::string text = repo::EncodePlanFile(plan);
    const std::string tmp = f_.plan_out + ".tmp";
    {
      std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
      f << text;
      f.close();
      if (!f) return Status::IOError("cannot write the plan to '" + tmp + "'");
    }
    if (std::rename(tmp.c_str(), f_.plan_out.c_str()) != 0) {
      return Status::FromErrno(errno, "rename to '" + f_.plan_out + "'");
    }
    a.approval = {{"how", "plan-out"}, {"plan", plan.hash}};
    a.plan_written = f_.plan_out;
    return Status::NotApproved("plan written");
  }
  auto pol = ctx_.Policy(r_);
  if (!pol.ok()) return pol.status();
  if (pol->require.count(op.risk) == 0) {
    a.approval = {{"how", "not required"}};
    return Status::OK();
  }
  const std::string how_plan = "write a plan with --plan-out FILE, approve it with 'cairn approve FILE' and run it "
                               "with 'cairn apply FILE'";
  if (pol->second_person.count(op.risk) != 0) {
    a.approval = {{"how", "refused"}, {"why", "second person"}};
    return Status::NotApproved(op.action + " needs a second person's approval (risk " + risk +
                               ", the repository's approval policy): " + how_plan +
                               ", where another user approves");
  }
  if (f_.yes) {
    if (pol->yes.count(op.risk) != 0) {
      a.approval = {{"how", "yes"}};
      return Status::OK();
    }
    a.approval = {{"how", "refused"}, {"why", "--yes not allowed"}};
    return Status::NotApproved(op.action + " needs approval (risk " + risk +
                               "), and the repository's approval policy does not let --yes give it: confirm on a "
                               "terminal, or " + how_plan);
  }
  if (!::isatty(STDIN_FILENO) || !::isatty(STDERR_FILENO)) {
    a.approval = {{"how", "refused"}, {"why", "no terminal"}};
    return Status::NotApproved(op.action + " needs approval (risk " + risk + ") and there is no terminal to ask: pass --yes, or " +
                               how_plan);
  }
  std::fprintf(stderr, "%s (risk: %s)\n%s\nProceed? [y/N] ", op.action.c_str(), risk.c_str(), op.details.c_str());
  std::fflush(stderr);
  std::string answer;
  const bool got = static_cast<bool>(std::getline(std::cin, answer));
  if (got && (answer == "y" || answer == "Y" || answer == "yes")) {
    a.approval = {{"how", "prompt"}};
    return Status::OK();
  }
  a.approval = {{"how", "refused"}, {"why", "answered no"}};
  return Status::NotApproved(op.action + " was refused at the prompt (risk " + risk + "); nothing was changed");
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
  // Damage inside the local index's LMDB pages: a named error, not SIGBUS.
  index::Index::ExitOnMapFault(kExitDamaged);
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
  RegisterSafetyCommands(app, ctx, &action);

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
  g.argv.assign(argv + 1, argv + argc);
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
  for (const CLI::App* cur = &app; !cur->get_subcommands().empty();) {
    cur = cur->get_subcommands()[0];
    g.command += (g.command.empty() ? "" : " ") + cur->get_name();
  }
  ctx.MarkStarted();
  int code = kExitFailure;
  try {
    code = action();
  } catch (const std::exception& e) {
    // Nothing below cli/ throws; this is a bug, reported, never a crash.
    std::fprintf(stderr, "cairn: internal error: %s\n", e.what());
    ctx.audit().error = std::string("internal error: ") + e.what();
  }
  try {
    ctx.FinishAudit(code);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cairn: internal error while writing the audit log: %s\n", e.what());
  }
  return code;
}

}  // namespace cairn::cli
