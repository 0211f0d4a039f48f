// crypto/random.cpp — libsodium's randombytes_buf.
#include "crypto/random.hpp"

#include <sodium.h>

namespace wg::crypto {

void random_bytes(std::span<uint8_t> out) { randombytes_buf(out.data(), out.size()); }

}  // namespace wg::crypto
