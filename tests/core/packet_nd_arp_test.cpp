// tests/core/packet_nd_arp_test.cpp — core/packet's link-layer neighbours: neighbour discovery
// (NS/NA parsing against RFC 4861 7.1, the builders, solicited-node groups and their MACs) and
// ARP (RFC 826 for Ethernet/IPv4). Packets are built by hand with packet_craft.hpp.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <vector>

#include "core/packet.hpp"
#include "core/packet_craft.hpp"

namespace {

namespace pkt = wg::core::pkt;
using namespace wg::testing::craft;
using pkt::IpError;
using pkt::IpInfo;

std::span<const uint8_t> view(const Bytes& b) { return {b.data(), b.size()}; }

IpInfo must_parse(const Bytes& p) {
  IpInfo info;
  REQUIRE(pkt::parse_ip(view(p), info) == IpError::None);
  return info;
}

bool same16(const uint8_t* a, const Ip6& b) { return std::memcmp(a, b.data(), 16) == 0; }

const Ip4 kA4 = ip4("10.0.0.1"), kB4 = ip4("10.0.0.2");
const Ip6 kA6 = ip6("2001:db8::a"), kB6 = ip6("2001:db8::b");

}  // namespace

// --- neighbour discovery ---

namespace {

const pkt::Mac kMacA{0x02, 0x11, 0x22, 0x33, 0x44, 0x55};
const pkt::Mac kMacB{0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee};

Bytes option(uint8_t type, const pkt::Mac& mac) {
  Bytes o{type, 1};
  o.insert(o.end(), mac.begin(), mac.end());
  return o;
}

// An NS/NA body: flags word, target, options.
Bytes nd_body(uint8_t type, uint32_t flags, const Ip6& target, const Bytes& options) {
  return icmp(type, 0, flags, concat({Bytes(target.begin(), target.end()), options}));
}

std::optional<pkt::NdView> nd(const Bytes& p) {
  IpInfo i;
  if (pkt::parse_ip(view(p), i) != IpError::None) return std::nullopt;
  return pkt::parse_nd(view(p), i);
}

Ip6 solicited(const Ip6& a) {
  Ip6 g{};
  pkt::solicited_node(a.data(), g.data());
  return g;
}

}  // namespace

TEST_CASE("packet: solicited_node and multicast_mac6 by hand") {
  // 2001:db8::1:2:3 ends in 00 02 00 03; the group takes the last 24 bits: 02 00 03.
  CHECK(solicited(ip6("2001:db8::1:2:3")) == ip6("ff02::1:ff02:3"));
  CHECK(pkt::multicast_mac6(ip6("ff02::1:ff02:3").data()) == pkt::Mac{0x33, 0x33, 0xff, 0x02, 0x00, 0x03});
  CHECK(solicited(ip6("fe80::aabb:ccdd:eeff")) == ip6("ff02::1:ffdd:eeff"));
  CHECK(pkt::multicast_mac6(ip6("ff02::1").data()) == pkt::Mac{0x33, 0x33, 0, 0, 0, 1});
  CHECK(pkt::multicast_mac6(ip6("ff05::1:3").data()) == pkt::Mac{0x33, 0x33, 0, 1, 0, 3});
}

