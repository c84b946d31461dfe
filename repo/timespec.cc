// SPDX-License-Identifier: MIT

#include "repo/timespec.h"

#include <cctype>
#include <ctime>
#include <string>

namespace cairn::repo {
namespace {

constexpr int64_t kSec = 1000000000;

bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; i++) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

std::string Lower(std::string_view s) {
  std::string out;
  for (char c : s) out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  while (!out.empty() && out.back() == ' ') out.pop_back();
  while (!out.empty() && out.front() == ' ') out.erase(out.begin());
  return out;
}

// secs * kSec + add_ns, false if that does not fit in int64_t (times
// after 2262 or before 1677).
bool ToNs(int64_t secs, int64_t add_ns, int64_t* out) {
  int64_t ns;
  return !__builtin_mul_overflow(secs, kSec, &ns) && !__builtin_add_overflow(ns, add_ns, out);
}

int64_t DayStart(int64_t ns) {
  int64_t secs = ns / kSec;
  return (secs - ((secs % 86400) + 86400) % 86400) * kSec;
}

}  // namespace

Result<int64_t> ParseTime(std::string_view text, int64_t now_ns) {
  auto bad = [&] {
    return Status::InvalidArgument("cannot understand the time '" + std::string(text) +
                                   "'; use a date like 2026-11-20, a date-time like "
                                   "'2026-11-20 14:00', or a form like '2 days ago'");
  };
  std::string t = Lower(text);
  if (t.empty()) return bad();
  if (t == "now") return now_ns;
  if (t == "today") return DayStart(now_ns);
  if (t == "yesterday") return DayStart(now_ns) - 86400 * kSec;
  if (t[0] == '@') {
    if (t.size() < 2 || t.size() > 12) return bad();
    int64_t v = 0;
    for (size_t i = 1; i < t.size(); i++) {
      if (!std::isdigit(static_cast<unsigned char>(t[i]))) return bad();
      v = v * 10 + (t[i] - '0');
    }
    int64_t ns;
    if (!ToNs(v, 0, &ns)) return bad();
    return ns;
  }
  // Relative: "N unit(s) ago".
  if (t.size() > 4 && t.substr(t.size() - 4) == " ago") {
    std::string body = t.substr(0, t.size() - 4);
    size_t sp = body.find(' ');
    if (sp == std::string::npos) return bad();
    std::string num = body.substr(0, sp), unit = Lower(body.substr(sp + 1));
    if (num.empty() || num.size() > 6) return bad();
    int64_t n = 0;
    for (char c : num) {
      if (!std::isdigit(static_cast<unsigned char>(c))) return bad();
      n = n * 10 + (c - '0');
    }
    if (!unit.empty() && unit.back() == 's') unit.pop_back();
    int64_t secs;
    if (unit == "second") secs = 1;
    else if (unit == "minute") secs = 60;
    else if (unit == "hour") secs = 3600;
    else if (unit == "day") secs = 86400;
    else if (unit == "week") secs = 7 * 86400;
    else if (unit == "month") secs = 30 * 86400;
    else if (unit == "year") secs = 365 * 86400;
    else return bad();
    int64_t ago, ns;
    if (!ToNs(n * secs, 0, &ago) || __builtin_sub_overflow(now_ns, ago, &ns)) return bad();
    return ns;
  }
  // ISO 8601.
  int y, mo, d, h = 0, mi = 0, s = 0;
  if (!Digits(t, 0, 4, &y) || t.size() < 10 || t[4] != '-' || !Digits(t, 5, 2, &mo) || t[7] != '-' ||
      !Digits(t, 8, 2, &d)) {
    return bad();
  }
  size_t pos = 10;
  int64_t frac_ns = 0, offset = 0;
  if (pos < t.size()) {
    if (t[pos] != ' ' && t[pos] != 't') return bad();
    pos++;
    if (!Digits(t, pos, 2, &h) || pos + 2 >= t.size() || t[pos + 2] != ':' || !Digits(t, pos + 3, 2, &mi)) {
      return bad();
    }
    pos += 5;
    if (pos < t.size() && t[pos] == ':') {
      if (!Digits(t, pos + 1, 2, &s)) return bad();
      pos += 3;
      if (pos < t.size() && t[pos] == '.') {
        pos++;
        int64_t scale = 100000000;
        size_t start = pos;
        while (pos < t.size() && std::isdigit(static_cast<unsigned char>(t[pos]))) {
          frac_ns += (t[pos] - '0') * scale;
          scale /= 10;
          pos++;
        }
        if (pos == start || pos - start > 9) return bad();
      }
    }
    if (pos < t.size()) {
      if (t[pos] == 'z' && pos + 1 == t.size()) {
        pos++;
      } else if ((t[pos] == '+' || t[pos] == '-') && pos + 6 == t.size() && t[pos + 3] == ':') {
        int oh, om;
        if (!Digits(t, pos + 1, 2, &oh) || !Digits(t, pos + 4, 2, &om)) return bad();
        offset = (t[pos] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
        pos = t.size();
      } else {
        return bad();
      }
    }
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return bad();
  struct tm tm = {};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  time_t secs = timegm(&tm);
  if (tm.tm_mday != d) return bad();  // 2026-02-31 and the like
  int64_t ns;
  if (!ToNs(static_cast<int64_t>(secs) - offset, frac_ns, &ns)) return bad();
  return ns;
}

}  // namespace cairn::repo
