// core/noise.hpp — Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s, the message bodies only.
// WireGuard's handshake messages carry these bodies contiguously (initiation bytes 8..115,
// response bytes 12..59) with prologue = IDENTIFIER, payload 1 = TAI64N and payload 2 empty;
// taking prologue and payloads as parameters lets the cacophony vector pin every step.
// Owns no state beyond the chaining key and hash passed in; secrets are wiped on exit.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>

#include "crypto/secure.hpp"

namespace wg::core {

struct NoiseState {
  crypto::Secret<32> ck;  // chaining key C
  crypto::Secret<32> h;   // handshake hash H
};

inline constexpr size_t kNoiseInitiationBodyLen(size_t payload) { return 32 + 48 + payload + 16; }
inline constexpr size_t kNoiseResponseBodyLen(size_t payload) { return 32 + payload + 16; }

// C = HASH(CONSTRUCTION); H = HASH(C || prologue); H = HASH(H || responder static).
void noise_start(NoiseState& st, std::span<const uint8_t> prologue, const uint8_t responder_static[32]);

// H = HASH(H || data).
void mix_hash(NoiseState& st, std::span<const uint8_t> data);

// Initiator, message 1: e, es, s, ss, {payload}. out receives kNoiseInitiationBodyLen(payload) bytes.
// ss is the precomputed DH(S_i, S_r). False if a DH result is zero.
[[nodiscard]] bool noise_write_initiation(NoiseState& st, const uint8_t e_priv[32], const uint8_t s_pub[32],
                                          const uint8_t rs_pub[32], const uint8_t ss[32],
                                          std::span<const uint8_t> payload, uint8_t* out);

// Responder, message 1, first half: e, es, decrypt s. Writes the initiator's static key and
// its ephemeral; the caller then finds the peer and its precomputed ss.
[[nodiscard]] bool noise_read_initiation_static(NoiseState& st, const uint8_t s_priv[32], const uint8_t* body,
                                                uint8_t re_out[32], uint8_t rs_out[32]);

// Responder, message 1, second half: ss, decrypt {payload} (payload_out.size() bytes).
[[nodiscard]] bool noise_read_initiation_payload(NoiseState& st, const uint8_t ss[32], const uint8_t* body,
                                                 std::span<uint8_t> payload_out);

// Responder, message 2: e, ee, se, psk, {payload}. out receives kNoiseResponseBodyLen(payload).
[[nodiscard]] bool noise_write_response(NoiseState& st, const uint8_t e_priv[32], const uint8_t re_pub[32],
                                        const uint8_t rs_pub[32], const uint8_t psk[32],
                                        std::span<const uint8_t> payload, uint8_t* out);

// Initiator, message 2: e, ee, se, psk, decrypt {payload}.
[[nodiscard]] bool noise_read_response(NoiseState& st, const uint8_t e_priv[32], const uint8_t s_priv[32],
                                       const uint8_t psk[32], const uint8_t* body, std::span<uint8_t> payload_out);

// Transport keys: (T1, T2) = KDF2(C, empty); T1 is initiator→responder.
void noise_split(const NoiseState& st, uint8_t initiator_send[32], uint8_t responder_send[32]);

}  // namespace wg::core