TEST_CASE("packet: build_neighbor_solicit and build_neighbor_advert parse back") {
  const Ip6 me = ip6("fe80::1"), target = ip6("2001:db8::1:2:3"), peer = ip6("fe80::2");
  std::vector<uint8_t> f(pkt::kNdFrameMax + 8, 0xee);

  size_t n = pkt::build_neighbor_solicit(f.data(), kMacA, me.data(), target.data());
  REQUIRE(n == pkt::kNdFrameMax);
  CHECK(f[n] == 0xee);
  for (size_t k = 0; k < pkt::kVnetLen; ++k) CHECK(f[k] == 0);
  auto eth = pkt::parse_eth(std::span<uint8_t>(f.data() + pkt::kVnetLen, n - pkt::kVnetLen));
  REQUIRE(eth);
  CHECK(eth->dst == pkt::Mac{0x33, 0x33, 0xff, 0x02, 0x00, 0x03});
  CHECK(eth->src == kMacA);
  CHECK(eth->type == pkt::kEtherIpv6);
  Bytes ip(eth->payload.begin(), eth->payload.end());
  IpInfo i = must_parse(ip);
  CHECK(i.ttl == 255);
  CHECK(same16(i.src, me));
  CHECK(same16(i.dst, ip6("ff02::1:ff02:3")));
  CHECK(get16(&ip[42]) == ref_l4_checksum(true, &ip[8], &ip[24], kIcmp6, std::span<const uint8_t>(ip).subspan(40)));
  auto v = pkt::parse_nd(ip, i);
  REQUIRE(v);
  CHECK(v->type == pkt::kNdNeighborSolicit);
  CHECK(v->target == target);
  CHECK(v->lladdr == kMacA);

  for (const bool sol : {false, true})
    for (const bool router : {false, true}) {
      CAPTURE(sol);
      CAPTURE(router);
      const Ip6 dst = sol ? peer : ip6("ff02::1");
      const pkt::Mac dmac = sol ? kMacB : pkt::multicast_mac6(dst.data());
      n = pkt::build_neighbor_advert(f.data(), kMacA, dmac, me.data(), dst.data(), target.data(), sol, router);
      REQUIRE(n == pkt::kNdFrameMax);
      eth = pkt::parse_eth(std::span<uint8_t>(f.data() + pkt::kVnetLen, n - pkt::kVnetLen));
      REQUIRE(eth);
      CHECK(eth->dst == dmac);
      CHECK(eth->src == kMacA);
      ip.assign(eth->payload.begin(), eth->payload.end());
      i = must_parse(ip);
      CHECK(same16(i.dst, dst));
      CHECK(get16(&ip[42]) ==
            ref_l4_checksum(true, &ip[8], &ip[24], kIcmp6, std::span<const uint8_t>(ip).subspan(40)));
      v = pkt::parse_nd(ip, i);
      REQUIRE(v);
      CHECK(v->type == pkt::kNdNeighborAdvert);
      CHECK(v->target == target);
      CHECK(v->lladdr == kMacA);
      CHECK(v->solicited == sol);
      CHECK(v->router == router);
      CHECK(v->override_flag);
    }
}

TEST_CASE("packet: parse_nd accepts hand-built NS and NA") {
  const Ip6 target = ip6("2001:db8::77");
  SUBCASE("NS with SLLA after an unknown option") {
    Bytes nonce{14, 1, 1, 2, 3, 4, 5, 6};
    const auto v = nd(ipv6(ip6("fe80::9"), solicited(target), kIcmp6,
                           nd_body(pkt::kNdNeighborSolicit, 0, target, concat({nonce, option(1, kMacB)})), {.hops = 255}));
    REQUIRE(v);
    CHECK(v->type == pkt::kNdNeighborSolicit);
    CHECK(v->target == target);
    CHECK(v->lladdr == kMacB);
  }
  SUBCASE("unicast NS without options") {
    const auto v = nd(ipv6(kA6, target, kIcmp6, nd_body(pkt::kNdNeighborSolicit, 0, target, {}), {.hops = 255}));
    REQUIRE(v);
    CHECK_FALSE(v->lladdr);
  }
  SUBCASE("NS ignores a TLLA; NA ignores an SLLA") {
    auto v = nd(ipv6(kA6, target, kIcmp6, nd_body(pkt::kNdNeighborSolicit, 0, target, option(2, kMacA)), {.hops = 255}));
    REQUIRE(v);
    CHECK_FALSE(v->lladdr);
    v = nd(ipv6(kA6, kB6, kIcmp6, nd_body(pkt::kNdNeighborAdvert, 0x40000000, target, option(1, kMacA)), {.hops = 255}));
    REQUIRE(v);
    CHECK_FALSE(v->lladdr);
    CHECK(v->solicited);
    CHECK_FALSE(v->override_flag);
    CHECK_FALSE(v->router);
  }
  SUBCASE("duplicate address detection: from :: to the target's group, no SLLA") {
    const auto v = nd(ipv6(ip6("::"), solicited(target), kIcmp6, nd_body(pkt::kNdNeighborSolicit, 0, target, {}),
                           {.hops = 255}));
    REQUIRE(v);
    CHECK(v->target == target);
  }
  SUBCASE("unsolicited NA to all-nodes with TLLA, router and override") {
    const auto v = nd(ipv6(kA6, ip6("ff02::1"), kIcmp6,
                           nd_body(pkt::kNdNeighborAdvert, 0xa0000000, target, option(2, kMacB)), {.hops = 255}));
    REQUIRE(v);
    CHECK(v->lladdr == kMacB);
    CHECK(v->router);
    CHECK(v->override_flag);
    CHECK_FALSE(v->solicited);
  }
}

