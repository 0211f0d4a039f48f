// core/handshake.hpp — WireGuard's handshake messages around the Noise core (whitepaper
// §5.4.2-5.4.3, kernel noise.c): framing, indices, TAI64N replay and flood checks, and the
// derivation of a session. MACs are added by CookieMaker; lookups belong to the Device.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "core/drop.hpp"
#include "core/env.hpp"
#include "core/keypair.hpp"
#include "core/keys.hpp"
#include "core/noise.hpp"
#include "core/tai64n.hpp"

namespace wg::core {

// The device's own key pair and the Noise state every initiation to us starts from.
struct StaticIdentity {
  bool has_key = false;
  PrivateKey private_key;  // clamped
  PublicKey public_key;
  NoiseState initial;      // after noise_start(IDENTIFIER, public_key)

  void set(const uint8_t private_key_bytes[32]);
  void clear();
};

enum class HandshakeState : uint8_t { Zeroed, CreatedInitiation, ConsumedInitiation, CreatedResponse, ConsumedResponse };

struct Handshake {
  HandshakeState state = HandshakeState::Zeroed;
  NoiseState noise;
  crypto::Secret<32> ephemeral_private;
  std::array<uint8_t, 32> remote_ephemeral{};
  bool has_local_index = false;
  uint32_t local_index = 0;
  uint32_t remote_index = 0;
  // Kept for the peer's lifetime, not cleared with the rest (replay protection).
  Tai64n latest_timestamp{};
  std::optional<Instant> last_initiation_consumed;

  // Wipes the session-in-progress; the caller releases local_index first if it still owns it.
  void clear();
};

// What a handshake needs to know about the peer it is with.
struct PeerKeys {
  const PublicKey& remote_static;
  const PresharedKey& preshared;
  const crypto::Secret<32>& static_static;  // DH(our private, their public); zero if low order
};

// Writes a 148-byte initiation except its MACs and moves hs to CreatedInitiation.
[[nodiscard]] bool create_initiation(const Env& env, const StaticIdentity& me, const PeerKeys& peer, Handshake& hs,
                                     uint32_t sender_index, std::span<uint8_t> msg);

// First half of consuming an initiation: who sent it? Writes the initiator's static key.
struct InitiationScratch {
  NoiseState noise;
  std::array<uint8_t, 32> remote_ephemeral{};
  PublicKey remote_static;
};
[[nodiscard]] bool decrypt_initiation_static(const StaticIdentity& me, std::span<const uint8_t> msg,
                                             InitiationScratch& scratch);

// Second half, once the peer is known: ss, timestamp, replay and flood checks; commits to hs.
[[nodiscard]] Drop consume_initiation(const Env& env, const PeerKeys& peer, Handshake& hs, InitiationScratch& scratch,
                                      std::span<const uint8_t> msg);

// Writes a 92-byte response except its MACs; hs must be ConsumedInitiation.
[[nodiscard]] bool create_response(const Env& env, const PeerKeys& peer, Handshake& hs, uint32_t sender_index,
                                   std::span<uint8_t> msg);

// Consumes a response for hs (which must be CreatedInitiation with the matching index).
[[nodiscard]] Drop consume_response(const StaticIdentity& me, const PeerKeys& peer, Handshake& hs,
                                    std::span<const uint8_t> msg);

// Derives the transport keys from a finished handshake and clears it. The keypair takes over
// the handshake's local index. Null unless hs is CreatedResponse or ConsumedResponse.
[[nodiscard]] std::unique_ptr<Keypair> begin_session(const Env& env, Handshake& hs);

}  // namespace wg::core
