// SPDX-License-Identifier: MIT

#include "repo/bundle.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <set>
#include <unordered_map>
#include <utility>

#include "objstore/compress.h"
#include "objstore/core/system.h"
#include "objstore/file_chunks.h"
#include "objstore/snapshot_json.h"
#include "repo/history.h"
#include "repo/json_schema.h"

namespace cairn::repo {

using nlohmann::json;
using objstore::EntryType;
namespace crypto = objstore::crypto;

namespace {

constexpr char kMagic[8] = {'C', 'A', 'I', 'R', 'N', 'B', 'D', 'L'};
constexpr size_t kHeaderSize = 44;
constexpr uint8_t kKindPassword = 1, kKindKeyFile = 2;
constexpr uint8_t kRecManifest = 0, kRecChunk = 1, kRecTree = 2, kRecEnd = 3;
constexpr uint32_t kMaxRecord = 64u << 20;
constexpr uint64_t kMaxManifest = 256u << 20;
constexpr int kLevel = 3;

void PutU64(std::string* s, uint64_t v) {
  for (int i = 0; i < 8; i++) s->push_back(static_cast<char>(v >> (8 * i)));
}
uint64_t GetU64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v |= uint64_t(static_cast<uint8_t>(p[i])) << (8 * i);
  return v;
}
uint32_t GetU32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) v |= uint32_t(static_cast<uint8_t>(p[i])) << (8 * i);
  return v;
}

std::string Aad(const std::string& header, uint64_t index) {
  std::string a = header;
  PutU64(&a, index);
  return a;
}

Result<crypto::SecretBytes> DeriveKey(const BundleKey& k, std::string_view salt) {
  if (k.key_file) return crypto::Hkdf(k.secret.view(), salt, "cairn bundle v1 key file", 32);
  CAIRN_ASSIGN_OR_RETURN(crypto::SecretBytes stretched, crypto::Argon2id(k.secret.view(), salt, k.opslimit, k.memlimit));
  return crypto::Hkdf(stretched.view(), salt, "cairn bundle v1 password", 32);
}

// A record's plaintext: kind, compression flag, payload.
std::string RecordPlain(uint8_t kind, std::string_view payload, bool compress) {
  std::string out;
  std::string z;
  if (compress && objstore::CompressIfSmaller(payload, kLevel, &z, objstore::ZstdFrame::kStandard)) {
    out.reserve(z.size() + 2);
    out.push_back(static_cast<char>(kind));
    out.push_back(1);
    out += z;
  } else {
    out.reserve(payload.size() + 2);
    out.push_back(static_cast<char>(kind));
    out.push_back(0);
    out.append(payload);
  }
  return out;
}

Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, "cannot write '" + path + "'");
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::OK();
}

Status ReadAt(int fd, uint64_t off, size_t n, std::string* out, const std::string& path) {
  out->resize(n);
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::pread(fd, out->data() + got, n - got, static_cast<off_t>(off + got));
    if (r < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, "cannot read '" + path + "'");
    }
    if (r == 0) return Status::Corruption("bundle '" + path + "' is truncated (at byte " + std::to_string(off + got) + ")");
    got += static_cast<size_t>(r);
  }
  return Status::OK();
}

// The manifest's hash: SHA-256 of its canonical JSON without "hash".
std::string ManifestHash(json m) {
  m.erase("hash");
  return Sha256(m.dump(-1, ' ', false, json::error_handler_t::strict)).ToHex();
}

// --- creating ---

class Creator {
 public:
  Creator(const Repository& src, const std::string& path, const BundleCreateOptions& o)
      : src_(src), path_(path), o_(o) {}

