// tests/core/timer_heap_test.cpp — the device's timer heap at hub scale: only due peers are
// looked at, a burst of due peers is spread over ticks (bounded work per tick), removed peers'
// entries go stale and are never fired, slots reused by new peers start clean, and the heap
// stays O(peers) while traffic keeps moving deadlines.
#include <doctest/doctest.h>

#include <map>
#include <set>
#include <vector>

#include "core/harness.hpp"

namespace wg::core {

using namespace std::chrono_literals;
using testing::FakeClock;
using testing::SeededRng;

namespace {

struct Hub {
  FakeClock clock;
  SeededRng rng{7};
  Device dev;
  Outbox out;
  std::vector<PeerId> ids;

  Env env() { return Env{clock.now, clock.wall, rng}; }

  explicit Hub(size_t peers) {
    uint8_t k[32];
    rng.fill(k);
    dev.set_private_key(env(), k, out);
    for (size_t i = 0; i < peers; ++i) {
      PublicKey pk;
      rng.fill(std::span(pk.data(), 32));
      const PeerId id = *dev.add_peer(pk);
      dev.set_endpoint(id, Endpoint::v4(198, 51, 100, static_cast<uint8_t>(1 + i % 250), static_cast<uint16_t>(1024 + i)));
      ids.push_back(id);
    }
  }

  // One data packet to peer id: no session yet, so it is staged and an initiation goes out.
  void send(PeerId id) {
    std::vector<uint8_t> buf(send_capacity(60));
    testing::Pair::write_ipv4(std::span(buf).subspan(data::kHeaderLen, 60), 0x11);
    (void)dev.send(env(), id, buf, 60, out);
  }

  // Initiations in the outbox by the peer they went to; clears it.
  std::map<PeerId, int> take_initiations() {
    std::map<PeerId, int> by_peer;
    for (size_t i = 0; i < out.size(); ++i)
      if (out[i].bytes[0] == static_cast<uint8_t>(MessageType::Initiation)) ++by_peer[out[i].peer];
    out.clear();
    return by_peer;
  }

  // Ticks until the device says nothing more is due (bounded); returns the number of ticks.
  int tick_until_idle(int limit = 10000) {
    int ticks = 1;
    while (dev.tick(env(), out) && ticks < limit) ++ticks;
    return ticks;
  }
};

}  // namespace

TEST_CASE("timer heap: 2 000 peers due at once fire over several ticks, each once, none early") {
  Hub h(2000);
  for (PeerId id : h.ids) h.send(id);
  CHECK(h.take_initiations().size() == 2000);
  CHECK(h.dev.timer_stats().scheduled_peers == 2000);
  CHECK(h.dev.timer_stats().heap_entries == 2000);

  // Retransmits are due 5 s + up to 333 ms of jitter after the first try: nothing before that.
  h.clock.advance(kRekeyTimeout - 1ms);
  CHECK_FALSE(h.dev.tick(h.env(), h.out));
  CHECK(h.take_initiations().empty());
  REQUIRE(h.dev.next_deadline());
  CHECK(*h.dev.next_deadline() > h.clock.now);

  h.clock.advance(kRekeyJitterMax + 1ms);
  CHECK(h.dev.tick(h.env(), h.out));  // more than one tick's worth is due
  CHECK(h.take_initiations().size() == Device::kMaxTimerPeersPerTick);
  const int ticks = 1 + h.tick_until_idle();
  CHECK(ticks == static_cast<int>((2000 + Device::kMaxTimerPeersPerTick - 1) / Device::kMaxTimerPeersPerTick));
  const auto retries = h.take_initiations();
  CHECK(retries.size() == 2000 - Device::kMaxTimerPeersPerTick);
  for (const auto& [id, n] : retries) CHECK(n == 1);
  // Every peer is filed again, once, for its next retransmit.
  CHECK(h.dev.timer_stats().scheduled_peers == 2000);
  CHECK(h.dev.timer_stats().heap_entries == 2000);
}

TEST_CASE("timer heap: removed peers never fire; a reused slot starts with no deadline") {
  Hub h(600);
  for (PeerId id : h.ids) h.send(id);
  h.take_initiations();
  std::set<PeerId> removed;
  for (size_t i = 0; i < h.ids.size(); i += 2) {
    h.dev.remove_peer(h.ids[i]);
    removed.insert(h.ids[i]);
  }
  CHECK(h.dev.timer_stats().scheduled_peers == 300);
  CHECK(h.dev.timer_stats().heap_entries == 600);  // the removed peers' entries are stale, not gone

  // New peers take the freed slots; they have no deadline until something arms one.
  PublicKey pk;
  h.rng.fill(std::span(pk.data(), 32));
  const PeerId reused = *h.dev.add_peer(pk);
  CHECK(removed.count(reused) == 1);
  CHECK_FALSE(h.dev.peer(reused)->timers.scheduled);

  h.clock.advance(kRekeyTimeout + kRekeyJitterMax + 1ms);
  h.tick_until_idle();
  const auto retries = h.take_initiations();
  CHECK(retries.size() == 300);
  for (const auto& [id, n] : retries) {
    CHECK(removed.count(id) == 0);
    CHECK(n == 1);
  }
  CHECK(h.dev.timer_stats().heap_entries == 300);  // stale entries went when their time came
}

TEST_CASE("timer heap: deadlines moved by traffic keep the heap O(peers), and the peer fires at the real deadline") {
  // A pair with a session: data flowing both ways moves the keepalive and new-handshake
  // deadlines thousands of times.
  testing::Pair pr;
  REQUIRE(pr.handshake());
  for (int i = 0; i < 5000; ++i) {
    pr.clock.advance(1ms);
    pr.send_ip(0, 60);
    pr.send_ip(1, 60);
    pr.pump();
    pr.tick();
  }
  for (int d = 0; d < 2; ++d) {
    CHECK(pr.dev[d].timer_stats().scheduled_peers == 1);
    CHECK(pr.dev[d].timer_stats().heap_entries <= 4 + 1024);
  }
  // Only B sends now: A must answer with a passive keepalive 10 s after B's last packet,
  // though its old heap entry was filed for an earlier deadline.
  const size_t since = pr.sent_log.size();
  pr.send_ip(1, 60);
  pr.pump();
  pr.run_for(kKeepaliveTimeout - 200ms);
  CHECK(pr.count_keepalives(0, since) == 0);
  pr.run_for(400ms);
  CHECK(pr.count_keepalives(0, since) == 1);
}

}  // namespace wg::core
