// SPDX-License-Identifier: MIT
//
// The Backend contract, run against every backend (local folder, memory),
// the lock objects built on it, repository locations, and a repository on
// the in-memory backend (Refresh picks up another writer's work).

#include "objstore/backend.h"
#include "objstore/s3.h"

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "repo/backup.h"
#include "repo/check.h"
#include "repo/location.h"
#include "repo/repository.h"
#include "test_util.h"

namespace cairn {
namespace {

using objstore::Backend;
using objstore::LockHolder;
using objstore::LockOptions;
namespace fs = std::filesystem;

// Runs `body` once with a fresh local backend and once with a memory backend.
template <typename F>
void ForEachBackend(F body) {
  {
    testing::TempDir t;
    auto b = objstore::NewLocalBackend(t / "store");
    REQUIRE(b->Create().ok());
    body(b.get(), "local");
  }
  {
    auto b = objstore::NewMemoryBackend();
    REQUIRE(b->Create().ok());
    body(b.get(), "memory");
  }
}

// A pid that is certainly not running: a child that has exited and been
// reaped.
int64_t DeadPid() {
  pid_t p = ::fork();
  if (p == 0) ::_exit(0);
  int st;
  ::waitpid(p, &st, 0);
  return p;
}

LockOptions Quick(std::vector<std::string>* messages) {
  LockOptions o;
  o.wait = std::chrono::milliseconds(300);
  o.on_message = [messages](const std::string& m) { messages->push_back(m); };
  return o;
}

TEST_CASE("every backend keeps the object contract", "[objstore][backend]") {
  ForEachBackend([](Backend* b, const char* kind) {
    INFO(kind);
    REQUIRE(b->Put("index/aa", "first").ok());
    REQUIRE(b->Put("index/aa", "second").ok());  // replaced
    CHECK(*b->Get("index/aa") == "second");
    CHECK(*b->Stat("index/aa") == 6);
    CHECK(*b->GetRange("index/aa", 1, 3) == "eco");
    CHECK(b->GetRange("index/aa", 4, 5).status().code() == Code::kCorruption);
    CHECK(b->Get("index/none").status().IsNotFound());
    CHECK(b->Stat("index/none").status().IsNotFound());
    CHECK(b->Remove("index/none").IsNotFound());

    REQUIRE(b->PutIfAbsent("refs/x", "1").ok());
    CHECK(b->PutIfAbsent("refs/x", "2").code() == Code::kAlreadyExists);
    CHECK(*b->Get("refs/x") == "1");  // the loser wrote nothing

    std::set<std::string> listed;
    REQUIRE(b->List("index/", [&](const std::string& n, uint64_t) { listed.insert(n); }).ok());
    CHECK(listed == std::set<std::string>{"index/aa"});
    listed.clear();
    REQUIRE(b->List("", [&](const std::string& n, uint64_t) { listed.insert(n); }).ok());
    CHECK(listed.count("refs/x") == 1);

    // A staged file is consumed by PutFile.
    std::string staged = b->StagingDir() + "/pack-test";
    std::ofstream(staged) << "pack bytes";
    REQUIRE(b->PutFile("data/ab/abcd", staged).ok());
    CHECK(*b->Get("data/ab/abcd") == "pack bytes");
    CHECK_FALSE(fs::exists(staged));

    REQUIRE(b->Remove("index/aa").ok());
    CHECK(b->Get("index/aa").status().IsNotFound());
    CHECK(b->Create().code() == Code::kAlreadyExists);  // no longer empty
  });
}

TEST_CASE("exactly one of many racing PutIfAbsent calls wins", "[objstore][backend]") {
  ForEachBackend([](Backend* b, const char* kind) {
    INFO(kind);
    std::atomic<int> won{0}, lost{0};
    std::vector<std::thread> ts;
    for (int i = 0; i < 8; i++) {
      ts.emplace_back([&, i] {
        Status st = b->PutIfAbsent("locks/race", std::to_string(i));
        (st.ok() ? won : lost)++;
      });
    }
    for (auto& t : ts) t.join();
    CHECK(won == 1);
    CHECK(lost == 7);
  });
}

TEST_CASE("a lock is exclusive while held and gone when released", "[objstore][lock]") {
  ForEachBackend([](Backend* b, const char* kind) {
    INFO(kind);
    std::vector<std::string> msgs;
    {
      auto l = b->Lock("refs", Quick(&msgs));
      REQUIRE(l.ok());
      auto holder = objstore::DecodeLockHolder(*b->Get("locks/refs"));
      REQUIRE(holder.ok());
      CHECK(holder->pid == ::getpid());
      CHECK_FALSE(holder->host.empty());
      CHECK_FALSE(holder->nonce.empty());
      // A live holder (this process) is waited for, then named in the error.
      auto second = b->Lock("refs", Quick(&msgs));
      REQUIRE_FALSE(second.ok());
      CHECK(second.status().code() == Code::kBusy);
      CHECK(second.status().message().find("pid " + std::to_string(::getpid())) != std::string::npos);
    }
    CHECK(b->Get("locks/refs").status().IsNotFound());
    CHECK(b->Lock("refs", Quick(&msgs)).ok());
  });
}

TEST_CASE("a lock released by overwriting is never removed, and is taken over by the next holder",
          "[objstore][lock]") {
  // What a write-only host does under a bucket policy that denies
  // DeleteObject: its release never removes; the next holder takes the
  // object over with PutIfMatch (the memory backend, S3) or, where there
  // is no such primitive (the local file system), removes and recreates.
  ForEachBackend([](Backend* b, const char* kind) {
    INFO(kind);
    std::vector<std::string> msgs;
    LockOptions o = Quick(&msgs);
    o.release_by_overwrite = true;
    { REQUIRE(b->Lock("refs", o).ok()); }
    auto released = objstore::DecodeLockHolder(b->Get("locks/refs").value());
    REQUIRE(released.ok());
    CHECK(released->released);
    CHECK(objstore::HolderDeadReason(*released, std::chrono::minutes(10)) == "its holder released it");
    // Taken over at once (no wait for a live holder), without a message.
    auto again = b->Lock("refs", o);
    REQUIRE(again.ok());
    CHECK(msgs.empty());
    auto now = objstore::DecodeLockHolder(b->Get("locks/refs").value());
    REQUIRE(now.ok());
    CHECK_FALSE(now->released);
    CHECK(now->nonce != released->nonce);
    // While held it excludes as any lock does.
    LockOptions other = Quick(&msgs);
    CHECK(b->Lock("refs", other).status().code() == Code::kBusy);
    again->reset();
    // A session ends the same way: it stays, marked released, and counts as ended.
    { REQUIRE(objstore::BeginSession(b, "backup", o).ok()); }
    auto sessions = objstore::ListSessions(b, std::chrono::minutes(10));
    REQUIRE(sessions.ok());
    REQUIRE(sessions->size() == 1);
    CHECK((*sessions)[0].released);
    CHECK_FALSE((*sessions)[0].dead.empty());
  });
}

TEST_CASE("PutIfMatch replaces only the expected bytes", "[objstore][backend]") {
  auto b = objstore::NewMemoryBackend();
  REQUIRE(b->Put("locks/x", "one").ok());
  CHECK(b->PutIfMatch("locks/x", "two", "zero").code() == Code::kConflict);
  CHECK(b->PutIfMatch("locks/y", "two", "one").code() == Code::kConflict);
  REQUIRE(b->PutIfMatch("locks/x", "two", "one").ok());
  CHECK(b->Get("locks/x").value() == "two");
  testing::TempDir t;
  CHECK(objstore::NewLocalBackend(t / "r")->PutIfMatch("x", "a", "b").code() == Code::kNotSupported);
}

TEST_CASE("a lock held by a dead process on this host is broken with a message", "[objstore][lock]") {
  ForEachBackend([](Backend* b, const char* kind) {
    INFO(kind);
    LockHolder dead = objstore::CurrentLockHolder();
    dead.pid = DeadPid();
    dead.nonce = "old";
    REQUIRE(b->Put("locks/refs", objstore::EncodeLockHolder(dead)).ok());
    std::vector<std::string> msgs;
    auto l = b->Lock("refs", Quick(&msgs));
    REQUIRE(l.ok());
    REQUIRE(msgs.size() == 1);
    CHECK(msgs[0].find("broke the stale lock 'refs' held by pid " + std::to_string(dead.pid)) != std::string::npos);
    CHECK(msgs[0].find("no longer exists") != std::string::npos);
  });
}

TEST_CASE("a reused pid, an earlier boot or a damaged lock object is not a live holder", "[objstore][lock]") {
  ForEachBackend([](Backend* b, const char* kind) {
    INFO(kind);
    std::vector<std::string> msgs;
    LockHolder h = objstore::CurrentLockHolder();
    h.process_start += 12345;  // this pid, but another process
    REQUIRE(b->Put("locks/a", objstore::EncodeLockHolder(h)).ok());
    CHECK(b->Lock("a", Quick(&msgs)).ok());
    h = objstore::CurrentLockHolder();
    h.boot_id = "another-boot";
    REQUIRE(b->Put("locks/b", objstore::EncodeLockHolder(h)).ok());
    CHECK(b->Lock("b", Quick(&msgs)).ok());
    REQUIRE(b->Put("locks/c", "{not json").ok());
    CHECK(b->Lock("c", Quick(&msgs)).ok());
    REQUIRE(msgs.size() == 3);
    CHECK(msgs[0].find("another process") != std::string::npos);
    CHECK(msgs[1].find("before this host last booted") != std::string::npos);
    CHECK(msgs[2].find("damaged") != std::string::npos);
  });
}

TEST_CASE("a lock of another host is broken only when its heartbeat is stale", "[objstore][lock]") {
  ForEachBackend([](Backend* b, const char* kind) {
    INFO(kind);
    std::vector<std::string> msgs;
    LockHolder other = objstore::CurrentLockHolder();
    other.host = "elsewhere.example";
    other.pid = 1;
    other.nonce = "theirs";
    auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                   std::chrono::system_clock::now().time_since_epoch()).count();
    other.heartbeat_ns = now - int64_t{11} * 60 * 1000000000;  // 11 minutes ago
    REQUIRE(b->Put("locks/refs", objstore::EncodeLockHolder(other)).ok());
    CHECK(b->Lock("refs", Quick(&msgs)).ok());
    REQUIRE(msgs.size() == 1);
    CHECK(msgs[0].find("host 'elsewhere.example'") != std::string::npos);
    CHECK(msgs[0].find("heartbeat") != std::string::npos);

    other.heartbeat_ns = now;  // fresh: it may be alive, so it is waited for
    REQUIRE(b->Put("locks/refs", objstore::EncodeLockHolder(other)).ok());
    auto l = b->Lock("refs", Quick(&msgs));
    REQUIRE_FALSE(l.ok());
    CHECK(l.status().code() == Code::kBusy);
    CHECK(l.status().message().find("elsewhere.example") != std::string::npos);
    CHECK(*b->Get("locks/refs") == objstore::EncodeLockHolder(other));  // untouched
  });
}

TEST_CASE("a holder in another pid namespace (a container) is judged by its heartbeat", "[objstore][lock]") {
  ForEachBackend([](Backend* b, const char* kind) {
    INFO(kind);
    std::vector<std::string> msgs;
    LockHolder other = objstore::CurrentLockHolder();
    other.pid_ns = "pid:[1]";  // not ours: its pid means nothing here
    other.pid = DeadPid();
    other.nonce = "container";
    REQUIRE(b->Put("locks/refs", objstore::EncodeLockHolder(other)).ok());
    auto l = b->Lock("refs", Quick(&msgs));
    REQUIRE_FALSE(l.ok());  // a fresh heartbeat: maybe alive, so not broken
    CHECK(l.status().code() == Code::kBusy);
    other.heartbeat_ns -= int64_t{11} * 60 * 1000000000;
    REQUIRE(b->Put("locks/refs", objstore::EncodeLockHolder(other)).ok());
    CHECK(b->Lock("refs", Quick(&msgs)).ok());
    REQUIRE(msgs.size() == 1);
    CHECK(msgs[0].find("heartbeat") != std::string::npos);
  });
}

TEST_CASE("a held lock refreshes its heartbeat", "[objstore][lock]") {
  auto b = objstore::NewMemoryBackend();
  LockOptions o;
  o.heartbeat = std::chrono::milliseconds(20);
  auto l = b->Lock("long", o);
  REQUIRE(l.ok());
  int64_t first = objstore::DecodeLockHolder(*b->Get("locks/long"))->heartbeat_ns;
  std::this_thread::sleep_for(std::chrono::milliseconds(120));
  int64_t later = objstore::DecodeLockHolder(*b->Get("locks/long"))->heartbeat_ns;
  CHECK(later > first);
}

TEST_CASE("repository locations: local paths, s3, and other remote schemes refused", "[repo][location]") {
  auto l = repo::ParseLocation("/backups/r");
  REQUIRE(l.ok());
  CHECK(l->path == "/backups/r");
  CHECK(repo::ParseLocation("local:/x")->path == "/x");
  CHECK(repo::ParseLocation("./s3:odd")->path == "./s3:odd");
  CHECK(repo::ParseLocation("name:with-colon")->path == "name:with-colon");  // no scheme of a store
  for (const char* remote : {"sftp:host:/p", "rest:http://h/", "https://h/x", "foo://bar"}) {
    INFO(remote);
    auto r = repo::ParseLocation(remote);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kInvalidArgument);
    CHECK(r.status().message().find("not supported yet") != std::string::npos);
  }
  CHECK(repo::ParseLocation("").status().code() == Code::kInvalidArgument);

