// core/prefix.hpp — an IPv4 or IPv6 prefix (address + length, host bits zero), the key type of
// every PrefixTable: peers' AllowedIPs, port routes, AllowedSource, Unreachable.
#pragma once
#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "core/endpoint.hpp"

namespace wg::core {

struct Prefix {
  Family family = Family::None;
  std::array<uint8_t, 16> addr{};  // IPv4 in the first 4 bytes; host bits always zero
  uint8_t len = 0;                 // 0..32 or 0..128

  static constexpr uint8_t max_len(Family f) { return f == Family::V4 ? 32 : 128; }
  size_t addr_len() const { return family == Family::V4 ? 4 : 16; }

  // Builds a prefix, zeroing the host bits (wg stores 10.0.0.5/24 as 10.0.0.0/24).
  static Prefix make(Family f, const uint8_t* address, uint8_t length);
  // True when the given address bits beyond len were not all zero (wg warns about these).
  static bool has_host_bits(Family f, const uint8_t* address, uint8_t length);
  bool contains(Family f, const uint8_t* address) const;

  friend bool operator==(const Prefix&, const Prefix&) = default;
};

// "a.b.c.d/n" or "v6/n"; a missing "/n" means a host prefix. nullopt on any error.
// host_bits (optional) reports whether the text had bits set past the length.
std::optional<Prefix> parse_prefix(std::string_view text, bool* host_bits = nullptr);
std::string to_string(const Prefix& p);

inline Prefix Prefix::make(Family f, const uint8_t* address, uint8_t length) {
  Prefix p;
  p.family = f;
  p.len = length;
  const size_t n = f == Family::V4 ? 4 : 16;
  std::memcpy(p.addr.data(), address, n);
  for (size_t i = 0; i < n; ++i) {
    const int keep = static_cast<int>(length) - static_cast<int>(8 * i);
    if (keep >= 8) continue;
    p.addr[i] &= keep <= 0 ? 0 : static_cast<uint8_t>(0xff << (8 - keep));
  }
  return p;
}

inline bool Prefix::has_host_bits(Family f, const uint8_t* address, uint8_t length) {
  const Prefix p = make(f, address, length);
  return std::memcmp(p.addr.data(), address, f == Family::V4 ? 4 : 16) != 0;
}

inline bool Prefix::contains(Family f, const uint8_t* address) const {
  if (f != family) return false;
  const Prefix other = make(f, address, len);
  return std::memcmp(other.addr.data(), addr.data(), addr_len()) == 0;
}

}  // namespace wg::core
