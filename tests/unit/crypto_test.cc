// SPDX-License-Identifier: MIT
//
// The cryptography of encrypted repositories (format 2): the primitives
// against published vectors, the AAD bindings of every sealed object, key
// slots, the authenticated config, and a repository opened and written
// through its keys.

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <atomic>
#include <set>
#include <thread>

#include "objstore/codec.h"
#include "objstore/config.h"
#include "objstore/core/bytes.h"
#include "objstore/crypto.h"
#include "objstore/keys.h"
#include "objstore/pack.h"
#include "repo/backup.h"
#include "repo/blob_writer.h"
#include "repo/keyring.h"
#include "repo/repository.h"
#include "test_util.h"

namespace cairn::objstore {
namespace {

using crypto::SecretBytes;
using nlohmann::json;

std::string Unhex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

std::string Hex(std::string_view bytes) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (unsigned char c : bytes) {
    s += d[c >> 4];
    s += d[c & 15];
  }
  return s;
}

std::string Range(int from, int to) {  // bytes from..to-1
  std::string s;
  for (int i = from; i < to; i++) s.push_back(static_cast<char>(i));
  return s;
}

SecretBytes Secret(std::string_view s) { return SecretBytes(s.data(), s.size()); }

SecretBytes Master(char fill) { return Secret(std::string(crypto::kKeySize, fill)); }

ObjectId Id(char fill) {
  std::string s(ObjectId::kSize, fill);
  return ObjectId(reinterpret_cast<const uint8_t*>(s.data()));
}

constexpr uint64_t kTestMem = crypto::kMinMem;  // 64 MiB: the cheapest allowed cost
constexpr uint64_t kTestOps = crypto::kMinOps;

// --- Primitives against published vectors ---

TEST_CASE("HKDF-SHA256 gives the OKM of RFC 5869 test cases 1, 2 and 3", "[crypto][hkdf]") {
  // Test case 1: basic.
  CHECK(Hex(crypto::Hkdf(std::string(22, '\x0b'), Range(0x00, 0x0d), Range(0xf0, 0xfa), 42).view()) ==
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
  // Test case 2: longer inputs and output (three HMAC blocks).
  CHECK(Hex(crypto::Hkdf(Range(0x00, 0x50), Range(0x60, 0xb0), Range(0xb0, 0x100), 82).view()) ==
        "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
        "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71"
        "cc30c58179ec3e87c14c01d5c1f3434f1d87");
  // Test case 3: empty salt and info.
  CHECK(Hex(crypto::Hkdf(std::string(22, '\x0b'), "", "", 42).view()) ==
        "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
  // A prefix of a longer output is the shorter output.
  CHECK(Hex(crypto::Hkdf(std::string(22, '\x0b'), "", "", 10).view()) == "8da4e775a563c18f715f");
}

TEST_CASE("HMAC-SHA256 gives RFC 4231 test cases 1 and 2, and agrees with libsodium on 32-byte keys",
          "[crypto][hmac]") {
  // RFC 4231 has no 32-byte key; the wrapper takes keys of any length, so
  // its vectors apply directly.
  CHECK(crypto::HmacSha256(Secret(std::string(20, '\x0b')), "Hi There").ToHex() ==
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  CHECK(crypto::HmacSha256(Secret("Jefe"), "what do ya want for nothing?").ToHex() ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // The keys cairn uses are 32 bytes: compare with libsodium's HMAC.
  crypto::EnsureInit();
  for (size_t len : {0, 1, 63, 64, 65, 1000}) {
    SecretBytes key = Secret(testing::RandomData(32, "hmac-key" + std::to_string(len)));
    std::string data = testing::RandomData(len, "hmac-data");
    unsigned char want[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key.data(), key.size());
    crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(data.data()), data.size());
    crypto_auth_hmacsha256_final(&st, want);
    CAPTURE(len);
    CHECK(crypto::HmacSha256(key, data) == ObjectId(want));
  }
}

// draft-irtf-cfrg-xchacha-03, A.3.1 (checked byte for byte against
// libsodium's crypto_aead_xchacha20poly1305_ietf_encrypt).
const char kXcPlain[] =
    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be "
    "it.";
const char kXcCipher[] =
    "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb"
    "731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452"
    "2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9"
    "21f9664c97637da9768812f615c68b13b52e";
const char kXcTag[] = "c0875924c1c7987947deafd8780acf49";

TEST_CASE("XChaCha20-Poly1305-IETF opens the draft-irtf-cfrg-xchacha-03 A.3.1 vector", "[crypto][aead]") {
  SecretBytes key = Secret(Range(0x80, 0xa0));
  std::string nonce = Range(0x40, 0x58);
  std::string aad = Unhex("50515253c0c1c2c3c4c5c6c7");
  std::string plain = kXcPlain;
  REQUIRE(plain.size() == 114);
  std::string sealed = nonce + Unhex(kXcCipher) + Unhex(kXcTag);

  // The vector itself, computed by libsodium directly.
  std::string direct(plain.size() + crypto::kTagSize, '\0');
  unsigned long long clen = 0;
  crypto::EnsureInit();
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      reinterpret_cast<unsigned char*>(direct.data()), &clen, reinterpret_cast<const unsigned char*>(plain.data()),
      plain.size(), reinterpret_cast<const unsigned char*>(aad.data()), aad.size(), nullptr,
      reinterpret_cast<const unsigned char*>(nonce.data()), key.data());
  CHECK(Hex(direct) == std::string(kXcCipher) + kXcTag);

  std::string out;
  REQUIRE(crypto::Open(key, sealed, aad, &out));
  CHECK(out == plain);
  // Wrong AAD, wrong key, or one flipped bit of nonce, ciphertext or tag: no.
  CHECK_FALSE(crypto::Open(key, sealed, aad.substr(1), &out));
  CHECK_FALSE(crypto::Open(Secret(Range(0x81, 0xa1)), sealed, aad, &out));
  for (size_t at : {size_t{0}, size_t{23}, size_t{24}, sealed.size() - 17, sealed.size() - 1}) {
    std::string bad = sealed;
    bad[at] ^= 1;
    CAPTURE(at);
    CHECK_FALSE(crypto::Open(key, bad, aad, &out));
  }
  CHECK_FALSE(crypto::Open(key, sealed.substr(0, crypto::kSealOverhead - 1), aad, &out));

  // Our Seal draws its own nonce: its output opens and has the right length,
  // and appends to what *out holds.
  std::string mine = "prefix";
  crypto::Seal(key, plain, aad, &mine);
  REQUIRE(mine.size() == 6 + crypto::kNonceSize + plain.size() + crypto::kTagSize);
  CHECK(mine.substr(0, 6) == "prefix");
  REQUIRE(crypto::Open(key, std::string_view(mine).substr(6), aad, &out));
  CHECK(out == plain);
  // The empty plaintext seals to nonce and tag alone.
  std::string empty;
  crypto::Seal(key, "", aad, &empty);
  CHECK(empty.size() == crypto::kSealOverhead);
  REQUIRE(crypto::Open(key, empty, aad, &out));
  CHECK(out.empty());
}

TEST_CASE("10000 seals of one plaintext have 10000 distinct nonces and ciphertexts", "[crypto][aead]") {
  SecretBytes key = Master('k');
  std::string plain = "the same plaintext every time";
  std::set<std::string> nonces, cts;
  for (int i = 0; i < 10000; i++) {
    std::string s;
    crypto::Seal(key, plain, "aad", &s);
    REQUIRE(s.size() == plain.size() + 40);
    nonces.insert(s.substr(0, crypto::kNonceSize));
    cts.insert(s.substr(crypto::kNonceSize));
  }
  CHECK(nonces.size() == 10000);
  CHECK(cts.size() == 10000);
}

TEST_CASE("Argon2id is deterministic, depends on every input and refuses costs out of bounds",
          "[crypto][argon2]") {
  std::string salt(crypto::kSaltSize, 's');
  auto a = crypto::Argon2id("password", salt, kTestOps, kTestMem);
  REQUIRE(a.ok());
  REQUIRE(a->size() == crypto::kKeySize);
  auto again = crypto::Argon2id("password", salt, kTestOps, kTestMem);
  REQUIRE(again.ok());
  CHECK(a->view() == again->view());

  // A published Argon2id v1.3 vector (RFC 9106 5.3) needs parallelism 4 and
  // a secret and associated data, which libsodium's crypto_pwhash does not
  // take (it is fixed at parallelism 1): compare with crypto_pwhash itself.
  unsigned char want[crypto::kKeySize];
  REQUIRE(crypto_pwhash(want, sizeof want, "password", 8, reinterpret_cast<const unsigned char*>(salt.data()),
                        kTestOps, kTestMem, crypto_pwhash_ALG_ARGON2ID13) == 0);
  CHECK(a->view() == std::string_view(reinterpret_cast<const char*>(want), sizeof want));

  auto differs = [&](std::string_view pw, std::string_view s, uint64_t ops, uint64_t mem) {
    auto b = crypto::Argon2id(pw, s, ops, mem);
    REQUIRE(b.ok());
    return b->view() != a->view();
  };
  CHECK(differs("passwore", salt, kTestOps, kTestMem));
  CHECK(differs("password", std::string(crypto::kSaltSize, 't'), kTestOps, kTestMem));
  CHECK(differs("password", salt, kTestOps + 1, kTestMem));
  CHECK(differs("password", salt, kTestOps, kTestMem + (1 << 20)));

  // Out of bounds: InvalidArgument, before anything is allocated (a 1 TiB
  // memlimit that ran would fail with IOError, or not return at all).
  using crypto::kMaxMem;
  using crypto::kMaxOps;
  using crypto::kMinMem;
  using crypto::kMinOps;
  for (auto [ops, mem] : {std::pair{kMinOps - 1, kMinMem}, std::pair{kMaxOps + 1, kMinMem},
                          std::pair{kMinOps, kMinMem - 1}, std::pair{kMinOps, kMaxMem + 1},
                          std::pair{kMinOps, uint64_t{1} << 40}, std::pair{uint64_t{0}, uint64_t{0}}}) {
    CAPTURE(ops, mem);
    CHECK(crypto::Argon2id("password", salt, ops, mem).status().code() == Code::kInvalidArgument);
  }
  CHECK(crypto::Argon2id("password", "short salt", kTestOps, kTestMem).status().code() == Code::kInvalidArgument);
}

// --- The AAD of sealed blobs and files ---

struct Keyed {
  std::unique_ptr<RepoKeys> keys;
  std::unique_ptr<IdHasher> hasher;
  std::unique_ptr<ObjectCodec> codec;
};

Keyed MakeKeyed(char master, char repo, int level = 3) {
  Keyed k;
  k.keys = RepoKeys::Derive(Master(master), Id(repo));
  k.hasher = NewHmacSha256Hasher(k.keys.get());
  k.codec = std::make_unique<ObjectCodec>(k.hasher.get(), level, k.keys.get());
  return k;
}

// A blob sealed by `codec` and its pack entry.
PackEntry SealBlob(const ObjectCodec& codec, BlobType type, std::string_view plain, std::string* stored) {
  PackEntry e;
  e.type = type;
  e.id = codec.BlobId(plain);
  std::string scratch;
  std::string_view view;
  e.flags = codec.EncodeBlob(type, e.id, plain, &scratch, &view);
  *stored = std::string(view);
  e.stored_length = static_cast<uint32_t>(stored->size());
  e.raw_length = static_cast<uint32_t>(plain.size());
  return e;
}

TEST_CASE("keys: subkeys differ by master and repository, and are stable", "[crypto][keys]") {
  auto a = RepoKeys::Derive(Master('m'), Id('r'));
  auto b = RepoKeys::Derive(Master('m'), Id('r'));
  auto other_repo = RepoKeys::Derive(Master('m'), Id('R'));
  auto other_master = RepoKeys::Derive(Master('M'), Id('r'));
  CHECK(a->key_id() == b->key_id());
  CHECK(a->key_id() != other_repo->key_id());
  CHECK(a->key_id() != other_master->key_id());
  CHECK(a->id_key().view() == b->id_key().view());
  CHECK(a->id_key().view() != other_repo->id_key().view());
  CHECK(a->chunker_seed().view() != a->id_key().view());
  CHECK(a->ConfigMac("x") != a->NameMac("x"));
  // The documented derivation: HKDF(master, salt = repo id, info = "cairn/v2/id").
  CHECK(a->id_key().view() == crypto::Hkdf(Master('m').view(), Id('r').view(), "cairn/v2/id", 32).view());
  // A seal of one domain does not open in another.
  std::string s, out;
  a->Seal(SealDomain::kBlob, "ctx", "data", &s);
  CHECK(a->Open(SealDomain::kBlob, "ctx", s, &out));
  CHECK_FALSE(a->Open(SealDomain::kFile, "ctx", s, &out));
  CHECK_FALSE(a->Open(SealDomain::kBlob, "ctx2", s, &out));
  CHECK_FALSE(other_repo->Open(SealDomain::kBlob, "ctx", s, &out));
}

TEST_CASE("a sealed blob opens only as the blob its pack entry describes", "[crypto][codec]") {
  Keyed k = MakeKeyed('m', 'r');
  for (std::string plain : {std::string(5000, 'a'), testing::RandomData(3000, "aad-blob")}) {
    std::string stored;
    PackEntry e = SealBlob(*k.codec, BlobType::kData, plain, &stored);
    CHECK((e.flags & kFlagSealed) != 0);
    CHECK(e.id != Sha256(plain));  // keyed ids
    REQUIRE(k.codec->DecodeBlob(e, stored, "p").value() == plain);

    auto rejects = [&](const PackEntry& bad, const ObjectCodec& codec) {
      auto r = codec.DecodeBlob(bad, stored, "p");
      return !r.ok() && r.status().code() == Code::kCorruption;
    };
    PackEntry bad = e;
    bad.type = BlobType::kTree;
    CHECK(rejects(bad, *k.codec));
    bad = e;
    bad.flags ^= kFlagZstd;
    CHECK(rejects(bad, *k.codec));
    bad = e;
    bad.flags &= static_cast<uint8_t>(~kFlagSealed);
    CHECK(rejects(bad, *k.codec));
    bad = e;
    bad.raw_length++;
    CHECK(rejects(bad, *k.codec));
    bad = e;
    bad.raw_length--;
    CHECK(rejects(bad, *k.codec));
    bad = e;
    bad.id = Id('x');
    CHECK(rejects(bad, *k.codec));
    // The same master for another repository id, and another master.
    Keyed other_repo = MakeKeyed('m', 'R');
    Keyed other_master = MakeKeyed('M', 'r');
    CHECK(rejects(e, *other_repo.codec));
    CHECK(rejects(e, *other_master.codec));
    // An unencrypted codec does not read it either.
    auto plain_hasher = NewSha256Hasher();
    ObjectCodec unencrypted(plain_hasher.get(), 3);
    CHECK(rejects(e, unencrypted));
  }
}

TEST_CASE("a sealed blob moved to another entry's place does not open", "[crypto][codec]") {
  Keyed k = MakeKeyed('m', 'r');
  std::string s1, s2;
  PackEntry e1 = SealBlob(*k.codec, BlobType::kData, testing::RandomData(100, "one"), &s1);
  PackEntry e2 = SealBlob(*k.codec, BlobType::kData, testing::RandomData(100, "two"), &s2);
  CHECK(k.codec->DecodeBlob(e1, s2, "p").status().code() == Code::kCorruption);
  CHECK(k.codec->DecodeBlob(e2, s1, "p").status().code() == Code::kCorruption);
}

TEST_CASE("every flipped bit and every truncation of a sealed blob is rejected", "[crypto][codec]") {
  Keyed k = MakeKeyed('m', 'r');
  for (std::string plain : {std::string("small blob"), std::string(200, 'z')}) {
    std::string stored;
    PackEntry e = SealBlob(*k.codec, BlobType::kTree, plain, &stored);
    REQUIRE(k.codec->DecodeBlob(e, stored, "p").ok());
    int accepted = 0, tried = 0;
    for (size_t i = 0; i < stored.size(); i++) {
      for (int bit = 0; bit < 8; bit++) {
        std::string bad = stored;
        bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
        auto r = k.codec->DecodeBlob(e, bad, "p");
        tried++;
        if (r.ok()) {
          accepted++;
        } else {
          CHECK(r.status().code() == Code::kCorruption);
        }
      }
    }
    CHECK(tried == static_cast<int>(stored.size()) * 8);
    CHECK(accepted == 0);
    for (size_t len = 0; len < stored.size(); len++) {
      PackEntry t = e;
      t.stored_length = static_cast<uint32_t>(len);
      CAPTURE(len);
      CHECK(k.codec->DecodeBlob(t, std::string_view(stored).substr(0, len), "p").status().code() ==
            Code::kCorruption);
    }
    // Appended bytes too.
    CHECK_FALSE(k.codec->DecodeBlob(e, stored + "x", "p").ok());
  }
}

TEST_CASE("a sealed file opens only with its type, key id, logical name and repository", "[crypto][codec]") {
  Keyed k = MakeKeyed('m', 'r');
  for (bool compress : {false, true}) {
    std::string payload = compress ? std::string(3000, 'p') : "payload of a ref";
    std::string file = k.codec->EncodeFile(FileType::kRef, payload, compress, "refs/branches/abc");
    CHECK(file.size() > kFileHeaderSize + crypto::kSealOverhead);
    CHECK(file.find("payload") == std::string::npos);  // not in the clear
    REQUIRE(k.codec->DecodeFile(file, FileType::kRef, nullptr, "f", "refs/branches/abc").value() == payload);
    auto rejects = [&](std::string_view f, FileType t, std::string_view ctx, const ObjectCodec& codec) {
      auto r = codec.DecodeFile(f, t, nullptr, "f", ctx);
      return !r.ok() && r.status().code() == Code::kCorruption;
    };
    // Another type asked for, or the type byte changed to match it.
    CHECK(rejects(file, FileType::kSnapshot, "refs/branches/abc", *k.codec));
    for (FileType t : {FileType::kIndex, FileType::kSnapshot}) {
      std::string bad = file;
      bad[5] = static_cast<char>(t);
      CHECK(rejects(bad, t, "refs/branches/abc", *k.codec));
    }
    // Another key id.
    std::string bad = file;
    bad[7] ^= 1;
    CHECK(rejects(bad, FileType::kRef, "refs/branches/abc", *k.codec));
    // Another logical name (a ref file moved to another ref's name).
    CHECK(rejects(file, FileType::kRef, "refs/branches/abd", *k.codec));
    CHECK(rejects(file, FileType::kRef, "", *k.codec));
    // Another repository (same master), another master: their key ids
    // differ; with the key id rewritten to theirs the AAD still fails.
    Keyed others[] = {MakeKeyed('m', 'R'), MakeKeyed('M', 'r')};
    for (Keyed& other : others) {
      CHECK(rejects(file, FileType::kRef, "refs/branches/abc", *other.codec));
      std::string forged = file;
      std::string kid;
      PutU64(&kid, other.keys->key_id());
      forged.replace(7, 8, kid);
      CHECK(rejects(forged, FileType::kRef, "refs/branches/abc", *other.codec));
    }
    // Clearing the sealed flag, or reading with no keys.
    bad = file;
    bad[6] &= ~kFileFlagSealed;
    CHECK(rejects(bad, FileType::kRef, "refs/branches/abc", *k.codec));
    auto plain_hasher = NewSha256Hasher();
    ObjectCodec unencrypted(plain_hasher.get(), 3);
    CHECK(rejects(file, FileType::kRef, "refs/branches/abc", unencrypted));
  }
}

TEST_CASE("every flipped bit and every truncation of a sealed file is rejected", "[crypto][codec]") {
  Keyed k = MakeKeyed('m', 'r');
  for (bool compress : {false, true}) {
    std::string payload = compress ? std::string(300, 's') : "a small snapshot";
    std::string file = k.codec->EncodeFile(FileType::kSnapshot, payload, compress, "");
    REQUIRE(k.codec->DecodeFile(file, FileType::kSnapshot, nullptr, "f").ok());
    int accepted = 0;
    for (size_t i = 0; i < file.size(); i++) {
      for (int bit = 0; bit < 8; bit++) {
        std::string bad = file;
        bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
        if (k.codec->DecodeFile(bad, FileType::kSnapshot, nullptr, "f").ok()) accepted++;
        // Not even with the expected id taken from the tampered bytes.
        ObjectId id = k.codec->FileId(bad);
        if (k.codec->DecodeFile(bad, FileType::kSnapshot, &id, "f").ok()) accepted++;
      }
    }
    CHECK(accepted == 0);
    for (size_t len = 0; len < file.size(); len++) {
      CAPTURE(len);
      CHECK(k.codec->DecodeFile(std::string_view(file).substr(0, len), FileType::kSnapshot, nullptr, "f")
                .status()
                .code() == Code::kCorruption);
    }
  }
}

TEST_CASE("an unencrypted repository still detects accidental corruption", "[crypto][codec]") {
  auto hasher = NewSha256Hasher();
  ObjectCodec codec(hasher.get(), 3);
  for (std::string plain : {std::string(5000, 'a'), testing::RandomData(3000, "plain-blob")}) {
    PackEntry e;
    e.id = codec.BlobId(plain);
    CHECK(e.id == Sha256(plain));
    std::string scratch;
    std::string_view view;
    e.flags = codec.EncodeBlob(BlobType::kData, e.id, plain, &scratch, &view);
    CHECK((e.flags & kFlagSealed) == 0);
    std::string stored(view);
    e.stored_length = static_cast<uint32_t>(stored.size());
    e.raw_length = static_cast<uint32_t>(plain.size());
    REQUIRE(codec.DecodeBlob(e, stored, "p").value() == plain);
    for (size_t at : {stored.size() / 2, stored.size() - 1}) {
      std::string bad = stored;
      bad[at] ^= 0x10;
      CAPTURE(at);
      CHECK(codec.DecodeBlob(e, bad, "p").status().code() == Code::kCorruption);
    }
    // Any flip anywhere: an error, or (a bit zstd ignores, such as the
    // unused bit of a frame header) the very same content, never other
    // content.
    int wrong = 0, detected = 0;
    for (size_t i = 0; i < stored.size(); i++) {
      std::string bad = stored;
      bad[i] ^= 1 << (i % 8);
      auto r = codec.DecodeBlob(e, bad, "p");
      if (!r.ok()) {
        detected++;
      } else if (*r != plain) {
        wrong++;
      }
    }
    CHECK(wrong == 0);
    CHECK(detected >= static_cast<int>(stored.size()) - 2);
    // A sealed entry flag in an unencrypted repository is damage, not a key.
    PackEntry sealed = e;
    sealed.flags |= kFlagSealed;
    CHECK(codec.DecodeBlob(sealed, stored, "p").status().code() == Code::kCorruption);
  }
  std::string file = codec.EncodeFile(FileType::kIndex, "index payload", false);
  std::string bad = file;
  bad.back() ^= 1;
  ObjectId id = codec.FileId(file);
  CHECK(codec.DecodeFile(bad, FileType::kIndex, &id, "f").status().code() == Code::kCorruption);
}

// --- Packs ---

std::string WritePack(const ObjectCodec& codec, const RepoKeys* keys, std::vector<PackEntry>* entries) {
  testing::TempDir dir;
  auto w = PackFileWriter::Create(dir.path()).value();
  for (int i = 0; i < 4; i++) {
    std::string plain = testing::RandomData(500 + 100 * static_cast<size_t>(i), "packblob" + std::to_string(i));
    if (i % 2 == 0) plain += std::string(2000, 'c');
    BlobType type = i == 3 ? BlobType::kTree : BlobType::kData;
    ObjectId id = codec.BlobId(plain);
    std::string scratch;
    std::string_view stored;
    uint8_t flags = codec.EncodeBlob(type, id, plain, &scratch, &stored);
    REQUIRE(w->Add(id, type, flags, stored, static_cast<uint32_t>(plain.size())).ok());
  }
  auto rec = w->Finish(keys);
  REQUIRE(rec.ok());
  *entries = rec->entries;
  return testing::ReadFile(w->path());
}

// How many one-bit flips after the data section of `pack` (its pack key,
// header and trailer) still parse under `keys`, whole or from the tail.
int AcceptedTailFlips(const std::string& pack, const std::vector<PackEntry>& written, const RepoKeys* keys) {
  size_t data_end = written.back().offset + written.back().stored_length;
  int accepted = 0;
  for (size_t i = data_end; i < pack.size(); i++) {
    for (int bit = 0; bit < 8; bit++) {
      std::string bad = pack;
      bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
      if (ParsePackFile(bad, "p", keys).ok()) accepted++;
      if (ParsePackHeader(bad, bad.size(), "p", keys).ok()) accepted++;
    }
  }
  return accepted;
}

TEST_CASE("a sealed pack parses with its own keys only", "[crypto][pack]") {
  Keyed k = MakeKeyed('m', 'r');
  std::vector<PackEntry> written;
  std::string pack = WritePack(*k.codec, k.keys.get(), &written);
  CHECK(pack.substr(pack.size() - 8) == "CAIRNPK2");
  auto entries = ParsePackFile(pack, "p", k.keys.get());
  REQUIRE(entries.ok());
  REQUIRE(entries->size() == written.size());
  for (size_t i = 0; i < written.size(); i++) {
    CHECK((*entries)[i].id == written[i].id);
    CHECK((*entries)[i].flags == written[i].flags);
    CHECK((*entries)[i].offset == written[i].offset);
  }
  auto check = k.codec->VerifyPack(pack, Sha256(pack), "p");
  CHECK(check.errors.empty());
  CHECK(check.blobs_verified == 4);

  // Without keys: a clear error, not a misparse.
  auto none = ParsePackFile(pack, "p");
  REQUIRE_FALSE(none.ok());
  CHECK(none.status().code() == Code::kCorruption);
  CHECK(none.status().message().find("sealed (encrypted)") != std::string::npos);
  // Other keys: it does not authenticate.
  Keyed others[] = {MakeKeyed('m', 'R'), MakeKeyed('M', 'r')};
  for (Keyed& other : others) {
    auto r = ParsePackFile(pack, "p", other.keys.get());
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message().find("does not authenticate") != std::string::npos);
    CHECK_FALSE(other.codec->VerifyPack(pack, Sha256(pack), "p").errors.empty());
  }
  // An unsealed pack with keys is refused as well.
  auto plain_hasher = NewSha256Hasher();
  ObjectCodec unencrypted(plain_hasher.get(), 3);
  std::vector<PackEntry> unused;
  std::string plain_pack = WritePack(unencrypted, nullptr, &unused);
  auto r = ParsePackFile(plain_pack, "p", k.keys.get());
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().find("not sealed") != std::string::npos);
}

TEST_CASE("every flipped bit in a sealed pack header or trailer is rejected; truncations too", "[crypto][pack]") {
  Keyed k = MakeKeyed('m', 'r');
  std::vector<PackEntry> written;
  std::string pack = WritePack(*k.codec, k.keys.get(), &written);
  CHECK(AcceptedTailFlips(pack, written, k.keys.get()) == 0);
  for (size_t len = 0; len < pack.size(); len++) {
    std::string_view t = std::string_view(pack).substr(0, len);
    CAPTURE(len);
    CHECK(ParsePackFile(t, "p", k.keys.get()).status().code() == Code::kCorruption);
  }
}

SlotInfo TestInfoWo() { return {"web1", "user", 1790000000000000000}; }

// --- Write-only keys (format 3) ---

TEST_CASE("write-only keys: a pack they write opens with the full key only, never with theirs", "[crypto][write-only]") {
  auto full = RepoKeys::Derive(Master('m'), Id('r'), 3);
  REQUIRE(full->has_box());
  auto full_hasher = NewHmacSha256Hasher(full.get());
  ObjectCodec full_codec(full_hasher.get(), 3, full.get());
  // What a write-only slot wraps, and the keys made from it (two
  // processes of one host: each has a pack key of its own).
  SecretBytes material = full->SlotSecret(SlotAccess::kWriteOnly);
  REQUIRE(material.size() == kWriteOnlyMaterialSize);
  CHECK(material.view().find(full->master().view()) == std::string_view::npos);
  auto wo1 = RepoKeys::FromWriteOnly(material, Id('r'));
  auto wo2 = RepoKeys::FromWriteOnly(material, Id('r'));
  CHECK(wo1->write_only());
  CHECK(wo1->master().empty());
  CHECK(wo1->box_public_key() == full->box_public_key());
  CHECK(wo1->boxed_pack_key() != wo2->boxed_pack_key());
  // Same ids, chunker and key id: they deduplicate and share files.
  CHECK(wo1->ContentId("x") == full->ContentId("x"));
  CHECK(wo1->chunker_seed().view() == full->chunker_seed().view());
  CHECK(wo1->key_id() == full->key_id());
  auto wo_hasher = NewHmacSha256Hasher(wo1.get());
  ObjectCodec wo_codec(wo_hasher.get(), 3, wo1.get());

  std::vector<PackEntry> written;
  std::string pack = WritePack(wo_codec, wo1.get(), &written);
  for (const auto& e : written) CHECK(e.flags == (kFlagSealed | kFlagPackKey | (e.flags & kFlagZstd)));
  // The full key opens the pack key, the header and every blob.
  SecretBytes pack_key;
  auto entries = ParsePackFile(pack, "p", full.get(), &pack_key);
  REQUIRE(entries.ok());
  CHECK(entries->size() == written.size());
  CHECK_FALSE(pack_key.empty());
  auto check = full_codec.VerifyPack(pack, Sha256(pack), "p");
  CHECK(check.errors.empty());
  CHECK(check.blobs_verified == written.size());
  // Through the fetcher (the repository reads the pack's header once).
  int fetched = 0;
  full_codec.set_pack_key_fetcher([&](const std::string&) -> Result<SecretBytes> {
    fetched++;
    SecretBytes k;
    CAIRN_RETURN_IF_ERROR(ParsePackFile(pack, "p", full.get(), &k).status());
    return k;
  });
  for (const auto& e : written) {
    CHECK(full_codec.DecodeBlob(e, std::string_view(pack).substr(e.offset, e.stored_length), "p").ok());
  }
  CHECK(fetched == 1);

  // The write-only keys open nothing: not the header, not a blob (the
  // codec refuses; the bare AEAD under its own pack key fails too, for the
  // other process's pack and for a full host's).
  for (const RepoKeys* wo : {wo1.get(), wo2.get()}) {
    auto r = ParsePackFile(pack, "p", wo);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kWriteOnly);
    SecretBytes unused;
    CHECK_FALSE(wo->OpenPackKey(std::string_view(pack).substr(pack.size() - 16 - DecodeU32(pack.data() + pack.size() - 16), 80), &unused));
  }
  const PackEntry& e0 = written[0];
  std::string_view stored0 = std::string_view(pack).substr(e0.offset, e0.stored_length);
  auto refused = wo_codec.DecodeBlob(e0, stored0, "p");
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().code() == Code::kWriteOnly);
  std::string plain;
  std::string context;
  PutU8(&context, static_cast<uint8_t>(e0.type));
  PutU8(&context, e0.flags);
  PutU32(&context, e0.raw_length);
  context.append(e0.id.view());
  CHECK_FALSE(wo2->Open(SealDomain::kBlob, context, stored0, &plain));
  std::string full_stored;
  PackEntry fe = SealBlob(full_codec, BlobType::kTree, "a full host's tree", &full_stored);
  CHECK(fe.flags == (kFlagSealed | (fe.flags & kFlagZstd)));
  CHECK_FALSE(wo_codec.DecodeBlob(fe, full_stored, "p").ok());
  context.clear();
  PutU8(&context, static_cast<uint8_t>(fe.type));
  PutU8(&context, fe.flags);
  PutU32(&context, fe.raw_length);
  context.append(fe.id.view());
  CHECK_FALSE(wo1->Open(SealDomain::kBlob, context, full_stored, &plain));

  // Files (index, snapshots, refs) are sealed under the meta key, which
  // both have.
  std::string file = wo_codec.EncodeFile(FileType::kSnapshot, "{\"snapshot\":1}", false);
  CHECK(full_codec.DecodeFile(file, FileType::kSnapshot, nullptr, "s").value() == "{\"snapshot\":1}");
  std::string back = full_codec.EncodeFile(FileType::kIndex, "index payload", true);
  CHECK(wo_codec.DecodeFile(back, FileType::kIndex, nullptr, "i").value() == "index payload");

  // A pack key sealed to another repository's box key does not open.
  auto other = RepoKeys::Derive(Master('M'), Id('r'), 3);
  auto r = ParsePackFile(pack, "p", other.get());
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Code::kCorruption);
}

