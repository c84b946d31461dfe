// SPDX-License-Identifier: MIT
//
// bundle_tamper: makes bad bundles for t0103, from docs/format.md#bundles
// alone (a second reader and writer of the format; key-file bundles only).
//
//   bundle_tamper dump    IN KEYFILE                 print the manifest
//   bundle_tamper rewrite IN OUT KEYFILE MANIFEST [--keep-hash]
//                                                    MANIFEST as record 0 (its hash recomputed
//                                                    unless --keep-hash); objects re-sealed
//   bundle_tamper object  IN OUT KEYFILE N DATA      object record N's payload replaced (sealed)
//   bundle_tamper drop    IN OUT KEYFILE N           record N removed (nothing re-sealed)
//   bundle_tamper swap    IN OUT KEYFILE A B         records A and B exchanged (nothing re-sealed)

#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "objstore/compress.h"
#include "objstore/core/object_id.h"
#include "objstore/crypto.h"
#include "repo/keyring.h"

namespace crypto = cairn::objstore::crypto;
using nlohmann::json;

namespace {

std::string Slurp(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

[[noreturn]] void Die(const std::string& m) {
  std::cerr << "bundle_tamper: " << m << "\n";
  std::exit(2);
}

std::string U64(uint64_t v) {
  std::string s;
  for (int i = 0; i < 8; i++) s.push_back(static_cast<char>(v >> (8 * i)));
  return s;
}

struct File {
  std::string header;
  std::vector<std::string> records;  // sealed bytes
};

File Parse(const std::string& data) {
  File f;
  if (data.size() < 44) Die("too short");
  f.header = data.substr(0, 44);
  size_t off = 44;
  while (off + 4 <= data.size()) {
    uint32_t n = 0;
    for (int i = 0; i < 4; i++) n |= uint32_t(static_cast<uint8_t>(data[off + i])) << (8 * i);
    if (off + 4 + n > data.size()) Die("a record runs past the end");
    f.records.push_back(data.substr(off + 4, n));
    off += 4 + n;
  }
  return f;
}

std::string Serialize(const File& f) {
  std::string out = f.header;
  for (const auto& r : f.records) {
    uint32_t n = static_cast<uint32_t>(r.size());
    for (int i = 0; i < 4; i++) out.push_back(static_cast<char>(n >> (8 * i)));
    out += r;
  }
  return out;
}

crypto::SecretBytes Key(const File& f, const std::string& keyfile) {
  if (f.header[9] != 2) Die("only key-file bundles");
  auto secret = cairn::repo::ReadKeyFile(keyfile);
  if (!secret.ok()) Die(secret.status().message());
  return crypto::Hkdf(secret->view(), f.header.substr(12, 16), "cairn bundle v1 key file", 32);
}

std::string OpenRec(const File& f, const crypto::SecretBytes& k, size_t i) {
  std::string plain;
  if (!crypto::Open(k, f.records[i], f.header + U64(i), &plain)) Die("record " + std::to_string(i) + " does not open");
  return plain;
}

std::string SealRec(const File& f, const crypto::SecretBytes& k, size_t i, const std::string& plain) {
  std::string out;
  crypto::Seal(k, plain, f.header + U64(i), &out);
  return out;
}

std::string Payload(const std::string& plain) {
  if (plain[1] == 1) {
    auto d = cairn::objstore::DecompressBounded(std::string_view(plain).substr(2), 1 << 28);
    if (!d.ok()) Die("a record does not decompress");
    return *d;
  }
  return plain.substr(2);
}

void Write(const std::string& path, const std::string& data) {
  std::ofstream o(path, std::ios::binary);
  o << data;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> a(argv + 1, argv + argc);
  if (a.size() < 3) Die("usage: see the top of tests/tools/bundle_tamper.cc");
  crypto::EnsureInit();
  const std::string op = a[0];
  File f = Parse(Slurp(a[1]));
  if (op == "dump") {
    auto k = Key(f, a[2]);
    std::cout << Payload(OpenRec(f, k, 0)) << "\n";
    return 0;
  }
  if (a.size() < 4) Die("missing arguments");
  auto k = Key(f, a[3]);
  if (op == "rewrite") {
    if (a.size() < 5) Die("rewrite IN OUT KEYFILE MANIFEST");
    json m = json::parse(Slurp(a[4]), nullptr, false);
    std::string text;
    if (m.is_discarded()) {
      text = Slurp(a[4]);  // not JSON: carried as it is
    } else {
      if (!(a.size() > 5 && a[5] == "--keep-hash") && m.is_object()) {
        json c = m;
        c.erase("hash");
        m["hash"] = cairn::Sha256(c.dump()).ToHex();
      }
      text = m.dump();
    }
    File g = f;
    g.records.clear();
    g.records.push_back(SealRec(g, k, 0, std::string("\0\0", 2) + text));
    for (size_t i = 1; i + 1 < f.records.size(); i++) g.records.push_back(SealRec(g, k, i, OpenRec(f, k, i)));
    const size_t objects = f.records.size() - 2;
    std::string hash = m.is_object() && m.contains("hash") && m["hash"].is_string() ? m["hash"].get<std::string>()
                                                                                      : std::string(64, '0');
    if (hash.size() != 64) hash = std::string(64, '0');
    g.records.push_back(SealRec(g, k, objects + 1, std::string("\3\0", 2) + U64(objects) + hash));
    Write(a[2], Serialize(g));
    return 0;
  }
  if (op == "object") {
    if (a.size() < 6) Die("object IN OUT KEYFILE N DATA");
    size_t n = std::stoul(a[4]);
    std::string plain = OpenRec(f, k, n);
    std::string np = plain.substr(0, 1) + std::string(1, '\0') + Slurp(a[5]);
    f.records[n] = SealRec(f, k, n, np);
    Write(a[2], Serialize(f));
    return 0;
  }
  if (op == "drop") {
    size_t n = std::stoul(a[4]);
    f.records.erase(f.records.begin() + static_cast<long>(n));
    Write(a[2], Serialize(f));
    return 0;
  }
  if (op == "swap") {
    if (a.size() < 6) Die("swap IN OUT KEYFILE A B");
    std::swap(f.records[std::stoul(a[4])], f.records[std::stoul(a[5])]);
    Write(a[2], Serialize(f));
    return 0;
  }
  Die("unknown operation '" + op + "'");
}
