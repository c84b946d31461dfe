// SPDX-License-Identifier: MIT

#include "cli/password.h"

#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>

namespace cairn::cli {
namespace {

using objstore::crypto::SecretBytes;
using objstore::crypto::Wipe;

// A password longer than this is not one (a wrong file given).
constexpr size_t kMaxPassword = 4096;

std::string Env(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  return v != nullptr ? std::string(v) : std::string();
}

// Drops one trailing newline (files and commands end their line).
void Chomp(std::string* s) {
  if (!s->empty() && s->back() == '\n') s->pop_back();
  if (!s->empty() && s->back() == '\r') s->pop_back();
}

Result<SecretBytes> Finish(std::string* s, const std::string& source) {
  Chomp(s);
  if (s->size() > kMaxPassword) {
    Wipe(s);
    return Status::InvalidArgument("the password from " + source + " is longer than " + std::to_string(kMaxPassword) +
                                   " bytes; is it the right file?");
  }
  SecretBytes out(s->data(), s->size());
  Wipe(s);
  return out;
}

Result<SecretBytes> FromFile(const std::string& path, const std::string& flag) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::InvalidArgument("cannot read the password file '" + path + "' (" + flag + "): " +
                                   std::strerror(errno));
  }
  std::string s;
  char buf[512];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    s.append(buf, static_cast<size_t>(in.gcount()));
    if (s.size() > kMaxPassword + 2) break;
  }
  return Finish(&s, "'" + path + "'");
}

Result<SecretBytes> FromCommand(const std::string& cmd, const std::string& flag) {
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return Status::InvalidArgument("cannot run the password command (" + flag + ")");
  std::string s;
  char buf[512];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) {
    if (s.size() <= kMaxPassword + 2) s.append(buf, n);
  }
  int rc = ::pclose(p);
  if (rc != 0) {
    Wipe(&s);
    int code = WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + (WIFSIGNALED(rc) ? WTERMSIG(rc) : 0);
    return Status::InvalidArgument("the password command (" + flag + ") failed with exit status " +
                                   std::to_string(code));
  }
  return Finish(&s, "the password command");
}

bool HaveTerminal() { return ::isatty(STDIN_FILENO) && ::isatty(STDERR_FILENO); }

Result<SecretBytes> AskOnce(const std::string& prompt) {
  std::fprintf(stderr, "%s: ", prompt.c_str());
  std::fflush(stderr);
  termios old{};
  bool restore = ::tcgetattr(STDIN_FILENO, &old) == 0;
  if (restore) {
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  }
  std::string s;
  bool got = static_cast<bool>(std::getline(std::cin, s));
  if (restore) ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
  if (!got) return Status::InvalidArgument("no password given (end of input at the prompt)");
  return Finish(&s, "the terminal");
}

Result<SecretBytes> FromTerminal(bool confirm, const std::string& what) {
  CAIRN_ASSIGN_OR_RETURN(SecretBytes a, AskOnce("Enter " + what));
  if (!confirm) return a;
  CAIRN_ASSIGN_OR_RETURN(SecretBytes b, AskOnce("Enter " + what + " again"));
  if (a.view() != b.view()) return Status::InvalidArgument("the two passwords differ; nothing was changed");
  return a;
}

}  // namespace

std::string KeyFileFromFlagOrEnv(const KeyFlags& f) {
  if (!f.key_file.empty()) return f.key_file;
  return Env(f.env_prefix + "KEY_FILE");
}

Result<SecretBytes> GetPassword(const KeyFlags& f, bool confirm, const std::string& what) {
  const std::string& e = f.env_prefix;
  if (!f.password_file.empty()) return FromFile(f.password_file, f.flag_prefix + "password-file");
  if (!f.password_command.empty()) return FromCommand(f.password_command, f.flag_prefix + "password-command");
  if (!Env(e + "PASSWORD_FILE").empty()) return FromFile(Env(e + "PASSWORD_FILE"), e + "PASSWORD_FILE");
  if (!Env(e + "PASSWORD_COMMAND").empty()) {
    return FromCommand(Env(e + "PASSWORD_COMMAND"), e + "PASSWORD_COMMAND");
  }
  if (const char* p = std::getenv((e + "PASSWORD").c_str()); p != nullptr) return SecretBytes(p, std::strlen(p));
  if (HaveTerminal()) return FromTerminal(confirm, what);
  return Status::InvalidArgument(std::string("the repository") + " is encrypted and no password was given; use " + f.flag_prefix + "password-file, " +
                                 f.flag_prefix + "password-command, " + e + "PASSWORD(_FILE|_COMMAND) or " +
                                 f.flag_prefix + "key-file (there is no terminal to ask on)");
}

bool PasswordAvailable(const KeyFlags& f) {
  const std::string& e = f.env_prefix;
  return !f.password_file.empty() || !f.password_command.empty() || !Env(e + "PASSWORD_FILE").empty() ||
         !Env(e + "PASSWORD_COMMAND").empty() || std::getenv((e + "PASSWORD").c_str()) != nullptr || HaveTerminal();
}

repo::KeyAccess MakeKeyAccess(const KeyFlags& f) {
  repo::KeyAccess a;
  a.key_file = KeyFileFromFlagOrEnv(f);
  a.flag_prefix = f.flag_prefix;
  const std::string what = f.flag_prefix == "--" ? "password" : "password of the target repository";
  a.password = [f, what] { return GetPassword(f, false, what); };
  return a;
}

Result<SecretBytes> GetNewPassword(const std::string& new_password_file) {
  auto get = [&]() -> Result<SecretBytes> {
    std::string env = Env("CAIRN_NEW_PASSWORD_FILE");
    if (!new_password_file.empty()) return FromFile(new_password_file, "--new-password-file");
    if (!env.empty()) return FromFile(env, "CAIRN_NEW_PASSWORD_FILE");
    if (HaveTerminal()) return FromTerminal(true, "new password");
    return Status::InvalidArgument(
        "no new password given; use --new-password-file FILE (there is no terminal to ask on)");
  };
  CAIRN_ASSIGN_OR_RETURN(SecretBytes p, get());
  if (p.empty()) return Status::InvalidArgument("the new password is empty; choose a password");
  return p;
}

}  // namespace cairn::cli
