// tests/core/packet_test.cpp — core/packet: checksums against a reference add-and-fold, IPv4/IPv6
// parsing (extension headers, fragments, every error class, every truncation), TTL, ICMP errors
// and echo replies. Packets are built by hand (packet_craft.hpp), never with the code under
// test. Neighbour discovery and ARP: packet_nd_arp_test; checksum offload and GSO:
// packet_offload_test.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
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

std::span<const uint8_t> view(const Bytes& b) { return {b.data(), b.size()}; }

IpInfo must_parse(const Bytes& p) {
  IpInfo info;
  REQUIRE(pkt::parse_ip(view(p), info) == IpError::None);
  return info;
}

IpError parse_error(const Bytes& p) {
  IpInfo info;
  return pkt::parse_ip(view(p), info);
}

bool same16(const uint8_t* a, const Ip6& b) { return std::memcmp(a, b.data(), 16) == 0; }
bool same4(const uint8_t* a, const Ip4& b) { return std::memcmp(a, b.data(), 4) == 0; }

const Ip4 kA4 = ip4("10.0.0.1"), kB4 = ip4("10.0.0.2"), kUs4 = ip4("192.0.2.1");
const Ip6 kA6 = ip6("2001:db8::a"), kB6 = ip6("2001:db8::b"), kUs6 = ip6("2001:db8:ffff::1");

}  // namespace

// --- checksums ---

TEST_CASE("packet: IPv4 header checksum equals a reference add-and-fold") {
  // 192.168.0.1 -> 192.168.0.199, UDP, total length 115, DF, TTL 64; checksum field zero.
  uint8_t h[20] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                   0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
  // The reference, spelled out: ten big-endian words added in 32 bits, carries folded, inverted.
  uint32_t sum = 0;
  for (int i = 0; i < 20; i += 2) sum += static_cast<uint32_t>(h[i] << 8 | h[i + 1]);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  const auto want = static_cast<uint16_t>(~sum & 0xffff);
  CHECK(want == 0xb861);  // by hand: 0x2479c -> 0x479e -> ~ = 0xb861
  CHECK(pkt::fold(pkt::sum_bytes(h, 20)) == want);
  CHECK(ref_checksum(std::span<const uint8_t>(h, 20)) == want);
  pkt::store16(h + 10, want);
  CHECK(pkt::fold(pkt::sum_bytes(h, 20)) == 0);  // a correct header sums to all ones
}

TEST_CASE("packet: sum_bytes and fold match the reference on random data of every parity") {
  std::mt19937 rng(20240601);
  for (int round = 0; round < 400; ++round) {
    const size_t n = rng() % 1600;
    Bytes b(n);
    // Mostly 0xff so the 64-bit accumulator and the folds see plenty of carries.
    for (auto& x : b) x = rng() % 4 ? 0xff : static_cast<uint8_t>(rng());
    CAPTURE(n);
    CHECK(pkt::fold(pkt::sum_bytes(b.data(), n)) == ref_checksum(b));
    // Chaining at an even split gives the same sum as one pass.
    const size_t k = (n / 2) & ~size_t{1};
    CHECK(pkt::fold(pkt::sum_bytes(b.data() + k, n - k, pkt::sum_bytes(b.data(), k))) == ref_checksum(b));
  }
  // Super-packet sizes, starting at every alignment.
  for (size_t off = 0; off < 4; ++off) {
    Bytes big(65536 + off);
    for (auto& x : big) x = rng() % 8 ? 0xff : static_cast<uint8_t>(rng());
    const size_t n = 65535 - rng() % 3;
    CAPTURE(off);
    CHECK(pkt::fold(pkt::sum_bytes(big.data() + off, n)) ==
          ref_checksum(std::span<const uint8_t>(big.data() + off, n)));
  }
  CHECK(pkt::fold(pkt::sum_bytes(nullptr, 0)) == 0xffff);
  const uint8_t odd[3] = {0x12, 0x34, 0x56};  // 0x1234 + 0x5600 = 0x6834
  CHECK(pkt::fold(pkt::sum_bytes(odd, 3)) == static_cast<uint16_t>(~0x6834));
}

TEST_CASE("packet: pseudo_sum matches a pseudo-header written out byte by byte") {
  std::mt19937 rng(7);
  for (int round = 0; round < 200; ++round) {
    const bool v6 = round % 2;
    uint8_t src[16], dst[16];
    for (auto& x : src) x = static_cast<uint8_t>(rng());
    for (auto& x : dst) x = static_cast<uint8_t>(rng());
    const uint8_t proto = round % 3 ? kTcp : kUdp;
    Bytes seg = pattern(20 + rng() % 1400, static_cast<uint8_t>(rng()));
    seg[checksum_offset(proto)] = seg[checksum_offset(proto) + 1] = 0;
    const uint32_t ps =
        pkt::pseudo_sum(v6 ? Family::V6 : Family::V4, src, dst, proto, static_cast<uint32_t>(seg.size()));
    CAPTURE(round);
    CHECK(pkt::fold(pkt::sum_bytes(seg.data(), seg.size(), ps)) ==
          ref_checksum(concat({pseudo_header(v6, src, dst, proto, seg.size()), seg})));
  }
}

