// SPDX-License-Identifier: MIT
//
// SnapshotFs (repo/snapshot_fs.h) without FUSE: the layout, attributes and
// content a mount shows, inode lifetimes, refresh, and damage as EIO.

#include "repo/snapshot_fs.h"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <thread>

#include "objstore/config.h"
#include "objstore/pack.h"
#include "repo/backup.h"
#include "test_util.h"

namespace cairn::repo {
namespace {

namespace fs = std::filesystem;

struct Fixture {
  testing::TempDir t;
  std::unique_ptr<Repository> repo;
  std::string big;  // src/dir/big: many chunks
  std::vector<std::string> log;

  Fixture() {
    auto cfg = objstore::NewRepoConfig();
    auto small = objstore::ChunkerParamsForAverage(1024, cfg.chunker);
    REQUIRE(small.ok());
    cfg.chunker = *small;
    REQUIRE(Repository::Init(t / "repo", cfg).ok());
    auto r = Repository::Open(t / "repo");
    REQUIRE(r.ok());
    repo = std::move(*r);
    big = testing::RandomData(200000, "mount-big");
    testing::WriteFile(t / "src/dir/big", big);
    testing::WriteFile(t / "src/a.txt", "alpha\n");
    testing::WriteFile(t / "src/empty", "");
    fs::create_directories(t / "src/emptydir");
    fs::create_symlink("dir/big", t / "src/link");
    fs::create_hard_link(t / "src/a.txt", t / "src/dir/a-again");
    ::chmod((t / "src/a.txt").c_str(), 0640);
  }

  ObjectId Backup() {
    BackupOptions o;
    o.paths = {t / "src"};
    auto b = repo::Backup(repo.get(), o);
    REQUIRE(b.ok());
    REQUIRE(b->snapshot_id.has_value());
    return *b->snapshot_id;
  }