TEST_CASE("write-only packs: every flipped bit of the pack key, header or trailer is damage", "[crypto][write-only]") {
  auto full = RepoKeys::Derive(Master('m'), Id('r'), 3);
  auto wo = RepoKeys::FromWriteOnly(full->SlotSecret(SlotAccess::kWriteOnly), Id('r'));
  auto hasher = NewHmacSha256Hasher(wo.get());
  ObjectCodec codec(hasher.get(), 3, wo.get());
  std::vector<PackEntry> written;
  std::string pack = WritePack(codec, wo.get(), &written);
  CHECK(AcceptedTailFlips(pack, written, full.get()) == 0);
  // A format 2 reader (no box) refuses such a pack as damage.
  auto v2 = RepoKeys::Derive(Master('m'), Id('r'), 2);
  CHECK(ParsePackFile(pack, "p", v2.get()).status().code() == Code::kCorruption);
}

TEST_CASE("write-only slots: wrap the write-only material only; format 2 keys cannot make them", "[crypto][write-only]") {
  auto full = RepoKeys::Derive(Master('m'), Id('r'), 3);
  std::string secret = testing::RandomData(32, "wo-key-file");
  auto slot = NewKeySlot(SlotKind::kKeyFile, secret, *full, 0, 0, TestInfoWo(), SlotAccess::kWriteOnly);
  REQUIRE(slot.ok());
  std::string text = EncodeKeySlot(*slot);
  CHECK(text.find("\"access\": \"write-only\"") != std::string::npos);
  auto back = DecodeKeySlot(text, "keys/x");
  REQUIRE(back.ok());
  CHECK(back->access == SlotAccess::kWriteOnly);
  auto opened = UnwrapKeySlot(*back, secret, Id('r'));
  REQUIRE(opened.ok());
  REQUIRE(opened->has_value());
  CHECK((*opened)->view() == full->SlotSecret(SlotAccess::kWriteOnly).view());
  // Changing the access makes it not open (it is in the AAD), and a slot
  // claiming write-only with a master-sized wrap is damaged.
  std::string as_full = text;
  as_full.replace(as_full.find("  \"access\": \"write-only\",\n"), std::string("  \"access\": \"write-only\",\n").size(), "");
  CHECK_FALSE(DecodeKeySlot(as_full, "keys/x").ok());
  auto wo = RepoKeys::FromWriteOnly(**opened, Id('r'));
  CHECK(OpenSlotInfo(*back, *wo).ok());  // key list works for the write-only key
  // A write-only key cannot add keys; format 2 keys cannot add write-only ones.
  CHECK(NewKeySlot(SlotKind::kKeyFile, secret, *wo, 0, 0, TestInfoWo()).status().code() == Code::kWriteOnly);
  auto v2 = RepoKeys::Derive(Master('m'), Id('r'), 2);
  CHECK(NewKeySlot(SlotKind::kKeyFile, secret, *v2, 0, 0, TestInfoWo(), SlotAccess::kWriteOnly).status().code() ==
        Code::kNotSupported);
  // Format 2 keys are what they were: meta is enc (files written before open).
  CHECK_FALSE(v2->has_box());
  CHECK(v2->key_id() == RepoKeys::Derive(Master('m'), Id('r'))->key_id());
  CHECK(full->key_id() != v2->key_id());
}

