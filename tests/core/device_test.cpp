// tests/core/device_test.cpp — two Devices in one process: handshake, data both ways, key
// confirmation, rekey and key rotation, roaming, key changes, the cookie path, staging.
#include <doctest/doctest.h>

#include <algorithm>

#include "core/harness.hpp"

namespace wg::core {

using testing::Datagram;
using testing::Pair;

namespace {

size_t data_delivered(const Pair& pr, int at, size_t since = 0) {
  size_t n = 0;
  for (size_t k = since; k < pr.delivered.size(); ++k)
    if (pr.delivered[k].at == at && pr.delivered[k].result.kind == RxKind::Data) ++n;
  return n;
}


}  // namespace

TEST_CASE("device: handshake and data both ways, with exact byte counters") {
  Pair pr;
  REQUIRE(pr.handshake());
  // a's staged 60-byte packet went out after the response and arrived.
  REQUIRE(data_delivered(pr, 1) == 1);
  const auto& got = pr.delivered.back();
  CHECK(got.plaintext.size() == 60);
  CHECK(got.plaintext[0] == 0x45);
  CHECK(got.result.peer == pr.peer[1]);

  CHECK(pr.send_ip(1, 100).status == TxStatus::Sent);
  pr.pump();
  CHECK(data_delivered(pr, 0) == 1);
  CHECK(pr.delivered.back().plaintext.size() == 100);

  // tx/rx count whole UDP payloads, handshakes included: 148 + (16+64+16) and 92 + (16+112+16).
  CHECK(pr.p(0).tx_bytes == 148 + 96);
  CHECK(pr.p(1).rx_bytes == 148 + 96);
  CHECK(pr.p(1).tx_bytes == 92 + 144);
  CHECK(pr.p(0).rx_bytes == 92 + 144);
  CHECK(pr.p(0).last_handshake.since_epoch.count() != 0);
  CHECK(pr.dev[0].drops().total() == 0);
  CHECK(pr.dev[1].drops().total() == 0);
}

TEST_CASE("device: the responder does not send on a new session before key confirmation") {
  Pair pr;
  pr.link = [](const Datagram& d) { return d.bytes[0] != 4; };  // let only handshakes through
  pr.send_ip(0, 40);
  pr.pump();
  REQUIRE(pr.p(1).keypairs.next);
  CHECK_FALSE(pr.p(1).keypairs.current);
  // b has something to say: it must wait (staged) until a proves it has the session.
  CHECK(pr.send_ip(1, 50).status == TxStatus::Staged);
  pr.link = [](const Datagram&) { return true; };
  CHECK(pr.send_ip(0, 40).status == TxStatus::Sent);
  pr.pump();
  CHECK(pr.p(1).keypairs.current);
  CHECK_FALSE(pr.p(1).keypairs.next);
  CHECK(data_delivered(pr, 0) == 1);  // b's staged packet, flushed on confirmation
}

TEST_CASE("device: rekey under traffic rotates keypairs and in-flight packets still decrypt") {
  Pair pr;
  REQUIRE(pr.handshake());
  const uint32_t first_index = pr.p(1).keypairs.current->local_index;
  std::vector<uint8_t> late;  // encrypted under the first session, delivered after the rekey
  for (int s = 0; s < 125; ++s) {
    pr.clock.advance(std::chrono::seconds(1));
    pr.tick();
    if (s == 118) {
      pr.link = [&late](const Datagram& d) {
        if (d.bytes[0] == 4 && late.empty()) {
          late = d.bytes;
          return false;
        }
        return true;
      };
    }
    pr.send_ip(0, 80);
    pr.pump();
    pr.link = [](const Datagram&) { return true; };
    pr.send_ip(1, 80);
    pr.pump();
  }
  // Only the initiator rekeys on age: two initiations from a, none from b.
  CHECK(pr.count_sent(0, MessageType::Initiation) == 2);
  CHECK(pr.count_sent(1, MessageType::Initiation) == 0);
  REQUIRE(pr.p(1).keypairs.previous);
  CHECK(pr.p(1).keypairs.previous->local_index == first_index);
  CHECK(pr.p(1).keypairs.current->local_index != first_index);

  REQUIRE(!late.empty());
  RxResult r = pr.dev[1].receive(pr.env(), pr.addr[0], late, pr.out[1]);
  CHECK(r.kind == RxKind::Data);  // the previous slot still receives
  pr.out[1].clear();
}

TEST_CASE("device: simultaneous initiations from both sides still end in one working session") {
  Pair pr;
  pr.dev[1].set_endpoint(pr.peer[1], pr.addr[0]);
  pr.send_ip(0, 40);
  pr.send_ip(1, 40);
  pr.pump();
  pr.run_for(std::chrono::seconds(12));
  CHECK(pr.send_ip(0, 40).status == TxStatus::Sent);
  CHECK(pr.send_ip(1, 40).status == TxStatus::Sent);
  const size_t before = pr.delivered.size();
  pr.pump();
  CHECK(data_delivered(pr, 0, before) == 1);
  CHECK(data_delivered(pr, 1, before) == 1);
}

TEST_CASE("device: the endpoint follows authenticated packets only") {
  Pair pr;
  REQUIRE(pr.handshake());
  CHECK(pr.p(1).endpoint.same_remote(pr.addr[0]));

  // a roams: its next packet comes from a new address and port.
  pr.addr[0] = Endpoint::v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7}, 40000);
  pr.send_ip(0, 40);
  pr.pump();
  CHECK(pr.p(1).endpoint.same_remote(pr.addr[0]));
  CHECK(to_string(pr.p(1).endpoint) == "[2001:db8::7]:40000");

  // A replayed packet from elsewhere is refused and moves nothing.
  std::vector<uint8_t> copy;
  for (auto it = pr.sent_log.rbegin(); it != pr.sent_log.rend(); ++it)
    if (it->to == 1 && it->bytes[0] == 4) {
      copy = it->bytes;
      break;
    }
  REQUIRE(!copy.empty());
  const Endpoint attacker = Endpoint::v4(203, 0, 113, 66, 9999);
  RxResult r = pr.dev[1].receive(pr.env(), attacker, copy, pr.out[1]);
  CHECK(r.drop == Drop::Replayed);
  // A forged packet on a valid index fails authentication and moves nothing either.
  copy[20] ^= 1;
  store_le64(copy.data() + data::kCounter, 1000);
  r = pr.dev[1].receive(pr.env(), attacker, copy, pr.out[1]);
  CHECK(r.drop == Drop::DataDecrypt);
  CHECK(pr.p(1).endpoint.same_remote(pr.addr[0]));
}

