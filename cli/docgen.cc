// SPDX-License-Identifier: MIT

#include "cli/docgen.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>

#include "cli/output.h"
#include "cli/usage.h"

namespace cairn::cli {

const std::vector<ExitCodeDoc>& ExitCodeDocs() {
  static const std::vector<ExitCodeDoc> kDocs = {
      {kExitOk, "success"},
      {kExitFailure,
       "failure (I/O error, a ref changed concurrently, a lock held by a live process for over 60 s, a repository "
       "of a newer format, …)"},
      {kExitUsage,
       "usage error: unknown command or flag, missing argument (the message shows the command's form, e.g. `diff "
       "needs two revisions: cairn diff A B`), malformed or ambiguous revision, invalid name (a tag or branch name "
       "of 4 or more hex digits is refused because it could be read as an id), path with `..`, a repository "
       "location whose store is not supported yet (`sftp:…`, `rest:…`) or a malformed `s3:` location, missing S3 "
       "credentials, a `--sqlite` file that is not an SQLite database"},
      {kExitPartial,
       "backup saved, but some source paths could not be read, or a file changed while it was read twice (saved "
       "as the second read found it); they are listed on stderr and in the snapshot's `errors`"},
      {kExitDamaged,
       "damage found: `check` found errors, data needed by `restore`/`cat`/`log`/`ls` is damaged or missing (a "
       "tree that is missing or is not a tree, a branch or tag naming a snapshot file that is gone), the audit log "
       "does not verify, or a plan file is damaged or was edited"},
      {kExitNotFound,
       "not found: unknown revision, path not in the snapshot, source path (or `--sqlite` database) that does not "
       "exist, `log` of a branch that does not exist or has no snapshots"},
      {kExitExists,
       "refused to overwrite: `init` over a repository or a non-empty folder, `restore` into a non-empty target "
       "without `--force`, creating a tag or branch that exists, `copy` of a branch or tag that points elsewhere in "
       "the target (the snapshots were copied; the ref was left as it is), `mount` on a folder that is not empty"},
      {kExitNotApproved,
       "not approved: an operation whose risk level needs approval under the repository's approval policy "
       "(#risk-levels-and-approvals) was refused at the prompt, had no terminal and no `--yes`, or `--yes` may "
       "not approve its level; or a plan has no approval, lacks a second person's, or no longer holds"},
      {kExitNoRepo, "no repository at the given path (or at `copy --to`)"},
      {kExitWrongKey,
       "wrong key: the password or key file opens no key slot of the encrypted repository (nothing was read or "
       "written)"},
      {kExitAccessDenied,
       "access denied by the storage: S3 refused the credentials (an unknown access key, a wrong secret; the "
       "message names where they came from, never the secret) or denied the request by policy"},
      {kExitWriteOnly,
       "write-only key: the repository was opened with a write-only host key (`key add --write-only`), which can "
       "back up and list snapshots but not run this command (restore, read content, forget, prune, delete, change "
       "keys); nothing was written"},
  };
  return kDocs;
}

namespace {

constexpr int kUnbounded = 1 << 20;  // more values than anyone types

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}
std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Words of a description: runs of letters, digits and '_'; a word right
// after '$' (an environment variable) is left out.
std::vector<std::string> Words(const std::string& s) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < s.size()) {
    auto is_word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
    if (!is_word(s[i])) {
      i++;
      continue;
    }
    std::size_t j = i;
    while (j < s.size() && is_word(s[j])) j++;
    if (i == 0 || s[i - 1] != '$') out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

bool IsPlaceholder(const std::string& w) {
  if (w.empty() || !std::isupper(static_cast<unsigned char>(w[0]))) return false;
  return std::all_of(w.begin(), w.end(), [](char c) {
    return std::isupper(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '_';
  });
}

const char* KindName(ValueKind k) {
  switch (k) {
    case ValueKind::kPath: return "path";
    case ValueKind::kRev: return "rev";
    case ValueKind::kBranch: return "branch";
    case ValueKind::kRevOrPath: return "revpath";
    case ValueKind::kCommand: return "command";
    case ValueKind::kNone: break;
  }
  return "none";
}

// Every App to document, depth first: the root, then each visible command.
void Walk(const CLI::App& app, std::vector<const CLI::App*>* out) {
  out->push_back(&app);
  for (const CLI::App* s : Subcommands(app)) Walk(*s, out);
}

std::vector<const CLI::Option*> Positionals(const CLI::App& app) {
  return app.get_options([](const CLI::Option* o) { return o->get_positional(); });
}

// An option as seen from one command: the names that reach it there (a
// command's own option shadows a fallen-through one of the same name).
struct VisibleOption {
  const CLI::Option* opt;
  std::vector<std::string> names;  // "-r", "--repo"
};

std::vector<VisibleOption> VisibleOptions(const CLI::App& app) {
  std::vector<VisibleOption> out;
  std::set<std::string> seen;
  for (const CLI::App* a = &app; a != nullptr; a = a->get_parent()) {
    for (const CLI::Option* o : a->get_options()) {
      if (!o->nonpositional()) continue;
      VisibleOption v{o, {}};
      for (const auto& s : o->get_snames()) v.names.push_back("-" + s);
      for (const auto& l : o->get_lnames()) v.names.push_back("--" + l);
      std::erase_if(v.names, [&](const std::string& n) { return seen.count(n) > 0; });
      for (const auto& n : v.names) seen.insert(n);
      if (!v.names.empty()) out.push_back(std::move(v));
    }
    if (!a->get_fallthrough()) break;
  }
  return out;
}

int Slots(const CLI::Option& o) {
  const int n = o.get_items_expected_max();
  return n >= kUnbounded || n <= 0 ? kUnbounded : n;
}

std::string ShellSingleQuote(const std::string& s) {
  std::string r = "'";
  for (char c : s) {
    if (c == '\'') {
      r += "'\\''";
    } else {
      r += c;
    }
  }
  return r + "'";
}

// The root options that name the repository (long name "repo"), for
// passing it on when completion asks cairn for branch and tag names.
std::vector<std::string> RepoOptionNames(const CLI::App& root) {
  std::vector<std::string> names;
  for (const CLI::Option* o : root.get_options()) {
    if (!o->check_lname("repo")) continue;
    for (const auto& s : o->get_snames()) names.push_back("-" + s);
    for (const auto& l : o->get_lnames()) names.push_back("--" + l);
  }
  return names;
}

std::string Join(const std::vector<std::string>& v, const std::string& sep) {
  std::string r;
  for (std::size_t i = 0; i < v.size(); i++) r += (i ? sep : "") + v[i];
  return r;
}

}  // namespace

ValueKind ValueKindOf(const CLI::Option& o) {
  if (!TakesValue(o)) return ValueKind::kNone;
  const std::string type = Upper(ValueName(o));
  if (type == "PATH" || type == "FILE" || type == "DIR" || type == "FOLDER") return ValueKind::kPath;
  if (type == "REV") return ValueKind::kRev;
  if (type == "BRANCH") return ValueKind::kBranch;
  if (type == "COMMAND") return ValueKind::kCommand;
  if (type == "INT" || type == "UINT" || type == "FLOAT" || type == "NUMBER") return ValueKind::kNone;

  std::string desc = o.get_description();
  const std::vector<std::string> all_words = Words(desc);
  auto has = [&](std::initializer_list<const char*> ws, bool exact_case) {
    for (const auto& w : all_words) {
      for (const char* x : ws) {
        if (exact_case ? w == x : Lower(w) == x) return true;
      }
    }
    return false;
  };
  const bool command = has({"COMMAND"}, true);
  const bool rev = has({"REV", "REVS"}, true) || has({"revision", "revisions"}, false);
  // "REV:PATH" is a path inside a snapshot, not on disk.
  for (std::size_t p; (p = desc.find("REV:PATH")) != std::string::npos;) desc.erase(p, 8);
  const std::vector<std::string> words = Words(desc);
  static const std::set<std::string> kPathWords = {"file",      "files",       "folder",   "folders",   "path",
                                                   "paths",     "directory",   "directories", "database",
                                                   "repository"};
  static const std::set<std::string> kPathNames = {"path", "paths", "file", "files", "folder", "dir", "target", "repo"};
  bool path = false, placeholder = false;
  for (const auto& w : words) {
    if (kPathWords.count(Lower(w)) > 0 && (IsPlaceholder(w) || Lower(w) == w)) path = true;
    if (IsPlaceholder(w) && kPathWords.count(Lower(w)) == 0) placeholder = true;
  }
  std::vector<std::string> names = o.get_lnames();
  if (o.get_positional()) names.push_back(o.get_name(true, false));
  for (const auto& n : names) {
    if (kPathNames.count(Lower(n)) > 0) path = true;
  }
  if (command) return ValueKind::kCommand;
  if (rev) return path ? ValueKind::kRevOrPath : ValueKind::kRev;
  if (has({"branch"}, true)) return ValueKind::kBranch;
  if (placeholder) return ValueKind::kNone;
  return path ? ValueKind::kPath : ValueKind::kNone;
}

// ---------------------------------------------------------------- bash

std::string BashCompletion(const CLI::App& root) {
  std::vector<const CLI::App*> apps;
  Walk(root, &apps);
  std::ostringstream os;
  const std::string name = root.get_name();
  os << "# bash completion for " << name << "; generated by '" << name
     << " completion bash' from the command definitions.\n"
     << "# Installed as share/bash-completion/completions/" << name << ".\n\n";

  os << "_cairn_subcommands() {\n  case \"$1\" in\n";
  for (const CLI::App* a : apps) {
    std::vector<std::string> subs;
    for (const CLI::App* s : Subcommands(*a)) subs.push_back(s->get_name());
    if (!subs.empty()) os << "    " << ShellSingleQuote(CommandPath(*a)) << ") echo " << ShellSingleQuote(Join(subs, " ")) << ";;\n";
  }
  os << "  esac\n}\n\n";

  os << "_cairn_options() {\n  case \"$1\" in\n";
  for (const CLI::App* a : apps) {
    std::vector<std::string> names;
    for (const auto& v : VisibleOptions(*a)) names.insert(names.end(), v.names.begin(), v.names.end());
    os << "    " << ShellSingleQuote(CommandPath(*a)) << ") echo " << ShellSingleQuote(Join(names, " ")) << ";;\n";
  }
  os << "  esac\n}\n\n";

  // Options that take a value, by what the value is: "PATH|OPTION".
  std::map<std::string, std::vector<std::string>> by_kind;
  for (const CLI::App* a : apps) {
    for (const auto& v : VisibleOptions(*a)) {
      if (!TakesValue(*v.opt)) continue;
      for (const auto& n : v.names) by_kind[KindName(ValueKindOf(*v.opt))].push_back(ShellSingleQuote(CommandPath(*a) + "|" + n));
    }
  }
  os << "# Prints what the value of option $2 after command $1 is; fails for flags.\n"
     << "_cairn_option_kind() {\n  case \"$1|$2\" in\n";
  for (const auto& [kind, keys] : by_kind) os << "    " << Join(keys, "|") << ") echo " << kind << ";;\n";
  os << "    *) return 1;;\n  esac\n}\n\n";

  os << "# Prints what positional argument number $2 (from 0) of command $1 is.\n"
     << "_cairn_positional_kind() {\n  case \"$1\" in\n";
  for (const CLI::App* a : apps) {
    const auto pos = Positionals(*a);
    if (pos.empty()) continue;
    os << "    " << ShellSingleQuote(CommandPath(*a)) << ")\n      case \"$2\" in\n";
    int index = 0;
    for (const CLI::Option* p : pos) {
      const int slots = Slots(*p);
      const char* kind = KindName(ValueKindOf(*p));
      if (slots == kUnbounded) {
        os << "        *) echo " << kind << ";;\n";
        break;
      }
      for (int k = 0; k < slots; k++) os << "        " << index++ << ") echo " << kind << ";;\n";
    }
    os << "      esac;;\n";
  }
  os << "  esac\n}\n\n";

  const std::vector<std::string> repo_opts = RepoOptionNames(root);
  os << R"SH(# Branch and tag names, asked of cairn quietly (nothing when there is no repository).
_cairn_refs() {
  local -a repo=()
  [[ -n $_cairn_repo ]] && repo=()SH" << (repo_opts.empty() ? "" : repo_opts.back()) << R"SH( "${_cairn_repo/#\~/$HOME}")
  "${COMP_WORDS[0]}" "${repo[@]}" branch 2>/dev/null </dev/null | awk '{ print ($1 == "*") ? $2 : $1 }'
  [[ $1 == branch ]] || "${COMP_WORDS[0]}" "${repo[@]}" tag -l 2>/dev/null </dev/null
}

# Completes $2 as a value of kind $1.
_cairn_complete_kind() {
  local kind=$1 cur=$2 words
  case $kind in
    path) compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -f -- "$cur");;
    rev|revpath|branch)
      words=$(_cairn_refs "$kind")
      [[ $kind == branch ]] || words="latest HEAD $words"
      mapfile -t COMPREPLY < <(compgen -W "$words" -- "$cur")
      if [[ $kind == revpath ]]; then
        compopt -o filenames 2>/dev/null
        local f; while IFS= read -r f; do COMPREPLY+=("$f"); done < <(compgen -f -- "$cur")
      fi;;
    command)
      local p="" w
      for w in "${_cairn_positionals[@]}"; do p=${p:+$p }$w; done
      mapfile -t COMPREPLY < <(compgen -W "$(_cairn_subcommands "$p")" -- "$cur");;
    *) COMPREPLY=();;
  esac
}

