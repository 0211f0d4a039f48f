// bench/bgp_prefixes.hpp — synthetic routing tables shaped like a BGP table, for lpm_scale_bench
// and the PrefixTable tests: the length mix of today's tables and prefixes clustered under
// allocations, so the upper levels of a trie are shared as in a real table. Seeded, so a run
// repeats. The exact mix:
//   IPv4: 60 % /24; 15 % /22-/23; 20 % /16-/21; 2 % /8-/15; 1.5 % /25-/31; 1.5 % /32.
//         /16 and longer lie inside one of n/32 allocation /16s (first octet 1..223);
//         /8-/15 anywhere in 1.0.0.0-223.255.255.255.
//   IPv6: 45 % /48; 25 % /32-/47; 10 % /29-/31; 10 % /64; 10 % /128 (peer host routes).
//         /32 and longer lie inside one of n/16 allocation /32s, each in one of the RIR
//         blocks 2001::/16, 2400::/12, 2600::/12, 2800::/12, 2a00::/12, 2c00::/12; /29-/31
//         anywhere in those blocks.
//   Lengths are uniform within each range; host bits are random, then cleared.
// Duplicates happen (a /16 drawn twice); callers that need n distinct prefixes dedupe.
#pragma once
#include <algorithm>
#include <array>
#include <cstdint>
#include <random>
#include <vector>

#include "core/prefix.hpp"

namespace wg::bench {

using core::Family;
using core::Prefix;

class BgpPrefixes {
 public:
  BgpPrefixes(Family f, size_t n, uint64_t seed) : family_(f), rng_(seed) {
    const size_t blocks = std::max<size_t>(1, f == Family::V4 ? n / 32 : n / 16);
    for (size_t i = 0; i < blocks; ++i) allocations_.push_back(f == Family::V4 ? block4() : block6());
  }

  Prefix next() { return family_ == Family::V4 ? next4() : next6(); }

  std::vector<Prefix> draw(size_t n) {
    std::vector<Prefix> out;
    out.reserve(n);
    for (size_t i = 0; i < n; ++i) out.push_back(next());
    return out;
  }

 private:
  using Bytes = std::array<uint8_t, 16>;

  unsigned uniform(unsigned lo, unsigned hi) { return lo + static_cast<unsigned>(rng_() % (hi - lo + 1)); }
  Bytes random_bytes() {
    Bytes b;
    for (auto& x : b) x = static_cast<uint8_t>(rng_());
    return b;
  }
  // keep bits of `inside` past `bits` of `outer`: an address under outer/bits.
  static Bytes under(const Bytes& outer, unsigned bits, Bytes inside) {
    for (unsigned i = 0; i < bits; ++i) {
      const auto m = static_cast<uint8_t>(0x80 >> (i % 8));
      inside[i / 8] = static_cast<uint8_t>((inside[i / 8] & ~m) | (outer[i / 8] & m));
    }
    return inside;
  }
  Bytes block4() {
    Bytes b = random_bytes();
    b[0] = static_cast<uint8_t>(uniform(1, 223));
    return b;
  }
  Bytes block6() {
    static constexpr std::array<uint16_t, 6> kRir = {0x2001, 0x2400, 0x2600, 0x2800, 0x2a00, 0x2c00};
    Bytes b = random_bytes();
    const uint16_t rir = kRir[rng_() % kRir.size()];
    const unsigned bits = rir == 0x2001 ? 16 : 12;
    Bytes top{};
    top[0] = static_cast<uint8_t>(rir >> 8);
    top[1] = static_cast<uint8_t>(rir);
    return under(top, bits, b);
  }
  const Bytes& allocation() { return allocations_[rng_() % allocations_.size()]; }

  Prefix next4() {
    const unsigned roll = uniform(0, 999);
    unsigned len;
    if (roll < 600)
      len = 24;
    else if (roll < 750)
      len = uniform(22, 23);
    else if (roll < 950)
      len = uniform(16, 21);
    else if (roll < 970)
      len = uniform(8, 15);
    else if (roll < 985)
      len = uniform(25, 31);
    else
      len = 32;
    const Bytes a = len < 16 ? block4() : under(allocation(), 16, random_bytes());
    return Prefix::make(Family::V4, a.data(), static_cast<uint8_t>(len));
  }

  Prefix next6() {
    const unsigned roll = uniform(0, 999);
    unsigned len;
    if (roll < 450)
      len = 48;
    else if (roll < 700)
      len = uniform(32, 47);
    else if (roll < 800)
      len = uniform(29, 31);
    else if (roll < 900)
      len = 64;
    else
      len = 128;
    const Bytes a = len < 32 ? block6() : under(allocation(), 32, random_bytes());
    return Prefix::make(Family::V6, a.data(), static_cast<uint8_t>(len));
  }

  Family family_;
  std::mt19937_64 rng_;
  std::vector<Bytes> allocations_;
};

}  // namespace wg::bench