TEST_CASE("device: private key changes expire sessions and drop a peer with our new key") {
  Pair pr;
  REQUIRE(pr.handshake());
  // Same key again: nothing changes.
  PrivateKey same = pr.dev[0].identity().private_key;
  pr.dev[0].set_private_key(pr.env(), same.data(), pr.out[0]);
  CHECK(pr.p(0).keypairs.current->send_valid);

  // A third party whose private key a is about to take.
  uint8_t other[32];
  pr.own_rng.fill(other);
  Device third;
  third.set_private_key(pr.env(), other, pr.out[1]);
  auto id = pr.dev[0].add_peer(third.identity().public_key);
  REQUIRE(id.has_value());
  CHECK(pr.dev[0].peer_count() == 2);
  pr.dev[0].set_private_key(pr.env(), other, pr.out[0]);
  CHECK(pr.dev[0].peer_count() == 1);  // the peer with our own public key is gone
  CHECK_FALSE(pr.dev[0].find_peer(third.identity().public_key));
  CHECK_FALSE(pr.p(0).keypairs.current->send_valid);
  // And adding our own key as a peer is refused.
  CHECK(pr.dev[0].add_peer(pr.dev[0].identity().public_key).error() == PeerError::OwnKey);
  // Sending now needs a new handshake, and it starts at once: the key change resets the 5 s
  // initiation rate limit (as the kernel does), so the first packet does not wait for it.
  pr.out[0].clear();
  CHECK(pr.send_ip(0, 40).status == TxStatus::Staged);
  CHECK(pr.count_sent(0, MessageType::Initiation) == 2);
}

