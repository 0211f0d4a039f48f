// crypto/blake2s.hpp — BLAKE2s (RFC 7693) from libb2, and WireGuard's HMAC/HKDF over it.
// libsodium 1.0.18 only has BLAKE2b, so the hash itself comes from the BLAKE2 authors'
// reference library; HMAC and the KDF are the few lines on top that no library offers.
#pragma once
#include <blake2.h>

#include <cstddef>
#include <cstdint>
#include <span>

namespace wg::crypto {

inline constexpr size_t kBlake2sOutLen = 32;
inline constexpr size_t kBlake2sBlockLen = 64;

// Incremental BLAKE2s with a digest length of 1..32 and an optional key of up to 32 bytes.
// The digest length is part of the parameter block: a 16-byte digest is not a truncated
// 32-byte one.
class Blake2s {
 public:
  explicit Blake2s(size_t outlen, std::span<const uint8_t> key = {});
  ~Blake2s();
  Blake2s(const Blake2s&) = delete;
  Blake2s& operator=(const Blake2s&) = delete;

  Blake2s& update(std::span<const uint8_t> in);
  // Writes exactly the digest length given at construction into out (out.size() >= it).
  void final(std::span<uint8_t> out);

 private:
  blake2s_state state_;
  size_t outlen_;
};

// One-shot: out.size() is the digest length (1..32).
void blake2s(std::span<uint8_t> out, std::span<const uint8_t> in, std::span<const uint8_t> key = {});

// HMAC (RFC 2104) over BLAKE2s-256, block size 64.
void hmac_blake2s(uint8_t out[32], std::span<const uint8_t> key, std::span<const uint8_t> in);

// WireGuard's KDF_n (HKDF with HMAC-BLAKE2s): PRK = HMAC(ck, input), T1 = HMAC(PRK, 0x01),
// T2 = HMAC(PRK, T1||0x02), T3 = HMAC(PRK, T2||0x03). t2 and t3 may be null.
// Outputs may alias ck (the chaining key is commonly replaced by T1).
void kdf(const uint8_t ck[32], std::span<const uint8_t> input, uint8_t t1[32], uint8_t t2[32] = nullptr,
         uint8_t t3[32] = nullptr);

}  // namespace wg::crypto
