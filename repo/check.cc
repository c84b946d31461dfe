// SPDX-License-Identifier: MIT

#include "repo/check.h"

#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "objstore/compress.h"
#include "objstore/pack.h"

namespace cairn::repo {
namespace {

std::string Basename(const std::string& n) { return n.substr(n.rfind('/') + 1); }

}  // namespace

Result<CheckReport> Check(Repository* repo, const CheckOptions& opts) {
  CheckReport rep;
  auto* be = repo->backend();
  std::map<std::string, uint64_t> pack_files;
  CAIRN_RETURN_IF_ERROR(be->List("data/", [&](const std::string& n, uint64_t size) { pack_files[n] = size; }));

  // 1. Index files: each must be intact; collect where every blob lives.
  std::unordered_map<ObjectId, index::BlobLocation, ObjectIdHash> blobs;
  std::map<std::string, std::vector<objstore::PackEntry>> indexed;  // pack name -> entries
  std::vector<std::string> index_files;
  CAIRN_RETURN_IF_ERROR(be->List("index/", [&](const std::string& n, uint64_t) { index_files.push_back(n); }));
  for (const auto& n : index_files) {
    rep.index_files++;
    auto data = be->Get(n);
    if (!data.ok()) {
      rep.errors.push_back(data.status().message());
      continue;
    }
    if (Sha256(*data).ToHex() != Basename(n)) {
      rep.errors.push_back("index file '" + n + "' is damaged: its content does not match its name");
      continue;
    }
    auto packs = objstore::DecodeIndexFile(*data, n);
    if (!packs.ok()) {
      rep.errors.push_back(packs.status().message());
      continue;
    }
    for (auto& p : *packs) {
      std::string pname = objstore::PackName(p.pack_id);
      auto it = pack_files.find(pname);
      if (it == pack_files.end()) {
        rep.errors.push_back("pack '" + pname + "' named by index file '" + n + "' is missing");
        continue;
      }
      if (it->second != p.pack_size) {
        rep.errors.push_back("pack '" + pname + "' has " + std::to_string(it->second) +
                             " bytes, but index file '" + n + "' says " + std::to_string(p.pack_size) +
                             " (truncated?)");
        continue;
      }
      for (const auto& e : p.entries) blobs.emplace(e.id, index::BlobLocation{p.pack_id, e});
      indexed[pname] = std::move(p.entries);
    }
  }

  // 2. Packs: every header must parse and agree with the index.
  std::set<std::string> bad_packs;
  for (const auto& [name, size] : pack_files) {
    rep.packs++;
    auto pid = ObjectId::FromHex(Basename(name));
    if (!pid.ok() || objstore::PackName(*pid) != name) {
      rep.warnings.push_back("'" + name + "' is not named like a pack; ignored");
      continue;
    }
    auto entries = objstore::ReadPackHeader(be, name);
    if (!entries.ok()) {
      rep.errors.push_back(entries.status().message());
      bad_packs.insert(name);
      continue;
    }
    auto it = indexed.find(name);
    if (it == indexed.end()) {
      rep.warnings.push_back("pack '" + name +
                             "' is not in any index file (left by an interrupted backup; "
                             "'cairn repair index' adds it)");
      continue;
    }
    const auto& want = it->second;
    bool same = want.size() == entries->size();
    for (size_t i = 0; same && i < want.size(); i++) {
      const auto& a = want[i];
      const auto& b = (*entries)[i];
      same = a.id == b.id && a.offset == b.offset && a.stored_length == b.stored_length &&
             a.raw_length == b.raw_length && a.type == b.type && a.flags == b.flags;
    }
    if (!same) {
      rep.errors.push_back("pack '" + name + "' does not match its index entry; run 'cairn repair index'");
      bad_packs.insert(name);
    }
  }

  // 3. Snapshots and the trees they reach.
  std::vector<std::string> snap_files;
  CAIRN_RETURN_IF_ERROR(be->List("snapshots/", [&](const std::string& n, uint64_t) { snap_files.push_back(n); }));
  std::set<ObjectId> snapshot_ids;
  std::unordered_set<ObjectId, ObjectIdHash> seen_trees;
  std::unordered_set<ObjectId, ObjectIdHash> missing_chunks;
  for (const auto& n : snap_files) {
    rep.snapshots++;
    auto id = ObjectId::FromHex(Basename(n));
    if (!id.ok()) {
      rep.warnings.push_back("'" + n + "' is not named like a snapshot; ignored");
      continue;
    }
    auto snap = repo->ReadSnapshot(*id);
    if (!snap.ok()) {
      rep.errors.push_back(snap.status().message());
      continue;
    }
    snapshot_ids.insert(*id);
    std::vector<std::pair<ObjectId, std::string>> stack{{snap->tree, ""}};
    while (!stack.empty()) {
      auto [tid, path] = stack.back();
      stack.pop_back();
      if (!seen_trees.insert(tid).second) continue;
      rep.trees++;
      std::string where = "snapshot " + id->ShortHex() + " path '" + (path.empty() ? "/" : path) + "'";
      auto loc = blobs.find(tid);
      if (loc == blobs.end()) {
        rep.errors.push_back("tree " + tid.ShortHex() + " (" + where + ") is missing");
        continue;
      }
      auto blob = repo->ReadBlob(loc->second);
      if (!blob.ok()) {
        rep.errors.push_back(blob.status().message() + " (" + where + ")");
        continue;
      }
      auto tree = objstore::DecodeTree(*blob, tid);
      if (!tree.ok()) {
        rep.errors.push_back(tree.status().message() + " (" + where + ")");
        continue;
      }
      for (const auto& e : tree->entries) {
        std::string p = path.empty() ? e.name : path + "/" + e.name;
        if (e.type == objstore::EntryType::kDir) {
          stack.emplace_back(e.subtree, p);
        } else if (e.type == objstore::EntryType::kFile || e.type == objstore::EntryType::kHardlink) {
          for (const auto& c : e.chunks) {
            if (blobs.count(c) == 0 && missing_chunks.insert(c).second) {
              rep.errors.push_back("chunk " + c.ShortHex() + " of file '" + p + "' in snapshot " +
                                   id->ShortHex() + " is missing");
            }
          }
        }
      }
    }
  }

  // 4. Refs.
  for (const char* kind : {"branches", "tags"}) {
    auto refs = repo->ListRefs(kind);
    if (!refs.ok()) {
      rep.errors.push_back(refs.status().message());
      continue;
    }
    for (const auto& [name, id] : *refs) {
      if (snapshot_ids.count(id) == 0) {
        rep.errors.push_back(std::string(kind) + "/" + name + " points to snapshot " + id.ShortHex() +
                             ", which is missing or damaged");
      }
    }
  }

  // 5. Data: every pack read whole and every blob re-hashed.
  if (opts.read_data) {
    for (const auto& [name, size] : pack_files) {
      if (opts.packs_done) (*opts.packs_done)++;
      auto pid = ObjectId::FromHex(Basename(name));
      if (!pid.ok() || indexed.count(name) == 0) continue;
      auto data = be->Get(name);
      if (!data.ok()) {
        rep.errors.push_back(data.status().message());
        continue;
      }
      rep.bytes_read += data->size();
      if (Sha256(*data) != *pid) {
        rep.errors.push_back("pack '" + name + "' is damaged: its content does not match its name");
      }
      if (bad_packs.count(name)) continue;
      for (const auto& e : indexed[name]) {
        rep.blobs++;
        if (e.offset + e.stored_length > data->size()) continue;
        std::string_view stored(data->data() + e.offset, e.stored_length);
        std::string plain;
        if (e.flags & objstore::kFlagZstd) {
          auto out = objstore::Decompress(stored, e.raw_length);
          if (!out.ok()) {
            rep.errors.push_back(std::string(objstore::BlobTypeName(e.type)) + " " + e.id.ShortHex() +
                                 " in pack '" + name + "' is damaged: " + out.status().message());
            continue;
          }
          plain = std::move(out).value();
        } else {
          plain = stored;
        }
        if (Sha256(plain) != e.id) {
          rep.errors.push_back(std::string(objstore::BlobTypeName(e.type)) + " " + e.id.ShortHex() +
                               " in pack '" + name + "' is damaged: its content does not match its id");
        }
      }
    }
  }
  return rep;
}

Result<RepoStats> ComputeStats(Repository* repo) {
  RepoStats s;
  CAIRN_ASSIGN_OR_RETURN(auto snaps, repo->ListSnapshots());
  s.snapshots = snaps.size();
  for (const auto& [id, snap] : snaps) s.logical_bytes += snap.stats.bytes;
  CAIRN_RETURN_IF_ERROR(repo->index()->ForEachBlob([&](const ObjectId&, const index::BlobLocation& loc) {
    (loc.entry.type == objstore::BlobType::kTree ? s.trees : s.chunks)++;
    s.unique_raw_bytes += loc.entry.raw_length;
    s.stored_blob_bytes += loc.entry.stored_length;
  }));
  for (const char* dir : {"data/", "index/", "snapshots/"}) {
    CAIRN_RETURN_IF_ERROR(repo->backend()->List(dir, [&](const std::string&, uint64_t size) {
      s.repo_bytes += size;
      if (dir[0] == 'd') {
        s.pack_bytes += size;
        s.packs++;
      }
    }));
  }
  return s;
}

}  // namespace cairn::repo
