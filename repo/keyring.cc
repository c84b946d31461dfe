// SPDX-License-Identifier: MIT

#include "repo/keyring.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "objstore/core/io.h"
#include "objstore/core/system.h"
#include "repo/repository.h"

namespace cairn::repo {
namespace {

using objstore::KeySlot;
using objstore::RepoKeys;
using objstore::SlotKind;
using objstore::crypto::SecretBytes;

constexpr std::string_view kKeysDir = "keys/";
// A key file is a few dozen bytes; anything much larger is not one.
constexpr size_t kMaxKeyFile = 4096;

std::string SlotName(const std::string& id) { return std::string(kKeysDir) + id; }

struct LoadedSlot {
  std::string name;
  KeySlot slot;
};

Result<std::vector<LoadedSlot>> LoadSlots(objstore::Backend* be, std::vector<std::string>* problems) {
  std::vector<std::string> names;
  CAIRN_RETURN_IF_ERROR(be->List(kKeysDir, [&](const std::string& n, uint64_t) { names.push_back(n); }));
  std::sort(names.begin(), names.end());
  std::vector<LoadedSlot> out;
  for (const auto& n : names) {
    auto data = be->Get(n);
    if (!data.ok()) {
      if (!data.status().IsNotFound()) problems->push_back(data.status().message());
      continue;
    }
    auto slot = objstore::DecodeKeySlot(*data, n);
    if (!slot.ok()) {
      problems->push_back(slot.status().message());
      continue;
    }
    if (SlotName(slot->id) != n) {
      problems->push_back("key slot '" + n + "' is damaged: it names itself '" + slot->id + "'");
      continue;
    }
    out.push_back({n, std::move(slot).value()});
  }
  return out;
}

// Writes `slot`, reads it back and opens it with `secret` before anyone may
// rely on it (a slot that does not open is removed again).
Status WriteVerifiedSlot(objstore::Backend* be, const KeySlot& slot, std::string_view secret,
                         const RepoKeys& keys) {
  const SecretBytes wrapped = keys.SlotSecret(slot.access);
  std::string name = SlotName(slot.id);
  CAIRN_RETURN_IF_ERROR(be->PutIfAbsent(name, objstore::EncodeKeySlot(slot)));
  auto back = be->Get(name);
  Status st = back.status();
  if (st.ok()) {
    auto decoded = objstore::DecodeKeySlot(*back, name);
    st = decoded.status();
    if (st.ok()) {
      auto master = objstore::UnwrapKeySlot(*decoded, secret, keys.repo_id());
      st = master.status();
      if (st.ok() && (!*master || !objstore::crypto::ConstantTimeEqual((*master)->view(), wrapped.view()))) {
        st = Status::Corruption("key slot '" + name + "' did not open after it was written");
      }
    }
  }
  if (!st.ok()) (void)be->Remove(name);
  return st;
}

objstore::SlotInfo ThisHost() {
  return {HostName(), UserName(::getuid()), NowNs()};
}

}  // namespace

Result<SecretBytes> ReadKeyFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Status::InvalidArgument("cannot read key file '" + path + "': " + std::strerror(errno));
  }
  std::string text(kMaxKeyFile + 1, '\0');
  ssize_t n = ::read(fd, text.data(), text.size());
  int err = errno;
  ::close(fd);
  if (n < 0) return Status::InvalidArgument("cannot read key file '" + path + "': " + std::strerror(err));
  text.resize(static_cast<size_t>(n));
  auto secret = objstore::ParseKeyFile(text, path);
  objstore::crypto::Wipe(&text);
  return secret;
}

Status GenerateKeyFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) {
      return Status::AlreadyExists("'" + path + "' exists; a key file is never overwritten (choose another name)");
    }
    return Status::FromErrno(errno, "cannot create key file '" + path + "'");
  }
  std::string text = objstore::NewKeyFileText();
  Status st = WriteAll(fd, text, path);
  objstore::crypto::Wipe(&text);
  if (st.ok() && ::fsync(fd) != 0) st = Status::FromErrno(errno, "cannot fsync '" + path + "'");
  ::close(fd);
  if (!st.ok()) ::unlink(path.c_str());
  return st;
}

