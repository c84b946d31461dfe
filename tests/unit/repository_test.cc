// SPDX-License-Identifier: MIT

#include "repo/repository.h"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "repo/backup.h"
#include "repo/check.h"
#include "repo/restore.h"
#include "repo/blob_writer.h"
#include "test_util.h"

namespace cairn::repo {
namespace {

namespace fs = std::filesystem;

using testing::ReadFile;
using testing::WriteFile;

std::unique_ptr<Repository> NewRepo(const testing::TempDir& t) {
  REQUIRE(Repository::Init(t / "repo", objstore::NewRepoConfig()).ok());
  auto r = Repository::Open(t / "repo");
  REQUIRE(r.ok());
  return std::move(r).value();
}

BackupResult DoBackup(Repository* r, const std::string& path, const std::string& branch = "main") {
  BackupOptions o;
  o.paths = {path};
  o.branch = branch;
  auto res = Backup(r, o);
  REQUIRE(res.ok());
  return std::move(res).value();
}

TEST_CASE("opening a path without a repository says how to create one", "[repo]") {
  testing::TempDir t;
  auto r = Repository::Open(t / "nothing");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().IsNotFound());
  CHECK(r.status().message().find("cairn init") != std::string::npos);
}

TEST_CASE("init refuses an existing repository and a non-empty folder", "[repo]") {
  testing::TempDir t;
  REQUIRE(Repository::Init(t / "repo", objstore::NewRepoConfig()).ok());
  CHECK(Repository::Init(t / "repo", objstore::NewRepoConfig()).code() == Code::kAlreadyExists);
  WriteFile(t / "full/x", "x");
  CHECK(Repository::Init(t / "full", objstore::NewRepoConfig()).code() == Code::kAlreadyExists);
  CHECK(ReadFile(t / "full/x") == "x");
}

TEST_CASE("a repository of a newer format is refused, not misread", "[repo]") {
  testing::TempDir t;
  auto cfg = objstore::NewRepoConfig();
  cfg.format = objstore::kFormatVersion + 1;
  REQUIRE(Repository::Init(t / "repo", objstore::NewRepoConfig()).ok());
  WriteFile(t / "repo/config", objstore::EncodeConfig(cfg));
  auto r = Repository::Open(t / "repo");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Code::kNotSupported);
  CHECK(r.status().message().find("upgrade cairn") != std::string::npos);
}

TEST_CASE("backup deduplicates and restore gives the content back", "[repo][backup]") {
  testing::TempDir t;
  auto r = NewRepo(t);
  std::string big = testing::RandomData(3 << 20, "big");
  WriteFile(t / "src/big", big);
  WriteFile(t / "src/copy", big);
  WriteFile(t / "src/d/small", "small");
  auto b1 = DoBackup(r.get(), t / "src");
  CHECK(b1.snapshot.parents.empty());
  CHECK(b1.snapshot.stats.files == 3);
  CHECK(b1.snapshot.stats.bytes == 2 * big.size() + 5);
  // The copy adds nothing: about 3 MiB of chunks, not 6.
  CHECK(b1.snapshot.stats.added_raw_bytes < big.size() + 100000);

  auto b2 = DoBackup(r.get(), t / "src");
  CHECK(b2.snapshot.parents == std::vector<ObjectId>{b1.snapshot_id.value()});
  CHECK(b2.snapshot.stats.new_chunks == 0);
  CHECK(b2.snapshot.tree == b1.snapshot.tree);

  auto what = r->ResolvePath("latest");
  REQUIRE(what.ok());
  RestoreOptions o;
  o.target = t / "out";
  auto res = Restore(*r, *what, o);
  REQUIRE(res.ok());
  CHECK(res->errors.empty());
  CHECK(ReadFile(t / "out/big") == big);
  CHECK(ReadFile(t / "out/d/small") == "small");
}

