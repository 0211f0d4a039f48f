// crypto/random.hpp — the operating system's CSPRNG (libsodium randombytes, getrandom underneath).
// core/ never calls this: it receives randomness through core::Rng.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>

namespace wg::crypto {

void random_bytes(std::span<uint8_t> out);

}  // namespace wg::crypto