Result<Unlocked> Unlock(objstore::Backend* be, const objstore::RepoConfig& config, const KeyAccess& access) {
  std::vector<std::string> problems;
  CAIRN_ASSIGN_OR_RETURN(std::vector<LoadedSlot> slots, LoadSlots(be, &problems));
  SlotKind kind = access.key_file.empty() ? SlotKind::kPassword : SlotKind::kKeyFile;
  std::vector<const LoadedSlot*> candidates;
  size_t foreign = 0;
  for (const auto& s : slots) {
    if (s.slot.repo_id != config.repo_id) {
      foreign++;
      problems.push_back("key slot '" + s.name + "' belongs to another repository, or is damaged");
    } else if (s.slot.kind == kind) {
      candidates.push_back(&s);
    }
  }
  std::string where = be->Location();
  auto none = [&](const std::string& why) {
    std::string msg = why;
    if (!problems.empty()) msg += " (" + problems.front() + ")";
    return Status::WrongKey(msg);
  };
  if (candidates.empty()) {
    if (slots.empty() && problems.empty()) {
      return Status::Corruption("repository '" + where + "' is encrypted but has no key slots (keys/ is empty)");
    }
    if (foreign == slots.size() && problems.size() == foreign) {
      return Status::Corruption("no key slot of repository '" + where +
                                "' belongs to the id in its config: the config is damaged, or keys/ is another "
                                "repository's");
    }
    return none(kind == SlotKind::kKeyFile
                    ? "repository '" + where + "' has no key-file slot; give its password instead of " + access.flag_prefix + "key-file"
                    : "repository '" + where + "' has no password slot; open it with " + access.flag_prefix + "key-file");
  }
  SecretBytes secret;
  if (kind == SlotKind::kKeyFile) {
    CAIRN_ASSIGN_OR_RETURN(secret, ReadKeyFile(access.key_file));
  } else {
    if (!access.password) {
      return Status::InvalidArgument("repository '" + where +
                                     "' is encrypted; give its password (" + access.flag_prefix + "password-file, ...) or " +
                                     access.flag_prefix + "key-file");
    }
    CAIRN_ASSIGN_OR_RETURN(secret, access.password());
  }
  for (const LoadedSlot* s : candidates) {
    CAIRN_ASSIGN_OR_RETURN(std::optional<SecretBytes> master,
                           objstore::UnwrapKeySlot(s->slot, secret.view(), config.repo_id));
    if (master) {
      Unlocked u;
      if (s->slot.access == objstore::SlotAccess::kWriteOnly) {
        if (config.format < objstore::kFormatWriteOnly) {
          return Status::Corruption("key slot '" + s->name + "' is write-only, but repository '" + where +
                                    "' has format " + std::to_string(config.format) +
                                    ", which has no write-only keys: the slot is damaged");
        }
        u.keys = RepoKeys::FromWriteOnly(*master, config.repo_id);
      } else {
        u.keys = RepoKeys::Derive(*master, config.repo_id, config.format);
      }
      u.slot_id = s->slot.id;
      u.access = s->slot.access;
      return u;
    }
  }
  return none(kind == SlotKind::kKeyFile
                  ? "the key file '" + access.key_file + "' does not open any key slot of repository '" + where + "'"
                  : "the password does not open any key slot of repository '" + where + "'");
}

Result<std::string> WriteFirstSlot(objstore::Backend* be, const RepoKeys& keys, const NewKey& key) {
  objstore::SlotInfo info = ThisHost();
  if (!key.host.empty()) info.host = key.host;
  CAIRN_ASSIGN_OR_RETURN(KeySlot slot, objstore::NewKeySlot(key.kind, key.secret.view(), keys, key.opslimit,
                                                            key.memlimit, info, key.access));
  CAIRN_RETURN_IF_ERROR(WriteVerifiedSlot(be, slot, key.secret.view(), keys));
  return slot.id;
}

