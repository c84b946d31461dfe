// SPDX-License-Identifier: MIT

#include "repo/retention.h"

#include <fnmatch.h>
#include <time.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <set>

#include <nlohmann/json.hpp>

#include "objstore/core/json_int.h"

namespace cairn::repo {
namespace {

constexpr int64_t kNsPerSec = 1000000000;

Status BadDuration(std::string_view text) {
  return Status::InvalidArgument("invalid duration '" + std::string(text) +
                                 "': give a positive number with a unit y, m, w, d or h (e.g. 30d, 1y6m)");
}

// Floor division, so that times before 1970 land in the right second.
int64_t FloorSeconds(int64_t ns) {
  int64_t s = ns / kNsPerSec;
  if (ns % kNsPerSec < 0) s--;
  return s;
}

int64_t SecondsToNs(int64_t s, int64_t sub_ns) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  if (s > (kMax - sub_ns) / kNsPerSec) return kMax;
  if (s < kMin / kNsPerSec + 1) return kMin;
  return s * kNsPerSec + sub_ns;
}

struct tm LocalTm(int64_t time_ns) {
  time_t s = static_cast<time_t>(FloorSeconds(time_ns));
  struct tm tm;
  if (localtime_r(&s, &tm) == nullptr) std::memset(&tm, 0, sizeof(tm));
  return tm;
}

std::string Format(const struct tm& tm, const char* fmt) {
  char buf[64];
  size_t n = strftime(buf, sizeof(buf), fmt, &tm);
  return std::string(buf, n);
}

// The calendar rules: the bucket key (what makes two snapshots "the same
// day") is also the text of the reason, so the two cannot disagree.
struct BucketRule {
  int RetentionPolicy::*count;
  const char* name;
  const char* format;
};
constexpr BucketRule kBucketRules[] = {
    {&RetentionPolicy::hourly, "hourly", "%Y-%m-%d %H:00"},
    {&RetentionPolicy::daily, "daily", "%Y-%m-%d"},
    {&RetentionPolicy::weekly, "weekly", "%G-W%V"},  // ISO 8601 week-based year and week
    {&RetentionPolicy::monthly, "monthly", "%Y-%m"},
    {&RetentionPolicy::yearly, "yearly", "%Y"},
};

struct CountField {
  int RetentionPolicy::*field;
  const char* flag;  // as in DescribePolicy and the CLI flags
  const char* json;
};
constexpr CountField kCountFields[] = {
    {&RetentionPolicy::last, "keep-last", "last"},          {&RetentionPolicy::hourly, "keep-hourly", "hourly"},
    {&RetentionPolicy::daily, "keep-daily", "daily"},       {&RetentionPolicy::weekly, "keep-weekly", "weekly"},
    {&RetentionPolicy::monthly, "keep-monthly", "monthly"}, {&RetentionPolicy::yearly, "keep-yearly", "yearly"},
};

}  // namespace

// --- Durations ---

std::string Duration::ToString() const {
  if (zero()) return "0d";
  std::string s;
  if (years != 0) s += std::to_string(years) + "y";
  if (months != 0) s += std::to_string(months) + "m";
  if (days != 0) s += std::to_string(days) + "d";
  if (hours != 0) s += std::to_string(hours) + "h";
  return s;
}

Result<Duration> ParseDuration(std::string_view text) {
  if (text.empty()) return BadDuration(text);
  Duration d;
  bool bare = text.find_first_not_of("0123456789") == std::string_view::npos;
  std::set<char> seen;
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] < '0' || text[i] > '9') return BadDuration(text);
    int64_t n = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      n = n * 10 + (text[i] - '0');
      if (n > kMaxDurationNumber) {
        return Status::InvalidArgument("invalid duration '" + std::string(text) + "': a number is too large (at most " +
                                       std::to_string(kMaxDurationNumber) + ")");
      }
      i++;
    }
    char unit = bare ? 'd' : (i < text.size() ? text[i++] : '\0');
    if (!seen.insert(unit).second) return BadDuration(text);  // "1d2d": a typo more likely than a sum
    int v = static_cast<int>(n);
    switch (unit) {
      case 'y': d.years = v; break;
      case 'm': d.months = v; break;
      case 'w': d.days += 7 * v; break;  // at most 8 * kMaxDurationNumber with 'd': fits an int
      case 'd': d.days += v; break;
      case 'h': d.hours = v; break;
      default: return BadDuration(text);
    }
  }
  if (d.zero()) return BadDuration(text);
  return d;
}

