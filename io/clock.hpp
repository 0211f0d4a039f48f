// io/clock.hpp — the real clocks and RNG that core/ receives through Env. The loop reads the
// clocks once per batch.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>

#include "core/env.hpp"

namespace wg::io {

// CLOCK_BOOTTIME: keeps counting through suspend, so protocol timers expire across it, as the
// kernel's do.
core::Instant monotonic_now();
core::WallTime wall_now();

// The kernel's CSPRNG, drawn 256 bytes at a time: under a handshake flood every cookie reply
// needs a 24-byte nonce, and one getrandom call per reply was a seventh of the victim's time
// (bench/flood, perf). Bytes are wiped from the pool as they are handed out, the rest when the
// pool is destroyed. One owner (the loop thread); nothing forks and keeps running with it.
class SystemRng final : public core::Rng {
 public:
  SystemRng() = default;
  SystemRng(const SystemRng&) = delete;
  SystemRng& operator=(const SystemRng&) = delete;
  ~SystemRng() override;
  void fill(std::span<uint8_t> out) override;

 private:
  std::array<uint8_t, 256> pool_{};
  size_t used_ = pool_.size();
};

inline core::Env system_env(core::Rng& rng) { return core::Env{monotonic_now(), wall_now(), rng}; }

}  // namespace wg::io