TEST_CASE("revisions resolve like git's", "[repo][rev]") {
  testing::TempDir t;
  auto r = NewRepo(t);
  WriteFile(t / "src/f", "1");
  auto s1 = DoBackup(r.get(), t / "src");
  WriteFile(t / "src/f", "2");
  auto s2 = DoBackup(r.get(), t / "src");
  WriteFile(t / "src/f", "3");
  auto s3 = DoBackup(r.get(), t / "src");
  auto other = DoBackup(r.get(), t / "src", "other");

  CHECK(r->ResolveRevision("latest").value() == s3.snapshot_id.value());
  CHECK(r->ResolveRevision("HEAD").value() == s3.snapshot_id.value());
  CHECK(r->ResolveRevision("main").value() == s3.snapshot_id.value());
  CHECK(r->ResolveRevision("other").value() == other.snapshot_id.value());
  CHECK(r->ResolveRevision("main~1").value() == s2.snapshot_id.value());
  CHECK(r->ResolveRevision("main~2").value() == s1.snapshot_id.value());
  CHECK(r->ResolveRevision("main^").value() == s2.snapshot_id.value());
  CHECK(r->ResolveRevision("main^^").value() == s1.snapshot_id.value());
  CHECK(r->ResolveRevision("main~1^0").value() == s2.snapshot_id.value());
  CHECK(r->ResolveRevision(s2.snapshot_id.value().ToHex()).value() == s2.snapshot_id.value());
  CHECK(r->ResolveRevision(s2.snapshot_id.value().ToHex().substr(0, 10)).value() == s2.snapshot_id.value());

  CHECK(r->ResolveRevision("main~3").status().IsNotFound());
  CHECK(r->ResolveRevision("main^2").status().IsNotFound());
  CHECK(r->ResolveRevision("nosuchbranch").status().IsNotFound());
  CHECK(r->ResolveRevision("abc").status().IsNotFound());  // too short to be a prefix
  CHECK(r->ResolveRevision("main~x").status().code() == Code::kInvalidArgument);

  // Two snapshot ids sharing a prefix make that prefix ambiguous.
  auto fake1 = ObjectId::FromHex("abcd" + std::string(60, '1')).value();
  auto fake2 = ObjectId::FromHex("abcd" + std::string(60, '2')).value();
  REQUIRE(r->index()->PutSnapshot(fake1, "x").ok());
  REQUIRE(r->index()->PutSnapshot(fake2, "x").ok());
  auto amb = r->ResolveRevision("abcd");
  CHECK(amb.status().code() == Code::kAmbiguous);
  CHECK(amb.status().message().find("abcd11111111") != std::string::npos);
  CHECK(amb.status().message().find("abcd22222222") != std::string::npos);
}

TEST_CASE("REV:PATH finds entries and rejects '..'", "[repo][rev]") {
  testing::TempDir t;
  auto r = NewRepo(t);
  WriteFile(t / "src/a/b/c.txt", "c");
  DoBackup(r.get(), t / "src");
  auto p = r->ResolvePath("latest:a/b/c.txt");
  REQUIRE(p.ok());
  CHECK(p->entry.name == "c.txt");
  CHECK(p->path == "a/b/c.txt");
  CHECK(r->ResolvePath("latest:/a//b/").value().entry.type == objstore::EntryType::kDir);
  CHECK(r->ResolvePath("latest:a/nope").status().IsNotFound());
  CHECK(r->ResolvePath("latest:a/b/c.txt/x").status().IsNotFound());
  CHECK(r->ResolvePath("latest:a/../a").status().code() == Code::kInvalidArgument);
}

TEST_CASE("the local index is rebuilt from the packs alone", "[repo][index]") {
  testing::TempDir t;
  std::string big = testing::RandomData(5 << 20, "rebuild");
  WriteFile(t / "src/big", big);
  {
    auto r = NewRepo(t);
    DoBackup(r.get(), t / "src");
  }
  // Lose the LMDB and every index file.
  fs::remove(t / "repo/cache/index.mdb");
  fs::remove(t / "repo/cache/index.mdb-lock");
  for (auto& e : fs::directory_iterator(t / "repo/index")) fs::remove(e.path());
  {
    auto r = Repository::Open(t / "repo");
    REQUIRE(r.ok());
    // Without index files nothing can be read.
    CHECK(r.value()->ResolvePath("latest:big").status().code() != Code::kOk);
    std::vector<std::string> problems;
    size_t packs = 0, blobs = 0;
    REQUIRE(r.value()->RebuildIndexFromPacks(&problems, &packs, &blobs).ok());
    CHECK(problems.empty());
    CHECK(packs >= 2);
  }
  auto r = Repository::Open(t / "repo");
  REQUIRE(r.ok());
  auto what = r.value()->ResolvePath("latest");
  REQUIRE(what.ok());
  RestoreOptions o;
  o.target = t / "out";
  auto res = Restore(**r, *what, o);
  REQUIRE(res.ok());
  CHECK(res->errors.empty());
  CHECK(ReadFile(t / "out/big") == big);
  CheckOptions copts;
  copts.read_data = true;
  auto rep = Check(r.value().get(), copts);
  REQUIRE(rep.ok());
  CHECK(rep->errors.empty());
}

