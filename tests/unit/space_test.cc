// SPDX-License-Identifier: MIT
//
// Space accounting (repo/space.h): every answer is checked against sizes
// the test computes itself, by walking the snapshots' trees from the packs
// and looking the blobs up in the blob index.

#include "repo/space.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "repo/backup.h"
#include "repo/blob_writer.h"
#include "test_util.h"

namespace cairn::repo {
namespace {

namespace fs = std::filesystem;
using testing::RandomData;

struct Fixture {
  testing::TempDir t;
  std::unique_ptr<Repository> r;
  Fixture() {
    REQUIRE(Repository::Init(t / "repo", objstore::NewRepoConfig()).ok());
    Reopen();
    fs::create_directories(t / "src");
  }
  void Reopen() {
    r.reset();
    auto opened = Repository::Open(t / "repo");
    REQUIRE(opened.ok());
    r = std::move(opened).value();
  }
  void Write(const std::string& file, const std::string& content) {
    std::ofstream(t / ("src/" + file), std::ios::binary) << content;
  }
  ObjectId Snap() {
    BackupOptions o;
    o.paths = {t / "src"};
    o.threads = 2;
    auto res = Backup(r.get(), o);
    REQUIRE(res.ok());
    REQUIRE(res->snapshot_id);
    return *res->snapshot_id;
  }
  ObjectId Tree(const ObjectId& snap) {
    auto s = r->ReadSnapshot(snap);
    REQUIRE(s.ok());
    return s->tree;
  }
};

// The test's own view of the graph, from the packs: the distinct blobs a
// snapshot reaches, and the references of each counted tree.
std::set<ObjectId> Reach(const Repository& r, const ObjectId& root) {
  std::set<ObjectId> out{root};
  std::vector<ObjectId> todo{root};
  while (!todo.empty()) {
    ObjectId id = todo.back();
    todo.pop_back();
    auto tree = r.ReadTree(id);
    REQUIRE(tree.ok());
    for (const auto& e : tree->entries) {
      if (e.type == objstore::EntryType::kDir && out.insert(e.subtree).second) todo.push_back(e.subtree);
      if (e.type == objstore::EntryType::kFile || e.type == objstore::EntryType::kHardlink) {
        out.insert(e.chunks.begin(), e.chunks.end());
      }
    }
  }
  return out;
}

uint64_t Bytes(const Repository& r, const std::set<ObjectId>& blobs) {
  uint64_t n = 0;
  for (const auto& id : blobs) {
    auto loc = r.index()->Lookup(id);
    REQUIRE(loc.ok());
    REQUIRE(loc->has_value());
    n += (*loc)->entry.stored_length;
  }
  return n;
}

// Blobs of `gone` that none of `kept` reaches.
std::set<ObjectId> Exclusive(const Repository& r, const std::vector<ObjectId>& gone_trees,
                             const std::vector<ObjectId>& kept_trees) {
  std::set<ObjectId> kept, out;
  for (const auto& t : kept_trees) {
    auto s = Reach(r, t);
    kept.insert(s.begin(), s.end());
  }
  for (const auto& t : gone_trees) {
    for (const auto& id : Reach(r, t)) {
      if (kept.count(id) == 0) out.insert(id);
    }
  }
  return out;
}

// The expected count of every blob for `roots`: one per root naming it,
// plus one per occurrence in every reachable tree.
std::map<ObjectId, uint64_t> ExpectedCounts(const Repository& r, const std::map<ObjectId, ObjectId>& roots) {
  std::map<ObjectId, uint64_t> counts;
  std::set<ObjectId> trees;
  for (const auto& [snap, tree] : roots) {
    counts[tree]++;
    for (const auto& id : Reach(r, tree)) {
      auto loc = r.index()->Lookup(id);
      REQUIRE(loc.ok());
      if ((*loc)->entry.type == objstore::BlobType::kTree) trees.insert(id);
    }
  }
  for (const auto& t : trees) {
    auto tree = r.ReadTree(t);
    REQUIRE(tree.ok());
    for (const auto& e : tree->entries) {
      if (e.type == objstore::EntryType::kDir) counts[e.subtree]++;
      if (e.type == objstore::EntryType::kFile || e.type == objstore::EntryType::kHardlink) {
        for (const auto& c : e.chunks) counts[c]++;
      }
    }
  }
  return counts;
}

// Everything the reference tables hold, for comparing two states.
struct Tables {
  std::map<ObjectId, uint64_t> counts;
  std::map<ObjectId, std::pair<std::vector<ObjectId>, std::vector<ObjectId>>> children;
  std::map<ObjectId, ObjectId> roots;
  bool operator==(const Tables& o) const {
    return counts == o.counts && children == o.children && roots == o.roots;
  }
};

Tables Dump(const Repository& r) {
  Tables out;
  auto rd = r.index()->BeginRefRead();
  REQUIRE(rd.ok());
  std::vector<ObjectId> trees;
  REQUIRE((*rd)->ForEachNode([&](const ObjectId& id, const index::RefNode& n) {
    out.counts[id] = n.count;
    if (n.type == objstore::BlobType::kTree) trees.push_back(id);
  }).ok());
  for (const auto& t : trees) {
    auto c = (*rd)->Children(t);
    REQUIRE(c.ok());
    REQUIRE(c->has_value());
    out.children[t] = {(*c)->trees, (*c)->chunks};
  }
  auto roots = r.index()->CountedRoots();
  REQUIRE(roots.ok());
  out.roots = *roots;
  return out;
}

uint64_t ExclusiveBytes(const Repository& r, const std::vector<ObjectId>& snaps) {
  auto e = ExclusiveSpace(r, snaps);
  REQUIRE(e.ok());
  return e->bytes;
}

uint64_t ReferencedBytes(const Repository& r, const ObjectId& snap) {
  auto s = SnapshotSpace(r, snap);
  REQUIRE(s.ok());
  return s->bytes;
}

TEST_CASE("space: exclusive, shared and referenced bytes match the trees", "[space]") {
  Fixture f;
  f.Write("x", RandomData(300000, "x"));
  f.Write("y", RandomData(200000, "y"));
  ObjectId a = f.Snap();
  f.Write("z", RandomData(250000, "z"));
  ObjectId b = f.Snap();
  f.Write("y", RandomData(220000, "y2"));
  ObjectId c = f.Snap();
  ObjectId c2 = f.Snap();  // nothing changed: the same root tree as c
  REQUIRE(f.Tree(c2) == f.Tree(c));
  // One file of zeros: the chunker cuts it into many equal chunks, one blob
  // listed many times in one file.
  f.Write("zeros", std::string(1500000, '\0'));
  ObjectId d = f.Snap();

  const Repository& r = *f.r;
  auto roots = DataRoots(r);
  REQUIRE(roots.ok());
  REQUIRE(roots->size() == 5);
  REQUIRE(SyncSpace(r, *roots).ok());

  // The counts themselves, blob by blob.
  Tables t = Dump(r);
  CHECK(t.counts == ExpectedCounts(r, *roots));
  CHECK(t.roots == *roots);
  auto zero_tree = r.ReadTree(f.Tree(d));
  REQUIRE(zero_tree.ok());
  const TreeEntry* zeros = nullptr;
  for (const auto& e : zero_tree->entries) {
    if (e.name == "zeros") zeros = &e;
  }
  REQUIRE(zeros != nullptr);
  REQUIRE(zeros->chunks.size() > 2);
  REQUIRE(zeros->chunks[0] == zeros->chunks[1]);
  CHECK(t.counts[zeros->chunks[0]] >= 2);

  std::map<ObjectId, ObjectId> tree_of = *roots;
  std::vector<ObjectId> all{a, b, c, c2, d};
  auto others = [&](std::vector<ObjectId> gone) {
    std::vector<ObjectId> g, k;
    for (const auto& s : all) {
      (std::find(gone.begin(), gone.end(), s) != gone.end() ? g : k).push_back(tree_of[s]);
    }
    return Exclusive(r, g, k);
  };
  for (const auto& s : all) {
    uint64_t referenced = Bytes(r, Reach(r, tree_of[s]));
    uint64_t exclusive = Bytes(r, others({s}));
    CHECK(ReferencedBytes(r, s) == referenced);
    CHECK(ExclusiveBytes(r, {s}) == exclusive);
    auto space = SnapshotSpace(r, s);
    REQUIRE(space.ok());
    CHECK(space->blobs == Reach(r, tree_of[s]).size());
    CHECK(space->blobs == space->trees + space->chunks);
  }
  // c and c2 have one root tree: each alone frees nothing, together they
  // free that tree and c's new y.
  CHECK(ExclusiveBytes(r, {c}) == 0);
  CHECK(ExclusiveBytes(r, {c2}) == 0);
  uint64_t cc = ExclusiveBytes(r, {c, c2});
  CHECK(cc == Bytes(r, others({c, c2})));
  CHECK(cc > 0);
  CHECK(ExclusiveBytes(r, {c, c, c2}) == cc);  // a snapshot named twice counts once
  CHECK(ExclusiveBytes(r, {a, b}) == Bytes(r, others({a, b})));
  CHECK(ExclusiveBytes(r, {d}) > 0);
  CHECK(ExclusiveBytes(r, {d}) == Bytes(r, others({d})));
  // Removing everything frees everything the index has.
  uint64_t everything = 0;
  REQUIRE(r.index()->ForEachBlob([&](const ObjectId&, const index::BlobLocation& l) {
    everything += l.entry.stored_length;
  }).ok());
  CHECK(ExclusiveBytes(r, all) == everything);
  auto total = ReferencedSpace(r);
  REQUIRE(total.ok());
  CHECK(total->bytes == everything);

  // Nothing is unreferenced while every snapshot is counted.
  size_t unref = 0;
  REQUIRE(ForEachUnreferenced(r, [&](const ObjectId&, const index::BlobLocation&) { unref++; }).ok());
  CHECK(unref == 0);

  SECTION("uncounting then counting again gives the same tables") {
    std::map<ObjectId, ObjectId> fewer = *roots;
    fewer.erase(b);
    fewer.erase(d);
    REQUIRE(SyncSpace(r, fewer).ok());
    Tables less = Dump(r);
    CHECK(less.counts == ExpectedCounts(r, fewer));
    CHECK(less.roots == fewer);
    CHECK(!(less == t));
    // What d held alone is now unreferenced, and exactly that.
    std::set<ObjectId> listed;
    REQUIRE(ForEachUnreferenced(r, [&](const ObjectId& id, const index::BlobLocation&) {
      listed.insert(id);
    }).ok());
    std::vector<ObjectId> kept_trees;
    for (const auto& [s, tr] : fewer) kept_trees.push_back(tr);
    CHECK(listed == Exclusive(r, {tree_of[b], tree_of[d]}, kept_trees));
    auto ref = IsReferenced(r, zeros->chunks[0]);
    REQUIRE(ref.ok());
    CHECK(!*ref);
    ref = IsReferenced(r, tree_of[a]);
    REQUIRE(ref.ok());
    CHECK(*ref);
    CHECK(ExclusiveSpace(r, {d}).status().IsNotFound());
    CHECK(SnapshotSpace(r, d).status().IsNotFound());

    REQUIRE(SyncSpace(r, *roots).ok());
    CHECK(Dump(r) == t);
    // Syncing what is already counted changes nothing.
    REQUIRE(SyncSpace(r, *roots).ok());
    CHECK(Dump(r) == t);
  }

  SECTION("uncounting every root empties the tables") {
    REQUIRE(SyncSpace(r, {}).ok());
    Tables empty = Dump(r);
    CHECK(empty.counts.empty());
    CHECK(empty.children.empty());
    CHECK(empty.roots.empty());
    size_t n = 0;
    REQUIRE(ForEachUnreferenced(r, [&](const ObjectId&, const index::BlobLocation&) { n++; }).ok());
    CHECK(n == t.counts.size());
  }

  SECTION("a new local index rebuilds the same answers") {
    std::vector<uint64_t> before;
    for (const auto& s : all) before.push_back(ExclusiveBytes(r, {s}));
    std::string cache = f.r->cache_dir() + "/index.mdb";
    f.r.reset();
    REQUIRE(::unlink(cache.c_str()) == 0);
    ::unlink((cache + "-lock").c_str());
    f.Reopen();
    const Repository& r2 = *f.r;
    CHECK(Dump(r2).counts.empty());
    CHECK(ExclusiveSpace(r2, {a}).status().IsNotFound());
    auto roots2 = DataRoots(r2);
    REQUIRE(roots2.ok());
    REQUIRE(SyncSpace(r2, *roots2).ok());
    CHECK(Dump(r2) == t);
    for (size_t i = 0; i < all.size(); i++) CHECK(ExclusiveBytes(r2, {all[i]}) == before[i]);
  }
}

TEST_CASE("space: a blob the index does not know is an error, not 0 bytes", "[space]") {
  Fixture f;
  f.Write("x", RandomData(100000, "x"));
  ObjectId a = f.Snap();
  auto roots = DataRoots(*f.r);
  REQUIRE(roots.ok());
  REQUIRE(SyncSpace(*f.r, *roots).ok());
  // The blob table loses everything (as if the index files were gone); the
  // counts stay, and sizing them must fail naming a blob.
  REQUIRE(f.r->index()->ClearBlobs().ok());
  auto e = ExclusiveSpace(*f.r, {a});
  REQUIRE(!e.ok());
  CHECK(e.status().code() == Code::kCorruption);
  CHECK(e.status().message().find("not in the repository's index") != std::string::npos);
  CHECK(!SnapshotSpace(*f.r, a).ok());
}

TEST_CASE("space: 2000 nested folders", "[space]") {
  Fixture f;
  constexpr int kDepth = 2000;
  ObjectId top;
  std::set<ObjectId> blobs;
  {
    BlobWriter w(f.r.get(), 1);
    std::string content = "the leaf file";
    ObjectId chunk = f.r->codec().BlobId(content);
    REQUIRE(w.Add(BlobType::kData, chunk, content).ok());
    blobs.insert(chunk);
    objstore::Tree leaf;
    TreeEntry file;
    file.name = "leaf";
    file.type = objstore::EntryType::kFile;
    file.mode = 0644;
    file.size = content.size();
    file.chunks = {chunk, chunk};  // listed twice: counted twice, stored once
    leaf.entries.push_back(file);
    std::string enc = objstore::EncodeTree(leaf);
    top = f.r->codec().BlobId(enc);
    REQUIRE(w.Add(BlobType::kTree, top, enc).ok());
    blobs.insert(top);
    for (int i = 0; i < kDepth; i++) {
      objstore::Tree t;
      TreeEntry dir;
      dir.name = "d" + std::to_string(i % 2);  // alternating names: every level a new tree
      dir.type = objstore::EntryType::kDir;
      dir.mode = 0755;
      dir.subtree = top;
      t.entries.push_back(dir);
      enc = objstore::EncodeTree(t);
      top = f.r->codec().BlobId(enc);
      REQUIRE(w.Add(BlobType::kTree, top, enc).ok());
      blobs.insert(top);
    }
    REQUIRE(w.Flush().ok());
  }
  REQUIRE(blobs.size() == kDepth + 2);
  Snapshot s;
  s.tree = top;
  s.time_ns = 1;
  s.branch = "main";
  auto snap = f.r->SaveSnapshot(s);
  REQUIRE(snap.ok());
  auto roots = DataRoots(*f.r);
  REQUIRE(roots.ok());
  REQUIRE(SyncSpace(*f.r, *roots).ok());
  auto space = SnapshotSpace(*f.r, *snap);
  REQUIRE(space.ok());
  CHECK(space->blobs == blobs.size());
  CHECK(space->trees == kDepth + 1);
  CHECK(space->bytes == Bytes(*f.r, blobs));
  auto ex = ExclusiveSpace(*f.r, {*snap});
  REQUIRE(ex.ok());
  CHECK(ex->bytes == space->bytes);
  CHECK(Dump(*f.r).counts.size() == blobs.size());
  REQUIRE(SyncSpace(*f.r, {}).ok());
  CHECK(Dump(*f.r).counts.empty());
}

}  // namespace
}  // namespace cairn::repo
