// tests/core/malformed_test.cpp — Device::receive on truncated, extended, bit-flipped, reserved-
// byte and replayed versions of real messages from an established Pair: each is dropped with its
// exact reason, counted once, never delivered, and the tunnel still carries data both ways.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "core/cookie.hpp"
#include "core/harness.hpp"
#include "crypto/x25519.hpp"

namespace {

using namespace wg::core;
using wg::testing::Datagram;
using wg::testing::Pair;
using Bytes = std::vector<uint8_t>;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int kA = 0;  // the initiator
constexpr int kB = 1;  // the responder

std::string name(Drop d) { return std::string(drop_name(d)); }

Bytes ip_packet(size_t len, uint8_t fill) {
  Bytes p(len);
  Pair::write_ipv4(p, fill);
  return p;
}

// The last datagram device `from` put on the wire with type t.
Bytes last_sent(const Pair& pr, int from, MessageType t) {
  for (size_t k = pr.sent_log.size(); k-- > 0;) {
    const Datagram& d = pr.sent_log[k];
    if (d.to == 1 - from && d.bytes[0] == static_cast<uint8_t>(t)) return d.bytes;
  }
  FAIL("no such datagram was sent");
  return {};
}

// Device `from` sends an inner packet (len 0 = keepalive) that never reaches the wire.
Bytes withheld(Pair& pr, int from, size_t len, uint8_t fill) {
  const size_t mark = pr.sent_log.size();
  pr.link = [](const Datagram&) { return false; };
  const TxResult r = pr.send_ip(from, len, fill);
  pr.link = [](const Datagram&) { return true; };
  REQUIRE(r.status == TxStatus::Sent);
  REQUIRE(pr.sent_log.size() > mark);
  REQUIRE(pr.sent_log[mark].bytes[0] == static_cast<uint8_t>(MessageType::Data));
  return pr.sent_log[mark].bytes;
}

// What the 4-byte header alone decides for a message of `size` bytes (PROTOCOL.md §1.2).
Drop header_verdict(std::span<const uint8_t> msg) {
  if (msg.size() < 4) return Drop::TooShort;
  switch (load_le32(msg.data())) {
    case 1: return msg.size() == initiation::kLen ? Drop::None : Drop::BadLength;
    case 2: return msg.size() == response::kLen ? Drop::None : Drop::BadLength;
    case 3: return msg.size() == cookie_reply::kLen ? Drop::None : Drop::BadLength;
    case 4: return msg.size() >= data::kMinLen ? Drop::None : Drop::TooShort;
    default: return Drop::UnknownType;
  }
}

// Delivers msg to device `at` from its peer's address; it must be dropped for `want`, counted
// once under that reason and in the total, and nothing may be sent in reply.
void expect_drop(Pair& pr, int at, Bytes msg, Drop want) {
  const DropCounters before = pr.dev[at].drops();
  Outbox out;
  const RxResult r = pr.dev[at].receive(pr.env(), pr.addr[1 - at], msg, out);
  CHECK(r.kind == RxKind::Dropped);
  CHECK(name(r.drop) == name(want));
  CHECK(r.plaintext.empty());
  CHECK(pr.dev[at].drops().total() == before.total() + 1);
  CHECK(pr.dev[at].drops()[want] == before[want] + 1);
  CHECK(out.size() == 0);
}

// Delivers msg to device `at`; it must be accepted as `kind` with no drop counted. Returns
// the plaintext (Data) and leaves what the device sent in `out`.
Bytes expect_accept(Pair& pr, int at, Bytes msg, RxKind kind, Outbox& out) {
  const uint64_t before = pr.dev[at].drops().total();
  const RxResult r = pr.dev[at].receive(pr.env(), pr.addr[1 - at], msg, out);
  CHECK(static_cast<int>(r.kind) == static_cast<int>(kind));
  CHECK(name(r.drop) == name(Drop::None));
  CHECK(r.peer == pr.peer[at]);
  CHECK(pr.dev[at].drops().total() == before);
  return Bytes(r.plaintext.begin(), r.plaintext.end());
}
Bytes expect_accept(Pair& pr, int at, Bytes msg, RxKind kind) {
  Outbox out;
  return expect_accept(pr, at, std::move(msg), kind, out);
}

// Sends a packet each way over the real wire and checks both arrive intact.
void check_tunnel_both_ways(Pair& pr) {
  const size_t mark = pr.delivered.size();
  REQUIRE(pr.send_ip(kA, 120, 0xa1).status == TxStatus::Sent);
  REQUIRE(pr.send_ip(kB, 333, 0xb2).status == TxStatus::Sent);
  pr.pump();
  bool a_to_b = false, b_to_a = false;
  for (size_t k = mark; k < pr.delivered.size(); ++k) {
    const auto& d = pr.delivered[k];
    if (d.result.kind != RxKind::Data) continue;
    a_to_b |= d.at == kB && d.plaintext == ip_packet(120, 0xa1);
    b_to_a |= d.at == kA && d.plaintext == ip_packet(333, 0xb2);
  }
  CHECK(a_to_b);
  CHECK(b_to_a);
}

// An established Pair and real messages captured from it.
struct Established {
  Pair pr;
  Bytes initiation;  // a → b, consumed by b
  Bytes response;    // b → a, consumed by a
  Bytes first_data;  // a → b, counter 0, delivered during the handshake
  Bytes data;        // a → b, counter 1, withheld: b has not seen it
  Bytes keepalive;   // a → b, counter 2, withheld
  static constexpr size_t kDataLen = 100;
  static constexpr uint8_t kDataFill = 0x5a;