// --- Key slots ---

SlotInfo TestInfo() { return {"host", "user", 1790000000000000000}; }

TEST_CASE("key slots round-trip and open with the right secret only", "[crypto][slots]") {
  auto keys = RepoKeys::Derive(Master('m'), Id('r'));
  auto pw = NewKeySlot(SlotKind::kPassword, "correct horse", *keys, kTestOps, kTestMem, TestInfo());
  REQUIRE(pw.ok());
  std::string file_secret = testing::RandomData(32, "key-file");
  auto kf = NewKeySlot(SlotKind::kKeyFile, file_secret, *keys, 0, 0, TestInfo());
  REQUIRE(kf.ok());
  CHECK(pw->id != kf->id);
  CHECK(pw->salt != kf->salt);

  for (const KeySlot* s : {&*pw, &*kf}) {
    std::string text = EncodeKeySlot(*s);
    auto back = DecodeKeySlot(text, "keys/x");
    REQUIRE(back.ok());
    CHECK(back->id == s->id);
    CHECK(back->kind == s->kind);
    CHECK(back->repo_id == s->repo_id);
    CHECK(back->opslimit == s->opslimit);
    CHECK(back->memlimit == s->memlimit);
    CHECK(back->salt == s->salt);
    CHECK(back->wrapped == s->wrapped);
    CHECK(back->info == s->info);
    CHECK(EncodeKeySlot(*back) == text);
    // The master never appears in the clear.
    CHECK(text.find(Hex(keys->master().view())) == std::string::npos);
    auto info = OpenSlotInfo(*back, *keys);
    REQUIRE(info.ok());
    CHECK(info->host == "host");
    CHECK(info->user == "user");
    CHECK(info->created_ns == 1790000000000000000);
  }
  auto open = UnwrapKeySlot(*pw, "correct horse", keys->repo_id());
  REQUIRE(open.ok());
  REQUIRE(open->has_value());
  CHECK((*open)->view() == keys->master().view());
  auto wrong = UnwrapKeySlot(*pw, "correct horsf", keys->repo_id());
  REQUIRE(wrong.ok());
  CHECK_FALSE(wrong->has_value());

  auto kopen = UnwrapKeySlot(*kf, file_secret, keys->repo_id());
  REQUIRE(kopen.ok());
  REQUIRE(kopen->has_value());
  CHECK((*kopen)->view() == keys->master().view());
  std::string other_secret = file_secret;
  other_secret[0] ^= 1;
  CHECK_FALSE(UnwrapKeySlot(*kf, other_secret, keys->repo_id()).value().has_value());
  // A key-file secret does not open the password slot, nor the password the key-file slot.
  CHECK_FALSE(UnwrapKeySlot(*pw, file_secret, keys->repo_id()).value().has_value());
  CHECK_FALSE(UnwrapKeySlot(*kf, "correct horse", keys->repo_id()).value().has_value());

  // New slots refuse costs out of bounds.
  CHECK(NewKeySlot(SlotKind::kPassword, "pw", *keys, 1, kTestMem, TestInfo()).status().code() ==
        Code::kInvalidArgument);
  CHECK(NewKeySlot(SlotKind::kPassword, "pw", *keys, kTestOps, crypto::kMaxMem + 1, TestInfo()).status().code() ==
        Code::kInvalidArgument);
}

