// SPDX-License-Identifier: MIT

#include "objstore/crypto.h"

#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <sodium.h>

#include <cstring>
#include <mutex>
#include <new>

namespace cairn::objstore::crypto {

void EnsureInit() {
  static std::once_flag once;
  std::call_once(once, [] { CAIRN_CHECK(sodium_init() >= 0); });
}

void RandomBytes(void* out, size_t n) {
  EnsureInit();
  randombytes_buf(out, n);
}

std::string RandomString(size_t n) {
  std::string s(n, '\0');
  RandomBytes(s.data(), n);
  return s;
}

SecretBytes::SecretBytes(size_t n) : n_(n) {
  EnsureInit();
  if (n == 0) return;
  p_ = static_cast<uint8_t*>(sodium_malloc(n));
  if (p_ == nullptr) throw std::bad_alloc();
  sodium_memzero(p_, n);
}

SecretBytes::SecretBytes(const void* data, size_t n) : SecretBytes(n) {
  if (n != 0) std::memcpy(p_, data, n);
}

SecretBytes::~SecretBytes() {
  if (p_ != nullptr) sodium_free(p_);  // zeroes before freeing
}

SecretBytes::SecretBytes(SecretBytes&& o) noexcept : p_(o.p_), n_(o.n_) {
  o.p_ = nullptr;
  o.n_ = 0;
}

SecretBytes& SecretBytes::operator=(SecretBytes&& o) noexcept {
  if (this != &o) {
    if (p_ != nullptr) sodium_free(p_);
    p_ = o.p_;
    n_ = o.n_;
    o.p_ = nullptr;
    o.n_ = 0;
  }
  return *this;
}

void Wipe(std::string* s) {
  if (!s->empty()) sodium_memzero(s->data(), s->size());
  s->clear();
}

bool ConstantTimeEqual(std::string_view a, std::string_view b) {
  EnsureInit();
  return a.size() == b.size() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

ObjectId HmacSha256(const SecretBytes& key, std::string_view data) {
  uint8_t out[32];
  unsigned int len = 0;
  CAIRN_CHECK(HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
                   reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len) != nullptr &&
              len == 32);
  return ObjectId(out);
}

namespace {
EVP_MAC* HmacAlgorithm() {
  static EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  CAIRN_CHECK(mac != nullptr);
  return mac;
}
}  // namespace

HmacSha256Key::HmacSha256Key(const SecretBytes& key) : keyed_(EVP_MAC_CTX_new(HmacAlgorithm())) {
  CAIRN_CHECK(keyed_ != nullptr);
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_construct_end()};
  CAIRN_CHECK(EVP_MAC_init(keyed_, key.data(), key.size(), params) == 1);
}

HmacSha256Key::~HmacSha256Key() { EVP_MAC_CTX_free(keyed_); }

ObjectId HmacSha256Key::Mac(std::string_view data) const {
  EVP_MAC_CTX* c = EVP_MAC_CTX_dup(keyed_);
  CAIRN_CHECK(c != nullptr);
  uint8_t out[32];
  size_t len = 0;
  CAIRN_CHECK(EVP_MAC_update(c, reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1 &&
              EVP_MAC_final(c, out, &len, sizeof out) == 1 && len == 32);
  EVP_MAC_CTX_free(c);
  return ObjectId(out);
}

SecretBytes Hkdf(std::string_view ikm, std::string_view salt, std::string_view info, size_t out_len) {
  EnsureInit();
  CAIRN_CHECK(out_len <= 255 * 32);
  // Extract: PRK = HMAC(salt, IKM); an empty salt is 32 zero bytes.
  SecretBytes prk(32);
  {
    std::string zero(32, '\0');
    std::string_view s = salt.empty() ? std::string_view(zero) : salt;
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(s.data()), s.size());
    crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(ikm.data()), ikm.size());
    crypto_auth_hmacsha256_final(&st, prk.data());
    sodium_memzero(&st, sizeof st);
  }
  // Expand: T(i) = HMAC(PRK, T(i-1) | info | i).
  SecretBytes out(out_len);
  SecretBytes t(32);
  size_t done = 0;
  for (uint8_t i = 1; done < out_len; i++) {
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, prk.data(), prk.size());
    if (i > 1) crypto_auth_hmacsha256_update(&st, t.data(), 32);
    crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(info.data()), info.size());
    crypto_auth_hmacsha256_update(&st, &i, 1);
    crypto_auth_hmacsha256_final(&st, t.data());
    sodium_memzero(&st, sizeof st);
    size_t n = std::min<size_t>(32, out_len - done);
    std::memcpy(out.data() + done, t.data(), n);
    done += n;
  }
  return out;
}