  auto s3 = repo::ParseLocation("s3:http://127.0.0.1:7480/bucket/a/b/");
  REQUIRE(s3.ok());
  CHECK(s3->kind == repo::Location::Kind::kS3);
  CHECK_FALSE(s3->s3.https);
  CHECK(s3->s3.host == "127.0.0.1:7480");
  CHECK(s3->s3.bucket == "bucket");
  CHECK(s3->s3.prefix == "a/b");
  CHECK(s3->s3.Display() == "s3:http://127.0.0.1:7480/bucket/a/b");
  auto aws = repo::ParseLocation("s3:s3.eu-west-1.amazonaws.com/my-bucket");
  REQUIRE(aws.ok());
  CHECK(aws->s3.https);
  CHECK(aws->s3.prefix.empty());
  for (const char* bad : {"s3:", "s3:http://", "s3:http://h", "s3:http://h/", "s3:ftp://h/bucket", "s3:http://h/Bucket",
                          "s3:http://h/ab", "s3:http://h:0/bucket", "s3:http://h:70000/bucket", "s3:http://u:p@h/bucket",
                          "s3:http://h/bucket//x", "s3:http://h/bucket/../x", "s3:http://h/bucket/./x",
                          "s3:http://h w/bucket"}) {
    INFO(bad);
    auto r = repo::ParseLocation(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kInvalidArgument);
  }
  CHECK(repo::ParseLocation("s3:http://u:secret@h/bucket").status().message().find("secret") == std::string::npos);

