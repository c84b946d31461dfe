// SPDX-License-Identifier: MIT

#include "cli/usage.h"

#include <algorithm>
#include <sstream>

namespace cairn::cli {

std::size_t EditDistance(std::string_view a, std::string_view b) {
  const std::size_t n = a.size(), m = b.size();
  std::vector<std::vector<std::size_t>> d(n + 1, std::vector<std::size_t>(m + 1, 0));
  for (std::size_t i = 0; i <= n; i++) d[i][0] = i;
  for (std::size_t j = 0; j <= m; j++) d[0][j] = j;
  for (std::size_t i = 1; i <= n; i++) {
    for (std::size_t j = 1; j <= m; j++) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[n][m];
}

std::vector<std::string> Suggest(std::string_view word, const std::vector<std::string>& candidates) {
  std::size_t best = SIZE_MAX;
  std::vector<std::string> out;
  for (const auto& c : candidates) {
    if (c == word) continue;
    std::size_t dist = EditDistance(word, c);
    const std::size_t longer = std::max(word.size(), c.size());
    bool close = dist <= 2 && 2 * dist <= longer;
    if (!close && word.size() >= 3 && c.size() > word.size() && c.compare(0, word.size(), word) == 0) {
      close = true;
      dist = std::min<std::size_t>(dist, 2);
    }
    if (!close) continue;
    if (dist < best) {
      best = dist;
      out.clear();
    }
    if (dist == best && std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
  }
  if (out.size() > 3) out.resize(3);
  return out;
}

std::string DidYouMean(const std::vector<std::string>& s) {
  if (s.empty()) return "";
  std::string r = " did you mean ";
  for (std::size_t i = 0; i < s.size(); i++) {
    if (i > 0) r += i + 1 == s.size() ? " or " : ", ";
    r += "'" + s[i] + "'";
  }
  return r + "?";
}

bool IsHidden(const CLI::App& app) { return app.get_group().empty(); }

std::vector<const CLI::App*> Subcommands(const CLI::App& app, bool all) {
  return app.get_subcommands(
      [all](const CLI::App* s) { return !s->get_name().empty() && !s->get_disabled() && (all || !IsHidden(*s)); });
}

std::string CommandPath(const CLI::App& app) {
  std::string p;
  for (const CLI::App* a = &app; a->get_parent() != nullptr; a = a->get_parent()) {
    p = p.empty() ? a->get_name() : a->get_name() + " " + p;
  }
  return p;
}

const CLI::Option* FindOption(const CLI::App& app, const std::string& name) {
  for (const CLI::App* a = &app; a != nullptr; a = a->get_parent()) {
    if (const CLI::Option* o = a->get_option_no_throw(name); o != nullptr && o->nonpositional()) return o;
    if (!a->get_fallthrough()) break;
  }
  return nullptr;
}

bool TakesValue(const CLI::Option& opt) { return opt.get_type_size_max() > 0 && opt.get_items_expected_max() > 0; }

std::string ValueName(const CLI::Option& opt) {
  std::string t = opt.get_type_name();
  return t.substr(0, t.find(':'));
}

namespace {

const CLI::App* FindSubcommand(const CLI::App& app, const std::string& word) {
  for (const CLI::App* s : Subcommands(app, true)) {
    if (s->check_name(word)) return s;
  }
  return nullptr;
}

bool HasPositionals(const CLI::App& app) {
  return !app.get_options([](const CLI::Option* o) { return o->get_positional(); }).empty();
}

// Every option name visible from `app` (own, then fallen-through), as written.
std::vector<std::string> OptionNames(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::App* a = &app; a != nullptr; a = a->get_parent()) {
    for (const CLI::Option* o : a->get_options()) {
      for (const auto& l : o->get_lnames()) names.push_back("--" + l);
      for (const auto& s : o->get_snames()) names.push_back("-" + s);
    }
    if (!a->get_fallthrough()) break;
  }
  return names;
}

std::string OptionLabel(const CLI::Option& o) {
  std::string r;
  for (const auto& s : o.get_snames()) r += (r.empty() ? "-" : ", -") + s;
  for (const auto& l : o.get_lnames()) r += (r.empty() ? "--" : ", --") + l;
  if (TakesValue(o)) r += " " + ValueName(o);
  return r;
}

void Rows(std::ostringstream& os, const std::vector<std::pair<std::string, std::string>>& rows) {
  std::size_t w = 0;
  for (const auto& [k, v] : rows) w = std::max(w, k.size());
  for (const auto& [k, v] : rows) {
    os << "  " << k << std::string(w - k.size() + 2, ' ') << v << "\n";
  }
}

void CollectCommands(const CLI::App& app, std::vector<std::pair<std::string, std::string>>* rows) {
  for (const CLI::App* s : Subcommands(app)) {
    rows->emplace_back(CommandPath(*s), s->get_description());
    CollectCommands(*s, rows);
  }
}

}  // namespace

ArgScan ScanArgs(const CLI::App& root, const std::vector<std::string>& args) {
  ArgScan s;
  s.path.push_back(&root);
  const CLI::App* cur = &root;
  auto note = [&](const CLI::Option* o) {
    for (const CLI::App* a : s.path) {
      if (o == a->get_help_ptr() || o == a->get_help_all_ptr()) s.help = true;
    }
    if (o == root.get_version_ptr()) s.version = true;
    if (o->check_lname("json")) s.json = true;
  };
  // Index of the last argument an option taking values at `i` consumes.
  auto skip_values = [&](const CLI::Option* o, std::size_t i) {
    if (i + 1 >= args.size()) {
      s.dangling = true;
      return i;
    }
    i++;
    if (o->get_items_expected_max() > 1 && o->get_allow_extra_args()) {
      while (i + 1 < args.size() && args[i + 1].rfind('-', 0) != 0 && FindSubcommand(*cur, args[i + 1]) == nullptr) {
        i++;
      }
    }
    return i;
  };
  for (std::size_t i = 0; i < args.size(); i++) {
    const std::string& a = args[i];
    if (a.size() > 2 && a.rfind("--", 0) == 0) {
      const auto eq = a.find('=');
      const std::string name = a.substr(0, eq);
      const CLI::Option* o = FindOption(*cur, name);
      if (o == nullptr) {
        s.unknown_options.emplace_back(name, cur);
        continue;
      }
      note(o);
      if (eq == std::string::npos && TakesValue(*o)) i = skip_values(o, i);
      continue;
    }
    if (a.size() > 1 && a[0] == '-' && a != "--") {
      for (std::size_t k = 1; k < a.size(); k++) {
        const std::string name = std::string("-") + a[k];
        const CLI::Option* o = FindOption(*cur, name);
        if (o == nullptr) {
          s.unknown_options.emplace_back(k == 1 ? a : name, cur);
          break;
        }
        note(o);
        if (TakesValue(*o)) {
          if (k + 1 == a.size()) i = skip_values(o, i);
          break;
        }
      }
      continue;
    }
    if (const CLI::App* sub = FindSubcommand(*cur, a); sub != nullptr) {
      cur = sub;
      s.path.push_back(sub);
      continue;
    }
    if (!Subcommands(*cur, true).empty() && !HasPositionals(*cur)) {
      s.unknown_command = a;
      break;
    }
  }
  return s;
}

std::string UnknownCommandMessage(const CLI::App& parent, const std::string& word) {
  std::vector<std::string> names;
  for (const CLI::App* s : Subcommands(parent, true)) names.push_back(s->get_name());
  const std::string prefix = CommandPath(parent).empty() ? "" : CommandPath(parent) + " ";
  std::vector<std::string> close = Suggest(word, names);
  for (auto& c : close) c = prefix + c;
  std::string msg = "unknown command '" + prefix + word + "';";
  if (!close.empty()) return msg + DidYouMean(close);
  return msg + " run 'cairn help" + (prefix.empty() ? "" : " " + CommandPath(parent)) + "' for the list of commands";
}

std::string UnknownOptionMessage(const CLI::App& at, const std::string& option) {
  std::string where = CommandPath(at).empty() ? "" : " for 'cairn " + CommandPath(at) + "'";
  std::string msg = "unknown option '" + option + "'" + where;
  std::vector<std::string> close;
  if (option.size() > 2) close = Suggest(option, OptionNames(at));
  return close.empty() ? msg : msg + ";" + DidYouMean(close);
}

std::string CommandList(const CLI::App& root) {
  std::ostringstream os;
  os << "Usage: " << root.get_name() << " [OPTIONS] COMMAND [ARGS]\n\n" << root.get_description() << "\n\nCommands:\n";
  std::vector<std::pair<std::string, std::string>> rows;
  CollectCommands(root, &rows);
  Rows(os, rows);
  os << "\nGlobal options:\n";
  rows.clear();
  for (const CLI::Option* o : root.get_options()) {
    if (!o->nonpositional()) continue;
    rows.emplace_back(OptionLabel(*o), o->get_description());
  }
  Rows(os, rows);
  os << "\nRun '" << root.get_name() << " help COMMAND' for a command's arguments and options.\n";
  return os.str();
}

std::string CommandHelp(const CLI::App& cmd) {
  std::string prev = "cairn";
  const std::string path = CommandPath(cmd);
  if (auto sp = path.rfind(' '); sp != std::string::npos) prev += " " + path.substr(0, sp);
  return cmd.help(prev);
}

}  // namespace cairn::cli
