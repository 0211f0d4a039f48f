// tests/core/packet_offload_test.cpp — core/packet's virtio-net offloads: completing a checksum a
// guest left to the device (NEEDS_CSUM) and splitting GSO super-packets (TCPv4, TCPv6, UDP_L4),
// each segment checked field by field against a reference computed here.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "core/packet.hpp"
#include "core/packet_craft.hpp"

namespace {

namespace pkt = wg::core::pkt;
using namespace wg::testing::craft;
using wg::core::Family;
using pkt::IpError;
using pkt::IpInfo;

const Ip4 kA4 = ip4("10.1.0.1"), kB4 = ip4("10.2.0.2");
const Ip6 kA6 = ip6("2001:db8:1::1"), kB6 = ip6("2001:db8:2::2");

IpInfo must_parse(const Bytes& p) {
  IpInfo info;
  REQUIRE(pkt::parse_ip(std::span<const uint8_t>(p), info) == IpError::None);
  return info;
}

// What a NIC offload finds in the checksum field: the pseudo-header sum, folded, not inverted
// (Linux: th->check = ~tcp_v4_check(len, saddr, daddr, 0)).
void leave_partial(Bytes& p, size_t l4, uint8_t proto, bool v6) {
  const size_t len = p.size() - l4;
  const Bytes ph = pseudo_header(v6, &p[v6 ? 8 : 12], &p[v6 ? 24 : 16], proto, len);
  put16(&p[l4 + checksum_offset(proto)], static_cast<uint16_t>(~ref_checksum(ph)));
}

}  // namespace

TEST_CASE("packet: complete_checksum finishes what the sender left") {
  struct Case {
    const char* name;
    Bytes packet;
    size_t l4;
    uint8_t proto;
    bool v6;
  };
  const std::vector<Case> cases = {
      {"TCPv4", ipv4(kA4, kB4, kTcp, tcp(5000, 80, 0x01020304, 7, pkt::kTcpAck, pattern(1001)), {.l4_checksum = false}),
       20, kTcp, false},
      {"UDPv4", ipv4(kA4, kB4, kUdp, udp(5000, 53, pattern(77, 9)), {.options = 4, .l4_checksum = false}), 24, kUdp,
       false},
      {"TCPv6", ipv6(kA6, kB6, kTcp, tcp(1, 2, 3, 4, pkt::kTcpSyn, pattern(9), Bytes{2, 4, 5, 0xb4}),
                     {.l4_checksum = false}),
       40, kTcp, true},
      {"UDPv6", ipv6(kA6, kB6, kUdp, udp(443, 9999, pattern(1200, 3)), {.l4_checksum = false}), 40, kUdp, true},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    Bytes p = c.packet;
    leave_partial(p, c.l4, c.proto, c.v6);
    const std::span<const uint8_t> seg = std::span<const uint8_t>(p).subspan(c.l4);
    const uint16_t want = ref_l4_checksum(c.v6, &p[c.v6 ? 8 : 12], &p[c.v6 ? 24 : 16], c.proto, seg);
    REQUIRE(get16(&p[c.l4 + checksum_offset(c.proto)]) != want);
    pkt::VnetHeader h;
    h.flags = pkt::kVnetNeedsCsum;
    h.csum_start = static_cast<uint16_t>(pkt::kEthLen + c.l4);
    h.csum_offset = static_cast<uint16_t>(checksum_offset(c.proto));
    const Bytes before = p;
    REQUIRE(pkt::complete_checksum(p, h));
    CHECK(get16(&p[c.l4 + checksum_offset(c.proto)]) == want);
    CHECK(l4_checksum_ok(c.v6, &p[c.v6 ? 8 : 12], &p[c.v6 ? 24 : 16], c.proto, seg));
    // Only the two checksum bytes changed.
    p[c.l4 + checksum_offset(c.proto)] = before[c.l4 + checksum_offset(c.proto)];
    p[c.l4 + checksum_offset(c.proto) + 1] = before[c.l4 + checksum_offset(c.proto) + 1];
    CHECK(p == before);
  }
}