Result<SecretBytes> Argon2id(std::string_view password, std::string_view salt, uint64_t opslimit,
                             uint64_t memlimit) {
  EnsureInit();
  if (salt.size() != kSaltSize || opslimit < kMinOps || opslimit > kMaxOps || memlimit < kMinMem ||
      memlimit > kMaxMem) {
    return Status::InvalidArgument("Argon2id parameters out of bounds");
  }
  SecretBytes out(kKeySize);
  if (crypto_pwhash(out.data(), out.size(), password.data(), password.size(),
                    reinterpret_cast<const unsigned char*>(salt.data()), opslimit, static_cast<size_t>(memlimit),
                    crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return Status::IOError("not enough memory for the password's key derivation (" +
                           std::to_string(memlimit >> 20) + " MiB)");
  }
  return out;
}

void Seal(const SecretBytes& key, std::string_view plaintext, std::string_view aad, std::string* out) {
  CAIRN_CHECK(key.size() == kKeySize);
  size_t at = out->size();
  out->resize(at + kSealOverhead + plaintext.size());
  auto* p = reinterpret_cast<unsigned char*>(out->data() + at);
  RandomBytes(p, kNonceSize);
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(p + kNonceSize, &clen,
                                             reinterpret_cast<const unsigned char*>(plaintext.data()),
                                             plaintext.size(), reinterpret_cast<const unsigned char*>(aad.data()),
                                             aad.size(), nullptr, p, key.data());
  CAIRN_CHECK(clen == plaintext.size() + kTagSize);
}

bool Open(const SecretBytes& key, std::string_view sealed, std::string_view aad, std::string* out) {
  CAIRN_CHECK(key.size() == kKeySize);
  if (sealed.size() < kSealOverhead) return false;
  const auto* p = reinterpret_cast<const unsigned char*>(sealed.data());
  out->resize(sealed.size() - kSealOverhead);
  unsigned long long mlen = 0;
  return crypto_aead_xchacha20poly1305_ietf_decrypt(reinterpret_cast<unsigned char*>(out->data()), &mlen, nullptr,
                                                    p + kNonceSize, sealed.size() - kNonceSize,
                                                    reinterpret_cast<const unsigned char*>(aad.data()), aad.size(),
                                                    p, key.data()) == 0 &&
         mlen == out->size();
}

std::string BoxKeypairFromSeed(const SecretBytes& seed, SecretBytes* secret) {
  EnsureInit();
  CAIRN_CHECK(seed.size() == crypto_box_SEEDBYTES);
  static_assert(crypto_box_PUBLICKEYBYTES == kBoxPublicKeySize && crypto_box_SECRETKEYBYTES == kBoxSecretKeySize &&
                crypto_box_SEALBYTES == kBoxSealOverhead);
  std::string pk(kBoxPublicKeySize, '\0');
  *secret = SecretBytes(kBoxSecretKeySize);
  CAIRN_CHECK(crypto_box_seed_keypair(reinterpret_cast<unsigned char*>(pk.data()), secret->data(), seed.data()) == 0);
  return pk;
}

std::string BoxSeal(std::string_view public_key, std::string_view plaintext) {
  EnsureInit();
  CAIRN_CHECK(public_key.size() == kBoxPublicKeySize);
  std::string out(plaintext.size() + kBoxSealOverhead, '\0');
  CAIRN_CHECK(crypto_box_seal(reinterpret_cast<unsigned char*>(out.data()),
                              reinterpret_cast<const unsigned char*>(plaintext.data()), plaintext.size(),
                              reinterpret_cast<const unsigned char*>(public_key.data())) == 0);
  return out;
}

bool BoxSealOpen(std::string_view public_key, const SecretBytes& secret, std::string_view sealed, SecretBytes* out) {
  EnsureInit();
  if (public_key.size() != kBoxPublicKeySize || secret.size() != kBoxSecretKeySize ||
      sealed.size() < kBoxSealOverhead) {
    return false;
  }
  SecretBytes plain(sealed.size() - kBoxSealOverhead);
  if (crypto_box_seal_open(plain.data(), reinterpret_cast<const unsigned char*>(sealed.data()), sealed.size(),
                           reinterpret_cast<const unsigned char*>(public_key.data()), secret.data()) != 0) {
    return false;
  }
  *out = std::move(plain);
  return true;
}

}  // namespace cairn::objstore::crypto