  Established() {
    REQUIRE(pr.handshake());
    initiation = last_sent(pr, kA, MessageType::Initiation);
    response = last_sent(pr, kB, MessageType::Response);
    first_data = last_sent(pr, kA, MessageType::Data);
    data = withheld(pr, kA, kDataLen, kDataFill);
    keepalive = withheld(pr, kA, 0, 0);
    REQUIRE(initiation.size() == initiation::kLen);
    REQUIRE(response.size() == response::kLen);
    REQUIRE(keepalive.size() == data::kMinLen);
    REQUIRE(load_le64(data.data() + data::kCounter) == 1);
  }
};

// A real cookie reply: b, under load, answers a's first initiation.
Bytes captured_cookie_reply() {
  Pair q(42);
  q.dev[kB].note_handshake_backlog(q.clock.now, kUnderLoadQueueLen);
  q.send_ip(kA, 60);
  q.pump();
  REQUIRE(q.dev[kB].drops()[Drop::CookieSent] == 1);
  return last_sent(q, kB, MessageType::CookieReply);
}

// An initiation a could have sent at `wall`, made with a's keys but its own handshake state,
// so neither device changes.
Bytes initiation_from_a_at(Pair& pr, WallTime wall, uint32_t sender_index) {
  wg::testing::SeededRng rng(1234);
  const Env env{pr.clock.now, wall, rng};
  Handshake hs;
  Bytes msg(initiation::kLen);
  REQUIRE(create_initiation(env, pr.dev[kA].identity(), pr.p(kA).keys(), hs, sender_index, msg));
  CookieMaker macs;
  macs.set_peer_key(pr.dev[kB].identity().public_key);
  macs.add_macs(env, msg);
  return msg;
}

// Recomputes the macs of a handshake message for receiver `to` (mac2 zero: no cookie).
void remac(Pair& pr, int to, Bytes& msg) {
  CookieMaker macs;
  macs.set_peer_key(pr.dev[to].identity().public_key);
  macs.add_macs(pr.env(), msg);
}

TEST_CASE("malformed: every truncation and a one-byte extension is dropped for its length") {
  Established e;
  Pair& pr = e.pr;
  struct Case {
    const char* what;
    Bytes msg;
    int at;
  };
  const Case cases[] = {{"initiation", e.initiation, kB},
                        {"response", e.response, kA},
                        {"cookie reply", captured_cookie_reply(), kA},
                        {"data", e.data, kB},
                        {"keepalive", e.keepalive, kB}};
  for (const Case& c : cases) {
    const bool is_data = c.msg[0] == static_cast<uint8_t>(MessageType::Data);
    for (size_t len = 0; len < c.msg.size(); ++len) {
      INFO(c.what, " truncated to ", len, " bytes");
      // A data message long enough to frame fails its tag (its counter is unseen).
      Drop want = is_data ? Drop::DataDecrypt : Drop::BadLength;
      if (len < 4 || (is_data && len < data::kMinLen)) want = Drop::TooShort;
      expect_drop(pr, c.at, Bytes(c.msg.begin(), c.msg.begin() + static_cast<std::ptrdiff_t>(len)), want);
    }
    INFO(c.what, " extended by one byte");
    Bytes longer = c.msg;
    longer.push_back(0);
    expect_drop(pr, c.at, longer, is_data ? Drop::DataDecrypt : Drop::BadLength);
  }
  // None of that consumed the withheld counters.
  CHECK(expect_accept(pr, kB, e.data, RxKind::Data) == ip_packet(Established::kDataLen, Established::kDataFill));
  expect_accept(pr, kB, e.keepalive, RxKind::Keepalive);
  check_tunnel_both_ways(pr);
}

TEST_CASE("malformed: every single-bit flip of an initiation and a response is dropped") {
  Established e;
  Pair& pr = e.pr;
  const Keypair* b_current = pr.p(kB).keypairs.current.get();
  const Keypair* a_current = pr.p(kA).keypairs.current.get();

  for (size_t i = 0; i < e.initiation.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      INFO("initiation byte ", i, " bit ", bit);
      Bytes m = e.initiation;
      m[i] ^= static_cast<uint8_t>(1u << bit);
      // mac1 covers bytes 0..115; mac2 (132..147) is ignored when not under load, so a flip
      // there leaves b's own initiation: a replay. One message per ms keeps the device from
      // counting itself under load (128 handshakes per 125 ms).
      pr.clock.advance(milliseconds(1));
      const Drop want = i < 4 ? header_verdict(m) : i < initiation::kMac2 ? Drop::BadMac1 : Drop::TimestampReplay;
      REQUIRE(want != Drop::None);
      expect_drop(pr, kB, m, want);
    }
  }
  for (size_t i = 0; i < e.response.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      INFO("response byte ", i, " bit ", bit);
      Bytes m = e.response;
      m[i] ^= static_cast<uint8_t>(1u << bit);
      // Past mac1, the receiver index names a's session, and a has no handshake in flight.
      pr.clock.advance(milliseconds(1));
      const Drop want = i < 4 ? header_verdict(m) : i < response::kMac2 ? Drop::BadMac1 : Drop::HandshakeState;
      REQUIRE(want != Drop::None);
      expect_drop(pr, kA, m, want);
    }
  }
  CHECK(pr.p(kB).keypairs.current.get() == b_current);
  CHECK(pr.p(kA).keypairs.current.get() == a_current);
  CHECK(pr.p(kA).handshake.state == HandshakeState::Zeroed);
  check_tunnel_both_ways(pr);
}

