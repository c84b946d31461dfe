// SPDX-License-Identifier: MIT
//
// The retention engine behind `cairn forget` and `cairn policy`: given the
// snapshots of one group (one branch), decide which to keep and why. Pure
// computation, no repository access, so the rules can be tested against
// fake clocks and the caller decides what to do with the answer (refuse a
// policy that removes everything, print a dry run, approve, delete).
//
// The rules are restic's (`restic forget`, "Removing snapshots according to
// a policy"): each rule keeps some snapshots and a snapshot survives if any
// rule keeps it. Calendar buckets are taken in the local time zone of the
// process (TZ), as restic and borg do, so "daily" means the user's days.

#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "objstore/core/object_id.h"
#include "objstore/core/status.h"

namespace cairn::repo {

// A calendar duration: "1y6m", "30d", "2w", "24h", "1y2m3d4h". Weeks are
// stored as 7 days. Years, months and days move the calendar (local wall
// clock); hours are exact 3600-second steps, as restic's durations.
struct Duration {
  int years = 0, months = 0, days = 0, hours = 0;
  bool zero() const { return years == 0 && months == 0 && days == 0 && hours == 0; }
  // The canonical form, parseable by ParseDuration: units in the order
  // y m d h, zero units left out ("1y6m", "14d" for "2w"); "0d" when zero.
  std::string ToString() const;
  friend bool operator==(const Duration& a, const Duration& b) {
    return a.years == b.years && a.months == b.months && a.days == b.days && a.hours == b.hours;
  }
};

// Parses a duration: one or more NUMBER UNIT pairs (units y, m, w, d, h, in
// any order, each at most once), or a bare number meaning days ("30" = 30d,
// as `prune --older-than 30`). A duration of zero is refused: a rule with a
// zero duration would silently mean nothing. Every number is at most
// kMaxDurationNumber. InvalidArgument naming the text otherwise.
inline constexpr int kMaxDurationNumber = 1000000;
Result<Duration> ParseDuration(std::string_view text);

// `time_ns` minus `d`: the years, months and days are subtracted from the
// local calendar date with the wall clock kept (mktime's normalisation, so
// March 31 minus 1m is March 3, like Go's AddDate), then the hours as exact
// hours. Saturates at the int64 range instead of overflowing.
int64_t SubtractDuration(int64_t time_ns, const Duration& d);

struct RetentionPolicy {
  // Counts: 0 = rule unused, -1 = unlimited (restic's semantics), otherwise > 0.
  int last = 0, hourly = 0, daily = 0, weekly = 0, monthly = 0, yearly = 0;
  Duration within;                     // keep every snapshot within this of the newest snapshot of the group
  std::vector<std::string> keep_tags;  // fnmatch patterns on the tag names of a snapshot
  Duration older_than;                 // if set: only snapshots older than now - older_than may be removed
  int min_count = 0;                   // always keep the N newest snapshots of the group

  // Any of last..yearly, within, keep_tags: a rule that selects snapshots to
  // keep by itself.
  bool HasKeepRule() const;
  // No field set at all (what `forget` without rule flags gives).
  bool Empty() const { return !HasKeepRule() && older_than.zero() && min_count == 0; }
  friend bool operator==(const RetentionPolicy& a, const RetentionPolicy& b);
};

// InvalidArgument for a count below -1, a negative min_count, an empty
// keep-tag pattern, and an empty policy ("the policy keeps nothing: give at
// least one --keep-* rule"). A policy of only older_than and/or min_count is
// accepted: "forget what is older than 30 days" (the seed's
// `prune --older-than 30`) bounds the removal by itself.
Status ValidatePolicy(const RetentionPolicy& p);

struct RetentionItem {
  ObjectId id;
  int64_t time_ns = 0;
  std::vector<std::string> tags;     // names of the tags pointing at it
  std::vector<std::string> protect;  // reasons it must be kept whatever the policy ("branch head main")
};

struct RetentionDecision {
  ObjectId id;
  int64_t time_ns = 0;
  bool keep = false;
  std::vector<std::string> reasons;  // why it is kept, in a fixed order; empty when removed
};

// Decides for every item (any input order); the result is sorted newest
// first, equal times by ascending id. Rules combine by union. Reasons, in
// this order:
//  * each protect reason, as given;
//  * "tagged NAME" for each tag (sorted, deduplicated): tags are releases
//    and always kept, whatever the policy;
//  * "keep-tag PATTERN" for each keep_tags pattern that matches one of its
//    tags (so a policy of only --keep-tag is valid and shows which rule
//    matched; the snapshot would be kept as tagged anyway);
//  * "last": the `last` newest;
//  * "hourly 2026-11-20 14:00", "daily 2026-11-20", "weekly 2026-W47" (ISO
//    week), "monthly 2026-11", "yearly 2026": walking newest first, a
//    snapshot is kept when its local-time bucket differs from that of the
//    previous snapshot this rule kept, until the count is used up. As in
//    restic, if the rule still has count left at the oldest snapshot of the
//    group, the oldest is kept too, with " (oldest)" after the bucket
//    ("yearly 2025 (oldest)"), to keep the longest history the counts allow;
//  * "within 7d": time > newest - within, where newest is the newest
//    snapshot not after now_ns (a clock-skewed future snapshot must not
//    push everything else out of the window; restic does the same);
//  * "min-count": the min_count newest;
//  * "newer than 30d": time > now_ns - older_than.
// Every item may come out removed; refusing that is the caller's business.
std::vector<RetentionDecision> ApplyRetention(const RetentionPolicy& p, const std::vector<RetentionItem>& items,
                                              int64_t now_ns);

// The policy as stored in the repository: a default for every branch and
// per-branch overrides (an override replaces the default, it is not merged).
struct StoredPolicy {
  std::optional<RetentionPolicy> fallback;  // applies to branches without their own
  std::map<std::string, RetentionPolicy> branches;
  // The policy for `branch`: its own, else the fallback, else none.
  const RetentionPolicy* For(const std::string& branch) const;
};

// Canonical JSON (sorted keys, no spaces):
//   {"branches":{"NAME":{...}},"default":{...},"version":1}
// "default" is absent without a fallback; a policy object holds only the
// fields that are set: "last","hourly","daily","weekly","monthly","yearly",
// "min_count" (integers), "within","older_than" (durations in ToString form),
// "keep_tags" (array of strings).
inline constexpr int kPolicyVersion = 1;
std::string EncodePolicy(const StoredPolicy& p);
// Corruption naming `name` for malformed JSON, wrong types, unknown fields,
// bad durations, a policy ValidatePolicy refuses, a version below 1;
// NotSupported for a newer version. Never throws.
Result<StoredPolicy> DecodePolicy(std::string_view json, const std::string& name);

// "keep-daily 7, keep-weekly 4" (flag names without dashes; -1 is "all"),
// for messages and `policy show`; "no rules" for an empty policy.
std::string DescribePolicy(const RetentionPolicy& p);

}  // namespace cairn::repo
