// crypto/aead.hpp — ChaCha20-Poly1305 (RFC 8439) behind a three-backend seam, one packet at a
// time or a batch at a time, and XChaCha20-Poly1305 for cookie replies. Every backend passes
// the same vectors and gives the same bytes (tests/crypto/aead_test.cpp, fuzz/aead_diff):
//
//   ipsec-mb  intel-ipsec-mb's job manager (its AVX2 / AVX-512 code: ChaCha20 over several
//             blocks at once, Poly1305 in wide registers). A batch is submitted as one burst
//             of jobs. The default when the CPU has AVX2 or better.
//   openssl   OpenSSL libcrypto's EVP, one packet per call. The default on other CPUs.
//   sodium    libsodium, one packet per call.
//
// WGROUTER_AEAD=ipsec-mb|openssl|sodium forces one (parse_aead_backend).
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace wg::crypto {

inline constexpr size_t kAeadTagLen = 16;
inline constexpr size_t kAeadNonceLen = 12;
inline constexpr size_t kXAeadNonceLen = 24;

enum class AeadBackend : uint8_t { Sodium, OpenSsl, IpsecMb };

// "libsodium", "openssl", "ipsec-mb".
std::string_view name(AeadBackend b);
// The names WGROUTER_AEAD takes: "ipsec-mb", "openssl", "sodium" (or "libsodium").
std::optional<AeadBackend> parse_aead_backend(std::string_view s);
// Whether the backend can run on this CPU (ipsec-mb: its manager initialises; the others: yes).
bool aead_backend_usable(AeadBackend b);
// The SIMD code path a backend takes here: "avx512", "avx2", "avx", "sse" for ipsec-mb; empty
// for the others (they choose per call inside the library).
std::string_view aead_arch(AeadBackend b);
// name and arch, as `wgrouter show` prints it: "ipsec-mb avx512", "openssl".
std::string describe(AeadBackend b);
// ipsec-mb when the CPU has AVX2 or AVX-512, else OpenSSL.
AeadBackend best_aead_backend();
// Reads WGROUTER_AEAD (unset: best_aead_backend()) and makes it the process default. A value
// that names no backend, or one that cannot run here, is refused with a message in `error`.
[[nodiscard]] bool select_aead_backend_from_env(std::string& error);
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

// One data packet's AEAD work in a batch: WireGuard's nonce (the counter), no associated data.
//   seal: len plaintext bytes from src (or in place at data) -> len ciphertext bytes at data,
//         then the 16-byte tag at data + len.
//   open: len bytes (ciphertext + tag) from src (or in place at data) -> len - 16 plaintext
//         bytes at data, released only when the tag verifies; on failure they are zeroed.
// The key is a copy the runner wipes.
struct AeadJob {
  uint8_t* data = nullptr;
  const uint8_t* src = nullptr;  // nullptr: in place
  size_t len = 0;
  uint64_t counter = 0;
  std::array<uint8_t, 32> key{};
  bool seal = false;
  bool ok = false;  // the result, written by the runner
};

// Whether the data path hands this backend its AEAD work as one batch at the end of a batch of
// packets (ipsec-mb, whose jobs go in as one burst), which also lets a TSO segment be sealed
// from its super-packet. Measured with intel-ipsec-mb 1.3 on AVX-512 (bench/RESULTS.md): its
// ChaCha20-Poly1305 jobs complete one at a time, so a burst costs per packet what one job costs;
// the gain over OpenSSL is its code, not lanes shared by packets.
inline bool batches_pay(AeadBackend b) { return b == AeadBackend::IpsecMb; }

// Runs every job of the batch on this thread (sets ok) and wipes every key. With ipsec-mb the
// whole batch is submitted as one burst of jobs to this thread's manager and completed before
// this returns; the others take one job at a time.
void run_aead_jobs(std::span<AeadJob> jobs, AeadBackend b = default_aead_backend());

// XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha), libsodium only.
[[nodiscard]] bool xchacha20poly1305_seal(uint8_t* out, const uint8_t* in, size_t len, const uint8_t* ad,
                                          size_t ad_len, const uint8_t nonce[24], const uint8_t key[32]);
[[nodiscard]] bool xchacha20poly1305_open(uint8_t* out, const uint8_t* in, size_t len, const uint8_t* ad,
                                          size_t ad_len, const uint8_t nonce[24], const uint8_t key[32]);

}  // namespace wg::crypto