TEST_CASE("packet: complete_checksum refuses offsets outside the packet") {
  Bytes p = ipv4(kA4, kB4, kUdp, udp(1, 2, pattern(10)), {.l4_checksum = false});  // 38 bytes
  const Bytes before = p;
  pkt::VnetHeader h;
  h.flags = pkt::kVnetNeedsCsum;
  h.csum_start = 13;  // inside the Ethernet header
  h.csum_offset = 6;
  CHECK_FALSE(pkt::complete_checksum(p, h));
  h.csum_start = static_cast<uint16_t>(pkt::kEthLen + p.size());  // starts at the end
  h.csum_offset = 0;
  CHECK_FALSE(pkt::complete_checksum(p, h));
  h.csum_start = static_cast<uint16_t>(pkt::kEthLen + 20);
  h.csum_offset = 17;  // field would end one byte past the packet
  CHECK_FALSE(pkt::complete_checksum(p, h));
  CHECK(p == before);
  h.csum_offset = 16;  // the last two bytes: allowed
  CHECK(pkt::complete_checksum(p, h));
}

namespace {

// Adds c to the 16-bit word at p[at] in ones' complement: a segment whose checksum was c then
// sums to all ones, i.e. its checksum computes to zero.
void add_to_word(Bytes& p, size_t at, uint16_t c) {
  uint32_t w = uint32_t{get16(&p[at])} + c;
  w = (w & 0xffff) + (w >> 16);
  put16(&p[at], w);
}

// The UDP checksum of seg as computed, before the zero-means-none substitution.
uint16_t raw_udp_checksum(bool v6, const uint8_t* src, const uint8_t* dst, Bytes seg) {
  seg[6] = seg[7] = 0;
  return ref_checksum(concat({pseudo_header(v6, src, dst, kUdp, seg.size()), seg}));
}

}  // namespace

TEST_CASE("packet: complete_checksum sends a zero UDP checksum as 0xffff") {
  Bytes p = ipv4(kA4, kB4, kUdp, udp(7, 7, pattern(40)));
  add_to_word(p, 28, get16(&p[26]));  // first payload word: the checksum now computes to zero
  const Bytes seg(p.begin() + 20, p.end());
  REQUIRE(raw_udp_checksum(false, &p[12], &p[16], seg) == 0);
  leave_partial(p, 20, kUdp, false);
  pkt::VnetHeader h;
  h.flags = pkt::kVnetNeedsCsum;
  h.csum_start = pkt::kEthLen + 20;
  h.csum_offset = 6;
  REQUIRE(pkt::complete_checksum(p, h));
  CHECK(get16(&p[26]) == 0xffff);
}

namespace {

struct Super {
  Bytes packet;
  Bytes payload;  // what the segments must carry, in order
  size_t hdr;     // IP + extension + transport header bytes
};

// A TCP super-packet as a guest hands it over: one header, a payload far above the MTU,
// IP length fields describing the whole, FIN|PSH|CWR|ACK set.
Super tcp_super(bool v6, size_t payload_len, uint16_t id = 0x1000) {
  Super s;
  s.payload = pattern(payload_len, 0x21);
  const Bytes opts{1, 1, 8, 10, 0, 0, 0x10, 0, 0, 0, 0x20, 0};  // NOP NOP timestamp
  const uint8_t flags = pkt::kTcpFin | 0x08 /* PSH */ | pkt::kTcpAck | 0x80 /* CWR */;
  const Bytes t = tcp(33000, 443, 0xfffff000, 0x11223344, flags, s.payload, opts);
  if (v6) {
    s.packet = ipv6(kA6, kB6, kTcp, t, {.ext = {ext_options(kDestOpts, 16)}});
    s.hdr = 40 + 16 + 32;
  } else {
    s.packet = ipv4(kA4, kB4, kTcp, t, {.id = id});
    s.hdr = 20 + 32;
  }
  return s;
}

Super udp_super(bool v6, size_t payload_len) {
  Super s;
  s.payload = pattern(payload_len, 0x5c);
  const Bytes u = udp(4500, 4500, s.payload);
  s.packet = v6 ? ipv6(kA6, kB6, kUdp, u) : ipv4(kA4, kB4, kUdp, u, {.id = 0xfffe});
  s.hdr = (v6 ? 40 : 20) + 8;
  return s;
}

std::vector<Bytes> segment_all(const Super& s, uint8_t type, uint16_t size) {
  const IpInfo info = must_parse(s.packet);
  const size_t n = pkt::gso_segments(s.packet, info, type, size);
  std::vector<Bytes> out;
  for (size_t k = 0; k < n; ++k) {
    Bytes seg(s.hdr + size + 16, 0xee);
    const size_t len = pkt::gso_segment(s.packet, info, type, size, k, seg.data(), seg.size());
    REQUIRE(len > 0);
    CHECK(seg[len] == 0xee);
    seg.resize(len);
    out.push_back(std::move(seg));
  }
  CHECK(pkt::gso_segment(s.packet, info, type, size, n, std::vector<uint8_t>(9000).data(), 9000) == 0);
  return out;
}

}  // namespace