_cairn() {
  local cur=${COMP_WORDS[COMP_CWORD]} path="" w kind pending="" i npos=0 _cairn_repo=""
  local -a _cairn_positionals=()
  COMPREPLY=()
  [[ $cur == = ]] && cur=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=${COMP_WORDS[i]}
    if [[ $w == -- ]]; then
      _cairn_complete_kind path "$cur"
      return 0
    fi
    if [[ $w == -* ]]; then
      if [[ $w != *=* ]] && kind=$(_cairn_option_kind "$path" "$w"); then
        ((i++))
        [[ ${COMP_WORDS[i]} == = ]] && ((i++))
        if ((i >= COMP_CWORD)); then
          pending=$kind
          break
        fi
        case $w in
          )SH" << (repo_opts.empty() ? "--no-repo-option" : Join(repo_opts, "|")) << R"SH() _cairn_repo=${COMP_WORDS[i]};;
        esac
      fi
      continue
    fi
    if [[ " $(_cairn_subcommands "$path") " == *" $w "* ]] && ((npos == 0)); then
      path=${path:+$path }$w
    else
      _cairn_positionals+=("$w")
      ((npos++))
    fi
  done
  if [[ -n $pending ]]; then
    _cairn_complete_kind "$pending" "$cur"
    return 0
  fi
  if [[ $cur == -* ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$(_cairn_options "$path")" -- "$cur")
    return 0
  fi
  kind=$(_cairn_positional_kind "$path" "$npos")
  if [[ -z $kind ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$(_cairn_subcommands "$path")" -- "$cur")
    return 0
  fi
  _cairn_complete_kind "$kind" "$cur"
}

complete -F _cairn )SH" << name << "\n";
  return os.str();
}

// ---------------------------------------------------------------- zsh

namespace {

std::string ZshFunctionName(const CLI::App& app) {
  std::string p = CommandPath(app);
  if (p.empty()) return "_cairn";
  std::string r = "_cairn_cmd_";
  for (char c : p) r += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return r;
}

std::string ZshBracket(const std::string& s) {
  std::string r;
  for (char c : s) {
    if (c == '[' || c == ']' || c == '\\') r += '\\';
    r += c;
  }
  return r;
}

std::string ZshMessage(std::string s) {
  std::string r;
  for (char c : s) {
    if (c == ':' || c == '\\') r += '\\';
    r += c;
  }
  return r;
}

const char* ZshAction(ValueKind k) {
  switch (k) {
    case ValueKind::kPath: return "_files";
    case ValueKind::kRev: return "_cairn_revs";
    case ValueKind::kBranch: return "_cairn_branches";
    case ValueKind::kRevOrPath: return "_cairn_revs_or_files";
    case ValueKind::kCommand: return "{_cairn_help_topics}";
    case ValueKind::kNone: break;
  }
  return " ";
}

// The lines of one `_arguments` call for `app`'s options and positionals.
std::vector<std::string> ZshSpecs(const CLI::App& app) {
  std::vector<std::string> specs;
  for (const auto& v : VisibleOptions(app)) {
    const CLI::Option& o = *v.opt;
    const bool repeat = o.get_expected_max() > 1;
    const bool value = TakesValue(o);
    std::vector<std::string> forms;
    for (const auto& n : v.names) forms.push_back(n + (value ? (n.size() == 2 ? "+" : "=") : ""));
    std::string tail = ZshBracket(o.get_description()) + "]";
    if (value) {
      tail += ":" + ZshMessage(Lower(ValueName(o))) + ":" + ZshAction(ValueKindOf(o));
    }
    std::string head = repeat ? "*" : (v.names.size() > 1 ? "(" + Join(v.names, " ") + ")" : "");
    if (forms.size() == 1) {
      specs.push_back(ShellSingleQuote(head + forms[0] + "[" + tail));
    } else {
      specs.push_back((head.empty() ? "" : ShellSingleQuote(head)) + "{" + Join(forms, ",") + "}" +
                      ShellSingleQuote("[" + tail));
    }
  }
  int index = 1;
  for (const CLI::Option* p : Positionals(app)) {
    const std::string msg = ZshMessage(p->get_name(true, false));
    const std::string action = ZshAction(ValueKindOf(*p));
    const int slots = Slots(*p);
    if (slots == kUnbounded) {
      specs.push_back(ShellSingleQuote("*:" + msg + ":" + action));
      break;
    }
    for (int k = 0; k < slots; k++) {
      specs.push_back(ShellSingleQuote(std::to_string(index++) + (p->get_required() ? ":" : "::") + msg + ":" + action));
    }
  }
  if (!Subcommands(app).empty()) {
    const std::string path = CommandPath(app);
    // {...}: run as is, without the compadd options _arguments adds after a function's name.
    specs.push_back(ShellSingleQuote("1:command:{_cairn_describe_commands " + ShellSingleQuote(path) + "}"));
    specs.push_back(ShellSingleQuote("*::arg:->args"));
  }
  return specs;
}

}  // namespace

std::string ZshCompletion(const CLI::App& root) {
  std::vector<const CLI::App*> apps;
  Walk(root, &apps);
  const std::vector<std::string> repo_opts = RepoOptionNames(root);
  std::ostringstream os;
  os << "#compdef " << root.get_name() << "\n"
     << "# zsh completion for " << root.get_name() << "; generated by '" << root.get_name()
     << " completion zsh' from the command definitions.\n"
     << "# Installed as share/zsh/site-functions/_" << root.get_name() << ".\n\n";

  os << "# Describes the subcommands of command path $1 ('' for the top level).\n"
     << "_cairn_describe_commands() {\n  local -a cmds\n  case \"$1\" in\n";
  for (const CLI::App* a : apps) {
    const auto subs = Subcommands(*a);
    if (subs.empty()) continue;
    os << "    " << ShellSingleQuote(CommandPath(*a)) << ") cmds=(";
    for (const CLI::App* s : subs) os << "\n      " << ShellSingleQuote(ZshMessage(s->get_name()) + ":" + s->get_description());
    os << "\n    );;\n";
  }
  os << "  esac\n  _describe -t commands 'command' cmds\n}\n\n";

  os << R"SH(_cairn_help_topics() { _cairn_describe_commands "${words[2,CURRENT-1]}" }

_cairn_call() {
  local -a repo
  [[ -n $_cairn_repo ]] && repo=()SH" << (repo_opts.empty() ? "" : repo_opts.back()) << R"SH( "${_cairn_repo/#\~/$HOME}")
  command "$_cairn_bin" "${repo[@]}" "$@" 2>/dev/null </dev/null
}

_cairn_branches() {
  local -a refs expl
  refs=(${(f)"$(_cairn_call branch | awk '{ print ($1 == "*") ? $2 : $1 }')"})
  _wanted branches expl 'branch' compadd -a refs
}

_cairn_revs() {
  local -a refs expl
  refs=(latest HEAD ${(f)"$(_cairn_call branch | awk '{ print ($1 == "*") ? $2 : $1 }')"} ${(f)"$(_cairn_call tag -l)"})
  _wanted revisions expl 'revision' compadd -a refs
}

_cairn_revs_or_files() {
  _alternative 'revisions:revision:_cairn_revs' 'files:file:_files'
}

)SH";

  for (auto it = apps.rbegin(); it != apps.rend(); ++it) {
    const CLI::App& a = **it;
    const auto subs = Subcommands(a);
    os << ZshFunctionName(a) << "() {\n";
    if (!subs.empty()) os << "  local curcontext=\"$curcontext\" state state_descr line ret=1\n  typeset -A opt_args\n";
    if (a.get_parent() == nullptr) os << "  local _cairn_bin=$words[1] _cairn_repo\n";
    os << "  _arguments" << (subs.empty() ? "" : " -C") << " -s -S";
    for (const auto& s : ZshSpecs(a)) os << " \\\n    " << s;
    os << (subs.empty() ? "\n" : " && ret=0\n");
    if (!subs.empty()) {
      if (a.get_parent() == nullptr) {
        std::vector<std::string> keys;
        for (const auto& n : repo_opts) keys.push_back("${opt_args[" + n + "]}");
        if (!keys.empty()) os << "  _cairn_repo=" << keys[0] << "\n";
        for (std::size_t i = 1; i < keys.size(); i++) os << "  [[ -n $_cairn_repo ]] || _cairn_repo=" << keys[i] << "\n";
      }
      os << "  if [[ $state == args ]]; then\n"
         << "    curcontext=\"${curcontext%:*:*}:" << root.get_name() << "-$words[1]:\"\n"
         << "    case $words[1] in\n";
      for (const CLI::App* s : subs) os << "      " << s->get_name() << ") " << ZshFunctionName(*s) << " && ret=0;;\n";
      os << "    esac\n  fi\n  return ret\n";
    }
    os << "}\n\n";
  }
  os << "_cairn \"$@\"\n";
  return os.str();
}

