// core/ratelimiter.cpp — token buckets keyed by source, nanoseconds as tokens.
#include "core/ratelimiter.hpp"

#include <algorithm>
#include <cstring>

namespace wg::core {

size_t RateLimiter::KeyHash::operator()(const Key& k) const noexcept {
  uint64_t v;
  std::memcpy(&v, k.prefix.data(), 8);
  v ^= uint64_t(k.family) << 56;
  v *= 0x9e3779b97f4a7c15ULL;  // spread the bits; sources are not secret here
  return static_cast<size_t>(v ^ (v >> 29));
}

bool RateLimiter::allow(const Endpoint& from, Instant now) {
  Key key{static_cast<uint8_t>(from.family), {}};
  std::memcpy(key.prefix.data(), from.addr.data(), from.family == Family::V4 ? 4 : 8);
  auto it = table_.find(key);
  if (it == table_.end()) {
    if (table_.size() >= kMaxEntries) return false;
    table_.emplace(key, Bucket{now, kTokenMax - kPacketCost});
    return true;
  }
  Bucket& b = it->second;
  b.tokens = std::min(kTokenMax, b.tokens + (now - b.last).count());
  b.last = now;
  if (b.tokens < kPacketCost) return false;
  b.tokens -= kPacketCost;
  return true;
}

void RateLimiter::collect(Instant now) {
  std::erase_if(table_, [now](const auto& kv) { return now - kv.second.last > kIdleExpiry; });
}

}  // namespace wg::core
