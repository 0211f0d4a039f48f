// core/tai64n.hpp — TAI64N timestamps for handshake initiations (whitepaper §5.4.2).
// Big-endian, so byte order is time order and "newer" is a plain memcmp.
#pragma once
#include <array>
#include <cstdint>
#include <cstring>

#include "core/env.hpp"

namespace wg::core {

using Tai64n = std::array<uint8_t, 12>;

inline constexpr uint64_t kTai64Base = 0x400000000000000aULL;
// Nanoseconds are rounded down to a multiple of 2^24 (~16.8 ms) so the timestamp does not
// leak a fine-grained clock; the kernel and wireguard-go whiten the same way.
inline constexpr uint32_t kTai64nWhitenMask = ~uint32_t{0xffffff};

inline Tai64n tai64n_from(WallTime wall) {
  const int64_t ns = wall.since_epoch.count();
  const int64_t secs = ns >= 0 ? ns / 1'000'000'000 : 0;
  const uint32_t nsec = ns >= 0 ? static_cast<uint32_t>(ns % 1'000'000'000) & kTai64nWhitenMask : 0;
  const uint64_t label = kTai64Base + static_cast<uint64_t>(secs);
  Tai64n t{};
  for (int i = 0; i < 8; ++i) t[i] = static_cast<uint8_t>(label >> (56 - 8 * i));
  for (int i = 0; i < 4; ++i) t[8 + i] = static_cast<uint8_t>(nsec >> (24 - 8 * i));
  return t;
}

// True when a is strictly later than b.
inline bool tai64n_after(const Tai64n& a, const Tai64n& b) { return std::memcmp(a.data(), b.data(), a.size()) > 0; }

}  // namespace wg::core