TEST_CASE("packet: update_checksum agrees with a full recomputation (RFC 1624)") {
  std::mt19937 rng(99);
  for (int round = 0; round < 2000; ++round) {
    Bytes h(20);
    for (auto& x : h) x = static_cast<uint8_t>(rng());
    h[10] = h[11] = 0;
    put16(&h[10], ref_checksum(h));
    const size_t word = 2 * (rng() % 10);
    if (word == 10) continue;  // the checksum itself
    const uint16_t old_word = get16(&h[word]);
    const uint16_t new_word = round % 5 == 0 ? static_cast<uint16_t>(old_word - 1) : static_cast<uint16_t>(rng());
    put16(&h[word], new_word);
    const uint16_t incremental = pkt::update_checksum(get16(&h[10]), old_word, new_word);
    h[10] = h[11] = 0;
    CAPTURE(round);
    CHECK(incremental == ref_checksum(h));
  }
}

// --- virtio-net and Ethernet ---

TEST_CASE("packet: virtio-net header fields are little endian") {
  const uint8_t raw[10] = {0x01, 0x81, 0x36, 0x00, 0x64, 0x05, 0x22, 0x00, 0x10, 0x00};
  const pkt::VnetHeader h = pkt::read_vnet(raw);
  CHECK(h.flags == pkt::kVnetNeedsCsum);
  CHECK(h.gso_type == (pkt::kGsoTcpV4 | pkt::kGsoEcn));
  CHECK(h.hdr_len == 0x36);
  CHECK(h.gso_size == 1380);
  CHECK(h.csum_start == 34);
  CHECK(h.csum_offset == 16);
  uint8_t out[12];
  std::memset(out, 0xaa, sizeof out);
  pkt::write_vnet_none(out);
  for (int i = 0; i < 10; ++i) CHECK(out[i] == 0);
  CHECK(out[10] == 0xaa);  // exactly kVnetLen bytes written
}

TEST_CASE("packet: parse_eth and write_eth") {
  const pkt::Mac dst{0x02, 0, 0, 0, 0, 0x02}, src{0x02, 0, 0, 0, 0, 0x01};
  Bytes f(60, 0x5a);
  pkt::write_eth(f.data(), dst, src, pkt::kEtherIpv6);
  CHECK(Bytes(f.begin(), f.begin() + 14) ==
        Bytes{0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x86, 0xdd});
  const auto e = pkt::parse_eth(f);
  REQUIRE(e);
  CHECK(e->dst == dst);
  CHECK(e->src == src);
  CHECK(e->type == pkt::kEtherIpv6);
  CHECK(e->payload.data() == f.data() + 14);
  CHECK(e->payload.size() == 46);

  CHECK(pkt::parse_eth(std::span<uint8_t>(f.data(), 13)) == std::nullopt);
  CHECK(pkt::parse_eth(std::span<uint8_t>(f.data(), 14))->payload.empty());
  f[12] = 0x05;  // 802.3: a length (0x05dd), not an ethertype
  CHECK(pkt::parse_eth(f) == std::nullopt);
  CHECK(pkt::is_multicast(pkt::kBroadcast));
  CHECK(pkt::is_multicast(pkt::Mac{0x33, 0x33, 0, 0, 0, 1}));
  CHECK_FALSE(pkt::is_multicast(src));
}

// Ports carry untagged frames only: 802.1Q (0x8100) and 802.1ad (0x88a8) tags are refused.
TEST_CASE("packet: parse_eth refuses VLAN-tagged frames as documented") {
  Bytes f(64, 0);
  pkt::write_eth(f.data(), pkt::kBroadcast, pkt::Mac{2, 0, 0, 0, 0, 1}, 0x8100);
  pkt::store16(f.data() + 14, 0x0064);  // VID 100
  pkt::store16(f.data() + 16, pkt::kEtherIpv4);
  CHECK(pkt::parse_eth(f) == std::nullopt);
  pkt::store16(f.data() + 12, 0x88a8);
  CHECK(pkt::parse_eth(f) == std::nullopt);
}

// --- parse_ip: valid packets ---

