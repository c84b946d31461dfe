// SPDX-License-Identifier: MIT

#include "index/index.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <map>
#include <thread>

#include "test_util.h"

namespace cairn::index {
namespace {

namespace fs = std::filesystem;
using objstore::BlobType;
using objstore::PackEntry;
using objstore::PackRecord;

// An id whose first bytes are `head` and the rest `fill`.
ObjectId IdWith(std::initializer_list<uint8_t> head, uint8_t fill = 0) {
  uint8_t raw[ObjectId::kSize];
  std::fill(std::begin(raw), std::end(raw), fill);
  size_t i = 0;
  for (uint8_t b : head) raw[i++] = b;
  return ObjectId(raw);
}

PackEntry Entry(const ObjectId& id, uint64_t offset, uint32_t stored, uint32_t raw,
                BlobType type = BlobType::kData, uint8_t flags = 0) {
  PackEntry e;
  e.id = id;
  e.type = type;
  e.flags = flags;
  e.offset = offset;
  e.stored_length = stored;
  e.raw_length = raw;
  return e;
}

PackRecord Pack(const std::string& label, std::vector<PackEntry> entries) {
  PackRecord p;
  p.pack_id = Sha256("pack " + label);
  p.pack_size = 1000;
  p.entries = std::move(entries);
  return p;
}

std::unique_ptr<Index> OpenIndex(const std::string& path) {
  auto r = Index::Open(path);
  INFO(r.status().message());
  REQUIRE(r.ok());
  return std::move(r).value();
}

std::vector<ObjectId> AllBlobs(const Index& idx) {
  std::vector<ObjectId> out;
  REQUIRE(idx.ForEachBlob([&](const ObjectId& id, const BlobLocation&) { out.push_back(id); }).ok());
  return out;
}

FileCacheEntry CacheEntry(uint64_t ino, uint64_t size, std::vector<ObjectId> chunks) {
  FileCacheEntry f;
  f.dev = 0x801;
  f.ino = ino;
  f.size = size;
  f.mtime_ns = -1234567890123;  // before 1970: signed round trip
  f.ctime_ns = 1700000000123456789;
  f.chunks = std::move(chunks);
  return f;
}

TEST_CASE("Open creates an empty index file", "[index]") {
  testing::TempDir t;
  std::string path = t / "index.lmdb";
  REQUIRE_FALSE(fs::exists(path));
  auto idx = OpenIndex(path);
  CHECK(fs::is_regular_file(path));

  auto loc = idx->Lookup(Sha256("nothing"));
  REQUIRE(loc.ok());
  CHECK_FALSE(loc->has_value());
  auto files = idx->LoadedIndexFiles();
  REQUIRE(files.ok());
  CHECK(files->empty());
  CHECK(AllBlobs(*idx).empty());
  auto snaps = idx->Snapshots();
  REQUIRE(snaps.ok());
  CHECK(snaps->empty());
}

TEST_CASE("Open in a folder that does not exist is an error", "[index]") {
  testing::TempDir t;
  auto r = Index::Open(t / "no/such/folder/index.lmdb");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Code::kIOError);
}

TEST_CASE("AddPacks records every blob's location; Lookup returns it field by field", "[index]") {
  testing::TempDir t;
  auto idx = OpenIndex(t / "index.lmdb");
  ObjectId a = Sha256("a"), b = Sha256("b"), c = Sha256("c");
  PackRecord p1 = Pack("1", {Entry(a, 15, 100, 250, BlobType::kData, objstore::kFlagZstd),
                             Entry(b, 115, 7, 7, BlobType::kTree, 0)});
  PackRecord p2 = Pack("2", {Entry(c, uint64_t{5} << 32, 0xfffffff0u, 0xfffffff1u)});
  REQUIRE(idx->AddPacks("index/aa11", {p1, p2}).ok());

  auto la = idx->Lookup(a);
  REQUIRE(la.ok());
  REQUIRE(la->has_value());
  const BlobLocation& x = **la;
  CHECK(x.pack_id == p1.pack_id);
  CHECK(x.entry.id == a);
  CHECK(x.entry.type == BlobType::kData);
  CHECK(x.entry.flags == objstore::kFlagZstd);
  CHECK(x.entry.offset == 15);
  CHECK(x.entry.stored_length == 100);
  CHECK(x.entry.raw_length == 250);

  auto lb = idx->Lookup(b);
  REQUIRE(lb.ok());
  REQUIRE(lb->has_value());
  CHECK((*lb)->pack_id == p1.pack_id);
  CHECK((*lb)->entry.type == BlobType::kTree);
  CHECK((*lb)->entry.flags == 0);
  CHECK((*lb)->entry.offset == 115);
  CHECK((*lb)->entry.stored_length == 7);

  // Large values survive (64-bit offset, full 32-bit lengths).
  auto lc = idx->Lookup(c);
  REQUIRE(lc.ok());
  REQUIRE(lc->has_value());
  CHECK((*lc)->pack_id == p2.pack_id);
  CHECK((*lc)->entry.offset == uint64_t{5} << 32);
  CHECK((*lc)->entry.stored_length == 0xfffffff0u);
  CHECK((*lc)->entry.raw_length == 0xfffffff1u);

  auto missing = idx->Lookup(Sha256("d"));
  REQUIRE(missing.ok());
  CHECK_FALSE(missing->has_value());
}

TEST_CASE("a blob stored in two packs keeps its first location", "[index]") {
  testing::TempDir t;
  auto idx = OpenIndex(t / "index.lmdb");
  ObjectId a = Sha256("a");
  PackRecord first = Pack("first", {Entry(a, 15, 10, 10)});
  PackRecord second = Pack("second", {Entry(a, 99, 20, 20)});
  REQUIRE(idx->AddPacks("index/01", {first}).ok());
  REQUIRE(idx->AddPacks("index/02", {second}).ok());
  auto l = idx->Lookup(a);
  REQUIRE(l.ok());
  REQUIRE(l->has_value());
  CHECK((*l)->pack_id == first.pack_id);
  CHECK((*l)->entry.offset == 15);
  CHECK(AllBlobs(*idx).size() == 1);
}

TEST_CASE("LoadedIndexFiles lists the index files marked by AddPacks, not an empty name", "[index]") {
  testing::TempDir t;
  auto idx = OpenIndex(t / "index.lmdb");
  REQUIRE(idx->AddPacks("index/bb", {Pack("1", {Entry(Sha256("1"), 15, 1, 1)})}).ok());
  REQUIRE(idx->AddPacks("index/aa", {}).ok());  // an index file with no packs is still loaded
  REQUIRE(idx->AddPacks("", {Pack("2", {Entry(Sha256("2"), 15, 1, 1)})}).ok());
  REQUIRE(idx->AddPacks("index/bb", {}).ok());  // marking twice is harmless
  auto files = idx->LoadedIndexFiles();
  REQUIRE(files.ok());
  CHECK(*files == std::set<std::string>{"index/aa", "index/bb"});
  CHECK(AllBlobs(*idx).size() == 2);  // the blobs of the unnamed batch are recorded
}

TEST_CASE("ForEachBlob visits every blob once, in id order, with its location", "[index]") {
  testing::TempDir t;
  auto idx = OpenIndex(t / "index.lmdb");
  std::vector<PackEntry> entries;
  std::vector<ObjectId> ids;
  for (int i = 0; i < 50; i++) {
    ObjectId id = Sha256("blob " + std::to_string(i));
    ids.push_back(id);
    entries.push_back(Entry(id, 15 + static_cast<uint64_t>(i), static_cast<uint32_t>(i + 1), 1000));
  }
  PackRecord p = Pack("p", entries);
  REQUIRE(idx->AddPacks("index/x", {p}).ok());

  std::vector<ObjectId> seen;
  REQUIRE(idx->ForEachBlob([&](const ObjectId& id, const BlobLocation& loc) {
               seen.push_back(id);
               CHECK(loc.pack_id == p.pack_id);
               CHECK(loc.entry.id == id);
               size_t i = static_cast<size_t>(std::find(ids.begin(), ids.end(), id) - ids.begin());
               REQUIRE(i < ids.size());
               CHECK(loc.entry.offset == 15 + i);
               CHECK(loc.entry.stored_length == i + 1);
             }).ok());
  std::sort(ids.begin(), ids.end());
  CHECK(seen == ids);
}

TEST_CASE("BlobsWithPrefix returns ids of that hex prefix in order, at most limit", "[index]") {
  testing::TempDir t;
  auto idx = OpenIndex(t / "index.lmdb");
  std::vector<ObjectId> ids = {IdWith({0x0f}),       IdWith({0xab, 0x00}), IdWith({0xab, 0x01}),
                               IdWith({0xab, 0x02}), IdWith({0xab, 0xff}), IdWith({0xac}),
                               IdWith({0xff}, 0xff)};
  std::vector<PackEntry> entries;
  for (const auto& id : ids) entries.push_back(Entry(id, 15, 1, 1));
  REQUIRE(idx->AddPacks("index/x", {Pack("p", entries)}).ok());

  auto ab = idx->BlobsWithPrefix("ab", 10);
  REQUIRE(ab.ok());
  CHECK(*ab == std::vector<ObjectId>{ids[1], ids[2], ids[3], ids[4]});

  auto limited = idx->BlobsWithPrefix("ab", 2);
  REQUIRE(limited.ok());
  CHECK(*limited == std::vector<ObjectId>{ids[1], ids[2]});

  auto ab01 = idx->BlobsWithPrefix("ab01", 10);
  REQUIRE(ab01.ok());
  CHECK(*ab01 == std::vector<ObjectId>{ids[2]});

  auto full = idx->BlobsWithPrefix(ids[5].ToHex(), 10);
  REQUIRE(full.ok());
  CHECK(*full == std::vector<ObjectId>{ids[5]});

  auto none = idx->BlobsWithPrefix("ad", 10);
  REQUIRE(none.ok());
  CHECK(none->empty());

  auto last = idx->BlobsWithPrefix("ff", 10);
  REQUIRE(last.ok());
  CHECK(*last == std::vector<ObjectId>{ids[6]});

  auto all = idx->BlobsWithPrefix("", 3);
  REQUIRE(all.ok());
  CHECK(*all == std::vector<ObjectId>{ids[0], ids[1], ids[2]});

  // Odd-length prefixes: an id before the prefix must not end the scan.
  auto a = idx->BlobsWithPrefix("a", 10);
  REQUIRE(a.ok());
  CHECK(*a == std::vector<ObjectId>{ids[1], ids[2], ids[3], ids[4], ids[5]});
  auto ab0 = idx->BlobsWithPrefix("ab0", 10);
  REQUIRE(ab0.ok());
  CHECK(*ab0 == std::vector<ObjectId>{ids[1], ids[2], ids[3]});
  auto abf = idx->BlobsWithPrefix("abf", 10);
  REQUIRE(abf.ok());
  CHECK(*abf == std::vector<ObjectId>{ids[4]});
  CHECK(idx->BlobsWithPrefix("ab", 0)->empty());
}

TEST_CASE("the snapshot catalog: Put, Remove, Snapshots, SnapshotsWithPrefix", "[index]") {
  testing::TempDir t;
  auto idx = OpenIndex(t / "index.lmdb");
  ObjectId s1 = IdWith({0x12, 0x34}), s2 = IdWith({0x12, 0x99}), s3 = IdWith({0xee});
  std::string file1("snapshot one\0with a NUL", 23);
  REQUIRE(idx->PutSnapshot(s3, "three").ok());
  REQUIRE(idx->PutSnapshot(s1, file1).ok());
  REQUIRE(idx->PutSnapshot(s2, "two").ok());

  auto all = idx->Snapshots();
  REQUIRE(all.ok());
  REQUIRE(all->size() == 3);
  CHECK((*all)[0] == std::pair<ObjectId, std::string>{s1, file1});  // id order, bytes kept
  CHECK((*all)[1] == std::pair<ObjectId, std::string>{s2, "two"});
  CHECK((*all)[2] == std::pair<ObjectId, std::string>{s3, "three"});

  // Put again replaces the file.
  REQUIRE(idx->PutSnapshot(s2, "two, again").ok());
  all = idx->Snapshots();
  REQUIRE(all.ok());
  REQUIRE(all->size() == 3);
  CHECK((*all)[1].second == "two, again");

  auto p12 = idx->SnapshotsWithPrefix("12");
  REQUIRE(p12.ok());
  CHECK(*p12 == std::vector<ObjectId>{s1, s2});
  auto p123 = idx->SnapshotsWithPrefix("123");  // odd length
  REQUIRE(p123.ok());
  CHECK(*p123 == std::vector<ObjectId>{s1});
  auto pe = idx->SnapshotsWithPrefix("e");
  REQUIRE(pe.ok());
  CHECK(*pe == std::vector<ObjectId>{s3});
  auto none = idx->SnapshotsWithPrefix("5");
  REQUIRE(none.ok());
  CHECK(none->empty());
  auto every = idx->SnapshotsWithPrefix("");
  REQUIRE(every.ok());
  CHECK(every->size() == 3);

  REQUIRE(idx->RemoveSnapshot(s1).ok());
  REQUIRE(idx->RemoveSnapshot(Sha256("never there")).ok());  // removing a missing one is not an error
  all = idx->Snapshots();
  REQUIRE(all.ok());
  REQUIRE(all->size() == 2);
  CHECK((*all)[0].first == s2);
  CHECK((*all)[1].first == s3);
  p12 = idx->SnapshotsWithPrefix("12");
  REQUIRE(p12.ok());
  CHECK(*p12 == std::vector<ObjectId>{s2});
}

TEST_CASE("the file-change cache: PutFiles, then GetFile in a read session", "[index]") {
  testing::TempDir t;
  auto idx = OpenIndex(t / "index.lmdb");
  FileCacheEntry big = CacheEntry(42, 300000, {Sha256("c1"), Sha256("c2"), Sha256("c3")});
  FileCacheEntry empty = CacheEntry(43, 0, {});
  REQUIRE(idx->PutFiles({{"/home/a/big.bin", big}, {"/home/a/empty", empty}}).ok());

  auto s = idx->BeginRead();
  REQUIRE(s.ok());
  auto g = (*s)->GetFile("/home/a/big.bin");
  REQUIRE(g.ok());
  REQUIRE(g->has_value());
  CHECK((*g)->dev == 0x801);
  CHECK((*g)->ino == 42);
  CHECK((*g)->size == 300000);
  CHECK((*g)->mtime_ns == -1234567890123);
  CHECK((*g)->ctime_ns == 1700000000123456789);
  CHECK((*g)->chunks == big.chunks);

  auto e = (*s)->GetFile("/home/a/empty");
  REQUIRE(e.ok());
  REQUIRE(e->has_value());
  CHECK((*e)->ino == 43);
  CHECK((*e)->chunks.empty());

  for (std::string_view other : {"/home/a", "/home/a/big", "/home/a/big.bin/", ""}) {
    auto m = (*s)->GetFile(other);
    REQUIRE(m.ok());
    CHECK_FALSE(m->has_value());
  }
  s->reset();

  // PutFiles replaces the entries of the same paths and keeps the others.
  FileCacheEntry changed = CacheEntry(42, 5, {Sha256("new")});
  REQUIRE(idx->PutFiles({{"/home/a/big.bin", changed}}).ok());
  REQUIRE(idx->PutFiles({}).ok());
  auto s2 = idx->BeginRead();
  REQUIRE(s2.ok());
  g = (*s2)->GetFile("/home/a/big.bin");
  REQUIRE(g.ok());
  REQUIRE(g->has_value());
  CHECK((*g)->size == 5);
  CHECK((*g)->chunks == std::vector<ObjectId>{Sha256("new")});
  e = (*s2)->GetFile("/home/a/empty");
  REQUIRE(e.ok());
  CHECK(e->has_value());
}

TEST_CASE("paths longer than LMDB's key limit are not cached and read back as absent", "[index]") {
  testing::TempDir t;
  auto idx = OpenIndex(t / "index.lmdb");
  std::string longest(511, 'x'), too_long(512, 'y');
  REQUIRE(idx->PutFiles({{longest, CacheEntry(1, 1, {})}, {too_long, CacheEntry(2, 2, {})}}).ok());
  auto s = idx->BeginRead();
  REQUIRE(s.ok());
  auto a = (*s)->GetFile(longest);
  REQUIRE(a.ok());
  REQUIRE(a->has_value());
  CHECK((*a)->ino == 1);
  auto b = (*s)->GetFile(too_long);
  REQUIRE(b.ok());
  CHECK_FALSE(b->has_value());
}

TEST_CASE("a read session answers HasBlob and sees the index as it was when it began", "[index]") {
  testing::TempDir t;
  auto idx = OpenIndex(t / "index.lmdb");
  ObjectId a = Sha256("a"), b = Sha256("b");
  REQUIRE(idx->AddPacks("index/1", {Pack("1", {Entry(a, 15, 1, 1)})}).ok());

  auto s = idx->BeginRead();
  REQUIRE(s.ok());
  auto ha = (*s)->HasBlob(a);
  REQUIRE(ha.ok());
  CHECK(*ha);
  auto hb = (*s)->HasBlob(b);
  REQUIRE(hb.ok());
  CHECK_FALSE(*hb);

  // Written while the session is open: not visible to it, visible to a new one.
  REQUIRE(idx->AddPacks("index/2", {Pack("2", {Entry(b, 15, 1, 1)})}).ok());
  REQUIRE(idx->PutFiles({{"/f", CacheEntry(7, 7, {})}}).ok());
  hb = (*s)->HasBlob(b);
  REQUIRE(hb.ok());
  CHECK_FALSE(*hb);
  auto f = (*s)->GetFile("/f");
  REQUIRE(f.ok());
  CHECK_FALSE(f->has_value());

  auto s2 = idx->BeginRead();
  REQUIRE(s2.ok());
  hb = (*s2)->HasBlob(b);
  REQUIRE(hb.ok());
  CHECK(*hb);
  f = (*s2)->GetFile("/f");
  REQUIRE(f.ok());
  CHECK(f->has_value());
}

TEST_CASE("ClearBlobs drops blobs and loaded marks but keeps the snapshot catalog", "[index]") {
  testing::TempDir t;
  auto idx = OpenIndex(t / "index.lmdb");
  ObjectId a = Sha256("a");
  REQUIRE(idx->AddPacks("index/1", {Pack("1", {Entry(a, 15, 1, 1)})}).ok());
  ObjectId snap = Sha256("snap");
  REQUIRE(idx->PutSnapshot(snap, "file").ok());

  REQUIRE(idx->ClearBlobs().ok());
  auto l = idx->Lookup(a);
  REQUIRE(l.ok());
  CHECK_FALSE(l->has_value());
  CHECK(AllBlobs(*idx).empty());
  auto files = idx->LoadedIndexFiles();
  REQUIRE(files.ok());
  CHECK(files->empty());
  auto prefix = idx->BlobsWithPrefix("", 10);
  REQUIRE(prefix.ok());
  CHECK(prefix->empty());

  auto snaps = idx->Snapshots();
  REQUIRE(snaps.ok());
  REQUIRE(snaps->size() == 1);
  CHECK((*snaps)[0] == std::pair<ObjectId, std::string>{snap, "file"});

  // And the index is usable again.
  REQUIRE(idx->AddPacks("index/1", {Pack("1", {Entry(a, 15, 1, 1)})}).ok());
  l = idx->Lookup(a);
  REQUIRE(l.ok());
  CHECK(l->has_value());
}

TEST_CASE("everything persists across close and reopen", "[index]") {
  testing::TempDir t;
  std::string path = t / "index.lmdb";
  ObjectId a = Sha256("a"), snap = Sha256("snap");
  PackRecord p = Pack("1", {Entry(a, 77, 5, 9, BlobType::kTree, objstore::kFlagZstd)});
  {
    auto idx = OpenIndex(path);
    REQUIRE(idx->AddPacks("index/1", {p}).ok());
    REQUIRE(idx->PutSnapshot(snap, "snapshot file").ok());
    REQUIRE(idx->PutFiles({{"/f", CacheEntry(9, 123, {Sha256("chunk")})}}).ok());
  }
  auto idx = OpenIndex(path);
  auto l = idx->Lookup(a);
  REQUIRE(l.ok());
  REQUIRE(l->has_value());
  CHECK((*l)->pack_id == p.pack_id);
  CHECK((*l)->entry.offset == 77);
  CHECK((*l)->entry.stored_length == 5);
  CHECK((*l)->entry.raw_length == 9);
  CHECK((*l)->entry.type == BlobType::kTree);
  CHECK((*l)->entry.flags == objstore::kFlagZstd);
  auto files = idx->LoadedIndexFiles();
  REQUIRE(files.ok());
  CHECK(*files == std::set<std::string>{"index/1"});
  auto snaps = idx->Snapshots();
  REQUIRE(snaps.ok());
  REQUIRE(snaps->size() == 1);
  CHECK((*snaps)[0] == std::pair<ObjectId, std::string>{snap, "snapshot file"});
  auto s = idx->BeginRead();
  REQUIRE(s.ok());
  auto f = (*s)->GetFile("/f");
  REQUIRE(f.ok());
  REQUIRE(f->has_value());
  CHECK((*f)->size == 123);
  CHECK((*f)->chunks == std::vector<ObjectId>{Sha256("chunk")});
}

TEST_CASE("a damaged index file gives an error from Open, not a crash", "[index]") {
  testing::TempDir t;
  std::string path = t / "index.lmdb";

  SECTION("garbage bytes") {
    std::ofstream(path, std::ios::binary) << testing::RandomData(64 * 1024, "garbage");
    auto r = Index::Open(path);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kCorruption);
    CHECK(r.status().message().find(path) != std::string::npos);
  }

