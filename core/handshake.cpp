// core/handshake.cpp — initiation and response messages, kernel noise.c semantics.
#include "core/handshake.hpp"

#include <cstring>

#include "core/messages.hpp"
#include "crypto/x25519.hpp"

namespace wg::core {

namespace {

std::span<const uint8_t> identifier() {
  return {reinterpret_cast<const uint8_t*>(kIdentifier.data()), kIdentifier.size()};
}

void new_ephemeral(const Env& env, Handshake& hs) {
  env.rng.fill(hs.ephemeral_private.bytes);
  crypto::x25519_clamp(hs.ephemeral_private.data());
}

}  // namespace

void StaticIdentity::set(const uint8_t private_key_bytes[32]) {
  std::memcpy(private_key.data(), private_key_bytes, 32);
  crypto::x25519_clamp(private_key.data());
  crypto::x25519_public(public_key.data(), private_key.data());
  noise_start(initial, identifier(), public_key.data());
  has_key = true;
}

void StaticIdentity::clear() {
  private_key.clear();
  public_key = {};
  initial.ck.clear();
  initial.h.clear();
  has_key = false;
}

void Handshake::clear() {
  state = HandshakeState::Zeroed;
  noise.ck.clear();
  noise.h.clear();
  ephemeral_private.clear();
  remote_ephemeral = {};
  has_local_index = false;
  local_index = 0;
  remote_index = 0;
}

bool create_initiation(const Env& env, const StaticIdentity& me, const PeerKeys& peer, Handshake& hs,
                       uint32_t sender_index, std::span<uint8_t> msg) {
  if (!me.has_key || msg.size() != initiation::kLen) return false;
  noise_start(hs.noise, identifier(), peer.remote_static.data());
  new_ephemeral(env, hs);
  store_le32(msg.data(), header_of(MessageType::Initiation));
  store_le32(msg.data() + initiation::kSender, sender_index);
  const Tai64n now = tai64n_from(env.wall);
  if (!noise_write_initiation(hs.noise, hs.ephemeral_private.data(), me.public_key.data(), peer.remote_static.data(),
                              peer.static_static.data(), now, msg.data() + initiation::kEphemeral)) {
    hs.clear();
    return false;
  }
  hs.state = HandshakeState::CreatedInitiation;
  hs.local_index = sender_index;
  hs.has_local_index = true;
  return true;
}

bool decrypt_initiation_static(const StaticIdentity& me, std::span<const uint8_t> msg, InitiationScratch& scratch) {
  if (!me.has_key || msg.size() != initiation::kLen) return false;
  scratch.noise = me.initial;
  return noise_read_initiation_static(scratch.noise, me.private_key.data(), msg.data() + initiation::kEphemeral,
                                      scratch.remote_ephemeral.data(), scratch.remote_static.data());
}

Drop consume_initiation(const Env& env, const PeerKeys& peer, Handshake& hs, InitiationScratch& scratch,
                        std::span<const uint8_t> msg) {
  Tai64n t{};
  if (!noise_read_initiation_payload(scratch.noise, peer.static_static.data(), msg.data() + initiation::kEphemeral,
                                     t))
    return Drop::HandshakeDecrypt;
  // Only after the whole message authenticated: a replayed initiation must carry a newer
  // timestamp than any accepted before, and one peer gets at most one per 20 ms.
  if (!tai64n_after(t, hs.latest_timestamp)) return Drop::TimestampReplay;
  if (hs.last_initiation_consumed && env.now - *hs.last_initiation_consumed < kInitiationMinInterval)
    return Drop::InitiationFlood;

  hs.noise = scratch.noise;
  hs.remote_ephemeral = scratch.remote_ephemeral;
  hs.remote_index = load_le32(msg.data() + initiation::kSender);
  hs.latest_timestamp = t;
  hs.last_initiation_consumed = env.now;
  hs.state = HandshakeState::ConsumedInitiation;
  return Drop::None;
}

bool create_response(const Env& env, const PeerKeys& peer, Handshake& hs, uint32_t sender_index,
                     std::span<uint8_t> msg) {
  if (hs.state != HandshakeState::ConsumedInitiation || msg.size() != response::kLen) return false;
  new_ephemeral(env, hs);
  store_le32(msg.data(), header_of(MessageType::Response));
  store_le32(msg.data() + response::kSender, sender_index);
  store_le32(msg.data() + response::kReceiver, hs.remote_index);
  if (!noise_write_response(hs.noise, hs.ephemeral_private.data(), hs.remote_ephemeral.data(),
                            peer.remote_static.data(), peer.preshared.data(), {},
                            msg.data() + response::kEphemeral)) {
    hs.clear();
    return false;
  }
  hs.state = HandshakeState::CreatedResponse;
  hs.local_index = sender_index;
  hs.has_local_index = true;
  return true;
}

Drop consume_response(const StaticIdentity& me, const PeerKeys& peer, Handshake& hs, std::span<const uint8_t> msg) {
  if (!me.has_key) return Drop::NoPrivateKey;
  if (hs.state != HandshakeState::CreatedInitiation) return Drop::HandshakeState;
  NoiseState st = hs.noise;  // commit only if the whole response authenticates
  if (!noise_read_response(st, hs.ephemeral_private.data(), me.private_key.data(), peer.preshared.data(),
                           msg.data() + response::kEphemeral, {}))
    return Drop::HandshakeDecrypt;
  hs.noise = st;
  hs.remote_index = load_le32(msg.data() + response::kSender);
  hs.state = HandshakeState::ConsumedResponse;
  return Drop::None;
}

std::unique_ptr<Keypair> begin_session(const Env& env, Handshake& hs) {
  const bool initiator = hs.state == HandshakeState::ConsumedResponse;
  if (!initiator && hs.state != HandshakeState::CreatedResponse) return nullptr;
  auto kp = std::make_unique<Keypair>();
  if (initiator)
    noise_split(hs.noise, kp->send_key.data(), kp->recv_key.data());
  else
    noise_split(hs.noise, kp->recv_key.data(), kp->send_key.data());
  kp->initiator = initiator;
  kp->birth = env.now;
  kp->local_index = hs.local_index;
  kp->remote_index = hs.remote_index;
  hs.has_local_index = false;  // the index now belongs to the keypair
  hs.clear();
  return kp;
}

}  // namespace wg::core