TEST_CASE("packet: parse_ip on IPv4 TCP, UDP and ICMP, Ethernet padding trimmed") {
  SUBCASE("TCP SYN+ACK with 6 bytes of frame padding") {
    Bytes p = ipv4(kA4, kB4, kTcp, tcp(40000, 443, 1, 2, pkt::kTcpSyn | pkt::kTcpAck, {}), {.ttl = 17});
    REQUIRE(p.size() == 40);
    p.resize(46, 0);  // a 60-byte minimum frame
    const IpInfo i = must_parse(p);
    CHECK(i.family == Family::V4);
    CHECK(i.src == p.data() + 12);
    CHECK(i.dst == p.data() + 16);
    CHECK(same4(i.src, kA4));
    CHECK(same4(i.dst, kB4));
    CHECK(i.len == 40);
    CHECK(i.proto == kTcp);
    CHECK(i.l4 == 20);
    CHECK(i.ttl == 17);
    CHECK(i.dont_fragment);
    CHECK_FALSE(i.fragment);
    CHECK(i.has_ports);
    CHECK(i.sport == 40000);
    CHECK(i.dport == 443);
    CHECK(i.tcp_flags == (pkt::kTcpSyn | pkt::kTcpAck));
    CHECK_FALSE(i.has_icmp);
  }
  SUBCASE("UDP after 8 bytes of IP options, DF clear") {
    const Bytes p = ipv4(kA4, kB4, kUdp, udp(53, 5353, pattern(30)), {.frag = 0, .options = 8});
    const IpInfo i = must_parse(p);
    CHECK(i.len == 66);
    CHECK(i.l4 == 28);
    CHECK(i.proto == kUdp);
    CHECK(i.has_ports);
    CHECK(i.sport == 53);
    CHECK(i.dport == 5353);
    CHECK(i.tcp_flags == 0);
    CHECK_FALSE(i.dont_fragment);
  }
  SUBCASE("ICMP echo request") {
    const Bytes p = ipv4(kA4, kB4, kIcmp, icmp(pkt::kIcmp4EchoRequest, 0, 0x00010002, pattern(56)));
    const IpInfo i = must_parse(p);
    CHECK(i.proto == kIcmp);
    CHECK(i.has_icmp);
    CHECK(i.icmp_type == pkt::kIcmp4EchoRequest);
    CHECK(i.icmp_code == 0);
    CHECK_FALSE(i.has_ports);
  }
  SUBCASE("ICMPv6 inside IPv4 is not ICMP") {
    const Bytes p = ipv4(kA4, kB4, kIcmp6, icmp(128, 0, 0, pattern(8)));
    const IpInfo i = must_parse(p);
    CHECK(i.l4 == 20);
    CHECK_FALSE(i.has_icmp);
  }
  SUBCASE("a TCP header cut short leaves the ports out") {
    const Bytes p = ipv4(kA4, kB4, kTcp, Bytes(12, 0x11));
    const IpInfo i = must_parse(p);
    CHECK(i.l4 == 20);
    CHECK(i.len == 32);
    CHECK_FALSE(i.has_ports);
  }
  SUBCASE("first fragment has ports, later fragment has no transport header") {
    const Bytes first = ipv4(kA4, kB4, kUdp, udp(1000, 2000, pattern(200)), {.frag = 0x2000});
    const IpInfo f = must_parse(first);
    CHECK(f.fragment);
    CHECK(f.l4 == 20);
    CHECK(f.has_ports);
    CHECK(f.dport == 2000);
    const Bytes later = ipv4(kA4, kB4, kUdp, pattern(200), {.frag = 0x2000 | 26, .l4_checksum = false});
    const IpInfo l = must_parse(later);
    CHECK(l.fragment);
    CHECK(l.l4 == 0);
    CHECK(l.proto == kUdp);
    CHECK_FALSE(l.has_ports);
    const Bytes last = ipv4(kA4, kB4, kUdp, pattern(200), {.frag = 52, .l4_checksum = false});  // MF clear
    CHECK(must_parse(last).fragment);
    CHECK(must_parse(last).l4 == 0);
  }
}

TEST_CASE("packet: parse_ip on IPv6 with and without extension headers") {
  SUBCASE("plain TCP, padded") {
    Bytes p = ipv6(kA6, kB6, kTcp, tcp(22, 51000, 9, 9, pkt::kTcpFin | pkt::kTcpAck, pattern(3)), {.hops = 1});
    const size_t len = p.size();
    p.resize(len + 5, 0);
    const IpInfo i = must_parse(p);
    CHECK(i.family == Family::V6);
    CHECK(i.src == p.data() + 8);
    CHECK(i.dst == p.data() + 24);
    CHECK(same16(i.src, kA6));
    CHECK(same16(i.dst, kB6));
    CHECK(i.len == len);
    CHECK(i.l4 == 40);
    CHECK(i.proto == kTcp);
    CHECK(i.ttl == 1);
    CHECK(i.dont_fragment);
    CHECK_FALSE(i.fragment);
    CHECK(i.has_ports);
    CHECK(i.sport == 22);
    CHECK(i.dport == 51000);
    CHECK(i.tcp_flags == (pkt::kTcpFin | pkt::kTcpAck));
  }
  SUBCASE("ICMPv6 echo") {
    const Bytes p = ipv6(kA6, kB6, kIcmp6, icmp(pkt::kIcmp6EchoRequest, 0, 7, pattern(10)));
    const IpInfo i = must_parse(p);
    CHECK(i.has_icmp);
    CHECK(i.icmp_type == pkt::kIcmp6EchoRequest);
    CHECK_FALSE(i.has_ports);
  }
  SUBCASE("ICMP (v4) inside IPv6 is not ICMP") {
    CHECK_FALSE(must_parse(ipv6(kA6, kB6, kIcmp, icmp(8, 0, 0, {}))).has_icmp);
  }
  SUBCASE("no next header") {
    const IpInfo i = must_parse(ipv6(kA6, kB6, kNoNext, pattern(16)));
    CHECK(i.proto == kNoNext);
    CHECK(i.l4 == 0);
    CHECK_FALSE(i.has_ports);
  }
  SUBCASE("hop-by-hop, routing, destination options, first fragment, UDP") {
    const V6 o{.ext = {ext_options(kHopByHop, 8), ext_routing(2), ext_options(kDestOpts, 16),
                       ext_fragment(0, true, 0xabcdef)}};
    const Bytes p = ipv6(kA6, kB6, kUdp, udp(4500, 4501, pattern(100)), o);
    const IpInfo i = must_parse(p);
    CHECK(i.l4 == 40 + 8 + 40 + 16 + 8);
    CHECK(i.proto == kUdp);
    CHECK(i.fragment);
    CHECK(i.has_ports);
    CHECK(i.sport == 4500);
    CHECK(i.dport == 4501);
    CHECK(i.len == p.size());
  }
  SUBCASE("later fragment: protocol known, no transport header") {
    const V6 o{.ext = {ext_options(kHopByHop, 8), ext_fragment(150, false, 1)}, .l4_checksum = false};
    const IpInfo i = must_parse(ipv6(kA6, kB6, kUdp, pattern(64), o));
    CHECK(i.fragment);
    CHECK(i.l4 == 0);
    CHECK(i.proto == kUdp);
    CHECK_FALSE(i.has_ports);
  }
  SUBCASE("atomic fragment (offset 0, no more fragments) still counts as a fragment") {
    const IpInfo i = must_parse(ipv6(kA6, kB6, kTcp, tcp(1, 2, 3, 4, 0, {}), {.ext = {ext_fragment(0, false, 5)}}));
    CHECK(i.fragment);
    CHECK(i.l4 == 48);
    CHECK(i.has_ports);
  }
  SUBCASE("authentication header is skipped in 4-byte units") {
    Bytes ah(16, 0);
    ah[1] = 2;  // (2 + 2) * 4 = 16 bytes
    const IpInfo i = must_parse(ipv6(kA6, kB6, kTcp, tcp(7, 8, 0, 0, 0, {}), {.ext = {{51, ah}}}));
    CHECK(i.l4 == 56);
    CHECK(i.proto == kTcp);
    CHECK(i.dport == 8);
  }
  SUBCASE("eight extension headers are allowed") {
    V6 o;
    for (int k = 0; k < 8; ++k) o.ext.push_back(ext_options(kDestOpts, 8));
    const IpInfo i = must_parse(ipv6(kA6, kB6, kUdp, udp(1, 2, {}), o));
    CHECK(i.l4 == 40 + 64);
    CHECK(i.has_ports);
  }
}

