// SPDX-License-Identifier: MIT
//
// Where passwords and key files come from (docs/security.md#passwords):
// --key-file or CAIRN_KEY_FILE (a key file, no password), else the
// password from, in this order, --password-file, --password-command,
// CAIRN_PASSWORD_FILE, CAIRN_PASSWORD_COMMAND, CAIRN_PASSWORD, and the
// terminal (no echo). No source and no terminal: a usage error, never a
// wait. This header contains definitions that shall only be used by
// modules within cli/.

#pragma once

#include <string>

#include "objstore/crypto.h"
#include "repo/keyring.h"

namespace cairn::cli {

struct KeyFlags {
  std::string key_file;
  std::string password_file;
  std::string password_command;
  // How this set's environment variables and flags are spelled: "CAIRN_"
  // and "--" for the repository of -r; "CAIRN_TO_" and "--to-" for the
  // target of copy (whose keys never come from the source's variables).
  std::string env_prefix = "CAIRN_";
  std::string flag_prefix = "--";
};

// The key file to use ("" for none): the flag, else $CAIRN_KEY_FILE.
std::string KeyFileFromFlagOrEnv(const KeyFlags& f);

// True if a password can be had without waiting: a source above is given,
// or stdin and stderr are terminals.
bool PasswordAvailable(const KeyFlags& f);

// How to unlock a repository with these flags and the environment. The
// password is asked only if needed, at most once.
repo::KeyAccess MakeKeyAccess(const KeyFlags& f);

// The password from the sources above. `confirm`: on a terminal, ask twice
// (a new password). `what` names it in prompts ("new password").
Result<objstore::crypto::SecretBytes> GetPassword(const KeyFlags& f, bool confirm, const std::string& what);

// A new password for `key add` / `key passwd`: from `new_password_file`,
// else $CAIRN_NEW_PASSWORD_FILE, else the terminal (asked twice). Refuses
// an empty password.
Result<objstore::crypto::SecretBytes> GetNewPassword(const std::string& new_password_file);

}  // namespace cairn::cli
