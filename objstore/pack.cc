// SPDX-License-Identifier: MIT

#include "objstore/pack.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

#include "objstore/backend.h"
#include "objstore/compress.h"
#include "objstore/core/bytes.h"
#include "objstore/core/io.h"
#include "objstore/crypto.h"
#include "objstore/keys.h"

namespace cairn::objstore {
namespace {

constexpr std::string_view kPackHeaderMagic = "CPKH";
constexpr std::string_view kPackTrailerMagic = "CAIRNPK1";
constexpr std::string_view kSealedTrailerMagic = "CAIRNPK2";  // the header is sealed
constexpr uint8_t kPackVersion = 1;
constexpr size_t kPackHeaderFixed = 12;  // magic, version, 3 reserved, count
constexpr size_t kEntrySize = 52;
// A write-only host's pack key sealed to the box key (crypto_box_seal).
constexpr uint32_t kBoxedPackKeySize = crypto::kKeySize + crypto::kBoxSealOverhead;

void PutEntry(std::string* out, const PackEntry& e) {
  PutU8(out, static_cast<uint8_t>(e.type));
  PutU8(out, e.flags);
  PutU16(out, 0);
  PutU32(out, e.stored_length);
  PutU32(out, e.raw_length);
  PutU64(out, e.offset);
  out->append(e.id.view());
}

bool GetEntry(Reader* r, PackEntry* e, std::string* why) {
  uint8_t type, flags;
  uint16_t reserved;
  std::string_view id;
  if (!r->GetU8(&type) || !r->GetU8(&flags) || !r->GetU16(&reserved) ||
      !r->GetU32(&e->stored_length) || !r->GetU32(&e->raw_length) || !r->GetU64(&e->offset) ||
      !r->GetRaw(ObjectId::kSize, &id)) {
    *why = "entry is truncated";
    return false;
  }
  if (type != static_cast<uint8_t>(BlobType::kData) && type != static_cast<uint8_t>(BlobType::kTree)) {
    *why = "entry has unknown blob type " + std::to_string(type);
    return false;
  }
  if ((flags & ~kKnownFlags) != 0 || reserved != 0) {
    *why = "entry has unknown flags";
    return false;
  }
  if ((flags & kFlagPackKey) && !(flags & kFlagSealed)) {
    *why = "entry is under a pack key but not sealed";
    return false;
  }
  e->type = static_cast<BlobType>(type);
  e->flags = flags;
  e->id = ObjectId(reinterpret_cast<const uint8_t*>(id.data()));
  uint32_t cap = e->type == BlobType::kData ? kMaxDataBlob : kMaxTreeBlob;
  if (e->raw_length > cap) {
    *why = "entry declares a blob larger than the format allows";
    return false;
  }
  uint64_t overhead = (e->flags & kFlagSealed) ? crypto::kSealOverhead : 0;
  if (!(e->flags & kFlagZstd) && e->stored_length != e->raw_length + overhead) {
    *why = "uncompressed entry has differing stored and raw lengths";
    return false;
  }
  if (e->stored_length < overhead) {
    *why = "sealed entry is shorter than its seal";
    return false;
  }
  return true;
}

uint32_t HeaderCheck(std::string_view header) {
  return DecodeU32(reinterpret_cast<const char*>(Sha256(header).data()));
}

}  // namespace

const char* BlobTypeName(BlobType t) { return t == BlobType::kTree ? "tree" : "chunk"; }

std::string PackName(const ObjectId& pack_id) {
  std::string hex = pack_id.ToHex();
  return "data/" + hex.substr(0, 2) + "/" + hex;
}

namespace {

// Header and trailer of a pack whose blobs are `entries`.
std::string PackTail(const std::vector<PackEntry>& entries, const RepoKeys* keys) {
  std::string header;
  header.append(kPackHeaderMagic);
  PutU8(&header, kPackVersion);
  PutU8(&header, 0);
  PutU16(&header, 0);
  PutU32(&header, static_cast<uint32_t>(entries.size()));
  for (const auto& e : entries) PutEntry(&header, e);
  std::string out;
  if (keys != nullptr) {
    // A write-only key's pack begins its header region with the pack key
    // sealed to the box key; its header is sealed under that pack key.
    if (keys->write_only()) out = keys->boxed_pack_key();
    const uint32_t boxed = static_cast<uint32_t>(out.size());
    keys->Seal(SealDomain::kPackHeader, "", header, &out);
    PutU32(&out, static_cast<uint32_t>(out.size()));
    PutU32(&out, boxed);
    out.append(kSealedTrailerMagic);
    return out;
  }
  out = header;
  PutU32(&out, static_cast<uint32_t>(header.size()));
  PutU32(&out, HeaderCheck(header));
  out.append(kPackTrailerMagic);
  return out;
}

}  // namespace

Result<std::unique_ptr<PackFileWriter>> PackFileWriter::Create(const std::string& dir) {
  static std::atomic<uint64_t> counter{0};
  std::string path = dir + "/" + std::string(kStagingPackPrefix) + std::to_string(::getpid()) + "-" +
                     std::to_string(counter++);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno(errno, "cannot create '" + path + "'");
  return std::unique_ptr<PackFileWriter>(new PackFileWriter(fd, path));
}

PackFileWriter::~PackFileWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!finished_) ::unlink(path_.c_str());
}