  SECTION("a real index whose meta pages are overwritten") {
    {
      auto idx = OpenIndex(path);
      REQUIRE(idx->AddPacks("index/1", {Pack("1", {Entry(Sha256("a"), 15, 1, 1)})}).ok());
    }
    REQUIRE(fs::file_size(path) >= 8192);
    std::string garbage = testing::RandomData(8192, "meta");
    std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(0);
    f.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
    f.close();
    auto r = Index::Open(path);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kCorruption);
  }

  SECTION("the caller may delete it and open again") {
    std::ofstream(path, std::ios::binary) << std::string(10000, '\x5a');
    REQUIRE_FALSE(Index::Open(path).ok());
    fs::remove(path);
    fs::remove(path + "-lock");
    auto idx = OpenIndex(path);
    auto snaps = idx->Snapshots();
    REQUIRE(snaps.ok());
    CHECK(snaps->empty());
  }
}

// The ids of Unreferenced(), in order.
std::vector<ObjectId> UnreferencedIds(Index* idx) {
  auto r = idx->Unreferenced();
  INFO(r.status().message());
  REQUIRE(r.ok());
  std::vector<ObjectId> out;
  for (const auto& l : *r) out.push_back(l.entry.id);
  return out;
}

// (pack, offset) of every known copy of `id`, canonical first.
std::vector<std::pair<ObjectId, uint64_t>> CopiesOf(const Index& idx, const ObjectId& id) {
  auto r = idx.Copies(id);
  REQUIRE(r.ok());
  std::vector<std::pair<ObjectId, uint64_t>> out;
  for (const auto& l : *r) out.emplace_back(l.pack_id, l.entry.offset);
  return out;
}

