// core/keys.hpp — strong types for the keys the protocol handles.
#pragma once
#include <array>
#include <cstdint>
#include <cstring>
#include <functional>

#include "crypto/secure.hpp"

namespace wg::core {

struct PublicKey {
  std::array<uint8_t, 32> bytes{};
  const uint8_t* data() const { return bytes.data(); }
  uint8_t* data() { return bytes.data(); }
  friend bool operator==(const PublicKey&, const PublicKey&) = default;
};

// Private and preshared keys wipe themselves; a private key is stored clamped.
using PrivateKey = crypto::Secret<32>;
using PresharedKey = crypto::Secret<32>;

struct PublicKeyHash {
  size_t operator()(const PublicKey& k) const noexcept {
    // Public keys are uniformly distributed: their first bytes are a good hash.
    size_t h;
    std::memcpy(&h, k.bytes.data(), sizeof(h));
    return h;
  }
};

}  // namespace wg::core
