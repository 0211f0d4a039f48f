// tests/core/timers_test.cpp — the protocol timers driven by a fake clock (no sleeps):
// rekey at 120 s, reject at 180 s, passive keepalive at 10 s, retries every 5 s + jitter and
// giving up, new handshake 15 s after unanswered data, zeroing at 540 s, message-count
// limits, persistent keepalive, the initiator's last-minute handshake at 165 s.
#include <doctest/doctest.h>

#include <vector>

#include "core/harness.hpp"

namespace wg::core {

using namespace std::chrono_literals;
using testing::Datagram;
using testing::Pair;

namespace {

// Times (relative to `origin`) at which device `from` put a message of type t on the wire.
struct WireClock {
  explicit WireClock(Pair& p) : pr(p) {}
  Pair& pr;
  std::vector<Duration> times;
  size_t seen = 0;
  void poll(int from, MessageType t, Instant origin) {
    for (; seen < pr.sent_log.size(); ++seen)
      if (pr.sent_log[seen].to == 1 - from && pr.sent_log[seen].bytes[0] == static_cast<uint8_t>(t))
        times.push_back(pr.clock.now - origin);
  }
};

bool has_event(const std::vector<Event>& log, EventKind k) {
  for (const Event& e : log)
    if (e.kind == k) return true;
  return false;
}

}  // namespace

TEST_CASE("timers: the initiator rekeys after 120 s of sending, not before, the responder never on age") {
  Pair pr;
  REQUIRE(pr.handshake());
  const Instant born = pr.clock.now;
  WireClock w{pr};
  w.seen = pr.sent_log.size();
  for (int s = 0; s < 130; ++s) {
    pr.clock.advance(1s);
    pr.tick();
    pr.send_ip(0, 60);
    pr.send_ip(1, 60);
    pr.pump();
    w.poll(0, MessageType::Initiation, born);
  }
  REQUIRE(w.times.size() == 1);
  CHECK(w.times[0] >= kRekeyAfterTime);
  CHECK(w.times[0] < kRekeyAfterTime + 1s);
  CHECK(pr.count_sent(1, MessageType::Initiation) == 0);
}

TEST_CASE("timers: keys are rejected after 180 s, for sending and receiving") {
  Pair pr;
  REQUIRE(pr.handshake());
  pr.link = [](const Datagram&) { return false; };  // no rekey can complete
  pr.clock.advance(179s);
  // Still within Reject-After-Time: a sends (and tries to rekey, which fails silently).
  std::vector<uint8_t> buf(send_capacity(60));
  Pair::write_ipv4(std::span(buf).subspan(data::kHeaderLen, 60), 1);
  TxResult t = pr.dev[0].send(pr.env(), pr.peer[0], buf, 60, pr.out[0]);
  REQUIRE(t.status == TxStatus::Sent);
  std::vector<uint8_t> old(t.datagram.begin(), t.datagram.end());
  pr.collect(0);
  pr.clock.advance(2s);
  // Past it: sending stages, and a packet sealed at 179 s is refused on arrival at 181 s.
  CHECK(pr.send_ip(0, 60).status == TxStatus::Staged);
  RxResult r = pr.dev[1].receive(pr.env(), pr.addr[0], old, pr.out[1]);
  CHECK(r.drop == Drop::KeyExpired);
  CHECK(pr.dev[1].drops()[Drop::KeyExpired] == 1);
}

TEST_CASE("timers: a keepalive follows 10 s of receive-only traffic, once") {
  Pair pr;
  REQUIRE(pr.handshake());
  pr.run_for(12s);  // let the handshake's own keepalive business settle
  const size_t mark = pr.sent_log.size();
  const size_t a_keepalives = pr.count_keepalives(0, mark);
  pr.send_ip(1, 60);  // b -> a data; a has nothing to say
  pr.pump();
  const Instant sent = pr.clock.now;
  WireClock w{pr};
  w.seen = mark;
  std::vector<Duration> ka;
  for (int i = 0; i < 250; ++i) {
    pr.clock.advance(100ms);
    pr.tick();
    pr.pump();
    for (; w.seen < pr.sent_log.size(); ++w.seen)
      if (pr.sent_log[w.seen].to == 1 && pr.sent_log[w.seen].bytes.size() == data::kMinLen)
        ka.push_back(pr.clock.now - sent);
  }
  REQUIRE(a_keepalives == 0);
  REQUIRE(ka.size() == 1);
  CHECK(ka[0] >= kKeepaliveTimeout);
  CHECK(ka[0] < kKeepaliveTimeout + 200ms);

  // If a answers with data inside the 10 s, no keepalive is needed.
  const size_t mark2 = pr.sent_log.size();
  pr.send_ip(1, 60);
  pr.pump();
  pr.run_for(5s);
  pr.send_ip(0, 60);
  pr.pump();
  pr.run_for(8s);
  CHECK(pr.count_keepalives(0, mark2) == 0);
}

TEST_CASE("timers: unanswered initiations retry every 5 s + jitter, 20 in all, then give up") {
  Pair pr;
  pr.link = [](const Datagram&) { return false; };
  std::vector<Event> events;
  const Instant start = pr.clock.now;
  WireClock w{pr};
  pr.send_ip(0, 60);
  w.poll(0, MessageType::Initiation, start);
  for (int i = 0; i < 1800; ++i) {  // 180 s in 100 ms steps
    pr.clock.advance(100ms);
    pr.dev[0].tick(pr.env(), pr.out[0]);
    for (const Event& e : pr.out[0].events()) events.push_back(e);
    pr.collect(0);
    w.poll(0, MessageType::Initiation, start);
  }
  // The kernel's MAX_TIMER_HANDSHAKES = 18 retries counted after the first, then one more
  // expiry that gives up: 1 + 19 initiations (its log says "after 20 attempts").
  REQUIRE(w.times.size() == 20);
  for (size_t k = 1; k < w.times.size(); ++k) {
    CAPTURE(k);
    const Duration gap = w.times[k] - w.times[k - 1];
    CHECK(gap >= kRekeyTimeout);
    CHECK(gap < kRekeyTimeout + kRekeyJitterMax + 100ms);
  }
  CHECK(w.times.back() >= 19 * kRekeyTimeout);
  CHECK(w.times.back() < 19 * (kRekeyTimeout + kRekeyJitterMax + 100ms));
  CHECK(has_event(events, EventKind::HandshakeGaveUp));
  CHECK(pr.p(0).staged.empty());  // staged packets are dropped on giving up
  CHECK_FALSE(pr.p(0).timers.retransmit_handshake);
  // Retries stop at Rekey-Attempt-Time worth of tries: nothing more in the remaining ~75 s.
  CHECK(w.times.back() < 110s);
}

TEST_CASE("timers: data without any reply for 15 s starts a new handshake") {
  Pair pr;
  REQUIRE(pr.handshake());
  pr.run_for(12s);
  pr.link = [](const Datagram& d) { return d.to == 1; };  // b's answers are lost
  const Instant sent = pr.clock.now;
  WireClock w{pr};
  w.seen = pr.sent_log.size();
  pr.send_ip(0, 60);
  for (int i = 0; i < 200; ++i) {
    pr.clock.advance(100ms);
    pr.tick();
    pr.pump();
    w.poll(0, MessageType::Initiation, sent);
  }
  REQUIRE(w.times.size() >= 1);
  CHECK(w.times[0] >= kKeepaliveTimeout + kRekeyTimeout);
  CHECK(w.times[0] < kKeepaliveTimeout + kRekeyTimeout + kRekeyJitterMax + 100ms);
}

TEST_CASE("timers: key material is zeroed 540 s after the last session was derived") {
  Pair pr;
  REQUIRE(pr.handshake());
  std::vector<Event> events;
  for (int s = 0; s < 539; ++s) {
    pr.clock.advance(1s);
    pr.tick();
    pr.pump();
  }
  CHECK(pr.p(0).keypairs.current);
  CHECK(pr.p(1).keypairs.current);
  pr.clock.advance(1s);
  pr.dev[0].tick(pr.env(), pr.out[0]);
  for (const Event& e : pr.out[0].events()) events.push_back(e);
  pr.out[0].clear();
  CHECK(has_event(events, EventKind::KeysZeroed));
  CHECK_FALSE(pr.p(0).keypairs.current);
  CHECK_FALSE(pr.p(0).keypairs.previous);
  CHECK_FALSE(pr.p(0).keypairs.next);
  CHECK(pr.p(0).handshake.state == HandshakeState::Zeroed);
  // Sending again simply starts over.
  CHECK(pr.send_ip(0, 60).status == TxStatus::Staged);
  pr.pump();
  CHECK(pr.p(0).keypairs.current);
}

TEST_CASE("timers: message-count limits — rekey above 2^60, refuse at Reject-After-Messages") {
  Pair pr;
  REQUIRE(pr.handshake());
  pr.clock.advance(6s);  // past the initiation rate limit
  const size_t before = pr.count_sent(0, MessageType::Initiation);
  pr.p(0).keypairs.current->send_counter = kRekeyAfterMessages + 1;
  CHECK(pr.send_ip(0, 60).status == TxStatus::Sent);
  CHECK(pr.count_sent(0, MessageType::Initiation) == before + 1);

  Pair q;
  REQUIRE(q.handshake());
  q.link = [](const Datagram&) { return false; };
  q.p(0).keypairs.current->send_counter = kRejectAfterMessages - 1;
  CHECK(q.send_ip(0, 60).status == TxStatus::Sent);     // the last usable counter
  CHECK(q.send_ip(0, 60).status == TxStatus::Staged);   // the next one is never used
  // And a receiver refuses counters at or past the limit before decrypting.
  std::vector<uint8_t> dg;
  for (auto it = q.sent_log.rbegin(); it != q.sent_log.rend(); ++it)
    if (it->to == 1 && it->bytes[0] == 4) {
      dg = it->bytes;
      break;
    }
  REQUIRE(load_le64(dg.data() + data::kCounter) == kRejectAfterMessages - 1);
  RxResult r = q.dev[1].receive(q.env(), q.addr[0], dg, q.out[1]);
  CHECK(r.kind == RxKind::Data);
  store_le64(dg.data() + data::kCounter, kRejectAfterMessages);
  r = q.dev[1].receive(q.env(), q.addr[0], dg, q.out[1]);
  CHECK(r.drop == Drop::Replayed);
}

TEST_CASE("timers: persistent keepalive sends at once when turned on, then every N s of silence") {
  Pair pr;
  REQUIRE(pr.handshake());
  pr.run_for(12s);
  const size_t mark = pr.sent_log.size();
  pr.dev[0].set_persistent_keepalive(pr.env(), pr.peer[0], 25, pr.out[0]);
  pr.collect(0);
  CHECK(pr.count_keepalives(0, mark) == 1);
  pr.run_for(101s);
  // At 25, 50, 75 and 100 s after the first.
  CHECK(pr.count_keepalives(0, mark) == 5);
  // Off again: nothing more.
  pr.dev[0].set_persistent_keepalive(pr.env(), pr.peer[0], 0, pr.out[0]);
  const size_t mark2 = pr.sent_log.size();
  pr.run_for(60s);
  CHECK(pr.count_keepalives(0, mark2) == 0);
}

TEST_CASE("timers: the initiator's last-minute handshake at 165 s, sent once") {
  Pair pr;
  REQUIRE(pr.handshake());
  pr.clock.advance(6s);
  pr.link = [](const Datagram& d) { return d.to == 0; };  // a's initiations go nowhere
  const size_t before = pr.count_sent(0, MessageType::Initiation);
  // Make a's session 166 s old, then let b's data arrive.
  pr.p(0).keypairs.current->birth = pr.clock.now - (kRejectAfterTime - kKeepaliveTimeout - kRekeyTimeout + 1s);
  pr.send_ip(1, 60);
  pr.pump();
  CHECK(pr.count_sent(0, MessageType::Initiation) == before + 1);
  CHECK(pr.p(0).timers.sent_lastminute_handshake);
  pr.clock.advance(6s);  // past the rate limit; still no second last-minute initiation
  pr.send_ip(1, 60);
  pr.pump();
  CHECK(pr.count_sent(0, MessageType::Initiation) == before + 1);
}

}  // namespace wg::core