int64_t SubtractDuration(int64_t time_ns, const Duration& d) {
  int64_t secs = FloorSeconds(time_ns);
  int64_t sub_ns = time_ns - secs * kNsPerSec;
  if (d.years != 0 || d.months != 0 || d.days != 0) {
    struct tm tm = LocalTm(time_ns);
    tm.tm_year -= d.years;
    tm.tm_mon -= d.months;
    tm.tm_mday -= d.days;
    tm.tm_isdst = -1;  // the zone of the new date decides, not the one of the old
    tm.tm_wday = -1;   // mktime sets it on success; -1 is also a valid time_t
    time_t t = mktime(&tm);
    if (tm.tm_wday == -1) return std::numeric_limits<int64_t>::min();  // before any representable time
    secs = static_cast<int64_t>(t);
  }
  secs -= static_cast<int64_t>(d.hours) * 3600;
  return SecondsToNs(secs, sub_ns);
}

// --- Policies ---

bool RetentionPolicy::HasKeepRule() const {
  for (const auto& f : kCountFields) {
    if (this->*f.field != 0) return true;
  }
  return !within.zero() || !keep_tags.empty();
}

bool operator==(const RetentionPolicy& a, const RetentionPolicy& b) {
  return a.last == b.last && a.hourly == b.hourly && a.daily == b.daily && a.weekly == b.weekly &&
         a.monthly == b.monthly && a.yearly == b.yearly && a.within == b.within && a.keep_tags == b.keep_tags &&
         a.older_than == b.older_than && a.min_count == b.min_count;
}

Status ValidatePolicy(const RetentionPolicy& p) {
  for (const auto& f : kCountFields) {
    int v = p.*f.field;
    if (v < -1) {
      return Status::InvalidArgument("invalid --" + std::string(f.flag) + " " + std::to_string(v) +
                                     ": give a positive count, or -1 for all");
    }
  }
  if (p.min_count < 0) {
    return Status::InvalidArgument("invalid --min-count " + std::to_string(p.min_count) +
                                   ": give a count of 0 or more");
  }
  for (const auto& [d, flag] : {std::pair{&p.within, "--keep-within"}, std::pair{&p.older_than, "--older-than"}}) {
    if (d->years < 0 || d->months < 0 || d->days < 0 || d->hours < 0) {
      return Status::InvalidArgument("invalid " + std::string(flag) + " " + d->ToString() +
                                     ": give a positive duration (e.g. 30d, 1y6m)");
    }
  }
  for (const auto& pat : p.keep_tags) {
    if (pat.empty()) return Status::InvalidArgument("invalid --keep-tag '': give a tag name or a pattern like 'v*'");
  }
  if (p.Empty()) return Status::InvalidArgument("the policy keeps nothing: give at least one --keep-* rule");
  return Status::OK();
}

std::string DescribePolicy(const RetentionPolicy& p) {
  std::vector<std::string> parts;
  for (const auto& f : kCountFields) {
    int v = p.*f.field;
    if (v != 0) parts.push_back(std::string(f.flag) + " " + (v == -1 ? std::string("all") : std::to_string(v)));
  }
  if (!p.within.zero()) parts.push_back("keep-within " + p.within.ToString());
  for (const auto& t : p.keep_tags) parts.push_back("keep-tag " + t);
  if (!p.older_than.zero()) parts.push_back("older-than " + p.older_than.ToString());
  if (p.min_count != 0) parts.push_back("min-count " + std::to_string(p.min_count));
  if (parts.empty()) return "no rules";
  std::string s;
  for (const auto& part : parts) s += (s.empty() ? "" : ", ") + part;
  return s;
}

// --- The decision ---

