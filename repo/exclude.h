// SPDX-License-Identifier: MIT
//
// Exclusion rules in gitignore syntax, for --exclude, --exclude-file and
// .cairnignore files: '#' comments, '!' negation, a trailing '/' for folders
// only, a '/' inside or in front of a pattern anchors it to the folder the
// rule comes from (otherwise it matches a name at any depth), and the globs
// '*', '?', '[...]' and '**'. The last matching rule wins.

#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace cairn::repo {

struct ExcludeRule {
  std::string pattern;  // without '!', leading '/' and trailing '/'
  std::string base;     // snapshot-relative folder the rule applies under ("" = root)
  bool negate = false;
  bool dir_only = false;
  bool anchored = false;
};

// Parses one line of a rules file; returns false for blanks and comments.
bool ParseExcludeRule(std::string_view line, const std::string& base, ExcludeRule* rule);

// Matches a glob (with '**') against a '/'-separated path.
bool GlobMatch(std::string_view pattern, std::string_view path);

// Decides whether the entry at snapshot-relative `path` is excluded, given
// `rules` in priority order (later rules win).
bool Excluded(const std::vector<ExcludeRule>& rules, const std::string& path, bool is_dir);

}  // namespace cairn::repo
