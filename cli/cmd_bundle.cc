// SPDX-License-Identifier: MIT
//
// bundle create | verify | list | import | schema (repo/bundle.h;
// docs/cli.md#bundle).

#include <iostream>
#include <set>

#include "cli/commands.h"
#include "repo/bundle.h"

namespace cairn::cli {
namespace {

using nlohmann::json;
using repo::Repository;

std::string Short(const ObjectId& id) { return id.ToHex().substr(0, 12); }

// The bundle's own key flags: --bundle-key-file, --bundle-password-file,
// --bundle-password-command and CAIRN_BUNDLE_*.
void AddBundleKeyFlags(CLI::App* c, KeyFlags* k) {
  k->env_prefix = "CAIRN_BUNDLE_";
  k->flag_prefix = "--bundle-";
  c->add_option("--bundle-key-file", k->key_file, "seal or open the bundle with this key file (or CAIRN_BUNDLE_KEY_FILE)");
  c->add_option("--bundle-password-file", k->password_file,
                "read the bundle's password from FILE (or CAIRN_BUNDLE_PASSWORD_FILE)");
  c->add_option("--bundle-password-command", k->password_command,
                "run CMD for the bundle's password (or CAIRN_BUNDLE_PASSWORD_COMMAND)");
}

Result<repo::BundleKey> KeyFor(const KeyFlags& f, bool key_file, bool create) {
  repo::BundleKey k;
  const std::string file = KeyFileFromFlagOrEnv(f);
  if (key_file || (create && !file.empty())) {
    if (file.empty()) {
      return Status::InvalidArgument("the bundle is sealed with a key file; give it with --bundle-key-file");
    }
    k.key_file = true;
    CAIRN_ASSIGN_OR_RETURN(k.secret, repo::ReadKeyFile(file));
    return k;
  }
  if (!PasswordAvailable(f)) {
    return Status::InvalidArgument(
        "a bundle is sealed with its own password or key file; give --bundle-password-file, "
        "--bundle-password-command, CAIRN_BUNDLE_PASSWORD(_FILE|_COMMAND) or --bundle-key-file (there is no "
        "terminal to ask on)");
  }
  CAIRN_ASSIGN_OR_RETURN(k.secret, GetPassword(f, create, "bundle password"));
  if (k.secret.empty()) return Status::InvalidArgument("the bundle password is empty; choose a password");
  return k;
}

Result<std::unique_ptr<repo::Bundle>> OpenBundle(const std::string& file, const KeyFlags& keys) {
  return repo::Bundle::Open(file, [&](bool key_file) { return KeyFor(keys, key_file, false); });
}

// --- create ---

struct CreateCmd {
  std::string file;
  std::vector<std::string> revs;
  std::vector<std::string> since;
  bool all = false;
  KeyFlags keys;
};

int RunCreate(Context& ctx, CreateCmd& o) {
  if (o.revs.empty() && !o.all) {
    return ctx.Fail(Status::InvalidArgument("bundle create needs what to put in: cairn bundle create FILE REV... (or --all)"));
  }
  CAIRN_OPEN_OR_FAIL(ctx, r);
  repo::BundleCreateOptions opts;
  opts.cairn_version = kVersion;
  auto sel = SelectRevisions(r, o.revs, o.all);
  if (!sel.ok()) return ctx.Fail(sel.status());
  opts.snapshots = sel->snapshots;
  for (const auto& x : sel->refs) {
    (x.kind == "tags" ? opts.tags : opts.branches).push_back({x.name, x.snapshot, x.annotation});
  }
  for (const auto& rev : o.since) {
    auto id = r.ResolveRevision(rev);
    if (!id.ok()) return ctx.Fail(id.status().WithContext("--since"));
    opts.since.push_back(*id);
  }
  auto key = KeyFor(o.keys, false, true);
  if (!key.ok()) return ctx.Fail(key.status());
  std::atomic<uint64_t> read{0};
  opts.bytes_done = &read;
  Result<repo::BundleCreateResult> res = Status::IOError("not run");
  {
    ProgressLine line(ctx.Progress(), [&] { return "bundle: " + HumanBytes(read.load()) + " read"; });
    res = repo::CreateBundle(r, o.file, *key, opts);
  }
  if (!res.ok()) return ctx.Fail(res.status());
  ctx.audit().bytes = res->file_bytes;
  if (ctx.g().json) {
    std::cout << Dump(json{{"file", o.file},
                           {"snapshots", res->snapshots},
                           {"objects", res->objects},
                           {"object_bytes", res->object_bytes},
                           {"file_bytes", res->file_bytes},
                           {"required_snapshots", res->required_snapshots},
                           {"required_objects", res->required_objects},
                           {"hash", res->hash}})
              << "\n";
  } else if (!ctx.g().quiet) {
    std::cout << "wrote " << o.file << ": " << res->snapshots << " snapshot(s), " << res->objects << " objects ("
              << HumanBytes(res->object_bytes) << "), " << HumanBytes(res->file_bytes) << " in all";
    if (res->required_snapshots) {
      std::cout << "; thin: needs " << res->required_snapshots << " snapshot(s) and " << res->required_objects
                << " chunks the receiver has";
    }
    std::cout << "\n";
  }
  return kExitOk;
}

// --- verify and list ---

struct FileCmd {
  std::string file;
  KeyFlags keys;
};

json ListJson(const repo::Bundle& b) {
  json snaps = json::array();
  for (const auto& s : b.snapshots()) {
    json p = json::array();
    for (const auto& x : s.s.parents) p.push_back(x.ToHex());
    snaps.push_back({{"id", s.id.ToHex()},
                     {"time", objstore::FormatTime(s.s.time_ns)},
                     {"branch", s.s.branch},
                     {"message", s.s.message},
                     {"parents", p}});
  }
  json tags = json::array(), branches = json::array(), req = json::array();
  for (const auto& t : b.tags()) tags.push_back({{"name", t.name}, {"snapshot", t.snapshot.ToHex()}});
  for (const auto& t : b.branches()) branches.push_back({{"name", t.name}, {"snapshot", t.snapshot.ToHex()}});
  for (const auto& r : b.required_snapshots()) req.push_back(r.ToHex());
  const json& m = b.manifest();
  return json{{"schema_version", m["schema_version"]},
              {"cairn_version", m["cairn_version"]},
              {"created", m["created"]},
              {"created_by", m["created_by"]},
              {"snapshots", snaps},
              {"tags", tags},
              {"branches", branches},
              {"requires", {{"snapshots", req}, {"objects", b.required_objects().size()}}},
              {"objects", b.object_count()},
              {"object_bytes", b.object_bytes()},
              {"file_bytes", b.file_bytes()},
              {"hash", m["hash"]}};
}

int RunVerify(Context& ctx, FileCmd& o, bool list) {
  auto b = OpenBundle(o.file, o.keys);
  if (!b.ok()) return ctx.Fail(b.status());
  if (ctx.g().json) {
    json j = ListJson(**b);
    j["ok"] = true;
    std::cout << Dump(j) << "\n";
  } else if (!ctx.g().quiet) {
    if (list) {
      for (const auto& s : (*b)->snapshots()) {
        std::cout << Short(s.id) << "  " << objstore::FormatTime(s.s.time_ns) << "  " << s.s.branch << "  "
                  << s.s.message << "\n";
      }
      for (const auto& t : (*b)->tags()) std::cout << "tag " << t.name << " -> " << Short(t.snapshot) << "\n";
      for (const auto& t : (*b)->branches()) std::cout << "branch " << t.name << " -> " << Short(t.snapshot) << "\n";
      for (const auto& r : (*b)->required_snapshots()) std::cout << "requires " << Short(r) << "\n";
    }
    std::cout << o.file << ": a valid bundle: " << (*b)->snapshots().size() << " snapshot(s), "
              << (*b)->object_count() << " objects verified (" << HumanBytes((*b)->object_bytes()) << ")";
    if (!(*b)->required_snapshots().empty()) {
      std::cout << "; needs " << (*b)->required_snapshots().size() << " snapshot(s) of the receiver";
    }
    std::cout << "\n";
  }
  return kExitOk;
}

// --- import ---

struct ImportCmd {
  std::string file;
  std::string branch_prefix;
  bool dry_run = false;
  bool force = false;
  KeyFlags keys;
  ApprovalFlags approval;
};

int RunImport(Context& ctx, ImportCmd& o) {
  ctx.audit().operation = o.dry_run ? "bundle import dry-run" : "bundle import";
  CAIRN_OPEN_OR_FAIL(ctx, r);
  auto b = OpenBundle(o.file, o.keys);
  if (!b.ok()) return ctx.Fail(b.status());
  repo::ImportOptions opts;
  opts.branch_prefix = o.branch_prefix;
  opts.dry_run = o.dry_run;
  opts.force = o.force;
  std::atomic<uint64_t> read{0};
  opts.bytes_done = &read;
  TerminalApprover approver(ctx, r, o.approval);
  Result<repo::ImportResult> res = Status::IOError("not run");
  {
    ProgressLine line(ctx.Progress() && !o.dry_run, [&] { return "import: " + HumanBytes(read.load()) + " read"; });
    res = repo::ImportBundle(**b, &r, opts, &approver);
  }
  if (!res.ok()) {
    ctx.audit().error = res.status().message();
    return ctx.Fail(res.status());
  }
  size_t copied = 0;
  for (const auto& s : res->snapshots) {
    if (s.copied) {
      copied++;
      if (!s.target.IsZero()) ctx.audit().snapshots.push_back(s.target.ToHex());
    }
  }
  ctx.audit().bytes = res->written.stored_bytes;
  ctx.audit().affected = json{{"bundle", o.file}, {"hash", (*b)->manifest()["hash"]}};
  if (ctx.g().json) {
    json snaps = json::array(), refs = json::array();
    for (const auto& s : res->snapshots) {
      snaps.push_back({{"origin", s.source.ToHex()},
                       {"target", s.target.IsZero() ? json(nullptr) : json(s.target.ToHex())},
                       {"imported", s.copied}});
    }
    for (const auto& x : res->refs) {
      refs.push_back({{"ref", x.ref}, {"result", x.result},
                      {"target", x.target.IsZero() ? json(nullptr) : json(x.target.ToHex())}});
    }
    std::cout << Dump(json{{"bundle", o.file},
                           {"dry_run", o.dry_run},
                           {"imported", copied},
                           {"already_there", res->snapshots.size() - copied},
                           {"snapshots", snaps},
                           {"refs", refs},
                           {"new_chunks", res->written.new_chunks},
                           {"new_trees", res->written.new_trees},
                           {"stored_bytes", res->written.stored_bytes},
                           {"required_bytes", res->required_bytes}})
              << "\n";
  } else if (!ctx.g().quiet) {
    for (const auto& s : res->snapshots) {
      if (!s.copied) continue;
      if (o.dry_run) {
        std::cout << "would import " << Short(s.source) << "\n";
      } else {
        std::cout << "imported " << Short(s.source) << " as " << Short(s.target) << "\n";
      }
    }
    for (const auto& x : res->refs) std::cout << x.ref << ": " << x.result << "\n";
    std::cout << (o.dry_run ? "would import " : "imported ") << copied << " snapshot(s), "
              << res->snapshots.size() - copied << " already here";
    if (!o.dry_run) std::cout << "; stored " << HumanBytes(res->written.stored_bytes);
    std::cout << "\n";
  }
  return kExitOk;
}

}  // namespace

void RegisterBundle(CLI::App& app, Context& ctx, Action* action) {
  auto* c = app.add_subcommand("bundle", "one file that carries snapshots, tags and branches to another repository");
  c->require_subcommand(1);

  auto cr = std::make_shared<CreateCmd>();
  auto* c_create = c->add_subcommand("create", "write a bundle of REV... (with their ancestors)");
  c_create->add_option("FILE", cr->file, "the bundle file to write (must not exist)")->required();
  c_create->add_option("REV", cr->revs, "snapshots, branches or tags to carry");
  c_create->add_option("--since", cr->since, "a thin bundle: the receiver has BASE and its ancestors");
  c_create->add_flag("--all", cr->all, "every snapshot, branch and tag");
  AddBundleKeyFlags(c_create, &cr->keys);
  c_create->callback([&ctx, action, cr] { *action = [&ctx, cr] { return RunCreate(ctx, *cr); }; });

  auto ve = std::make_shared<FileCmd>();
  auto* c_verify = c->add_subcommand("verify", "check a bundle (no repository needed)");
  c_verify->add_option("FILE", ve->file, "the bundle file")->required();
  AddBundleKeyFlags(c_verify, &ve->keys);
  c_verify->callback([&ctx, action, ve] { *action = [&ctx, ve] { return RunVerify(ctx, *ve, false); }; });

  auto li = std::make_shared<FileCmd>();
  auto* c_list = c->add_subcommand("list", "the snapshots, tags and branches in a bundle, and what it needs");
  c_list->add_option("FILE", li->file, "the bundle file")->required();
  AddBundleKeyFlags(c_list, &li->keys);
  c_list->callback([&ctx, action, li] { *action = [&ctx, li] { return RunVerify(ctx, *li, true); }; });

  auto im = std::make_shared<ImportCmd>();
  auto* c_import = c->add_subcommand("import", "take a bundle's snapshots and refs into the repository");
  c_import->add_option("FILE", im->file, "the bundle file")->required();
  c_import->add_option("--branch-prefix", im->branch_prefix, "prepend P to the name of every branch imported");
  c_import->add_flag("-n,--dry-run", im->dry_run, "check everything against the repository; write nothing");
  c_import->add_flag("--force", im->force, "move refs that point elsewhere here (asks first, risk high)");
  AddBundleKeyFlags(c_import, &im->keys);
  AddApprovalFlags(c_import, &im->approval);
  c_import->callback([&ctx, action, im] { *action = [&ctx, im] { return RunImport(ctx, *im); }; });

  auto* c_schema = c->add_subcommand("schema", "print the JSON Schema of bundle manifests");
  c_schema->callback([action] {
    *action = [] {
      std::cout << repo::BundleManifestSchema();
      return kExitOk;
    };
  });
}

}  // namespace cairn::cli
