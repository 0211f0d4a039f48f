// core/noise.cpp — the IKpsk2 token sequence over crypto/ primitives (kernel noise.c order).
#include "core/noise.hpp"

#include <cstring>

#include "core/messages.hpp"
#include "crypto/aead.hpp"
#include "crypto/blake2s.hpp"
#include "crypto/x25519.hpp"

namespace wg::core {

namespace {

using crypto::Secret;

void mix_key(NoiseState& st, std::span<const uint8_t> input) { crypto::kdf(st.ck.data(), input, st.ck.data()); }

// (C, k) = KDF2(C, DH(priv, pub)); false on a zero DH result.
[[nodiscard]] bool mix_dh(NoiseState& st, const uint8_t priv[32], const uint8_t pub[32], uint8_t key[32]) {
  Secret<32> dh;
  if (!crypto::x25519(dh.data(), priv, pub)) return false;
  crypto::kdf(st.ck.data(), dh.bytes, st.ck.data(), key);
  return true;
}

// C = KDF1(C, DH(priv, pub)).
[[nodiscard]] bool mix_dh_only(NoiseState& st, const uint8_t priv[32], const uint8_t pub[32]) {
  Secret<32> dh;
  if (!crypto::x25519(dh.data(), priv, pub)) return false;
  mix_key(st, dh.bytes);
  return true;
}

// out = AEAD(key, 0, plain, H); H = HASH(H || out).
[[nodiscard]] bool encrypt_and_hash(NoiseState& st, const uint8_t key[32], std::span<const uint8_t> plain,
                                    uint8_t* out) {
  if (!crypto::aead_seal(out, plain.data(), plain.size(), st.h.data(), 32, 0, key)) return false;
  mix_hash(st, std::span<const uint8_t>(out, plain.size() + kTagLen));
  return true;
}

// plain = AEAD-open(key, 0, in, H); H = HASH(H || in).
[[nodiscard]] bool decrypt_and_hash(NoiseState& st, const uint8_t key[32], const uint8_t* in,
                                    std::span<uint8_t> plain) {
  if (!crypto::aead_open(plain.data(), in, plain.size() + kTagLen, st.h.data(), 32, 0, key)) return false;
  mix_hash(st, std::span<const uint8_t>(in, plain.size() + kTagLen));
  return true;
}

// The "e" token in a PSK handshake: the ephemeral is mixed into both H and C.
void mix_ephemeral(NoiseState& st, const uint8_t e_pub[32]) {
  mix_hash(st, std::span<const uint8_t>(e_pub, 32));
  mix_key(st, std::span<const uint8_t>(e_pub, 32));
}

}  // namespace

void mix_hash(NoiseState& st, std::span<const uint8_t> data) {
  crypto::Blake2s(32).update(st.h.bytes).update(data).final(st.h.bytes);
}

void noise_start(NoiseState& st, std::span<const uint8_t> prologue, const uint8_t responder_static[32]) {
  const auto* c = reinterpret_cast<const uint8_t*>(kConstruction.data());
  crypto::blake2s(st.ck.bytes, std::span(c, kConstruction.size()));
  st.h = st.ck;
  mix_hash(st, prologue);
  mix_hash(st, std::span<const uint8_t>(responder_static, 32));
}

bool noise_write_initiation(NoiseState& st, const uint8_t e_priv[32], const uint8_t s_pub[32],
                            const uint8_t rs_pub[32], const uint8_t ss[32], std::span<const uint8_t> payload,
                            uint8_t* out) {
  Secret<32> key;
  // e
  crypto::x25519_public(out, e_priv);
  mix_ephemeral(st, out);
  // es
  if (!mix_dh(st, e_priv, rs_pub, key.data())) return false;
  // s
  if (!encrypt_and_hash(st, key.data(), std::span<const uint8_t>(s_pub, 32), out + 32)) return false;
  // ss (precomputed static-static DH; zero means a low-order peer key)
  if (crypto::is_zero_ct(ss, 32)) return false;
  crypto::kdf(st.ck.data(), std::span<const uint8_t>(ss, 32), st.ck.data(), key.data());
  // {payload}
  return encrypt_and_hash(st, key.data(), payload, out + 32 + 48);
}

bool noise_read_initiation_static(NoiseState& st, const uint8_t s_priv[32], const uint8_t* body,
                                  uint8_t re_out[32], uint8_t rs_out[32]) {
  Secret<32> key;
  // e
  std::memcpy(re_out, body, 32);
  mix_ephemeral(st, re_out);
  // es
  if (!mix_dh(st, s_priv, re_out, key.data())) return false;
  // s
  return decrypt_and_hash(st, key.data(), body + 32, std::span<uint8_t>(rs_out, 32));
}

bool noise_read_initiation_payload(NoiseState& st, const uint8_t ss[32], const uint8_t* body,
                                   std::span<uint8_t> payload_out) {
  Secret<32> key;
  // ss
  if (crypto::is_zero_ct(ss, 32)) return false;
  crypto::kdf(st.ck.data(), std::span<const uint8_t>(ss, 32), st.ck.data(), key.data());
  // {payload}
  return decrypt_and_hash(st, key.data(), body + 32 + 48, payload_out);
}

bool noise_write_response(NoiseState& st, const uint8_t e_priv[32], const uint8_t re_pub[32],
                          const uint8_t rs_pub[32], const uint8_t psk[32], std::span<const uint8_t> payload,
                          uint8_t* out) {
  Secret<32> key, tau;
  // e
  crypto::x25519_public(out, e_priv);
  mix_ephemeral(st, out);
  // ee
  if (!mix_dh_only(st, e_priv, re_pub)) return false;
  // se
  if (!mix_dh_only(st, e_priv, rs_pub)) return false;
  // psk
  crypto::kdf(st.ck.data(), std::span<const uint8_t>(psk, 32), st.ck.data(), tau.data(), key.data());
  mix_hash(st, tau.bytes);
  // {payload}
  return encrypt_and_hash(st, key.data(), payload, out + 32);
}

bool noise_read_response(NoiseState& st, const uint8_t e_priv[32], const uint8_t s_priv[32], const uint8_t psk[32],
                         const uint8_t* body, std::span<uint8_t> payload_out) {
  Secret<32> key, tau;
  const uint8_t* re = body;
  // e
  mix_ephemeral(st, re);
  // ee
  if (!mix_dh_only(st, e_priv, re)) return false;
  // se
  if (!mix_dh_only(st, s_priv, re)) return false;
  // psk
  crypto::kdf(st.ck.data(), std::span<const uint8_t>(psk, 32), st.ck.data(), tau.data(), key.data());
  mix_hash(st, tau.bytes);
  // {payload}
  return decrypt_and_hash(st, key.data(), body + 32, payload_out);
}

void noise_split(const NoiseState& st, uint8_t initiator_send[32], uint8_t responder_send[32]) {
  crypto::kdf(st.ck.data(), {}, initiator_send, responder_send);
}

}  // namespace wg::core
