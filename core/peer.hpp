// core/peer.hpp — one peer's protocol state: keys, handshake, sessions, timers, staged packets.
// Queues of in-flight packets and sockets belong to io/; a Peer is referred to by PeerId.
#pragma once
#include <cstdint>
#include <optional>

#include "core/cookie.hpp"
#include "core/ids.hpp"
#include "core/endpoint.hpp"
#include "core/handshake.hpp"
#include "core/keypair.hpp"
#include "core/keys.hpp"
#include "core/staged.hpp"
#include "core/timers.hpp"

namespace wg::core {


struct Peer {
  PeerId id = kNoPeer;  // its slot in the device
  // configuration
  PublicKey public_key;
  PresharedKey preshared_key;
  uint16_t persistent_keepalive = 0;  // seconds, 0 = off
  Endpoint endpoint;

  // derived from our private key and public_key; zero when the DH fails (low-order key)
  crypto::Secret<32> static_static;

  Handshake handshake;
  KeypairSlots keypairs;
  CookieMaker cookie;
  PeerTimers timers;
  StagedQueue staged;
  std::optional<Instant> last_sent_handshake;

  // statistics, as `wg show` reports them
  uint64_t rx_bytes = 0;
  uint64_t tx_bytes = 0;
  WallTime last_handshake{};  // wall time of the last completed handshake; zero = never

  PeerKeys keys() const { return {public_key, preshared_key, static_static}; }
};

}  // namespace wg::core
