// crypto/aead.hpp — ChaCha20-Poly1305 (RFC 8439) behind a two-backend seam, and
// XChaCha20-Poly1305 for cookie replies. Both backends pass the same vectors; the default
// is the faster one on the benchmark in bench/RESULTS.md.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace wg::crypto {

inline constexpr size_t kAeadTagLen = 16;
inline constexpr size_t kAeadNonceLen = 12;
inline constexpr size_t kXAeadNonceLen = 24;

enum class AeadBackend : uint8_t { Sodium, OpenSsl };

std::string_view name(AeadBackend b);
AeadBackend default_aead_backend();
// Process-wide choice; set once at startup before any thread encrypts.
void set_default_aead_backend(AeadBackend b);

// Seals len bytes of in into out (len + 16 bytes: ciphertext then tag). in == out is allowed.
[[nodiscard]] bool chacha20poly1305_seal(AeadBackend b, uint8_t* out, const uint8_t* in, size_t len,
                                         const uint8_t* ad, size_t ad_len, const uint8_t nonce[12],
                                         const uint8_t key[32]);
// Opens len bytes (ciphertext + 16-byte tag) into out (len - 16 bytes). in == out is allowed.
// On false the contents of out are unspecified and must be discarded.
[[nodiscard]] bool chacha20poly1305_open(AeadBackend b, uint8_t* out, const uint8_t* in, size_t len,
                                         const uint8_t* ad, size_t ad_len, const uint8_t nonce[12],
                                         const uint8_t key[32]);

// WireGuard's nonce: 32 zero bits then the counter little-endian.
void counter_nonce(uint8_t nonce[12], uint64_t counter);

[[nodiscard]] inline bool aead_seal(uint8_t* out, const uint8_t* in, size_t len, const uint8_t* ad, size_t ad_len,
                                    uint64_t counter, const uint8_t key[32],
                                    AeadBackend b = default_aead_backend()) {
  uint8_t nonce[kAeadNonceLen];
  counter_nonce(nonce, counter);
  return chacha20poly1305_seal(b, out, in, len, ad, ad_len, nonce, key);
}
[[nodiscard]] inline bool aead_open(uint8_t* out, const uint8_t* in, size_t len, const uint8_t* ad, size_t ad_len,
                                    uint64_t counter, const uint8_t key[32],
                                    AeadBackend b = default_aead_backend()) {
  uint8_t nonce[kAeadNonceLen];
  counter_nonce(nonce, counter);
  return chacha20poly1305_open(b, out, in, len, ad, ad_len, nonce, key);
}

// XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha), libsodium only.
[[nodiscard]] bool xchacha20poly1305_seal(uint8_t* out, const uint8_t* in, size_t len, const uint8_t* ad,
                                          size_t ad_len, const uint8_t nonce[24], const uint8_t key[32]);
[[nodiscard]] bool xchacha20poly1305_open(uint8_t* out, const uint8_t* in, size_t len, const uint8_t* ad,
                                          size_t ad_len, const uint8_t nonce[24], const uint8_t key[32]);

}  // namespace wg::crypto
