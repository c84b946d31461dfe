// SPDX-License-Identifier: MIT
//
// Documents generated from the CLI definition itself (the CLI11 App tree):
// bash and zsh completion scripts and the cairn(1) man page. The build runs
// `cairn completion bash|zsh` and `cairn man` to produce them, so they can
// never drift from the commands. This header contains definitions that
// shall only be used by modules within cli/.

#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace cairn::cli {

// The exit codes and what they mean, the one list of them in code: the man
// page's EXIT STATUS is made from it, and docs/cli.md#exit-codes carries the
// same rows (tests/e2e/t0053-man.sh compares them). `code` spans may hold
// `backticks` for command and flag names.
struct ExitCodeDoc {
  int code;
  const char* meaning;
};
const std::vector<ExitCodeDoc>& ExitCodeDocs();

// What an option's or positional's value is, for completion: decided from
// its type name (PATH, FILE, DIR, REV, BRANCH, COMMAND) or else its
// description and name.
enum class ValueKind { kNone, kPath, kRev, kBranch, kRevOrPath, kCommand };
ValueKind ValueKindOf(const CLI::Option& opt);

std::string BashCompletion(const CLI::App& root);
std::string ZshCompletion(const CLI::App& root);
// roff source of cairn(1); `version` goes into the title line.
std::string ManPage(const CLI::App& root, const std::string& version);

}  // namespace cairn::cli