std::vector<RetentionDecision> ApplyRetention(const RetentionPolicy& p, const std::vector<RetentionItem>& items,
                                              int64_t now_ns) {
  std::vector<const RetentionItem*> order;
  order.reserve(items.size());
  for (const auto& it : items) order.push_back(&it);
  std::sort(order.begin(), order.end(), [](const RetentionItem* a, const RetentionItem* b) {
    if (a->time_ns != b->time_ns) return a->time_ns > b->time_ns;
    return a->id < b->id;
  });
  std::vector<RetentionDecision> out;
  if (order.empty()) return out;

  int64_t newest = order.front()->time_ns;
  for (const RetentionItem* it : order) {
    if (it->time_ns <= now_ns) {
      newest = it->time_ns;
      break;
    }
  }
  const int64_t within_cutoff = p.within.zero() ? 0 : SubtractDuration(newest, p.within);
  const int64_t older_cutoff = p.older_than.zero() ? 0 : SubtractDuration(now_ns, p.older_than);
  const std::string within_text = p.within.ToString();
  const std::string older_text = p.older_than.ToString();

  int last_left = p.last;
  struct BucketState {
    int left;
    std::optional<std::string> prev;  // the bucket of the snapshot this rule kept last
  };
  std::vector<BucketState> buckets;
  for (const auto& r : kBucketRules) buckets.push_back({p.*r.count, std::nullopt});

  for (size_t nr = 0; nr < order.size(); nr++) {
    const RetentionItem& it = *order[nr];
    const bool oldest = nr + 1 == order.size();
    RetentionDecision d;
    d.id = it.id;
    d.time_ns = it.time_ns;
    for (const auto& why : it.protect) d.reasons.push_back(why);
    std::vector<std::string> tags = it.tags;
    std::sort(tags.begin(), tags.end());
    tags.erase(std::unique(tags.begin(), tags.end()), tags.end());
    for (const auto& t : tags) d.reasons.push_back("tagged " + t);
    for (const auto& pat : p.keep_tags) {
      bool match = std::any_of(tags.begin(), tags.end(),
                               [&](const std::string& t) { return fnmatch(pat.c_str(), t.c_str(), 0) == 0; });
      if (match) d.reasons.push_back("keep-tag " + pat);
    }
    if (last_left != 0) {
      d.reasons.push_back("last");
      if (last_left > 0) last_left--;
    }
    struct tm tm = LocalTm(it.time_ns);
    for (size_t i = 0; i < buckets.size(); i++) {
      BucketState& b = buckets[i];
      if (b.left == 0) continue;
      std::string key = Format(tm, kBucketRules[i].format);
      bool fresh = key != b.prev;
      if (!fresh && !oldest) continue;
      // The oldest snapshot is kept by a rule with count left even inside a
      // used bucket: restic's way of keeping the longest history possible.
      d.reasons.push_back(std::string(kBucketRules[i].name) + " " + key + (fresh ? "" : " (oldest)"));
      b.prev = std::move(key);
      if (b.left > 0) b.left--;
    }
    if (!p.within.zero() && it.time_ns > within_cutoff) d.reasons.push_back("within " + within_text);
    if (nr < static_cast<size_t>(std::max(p.min_count, 0))) d.reasons.push_back("min-count");
    if (!p.older_than.zero() && it.time_ns > older_cutoff) d.reasons.push_back("newer than " + older_text);
    d.keep = !d.reasons.empty();
    out.push_back(std::move(d));
  }
  return out;
}

// --- Storage ---

const RetentionPolicy* StoredPolicy::For(const std::string& branch) const {
  auto it = branches.find(branch);
  if (it != branches.end()) return &it->second;
  return fallback ? &*fallback : nullptr;
}

namespace {

nlohmann::json PolicyToJson(const RetentionPolicy& p) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& f : kCountFields) {
    if (p.*f.field != 0) j[f.json] = p.*f.field;
  }
  if (!p.within.zero()) j["within"] = p.within.ToString();
  if (!p.keep_tags.empty()) j["keep_tags"] = p.keep_tags;
  if (!p.older_than.zero()) j["older_than"] = p.older_than.ToString();
  if (p.min_count != 0) j["min_count"] = p.min_count;
  return j;
}

