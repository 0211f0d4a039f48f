// crypto/x25519.hpp — Curve25519 Diffie-Hellman (RFC 7748) through libsodium.
// WireGuard treats an all-zero shared secret as a failure (whitepaper §5.4, kernel curve25519()).
#pragma once
#include <cstdint>

namespace wg::crypto {

// Clears bits 0-2 and 255, sets bit 254: what `wg genkey` applies and what X25519 does anyway.
inline void x25519_clamp(uint8_t key[32]) {
  key[0] &= 248;
  key[31] = static_cast<uint8_t>((key[31] & 127) | 64);
}

// pub = X25519(clamp(priv), 9).
void x25519_public(uint8_t pub[32], const uint8_t priv[32]);

// out = X25519(clamp(priv), pub). False when the result is all zeros (low-order input);
// out is then zeroed. Never use out after false.
[[nodiscard]] bool x25519(uint8_t out[32], const uint8_t priv[32], const uint8_t pub[32]);

}  // namespace wg::crypto
