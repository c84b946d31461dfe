// SPDX-License-Identifier: MIT
//
// The fuzz targets (decoders.cc): a name, which is also the folder of its
// corpus (tests/fuzz/corpus/NAME/) and of its libFuzzer program
// (cairn_fuzz_NAME), and the function that feeds one input to the decoder.

#pragma once

#include <span>
#include <string_view>

namespace cairn::fuzz {

struct Target {
  const char* name;
  void (*run)(std::string_view input);
};

// Every target, in a fixed order.
std::span<const Target> Targets();
// The target called `name`, or null.
const Target* FindTarget(std::string_view name);

}  // namespace cairn::fuzz
