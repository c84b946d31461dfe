// SPDX-License-Identifier: MIT

#include "repo/exclude.h"

#include <vector>

namespace cairn::repo {

bool ParseExcludeRule(std::string_view line, const std::string& base, ExcludeRule* rule) {
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\n')) {
    if (line.size() >= 2 && line.back() == ' ' && line[line.size() - 2] == '\\') break;  // escaped space
    line.remove_suffix(1);
  }
  if (line.empty() || line[0] == '#') return false;
  ExcludeRule r;
  r.base = base;
  if (line[0] == '!') {
    r.negate = true;
    line.remove_prefix(1);
  } else if (line[0] == '\\' && line.size() > 1 && (line[1] == '#' || line[1] == '!')) {
    line.remove_prefix(1);
  }
  if (!line.empty() && line.back() == '/') {
    r.dir_only = true;
    line.remove_suffix(1);
  }
  if (!line.empty() && line[0] == '/') {
    r.anchored = true;
    line.remove_prefix(1);
  }
  if (line.find('/') != std::string_view::npos) r.anchored = true;
  if (line.empty()) return false;
  r.pattern = line;
  *rule = std::move(r);
  return true;
}

namespace {

// A glob match in progress. The plain recursion is fast for every pattern
// people write, but exponential for ones like "*a*a*a*a*b" (found by
// libFuzzer: a hang). So after kStepBudget calls it starts again, this time
// remembering every (pattern offset, path offset) pair known not to match,
// which bounds the work by |pattern| x |path| states.
struct Glob {
  static constexpr size_t kStepBudget = 4096;
  std::string_view pattern, path;
  size_t steps = 0;
  bool memo_on = false;
  std::vector<bool> failed;  // (pattern offset) * (|path| + 1) + path offset

  bool Match(std::string_view p, std::string_view s);
  bool Known(std::string_view p, std::string_view s) const { return failed[Index(p, s)]; }
  size_t Index(std::string_view p, std::string_view s) const {
    size_t pi = static_cast<size_t>(p.data() - pattern.data());
    size_t si = static_cast<size_t>(s.data() - path.data());
    return pi * (path.size() + 1) + si;
  }
};

bool MatchHere(Glob* g, std::string_view p, std::string_view s);

bool Glob::Match(std::string_view p, std::string_view s) {
  if (!memo_on) {
    steps++;
    if (steps > kStepBudget) return false;  // the caller starts again with the memo
    return MatchHere(this, p, s);
  }
  size_t at = Index(p, s);
  if (failed[at]) return false;
  bool hit = MatchHere(this, p, s);
  if (!hit) failed[at] = true;
  return hit;
}

// Matches one glob segment set with '*' not crossing '/'; through g->Match
// for every sub-match.
bool MatchHere(Glob* g, std::string_view p, std::string_view s) {
  while (!p.empty()) {
    char c = p[0];
    if (c == '*') {
      if (p.size() >= 2 && p[1] == '*') {
        // '**': any run of characters, '/' included. "**/" may also match nothing.
        std::string_view rest = p.substr(2);
        bool slash = !rest.empty() && rest[0] == '/';
        if (slash && g->Match(rest.substr(1), s)) return true;
        for (size_t i = 0; i <= s.size(); i++) {
          if (g->Match(rest, s.substr(i))) return true;
        }
        return false;
      }
      std::string_view rest = p.substr(1);
      for (size_t i = 0; i <= s.size(); i++) {
        if (g->Match(rest, s.substr(i))) return true;
        if (i < s.size() && s[i] == '/') break;
      }
      return false;
    }
    if (s.empty()) return false;
    if (c == '?') {
      if (s[0] == '/') return false;
      p.remove_prefix(1);
      s.remove_prefix(1);
      continue;
    }
    if (c == '[') {
      size_t close = p.find(']', 2);
      if (close != std::string_view::npos) {
        std::string_view set = p.substr(1, close - 1);
        bool neg = !set.empty() && (set[0] == '!' || set[0] == '^');
        if (neg) set.remove_prefix(1);
        bool hit = false;
        for (size_t i = 0; i < set.size(); i++) {
          if (i + 2 < set.size() && set[i + 1] == '-') {
            if (s[0] >= set[i] && s[0] <= set[i + 2]) hit = true;
            i += 2;
          } else if (set[i] == s[0]) {
            hit = true;
          }
        }
        if (hit == neg || s[0] == '/') return false;
        p.remove_prefix(close + 1);
        s.remove_prefix(1);
        continue;
      }
    }
    if (c == '\\' && p.size() > 1) {
      p.remove_prefix(1);
      c = p[0];
    }
    if (c != s[0]) return false;
    p.remove_prefix(1);
    s.remove_prefix(1);
  }
  return s.empty();
}

}  // namespace

bool GlobMatch(std::string_view pattern, std::string_view path) {
  Glob g;
  g.pattern = pattern;
  g.path = path;
  bool hit = g.Match(pattern, path);
  if (hit || g.steps <= Glob::kStepBudget) return hit;  // a match found is a match
  g.memo_on = true;
  g.failed.assign((pattern.size() + 1) * (path.size() + 1), false);
  return g.Match(pattern, path);
}

bool Excluded(const std::vector<ExcludeRule>& rules, const std::string& path, bool is_dir) {
  bool excluded = false;
  std::string_view name = path;
  size_t slash = path.rfind('/');
  if (slash != std::string::npos) name = name.substr(slash + 1);
  for (const auto& r : rules) {
    if (r.dir_only && !is_dir) continue;
    std::string_view rel = path;
    if (!r.base.empty()) {
      if (path.size() <= r.base.size() || path.compare(0, r.base.size(), r.base) != 0 ||
          path[r.base.size()] != '/') {
        continue;
      }
      rel = std::string_view(path).substr(r.base.size() + 1);
    }
    bool hit = r.anchored ? GlobMatch(r.pattern, rel) : GlobMatch(r.pattern, name);
    if (hit) excluded = !r.negate;
  }
  return excluded;
}

}  // namespace cairn::repo