TEST_CASE("packet: GSO splits TCP super-packets like the kernel does") {
  for (const bool v6 : {false, true}) {
    CAPTURE(v6);
    const Super s = tcp_super(v6, 5000);
    const uint8_t type = v6 ? pkt::kGsoTcpV6 : pkt::kGsoTcpV4;
    const IpInfo info = must_parse(s.packet);
    REQUIRE(pkt::gso_segments(s.packet, info, type, 1380) == 4);  // 1380 * 3 + 860
    const std::vector<Bytes> segs = segment_all(s, type, 1380);
    REQUIRE(segs.size() == 4);
    Bytes joined;
    for (size_t k = 0; k < segs.size(); ++k) {
      CAPTURE(k);
      const Bytes& g = segs[k];
      const size_t chunk = k < 3 ? 1380 : 860;
      REQUIRE(g.size() == s.hdr + chunk);
      const IpInfo gi = must_parse(g);
      CHECK(gi.len == g.size());
      CHECK(gi.l4 == info.l4);
      const size_t l4 = info.l4;
      if (v6) {
        CHECK(get16(&g[4]) == g.size() - 40);
        CHECK(std::equal(g.begin() + 40, g.begin() + 56, s.packet.begin() + 40));  // options header kept
      } else {
        CHECK(get16(&g[2]) == g.size());
        CHECK(get16(&g[4]) == 0x1000 + k);
        CHECK(get16(&g[6]) == 0x4000);  // DF kept, no fragment bits
        Bytes h(g.begin(), g.begin() + 20);
        h[10] = h[11] = 0;
        CHECK(get16(&g[10]) == ref_checksum(h));
      }
      CHECK(get16(&g[l4]) == 33000);
      CHECK(get16(&g[l4 + 2]) == 443);
      CHECK(get32(&g[l4 + 4]) == static_cast<uint32_t>(0xfffff000u + 1380 * k));  // wraps past 2^32
      CHECK(get32(&g[l4 + 8]) == 0x11223344);
      CHECK(g[l4 + 12] == s.packet[l4 + 12]);
      const uint8_t flags = g[l4 + 13];
      CHECK((flags & pkt::kTcpAck) != 0);
      CHECK(((flags & pkt::kTcpFin) != 0) == (k == 3));
      CHECK(((flags & 0x08) != 0) == (k == 3));
      CHECK(((flags & 0x80) != 0) == (k == 0));
      CHECK(std::equal(g.begin() + static_cast<std::ptrdiff_t>(l4) + 20, g.begin() + static_cast<std::ptrdiff_t>(s.hdr),
                       s.packet.begin() + static_cast<std::ptrdiff_t>(l4) + 20));  // TCP options copied
      const std::span<const uint8_t> seg = std::span<const uint8_t>(g).subspan(l4);
      CHECK(get16(&g[l4 + 16]) == ref_l4_checksum(v6, &g[v6 ? 8 : 12], &g[v6 ? 24 : 16], kTcp, seg));
      joined.insert(joined.end(), g.begin() + static_cast<std::ptrdiff_t>(s.hdr), g.end());
    }
    CHECK(joined == s.payload);
  }
}