Status CountLeaf(Index* idx, const ObjectId& snap, const ObjectId& tree, std::vector<ObjectId> chunks) {
  std::map<ObjectId, TreeChildren> pre;
  pre[tree].chunks = std::move(chunks);
  return idx->CountRoot(snap, tree, pre, [](const ObjectId&) -> Result<TreeChildren> {
    return Status::IOError("no pack reads in this test");
  });
}

TEST_CASE("Unreferenced lists exactly the blobs without a count, as counts come and go", "[index]") {
  testing::TempDir t;
  auto idx = OpenIndex(t / "index.lmdb");
  ObjectId tree = IdWith({1}), a = IdWith({2}), b = IdWith({3}), orphan = IdWith({4});
  PackRecord p = Pack("p", {Entry(tree, 0, 10, 10, BlobType::kTree), Entry(a, 10, 10, 10), Entry(b, 20, 10, 10),
                            Entry(orphan, 30, 10, 10)});
  REQUIRE(idx->AddPacks("01", {p}).ok());
  // Nothing is counted yet: every new blob is a suspect.
  CHECK(UnreferencedIds(idx.get()) == std::vector<ObjectId>{tree, a, b, orphan});

  ObjectId s1 = IdWith({9, 1}), s2 = IdWith({9, 2});
  REQUIRE(CountLeaf(idx.get(), s1, tree, {a, b}).ok());
  CHECK(UnreferencedIds(idx.get()) == std::vector<ObjectId>{orphan});
  // A second root over the same tree; removing one keeps everything.
  REQUIRE(CountLeaf(idx.get(), s2, tree, {a, b}).ok());
  REQUIRE(idx->UncountRoot(s1).ok());
  CHECK(UnreferencedIds(idx.get()) == std::vector<ObjectId>{orphan});
  // The last root goes: its blobs have no count again.
  REQUIRE(idx->UncountRoot(s2).ok());
  CHECK(UnreferencedIds(idx.get()) == std::vector<ObjectId>{tree, a, b, orphan});
  auto r = idx->Unreferenced();
  REQUIRE(r.ok());
  REQUIRE(r->size() == 4);
  CHECK((*r)[3].pack_id == p.pack_id);
  CHECK((*r)[3].entry.offset == 30);

  // Every blob the table holds without a count, whichever way it got there.
  std::vector<ObjectId> expected;
  REQUIRE(idx->ForEachUnreferencedBlob([&](const ObjectId& id, const BlobLocation&) { expected.push_back(id); }).ok());
  CHECK(UnreferencedIds(idx.get()) == expected);
}

