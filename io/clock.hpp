// io/clock.hpp — the real clocks and RNG that core/ receives through Env. The loop reads the
// clocks once per batch.
#pragma once
#include "core/env.hpp"

namespace wg::io {

// CLOCK_BOOTTIME: keeps counting through suspend, so protocol timers expire across it, as the
// kernel's do.
core::Instant monotonic_now();
core::WallTime wall_now();

struct SystemRng final : core::Rng {
  void fill(std::span<uint8_t> out) override;
};

inline core::Env system_env(core::Rng& rng) { return core::Env{monotonic_now(), wall_now(), rng}; }

}  // namespace wg::io