TEST_CASE("malformed: every single-bit flip of a data message and a keepalive is never delivered") {
  Established e;
  Pair& pr = e.pr;
  const ReplayWindow& window = pr.p(kB).keypairs.current->replay;
  // b has accepted counter 0 only.
  auto replayed = [](uint64_t counter) { return counter == 0 || counter >= kRejectAfterMessages; };
  for (const Bytes* msg : {&e.data, &e.keepalive}) {
    for (size_t i = 0; i < msg->size(); ++i) {
      for (int bit = 0; bit < 8; ++bit) {
        INFO((msg == &e.data ? "data" : "keepalive"), " byte ", i, " bit ", bit);
        Bytes m = *msg;
        m[i] ^= static_cast<uint8_t>(1u << bit);
        Drop want = Drop::DataDecrypt;
        if (i < 4)
          want = header_verdict(m);
        else if (i < data::kCounter)
          want = Drop::UnknownIndex;  // b's only index is its session's
        else if (i < data::kPayload && replayed(load_le64(m.data() + data::kCounter)))
          want = Drop::Replayed;
        REQUIRE(want != Drop::None);
        expect_drop(pr, kB, m, want);
        REQUIRE(window.greatest() == 0);
      }
    }
  }
  CHECK(pr.dev[kB].drops()[Drop::Replayed] == 2);  // counter 1 → 0 and counter 2 → 0
  CHECK(expect_accept(pr, kB, e.data, RxKind::Data) == ip_packet(Established::kDataLen, Established::kDataFill));
  expect_accept(pr, kB, e.keepalive, RxKind::Keepalive);
  check_tunnel_both_ways(pr);
}

TEST_CASE("malformed: non-zero reserved bytes make every message type unknown") {
  Established e;
  Pair& pr = e.pr;
  const std::pair<const Bytes*, int> messages[] = {
      {&e.initiation, kB}, {&e.response, kA}, {&e.data, kB}, {&e.keepalive, kB}};
  const Bytes cookie = captured_cookie_reply();
  for (auto [msg, at] : messages) {
    for (size_t i = 1; i < 4; ++i) {
      for (uint8_t v : {uint8_t{0x01}, uint8_t{0x80}, uint8_t{0xff}}) {
        INFO("type ", int((*msg)[0]), " byte ", i, " = ", int(v));
        Bytes m = *msg;
        m[i] = v;
        expect_drop(pr, at, m, Drop::UnknownType);
      }
    }
  }
  for (size_t i = 1; i < 4; ++i) {
    Bytes m = cookie;
    m[i] = 0x10;
    expect_drop(pr, kA, m, Drop::UnknownType);
  }
  // Types 0 and 5..255 with the reserved bytes zero.
  for (uint8_t t : {uint8_t{0}, uint8_t{5}, uint8_t{0x81}, uint8_t{0xff}}) {
    Bytes m = e.data;
    m[0] = t;
    expect_drop(pr, kB, m, Drop::UnknownType);
  }
  CHECK(expect_accept(pr, kB, e.data, RxKind::Data) == ip_packet(Established::kDataLen, Established::kDataFill));
  check_tunnel_both_ways(pr);
}