  testing::TempDir t;
  std::string spec = "s3:" + (t / "bucket");
  CHECK_FALSE(repo::Repository::Init(spec, objstore::NewRepoConfig()).ok());
  CHECK_FALSE(fs::exists(spec));  // no local folder named "s3:…" appears
  CHECK(fs::is_empty(t.path()));
}

// Forwards to a shared backend, so two Repository objects (two "processes")
// can use one store.
class SharedBackend : public Backend {
 public:
  explicit SharedBackend(Backend* b) : b_(b) {}
  Status Create() override { return b_->Create(); }
  Status Put(std::string_view n, std::string_view d) override { return b_->Put(n, d); }
  Status PutIfAbsent(std::string_view n, std::string_view d) override { return b_->PutIfAbsent(n, d); }
  Status PutFile(std::string_view n, const std::string& p) override { return b_->PutFile(n, p); }
  std::string StagingDir() const override { return b_->StagingDir(); }
  Result<std::string> Get(std::string_view n) override { return b_->Get(n); }
  Result<std::string> GetRange(std::string_view n, uint64_t o, uint64_t l) override { return b_->GetRange(n, o, l); }
  Result<uint64_t> Stat(std::string_view n) override { return b_->Stat(n); }
  Status List(std::string_view p, const std::function<void(const std::string&, uint64_t)>& fn) override {
    return b_->List(p, fn);
  }
  Status Remove(std::string_view n) override { return b_->Remove(n); }
  std::string Location() const override { return b_->Location(); }

