// SPDX-License-Identifier: MIT
//
// diff/text_diff: unified diff output (expected hunks are git diff's, from
// `git diff --no-index -U<n>` on the same inputs) and LooksBinary.

#include "diff/text_diff.h"

#include <catch2/catch.hpp>
#include <random>

namespace cairn::diff {
namespace {

std::string Udiff(std::string_view a, std::string_view b, int context = 3, int max_edits = 1000) {
  std::string out;
  UnifiedDiff(a, b, context, &out, max_edits);
  return out;
}

// Parses "@@ -as[,ac] +bs[,bc] @@\n" (a count left out is 1).
void ParseHeader(const std::string& h, int* as, int* ac, int* bs, int* bc) {
  size_t p = 0;
  auto expect = [&](std::string_view lit) {
    REQUIRE(h.compare(p, lit.size(), lit) == 0);
    p += lit.size();
  };
  auto number = [&]() {
    size_t q = p;
    while (q < h.size() && h[q] >= '0' && h[q] <= '9') q++;
    REQUIRE(q > p);
    int v = std::stoi(h.substr(p, q - p));
    p = q;
    return v;
  };
  auto range = [&](int* start, int* count) {
    *start = number();
    *count = 1;
    if (h[p] == ',') {
      p++;
      *count = number();
    }
  };
  expect("@@ -");
  range(as, ac);
  expect(" +");
  range(bs, bc);
  expect(" @@\n");
  REQUIRE(p == h.size());
}

// Applies the hunks in `diff` to `a`; checks that the context and deleted
// lines match `a` and that each header's counts match its body.
std::string Apply(const std::string& a, const std::string& diff) {
  std::vector<std::string> lines;  // of a, each with its '\n' if it has one
  for (size_t i = 0; i < a.size();) {
    size_t j = a.find('\n', i);
    j = j == std::string::npos ? a.size() : j + 1;
    lines.push_back(a.substr(i, j - i));
    i = j;
  }
  std::string out;
  size_t next = 0;  // next line of a not yet copied
  size_t p = 0;
  auto read_line = [&]() {
    size_t e = diff.find('\n', p);
    REQUIRE(e != std::string::npos);
    std::string l = diff.substr(p, e - p + 1);
    p = e + 1;
    return l;
  };
  while (p < diff.size()) {
    std::string h = read_line();
    int as = 0, ac = 1, bs = 0, bc = 1;
    ParseHeader(h, &as, &ac, &bs, &bc);
    size_t start = ac == 0 ? static_cast<size_t>(as) : static_cast<size_t>(as - 1);
    REQUIRE(start >= next);
    for (; next < start; next++) out += lines.at(next);
    int seen_a = 0, seen_b = 0;
    while (p < diff.size() && diff.compare(p, 2, "@@") != 0) {
      std::string l = read_line();
      std::string body = l.substr(1);
      if (p < diff.size() && diff.compare(p, 2, "\\ ") == 0) {
        REQUIRE(read_line() == "\\ No newline at end of file\n");
        body.pop_back();
      }
      if (l[0] == ' ' || l[0] == '-') {
        REQUIRE(lines.at(next) == body);
        next++;
        seen_a++;
      }
      if (l[0] == ' ' || l[0] == '+') {
        out += body;
        seen_b++;
      }
      REQUIRE((l[0] == ' ' || l[0] == '-' || l[0] == '+'));
    }
    CHECK(seen_a == ac);
    CHECK(seen_b == bc);
  }
  for (; next < lines.size(); next++) out += lines[next];
  return out;
}

const std::string kTen = "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n";

TEST_CASE("identical texts give no output", "[diff][text_diff]") {
  CHECK(Udiff("", "").empty());
  CHECK(Udiff(kTen, kTen).empty());
  CHECK(Udiff("no newline", "no newline").empty());
  std::string out = "kept";
  UnifiedDiff("a\n", "b\n", 3, &out);
  CHECK(out.rfind("kept@@ ", 0) == 0);  // appends
}

TEST_CASE("an insertion in the middle", "[diff][text_diff]") {
  CHECK(Udiff(kTen, "1\n2\n3\n4\n5\nnew\n6\n7\n8\n9\n10\n") ==
        "@@ -3,6 +3,7 @@\n 3\n 4\n 5\n+new\n 6\n 7\n 8\n");
}

TEST_CASE("a deletion at the start", "[diff][text_diff]") {
  CHECK(Udiff("1\n2\n3\n4\n5\n6\n", "2\n3\n4\n5\n6\n") == "@@ -1,4 +1,3 @@\n-1\n 2\n 3\n 4\n");
}

TEST_CASE("a change at the end", "[diff][text_diff]") {
  CHECK(Udiff("1\n2\n3\n4\n5\n6\n", "1\n2\n3\n4\n5\nsix\n") == "@@ -3,4 +3,4 @@\n 3\n 4\n 5\n-6\n+six\n");
}

TEST_CASE("appending to and truncating to an empty text", "[diff][text_diff]") {
  CHECK(Udiff("", "a\nb\n") == "@@ -0,0 +1,2 @@\n+a\n+b\n");
  CHECK(Udiff("a\nb\n", "") == "@@ -1,2 +0,0 @@\n-a\n-b\n");
  CHECK(Udiff("1\n2\n", "1\n2\n3\n") == "@@ -1,2 +1,3 @@\n 1\n 2\n+3\n");
}

TEST_CASE("a missing newline at the end is marked as git does", "[diff][text_diff]") {
  CHECK(Udiff("x\ny", "x\ny\n") == "@@ -1,2 +1,2 @@\n x\n-y\n\\ No newline at end of file\n+y\n");
  CHECK(Udiff("x\ny\n", "x\nz") == "@@ -1,2 +1,2 @@\n x\n-y\n+z\n\\ No newline at end of file\n");
  CHECK(Udiff("a", "b") == "@@ -1 +1 @@\n-a\n\\ No newline at end of file\n+b\n\\ No newline at end of file\n");
  // A context line without a newline is marked too.
  CHECK(Udiff("a\nz", "b\nz") == "@@ -1,2 +1,2 @@\n-a\n+b\n z\n\\ No newline at end of file\n");
}

TEST_CASE("distant changes make two hunks, near ones one", "[diff][text_diff]") {
  std::string fifteen = "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\n";
  std::string b = "one\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\nfifteen\n";
  CHECK(Udiff(fifteen, b) ==
        "@@ -1,4 +1,4 @@\n-1\n+one\n 2\n 3\n 4\n"
        "@@ -12,4 +12,4 @@\n 12\n 13\n 14\n-15\n+fifteen\n");
  // Six unchanged lines between two changes (= 2 * context): one hunk.
  CHECK(Udiff(kTen, "one\n2\n3\n4\n5\n6\n7\neight\n9\n10\n") ==
        "@@ -1,10 +1,10 @@\n-1\n+one\n 2\n 3\n 4\n 5\n 6\n 7\n-8\n+eight\n 9\n 10\n");
}

TEST_CASE("the context argument", "[diff][text_diff]") {
  CHECK(Udiff("1\n2\n3\n4\n5\n", "1\n2\nthree\n4\n5\n", 0) == "@@ -3 +3 @@\n-3\n+three\n");
  CHECK(Udiff("a\nb\nc\n", "a\nB\nc\nd\n", 1) == "@@ -1,3 +1,4 @@\n a\n-b\n+B\n c\n+d\n");
  // Context 0 and an insertion: git's "-l,0" names the line before.
  CHECK(Udiff("1\n2\n", "1\nx\n2\n", 0) == "@@ -1,0 +2 @@\n+x\n");
}

TEST_CASE("more edits than max_edits: one hunk that replaces the differing middle", "[diff][text_diff]") {
  std::string b = "1\ntwo\n3\n4\n5\n6\n7\neight\n9\n10\n";
  CHECK(Udiff(kTen, b, 3, 1) ==
        "@@ -1,10 +1,10 @@\n 1\n-2\n-3\n-4\n-5\n-6\n-7\n-8\n+two\n+3\n+4\n+5\n+6\n+7\n+eight\n 9\n 10\n");
  CHECK(Apply(kTen, Udiff(kTen, b, 3, 1)) == b);
  // With enough edits allowed, the minimal diff.
  CHECK(Udiff(kTen, b, 3, 4).find("-3\n") == std::string::npos);
}

TEST_CASE("applying the diff to the old text gives the new one (random texts)", "[diff][text_diff]") {
  std::mt19937 rng(12345);
  const char* words[] = {"a\n", "b\n", "c\n", "a\n", "\n", "d"};
  for (int round = 0; round < 300; round++) {
    auto make = [&]() {
      std::string s;
      int n = static_cast<int>(rng() % 25);
      for (int i = 0; i < n; i++) s += words[rng() % 5];
      if (rng() % 4 == 0) s += words[5];  // sometimes no newline at the end
      return s;
    };
    std::string a = make(), b = make();
    int context = static_cast<int>(rng() % 4);
    std::string d = Udiff(a, b, context);
    INFO("a=" << a << "\nb=" << b << "\ncontext=" << context << "\ndiff=\n" << d);
    CHECK(d.empty() == (a == b));
    CHECK(Apply(a, d) == b);
  }
}

TEST_CASE("the diff is minimal in the number of changed lines", "[diff][text_diff]") {
  // Myers' example: "abcabba" -> "cbabac" takes 5 edits.
  std::string a = "a\nb\nc\na\nb\nb\na\n", b = "c\nb\na\nb\na\nc\n";
  std::string d = Udiff(a, b, 0);
  size_t edits = 0;
  for (size_t i = 0; i < d.size(); i = d.find('\n', i) + 1) {
    if (d[i] == '+' || d[i] == '-') edits++;
  }
  CHECK(edits == 5);
  CHECK(Apply(a, d) == b);
}

TEST_CASE("LooksBinary: a NUL byte in the first 8000 bytes", "[diff][text_diff]") {
  CHECK_FALSE(LooksBinary(""));
  CHECK_FALSE(LooksBinary("plain text\n\xff\xfe not UTF-8 but no NUL"));
  CHECK(LooksBinary(std::string_view("\0", 1)));
  std::string s(10000, 'x');
  CHECK_FALSE(LooksBinary(s));
  s[7999] = '\0';
  CHECK(LooksBinary(s));
  s[7999] = 'x';
  s[8000] = '\0';
  CHECK_FALSE(LooksBinary(s));  // beyond git's window
}

}  // namespace
}  // namespace cairn::diff
