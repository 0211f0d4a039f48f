// core/timers.hpp — one peer's protocol timers as deadlines (whitepaper §6, kernel timers.c).
// Nothing here fires by itself: Device::tick() compares deadlines with the time it is given.
#pragma once
#include <optional>

#include "core/env.hpp"

namespace wg::core {

struct PeerTimers {
  std::optional<Instant> retransmit_handshake;
  std::optional<Instant> send_keepalive;
  std::optional<Instant> new_handshake;
  std::optional<Instant> zero_key_material;
  std::optional<Instant> persistent_keepalive;
  int handshake_attempts = 0;
  bool need_another_keepalive = false;
  bool sent_lastminute_handshake = false;

  static bool due(const std::optional<Instant>& t, Instant now) { return t && *t <= now; }

  void clear() { *this = PeerTimers{}; }
};

}  // namespace wg::core
