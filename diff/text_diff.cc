// SPDX-License-Identifier: MIT

#include "diff/text_diff.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace cairn::diff {
namespace {

std::vector<std::string_view> Lines(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    size_t j = s.find('\n', i);
    if (j == std::string_view::npos) j = s.size() - 1;
    out.push_back(s.substr(i, j - i + 1));
    i = j + 1;
  }
  return out;
}

enum class Op { kKeep, kDel, kAdd };

// Myers' greedy algorithm with the V vector saved per step for the
// backtrack. Returns false if more than max_d edits are needed.
bool Myers(const std::vector<std::string_view>& a, const std::vector<std::string_view>& b, int max_d,
           std::vector<Op>* ops) {
  const int n = static_cast<int>(a.size()), m = static_cast<int>(b.size());
  const int offset = max_d + 1;
  std::vector<int> v(static_cast<size_t>(2 * max_d + 3), 0);
  std::vector<std::vector<int>> trace;
  int found = -1;
  for (int d = 0; d <= max_d && found < 0; d++) {
    trace.push_back(v);
    for (int k = -d; k <= d; k += 2) {
      int x;
      if (k == -d || (k != d && v[static_cast<size_t>(offset + k - 1)] < v[static_cast<size_t>(offset + k + 1)])) {
        x = v[static_cast<size_t>(offset + k + 1)];
      } else {
        x = v[static_cast<size_t>(offset + k - 1)] + 1;
      }
      int y = x - k;
      while (x < n && y < m && a[static_cast<size_t>(x)] == b[static_cast<size_t>(y)]) {
        x++;
        y++;
      }
      v[static_cast<size_t>(offset + k)] = x;
      if (x >= n && y >= m) {
        found = d;
        break;
      }
    }
  }
  if (found < 0) return false;
  // Backtrack from (n, m).
  std::vector<Op> rev;
  int x = n, y = m;
  for (int d = found; d > 0; d--) {
    const std::vector<int>& pv = trace[static_cast<size_t>(d)];
    int k = x - y;
    int prev_k;
    if (k == -d || (k != d && pv[static_cast<size_t>(offset + k - 1)] < pv[static_cast<size_t>(offset + k + 1)])) {
      prev_k = k + 1;
    } else {
      prev_k = k - 1;
    }
    int prev_x = pv[static_cast<size_t>(offset + prev_k)];
    int prev_y = prev_x - prev_k;
    while (x > prev_x && y > prev_y) {
      rev.push_back(Op::kKeep);
      x--;
      y--;
    }
    rev.push_back(x == prev_x ? Op::kAdd : Op::kDel);
    x = prev_x;
    y = prev_y;
  }
  while (x > 0 && y > 0) {
    rev.push_back(Op::kKeep);
    x--;
    y--;
  }
  ops->assign(rev.rbegin(), rev.rend());
  return true;
}

void AppendLine(std::string* out, char tag, std::string_view line) {
  out->push_back(tag);
  out->append(line);
  if (line.empty() || line.back() != '\n') out->append("\n\\ No newline at end of file\n");
}

std::string Range(int start, int count) {
  // git's form: "l,s", with ",s" left out when s == 1; l is 0 for an empty range.
  if (count == 0) return std::to_string(start) + ",0";
  if (count == 1) return std::to_string(start + 1);
  return std::to_string(start + 1) + "," + std::to_string(count);
}

}  // namespace

bool LooksBinary(std::string_view data) {
  return std::memchr(data.data(), 0, std::min<size_t>(data.size(), 8000)) != nullptr;
}

void UnifiedDiff(std::string_view a_text, std::string_view b_text, int context, std::string* out,
                 int max_edits) {
  if (a_text == b_text) return;
  auto a = Lines(a_text), b = Lines(b_text);
  // Common prefix and suffix are cut first: cheap, and it keeps Myers small.
  size_t pre = 0;
  while (pre < a.size() && pre < b.size() && a[pre] == b[pre]) pre++;
  size_t suf = 0;
  while (suf < a.size() - pre && suf < b.size() - pre && a[a.size() - 1 - suf] == b[b.size() - 1 - suf]) suf++;
  std::vector<std::string_view> ma(a.begin() + static_cast<long>(pre), a.end() - static_cast<long>(suf));
  std::vector<std::string_view> mb(b.begin() + static_cast<long>(pre), b.end() - static_cast<long>(suf));
  std::vector<Op> mid;
  if (!Myers(ma, mb, max_edits, &mid)) {
    mid.clear();
    mid.insert(mid.end(), ma.size(), Op::kDel);
    mid.insert(mid.end(), mb.size(), Op::kAdd);
  }
  std::vector<Op> ops(pre, Op::kKeep);
  ops.insert(ops.end(), mid.begin(), mid.end());
  ops.insert(ops.end(), suf, Op::kKeep);

  // Group into hunks with `context` lines around changes.
  size_t i = 0;
  while (i < ops.size()) {
    while (i < ops.size() && ops[i] == Op::kKeep) i++;
    if (i == ops.size()) break;
    size_t start = i >= static_cast<size_t>(context) ? i - static_cast<size_t>(context) : 0;
    size_t end = i;
    // Extend while the next change is within 2*context keeps.
    for (;;) {
      while (end < ops.size() && ops[end] != Op::kKeep) end++;
      size_t keep = end;
      while (keep < ops.size() && ops[keep] == Op::kKeep) keep++;
      if (keep < ops.size() && keep - end <= static_cast<size_t>(2 * context)) {
        end = keep;
        continue;
      }
      end = std::min(ops.size(), end + static_cast<size_t>(context));
      break;
    }
    // Line numbers at `start`.
    int ax = 0, by = 0;
    for (size_t k = 0; k < start; k++) {
      if (ops[k] != Op::kAdd) ax++;
      if (ops[k] != Op::kDel) by++;
    }
    int acount = 0, bcount = 0;
    std::string body;
    int xa = ax, yb = by;
    for (size_t k = start; k < end; k++) {
      switch (ops[k]) {
        case Op::kKeep:
          AppendLine(&body, ' ', a[static_cast<size_t>(xa)]);
          xa++, yb++, acount++, bcount++;
          break;
        case Op::kDel:
          AppendLine(&body, '-', a[static_cast<size_t>(xa)]);
          xa++, acount++;
          break;
        case Op::kAdd:
          AppendLine(&body, '+', b[static_cast<size_t>(yb)]);
          yb++, bcount++;
          break;
      }
    }
    *out += "@@ -" + Range(ax, acount) + " +" + Range(by, bcount) + " @@\n" + body;
    i = end;
  }
}

}  // namespace cairn::diff