TEST_CASE("packet: parse_nd rejects what RFC 4861 7.1 says to drop") {
  const Ip6 target = ip6("2001:db8::77");
  const Ip6 group = solicited(target);
  const Bytes good_ns = ipv6(kA6, group, kIcmp6, nd_body(pkt::kNdNeighborSolicit, 0, target, option(1, kMacA)),
                             {.hops = 255});
  REQUIRE(nd(good_ns));

  CHECK_FALSE(nd(ipv6(kA6, group, kIcmp6, nd_body(pkt::kNdNeighborSolicit, 0, target, option(1, kMacA)),
                      {.hops = 64})));
  Bytes bad_sum = good_ns;
  bad_sum[42] ^= 0x01;
  CHECK_FALSE(nd(bad_sum));
  Bytes code = ipv6(kA6, group, kIcmp6, nd_body(pkt::kNdNeighborSolicit, 0, target, {}), {.hops = 255});
  code[41] = 1;  // code 1, checksum fixed up below
  code[42] = code[43] = 0;
  put16(&code[42], ref_l4_checksum(true, &code[8], &code[24], kIcmp6, std::span<const uint8_t>(code).subspan(40)));
  REQUIRE(must_parse(code).icmp_code == 1);
  CHECK_FALSE(nd(code));

  Bytes zero_len = option(1, kMacA);
  zero_len[1] = 0;
  CHECK_FALSE(nd(ipv6(kA6, group, kIcmp6, nd_body(pkt::kNdNeighborSolicit, 0, target, zero_len), {.hops = 255})));
  Bytes long_opt = option(1, kMacA);
  long_opt[1] = 2;  // claims 16 bytes, 8 present
  CHECK_FALSE(nd(ipv6(kA6, group, kIcmp6, nd_body(pkt::kNdNeighborSolicit, 0, target, long_opt), {.hops = 255})));
  // A lone option byte: not even a type and length.
  CHECK_FALSE(nd(ipv6(kA6, group, kIcmp6, nd_body(pkt::kNdNeighborSolicit, 0, target, Bytes{1}), {.hops = 255})));
  // Shorter than the 24-byte fixed part.
  CHECK_FALSE(nd(ipv6(kA6, group, kIcmp6, icmp(pkt::kNdNeighborSolicit, 0, 0, Bytes(15, 0)), {.hops = 255})));

  const Ip6 mcast = ip6("ff02::1");
  CHECK_FALSE(nd(ipv6(kA6, solicited(mcast), kIcmp6, nd_body(pkt::kNdNeighborSolicit, 0, mcast, {}), {.hops = 255})));
  CHECK_FALSE(nd(ipv6(kA6, kB6, kIcmp6, nd_body(pkt::kNdNeighborAdvert, 0, mcast, {}), {.hops = 255})));

  const Ip6 any = ip6("::");
  CHECK_FALSE(nd(ipv6(any, group, kIcmp6, nd_body(pkt::kNdNeighborSolicit, 0, target, option(1, kMacA)),
                      {.hops = 255})));
  CHECK_FALSE(nd(ipv6(any, ip6("ff02::1"), kIcmp6, nd_body(pkt::kNdNeighborSolicit, 0, target, {}), {.hops = 255})));
  CHECK_FALSE(nd(ipv6(any, target, kIcmp6, nd_body(pkt::kNdNeighborSolicit, 0, target, {}), {.hops = 255})));
  CHECK_FALSE(nd(ipv6(any, solicited(ip6("2001:db8::78")), kIcmp6, nd_body(pkt::kNdNeighborSolicit, 0, target, {}),
                      {.hops = 255})));

  CHECK_FALSE(nd(ipv6(kA6, ip6("ff02::1"), kIcmp6, nd_body(pkt::kNdNeighborAdvert, 0x40000000, target, {}),
                      {.hops = 255})));
  CHECK(nd(ipv6(kA6, kB6, kIcmp6, nd_body(pkt::kNdNeighborAdvert, 0x40000000, target, {}), {.hops = 255})));

  // Other ICMPv6, other transports, fragments and IPv4 are not ND.
  CHECK_FALSE(nd(ipv6(kA6, group, kIcmp6, nd_body(pkt::kNdRouterSolicit, 0, target, {}), {.hops = 255})));
  CHECK_FALSE(nd(ipv6(kA6, group, kIcmp6, nd_body(pkt::kNdRedirect, 0, target, {}), {.hops = 255})));
  CHECK_FALSE(nd(ipv6(kA6, group, kUdp, udp(1, 2, pattern(24)), {.hops = 255})));
  CHECK_FALSE(nd(ipv6(kA6, group, kIcmp6, nd_body(pkt::kNdNeighborSolicit, 0, target, {}),
                      {.hops = 255, .ext = {ext_fragment(0, false, 1)}})));
  const Bytes v4 = ipv4(kA4, kB4, kIcmp, nd_body(pkt::kNdNeighborSolicit, 0, target, {}), {.ttl = 255});
  CHECK_FALSE(nd(v4));
}