Status PackFileWriter::Write(std::string_view data) {
  if (!error_.ok()) return error_;
  error_ = WriteAll(fd_, data, path_);
  if (!error_.ok()) return error_;
  hasher_.Update(data);
  size_ += data.size();
  return Status::OK();
}

Status PackFileWriter::Add(const ObjectId& id, BlobType type, uint8_t flags, std::string_view stored,
                           uint32_t raw_length) {
  PackEntry e;
  e.id = id;
  e.type = type;
  e.flags = flags;
  e.offset = size_;
  e.stored_length = static_cast<uint32_t>(stored.size());
  e.raw_length = raw_length;
  CAIRN_RETURN_IF_ERROR(Write(stored));
  entries_.push_back(e);
  return Status::OK();
}

Result<PackRecord> PackFileWriter::Finish(const RepoKeys* keys) {
  CAIRN_RETURN_IF_ERROR(Write(PackTail(entries_, keys)));
  if (::fsync(fd_) != 0) return Status::FromErrno(errno, "cannot fsync '" + path_ + "'");
  int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) return Status::FromErrno(errno, "cannot close '" + path_ + "'");
  PackRecord rec;
  rec.pack_id = hasher_.Finish();
  rec.pack_size = size_;
  rec.entries = std::move(entries_);
  finished_ = true;
  return rec;
}

Status ParsePackTrailer(std::string_view trailer, uint64_t file_size, const std::string& name,
                        uint32_t* header_length, const RepoKeys* keys) {
  auto bad = [&](const std::string& why) {
    return Status::Corruption("pack '" + name + "' is damaged: " + why);
  };
  if (file_size < kPackTrailerSize + kPackHeaderFixed || trailer.size() < kPackTrailerSize) {
    return bad("file is too short (" + std::to_string(file_size) + " bytes)");
  }
  std::string_view t = trailer.substr(trailer.size() - kPackTrailerSize);
  if (keys == nullptr && t.substr(8) == kSealedTrailerMagic) {
    return bad("it is sealed (encrypted), but this repository is not encrypted");
  }
  if (keys != nullptr && t.substr(8) == kPackTrailerMagic) {
    return bad("it is not sealed, but this repository is encrypted");
  }
  if (t.substr(8) != (keys != nullptr ? kSealedTrailerMagic : kPackTrailerMagic)) {
    return bad("trailer magic is wrong (truncated?)");
  }
  uint32_t len = DecodeU32(t.data());
  size_t seal = keys != nullptr ? crypto::kSealOverhead : 0;
  if (keys != nullptr) {
    const uint32_t boxed = DecodeU32(t.data() + 4);
    if (boxed != 0 && (boxed != kBoxedPackKeySize || !keys->has_box())) {
      return bad("its pack key field (" + std::to_string(boxed) + " bytes) is invalid");
    }
    seal += boxed;
  }
  if (len < kPackHeaderFixed + seal || len > file_size - kPackTrailerSize ||
      (len - seal - kPackHeaderFixed) % kEntrySize != 0) {
    return bad("header length " + std::to_string(len) + " does not fit the file");
  }
  *header_length = len;
  return Status::OK();
}

