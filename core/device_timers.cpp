// core/device_timers.cpp — the per-peer timer events and what fires when a deadline passes
// (whitepaper §6.2-6.5, kernel timers.c). Callers report events; tick() fires deadlines.
//
// The kernel gives every peer five kernel timers; here a peer's deadlines are plain instants and
// the device keeps one min-heap of peers by earliest deadline, so tick() looks only at peers
// that are due. Most deadline changes on the data path move a deadline later (keepalives pushed
// back by traffic) or clear it; those do not touch the heap: the old entry fires early, the
// peer is looked at and filed again. Only a deadline that becomes the peer's earliest is pushed.
#include "core/device.hpp"

#include <algorithm>

namespace wg::core {

Duration Device::jitter(const Env& env) {
  return Duration(env.rng.next_u32() % static_cast<uint32_t>(kRekeyJitterMax.count()));
}

// Data sent and no reply within Keepalive-Timeout + Rekey-Timeout: start a new handshake.
void Device::timers_data_sent(const Env& env, Peer& p) {
  if (!p.timers.new_handshake) arm(p, &PeerTimers::new_handshake, env.now + kKeepaliveTimeout + kRekeyTimeout + jitter(env));
}

// Data received: if we send nothing back within Keepalive-Timeout, send a keepalive.
void Device::timers_data_received(const Env& env, Peer& p) {
  if (!up_) return;
  if (!p.timers.send_keepalive)
    arm(p, &PeerTimers::send_keepalive, env.now + kKeepaliveTimeout);
  else
    p.timers.need_another_keepalive = true;
}

void Device::timers_any_authenticated_packet_sent(Peer& p) { p.timers.send_keepalive.reset(); }

void Device::timers_any_authenticated_packet_received(Peer& p) { p.timers.new_handshake.reset(); }

void Device::timers_any_authenticated_packet_traversal(const Env& env, Peer& p) {
  if (p.persistent_keepalive)
    arm(p, &PeerTimers::persistent_keepalive, env.now + std::chrono::seconds(p.persistent_keepalive));
}

void Device::timers_handshake_initiated(const Env& env, Peer& p) {
  arm(p, &PeerTimers::retransmit_handshake, env.now + kRekeyTimeout + jitter(env));
}

void Device::timers_handshake_complete(const Env& env, PeerId id, Peer& p, Outbox& out) {
  p.timers.retransmit_handshake.reset();
  p.timers.handshake_attempts = 0;
  p.timers.sent_lastminute_handshake = false;
  p.last_handshake = env.wall;
  out.add_event(id, EventKind::HandshakeCompleted);
}

void Device::timers_session_derived(const Env& env, Peer& p) {
  arm(p, &PeerTimers::zero_key_material, env.now + kZeroKeyMaterialAfter);
}

namespace {
// std::push_heap keeps the largest first; the earliest must be first.
constexpr auto kLater = [](const auto& a, const auto& b) { return a.at > b.at; };
}  // namespace

void Device::arm(Peer& p, std::optional<Instant> PeerTimers::*timer, Instant at) {
  p.timers.*timer = at;
  file_timer(p, at);
}

void Device::file_timer(Peer& p, Instant at) {
  if (p.timers.scheduled && *p.timers.scheduled <= at) return;
  if (!p.timers.scheduled) ++scheduled_peers_;
  p.timers.scheduled = at;
  timer_heap_.push_back({at, p.id});
  std::push_heap(timer_heap_.begin(), timer_heap_.end(), kLater);
  compact_timer_heap();
}

void Device::clear_timers(Peer& p) {
  if (p.timers.scheduled) --scheduled_peers_;
  p.timers.clear();
}

// Stale entries pile up only when deadlines keep moving earlier before the old ones fire; past
// a few per peer the heap is rebuilt from the peers' own `scheduled`, so it stays O(peers).
void Device::compact_timer_heap() {
  if (timer_heap_.size() <= 4 * scheduled_peers_ + 1024) return;
  timer_heap_.clear();
  for (const auto& p : peers_)
    if (p && p->timers.scheduled) timer_heap_.push_back({*p->timers.scheduled, p->id});
  std::make_heap(timer_heap_.begin(), timer_heap_.end(), kLater);
}

bool Device::tick(const Env& env, Outbox& out) {
  size_t fired = 0;
  while (!timer_heap_.empty() && timer_heap_.front().at <= env.now) {
    if (fired == kMaxTimerPeersPerTick) return true;
    const TimerEntry e = timer_heap_.front();
    std::pop_heap(timer_heap_.begin(), timer_heap_.end(), kLater);
    timer_heap_.pop_back();
    Peer* p = peer(e.id);
    if (!p || p->timers.scheduled != e.at) continue;  // stale: removed peer or refiled
    p->timers.scheduled.reset();
    --scheduled_peers_;
    ++fired;
    tick_peer(env, e.id, *p, out);  // never removes the peer
    if (const auto next = p->timers.earliest()) file_timer(*p, *next);
  }
  if (!last_collect_ || env.now - *last_collect_ >= std::chrono::seconds(1)) {
    rate_limiter_.collect(env.now);
    peer_source_cookies_.collect(env.now);
    last_collect_ = env.now;
  }
  return false;
}

void Device::tick_peer(const Env& env, PeerId id, Peer& p, Outbox& out) {
  PeerTimers& t = p.timers;
  if (PeerTimers::due(t.retransmit_handshake, env.now)) {
    t.retransmit_handshake.reset();
    ++handshakes_.timeouts;
    if (t.handshake_attempts > kMaxTimerHandshakes) {
      // Rekey-Attempt-Time is over: stop trying until there is something new to send.
      ++handshakes_.given_up;
      out.add_event(id, EventKind::HandshakeGaveUp);
      t.send_keepalive.reset();
      p.staged.clear();
      if (!t.zero_key_material) arm(p, &PeerTimers::zero_key_material, env.now + kZeroKeyMaterialAfter);
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
      arm(p, &PeerTimers::send_keepalive, env.now + kKeepaliveTimeout);
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
  if (timer_heap_.empty()) return std::nullopt;
  return timer_heap_.front().at;
}

Device::TimerStats Device::timer_stats() const { return {scheduled_peers_, timer_heap_.size()}; }

}  // namespace wg::core