TEST_CASE("a slot of repository A does not open repository B", "[crypto][slots]") {
  auto a = RepoKeys::Derive(Master('m'), Id('a'));
  std::string secret = testing::RandomData(32, "kf");
  KeySlot s = NewKeySlot(SlotKind::kKeyFile, secret, *a, 0, 0, TestInfo()).value();
  auto r = UnwrapKeySlot(s, secret, Id('b'));
  REQUIRE(r.ok());
  CHECK_FALSE(r->has_value());
  // Nor with its repository field rewritten to B: the AAD binds it (the KEK
  // is the same, so only the AAD can refuse this).
  KeySlot moved = s;
  moved.repo_id = Id('b');
  r = UnwrapKeySlot(moved, secret, Id('b'));
  REQUIRE(r.ok());
  CHECK_FALSE(r->has_value());
  // Its info does not open under B's keys either.
  auto b = RepoKeys::Derive(Master('m'), Id('b'));
  CHECK(OpenSlotInfo(s, *b).status().code() == Code::kCorruption);
}

// A slot's text with one field of its JSON changed by `edit`.
std::string EditSlot(const KeySlot& s, const std::function<void(json&)>& edit) {
  json j = json::parse(EncodeKeySlot(s));
  edit(j);
  return j.dump(2);
}

