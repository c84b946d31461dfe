// SPDX-License-Identifier: MIT
//
// ls, cat, ls-tree and cat-file: the content of snapshots, trees and
// objects.

#include <cstdio>
#include <functional>
#include <iostream>
#include <optional>

#include "cli/commands.h"
#include "objstore/file_chunks.h"
#include "repo/file_reader.h"
#include "repo/objects.h"

namespace cairn::cli {
namespace {

using nlohmann::json;
using objstore::EntryType;
using objstore::TreeEntry;
using repo::Repository;

// --- ls ---

struct LsCmd {
  std::string spec;
  bool long_form = false;
};

int RunLs(Context& ctx, const LsCmd& o) {
  if (o.spec.empty()) return ctx.Fail(Status::InvalidArgument("ls needs a revision: cairn ls REV[:PATH]"));
  CAIRN_OPEN_OR_FAIL(ctx, r);
  auto t = r.ResolvePath(o.spec);
  if (!t.ok()) return ctx.Fail(t.status());
  json arr = json::array();
  auto emit = [&](const std::string& path, const objstore::TreeEntry& e) {
    if (ctx.g().json) {
      arr.push_back(EntryJson(path, e));
      return;
    }
    std::string shown = path + (e.type == EntryType::kDir ? "/" : "");
    if (o.long_form) {
      std::string owner = e.user.empty() ? std::to_string(e.uid) : e.user;
      std::string group = e.group.empty() ? std::to_string(e.gid) : e.group;
      char buf[96];
      std::snprintf(buf, sizeof(buf), "%s %-8s %-8s %12llu %s ", ModeString(e).c_str(), owner.c_str(),
                    group.c_str(), static_cast<unsigned long long>(e.size), FormatTimeNs(e.mtime_ns).c_str());
      std::cout << buf << shown;
      if (e.type == EntryType::kSymlink) std::cout << " -> " << e.link_target;
      if (e.type == EntryType::kHardlink) std::cout << " => " << e.link_target;
      std::cout << "\n";
    } else {
      std::cout << shown << "\n";
    }
  };
  Status st;
  std::function<Status(const ObjectId&, const std::string&)> walk = [&](const ObjectId& id,
                                                                       const std::string& prefix) -> Status {
    CAIRN_ASSIGN_OR_RETURN(objstore::Tree tree, r.ReadTree(id));
    for (const auto& e : tree.entries) {
      std::string p = prefix.empty() ? e.name : prefix + "/" + e.name;
      emit(p, e);
      if (e.type == EntryType::kDir) {
        CAIRN_RETURN_IF_ERROR(objstore::CheckTreePath(p));
        CAIRN_RETURN_IF_ERROR(walk(e.subtree, p));
      }
    }
    return Status::OK();
  };
  if (t->entry.type == EntryType::kDir) {
    st = walk(t->entry.subtree, t->path);
  } else {
    emit(t->path, t->entry);
  }
  if (!st.ok()) return ctx.Fail(st);
  if (ctx.g().json) std::cout << Dump(arr) << "\n";
  return kExitOk;
}

// --- cat ---

// Writes each piece to stdout as it is read; a closed or full stdout stops it.
Status WriteOut(std::string_view piece) {
  std::cout.write(piece.data(), static_cast<std::streamsize>(piece.size()));
  if (!std::cout) return Status::IOError("cannot write to standard output");
  return Status::OK();
}

int RunCat(Context& ctx, const std::string& spec) {
  if (spec.empty()) return ctx.Fail(Status::InvalidArgument("cat needs a file: cairn cat REV:PATH"));
  CAIRN_OPEN_OR_FAIL(ctx, r);
  auto t = r.ResolvePath(spec);
  if (!t.ok()) return ctx.Fail(t.status());
  const objstore::TreeEntry& e = t->entry;
  if (e.type != EntryType::kFile && e.type != EntryType::kHardlink) {
    return ctx.Fail(Status::InvalidArgument("'" + t->path + "' is a " + objstore::EntryTypeName(e.type) +
                                            ", not a file; use 'cairn ls' to list it"));
  }
  Status st = repo::ReadEntryContent(r, e, t->path, WriteOut);
  std::cout.flush();
  if (!st.ok()) return ctx.Fail(st);
  return kExitOk;
}

struct CatFileCmd {
  std::string object;
  bool type = false, size = false, pretty = false;
};

std::string TreeLine(const Repository& r, const TreeEntry& e, const std::string& path, bool long_form) {
  std::string type = objstore::EntryTypeName(e.type);
  ObjectId id;
  if (e.type == EntryType::kDir) id = e.subtree;
  else if (e.type == EntryType::kFile || e.type == EntryType::kHardlink) id = objstore::FileContentId(e.chunks);
  else if (e.type == EntryType::kSymlink) id = r.hasher().Id(e.link_target);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04o %-8s ", e.mode, type.c_str());
  std::string out = buf + id.ToHex();
  if (long_form) {
    std::snprintf(buf, sizeof(buf), " %12llu", static_cast<unsigned long long>(e.size));
    out += buf;
  }
  return out + "\t" + path;
}

int RunCatFile(Context& ctx, const CatFileCmd& o) {
  if (o.object.empty()) {
    return ctx.Fail(Status::InvalidArgument("cat-file needs an object: cairn cat-file (-t | -s | -p) OBJECT"));
  }
  if (o.type + o.size + o.pretty != 1) {
    return ctx.Fail(Status::InvalidArgument("cat-file needs exactly one of -t, -s, -p: cairn cat-file (-t | -s | -p) OBJECT"));
  }
  CAIRN_OPEN_OR_FAIL(ctx, r);
  auto obj = repo::FindObject(r, o.object);
  if (!obj.ok()) return ctx.Fail(obj.status());
  if (o.type) {
    std::cout << (ctx.g().json ? Dump(json{{"type", obj->type}}) : obj->type) << "\n";
    return kExitOk;
  }
  if (o.size) {
    std::cout << (ctx.g().json ? Dump(json{{"size", obj->size}}) : std::to_string(obj->size)) << "\n";
    return kExitOk;
  }
  if (obj->type == "snapshot") {
    auto s = r.ReadStoredSnapshot(*obj->id);
    if (!s.ok()) return ctx.Fail(s.status());
    std::cout << SnapshotJson(*obj->id, *s).dump(2, ' ', false, json::error_handler_t::replace) << "\n";
  } else if (obj->type == "tree") {
    auto t = r.ReadTree(*obj->id);
    if (!t.ok()) return ctx.Fail(t.status());
    if (ctx.g().json) {
      json arr = json::array();
      for (const auto& e : t->entries) arr.push_back(EntryJson(e.name, e));
      std::cout << Dump(arr) << "\n";
    } else {
      for (const auto& e : t->entries) std::cout << TreeLine(r, e, e.name, true) << "\n";
    }
  } else if (obj->type == "chunk") {
    auto d = r.ReadBlob(*obj->id);
    if (!d.ok()) return ctx.Fail(d.status());
    std::cout.write(d->data(), static_cast<std::streamsize>(d->size()));
  } else if (obj->entry) {
    Status st = repo::ReadEntryContent(r, *obj->entry, o.object, WriteOut);
    if (!st.ok()) {
      std::cout.flush();
      return ctx.Fail(st);
    }
  }
  std::cout.flush();
  return kExitOk;
}

struct LsTreeCmd {
  std::string spec;
  bool recursive = false, long_form = false;
};

int RunLsTree(Context& ctx, const LsTreeCmd& o) {
  if (o.spec.empty()) return ctx.Fail(Status::InvalidArgument("ls-tree needs a revision: cairn ls-tree [-r] [-l] REV[:PATH]"));
  CAIRN_OPEN_OR_FAIL(ctx, r);
  auto t = r.ResolvePath(o.spec);
  if (!t.ok()) return ctx.Fail(t.status());
  json arr = json::array();
  auto emit = [&](const TreeEntry& e, const std::string& path) {
    if (ctx.g().json) {
      json j = EntryJson(path, e);
      j["id"] = TreeLine(r, e, "", false).substr(14, 64);
      arr.push_back(std::move(j));
    } else {
      std::cout << TreeLine(r, e, path, o.long_form) << "\n";
    }
  };
  if (t->entry.type != EntryType::kDir) {
    emit(t->entry, t->path);
  } else {
    std::function<Status(const ObjectId&, const std::string&)> walk = [&](const ObjectId& id,
                                                                         const std::string& prefix) -> Status {
      CAIRN_ASSIGN_OR_RETURN(objstore::Tree tree, r.ReadTree(id));
      for (const auto& e : tree.entries) {
        std::string p = prefix.empty() ? e.name : prefix + "/" + e.name;
        if (o.recursive && e.type == EntryType::kDir) {
          CAIRN_RETURN_IF_ERROR(objstore::CheckTreePath(p));
          CAIRN_RETURN_IF_ERROR(walk(e.subtree, p));
        } else {
          emit(e, p);
        }
      }
      return Status::OK();
    };
    Status st = walk(t->entry.subtree, t->path);
    if (!st.ok()) return ctx.Fail(st);
  }
  if (ctx.g().json) std::cout << Dump(arr) << "\n";
  return kExitOk;
}

}  // namespace

void RegisterLs(CLI::App& app, Context& ctx, Action* action) {
  auto ls = std::make_shared<LsCmd>();
  auto* c_ls = app.add_subcommand("ls", "list the files of a snapshot");
  c_ls->add_option("REV", ls->spec, "REV or REV:PATH");
  c_ls->add_flag("-l,--long", ls->long_form, "mode, owner, size and mtime");
  c_ls->callback([&ctx, action, ls] { *action = [&ctx, ls] { return RunLs(ctx, *ls); }; });
}

void RegisterCat(CLI::App& app, Context& ctx, Action* action) {
  auto cat_spec = std::make_shared<std::string>();
  auto* c_cat = app.add_subcommand("cat", "print one file of a snapshot");
  c_cat->add_option("SPEC", *cat_spec, "REV:PATH");
  c_cat->callback([&ctx, action, cat_spec] { *action = [&ctx, cat_spec] { return RunCat(ctx, *cat_spec); }; });
}

void RegisterCatFile(CLI::App& app, Context& ctx, Action* action) {
  auto cf = std::make_shared<CatFileCmd>();
  auto* c_cf = app.add_subcommand("cat-file", "type, size or content of any object");
  c_cf->add_option("OBJECT", cf->object, "id, id prefix, REV or REV:PATH");
  c_cf->add_flag("-t", cf->type, "print the type (snapshot, tree, chunk, file, symlink, ...)");
  c_cf->add_flag("-s", cf->size, "print the size in bytes");
  c_cf->add_flag("-p", cf->pretty, "print the content, pretty-printed");
  c_cf->callback([&ctx, action, cf] { *action = [&ctx, cf] { return RunCatFile(ctx, *cf); }; });
}

void RegisterLsTree(CLI::App& app, Context& ctx, Action* action) {
  auto lt = std::make_shared<LsTreeCmd>();
  auto* c_lt = app.add_subcommand("ls-tree", "list a tree: mode, type, id and name");
  c_lt->add_option("REV", lt->spec, "REV or REV:PATH");
  c_lt->add_flag("-r", lt->recursive, "recurse into folders");
  c_lt->add_flag("-l,--long", lt->long_form, "add sizes");
  c_lt->callback([&ctx, action, lt] { *action = [&ctx, lt] { return RunLsTree(ctx, *lt); }; });
}

}  // namespace cairn::cli