// --- parse_ip: each error class ---

TEST_CASE("packet: parse_ip reports each kind of malformed packet") {
  const Bytes v4 = ipv4(kA4, kB4, kUdp, udp(1, 2, pattern(20)));
  const Bytes v6 = ipv6(kA6, kB6, kUdp, udp(1, 2, pattern(20)));

  CHECK(parse_error({}) == IpError::Short);
  CHECK(parse_error(Bytes(v4.begin(), v4.begin() + 19)) == IpError::Short);
  CHECK(parse_error(Bytes(v6.begin(), v6.begin() + 39)) == IpError::Short);

  for (uint8_t version : {0, 5, 7, 15}) {
    Bytes p = v4;
    p[0] = static_cast<uint8_t>(version << 4 | 5);
    CAPTURE(int{version});
    CHECK(parse_error(p) == IpError::Version);
  }

  Bytes p = v4;
  p[0] = 0x44;  // IHL 16 bytes
  CHECK(parse_error(p) == IpError::HeaderLength);
  p[0] = 0x4f;  // IHL 60 bytes, packet 48
  CHECK(parse_error(p) == IpError::HeaderLength);

  p = v4;
  put16(&p[2], 19);  // total length below the header length
  CHECK(parse_error(p) == IpError::TotalLength);
  p = v4;
  put16(&p[2], static_cast<uint32_t>(v4.size() + 1));  // longer than what arrived
  CHECK(parse_error(p) == IpError::TotalLength);

  p = v4;
  p[8] ^= 1;  // TTL changed, checksum not
  CHECK(parse_error(p) == IpError::Checksum);
  p = v4;
  p[11] ^= 0x80;
  CHECK(parse_error(p) == IpError::Checksum);
  p = v4;
  p[20] ^= 0xff;  // a transport byte: the IP header checksum does not cover it
  CHECK(parse_error(p) == IpError::None);

  p = v6;
  put16(&p[4], 0);  // zero payload length: jumbograms are not taken
  CHECK(parse_error(p) == IpError::TotalLength);
  p = v6;
  put16(&p[4], static_cast<uint32_t>(v6.size() - 39));
  CHECK(parse_error(p) == IpError::TotalLength);

  SUBCASE("nine extension headers are too many") {
    V6 o;
    for (int k = 0; k < 9; ++k) o.ext.push_back(ext_options(kDestOpts, 8));
    CHECK(parse_error(ipv6(kA6, kB6, kUdp, udp(1, 2, {}), o)) == IpError::ExtHeaders);
  }
  SUBCASE("an extension header longer than the payload") {
    Bytes q = ipv6(kA6, kB6, kNoNext, {}, {.ext = {ext_options(kHopByHop, 8)}});
    q[41] = 1;  // now claims 16 bytes, 8 present
    CHECK(parse_error(q) == IpError::ExtHeaders);
  }
  SUBCASE("an extension header with fewer than 8 bytes left") {
    Bytes q = ipv6(kA6, kB6, kHopByHop, pattern(6));  // next header says HBH, 6 bytes follow
    CHECK(parse_error(q) == IpError::ExtHeaders);
    q = ipv6(kA6, kB6, kFragment, pattern(7));
    CHECK(parse_error(q) == IpError::ExtHeaders);
  }
  SUBCASE("a routing header that runs past the end") {
    Bytes q = ipv6(kA6, kB6, kUdp, udp(1, 2, {}), {.ext = {ext_routing(1)}});
    q[41] = 4;  // 40 bytes claimed, 24 + 8 present
    CHECK(parse_error(q) == IpError::ExtHeaders);
  }
}

