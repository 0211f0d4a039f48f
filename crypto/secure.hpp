// crypto/secure.hpp — wiping secrets and comparing them in constant time (libsodium).
// Every type that holds key material wipes itself on destruction through wipe().
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace wg::crypto {

inline constexpr size_t kKeyLen = 32;

// Makes sure libsodium picked its implementations; cheap after the first call.
void init();

// Zeroes memory in a way the optimizer may not elide.
void wipe(void* p, size_t n);

// True when a and b are equal; time depends only on n.
[[nodiscard]] bool equal_ct(const void* a, const void* b, size_t n);

// True when all n bytes are zero; time depends only on n.
[[nodiscard]] bool is_zero_ct(const void* p, size_t n);

// A fixed-size secret that wipes itself. Copies are allowed (each copy wipes itself too).
template <size_t N>
struct Secret {
  std::array<uint8_t, N> bytes{};

  Secret() = default;
  Secret(const Secret&) = default;
  Secret& operator=(const Secret&) = default;
  ~Secret() { wipe(bytes.data(), N); }

  uint8_t* data() { return bytes.data(); }
  const uint8_t* data() const { return bytes.data(); }
  static constexpr size_t size() { return N; }
  void clear() { wipe(bytes.data(), N); }
  [[nodiscard]] bool is_zero() const { return is_zero_ct(bytes.data(), N); }
};

using SymmetricKey = Secret<kKeyLen>;

}  // namespace wg::crypto