TEST_CASE("decoding a slot refuses KDF costs out of bounds before any KDF runs", "[crypto][slots]") {
  auto keys = RepoKeys::Derive(Master('m'), Id('r'));
  KeySlot s = NewKeySlot(SlotKind::kPassword, "pw", *keys, kTestOps, kTestMem, TestInfo()).value();
  struct Case {
    const char* field;
    uint64_t value;
  };
  for (Case c : {Case{"opslimit", 1}, Case{"opslimit", 0}, Case{"opslimit", crypto::kMaxOps + 1},
                 Case{"opslimit", ~uint64_t{0}}, Case{"memlimit", crypto::kMinMem - 1},
                 Case{"memlimit", 8192}, Case{"memlimit", crypto::kMaxMem + 1},
                 Case{"memlimit", uint64_t{1} << 50}}) {
    CAPTURE(c.field, c.value);
    std::string text = EditSlot(s, [&](json& j) { j["kdf"][c.field] = c.value; });
    auto r = DecodeKeySlot(text, "keys/x");
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kCorruption);
    CHECK(r.status().message().find("bounds") != std::string::npos);
    // A slot that bypassed decoding is still refused by the KDF's own check
    // (InvalidArgument, not IOError from trying to allocate).
    KeySlot direct = s;
    (std::string(c.field) == "opslimit" ? direct.opslimit : direct.memlimit) = c.value;
    CHECK(UnwrapKeySlot(direct, "pw", keys->repo_id()).status().code() == Code::kInvalidArgument);
  }
  // A negative cost is no way around it.
  CHECK_FALSE(DecodeKeySlot(EditSlot(s, [](json& j) { j["kdf"]["opslimit"] = -1; }), "k").ok());
  CHECK_FALSE(DecodeKeySlot(EditSlot(s, [](json& j) { j["kdf"]["memlimit"] = -1; }), "k").ok());
  // Nor another algorithm, or a missing cost.
  CHECK_FALSE(DecodeKeySlot(EditSlot(s, [](json& j) { j["kdf"]["algorithm"] = "hkdf-sha256"; }), "k").ok());
  CHECK_FALSE(DecodeKeySlot(EditSlot(s, [](json& j) { j["kdf"].erase("opslimit"); }), "k").ok());
  CHECK_FALSE(DecodeKeySlot(EditSlot(s, [](json& j) { j["kdf"]["salt"] = "00"; }), "k").ok());
  CHECK_FALSE(DecodeKeySlot(EditSlot(s, [](json& j) { j["wrapped"] = "00"; }), "k").ok());
  CHECK_FALSE(DecodeKeySlot("not json", "k").ok());
  CHECK_FALSE(DecodeKeySlot("[]", "k").ok());
}

