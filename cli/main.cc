// SPDX-License-Identifier: MIT

#include <pthread.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>

#include "cli/cli.h"

namespace {

struct Call {
  int argc;
  char** argv;
  int code;
  pid_t pid;  // of the process main runs in
};

void* RunCall(void* p) {
  auto* c = static_cast<Call*>(p);
  c->code = cairn::cli::Run(c->argc, c->argv);
  // A command that forked on this thread (mount's background child) has no
  // main thread to return to: its process ends here, with its exit code.
  if (::getpid() != c->pid) {
    std::fflush(nullptr);
    std::exit(c->code);
  }
  return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  // A closed pipe (cairn ls | head) ends output with EPIPE, not a signal death.
  std::signal(SIGPIPE, SIG_IGN);
  // The command runs on a thread with a large stack: tree readers recurse
  // once per folder level, up to objstore::kMaxTreePath / 2 levels, and
  // that must hold in every build (sanitizer builds use far larger frames).
  // The stack is address space; only the pages a deep tree touches are used.
  constexpr size_t kStack = size_t{256} << 20;
  Call call{argc, argv, 1, ::getpid()};
  pthread_attr_t attr;
  pthread_t thread;
  if (pthread_attr_init(&attr) == 0 && pthread_attr_setstacksize(&attr, kStack) == 0 &&
      pthread_create(&thread, &attr, RunCall, &call) == 0) {
    pthread_attr_destroy(&attr);
    pthread_join(thread, nullptr);
    return call.code;
  }
  // No thread to be had: run here, with the process's own stack.
  return cairn::cli::Run(argc, argv);
}
