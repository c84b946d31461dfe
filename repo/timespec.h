// SPDX-License-Identifier: MIT
//
// Parsing of the times users write in revisions (REV@{TIME}) and in
// --since/--until: ISO 8601 dates and date-times, Unix seconds, and relative
// forms. Times without a zone are UTC.

#pragma once

#include <cstdint>
#include <string_view>

#include "objstore/core/status.h"

namespace cairn::repo {

// Parses `text` relative to `now_ns` (ns since the Unix epoch). Accepted:
//   2026-11-20                  (midnight at the start of that day)
//   2026-11-20 14:00[:05]       2026-11-20T14:00[:05][.fff][Z|+hh:mm|-hh:mm]
//   @1790000000                 (Unix seconds)
//   now | today | yesterday
//   N second(s)|minute(s)|hour(s)|day(s)|week(s)|month(s)|year(s) ago
//     (a month is 30 days, a year 365 days)
// InvalidArgument, naming the text, for anything else.
Result<int64_t> ParseTime(std::string_view text, int64_t now_ns);

}  // namespace cairn::repo
