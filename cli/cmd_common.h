// SPDX-License-Identifier: MIT
//
// Helpers shared by several commands (cli/cmd_*.cc). This header contains
// definitions that shall only be used by modules within cli/.

#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "diff/tree_diff.h"
#include "repo/repository.h"

namespace cairn::cli {

// Seconds since t0.
double Seconds(std::chrono::steady_clock::time_point t0);

// Reads trees for diff/ from the repository.
class RepoTreeReader : public diff::TreeReader {
 public:
  explicit RepoTreeReader(const repo::Repository& r) : r_(r) {}
  Result<objstore::Tree> ReadTree(const ObjectId& id) const override { return r_.ReadTree(id); }

 private:
  const repo::Repository& r_;
};

// The clock: CAIRN_NOW (test-only, any ParseTime form) or the real one.
Result<int64_t> Now();

// A duration option as ns before `now` (calendar units from now); `option`
// names it in errors. "0" (or 0h, 0d) is 0 when `zero_ok`, else refused.
Result<int64_t> DurationNs(const std::string& text, const char* option, int64_t now, bool zero_ok);

// What copy and bundle create carry: the snapshots REV... name and the
// branches and tags among those names (a name that is a branch or tag
// pointing at the snapshot it resolves to), or with `all` every snapshot,
// branch and tag.
struct RevisionSelection {
  struct Ref {
    std::string kind;  // "branches" | "tags"
    std::string name;
    ObjectId snapshot;
    std::string annotation;  // as the ref stores it
  };
  std::vector<ObjectId> snapshots;
  std::vector<Ref> refs;
};
Result<RevisionSelection> SelectRevisions(const repo::Repository& r, const std::vector<std::string>& revs, bool all);

// The sizes of the two sides of a change (0 where there is none).
uint64_t OldSize(const diff::Change& c);
uint64_t NewSize(const diff::Change& c);

// Content of one side of a change, whole (for diff -p): from the repository,
// or (`live_path` not empty) from disk. `path` names the entry in messages.
Result<std::string> Content(const repo::Repository& r, const objstore::TreeEntry& e, const std::string& path,
                            const std::string& live_path);

// ` PATH | STATUS OLD-SIZE -> NEW-SIZE` per change and a summary line.
void PrintStat(const std::vector<diff::Change>& changes);

}  // namespace cairn::cli
