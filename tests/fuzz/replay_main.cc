// SPDX-License-Identifier: MIT
//
// Replays fuzz inputs without libFuzzer:
//   cairn_fuzz_replay CORPUS          every CORPUS/TARGET/ folder through its target
//   cairn_fuzz_replay TARGET FILE...  the given inputs through one target
//   cairn_fuzz_replay --list          the targets' names, one per line
// With CORPUS, every target must have a folder with at least one input and
// every folder must name a target (a corpus cannot silently stop being
// replayed). Exits 0 if every input was handled without a crash (a crash
// ends the process, which is the failure); 1 on a missing or unknown folder.

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "decoders.h"

namespace fs = std::filesystem;
using cairn::fuzz::Target;

namespace {
void Replay(const Target& t, const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  t.run(data);
}
}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::string(argv[1]) == "--list") {
    for (const Target& t : cairn::fuzz::Targets()) std::printf("%s\n", t.name);
    return 0;
  }
  if (argc >= 3) {
    const Target* t = cairn::fuzz::FindTarget(argv[1]);
    if (!t) {
      std::fprintf(stderr, "cairn_fuzz_replay: no target %s (--list names them)\n", argv[1]);
      return 1;
    }
    for (int i = 2; i < argc; i++) Replay(*t, argv[i]);
    std::printf("replayed %d inputs through %s without a crash\n", argc - 2, t->name);
    return 0;
  }
  if (argc != 2 || !fs::is_directory(argv[1])) {
    std::fprintf(stderr, "usage: cairn_fuzz_replay CORPUS | TARGET FILE... | --list\n");
    return 1;
  }
  const fs::path corpus = argv[1];
  int bad = 0;
  std::set<std::string> known;
  size_t n = 0;
  for (const Target& t : cairn::fuzz::Targets()) {
    known.insert(t.name);
    size_t here = 0;
    if (fs::is_directory(corpus / t.name)) {
      for (const auto& e : fs::directory_iterator(corpus / t.name)) {
        Replay(t, e.path());
        here++;
      }
    }
    if (here == 0) {
      std::fprintf(stderr, "cairn_fuzz_replay: target %s has no seed inputs in %s/%s\n", t.name,
                   corpus.c_str(), t.name);
      bad++;
    }
    n += here;
  }
  for (const auto& e : fs::directory_iterator(corpus)) {
    if (!known.count(e.path().filename().string())) {
      std::fprintf(stderr, "cairn_fuzz_replay: %s names no target (--list names them)\n", e.path().c_str());
      bad++;
    }
  }
  std::printf("replayed %zu fuzz inputs of %zu targets without a crash\n", n, cairn::fuzz::Targets().size());
  return bad ? 1 : 0;
}
