// SPDX-License-Identifier: MIT
//
// init: create a repository.

#include <cstdlib>
#include <iostream>
#include <optional>

#include "cli/commands.h"
#include "repo/location.h"

namespace cairn::cli {
namespace {

using nlohmann::json;
using objstore::EntryType;
using objstore::TreeEntry;
using repo::Repository;

// --- init ---

struct InitOptions {
  std::string path;
  int level = 3;
  uint32_t avg_chunk = 0;
  std::string encryption = "xchacha20-poly1305";
  uint64_t kdf_ops = objstore::crypto::kDefaultOps;
  uint64_t kdf_memory_mib = objstore::crypto::kDefaultMem >> 20;
  std::string chunker_from;  // a repository whose chunker the new one takes
};

// The chunker of the unencrypted repository at `where` (--chunker-from),
// read from its config alone.
Result<objstore::ChunkerParams> ChunkerOf(const std::string& where) {
  CAIRN_ASSIGN_OR_RETURN(repo::Location loc, repo::ParseLocation(where));
  CAIRN_ASSIGN_OR_RETURN(auto backend, repo::MakeBackend(loc));
  auto data = backend->Get("config");
  if (!data.ok()) {
    if (data.status().IsNotFound()) {
      return Status::NotFound("no repository at '" + where + "' (--chunker-from)");
    }
    return data.status().WithContext("--chunker-from '" + where + "'");
  }
  auto cfg = objstore::DecodeConfig(*data);
  if (!cfg.ok()) return cfg.status().WithContext("--chunker-from '" + where + "'");
  if (cfg->encrypted()) {
    return Status::InvalidArgument("--chunker-from: '" + where +
                                   "' is encrypted; its chunker comes from its keys and cannot be shared");
  }
  return cfg->chunker;
}

int RunInit(Context& ctx, const InitOptions& o) {
  auto where = repo::RepositoryFromFlagOrEnv(o.path.empty() ? ctx.g().repo : o.path);
  if (!where.ok()) return ctx.Fail(Status::InvalidArgument("init needs a path: cairn init PATH"));
  const std::string& path = *where;
  auto cfg = objstore::NewRepoConfig();
  cfg.compression_level = o.level;
  if (o.avg_chunk != 0) {
    auto params = objstore::ChunkerParamsForAverage(o.avg_chunk, cfg.chunker);
    if (!params.ok()) return ctx.Fail(params.status());
    cfg.chunker = *params;
  }
  if (!o.chunker_from.empty()) {
    if (o.avg_chunk != 0) return ctx.Fail(Status::InvalidArgument("give --avg-chunk or --chunker-from, not both"));
    if (o.encryption != "none") {
      return ctx.Fail(Status::InvalidArgument(
          "--chunker-from needs --encryption none: an encrypted repository's chunker comes from its own keys"));
    }
    auto params = ChunkerOf(o.chunker_from);
    if (!params.ok()) return ctx.Fail(params.status(), params.status().IsNotFound() ? kExitNoRepo : -1);
    cfg.chunker = *params;
  }
  if (o.encryption != "none" && o.encryption != objstore::kEncryptionSuite) {
    return ctx.Fail(Status::InvalidArgument("--encryption must be '" + std::string(objstore::kEncryptionSuite) +
                                            "' (the default) or 'none', not '" + o.encryption + "'"));
  }
  cfg.SetEncrypted(o.encryption != "none");
  std::optional<repo::NewKey> key;
  std::string key_file = KeyFileFromFlagOrEnv(ctx.g().keys);
  if (cfg.encrypted()) {
    // Refuse a location that cannot be a new repository before asking for
    // a password.
    auto loc = repo::ParseLocation(path);
    if (!loc.ok()) return ctx.Fail(loc.status());
    key.emplace();
    key->opslimit = o.kdf_ops;
    key->memlimit = o.kdf_memory_mib << 20;
    if (!key_file.empty()) {
      key->kind = objstore::SlotKind::kKeyFile;
      auto secret = repo::ReadKeyFile(key_file);
      if (!secret.ok()) return ctx.Fail(secret.status());
      key->secret = std::move(secret).value();
    } else {
      if (!PasswordAvailable(ctx.g().keys)) {
        return ctx.Fail(Status::InvalidArgument(
            "init: a new repository is encrypted and needs a password (--password-file, --password-command, "
            "CAIRN_PASSWORD...) or --key-file, and there is no terminal to ask on; --encryption none opts out"));
      }
      auto pw = GetPassword(ctx.g().keys, /*confirm=*/true, "password for the new repository");
      if (!pw.ok()) return ctx.Fail(pw.status());
      if (pw->empty()) return ctx.Fail(Status::InvalidArgument("the password is empty; choose a password"));
      key->secret = std::move(pw).value();
    }
  } else if (!ctx.g().keys.key_file.empty()) {
    return ctx.Fail(Status::InvalidArgument("--key-file makes no sense with --encryption none"));
  }
  Status st = Repository::Init(path, cfg, key ? &*key : nullptr);
  if (!st.ok()) return ctx.Fail(st);
  if (ctx.g().json) {
    std::cout << Dump(json{{"repository", path},
                           {"id", cfg.repo_id.ToHex()},
                           {"format", cfg.format},
                           {"encryption", cfg.encryption}})
              << "\n";
  } else if (!ctx.g().quiet) {
    std::cout << "created " << (cfg.encrypted() ? "encrypted" : "unencrypted") << " cairn repository "
              << cfg.repo_id.ShortHex() << " at " << path << "\n";
    if (cfg.encrypted()) {
      std::cout << "keep the " << (key_file.empty() ? "password" : "key file")
                << " safe: without it the data cannot be read by anyone, including you\n";
    }
  }
  return kExitOk;
}

}  // namespace

void RegisterInit(CLI::App& app, Context& ctx, Action* action) {
  auto init = std::make_shared<InitOptions>();
  auto* c_init = app.add_subcommand("init", "create a repository");
  c_init->add_option("PATH", init->path, "where to create it (default: -r or $CAIRN_REPO)");
  c_init->add_option("--compression-level", init->level, "zstd level 0-19 (0: store raw)")->check(CLI::Range(0, 19));
  c_init->add_option("--avg-chunk", init->avg_chunk, "average chunk size in bytes (power of two)");
  c_init->add_option("--chunker-from", init->chunker_from,
                     "take the chunker (sizes and seed) of this unencrypted repository, so that copy between "
                     "them keeps every id");
  c_init->add_option("--encryption", init->encryption,
                     "xchacha20-poly1305 (the default) or none (only on storage that is already encrypted)");
  c_init->add_option("--kdf-ops", init->kdf_ops, "Argon2id passes for the password (2-10, default 3)")
      ->check(CLI::Range(2, 10));
  c_init->add_option("--kdf-memory", init->kdf_memory_mib, "Argon2id memory for the password in MiB (64-2048, "
                                                           "default 256)")
      ->check(CLI::Range(64, 2048));
  c_init->callback([&ctx, action, init] { *action = [&ctx, init] { return RunInit(ctx, *init); }; });
}

}  // namespace cairn::cli