TEST_CASE("device: under load, a cookie round trip lets the handshake through on the retry") {
  Pair pr;
  // b stays under load for the whole test.
  auto keep_loaded = [&pr]() { pr.dev[1].note_handshake_backlog(pr.clock.now, kUnderLoadQueueLen); };
  keep_loaded();
  pr.send_ip(0, 40);
  pr.pump();
  CHECK(pr.dev[1].drops()[Drop::CookieSent] == 1);
  CHECK(pr.count_sent(1, MessageType::CookieReply) == 1);
  CHECK(pr.p(0).cookie.has_cookie(pr.clock.now));
  // Nothing is resent at once.
  CHECK(pr.count_sent(0, MessageType::Initiation) == 1);
  for (int i = 0; i < 60 && !pr.p(1).keypairs.current; ++i) {
    pr.clock.advance(std::chrono::milliseconds(100));
    keep_loaded();
    pr.tick();
    pr.pump();
  }
  CHECK(pr.count_sent(0, MessageType::Initiation) == 2);
  CHECK(pr.p(1).keypairs.current);
  CHECK(data_delivered(pr, 1) == 1);
}

TEST_CASE("device: under load, valid-mac2 handshakes from one source are rate limited") {
  Pair pr;
  REQUIRE(pr.handshake());
  // Take a cookie first, then replay initiations with a good mac2 faster than 20/s.
  pr.dev[1].note_handshake_backlog(pr.clock.now, kUnderLoadQueueLen);
  Outbox scratch;
  int limited = 0, passed = 0;
  for (int i = 0; i < 40; ++i) {
    pr.clock.advance(std::chrono::milliseconds(5));  // 200 offered per second
    pr.dev[1].note_handshake_backlog(pr.clock.now, kUnderLoadQueueLen);
    std::vector<uint8_t> msg(initiation::kLen);
    Handshake hs;
    REQUIRE(create_initiation(pr.env(), pr.dev[0].identity(), pr.p(0).keys(), hs, 1000 + i, msg));
    pr.p(0).cookie.add_macs(pr.env(), msg);
    RxResult r = pr.dev[1].receive(pr.env(), pr.addr[0], msg, scratch);
    if (r.drop == Drop::CookieSent) {
      REQUIRE(i == 0);
      REQUIRE(scratch.size() >= 1);
      auto item = scratch[scratch.size() - 1];
      std::vector<uint8_t> reply(item.bytes.begin(), item.bytes.end());
      // This initiation is not in a's index table, so hand the reply to its cookie maker.
      REQUIRE(pr.p(0).cookie.consume_reply(pr.env(), reply) == Drop::None);
    } else if (r.drop == Drop::RateLimited) {
      ++limited;
    } else {
      ++passed;  // past the limiter: consumed, or refused later as a 20 ms per-peer flood
    }
  }
  // Burst of 5 (the first uses one), then 20/s over the ~0.2 s that follow: 5 + 4.
  CHECK(passed >= 8);
  CHECK(passed <= 10);
  CHECK(limited == 39 - passed);
  CHECK(pr.dev[1].drops()[Drop::RateLimited] == static_cast<uint64_t>(limited));
}

TEST_CASE("device: staging keeps the newest 128 packets and sends them after the handshake") {
  Pair pr;
  pr.link = [](const Datagram&) { return false; };
  for (int i = 0; i < 130; ++i) CHECK(pr.send_ip(0, 40 + (i % 50)).status == TxStatus::Staged);
  CHECK(pr.dev[0].drops()[Drop::StagedOverflow] == 2);
  CHECK(pr.p(0).staged.size() == kMaxStagedPackets);
  pr.link = [](const Datagram&) { return true; };
  pr.run_for(std::chrono::seconds(6));
  CHECK(data_delivered(pr, 1) == kMaxStagedPackets);
}

