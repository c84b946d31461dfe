// SPDX-License-Identifier: MIT
//
// The cryptographic primitives cairn uses, each a thin wrapper over a
// library call (libsodium; OpenSSL for the SHA-256-based id MAC, which uses
// the CPU's SHA extensions): nothing here implements a primitive. See
// docs/security.md for the design and docs/format.md#sealed-objects for the
// byte layouts.
//
//   XChaCha20-Poly1305-IETF   every sealed object (random 24-byte nonce)
//   HMAC-SHA256               keyed object ids; HKDF-SHA256 (RFC 5869)
//   Argon2id (v1.3)           password -> key-encryption key
//   X25519 sealed boxes       pack keys of write-only hosts (crypto_box_seal)

#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "objstore/core/object_id.h"
#include "objstore/core/status.h"

struct evp_mac_ctx_st;  // OpenSSL's EVP_MAC_CTX

namespace cairn::objstore::crypto {

inline constexpr size_t kKeySize = 32;
inline constexpr size_t kNonceSize = 24;
inline constexpr size_t kTagSize = 16;
// What sealing adds to a plaintext: nonce and tag.
inline constexpr size_t kSealOverhead = kNonceSize + kTagSize;

// Initialises libsodium (idempotent, thread-safe). Aborts if it cannot.
void EnsureInit();

// `n` bytes from the OS CSPRNG.
void RandomBytes(void* out, size_t n);
std::string RandomString(size_t n);

// Bytes that hold key material: allocated with sodium_malloc (guard pages,
// mlock'ed where the limit allows, excluded from core dumps), zeroed and
// freed on destruction. Move-only.
class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(size_t n);
  SecretBytes(const void* data, size_t n);
  ~SecretBytes();
  SecretBytes(SecretBytes&& o) noexcept;
  SecretBytes& operator=(SecretBytes&& o) noexcept;
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;

  uint8_t* data() { return p_; }
  const uint8_t* data() const { return p_; }
  size_t size() const { return n_; }
  bool empty() const { return n_ == 0; }
  std::string_view view() const { return {reinterpret_cast<const char*>(p_), n_}; }

 private:
  uint8_t* p_ = nullptr;
  size_t n_ = 0;
};

// Zeroes a string's bytes (a password or secret held briefly).
void Wipe(std::string* s);

// Constant-time comparison of equal-length byte strings.
bool ConstantTimeEqual(std::string_view a, std::string_view b);

// HMAC-SHA256(key, data) (OpenSSL). For occasional use: each call sets the
// key up anew.
ObjectId HmacSha256(const SecretBytes& key, std::string_view data);

// HMAC-SHA256 under one key set up once, for the hot path (every content
// id): a call copies the keyed state instead of fetching the algorithm and
// hashing the key again, which in OpenSSL 3 takes global locks (measured:
// the one-shot call made a first backup of the kernel tree stall on them).
// Thread-safe.
class HmacSha256Key {
 public:
  explicit HmacSha256Key(const SecretBytes& key);
  ~HmacSha256Key();
  HmacSha256Key(const HmacSha256Key&) = delete;
  HmacSha256Key& operator=(const HmacSha256Key&) = delete;
  ObjectId Mac(std::string_view data) const;

 private:
  ::evp_mac_ctx_st* keyed_;  // EVP_MAC_CTX, initialised with the key, never updated
};

// HKDF-SHA256 (RFC 5869) built from libsodium's HMAC-SHA256: extract with
// `salt`, expand with `info` into `out_len` bytes (at most 255 * 32).
SecretBytes Hkdf(std::string_view ikm, std::string_view salt, std::string_view info, size_t out_len);

// Argon2id v1.3 of `password` with a 16-byte `salt`. Bounds: opslimit
// kMinOps..kMaxOps, memlimit kMinMem..kMaxMem (checked by the caller before
// the call; InvalidArgument here too). IOError if memory runs out.
inline constexpr uint64_t kMinOps = 2, kMaxOps = 10;
inline constexpr uint64_t kMinMem = uint64_t{64} << 20, kMaxMem = uint64_t{2} << 30;
inline constexpr uint64_t kDefaultOps = 3, kDefaultMem = uint64_t{256} << 20;
inline constexpr size_t kSaltSize = 16;
Result<SecretBytes> Argon2id(std::string_view password, std::string_view salt, uint64_t opslimit, uint64_t memlimit);

// XChaCha20-Poly1305-IETF. Seal appends nonce | ciphertext | tag to *out,
// drawing a fresh random nonce every call. Open returns false (and leaves
// *out unspecified) unless `sealed` authenticates under `key` and `aad`.
void Seal(const SecretBytes& key, std::string_view plaintext, std::string_view aad, std::string* out);
bool Open(const SecretBytes& key, std::string_view sealed, std::string_view aad, std::string* out);

// X25519 sealed boxes (libsodium crypto_box_seal: an ephemeral key pair,
// X25519 + XSalsa20-Poly1305): anyone with the public key can seal, only
// the holder of the secret key can open. Write-only host keys seal their
// pack keys this way (docs/security.md#write-only-host-keys).
inline constexpr size_t kBoxPublicKeySize = 32;
inline constexpr size_t kBoxSecretKeySize = 32;
inline constexpr size_t kBoxSealOverhead = 48;
// The key pair whose secret is derived from `seed` (32 bytes): *secret gets
// the secret key, the public key is returned.
std::string BoxKeypairFromSeed(const SecretBytes& seed, SecretBytes* secret);
// `plaintext` sealed to `public_key` (kBoxSealOverhead bytes longer).
std::string BoxSeal(std::string_view public_key, std::string_view plaintext);
// The plaintext of `sealed` if it opens with the pair (public, secret);
// false otherwise.
bool BoxSealOpen(std::string_view public_key, const SecretBytes& secret, std::string_view sealed, SecretBytes* out);

}  // namespace cairn::objstore::crypto