// --- ARP ---

TEST_CASE("packet: build_arp and parse_arp round trip") {
  const Ip4 me = ip4("192.0.2.1"), peer = ip4("192.0.2.77");
  std::vector<uint8_t> f(pkt::kArpFrameMax + 4, 0xee);

  size_t n = pkt::build_arp(f.data(), 1, kMacA, me.data(), kMacB, peer.data());
  REQUIRE(n == pkt::kArpFrameMax);
  CHECK(f[n] == 0xee);
  auto eth = pkt::parse_eth(std::span<uint8_t>(f.data() + pkt::kVnetLen, n - pkt::kVnetLen));
  REQUIRE(eth);
  CHECK(eth->dst == pkt::kBroadcast);  // a request is broadcast whatever dst_mac says
  CHECK(eth->src == kMacA);
  CHECK(eth->type == pkt::kEtherArp);
  const Bytes a(eth->payload.begin(), eth->payload.end());
  CHECK(Bytes(a.begin(), a.begin() + 8) == Bytes{0, 1, 8, 0, 6, 4, 0, 1});
  CHECK(Bytes(a.begin() + 18, a.begin() + 24) == Bytes(6, 0));  // target hardware address unknown
  auto v = pkt::parse_arp(a);
  REQUIRE(v);
  CHECK(v->op == 1);
  CHECK(v->sender_mac == kMacA);
  CHECK(v->sender_ip == me);
  CHECK(v->target_ip == peer);

  n = pkt::build_arp(f.data(), 2, kMacA, me.data(), kMacB, peer.data());
  eth = pkt::parse_eth(std::span<uint8_t>(f.data() + pkt::kVnetLen, n - pkt::kVnetLen));
  REQUIRE(eth);
  CHECK(eth->dst == kMacB);
  Bytes r(eth->payload.begin(), eth->payload.end());
  CHECK(Bytes(r.begin() + 18, r.begin() + 24) == Bytes(kMacB.begin(), kMacB.end()));
  v = pkt::parse_arp(r);
  REQUIRE(v);
  CHECK(v->op == 2);
  CHECK(v->target_ip == peer);

  r.resize(46, 0);  // Ethernet padding after the 28 bytes is fine
  CHECK(pkt::parse_arp(r));
}

TEST_CASE("packet: parse_arp rejects other hardware, protocols, sizes and operations") {
  std::vector<uint8_t> f(pkt::kArpFrameMax);
  (void)pkt::build_arp(f.data(), 2, kMacA, kA4.data(), kMacB, kB4.data());
  const Bytes good(f.begin() + pkt::kFrameHeader, f.end());
  REQUIRE(pkt::parse_arp(good));
  struct Case {
    size_t at;
    std::vector<uint8_t> bytes;
  };
  for (const Case& c : std::vector<Case>{{0, {0, 6}},          // htype IEEE 802
                                         {0, {1, 1}},          // htype 257
                                         {2, {0x86, 0xdd}},    // ptype IPv6
                                         {2, {0x08, 0x06}},    // ptype ARP
                                         {4, {8}},             // hlen
                                         {5, {16}},            // plen
                                         {6, {0, 0}},          // op 0
                                         {6, {0, 3}},          // RARP request
                                         {6, {1, 1}}}) {       // op 257
    Bytes b = good;
    std::copy(c.bytes.begin(), c.bytes.end(), b.begin() + static_cast<std::ptrdiff_t>(c.at));
    CAPTURE(c.at);
    CHECK_FALSE(pkt::parse_arp(b));
  }
  for (size_t n = 0; n < 28; ++n) {
    const std::vector<uint8_t> cut(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n));
    CHECK_FALSE(pkt::parse_arp(cut));
  }
}