Result<std::vector<SlotListing>> ListKeySlots(const Repository& r, std::vector<std::string>* problems) {
  const RepoKeys* keys = r.codec().keys();
  if (keys == nullptr) {
    return Status::InvalidArgument("repository '" + r.location() + "' is not encrypted; it has no keys");
  }
  CAIRN_ASSIGN_OR_RETURN(std::vector<LoadedSlot> slots, LoadSlots(r.backend(), problems));
  std::vector<SlotListing> out;
  for (const auto& s : slots) {
    if (s.slot.repo_id != keys->repo_id()) {
      problems->push_back("key slot '" + s.name + "' belongs to another repository; ignored");
      continue;
    }
    auto info = objstore::OpenSlotInfo(s.slot, *keys);
    if (!info.ok()) {
      problems->push_back(info.status().message());
      continue;
    }
    SlotListing l;
    l.id = s.slot.id;
    l.kind = s.slot.kind;
    l.access = s.slot.access;
    l.host = info->host;
    l.user = info->user;
    l.created_ns = info->created_ns;
    l.opslimit = s.slot.opslimit;
    l.memlimit = s.slot.memlimit;
    l.current = s.slot.id == r.key_slot();
    out.push_back(std::move(l));
  }
  std::sort(out.begin(), out.end(), [](const SlotListing& a, const SlotListing& b) {
    return a.created_ns != b.created_ns ? a.created_ns < b.created_ns : a.id < b.id;
  });
  return out;
}

Result<std::string> AddKeySlot(Repository& r, const NewKey& key) {
  const RepoKeys* keys = r.codec().keys();
  if (keys == nullptr) {
    return Status::InvalidArgument("repository '" + r.location() + "' is not encrypted; it has no keys");
  }
  return WriteFirstSlot(r.backend(), *keys, key);
}

Result<std::string> ChangePassword(Repository& r, const NewKey& key) {
  std::vector<std::string> problems;
  CAIRN_ASSIGN_OR_RETURN(auto slots, ListKeySlots(r, &problems));
  auto cur = std::find_if(slots.begin(), slots.end(), [](const SlotListing& s) { return s.current; });
  if (cur == slots.end()) return Status::NotFound("the key slot in use is gone (removed by another process?)");
  if (cur->kind != SlotKind::kPassword) {
    return Status::InvalidArgument("the repository was opened with a key file; 'key passwd' changes a password "
                                   "(open it with the password, or use 'key add' and 'key remove')");
  }
  // New slot first, verified; only then the old one goes (a crash in
  // between leaves both, never neither).
  CAIRN_ASSIGN_OR_RETURN(std::string id, AddKeySlot(r, key));
  CAIRN_RETURN_IF_ERROR(r.backend()->Remove(SlotName(cur->id)));
  r.set_key_slot(id);
  return id;
}

Status RemoveKeySlot(Repository& r, const std::string& id, Approver* approver) {
  std::vector<std::string> problems;
  CAIRN_ASSIGN_OR_RETURN(auto slots, ListKeySlots(r, &problems));
  auto it = std::find_if(slots.begin(), slots.end(), [&](const SlotListing& s) { return s.id == id; });
  if (it == slots.end()) return Status::NotFound("no key slot '" + id + "'; see 'cairn key list'");
  if (slots.size() == 1) {
    return Status::InvalidArgument("key slot '" + id + "' is the last one; the last key can never be removed "
                                   "(add another first with 'cairn key add')");
  }
  if (it->current) {
    return Status::InvalidArgument("key slot '" + id + "' is the one in use; open the repository with another "
                                   "key to remove it");
  }
  Operation op;
  op.action = "remove key slot '" + id + "' (" + objstore::SlotKindName(it->kind) + ", " + it->user + "@" +
              it->host + ")";
  op.details = "Whoever holds this " + std::string(objstore::SlotKindName(it->kind)) +
               " can no longer open the repository through it. The data stays encrypted under the same master key.";
  op.risk = Risk::kHigh;
  op.kind = "key remove";
  const bool last_of_kind = std::count_if(slots.begin(), slots.end(), [&](const SlotListing& s) {
                              return s.kind == it->kind;
                            }) == 1;
  if (last_of_kind) {
    op.risk = Risk::kCritical;
    op.kind = "key remove last";
    op.details += "\nIt is the last " + std::string(objstore::SlotKindName(it->kind)) + " slot: afterwards no " +
                  objstore::SlotKindName(it->kind) + " opens the repository.";
  }
  op.affected = {{"slot", id}, {"kind", objstore::SlotKindName(it->kind)}, {"slots", slots.size()}};
  CAIRN_RETURN_IF_ERROR(RequireApproval(approver, op));
  return r.backend()->Remove(SlotName(id));
}

}  // namespace cairn::repo
