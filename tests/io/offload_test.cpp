// tests/io/offload_test.cpp — the offload switches (WGROUTER_OFFLOAD) and the pieces of UDP GSO
// and GRO the backends share: which queued sends may share one UDP_SEGMENT sendmsg, and how a
// coalesced receive is split back into datagrams.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "core/udp_batch.hpp"
#include "io/offload.hpp"
#include "io/packet_io.hpp"

namespace {

using wg::core::Endpoint;
using wg::io::OffloadSwitches;
using wg::core::UdpSend;

bool same(const OffloadSwitches& a, const OffloadSwitches& b) {
  return a.tun == b.tun && a.tso == b.tso && a.uso == b.uso && a.gro == b.gro && a.udp_gso == b.udp_gso &&
         a.udp_gro == b.udp_gro && a.tap == b.tap;
}

}  // namespace

TEST_CASE("offload: WGROUTER_OFFLOAD switches, and a clear error for an unknown name") {
  std::string err;
  const OffloadSwitches all{};
  CHECK(same(*wg::io::parse_offload_switches("", err), all));
  CHECK(same(*wg::io::parse_offload_switches("on", err), all));
  CHECK(same(*wg::io::parse_offload_switches("off", err), OffloadSwitches::none()));
  auto s = wg::io::parse_offload_switches(" -udp-gso, no-gro ,tap", err);
  REQUIRE(s);
  CHECK_FALSE(s->udp_gso);
  CHECK_FALSE(s->gro);
  CHECK(s->tso);
  CHECK(s->tap);
  s = wg::io::parse_offload_switches("off,+tso", err);  // left to right
  REQUIRE(s);
  CHECK(s->tso);
  CHECK_FALSE(s->udp_gro);
  CHECK_FALSE(wg::io::parse_offload_switches("-tso,turbo", err));
  CHECK(err.find("unknown offload `turbo'") != std::string::npos);
  CHECK_FALSE(wg::io::parse_offload_switches("-", err));
}

TEST_CASE("offload: a GSO run is one path, equal sizes, the last one shorter, within the limits") {
  std::vector<uint8_t> mem(70000);
  const Endpoint p1 = Endpoint::v4(192, 0, 2, 1, 51820), p2 = Endpoint::v4(192, 0, 2, 2, 51820);
  Endpoint p1_src = p1;  // same remote, another sticky source: another path
  p1_src.has_local = true;
  p1_src.local = {192, 0, 2, 9};
  auto send = [&](const Endpoint& to, size_t n) { return UdpSend{to, {mem.data(), n}}; };
  std::vector<UdpSend> s = {send(p1, 1452), send(p1, 1452), send(p1, 1452), send(p1, 200), send(p1, 1452)};
  CHECK(wg::core::gso_run(s, 0) == 4);  // the short one ends the run
  CHECK(wg::core::gso_run(s, 3) == 1);
  s = {send(p1, 100), send(p1, 1452)};
  CHECK(wg::core::gso_run(s, 0) == 1);  // a longer one cannot follow
  s = {send(p1, 100), send(p2, 100), send(p1, 100)};
  CHECK(wg::core::gso_run(s, 0) == 1);
  s = {send(p1, 100), send(p1_src, 100)};
  CHECK(wg::core::gso_run(s, 0) == 1);
  s.assign(100, send(p1, 100));
  CHECK(wg::core::gso_run(s, 0) == wg::core::kMaxGsoSegments);
  s.assign(60, send(p1, 1452));
  const size_t k = wg::core::gso_run(s, 0);
  CHECK(k * 1452 <= wg::core::kMaxGsoBytes);
  CHECK((k + 1) * 1452 > wg::core::kMaxGsoBytes);
  s = {send(p1, 0), send(p1, 0)};
  CHECK(wg::core::gso_run(s, 0) == 1);
}

TEST_CASE("offload: a UDP_GRO receive splits into its datagrams, headroom is the previous tag") {
  std::vector<uint8_t> mem(10000);
  const Endpoint from = Endpoint::v4(192, 0, 2, 1, 51820);
  std::vector<wg::core::RxDatagram> out;
  wg::core::split_gro(out, {{mem.data() + 48, 3 * 1452 + 100}, from, 48, 1452});
  REQUIRE(out.size() == 4);
  for (size_t i = 0; i < 4; ++i) {
    CAPTURE(i);
    CHECK(out[i].bytes.data() == mem.data() + 48 + 1452 * i);
    CHECK(out[i].bytes.size() == (i < 3 ? 1452u : 100u));
    CHECK(out[i].headroom == (i == 0 ? 48u : wg::core::kRxMinHeadroom));
    CHECK(out[i].from.same_remote(from));
  }
  out.clear();
  wg::core::split_gro(out, {{mem.data() + 48, 900}, from, 48, 0});  // no GRO: one datagram
  wg::core::split_gro(out, {{mem.data() + 48, 900}, from, 48, 1452});  // GRO size above the length
  REQUIRE(out.size() == 2);
  CHECK(out[1].bytes.size() == 900);
}
