// crypto/encoding.hpp — WireGuard key encodings: base64 (configs, `wg`) and hex (UAPI).
// Validation follows wireguard-tools encoding.c: base64 is exactly 44 characters ending in
// '=', and the two unused low bits of the 43rd character must be zero; hex is exactly 64
// characters of either case. Decoding never branches on the characters' values.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace wg::crypto {

inline constexpr size_t kKeyBase64Len = 44;  // without the terminating NUL
inline constexpr size_t kKeyHexLen = 64;     // without the terminating NUL

// Decodes a 44-character base64 key. On false, key is wiped (all zeros).
[[nodiscard]] bool key_from_base64(uint8_t key[32], std::string_view b64);
// Writes 44 characters and a NUL.
void key_to_base64(char out[45], const uint8_t key[32]);
std::string key_to_base64(const uint8_t key[32]);

// Decodes 64 hex characters, upper or lower case. On false, key is wiped (all zeros).
[[nodiscard]] bool key_from_hex(uint8_t key[32], std::string_view hex);
// Writes 64 lowercase characters and a NUL.
void key_to_hex(char out[65], const uint8_t key[32]);
std::string key_to_hex(const uint8_t key[32]);

}  // namespace wg::crypto
