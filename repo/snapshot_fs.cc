// SPDX-License-Identifier: MIT

#include "repo/snapshot_fs.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <future>
#include <list>
#include <map>
#include <optional>

namespace cairn::repo {

using objstore::EntryType;
using objstore::Tree;

namespace {

constexpr uint64_t kSnapshotsIno = 2, kBranchesIno = 3, kTagsIno = 4, kByTimeIno = 5;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

size_t TreeBytes(const Tree& t) {
  size_t n = sizeof(Tree);
  for (const auto& e : t.entries) {
    n += sizeof(objstore::TreeEntry) + e.name.size() + e.link_target.size() + e.user.size() + e.group.size() +
         e.chunks.size() * sizeof(ObjectId);
  }
  return n;
}

uint32_t TypeBits(EntryType t) {
  switch (t) {
    case EntryType::kDir:
    case EntryType::kGitlink: return S_IFDIR;  // a submodule: an empty folder, as git checks it out
    case EntryType::kSymlink: return S_IFLNK;
    case EntryType::kFifo: return S_IFIFO;
    case EntryType::kCharDevice: return S_IFCHR;
    case EntryType::kBlockDevice: return S_IFBLK;
    case EntryType::kFile:
    case EntryType::kHardlink: break;
  }
  return S_IFREG;
}

}  // namespace

// A byte-bounded LRU cache of immutable values by id. Concurrent Gets of
// one id share one load; a failed load is not kept.
template <class T>
class SnapshotFs::Lru {
 public:
  using Value = std::shared_ptr<const T>;
  using Loaded = Result<Value>;

  explicit Lru(size_t capacity) : capacity_(capacity) {}

  // *hit (if given) says whether it was there or being loaded already.
  Loaded Get(const ObjectId& id, size_t size_hint, const std::function<Loaded()>& load, bool* hit = nullptr) {
    std::promise<Loaded> promise;
    std::shared_future<Loaded> loading;
    {
      std::lock_guard<std::mutex> l(mu_);
      auto it = items_.find(id);
      if (it != items_.end()) {
        order_.splice(order_.begin(), order_, it->second.pos);
        loading = it->second.value;
      } else {
        order_.push_front(id);
        Item item;
        item.value = promise.get_future().share();
        item.bytes = size_hint;
        item.pos = order_.begin();
        items_.emplace(id, std::move(item));
        bytes_ += size_hint;
      }
    }
    if (hit != nullptr) *hit = loading.valid();
    // Waited for outside the lock: another thread may still be loading it.
    if (loading.valid()) return loading.get();
    Loaded v = load();
    {
      std::lock_guard<std::mutex> l(mu_);
      auto it = items_.find(id);
      if (it != items_.end()) {
        bytes_ -= it->second.bytes;
        if (v.ok()) {
          it->second.bytes = Size(**v);
          it->second.ready = true;
          bytes_ += it->second.bytes;
        } else {
          order_.erase(it->second.pos);
          items_.erase(it);
        }
      }
      Evict();
    }
    promise.set_value(v);
    return v;
  }

  bool Contains(const ObjectId& id) {
    std::lock_guard<std::mutex> l(mu_);
    return items_.count(id) != 0;
  }

  size_t bytes() {
    std::lock_guard<std::mutex> l(mu_);
    return bytes_;
  }

 private:
  struct Item {
    std::shared_future<Loaded> value;
    size_t bytes = 0;
    bool ready = false;
    std::list<ObjectId>::iterator pos;
  };

  static size_t Size(const std::string& s) { return s.size() + sizeof(std::string); }
  static size_t Size(const Tree& t) { return TreeBytes(t); }

  // Drops the least recently used loaded values until the cache fits.
  void Evict() {
    auto it = order_.end();
    while (bytes_ > capacity_ && it != order_.begin()) {
      --it;
      auto found = items_.find(*it);
      if (!found->second.ready) continue;
      bytes_ -= found->second.bytes;
      items_.erase(found);
      it = order_.erase(it);
    }
  }