TEST_CASE("packet: GSO edge sizes and the IPv4 ID wrap") {
  SUBCASE("payload an exact multiple of gso_size") {
    const Super s = tcp_super(false, 2760);
    const auto segs = segment_all(s, pkt::kGsoTcpV4, 1380);
    REQUIRE(segs.size() == 2);
    CHECK(segs[1].size() == s.hdr + 1380);
    CHECK((segs[1][20 + 13] & pkt::kTcpFin) != 0);
  }
  SUBCASE("payload smaller than one segment: one segment equal to the original") {
    const Super s = tcp_super(true, 100);
    const auto segs = segment_all(s, pkt::kGsoTcpV6, 1380);
    REQUIRE(segs.size() == 1);
    CHECK(segs[0] == s.packet);
  }
  SUBCASE("no payload at all: one segment") {
    const Super s = tcp_super(false, 0);
    const auto segs = segment_all(s, pkt::kGsoTcpV4, 1380);
    REQUIRE(segs.size() == 1);
    CHECK(segs[0] == s.packet);
  }
  SUBCASE("gso_size 1") {
    const Super s = tcp_super(false, 5);
    const auto segs = segment_all(s, pkt::kGsoTcpV4, 1);
    REQUIRE(segs.size() == 5);
    for (size_t k = 0; k < 5; ++k) CHECK(segs[k].back() == s.payload[k]);
  }
  SUBCASE("IPv4 ID wraps from 0xffff to 0") {
    const Super s = tcp_super(false, 3000, 0xffff);
    const auto segs = segment_all(s, pkt::kGsoTcpV4, 1000);
    REQUIRE(segs.size() == 3);
    CHECK(get16(&segs[0][4]) == 0xffff);
    CHECK(get16(&segs[1][4]) == 0x0000);
    CHECK(get16(&segs[2][4]) == 0x0001);
    for (const Bytes& g : segs) must_parse(g);
  }
  SUBCASE("the ECN bit in gso_type is accepted") {
    const Super s = tcp_super(false, 3000);
    const IpInfo info = must_parse(s.packet);
    CHECK(pkt::gso_segments(s.packet, info, pkt::kGsoTcpV4 | pkt::kGsoEcn, 1000) == 3);
  }
  SUBCASE("a buffer one byte short is refused") {
    const Super s = tcp_super(false, 3000);
    const IpInfo info = must_parse(s.packet);
    std::vector<uint8_t> out(s.hdr + 1000);
    CHECK(pkt::gso_segment(s.packet, info, pkt::kGsoTcpV4, 1000, 0, out.data(), out.size() - 1) == 0);
    CHECK(pkt::gso_segment(s.packet, info, pkt::kGsoTcpV4, 1000, 0, out.data(), out.size()) == out.size());
  }
}

TEST_CASE("packet: GSO splits UDP_L4 super-packets") {
  for (const bool v6 : {false, true}) {
    CAPTURE(v6);
    const Super s = udp_super(v6, 3000);
    const std::vector<Bytes> segs = segment_all(s, pkt::kGsoUdpL4, 1200);
    REQUIRE(segs.size() == 3);
    const size_t l4 = v6 ? 40 : 20;
    Bytes joined;
    for (size_t k = 0; k < segs.size(); ++k) {
      CAPTURE(k);
      const Bytes& g = segs[k];
      const size_t chunk = k < 2 ? 1200 : 600;
      REQUIRE(g.size() == s.hdr + chunk);
      must_parse(g);
      if (v6) {
        CHECK(get16(&g[4]) == g.size() - 40);
      } else {
        CHECK(get16(&g[2]) == g.size());
        CHECK(get16(&g[4]) == static_cast<uint16_t>(0xfffe + k));
        Bytes h(g.begin(), g.begin() + 20);
        h[10] = h[11] = 0;
        CHECK(get16(&g[10]) == ref_checksum(h));
      }
      CHECK(get16(&g[l4]) == 4500);
      CHECK(get16(&g[l4 + 2]) == 4500);
      CHECK(get16(&g[l4 + 4]) == 8 + chunk);
      const std::span<const uint8_t> seg = std::span<const uint8_t>(g).subspan(l4);
      CHECK(get16(&g[l4 + 6]) == ref_l4_checksum(v6, &g[v6 ? 8 : 12], &g[v6 ? 24 : 16], kUdp, seg));
      joined.insert(joined.end(), g.begin() + static_cast<std::ptrdiff_t>(s.hdr), g.end());
    }
    CHECK(joined == s.payload);
  }
}

