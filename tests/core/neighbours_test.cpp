// tests/core/neighbours_test.cpp — one port's NeighbourCache on its own: learning, when a
// solicitation is due (first, repeated, stale), which entry gives way when the table is full,
// the one parked packet (newest wins, taken once when its address resolves, refused when too
// long), and forgetting everything when the port's device changes.
#include <doctest/doctest.h>

#include <vector>

#include "core/neighbours.hpp"

namespace wg::core {

namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;

const Instant kT0{std::chrono::seconds(1000)};

pkt::Addr16 v6(uint8_t last) {  // 2001:db8::last
  pkt::Addr16 a{0x20, 0x01, 0x0d, 0xb8};
  a[15] = last;
  return a;
}
pkt::Addr16 v4(uint8_t last) {  // 198.51.100.last
  return pkt::Addr16{198, 51, 100, last};
}
pkt::Mac mac(uint8_t last) { return {0x02, 0, 0, 0, 0, last}; }

bool has(const NeighbourCache& c, Family f, const pkt::Addr16& a) {
  for (const Neighbour& n : c.entries())
    if (n.family == f && n.addr == a) return true;
  return false;
}

std::vector<uint8_t> bytes_of(std::span<const uint8_t> s) { return {s.begin(), s.end()}; }

std::vector<uint8_t> packet(size_t len, uint8_t fill) { return std::vector<uint8_t>(len, fill); }

}  // namespace

TEST_CASE("neighbour cache: an address learnt is resolved to its MAC, for its own family only") {
  NeighbourCache c;
  const pkt::Addr16 a = v6(2);
  CHECK(c.resolved(Family::V6, a.data()) == nullptr);
  c.learn(Family::V6, a.data(), mac(1), kT0);
  const Neighbour* n = c.resolved(Family::V6, a.data());
  REQUIRE(n);
  CHECK(n->mac == mac(1));
  CHECK(n->confirmed == kT0);
  CHECK(c.resolved(Family::V4, a.data()) == nullptr);  // same first four bytes, other family
  CHECK(c.resolved(Family::V6, v6(3).data()) == nullptr);

  // The instance moved to another MAC: the entry follows, no second one.
  c.learn(Family::V6, a.data(), mac(7), kT0 + milliseconds(5));
  REQUIRE(c.entries().size() == 1);
  CHECK(c.resolved(Family::V6, a.data())->mac == mac(7));
  CHECK(c.resolved(Family::V6, a.data())->confirmed == kT0 + milliseconds(5));
}

TEST_CASE("neighbour cache: a solicitation is due at once, then again only after kReprobe") {
  NeighbourCache c;
  const pkt::Addr16 a = v4(2);
  CHECK(c.solicit_due(Family::V4, a.data(), kT0));
  REQUIRE(c.entries().size() == 1);
  CHECK_FALSE(c.entries()[0].resolved);
  CHECK(c.entries()[0].probed == kT0);
  CHECK(c.resolved(Family::V4, a.data()) == nullptr);  // an entry, but nothing to send to

  CHECK_FALSE(c.solicit_due(Family::V4, a.data(), kT0 + NeighbourCache::kReprobe - nanoseconds(1)));
  CHECK(c.entries()[0].probed == kT0);  // a refused solicitation does not move the clock
  CHECK(c.solicit_due(Family::V4, a.data(), kT0 + NeighbourCache::kReprobe));
  CHECK(c.entries()[0].probed == kT0 + NeighbourCache::kReprobe);
  CHECK(c.entries().size() == 1);

  // Another address is due on its own clock.
  CHECK(c.solicit_due(Family::V4, v4(3).data(), kT0 + NeighbourCache::kReprobe));
  CHECK(c.entries().size() == 2);
}

TEST_CASE("neighbour cache: a neighbour unconfirmed for kStale is still used and solicited again, once per kReprobe") {
  NeighbourCache c;
  const pkt::Addr16 a = v6(2);
  c.learn(Family::V6, a.data(), mac(1), kT0);
  const Instant edge = kT0 + NeighbourCache::kStale;
  CHECK_FALSE(NeighbourCache::stale(*c.resolved(Family::V6, a.data()), edge));
  const Instant later = edge + nanoseconds(1);
  const Neighbour* n = c.resolved(Family::V6, a.data());
  REQUIRE(n);  // stale, still resolved
  CHECK(NeighbourCache::stale(*n, later));

  CHECK(c.solicit_due(Family::V6, a.data(), later));  // learnt, never solicited: due at once
  CHECK_FALSE(c.solicit_due(Family::V6, a.data(), later + milliseconds(999)));
  CHECK(c.solicit_due(Family::V6, a.data(), later + NeighbourCache::kReprobe));
  CHECK(c.resolved(Family::V6, a.data()) != nullptr);  // soliciting never unlearns

  c.learn(Family::V6, a.data(), mac(1), later + milliseconds(1500));  // the answer
  CHECK_FALSE(NeighbourCache::stale(*c.resolved(Family::V6, a.data()), later + milliseconds(1500)));
}

