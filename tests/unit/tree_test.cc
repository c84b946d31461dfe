// SPDX-License-Identifier: MIT

#include "objstore/tree.h"

#include <catch2/catch.hpp>

#include "objstore/codec.h"
#include "objstore/config.h"
#include "objstore/core/bytes.h"
#include "objstore/snapshot.h"

namespace cairn::objstore {
namespace {

Tree Sample() {
  Tree t;
  TreeEntry dir;
  dir.name = "dir";
  dir.type = EntryType::kDir;
  dir.mode = 0755;
  dir.subtree = Sha256("x");
  TreeEntry file;
  file.name = "file";
  file.type = EntryType::kFile;
  file.mode = 04644;
  file.uid = 1000;
  file.gid = 100;
  file.user = "alice";
  file.group = "users";
  file.mtime_ns = -1234567890123;  // before 1970
  file.size = 10;
  file.chunks = {Sha256("a"), Sha256("b")};
  TreeEntry link;
  link.name = "link";
  link.type = EntryType::kSymlink;
  link.link_target = "../../etc/passwd";
  TreeEntry hard;
  hard.name = "n\xff\xfe";  // not UTF-8
  hard.type = EntryType::kHardlink;
  hard.link_target = "file";
  hard.size = 10;
  hard.chunks = {Sha256("a"), Sha256("b")};
  TreeEntry dev;
  dev.name = "null";
  dev.type = EntryType::kCharDevice;
  dev.rdev = 0x103;
  TreeEntry fifo;
  fifo.name = "pipe";
  fifo.type = EntryType::kFifo;
  TreeEntry sub;
  sub.name = "submodule";
  sub.type = EntryType::kGitlink;
  sub.mode = 0755;
  sub.link_target = std::string(40, 'a');
  t.entries = {dir, file, link, hard, dev, fifo, sub};
  std::sort(t.entries.begin(), t.entries.end(), [](auto& a, auto& b) { return a.name < b.name; });
  return t;
}

TEST_CASE("trees round-trip every entry type exactly", "[objstore][tree]") {
  Tree t = Sample();
  std::string blob = EncodeTree(t);
  auto back = DecodeTree(blob, Sha256(blob));
  REQUIRE(back.ok());
  REQUIRE(back->entries.size() == t.entries.size());
  for (size_t i = 0; i < t.entries.size(); i++) {
    const auto& a = t.entries[i];
    const auto& b = back->entries[i];
    CHECK(a.name == b.name);
    CHECK(a.type == b.type);
    CHECK(a.mode == b.mode);
    CHECK(a.uid == b.uid);
    CHECK(a.gid == b.gid);
    CHECK(a.user == b.user);
    CHECK(a.group == b.group);
    CHECK(a.mtime_ns == b.mtime_ns);
    CHECK(a.size == b.size);
    CHECK(a.chunks == b.chunks);
    CHECK(a.subtree == b.subtree);
    CHECK(a.link_target == b.link_target);
    CHECK(a.rdev == b.rdev);
  }
  // Canonical: encoding the decoded tree gives the same bytes.
  CHECK(EncodeTree(*back) == blob);
}

TEST_CASE("tree decoding rejects names that could escape a restore", "[objstore][tree]") {
  for (std::string bad : {std::string(""), std::string("."), std::string(".."), std::string("a/b"),
                          std::string("/abs"), std::string("a\0b", 3)}) {
    Tree t;
    TreeEntry e;
    e.name = bad;
    e.type = EntryType::kFifo;
    t.entries = {e};
    std::string blob = EncodeTree(t);  // the encoder does not validate; a hostile writer would not either
    auto r = DecodeTree(blob, Sha256(blob));
    CAPTURE(bad);
    CHECK(r.status().code() == Code::kCorruption);
  }
}

TEST_CASE("a gitlink entry holds a git commit id in lowercase hex, nothing else", "[objstore][tree]") {
  for (const std::string& bad : {std::string(39, 'a'), std::string(41, 'a'), std::string(40, 'A'),
                                 std::string(39, 'a') + "g", std::string(), std::string(64, 'f') + "0"}) {
    Tree t;
    TreeEntry e;
    e.name = "m";
    e.type = EntryType::kGitlink;
    e.link_target = bad;
    t.entries = {e};
    std::string blob = EncodeTree(t);
    auto back = DecodeTree(blob, Sha256(blob));
    CHECK(back.status().code() == Code::kCorruption);
  }
  for (const std::string& good : {std::string(40, '0'), std::string(64, 'f')}) {
    CHECK(GitCommitHex(good));
  }
}

TEST_CASE("tree decoding rejects unsorted and duplicate entries", "[objstore][tree]") {
  Tree t;
  TreeEntry a, b;
  a.name = "b";
  a.type = EntryType::kFifo;
  b.name = "a";
  b.type = EntryType::kFifo;
  t.entries = {a, b};
  std::string blob = EncodeTree(t);
  CHECK(DecodeTree(blob, Sha256(blob)).status().code() == Code::kCorruption);
  t.entries = {a, a};
  blob = EncodeTree(t);
  CHECK(DecodeTree(blob, Sha256(blob)).status().code() == Code::kCorruption);
}

TEST_CASE("a tree truncated or extended at any point is rejected without crashing", "[objstore][tree]") {
  std::string blob = EncodeTree(Sample());
  for (size_t len = 0; len < blob.size(); len++) {
    CHECK_FALSE(DecodeTree(blob.substr(0, len), ObjectId()).ok());
  }
  CHECK_FALSE(DecodeTree(blob + "x", ObjectId()).ok());
  // A huge declared entry count is refused before allocating.
  std::string huge;
  PutU8(&huge, 1);
  PutVarint(&huge, uint64_t{1} << 60);
  CHECK(DecodeTree(huge, ObjectId()).status().code() == Code::kCorruption);
}

TEST_CASE("snapshots round-trip and their id is the hash of the file", "[objstore][snapshot]") {
  Snapshot s;
  s.tree = Sha256("t");
  s.parents = {Sha256("p1"), Sha256("p2")};
  s.time_ns = 1790000000123456789;
  s.host = "h";
  s.user = "u";
  s.paths = {"/x"};
  s.kind = "incremental";
  s.branch = "main";
  s.message = "msg";
  s.stats.files = 3;
  s.stats.added_bytes = 99;
  s.errors = {{"/x/y", "Permission denied"}};
  s.git = GitOrigin{std::string(40, 'c'), std::string(40, 'd')};
  auto hasher = NewSha256Hasher();
  ObjectCodec codec(hasher.get(), 3);
  auto encode = [&](const Snapshot& x) { return codec.EncodeFile(FileType::kSnapshot, EncodeSnapshotPayload(x), false); };
  auto decode = [&](std::string_view f) -> Result<Snapshot> {
    CAIRN_ASSIGN_OR_RETURN(std::string payload, codec.DecodeFile(f, FileType::kSnapshot, nullptr, "s"));
    return DecodeSnapshotPayload(payload, "s");
  };
  std::string file = encode(s);
  auto back = decode(file);
  REQUIRE(back.ok());
  CHECK(back->tree == s.tree);
  CHECK(back->parents == s.parents);
  CHECK(back->time_ns == s.time_ns);
  CHECK(back->stats.added_bytes == 99);
  CHECK(back->errors.size() == 1);
  REQUIRE(back->git);
  CHECK(back->git->commit == std::string(40, 'c'));
  CHECK(back->git->tree == std::string(40, 'd'));
  CHECK(encode(*back) == file);
  CHECK(decode(file.substr(0, file.size() - 1)).status().code() == Code::kCorruption);
  ObjectId wrong = Sha256("another name");
  CHECK(codec.DecodeFile(file, FileType::kSnapshot, &wrong, "s").status().code() == Code::kCorruption);
  ObjectId right = codec.FileId(file);
  CHECK(codec.DecodeFile(file, FileType::kSnapshot, &right, "s").ok());
}

TEST_CASE("the config refuses newer formats and unknown features", "[objstore][config]") {
  RepoConfig c = NewRepoConfig();
  auto back = DecodeConfig(EncodeConfig(c));
  REQUIRE(back.ok());
  CHECK(back->repo_id == c.repo_id);
  CHECK(back->chunker.seed == c.chunker.seed);
  c.format = kFormatVersion + 1;
  CHECK(DecodeConfig(EncodeConfig(c)).status().code() == Code::kNotSupported);
  // A format 1 (unencrypted) config that claims encryption is damage; a
  // format 2 one with an unknown suite needs a newer cairn.
  c = NewRepoConfig();
  std::string text = EncodeConfig(c);
  std::string enc = text;
  enc.replace(enc.find("\"none\""), 6, "\"xchacha20-poly1305\"");
  CHECK(DecodeConfig(enc).status().code() == Code::kCorruption);
  std::string v2 = enc;
  v2.replace(v2.find("\"format\": 1"), 11, "\"format\": 2");
  v2.replace(v2.find("xchacha20-poly1305"), 18, "aes-ocb-whatever!!");
  CHECK(DecodeConfig(v2).status().code() == Code::kNotSupported);
  CHECK(DecodeConfig("{\"format\": 1").status().code() == Code::kCorruption);
  CHECK(DecodeConfig("").status().code() == Code::kCorruption);
}

TEST_CASE("object ids parse only full lowercase hex", "[objstore][id]") {
  ObjectId id = Sha256("abc");
  CHECK(id.ToHex() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(ObjectId::FromHex(id.ToHex()).value() == id);
  CHECK_FALSE(ObjectId::FromHex("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD").ok());
  CHECK_FALSE(ObjectId::FromHex("ba78").ok());
  CHECK(id.ShortHex() == "ba7816bf8f01");
}

}  // namespace
}  // namespace cairn::objstore
