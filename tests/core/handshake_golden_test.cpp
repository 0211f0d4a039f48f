// tests/core/handshake_golden_test.cpp — a whole handshake through two Devices with fixed
// keys, RNG and clock, compared byte for byte with wireguard_handshake_derived.json
// (initiation, response, first data message, keepalive, cookie reply and the mac2 it enables).
#include <doctest/doctest.h>

#include "core/harness.hpp"
#include "crypto/vectors.hpp"

namespace wg::core {

using crypto::Bytes;
using crypto::hex_encode;
using crypto::hex_field;
using testing::Pair;
using testing::ScriptedRng;

namespace {

void push_le32(ScriptedRng& rng, uint32_t v) {
  const uint8_t b[4] = {uint8_t(v), uint8_t(v >> 8), uint8_t(v >> 16), uint8_t(v >> 24)};
  rng.push(b);
}

struct Golden {
  nlohmann::json v = crypto::load_vectors("wireguard_handshake_derived.json");
  const nlohmann::json& in = v["inputs"];
  Bytes priv_i = hex_field(in["initiator_static_private"]);
  Bytes priv_r = hex_field(in["responder_static_private"]);
  ScriptedRng rng;
  std::optional<Pair> pair;

  Golden() {
    pair.emplace(1, priv_i.data(), priv_r.data(), &rng);
    Pair& pr = *pair;
    // Wall clock 2024-01-01T00:00:00Z + 2^24 ns gives the vector's TAI64N exactly.
    pr.clock.wall = WallTime{std::chrono::seconds(1704067200) + std::chrono::nanoseconds(0x01000000)};
    pr.dev[0].set_preshared_key(pr.peer[0], hex_field(in["preshared_key"]).data());
    pr.dev[1].set_preshared_key(pr.peer[1], hex_field(in["preshared_key"]).data());
  }
};

}  // namespace

TEST_CASE("golden handshake: Device output equals the derived vector byte for byte") {
  Golden g;
  Pair& pr = *g.pair;
  const auto& in = g.in;
  CHECK(hex_encode(pr.dev[0].identity().public_key.bytes) == in["initiator_static_public"].get<std::string>());
  CHECK(hex_encode(pr.dev[1].identity().public_key.bytes) == in["responder_static_public"].get<std::string>());

  // Initiator: a new index (4 RNG bytes, little-endian) then the ephemeral (32 bytes).
  push_le32(g.rng, in["initiator_sender_index"].get<uint32_t>());
  g.rng.push(hex_field(in["initiator_ephemeral_private"]));
  const Bytes inner = hex_field(g.v["message_transport_initiator_to_responder"]["inner_ipv4_packet"]);
  std::vector<uint8_t> buf(send_capacity(inner.size()));
  std::copy(inner.begin(), inner.end(), buf.begin() + data::kHeaderLen);
  TxResult tx = pr.dev[0].send(pr.env(), pr.peer[0], buf, inner.size(), pr.out[0]);
  REQUIRE(tx.status == TxStatus::Staged);
  REQUIRE(pr.out[0].size() == 1);
  const Bytes init_msg(pr.out[0][0].bytes.begin(), pr.out[0][0].bytes.end());
  CHECK(hex_encode(init_msg) == g.v["message_initiation"]["hex"].get<std::string>());
  pr.out[0].clear();

  // Responder: its index, then its ephemeral.
  push_le32(g.rng, in["responder_sender_index"].get<uint32_t>());
  g.rng.push(hex_field(in["responder_ephemeral_private"]));
  const Endpoint from_i = pr.addr[0];
  std::vector<uint8_t> wire = init_msg;
  RxResult r = pr.dev[1].receive(pr.env(), from_i, wire, pr.out[1]);
  REQUIRE(r.kind == RxKind::Handshake);
  REQUIRE(pr.out[1].size() == 1);
  const Bytes resp_msg(pr.out[1][0].bytes.begin(), pr.out[1][0].bytes.end());
  CHECK(hex_encode(resp_msg) == g.v["message_response"]["hex"].get<std::string>());
  pr.out[1].clear();

  // Transport keys both sides derived.
  const auto& tk = g.v["transport_keys"];
  REQUIRE(pr.p(1).keypairs.next);
  CHECK(hex_encode(pr.p(1).keypairs.next->recv_key.bytes) == tk["initiator_send_responder_recv"].get<std::string>());
  CHECK(hex_encode(pr.p(1).keypairs.next->send_key.bytes) == tk["initiator_recv_responder_send"].get<std::string>());

  // Initiator consumes the response and sends the staged packet as counter 0, padded to 96.
  wire = resp_msg;
  r = pr.dev[0].receive(pr.env(), pr.addr[1], wire, pr.out[0]);
  REQUIRE(r.kind == RxKind::Handshake);
  REQUIRE(pr.dev[0].peer(pr.peer[0])->keypairs.current);
  CHECK(hex_encode(pr.p(0).keypairs.current->send_key.bytes) == tk["initiator_send_responder_recv"].get<std::string>());
  REQUIRE(pr.out[0].size() == 1);
  const Bytes data_msg(pr.out[0][0].bytes.begin(), pr.out[0][0].bytes.end());
  CHECK(data_msg.size() == g.v["message_transport_initiator_to_responder"]["len"].get<size_t>());
  CHECK(hex_encode(data_msg) == g.v["message_transport_initiator_to_responder"]["hex"].get<std::string>());
  pr.out[0].clear();

  // Responder decrypts it (key confirmation) and answers with a keepalive, counter 0.
  wire = data_msg;
  r = pr.dev[1].receive(pr.env(), from_i, wire, pr.out[1]);
  REQUIRE(r.kind == RxKind::Data);
  CHECK(Bytes(r.plaintext.begin(), r.plaintext.end()) == inner);
  pr.dev[1].send_keepalive(pr.env(), pr.peer[1], pr.out[1]);
  REQUIRE(pr.out[1].size() == 1);
  CHECK(hex_encode(pr.out[1][0].bytes) == g.v["message_keepalive_responder_to_initiator"]["hex"].get<std::string>());
}

TEST_CASE("golden handshake: cookie reply under load and the mac2 it enables") {
  Golden g;
  Pair& pr = *g.pair;
  const auto& cv = g.v["message_cookie_reply_to_initiation"];
  push_le32(g.rng, g.in["initiator_sender_index"].get<uint32_t>());
  g.rng.push(hex_field(g.in["initiator_ephemeral_private"]));
  pr.dev[0].send_keepalive(pr.env(), pr.peer[0], pr.out[0]);  // staged; starts the handshake
  REQUIRE(pr.out[0].size() == 1);
  Bytes init_msg(pr.out[0][0].bytes.begin(), pr.out[0][0].bytes.end());
  REQUIRE(hex_encode(init_msg) == g.v["message_initiation"]["hex"].get<std::string>());
  pr.out[0].clear();

  // The responder is under load: the cookie secret and then the nonce come from the RNG.
  pr.dev[1].note_handshake_backlog(pr.clock.now, kUnderLoadQueueLen);
  REQUIRE(pr.dev[1].under_load(pr.clock.now));
  g.rng.push(hex_field(cv["cookie_secret"]));
  g.rng.push(hex_field(cv["nonce"]));
  const Endpoint src = Endpoint::v4(192, 0, 2, 1, 51820);
  REQUIRE(cv["source"] == "192.0.2.1:51820");
  RxResult r = pr.dev[1].receive(pr.env(), src, init_msg, pr.out[1]);
  CHECK(r.kind == RxKind::Dropped);
  CHECK(r.drop == Drop::CookieSent);
  CHECK(pr.dev[1].drops()[Drop::CookieSent] == 1);
  REQUIRE(pr.out[1].size() == 1);
  Bytes reply(pr.out[1][0].bytes.begin(), pr.out[1][0].bytes.end());
  CHECK(hex_encode(reply) == cv["hex"].get<std::string>());

  // The initiator takes the cookie; its next initiation bytes would carry the vector's mac2.
  Bytes reply_copy = reply;
  r = pr.dev[0].receive(pr.env(), pr.addr[1], reply, pr.out[0]);
  CHECK(r.kind == RxKind::CookieReply);
  // A second reply to the same mac1 is not accepted: one cookie per mac1 sent.
  r = pr.dev[0].receive(pr.env(), pr.addr[1], reply_copy, pr.out[0]);
  CHECK(r.drop == Drop::CookieUnexpected);
  Bytes again = hex_field(g.v["message_initiation"]["hex"]);
  pr.p(0).cookie.add_macs(pr.env(), again);
  CHECK(hex_encode(std::span(again).subspan(initiation::kMac1, kMacLen)) ==
        g.v["message_initiation"]["mac1"].get<std::string>());
  CHECK(hex_encode(std::span(again).subspan(initiation::kMac2, kMacLen)) ==
        cv["mac2_if_the_initiation_above_carried_this_cookie"].get<std::string>());

}

}  // namespace wg::core