  Result<BundleCreateResult> Run(const BundleKey& key) {
    // The header, then the key: objects are sealed as they are found.
    std::string salt = crypto::RandomString(16);
    header_.assign(kMagic, 8);
    header_.push_back(static_cast<char>(kBundleFormatVersion));
    header_.push_back(static_cast<char>(key.key_file ? kKindKeyFile : kKindPassword));
    header_.append(2, '\0');
    header_ += salt;
    PutU64(&header_, key.key_file ? 0 : key.opslimit);
    PutU64(&header_, key.key_file ? 0 : key.memlimit);
    CAIRN_ASSIGN_OR_RETURN(key_, DeriveKey(key, salt));

    CAIRN_RETURN_IF_ERROR(Select());
    CAIRN_RETURN_IF_ERROR(MapRequired());

    struct stat st;
    if (::lstat(path_.c_str(), &st) == 0) {
      return Status::AlreadyExists("'" + path_ + "' exists; bundle create writes a new file");
    }
    tmp_objects_ = path_ + ".objects.tmp";
    tmp_ = path_ + ".tmp";
    obj_fd_ = ::open(tmp_objects_.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (obj_fd_ < 0) return Status::FromErrno(errno, "cannot create '" + tmp_objects_ + "'");
    Status st2 = Build();
    ::close(obj_fd_);
    if (!st2.ok()) {
      ::unlink(tmp_objects_.c_str());
      ::unlink(tmp_.c_str());
      return st2;
    }
    return result_;
  }

 private:
  // The snapshots to carry, parents first, and those the receiver has.
  Status Select() {
    std::set<ObjectId> have;  // since and its ancestors
    std::vector<ObjectId> todo = o_.since;
    while (!todo.empty()) {
      ObjectId id = todo.back();
      todo.pop_back();
      if (!have.insert(id).second) continue;
      CAIRN_ASSIGN_OR_RETURN(Snapshot s, src_.ReadSnapshot(id));
      for (const auto& p : s.parents) todo.push_back(p);
    }
    std::set<ObjectId> seen;
    std::vector<std::pair<ObjectId, bool>> stack;
    for (auto it = o_.snapshots.rbegin(); it != o_.snapshots.rend(); ++it) stack.emplace_back(*it, false);
    while (!stack.empty()) {
      auto [id, expanded] = stack.back();
      if (expanded) {
        stack.pop_back();
        order_.push_back(id);
        continue;
      }
      if (!seen.insert(id).second || have.count(id)) {
        stack.pop_back();
        continue;
      }
      CAIRN_ASSIGN_OR_RETURN(Snapshot s, src_.ReadSnapshot(id));
      stack.back().second = true;
      for (auto p = s.parents.rbegin(); p != s.parents.rend(); ++p) {
        if (have.count(*p)) {
          if (std::find(required_.begin(), required_.end(), *p) == required_.end()) required_.push_back(*p);
        } else if (!seen.count(*p)) {
          stack.emplace_back(*p, false);
        }
      }
      snaps_.emplace(id, std::move(s));
    }
    return Status::OK();
  }

  // Where each chunk of the required snapshots is (thin bundles).
  Status MapRequired() {
    for (const auto& rid : required_) {
      CAIRN_ASSIGN_OR_RETURN(Snapshot s, src_.ReadSnapshot(rid));
      const ObjectId origin = objstore::SnapshotOrigin(rid, s);
      origins_[rid] = origin;
      std::vector<std::pair<ObjectId, std::string>> todo{{s.tree, ""}};
      std::set<ObjectId> trees;
      while (!todo.empty()) {
        auto [tid, path] = todo.back();
        todo.pop_back();
        if (!trees.insert(tid).second) continue;
        CAIRN_ASSIGN_OR_RETURN(Tree t, src_.ReadTree(tid));
        for (const auto& e : t.entries) {
          std::string p = path.empty() ? e.name : path + "/" + e.name;
          if (e.type == EntryType::kDir) {
            todo.emplace_back(e.subtree, p);
          } else if (e.type == EntryType::kFile) {
            uint64_t off = 0;
            for (const auto& c : e.chunks) {
              CAIRN_ASSIGN_OR_RETURN(auto loc, src_.Locate(c));
              if (!loc) return Status::Corruption("chunk " + c.ToHex().substr(0, 12) + " of '" + p + "' is missing");
              if (!in_base_.count(c)) in_base_.emplace(c, Place{origin, p, off, loc->entry.raw_length});
              off += loc->entry.raw_length;
            }
          }
        }
      }
    }
    return Status::OK();
  }

  // Seals `plain` as record `index` and appends it to `fd`.
  Status PutRecord(int fd, uint64_t index, const std::string& plain, const std::string& name) {
    std::string sealed;
    crypto::Seal(key_, plain, Aad(header_, index), &sealed);
    if (sealed.size() > kMaxRecord) return Status::InvalidArgument("an object is too large for a bundle record");
    std::string len(4, '\0');
    for (int i = 0; i < 4; i++) len[i] = static_cast<char>(sealed.size() >> (8 * i));
    CAIRN_RETURN_IF_ERROR(WriteAll(fd, len, name));
    CAIRN_RETURN_IF_ERROR(WriteAll(fd, sealed, name));
    result_.file_bytes += 4 + sealed.size();
    return Status::OK();
  }

  Status AddObject(uint8_t kind, const ObjectId& id, std::string_view data) {
    if (!written_.insert(id).second) return Status::OK();
    uint64_t index = objects_.size() + 1;
    CAIRN_RETURN_IF_ERROR(PutRecord(obj_fd_, index, RecordPlain(kind, data, true), tmp_objects_));
    objects_.push_back({{"id", id.ToHex()}, {"type", kind == kRecTree ? "tree" : "chunk"}, {"size", data.size()}});
    result_.object_bytes += data.size();
    return Status::OK();
  }

  // The bundle id of source chunk `c`, storing it or naming where the
  // receiver has it.
  Result<ObjectId> Chunk(const ObjectId& c) {
    if (auto it = chunk_ids_.find(c); it != chunk_ids_.end()) return it->second;
    auto base = in_base_.find(c);
    ObjectId id;
    if (base != in_base_.end() && std::string_view(src_.hasher().Name()) == "sha256") {
      id = c;  // an unencrypted source already names chunks by their SHA-256
    } else {
      CAIRN_ASSIGN_OR_RETURN(std::string data, src_.ReadBlob(c));
      if (o_.bytes_done != nullptr) o_.bytes_done->fetch_add(data.size(), std::memory_order_relaxed);
      id = Sha256(data);
      if (base == in_base_.end()) CAIRN_RETURN_IF_ERROR(AddObject(kRecChunk, id, data));
    }
    if (base != in_base_.end() && !required_ids_.count(id)) {
      required_ids_.insert(id);
      const Place& p = base->second;
      required_objs_.push_back({{"id", id.ToHex()},
                                {"size", p.size},
                                {"snapshot", p.origin.ToHex()},
                                {"path", EncodeManifestPath(p.path)},
                                {"offset", p.offset}});
    }
    chunk_ids_.emplace(c, id);
    return id;
  }

  // The bundle id of source tree `root` (iterative, bottom-up).
  Result<ObjectId> Tree_(const ObjectId& root) {
    struct Frame {
      ObjectId src;
      Tree t;
      size_t next = 0;
      std::string path;
    };
    std::vector<Frame> stack;
    auto push = [&](const ObjectId& id, std::string path) -> Status {
      CAIRN_RETURN_IF_ERROR(objstore::CheckTreePath(path));
      CAIRN_ASSIGN_OR_RETURN(Tree t, src_.ReadTree(id));
      stack.push_back({id, std::move(t), 0, std::move(path)});
      return Status::OK();
    };
    if (auto it = tree_ids_.find(root); it != tree_ids_.end()) return it->second;
    CAIRN_RETURN_IF_ERROR(push(root, ""));
    ObjectId result;
    while (!stack.empty()) {
      Frame& f = stack.back();
      if (f.next == f.t.entries.size()) {
        std::string blob = objstore::EncodeTree(f.t);
        ObjectId id = Sha256(blob);
        CAIRN_RETURN_IF_ERROR(AddObject(kRecTree, id, blob));
        tree_ids_.emplace(f.src, id);
        stack.pop_back();
        if (stack.empty()) {
          result = id;
        } else {
          Frame& parent = stack.back();
          parent.t.entries[parent.next - 1].subtree = id;
        }
        continue;
      }
      TreeEntry& e = f.t.entries[f.next++];
      if (e.type == EntryType::kDir) {
        if (auto it = tree_ids_.find(e.subtree); it != tree_ids_.end()) {
          e.subtree = it->second;
          continue;
        }
        std::string path = f.path.empty() ? e.name : f.path + "/" + e.name;
        ObjectId sub = e.subtree;
        CAIRN_RETURN_IF_ERROR(push(sub, std::move(path)));
      } else if (objstore::CarriesContent(e.type)) {
        for (auto& c : e.chunks) {
          CAIRN_ASSIGN_OR_RETURN(c, Chunk(c));
        }
      }
    }
    return result;
  }

  ObjectId Origin(const ObjectId& id) {
    if (auto it = origins_.find(id); it != origins_.end()) return it->second;
    auto s = snaps_.find(id);
    return s == snaps_.end() ? id : objstore::SnapshotOrigin(id, s->second);
  }

  Status Build() {
    json snaps = json::array();
    for (const auto& id : order_) {
      Snapshot s = snaps_.at(id);
      CAIRN_ASSIGN_OR_RETURN(s.tree, Tree_(s.tree));
      for (auto& p : s.parents) p = Origin(p);
      const ObjectId origin = Origin(id);
      s.copied_from.reset();
      snaps.push_back({{"id", origin.ToHex()}, {"snapshot", objstore::SnapshotToJson(s)}});
      result_.snapshots++;
    }
    auto refs = [&](const std::vector<BundleRef>& list, bool tags) {
      json a = json::array();
      for (const auto& r : list) {
        json j{{"name", r.name}, {"snapshot", Origin(r.snapshot).ToHex()}};
        if (tags) j["annotation"] = r.annotation;
        a.push_back(j);
      }
      return a;
    };
    json req_snaps = json::array();
    for (const auto& r : required_) req_snaps.push_back(Origin(r).ToHex());
    char host[256] = {};
    ::gethostname(host, sizeof(host) - 1);
    json m{{"format", "cairn-bundle"},
           {"schema_version", kBundleSchemaVersion},
           {"cairn_version", o_.cairn_version},
           {"created", objstore::FormatTime(NowNs())},
           {"created_by", {{"host", std::string(host)}, {"user", AccountName()}}},
           {"snapshots", snaps},
           {"tags", refs(o_.tags, true)},
           {"branches", refs(o_.branches, false)},
           {"objects", objects_},
           {"requires", {{"snapshots", req_snaps}, {"objects", required_objs_}}}};
    m["hash"] = ManifestHash(m);
    result_.hash = m["hash"];
    result_.objects = objects_.size();
    result_.required_objects = required_objs_.size();
    result_.required_snapshots = required_.size();

    // header | manifest | objects | end, into a temporary, then renamed.
    int fd = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return Status::FromErrno(errno, "cannot create '" + tmp_ + "'");
    result_.file_bytes += header_.size();  // the object records are counted already
    Status st = WriteAll(fd, header_, tmp_);
    if (st.ok()) st = PutRecord(fd, 0, RecordPlain(kRecManifest, m.dump(), true), tmp_);
    if (st.ok()) {
      std::string buf(1 << 20, '\0');
      off_t off = 0;
      for (;;) {
        ssize_t n = ::pread(obj_fd_, buf.data(), buf.size(), off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
          st = Status::FromErrno(errno, "cannot read '" + tmp_objects_ + "'");
          break;
        }
        if (n == 0) break;
        st = WriteAll(fd, std::string_view(buf.data(), static_cast<size_t>(n)), tmp_);
        if (!st.ok()) break;
        off += n;
      }
    }
    if (st.ok()) {
      std::string end;
      PutU64(&end, objects_.size());
      end += m["hash"].get<std::string>();
      st = PutRecord(fd, objects_.size() + 1, RecordPlain(kRecEnd, end, false), tmp_);
    }
    if (st.ok() && ::fsync(fd) != 0) st = Status::FromErrno(errno, "cannot sync '" + tmp_ + "'");
    ::close(fd);
    ::unlink(tmp_objects_.c_str());
    if (st.ok() && ::rename(tmp_.c_str(), path_.c_str()) != 0) {
      st = Status::FromErrno(errno, "cannot rename '" + tmp_ + "' to '" + path_ + "'");
    }
    if (st.ok()) {
      std::string dir = path_.find('/') == std::string::npos ? "." : path_.substr(0, path_.rfind('/'));
      if (dir.empty()) dir = "/";
      int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
      }
    }
    return st;
  }