TEST_CASE("ClearRefs and a rebuild of the blob table keep the suspects complete", "[index]") {
  testing::TempDir t;
  auto idx = OpenIndex(t / "index.lmdb");
  ObjectId tree = IdWith({1}), a = IdWith({2}), orphan = IdWith({4});
  PackRecord p = Pack("p", {Entry(tree, 0, 10, 10, BlobType::kTree), Entry(a, 10, 10, 10), Entry(orphan, 20, 10, 10)});
  REQUIRE(idx->AddPacks("01", {p}).ok());
  REQUIRE(CountLeaf(idx.get(), IdWith({9}), tree, {a}).ok());
  REQUIRE(UnreferencedIds(idx.get()) == std::vector<ObjectId>{orphan});

  SECTION("a rebuilt blob table lists only the uncounted blob") {
    REQUIRE(idx->ReplaceBlobs({{"01", {p}}}).ok());
    CHECK(UnreferencedIds(idx.get()) == std::vector<ObjectId>{orphan});
  }
  SECTION("after ClearRefs nothing has a count") {
    REQUIRE(idx->ClearRefs().ok());
    CHECK(UnreferencedIds(idx.get()) == std::vector<ObjectId>{tree, a, orphan});
  }
  SECTION("a blob that left the blob table is no suspect") {
    REQUIRE(idx->ClearBlobs().ok());
    CHECK(UnreferencedIds(idx.get()).empty());
  }
}