TEST_CASE("malformed: data on a wrong receiver index is UnknownIndex, replayed data is Replayed") {
  Established e;
  Pair& pr = e.pr;
  const uint32_t index = load_le32(e.data.data() + data::kReceiver);
  REQUIRE(index == pr.p(kB).keypairs.current->local_index);
  for (uint32_t wrong : {index ^ 0x5a5a5a5au, index + 1, 0u, ~0u}) {
    if (wrong == index) continue;
    INFO("receiver index ", wrong);
    Bytes m = e.data;
    store_le32(m.data() + data::kReceiver, wrong);
    expect_drop(pr, kB, m, Drop::UnknownIndex);
  }
  expect_drop(pr, kB, e.first_data, Drop::Replayed);  // delivered during the handshake
  CHECK(expect_accept(pr, kB, e.data, RxKind::Data) == ip_packet(Established::kDataLen, Established::kDataFill));
  expect_drop(pr, kB, e.data, Drop::Replayed);
  expect_accept(pr, kB, e.keepalive, RxKind::Keepalive);
  expect_drop(pr, kB, e.keepalive, Drop::Replayed);
  expect_drop(pr, kB, e.data, Drop::Replayed);
  CHECK(pr.p(kB).keypairs.current->replay.greatest() == 2);
  check_tunnel_both_ways(pr);
}

TEST_CASE("malformed: replayed initiations are TimestampReplay, a fresh one within 20 ms InitiationFlood") {
  Established e;
  Pair& pr = e.pr;
  // b consumed e.initiation at this instant.
  expect_drop(pr, kB, e.initiation, Drop::TimestampReplay);

  // A newer initiation from a (its timestamp 50 ms later: a new 2^24 ns TAI64N step).
  WallTime later = pr.clock.wall;
  later.since_epoch += milliseconds(50);
  const Bytes fresh = initiation_from_a_at(pr, later, 0x01020304);

  pr.clock.advance(milliseconds(10));
  expect_drop(pr, kB, fresh, Drop::InitiationFlood);
  expect_drop(pr, kB, e.initiation, Drop::TimestampReplay);  // the timestamp is checked first

  pr.clock.advance(milliseconds(20));  // 30 ms after the last accepted initiation
  expect_drop(pr, kB, e.initiation, Drop::TimestampReplay);
  // The flood drop committed nothing: the same fresh initiation is accepted now.
  Outbox out;
  expect_accept(pr, kB, fresh, RxKind::Handshake, out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].bytes.size() == response::kLen);
  CHECK(load_le32(out[0].bytes.data() + response::kReceiver) == 0x01020304u);
  pr.clock.advance(milliseconds(30));
  expect_drop(pr, kB, fresh, Drop::TimestampReplay);
  expect_drop(pr, kB, e.initiation, Drop::TimestampReplay);

  // An initiation from a key b does not know.
  StaticIdentity stranger;
  uint8_t key[32];
  pr.own_rng.fill(key);
  stranger.set(key);
  PresharedKey psk;
  wg::crypto::Secret<32> ss;
  REQUIRE(wg::crypto::x25519(ss.data(), stranger.private_key.data(), pr.dev[kB].identity().public_key.data()));
  const PeerKeys to_b{pr.dev[kB].identity().public_key, psk, ss};
  Handshake hs;
  Bytes unknown(initiation::kLen);
  REQUIRE(create_initiation(pr.env(), stranger, to_b, hs, 7, unknown));
  remac(pr, kB, unknown);
  pr.clock.advance(milliseconds(30));
  expect_drop(pr, kB, unknown, Drop::UnknownPeer);

  check_tunnel_both_ways(pr);
}