  struct Place {
    ObjectId origin;
    std::string path;
    uint64_t offset = 0;
    uint64_t size = 0;
  };

  const Repository& src_;
  const std::string path_;
  const BundleCreateOptions& o_;
  std::string header_;
  crypto::SecretBytes key_;
  std::string tmp_, tmp_objects_;
  int obj_fd_ = -1;
  std::map<ObjectId, Snapshot> snaps_;
  std::vector<ObjectId> order_, required_;
  std::map<ObjectId, ObjectId> origins_;
  std::unordered_map<ObjectId, Place, ObjectIdHash> in_base_;
  std::unordered_map<ObjectId, ObjectId, ObjectIdHash> chunk_ids_, tree_ids_;
  std::set<ObjectId> written_, required_ids_;
  json objects_ = json::array();
  json required_objs_ = json::array();
  BundleCreateResult result_;
};

}  // namespace

std::string EncodeManifestPath(std::string_view path) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : path) {
    if (c < 0x20 || c >= 0x7f || c == '%') {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

Result<std::string> DecodeManifestPath(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); i++) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      return -1;
    };
    if (i + 2 >= text.size()) return Status::Corruption("a bad %-escape in a path");
    int a = hex(text[i + 1]);
    int b = hex(text[i + 2]);
    if (a < 0 || b < 0) return Status::Corruption("a bad %-escape in a path");
    out.push_back(static_cast<char>(a * 16 + b));
    i += 2;
  }
  return out;
}

