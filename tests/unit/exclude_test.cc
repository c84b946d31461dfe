// SPDX-License-Identifier: MIT

#include <catch2/catch.hpp>

#include <string>

#include "repo/exclude.h"

namespace cairn::repo {
namespace {

TEST_CASE("glob patterns match as gitignore does", "[exclude]") {
  CHECK(GlobMatch("*.o", "main.o"));
  CHECK_FALSE(GlobMatch("*.o", "dir/main.o"));  // '*' does not cross '/'
  CHECK(GlobMatch("**/main.o", "main.o"));
  CHECK(GlobMatch("**/main.o", "a/b/main.o"));
  CHECK(GlobMatch("a/**", "a/b/c"));
  CHECK(GlobMatch("f?le[0-9]", "file7"));
  CHECK_FALSE(GlobMatch("f?le[!0-9]", "file7"));
  CHECK(GlobMatch("\\*literal", "*literal"));
  CHECK_FALSE(GlobMatch("\\*literal", "xliteral"));
}

// Patterns with many stars made the backtracking matcher exponential (a
// hang found by libFuzzer); now the work is bounded and the answers are
// the same as by the definition.
TEST_CASE("glob patterns with many stars finish and stay right", "[exclude]") {
  std::string text(3000, 'a');
  std::string pat;
  for (int i = 0; i < 20; i++) pat += "*a";
  CHECK(GlobMatch(pat + "*", text));
  CHECK_FALSE(GlobMatch(pat + "b", text));
  CHECK(GlobMatch(pat, text));
  std::string deep;
  for (int i = 0; i < 200; i++) deep += "a/";
  deep += "b";
  CHECK(GlobMatch("**/**/**/**/**/**/**/**/b", deep));
  CHECK_FALSE(GlobMatch("**/**/**/**/**/**/**/**/c", deep));
  CHECK_FALSE(GlobMatch("*****a*****a*****a*****a*****a*****a*****c", text));
}

}  // namespace
}  // namespace cairn::repo