  std::mutex mu_;
  size_t capacity_;
  size_t bytes_ = 0;
  std::list<ObjectId> order_;  // most recent first
  std::unordered_map<ObjectId, Item, ObjectIdHash> items_;
};

struct SnapshotFs::Top {
  struct Target {
    ObjectId id;
    int64_t time_ns = 0;
  };
  std::map<std::string, std::pair<ObjectId, Snapshot>> snapshots;  // by full hex id
  std::map<std::string, Target> branches, tags, by_time;
  std::optional<Target> latest;
};

struct SnapshotFs::DirHandle {
  uint64_t ino = 0, parent = 0;
  Kind kind = Kind::kEntry;
  // A folder of a snapshot: its tree, where it is.
  std::shared_ptr<const Tree> tree;
  uint64_t snap_ino = 0;
  ObjectId snapshot;
  std::string path;
  // A top folder: its names as they were at OpenDir.
  std::shared_ptr<const Top> top;
  std::vector<std::string> names;
};

struct SnapshotFs::FileHandle {
  ObjectId snapshot;
  std::string path;
  std::vector<ObjectId> chunks;
  std::vector<uint64_t> ends;  // ends[i]: the offset just past chunk i
  std::mutex mu;
  size_t last = SIZE_MAX;  // the last chunk a read reached
  bool reported = false;
};

SnapshotFs::SnapshotFs(Repository* repo, Options options)
    : repo_(repo),
      opts_(std::move(options)),
      mount_time_ns_(NowNs()),
      trees_(std::make_unique<Lru<Tree>>(opts_.tree_cache_bytes)),
      chunks_(std::make_unique<Lru<std::string>>(opts_.chunk_cache_bytes)) {
  auto fixed = [&](uint64_t ino, Kind kind, const std::string& name) {
    Node n;
    n.kind = kind;
    n.scope = kRootIno;
    n.key = name;
    nodes_.emplace(ino, std::move(n));
  };
  fixed(kRootIno, Kind::kRoot, "");
  fixed(kSnapshotsIno, Kind::kSnapshots, "snapshots");
  fixed(kBranchesIno, Kind::kBranches, "branches");
  fixed(kTagsIno, Kind::kTags, "tags");
  fixed(kByTimeIno, Kind::kByTime, "by-time");
  for (size_t i = 0; i < std::max<size_t>(1, opts_.fetch_threads); i++) {
    fetchers_.emplace_back([this] { FetchLoop(); });
  }
}

SnapshotFs::~SnapshotFs() {
  {
    std::lock_guard<std::mutex> l(fetch_mu_);
    stopping_ = true;
    fetch_queue_.clear();
    tree_queue_.clear();
  }
  fetch_cv_.notify_all();
  for (auto& t : fetchers_) t.join();
}

void SnapshotFs::Log(const std::string& msg) const {
  if (opts_.log) opts_.log(msg);
}

SnapshotFs::Stats SnapshotFs::stats() const {
  Stats s;
  {
    std::lock_guard<std::mutex> l(stats_mu_);
    s = stats_;
  }
  {
    std::lock_guard<std::mutex> l(nodes_mu_);
    s.nodes = nodes_.size();
  }
  s.tree_cache_bytes = trees_->bytes();
  s.chunk_cache_bytes = chunks_->bytes();
  return s;
}

// --- The top folders ---

std::shared_ptr<const SnapshotFs::Top> SnapshotFs::BuildTop() {
  auto top = std::make_shared<Top>();
  std::shared_lock<std::shared_mutex> l(repo_mu_);
  auto snaps = repo_->ListSnapshots();
  if (!snaps.ok()) {
    Log("cannot list the snapshots: " + snaps.status().message());
    return nullptr;
  }
  std::map<std::string, int> seen_times;
  for (auto& [id, s] : *snaps) {
    std::string t = objstore::FormatTime(s.time_ns);
    int n = ++seen_times[t];
    // Two snapshots in one second: the later ones get "-2", "-3", ...
    top->by_time[n == 1 ? t : t + "-" + std::to_string(n)] = {id, s.time_ns};
    top->snapshots.emplace(id.ToHex(), std::make_pair(id, std::move(s)));
  }
  auto time_of = [&](const ObjectId& id) -> int64_t {
    auto it = top->snapshots.find(id.ToHex());
    return it == top->snapshots.end() ? mount_time_ns_ : it->second.second.time_ns;
  };
  for (const char* kind : {"branches", "tags"}) {
    auto refs = repo_->ListRefs(kind);
    if (!refs.ok()) {
      Log(std::string("cannot list the ") + kind + ": " + refs.status().message());
      continue;
    }
    auto& out = std::string(kind) == "branches" ? top->branches : top->tags;
    for (const auto& [name, id] : *refs) out[name] = {id, time_of(id)};
  }
  auto latest = repo_->ResolveRevision("latest");
  if (latest.ok()) top->latest = Top::Target{*latest, time_of(*latest)};
  return top;
}

std::shared_ptr<const SnapshotFs::Top> SnapshotFs::CurrentTop(bool refresh) {
  auto fresh = [&] {
    return top_ && (!refresh || std::chrono::steady_clock::now() - refreshed_ < opts_.refresh);
  };
  {
    std::lock_guard<std::mutex> l(top_mu_);
    if (fresh()) return top_;
  }
  std::lock_guard<std::mutex> serial(refresh_mu_);
  {
    std::lock_guard<std::mutex> l(top_mu_);
    if (fresh()) return top_;
  }
  if (top_) {
    std::unique_lock<std::shared_mutex> w(repo_mu_);
    Status st = repo_->Refresh();
    if (!st.ok()) Log("cannot refresh the repository: " + st.message());
    std::lock_guard<std::mutex> s(stats_mu_);
    stats_.refreshes++;
  }
  auto built = BuildTop();
  std::lock_guard<std::mutex> l(top_mu_);
  if (built) top_ = built;
  if (!top_) top_ = std::make_shared<Top>();
  refreshed_ = std::chrono::steady_clock::now();
  return top_;
}

uint64_t SnapshotFs::TopNode(Kind kind, uint64_t folder, const std::string& name, const ObjectId& snapshot,
                             const std::string& link, int64_t time_ns, bool count, FsAttr* attr) {
  std::lock_guard<std::mutex> l(nodes_mu_);
  auto it = names_.find(std::make_pair(folder, std::string_view(name)));
  uint64_t ino = 0;
  if (it != names_.end()) {
    const Node& had = nodes_.at(it->second);
    // A branch that moved is a new symlink: the kernel may cache a
    // symlink's target for as long as it holds the inode.
    if (had.snapshot == snapshot && had.link == link) {
      ino = it->second;
    } else {
      uint64_t old = it->second;
      names_.erase(it);
      // The replaced node stays while the kernel holds it (Forget drops it).
      auto o = nodes_.find(old);
      if (o != nodes_.end() && o->second.nlookup == 0) nodes_.erase(o);
    }
  }
  if (ino == 0) {
    ino = next_ino_++;
    Node n;
    n.kind = kind;
    n.scope = folder;
    n.key = name;
    n.snapshot = snapshot;
    n.link = link;
    n.time_ns = time_ns;
    Node& placed = nodes_.emplace(ino, std::move(n)).first->second;
    names_.emplace(std::make_pair(folder, std::string_view(placed.key)), ino);
  }
  Node& n = nodes_.at(ino);
  if (count) n.nlookup++;
  *attr = AttrOf(ino, n);
  return ino;
}

int SnapshotFs::LookupTop(uint64_t parent, const std::string& name, bool count, FsAttr* out) {
  auto top = CurrentTop(true);
  auto link = [&](uint64_t folder, const Top::Target& t, const std::string& prefix) {
    TopNode(Kind::kLink, folder, name, t.id, prefix + "snapshots/" + t.id.ToHex(), t.time_ns, count, out);
    return 0;
  };
  switch (parent) {
    case kRootIno: {
      static const std::pair<const char*, uint64_t> kFolders[] = {
          {"snapshots", kSnapshotsIno}, {"branches", kBranchesIno}, {"tags", kTagsIno}, {"by-time", kByTimeIno}};
      for (const auto& [n, ino] : kFolders) {
        if (name == n) {
          std::lock_guard<std::mutex> l(nodes_mu_);
          *out = AttrOf(ino, nodes_.at(ino));
          return 0;
        }
      }
      if (name == "latest" && top->latest) return link(kRootIno, *top->latest, "");
      return ENOENT;
    }
    case kSnapshotsIno: {
      auto it = top->snapshots.find(name);
      if (it == top->snapshots.end()) return ENOENT;
      const Snapshot& s = it->second.second;
      uint64_t ino = TopNode(Kind::kSnapshotRoot, kSnapshotsIno, name, it->second.first, "", s.time_ns, count, out);
      std::lock_guard<std::mutex> l(nodes_mu_);
      Node& n = nodes_.at(ino);
      if (n.entry.type != EntryType::kDir || n.entry.subtree != s.tree) {
        n.entry = Meta{};
        n.entry.type = EntryType::kDir;
        n.entry.subtree = s.tree;
        if (s.root) {
          n.entry.mode = s.root->mode;
          n.entry.uid = s.root->uid;
          n.entry.gid = s.root->gid;
          n.entry.mtime_ns = s.root->mtime_ns;
        } else {
          n.entry.mode = 0755;
          n.entry.uid = opts_.uid;
          n.entry.gid = opts_.gid;
          n.entry.mtime_ns = s.time_ns;
        }
      }
      *out = AttrOf(ino, n);
      return 0;
    }
    case kBranchesIno:
    case kTagsIno:
    case kByTimeIno: {
      const auto& m = parent == kBranchesIno ? top->branches : parent == kTagsIno ? top->tags : top->by_time;
      auto it = m.find(name);
      if (it == m.end()) return ENOENT;
      return link(parent, it->second, "../");
    }
    default: break;
  }
  return ENOENT;
}

// --- Nodes ---

SnapshotFs::Meta SnapshotFs::ToMeta(objstore::TreeEntry e) {
  Meta m;
  m.type = e.type;
  m.mode = e.mode;
  m.uid = e.uid;
  m.gid = e.gid;
  m.mtime_ns = e.mtime_ns;
  m.size = e.size;
  m.rdev = e.rdev;
  m.subtree = e.subtree;
  m.chunks = std::move(e.chunks);
  m.link_target = std::move(e.link_target);
  return m;
}

FsAttr SnapshotFs::AttrOf(uint64_t ino, const Node& n) const {
  FsAttr a;
  a.ino = ino;
  switch (n.kind) {
    case Kind::kRoot:
    case Kind::kSnapshots:
    case Kind::kBranches:
    case Kind::kTags:
    case Kind::kByTime:
      a.mode = S_IFDIR | 0555;
      a.uid = opts_.uid;
      a.gid = opts_.gid;
      a.mtime_ns = mount_time_ns_;
      break;
    case Kind::kLink:
      a.mode = S_IFLNK | 0777;
      a.uid = opts_.uid;
      a.gid = opts_.gid;
      a.size = n.link.size();
      a.mtime_ns = n.time_ns;
      break;
    case Kind::kSnapshotRoot:
    case Kind::kEntry: {
      const auto& e = n.entry;
      a.mode = TypeBits(e.type) | (e.mode & 07777);
      a.uid = e.uid;
      a.gid = e.gid;
      a.mtime_ns = e.mtime_ns;
      a.rdev = e.rdev;
      if (e.type == EntryType::kSymlink) a.size = e.link_target.size();
      if (objstore::CarriesContent(e.type)) a.size = e.size;
      a.immutable = true;
      break;
    }
  }
  return a;
}

Result<std::shared_ptr<const Tree>> SnapshotFs::GetTree(const ObjectId& id) {
  return trees_->Get(id, 4096, [&]() -> Result<std::shared_ptr<const Tree>> {
    std::shared_lock<std::shared_mutex> l(repo_mu_);
    CAIRN_ASSIGN_OR_RETURN(Tree t, repo_->ReadTree(id));
    return std::make_shared<const Tree>(std::move(t));
  });
}

int SnapshotFs::EntryNode(uint64_t snap_ino, const ObjectId& snapshot, const std::string& path,
                          const objstore::TreeEntry& e, bool count, FsAttr* attr) {
  std::string key = path;
  objstore::TreeEntry entry = e;
  if (e.type == EntryType::kHardlink) {
    // Another name of a file earlier in the snapshot: the same node, so
    // both names show one inode. One that names no file of the snapshot
    // with its content (which restore and check call damage) is shown as
    // the file it records, whose chunks are verified like any other.
    ObjectId tree;
    {
      std::lock_guard<std::mutex> l(nodes_mu_);
      tree = nodes_.at(snap_ino).entry.subtree;
    }
    const objstore::TreeEntry* found = nullptr;
    std::shared_ptr<const Tree> t;
    size_t start = 0;
    const std::string& target = e.link_target;
    while (start <= target.size()) {
      size_t slash = target.find('/', start);
      std::string part = target.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
      auto got = GetTree(tree);
      if (!got.ok()) break;
      t = *got;
      found = objstore::FindEntry(*t, part);
      if (found == nullptr || slash == std::string::npos) break;
      if (found->type != EntryType::kDir) {
        found = nullptr;
        break;
      }
      tree = found->subtree;
      start = slash + 1;
    }
    if (found != nullptr && found->type == EntryType::kFile && found->size == e.size && found->chunks == e.chunks) {
      key = target;
      entry = *found;
    } else {
      Log("snapshot " + snapshot.ShortHex() + ": '" + path + "' is a hard link to '" + target +
          "', which is not a file of the snapshot with its content; shown as a file of its own");
      entry.type = EntryType::kFile;
    }
  }
  std::lock_guard<std::mutex> l(nodes_mu_);
  auto it = names_.find(std::make_pair(snap_ino, std::string_view(key)));
  uint64_t ino;
  if (it == names_.end()) {
    ino = next_ino_++;
    Node n;
    n.kind = Kind::kEntry;
    n.scope = snap_ino;
    n.key = std::move(key);
    n.snapshot = snapshot;
    n.snap_ino = snap_ino;
    n.entry = ToMeta(std::move(entry));
    Node& placed = nodes_.emplace(ino, std::move(n)).first->second;
    names_.emplace(std::make_pair(snap_ino, std::string_view(placed.key)), ino);
  } else {
    ino = it->second;
  }
  Node& n = nodes_.at(ino);
  if (count) n.nlookup++;
  *attr = AttrOf(ino, n);
  return 0;
}

int SnapshotFs::Lookup(uint64_t parent, const std::string& name, FsAttr* out) {
  if (parent < 100) return LookupTop(parent, name, true, out);
  Node dir;
  {
    std::lock_guard<std::mutex> l(nodes_mu_);
    auto it = nodes_.find(parent);
    if (it == nodes_.end()) return ENOENT;
    if (it->second.kind != Kind::kSnapshotRoot && it->second.kind != Kind::kEntry) return ENOTDIR;
    if (it->second.entry.type == EntryType::kGitlink) return ENOENT;  // an empty folder
    if (it->second.entry.type != EntryType::kDir) return ENOTDIR;
    dir.kind = it->second.kind;
    dir.key = it->second.key;
    dir.snapshot = it->second.snapshot;
    dir.snap_ino = it->second.kind == Kind::kSnapshotRoot ? parent : it->second.snap_ino;
    dir.entry.subtree = it->second.entry.subtree;
  }
  if (dir.kind == Kind::kSnapshotRoot) dir.key.clear();
  auto tree = GetTree(dir.entry.subtree);
  if (!tree.ok()) {
    Log("snapshot " + dir.snapshot.ShortHex() + ": cannot read folder '" + (dir.key.empty() ? "/" : dir.key) +
        "': " + tree.status().message());
    return EIO;
  }
  const objstore::TreeEntry* e = objstore::FindEntry(**tree, name);
  if (e == nullptr) return ENOENT;
  std::string path = dir.key.empty() ? name : dir.key + "/" + name;
  return EntryNode(dir.snap_ino, dir.snapshot, path, *e, true, out);
}

void SnapshotFs::Forget(uint64_t ino, uint64_t n) {
  std::lock_guard<std::mutex> l(nodes_mu_);
  auto it = nodes_.find(ino);
  if (it == nodes_.end()) return;
  Node& node = it->second;
  node.nlookup = node.nlookup > n ? node.nlookup - n : 0;
  // The top folders, the current symlinks and the snapshot roots stay
  // (they are few); a node inside a snapshot, or a symlink replaced since,
  // goes when the kernel forgets it.
  bool replaced = false;
  if (node.kind == Kind::kLink) {
    auto named = names_.find(std::make_pair(node.scope, std::string_view(node.key)));
    replaced = named == names_.end() || named->second != ino;
  }
  if (node.nlookup == 0 && replaced) {
    nodes_.erase(it);
  } else if (node.nlookup == 0 && node.kind == Kind::kEntry) {
    names_.erase(std::make_pair(node.scope, std::string_view(node.key)));
    nodes_.erase(it);
  }
}

int SnapshotFs::GetAttr(uint64_t ino, FsAttr* out) {
  if (ino < 100) CurrentTop(true);
  std::lock_guard<std::mutex> l(nodes_mu_);
  auto it = nodes_.find(ino);
  if (it == nodes_.end()) return ENOENT;
  *out = AttrOf(ino, it->second);
  return 0;
}

int SnapshotFs::ReadLink(uint64_t ino, std::string* out) {
  std::lock_guard<std::mutex> l(nodes_mu_);
  auto it = nodes_.find(ino);
  if (it == nodes_.end()) return ENOENT;
  if (it->second.kind == Kind::kLink) {
    *out = it->second.link;
    return 0;
  }
  if (it->second.kind == Kind::kEntry && it->second.entry.type == EntryType::kSymlink) {
    *out = it->second.entry.link_target;
    return 0;
  }
  return EINVAL;
}

// --- Folders ---

int SnapshotFs::OpenDir(uint64_t ino, uint64_t* handle) {
  auto h = std::make_shared<DirHandle>();
  h->ino = ino;
  if (ino < 100) {
    auto top = CurrentTop(true);
    h->top = top;
    h->parent = kRootIno;
    switch (ino) {
      case kRootIno:
        h->kind = Kind::kRoot;
        h->names = {"branches", "by-time"};
        if (top->latest) h->names.push_back("latest");
        h->names.push_back("snapshots");
        h->names.push_back("tags");
        break;
      case kSnapshotsIno:
        h->kind = Kind::kSnapshots;
        for (const auto& kv : top->snapshots) h->names.push_back(kv.first);
        break;
      case kBranchesIno:
      case kTagsIno:
      case kByTimeIno: {
        h->kind = ino == kBranchesIno ? Kind::kBranches : ino == kTagsIno ? Kind::kTags : Kind::kByTime;
        const auto& m = ino == kBranchesIno ? top->branches : ino == kTagsIno ? top->tags : top->by_time;
        for (const auto& kv : m) h->names.push_back(kv.first);
        break;
      }
      default: return ENOENT;
    }
  } else {
    ObjectId subtree;
    bool gitlink = false;
    {
      std::lock_guard<std::mutex> l(nodes_mu_);
      auto it = nodes_.find(ino);
      if (it == nodes_.end()) return ENOENT;
      const Node& n = it->second;
      if ((n.kind != Kind::kSnapshotRoot && n.kind != Kind::kEntry) ||
          (n.entry.type != EntryType::kDir && n.entry.type != EntryType::kGitlink)) {
        return ENOTDIR;
      }
      h->kind = n.kind;
      h->snapshot = n.snapshot;
      h->snap_ino = n.kind == Kind::kSnapshotRoot ? ino : n.snap_ino;
      h->path = n.kind == Kind::kSnapshotRoot ? "" : n.key;
      h->parent = n.kind == Kind::kSnapshotRoot ? kSnapshotsIno : 0;
      subtree = n.entry.subtree;
      gitlink = n.entry.type == EntryType::kGitlink;
    }
    if (gitlink) {
      static const auto* const kEmpty = new std::shared_ptr<const Tree>(std::make_shared<const Tree>());
      h->tree = *kEmpty;
      std::lock_guard<std::mutex> l(handles_mu_);
      *handle = next_handle_++;
      dirs_.emplace(*handle, std::move(h));
      return 0;
    }
    auto tree = GetTree(subtree);
    if (!tree.ok()) {
      Log("snapshot " + h->snapshot.ShortHex() + ": cannot read folder '" + (h->path.empty() ? "/" : h->path) +
          "': " + tree.status().message());
      return EIO;
    }
    h->tree = *tree;
    PrefetchSubtrees(*h->tree);
  }
  std::lock_guard<std::mutex> l(handles_mu_);
  *handle = next_handle_++;
  dirs_.emplace(*handle, std::move(h));
  return 0;
}

int SnapshotFs::ReadDir(uint64_t handle, uint64_t offset, bool plus, const DirEmit& emit) {
  std::shared_ptr<DirHandle> h;
  {
    std::lock_guard<std::mutex> l(handles_mu_);
    auto it = dirs_.find(handle);
    if (it == dirs_.end()) return EBADF;
    h = it->second;
  }
  size_t count = h->tree ? h->tree->entries.size() : h->names.size();
  for (uint64_t i = offset; i < count + 2; i++) {
    FsAttr attr;
    if (i < 2) {
      // "." and "..": no reference is counted for them.
      attr.ino = i == 0 ? h->ino : (h->parent != 0 ? h->parent : h->ino);
      attr.mode = S_IFDIR | 0555;
      if (!emit(i == 0 ? "." : "..", attr, false, i + 1)) return 0;
      continue;
    }
    size_t k = i - 2;
    std::string name;
    int err = 0;
    if (h->tree) {
      const auto& e = h->tree->entries[k];
      name = e.name;
      std::string path = h->path.empty() ? e.name : h->path + "/" + e.name;
      if (plus) {
        err = EntryNode(h->snap_ino, h->snapshot, path, e, false, &attr);
      } else {
        // Only the type and an inode number are asked for: no node is made.
        std::lock_guard<std::mutex> l(nodes_mu_);
        auto it = names_.find(std::make_pair(h->snap_ino, std::string_view(path)));
        attr.ino = it != names_.end() ? it->second : (std::hash<std::string>{}(path) ^ h->snap_ino) | (1ull << 63);
        attr.mode = TypeBits(e.type == EntryType::kHardlink ? EntryType::kFile : e.type);
      }
    } else {
      name = h->names[k];
      if (plus || h->ino == kRootIno) {
        err = LookupTop(h->ino, name, false, &attr);
      } else {
        attr.mode = h->ino == kSnapshotsIno ? S_IFDIR : S_IFLNK;
        std::lock_guard<std::mutex> l(nodes_mu_);
        auto it = names_.find(std::make_pair(h->ino, std::string_view(name)));
        attr.ino = it != names_.end() ? it->second : (std::hash<std::string>{}(name) ^ h->ino) | (1ull << 63);
      }
    }
    if (err != 0) {
      // Gone since OpenDir (a branch deleted): left out.
      if (err == ENOENT) continue;
      return err;
    }
    if (!emit(name, attr, plus, i + 1)) return 0;
    if (plus) {
      // Accepted: the kernel holds a reference now.
      std::lock_guard<std::mutex> l(nodes_mu_);
      auto it = nodes_.find(attr.ino);
      if (it != nodes_.end()) it->second.nlookup++;
    }
  }
  return 0;
}

void SnapshotFs::ReleaseDir(uint64_t handle) {
  std::lock_guard<std::mutex> l(handles_mu_);
  dirs_.erase(handle);
}

// --- Files ---

int SnapshotFs::Open(uint64_t ino, uint64_t* handle) {
  auto h = std::make_shared<FileHandle>();
  uint64_t size = 0;
  {
    std::lock_guard<std::mutex> l(nodes_mu_);
    auto it = nodes_.find(ino);
    if (it == nodes_.end()) return ENOENT;
    const Node& n = it->second;
    if (n.kind == Kind::kRoot || n.kind == Kind::kSnapshots || n.kind == Kind::kBranches || n.kind == Kind::kTags ||
        n.kind == Kind::kByTime || n.kind == Kind::kSnapshotRoot || n.entry.type == EntryType::kDir ||
        n.entry.type == EntryType::kGitlink) {
      return EISDIR;
    }
    if (!objstore::CarriesContent(n.entry.type)) return EINVAL;
    h->snapshot = n.snapshot;
    h->path = n.key;
    h->chunks = n.entry.chunks;
    size = n.entry.size;
  }
  // Where each chunk ends, from the index (raw lengths), so a read at any
  // offset finds its chunk without reading the ones before.
  uint64_t end = 0;
  h->ends.reserve(h->chunks.size());
  {
    std::shared_lock<std::shared_mutex> l(repo_mu_);
    for (const auto& c : h->chunks) {
      auto loc = repo_->Locate(c);
      if (!loc.ok() || !*loc) {
        Log("snapshot " + h->snapshot.ShortHex() + ": cannot read '" + h->path + "': chunk " + c.ShortHex() +
            (loc.ok() ? " is not in the repository" : ": " + loc.status().message()));
        return EIO;
      }
      end += (*loc)->entry.raw_length;
      h->ends.push_back(end);
    }
  }
  if (end != size) {
    Log("snapshot " + h->snapshot.ShortHex() + ": cannot read '" + h->path + "': its chunks hold " +
        std::to_string(end) + " bytes, the snapshot records " + std::to_string(size));
    return EIO;
  }
  std::lock_guard<std::mutex> l(handles_mu_);
  *handle = next_handle_++;
  files_.emplace(*handle, std::move(h));
  return 0;
}

Result<std::shared_ptr<const std::string>> SnapshotFs::Chunk(const ObjectId& id, uint64_t size_hint) {
  bool hit = false;
  auto v = chunks_->Get(
      id, size_hint,
      [&]() -> Result<std::shared_ptr<const std::string>> {
        std::shared_lock<std::shared_mutex> l(repo_mu_);
        CAIRN_ASSIGN_OR_RETURN(std::string data, repo_->ReadBlob(id));
        return std::make_shared<const std::string>(std::move(data));
      },
      &hit);
  std::lock_guard<std::mutex> l(stats_mu_);
  if (hit) stats_.chunk_hits++;
  else stats_.chunk_fetches++;
  return v;
}

void SnapshotFs::Prefetch(const ObjectId& id, uint64_t size_hint) {
  if (chunks_->Contains(id)) return;
  {
    std::lock_guard<std::mutex> l(fetch_mu_);
    for (const auto& q : fetch_queue_) {
      if (q.first == id) return;
    }
    // Bounded: a reader far ahead of the fetchers drops the oldest wishes.
    if (fetch_queue_.size() >= 4 * std::max<size_t>(1, opts_.readahead_chunks)) fetch_queue_.pop_front();
    fetch_queue_.emplace_back(id, size_hint);
  }
  fetch_cv_.notify_one();
}

void SnapshotFs::PrefetchSubtrees(const Tree& tree) {
  constexpr size_t kMaxQueued = 256;
  std::vector<ObjectId> want;
  for (const auto& e : tree.entries) {
    if (e.type == EntryType::kDir && !trees_->Contains(e.subtree)) want.push_back(e.subtree);
    if (want.size() == kMaxQueued) break;
  }
  if (want.empty()) return;
  {
    std::lock_guard<std::mutex> l(fetch_mu_);
    // First in the queue, in order: a walk goes into this folder's first
    // subfolder next, not into the parent's next one.
    for (auto it = want.rbegin(); it != want.rend(); ++it) tree_queue_.push_front(*it);
    while (tree_queue_.size() > kMaxQueued) tree_queue_.pop_back();
  }
  fetch_cv_.notify_all();
}

void SnapshotFs::FetchLoop() {
  for (;;) {
    std::pair<ObjectId, uint64_t> job;
    bool tree = false;
    {
      std::unique_lock<std::mutex> l(fetch_mu_);
      fetch_cv_.wait(l, [&] { return stopping_ || !fetch_queue_.empty() || !tree_queue_.empty(); });
      if (stopping_) return;
      if (!fetch_queue_.empty()) {
        job = fetch_queue_.front();
        fetch_queue_.pop_front();
      } else {
        job.first = tree_queue_.front();
        tree_queue_.pop_front();
        tree = true;
      }
    }
    {
      std::lock_guard<std::mutex> l(stats_mu_);
      if (tree) stats_.tree_prefetches++;
      else stats_.prefetches++;
    }
    // A failure here is met again (and reported) by the read that needs it.
    if (tree) {
      (void)GetTree(job.first);
    } else {
      (void)Chunk(job.first, job.second);
    }
  }
}

int SnapshotFs::Read(uint64_t handle, uint64_t offset, size_t size, std::string* out) {
  out->clear();
  std::shared_ptr<FileHandle> h;
  {
    std::lock_guard<std::mutex> l(handles_mu_);
    auto it = files_.find(handle);
    if (it == files_.end()) return EBADF;
    h = it->second;
  }
  const size_t n = h->chunks.size();
  if (n == 0 || offset >= h->ends.back()) return 0;
  size_t i = static_cast<size_t>(std::upper_bound(h->ends.begin(), h->ends.end(), offset) - h->ends.begin());
  uint64_t want_end = std::min<uint64_t>(h->ends.back(), offset + size);
  size_t last_needed = static_cast<size_t>(
      std::upper_bound(h->ends.begin(), h->ends.end(), want_end - 1) - h->ends.begin());
  bool sequential;
  {
    std::lock_guard<std::mutex> l(h->mu);
    sequential = offset == 0 || (h->last != SIZE_MAX && (i == h->last || i == h->last + 1));
    h->last = last_needed;
  }
  auto chunk_len = [&](size_t k) { return h->ends[k] - (k == 0 ? 0 : h->ends[k - 1]); };
  if (sequential) {
    for (size_t k = last_needed + 1; k < n && k <= last_needed + opts_.readahead_chunks; k++) {
      Prefetch(h->chunks[k], chunk_len(k));
    }
  }
  out->reserve(want_end - offset);
  for (size_t k = i; k <= last_needed; k++) {
    auto data = Chunk(h->chunks[k], chunk_len(k));
    std::string problem;
    if (!data.ok()) {
      problem = data.status().message();
    } else if ((*data)->size() != chunk_len(k)) {
      problem = "chunk " + h->chunks[k].ShortHex() + " holds " + std::to_string((*data)->size()) +
                " bytes, the index says " + std::to_string(chunk_len(k));
    }
    if (!problem.empty()) {
      std::lock_guard<std::mutex> l(h->mu);
      if (!h->reported) {
        h->reported = true;
        Log("snapshot " + h->snapshot.ShortHex() + ": cannot read '" + h->path + "': " + problem);
      }
      out->clear();
      return EIO;
    }
    uint64_t start = k == 0 ? 0 : h->ends[k - 1];
    uint64_t from = std::max<uint64_t>(offset, start) - start;
    uint64_t to = std::min<uint64_t>(want_end, h->ends[k]) - start;
    out->append(**data, from, to - from);
  }
  return 0;
}

void SnapshotFs::Release(uint64_t handle) {
  std::lock_guard<std::mutex> l(handles_mu_);
  files_.erase(handle);
}

}  // namespace cairn::repo
