// SPDX-License-Identifier: MIT
//
// Tags and branches above the raw refs of Repository: name rules, tag
// immutability and the tag annotation (the JSON object {"message",
// "time_ns", "user"} on a tag ref's second line, format.md#refs; this file
// is the one place that writes and reads it), and branch create, reset and
// delete. Operations that move or remove a ref ask an Approver
// (repo/approval.h); NotApproved when it refuses.

#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "objstore/core/object_id.h"
#include "objstore/core/status.h"
#include "repo/approval.h"
#include "repo/repository.h"

namespace cairn::repo {

// OK if `name` may name a ref of `kind` ("tag" or "branch"); otherwise
// InvalidArgument saying why: a name of 4 or more hex digits could be read
// as a snapshot id prefix, "latest"/"HEAD" are reserved, other names must
// follow ValidRefName.
Status CheckRefName(std::string_view name, std::string_view kind);

// The user name to record: $USER, else the passwd entry of the real uid,
// else the uid as a number.
std::string CurrentUserName();

// "1a2b3c4d5e6f (2026-11-21T22:12:46Z, "message")": a snapshot for prompts.
std::string DescribeSnapshot(const Repository& r, const ObjectId& id);

// --- Tags ---

struct TagAnnotation {
  std::string message;
  std::string user;
  int64_t time_ns = 0;  // when the tag was set to its snapshot
};
// The annotation line (compact JSON) and its lenient reading (a missing or
// damaged annotation reads as empty: the ref's id line is what counts).
std::string EncodeTagAnnotation(const TagAnnotation& a);
TagAnnotation DecodeTagAnnotation(std::string_view line);

struct Tag {
  std::string name;
  ObjectId snapshot;
  TagAnnotation annotation;
};
// std::nullopt if there is no tag `name`.
Result<std::optional<Tag>> ReadTag(const Repository& r, const std::string& name);
// All tags, sorted by name.
Result<std::vector<Tag>> ListTags(const Repository& r);

struct TagOptions {
  std::string message;
  bool message_given = false;  // -m was given (possibly empty): replaces the message of a moved tag
  bool force = false;          // allow moving an existing tag
  std::string user;            // "" = CurrentUserName()
  int64_t time_ns = 0;         // 0 = now
};

// What happened to a tag's message.
enum class TagMessage {
  kNew,       // a new tag (with or without a message)
  kKept,      // moved or re-set without -m: the old message is kept
  kReplaced,  // moved or re-set with -m: the new message replaces the old one
};

struct TagResult {
  Tag tag;                             // as written (or as it is, when unchanged)
  std::optional<ObjectId> moved_from;  // the old snapshot, for a tag that existed
  std::optional<std::string> old_message;  // the old message, for a tag that existed
  TagMessage message = TagMessage::kNew;
  bool unchanged = false;  // --force to the same snapshot without -m: nothing written
};

// Creates tag `name` at snapshot `target`. An existing tag is refused
// (AlreadyExists: tags are immutable) unless `force`; then moving it to
// another snapshot, or replacing its message, needs `approver`'s approval
// (risk high; creating asks too, at risk medium, when `approver` is not
// null). Without -m a moved tag keeps its message. NotFound if
// `target` is not a snapshot; Conflict if the tag changed concurrently.
Result<TagResult> CreateOrMoveTag(Repository& r, const std::string& name, const ObjectId& target,
                                  const TagOptions& o, Approver* approver);

// Deletes tag `name` after `approver` approves (risk high); returns the
// tag as it was. NotFound if there is none.
Result<Tag> DeleteTag(Repository& r, const std::string& name, Approver* approver);

// --- Branches ---

struct Branch {
  std::string name;
  ObjectId head;
  bool is_default = false;  // main
};
// All branches, sorted by name.
Result<std::vector<Branch>> ListBranches(const Repository& r);

struct BranchResult {
  Branch branch;
  std::optional<ObjectId> moved_from;  // the old head, when an existing branch was reset
  bool created = false;
  bool unchanged = false;  // reset to its own head: nothing written
};

// Creates branch `name` at snapshot `target` (asking `approver`, risk
// medium, unless it is null). AlreadyExists if it exists.
Result<BranchResult> CreateBranch(Repository& r, const std::string& name, const ObjectId& target,
                                  Approver* approver = nullptr);
// Points branch `name` at `target`, creating it if it does not exist.
// Moving an existing branch needs `approver`'s approval (risk high: the
// snapshots only its old head reached are no longer on a branch).
Result<BranchResult> ResetBranch(Repository& r, const std::string& name, const ObjectId& target,
                                 Approver* approver);
// Deletes branch `name` after `approver` approves (risk high); returns it as it was. NotFound if there is none.
Result<Branch> DeleteBranch(Repository& r, const std::string& name, Approver* approver);

// --- Both ---

struct RefName {
  std::string kind;  // "branch" or "tag"
  std::string name;
  bool operator==(const RefName&) const = default;
};
// The branches, then the tags, that point at each snapshot (each sorted by
// name).
Result<std::map<ObjectId, std::vector<RefName>>> RefsBySnapshot(const Repository& r);

}  // namespace cairn::repo
