// core/ratelimiter.hpp — per-source token bucket for handshake messages under load
// (kernel ratelimiter.c: 20 per second, burst 5; IPv6 sources keyed by their /64).
// Bounded: at most kMaxEntries sources; when full, unknown sources are refused.
#pragma once
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <unordered_map>

#include "core/endpoint.hpp"
#include "core/env.hpp"

namespace wg::core {

// One bucket: `per_second` tokens a second, at most `burst` saved up. For work the device
// bounds as a whole under load (cookie replies, handshakes), whatever the sources.
class TokenBucket {
 public:
  constexpr TokenBucket(uint32_t per_second, uint32_t burst)
      : cost_(1'000'000'000 / per_second), max_(cost_ * burst), tokens_(max_) {}
  [[nodiscard]] bool take(Instant now) {
    if (!last_) last_ = now;
    tokens_ = std::min(max_, tokens_ + (now - *last_).count());
    last_ = now;
    if (tokens_ < cost_) return false;
    tokens_ -= cost_;
    return true;
  }

 private:
  int64_t cost_;  // ns of tokens per take
  int64_t max_;
  int64_t tokens_;
  std::optional<Instant> last_;
};

class RateLimiter {
 public:
  static constexpr uint32_t kPacketsPerSecond = 20;
  static constexpr uint32_t kBurst = 5;
  static constexpr size_t kMaxEntries = 8192;
  static constexpr Duration kIdleExpiry = std::chrono::seconds(1);

  [[nodiscard]] bool allow(const Endpoint& from, Instant now);
  // Forgets sources idle for more than a second; io/ calls this from its periodic tick.
  void collect(Instant now);
  size_t size() const { return table_.size(); }

 private:
  static constexpr int64_t kPacketCost = 1'000'000'000 / kPacketsPerSecond;  // ns of tokens
  static constexpr int64_t kTokenMax = kPacketCost * kBurst;

  struct Key {
    uint8_t family;
    std::array<uint8_t, 8> prefix;  // IPv4 address, or the IPv6 /64
    friend bool operator==(const Key&, const Key&) = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const noexcept;
  };
  struct Bucket {
    Instant last;
    int64_t tokens;
  };
  std::unordered_map<Key, Bucket, KeyHash> table_;
};

}  // namespace wg::core