Result<std::vector<PackEntry>> ParsePackHeader(std::string_view tail, uint64_t file_size,
                                               const std::string& name, const RepoKeys* keys,
                                               crypto::SecretBytes* pack_key_out) {
  auto bad = [&](const std::string& why) {
    return Status::Corruption("pack '" + name + "' is damaged: " + why);
  };
  uint32_t len;
  CAIRN_RETURN_IF_ERROR(ParsePackTrailer(tail, file_size, name, &len, keys));
  if (tail.size() < len + kPackTrailerSize) return bad("header is incomplete");
  std::string_view header = tail.substr(tail.size() - kPackTrailerSize - len, len);
  std::string_view t = tail.substr(tail.size() - kPackTrailerSize);
  std::string opened;
  uint32_t boxed = 0;
  if (keys != nullptr) {
    if (keys->write_only()) {
      return Status::WriteOnly("cannot read the header of pack '" + name +
                               "': the key in use is write-only (it can add backups, not read them)");
    }
    boxed = DecodeU32(t.data() + 4);
    bool ok;
    if (boxed != 0) {
      crypto::SecretBytes pack_key;
      if (!keys->OpenPackKey(header.substr(0, boxed), &pack_key)) {
        return bad("its pack key does not open (tampered with, or sealed to another repository)");
      }
      ok = keys->OpenWith(pack_key, SealDomain::kPackHeader, "", header.substr(boxed), &opened);
      if (ok && pack_key_out != nullptr) *pack_key_out = std::move(pack_key);
    } else {
      ok = keys->Open(SealDomain::kPackHeader, "", header, &opened);
    }
    if (!ok) return bad("its header does not authenticate (tampered with, or sealed under other keys)");
    header = opened;
  } else if (HeaderCheck(header) != DecodeU32(t.data() + 4)) {
    return bad("header checksum mismatch");
  }
  const uint64_t sealed_len = len;
  len = static_cast<uint32_t>(header.size());
  Reader r(header);
  std::string_view magic;
  uint8_t version, r1;
  uint16_t r2;
  uint32_t count;
  if (!r.GetRaw(4, &magic) || magic != kPackHeaderMagic) return bad("header magic is wrong");
  if (!r.GetU8(&version) || !r.GetU8(&r1) || !r.GetU16(&r2) || !r.GetU32(&count)) {
    return bad("header is truncated");
  }
  if (version != kPackVersion) {
    return Status::NotSupported("pack '" + name + "' has format version " + std::to_string(version) +
                                ", which this cairn does not know; upgrade cairn");
  }
  if (static_cast<uint64_t>(count) * kEntrySize != len - kPackHeaderFixed) {
    return bad("entry count does not match the header length");
  }
  std::vector<PackEntry> entries(count);
  uint64_t expect = 0;
  const uint64_t data_end = file_size - kPackTrailerSize - sealed_len;
  std::string why;
  for (auto& e : entries) {
    if (!GetEntry(&r, &e, &why)) return bad(why);
    if (((e.flags & kFlagPackKey) != 0) != (boxed != 0)) {
      return bad(boxed != 0 ? "a blob is not under the pack's key" : "a blob claims a pack key the pack lacks");
    }
    if (e.offset != expect) return bad("blob offsets are not contiguous");
    expect += e.stored_length;
    if (expect > data_end) return bad("a blob extends past the data section");
  }
  if (expect != data_end) return bad("data section length does not match its blobs");
  return entries;
}

