// SPDX-License-Identifier: MIT
//
// The key slots of an encrypted repository (keys/<id>, one per password or
// key file, each wrapping the one master secret): unlocking, listing,
// adding, changing and removing them. See docs/security.md#keys.

#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "objstore/backend.h"
#include "objstore/config.h"
#include "objstore/keys.h"
#include "repo/approval.h"

namespace cairn::repo {

class Repository;

// How to unlock an encrypted repository. With a key file only key-file
// slots are tried; otherwise `password` is asked (once, and only when a
// password is needed) and the password slots are tried.
struct KeyAccess {
  std::string key_file;  // path of a key file (cairn key generate)
  std::function<Result<objstore::crypto::SecretBytes>()> password;
  // How the flags that give keys are spelled in messages ("--to-" for
  // copy's target).
  std::string flag_prefix = "--";
};

// A key to add: a password (with its Argon2id cost) or a key file's secret.
struct NewKey {
  objstore::SlotKind kind = objstore::SlotKind::kPassword;
  objstore::crypto::SecretBytes secret;
  uint64_t opslimit = objstore::crypto::kDefaultOps;
  uint64_t memlimit = objstore::crypto::kDefaultMem;
  objstore::SlotAccess access = objstore::SlotAccess::kFull;
  std::string host;  // recorded in the slot's info; empty: this machine's name
};

// Reads a key file into a NewKey / a secret. InvalidArgument naming the
// file if it is missing or not a key file.
Result<objstore::crypto::SecretBytes> ReadKeyFile(const std::string& path);
// Writes a new key file at `path` (mode 0600, never over an existing file:
// AlreadyExists).
Status GenerateKeyFile(const std::string& path);

struct Unlocked {
  std::unique_ptr<objstore::RepoKeys> keys;
  std::string slot_id;  // the slot that opened
  objstore::SlotAccess access = objstore::SlotAccess::kFull;
};

// Opens the master secret of the repository in `backend` whose config is
// `config`. WrongKey if the password or key file opens no slot (the message
// says which kind was tried); InvalidArgument if no password can be had.
Result<Unlocked> Unlock(objstore::Backend* backend, const objstore::RepoConfig& config, const KeyAccess& access);

// Writes the first slot of a new repository (before its config).
Result<std::string> WriteFirstSlot(objstore::Backend* backend, const objstore::RepoKeys& keys, const NewKey& key);

struct SlotListing {
  std::string id;
  objstore::SlotKind kind;
  objstore::SlotAccess access = objstore::SlotAccess::kFull;
  std::string host, user;
  int64_t created_ns = 0;
  uint64_t opslimit = 0, memlimit = 0;
  bool current = false;  // the slot this process opened the repository with
};
// Every slot, oldest first. Damaged slots are left out with a message in
// *problems.
Result<std::vector<SlotListing>> ListKeySlots(const Repository& r, std::vector<std::string>* problems);

// Adds a slot for `key`: written, read back and opened before this returns
// its id.
Result<std::string> AddKeySlot(Repository& r, const NewKey& key);
// Replaces the password of the slot in use with `key` (a new slot is added
// and verified, then the old one removed). Returns the new slot's id.
// InvalidArgument if the slot in use is a key file's.
Result<std::string> ChangePassword(Repository& r, const NewKey& key);
// Removes slot `id` after `approver` approves (risk high). Refused
// (InvalidArgument) for the last slot and for the slot in use; NotFound for
// an unknown id.
Status RemoveKeySlot(Repository& r, const std::string& id, Approver* approver);

}  // namespace cairn::repo
