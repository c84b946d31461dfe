// SPDX-License-Identifier: MIT

#include "repo/objects.h"

#include <vector>

namespace cairn::repo {

using objstore::EntryType;

Result<Object> FindObject(const Repository& r, const std::string& spec) {
  Object o;
  if (spec.find(':') != std::string::npos) {
    CAIRN_ASSIGN_OR_RETURN(auto t, r.ResolvePath(spec));
    if (t.entry.type == EntryType::kDir) {
      o.type = "tree";
      o.id = t.entry.subtree;
      CAIRN_ASSIGN_OR_RETURN(auto loc, r.Locate(*o.id));
      o.size = loc ? loc->entry.raw_length : 0;
    } else {
      o.type = (t.entry.type == EntryType::kHardlink) ? "file" : objstore::EntryTypeName(t.entry.type);
      o.size = t.entry.type == EntryType::kSymlink ? t.entry.link_target.size() : t.entry.size;
      o.entry = t.entry;
    }
    return o;
  }
  std::vector<ObjectId> candidates;
  if (IsHexPrefix(spec) && spec.size() >= 4) {
    CAIRN_ASSIGN_OR_RETURN(auto snaps, r.index()->SnapshotsWithPrefix(spec));
    CAIRN_ASSIGN_OR_RETURN(auto blobs, r.index()->BlobsWithPrefix(spec, 16));
    candidates = snaps;
    candidates.insert(candidates.end(), blobs.begin(), blobs.end());
    if (candidates.size() > 1) {
      std::string msg = "object id prefix '" + spec + "' is ambiguous; candidates:";
      for (const auto& c : candidates) msg += " " + c.ShortHex();
      return Status::Ambiguous(msg);
    }
  }
  if (candidates.empty()) {
    CAIRN_ASSIGN_OR_RETURN(ObjectId sid, r.ResolveRevision(spec));
    candidates.push_back(sid);
  }
  o.id = candidates[0];
  auto snap = r.ReadSnapshot(*o.id);
  if (snap.ok()) {
    o.type = "snapshot";
    CAIRN_ASSIGN_OR_RETURN(o.size, r.backend()->Stat(objstore::SnapshotName(*o.id)));
    return o;
  }
  if (!snap.status().IsNotFound()) return snap.status();
  CAIRN_ASSIGN_OR_RETURN(auto loc, r.Locate(*o.id));
  if (!loc) return Status::NotFound("no object " + spec);
  o.type = loc->entry.type == objstore::BlobType::kTree ? "tree" : "chunk";
  o.size = loc->entry.raw_length;
  return o;
}

}  // namespace cairn::repo