// Throws nlohmann's type_error for a wrong type (turned into Corruption by
// the caller); other problems come back as a Status.
Result<RetentionPolicy> PolicyFromJson(const nlohmann::json& j, const std::string& what) {
  if (!j.is_object()) return Status::Corruption(what + " is not an object");
  RetentionPolicy p;
  for (const auto& [key, v] : j.items()) {
    const CountField* count = nullptr;
    for (const auto& f : kCountFields) {
      if (key == f.json) count = &f;
    }
    if (count != nullptr) {
      p.*count->field = JsonInt<int>(v);
    } else if (key == "min_count") {
      p.min_count = JsonInt<int>(v);
    } else if (key == "within" || key == "older_than") {
      auto d = ParseDuration(v.get<std::string>());
      if (!d.ok()) return Status::Corruption(what + " has a bad '" + key + "' (" + d.status().message() + ")");
      (key == "within" ? p.within : p.older_than) = *d;
    } else if (key == "keep_tags") {
      if (!v.is_array()) return Status::Corruption(what + " has a 'keep_tags' that is not a list");
      for (const auto& t : v) p.keep_tags.push_back(t.get<std::string>());
    } else {
      // A rule this version does not know could only keep more: ignoring it
      // would delete what the writer meant to keep.
      return Status::Corruption(what + " has an unknown field '" + key + "'");
    }
  }
  if (Status st = ValidatePolicy(p); !st.ok()) return Status::Corruption(what + " is invalid (" + st.message() + ")");
  return p;
}

}  // namespace

std::string EncodePolicy(const StoredPolicy& p) {
  nlohmann::json j = nlohmann::json::object();
  j["version"] = kPolicyVersion;
  if (p.fallback) j["default"] = PolicyToJson(*p.fallback);
  nlohmann::json b = nlohmann::json::object();
  for (const auto& [name, pol] : p.branches) b[name] = PolicyToJson(pol);
  j["branches"] = std::move(b);
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<StoredPolicy> DecodePolicy(std::string_view json, const std::string& name) {
  const std::string damaged = "retention policy '" + name + "' is damaged";
  auto j = nlohmann::json::parse(json, nullptr, false);
  if (j.is_discarded()) return Status::Corruption(damaged + " (not JSON)");
  if (!j.is_object()) return Status::Corruption(damaged + " (not a JSON object)");
  try {
    auto v = j.find("version");
    if (v == j.end()) return Status::Corruption(damaged + " (no version)");
    int version = JsonInt<int>(*v);
    if (version > kPolicyVersion) {
      return Status::NotSupported("retention policy '" + name + "' has version " + std::to_string(version) +
                                  "; this cairn reads version " + std::to_string(kPolicyVersion) + ": upgrade cairn");
    }
    if (version < 1) return Status::Corruption(damaged + " (version " + std::to_string(version) + ")");
    StoredPolicy out;
    for (const auto& [key, val] : j.items()) {
      if (key == "version") continue;
      if (key == "default") {
        CAIRN_ASSIGN_OR_RETURN(RetentionPolicy p, PolicyFromJson(val, damaged + ": the default policy"));
        out.fallback = std::move(p);
      } else if (key == "branches") {
        if (!val.is_object()) return Status::Corruption(damaged + " ('branches' is not an object)");
        for (const auto& [branch, pol] : val.items()) {
          if (branch.empty()) return Status::Corruption(damaged + " (a branch with an empty name)");
          CAIRN_ASSIGN_OR_RETURN(RetentionPolicy p, PolicyFromJson(pol, damaged + ": the policy of '" + branch + "'"));
          out.branches.emplace(branch, std::move(p));
        }
      } else {
        return Status::Corruption(damaged + " (unknown field '" + key + "')");
      }
    }
    return out;
  } catch (const nlohmann::json::exception&) {
    return Status::Corruption(damaged + " (a field has the wrong type)");
  }
}

}  // namespace cairn::repo
