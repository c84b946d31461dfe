// SPDX-License-Identifier: MIT

#include "repo/refs.h"

#include <unistd.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "objstore/core/system.h"

namespace cairn::repo {

namespace {

std::string TagRef(const std::string& name) { return "tags/" + name; }
std::string BranchRef(const std::string& name) { return "branches/" + name; }

Status CheckTarget(const Repository& r, const ObjectId& target) {
  auto s = r.ReadSnapshot(target);
  if (!s.ok()) return s.status();
  return Status::OK();
}

}  // namespace

Status CheckRefName(std::string_view name, std::string_view kind) {
  std::string n(name), k(kind);
  if (name.size() >= 4 && IsHexPrefix(name)) {
    return Status::InvalidArgument("'" + n + "' could be read as a snapshot id prefix; use a " + k +
                                   " name that is not only hex digits");
  }
  if (name == "latest" || name == "HEAD") {
    return Status::InvalidArgument("'" + n + "' is reserved (it means the head of branch '" +
                                   std::string(kDefaultBranch) + "'); use another " + k + " name");
  }
  if (!ValidRefName(name)) {
    return Status::InvalidArgument("'" + n + "' is not a valid " + k +
                                   " name (letters, digits, '.', '_', '-'; not starting with '.' or '-')");
  }
  return Status::OK();
}

std::string CurrentUserName() {
  const char* u = std::getenv("USER");
  if (u != nullptr && *u != '\0') return u;
  std::string name = UserName(::getuid());
  return name.empty() ? std::to_string(::getuid()) : name;
}

std::string DescribeSnapshot(const Repository& r, const ObjectId& id) {
  auto s = r.ReadSnapshot(id);
  if (!s.ok()) return id.ShortHex();
  return id.ShortHex() + " (" + objstore::FormatTime(s->time_ns) +
         (s->message.empty() ? "" : ", \"" + s->message + "\"") + ")";
}

// --- Tags ---

std::string EncodeTagAnnotation(const TagAnnotation& a) {
  nlohmann::json j{{"message", a.message}, {"time_ns", a.time_ns}, {"user", a.user}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

TagAnnotation DecodeTagAnnotation(std::string_view line) {
  TagAnnotation a;
  auto j = nlohmann::json::parse(line, nullptr, false);
  if (!j.is_object()) return a;
  if (auto it = j.find("message"); it != j.end() && it->is_string()) a.message = it->get<std::string>();
  if (auto it = j.find("user"); it != j.end() && it->is_string()) a.user = it->get<std::string>();
  if (auto it = j.find("time_ns"); it != j.end() && it->is_number_integer()) a.time_ns = it->get<int64_t>();
  return a;
}

Result<std::optional<Tag>> ReadTag(const Repository& r, const std::string& name) {
  CAIRN_ASSIGN_OR_RETURN(std::optional<Repository::RefValue> v, r.ReadRefValue(TagRef(name)));
  if (!v) return std::optional<Tag>();
  Tag t;
  t.name = name;
  t.snapshot = v->id;
  if (!v->annotation.empty()) t.annotation = DecodeTagAnnotation(v->annotation);
  return std::optional<Tag>(std::move(t));
}

Result<std::vector<Tag>> ListTags(const Repository& r) {
  CAIRN_ASSIGN_OR_RETURN(auto refs, r.ListRefs("tags"));
  std::vector<Tag> out;
  for (const auto& [name, id] : refs) {
    CAIRN_ASSIGN_OR_RETURN(std::optional<Tag> t, ReadTag(r, name));
    if (t) out.push_back(std::move(*t));
  }
  return out;
}

Result<TagResult> CreateOrMoveTag(Repository& r, const std::string& name, const ObjectId& target,
                                  const TagOptions& o, Approver* approver) {
  CAIRN_RETURN_IF_ERROR(CheckRefName(name, "tag"));
  CAIRN_RETURN_IF_ERROR(CheckTarget(r, target));
  CAIRN_ASSIGN_OR_RETURN(std::optional<Tag> cur, ReadTag(r, name));
  TagResult res;
  res.tag.name = name;
  res.tag.snapshot = target;
  res.tag.annotation.message = o.message;
  res.tag.annotation.user = o.user.empty() ? CurrentUserName() : o.user;
  res.tag.annotation.time_ns = o.time_ns != 0 ? o.time_ns : NowNs();
  if (cur) {
    if (!o.force) {
      return Status::AlreadyExists("tag '" + name + "' already exists (points to " + cur->snapshot.ShortHex() +
                                   "); tags are immutable, use --force to move it");
    }
    res.moved_from = cur->snapshot;
    res.old_message = cur->annotation.message;
    res.message = o.message_given ? TagMessage::kReplaced : TagMessage::kKept;
    if (!o.message_given) res.tag.annotation.message = cur->annotation.message;
    bool moves = cur->snapshot != target;
    bool new_message = o.message_given && o.message != cur->annotation.message;
    if (!moves && !new_message) {
      res.tag = *cur;
      res.unchanged = true;
      return res;
    }
    std::string details;
    if (moves) {
      details = "  from snapshot " + DescribeSnapshot(r, cur->snapshot) + "\n  to   snapshot " +
                DescribeSnapshot(r, target);
    } else {
      details = "  it stays at snapshot " + DescribeSnapshot(r, target);
    }
    if (new_message) {
      details += "\n  its message \"" + cur->annotation.message + "\" is replaced by \"" + o.message + "\"";
    } else if (!cur->annotation.message.empty()) {
      details += "\n  its message \"" + cur->annotation.message + "\" is kept";
    }
    Operation op{(moves ? "move tag '" : "change the message of tag '") + name + "'", details, Risk::kHigh,
                 "tag move"};
    op.affected = {{"tag", name},
                   {"from", cur->snapshot.ToHex()},
                   {"to", target.ToHex()},
                   {"message", res.tag.annotation.message}};
    CAIRN_RETURN_IF_ERROR(RequireApproval(approver, op));
  } else if (approver != nullptr) {
    Operation op{"create tag '" + name + "'", "  at snapshot " + DescribeSnapshot(r, target), Risk::kMedium,
                 "tag create"};
    op.affected = {{"tag", name}, {"to", target.ToHex()}, {"message", res.tag.annotation.message}};
    CAIRN_RETURN_IF_ERROR(RequireApproval(approver, op));
  }
  CAIRN_RETURN_IF_ERROR(r.UpdateRef(TagRef(name), cur ? std::optional<ObjectId>(cur->snapshot) : std::nullopt,
                                    target, EncodeTagAnnotation(res.tag.annotation)));
  return res;
}

Result<Tag> DeleteTag(Repository& r, const std::string& name, Approver* approver) {
  CAIRN_RETURN_IF_ERROR(CheckRefName(name, "tag"));
  CAIRN_ASSIGN_OR_RETURN(std::optional<Tag> cur, ReadTag(r, name));
  if (!cur) return Status::NotFound("no tag '" + name + "'; 'cairn tag' lists the tags");
  Operation op{"delete tag '" + name + "'",
               "  the tag points to snapshot " + DescribeSnapshot(r, cur->snapshot) + "; the snapshot itself is kept",
               Risk::kHigh, "tag delete"};
  op.affected = {{"tag", name}, {"from", cur->snapshot.ToHex()}};
  CAIRN_RETURN_IF_ERROR(RequireApproval(approver, op));
  CAIRN_RETURN_IF_ERROR(r.DeleteRef(TagRef(name), cur->snapshot));
  return std::move(*cur);
}

// --- Branches ---

Result<std::vector<Branch>> ListBranches(const Repository& r) {
  CAIRN_ASSIGN_OR_RETURN(auto refs, r.ListRefs("branches"));
  std::vector<Branch> out;
  for (const auto& [name, id] : refs) out.push_back(Branch{name, id, name == kDefaultBranch});
  return out;
}

Result<BranchResult> CreateBranch(Repository& r, const std::string& name, const ObjectId& target,
                                  Approver* approver) {
  CAIRN_RETURN_IF_ERROR(CheckRefName(name, "branch"));
  CAIRN_ASSIGN_OR_RETURN(std::optional<ObjectId> cur, r.ReadRef(BranchRef(name)));
  if (cur) {
    return Status::AlreadyExists("branch '" + name + "' already exists (head " + cur->ShortHex() +
                                 "); use --force to move it");
  }
  CAIRN_RETURN_IF_ERROR(CheckTarget(r, target));
  if (approver != nullptr) {
    Operation op{"create branch '" + name + "'", "  at snapshot " + DescribeSnapshot(r, target), Risk::kMedium,
                 "branch create"};
    op.affected = {{"branch", name}, {"to", target.ToHex()}};
    CAIRN_RETURN_IF_ERROR(RequireApproval(approver, op));
  }
  CAIRN_RETURN_IF_ERROR(r.UpdateRef(BranchRef(name), std::nullopt, target));
  BranchResult res;
  res.branch = Branch{name, target, name == kDefaultBranch};
  res.created = true;
  return res;
}

Result<BranchResult> ResetBranch(Repository& r, const std::string& name, const ObjectId& target,
                                 Approver* approver) {
  CAIRN_RETURN_IF_ERROR(CheckRefName(name, "branch"));
  CAIRN_RETURN_IF_ERROR(CheckTarget(r, target));
  CAIRN_ASSIGN_OR_RETURN(std::optional<ObjectId> cur, r.ReadRef(BranchRef(name)));
  BranchResult res;
  res.branch = Branch{name, target, name == kDefaultBranch};
  if (!cur) {
    CAIRN_ASSIGN_OR_RETURN(res, CreateBranch(r, name, target, approver));
    return res;
  }
  res.moved_from = *cur;
  if (*cur == target) {
    res.unchanged = true;
    return res;
  }
  Operation op{"reset branch '" + name + "'",
               "  from snapshot " + DescribeSnapshot(r, *cur) + "\n  to   snapshot " + DescribeSnapshot(r, target) +
                   "\n  snapshots reachable only from the old head stay until a prune removes them",
               Risk::kHigh, "branch reset"};
  op.affected = {{"branch", name}, {"from", cur->ToHex()}, {"to", target.ToHex()}};
  CAIRN_RETURN_IF_ERROR(RequireApproval(approver, op));
  CAIRN_RETURN_IF_ERROR(r.UpdateRef(BranchRef(name), cur, target));
  return res;
}

Result<Branch> DeleteBranch(Repository& r, const std::string& name, Approver* approver) {
  CAIRN_RETURN_IF_ERROR(CheckRefName(name, "branch"));
  CAIRN_ASSIGN_OR_RETURN(std::optional<ObjectId> cur, r.ReadRef(BranchRef(name)));
  if (!cur) return Status::NotFound("no branch '" + name + "'; 'cairn branch' lists the branches");
  Operation op{"delete branch '" + name + "'",
               "  its head is snapshot " + DescribeSnapshot(r, *cur) +
                   "; snapshots reachable only from it stay until a prune removes them",
               Risk::kHigh, "branch delete"};
  op.affected = {{"branch", name}, {"from", cur->ToHex()}};
  CAIRN_RETURN_IF_ERROR(RequireApproval(approver, op));
  CAIRN_RETURN_IF_ERROR(r.DeleteRef(BranchRef(name), *cur));
  return Branch{name, *cur, name == kDefaultBranch};
}

Result<std::map<ObjectId, std::vector<RefName>>> RefsBySnapshot(const Repository& r) {
  std::map<ObjectId, std::vector<RefName>> out;
  for (const char* kind : {"branches", "tags"}) {
    CAIRN_ASSIGN_OR_RETURN(auto refs, r.ListRefs(kind));
    for (const auto& [name, id] : refs) out[id].push_back(RefName{kind[0] == 'b' ? "branch" : "tag", name});
  }
  return out;
}

}  // namespace cairn::repo
