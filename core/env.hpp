// core/env.hpp — time and randomness as core/ sees them: passed in, never read or drawn here.
// io/ reads the clocks once per batch; tests use a fake clock and a fixed RNG.
#pragma once
#include <chrono>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <span>

namespace wg::core {

using Duration = std::chrono::nanoseconds;
using namespace std::chrono_literals;

// A monotonic instant (boot time, never goes backwards).
struct Instant {
  Duration since_boot{0};
  friend auto operator<=>(const Instant&, const Instant&) = default;
  friend Instant operator+(Instant a, Duration d) { return Instant{a.since_boot + d}; }
  friend Instant operator-(Instant a, Duration d) { return Instant{a.since_boot - d}; }
  friend Duration operator-(Instant a, Instant b) { return a.since_boot - b.since_boot; }
};

// Wall-clock time since the Unix epoch (may jump; used for TAI64N and `latest handshake`).
struct WallTime {
  Duration since_epoch{0};
  friend auto operator<=>(const WallTime&, const WallTime&) = default;
};

struct Rng {
  virtual ~Rng() = default;
  virtual void fill(std::span<uint8_t> out) = 0;
  uint32_t next_u32() {
    uint8_t b[4];
    fill(b);
    return uint32_t(b[0]) | uint32_t(b[1]) << 8 | uint32_t(b[2]) << 16 | uint32_t(b[3]) << 24;
  }
};

struct Env {
  Instant now;
  WallTime wall;
  Rng& rng;
};

}  // namespace wg::core