// Cutting a valid packet anywhere never reads past the cut, and the result is either the
// error the cut explains or, once nothing of the packet is missing, the full packet's parse.
TEST_CASE("packet: parse_ip on every truncation of valid packets") {
  const std::vector<Bytes> packets = {
      ipv4(kA4, kB4, kTcp, tcp(1, 2, 3, 4, pkt::kTcpAck, pattern(60))),
      ipv4(kA4, kB4, kUdp, udp(1, 2, pattern(9)), {.options = 12}),
      ipv4(kA4, kB4, kIcmp, icmp(8, 0, 1, {})),
      ipv6(kA6, kB6, kTcp, tcp(1, 2, 3, 4, pkt::kTcpSyn, pattern(33))),
      ipv6(kA6, kB6, kUdp, udp(1, 2, pattern(5)),
           {.ext = {ext_options(kHopByHop, 8), ext_routing(1), ext_options(kDestOpts, 24), ext_fragment(0, true, 9)}}),
      ipv6(kA6, kB6, kIcmp6, icmp(128, 0, 0, pattern(4)), {.ext = {ext_fragment(3, true, 9)}}),
  };
  for (const Bytes& full : packets) {
    const IpInfo whole = must_parse(full);
    const bool v6 = (full[0] >> 4) == 6;
    const size_t ihl = v6 ? 40 : static_cast<size_t>(full[0] & 0xf) * 4;
    for (size_t n = 0; n <= full.size(); ++n) {
      // A heap copy of exactly n bytes, so ASan catches any read past the cut.
      const std::vector<uint8_t> cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
      IpInfo i;
      i.len = 12345;
      const IpError e = pkt::parse_ip(cut, i);
      CAPTURE(full.size());
      CAPTURE(n);
      if (n == full.size()) {
        REQUIRE(e == IpError::None);
        CHECK(i.len == whole.len);
        CHECK(i.l4 == whole.l4);
        CHECK(i.proto == whole.proto);
        CHECK(i.has_ports == whole.has_ports);
        CHECK(i.sport == whole.sport);
        CHECK(i.has_icmp == whole.has_icmp);
        CHECK(i.fragment == whole.fragment);
        continue;
      }
      if (n == 0 || n < (v6 ? 40u : 20u))
        CHECK(e == IpError::Short);
      else if (!v6 && n < ihl)
        CHECK(e == IpError::HeaderLength);
      else
        CHECK(e == IpError::TotalLength);
      // A failed parse leaves nothing behind that looks like a packet.
      CHECK(i.len == 0);
    }
  }
}

// --- TTL ---

TEST_CASE("packet: decrement_ttl keeps the IPv4 header checksum exact") {
  std::mt19937 rng(3);
  int checked = 0;
  for (unsigned ttl = 1; ttl <= 255; ++ttl) {
    for (int k = 0; k < 24; ++k) {
      const auto id = static_cast<uint16_t>(k < 4 ? k * 0x5555 : rng());
      const uint8_t tos = static_cast<uint8_t>(rng());
      const Ip4 src{static_cast<uint8_t>(rng()), static_cast<uint8_t>(rng()), 0xff, 0xff};
      Bytes p = ipv4(src, kB4, static_cast<uint8_t>(rng()), pattern(8),
                     {.tos = tos, .id = id, .frag = static_cast<uint16_t>(rng() & 0x4000), .ttl = static_cast<uint8_t>(ttl),
                      .options = static_cast<size_t>(k % 3) * 4, .l4_checksum = false});
      const size_t ihl = static_cast<size_t>(p[0] & 0xf) * 4;
      const Bytes before = p;
      pkt::decrement_ttl(p.data(), Family::V4);
      CAPTURE(ttl);
      CAPTURE(id);
      REQUIRE(p[8] == ttl - 1);
      Bytes only_ttl_and_checksum = before;  // nothing else may change
      only_ttl_and_checksum[8] = p[8];
      only_ttl_and_checksum[10] = p[10];
      only_ttl_and_checksum[11] = p[11];
      CHECK(p == only_ttl_and_checksum);
      Bytes h(p.begin(), p.begin() + static_cast<std::ptrdiff_t>(ihl));
      const uint16_t stored = get16(&h[10]);
      h[10] = h[11] = 0;
      CHECK(stored == ref_checksum(h));
      ++checked;
    }
  }
  CHECK(checked == 255 * 24);  // every combination ran

  Bytes v6 = ipv6(kA6, kB6, kUdp, udp(1, 2, {}), {.hops = 2});
  const Bytes before = v6;
  pkt::decrement_ttl(v6.data(), Family::V6);
  CHECK(v6[7] == 1);
  v6[7] = 2;
  CHECK(v6 == before);  // nothing else changed
}

TEST_CASE("packet: address classes") {
  CHECK(pkt::is_link_local6(ip6("fe80::1").data()));
  CHECK(pkt::is_link_local6(ip6("febf:ffff::1").data()));
  CHECK_FALSE(pkt::is_link_local6(ip6("fec0::1").data()));
  CHECK_FALSE(pkt::is_link_local6(ip6("fe00::1").data()));
  CHECK(pkt::is_multicast6(ip6("ff02::1").data()));
  CHECK_FALSE(pkt::is_multicast6(ip6("fe80::1").data()));
  CHECK(pkt::is_unspecified6(ip6("::").data()));
  CHECK_FALSE(pkt::is_unspecified6(ip6("::1").data()));
  CHECK_FALSE(pkt::is_unspecified6(ip6("8000::").data()));
}

// --- ICMP errors ---