Result<BundleCreateResult> CreateBundle(const Repository& src, const std::string& path, const BundleKey& key,
                                        const BundleCreateOptions& o) {
  Creator c(src, path, o);
  return c.Run(key);
}

// --- reading ---

Bundle::~Bundle() {
  if (fd_ >= 0) ::close(fd_);
}

Result<std::string> Bundle::OpenRecord(const Where& w) const {
  std::string sealed;
  CAIRN_RETURN_IF_ERROR(ReadAt(fd_, w.offset + 4, w.length, &sealed, path_));
  std::string plain;
  if (!crypto::Open(key_, sealed, Aad(header_, w.index), &plain)) {
    return Status::Corruption("bundle '" + path_ + "': record " + std::to_string(w.index) +
                              " does not authenticate (damaged, or moved from elsewhere)");
  }
  if (plain.size() < 2) return Status::Corruption("bundle '" + path_ + "': record " + std::to_string(w.index) + " is empty");
  return plain;
}

const Bundle::Required* Bundle::FindRequired(const ObjectId& id) const {
  auto it = req_index_.find(id);
  return it == req_index_.end() ? nullptr : &req_objs_[it->second];
}

Result<std::string> Bundle::ReadObject(const ObjectId& id) const {
  auto it = objects_.find(id);
  if (it == objects_.end()) return Status::NotFound("object " + id.ToHex().substr(0, 12) + " is not in the bundle");
  CAIRN_ASSIGN_OR_RETURN(std::string plain, OpenRecord(it->second));
  if (static_cast<uint8_t>(plain[0]) != it->second.type) {
    return Status::Corruption("bundle '" + path_ + "': record " + std::to_string(it->second.index) + " is not the " +
                              (it->second.type == kRecTree ? "tree" : "chunk") + " the manifest says");
  }
  std::string data;
  if (plain[1] == 1) {
    CAIRN_ASSIGN_OR_RETURN(data, objstore::DecompressBounded(std::string_view(plain).substr(2), it->second.size));
  } else {
    data = plain.substr(2);
  }
  if (data.size() != it->second.size || Sha256(data) != id) {
    return Status::Corruption("bundle '" + path_ + "': object " + id.ToHex().substr(0, 12) +
                              " does not match its id and size");
  }
  return data;
}

