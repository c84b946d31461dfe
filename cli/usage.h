// SPDX-License-Identifier: MIT
//
// What cairn says about its own command line: the command list (`cairn
// help`), "did you mean" suggestions, and a scan of argv against the CLI11
// App tree that finds the command path, unknown commands and unknown
// options before CLI11 turns them into less helpful messages. Everything
// here walks the App tree generically; no command is named. This header
// contains definitions that shall only be used by modules within cli/.

#pragma once

#include <CLI/CLI.hpp>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cairn::cli {

// Optimal-string-alignment Damerau-Levenshtein distance (insertions,
// deletions, substitutions and transpositions of neighbours cost 1).
std::size_t EditDistance(std::string_view a, std::string_view b);

// The candidates closest to `word` (all of equal, smallest distance, at most
// three, in the order given), or none when nothing is close: a distance of
// at most 2 and at most half the longer word, or `word` (3+ characters)
// being a prefix of the candidate.
std::vector<std::string> Suggest(std::string_view word, const std::vector<std::string>& candidates);

// " did you mean 'a'?" / "'a' or 'b'?" for a non-empty list; "" otherwise.
std::string DidYouMean(const std::vector<std::string>& suggestions);

// The visible (non-hidden) subcommands of `app`; `all` includes hidden ones.
std::vector<const CLI::App*> Subcommands(const CLI::App& app, bool all = false);
// "repair index" for the App `repair index` ("" for the root).
std::string CommandPath(const CLI::App& app);
bool IsHidden(const CLI::App& app);

// The option `name` ("--json", "-r") as CLI11 finds it from `app`: in `app`,
// then in its parents while subcommands fall through.
const CLI::Option* FindOption(const CLI::App& app, const std::string& name);
bool TakesValue(const CLI::Option& opt);
// The name of an option's value: its type name without what CLI11 appends
// for validators ("INT", not "INT:INT in [0 - 19]").
std::string ValueName(const CLI::Option& opt);

struct ArgScan {
  std::vector<const CLI::App*> path;  // the root first, then each command named
  std::string unknown_command;        // a word naming no subcommand of path.back()
  // Options no App on the path knows: as written, and the App they follow.
  std::vector<std::pair<std::string, const CLI::App*>> unknown_options;
  bool help = false;     // a help flag was given
  bool version = false;  // the version flag was given
  bool json = false;     // --json was given
  bool dangling = false;  // the last argument is an option that lacks its value
};

// Walks `args` (argv without argv[0] and without a "--" and what follows)
// the way CLI11 will parse them.
ArgScan ScanArgs(const CLI::App& root, const std::vector<std::string>& args);

// "unknown command 'repair idx'; did you mean 'repair index'?", or with no
// close match "...; run 'cairn help' for the list of commands".
std::string UnknownCommandMessage(const CLI::App& parent, const std::string& word);
std::string UnknownOptionMessage(const CLI::App& at, const std::string& option);

// `cairn help`: usage, every visible command with its one-line
// description (nested ones as "repair index"), and the global options.
std::string CommandList(const CLI::App& root);

// The help of one command, as `cairn COMMAND --help` prints it.
std::string CommandHelp(const CLI::App& cmd);

}  // namespace cairn::cli
