// tests/crypto/vectors.hpp — shared test helpers: load a JSON vector file, hex decode/encode.
#pragma once
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#ifndef WG_VECTORS_DIR
#error "WG_VECTORS_DIR must be defined (tests/CMakeLists.txt does it)"
#endif

namespace wg::crypto {

using Bytes = std::vector<uint8_t>;

// Parses WG_VECTORS_DIR/<relative>; throws (so the test case errors out) when it is missing
// or malformed.
inline nlohmann::json load_vectors(std::string_view relative) {
  const std::string path = std::string(WG_VECTORS_DIR) + "/" + std::string(relative);
  std::ifstream f(path);
  if (!f) throw std::runtime_error("cannot open vector file " + path);
  return nlohmann::json::parse(f);
}

inline int hex_nibble(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  throw std::invalid_argument(std::string("bad hex digit '") + c + "'");
}

// Strict: an odd length or a non-hex character throws.
inline Bytes hex_decode(std::string_view hex) {
  if (hex.size() % 2 != 0) throw std::invalid_argument("odd-length hex string");
  Bytes out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = static_cast<uint8_t>(hex_nibble(hex[2 * i]) << 4 | hex_nibble(hex[2 * i + 1]));
  return out;
}

// Decodes a JSON string field holding hex (throws if it is not a string).
inline Bytes hex_field(const nlohmann::json& j) { return hex_decode(j.get<std::string>()); }

inline std::string hex_encode(std::span<const uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xf]);
  }
  return out;
}

inline std::string hex_encode(const uint8_t* p, size_t n) { return hex_encode(std::span<const uint8_t>(p, n)); }

inline Bytes concat(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  Bytes out(a.begin(), a.end());
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

inline Bytes to_bytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

}  // namespace wg::crypto