TEST_CASE("changing any public field of a slot makes it not open", "[crypto][slots]") {
  auto keys = RepoKeys::Derive(Master('m'), Id('r'));
  KeySlot s = NewKeySlot(SlotKind::kPassword, "pw", *keys, kTestOps, kTestMem, TestInfo()).value();
  auto opens = [&](const std::string& text, const ObjectId& repo) {
    auto d = DecodeKeySlot(text, "keys/x");
    REQUIRE(d.ok());
    auto r = UnwrapKeySlot(*d, "pw", repo);
    REQUIRE(r.ok());
    return r->has_value();
  };
  CHECK(opens(EncodeKeySlot(s), keys->repo_id()));
  CHECK_FALSE(opens(EditSlot(s, [](json& j) { j["kdf"]["opslimit"] = kTestOps + 1; }), keys->repo_id()));
  CHECK_FALSE(opens(EditSlot(s, [](json& j) { j["kdf"]["memlimit"] = kTestMem + (1 << 20); }), keys->repo_id()));
  std::string salt = s.salt;
  salt[0] ^= 1;
  CHECK_FALSE(opens(EditSlot(s, [&](json& j) { j["kdf"]["salt"] = Hex(salt); }), keys->repo_id()));
  // The id and the repository change only the AAD, not the KEK.
  CHECK_FALSE(opens(EditSlot(s, [](json& j) { j["id"] = "0123456789abcdef"; }), keys->repo_id()));
  CHECK_FALSE(opens(EditSlot(s, [](json& j) { j["repository"] = Id('q').ToHex(); }), Id('q')));
  // The kind (with its KDF made to match).
  CHECK_FALSE(opens(EditSlot(s,
                             [](json& j) {
                               j["kind"] = "key-file";
                               j["kdf"] = {{"algorithm", "hkdf-sha256"}, {"salt", j["kdf"]["salt"]}};
                             }),
                    keys->repo_id()));
  // A key-file slot turned into a password slot.
  std::string secret = testing::RandomData(32, "kf");
  KeySlot kf = NewKeySlot(SlotKind::kKeyFile, secret, *keys, 0, 0, TestInfo()).value();
  auto kf_opens = [&](const std::string& text) {
    auto d = DecodeKeySlot(text, "keys/x");
    REQUIRE(d.ok());
    return UnwrapKeySlot(*d, secret, keys->repo_id()).value().has_value();
  };
  CHECK(kf_opens(EncodeKeySlot(kf)));
  CHECK_FALSE(kf_opens(EditSlot(kf, [](json& j) { j["id"] = "fedcba9876543210"; })));
  CHECK_FALSE(kf_opens(EditSlot(kf, [](json& j) {
    j["kind"] = "password";
    j["kdf"] = {{"algorithm", "argon2id13"}, {"opslimit", kTestOps}, {"memlimit", kTestMem}, {"salt", j["kdf"]["salt"]}};
  })));
  // A flipped bit of the wrapped key.
  KeySlot flipped = kf;
  flipped.wrapped[30] ^= 4;
  CHECK_FALSE(UnwrapKeySlot(flipped, secret, keys->repo_id()).value().has_value());
}

TEST_CASE("a tampered slot info does not open", "[crypto][slots]") {
  auto keys = RepoKeys::Derive(Master('m'), Id('r'));
  KeySlot s = NewKeySlot(SlotKind::kKeyFile, "secret", *keys, 0, 0, TestInfo()).value();
  REQUIRE(OpenSlotInfo(s, *keys).ok());
  for (size_t i = 0; i < s.info.size(); i++) {
    KeySlot bad = s;
    bad.info[i] ^= 1;
    CAPTURE(i);
    CHECK(OpenSlotInfo(bad, *keys).status().code() == Code::kCorruption);
  }
  // Bound to the slot id: another slot's info does not open as this one's.
  KeySlot other = NewKeySlot(SlotKind::kKeyFile, "secret", *keys, 0, 0, {"evil", "mallory", 1}).value();
  KeySlot swapped = s;
  swapped.info = other.info;
  CHECK(OpenSlotInfo(swapped, *keys).status().code() == Code::kCorruption);
}

TEST_CASE("key files: the text of a new one parses; anything else is refused", "[crypto][slots]") {
  std::string text = NewKeyFileText();
  auto secret = ParseKeyFile(text, "k");
  REQUIRE(secret.ok());
  CHECK(secret->size() == 32);
  CHECK(NewKeyFileText() != text);
  CHECK(ParseKeyFile(text.substr(0, text.size() - 1), "k").ok());  // without its newline
  for (std::string bad : {std::string(""), text.substr(0, text.size() - 2), text + "00",
                          "cairn-key-file v2\n" + text.substr(18), std::string("cairn-key-file v1\n") +
                          std::string(64, 'G')}) {
    CAPTURE(bad);
    CHECK(ParseKeyFile(bad, "k").status().code() == Code::kInvalidArgument);
  }
}

// --- Config ---

TEST_CASE("an encrypted config verifies untouched and fails when any field changes", "[crypto][config]") {
  RepoConfig cfg = NewRepoConfig();
  cfg.SetEncrypted(true);
  auto keys = RepoKeys::Derive(Master('m'), cfg.repo_id, cfg.format);
  std::string text = EncodeConfig(cfg, keys.get());
  CHECK(json::parse(text).contains("mac"));
  CHECK_FALSE(json::parse(text)["chunker"].contains("seed"));
  REQUIRE(VerifyConfig(text, *keys).ok());
  auto decoded = DecodeConfig(text);
  REQUIRE(decoded.ok());
  CHECK(decoded->format == kFormatWriteOnly);
  CHECK(decoded->encrypted());
  CHECK(decoded->box_public_key == keys->box_public_key());
  // Other keys do not verify it.
  CHECK(VerifyConfig(text, *RepoKeys::Derive(Master('M'), cfg.repo_id, cfg.format)).code() == Code::kCorruption);
  // A format 2 config (made before write-only keys) still decodes and verifies.
  RepoConfig old = cfg;
  old.format = kFormatEncrypted;
  auto old_keys = RepoKeys::Derive(Master('m'), cfg.repo_id, old.format);
  std::string old_text = EncodeConfig(old, old_keys.get());
  CHECK_FALSE(json::parse(old_text).contains("box_public_key"));
  CHECK(VerifyConfig(old_text, *old_keys).ok());
  CHECK(DecodeConfig(old_text).value().format == kFormatEncrypted);
  CHECK(DecodeConfig(old_text).value().box_public_key.empty());

  auto edited = [&](const std::function<void(json&)>& edit) {
    json j = json::parse(text);
    edit(j);
    return j.dump(2);
  };
  // Reformatting is not a change (the MAC is over the canonical JSON).
  CHECK(VerifyConfig(edited([](json&) {}), *keys).ok());
  std::vector<std::function<void(json&)>> edits = {
      [](json& j) { j["compression"]["level"] = j["compression"]["level"].get<int>() + 1; },
      [](json& j) { j["compression"]["level"] = 0; },
      [](json& j) { j["pack_size"] = j["pack_size"].get<uint32_t>() * 2; },
      [](json& j) { j["chunker"]["min_size"] = j["chunker"]["min_size"].get<uint32_t>() / 2; },
      [](json& j) { j["chunker"]["avg_size"] = j["chunker"]["avg_size"].get<uint32_t>() * 2; },
      [](json& j) { j["chunker"]["max_size"] = j["chunker"]["max_size"].get<uint32_t>() * 2; },
      [](json& j) { j["id"] = Id('x').ToHex(); },
      [](json& j) { j["box_public_key"] = Id('b').ToHex(); },
      [](json& j) { j["format"] = 2; },
      [](json& j) { j["extra"] = 1; },
      [](json& j) { j.erase("mac"); },
      [](json& j) { j["mac"] = Id('0').ToHex(); },
      [](json& j) { j["mac"] = 5; },
  };
  for (size_t i = 0; i < edits.size(); i++) {
    CAPTURE(i);
    CHECK(VerifyConfig(edited(edits[i]), *keys).code() == Code::kCorruption);
  }
  CHECK(VerifyConfig("not json", *keys).code() == Code::kCorruption);
  CHECK(VerifyConfig("[1]", *keys).code() == Code::kCorruption);
}