// ---------------------------------------------------------------- man

namespace {

// Text for roff: backslashes and leading dots or quotes escaped, every
// non-ASCII character as \[uXXXX], `code` in bold.
std::string Roff(const std::string& s) {
  std::string r;
  bool code = false;
  for (std::size_t i = 0; i < s.size(); i++) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '\\') {
      r += "\\e";
    } else if (c == '`') {
      r += code ? "\\fR" : "\\fB";
      code = !code;
    } else if (c == '-' && code) {
      r += "\\-";
    } else if (c >= 0x80) {
      uint32_t cp = 0;
      int extra = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : 0;
      cp = c & (0x3f >> extra);
      for (int k = 0; k < extra && i + 1 < s.size(); k++) cp = (cp << 6) | (static_cast<unsigned char>(s[++i]) & 0x3f);
      if (cp == 0x2026) {
        r += "\\&...";  // every output device has these
      } else if (cp == 0x2014) {
        r += "\\(em";
      } else if (cp == 0xd7) {
        r += "\\(mu";
      } else {
        char buf[16];
        std::snprintf(buf, sizeof buf, "\\[u%04X]", static_cast<unsigned>(cp));
        r += buf;
      }
    } else {
      r += static_cast<char>(c);
    }
  }
  if (code) r += "\\fR";
  if (!r.empty() && (r[0] == '.' || r[0] == '\'')) r = "\\&" + r;
  return r;
}

