// SPDX-License-Identifier: MIT
//
// diff/tree_diff: DiffTrees on hand-made trees held by an in-memory reader,
// DetectRenames, PathSelected.

#include "diff/tree_diff.h"

#include <catch2/catch.hpp>

#include "test_util.h"
#include "tree_builder.h"

namespace cairn::diff {
namespace {

using objstore::EntryType;
using objstore::Tree;
using objstore::TreeEntry;
using testing::DirEntry;
using testing::FakeTreeReader;
using testing::FileEntry;
using testing::MakeTree;
using testing::SymlinkEntry;

std::vector<Change> Diff(const FakeTreeReader& r, const ObjectId& a, const ObjectId& b,
                         const DiffOptions& opts = {}, DiffStats* stats = nullptr) {
  std::vector<Change> out;
  Status st = DiffTrees(r, a, b, opts, [&](const Change& c) { out.push_back(c); }, stats);
  INFO(st.message());
  REQUIRE(st.ok());
  return out;
}

// "M path", "R old -> new": one line per change, in the order reported.
std::vector<std::string> Summary(const std::vector<Change>& changes) {
  std::vector<std::string> out;
  for (const auto& c : changes) {
    std::string s(1, ChangeLetter(c.kind));
    s += " ";
    if (c.kind == ChangeKind::kRenamed) s += c.old_path + " -> ";
    s += c.path;
    out.push_back(s);
  }
  return out;
}

using Lines = std::vector<std::string>;

TEST_CASE("ChangeLetter and ChangeName follow git's --name-status", "[diff][tree_diff]") {
  CHECK(ChangeLetter(ChangeKind::kAdded) == 'A');
  CHECK(ChangeLetter(ChangeKind::kDeleted) == 'D');
  CHECK(ChangeLetter(ChangeKind::kModified) == 'M');
  CHECK(ChangeLetter(ChangeKind::kTypeChanged) == 'T');
  CHECK(ChangeLetter(ChangeKind::kRenamed) == 'R');
  CHECK(std::string(ChangeName(ChangeKind::kAdded)) == "added");
  CHECK(std::string(ChangeName(ChangeKind::kDeleted)) == "deleted");
  CHECK(std::string(ChangeName(ChangeKind::kModified)) == "modified");
  CHECK(std::string(ChangeName(ChangeKind::kTypeChanged)) == "type-changed");
  CHECK(std::string(ChangeName(ChangeKind::kRenamed)) == "renamed");
}

TEST_CASE("added, deleted and modified files carry the right entries", "[diff][tree_diff]") {
  FakeTreeReader r;
  ObjectId a = r.Put(MakeTree({FileEntry("keep", "k"), FileEntry("gone", "g"), FileEntry("edit", "v1")}));
  ObjectId b = r.Put(MakeTree({FileEntry("keep", "k"), FileEntry("new", "n"), FileEntry("edit", "v2")}));
  auto changes = Diff(r, a, b);
  REQUIRE(Summary(changes) == Lines{"M edit", "D gone", "A new"});

  const Change& m = changes[0];
  REQUIRE(m.old_entry.has_value());
  REQUIRE(m.new_entry.has_value());
  CHECK(m.old_entry->chunks == std::vector<ObjectId>{Sha256("v1")});
  CHECK(m.new_entry->chunks == std::vector<ObjectId>{Sha256("v2")});
  CHECK(m.old_path.empty());

  const Change& d = changes[1];
  REQUIRE(d.old_entry.has_value());
  CHECK_FALSE(d.new_entry.has_value());
  CHECK(d.old_entry->name == "gone");
  CHECK(d.old_entry->chunks == std::vector<ObjectId>{Sha256("g")});

  const Change& n = changes[2];
  CHECK_FALSE(n.old_entry.has_value());
  REQUIRE(n.new_entry.has_value());
  CHECK(n.new_entry->chunks == std::vector<ObjectId>{Sha256("n")});

  // The reverse direction swaps added and deleted.
  CHECK(Summary(Diff(r, b, a)) == Lines{"M edit", "A gone", "D new"});
}

TEST_CASE("equal trees and equal ids report nothing", "[diff][tree_diff]") {
  FakeTreeReader r;
  ObjectId sub = r.Put(MakeTree({FileEntry("f", "x")}));
  ObjectId a = r.Put(MakeTree({FileEntry("a", "1"), DirEntry("d", sub), SymlinkEntry("l", "t")}));
  DiffStats stats;
  CHECK(Diff(r, a, a, {}, &stats).empty());
  CHECK(stats.trees_read == 0);
  CHECK(r.reads().empty());

  ObjectId empty = r.Put(MakeTree({}));
  CHECK(Diff(r, empty, empty).empty());
}

TEST_CASE("the same content in other chunks is a modification; same chunks are not", "[diff][tree_diff]") {
  FakeTreeReader r;
  ObjectId a = r.Put(MakeTree({FileEntry("f", "ab|cd"), FileEntry("g", "same|chunks")}));
  ObjectId b = r.Put(MakeTree({FileEntry("f", "abcd"), FileEntry("g", "same|chunks")}));
  CHECK(Summary(Diff(r, a, b)) == Lines{"M f"});
}

TEST_CASE("changes in nested folders are reported by full path; folders themselves never", "[diff][tree_diff]") {
  FakeTreeReader r;
  ObjectId c1 = r.Put(MakeTree({FileEntry("deep.txt", "v1"), FileEntry("same", "s")}));
  ObjectId c2 = r.Put(MakeTree({FileEntry("deep.txt", "v2"), FileEntry("same", "s")}));
  ObjectId b1 = r.Put(MakeTree({DirEntry("c", c1)}));
  ObjectId b2 = r.Put(MakeTree({DirEntry("c", c2)}));
  ObjectId old_dir = r.Put(MakeTree({FileEntry("x", "x"), DirEntry("y", r.Put(MakeTree({FileEntry("z", "z")})))}));
  ObjectId new_dir = r.Put(MakeTree({FileEntry("p", "p"), FileEntry("q", "q")}));
  ObjectId empty = r.Put(MakeTree({}));
  ObjectId a = r.Put(MakeTree({DirEntry("a", b1), DirEntry("old", old_dir), DirEntry("was-empty", empty)}));
  ObjectId b = r.Put(MakeTree({DirEntry("a", b2), DirEntry("fresh", new_dir), DirEntry("now-empty", empty)}));
  auto changes = Diff(r, a, b);
  // A removed folder lists every file under it, an added one too; empty
  // folders list nothing.
  CHECK(Summary(changes) == Lines{"M a/c/deep.txt", "A fresh/p", "A fresh/q", "D old/x", "D old/y/z"});
  REQUIRE(changes.size() == 5);
  CHECK(changes[0].old_entry->name == "deep.txt");  // entries keep their own name, path has the folders
  CHECK(changes[4].old_entry->name == "z");
}

TEST_CASE("type changes: file <-> symlink is T, file <-> folder is D and A", "[diff][tree_diff]") {
  FakeTreeReader r;
  ObjectId inner = r.Put(MakeTree({FileEntry("i1", "1"), FileEntry("i2", "2")}));
  TreeEntry hard = FileEntry("h", "same");
  hard.type = EntryType::kHardlink;
  hard.link_target = "elsewhere";
  TreeEntry fifo;
  fifo.name = "p";
  fifo.type = EntryType::kFifo;
  ObjectId a = r.Put(MakeTree({FileEntry("f2l", "x"), SymlinkEntry("l2f", "t"), FileEntry("f2d", "x"),
                               DirEntry("d2f", inner), FileEntry("h", "same"), FileEntry("p", "")}));
  ObjectId b = r.Put(MakeTree({SymlinkEntry("f2l", "x"), FileEntry("l2f", "t"), DirEntry("f2d", inner),
                               FileEntry("d2f", "x"), hard, fifo}));
  auto changes = Diff(r, a, b);
  // A file that became a hard link to a file of the same content is not a change.
  CHECK(Summary(changes) == Lines{"D d2f/i1", "D d2f/i2", "A d2f", "D f2d", "A f2d/i1", "A f2d/i2", "T f2l",
                                  "T l2f", "T p"});
  REQUIRE(changes.size() == 9);
  CHECK(changes[6].old_entry->type == EntryType::kFile);
  CHECK(changes[6].new_entry->type == EntryType::kSymlink);
}

TEST_CASE("symlink targets and device numbers are content", "[diff][tree_diff]") {
  FakeTreeReader r;
  TreeEntry dev1;
  dev1.name = "tty";
  dev1.type = EntryType::kCharDevice;
  dev1.rdev = 0x0400;
  TreeEntry dev2 = dev1;
  dev2.rdev = 0x0401;
  ObjectId a = r.Put(MakeTree({SymlinkEntry("l", "one"), SymlinkEntry("m", "same"), dev1}));
  ObjectId b = r.Put(MakeTree({SymlinkEntry("l", "two"), SymlinkEntry("m", "same"), dev2}));
  CHECK(Summary(Diff(r, a, b)) == Lines{"M l", "M tty"});
}

TEST_CASE("metadata-only changes are reported only with opts.metadata", "[diff][tree_diff]") {
  FakeTreeReader r;
  TreeEntry mode = FileEntry("mode", "x"), mtime = FileEntry("mtime", "x"), owner = FileEntry("owner", "x"),
            group = FileEntry("group", "x"), link = SymlinkEntry("link", "t");
  ObjectId a = r.Put(MakeTree({mode, mtime, owner, group, link, FileEntry("same", "s")}));
  mode.mode = 0600;
  mtime.mtime_ns += 1;
  owner.uid = 0;
  group.gid = 0;
  link.mtime_ns = 5;
  ObjectId b = r.Put(MakeTree({mode, mtime, owner, group, link, FileEntry("same", "s")}));

  CHECK(Diff(r, a, b).empty());
  DiffOptions meta;
  meta.metadata = true;
  auto changes = Diff(r, a, b, meta);
  CHECK(Summary(changes) == Lines{"M group", "M link", "M mode", "M mtime", "M owner"});
  REQUIRE(changes.size() == 5);
  CHECK(changes[2].old_entry->mode == 0644);
  CHECK(changes[2].new_entry->mode == 0600);

  // Folders are never listed, even when only their metadata changed.
  TreeEntry d1 = DirEntry("d", r.Put(MakeTree({FileEntry("f", "f")})));
  TreeEntry d2 = d1;
  d2.mode = 0700;
  CHECK(Diff(r, r.Put(MakeTree({d1})), r.Put(MakeTree({d2})), meta).empty());
}

TEST_CASE("the paths filter selects paths at or below each filter", "[diff][tree_diff]") {
  FakeTreeReader r;
  auto dir = [&](const std::string& v) {
    return r.Put(MakeTree({FileEntry("f", v), DirEntry("sub", r.Put(MakeTree({FileEntry("g", v)})))}));
  };
  ObjectId a = r.Put(MakeTree({DirEntry("a", dir("1")), DirEntry("ab", dir("1")), FileEntry("top", "1"),
                               DirEntry("z", dir("1"))}));
  ObjectId b = r.Put(MakeTree({DirEntry("a", dir("2")), DirEntry("ab", dir("2")), FileEntry("top", "2"),
                               DirEntry("z", dir("2"))}));
  REQUIRE(Summary(Diff(r, a, b)) ==
          Lines{"M a/f", "M a/sub/g", "M ab/f", "M ab/sub/g", "M top", "M z/f", "M z/sub/g"});

  auto with = [&](std::vector<std::string> paths) {
    DiffOptions o;
    o.paths = std::move(paths);
    return Summary(Diff(r, a, b, o));
  };
  CHECK(with({"a"}) == Lines{"M a/f", "M a/sub/g"});  // not "ab/...": a filter is a whole component
  CHECK(with({"a/sub"}) == Lines{"M a/sub/g"});
  CHECK(with({"a/sub/g"}) == Lines{"M a/sub/g"});
  CHECK(with({"top"}) == Lines{"M top"});
  CHECK(with({"top", "z/sub"}) == Lines{"M top", "M z/sub/g"});
  CHECK(with({"missing"}).empty());
  CHECK(with({"a/f/below-a-file"}).empty());
  CHECK(with({""}).size() == 7);  // an empty filter selects everything

  // Added and deleted folders are filtered inside too.
  ObjectId c = r.Put(MakeTree({DirEntry("new", dir("3"))}));
  ObjectId empty = r.Put(MakeTree({}));
  DiffOptions o;
  o.paths = {"new/sub"};
  CHECK(Summary(Diff(r, empty, c, o)) == Lines{"A new/sub/g"});
  CHECK(Summary(Diff(r, c, empty, o)) == Lines{"D new/sub/g"});
}

TEST_CASE("subtrees outside the paths filter are not read", "[diff][tree_diff]") {
  FakeTreeReader r;
  ObjectId x1 = r.Put(MakeTree({FileEntry("f", "1")})), x2 = r.Put(MakeTree({FileEntry("f", "2")}));
  ObjectId y1 = r.Put(MakeTree({FileEntry("f", "y1")})), y2 = r.Put(MakeTree({FileEntry("f", "y2")}));
  ObjectId a = r.Put(MakeTree({DirEntry("x", x1), DirEntry("y", y1)}));
  ObjectId b = r.Put(MakeTree({DirEntry("x", x2), DirEntry("y", y2)}));
  DiffOptions o;
  o.paths = {"x"};
  DiffStats stats;
  CHECK(Summary(Diff(r, a, b, o, &stats)) == Lines{"M x/f"});
  CHECK(stats.trees_read == 4);  // the two roots and the two x's
  CHECK(r.ReadCount(y1) == 0);
  CHECK(r.ReadCount(y2) == 0);
  CHECK(r.ReadCount(x1) == 1);
}

TEST_CASE("subtrees with equal ids are skipped without being read", "[diff][tree_diff]") {
  FakeTreeReader r;
  // A wide tree: 20 folders of 3 levels each; one file changes deep in one.
  std::vector<TreeEntry> ea, eb;
  std::vector<ObjectId> unchanged;
  for (int i = 0; i < 20; i++) {
    std::string n = "d" + std::to_string(i);
    ObjectId leaf = r.Put(MakeTree({FileEntry("file", n)}));
    ObjectId mid = r.Put(MakeTree({DirEntry("leaf", leaf)}));
    ea.push_back(DirEntry(n, mid));
    if (i == 7) {
      ObjectId leaf2 = r.Put(MakeTree({FileEntry("file", "changed")}));
      eb.push_back(DirEntry(n, r.Put(MakeTree({DirEntry("leaf", leaf2)}))));
    } else {
      eb.push_back(DirEntry(n, mid));
      unchanged.push_back(mid);
      unchanged.push_back(leaf);
    }
  }
  ObjectId a = r.Put(MakeTree(ea)), b = r.Put(MakeTree(eb));
  r.ClearReads();
  DiffStats stats;
  CHECK(Summary(Diff(r, a, b, {}, &stats)) == Lines{"M d7/leaf/file"});
  CHECK(stats.trees_read == 6);  // 2 roots, 2 d7's, 2 leaves: only the changed path
  CHECK(r.reads().size() == 6);
  for (const auto& id : unchanged) CHECK(r.ReadCount(id) == 0);
}

TEST_CASE("changes are reported in tree order, depth first", "[diff][tree_diff]") {
  FakeTreeReader r;
  ObjectId empty = r.Put(MakeTree({}));
  ObjectId sub = r.Put(MakeTree({FileEntry("x", "x"), FileEntry("b", "b")}));
  ObjectId b = r.Put(MakeTree({FileEntry("c", "c"), DirEntry("a", sub), FileEntry("a.txt", "t"),
                               FileEntry("B", "B"), FileEntry("\xc3\xa9", "e"), FileEntry("a-", "m")}));
  // Entries are sorted bytewise by name and a folder's files follow its name
  // at once, so "a/..." comes before "a-" and "a.txt" (unlike a sort of the
  // whole path strings, and unlike git, which sorts a folder as "a/").
  CHECK(Summary(Diff(r, empty, b)) == Lines{"A B", "A a/b", "A a/x", "A a-", "A a.txt", "A c", "A \xc3\xa9"});
}

TEST_CASE("errors of the reader are returned", "[diff][tree_diff]") {
  FakeTreeReader r;
  ObjectId missing = Sha256("not stored");
  ObjectId a = r.Put(MakeTree({DirEntry("d", missing)}));
  ObjectId b = r.Put(MakeTree({DirEntry("d", r.Put(MakeTree({FileEntry("f", "f")})))}));
  std::vector<Change> got;
  Status st = DiffTrees(r, a, b, {}, [&](const Change& c) { got.push_back(c); }, nullptr);
  CHECK(st.code() == Code::kNotFound);
  st = DiffTrees(r, missing, b, {}, [&](const Change& c) { got.push_back(c); }, nullptr);
  CHECK(st.code() == Code::kNotFound);
  // A deleted folder that cannot be read is an error too, not an empty folder.
  ObjectId empty = r.Put(MakeTree({}));
  st = DiffTrees(r, a, empty, {}, [&](const Change& c) { got.push_back(c); }, nullptr);
  CHECK(st.code() == Code::kNotFound);
  CHECK(got.empty());
}

TEST_CASE("DetectRenames pairs a deleted and an added file of equal content", "[diff][renames]") {
  FakeTreeReader r;
  ObjectId d1 = r.Put(MakeTree({FileEntry("moved.txt", "content|of the file")}));
  ObjectId a = r.Put(MakeTree({FileEntry("a", "a"), DirEntry("old", d1), FileEntry("z", "z")}));
  TreeEntry moved = FileEntry("renamed.txt", "content|of the file", 0600);
  ObjectId b = r.Put(MakeTree({FileEntry("a", "a2"), DirEntry("new", r.Put(MakeTree({moved}))), FileEntry("z", "z")}));
  auto changes = Diff(r, a, b);
  REQUIRE(Summary(changes) == Lines{"M a", "A new/renamed.txt", "D old/moved.txt"});
  DetectRenames(&changes);
  REQUIRE(Summary(changes) == Lines{"M a", "R old/moved.txt -> new/renamed.txt"});
  const Change& rn = changes[1];
  CHECK(rn.kind == ChangeKind::kRenamed);
  CHECK(rn.old_path == "old/moved.txt");
  CHECK(rn.path == "new/renamed.txt");
  REQUIRE(rn.old_entry.has_value());
  REQUIRE(rn.new_entry.has_value());
  CHECK(rn.old_entry->name == "moved.txt");
  CHECK(rn.new_entry->name == "renamed.txt");
  CHECK(rn.new_entry->mode == 0600);  // a rename may change metadata too
}

TEST_CASE("DetectRenames does not pair files whose content differs", "[diff][renames]") {
  FakeTreeReader r;
  ObjectId a = r.Put(MakeTree({FileEntry("old", "content")}));
  ObjectId b = r.Put(MakeTree({FileEntry("new", "content!")}));
  auto changes = Diff(r, a, b);
  DetectRenames(&changes);
  CHECK(Summary(changes) == Lines{"A new", "D old"});

  // Same bytes in other chunks is other content for the pairing.
  ObjectId c = r.Put(MakeTree({FileEntry("new", "con|tent")}));
  changes = Diff(r, a, c);
  DetectRenames(&changes);
  CHECK(Summary(changes) == Lines{"A new", "D old"});
}

TEST_CASE("DetectRenames leaves empty files, symlinks and type changes alone", "[diff][renames]") {
  FakeTreeReader r;
  ObjectId a = r.Put(MakeTree({FileEntry("empty1", ""), SymlinkEntry("l1", "t")}));
  ObjectId b = r.Put(MakeTree({FileEntry("empty2", ""), SymlinkEntry("l2", "t")}));
  auto changes = Diff(r, a, b);
  DetectRenames(&changes);
  CHECK(Summary(changes) == Lines{"D empty1", "A empty2", "D l1", "A l2"});
}

TEST_CASE("DetectRenames pairs each deleted file at most once, in path order", "[diff][renames]") {
  FakeTreeReader r;
  ObjectId a = r.Put(MakeTree({FileEntry("d1", "same"), FileEntry("d2", "same"), FileEntry("d3", "other")}));
  ObjectId b = r.Put(MakeTree({FileEntry("n1", "same"), FileEntry("n2", "same"), FileEntry("n3", "same")}));
  auto changes = Diff(r, a, b);
  REQUIRE(Summary(changes) == Lines{"D d1", "D d2", "D d3", "A n1", "A n2", "A n3"});
  DetectRenames(&changes);
  CHECK(Summary(changes) == Lines{"D d3", "R d1 -> n1", "R d2 -> n2", "A n3"});
}

TEST_CASE("DetectRenames pairs a hard link like a file", "[diff][renames]") {
  FakeTreeReader r;
  TreeEntry hard = FileEntry("link", "data");
  hard.type = EntryType::kHardlink;
  hard.link_target = "first";
  ObjectId a = r.Put(MakeTree({FileEntry("first", "data"), FileEntry("gone", "data")}));
  ObjectId b = r.Put(MakeTree({FileEntry("first", "data"), hard}));
  auto changes = Diff(r, a, b);
  DetectRenames(&changes);
  CHECK(Summary(changes) == Lines{"R gone -> link"});
}

TEST_CASE("PathSelected", "[diff][tree_diff]") {
  std::vector<std::string> f = {"a/b", "c"};
  CHECK(PathSelected("anything", {}, false));
  CHECK(PathSelected("a/b", f, false));
  CHECK(PathSelected("a/b/c/d", f, false));
  CHECK(PathSelected("c", f, false));
  CHECK(PathSelected("c/x", f, false));
  CHECK_FALSE(PathSelected("a", f, false));
  CHECK(PathSelected("a", f, true));  // an ancestor of a filter must be entered
  CHECK_FALSE(PathSelected("a/bc", f, true));
  CHECK_FALSE(PathSelected("cc", f, true));
  CHECK_FALSE(PathSelected("b", f, true));
  CHECK_FALSE(PathSelected("a/c", f, true));
  CHECK(PathSelected("x", {""}, false));
}

}  // namespace
}  // namespace cairn::diff