TEST_CASE("a second copy of a blob is listed by ForEachDuplicate and Copies, not by Lookup", "[index]") {
  testing::TempDir t;
  auto idx = OpenIndex(t / "index.lmdb");
  ObjectId a = IdWith({1}), b = IdWith({2});
  PackRecord first = Pack("first", {Entry(a, 0, 10, 10), Entry(b, 10, 10, 10)});
  PackRecord second = Pack("second", {Entry(a, 0, 12, 12)});
  REQUIRE(idx->AddPacks("01", {first}).ok());
  REQUIRE(idx->AddPacks("02", {second}).ok());
  // The same pack named by a third index file is not another copy.
  REQUIRE(idx->AddPacks("03", {first}).ok());

  CHECK(CopiesOf(*idx, a) == std::vector<std::pair<ObjectId, uint64_t>>{{first.pack_id, 0}, {second.pack_id, 0}});
  CHECK(CopiesOf(*idx, b) == std::vector<std::pair<ObjectId, uint64_t>>{{first.pack_id, 10}});
  CHECK(CopiesOf(*idx, IdWith({7})).empty());
  std::vector<std::pair<ObjectId, ObjectId>> dups;
  REQUIRE(idx->ForEachDuplicate([&](const BlobLocation& l) { dups.emplace_back(l.entry.id, l.pack_id); }).ok());
  CHECK(dups == std::vector<std::pair<ObjectId, ObjectId>>{{a, second.pack_id}});

  auto files = idx->IndexFilesOf(first.pack_id);
  REQUIRE(files.ok());
  CHECK(*files == std::vector<std::string>{"01", "03"});
  files = idx->IndexFilesOf(second.pack_id);
  REQUIRE(files.ok());
  CHECK(*files == std::vector<std::string>{"02"});
  files = idx->IndexFilesOf(Sha256("pack nobody"));
  REQUIRE(files.ok());
  CHECK(files->empty());
}