std::string RoffName(const std::string& s) {
  std::string r;
  for (char c : s) r += c == '-' ? std::string("\\-") : std::string(1, c);
  return r;
}

std::string ManOptionTag(const CLI::Option& o) {
  std::vector<std::string> names;
  for (const auto& s : o.get_snames()) names.push_back("\\fB" + RoffName("-" + s) + "\\fR");
  for (const auto& l : o.get_lnames()) names.push_back("\\fB" + RoffName("--" + l) + "\\fR");
  std::string tag = Join(names, ", ");
  if (TakesValue(o)) tag += " \\fI" + ValueName(o) + "\\fR";
  if (o.get_expected_max() > 1) tag += " ...";
  return tag;
}

std::string ManSynopsis(const CLI::App& app) {
  std::string s = "\\fBcairn " + RoffName(CommandPath(app)) + "\\fR";
  bool has_options = false;
  for (const CLI::Option* o : app.get_options()) {
    if (o->nonpositional() && o != app.get_help_ptr()) has_options = true;
  }
  if (has_options) s += " [\\fIOPTIONS\\fR]";
  for (const CLI::Option* p : Positionals(app)) {
    std::string n = "\\fI" + RoffName(p->get_name(true, false)) + "\\fR" + (Slots(*p) > 1 ? "..." : "");
    s += p->get_required() ? " " + n : " [" + n + "]";
  }
  if (!Subcommands(app).empty()) s += " \\fICOMMAND\\fR";
  return s;
}

}  // namespace

