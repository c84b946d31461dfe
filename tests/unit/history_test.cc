// SPDX-License-Identifier: MIT

#include "repo/history.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "repo/backup.h"
#include "test_util.h"

namespace cairn::repo {
namespace {

namespace fs = std::filesystem;

class Yes : public Approver {
 public:
  Status Approve(const Operation&) override { return Status::OK(); }
};

struct Fixture {
  testing::TempDir t;
  std::unique_ptr<Repository> r;
  Fixture() {
    REQUIRE(Repository::Init(t / "repo", objstore::NewRepoConfig()).ok());
    auto opened = Repository::Open(t / "repo");
    REQUIRE(opened.ok());
    r = std::move(opened).value();
    fs::create_directories(t / "src");
  }
  ObjectId Snap(const std::string& file, const std::string& content, const std::string& branch = "main") {
    std::ofstream(t / ("src/" + file), std::ios::binary) << content;
    BackupOptions o;
    o.paths = {t / "src"};
    o.branch = branch;
    auto res = Backup(r.get(), o);
    REQUIRE(res.ok());
    REQUIRE(res->snapshot_id);
    return *res->snapshot_id;
  }
};

std::vector<ObjectId> Ids(const SnapshotList& l) {
  std::vector<ObjectId> out;
  for (const auto& [id, s] : l) out.push_back(id);
  return out;
}

TEST_CASE("history: newest first, filtered by -n, time and path", "[history]") {
  Fixture f;
  ObjectId a = f.Snap("x", "1");
  ObjectId b = f.Snap("y", "1");
  ObjectId c = f.Snap("x", "2");
  HistoryOptions o;
  o.heads = {c};
  auto all = History(*f.r, o);
  REQUIRE(all.ok());
  CHECK(Ids(*all) == std::vector<ObjectId>{c, b, a});

  o.max_count = 2;
  CHECK(Ids(*History(*f.r, o)) == std::vector<ObjectId>{c, b});
  o.max_count = -1;

  o.paths = {"x"};
  CHECK(Ids(*History(*f.r, o)) == std::vector<ObjectId>{c, a});
  o.paths = {"y"};
  CHECK(Ids(*History(*f.r, o)) == std::vector<ObjectId>{b});
  o.paths = {};

  auto sb = f.r->ReadSnapshot(b);
  REQUIRE(sb.ok());
  o.since = sb->time_ns;
  CHECK(Ids(*History(*f.r, o)) == std::vector<ObjectId>{c, b});
  o.since.reset();
  o.until = sb->time_ns;
  CHECK(Ids(*History(*f.r, o)) == std::vector<ObjectId>{b, a});
}

TEST_CASE("history --all and the snapshot list include snapshots no ref reaches", "[history]") {
  Fixture f;
  Yes yes;
  ObjectId a = f.Snap("x", "1");
  ObjectId b = f.Snap("x", "2");
  ObjectId side = f.Snap("x", "side", "side");
  // Reset main to a: b is no longer reachable from any ref.
  REQUIRE(ResetBranch(*f.r, "main", a, &yes).ok());

  HistoryOptions o;
  o.heads = {a};
  CHECK(Ids(*History(*f.r, o)) == std::vector<ObjectId>{a});
  o.heads = {};
  o.all = true;
  auto all = History(*f.r, o);
  REQUIRE(all.ok());
  CHECK(all->size() == 3);
  CHECK(Ids(*all).back() == a);  // every child before its parent

  auto list = ListAllSnapshots(*f.r);
  REQUIRE(list.ok());
  REQUIRE(list->size() == 3);
  std::map<ObjectId, bool> reachable;
  for (const auto& l : *list) reachable[l.id] = l.reachable;
  CHECK(reachable[a]);
  CHECK_FALSE(reachable[b]);
  CHECK(reachable[side]);
  CHECK((*list)[0].id == a);  // oldest first
  CHECK((*list)[0].refs == std::vector<RefName>{{"branch", "main"}});

  ListingFilter onside;
  onside.branch = "side";
  auto filtered = ListAllSnapshots(*f.r, onside);
  REQUIRE(filtered.ok());
  REQUIRE(filtered->size() == 1);
  CHECK((*filtered)[0].id == side);
  ListingFilter otherhost;
  otherhost.host = "no-such-host.invalid";
  CHECK(ListAllSnapshots(*f.r, otherhost)->empty());
}

}  // namespace
}  // namespace cairn::repo