 private:
  Backend* b_;
};

TEST_CASE("a repository on the memory backend: backup, check, and Refresh sees another writer",
          "[repo][memory]") {
  testing::TempDir t;
  auto store = objstore::NewMemoryBackend("memory:test");
  REQUIRE(repo::Repository::Init(store.get(), objstore::NewRepoConfig()).ok());
  CHECK(repo::Repository::Init(store.get(), objstore::NewRepoConfig()).code() == Code::kAlreadyExists);
  auto a = repo::Repository::Open(std::make_unique<SharedBackend>(store.get()), t / "cache-a");
  auto b = repo::Repository::Open(std::make_unique<SharedBackend>(store.get()), t / "cache-b");
  REQUIRE(a.ok());
  REQUIRE(b.ok());

  fs::create_directories(t / "src/d");
  std::ofstream(t / "src/d/f") << testing::RandomData(300000);
  repo::BackupOptions o;
  o.paths = {t / "src"};
  auto res = repo::Backup(a->get(), o);
  REQUIRE(res.ok());
  REQUIRE(res->snapshot_id);

  // b opened before the backup: it sees the ref (read fresh) but not yet the
  // snapshot in its catalog or the blobs in its index, until Refresh.
  CHECK((*b)->ResolveRevision("latest").ok());
  CHECK((*b)->ListSnapshots()->empty());
  REQUIRE((*b)->Refresh().ok());
  auto snaps = (*b)->ListSnapshots();
  REQUIRE(snaps->size() == 1);
  CHECK(snaps->front().first == *res->snapshot_id);
  auto file = (*b)->ResolvePath("latest:d/f");
  REQUIRE(file.ok());
  std::string content;
  for (const auto& c : file->entry.chunks) content += *(*b)->ReadBlob(c);
  CHECK(content == testing::RandomData(300000));

  repo::CheckOptions co;
  co.read_data = true;
  auto rep = repo::Check(b->get(), co);
  REQUIRE(rep.ok());
  CHECK(rep->errors.empty());
  CHECK(rep->blobs > 0);
  CHECK(rep->packs_read == rep->packs);
}

}  // namespace
}  // namespace cairn

