// core/device_timers.cpp — the per-peer timer events and what fires when a deadline passes
// (whitepaper §6.2-6.5, kernel timers.c). Callers report events; tick() fires deadlines.
#include "core/device.hpp"

namespace wg::core {

Duration Device::jitter(const Env& env) {
  return Duration(env.rng.next_u32() % static_cast<uint32_t>(kRekeyJitterMax.count()));
}

// Data sent and no reply within Keepalive-Timeout + Rekey-Timeout: start a new handshake.
void Device::timers_data_sent(const Env& env, Peer& p) {
  if (!p.timers.new_handshake) p.timers.new_handshake = env.now + kKeepaliveTimeout + kRekeyTimeout + jitter(env);
}

// Data received: if we send nothing back within Keepalive-Timeout, send a keepalive.
void Device::timers_data_received(const Env& env, Peer& p) {
  if (!up_) return;
  if (!p.timers.send_keepalive)
    p.timers.send_keepalive = env.now + kKeepaliveTimeout;
  else
    p.timers.need_another_keepalive = true;
}

void Device::timers_any_authenticated_packet_sent(Peer& p) { p.timers.send_keepalive.reset(); }

void Device::timers_any_authenticated_packet_received(Peer& p) { p.timers.new_handshake.reset(); }

void Device::timers_any_authenticated_packet_traversal(const Env& env, Peer& p) {
  if (p.persistent_keepalive)
    p.timers.persistent_keepalive = env.now + std::chrono::seconds(p.persistent_keepalive);
}

void Device::timers_handshake_initiated(const Env& env, Peer& p) {
  p.timers.retransmit_handshake = env.now + kRekeyTimeout + jitter(env);
}

void Device::timers_handshake_complete(const Env& env, PeerId id, Peer& p, Outbox& out) {
  p.timers.retransmit_handshake.reset();
  p.timers.handshake_attempts = 0;
  p.timers.sent_lastminute_handshake = false;
  p.last_handshake = env.wall;
  out.add_event(id, EventKind::HandshakeCompleted);
}

void Device::timers_session_derived(const Env& env, Peer& p) {
  p.timers.zero_key_material = env.now + kZeroKeyMaterialAfter;
}

void Device::tick(const Env& env, Outbox& out) {
  for (PeerId id = 0; id < peers_.size(); ++id)
    if (Peer* p = peer(id)) tick_peer(env, id, *p, out);
  if (!last_collect_ || env.now - *last_collect_ >= std::chrono::seconds(1)) {
    rate_limiter_.collect(env.now);
    last_collect_ = env.now;
  }
}

void Device::tick_peer(const Env& env, PeerId id, Peer& p, Outbox& out) {
  PeerTimers& t = p.timers;
  if (PeerTimers::due(t.retransmit_handshake, env.now)) {
    t.retransmit_handshake.reset();
    if (t.handshake_attempts > kMaxTimerHandshakes) {
      // Rekey-Attempt-Time is over: stop trying until there is something new to send.
      out.add_event(id, EventKind::HandshakeGaveUp);
      t.send_keepalive.reset();
      p.staged.clear();
      if (!t.zero_key_material) t.zero_key_material = env.now + kZeroKeyMaterialAfter;
    } else {
      ++t.handshake_attempts;
      p.endpoint.clear_local();
      send_initiation(env, id, true, out);
    }
  }
  if (PeerTimers::due(t.send_keepalive, env.now)) {
    t.send_keepalive.reset();
    send_keepalive(env, id, out);
    if (t.need_another_keepalive) {
      t.need_another_keepalive = false;
      t.send_keepalive = env.now + kKeepaliveTimeout;
    }
  }
  if (PeerTimers::due(t.new_handshake, env.now)) {
    t.new_handshake.reset();
    p.endpoint.clear_local();
    send_initiation(env, id, false, out);
  }
  if (PeerTimers::due(t.zero_key_material, env.now)) {
    t.zero_key_material.reset();
    clear_handshake(p);
    clear_sessions(p);
    out.add_event(id, EventKind::KeysZeroed);
  }
  if (PeerTimers::due(t.persistent_keepalive, env.now)) {
    t.persistent_keepalive.reset();
    if (p.persistent_keepalive) send_keepalive(env, id, out);
  }
}

std::optional<Instant> Device::next_deadline() const {
  std::optional<Instant> next;
  auto consider = [&next](const std::optional<Instant>& t) {
    if (t && (!next || *t < *next)) next = t;
  };
  for (const auto& p : peers_) {
    if (!p) continue;
    const PeerTimers& t = p->timers;
    consider(t.retransmit_handshake);
    consider(t.send_keepalive);
    consider(t.new_handshake);
    consider(t.zero_key_material);
    consider(t.persistent_keepalive);
  }
  return next;
}

}  // namespace wg::core
