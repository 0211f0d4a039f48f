// core/device.cpp — message dispatch, sessions, staging and peer management of one interface
// (kernel receive.c / send.c / netlink.c semantics). Timers are in core/device_timers.cpp.
#include "core/device.hpp"

#include <cstring>

#include "crypto/aead.hpp"
#include "crypto/secure.hpp"
#include "crypto/x25519.hpp"

namespace wg::core {

namespace {

uint16_t load_be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

RxResult dropped(Drop d) { return RxResult{RxKind::Dropped, d, kNoPeer, {}}; }

// The plaintext must be one IPv4 or IPv6 packet; returns its IP length, or a drop reason.
Drop inner_ip_length(std::span<const uint8_t> plain, size_t& ip_len) {
  const unsigned version = plain[0] >> 4;
  if (version == 4 && plain.size() >= 20) {
    ip_len = load_be16(plain.data() + 2);
    if (ip_len < 20) return Drop::BadInnerPacket;
  } else if (version == 6 && plain.size() >= 40) {
    ip_len = size_t{40} + load_be16(plain.data() + 4);
  } else {
    return Drop::BadInnerPacket;
  }
  return ip_len > plain.size() ? Drop::InnerLength : Drop::None;
}

}  // namespace

Device::Device() = default;
Device::~Device() = default;

// --- configuration ---

void Device::recompute_static_static(Peer& p) {
  if (!identity_.has_key || !crypto::x25519(p.static_static.data(), identity_.private_key.data(), p.public_key.data()))
    p.static_static.clear();
}

void Device::set_private_key(const Env& env, const uint8_t key[32], Outbox& out) {
  const bool first_key = !identity_.has_key;
  if (crypto::is_zero_ct(key, 32)) {
    if (!identity_.has_key) return;
    identity_.clear();
    cookie_checker_.clear();
  } else {
    PrivateKey clamped;
    std::memcpy(clamped.data(), key, 32);
    crypto::x25519_clamp(clamped.data());
    if (identity_.has_key && crypto::equal_ct(clamped.data(), identity_.private_key.data(), 32)) return;
    identity_.set(clamped.data());
    cookie_checker_.set_public_key(identity_.public_key);
    if (auto self = find_peer(identity_.public_key)) remove_peer(*self);
  }
  // Every session in progress or in use was made with the old key.
  for (auto& p : peers_) {
    if (!p) continue;
    recompute_static_static(*p);
    clear_handshake(*p);
    p->keypairs.expire_sending();
    p->last_sent_handshake.reset();  // the next packet starts a handshake with the new key at once
  }
  if (first_key && identity_.has_key && up_)
    for (PeerId id = 0; id < peers_.size(); ++id)
      if (peers_[id] && !peers_[id]->staged.empty()) flush_staged(env, id, out);
}

Result<PeerId, PeerError> Device::add_peer(const PublicKey& key) {
  if (identity_.has_key && key == identity_.public_key) return Unexpected(PeerError::OwnKey);
  if (auto existing = find_peer(key)) return *existing;
  if (by_key_.size() >= kMaxPeers) return Unexpected(PeerError::TooManyPeers);
  PeerId id;
  if (!free_ids_.empty()) {
    id = free_ids_.back();
    free_ids_.pop_back();
  } else {
    id = static_cast<PeerId>(peers_.size());
    peers_.emplace_back();
  }
  peers_[id] = std::make_unique<Peer>();
  Peer& p = *peers_[id];
  p.id = id;
  p.public_key = key;
  p.cookie.set_peer_key(key);
  recompute_static_static(p);
  by_key_.emplace(key, id);
  return id;
}

std::optional<PeerId> Device::find_peer(const PublicKey& key) const {
  auto it = by_key_.find(key);
  if (it == by_key_.end()) return std::nullopt;
  return it->second;
}

void Device::remove_peer(PeerId id) {
  Peer* p = peer(id);
  if (!p) return;
  clear_handshake(*p);
  clear_sessions(*p);
  clear_timers(*p);  // its heap entries go stale
  set_peer_endpoint(*p, Endpoint{});
  by_key_.erase(p->public_key);
  peers_[id].reset();
  free_ids_.push_back(id);
}

void Device::remove_all_peers() {
  for (PeerId id = 0; id < peers_.size(); ++id) remove_peer(id);
}

void Device::set_preshared_key(PeerId id, const uint8_t key[32]) {
  if (Peer* p = peer(id)) std::memcpy(p->preshared_key.data(), key, 32);
}

void Device::set_endpoint(PeerId id, const Endpoint& ep) {
  if (Peer* p = peer(id)) set_peer_endpoint(*p, ep);
}

void Device::set_persistent_keepalive(const Env& env, PeerId id, uint16_t seconds, Outbox& out) {
  Peer* p = peer(id);
  if (!p) return;
  const bool turned_on = p->persistent_keepalive == 0 && seconds != 0;
  p->persistent_keepalive = seconds;
  if (!seconds) p->timers.persistent_keepalive.reset();
  if (turned_on && up_) send_keepalive(env, id, out);
}

void Device::set_up(const Env& env, bool up, Outbox& out) {
  if (up == up_) return;
  up_ = up;
  for (PeerId id = 0; id < peers_.size(); ++id) {
    Peer* p = peer(id);
    if (!p) continue;
    if (up) {
      if (!p->staged.empty()) flush_staged(env, id, out);
      if (p->persistent_keepalive) send_keepalive(env, id, out);
    } else {
      // Down forgets every session and timer, as the kernel's wg_stop does.
      p->staged.clear();
      clear_timers(*p);
      clear_handshake(*p);
      clear_sessions(*p);
      p->last_sent_handshake.reset();
    }
  }
}

// --- index table ---

uint32_t Device::new_index(const Env& env, PeerId id) {
  for (;;) {  // at most 3 indices per peer in 2^32: a retry is rare, a second one rarer
    const uint32_t index = env.rng.next_u32();
    if (by_index_.emplace(index, id).second) return index;
  }
}

void Device::release_index(uint32_t index) { by_index_.erase(index); }

void Device::release_handshake_index(Peer& p) {
  if (!p.handshake.has_local_index) return;
  release_index(p.handshake.local_index);
  p.handshake.has_local_index = false;
}

void Device::clear_handshake(Peer& p) {
  release_handshake_index(p);
  p.handshake.clear();
}

void Device::clear_sessions(Peer& p) { p.keypairs.clear(releaser()); }

// --- load ---

void Device::note_handshake_backlog(Instant now, size_t queued) {
  if (queued >= kUnderLoadQueueLen) last_under_load_ = now;
}

bool Device::under_load(Instant now) const { return last_under_load_ && now - *last_under_load_ < kUnderLoadHold; }

// --- receive ---

RxResult Device::receive(const Env& env, const Endpoint& from, std::span<uint8_t> datagram, Outbox& out) {
  return receive(env, from, datagram, out, nullptr);
}

bool Device::prepare_open(std::span<uint8_t> msg, Instant now, AeadJob& job) const {
  if (msg.size() < data::kMinLen || message_header(msg.data()) != header_of(MessageType::Data)) return false;
  const auto it = by_index_.find(load_le32(msg.data() + data::kReceiver));
  if (it == by_index_.end()) return false;
  const Peer* p = peer(it->second);
  if (!p) return false;
  const Keypair* kp = p->keypairs.find(it->first);
  if (!kp || !kp->can_receive(now)) return false;
  const uint64_t counter = load_le64(msg.data() + data::kCounter);
  if (!kp->replay.check(counter)) return false;
  job.data = msg.data() + data::kHeaderLen;
  job.len = msg.size() - data::kHeaderLen;
  job.counter = counter;
  std::memcpy(job.key.data(), kp->recv_key.data(), 32);
  job.seal = false;
  job.ok = false;
  return true;
}

RxResult Device::receive(const Env& env, const Endpoint& from, std::span<uint8_t> datagram, Outbox& out,
                         const bool* opened) {
  RxResult r;
  if (datagram.size() < 4) {
    r = dropped(Drop::TooShort);
  } else {
    switch (message_header(datagram.data())) {
      case header_of(MessageType::Initiation):
        r = datagram.size() == initiation::kLen ? receive_handshake(env, from, datagram, out)
                                                : dropped(Drop::BadLength);
        break;
      case header_of(MessageType::Response):
        r = datagram.size() == response::kLen ? receive_handshake(env, from, datagram, out)
                                              : dropped(Drop::BadLength);
        break;
      case header_of(MessageType::CookieReply):
        r = datagram.size() == cookie_reply::kLen ? receive_cookie_reply(env, datagram) : dropped(Drop::BadLength);
        break;
      case header_of(MessageType::Data):
        r = datagram.size() >= data::kMinLen ? receive_data(env, from, datagram, out, opened)
                                             : dropped(Drop::TooShort);
        break;
      default:
        r = dropped(Drop::UnknownType);
    }
  }
  if (r.kind == RxKind::Dropped) drops_.add(r.drop);
  return r;
}

RxResult Device::receive_handshake(const Env& env, const Endpoint& from, std::span<uint8_t> msg, Outbox& out) {
  if (!identity_.has_key) return dropped(Drop::NoPrivateKey);
  if (!cookie_checker_.check_mac1(msg)) return dropped(Drop::BadMac1);

  // Many authenticated-looking handshakes in a short slice put the device under load too.
  if (env.now - slice_start_ >= std::chrono::milliseconds(125)) {
    slice_start_ = env.now;
    slice_handshakes_ = 0;
  }
  if (++slice_handshakes_ >= kUnderLoadPerSlice) last_under_load_ = env.now;

  if (under_load(env.now)) {
    if (!cookie_checker_.check_mac2(env, msg, from)) return answer_under_load(env, from, msg, out);
    if (!rate_limiter_.allow(from, env.now)) return dropped(Drop::RateLimited);
    if (!is_peer_source(from) && !handshake_budget_.take(env.now)) return dropped(Drop::HandshakeBudget);
  }
  const bool initiation = message_header(msg.data()) == header_of(MessageType::Initiation);
  const RxResult r = initiation ? receive_initiation(env, from, msg, out) : receive_response(env, from, msg, out);
  if (r.kind == RxKind::Dropped)
    ++handshakes_.rejected;
  else
    ++(initiation ? handshakes_.initiations_received : handshakes_.responses_received);
  return r;
}

RxResult Device::answer_under_load(const Env& env, const Endpoint& from, std::span<uint8_t> msg, Outbox& out) {
  const bool allowed =
      is_peer_source(from) ? peer_source_cookies_.allow(from, env.now) : cookie_budget_.take(env.now);
  if (!allowed) return dropped(Drop::CookieBudget);
  cookie_checker_.create_reply(env, msg, from, out.add_control(kNoPeer, from, cookie_reply::kLen).data());
  ++handshakes_.cookie_replies_sent;
  return dropped(Drop::CookieSent);
}

RxResult Device::receive_initiation(const Env& env, const Endpoint& from, std::span<uint8_t> msg, Outbox& out) {
  InitiationScratch scratch;
  if (!decrypt_initiation_static(identity_, msg, scratch)) return dropped(Drop::HandshakeDecrypt);
  const auto found = find_peer(scratch.remote_static);
  if (!found) return dropped(Drop::UnknownPeer);
  const PeerId id = *found;
  Peer& p = *peer(id);
  if (Drop d = consume_initiation(env, p.keys(), p.handshake, scratch, msg); d != Drop::None) return dropped(d);
  // An initiation of our own that was in flight is superseded: its index goes.
  release_handshake_index(p);
  update_endpoint(id, p, from, out);
  p.rx_bytes += msg.size();

  // Respond (kernel wg_packet_send_handshake_response).
  p.last_sent_handshake = env.now;
  const uint32_t index = new_index(env, id);
  std::span<uint8_t> resp = out.add_control(id, p.endpoint, response::kLen);
  if (!create_response(env, p.keys(), p.handshake, index, resp)) {
    release_index(index);
    out.drop_last();
    return dropped(Drop::HandshakeDecrypt);
  }
  p.cookie.add_macs(env, resp);
  p.keypairs.add(begin_session(env, p.handshake), releaser());
  timers_session_derived(env, p);
  timers_any_authenticated_packet_traversal(env, p);
  timers_any_authenticated_packet_sent(p);
  p.tx_bytes += resp.size();
  ++handshakes_.responses_sent;

  timers_any_authenticated_packet_received(p);
  timers_any_authenticated_packet_traversal(env, p);
  return RxResult{RxKind::Handshake, Drop::None, id, {}};
}

RxResult Device::receive_response(const Env& env, const Endpoint& from, std::span<uint8_t> msg, Outbox& out) {
  const auto it = by_index_.find(load_le32(msg.data() + response::kReceiver));
  if (it == by_index_.end()) return dropped(Drop::UnknownIndex);
  const PeerId id = it->second;
  Peer& p = *peer(id);
  if (!p.handshake.has_local_index || p.handshake.local_index != it->first) return dropped(Drop::HandshakeState);
  if (Drop d = consume_response(identity_, p.keys(), p.handshake, msg); d != Drop::None) return dropped(d);
  update_endpoint(id, p, from, out);
  p.rx_bytes += msg.size();

  p.keypairs.add(begin_session(env, p.handshake), releaser());
  timers_session_derived(env, p);
  timers_handshake_complete(env, id, p, out);
  // Staged packets go out now; with none, a keepalive confirms the session to the responder.
  send_keepalive(env, id, out);

  timers_any_authenticated_packet_received(p);
  timers_any_authenticated_packet_traversal(env, p);
  return RxResult{RxKind::Handshake, Drop::None, id, {}};
}

RxResult Device::receive_cookie_reply(const Env& env, std::span<uint8_t> msg) {
  const auto it = by_index_.find(load_le32(msg.data() + cookie_reply::kReceiver));
  if (it == by_index_.end()) return dropped(Drop::UnknownIndex);
  Peer& p = *peer(it->second);
  if (Drop d = p.cookie.consume_reply(env, msg); d != Drop::None) return dropped(d);
  ++handshakes_.cookie_replies_received;
  // Nothing is resent now: the next retransmission carries mac2.
  return RxResult{RxKind::CookieReply, Drop::None, it->second, {}};
}

RxResult Device::receive_data(const Env& env, const Endpoint& from, std::span<uint8_t> msg, Outbox& out,
                              const bool* opened) {
  const auto it = by_index_.find(load_le32(msg.data() + data::kReceiver));
  if (it == by_index_.end()) return dropped(Drop::UnknownIndex);
  const PeerId id = it->second;
  Peer& p = *peer(id);
  Keypair* kp = p.keypairs.find(it->first);
  if (!kp) return dropped(Drop::UnknownIndex);  // the index is a handshake's, not a session's
  if (!kp->can_receive(env.now)) {
    kp->recv_valid = false;
    return dropped(Drop::KeyExpired);
  }
  const uint64_t counter = load_le64(msg.data() + data::kCounter);
  if (!kp->replay.check(counter)) return dropped(Drop::Replayed);  // cheap reject before the AEAD

  std::span<uint8_t> payload = msg.subspan(data::kHeaderLen);
  // A prepared open (prepare_open) was done with this keypair's key: an index never moves to
  // another keypair, so finding it again here means the same key.
  const bool good = opened ? *opened
                           : crypto::aead_open(payload.data(), payload.data(), payload.size(), nullptr, 0, counter,
                                               kp->recv_key.data());
  if (!good) return dropped(Drop::DataDecrypt);
  // Commit to the window only once the tag is good, so forgeries cannot move it.
  if (!kp->replay.update(counter)) return dropped(Drop::Replayed);

  update_endpoint(id, p, from, out);
  p.rx_bytes += msg.size();
  if (p.keypairs.received_with(kp, releaser())) {
    timers_handshake_complete(env, id, p, out);
    flush_staged(env, id, out);
  }
  keep_key_fresh_after_receive(env, id, p, out);
  timers_any_authenticated_packet_received(p);
  timers_any_authenticated_packet_traversal(env, p);

  std::span<uint8_t> plain = payload.first(payload.size() - kTagLen);
  if (plain.empty()) return RxResult{RxKind::Keepalive, Drop::None, id, {}};
  timers_data_received(env, p);

  size_t ip_len = 0;
  if (Drop d = inner_ip_length(plain, ip_len); d != Drop::None) {
    RxResult r = dropped(d);
    r.peer = id;
    return r;
  }
  return RxResult{RxKind::Data, Drop::None, id, plain.first(ip_len)};
}

void Device::update_endpoint(PeerId id, Peer& p, const Endpoint& from, Outbox& out) {
  if (p.endpoint.valid() && !p.endpoint.same_remote(from)) out.add_event(id, EventKind::EndpointChanged);
  set_peer_endpoint(p, from);
}

Device::SourceKey Device::source_key(const Endpoint& e) {
  SourceKey k{e.family, {}};
  std::memcpy(k.addr.data(), e.addr.data(), e.addr_len());
  return k;
}

size_t Device::SourceKeyHash::operator()(const SourceKey& k) const noexcept {
  uint64_t a, b;
  std::memcpy(&a, k.addr.data(), 8);
  std::memcpy(&b, k.addr.data() + 8, 8);
  uint64_t v = (a ^ (b * 0x9e3779b97f4a7c15ULL) ^ uint64_t(k.family) << 56) * 0xff51afd7ed558ccdULL;
  return static_cast<size_t>(v ^ (v >> 32));
}

// Called for every authenticated packet (roaming): the common case, the same address, is one
// compare and no hashing.
void Device::set_peer_endpoint(Peer& p, const Endpoint& ep) {
  const bool moved = p.endpoint.family != ep.family ||
                     std::memcmp(p.endpoint.addr.data(), ep.addr.data(), ep.addr_len()) != 0;
  if (moved) {
    if (p.endpoint.valid()) {
      auto it = peer_sources_.find(source_key(p.endpoint));
      if (it != peer_sources_.end() && --it->second == 0) peer_sources_.erase(it);
    }
    if (ep.valid()) ++peer_sources_[source_key(ep)];
  }
  p.endpoint = ep;
}

bool Device::is_peer_source(const Endpoint& from) const {
  return !peer_sources_.empty() && peer_sources_.count(source_key(from)) != 0;
}

// --- send ---

bool Device::encrypt(const Env& env, PeerId, Peer& p, std::span<uint8_t> buf, size_t len,
                     std::span<uint8_t>& datagram, std::vector<AeadJob>* defer) {
  Keypair* kp = p.keypairs.current.get();
  if (!kp || !kp->can_send(env.now)) return false;
  const size_t padded = padded_length(len, mtu_);
  const uint64_t counter = kp->send_counter++;
  uint8_t* hdr = buf.data();
  std::memset(hdr + data::kHeaderLen + len, 0, padded - len);
  store_le32(hdr, header_of(MessageType::Data));
  store_le32(hdr + data::kReceiver, kp->remote_index);
  store_le64(hdr + data::kCounter, counter);
  uint8_t* payload = hdr + data::kHeaderLen;
  if (defer) {
    AeadJob& j = defer->emplace_back();
    j.data = payload;
    j.len = padded;
    j.counter = counter;
    std::memcpy(j.key.data(), kp->send_key.data(), 32);
    j.seal = true;
  } else if (!crypto::aead_seal(payload, payload, padded, nullptr, 0, counter, kp->send_key.data())) {
    return false;
  }
  datagram = buf.first(data::kHeaderLen + padded + kTagLen);
  return true;
}

TxResult Device::send(const Env& env, PeerId id, std::span<uint8_t> buf, size_t len, Outbox& out,
                      std::vector<AeadJob>* defer) {
  TxResult r;
  Peer* p = peer(id);
  if (!p) {
    r.drop = Drop::NoPeer;
  } else if (!up_) {
    r.drop = Drop::LinkDown;  // a down interface sends nothing
  } else if (buf.size() < data::kHeaderLen + padded_length(len, mtu_) + kTagLen) {
    r.drop = Drop::NoBufferRoom;
  } else if (!p->endpoint.valid()) {
    r.drop = Drop::NoEndpoint;
  } else if (p->staged.empty() && encrypt(env, id, *p, buf, len, r.datagram, defer)) {
    timers_any_authenticated_packet_traversal(env, *p);
    timers_any_authenticated_packet_sent(*p);
    if (len) timers_data_sent(env, *p);
    p->tx_bytes += r.datagram.size();
    keep_key_fresh_after_send(env, id, *p, out);
    r.status = TxStatus::Sent;
    r.to = p->endpoint;
    return r;
  } else {
    // No usable session (or older packets still waiting): queue behind them.
    if (p->staged.push(buf.subspan(data::kHeaderLen, len))) drops_.add(Drop::StagedOverflow);
    flush_staged(env, id, out);
    r.status = TxStatus::Staged;
    return r;
  }
  drops_.add(r.drop);
  return r;
}

bool Device::sends_at_once(Instant now, PeerId id, size_t len) const {
  const Peer* p = peer(id);
  if (!p || !up_ || !p->endpoint.valid() || !p->staged.empty() || padded_length(len, mtu_) != len) return false;
  const Keypair* kp = p->keypairs.current.get();
  return kp && kp->can_send(now);
}

void Device::send_keepalive(const Env& env, PeerId id, Outbox& out) {
  Peer* p = peer(id);
  if (!p) return;
  if (p->staged.empty()) p->staged.push({});  // a zero-length packet is a keepalive
  flush_staged(env, id, out);
}

void Device::flush_staged(const Env& env, PeerId id, Outbox& out) {
  Peer& p = *peer(id);
  bool sent_any = false;
  while (!p.staged.empty()) {
    StagedQueue::Slot& s = p.staged.front();
    std::span<uint8_t> datagram;
    if (!p.endpoint.valid() || !encrypt(env, id, p, s.buf, s.len, datagram)) {
      send_initiation(env, id, false, out);
      return;
    }
    out.add_external(id, p.endpoint, datagram);
    timers_any_authenticated_packet_traversal(env, p);
    timers_any_authenticated_packet_sent(p);
    if (s.len) timers_data_sent(env, p);
    p.tx_bytes += datagram.size();
    p.staged.pop_front();
    sent_any = true;
  }
  if (sent_any) keep_key_fresh_after_send(env, id, p, out);
}

void Device::send_initiation(const Env& env, PeerId id, bool is_retry, Outbox& out) {
  Peer& p = *peer(id);
  if (!is_retry) p.timers.handshake_attempts = 0;
  if (p.last_sent_handshake && env.now - *p.last_sent_handshake < kRekeyTimeout) return;
  // No key of our own, or a low-order peer key: there is nothing we could send.
  if (!identity_.has_key || p.static_static.is_zero()) return;
  p.last_sent_handshake = env.now;
  release_handshake_index(p);
  const uint32_t index = new_index(env, id);
  std::span<uint8_t> msg = out.add_control(id, p.endpoint, initiation::kLen);
  if (!create_initiation(env, identity_, p.keys(), p.handshake, index, msg)) {
    release_index(index);
    out.drop_last();
    return;
  }
  p.cookie.add_macs(env, msg);
  timers_any_authenticated_packet_traversal(env, p);
  timers_any_authenticated_packet_sent(p);
  if (p.endpoint.valid()) {
    p.tx_bytes += msg.size();
    ++handshakes_.initiations_sent;
  } else {
    out.drop_last();
    drops_.add(Drop::NoEndpoint);
  }
  timers_handshake_initiated(env, p);
  out.add_event(id, EventKind::HandshakeInitiated);
}

void Device::keep_key_fresh_after_send(const Env& env, PeerId id, Peer& p, Outbox& out) {
  const Keypair* kp = p.keypairs.current.get();
  if (kp && kp->send_valid &&
      (kp->send_counter > kRekeyAfterMessages || (kp->initiator && env.now - kp->birth >= kRekeyAfterTime)))
    send_initiation(env, id, false, out);
}

void Device::keep_key_fresh_after_receive(const Env& env, PeerId id, Peer& p, Outbox& out) {
  if (p.timers.sent_lastminute_handshake) return;
  const Keypair* kp = p.keypairs.current.get();
  // The initiator's last chance before Reject-After-Time: 180 - 10 - 5 = 165 s.
  if (kp && kp->send_valid && kp->initiator &&
      env.now - kp->birth >= kRejectAfterTime - kKeepaliveTimeout - kRekeyTimeout) {
    p.timers.sent_lastminute_handshake = true;
    send_initiation(env, id, false, out);
  }
}

}  // namespace wg::core