namespace cairn {
namespace {

std::unique_ptr<repo::Repository> MemoryRepo(objstore::Backend* store, const testing::TempDir& t,
                                             const std::string& cache) {
  auto r = repo::Repository::Open(std::make_unique<SharedBackend>(store), t / cache);
  REQUIRE(r.ok());
  return std::move(r).value();
}

repo::BackupResult MemoryBackup(repo::Repository* r, const std::string& path, const std::string& branch = "main") {
  repo::BackupOptions o;
  o.paths = {path};
  o.branch = branch;
  auto res = repo::Backup(r, o);
  REQUIRE(res.ok());
  return std::move(res).value();
}

TEST_CASE("ref updates from many threads: each compare-and-swap succeeds exactly once", "[repo][memory][refs]") {
  testing::TempDir t;
  auto store = objstore::NewMemoryBackend();
  REQUIRE(repo::Repository::Init(store.get(), objstore::NewRepoConfig()).ok());
  auto r = MemoryRepo(store.get(), t, "cache");
  fs::create_directories(t / "src");
  std::ofstream(t / "src/f") << "one";
  ObjectId a = *MemoryBackup(r.get(), t / "src").snapshot_id;
  std::ofstream(t / "src/f") << "two";
  ObjectId b = *MemoryBackup(r.get(), t / "src", "other").snapshot_id;

  // Eight threads all try to move main from a to b: one wins, the others
  // see that the ref changed (Conflict), and nothing is lost or torn.
  std::atomic<int> won{0}, conflict{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 8; i++) {
    ts.emplace_back([&] {
      Status st = r->UpdateRef("branches/main", a, b);
      if (st.ok()) won++;
      if (st.code() == Code::kConflict) conflict++;
    });
  }
  for (auto& th : ts) th.join();
  CHECK(won == 1);
  CHECK(conflict == 7);
  CHECK(**r->ReadRef("branches/main") == b);
  CHECK(store->Get("locks/refs").status().IsNotFound());  // every lock released
  CHECK(r->DeleteRef("branches/main", a).code() == Code::kConflict);
  CHECK(r->DeleteRef("branches/main", b).ok());
  CHECK(!*r->ReadRef("branches/main"));
}

TEST_CASE("repair index on the memory backend verifies every pack before indexing it", "[repo][memory][repair]") {
  testing::TempDir t;
  auto store = objstore::NewMemoryBackend();
  REQUIRE(repo::Repository::Init(store.get(), objstore::NewRepoConfig()).ok());
  auto r = MemoryRepo(store.get(), t, "cache");
  fs::create_directories(t / "src");
  std::ofstream(t / "src/a") << testing::RandomData(400000, "a");
  std::ofstream(t / "src/b") << testing::RandomData(400000, "b");
  MemoryBackup(r.get(), t / "src");
  std::vector<std::string> packs;
  REQUIRE(store->List("data/", [&](const std::string& n, uint64_t) { packs.push_back(n); }).ok());
  REQUIRE(packs.size() >= 2);  // a data pack and a tree pack

  // A foreign pack (valid bytes under a name that is not their hash) and a
  // damaged copy of a pack under its own, now wrong, name.
  std::string good = *store->Get(packs[0]);
  std::string foreign = "data/00/" + std::string(64, '0');
  REQUIRE(store->Put(foreign, good).ok());
  std::string damaged = good;
  damaged[damaged.size() / 3] ^= 0x40;
  std::string damaged_name = objstore::PackName(Sha256("elsewhere"));
  REQUIRE(store->Put(damaged_name, damaged).ok());

  std::vector<std::string> problems;
  size_t npacks = 0, nblobs = 0;
  REQUIRE(r->RebuildIndexFromPacks(&problems, &npacks, &nblobs).ok());
  CHECK(npacks == packs.size());
  REQUIRE(problems.size() == 2);
  for (const auto& p : problems) CHECK(p.find("left out of the index") != std::string::npos);
  // What is indexed is exactly the verified packs: everything restores.
  auto file = r->ResolvePath("latest:b");
  REQUIRE(file.ok());
  std::string content;
  for (const auto& c : file->entry.chunks) content += *r->ReadBlob(c);
  CHECK(content == testing::RandomData(400000, "b"));
  repo::CheckOptions co;
  co.read_data = true;
  auto rep = repo::Check(r.get(), co);
  REQUIRE(rep.ok());
  CHECK(rep->unindexed_packs == 2);  // the two bad files are left where they are, unindexed
  CHECK(rep->errors.size() >= 2);    // and --read-data names both as damaged
}

}  // namespace
}  // namespace cairn

