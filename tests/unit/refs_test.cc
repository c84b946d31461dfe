// SPDX-License-Identifier: MIT

#include "repo/refs.h"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "repo/backup.h"
#include "test_util.h"

namespace cairn::repo {
namespace {

namespace fs = std::filesystem;

class FixedApprover : public Approver {
 public:
  explicit FixedApprover(bool answer) : answer_(answer) {}
  Status Approve(const Operation& op) override {
    asked.push_back(op);
    return answer_ ? Status::OK() : Status::NotApproved(op.action + " was refused");
  }
  std::vector<Operation> asked;

 private:
  bool answer_;
};

struct Fixture {
  testing::TempDir t;
  std::unique_ptr<Repository> r;
  ObjectId s1, s2;
  Fixture() {
    REQUIRE(Repository::Init(t / "repo", objstore::NewRepoConfig()).ok());
    auto opened = Repository::Open(t / "repo");
    REQUIRE(opened.ok());
    r = std::move(opened).value();
    fs::create_directories(t / "src");
    s1 = Snap("one");
    s2 = Snap("two");
  }
  ObjectId Snap(const std::string& content) {
    std::ofstream(t / "src/f", std::ios::binary) << content;
    BackupOptions o;
    o.paths = {t / "src"};
    auto res = Backup(r.get(), o);
    REQUIRE(res.ok());
    REQUIRE(res->snapshot_id);
    return *res->snapshot_id;
  }
  std::string RefFile(const std::string& ref) {
    std::ifstream in(t / ("repo/refs/" + ref), std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
};

TEST_CASE("ref names: hex-only names get their own reason", "[refs]") {
  CHECK(CheckRefName("v1.0", "tag").ok());
  Status hex = CheckRefName("beef", "tag");
  CHECK(hex.code() == Code::kInvalidArgument);
  CHECK(hex.message().find("could be read as a snapshot id prefix") != std::string::npos);
  Status bad = CheckRefName("a/b", "branch");
  CHECK(bad.code() == Code::kInvalidArgument);
  CHECK(bad.message().find("not a valid branch name") != std::string::npos);
  CHECK(bad.message().find("snapshot id") == std::string::npos);
  CHECK(CheckRefName("bee", "tag").ok());  // 3 hex digits are not an id prefix
  CHECK(CheckRefName("latest", "branch").message().find("reserved") != std::string::npos);
}

TEST_CASE("the tag annotation round-trips and a damaged one reads as empty", "[refs]") {
  TagAnnotation a{"release \"1\"\nsecond line", "alice", 1234567890123456789};
  TagAnnotation b = DecodeTagAnnotation(EncodeTagAnnotation(a));
  CHECK(b.message == a.message);
  CHECK(b.user == "alice");
  CHECK(b.time_ns == a.time_ns);
  CHECK(EncodeTagAnnotation(a).find('\n') == std::string::npos);  // one line
  CHECK(DecodeTagAnnotation("{not json").message.empty());
  CHECK(DecodeTagAnnotation("[1,2]").user.empty());
}

TEST_CASE("tags are immutable; a forced move keeps or replaces the message", "[refs]") {
  Fixture f;
  FixedApprover yes(true), no(false);
  TagOptions o;
  o.message = "first release";
  o.message_given = true;
  o.user = "alice";
  // Creating asks at risk medium (the policy decides whether that needs
  // an answer); a refusal creates nothing.
  CHECK(CreateOrMoveTag(*f.r, "v1", f.s1, o, &no).status().code() == Code::kNotApproved);
  REQUIRE(no.asked.size() == 1);
  CHECK(no.asked[0].risk == Risk::kMedium);
  CHECK(no.asked[0].kind == "tag create");
  CHECK(!ReadTag(*f.r, "v1")->has_value());
  no.asked.clear();
  auto created = CreateOrMoveTag(*f.r, "v1", f.s1, o, &yes);
  REQUIRE(created.ok());
  CHECK(created->message == TagMessage::kNew);
  CHECK(f.RefFile("tags/v1").rfind(f.s1.ToHex() + "\n{", 0) == 0);

  // Without --force: refused, unchanged.
  auto again = CreateOrMoveTag(*f.r, "v1", f.s2, TagOptions{}, &yes);
  CHECK(again.status().code() == Code::kAlreadyExists);

  // Refused approval: NotApproved, unchanged.
  TagOptions force;
  force.force = true;
  auto refused = CreateOrMoveTag(*f.r, "v1", f.s2, force, &no);
  CHECK(refused.status().code() == Code::kNotApproved);
  CHECK(no.asked.size() == 1);
  CHECK(no.asked[0].risk == Risk::kHigh);
  CHECK(no.asked[0].kind == "tag move");
  CHECK(no.asked[0].affected["from"] == f.s1.ToHex());
  CHECK(no.asked[0].details.find("first release") != std::string::npos);
  CHECK(ReadTag(*f.r, "v1")->value().snapshot == f.s1);

  // Moved without -m: the message stays.
  auto moved = CreateOrMoveTag(*f.r, "v1", f.s2, force, &yes);
  REQUIRE(moved.ok());
  CHECK(moved->message == TagMessage::kKept);
  CHECK(moved->moved_from == f.s1);
  auto t = ReadTag(*f.r, "v1");
  REQUIRE(t.ok());
  REQUIRE(*t);
  CHECK((*t)->snapshot == f.s2);
  CHECK((*t)->annotation.message == "first release");

  // Moved back with -m: replaced.
  force.message = "re-cut";
  force.message_given = true;
  auto replaced = CreateOrMoveTag(*f.r, "v1", f.s1, force, &yes);
  REQUIRE(replaced.ok());
  CHECK(replaced->message == TagMessage::kReplaced);
  CHECK(replaced->old_message == "first release");
  CHECK(ReadTag(*f.r, "v1")->value().annotation.message == "re-cut");

  // --force to where it is, without -m: nothing written, nothing asked.
  size_t asked = yes.asked.size();
  auto same = CreateOrMoveTag(*f.r, "v1", f.s1, TagOptions{"", false, true, "", 0}, &yes);
  REQUIRE(same.ok());
  CHECK(same->unchanged);
  CHECK(yes.asked.size() == asked);

  // A target that is not a snapshot is refused.
  CHECK(CreateOrMoveTag(*f.r, "v2", Sha256("nothing"), TagOptions{}, &yes).status().IsNotFound());
  CHECK(CreateOrMoveTag(*f.r, "abcd", f.s1, TagOptions{}, &yes).status().code() == Code::kInvalidArgument);
}

TEST_CASE("the tag user comes from the passwd entry when USER is unset", "[refs]") {
  const char* saved = std::getenv("USER");
  std::string keep = saved ? saved : "";
  ::unsetenv("USER");
  std::string name = CurrentUserName();
  if (saved) ::setenv("USER", keep.c_str(), 1);
  CHECK_FALSE(name.empty());
  ::setenv("USER", "someone-else", 1);
  CHECK(CurrentUserName() == "someone-else");
  if (saved) {
    ::setenv("USER", keep.c_str(), 1);
  } else {
    ::unsetenv("USER");
  }
}

TEST_CASE("deleting a tag asks first and reports what it pointed to", "[refs]") {
  Fixture f;
  FixedApprover yes(true), no(false);
  REQUIRE(CreateOrMoveTag(*f.r, "v1", f.s1, TagOptions{}, &yes).ok());
  CHECK(DeleteTag(*f.r, "v1", &no).status().code() == Code::kNotApproved);
  CHECK(ReadTag(*f.r, "v1")->has_value());
  auto del = DeleteTag(*f.r, "v1", &yes);
  REQUIRE(del.ok());
  CHECK(del->snapshot == f.s1);
  CHECK_FALSE(ReadTag(*f.r, "v1")->has_value());
  CHECK(DeleteTag(*f.r, "v1", &yes).status().IsNotFound());
}

TEST_CASE("branch create, reset (approval, risk high) and delete", "[refs]") {
  Fixture f;
  FixedApprover yes(true), no(false);
  auto c = CreateBranch(*f.r, "side", f.s1);
  REQUIRE(c.ok());
  CHECK(c->created);
  CHECK(CreateBranch(*f.r, "side", f.s2).status().code() == Code::kAlreadyExists);

  auto refused = ResetBranch(*f.r, "side", f.s2, &no);
  CHECK(refused.status().code() == Code::kNotApproved);
  REQUIRE(no.asked.size() == 1);
  CHECK(no.asked[0].risk == Risk::kHigh);
  CHECK(f.r->ReadRef("branches/side")->value() == f.s1);

  auto reset = ResetBranch(*f.r, "side", f.s2, &yes);
  REQUIRE(reset.ok());
  CHECK_FALSE(reset->created);
  CHECK(reset->moved_from == f.s1);
  CHECK(f.r->ReadRef("branches/side")->value() == f.s2);

  // Reset of a branch that does not exist creates it, asking as a create
  // does (risk medium).
  no.asked.clear();
  CHECK(ResetBranch(*f.r, "fresh", f.s1, &no).status().code() == Code::kNotApproved);
  REQUIRE(no.asked.size() == 1);
  CHECK(no.asked[0].risk == Risk::kMedium);
  CHECK(no.asked[0].kind == "branch create");
  auto fresh = ResetBranch(*f.r, "fresh", f.s1, &yes);
  REQUIRE(fresh.ok());
  CHECK(fresh->created);
  CHECK(f.r->ReadRef("branches/fresh")->value() == f.s1);

  auto list = ListBranches(*f.r);
  REQUIRE(list.ok());
  REQUIRE(list->size() == 3);
  CHECK((*list)[0].name == "fresh");
  CHECK((*list)[1].name == "main");
  CHECK((*list)[1].is_default);

  CHECK(DeleteBranch(*f.r, "side", &no).status().code() == Code::kNotApproved);
  REQUIRE(DeleteBranch(*f.r, "side", &yes).ok());
  CHECK_FALSE(f.r->ReadRef("branches/side")->has_value());

  auto refs = RefsBySnapshot(*f.r);
  REQUIRE(refs.ok());
  CHECK((*refs)[f.s2] == std::vector<RefName>{{"branch", "main"}});
  CHECK((*refs)[f.s1] == std::vector<RefName>{{"branch", "fresh"}});
}

}  // namespace
}  // namespace cairn::repo