namespace {

// Checks the parts of an ICMPv6 error that do not depend on the case; returns its length.
size_t check_icmp6_error(const std::vector<uint8_t>& out, size_t n, const Bytes& orig, uint8_t type, uint8_t code,
                         uint32_t param) {
  REQUIRE(n >= 48);
  REQUIRE(n <= pkt::kIcmp6ErrorMax);
  const Bytes e(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n));
  const IpInfo i = must_parse(e);
  CHECK(i.len == n);
  CHECK(i.l4 == 40);
  CHECK(i.proto == kIcmp6);
  CHECK(same16(i.src, kUs6));
  CHECK(std::memcmp(i.dst, orig.data() + 8, 16) == 0);  // back to the original source
  CHECK(i.icmp_type == type);
  CHECK(i.icmp_code == code);
  CHECK(get32(&e[44]) == param);
  // The checksum, recomputed over a pseudo-header written out by hand.
  CHECK(get16(&e[42]) == ref_l4_checksum(true, &e[8], &e[24], kIcmp6, std::span<const uint8_t>(e).subspan(40)));
  CHECK(pkt::icmp6_checksum_ok(e, i));
  // The quote: the original from its first byte, as much as fits.
  const size_t quote = n - 48;
  CHECK(quote == std::min(orig.size(), pkt::kIcmp6ErrorMax - 48));
  CHECK(std::equal(e.begin() + 48, e.end(), orig.begin()));
  return n;
}

}  // namespace

TEST_CASE("packet: build_icmp_error for IPv6") {
  std::vector<uint8_t> out(pkt::kIcmpErrorMax + 64, 0xee);
  const Bytes big = ipv6(kA6, kB6, kUdp, udp(500, 4500, pattern(1452)));  // 1500 bytes
  REQUIRE(big.size() == 1500);

  for (uint32_t mtu : {1280u, 1420u}) {
    CAPTURE(mtu);
    const size_t n = pkt::build_icmp_error(out.data(), Family::V6, kUs6.data(), big, pkt::kIcmp6TooBig, 0, mtu);
    CHECK(check_icmp6_error(out, n, big, pkt::kIcmp6TooBig, 0, mtu) == 1280);
    CHECK(out[1280] == 0xee);  // nothing written past the packet
  }

  SUBCASE("a small packet is quoted whole, padding left out") {
    Bytes small = ipv6(kA6, kB6, kTcp, tcp(1, 2, 3, 4, pkt::kTcpSyn, {}));
    const size_t len = small.size();
    small.resize(len + 6, 0x99);
    const size_t n = pkt::build_icmp_error(out.data(), Family::V6, kUs6.data(), small, pkt::kIcmp6DestUnreach, 4, 0);
    check_icmp6_error(out, n, Bytes(small.begin(), small.begin() + static_cast<std::ptrdiff_t>(len)),
                      pkt::kIcmp6DestUnreach, 4, 0);
    CHECK(n == 48 + len);
  }
  SUBCASE("an echo request may get an error, an ICMPv6 error may not") {
    const Bytes echo = ipv6(kA6, kB6, kIcmp6, icmp(pkt::kIcmp6EchoRequest, 0, 1, pattern(20)));
    CHECK(pkt::build_icmp_error(out.data(), Family::V6, kUs6.data(), echo, pkt::kIcmp6TimeExceeded, 0, 0) > 0);
    for (uint8_t t : {pkt::kIcmp6DestUnreach, pkt::kIcmp6TooBig, pkt::kIcmp6TimeExceeded, pkt::kIcmp6ParamProblem,
                      uint8_t{127}}) {
      const Bytes err = ipv6(kA6, kB6, kIcmp6, icmp(t, 0, 0, pattern(48)));
      CAPTURE(int{t});
      CHECK(pkt::build_icmp_error(out.data(), Family::V6, kUs6.data(), err, pkt::kIcmp6TooBig, 0, 1280) == 0);
    }
    // An ICMPv6 header too short to tell is treated as an error too.
    const Bytes stub = ipv6(kA6, kB6, kIcmp6, Bytes{128, 0, 0, 0});
    CHECK(pkt::build_icmp_error(out.data(), Family::V6, kUs6.data(), stub, pkt::kIcmp6TooBig, 0, 1280) == 0);
  }
  SUBCASE("no error to a multicast or unspecified source") {
    for (const char* src : {"ff02::1", "ff0e::1234", "::"}) {
      const Bytes p = ipv6(ip6(src), kB6, kUdp, udp(1, 2, pattern(10)));
      CAPTURE(src);
      CHECK(pkt::build_icmp_error(out.data(), Family::V6, kUs6.data(), p, pkt::kIcmp6TooBig, 0, 1280) == 0);
      CHECK(pkt::build_icmp_error(out.data(), Family::V6, kUs6.data(), p, pkt::kIcmp6DestUnreach, 0, 0) == 0);
    }
  }
  SUBCASE("a packet to a multicast group gets only Packet Too Big") {
    const Bytes p = ipv6(kA6, ip6("ff05::2"), kUdp, udp(1, 2, pattern(10)));
    CHECK(pkt::build_icmp_error(out.data(), Family::V6, kUs6.data(), p, pkt::kIcmp6TimeExceeded, 0, 0) == 0);
    CHECK(pkt::build_icmp_error(out.data(), Family::V6, kUs6.data(), p, pkt::kIcmp6DestUnreach, 0, 0) == 0);
    const size_t n = pkt::build_icmp_error(out.data(), Family::V6, kUs6.data(), p, pkt::kIcmp6TooBig, 0, 1280);
    check_icmp6_error(out, n, p, pkt::kIcmp6TooBig, 0, 1280);
  }
  SUBCASE("malformed or other-family input gets nothing") {
    Bytes bad = big;
    put16(&bad[4], 2000);
    CHECK(pkt::build_icmp_error(out.data(), Family::V6, kUs6.data(), bad, pkt::kIcmp6TooBig, 0, 1280) == 0);
    const Bytes v4 = ipv4(kA4, kB4, kUdp, udp(1, 2, {}));
    CHECK(pkt::build_icmp_error(out.data(), Family::V6, kUs6.data(), v4, pkt::kIcmp6TooBig, 0, 1280) == 0);
    CHECK(pkt::build_icmp_error(out.data(), Family::V4, kUs4.data(), big, pkt::kIcmp4DestUnreach, 4, 1280) == 0);
  }
}