TEST_CASE("ReplaceIndexFiles forgets a dropped pack in place, moving blobs to their other copy", "[index]") {
  testing::TempDir t;
  auto idx = OpenIndex(t / "index.lmdb");
  ObjectId a = IdWith({1}), b = IdWith({2}), c = IdWith({3});
  PackRecord doomed = Pack("doomed", {Entry(a, 0, 10, 10), Entry(b, 10, 10, 10)});
  PackRecord kept = Pack("kept", {Entry(c, 0, 10, 10)});
  PackRecord copy = Pack("copy", {Entry(a, 0, 11, 11)});
  REQUIRE(idx->AddPacks("01", {doomed, kept}).ok());
  REQUIRE(idx->AddPacks("02", {copy}).ok());
  REQUIRE(idx->Lookup(a)->value().pack_id == doomed.pack_id);

  // Index file 01 is replaced by 04, which names only the kept pack.
  REQUIRE(idx->ReplaceIndexFiles({"01"}, {{"04", {kept}}}, {doomed}).ok());
  auto loaded = idx->LoadedIndexFiles();
  REQUIRE(loaded.ok());
  CHECK(*loaded == std::set<std::string>{"02", "04"});
  CHECK(idx->IndexFilesOf(doomed.pack_id)->empty());
  CHECK(*idx->IndexFilesOf(kept.pack_id) == std::vector<std::string>{"04"});
  // a moved to its copy, which is no second copy any more; b is gone.
  CHECK(CopiesOf(*idx, a) == std::vector<std::pair<ObjectId, uint64_t>>{{copy.pack_id, 0}});
  CHECK(idx->Lookup(a)->value().entry.stored_length == 11);
  CHECK_FALSE(idx->Lookup(b)->has_value());
  CHECK(idx->Lookup(c)->value().pack_id == kept.pack_id);
  size_t dups = 0;
  REQUIRE(idx->ForEachDuplicate([&](const BlobLocation&) { dups++; }).ok());
  CHECK(dups == 0);
  // The same table a rebuild from the remaining files gives.
  std::vector<std::pair<ObjectId, ObjectId>> in_place, rebuilt;
  REQUIRE(idx->ForEachBlob([&](const ObjectId& id, const BlobLocation& l) { in_place.emplace_back(id, l.pack_id); }).ok());
  REQUIRE(idx->ReplaceBlobs({{"02", {copy}}, {"04", {kept}}}).ok());
  REQUIRE(idx->ForEachBlob([&](const ObjectId& id, const BlobLocation& l) { rebuilt.emplace_back(id, l.pack_id); }).ok());
  CHECK(in_place == rebuilt);
}