namespace cairn {
namespace {

TEST_CASE("a backup whose ref lock stays held fails with Busy, once, naming the holder", "[repo][memory][lock]") {
  testing::TempDir t;
  auto store = objstore::NewMemoryBackend();
  REQUIRE(repo::Repository::Init(store.get(), objstore::NewRepoConfig()).ok());
  auto r = MemoryRepo(store.get(), t, "cache");
  r->set_lock_wait(std::chrono::milliseconds(200));
  fs::create_directories(t / "src");
  std::ofstream(t / "src/f") << "content";
  auto held = store->Lock("refs");  // a live holder: this process
  REQUIRE(held.ok());
  repo::BackupOptions o;
  o.paths = {t / "src"};
  auto t0 = std::chrono::steady_clock::now();
  auto res = repo::Backup(r.get(), o);
  auto waited = std::chrono::steady_clock::now() - t0;
  REQUIRE_FALSE(res.ok());
  CHECK(res.status().code() == Code::kBusy);
  CHECK(res.status().message().find("pid " + std::to_string(::getpid())) != std::string::npos);
  // Not retried as if the branch had moved: one wait, not twenty.
  CHECK(waited < std::chrono::seconds(3));
  CHECK(!*r->ReadRef("branches/main"));
  held->reset();
  CHECK(repo::Backup(r.get(), o).ok());  // released: the next backup goes through
}

}  // namespace
namespace {
// Sets (or with nullptr unsets) an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    const char* old = std::getenv(name);
    if (old != nullptr) old_ = old;
    had_ = old != nullptr;
    if (value != nullptr) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (had_) {
      ::setenv(name_, old_.c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::string old_;
  bool had_ = false;
};
}  // namespace

TEST_CASE("S3 settings: credentials, region and addressing from the environment", "[objstore][s3]") {
  testing::TempDir t;
  ScopedEnv home("HOME", t.path().c_str());
  ScopedEnv files("AWS_SHARED_CREDENTIALS_FILE", nullptr), config("AWS_CONFIG_FILE", nullptr);
  ScopedEnv region("AWS_DEFAULT_REGION", nullptr), region2("AWS_REGION", nullptr), profile("AWS_PROFILE", nullptr);
  ScopedEnv token("AWS_SESSION_TOKEN", nullptr), addressing("CAIRN_S3_ADDRESSING", nullptr);
  auto loc = objstore::ParseS3Location("http://127.0.0.1:7480/bucket/p");
  REQUIRE(loc.ok());
  {
    ScopedEnv id("AWS_ACCESS_KEY_ID", nullptr), secret("AWS_SECRET_ACCESS_KEY", nullptr);
    auto o = objstore::S3OptionsFromEnvironment(*loc);
    REQUIRE_FALSE(o.ok());
    CHECK(o.status().code() == Code::kInvalidArgument);
    CHECK(o.status().message().find("AWS_ACCESS_KEY_ID") != std::string::npos);

    fs::create_directories(t / ".aws");
    std::ofstream(t / ".aws/credentials") << "[default]\naws_access_key_id = AK1\naws_secret_access_key = SK1\n"
                                             "[other]\n aws_access_key_id=AK2 \naws_secret_access_key=SK2\n";
    std::ofstream(t / ".aws/config") << "[default]\nregion = eu-central-1\n[profile other]\nregion = ap-south-1\n";
    o = objstore::S3OptionsFromEnvironment(*loc);
    REQUIRE(o.ok());
    CHECK(o->credentials.access_key == "AK1");
    CHECK(o->credentials.secret_key == "SK1");
    CHECK(o->region == "eu-central-1");
    CHECK(o->credentials.source.find("profile 'default'") != std::string::npos);
    CHECK(o->credentials.source.find("SK1") == std::string::npos);
    ScopedEnv p("AWS_PROFILE", "other");
    o = objstore::S3OptionsFromEnvironment(*loc);
    REQUIRE(o.ok());
    CHECK(o->credentials.access_key == "AK2");
    CHECK(o->region == "ap-south-1");
  }
  ScopedEnv id("AWS_ACCESS_KEY_ID", "AKENV"), secret("AWS_SECRET_ACCESS_KEY", nullptr);
  auto half = objstore::S3OptionsFromEnvironment(*loc);
  REQUIRE_FALSE(half.ok());
  CHECK(half.status().message().find("AWS_SECRET_ACCESS_KEY is not set") != std::string::npos);
  ScopedEnv secret2("AWS_SECRET_ACCESS_KEY", "SKENV"), r("AWS_DEFAULT_REGION", "us-west-2");
  auto o = objstore::S3OptionsFromEnvironment(*loc);
  REQUIRE(o.ok());
  CHECK(o->credentials.access_key == "AKENV");  // the environment comes before the profile
  CHECK(o->region == "us-west-2");
  CHECK_FALSE(o->virtual_hosted);  // path-style away from AWS
  auto aws = objstore::ParseS3Location("s3.us-west-2.amazonaws.com/bucket");
  REQUIRE(aws.ok());
  CHECK(objstore::S3OptionsFromEnvironment(*aws)->virtual_hosted);
  {
    ScopedEnv a("CAIRN_S3_ADDRESSING", "path");
    CHECK_FALSE(objstore::S3OptionsFromEnvironment(*aws)->virtual_hosted);
  }
  {
    ScopedEnv a("CAIRN_S3_ADDRESSING", "sideways");
    CHECK(objstore::S3OptionsFromEnvironment(*loc).status().code() == Code::kInvalidArgument);
  }
  {
    ScopedEnv a("CAIRN_S3_PART_SIZE", "1MiB");
    CHECK(objstore::S3OptionsFromEnvironment(*loc).status().message().find("5MiB") != std::string::npos);
  }
  {
    ScopedEnv a("AWS_DEFAULT_REGION", "eu west");
    CHECK(objstore::S3OptionsFromEnvironment(*loc).status().code() == Code::kInvalidArgument);
  }
  CHECK(objstore::S3OptionsFromEnvironment(*loc)->acl.empty());  // no ACL header unless asked
  {
    ScopedEnv a("CAIRN_S3_ACL", "bucket-owner-full-control");
    CHECK(objstore::S3OptionsFromEnvironment(*loc)->acl == "bucket-owner-full-control");
  }
  {
    ScopedEnv a("CAIRN_S3_ACL", "private\r\nX-Evil: 1");  // never a header of our making
    CHECK(objstore::S3OptionsFromEnvironment(*loc).status().code() == Code::kInvalidArgument);
  }
}

}  // namespace cairn
