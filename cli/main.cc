// SPDX-License-Identifier: MIT

#include <csignal>

#include "cli/cli.h"

int main(int argc, char** argv) {
  // A closed pipe (cairn ls | head) ends output with EPIPE, not a signal death.
  std::signal(SIGPIPE, SIG_IGN);
  return cairn::cli::Run(argc, argv);
}
