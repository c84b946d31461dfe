// SPDX-License-Identifier: MIT

#include "objstore/tree.h"

#include <algorithm>

#include "objstore/core/bytes.h"

namespace cairn::objstore {
namespace {
constexpr uint8_t kTreeVersion = 1;
}

Status CheckTreePath(std::string_view path) {
  if (path.size() <= kMaxTreePath) return Status::OK();
  return Status::Corruption("folder '" + std::string(path.substr(0, 48)) + "…' (" + std::to_string(path.size()) +
                            " bytes of path) nests deeper than the " + std::to_string(kMaxTreePath) +
                            "-byte limit; cairn never writes such trees: the tree is damaged");
}

const char* EntryTypeName(EntryType t) {
  switch (t) {
    case EntryType::kFile: return "file";
    case EntryType::kDir: return "dir";
    case EntryType::kSymlink: return "symlink";
    case EntryType::kHardlink: return "hardlink";
    case EntryType::kFifo: return "fifo";
    case EntryType::kCharDevice: return "chardev";
    case EntryType::kBlockDevice: return "blockdev";
    case EntryType::kGitlink: return "gitlink";
  }
  return "unknown";
}

const TreeEntry* FindEntry(const Tree& tree, std::string_view name) {
  auto it = std::lower_bound(tree.entries.begin(), tree.entries.end(), name,
                             [](const TreeEntry& e, std::string_view n) { return e.name < n; });
  return it != tree.entries.end() && it->name == name ? &*it : nullptr;
}

bool GitCommitHex(std::string_view s) {
  if (s.size() != 40 && s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool ValidEntryName(std::string_view name) {
  return !name.empty() && name != "." && name != ".." &&
         name.find('/') == std::string_view::npos && name.find('\0') == std::string_view::npos;
}

std::string EncodeTree(const Tree& tree) {
  std::string out;
  PutU8(&out, kTreeVersion);
  PutVarint(&out, tree.entries.size());
  for (const auto& e : tree.entries) {
    PutBytes(&out, e.name);
    PutU8(&out, static_cast<uint8_t>(e.type));
    PutVarint(&out, e.mode);
    PutVarint(&out, e.uid);
    PutVarint(&out, e.gid);
    PutBytes(&out, e.user);
    PutBytes(&out, e.group);
    PutSignedVarint(&out, e.mtime_ns);
    PutVarint(&out, e.size);
    switch (e.type) {
      case EntryType::kFile:
        PutVarint(&out, e.chunks.size());
        for (const auto& c : e.chunks) out.append(c.view());
        break;
      case EntryType::kDir:
        out.append(e.subtree.view());
        break;
      case EntryType::kHardlink:
        PutVarint(&out, e.chunks.size());
        for (const auto& c : e.chunks) out.append(c.view());
        PutBytes(&out, e.link_target);
        break;
      case EntryType::kSymlink:
      case EntryType::kGitlink:
        PutBytes(&out, e.link_target);
        break;
      case EntryType::kCharDevice:
      case EntryType::kBlockDevice:
        PutVarint(&out, e.rdev);
        break;
      case EntryType::kFifo:
        break;
    }
  }
  return out;
}

Result<Tree> DecodeTree(std::string_view blob, const ObjectId& id) {
  auto bad = [&](const std::string& why) {
    return Status::Corruption("tree " + id.ShortHex() + " is damaged: " + why);
  };
  Reader r(blob);
  uint8_t version;
  uint64_t count;
  if (!r.GetU8(&version)) return bad("empty");
  if (version != kTreeVersion) {
    return Status::NotSupported("tree " + id.ShortHex() + " has format version " +
                                std::to_string(version) + "; upgrade cairn");
  }
  // Each entry takes at least 12 bytes, which bounds the count by the input.
  if (!r.GetVarint(&count) || count > r.remaining() / 12) return bad("bad entry count");
  Tree tree;
  tree.entries.resize(static_cast<size_t>(count));
  for (size_t i = 0; i < tree.entries.size(); i++) {
    TreeEntry& e = tree.entries[i];
    std::string_view name, user, group;
    uint8_t type;
    uint64_t mode, uid, gid;
    if (!r.GetBytes(&name) || !r.GetU8(&type) || !r.GetVarint(&mode) || !r.GetVarint(&uid) ||
        !r.GetVarint(&gid) || !r.GetBytes(&user) || !r.GetBytes(&group) ||
        !r.GetSignedVarint(&e.mtime_ns) || !r.GetVarint(&e.size)) {
      return bad("entry " + std::to_string(i) + " is truncated");
    }
    if (!ValidEntryName(name)) return bad("entry " + std::to_string(i) + " has an invalid name");
    if (i > 0 && !(tree.entries[i - 1].name < name)) {
      return bad("entries are not sorted or not unique at '" + std::string(name) + "'");
    }
    if (mode > 07777 || uid > UINT32_MAX || gid > UINT32_MAX) {
      return bad("entry '" + std::string(name) + "' has an invalid mode or owner");
    }
    e.name = name;
    e.mode = static_cast<uint32_t>(mode);
    e.uid = static_cast<uint32_t>(uid);
    e.gid = static_cast<uint32_t>(gid);
    e.user = user;
    e.group = group;
    if (type < 1 || type > 8) return bad("entry '" + e.name + "' has unknown type");
    e.type = static_cast<EntryType>(type);
    std::string_view raw;
    switch (e.type) {
      case EntryType::kFile:
      case EntryType::kHardlink: {
        uint64_t n;
        if (!r.GetVarint(&n) || n > r.remaining() / ObjectId::kSize) {
          return bad("entry '" + e.name + "' has a bad chunk list");
        }
        e.chunks.reserve(static_cast<size_t>(n));
        for (uint64_t c = 0; c < n; c++) {
          r.GetRaw(ObjectId::kSize, &raw);
          e.chunks.emplace_back(reinterpret_cast<const uint8_t*>(raw.data()));
        }
        if (n == 0 && e.size != 0) return bad("entry '" + e.name + "' has content but no chunks");
        if (e.type == EntryType::kHardlink) {
          if (!r.GetBytes(&raw) || raw.empty() || raw.find('\0') != std::string_view::npos) {
            return bad("entry '" + e.name + "' has an invalid link target");
          }
          // The other name of the file, as a path in the snapshot: relative,
          // each part a valid name (no '..', '.', empty part or leading '/').
          for (size_t at = 0; at <= raw.size();) {
            const size_t slash = std::min(raw.find('/', at), raw.size());
            if (!ValidEntryName(raw.substr(at, slash - at))) {
              return bad("hard link '" + e.name + "' has a target outside the snapshot ('" + std::string(raw) + "')");
            }
            at = slash + 1;
          }
          e.link_target = raw;
        }
        break;
      }
      case EntryType::kDir:
        if (!r.GetRaw(ObjectId::kSize, &raw)) return bad("entry '" + e.name + "' is truncated");
        e.subtree = ObjectId(reinterpret_cast<const uint8_t*>(raw.data()));
        break;
      case EntryType::kSymlink:
        if (!r.GetBytes(&raw) || raw.empty() || raw.find('\0') != std::string_view::npos) {
          return bad("entry '" + e.name + "' has an invalid link target");
        }
        e.link_target = raw;
        break;
      case EntryType::kGitlink:
        if (!r.GetBytes(&raw) || !GitCommitHex(raw)) return bad("entry '" + e.name + "' has an invalid git commit id");
        e.link_target = raw;
        break;
      case EntryType::kCharDevice:
      case EntryType::kBlockDevice:
        if (!r.GetVarint(&e.rdev)) return bad("entry '" + e.name + "' is truncated");
        break;
      case EntryType::kFifo:
        break;
    }
  }
  if (!r.done()) return bad("trailing bytes");
  return tree;
}

}  // namespace cairn::objstore
