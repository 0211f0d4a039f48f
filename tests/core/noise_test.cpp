// tests/core/noise_test.cpp — the cacophony Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s vector
// through core/noise.hpp with its prologue and payloads: every message and the handshake hash.
#include <doctest/doctest.h>

#include "core/noise.hpp"
#include "crypto/aead.hpp"
#include "crypto/vectors.hpp"
#include "crypto/x25519.hpp"

namespace wg::core {

using crypto::Bytes;
using crypto::hex_encode;
using crypto::hex_field;

TEST_CASE("noise: cacophony IKpsk2 vector, both sides, every message") {
  const auto all = crypto::load_vectors("noise_IKpsk2_25519_ChaChaPoly_BLAKE2s.json");
  REQUIRE(all["vectors"].size() == 1);
  const auto& v = all["vectors"][0];
  REQUIRE(v["protocol_name"] == "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s");
  const Bytes prologue = hex_field(v["init_prologue"]);
  const Bytes psk = hex_field(v["init_psks"][0]);
  const Bytes s_i = hex_field(v["init_static"]), e_i = hex_field(v["init_ephemeral"]);
  const Bytes s_r = hex_field(v["resp_static"]), e_r = hex_field(v["resp_ephemeral"]);
  const Bytes rs_given = hex_field(v["init_remote_static"]);
  const auto& msgs = v["messages"];
  REQUIRE(msgs.size() == 6);

  uint8_t s_i_pub[32], s_r_pub[32], ss_i[32], ss_r[32];
  crypto::x25519_public(s_i_pub, s_i.data());
  crypto::x25519_public(s_r_pub, s_r.data());
  CHECK(hex_encode(s_r_pub, 32) == hex_encode(rs_given));
  REQUIRE(crypto::x25519(ss_i, s_i.data(), s_r_pub));
  REQUIRE(crypto::x25519(ss_r, s_r.data(), s_i_pub));

  NoiseState init, resp;
  noise_start(init, prologue, s_r_pub);
  noise_start(resp, prologue, s_r_pub);

  // message 1, initiator -> responder
  const Bytes p1 = hex_field(msgs[0]["payload"]);
  Bytes m1(kNoiseInitiationBodyLen(p1.size()));
  REQUIRE(noise_write_initiation(init, e_i.data(), s_i_pub, s_r_pub, ss_i, p1, m1.data()));
  CHECK(hex_encode(m1) == msgs[0]["ciphertext"].get<std::string>());

  uint8_t re[32], rs[32];
  REQUIRE(noise_read_initiation_static(resp, s_r.data(), m1.data(), re, rs));
  CHECK(hex_encode(rs, 32) == hex_encode(s_i_pub, 32));
  Bytes p1_out(p1.size());
  REQUIRE(noise_read_initiation_payload(resp, ss_r, m1.data(), p1_out));
  CHECK(p1_out == p1);

  // message 2, responder -> initiator
  const Bytes p2 = hex_field(msgs[1]["payload"]);
  Bytes m2(kNoiseResponseBodyLen(p2.size()));
  REQUIRE(noise_write_response(resp, e_r.data(), re, s_i_pub, psk.data(), p2, m2.data()));
  CHECK(hex_encode(m2) == msgs[1]["ciphertext"].get<std::string>());
  Bytes p2_out(p2.size());
  REQUIRE(noise_read_response(init, e_i.data(), s_i.data(), psk.data(), m2.data(), p2_out));
  CHECK(p2_out == p2);

  // Both sides end with the same handshake hash, the vector's.
  CHECK(hex_encode(init.h.bytes) == v["handshake_hash"].get<std::string>());
  CHECK(hex_encode(resp.h.bytes) == v["handshake_hash"].get<std::string>());

  // Transport: split, then counters 0,0,1,1 alternating directions, AD empty.
  uint8_t i_send[32], r_send[32], i_send2[32], r_send2[32];
  noise_split(init, i_send, r_send);
  noise_split(resp, i_send2, r_send2);
  CHECK(hex_encode(i_send, 32) == hex_encode(i_send2, 32));
  CHECK(hex_encode(r_send, 32) == hex_encode(r_send2, 32));
  for (int k = 2; k < 6; ++k) {
    CAPTURE(k);
    const Bytes p = hex_field(msgs[k]["payload"]);
    const uint64_t counter = (k - 2) / 2;
    const uint8_t* key = (k % 2 == 0) ? i_send : r_send;
    Bytes c(p.size() + crypto::kAeadTagLen);
    REQUIRE(crypto::aead_seal(c.data(), p.data(), p.size(), nullptr, 0, counter, key));
    CHECK(hex_encode(c) == msgs[k]["ciphertext"].get<std::string>());
    Bytes back(p.size());
    REQUIRE(crypto::aead_open(back.data(), c.data(), c.size(), nullptr, 0, counter, key));
    CHECK(back == p);
  }
}

TEST_CASE("noise: a tampered body or a wrong key fails, and a zero DH is refused") {
  uint8_t s_i[32], s_r[32], e_i[32], s_i_pub[32], s_r_pub[32], ss[32];
  for (int i = 0; i < 32; ++i) {
    s_i[i] = static_cast<uint8_t>(i + 1);
    s_r[i] = static_cast<uint8_t>(100 + i);
    e_i[i] = static_cast<uint8_t>(200 - i);
  }
  crypto::x25519_public(s_i_pub, s_i);
  crypto::x25519_public(s_r_pub, s_r);
  REQUIRE(crypto::x25519(ss, s_i, s_r_pub));
  const uint8_t payload[12] = {1, 2, 3};
  NoiseState init;
  noise_start(init, {}, s_r_pub);
  Bytes m1(kNoiseInitiationBodyLen(sizeof(payload)));
  REQUIRE(noise_write_initiation(init, e_i, s_i_pub, s_r_pub, ss, payload, m1.data()));

  for (size_t byte : {size_t{0}, size_t{40}, size_t{79}, size_t{90}, m1.size() - 1}) {
    CAPTURE(byte);
    Bytes bad = m1;
    bad[byte] ^= 0x01;
    NoiseState resp;
    noise_start(resp, {}, s_r_pub);
    uint8_t re[32], rs[32], out[12];
    const bool got_static = noise_read_initiation_static(resp, s_r, bad.data(), re, rs);
    const bool got_payload = got_static && noise_read_initiation_payload(resp, ss, bad.data(), out);
    CHECK_FALSE(got_payload);
  }

  // A low-order peer key: precomputed ss is zero, so no initiation can be made.
  const uint8_t zero[32] = {};
  NoiseState st;
  noise_start(st, {}, s_r_pub);
  CHECK_FALSE(noise_write_initiation(st, e_i, s_i_pub, s_r_pub, zero, payload, m1.data()));
}

}  // namespace wg::core
