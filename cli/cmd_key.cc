// SPDX-License-Identifier: MIT
//
// key: the key slots of an encrypted repository (generate, list, add,
// passwd, remove); show-config: the repository's public parameters.

#include <iostream>

#include "cli/commands.h"
#include "cli/password.h"
#include "objstore/snapshot.h"
#include "repo/keyring.h"

namespace cairn::cli {
namespace {

using nlohmann::json;
using objstore::SlotKind;
using repo::Repository;

struct KeyOptions {
  std::string file;               // key generate FILE
  std::string id;                 // key remove ID
  std::string new_key_file;       // key add --key-file K
  std::string new_password_file;  // key add / passwd
  bool write_only = false;         // key add --write-only
  std::string host;               // key add --host
  uint64_t kdf_ops = objstore::crypto::kDefaultOps;
  uint64_t kdf_memory_mib = objstore::crypto::kDefaultMem >> 20;
  ApprovalFlags approval;
};

int RunGenerate(Context& ctx, const KeyOptions& o) {
  Status st = repo::GenerateKeyFile(o.file);
  if (!st.ok()) return ctx.Fail(st);
  if (ctx.g().json) {
    std::cout << Dump(json{{"key_file", o.file}}) << "\n";
  } else if (!ctx.g().quiet) {
    std::cout << "wrote key file " << o.file << " (mode 0600); keep a copy somewhere safe\n";
  }
  return kExitOk;
}

json SlotJson(const repo::SlotListing& s) {
  json j{{"id", s.id},
         {"kind", objstore::SlotKindName(s.kind)},
         {"access", objstore::SlotAccessName(s.access)},
         {"host", s.host},
         {"user", s.user},
         {"created", objstore::FormatTime(s.created_ns)},
         {"current", s.current}};
  if (s.kind == SlotKind::kPassword) j["kdf"] = {{"opslimit", s.opslimit}, {"memlimit", s.memlimit}};
  return j;
}

int RunList(Context& ctx) {
  CAIRN_OPEN_OR_FAIL(ctx, r);
  std::vector<std::string> problems;
  auto slots = repo::ListKeySlots(r, &problems);
  if (!slots.ok()) return ctx.Fail(slots.status());
  for (const auto& p : problems) ctx.Warn(p);
  if (ctx.g().json) {
    json arr = json::array();
    for (const auto& s : *slots) arr.push_back(SlotJson(s));
    std::cout << Dump(json{{"keys", arr}}) << "\n";
    return kExitOk;
  }
  std::printf("  %-16s  %-8s  %-10s  %-24s  %s\n", "ID", "KIND", "ACCESS", "USER@HOST", "CREATED");
  for (const auto& s : *slots) {
    std::printf("%c %-16s  %-8s  %-10s  %-24s  %s\n", s.current ? '*' : ' ', s.id.c_str(),
                s.kind == SlotKind::kPassword ? "password" : "key file", objstore::SlotAccessName(s.access),
                (s.user + "@" + s.host).c_str(), objstore::FormatTime(s.created_ns).c_str());
  }
  return kExitOk;
}

// The new key of `key add` / `key passwd`.
Result<repo::NewKey> NewKeyFrom(const KeyOptions& o, bool allow_key_file) {
  repo::NewKey k;
  k.access = o.write_only ? objstore::SlotAccess::kWriteOnly : objstore::SlotAccess::kFull;
  k.host = o.host;
  k.opslimit = o.kdf_ops;
  k.memlimit = o.kdf_memory_mib << 20;
  if (allow_key_file && !o.new_key_file.empty()) {
    k.kind = SlotKind::kKeyFile;
    CAIRN_ASSIGN_OR_RETURN(k.secret, repo::ReadKeyFile(o.new_key_file));
    return k;
  }
  CAIRN_ASSIGN_OR_RETURN(k.secret, GetNewPassword(o.new_password_file));
  return k;
}

int RunAdd(Context& ctx, const KeyOptions& o) {
  CAIRN_OPEN_OR_FAIL(ctx, r);
  if (!r.encrypted()) return ctx.Fail(Status::InvalidArgument("repository '" + r.location() + "' is not encrypted; it has no keys"));
  if (!o.host.empty() && !o.write_only) {
    return ctx.Fail(Status::InvalidArgument("--host names the host of a write-only key; add --write-only"));
  }
  if (o.write_only && !r.codec().keys()->has_box()) {
    return ctx.Fail(Status::NotSupported(
        "repository '" + r.location() + "' has format " + std::to_string(r.config().format) +
        ", which cannot have write-only keys (it has no box key); copy its snapshots into a new repository "
        "('cairn init NEW', 'cairn copy --to NEW') and add the key there"));
  }
  auto key = NewKeyFrom(o, true);
  if (!key.ok()) return ctx.Fail(key.status());
  const std::string what = std::string(o.write_only ? "write-only " : "") + objstore::SlotKindName(key->kind);
  repo::Operation op{"add a " + what + " key slot",
                     o.write_only ? "  whoever holds the new key can add backups and list snapshots, not read them"
                                  : "  whoever holds the new key can open the repository",
                     repo::Risk::kMedium, "key add"};
  op.affected = {{"kind", objstore::SlotKindName(key->kind)}, {"access", objstore::SlotAccessName(key->access)}};
  TerminalApprover approver(ctx, r, o.approval);
  if (Status st = repo::RequireApproval(&approver, op); !st.ok()) return ctx.Fail(st);
  auto id = repo::AddKeySlot(r, *key);
  if (!id.ok()) return ctx.Fail(id.status());
  if (ctx.g().json) {
    std::cout << Dump(json{{"id", *id},
                           {"kind", objstore::SlotKindName(key->kind)},
                           {"access", objstore::SlotAccessName(key->access)}})
              << "\n";
  } else if (!ctx.g().quiet) {
    std::cout << "added key slot " << *id << " (" << what << ")\n";
  }
  return kExitOk;
}

int RunPasswd(Context& ctx, const KeyOptions& o) {
  CAIRN_OPEN_OR_FAIL(ctx, r);
  if (!r.encrypted()) return ctx.Fail(Status::InvalidArgument("repository '" + r.location() + "' is not encrypted; it has no password"));
  std::string old = r.key_slot();
  auto key = NewKeyFrom(o, false);
  if (!key.ok()) return ctx.Fail(key.status());
  repo::Operation op{"change the password of key slot '" + old + "'",
                     "  a new slot replaces it; the old password no longer opens the repository", repo::Risk::kMedium,
                     "key passwd"};
  op.affected = {{"slot", old}};
  TerminalApprover approver(ctx, r, o.approval);
  if (Status st = repo::RequireApproval(&approver, op); !st.ok()) return ctx.Fail(st);
  auto id = repo::ChangePassword(r, *key);
  if (!id.ok()) return ctx.Fail(id.status());
  if (ctx.g().json) {
    std::cout << Dump(json{{"id", *id}, {"replaced", old}}) << "\n";
  } else if (!ctx.g().quiet) {
    std::cout << "changed the password: key slot " << old << " replaced by " << *id << "\n";
  }
  return kExitOk;
}

int RunRemove(Context& ctx, const KeyOptions& o) {
  CAIRN_OPEN_OR_FAIL(ctx, r);
  if (!r.encrypted()) return ctx.Fail(Status::InvalidArgument("repository '" + r.location() + "' is not encrypted; it has no keys"));
  TerminalApprover approver(ctx, r, o.approval);
  Status st = repo::RemoveKeySlot(r, o.id, &approver);
  if (!st.ok()) return ctx.Fail(st);
  if (ctx.g().json) {
    std::cout << Dump(json{{"removed", o.id}}) << "\n";
  } else if (!ctx.g().quiet) {
    std::cout << "removed key slot " << o.id << "\n";
  }
  return kExitOk;
}

int RunShowConfig(Context& ctx) {
  CAIRN_OPEN_OR_FAIL(ctx, r);
  const auto& c = r.config();
  json j{{"repository", r.location()},
         {"id", c.repo_id.ToHex()},
         {"format", c.format},
         {"encryption", c.encryption},
         {"id_hash", r.hasher().Name()},
         {"chunker",
          {{"algorithm", "fastcdc-gear64"},
           {"min_size", c.chunker.min_size},
           {"avg_size", c.chunker.avg_size},
           {"max_size", c.chunker.max_size},
           {"seed", c.encrypted() ? "keyed" : "public"}}},
         {"compression", {{"algorithm", "zstd"}, {"level", c.compression_level}}},
         {"pack_size", c.pack_size},
         {"cache", r.cache_dir()}};
  if (r.encrypted()) j["key_slot"] = r.key_slot();
  if (ctx.g().json) {
    std::cout << Dump(j) << "\n";
    return kExitOk;
  }
  std::printf("repository   %s\nid           %s\nformat       %d\nencryption   %s\nid hash      %s\n",
              r.location().c_str(), c.repo_id.ToHex().c_str(), c.format, c.encryption.c_str(), r.hasher().Name());
  std::printf("chunker      fastcdc-gear64 min %u avg %u max %u, %s seed\n", c.chunker.min_size, c.chunker.avg_size,
              c.chunker.max_size, c.encrypted() ? "keyed" : "public");
  std::printf("compression  zstd level %d\npack size    %u\ncache        %s\n", c.compression_level, c.pack_size,
              r.cache_dir().c_str());
  if (r.encrypted()) std::printf("key slot     %s (in use)\n", r.key_slot().c_str());
  return kExitOk;
}

void KdfFlags(CLI::App* c, KeyOptions* o) {
  c->add_option("--kdf-ops", o->kdf_ops, "Argon2id passes for the new password (2-10, default 3)")
      ->check(CLI::Range(2, 10));
  c->add_option("--kdf-memory", o->kdf_memory_mib, "Argon2id memory for the new password in MiB (64-2048, default 256)")
      ->check(CLI::Range(64, 2048));
}

}  // namespace

void RegisterKey(CLI::App& app, Context& ctx, Action* action) {
  auto o = std::make_shared<KeyOptions>();
  auto* c_key = app.add_subcommand("key", "manage the keys (passwords, key files) of an encrypted repository");
  c_key->require_subcommand(1);

  auto* gen = c_key->add_subcommand("generate", "write a new key file (for init or key add --key-file)");
  gen->add_option("FILE", o->file, "where to write it (never over an existing file)")->required();
  gen->callback([&ctx, action, o] { *action = [&ctx, o] { return RunGenerate(ctx, *o); }; });

  auto* list = c_key->add_subcommand("list", "list the key slots; * marks the one in use");
  list->callback([&ctx, action] { *action = [&ctx] { return RunList(ctx); }; });

  auto* add = c_key->add_subcommand("add", "add a password (asked, or --new-password-file) or a key file");
  add->add_option("--key-file", o->new_key_file, "add this key file instead of a password");
  add->add_option("--new-password-file", o->new_password_file, "read the new password from FILE");
  add->add_flag("--write-only", o->write_only,
                "a host key that can back up and list snapshots, but not restore, read content, forget, prune or "
                "delete");
  add->add_option("--host", o->host, "the host the write-only key is for (recorded in key list)");
  KdfFlags(add, o.get());
  AddApprovalFlags(add, &o->approval);
  add->callback([&ctx, action, o] { *action = [&ctx, o] { return RunAdd(ctx, *o); }; });

  auto* passwd = c_key->add_subcommand("passwd", "change the password of the key slot in use");
  passwd->add_option("--new-password-file", o->new_password_file, "read the new password from FILE");
  KdfFlags(passwd, o.get());
  AddApprovalFlags(passwd, &o->approval);
  passwd->callback([&ctx, action, o] { *action = [&ctx, o] { return RunPasswd(ctx, *o); }; });

  auto* rm = c_key->add_subcommand("remove", "remove a key slot (approval required; never the last one)");
  rm->add_option("ID", o->id, "the slot's id (from key list)")->required();
  AddApprovalFlags(rm, &o->approval);
  rm->callback([&ctx, action, o] { *action = [&ctx, o] { return RunRemove(ctx, *o); }; });

  auto* show = app.add_subcommand("show-config", "show the repository's parameters (format, encryption, chunker)");
  show->callback([&ctx, action] { *action = [&ctx] { return RunShowConfig(ctx); }; });
}

}  // namespace cairn::cli
