// SPDX-License-Identifier: MIT
//
// Unified diff of two texts, line by line (Myers' O(ND) algorithm), in the
// format of `diff -u` / `git diff`, and git's binary-file heuristic.

#pragma once

#include <string>
#include <string_view>

namespace cairn::diff {

// True if `data` looks binary: a NUL byte in its first 8000 bytes (git's rule).
bool LooksBinary(std::string_view data);

// Appends the hunks ("@@ -a,b +c,d @@" and the lines) that turn `a` into `b`,
// with `context` lines around each change. Appends nothing if equal. Texts
// with more than `max_edits` differing lines are shown as one hunk that
// replaces everything (bounded time and memory).
void UnifiedDiff(std::string_view a, std::string_view b, int context, std::string* out,
                 int max_edits = 1000);

}  // namespace cairn::diff
