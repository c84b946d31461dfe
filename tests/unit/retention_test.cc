// SPDX-License-Identifier: MIT
//
// The retention engine against restic's documented rules. The expected sets
// are computed here without the engine: by grouping on calendar fields of
// struct tm in a std::map and taking the newest snapshot of the N newest
// groups, or written out as literal dates.

#include "repo/retention.h"

#include <time.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

namespace cairn::repo {
namespace {

constexpr int64_t kSec = 1000000000;

// Sets TZ for one test and puts the old value back.
class TzGuard {
 public:
  explicit TzGuard(const char* tz) {
    const char* old = std::getenv("TZ");
    had_ = old != nullptr;
    if (had_) old_ = old;
    setenv("TZ", tz, 1);
    tzset();
  }
  ~TzGuard() {
    if (had_) {
      setenv("TZ", old_.c_str(), 1);
    } else {
      unsetenv("TZ");
    }
    tzset();
  }

 private:
  bool had_ = false;
  std::string old_;
};

// Local wall-clock time to ns (mday may overflow; mktime normalises).
int64_t Local(int y, int mo, int d, int h = 12, int mi = 0) {
  struct tm tm = {};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_isdst = -1;
  return static_cast<int64_t>(mktime(&tm)) * kSec;
}

int64_t Utc(int y, int mo, int d, int h, int mi = 0) {
  struct tm tm = {};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  return static_cast<int64_t>(timegm(&tm)) * kSec;
}

struct tm Tm(int64_t ns) {
  time_t s = static_cast<time_t>(ns / kSec);
  struct tm tm;
  localtime_r(&s, &tm);
  return tm;
}

// "2026-11-30 12:00" in local time, for readable failures.
std::string Show(int64_t ns) {
  struct tm tm = Tm(ns);
  char buf[32];
  strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M", &tm);
  return buf;
}

ObjectId Id(const std::string& label) { return Sha256(label); }

RetentionItem Item(int64_t t, const std::string& label = "") {
  RetentionItem it;
  it.id = Id(label.empty() ? std::to_string(t) : label);
  it.time_ns = t;
  return it;
}

// One snapshot a day at 12:00 local, 2025-12-01 .. 2026-11-30 (365 days).
std::vector<RetentionItem> DailySeries() {
  std::vector<RetentionItem> out;
  for (int i = 0;; i++) {
    int64_t t = Local(2025, 12, 1 + i);
    if (t > Local(2026, 11, 30)) break;
    out.push_back(Item(t));
  }
  return out;
}

// Two snapshots an hour (:10 and :40), 2026-11-21 00:10 .. 2026-11-30 23:40.
std::vector<RetentionItem> HourlySeries() {
  std::vector<RetentionItem> out;
  for (int h = 0; h < 240; h++) {
    out.push_back(Item(Local(2026, 11, 21, h, 10)));
    out.push_back(Item(Local(2026, 11, 21, h, 40)));
  }
  return out;
}

// The kept snapshots' times, newest first.
std::vector<std::string> Kept(const std::vector<RetentionDecision>& ds) {
  std::vector<std::string> out;
  for (const auto& d : ds) {
    if (d.keep) out.push_back(Show(d.time_ns));
  }
  return out;
}

std::vector<std::string> Newest(const std::vector<RetentionItem>& items, size_t n) {
  std::vector<int64_t> ts;
  for (const auto& it : items) ts.push_back(it.time_ns);
  std::sort(ts.rbegin(), ts.rend());
  std::vector<std::string> out;
  for (size_t i = 0; i < n && i < ts.size(); i++) out.push_back(Show(ts[i]));
  return out;
}

using Key = std::tuple<int, int, int, int>;
Key HourKey(const struct tm& t) { return {t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour}; }
Key DayKey(const struct tm& t) { return {t.tm_year, t.tm_mon, t.tm_mday, 0}; }
Key MonthKey(const struct tm& t) { return {t.tm_year, t.tm_mon, 0, 0}; }
Key YearKey(const struct tm& t) { return {t.tm_year, 0, 0, 0}; }
// The week as the date of its Monday (ISO weeks start on Monday), found by
// stepping back tm_wday days, without strftime's %G/%V.
Key WeekKey(const struct tm& t) {
  struct tm m = t;
  m.tm_mday -= (t.tm_wday + 6) % 7;
  m.tm_hour = 12;
  m.tm_isdst = -1;
  mktime(&m);
  return {m.tm_year, m.tm_mon, m.tm_mday, 0};
}

// restic's bucket rule, stated as sets: the newest snapshot of each of the n
// newest calendar groups (all groups for -1), plus the oldest snapshot when
// fewer than n groups exist (the count is not used up when it is reached).
std::set<std::string> Expected(const std::vector<RetentionItem>& items, Key (*key)(const struct tm&), int n) {
  std::map<Key, int64_t> newest_in;
  for (const auto& it : items) {
    auto [pos, fresh] = newest_in.emplace(key(Tm(it.time_ns)), it.time_ns);
    if (!fresh) pos->second = std::max(pos->second, it.time_ns);
  }
  std::vector<int64_t> groups;
  for (const auto& [k, t] : newest_in) groups.push_back(t);
  std::sort(groups.rbegin(), groups.rend());
  std::set<std::string> out;
  for (size_t i = 0; i < groups.size() && (n == -1 || i < static_cast<size_t>(n)); i++) out.insert(Show(groups[i]));
  if (n == -1 || groups.size() < static_cast<size_t>(n)) {
    int64_t oldest = items.front().time_ns;
    for (const auto& it : items) oldest = std::min(oldest, it.time_ns);
    out.insert(Show(oldest));
  }
  return out;
}

std::set<std::string> KeptSet(const std::vector<RetentionDecision>& ds) {
  auto v = Kept(ds);
  return {v.begin(), v.end()};
}

const RetentionDecision& At(const std::vector<RetentionDecision>& ds, int64_t t) {
  for (const auto& d : ds) {
    if (d.time_ns == t) return d;
  }
  FAIL("no decision for " << Show(t));
  return ds.front();
}

using Reasons = std::vector<std::string>;

TEST_CASE("ParseDuration reads calendar durations", "[retention]") {
  auto ok = [](const char* s) {
    auto d = ParseDuration(s);
    INFO(s);
    REQUIRE(d.ok());
    return *d;
  };
  CHECK(ok("30d") == Duration{0, 0, 30, 0});
  CHECK(ok("30") == Duration{0, 0, 30, 0});  // a bare number is days
  CHECK(ok("2w") == Duration{0, 0, 14, 0});
  CHECK(ok("24h") == Duration{0, 0, 0, 24});
  CHECK(ok("1y6m") == Duration{1, 6, 0, 0});
  CHECK(ok("1y2m3d4h") == Duration{1, 2, 3, 4});
  CHECK(ok("6m1y") == Duration{1, 6, 0, 0});
  CHECK(ok("1w2d") == Duration{0, 0, 9, 0});
  CHECK(ok("0y6m") == Duration{0, 6, 0, 0});
  CHECK(ok("1000000h") == Duration{0, 0, 0, 1000000});
  CHECK(ok("1y2m3d4h").ToString() == "1y2m3d4h");
  CHECK(ok("2w").ToString() == "14d");
  CHECK(ok(ok("1w2d").ToString().c_str()) == ok("9d"));
  CHECK(Duration{}.zero());
  CHECK(Duration{}.ToString() == "0d");
}

TEST_CASE("ParseDuration refuses garbage with one clear line", "[retention]") {
  for (const char* s : {"", "-3d", "3x", "d", "1.5d", "0d", "0", "0y0m", "1d2d", " 3d", "3d ", "3D", "1y6", "+3d",
                        "3dd", "y1"}) {
    INFO("'" << s << "'");
    auto d = ParseDuration(s);
    REQUIRE_FALSE(d.ok());
    CHECK(d.status().code() == Code::kInvalidArgument);
    CHECK(d.status().message() == "invalid duration '" + std::string(s) +
                                      "': give a positive number with a unit y, m, w, d or h (e.g. 30d, 1y6m)");
  }
  auto big = ParseDuration("99999999999d");
  REQUIRE_FALSE(big.ok());
  CHECK(big.status().code() == Code::kInvalidArgument);
  CHECK(big.status().message() == "invalid duration '99999999999d': a number is too large (at most 1000000)");
  CHECK_FALSE(ParseDuration("1000001h").ok());
}

TEST_CASE("SubtractDuration moves the local calendar", "[retention]") {
  TzGuard tz("UTC");
  int64_t t = Local(2026, 11, 30, 12) + 123;  // sub-second part is kept
  CHECK(SubtractDuration(t, {0, 0, 10, 0}) == Local(2026, 11, 20, 12) + 123);
  CHECK(SubtractDuration(t, {1, 0, 0, 0}) == Local(2025, 11, 30, 12) + 123);
  CHECK(SubtractDuration(t, {0, 0, 0, 5}) == Local(2026, 11, 30, 7) + 123);
  CHECK(SubtractDuration(t, {1, 2, 3, 4}) == Local(2025, 9, 27, 8) + 123);
  // Go's AddDate and mktime normalise the same way: March 31 - 1 month = "February 31" = March 3.
  CHECK(SubtractDuration(Local(2026, 3, 31), {0, 1, 0, 0}) == Local(2026, 3, 3));
  CHECK(SubtractDuration(0, {0, 0, 1, 0}) == -86400 * kSec);
  CHECK(SubtractDuration(-1, {0, 0, 0, 1}) == -3600 * kSec - 1);
  // Far before what int64 nanoseconds can hold: saturates, never wraps.
  CHECK(SubtractDuration(t, {kMaxDurationNumber, 0, 0, 0}) == std::numeric_limits<int64_t>::min());
  CHECK(SubtractDuration(t, {0, 0, 0, kMaxDurationNumber}) == t - int64_t{kMaxDurationNumber} * 3600 * kSec);
}

TEST_CASE("ValidatePolicy and DescribePolicy", "[retention]") {
  RetentionPolicy p;
  CHECK(p.Empty());
  CHECK_FALSE(p.HasKeepRule());
  Status st = ValidatePolicy(p);
  CHECK(st.code() == Code::kInvalidArgument);
  CHECK(st.message() == "the policy keeps nothing: give at least one --keep-* rule");
  CHECK(DescribePolicy(p) == "no rules");

  p.daily = -2;
  CHECK(ValidatePolicy(p).message() == "invalid --keep-daily -2: give a positive count, or -1 for all");
  p.daily = -1;
  CHECK(ValidatePolicy(p).ok());
  p.min_count = -1;
  CHECK(ValidatePolicy(p).message() == "invalid --min-count -1: give a count of 0 or more");
  p.min_count = 0;
  p.keep_tags = {""};
  CHECK(ValidatePolicy(p).code() == Code::kInvalidArgument);
  p.keep_tags = {};
  p.within.days = -3;
  CHECK(ValidatePolicy(p).code() == Code::kInvalidArgument);

  RetentionPolicy only_age;  // "forget what is older than 30 days" bounds itself
  only_age.older_than.days = 30;
  CHECK_FALSE(only_age.HasKeepRule());
  CHECK(ValidatePolicy(only_age).ok());
  RetentionPolicy only_tag;
  only_tag.keep_tags = {"v*"};
  CHECK(only_tag.HasKeepRule());
  CHECK(ValidatePolicy(only_tag).ok());

  RetentionPolicy q;
  q.last = 3;
  q.daily = 7;
  q.weekly = 4;
  q.yearly = -1;
  q.within = {0, 0, 14, 0};
  q.keep_tags = {"v*", "rel-?"};
  q.older_than = {0, 1, 0, 0};
  q.min_count = 2;
  CHECK(DescribePolicy(q) ==
        "keep-last 3, keep-daily 7, keep-weekly 4, keep-yearly all, keep-within 14d, keep-tag v*, keep-tag rel-?, "
        "older-than 1m, min-count 2");
}

TEST_CASE("a year of daily snapshots, policy by policy", "[retention]") {
  TzGuard tz("UTC");
  const auto items = DailySeries();
  REQUIRE(items.size() == 365);
  const int64_t now = Local(2026, 12, 1, 0);
  auto run = [&](const RetentionPolicy& p) {
    REQUIRE(ValidatePolicy(p).ok());
    auto ds = ApplyRetention(p, items, now);
    REQUIRE(ds.size() == items.size());
    for (const auto& d : ds) CHECK(d.keep == !d.reasons.empty());
    return ds;
  };

  SECTION("keep-last 5") {
    RetentionPolicy p;
    p.last = 5;
    auto ds = run(p);
    CHECK(Kept(ds) == std::vector<std::string>{"2026-11-30 12:00", "2026-11-29 12:00", "2026-11-28 12:00",
                                               "2026-11-27 12:00", "2026-11-26 12:00"});
    CHECK(ds[0].reasons == Reasons{"last"});
    CHECK(ds[5].reasons.empty());
  }
  SECTION("keep-daily 7") {
    RetentionPolicy p;
    p.daily = 7;
    auto ds = run(p);
    CHECK(Kept(ds) == Newest(items, 7));
    CHECK(KeptSet(ds) == Expected(items, DayKey, 7));
    CHECK(At(ds, Local(2026, 11, 24)).reasons == Reasons{"daily 2026-11-24"});
  }
  SECTION("keep-weekly 4") {
    RetentionPolicy p;
    p.weekly = 4;
    auto ds = run(p);
    // 2026-11-30 is a Monday (week 49 has one snapshot); the Sundays before end weeks 48, 47, 46.
    CHECK(Kept(ds) == std::vector<std::string>{"2026-11-30 12:00", "2026-11-29 12:00", "2026-11-22 12:00",
                                               "2026-11-15 12:00"});
    CHECK(KeptSet(ds) == Expected(items, WeekKey, 4));
    CHECK(ds[0].reasons == Reasons{"weekly 2026-W49"});
    CHECK(At(ds, Local(2026, 11, 15)).reasons == Reasons{"weekly 2026-W46"});
  }
  SECTION("keep-weekly over a year boundary uses ISO weeks") {
    RetentionPolicy p;
    p.weekly = -1;
    auto ds = run(p);
    CHECK(KeptSet(ds) == Expected(items, WeekKey, -1));
    // 2026-01-01 is a Thursday: 2025-12-29 .. 2026-01-04 is 2026-W01, kept on its Sunday.
    CHECK(At(ds, Local(2026, 1, 4)).reasons == Reasons{"weekly 2026-W01"});
    CHECK_FALSE(At(ds, Local(2025, 12, 31)).keep);
    CHECK(At(ds, Local(2025, 12, 28)).reasons == Reasons{"weekly 2025-W52"});
    // The oldest (a Monday, inside a week already used) is kept as the count is unlimited.
    CHECK(At(ds, Local(2025, 12, 1)).reasons == Reasons{"weekly 2025-W49 (oldest)"});
  }
  SECTION("keep-monthly 12") {
    RetentionPolicy p;
    p.monthly = 12;
    auto ds = run(p);
    CHECK(KeptSet(ds) == Expected(items, MonthKey, 12));
    CHECK(Kept(ds).size() == 12);
    CHECK(At(ds, Local(2026, 2, 28)).reasons == Reasons{"monthly 2026-02"});
    CHECK(At(ds, Local(2025, 12, 31)).reasons == Reasons{"monthly 2025-12"});
    CHECK_FALSE(At(ds, Local(2025, 12, 1)).keep);  // 12 months exist: the count is used up before the oldest
  }
  SECTION("keep-yearly 3: only two years exist, so the oldest is kept too") {
    RetentionPolicy p;
    p.yearly = 3;
    auto ds = run(p);
    CHECK(Kept(ds) == std::vector<std::string>{"2026-11-30 12:00", "2025-12-31 12:00", "2025-12-01 12:00"});
    CHECK(KeptSet(ds) == Expected(items, YearKey, 3));
    CHECK(ds[0].reasons == Reasons{"yearly 2026"});
    CHECK(At(ds, Local(2025, 12, 31)).reasons == Reasons{"yearly 2025"});
    CHECK(At(ds, Local(2025, 12, 1)).reasons == Reasons{"yearly 2025 (oldest)"});
  }
  SECTION("keep-hourly 24: one snapshot a day is one per hour bucket") {
    RetentionPolicy p;
    p.hourly = 24;
    auto ds = run(p);
    CHECK(Kept(ds) == Newest(items, 24));
    CHECK(KeptSet(ds) == Expected(items, HourKey, 24));
    CHECK(ds[0].reasons == Reasons{"hourly 2026-11-30 12:00"});
  }
  SECTION("keep-within 10d") {
    RetentionPolicy p;
    p.within = *ParseDuration("10d");
    auto ds = run(p);
    // Newer than 2026-11-20 12:00, strictly: 11-21 .. 11-30.
    CHECK(Kept(ds) == Newest(items, 10));
    CHECK(ds[0].reasons == Reasons{"within 10d"});
  }
  SECTION("daily 7 + weekly 4 + monthly 12, by union") {
    RetentionPolicy p;
    p.daily = 7;
    p.weekly = 4;
    p.monthly = 12;
    auto ds = run(p);
    std::set<std::string> want = Expected(items, DayKey, 7);
    for (const auto& s : Expected(items, WeekKey, 4)) want.insert(s);
    for (const auto& s : Expected(items, MonthKey, 12)) want.insert(s);
    CHECK(KeptSet(ds) == want);
    CHECK(want.size() == 7 + 2 + 11);  // 11-29 and 11-30 are daily and weekly, 11-30 monthly too
    CHECK(ds[0].reasons == Reasons{"daily 2026-11-30", "weekly 2026-W49", "monthly 2026-11"});
    CHECK(At(ds, Local(2026, 11, 22)).reasons == Reasons{"weekly 2026-W47"});
    CHECK(At(ds, Local(2026, 10, 31)).reasons == Reasons{"monthly 2026-10"});
  }
  SECTION("keep-daily -1 keeps every day") {
    RetentionPolicy p;
    p.daily = -1;
    auto ds = run(p);
    CHECK(Kept(ds).size() == 365);
  }
  SECTION("older-than 30d with keep-last 1") {
    RetentionPolicy p;
    p.last = 1;
    p.older_than = *ParseDuration("30d");
    auto ds = run(p);
    // now - 30d = 2026-11-01 00:00: all of November is too new to remove.
    CHECK(Kept(ds) == Newest(items, 30));
    CHECK(ds[0].reasons == Reasons{"last", "newer than 30d"});
    CHECK(At(ds, Local(2026, 11, 1)).reasons == Reasons{"newer than 30d"});
    CHECK_FALSE(At(ds, Local(2026, 10, 31)).keep);
  }
  SECTION("older-than alone removes everything older") {
    RetentionPolicy p;
    p.older_than = *ParseDuration("1m");
    auto ds = run(p);
    CHECK(Kept(ds) == Newest(items, 30));  // 2026-11-01 00:00 again
  }
  SECTION("min-count 10 with keep-monthly 1") {
    RetentionPolicy p;
    p.monthly = 1;
    p.min_count = 10;
    auto ds = run(p);
    CHECK(Kept(ds) == Newest(items, 10));
    CHECK(ds[0].reasons == Reasons{"monthly 2026-11", "min-count"});
    CHECK(ds[9].reasons == Reasons{"min-count"});
  }
  SECTION("protect and tags are kept whatever the policy") {
    std::vector<RetentionItem> tagged = items;
    tagged[0].protect = {"branch head main"};                // wherever the input puts it
    tagged[100].tags = {"v1.2", "stable", "v1.2"};           // duplicate names are one reason
    tagged[200].tags = {"nightly"};
    tagged[200].protect = {"tag target of backup-job"};
    RetentionPolicy p;
    p.last = 1;
    p.keep_tags = {"v*", "x*"};
    auto ds = ApplyRetention(p, tagged, now);
    CHECK(Kept(ds) == std::vector<std::string>{"2026-11-30 12:00", Show(tagged[200].time_ns),
                                               Show(tagged[100].time_ns), "2025-12-01 12:00"});
    CHECK(ds[0].reasons == Reasons{"last"});
    CHECK(At(ds, tagged[100].time_ns).reasons == Reasons{"tagged stable", "tagged v1.2", "keep-tag v*"});
    CHECK(At(ds, tagged[200].time_ns).reasons == Reasons{"tag target of backup-job", "tagged nightly"});
    CHECK(At(ds, tagged[0].time_ns).reasons == Reasons{"branch head main"});
  }
  SECTION("a policy may remove everything: that is the caller's to refuse") {
    RetentionPolicy p;
    p.within = *ParseDuration("1h");
    auto ds = ApplyRetention(p, items, now);
    CHECK(Kept(ds) == std::vector<std::string>{"2026-11-30 12:00"});  // within keeps the newest itself
    RetentionPolicy q;
    q.keep_tags = {"v*"};
    auto none = ApplyRetention(q, items, now);
    CHECK(none.size() == 365);
    CHECK(Kept(none).empty());
  }
}

TEST_CASE("ten days of snapshots twice an hour", "[retention]") {
  TzGuard tz("UTC");
  const auto items = HourlySeries();
  REQUIRE(items.size() == 480);
  const int64_t now = Local(2026, 12, 1, 0);
  auto run = [&](const RetentionPolicy& p) { return ApplyRetention(p, items, now); };

  SECTION("keep-hourly 24: the :40 snapshot of each of the last 24 hours") {
    RetentionPolicy p;
    p.hourly = 24;
    auto ds = run(p);
    CHECK(KeptSet(ds) == Expected(items, HourKey, 24));
    auto kept = Kept(ds);
    REQUIRE(kept.size() == 24);
    CHECK(kept.front() == "2026-11-30 23:40");
    CHECK(kept.back() == "2026-11-30 00:40");
    CHECK(ds[0].reasons == Reasons{"hourly 2026-11-30 23:00"});
    CHECK(ds[1].reasons.empty());  // 23:10 shares the hour with 23:40
  }
  SECTION("keep-daily 7") {
    RetentionPolicy p;
    p.daily = 7;
    auto ds = run(p);
    CHECK(KeptSet(ds) == Expected(items, DayKey, 7));
    CHECK(Kept(ds) == std::vector<std::string>{"2026-11-30 23:40", "2026-11-29 23:40", "2026-11-28 23:40",
                                               "2026-11-27 23:40", "2026-11-26 23:40", "2026-11-25 23:40",
                                               "2026-11-24 23:40"});
  }
  SECTION("keep-daily -1: every day and the oldest") {
    RetentionPolicy p;
    p.daily = -1;
    auto ds = run(p);
    CHECK(KeptSet(ds) == Expected(items, DayKey, -1));
    CHECK(Kept(ds).size() == 11);
    CHECK(Kept(ds).back() == "2026-11-21 00:10");
    CHECK(ds.back().reasons == Reasons{"daily 2026-11-21 (oldest)"});
  }
  SECTION("keep-weekly 4 over fewer weeks keeps the oldest") {
    RetentionPolicy p;
    p.weekly = 4;
    auto ds = run(p);
    CHECK(KeptSet(ds) == Expected(items, WeekKey, 4));
    CHECK(Kept(ds) == std::vector<std::string>{"2026-11-30 23:40", "2026-11-29 23:40", "2026-11-22 23:40",
                                               "2026-11-21 00:10"});
  }
  SECTION("keep-within 1d is measured from the newest snapshot") {
    RetentionPolicy p;
    p.within = *ParseDuration("24h");
    auto ds = run(p);
    // After 2026-11-29 23:40, strictly: 11-30 00:10 .. 23:40.
    CHECK(Kept(ds) == Newest(items, 48));
  }
}

TEST_CASE("retention edge cases", "[retention]") {
  TzGuard tz("UTC");
  const int64_t now = Local(2026, 12, 1, 0);
  RetentionPolicy p;
  p.last = 2;

  SECTION("empty input") { CHECK(ApplyRetention(p, {}, now).empty()); }
  SECTION("equal times are ordered by id, and the smallest id wins the tie") {
    std::vector<RetentionItem> items = {Item(Local(2026, 11, 1), "a"), Item(Local(2026, 11, 1), "b"),
                                        Item(Local(2026, 11, 1), "c"), Item(Local(2026, 10, 1), "d")};
    std::vector<ObjectId> ids = {items[0].id, items[1].id, items[2].id};
    std::sort(ids.begin(), ids.end());
    auto ds = ApplyRetention(p, items, now);
    REQUIRE(ds.size() == 4);
    CHECK(ds[0].id == ids[0]);
    CHECK(ds[1].id == ids[1]);
    CHECK(ds[2].id == ids[2]);
    CHECK(ds[0].keep);
    CHECK(ds[1].keep);
    CHECK_FALSE(ds[2].keep);
    RetentionPolicy daily;
    daily.daily = 1;
    auto dd = ApplyRetention(daily, items, now);
    CHECK(dd[0].id == ids[0]);
    CHECK(dd[0].reasons == Reasons{"daily 2026-11-01"});
    CHECK_FALSE(dd[1].keep);
  }
  SECTION("input order does not matter") {
    auto items = DailySeries();
    RetentionPolicy q;
    q.daily = 7;
    q.monthly = 3;
    auto sorted = ApplyRetention(q, items, now);
    std::vector<RetentionItem> shuffled;
    for (size_t i = 0; i < items.size(); i++) shuffled.push_back(items[(i * 97) % items.size()]);  // 97 ⊥ 365
    auto ds = ApplyRetention(q, shuffled, now);
    REQUIRE(ds.size() == sorted.size());
    for (size_t i = 0; i < ds.size(); i++) {
      CHECK(ds[i].id == sorted[i].id);
      CHECK(ds[i].reasons == sorted[i].reasons);
    }
    for (size_t i = 1; i < ds.size(); i++) CHECK(ds[i - 1].time_ns > ds[i].time_ns);
  }
  SECTION("a snapshot from the future does not move the within window") {
    std::vector<RetentionItem> items = {Item(Local(2030, 1, 1)), Item(Local(2026, 11, 30)), Item(Local(2026, 11, 25)),
                                        Item(Local(2026, 11, 1))};
    RetentionPolicy w;
    w.within = *ParseDuration("7d");
    auto ds = ApplyRetention(w, items, now);
    CHECK(Kept(ds) == std::vector<std::string>{"2030-01-01 12:00", "2026-11-30 12:00", "2026-11-25 12:00"});
  }
}

TEST_CASE("buckets are local time, across a DST change", "[retention]") {
  // Europe/Berlin leaves summer time on 2026-10-25: 03:00 CEST becomes 02:00 CET.
  std::vector<RetentionItem> items;
  for (int m = 0; m <= 330; m += 30) items.push_back(Item(Utc(2026, 10, 24, 21, 0) + int64_t{m} * 60 * kSec));
  const int64_t now = Utc(2026, 10, 26, 0);
  RetentionPolicy hourly;
  hourly.hourly = -1;
  RetentionPolicy daily;
  daily.daily = 2;
  auto kept_utc = [](const std::vector<RetentionDecision>& ds) {
    std::vector<int64_t> out;
    for (const auto& d : ds) {
      if (d.keep) out.push_back(d.time_ns);
    }
    return out;
  };

  SECTION("Europe/Berlin") {
    TzGuard tz("Europe/Berlin");
    auto h = ApplyRetention(hourly, items, now);
    // Local 02:00-03:00 happens twice (00:00-01:00Z and 01:00-02:00Z): one bucket, so 00:30Z goes.
    CHECK(kept_utc(h) == std::vector<int64_t>{Utc(2026, 10, 25, 2, 30), Utc(2026, 10, 25, 1, 30),
                                              Utc(2026, 10, 24, 23, 30), Utc(2026, 10, 24, 22, 30),
                                              Utc(2026, 10, 24, 21, 30), Utc(2026, 10, 24, 21, 0)});
    CHECK(At(h, Utc(2026, 10, 25, 1, 30)).reasons == Reasons{"hourly 2026-10-25 02:00"});
    CHECK(At(h, Utc(2026, 10, 24, 21, 30)).reasons == Reasons{"hourly 2026-10-24 23:00"});
    auto d = ApplyRetention(daily, items, now);
    // 22:00Z on the 24th is already the 25th in Berlin.
    CHECK(kept_utc(d) == std::vector<int64_t>{Utc(2026, 10, 25, 2, 30), Utc(2026, 10, 24, 21, 30)});
    CHECK(d[0].reasons == Reasons{"daily 2026-10-25"});
    // A calendar day across the change is 25 hours; 24h stays 24 hours.
    int64_t t = Utc(2026, 10, 25, 11);  // 12:00 CET
    CHECK(SubtractDuration(t, {0, 0, 1, 0}) == t - 25 * 3600 * kSec);
    CHECK(SubtractDuration(t, {0, 0, 0, 24}) == t - 24 * 3600 * kSec);
  }
  SECTION("the same snapshots in UTC") {
    TzGuard tz("UTC");
    auto h = ApplyRetention(hourly, items, now);
    CHECK(kept_utc(h).size() == 7);  // every hour 21..02 plus the oldest
    auto d = ApplyRetention(daily, items, now);
    CHECK(kept_utc(d) == std::vector<int64_t>{Utc(2026, 10, 25, 2, 30), Utc(2026, 10, 24, 23, 30)});
  }
}

TEST_CASE("the stored policy round-trips through canonical JSON", "[retention]") {
  StoredPolicy sp;
  RetentionPolicy def;
  def.daily = 7;
  def.weekly = 4;
  def.monthly = 12;
  sp.fallback = def;
  RetentionPolicy web;
  web.last = -1;
  web.within = {1, 6, 0, 0};
  web.keep_tags = {"v*", "release-?"};
  web.older_than = {0, 0, 30, 12};
  web.min_count = 5;
  web.hourly = 24;
  web.yearly = 3;
  sp.branches["web"] = web;
  RetentionPolicy db;
  db.min_count = 3;
  sp.branches["db/main"] = db;

  std::string json = EncodePolicy(sp);
  CHECK(json ==
        R"({"branches":{"db/main":{"min_count":3},"web":{"hourly":24,"keep_tags":["v*","release-?"],"last":-1,)"
        R"("min_count":5,"older_than":"30d12h","within":"1y6m","yearly":3}},)"
        R"("default":{"daily":7,"monthly":12,"weekly":4},"version":1})");
  auto back = DecodePolicy(json, "policy");
  REQUIRE(back.ok());
  REQUIRE(back->fallback);
  CHECK(*back->fallback == def);
  CHECK(back->branches == sp.branches);
  CHECK(EncodePolicy(*back) == json);
  CHECK(back->For("web") == &back->branches.at("web"));
  CHECK(back->For("other") == &*back->fallback);

  StoredPolicy none;
  CHECK(EncodePolicy(none) == R"({"branches":{},"version":1})");
  auto empty = DecodePolicy(EncodePolicy(none), "policy");
  REQUIRE(empty.ok());
  CHECK_FALSE(empty->fallback);
  CHECK(empty->branches.empty());
  CHECK(empty->For("main") == nullptr);
}

TEST_CASE("a damaged stored policy is Corruption, never a crash", "[retention]") {
  for (const char* bad : {
           "", "{", "[]", "null", "42", R"("x")", R"({})", R"({"version":"1"})", R"({"version":1.5})",
           R"({"version":0})", R"({"version":-1})", R"({"version":1e300})", R"({"version":99999999999999999999})",
           R"({"version":1,"branches":[]})", R"({"version":1,"branches":{"":{"last":1}}})",
           R"({"version":1,"branches":{"a":{"last":"1"}}})", R"({"version":1,"branches":{"a":{"last":1e300}}})",
           R"({"version":1,"branches":{"a":{"last":4294967296}}})", R"({"version":1,"branches":{"a":{"last":-2}}})",
           R"({"version":1,"branches":{"a":{}}})", R"({"version":1,"branches":{"a":7}})",
           R"({"version":1,"default":{"within":"-3d"}})", R"({"version":1,"default":{"within":7}})",
           R"({"version":1,"default":{"within":"0d"}})", R"({"version":1,"default":{"keep_tags":"v*"}})",
           R"({"version":1,"default":{"keep_tags":[1]}})", R"({"version":1,"default":{"keep_tags":[""]}})",
           R"({"version":1,"default":{"last":1,"keep_weekdays":2}})", R"({"version":1,"default":{"min_count":-1}})",
           R"({"version":1,"default":null})", R"({"version":1,"extra":true})", "{\"version\":1,\"default\":{\"last\":1}}x",
       }) {
    INFO(bad);
    auto r = DecodePolicy(bad, "policy");
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kCorruption);
    CHECK(r.status().message().find("retention policy 'policy'") != std::string::npos);
  }
  auto newer = DecodePolicy(R"({"version":2,"whatever":[]})", "policy");
  REQUIRE_FALSE(newer.ok());
  CHECK(newer.status().code() == Code::kNotSupported);
  CHECK(newer.status().message() == "retention policy 'policy' has version 2; this cairn reads version 1: upgrade cairn");
}

}  // namespace
}  // namespace cairn::repo