TEST_CASE("device: a low-order peer key is accepted but never gets a handshake") {
  Pair pr;
  PublicKey low_order{};  // all zeros: X25519 with it is zero
  auto id = pr.dev[0].add_peer(low_order);
  REQUIRE(id.has_value());
  pr.dev[0].set_endpoint(*id, Endpoint::v4(203, 0, 113, 9, 1));
  std::vector<uint8_t> buf(send_capacity(40));
  testing::Pair::write_ipv4(std::span(buf).subspan(data::kHeaderLen, 40), 1);
  TxResult r = pr.dev[0].send(pr.env(), *id, buf, 40, pr.out[0]);
  CHECK(r.status == TxStatus::Staged);
  CHECK(pr.out[0].empty());
}

TEST_CASE("device: peers are removed cleanly, their indices with them") {
  Pair pr;
  REQUIRE(pr.handshake());
  std::vector<uint8_t> last;
  for (auto it = pr.sent_log.rbegin(); it != pr.sent_log.rend(); ++it)
    if (it->to == 1 && it->bytes[0] == 4) {
      last = it->bytes;
      break;
    }
  pr.dev[1].remove_peer(pr.peer[1]);
  CHECK(pr.dev[1].peer_count() == 0);
  store_le64(last.data() + data::kCounter, 77);
  RxResult r = pr.dev[1].receive(pr.env(), pr.addr[0], last, pr.out[1]);
  CHECK(r.drop == Drop::UnknownIndex);
  // The same key comes back as a new peer and handshakes again from scratch.
  pr.peer[1] = *pr.dev[1].add_peer(pr.dev[0].identity().public_key);
  pr.clock.advance(std::chrono::seconds(6));
  pr.p(0).keypairs.clear([](uint32_t) {});
  CHECK(pr.send_ip(0, 40).status == TxStatus::Staged);
  pr.pump();
  CHECK(pr.p(1).keypairs.current);
}

TEST_CASE("device: inner packets are validated and trimmed to their IP length") {
  Pair pr;
  REQUIRE(pr.handshake());
  auto send_raw = [&pr](std::vector<uint8_t> inner) {
    std::vector<uint8_t> buf(send_capacity(inner.size()));
    std::copy(inner.begin(), inner.end(), buf.begin() + data::kHeaderLen);
    TxResult t = pr.dev[0].send(pr.env(), pr.peer[0], buf, inner.size(), pr.out[0]);
    REQUIRE(t.status == TxStatus::Sent);
    std::vector<uint8_t> dg(t.datagram.begin(), t.datagram.end());
    return pr.dev[1].receive(pr.env(), pr.addr[0], dg, pr.out[1]);
  };
  std::vector<uint8_t> v4(30, 0);
  v4[0] = 0x45;
  v4[3] = 28;  // IP says 28; padding and the extra 2 bytes are trimmed
  RxResult r = send_raw(v4);
  CHECK(r.kind == RxKind::Data);
  CHECK(r.plaintext.size() == 28);
  v4[3] = 33;  // IP says more than the (padded, 32-byte) plaintext holds
  CHECK(send_raw(v4).drop == Drop::InnerLength);
  v4[3] = 32;  // exactly the padded length is fine
  CHECK(send_raw(v4).kind == RxKind::Data);
  std::vector<uint8_t> v6(48, 0);
  v6[0] = 0x60;
  v6[5] = 8;
  r = send_raw(v6);
  CHECK(r.kind == RxKind::Data);
  CHECK(r.plaintext.size() == 48);
  CHECK(send_raw({0x10, 1, 2, 3}).drop == Drop::BadInnerPacket);
  v4[3] = 12;  // an IPv4 length shorter than its own header
  CHECK(send_raw(v4).drop == Drop::BadInnerPacket);
  CHECK(pr.dev[1].drops()[Drop::InnerLength] == 1);
  CHECK(pr.dev[1].drops()[Drop::BadInnerPacket] == 2);
}

TEST_CASE("padding: to 16, never past the MTU, MTU 0 means unknown") {
  CHECK(padded_length(0, 1420) == 0);
  CHECK(padded_length(1, 1420) == 16);
  CHECK(padded_length(84, 1420) == 96);
  CHECK(padded_length(1415, 1420) == 1420);
  CHECK(padded_length(1420, 1420) == 1420);
  CHECK(padded_length(1421, 1420) == 1436);
  CHECK(padded_length(2840, 1420) == 2840);
  CHECK(padded_length(17, 0) == 32);
  CHECK(padded_length(100, 1280) == 112);
  CHECK(send_capacity(1420) >= data::kHeaderLen + padded_length(1420, 0) + kTagLen);
}