TEST_CASE("a format 2 config with a chunker seed is refused", "[crypto][config]") {
  RepoConfig cfg = NewRepoConfig();
  cfg.SetEncrypted(true);
  auto keys = RepoKeys::Derive(Master('m'), cfg.repo_id, cfg.format);
  json j = json::parse(EncodeConfig(cfg, keys.get()));
  j["chunker"]["seed"] = Id('s').ToHex();
  auto r = DecodeConfig(j.dump());
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Code::kCorruption);
  CHECK(r.status().message().find("seed") != std::string::npos);
  // And a format 1 config cannot claim encryption, nor format 2 be unencrypted.
  json plain = json::parse(EncodeConfig(NewRepoConfig()));
  plain["encryption"] = std::string(kEncryptionSuite);
  CHECK_FALSE(DecodeConfig(plain.dump()).ok());
  json two = json::parse(EncodeConfig(cfg, keys.get()));
  two["encryption"] = "none";
  CHECK_FALSE(DecodeConfig(two.dump()).ok());
}

// The keyed context of content ids (set up once, copied per call, used from
// many threads) gives exactly the one-shot HMAC.
TEST_CASE("content ids are HMAC-SHA256 under the id key, from any thread", "[crypto]") {
  SecretBytes master(crypto::kKeySize);
  crypto::RandomBytes(master.data(), master.size());
  auto keys = RepoKeys::Derive(master, ObjectId(reinterpret_cast<const uint8_t*>(std::string(32, 'r').data())));
  std::vector<std::string> inputs = {"", "a", std::string(1 << 20, 'x'), crypto::RandomString(1000)};
  for (const auto& in : inputs) CHECK(keys->ContentId(in) == crypto::HmacSha256(keys->id_key(), in));
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; t++) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; i++) {
        std::string in = std::to_string(t * 100000 + i);
        if (keys->ContentId(in) != crypto::HmacSha256(keys->id_key(), in)) wrong++;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(wrong == 0);
}

}  // namespace
}  // namespace cairn::objstore

// --- A repository, through its keys ---

namespace cairn::repo {
namespace {

namespace fs = std::filesystem;
using objstore::crypto::SecretBytes;

class AlwaysApprove : public Approver {
 public:
  Status Approve(const Operation&) override { return Status::OK(); }
};

NewKey PasswordKey(const std::string& pw) {
  NewKey k;
  k.kind = objstore::SlotKind::kPassword;
  k.secret = SecretBytes(pw.data(), pw.size());
  k.opslimit = objstore::crypto::kMinOps;
  k.memlimit = objstore::crypto::kMinMem;
  return k;
}

KeyAccess Password(const std::string& pw) {
  KeyAccess a;
  a.password = [pw]() -> Result<SecretBytes> { return SecretBytes(pw.data(), pw.size()); };
  return a;
}

Result<std::unique_ptr<Repository>> OpenAt(const testing::TempDir& t, const KeyAccess& access,
                                           const std::string& cache = "cache") {
  return Repository::Open(objstore::NewLocalBackend(t / "repo"), t / cache, access);
}

std::unique_ptr<Repository> InitEncrypted(const testing::TempDir& t, const std::string& pw) {
  auto cfg = objstore::NewRepoConfig();
  cfg.SetEncrypted(true);
  NewKey key = PasswordKey(pw);
  REQUIRE(Repository::Init(objstore::NewLocalBackend(t / "repo").get(), cfg, &key).ok());
  auto r = OpenAt(t, Password(pw));
  REQUIRE(r.ok());
  return std::move(r).value();
}

TEST_CASE("an encrypted repository opens with its password only", "[crypto][repo]") {
  testing::TempDir t;
  auto cfg = objstore::NewRepoConfig();
  cfg.SetEncrypted(true);
  CHECK(Repository::Init(objstore::NewLocalBackend(t / "repo").get(), cfg, nullptr).code() == Code::kInvalidArgument);
  NewKey key = PasswordKey("s3cret");
  REQUIRE(Repository::Init(objstore::NewLocalBackend(t / "repo").get(), cfg, &key).ok());
  // The config on disk has no seed and a MAC.
  std::string config = testing::ReadFile(t / "repo/config");
  CHECK(config.find("\"mac\"") != std::string::npos);
  CHECK(config.find("\"seed\"") == std::string::npos);

  auto r = OpenAt(t, Password("s3cret"));
  REQUIRE(r.ok());
  CHECK((*r)->encrypted());
  CHECK((*r)->hasher().Name() == std::string("hmac-sha256"));
  CHECK_FALSE((*r)->key_slot().empty());
  CHECK(fs::exists(t / ("repo/keys/" + (*r)->key_slot())));
  r->reset();

  auto wrong = OpenAt(t, Password("s3cres"));
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.status().code() == Code::kWrongKey);
  auto none = OpenAt(t, KeyAccess{});
  REQUIRE_FALSE(none.ok());
  CHECK(none.status().code() == Code::kInvalidArgument);
  // A key file where there is no key-file slot.
  REQUIRE(GenerateKeyFile(t / "kf").ok());
  KeyAccess kf;
  kf.key_file = t / "kf";
  CHECK(OpenAt(t, kf).status().code() == Code::kWrongKey);