namespace {

size_t check_icmp4_error(const std::vector<uint8_t>& out, size_t n, const Bytes& orig, uint8_t type, uint8_t code,
                         uint32_t rest) {
  REQUIRE(n >= 28);
  REQUIRE(n <= pkt::kIcmp4ErrorMax);
  const Bytes e(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n));
  const IpInfo i = must_parse(e);  // also checks the header checksum
  CHECK(i.len == n);
  CHECK(i.l4 == 20);
  CHECK(i.proto == kIcmp);
  CHECK(e[1] == 0xc0);  // internetwork control
  CHECK(same4(i.src, kUs4));
  CHECK(std::memcmp(i.dst, orig.data() + 12, 4) == 0);
  Bytes h(e.begin(), e.begin() + 20);
  h[10] = h[11] = 0;
  CHECK(get16(&e[10]) == ref_checksum(h));
  CHECK(i.icmp_type == type);
  CHECK(i.icmp_code == code);
  CHECK(get32(&e[24]) == rest);
  CHECK(get16(&e[22]) == ref_l4_checksum(false, nullptr, nullptr, kIcmp, std::span<const uint8_t>(e).subspan(20)));
  CHECK(n - 28 == std::min(orig.size(), pkt::kIcmp4ErrorMax - 28));
  CHECK(std::equal(e.begin() + 28, e.end(), orig.begin()));
  return n;
}

}  // namespace

TEST_CASE("packet: build_icmp_error for IPv4") {
  std::vector<uint8_t> out(pkt::kIcmpErrorMax, 0xee);
  const Bytes big = ipv4(kA4, kB4, kUdp, udp(500, 4500, pattern(1472)));
  REQUIRE(big.size() == 1500);

  SUBCASE("fragmentation needed carries the MTU in the low 16 bits") {
    size_t n = pkt::build_icmp_error(out.data(), Family::V4, kUs4.data(), big, pkt::kIcmp4DestUnreach, 4, 1420);
    CHECK(check_icmp4_error(out, n, big, pkt::kIcmp4DestUnreach, 4, 1420) == 576);
    CHECK(out[24] == 0);
    CHECK(out[25] == 0);
    CHECK(out[26] == 0x05);
    CHECK(out[27] == 0x8c);
    CHECK(out[576] == 0xee);
    n = pkt::build_icmp_error(out.data(), Family::V4, kUs4.data(), big, pkt::kIcmp4DestUnreach, 4, 0x12345678);
    check_icmp4_error(out, n, big, pkt::kIcmp4DestUnreach, 4, 0x5678);
  }
  SUBCASE("time exceeded about a small packet quotes it whole") {
    Bytes small = ipv4(kA4, kB4, kTcp, tcp(1, 2, 3, 4, pkt::kTcpSyn, {}));
    const size_t len = small.size();
    small.resize(46, 0);
    const size_t n = pkt::build_icmp_error(out.data(), Family::V4, kUs4.data(), small, pkt::kIcmp4TimeExceeded, 0, 0);
    check_icmp4_error(out, n, Bytes(small.begin(), small.begin() + static_cast<std::ptrdiff_t>(len)),
                      pkt::kIcmp4TimeExceeded, 0, 0);
    CHECK(n == 28 + len);
  }
  SUBCASE("only the first fragment gets an error") {
    const Bytes first = ipv4(kA4, kB4, kUdp, udp(1, 2, pattern(100)), {.frag = 0x2000});
    CHECK(pkt::build_icmp_error(out.data(), Family::V4, kUs4.data(), first, pkt::kIcmp4DestUnreach, 1, 0) > 0);
    const Bytes later = ipv4(kA4, kB4, kUdp, pattern(100), {.frag = 0x2000 | 13, .l4_checksum = false});
    CHECK(pkt::build_icmp_error(out.data(), Family::V4, kUs4.data(), later, pkt::kIcmp4DestUnreach, 1, 0) == 0);
  }
  SUBCASE("echo may get an error, an ICMP error may not") {
    for (uint8_t t : {pkt::kIcmp4EchoRequest, pkt::kIcmp4EchoReply}) {
      const Bytes p = ipv4(kA4, kB4, kIcmp, icmp(t, 0, 1, pattern(8)));
      CHECK(pkt::build_icmp_error(out.data(), Family::V4, kUs4.data(), p, pkt::kIcmp4TimeExceeded, 0, 0) > 0);
    }
    for (uint8_t t : {pkt::kIcmp4DestUnreach, pkt::kIcmp4TimeExceeded, pkt::kIcmp4ParamProblem, uint8_t{5}}) {
      const Bytes p = ipv4(kA4, kB4, kIcmp, icmp(t, 0, 0, pattern(28)));
      CAPTURE(int{t});
      CHECK(pkt::build_icmp_error(out.data(), Family::V4, kUs4.data(), p, pkt::kIcmp4DestUnreach, 4, 1400) == 0);
    }
    const Bytes stub = ipv4(kA4, kB4, kIcmp, Bytes{8, 0, 0, 0});
    CHECK(pkt::build_icmp_error(out.data(), Family::V4, kUs4.data(), stub, pkt::kIcmp4DestUnreach, 4, 1400) == 0);
  }
  SUBCASE("no error about broadcast, multicast or zero addresses") {
    for (const char* special : {"255.255.255.255", "224.0.0.5", "239.1.2.3", "0.0.0.0"}) {
      CAPTURE(special);
      const Bytes from = ipv4(ip4(special), kB4, kUdp, udp(1, 2, pattern(10)));
      CHECK(pkt::build_icmp_error(out.data(), Family::V4, kUs4.data(), from, pkt::kIcmp4DestUnreach, 3, 0) == 0);
      const Bytes to = ipv4(kA4, ip4(special), kUdp, udp(1, 2, pattern(10)));
      CHECK(pkt::build_icmp_error(out.data(), Family::V4, kUs4.data(), to, pkt::kIcmp4DestUnreach, 3, 0) == 0);
    }
    const Bytes ok = ipv4(ip4("223.255.255.255"), ip4("198.51.100.1"), kUdp, udp(1, 2, pattern(10)));
    CHECK(pkt::build_icmp_error(out.data(), Family::V4, kUs4.data(), ok, pkt::kIcmp4DestUnreach, 3, 0) > 0);
  }
  SUBCASE("a bad header checksum gets nothing") {
    Bytes bad = big;
    bad[8] ^= 1;
    CHECK(pkt::build_icmp_error(out.data(), Family::V4, kUs4.data(), bad, pkt::kIcmp4DestUnreach, 4, 1420) == 0);
  }
}