TEST_CASE("malformed: a response on a session's index is HandshakeState, on no index UnknownIndex") {
  Established e;
  Pair& pr = e.pr;
  REQUIRE(load_le32(e.response.data() + response::kReceiver) == pr.p(kA).keypairs.current->local_index);
  expect_drop(pr, kA, e.response, Drop::HandshakeState);
  Bytes m = e.response;
  store_le32(m.data() + response::kReceiver, pr.p(kA).keypairs.current->local_index ^ 0x00ff00ffu);
  remac(pr, kA, m);
  expect_drop(pr, kA, m, Drop::UnknownIndex);
  check_tunnel_both_ways(pr);
}

TEST_CASE("malformed: cookie replies — a flipped bit is CookieDecrypt, a second one CookieUnexpected") {
  Established e;
  Pair& pr = e.pr;
  // 121 s on, a's next packet starts a rekey; b is under load and answers with a cookie
  // reply, which is held back from a.
  pr.clock.advance(seconds(121));
  pr.dev[kB].note_handshake_backlog(pr.clock.now, kUnderLoadQueueLen);
  pr.link = [](const Datagram& d) { return d.bytes[0] != static_cast<uint8_t>(MessageType::CookieReply); };
  REQUIRE(pr.send_ip(kA, 60).status == TxStatus::Sent);
  pr.pump();
  pr.link = [](const Datagram&) { return true; };
  REQUIRE(pr.dev[kB].drops()[Drop::CookieSent] == 1);
  const Bytes cookie = last_sent(pr, kB, MessageType::CookieReply);
  REQUIRE(cookie.size() == cookie_reply::kLen);
  Handshake& hs = pr.p(kA).handshake;
  REQUIRE(hs.state == HandshakeState::CreatedInitiation);
  REQUIRE(load_le32(cookie.data() + cookie_reply::kReceiver) == hs.local_index);

  for (size_t i = 0; i < cookie.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      INFO("cookie reply byte ", i, " bit ", bit);
      Bytes m = cookie;
      m[i] ^= static_cast<uint8_t>(1u << bit);
      Drop want = Drop::CookieDecrypt;
      if (i < 4) want = header_verdict(m);
      else if (i < cookie_reply::kNonce) want = Drop::UnknownIndex;
      REQUIRE(want != Drop::None);
      expect_drop(pr, kA, m, want);
    }
  }
  CHECK_FALSE(pr.p(kA).cookie.has_cookie(pr.clock.now));
  expect_accept(pr, kA, cookie, RxKind::CookieReply);
  CHECK(pr.p(kA).cookie.has_cookie(pr.clock.now));
  expect_drop(pr, kA, cookie, Drop::CookieUnexpected);

  // a's handshake index is in the table but names no session: data on it is UnknownIndex.
  const Bytes b_data = withheld(pr, kB, 64, 0x77);
  Bytes on_handshake = b_data;
  store_le32(on_handshake.data() + data::kReceiver, hs.local_index);
  expect_drop(pr, kA, on_handshake, Drop::UnknownIndex);
  CHECK(expect_accept(pr, kA, b_data, RxKind::Data) == ip_packet(64, 0x77));

  // A response for that handshake that does not authenticate leaves the handshake waiting.
  Bytes forged = e.response;
  store_le32(forged.data() + response::kReceiver, hs.local_index);
  remac(pr, kA, forged);
  pr.clock.advance(milliseconds(1));
  expect_drop(pr, kA, forged, Drop::HandshakeDecrypt);
  CHECK(hs.state == HandshakeState::CreatedInitiation);

  // The retransmission carries mac2 from the cookie, so b, under load again, takes it.
  pr.clock.advance(milliseconds(5500));
  pr.dev[kB].note_handshake_backlog(pr.clock.now, kUnderLoadQueueLen);
  const size_t mark = pr.delivered.size();
  const size_t sent_mark = pr.sent_log.size();
  pr.tick();
  pr.pump();
  REQUIRE(pr.count_sent(kA, MessageType::Initiation, sent_mark) == 1);
  const Bytes retry = last_sent(pr, kA, MessageType::Initiation);
  CHECK(std::any_of(retry.begin() + initiation::kMac2, retry.end(), [](uint8_t b) { return b != 0; }));
  CHECK(pr.dev[kB].drops()[Drop::CookieSent] == 1);
  bool b_took_it = false, a_completed = false;
  for (size_t k = mark; k < pr.delivered.size(); ++k) {
    b_took_it |= pr.delivered[k].at == kB && pr.delivered[k].result.kind == RxKind::Handshake;
    a_completed |= pr.delivered[k].at == kA && pr.delivered[k].result.kind == RxKind::Handshake;
  }
  CHECK(b_took_it);
  CHECK(a_completed);
  check_tunnel_both_ways(pr);
}

}  // namespace