  // A changed config is refused once the keys are known.
  std::string changed = config;
  auto at = changed.find("\"level\": 3");
  REQUIRE(at != std::string::npos);
  changed.replace(at, 10, "\"level\": 4");
  testing::WriteFile(t / "repo/config", changed);
  CHECK(OpenAt(t, Password("s3cret")).status().code() == Code::kCorruption);
}

TEST_CASE("key slots of a repository: add a key file, change the password, remove slots", "[crypto][repo]") {
  testing::TempDir t;
  auto r = InitEncrypted(t, "first");
  std::string first_slot = r->key_slot();
  REQUIRE(GenerateKeyFile(t / "kf").ok());
  CHECK(GenerateKeyFile(t / "kf").code() == Code::kAlreadyExists);
  NewKey kfkey;
  kfkey.kind = objstore::SlotKind::kKeyFile;
  kfkey.secret = ReadKeyFile(t / "kf").value();
  auto kf_slot = AddKeySlot(*r, kfkey);
  REQUIRE(kf_slot.ok());

  KeyAccess by_file;
  by_file.key_file = t / "kf";
  {
    auto o = OpenAt(t, by_file, "cache2");
    REQUIRE(o.ok());
    CHECK((*o)->key_slot() == *kf_slot);
    // The key file's opener cannot change a password.
    CHECK(ChangePassword(**o, PasswordKey("x")).status().code() == Code::kInvalidArgument);
  }

  std::vector<std::string> problems;
  auto list = ListKeySlots(*r, &problems);
  REQUIRE(list.ok());
  CHECK(problems.empty());
  REQUIRE(list->size() == 2);

  auto second = ChangePassword(*r, PasswordKey("second"));
  REQUIRE(second.ok());
  CHECK(r->key_slot() == *second);
  CHECK_FALSE(fs::exists(t / ("repo/keys/" + first_slot)));
  CHECK(OpenAt(t, Password("first"), "cache3").status().code() == Code::kWrongKey);
  CHECK(OpenAt(t, Password("second"), "cache3").ok());

  AlwaysApprove yes;
  // The slot in use (two slots exist).
  Status st = RemoveKeySlot(*r, *second, &yes);
  CHECK(st.code() == Code::kInvalidArgument);
  CHECK(st.message().find("in use") != std::string::npos);
  CHECK(RemoveKeySlot(*r, "0000000000000000", &yes).code() == Code::kNotFound);
  // The key-file slot goes; then the password slot is the last one.
  REQUIRE(RemoveKeySlot(*r, *kf_slot, &yes).ok());
  CHECK(OpenAt(t, by_file, "cache4").status().code() == Code::kWrongKey);
  st = RemoveKeySlot(*r, *second, &yes);
  CHECK(st.code() == Code::kInvalidArgument);
  CHECK(st.message().find("last") != std::string::npos);
  CHECK(OpenAt(t, Password("second"), "cache5").ok());
}

TEST_CASE("the last slot is refused even when it is not the one in use", "[crypto][repo]") {
  testing::TempDir t;
  auto r = InitEncrypted(t, "pw");
  // Make this process believe another slot opened it: the one slot there is
  // is then only "the last", and still refused.
  std::string only = r->key_slot();
  r->set_key_slot("ffffffffffffffff");
  AlwaysApprove yes;
  Status st = RemoveKeySlot(*r, only, &yes);
  CHECK(st.code() == Code::kInvalidArgument);
  CHECK(st.message().find("last") != std::string::npos);
  CHECK(fs::exists(t / ("repo/keys/" + only)));
}

TEST_CASE("blobs, trees, snapshots and refs round-trip through an encrypted repository", "[crypto][repo]") {
  testing::TempDir t;
  auto r = InitEncrypted(t, "pw");
  std::string content = testing::RandomData(200000, "enc-content") + std::string(50000, 'q');
  testing::WriteFile(t / "src/d/f", content);
  testing::WriteFile(t / "src/small", "small file");

  BackupOptions o;
  o.paths = {t / "src"};
  auto res = Backup(r.get(), o);
  REQUIRE(res.ok());
  REQUIRE(res->snapshot_id);

  // A blob written directly.
  ObjectId direct_id;
  {
    BlobWriter w(r.get(), 1);
    direct_id = r->codec().BlobId("a blob of its own");
    REQUIRE(w.Add(BlobType::kData, direct_id, "a blob of its own").value());
    REQUIRE(w.Flush().ok());
  }
  CHECK(direct_id != Sha256("a blob of its own"));
  CHECK(r->ReadBlob(direct_id).value() == "a blob of its own");

  REQUIRE(r->UpdateRef("tags/v1", std::nullopt, *res->snapshot_id, "{\"message\":\"m\"}").ok());

  // No stored file holds a name or content in the clear; ref names are opaque.
  for (const auto& e : fs::recursive_directory_iterator(t / "repo")) {
    if (!e.is_regular_file()) continue;
    std::string data = testing::ReadFile(e.path().string());
    CAPTURE(e.path().string());
    CHECK(data.find("small file") == std::string::npos);
    CHECK(data.find(std::string(1000, 'q')) == std::string::npos);
    CHECK(e.path().filename() != "main");
    CHECK(e.path().filename() != "v1");
  }

  // Read back in a fresh process (a new cache, from the sealed index files).
  r.reset();
  auto again = OpenAt(t, Password("pw"), "cache-new");
  REQUIRE(again.ok());
  auto& rr = *again;
  auto head = rr->ReadRef("branches/main");
  REQUIRE(head.ok());
  REQUIRE(head->has_value());
  CHECK(**head == *res->snapshot_id);
  auto tag = rr->ReadRefValue("tags/v1");
  REQUIRE(tag.ok());
  REQUIRE(tag->has_value());
  CHECK((*tag)->id == *res->snapshot_id);
  CHECK((*tag)->annotation == "{\"message\":\"m\"}");
  auto tags = rr->ListRefs("tags");
  REQUIRE(tags.ok());
  REQUIRE(tags->size() == 1);
  CHECK(tags->front().first == "v1");

  auto snap = rr->ReadSnapshot(*res->snapshot_id);
  REQUIRE(snap.ok());
  auto tree = rr->ReadTree(snap->tree);
  REQUIRE(tree.ok());
  CHECK(snap->tree != Sha256(rr->ReadBlob(snap->tree).value()));
  auto f = rr->ResolvePath("latest:d/f");
  REQUIRE(f.ok());
  std::string back;
  for (const auto& c : f->entry.chunks) {
    std::string chunk = rr->ReadBlob(c).value();
    CHECK(c == rr->codec().BlobId(chunk));
    CHECK(c != Sha256(chunk));  // keyed ids: not the plain SHA-256 of the content
    back += chunk;
  }
  CHECK(back == content);
  CHECK(rr->ReadBlob(direct_id).value() == "a blob of its own");
  CHECK(rr->ResolveRevision("v1").value() == *res->snapshot_id);

  // The same content in another encrypted repository gets other ids.
  testing::TempDir t2;
  auto other = InitEncrypted(t2, "pw");
  CHECK(other->codec().BlobId(back) != rr->codec().BlobId(back));
  CHECK(other->config().chunker.seed != rr->config().chunker.seed);
}


TEST_CASE("a repository opened with a write-only key backs up; a full key restores what it wrote", "[crypto][write-only][repo]") {
  testing::TempDir t;
  auto r = InitEncrypted(t, "pw");
  REQUIRE(GenerateKeyFile(t / "wo.key").ok());
  NewKey wo_key;
  wo_key.kind = objstore::SlotKind::kKeyFile;
  wo_key.secret = ReadKeyFile(t / "wo.key").value();
  wo_key.access = objstore::SlotAccess::kWriteOnly;
  wo_key.host = "web1";
  REQUIRE(AddKeySlot(*r, wo_key).ok());
  std::string content = testing::RandomData(300000, "wo-content");
  testing::WriteFile(t / "src/f", content);
  r.reset();

  KeyAccess wo_access;
  wo_access.key_file = t / "wo.key";
  auto wo = OpenAt(t, wo_access, "cache-wo");
  REQUIRE(wo.ok());
  CHECK((*wo)->write_only());
  BackupOptions o;
  o.paths = {t / "src"};
  auto res = Backup(wo->get(), o);
  REQUIRE(res.ok());
  REQUIRE(res->snapshot_id);
  // Even through the library, below the CLI's refusals, nothing it stored opens.
  auto snap = (*wo)->ReadSnapshot(*res->snapshot_id);
  REQUIRE(snap.ok());
  auto tree = (*wo)->ReadTree(snap->tree);
  REQUIRE_FALSE(tree.ok());
  CHECK(tree.status().code() == Code::kWriteOnly);
  wo->reset();

  auto full = OpenAt(t, Password("pw"), "cache-full");
  REQUIRE(full.ok());
  auto f = (*full)->ResolvePath(res->snapshot_id->ToHex() + ":f");
  REQUIRE(f.ok());
  std::string back;
  for (const auto& c : f->entry.chunks) back += (*full)->ReadBlob(c).value();
  CHECK(back == content);
}


TEST_CASE("a format 2 repository (made before write-only keys) is read and written as before", "[crypto][repo]") {
  testing::TempDir t;
  auto cfg = objstore::NewRepoConfig();
  cfg.SetEncrypted(true);
  cfg.format = objstore::kFormatEncrypted;
  NewKey key = PasswordKey("pw");
  REQUIRE(Repository::Init(objstore::NewLocalBackend(t / "repo").get(), cfg, &key).ok());
  std::string config = testing::ReadFile(t / "repo/config");
  CHECK(config.find("\"format\": 2") != std::string::npos);
  CHECK(config.find("box_public_key") == std::string::npos);
  std::string content = testing::RandomData(150000, "v2-content");
  testing::WriteFile(t / "src/f", content);
  {
    auto r = OpenAt(t, Password("pw"));
    REQUIRE(r.ok());
    BackupOptions o;
    o.paths = {t / "src"};
    REQUIRE(Backup(r->get(), o).ok());
    // No write-only keys here: the repository has no box key.
    REQUIRE(GenerateKeyFile(t / "wo.key").ok());
    NewKey wo;
    wo.kind = objstore::SlotKind::kKeyFile;
    wo.secret = ReadKeyFile(t / "wo.key").value();
    wo.access = objstore::SlotAccess::kWriteOnly;
    CHECK(AddKeySlot(**r, wo).status().code() == Code::kNotSupported);
  }
  auto r = OpenAt(t, Password("pw"), "cache-2");
  REQUIRE(r.ok());
  CHECK((*r)->config().format == objstore::kFormatEncrypted);
  auto f = (*r)->ResolvePath("latest:f");
  REQUIRE(f.ok());
  std::string back;
  for (const auto& c : f->entry.chunks) back += (*r)->ReadBlob(c).value();
  CHECK(back == content);
}

}  // namespace
}  // namespace cairn::repo
