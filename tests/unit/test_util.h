// SPDX-License-Identifier: MIT
//
// Helpers for the unit tests: a temporary folder that removes itself, and
// deterministic test data.

#pragma once

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "objstore/core/object_id.h"

namespace cairn::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "cairn-test-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& p) const { return path_ + "/" + p; }

 private:
  std::string path_;
};

// Writes `data` to `path`, creating its folders.
inline void WriteFile(const std::string& path, const std::string& data) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << data;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// `size` deterministic pseudo-random bytes: SHA-256 in counter mode over
// `label` (the same construction as tests/tools/fastcdc_ref.py).
inline std::string RandomData(size_t size, const std::string& label = "cairn-chunker-test") {
  std::string out;
  uint64_t ctr = 0;
  while (out.size() < size) {
    std::string block = label;
    for (int i = 0; i < 8; i++) block.push_back(static_cast<char>(ctr >> (8 * i)));
    out.append(Sha256(block).view());
    ctr++;
  }
  out.resize(size);
  return out;
}

}  // namespace cairn::testing