// --- echo ---

TEST_CASE("packet: echo_to_reply for IPv4") {
  Bytes p = ipv4(kA4, kB4, kIcmp, icmp(pkt::kIcmp4EchoRequest, 0, 0xbeef0007, pattern(56)), {.ttl = 3, .options = 4});
  const Bytes request = p;
  const IpInfo i = must_parse(p);
  REQUIRE(pkt::echo_to_reply(p, i, kUs4.data()));
  REQUIRE(p.size() == request.size());
  const IpInfo r = must_parse(p);  // header checksum valid again
  CHECK(same4(r.src, kUs4));
  CHECK(same4(r.dst, kA4));
  CHECK(r.icmp_type == pkt::kIcmp4EchoReply);
  CHECK(r.icmp_code == 0);
  CHECK(r.ttl > 3);  // a fresh TTL, not the request's
  Bytes h(p.begin(), p.begin() + 24);
  h[10] = h[11] = 0;
  CHECK(get16(&p[10]) == ref_checksum(h));
  const std::span<const uint8_t> m = std::span<const uint8_t>(p).subspan(24);
  CHECK(get16(&p[26]) == ref_l4_checksum(false, nullptr, nullptr, kIcmp, m));
  CHECK(get32(&p[28]) == 0xbeef0007);  // identifier and sequence kept
  CHECK(std::equal(p.begin() + 32, p.end(), request.begin() + 32));

  // Not a request: untouched.
  Bytes reply = p;
  CHECK_FALSE(pkt::echo_to_reply(reply, must_parse(reply), kUs4.data()));
  CHECK(reply == p);
  Bytes udp4 = ipv4(kA4, kB4, kUdp, udp(1, 2, {}));
  const Bytes udp4_before = udp4;
  CHECK_FALSE(pkt::echo_to_reply(udp4, must_parse(udp4), kUs4.data()));
  CHECK(udp4 == udp4_before);
  Bytes frag = ipv4(kA4, kB4, kIcmp, icmp(8, 0, 1, pattern(40)), {.frag = 0x2000});
  CHECK_FALSE(pkt::echo_to_reply(frag, must_parse(frag), kUs4.data()));
}

TEST_CASE("packet: echo_to_reply for IPv6") {
  Bytes p = ipv6(kA6, kB6, kIcmp6, icmp(pkt::kIcmp6EchoRequest, 0, 0x12340001, pattern(1000)), {.hops = 9});
  p.resize(p.size() + 3, 0);  // padding: not part of the packet or its checksum
  const Bytes request = p;
  const IpInfo i = must_parse(p);
  REQUIRE(pkt::echo_to_reply(p, i, kUs6.data()));
  const IpInfo r = must_parse(p);
  CHECK(r.len == i.len);
  CHECK(same16(r.src, kUs6));
  CHECK(same16(r.dst, kA6));
  CHECK(r.icmp_type == pkt::kIcmp6EchoReply);
  CHECK(r.ttl > 9);
  const std::span<const uint8_t> m = std::span<const uint8_t>(p).subspan(40, r.len - 40);
  CHECK(get16(&p[42]) == ref_l4_checksum(true, &p[8], &p[24], kIcmp6, m));
  CHECK(pkt::icmp6_checksum_ok(p, r));
  CHECK(std::equal(p.begin() + 44, p.end(), request.begin() + 44));

  Bytes with_ext = ipv6(kA6, kB6, kIcmp6, icmp(128, 0, 1, {}), {.ext = {ext_options(kHopByHop, 8)}});
  const Bytes with_ext_before = with_ext;
  CHECK_FALSE(pkt::echo_to_reply(with_ext, must_parse(with_ext), kUs6.data()));
  CHECK(with_ext == with_ext_before);
  Bytes nd = ipv6(kA6, kB6, kIcmp6, icmp(pkt::kNdNeighborSolicit, 0, 0, Bytes(16, 0)));
  CHECK_FALSE(pkt::echo_to_reply(nd, must_parse(nd), kUs6.data()));
}
