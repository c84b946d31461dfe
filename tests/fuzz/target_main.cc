// SPDX-License-Identifier: MIT
//
// The libFuzzer entry point of one target: built once per target with
// -DCAIRN_FUZZ_TARGET="NAME" into cairn_fuzz_NAME (tests/CMakeLists.txt).

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "decoders.h"

#ifndef CAIRN_FUZZ_TARGET
#error "CAIRN_FUZZ_TARGET must name the target"
#endif

namespace {
const cairn::fuzz::Target& TheTarget() {
  static const cairn::fuzz::Target* t = [] {
    const cairn::fuzz::Target* found = cairn::fuzz::FindTarget(CAIRN_FUZZ_TARGET);
    if (!found) {
      std::fprintf(stderr, "fuzz: no target %s in decoders.cc\n", CAIRN_FUZZ_TARGET);
      std::abort();
    }
    return found;
  }();
  return *t;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  TheTarget().run(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