Result<std::unique_ptr<Bundle>> Bundle::Open(const std::string& path,
                                             const std::function<Result<BundleKey>(bool key_file)>& key) {
  std::unique_ptr<Bundle> b(new Bundle());
  b->path_ = path;
  b->fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (b->fd_ < 0) {
    if (errno == ENOENT) return Status::NotFound("no bundle file '" + path + "'");
    return Status::FromErrno(errno, "cannot open the bundle '" + path + "'");
  }
  struct stat st;
  if (::fstat(b->fd_, &st) != 0) return Status::FromErrno(errno, "cannot stat '" + path + "'");
  if (!S_ISREG(st.st_mode)) return Status::InvalidArgument("'" + path + "' is not a regular file");
  b->file_bytes_ = static_cast<uint64_t>(st.st_size);
  const std::string bad = "bundle '" + path + "'";
  if (b->file_bytes_ < kHeaderSize) {
    return Status::Corruption(bad + " is not a cairn bundle (too short for its header)");
  }
  CAIRN_RETURN_IF_ERROR(ReadAt(b->fd_, 0, kHeaderSize, &b->header_, path));
  if (std::memcmp(b->header_.data(), kMagic, 8) != 0) return Status::Corruption(bad + " is not a cairn bundle (no magic)");
  const uint8_t version = static_cast<uint8_t>(b->header_[8]);
  if (version != kBundleFormatVersion) {
    return Status::NotSupported(bad + " has format version " + std::to_string(version) + "; this cairn reads " +
                                std::to_string(kBundleFormatVersion) + " (upgrade cairn)");
  }
  const uint8_t kind = static_cast<uint8_t>(b->header_[9]);
  if ((kind != kKindPassword && kind != kKindKeyFile) || b->header_[10] != 0 || b->header_[11] != 0) {
    return Status::Corruption(bad + " has a damaged header (unknown key kind)");
  }
  const std::string salt = b->header_.substr(12, 16);
  BundleKey k;
  CAIRN_ASSIGN_OR_RETURN(k, key(kind == kKindKeyFile));
  if (k.key_file != (kind == kKindKeyFile)) {
    return Status::WrongKey(bad + std::string(" is sealed with a ") + (kind == kKindKeyFile ? "key file" : "password") +
                            "; give that instead");
  }
  if (kind == kKindPassword) {
    k.opslimit = GetU64(b->header_.data() + 28);
    k.memlimit = GetU64(b->header_.data() + 36);
    if (k.opslimit < crypto::kMinOps || k.opslimit > crypto::kMaxOps || k.memlimit < crypto::kMinMem ||
        k.memlimit > crypto::kMaxMem) {
      return Status::Corruption(bad + " has a damaged header (password cost out of range)");
    }
  }
  CAIRN_ASSIGN_OR_RETURN(b->key_, DeriveKey(k, salt));

  // The records: lengths first (the layout), then the manifest.
  std::vector<Where> recs;
  uint64_t off = kHeaderSize;
  while (off < b->file_bytes_) {
    std::string len;
    if (b->file_bytes_ - off < 4) return Status::Corruption(bad + " is truncated (a record's length is cut off)");
    CAIRN_RETURN_IF_ERROR(ReadAt(b->fd_, off, 4, &len, path));
    Where w;
    w.offset = off;
    w.length = GetU32(len.data());
    w.index = recs.size();
    if (w.length < 24 + 16 + 2 || w.length > kMaxRecord) {
      return Status::Corruption(bad + ": record " + std::to_string(w.index) + " has an impossible length");
    }
    if (b->file_bytes_ - off - 4 < w.length) {
      return Status::Corruption(bad + " is truncated (record " + std::to_string(w.index) + " is cut off)");
    }
    off += 4 + w.length;
    recs.push_back(w);
  }
  if (recs.empty()) return Status::Corruption(bad + " is truncated (no manifest)");
  auto first = b->OpenRecord(recs[0]);
  if (!first.ok()) {
    if (first.status().IsCorruption()) {
      return Status::WrongKey("the " + std::string(kind == kKindKeyFile ? "key file" : "password") + " does not open " +
                              bad + " (or its manifest is damaged)");
    }
    return first.status();
  }
  if ((*first)[0] != static_cast<char>(kRecManifest)) return Status::Corruption(bad + ": record 0 is not the manifest");
  std::string text;
  if ((*first)[1] == 1) {
    CAIRN_ASSIGN_OR_RETURN(text, objstore::DecompressBounded(std::string_view(*first).substr(2), kMaxManifest));
  } else {
    text = first->substr(2);
  }
  json m = json::parse(text, nullptr, false);
  if (m.is_discarded()) return Status::Corruption(bad + ": the manifest is not valid JSON");
  if (m.is_object() && m.contains("schema_version") && m["schema_version"].is_number_integer() &&
      m["schema_version"].get<int64_t>() != kBundleSchemaVersion) {
    return Status::NotSupported(bad + ": manifest schema version " + m["schema_version"].dump() +
                                " is not supported (this cairn reads " + std::to_string(kBundleSchemaVersion) + ")");
  }
  static const json schema = json::parse(BundleManifestSchema());
  auto errors = ValidateJson(schema, m, 5);
  if (!errors.empty()) {
    std::string all;
    for (const auto& e : errors) all += (all.empty() ? "" : "; ") + e;
    return Status::Corruption(bad + ": the manifest does not match its schema: " + all);
  }
  if (m["hash"].get<std::string>() != ManifestHash(m)) {
    return Status::Corruption(bad + ": the manifest's hash does not match its content");
  }
  b->manifest_ = m;

  // Objects: each listed once, each record of the listed type, id and size.
  const json& objs = m["objects"];
  if (recs.size() != objs.size() + 2) {
    return Status::Corruption(bad + (recs.size() < objs.size() + 2 ? " is truncated" : " has extra records") +
                              ": the manifest lists " + std::to_string(objs.size()) + " objects, the file holds " +
                              std::to_string(recs.size() >= 2 ? recs.size() - 2 : 0));
  }
  for (size_t i = 0; i < objs.size(); i++) {
    auto id = ObjectId::FromHex(objs[i]["id"].get<std::string>());
    Where w = recs[i + 1];
    w.type = objs[i]["type"] == "tree" ? kRecTree : kRecChunk;
    w.size = objs[i]["size"].get<uint64_t>();
    if (!b->objects_.emplace(*id, w).second) {
      return Status::Corruption(bad + ": objects[" + std::to_string(i) + "] lists object " + id->ToHex().substr(0, 12) +
                                " twice");
    }
    auto data = b->ReadObject(*id);
    if (!data.ok()) return data.status().WithContext("objects[" + std::to_string(i) + "]");
    b->object_bytes_ += data->size();
    if (w.type == kRecTree) {
      auto t = objstore::DecodeTree(*data, *id);
      if (!t.ok()) return Status::Corruption(bad + ": tree " + id->ToHex().substr(0, 12) + " does not decode");
    }
  }
  auto end = b->OpenRecord(recs.back());
  if (!end.ok()) return end.status();
  if ((*end)[0] != static_cast<char>(kRecEnd) || end->size() != 2 + 8 + 64 ||
      GetU64(end->data() + 2) != objs.size() || end->substr(10) != m["hash"].get<std::string>()) {
    return Status::Corruption(bad + " is truncated or its end record is damaged");
  }

  // The graph: parents before children, every parent in the bundle or
  // required, no snapshot twice (so no cycle).
  for (const auto& r : m["requires"]["snapshots"]) b->req_snaps_.push_back(*ObjectId::FromHex(r.get<std::string>()));
  std::set<ObjectId> known(b->req_snaps_.begin(), b->req_snaps_.end());
  std::set<ObjectId> in_bundle;
  for (const auto& e : m["snapshots"]) in_bundle.insert(*ObjectId::FromHex(e["id"].get<std::string>()));
  size_t i = 0;
  for (const auto& e : m["snapshots"]) {
    const std::string where = "snapshots[" + std::to_string(i++) + "]";
    Snap sn;
    sn.id = *ObjectId::FromHex(e["id"].get<std::string>());
    auto s = objstore::SnapshotFromJson(e["snapshot"], where);
    if (!s.ok()) return Status::Corruption(bad + ": " + s.status().message());
    sn.s = std::move(*s);
    for (const auto& p : sn.s.parents) {
      if (!known.count(p)) {
        return Status::Corruption(bad + ": " + where + " names parent " + p.ToHex().substr(0, 12) +
                                  (in_bundle.count(p) ? ", which comes after it (a cycle, or not in dependency order)"
                                                      : ", which is neither in the bundle nor required"));
      }
    }
    if (!known.insert(sn.id).second) {
      return Status::Corruption(bad + ": " + where + " (" + sn.id.ToHex().substr(0, 12) + ") is listed twice");
    }
    auto t = b->objects_.find(sn.s.tree);
    if (t == b->objects_.end() || t->second.type != kRecTree) {
      return Status::Corruption(bad + ": " + where + "'s tree " + sn.s.tree.ToHex().substr(0, 12) +
                                " is not a tree of the bundle");
    }
    b->snaps_.push_back(std::move(sn));
  }
  for (const auto& r : m["requires"]["objects"]) {
    Required q;
    q.id = *ObjectId::FromHex(r["id"].get<std::string>());
    q.size = r["size"].get<uint64_t>();
    q.snapshot = *ObjectId::FromHex(r["snapshot"].get<std::string>());
    auto p = DecodeManifestPath(r["path"].get<std::string>());
    if (!p.ok()) return Status::Corruption(bad + ": requires.objects: " + p.status().message());
    q.path = *p;
    q.offset = r["offset"].get<uint64_t>();
    if (std::find(b->req_snaps_.begin(), b->req_snaps_.end(), q.snapshot) == b->req_snaps_.end()) {
      return Status::Corruption(bad + ": required object " + q.id.ToHex().substr(0, 12) +
                                " is in a snapshot the bundle does not require");
    }
    b->req_index_.emplace(q.id, b->req_objs_.size());
    b->req_objs_.push_back(std::move(q));
  }
  // Every tree names only objects the bundle has or requires.
  for (const auto& [id, w] : b->objects_) {
    if (w.type != kRecTree) continue;
    CAIRN_ASSIGN_OR_RETURN(std::string data, b->ReadObject(id));
    CAIRN_ASSIGN_OR_RETURN(Tree t, objstore::DecodeTree(data, id));
    for (const auto& e : t.entries) {
      if (e.type == EntryType::kDir) {
        auto s = b->objects_.find(e.subtree);
        if (s == b->objects_.end() || s->second.type != kRecTree) {
          return Status::Corruption(bad + ": tree " + id.ToHex().substr(0, 12) + " names folder '" + e.name +
                                    "' whose tree is not in the bundle");
        }
      } else if (objstore::CarriesContent(e.type)) {
        for (const auto& c : e.chunks) {
          auto o = b->objects_.find(c);
          if ((o == b->objects_.end() || o->second.type != kRecChunk) && !b->req_index_.count(c)) {
            return Status::Corruption(bad + ": file '" + e.name + "' needs chunk " + c.ToHex().substr(0, 12) +
                                      ", which is neither in the bundle nor required");
          }
        }
      }
    }
  }
  for (const auto& t : m["tags"]) {
    b->tags_.push_back({t["name"], *ObjectId::FromHex(t["snapshot"].get<std::string>()), t["annotation"]});
  }
  for (const auto& t : m["branches"]) b->branches_.push_back({t["name"], *ObjectId::FromHex(t["snapshot"].get<std::string>()), ""});
  for (const auto* list : {&b->tags_, &b->branches_}) {
    for (const auto& r : *list) {
      if (!known.count(r.snapshot)) {
        return Status::Corruption(bad + ": ref '" + r.name + "' names snapshot " + r.snapshot.ToHex().substr(0, 12) +
                                  ", which the bundle neither holds nor requires");
      }
      if (!ValidRefName(r.name)) return Status::Corruption(bad + ": '" + r.name + "' is not a valid ref name");
    }
  }
  return b;
}

