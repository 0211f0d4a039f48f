// core/timers.hpp — one peer's protocol timers as deadlines (whitepaper §6, kernel timers.c).
// Nothing here fires by itself: Device::tick() compares deadlines with the time it is given.
// Deadlines are set through Device::arm(), which keeps the device's timer heap in step.
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
  // The instant this peer is filed under in the device's timer heap: never later than its
  // earliest deadline (clearing a deadline leaves it; the peer is looked at then and filed again).
  std::optional<Instant> scheduled;

  static bool due(const std::optional<Instant>& t, Instant now) { return t && *t <= now; }

  std::optional<Instant> earliest() const {
    std::optional<Instant> e;
    for (const auto* t : {&retransmit_handshake, &send_keepalive, &new_handshake, &zero_key_material, &persistent_keepalive})
      if (*t && (!e || **t < *e)) e = *t;
    return e;
  }

  void clear() { *this = PeerTimers{}; }
};

}  // namespace wg::core