TEST_CASE("ReplaceIndexFiles keeps a dropped pack that another index file still names", "[index]") {
  testing::TempDir t;
  auto idx = OpenIndex(t / "index.lmdb");
  ObjectId a = IdWith({1});
  PackRecord p = Pack("p", {Entry(a, 0, 10, 10)});
  REQUIRE(idx->AddPacks("01", {p}).ok());
  REQUIRE(idx->AddPacks("02", {p}).ok());
  REQUIRE(idx->ReplaceIndexFiles({"01"}, {}, {p}).ok());
  CHECK(*idx->IndexFilesOf(p.pack_id) == std::vector<std::string>{"02"});
  CHECK(idx->Lookup(a)->value().pack_id == p.pack_id);
}

TEST_CASE("lookups stay right while the mapped pages are released under them", "[index]") {
  testing::TempDir t;
  auto idx = OpenIndex(t / "index.lmdb");
  // Enough entries for many pages, looked up far more often than the
  // 1,024 lookups between releases, from two threads at once.
  std::vector<std::pair<std::string, FileCacheEntry>> files;
  for (uint64_t i = 0; i < 20000; i++) {
    files.emplace_back(FileCacheKey(FileCacheFolderKey("/d" + std::to_string(i % 97)), "f" + std::to_string(i)),
                       CacheEntry(i, i * 7, {Sha256("c" + std::to_string(i))}));
  }
  REQUIRE(idx->PutFiles(files).ok());
  std::atomic<int> wrong{0};
  auto reader = [&](uint64_t seed) {
    auto s = idx->BeginRead();
    if (!s.ok()) {
      wrong++;
      return;
    }
    for (uint64_t n = 0; n < 30000; n++) {
      uint64_t i = (n * 7919 + seed) % files.size();
      auto g = (*s)->GetFile(files[i].first);
      if (!g.ok() || !g->has_value() || (*g)->ino != i || (*g)->size != i * 7 ||
          (*g)->chunks != files[i].second.chunks) {
        wrong++;
      }
      if (n % 5000 == 0) idx->ReleaseMappedPages();
    }
  };
  std::thread a(reader, 1), b(reader, 2);
  a.join();
  b.join();
  CHECK(wrong == 0);
  // Folder keys: the same folder and name give the same key, another
  // folder or name another one, and any path length fits LMDB's key limit.
  CHECK(FileCacheKey(FileCacheFolderKey("/a"), "x") == FileCacheKey(FileCacheFolderKey("/a"), "x"));
  CHECK(FileCacheKey(FileCacheFolderKey("/a"), "x") != FileCacheKey(FileCacheFolderKey("/b"), "x"));
  CHECK(FileCacheKey(FileCacheFolderKey("/a"), "x") != FileCacheKey(FileCacheFolderKey("/a"), "y"));
  CHECK(FileCacheKey(FileCacheFolderKey(std::string(4000, 'p')), std::string(255, 'n')).size() == 16 + 255);
}

}  // namespace
}  // namespace cairn::index
