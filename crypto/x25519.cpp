// crypto/x25519.cpp — libsodium scalar multiplication with WireGuard's zero check.
#include "crypto/x25519.hpp"

#include <sodium.h>

#include "crypto/secure.hpp"

namespace wg::crypto {

void x25519_public(uint8_t pub[32], const uint8_t priv[32]) {
  // libsodium clamps the scalar itself; the base point never yields zero.
  crypto_scalarmult_curve25519_base(pub, priv);
}

bool x25519(uint8_t out[32], const uint8_t priv[32], const uint8_t pub[32]) {
  // libsodium returns -1 for an all-zero result and for the small-order points it knows;
  // check the output as well so the contract does not hang on a library detail.
  if (crypto_scalarmult_curve25519(out, priv, pub) != 0 || is_zero_ct(out, 32)) {
    wipe(out, 32);
    return false;
  }
  return true;
}

}  // namespace wg::crypto