  SnapshotFs::Options Opts() {
    SnapshotFs::Options o;
    o.uid = 1234;
    o.gid = 5678;
    o.refresh = std::chrono::milliseconds(0);
    o.log = [this](const std::string& m) { log.push_back(m); };
    return o;
  }
};

// Looks a slash-separated path up from the root, following no symlinks.
int Walk(SnapshotFs& f, const std::string& path, FsAttr* a) {
  uint64_t ino = SnapshotFs::kRootIno;
  size_t start = 0;
  while (start < path.size()) {
    size_t slash = path.find('/', start);
    std::string part = path.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    int err = f.Lookup(ino, part, a);
    if (err != 0) return err;
    ino = a->ino;
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return 0;
}

std::vector<std::string> List(SnapshotFs& f, uint64_t ino, bool plus = false) {
  uint64_t h = 0;
  REQUIRE(f.OpenDir(ino, &h) == 0);
  std::vector<std::string> names;
  uint64_t off = 0;
  for (;;) {
    size_t before = names.size();
    // A buffer of two entries at a time: offsets must resume exactly.
    int taken = 0;
    REQUIRE(f.ReadDir(h, off, plus, [&](const std::string& n, const FsAttr&, bool, uint64_t next) {
      if (taken == 2) return false;
      taken++;
      names.push_back(n);
      off = next;
      return true;
    }) == 0);
    if (names.size() == before) break;
  }
  f.ReleaseDir(h);
  return names;
}

std::string ReadAll(SnapshotFs& f, uint64_t ino, size_t piece = 4096) {
  uint64_t h = 0;
  REQUIRE(f.Open(ino, &h) == 0);
  std::string all, got;
  for (uint64_t off = 0;; off += got.size()) {
    REQUIRE(f.Read(h, off, piece, &got) == 0);
    if (got.empty()) break;
    all += got;
  }
  f.Release(h);
  return all;
}

TEST_CASE("the mount's top folders: snapshots, latest, branches, tags, by-time", "[mount]") {
  Fixture x;
  ObjectId s1 = x.Backup();
  testing::WriteFile(x.t / "src/a.txt", "alpha, changed\n");
  ObjectId s2 = x.Backup();
  REQUIRE(x.repo->UpdateRef("tags/v1", std::nullopt, s1).ok());
  SnapshotFs f(x.repo.get(), x.Opts());

  CHECK(List(f, SnapshotFs::kRootIno) ==
        std::vector<std::string>{".", "..", "branches", "by-time", "latest", "snapshots", "tags"});
  FsAttr a;
  REQUIRE(Walk(f, "snapshots", &a) == 0);
  auto snaps = List(f, a.ino);
  std::vector<std::string> want = {".", "..", s1.ToHex(), s2.ToHex()};
  std::sort(want.begin() + 2, want.end());
  CHECK(snaps == want);

  std::string target;
  REQUIRE(Walk(f, "latest", &a) == 0);
  CHECK(S_ISLNK(a.mode));
  CHECK(a.uid == 1234);
  REQUIRE(f.ReadLink(a.ino, &target) == 0);
  CHECK(target == "snapshots/" + s2.ToHex());
  REQUIRE(Walk(f, "tags/v1", &a) == 0);
  REQUIRE(f.ReadLink(a.ino, &target) == 0);
  CHECK(target == "../snapshots/" + s1.ToHex());
  REQUIRE(Walk(f, "branches/main", &a) == 0);
  REQUIRE(f.ReadLink(a.ino, &target) == 0);
  CHECK(target == "../snapshots/" + s2.ToHex());
  REQUIRE(Walk(f, "by-time", &a) == 0);
  auto times = List(f, a.ino);
  REQUIRE(times.size() == 4);  // two snapshots, perhaps in one second ("-2")
  CHECK(Walk(f, "snapshots/" + std::string(64, 'f'), &a) == ENOENT);
  CHECK(Walk(f, "nothing", &a) == ENOENT);

  // Both snapshots show their own content.
  REQUIRE(Walk(f, "snapshots/" + s1.ToHex() + "/a.txt", &a) == 0);
  CHECK(ReadAll(f, a.ino) == "alpha\n");
  REQUIRE(Walk(f, "snapshots/" + s2.ToHex() + "/a.txt", &a) == 0);
  CHECK(ReadAll(f, a.ino) == "alpha, changed\n");
}

TEST_CASE("the mount shows stored attributes, symlinks, hard links and content", "[mount]") {
  Fixture x;
  ObjectId s = x.Backup();
  SnapshotFs f(x.repo.get(), x.Opts());
  std::string root = "snapshots/" + s.ToHex();
  FsAttr a;
  REQUIRE(Walk(f, root, &a) == 0);
  CHECK(S_ISDIR(a.mode));
  CHECK(List(f, a.ino) ==
        std::vector<std::string>{".", "..", "a.txt", "dir", "empty", "emptydir", "link"});

  struct stat st;
  REQUIRE(::lstat((x.t / "src/a.txt").c_str(), &st) == 0);
  REQUIRE(Walk(f, root + "/a.txt", &a) == 0);
  CHECK(a.mode == (S_IFREG | 0640));
  CHECK(a.uid == st.st_uid);
  CHECK(a.gid == st.st_gid);
  CHECK(a.size == 6);
  CHECK(a.mtime_ns == static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec);
  CHECK(a.immutable);
  uint64_t a_ino = a.ino;

  // A hard link is the same inode as the file it names.
  REQUIRE(Walk(f, root + "/dir/a-again", &a) == 0);
  CHECK(a.ino == a_ino);
  CHECK(S_ISREG(a.mode));
  CHECK(ReadAll(f, a.ino) == "alpha\n");

  REQUIRE(Walk(f, root + "/link", &a) == 0);
  CHECK(S_ISLNK(a.mode));
  std::string target;
  REQUIRE(f.ReadLink(a.ino, &target) == 0);
  CHECK(target == "dir/big");
  CHECK(a.size == target.size());

  REQUIRE(Walk(f, root + "/empty", &a) == 0);
  CHECK(a.size == 0);
  CHECK(ReadAll(f, a.ino).empty());
  REQUIRE(Walk(f, root + "/emptydir", &a) == 0);
  CHECK(List(f, a.ino) == std::vector<std::string>{".", ".."});
  uint64_t h;
  CHECK(f.Open(a.ino, &h) == EISDIR);
  CHECK(Walk(f, root + "/a.txt/x", &a) == ENOTDIR);
  CHECK(Walk(f, root + "/dir/none", &a) == ENOENT);

  // The large file: whole in small pieces, in one piece, and at random
  // offsets, always the stored bytes.
  REQUIRE(Walk(f, root + "/dir/big", &a) == 0);
  CHECK(a.size == x.big.size());
  CHECK(ReadAll(f, a.ino, 4096) == x.big);
  CHECK(ReadAll(f, a.ino, 1 << 20) == x.big);
  REQUIRE(f.Open(a.ino, &h) == 0);
  uint64_t seed = 7;
  std::string got;
  for (int i = 0; i < 200; i++) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    uint64_t off = (seed >> 20) % (x.big.size() + 100);
    size_t len = static_cast<size_t>((seed >> 8) % 9000);
    REQUIRE(f.Read(h, off, len, &got) == 0);
    std::string want = off >= x.big.size() ? "" : x.big.substr(off, len);
    REQUIRE(got == want);
  }
  f.Release(h);
  CHECK(x.log.empty());
}

TEST_CASE("a sequential read fetches the next chunks before they are asked for", "[mount]") {
  Fixture x;
  ObjectId s = x.Backup();
  SnapshotFs f(x.repo.get(), x.Opts());
  FsAttr a;
  REQUIRE(Walk(f, "snapshots/" + s.ToHex() + "/dir/big", &a) == 0);
  uint64_t h;
  REQUIRE(f.Open(a.ino, &h) == 0);
  std::string got;
  REQUIRE(f.Read(h, 0, 10, &got) == 0);  // chunk 0, at the start: sequential
  CHECK(got == x.big.substr(0, 10));
  // The fetch threads read chunks 1-4 (readahead_chunks) on their own.
  for (int i = 0; i < 500 && f.stats().chunk_fetches < 5; i++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  auto st = f.stats();
  CHECK(st.chunk_fetches == 5);
  CHECK(st.prefetches == 4);
  // A random read far away fetches only what it needs, and nothing ahead.
  REQUIRE(f.Read(h, x.big.size() - 5, 5, &got) == 0);
  CHECK(got == x.big.substr(x.big.size() - 5));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(f.stats().chunk_fetches == 6);
  CHECK(f.stats().prefetches == 4);
  f.Release(h);
}

TEST_CASE("the mount's inodes live as long as the kernel holds them", "[mount]") {
  Fixture x;
  ObjectId s = x.Backup();
  SnapshotFs f(x.repo.get(), x.Opts());
  FsAttr a;
  REQUIRE(Walk(f, "snapshots/" + s.ToHex(), &a) == 0);
  uint64_t root = a.ino;
  size_t base = f.stats().nodes;
  // readdirplus counts a reference for every entry handed out, as lookup.
  List(f, root, /*plus=*/true);
  CHECK(f.stats().nodes == base + 5);
  FsAttr again;
  REQUIRE(f.Lookup(root, "a.txt", &again) == 0);  // a second reference
  f.Forget(again.ino, 1);
  CHECK(f.stats().nodes == base + 5);
  for (const char* n : {"a.txt", "dir", "empty", "emptydir", "link"}) {
    REQUIRE(f.Lookup(root, n, &a) == 0);
    f.Forget(a.ino, 2);  // the readdirplus reference and this one
  }
  CHECK(f.stats().nodes == base);
  // Looked up again: a working node (a new inode number is allowed).
  REQUIRE(f.Lookup(root, "a.txt", &a) == 0);
  CHECK(ReadAll(f, a.ino) == "alpha\n");
}

TEST_CASE("the mount picks up new snapshots and moved branches", "[mount]") {
  Fixture x;
  ObjectId s1 = x.Backup();
  SnapshotFs f(x.repo.get(), x.Opts());
  FsAttr a;
  REQUIRE(Walk(f, "snapshots", &a) == 0);
  CHECK(List(f, a.ino).size() == 3);
  REQUIRE(Walk(f, "latest", &a) == 0);
  uint64_t old_link = a.ino;

  testing::WriteFile(x.t / "src/new", "new\n");
  ObjectId s2 = x.Backup();
  REQUIRE(Walk(f, "snapshots", &a) == 0);
  CHECK(List(f, a.ino).size() == 4);
  REQUIRE(Walk(f, "snapshots/" + s2.ToHex() + "/new", &a) == 0);
  CHECK(ReadAll(f, a.ino) == "new\n");
  // The moved latest is a new symlink inode (the kernel caches targets).
  REQUIRE(Walk(f, "latest", &a) == 0);
  CHECK(a.ino != old_link);
  std::string target;
  REQUIRE(f.ReadLink(a.ino, &target) == 0);
  CHECK(target == "snapshots/" + s2.ToHex());
  REQUIRE(f.ReadLink(old_link, &target) == 0);
  CHECK(target == "snapshots/" + s1.ToHex());
}

TEST_CASE("a damaged chunk reads as EIO, logged, never as wrong bytes", "[mount]") {
  Fixture x;
  ObjectId s = x.Backup();
  auto entry = x.repo->ResolvePath(s.ToHex() + ":dir/big");
  REQUIRE(entry.ok());
  REQUIRE(entry->entry.chunks.size() > 10);
  ObjectId victim = entry->entry.chunks[5];
  auto loc = x.repo->Locate(victim);
  REQUIRE(loc.ok());
  REQUIRE(loc->has_value());
  std::string pack = x.t / ("repo/" + objstore::PackName((*loc)->pack_id));
  {
    std::fstream p(pack, std::ios::in | std::ios::out | std::ios::binary);
    REQUIRE(p);
    p.seekg(static_cast<std::streamoff>((*loc)->entry.offset + (*loc)->entry.stored_length / 2));
    char c = 0;
    p.read(&c, 1);
    p.seekp(static_cast<std::streamoff>((*loc)->entry.offset + (*loc)->entry.stored_length / 2));
    c = static_cast<char>(c ^ 0x20);
    p.write(&c, 1);
  }
  SnapshotFs f(x.repo.get(), x.Opts());
  FsAttr a;
  REQUIRE(Walk(f, "snapshots/" + s.ToHex() + "/dir/big", &a) == 0);
  uint64_t h;
  REQUIRE(f.Open(a.ino, &h) == 0);
  std::string got;
  // Before the damage: the stored bytes. At it: EIO, and no bytes.
  REQUIRE(f.Read(h, 0, 100, &got) == 0);
  CHECK(got == x.big.substr(0, 100));
  int err = 0;
  uint64_t off = 0;
  for (; off < x.big.size(); off += 512) {
    err = f.Read(h, off, 512, &got);
    if (err != 0) break;
    REQUIRE(got == x.big.substr(off, 512));
  }
  CHECK(err == EIO);
  CHECK(got.empty());
  f.Release(h);
  REQUIRE(x.log.size() == 1);
  CHECK(x.log[0].find("dir/big") != std::string::npos);
  CHECK(x.log[0].find(s.ShortHex()) != std::string::npos);
  // The other files still read.
  REQUIRE(Walk(f, "snapshots/" + s.ToHex() + "/a.txt", &a) == 0);
  CHECK(ReadAll(f, a.ino) == "alpha\n");
}

}  // namespace
}  // namespace cairn::repo