TEST_CASE("packet: GSO sends a UDP segment whose checksum computes to zero as 0xffff") {
  for (const bool v6 : {false, true}) {
    CAPTURE(v6);
    Super s = udp_super(v6, 2400);
    const size_t l4 = v6 ? 40 : 20;
    const uint16_t first = get16(&segment_all(s, pkt::kGsoUdpL4, 1200)[0][l4 + 6]);
    REQUIRE(first != 0xffff);
    add_to_word(s.packet, s.hdr, first);  // the first payload word, which segment 0 carries
    const std::vector<Bytes> segs = segment_all(s, pkt::kGsoUdpL4, 1200);
    const Bytes& g = segs[0];
    REQUIRE(raw_udp_checksum(v6, &g[v6 ? 8 : 12], &g[v6 ? 24 : 16], Bytes(g.begin() + static_cast<std::ptrdiff_t>(l4), g.end())) == 0);
    CHECK(get16(&g[l4 + 6]) == 0xffff);
  }
}

TEST_CASE("packet: GSO refuses what it cannot split") {
  const Super t4 = tcp_super(false, 3000), t6 = tcp_super(true, 3000), u4 = udp_super(false, 3000);
  const IpInfo i4 = must_parse(t4.packet), i6 = must_parse(t6.packet), iu = must_parse(u4.packet);
  std::vector<uint8_t> out(9000);
  auto refused = [&](const Super& s, const IpInfo& i, uint8_t type, uint16_t size) {
    return pkt::gso_segments(s.packet, i, type, size) == 0 &&
           pkt::gso_segment(s.packet, i, type, size, 0, out.data(), out.size()) == 0;
  };
  CHECK(refused(t4, i4, pkt::kGsoTcpV4, 0));
  CHECK(refused(u4, iu, pkt::kGsoUdpL4, 0));
  CHECK(refused(u4, iu, pkt::kGsoTcpV4, 1000));  // TCP type, UDP packet
  CHECK(refused(t4, i4, pkt::kGsoUdpL4, 1000));  // UDP type, TCP packet
  CHECK(refused(t6, i6, pkt::kGsoTcpV4, 1000));  // v4 type on a v6 packet
  CHECK(refused(t4, i4, pkt::kGsoTcpV6, 1000));  // and the reverse
  for (uint8_t type : {pkt::kGsoNone, uint8_t{2}, pkt::kGsoUdp, uint8_t{6}, uint8_t{0x7f}, pkt::kGsoEcn}) {
    CAPTURE(int{type});
    CHECK(refused(t4, i4, type, 1000));
  }

  // A TCP data offset below 5 words.
  Super bad = t4;
  bad.packet[20 + 12] = 0x40;
  CHECK(refused(bad, must_parse(bad.packet), pkt::kGsoTcpV4, 1000));
  // A TCP data offset running past the packet.
  const Super tiny = tcp_super(false, 0);
  Super past = tiny;
  past.packet[20 + 12] = 0xf0;  // 60 bytes of header, 32 present
  CHECK(refused(past, must_parse(past.packet), pkt::kGsoTcpV4, 1000));

  // Fragments are not super-packets.
  const Bytes frag = ipv4(kA4, kB4, kUdp, udp(1, 2, pattern(3000)), {.frag = 0x2000});
  const Super f{frag, {}, 28};
  CHECK(refused(f, must_parse(frag), pkt::kGsoUdpL4, 1000));
}