// --- importing ---

namespace {

// The bundle as a copy source; required chunks come from the target.
class BundleSource : public CopySource {
 public:
  BundleSource(const Bundle& b, const Repository& dst, const std::map<ObjectId, ObjectId>& have, uint64_t* req_bytes)
      : b_(b), dst_(dst), have_(have), req_bytes_(req_bytes) {}
  Result<Tree> ReadTree(const ObjectId& id) const override {
    CAIRN_ASSIGN_OR_RETURN(std::string data, b_.ReadObject(id));
    return objstore::DecodeTree(data, id);
  }
  Result<std::string> ReadBlob(const ObjectId& id) const override {
    if (b_.Contains(id)) return b_.ReadObject(id);
    const Bundle::Required* r = b_.FindRequired(id);
    if (r == nullptr) return Status::Corruption("chunk " + id.ToHex().substr(0, 12) + " is not in the bundle");
    CAIRN_ASSIGN_OR_RETURN(std::string data, ReadRange(*r));
    if (Sha256(data) != id) {
      return Status::Corruption("required chunk " + id.ToHex().substr(0, 12) + " ('" + r->path + "' at " +
                                std::to_string(r->offset) + ") differs in the target");
    }
    *req_bytes_ += data.size();
    return data;
  }

  // The entry at r.path in the target's copy of r.snapshot. The last one
  // found is kept: a file's chunks come one after another.
  Result<TreeEntry> Locate(const Bundle::Required& r) const {
    if (last_ && last_snapshot_ == r.snapshot && last_path_ == r.path) {
      if (last_->size < r.offset + r.size) {
        return Status::NotFound("the target's copy of snapshot " + r.snapshot.ToHex().substr(0, 12) +
                                " has no file '" + r.path + "' holding required chunk " + r.id.ToHex().substr(0, 12));
      }
      return *last_;
    }
    CAIRN_ASSIGN_OR_RETURN(TreeEntry e, Find(r));
    last_ = e;
    last_snapshot_ = r.snapshot;
    last_path_ = r.path;
    return e;
  }

