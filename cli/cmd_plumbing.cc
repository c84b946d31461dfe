// SPDX-License-Identifier: MIT
//
// rev-parse and hash-object: plumbing for scripts.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <iostream>
#include <optional>

#include "cli/commands.h"
#include "objstore/file_chunks.h"
#include "repo/blob_writer.h"

namespace cairn::cli {
namespace {

using nlohmann::json;
using objstore::EntryType;
using objstore::TreeEntry;
using repo::Repository;

// --- plumbing ---

int RunRevParse(Context& ctx, const std::vector<std::string>& revs) {
  if (revs.empty()) return ctx.Fail(Status::InvalidArgument("rev-parse needs a revision: cairn rev-parse REV..."));
  CAIRN_OPEN_OR_FAIL(ctx, r);
  json arr = json::array();
  for (const auto& rev : revs) {
    auto id = r.ResolveRevision(rev);
    if (!id.ok()) return ctx.Fail(id.status());
    if (ctx.g().json) {
      arr.push_back(id->ToHex());
    } else {
      std::cout << id->ToHex() << "\n";
    }
  }
  if (ctx.g().json) std::cout << Dump(arr) << "\n";
  return kExitOk;
}

struct HashObjectCmd {
  std::vector<std::string> files;
  bool write = false;
};

int RunHashObject(Context& ctx, const HashObjectCmd& o) {
  if (o.files.empty()) return ctx.Fail(Status::InvalidArgument("hash-object needs a file: cairn hash-object [-w] FILE..."));
  CAIRN_OPEN_OR_FAIL(ctx, r);
  std::optional<repo::BlobWriter> writer;
  if (o.write) writer.emplace(&r, 0);
  json arr = json::array();
  std::string buf;
  for (const auto& f : o.files) {
    int fd = ::open(f.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ctx.Fail(Status::FromErrno(errno, "cannot open '" + f + "'"));
    struct stat st;
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      return ctx.Fail(Status::InvalidArgument("'" + f + "' is not a regular file"));
    }
    std::vector<ObjectId> chunks;
    uint64_t size = 0;
    bool read_error;
    Status s = objstore::ChunkFd(fd, r.config().chunker, r.hasher(), &buf, [&](std::string_view chunk, const ObjectId& id) -> Status {
      chunks.push_back(id);
      size += chunk.size();
      if (!writer) return Status::OK();
      auto added = writer->Add(objstore::BlobType::kData, id, chunk);
      return added.ok() ? Status::OK() : added.status();
    }, &read_error);
    ::close(fd);
    if (!s.ok()) return ctx.Fail(s.WithContext("'" + f + "'"));
    ObjectId id = objstore::FileContentId(chunks);
    if (ctx.g().json) {
      json cj = json::array();
      for (const auto& c : chunks) cj.push_back(c.ToHex());
      arr.push_back({{"path", f}, {"id", id.ToHex()}, {"size", size}, {"chunks", cj}, {"written", o.write}});
    } else {
      std::cout << id.ToHex() << "  " << f << "\n";
    }
  }
  if (writer) {
    Status s = writer->Flush();
    if (!s.ok()) return ctx.Fail(s);
  }
  if (ctx.g().json) std::cout << Dump(arr) << "\n";
  return kExitOk;
}

}  // namespace

void RegisterRevParse(CLI::App& app, Context& ctx, Action* action) {
  auto revs = std::make_shared<std::vector<std::string>>();
  auto* c_rev = app.add_subcommand("rev-parse", "print the full ids of revisions");
  c_rev->add_option("REV", *revs, "REV...");
  c_rev->callback([&ctx, action, revs] { *action = [&ctx, revs] { return RunRevParse(ctx, *revs); }; });
}

void RegisterHashObject(CLI::App& app, Context& ctx, Action* action) {
  auto ho = std::make_shared<HashObjectCmd>();
  auto* c_ho = app.add_subcommand("hash-object", "the content id cairn gives a file");
  c_ho->add_option("FILE", ho->files, "FILE...");
  c_ho->add_flag("-w", ho->write, "also store the file's chunks");
  c_ho->callback([&ctx, action, ho] { *action = [&ctx, ho] { return RunHashObject(ctx, *ho); }; });
}

}  // namespace cairn::cli
