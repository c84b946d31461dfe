// SPDX-License-Identifier: MIT

#include "repo/file_reader.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "objstore/config.h"
#include "repo/backup.h"
#include "repo/objects.h"
#include "test_util.h"

namespace cairn::repo {
namespace {

namespace fs = std::filesystem;

TEST_CASE("a live file is read whole, piece by piece", "[file_reader]") {
  testing::TempDir t;
  std::string data = testing::RandomData(300000, "live");
  std::ofstream(t / "f", std::ios::binary) << data;
  std::string got;
  size_t pieces = 0;
  Status st = ReadLiveFile(t / "f", [&](std::string_view p) {
    got.append(p);
    pieces++;
    return Status::OK();
  });
  REQUIRE(st.ok());
  CHECK(got == data);
  CHECK(pieces > 1);  // never one buffer of the whole file
}

TEST_CASE("a failing read() is an IOError naming the file, not truncated content", "[file_reader]") {
  testing::TempDir t;
  fs::create_directories(t / "dir");
  // A folder opens O_RDONLY, and read() then fails with EISDIR.
  bool called = false;
  Status st = ReadLiveFile(t / "dir", [&](std::string_view) {
    called = true;
    return Status::OK();
  });
  CHECK(st.code() == Code::kIOError);
  CHECK(st.message().find(t / "dir") != std::string::npos);
  CHECK(st.message().find("cannot read") != std::string::npos);
  CHECK_FALSE(called);
  Status missing = ReadLiveFile(t / "nothing", [](std::string_view) { return Status::OK(); });
  CHECK(missing.IsNotFound());
  CHECK(missing.message().find("nothing") != std::string::npos);
}

TEST_CASE("a sink error stops the read with that error", "[file_reader]") {
  testing::TempDir t;
  std::ofstream(t / "f", std::ios::binary) << testing::RandomData(200000, "stop");
  int calls = 0;
  Status st = ReadLiveFile(t / "f", [&](std::string_view) {
    calls++;
    return Status::IOError("sink full");
  });
  CHECK(st.message() == "sink full");
  CHECK(calls == 1);
}

TEST_CASE("entry content streams chunk by chunk; a missing chunk names the path", "[file_reader]") {
  testing::TempDir t;
  auto cfg = objstore::NewRepoConfig();
  auto small = objstore::ChunkerParamsForAverage(1024, cfg.chunker);
  REQUIRE(small.ok());
  cfg.chunker = *small;
  REQUIRE(Repository::Init(t / "repo", cfg).ok());
  auto r = Repository::Open(t / "repo");
  REQUIRE(r.ok());
  std::string data = testing::RandomData(50000, "entry");
  fs::create_directories(t / "src");
  std::ofstream(t / "src/f", std::ios::binary) << data;
  BackupOptions o;
  o.paths = {t / "src"};
  REQUIRE(Backup(r->get(), o).ok());
  auto target = (*r)->ResolvePath("latest:f");
  REQUIRE(target.ok());
  REQUIRE(target->entry.chunks.size() > 1);
  std::string got;
  size_t pieces = 0;
  REQUIRE(ReadEntryContent(**r, target->entry, "f", [&](std::string_view p) {
            got.append(p);
            pieces++;
            return Status::OK();
          }).ok());
  CHECK(got == data);
  CHECK(pieces == target->entry.chunks.size());

  objstore::TreeEntry broken = target->entry;
  broken.chunks.push_back(Sha256("not stored"));
  Status st = ReadEntryContent(**r, broken, "sub/f", [](std::string_view) { return Status::OK(); });
  CHECK(st.IsNotFound());
  CHECK(st.message().find("sub/f") != std::string::npos);

  auto obj = FindObject(**r, "latest:f");
  REQUIRE(obj.ok());
  CHECK(obj->type == "file");
  CHECK(obj->size == data.size());
  auto chunk = FindObject(**r, target->entry.chunks[0].ToHex().substr(0, 12));
  REQUIRE(chunk.ok());
  CHECK(chunk->type == "chunk");
  CHECK(FindObject(**r, "ffffffffffff").status().IsNotFound());
}

TEST_CASE("the --avg-chunk rule: min = avg/4, max = avg*4, validated", "[config]") {
  objstore::ChunkerParams base;
  base.seed[0] = 7;
  auto p = objstore::ChunkerParamsForAverage(65536, base);
  REQUIRE(p.ok());
  CHECK(p->min_size == 16384);
  CHECK(p->avg_size == 65536);
  CHECK(p->max_size == 262144);
  CHECK(p->seed[0] == 7);
  CHECK(objstore::ChunkerParamsForAverage(256).ok());
  CHECK(objstore::ChunkerParamsForAverage(4u << 20).ok());
  for (uint32_t bad : {0u, 128u, 1000u, 8u << 20, 0x80000000u, 0xffffffffu}) {
    auto r = objstore::ChunkerParamsForAverage(bad);
    CHECK(r.status().code() == Code::kInvalidArgument);
    CHECK(r.status().message().find("power of two") != std::string::npos);
  }
}

}  // namespace
}  // namespace cairn::repo
