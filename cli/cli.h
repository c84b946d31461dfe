// SPDX-License-Identifier: MIT
//
// The cairn command line: parses arguments with CLI11, calls the library,
// prints text or --json, and turns every failure into a one-line message and
// a documented exit code (docs/cli.md). Exceptions of CLI11 and nlohmann_json
// stay inside cli/.

#pragma once

namespace cairn::cli {

// Runs one cairn command and returns the process exit code.
int Run(int argc, char** argv);

}  // namespace cairn::cli