std::string ManPage(const CLI::App& root, const std::string& version) {
  std::vector<const CLI::App*> apps;
  Walk(root, &apps);
  std::string what = root.get_description();
  if (auto p = what.find(": "); p != std::string::npos) what = what.substr(p + 2);
  std::ostringstream os;
  os << ".\\\" Generated by 'cairn man' from the command definitions; do not edit.\n"
     << ".TH CAIRN 1 \"\" \"cairn " << version << "\" \"User Commands\"\n"
     << ".SH NAME\ncairn \\- " << Roff(what) << "\n"
     << ".SH SYNOPSIS\n\\fBcairn\\fR [\\fIOPTIONS\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR]\n.br\n"
     << "\\fBcairn help\\fR [\\fICOMMAND\\fR]\n"
     << ".SH DESCRIPTION\n"
     << "cairn cuts files, folders and state blobs into chunks by content-defined chunking, names them by\n"
     << "SHA\\-256, stores each once in compressed packs, and links them by trees and snapshots with\n"
     << "parents, branches and tags, like git. Backups, diffs between restore points and restores are\n"
     << "operations on that one graph.\n.PP\n"
     << "Every command takes \\fB\\-\\-json\\fR and then prints exactly one JSON document on stdout.\n"
     << "Every failure prints one line \\fIcairn: MESSAGE\\fR on stderr and exits with a code from\n"
     << "\\fBEXIT STATUS\\fR. \\fBcairn help \\fICOMMAND\\fR shows the arguments and options of a command.\n"
     << "Wherever a command takes \\fIREV\\fR: \\fBlatest\\fR, a branch or tag name, a snapshot id or a\n"
     << "unique prefix of it, optionally followed by \\fB@{\\fITIME\\fB}\\fR, \\fB~\\fIN\\fR and \\fB^\\fIN\\fR;\n"
     << "\\fIREV\\fB:\\fIPATH\\fR names a path inside a snapshot.\n"
     << ".SH GLOBAL OPTIONS\n";
  for (const CLI::Option* o : root.get_options()) {
    if (!o->nonpositional()) continue;
    const std::string desc =
        o == root.get_help_ptr() ? "show the list of commands; after a command, its help" : o->get_description();
    os << ".TP\n" << ManOptionTag(*o) << "\n" << Roff(desc) << "\n";
  }
  os << ".SH COMMANDS\n";
  for (const CLI::App* a : apps) {
    if (a == &root) continue;
    os << ".SS \"cairn " << RoffName(CommandPath(*a)) << "\"\n" << ManSynopsis(*a) << "\n.PP\n" << Roff(a->get_description()) << "\n";
    for (const CLI::Option* p : Positionals(*a)) {
      os << ".TP\n\\fI" << RoffName(p->get_name(true, false)) << "\\fR" << (Slots(*p) > 1 ? "..." : "") << "\n"
         << Roff(p->get_description()) << "\n";
    }
    for (const CLI::Option* o : a->get_options()) {
      if (!o->nonpositional() || o == a->get_help_ptr()) continue;
      os << ".TP\n" << ManOptionTag(*o) << "\n" << Roff(o->get_description()) << "\n";
    }
    if (const std::string footer = a->get_footer(); !footer.empty()) os << ".PP\n" << Roff(footer) << "\n";
    const auto subs = Subcommands(*a);
    if (!subs.empty()) {
      std::vector<std::string> names;
      for (const CLI::App* s : subs) names.push_back("\\fB" + RoffName(s->get_name()) + "\\fR");
      os << ".PP\nCommands: " << Join(names, ", ") << ".\n";
    }
  }
  os << ".SH EXIT STATUS\n";
  for (const auto& e : ExitCodeDocs()) os << ".TP\n" << e.code << "\n" << Roff(e.meaning) << "\n";
  os << ".SH ENVIRONMENT\n.TP\n.B CAIRN_REPO\n"
     << "The repository, when \\fB\\-r\\fR/\\fB\\-\\-repo\\fR is not given.\n"
     << ".TP\n.B CAIRN_KEY_FILE\nThe key file of an encrypted repository, when \\fB\\-\\-key\\-file\\fR is not given.\n"
     << ".TP\n.B CAIRN_PASSWORD_FILE\\fR, \\fBCAIRN_PASSWORD_COMMAND\\fR, \\fBCAIRN_PASSWORD\n"
     << "The password of an encrypted repository (after \\fB\\-\\-password\\-file\\fR and "
        "\\fB\\-\\-password\\-command\\fR; before the terminal prompt).\n"
     << ".TP\n.B CAIRN_NEW_PASSWORD_FILE\nThe new password of \\fBkey add\\fR and \\fBkey passwd\\fR.\n"
     << ".TP\n.B CAIRN_CACHE_DIR\nWhere the local caches of encrypted repositories live (default "
        "\\fI~/.cache/cairn\\fR).\n"
     << ".TP\n.B CAIRN_NOW\nFor tests only: the time \\fBforget\\fR and \\fBprune\\fR take as now "
        "(any form of \\fB\\-\\-since\\fR).\n"
     << ".SH FILES\n.TP\n.I share/bash\\-completion/completions/cairn\nbash completion\n"
     << ".TP\n.I share/zsh/site\\-functions/_cairn\nzsh completion\n"
     << ".SH SEE ALSO\n"
     << "\\fBgit\\fR(1), \\fBrestic\\fR(1); the full reference with every JSON shape and the revision syntax\n"
     << "is docs/cli.md in the cairn sources, the on\\-disk format docs/format.md.\n";
  return os.str();
}

}  // namespace cairn::cli