TEST_CASE("device: under load, cookie replies to forged sources are bounded per second; a peer's own address is always answered") {
  Pair pr;
  Device& b = pr.dev[1];
  b.set_endpoint(pr.peer[1], pr.addr[0]);  // b knows where a is
  std::vector<uint8_t> msg(initiation::kLen);
  Handshake hs;
  REQUIRE(create_initiation(pr.env(), pr.dev[0].identity(), pr.p(0).keys(), hs, 77, msg));
  pr.p(0).cookie.add_macs(pr.env(), msg);  // a valid mac1 for b, mac2 zero: what a flood sends
  Outbox out;
  auto forged = [](uint32_t i) {
    return Endpoint::v6({0x20, 0x01, 0x0d, 0xb8, 0xf1, 0x00, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i), 0, 0, 0,
                         0, 0, 0, 0, 1},
                        static_cast<uint16_t>(1024 + i));
  };
  auto offer = [&](const Endpoint& from) { return b.receive(pr.env(), from, msg, out).drop; };

  b.note_handshake_backlog(pr.clock.now, kUnderLoadQueueLen);
  REQUIRE(b.under_load(pr.clock.now));
  // 5 000 forged sources at one instant: the burst is answered, the rest is not.
  size_t sent = 0, refused = 0;
  for (uint32_t i = 0; i < 5000; ++i) {
    const Drop d = offer(forged(i));
    sent += d == Drop::CookieSent;
    refused += d == Drop::CookieBudget;
  }
  CHECK(sent == kCookieReplyBurst);
  CHECK(refused == 5000 - kCookieReplyBurst);
  CHECK(out.size() == kCookieReplyBurst);
  CHECK(b.drops()[Drop::CookieBudget] == refused);

  // The budget is spent, but a's own address still gets its cookie: the peer starting over.
  const size_t before = out.size();
  CHECK(offer(pr.addr[0]) == Drop::CookieSent);
  REQUIRE(out.size() == before + 1);
  std::vector<uint8_t> reply(out[before].bytes.begin(), out[before].bytes.end());
  CHECK(pr.p(0).cookie.consume_reply(pr.env(), reply) == Drop::None);
  // ... limited per source like handshakes (burst 5, 20/s), not by the device budget.
  size_t own = 1;
  for (int i = 0; i < 20; ++i) own += offer(pr.addr[0]) == Drop::CookieSent;
  CHECK(own == RateLimiter::kBurst);

  // 100 ms later the forged sources get 10 000/s worth again: 1 000, no more.
  pr.clock.advance(std::chrono::milliseconds(100));
  b.note_handshake_backlog(pr.clock.now, kUnderLoadQueueLen);
  sent = 0;
  for (uint32_t i = 0; i < 3000; ++i) sent += offer(forged(10000 + i)) == Drop::CookieSent;
  CHECK(sent == kCookieRepliesPerSecond / 10);
  // Not under load, nobody gets a cookie reply: the initiation is processed (a replay here).
  pr.clock.advance(kUnderLoadHold + std::chrono::seconds(1));
  CHECK(offer(forged(1)) != Drop::CookieSent);
  CHECK(offer(forged(2)) != Drop::CookieBudget);
}

