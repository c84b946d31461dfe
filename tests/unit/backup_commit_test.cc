// SPDX-License-Identifier: MIT
//
// The commit step of a backup (repo/commit.h): the parents it chooses and
// the re-parenting when another backup advanced the branch first.

#include "repo/commit.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "repo/backup.h"
#include "test_util.h"

namespace cairn::repo {
namespace {

namespace fs = std::filesystem;

using testing::WriteFile;

std::unique_ptr<Repository> NewRepo(const testing::TempDir& t) {
  REQUIRE(Repository::Init(t / "repo", objstore::NewRepoConfig()).ok());
  auto r = Repository::Open(t / "repo");
  REQUIRE(r.ok());
  return std::move(r).value();
}

ObjectId Take(Repository* r, const std::string& path, BackupKind kind) {
  BackupOptions o;
  o.paths = {path};
  o.kind = kind;
  o.threads = 2;
  auto res = Backup(r, o);
  REQUIRE(res.ok());
  REQUIRE(res->snapshot_id);
  return *res->snapshot_id;
}

TEST_CASE("a differential commit that loses the swap keeps the new head as its second parent",
          "[backup][commit]") {
  testing::TempDir t;
  auto r = NewRepo(t);
  WriteFile(t / "src/a", "one");
  ObjectId full = Take(r.get(), t / "src", BackupKind::kFull);
  WriteFile(t / "src/a", "two");
  ObjectId inc1 = Take(r.get(), t / "src", BackupKind::kIncremental);

  BackupOptions o;
  o.paths = {t / "src"};
  o.kind = BackupKind::kDifferential;
  auto req = MakeParentRequest(*r, o);
  REQUIRE(req.ok());
  auto lineage = ChooseLineage(*r, *req);
  REQUIRE(lineage.ok());
  CHECK(lineage->parents == std::vector<ObjectId>{full, inc1});
  CHECK(lineage->head == inc1);

  // Another backup advances the branch before this one commits.
  WriteFile(t / "src/b", "three");
  ObjectId inc2 = Take(r.get(), t / "src", BackupKind::kIncremental);

  // The snapshot to commit: the full one's tree (an unchanged root).
  auto full_snap = r->ReadSnapshot(full);
  REQUIRE(full_snap.ok());
  Snapshot snap;
  snap.tree = full_snap->tree;
  snap.branch = "main";
  snap.paths = full_snap->paths;
  snap.time_ns = NowNs();
  snap.stats.files = 1;
  RelateToLineage([&](const ObjectId& id) { return r->ReadTree(id); }, *lineage, o.kind, &snap);
  REQUIRE(snap.parents == std::vector<ObjectId>{full, inc1});
  size_t before = r->ListSnapshots()->size();

  auto c = Commit(r.get(), o, *req, &*lineage, &snap);
  REQUIRE(c.ok());
  REQUIRE(c->snapshot_id);
  CHECK(*r->ReadRef("branches/main") == c->snapshot_id);
  auto saved = r->ReadSnapshot(*c->snapshot_id);
  REQUIRE(saved.ok());
  CHECK(saved->parents == std::vector<ObjectId>{full, inc2});
  CHECK(saved->kind == "differential");
  // The first version, which no ref reaches, was removed again.
  CHECK(r->ListSnapshots()->size() == before + 1);
  // REV~1 follows first parents to the full snapshot.
  CHECK(*r->ResolveRevision("main~1") == full);
  CHECK(*r->ResolveRevision("main^2") == inc2);
}

TEST_CASE("the parents follow the sources", "[backup][commit]") {
  testing::TempDir t;
  auto r = NewRepo(t);
  WriteFile(t / "a/x", "x");
  WriteFile(t / "b/y", "y");
  ObjectId a = Take(r.get(), t / "a", BackupKind::kFull);
  ObjectId b = Take(r.get(), t / "b", BackupKind::kIncremental);

  BackupOptions o;
  o.paths = {t / "a"};
  auto req = MakeParentRequest(*r, o);
  REQUIRE(req.ok());
  auto l = ChooseLineage(*r, *req);
  REQUIRE(l.ok());
  CHECK(l->parents == std::vector<ObjectId>{b});
  CHECK_FALSE(l->base_tree);  // the head is of b: counts against nothing
  CHECK(l->warning.find("not of files " + (t / "a")) != std::string::npos);

  o.parent = a.ToHex().substr(0, 12);
  req = MakeParentRequest(*r, o);
  REQUIRE(req.ok());
  l = ChooseLineage(*r, *req);
  REQUIRE(l.ok());
  CHECK(l->parents == std::vector<ObjectId>{a, b});
  CHECK(l->base_tree == r->ReadSnapshot(a)->tree);
  CHECK(l->warning.empty());

  o.parent = "no-such-branch";
  CHECK(MakeParentRequest(*r, o).status().IsNotFound());
  o.parent = "main";
  o.kind = BackupKind::kDifferential;
  CHECK(MakeParentRequest(*r, o).status().code() == Code::kInvalidArgument);

  // Differential: the full snapshot of the same sources, not the newest full.
  o.parent.clear();
  o.paths = {t / "b"};
  req = MakeParentRequest(*r, o);
  REQUIRE(req.ok());
  CHECK(ChooseLineage(*r, *req).status().code() == Code::kInvalidArgument);
  o.paths = {t / "a"};
  req = MakeParentRequest(*r, o);
  l = ChooseLineage(*r, *req);
  REQUIRE(l.ok());
  CHECK(l->parents == std::vector<ObjectId>{a, b});
}

TEST_CASE("sources compare by kind, paths in any order and stream name", "[backup][sources]") {
  SourceSet a{"files", {"/x", "/y"}, ""};
  SourceSet b{"files", {"/y", "/x"}, ""};
  CHECK(SameSources(a, b));
  b.paths = {"/y"};
  CHECK_FALSE(SameSources(a, b));
  SourceSet s1{"stdin", {"-"}, "db.dump"}, s2{"stdin", {"-"}, "other.dump"};
  CHECK_FALSE(SameSources(s1, s2));
  s2.stream_name = "db.dump";
  CHECK(SameSources(s1, s2));
  s2.kind = "command";
  CHECK_FALSE(SameSources(s1, s2));
  // A path that is not UTF-8 equals its stored form (U+FFFD).
  SourceSet raw{"files", {"/caf\xe9"}, ""}, stored{"files", {"/caf\xef\xbf\xbd"}, ""};
  CHECK(SameSources(raw, stored));
}

}  // namespace
}  // namespace cairn::repo