  Result<TreeEntry> Find(const Bundle::Required& r) const {
    auto t = have_.find(r.snapshot);
    if (t == have_.end()) return Status::NotFound("the target lacks required snapshot " + r.snapshot.ToHex().substr(0, 12));
    CAIRN_ASSIGN_OR_RETURN(Snapshot s, dst_.ReadSnapshot(t->second));
    ObjectId tree = s.tree;
    size_t pos = 0;
    for (;;) {
      size_t slash = r.path.find('/', pos);
      std::string name = r.path.substr(pos, slash == std::string::npos ? std::string::npos : slash - pos);
      CAIRN_ASSIGN_OR_RETURN(Tree tr, dst_.ReadTree(tree));
      const TreeEntry* e = nullptr;
      for (const auto& x : tr.entries) {
        if (x.name == name) e = &x;
      }
      if (e == nullptr) break;
      if (slash == std::string::npos) {
        if (!objstore::CarriesContent(e->type) || e->size < r.offset + r.size) break;
        return *e;
      }
      if (e->type != EntryType::kDir) break;
      tree = e->subtree;
      pos = slash + 1;
    }
    return Status::NotFound("the target's copy of snapshot " + r.snapshot.ToHex().substr(0, 12) + " has no file '" +
                            r.path + "' holding required chunk " + r.id.ToHex().substr(0, 12));
  }

  Result<std::string> ReadRange(const Bundle::Required& r) const {
    CAIRN_ASSIGN_OR_RETURN(TreeEntry e, Locate(r));
    std::string out;
    uint64_t off = 0;
    for (const auto& c : e.chunks) {
      CAIRN_ASSIGN_OR_RETURN(auto loc, dst_.Locate(c));
      if (!loc) return Status::Corruption("the target lacks chunk " + c.ToHex().substr(0, 12) + " of '" + r.path + "'");
      const uint64_t len = loc->entry.raw_length;
      if (off + len > r.offset && off < r.offset + r.size) {
        CAIRN_ASSIGN_OR_RETURN(std::string data, dst_.ReadBlob(*loc));
        const uint64_t from = r.offset > off ? r.offset - off : 0;
        const uint64_t to = std::min<uint64_t>(len, r.offset + r.size - off);
        out.append(data, from, to - from);
      }
      off += len;
      if (off >= r.offset + r.size) break;
    }
    if (out.size() != r.size) return Status::Corruption("'" + r.path + "' in the target is shorter than the bundle needs");
    return out;
  }

 private:
  const Bundle& b_;
  const Repository& dst_;
  const std::map<ObjectId, ObjectId>& have_;
  uint64_t* req_bytes_;
  mutable std::optional<TreeEntry> last_;
  mutable ObjectId last_snapshot_;
  mutable std::string last_path_;
};

}  // namespace