TEST_CASE("device: a peer's endpoint address follows set_endpoint, roaming and removal") {
  Pair pr;
  Device& b = pr.dev[1];
  std::vector<uint8_t> msg(initiation::kLen);
  Handshake hs;
  REQUIRE(create_initiation(pr.env(), pr.dev[0].identity(), pr.p(0).keys(), hs, 78, msg));
  pr.p(0).cookie.add_macs(pr.env(), msg);
  Outbox out;
  // Spend the device budget with forged sources, so only a peer's address is answered.
  auto spend = [&] {
    b.note_handshake_backlog(pr.clock.now, kUnderLoadQueueLen);
    for (uint32_t i = 0; i < kCookieReplyBurst + 10; ++i)
      (void)b.receive(pr.env(), Endpoint::v4(203, 0, 113, static_cast<uint8_t>(i), static_cast<uint16_t>(i + 1)), msg, out);
  };
  auto answered = [&](const Endpoint& from) { return b.receive(pr.env(), from, msg, out).drop == Drop::CookieSent; };
  const Endpoint home = Endpoint::v4(192, 0, 2, 50, 4000);
  const Endpoint away = Endpoint::v4(192, 0, 2, 60, 4000);
  spend();
  CHECK_FALSE(answered(home));
  b.set_endpoint(pr.peer[1], home);
  CHECK(answered(Endpoint::v4(192, 0, 2, 50, 9999)));  // any port at the peer's address
  b.set_endpoint(pr.peer[1], away);
  pr.clock.advance(std::chrono::seconds(2));
  spend();
  CHECK_FALSE(answered(home));
  CHECK(answered(away));
  b.remove_peer(pr.peer[1]);
  pr.clock.advance(std::chrono::seconds(2));
  spend();
  CHECK_FALSE(answered(away));
}

}  // namespace wg::core

namespace wg::core {

TEST_CASE("device: handshake counters follow the messages sent, accepted, rejected and timed out") {
  Pair pr;
  REQUIRE(pr.handshake());
  const Device::HandshakeCounters& a = pr.dev[0].handshake_counters();
  const Device::HandshakeCounters& b = pr.dev[1].handshake_counters();
  CHECK(a.initiations_sent == 1);
  CHECK(a.responses_received == 1);
  CHECK(a.responses_sent == 0);
  CHECK(b.initiations_received == 1);
  CHECK(b.responses_sent == 1);
  CHECK(b.initiations_sent == 0);
  CHECK(a.rejected + b.rejected + a.timeouts + b.timeouts == 0);

  // The same initiation again: its timestamp is not newer, rejected after a valid mac1.
  Datagram init;
  for (const Datagram& d : pr.sent_log)
    if (d.to == 1 && d.bytes.size() == initiation::kLen) init = d;
  REQUIRE(init.bytes.size() == initiation::kLen);
  Outbox scratch;
  CHECK(pr.dev[1].receive(pr.env(), init.from, init.bytes, scratch).kind == RxKind::Dropped);  // a replay
  CHECK(b.rejected == 1);
  CHECK(b.initiations_received == 1);
  // Noise that fails mac1 says nothing about handshakes (only its Drop reason).
  init.bytes[20] ^= 1;
  CHECK(pr.dev[1].receive(pr.env(), init.from, init.bytes, scratch).drop == Drop::BadMac1);
  CHECK(b.rejected == 1);

  // b goes silent: a's next initiation times out, is retried, and in the end given up.
  pr.link = [](const Datagram& d) { return d.to == 1 ? false : true; };
  pr.clock.advance(std::chrono::seconds(200));  // the session is past Reject-After-Time
  const uint64_t sent_before = a.initiations_sent;
  pr.send_ip(0, 40);
  for (int i = 0; i < 200 && a.given_up == 0; ++i) {
    pr.clock.advance(std::chrono::seconds(1));
    pr.tick();
    pr.pump();
  }
  CHECK(a.given_up == 1);
  CHECK(a.timeouts == a.initiations_sent - sent_before);  // each initiation sent timed out
  CHECK(a.timeouts >= 2);
}

TEST_CASE("device: cookie replies are counted where they are sent and where they are accepted") {
  Pair pr;
  auto keep_loaded = [&pr]() { pr.dev[1].note_handshake_backlog(pr.clock.now, kUnderLoadQueueLen); };
  keep_loaded();
  CHECK(pr.dev[1].under_load(pr.clock.now));
  pr.send_ip(0, 40);
  pr.pump();
  CHECK(pr.dev[1].handshake_counters().cookie_replies_sent == 1);
  CHECK(pr.dev[0].handshake_counters().cookie_replies_received == 1);
  // Under load without mac2 is neither accepted nor rejected.
  CHECK(pr.dev[1].handshake_counters().initiations_received == 0);
  CHECK(pr.dev[1].handshake_counters().rejected == 0);
}

}  // namespace wg::core
