// SPDX-License-Identifier: MIT

#include "repo/timespec.h"

#include <catch2/catch.hpp>

namespace cairn::repo {
namespace {

constexpr int64_t kNow = 1790000000000000000;  // 2026-09-21

TEST_CASE("times that do not fit in int64 nanoseconds are refused, not overflowed", "[timespec]") {
  // The last representable second is 2262-04-11T23:47:16Z.
  CHECK(ParseTime("2262-04-11T23:47:16Z", kNow).value() == 9223372036000000000);
  CHECK(ParseTime("2262-04-11 23:47:16.854775807", kNow).value() == INT64_MAX);
  for (const char* t : {"8310-11-20", "2262-04-11T23:47:17Z", "9999-12-31 23:59:59", "@9223372037",
                        "@99999999999", "999999 years ago", "999999 months ago"}) {
    CAPTURE(t);
    CHECK(ParseTime(t, kNow).status().code() == Code::kInvalidArgument);
  }
  // What fits still parses.
  CHECK(ParseTime("@9223372036", kNow).value() == 9223372036000000000);
  CHECK(ParseTime("100 years ago", kNow).value() == kNow - int64_t{100} * 365 * 86400 * 1000000000);
  CHECK(ParseTime("1970-01-01", kNow).value() == 0);
  CHECK(ParseTime("1969-12-31", kNow).value() == -int64_t{86400} * 1000000000);
}

}  // namespace
}  // namespace cairn::repo