TEST_CASE("a damaged local index is detected and rebuilt on open", "[repo][index]") {
  testing::TempDir t;
  WriteFile(t / "src/f", "content");
  {
    auto r = NewRepo(t);
    DoBackup(r.get(), t / "src");
  }
  WriteFile(t / "repo/cache/index.mdb", std::string(100000, 'Z'));
  fs::remove(t / "repo/cache/index.mdb-lock");
  auto r = Repository::Open(t / "repo");
  REQUIRE(r.ok());
  CHECK_FALSE(r.value()->warnings().empty());
  auto p = r.value()->ResolvePath("latest:f");
  REQUIRE(p.ok());
  CHECK(r.value()->ReadBlob(p->entry.chunks[0]).value() == "content");
}

TEST_CASE("reading a blob whose bytes were altered fails with Corruption naming the pack", "[repo][verify]") {
  testing::TempDir t;
  WriteFile(t / "src/f", testing::RandomData(100000, "flip"));
  auto r = NewRepo(t);
  DoBackup(r.get(), t / "src");
  auto p = r->ResolvePath("latest:f");
  REQUIRE(p.ok());
  auto loc = r->index()->Lookup(p->entry.chunks[0]).value().value();
  std::string pack = t / ("repo/" + objstore::PackName(loc.pack_id));
  std::string data = ReadFile(pack);
  data[loc.entry.offset + 5] ^= 1;
  fs::permissions(pack, fs::perms::owner_write, fs::perm_options::add);
  WriteFile(pack, data);
  r = Repository::Open(t / "repo").value();  // drop cached descriptors
  auto blob = r->ReadBlob(p->entry.chunks[0]);
  REQUIRE_FALSE(blob.ok());
  CHECK(blob.status().IsCorruption());
  CHECK(blob.status().message().find(loc.pack_id.ToHex()) != std::string::npos);
}

TEST_CASE("unreadable source files are left out and listed", "[repo][backup]") {
  if (::geteuid() == 0) {
    // root reads everything; the end-to-end test covers this with a file
    // that vanishes instead.
    SUCCEED("skipped as root");
    return;
  }
  testing::TempDir t;
  WriteFile(t / "src/ok", "ok");
  WriteFile(t / "src/secret", "no");
  ::chmod((t / "src/secret").c_str(), 0);
  auto r = NewRepo(t);
  auto b = DoBackup(r.get(), t / "src");
  CHECK(b.snapshot.errors.size() == 1);
  CHECK(r->ResolvePath("latest:secret").status().IsNotFound());
  CHECK(r->ResolvePath("latest:ok").ok());
}

TEST_CASE("a branch name must be valid", "[repo][backup]") {
  testing::TempDir t;
  WriteFile(t / "src/f", "x");
  auto r = NewRepo(t);
  BackupOptions o;
  o.paths = {t / "src"};
  for (std::string bad : {"", "../x", "a/b", ".hidden", "-x", "x.lock", "abcd1234", "latest"}) {
    o.branch = bad;
    CAPTURE(bad);
    CHECK(Backup(r.get(), o).status().code() == Code::kInvalidArgument);
  }
}

TEST_CASE("a session of many small blobs writes an index file every 32,768 blobs", "[repo][backup]") {
  testing::TempDir t;
  objstore::RepoConfig cfg = objstore::NewRepoConfig();
  cfg.pack_size = 1 << 20;
  REQUIRE(Repository::Init(t / "repo", cfg).ok());
  auto r = Repository::Open(t / "repo");
  REQUIRE(r.ok());
  // 100,000 incompressible 224-byte blobs: about 31 packs of 1 MiB, which
  // the 16-pack rule alone would put in 2 index files (the first holding
  // some 50,000 blobs, all pending in memory until it is written).
  std::vector<ObjectId> ids;
  std::vector<std::string> blobs;
  {
    BlobWriter w(r->get(), 2);
    for (int i = 0; i < 100000; i++) {
      std::string data;
      for (int k = 0; k < 7; k++) data.append(Sha256("b" + std::to_string(i) + "/" + std::to_string(k)).view());
      ObjectId id = (*r)->hasher().Id(data);
      ids.push_back(id);
      if (i % 997 == 0) blobs.push_back(data);
      auto added = w.Add(objstore::BlobType::kData, id, data);
      REQUIRE(added.ok());
    }
    REQUIRE(w.Flush().ok());
  }
  size_t index_files = 0;
  REQUIRE((*r)->backend()->List("index/", [&](const std::string&, uint64_t) { index_files++; }).ok());
  CHECK(index_files >= 3);
  // Every blob is findable, through a fresh open too.
  auto again = Repository::Open(t / "repo");
  REQUIRE(again.ok());
  for (size_t i = 0; i < ids.size(); i += 997) {
    auto data = (*again)->ReadBlob(ids[i]);
    REQUIRE(data.ok());
    CHECK(*data == blobs[i / 997]);
  }
}

}  // namespace
}  // namespace cairn::repo