Result<std::vector<PackEntry>> ParsePackFile(std::string_view file, const std::string& name, const RepoKeys* keys,
                                             crypto::SecretBytes* pack_key) {
  if (file.size() < kPackTrailerSize) {
    return Status::Corruption("pack '" + name + "' is damaged: file is too short (" + std::to_string(file.size()) +
                              " bytes)");
  }
  uint32_t len;
  CAIRN_RETURN_IF_ERROR(
      ParsePackTrailer(file.substr(file.size() - kPackTrailerSize), file.size(), name, &len, keys));
  uint64_t want = static_cast<uint64_t>(len) + kPackTrailerSize;
  return ParsePackHeader(file.substr(file.size() - want), file.size(), name, keys, pack_key);
}

Result<std::vector<PackEntry>> ReadPackHeader(Backend* backend, const std::string& name, const RepoKeys* keys,
                                              crypto::SecretBytes* pack_key) {
  CAIRN_ASSIGN_OR_RETURN(uint64_t size, backend->Stat(name));
  if (size < kPackTrailerSize) {
    return Status::Corruption("pack '" + name + "' is damaged: file is too short (" +
                              std::to_string(size) + " bytes)");
  }
  CAIRN_ASSIGN_OR_RETURN(std::string trailer,
                         backend->GetRange(name, size - kPackTrailerSize, kPackTrailerSize));
  uint32_t len;
  CAIRN_RETURN_IF_ERROR(ParsePackTrailer(trailer, size, name, &len, keys));
  uint64_t want = static_cast<uint64_t>(len) + kPackTrailerSize;
  CAIRN_ASSIGN_OR_RETURN(std::string tail, backend->GetRange(name, size - want, want));
  return ParsePackHeader(tail, size, name, keys, pack_key);
}

std::string EncodeIndexPayload(const std::vector<PackRecord>& packs) {
  std::string p;
  PutU32(&p, static_cast<uint32_t>(packs.size()));
  for (const auto& pack : packs) {
    p.append(pack.pack_id.view());
    PutU64(&p, pack.pack_size);
    PutU32(&p, static_cast<uint32_t>(pack.entries.size()));
    for (const auto& e : pack.entries) PutEntry(&p, e);
  }
  return p;
}

Result<std::vector<PackRecord>> DecodeIndexPayload(std::string_view payload, const std::string& name) {
  auto bad = [&](const std::string& why) {
    return Status::Corruption("index file '" + name + "' is damaged: " + why);
  };
  Reader r(payload);
  uint32_t npacks;
  if (!r.GetU32(&npacks)) return bad("truncated");
  if (npacks > r.remaining() / (ObjectId::kSize + 12)) return bad("pack count exceeds the file");
  std::vector<PackRecord> packs(npacks);
  std::string why;
  for (auto& pack : packs) {
    std::string_view id;
    uint32_t n;
    if (!r.GetRaw(ObjectId::kSize, &id) || !r.GetU64(&pack.pack_size) || !r.GetU32(&n)) {
      return bad("truncated");
    }
    pack.pack_id = ObjectId(reinterpret_cast<const uint8_t*>(id.data()));
    if (n > r.remaining() / kEntrySize) return bad("entry count exceeds the file");
    pack.entries.resize(n);
    for (auto& e : pack.entries) {
      if (!GetEntry(&r, &e, &why)) return bad(why);
      if (e.offset + e.stored_length > pack.pack_size) return bad("an entry lies outside its pack");
    }
  }
  if (!r.done()) return bad("trailing bytes");
  return packs;
}

}  // namespace cairn::objstore