TEST_CASE("neighbour cache: when full, the oldest unanswered entry gives way; resolved ones only when all are") {
  NeighbourCache c;
  const uint8_t* first_storage = nullptr;
  for (uint8_t i = 0; i < NeighbourCache::kMaxEntries - 2; ++i) {
    c.learn(Family::V6, v6(i).data(), mac(i), kT0 + milliseconds(i));
    if (i == 0) first_storage = reinterpret_cast<const uint8_t*>(c.entries().data());
  }
  CHECK(c.solicit_due(Family::V6, v6(100).data(), kT0 + milliseconds(50)));  // unanswered, older
  CHECK(c.solicit_due(Family::V6, v6(101).data(), kT0 + milliseconds(60)));  // unanswered, newer
  REQUIRE(c.entries().size() == NeighbourCache::kMaxEntries);
  // The table was sized up front: filling it never moved (reallocated) it.
  CHECK(reinterpret_cast<const uint8_t*>(c.entries().data()) == first_storage);

  SUBCASE("a solicitation for a new address") {
    CHECK(c.solicit_due(Family::V6, v6(102).data(), kT0 + milliseconds(70)));
  }
  SUBCASE("a new address learnt") {
    c.learn(Family::V6, v6(102).data(), mac(102), kT0 + milliseconds(70));
    CHECK(c.resolved(Family::V6, v6(102).data()) != nullptr);
  }
  CHECK(c.entries().size() == NeighbourCache::kMaxEntries);
  CHECK(has(c, Family::V6, v6(102)));
  CHECK_FALSE(has(c, Family::V6, v6(100)));
  CHECK(has(c, Family::V6, v6(101)));
  for (uint8_t i = 0; i < NeighbourCache::kMaxEntries - 2; ++i) CHECK(c.resolved(Family::V6, v6(i).data()) != nullptr);
}

TEST_CASE("neighbour cache: with every entry resolved, the one confirmed longest ago gives way") {
  NeighbourCache c;
  for (uint8_t i = 0; i < NeighbourCache::kMaxEntries; ++i)
    c.learn(Family::V4, v4(i).data(), mac(i), kT0 + milliseconds(i));
  c.learn(Family::V4, v4(0).data(), mac(0), kT0 + milliseconds(100));  // 0 confirmed again: 1 is oldest now
  CHECK(c.solicit_due(Family::V4, v4(200).data(), kT0 + milliseconds(200)));
  CHECK(c.entries().size() == NeighbourCache::kMaxEntries);
  CHECK(has(c, Family::V4, v4(200)));
  CHECK_FALSE(has(c, Family::V4, v4(1)));
  CHECK(c.resolved(Family::V4, v4(0).data()) != nullptr);
  CHECK(c.resolved(Family::V4, v4(2).data()) != nullptr);
}

TEST_CASE("neighbour cache: a parked packet is taken once, when its own address resolves") {
  NeighbourCache c;
  c.reserve_parking(1280);
  const pkt::Addr16 a = v6(2);
  const std::vector<uint8_t> p = packet(1280, 0xab);
  CHECK(c.park(Family::V6, a.data(), p));
  CHECK(c.take_parked(Family::V6, v6(3).data()).empty());  // another address
  CHECK(c.take_parked(Family::V4, a.data()).empty());      // another family
  CHECK(bytes_of(c.take_parked(Family::V6, a.data())) == p);
  CHECK(c.take_parked(Family::V6, a.data()).empty());  // once
  CHECK_FALSE(c.drop_parked());                        // nothing left to give up
}

TEST_CASE("neighbour cache: the newest packet parks, the one before is given up and reported") {
  NeighbourCache c;
  c.reserve_parking(1280);
  const pkt::Addr16 a = v4(2);
  CHECK_FALSE(c.drop_parked());
  REQUIRE(c.park(Family::V4, a.data(), packet(60, 1)));
  CHECK(c.drop_parked());
  REQUIRE(c.park(Family::V4, v4(3).data(), packet(80, 2)));
  CHECK(c.take_parked(Family::V4, a.data()).empty());  // the first one is gone
  CHECK(bytes_of(c.take_parked(Family::V4, v4(3).data())) == packet(80, 2));
}

TEST_CASE("neighbour cache: a packet longer than the parking room is refused; more room keeps what is parked") {
  NeighbourCache c;
  CHECK_FALSE(c.park(Family::V6, v6(2).data(), packet(40, 1)));  // no room reserved yet
  c.reserve_parking(100);
  CHECK_FALSE(c.park(Family::V6, v6(2).data(), packet(101, 1)));
  CHECK_FALSE(c.drop_parked());  // a refused packet is not parked
  REQUIRE(c.park(Family::V6, v6(2).data(), packet(100, 3)));
  c.reserve_parking(1500);  // a reload raised the port's MTU
  c.reserve_parking(50);    // never shrinks
  CHECK(bytes_of(c.take_parked(Family::V6, v6(2).data())) == packet(100, 3));
  CHECK(c.park(Family::V6, v6(2).data(), packet(1500, 4)));
}

TEST_CASE("neighbour cache: forget (device gone) drops entries and the parked packet; release frees the room too") {
  NeighbourCache c;
  c.reserve_parking(1280);
  c.learn(Family::V6, v6(2).data(), mac(1), kT0);
  CHECK(c.solicit_due(Family::V4, v4(2).data(), kT0));
  REQUIRE(c.park(Family::V4, v4(2).data(), packet(60, 1)));

  c.forget();
  CHECK(c.entries().empty());
  CHECK(c.resolved(Family::V6, v6(2).data()) == nullptr);
  CHECK_FALSE(c.drop_parked());
  CHECK(c.take_parked(Family::V4, v4(2).data()).empty());
  // Learnt afresh afterwards, with the same room to park in.
  CHECK(c.solicit_due(Family::V4, v4(2).data(), kT0 + milliseconds(1)));  // no old probe holds it back
  CHECK(c.park(Family::V4, v4(2).data(), packet(1280, 2)));

  c.release();
  CHECK(c.entries().empty());
  CHECK(c.take_parked(Family::V4, v4(2).data()).empty());
  CHECK_FALSE(c.park(Family::V4, v4(2).data(), packet(60, 3)));  // no room left
}

}  // namespace wg::core
