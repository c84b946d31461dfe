// SPDX-License-Identifier: MIT
//
// Prune against a backup that runs across it: the argument of docs/gc.md
// played out deterministically, with a backup whose source (a command)
// blocks until the test lets it go.

#include "repo/prune.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <random>
#include <thread>

#include "repo/backup.h"
#include "repo/forget.h"
#include "repo/space.h"
#include "test_util.h"

namespace cairn::repo {
namespace {

namespace fs = std::filesystem;

class Yes : public Approver {
 public:
  Status Approve(const Operation&) override { return Status::OK(); }
};

std::string RandomData(size_t n, uint32_t seed) {
  std::mt19937 g(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(g());
  return s;
}

// Each Repository stands for another process: its own local index (LMDB
// must not be opened twice in one process).
std::unique_ptr<Repository> OpenRepo(const std::string& path) {
  static int n = 0;
  std::string cache = path + "-cache-" + std::to_string(++n);
  auto r = Repository::Open(objstore::NewLocalBackend(path), cache);
  REQUIRE(r.ok());
  return std::move(r).value();
}

// The content of file `name` in snapshot `id`, read through `r`.
std::string FileContent(Repository& r, const ObjectId& id, const std::string& name) {
  auto t = r.ResolvePath(id.ToHex() + ":" + name);
  REQUIRE(t.ok());
  std::string out;
  for (const auto& c : t->entry.chunks) {
    auto b = r.ReadBlob(c);
    REQUIRE(b.ok());
    out += *b;
  }
  return out;
}

ObjectId BackupCommand(Repository* r, const std::string& command) {
  BackupOptions o;
  o.stdin_command = command;
  o.stream_name = "state.bin";
  auto res = Backup(r, o);
  REQUIRE(res.ok());
  REQUIRE(res->snapshot_id);
  return *res->snapshot_id;
}

size_t Sessions(const std::string& repo) {
  size_t n = 0;
  for (const auto& e : fs::directory_iterator(repo + "/locks")) {
    if (e.path().filename().string().rfind("session-", 0) == 0) n++;
  }
  return n;
}

size_t Plans(const std::string& repo) {
  if (!fs::exists(repo + "/prune")) return 0;
  return static_cast<size_t>(std::distance(fs::directory_iterator(repo + "/prune"), fs::directory_iterator()));
}

TEST_CASE("a backup that began before the plan keeps the blobs it deduplicated against", "[prune]") {
  testing::TempDir t;
  const std::string repo = t / "repo";
  REQUIRE(Repository::Init(repo, objstore::NewRepoConfig()).ok());
  const std::string x = RandomData(3 << 20, 1), y = RandomData(1 << 20, 2);
  testing::WriteFile(t / "x", x);
  testing::WriteFile(t / "y", y);

  auto r1 = OpenRepo(repo);
  ObjectId a = BackupCommand(r1.get(), "cat '" + (t / "x") + "'");  // only A holds x
  ObjectId b = BackupCommand(r1.get(), "cat '" + (t / "y") + "'");  // the head
  Yes yes;
  ForgetPlan fp;
  fp.remove = {a};
  REQUIRE(ApplyForget(r1.get(), fp, "delete", 0, /*trash_for=*/0, &yes).ok());

  // A second process backs x up again; its source blocks until released,
  // so its session is alive across the first prune.
  auto r2 = OpenRepo(repo);
  const std::string go = t / "go";
  std::optional<ObjectId> c;
  // Whatever fails below, the backup's source ends and the thread is
  // joined (a test that stops here must not hang on it).
  struct Release {
    std::string go;
    std::thread* t;
    ~Release() {
      testing::WriteFile(go, "");
      if (t->joinable()) t->join();
    }
  };
  std::thread backup;
  Release release{go, &backup};
  backup = std::thread([&] {
    c = BackupCommand(r2.get(), "cat '" + (t / "x") + "'; while [ ! -e '" + go + "' ]; do sleep 0.02; done");
  });
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (Sessions(repo) == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(Sessions(repo) == 1);
  // Let the backup read (and deduplicate) x before the plan exists.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));

  PruneOptions po;
  po.grace_ns = 0;
  po.max_unused = 0;
  auto first = Prune(r1.get(), po);
  INFO((first.ok() ? std::string() : first.status().message()));
  REQUIRE(first.ok());
  CHECK(first->condemned_packs > 0);
  CHECK(first->deleted_packs == 0);    // it waits for the backup
  REQUIRE(first->deferred.size() == 1);
  CHECK(first->deferred[0].find("session-backup") != std::string::npos);
  CHECK(Plans(repo) == 1);

  testing::WriteFile(go, "");
  backup.join();
  REQUIRE(c);

  auto second = Prune(r1.get(), po);
  INFO((second.ok() ? std::string() : second.status().message()));
  REQUIRE(second.ok());
  CHECK(second->plans_finished == 1);
  CHECK(second->resurrected_blobs > 0);  // x's chunks: condemned, then referenced by C
  CHECK(second->deleted_packs > 0);
  CHECK(Plans(repo) == 0);

  // Everything kept restores, read by a fresh process.
  auto r3 = OpenRepo(repo);
  CHECK(FileContent(*r3, *c, "state.bin") == x);
  CHECK(FileContent(*r3, b, "state.bin") == y);
  CHECK(!r3->ReadSnapshot(a).ok());
}

TEST_CASE("a backup that begins after the plan does not rely on condemned blobs", "[prune]") {
  testing::TempDir t;
  const std::string repo = t / "repo";
  REQUIRE(Repository::Init(repo, objstore::NewRepoConfig()).ok());
  const std::string x = RandomData(2 << 20, 3), y = RandomData(1 << 20, 4);
  testing::WriteFile(t / "x", x);
  testing::WriteFile(t / "y", y);
  auto r1 = OpenRepo(repo);
  ObjectId a = BackupCommand(r1.get(), "cat '" + (t / "x") + "'");
  BackupCommand(r1.get(), "cat '" + (t / "y") + "'");
  Yes yes;
  ForgetPlan fp;
  fp.remove = {a};
  REQUIRE(ApplyForget(r1.get(), fp, "delete", 0, 0, &yes).ok());

  // A session that only stands in the way (a restore, say) keeps the plan
  // pending; a backup that starts now must store x again.
  auto r2 = OpenRepo(repo);
  auto session = r2->BeginSession("restore");
  REQUIRE(session.ok());
  PruneOptions po;
  po.grace_ns = 0;
  po.max_unused = 0;
  auto first = Prune(r1.get(), po);
  INFO((first.ok() ? std::string() : first.status().message()));
  REQUIRE(first.ok());
  REQUIRE(first->deferred.size() == 1);

  auto r4 = OpenRepo(repo);
  BackupOptions o;
  o.stdin_command = "cat '" + (t / "x") + "'";
  o.stream_name = "state.bin";
  auto res = Backup(r4.get(), o);
  REQUIRE(res.ok());
  CHECK(res->snapshot.stats.new_chunks > 0);  // x stored again, not deduplicated
  session->reset();

  auto second = Prune(r1.get(), po);
  INFO((second.ok() ? std::string() : second.status().message()));
  REQUIRE(second.ok());
  // A second plan may follow: a pack stored again identically gets an
  // extra random chunk (BlobWriter), which the next mark collects.
  CHECK(second->plans_finished >= 1);
  CHECK(second->resurrected_blobs == 0);
  CHECK(Plans(repo) == 0);
  auto r5 = OpenRepo(repo);
  CHECK(FileContent(*r5, *res->snapshot_id, "state.bin") == x);
}

TEST_CASE("prune deletes what forget predicted and keeps the trash until it expires", "[prune]") {
  testing::TempDir t;
  const std::string repo = t / "repo";
  REQUIRE(Repository::Init(repo, objstore::NewRepoConfig()).ok());
  auto r = OpenRepo(repo);
  std::vector<ObjectId> snaps;
  for (uint32_t i = 0; i < 4; i++) {
    testing::WriteFile(t / "f", RandomData(1 << 20, 10 + i));
    snaps.push_back(BackupCommand(r.get(), "cat '" + (t / "f") + "'"));
  }
  RetentionPolicy keep2;
  keep2.last = 2;
  ForgetRequest req;
  req.policy = keep2;
  auto plan = PlanForget(r.get(), req);
  REQUIRE(plan.ok());
  REQUIRE(plan->remove.size() == 2);
  CHECK(plan->freed.bytes > (2u << 20));
  Yes yes;
  int64_t now = 1800000000LL * 1000000000;
  int64_t day = 86400LL * 1000000000;
  REQUIRE(ApplyForget(r.get(), *plan, "forget", now, 7 * day, &yes).ok());

  PruneOptions po;
  po.grace_ns = 0;
  po.max_unused = 0;
  po.now_ns = now + day;  // still in the trash: nothing of theirs goes
  auto kept = Prune(r.get(), po);
  REQUIRE(kept.ok());
  CHECK(kept->trash_purged == 0);
  CHECK(kept->freed_bytes == 0);
  CHECK(r->Undelete(plan->remove[0]).ok());
  CHECK(FileContent(*r, plan->remove[0], "state.bin").size() == (1u << 20));
  ForgetPlan again;
  again.remove = {plan->remove[0]};
  REQUIRE(ApplyForget(r.get(), again, "forget", now, 7 * day, &yes).ok());

  po.now_ns = now + 8 * day;
  auto freed = Prune(r.get(), po);
  REQUIRE(freed.ok());
  CHECK(freed->trash_purged == 2);
  CHECK(freed->freed_bytes >= plan->freed.bytes);
  CHECK(freed->freed_bytes <= plan->freed.bytes + 4096);  // pack headers
  auto gone = r->Undelete(plan->remove[0]);
  CHECK(gone.IsNotFound());
  CHECK(gone.message().find("pruned") != std::string::npos);
  CHECK(FileContent(*r, snaps[3], "state.bin").size() == (1u << 20));
}

TEST_CASE("prune refuses while an index file cannot be read, and deletes nothing", "[prune]") {
  const int64_t kNow = 1800000000LL * 1000000000;
  testing::TempDir t;
  const std::string repo = t / "repo";
  REQUIRE(Repository::Init(repo, objstore::NewRepoConfig()).ok());
  std::vector<ObjectId> snaps;
  {
    auto r = OpenRepo(repo);
    for (uint32_t i = 0; i < 3; i++) {
      testing::WriteFile(t / "f", RandomData(1 << 20, 40 + i));
      snaps.push_back(BackupCommand(r.get(), "cat '" + (t / "f") + "'"));
    }
    ForgetPlan forget;
    forget.remove = {snaps[0]};
    Yes yes;
    REQUIRE(ApplyForget(r.get(), forget, "forget", kNow, 0, &yes).ok());
  }
  // One index file damaged (a flipped byte); a local index that has not
  // loaded it yet (another machine, a new cache) cannot read it.
  std::vector<fs::path> index_files, packs_before;
  for (const auto& e : fs::directory_iterator(repo + "/index")) index_files.push_back(e.path());
  for (const auto& e : fs::recursive_directory_iterator(repo + "/data")) {
    if (e.is_regular_file()) packs_before.push_back(e.path());
  }
  REQUIRE(index_files.size() == 3);
  std::sort(index_files.begin(), index_files.end());
  std::string bytes = testing::ReadFile(index_files[1].string());
  bytes[bytes.size() / 2] ^= 0x40;
  testing::WriteFile(index_files[1].string(), bytes);

  auto r = OpenRepo(repo);
  PruneOptions po;
  po.grace_ns = 0;
  po.max_unused = 0;
  po.now_ns = kNow + 1;
  auto refused = Prune(r.get(), po);
  REQUIRE_FALSE(refused.ok());
  INFO(refused.status().message());
  CHECK(refused.status().IsCorruption());
  CHECK(refused.status().message().find("index file 'index/" + index_files[1].filename().string() + "'") !=
        std::string::npos);
  CHECK(refused.status().message().find("cairn repair index") != std::string::npos);
  size_t packs_after = 0;
  for (const auto& e : fs::recursive_directory_iterator(repo + "/data")) packs_after += e.is_regular_file() ? 1 : 0;
  CHECK(packs_after == packs_before.size());
  CHECK(Plans(repo) == 0);

  // After the repair the same prune frees the forgotten snapshot's data.
  std::vector<std::string> problems;
  size_t npacks = 0, nblobs = 0;
  REQUIRE(r->RebuildIndexFromPacks(&problems, &npacks, &nblobs).ok());
  auto pruned = Prune(r.get(), po);
  REQUIRE(pruned.ok());
  CHECK(pruned->freed_bytes >= (1u << 20));
  CHECK(FileContent(*r, snaps[1], "state.bin") == RandomData(1 << 20, 41));
  CHECK(FileContent(*r, snaps[2], "state.bin") == RandomData(1 << 20, 42));
}

}  // namespace
}  // namespace cairn::repo