Result<ImportResult> ImportBundle(const Bundle& b, Repository* dst, const ImportOptions& o, Approver* approver) {
  ImportResult res;
  std::unique_ptr<objstore::BackendLock> session;
  if (!o.dry_run) {
    CAIRN_ASSIGN_OR_RETURN(session, dst->BeginSession("copy"));
    CAIRN_ASSIGN_OR_RETURN(Repository::Adopted adopted, dst->AdoptPacksOfDeadBackups());
    (void)adopted;
  }
  CAIRN_ASSIGN_OR_RETURN(auto have, SnapshotsByOrigin(*dst));

  // --- every check before anything is written ---
  for (const auto& r : b.required_snapshots()) {
    if (!have.count(r)) {
      return Status::NotFound("the bundle needs snapshot " + r.ToHex().substr(0, 12) +
                              ", which the target does not have (import the bundle it came from first)");
    }
  }
  uint64_t req_bytes = 0;
  BundleSource source(b, *dst, have, &req_bytes);
  for (const auto& r : b.required_objects()) CAIRN_RETURN_IF_ERROR(source.Locate(r).status());

  // Refs: where each would point, and what is in the way.
  std::map<ObjectId, std::vector<ObjectId>> parents;  // origin -> parent origins (bundle)
  for (const auto& sn : b.snapshots()) parents[sn.id] = sn.s.parents;
  // The target ids the history of origin `o` reaches among what the target
  // has now, and the origins it reaches in the bundle.
  auto reaches = [&](const ObjectId& origin, const ObjectId& target_id) -> Result<bool> {
    if (auto t = have.find(origin); t != have.end()) return IsAncestor(*dst, target_id, {t->second});
    std::vector<ObjectId> todo{origin}, starts;
    std::set<ObjectId> seen;
    while (!todo.empty()) {
      ObjectId cur = todo.back();
      todo.pop_back();
      if (!seen.insert(cur).second) continue;
      if (auto t = have.find(cur); t != have.end()) {
        starts.push_back(t->second);
        continue;
      }
      for (const auto& p : parents[cur]) todo.push_back(p);
    }
    return IsAncestor(*dst, target_id, starts);
  };
  struct PlannedRef {
    std::string ref;
    ObjectId origin;
    std::string annotation;
    std::optional<Repository::RefValue> cur;
    std::string result;
  };
  std::vector<PlannedRef> planned;
  std::vector<std::string> conflicts;
  auto plan_ref = [&](const std::string& ref, const BundleRef& r, bool branch) -> Status {
    PlannedRef p{ref, r.snapshot, r.annotation, std::nullopt, ""};
    CAIRN_ASSIGN_OR_RETURN(p.cur, dst->ReadRefValue(ref));
    if (!p.cur) {
      p.result = "created";
    } else {
      auto s = dst->ReadSnapshot(p.cur->id);
      bool same = s.ok() && objstore::SnapshotOrigin(p.cur->id, *s) == r.snapshot;
      if (same) {
        p.result = "unchanged";
      } else {
        bool forward = false;
        if (branch) {
          CAIRN_ASSIGN_OR_RETURN(forward, reaches(r.snapshot, p.cur->id));
        }
        if (forward) {
          p.result = "updated";
        } else {
          p.result = "moved";
          conflicts.push_back(ref);
        }
      }
    }
    planned.push_back(std::move(p));
    return Status::OK();
  };
  for (const auto& t : b.tags()) CAIRN_RETURN_IF_ERROR(plan_ref("tags/" + t.name, t, false));
  for (const auto& br : b.branches()) {
    const std::string name = o.branch_prefix + br.name;
    if (!ValidRefName(name)) {
      return Status::InvalidArgument("--branch-prefix makes branch '" + name + "', which is not a valid name");
    }
    CAIRN_RETURN_IF_ERROR(plan_ref("branches/" + name, br, true));
  }
  if (!conflicts.empty() && !o.force) {
    std::string names;
    for (const auto& c : conflicts) names += (names.empty() ? "" : ", ") + c;
    return Status::AlreadyExists("the target's " + names + " point elsewhere; nothing was imported (use "
                                 "--branch-prefix for branches, or --force to move them)");
  }
  if (!conflicts.empty() && !o.dry_run) {
    Operation op;
    op.kind = "bundle import force";
    op.action = "move " + std::to_string(conflicts.size()) + " ref(s) to the bundle's snapshots";
    op.risk = Risk::kHigh;
    op.affected = {{"refs", conflicts}};
    CAIRN_RETURN_IF_ERROR(RequireApproval(approver, op));
  }

  if (o.dry_run) {
    for (const auto& sn : b.snapshots()) {
      auto t = have.find(sn.id);
      res.snapshots.push_back({sn.id, t == have.end() ? ObjectId() : t->second, t == have.end()});
    }
    for (const auto& p : planned) res.refs.push_back({p.ref, ObjectId(), "would be " + p.result});
    return res;
  }

  // --- blobs, then snapshots, then refs ---
  BlobWriter writer(dst, o.threads);
  CopyResult counters;
  TreeConverter conv(source, dst, &writer, /*rechunk=*/true, &counters, o.bytes_done);
  std::map<ObjectId, ObjectId> trees;      // origin -> converted root tree
  std::map<ObjectId, ObjectId> src_trees;  // origin -> bundle root tree
  for (const auto& sn : b.snapshots()) {
    src_trees[sn.id] = sn.s.tree;
    if (have.count(sn.id)) continue;
    ObjectId base_src, base_dst;
    for (const auto& p : sn.s.parents) {
      if (auto t = trees.find(p); t != trees.end()) {
        base_src = src_trees[p];
        base_dst = t->second;
        break;
      }
    }
    auto tree = conv.Convert(sn.s.tree, base_src, base_dst);
    if (!tree.ok()) return tree.status().WithContext("snapshot " + sn.id.ToHex().substr(0, 12));
    trees[sn.id] = *tree;
  }
  CAIRN_RETURN_IF_ERROR(writer.Flush());
  for (const auto& sn : b.snapshots()) {
    if (auto t = have.find(sn.id); t != have.end()) {
      res.snapshots.push_back({sn.id, t->second, false});
      continue;
    }
    Snapshot t = sn.s;
    t.tree = trees.at(sn.id);
    t.parents.clear();
    for (const auto& p : sn.s.parents) t.parents.push_back(have.at(p));
    t.copied_from = sn.id;
    CAIRN_ASSIGN_OR_RETURN(ObjectId id, dst->SaveSnapshot(t));
    have.emplace(sn.id, id);
    res.snapshots.push_back({sn.id, id, true});
  }
  for (const auto& p : planned) {
    const ObjectId target = have.at(p.origin);
    if (p.result == "unchanged") {
      res.refs.push_back({p.ref, target, p.result});
      continue;
    }
    std::optional<ObjectId> expected;
    if (p.cur) expected = p.cur->id;
    CAIRN_RETURN_IF_ERROR(dst->UpdateRef(p.ref, expected, target, p.annotation));
    res.refs.push_back({p.ref, target, p.result});
  }
  res.written = writer.stats();
  res.required_bytes = req_bytes;
  return res;
}

}  // namespace cairn::repo
