// tests/core/coalesce_test.cpp — core/coalesce: TCP segments joined into GSO super-packets.
// The round trip is the reference: a super-packet split by pkt::gso_segment (whose segments'
// checksums are checked against a from-scratch computation) must join back into the same bytes,
// and splitting the joined packet again must give the very segments that went in.
#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <vector>

#include "core/coalesce.hpp"
#include "core/packet.hpp"
#include "core/packet_craft.hpp"

namespace {

namespace pkt = wg::core::pkt;
using namespace wg::testing::craft;
using wg::core::Coalescer;

const Ip4 kA4 = ip4("192.0.2.1"), kB4 = ip4("198.51.100.2");
const Ip6 kA6 = ip6("2001:db8:1::1"), kB6 = ip6("2001:db8:2::2");
constexpr size_t kFront = 64;  // headroom in front of every test packet

// Packets live in their own buffers with headroom, as the data path hands them over.
struct Packet {
  Bytes buf;
  size_t len = 0;
  uint8_t* ip() { return buf.data() + kFront; }
};
Packet hold(const Bytes& ip, size_t l2 = 0, uint8_t mac_seed = 0) {
  Packet p;
  p.buf.assign(kFront + ip.size() + 16, 0xee);
  std::copy(ip.begin(), ip.end(), p.buf.begin() + kFront);
  for (size_t i = 0; i < l2; ++i) p.buf[kFront - l2 + i] = static_cast<uint8_t>(mac_seed + i);
  p.len = ip.size();
  return p;
}

// Collects each write as one contiguous byte string (virtio-net header first).
struct Writes final : wg::core::GatherSink {
  std::vector<Bytes> out;
  void emit(std::span<const iovec> parts) override {
    Bytes b;
    for (const iovec& v : parts) {
      const auto* p = static_cast<const uint8_t*>(v.iov_base);
      b.insert(b.end(), p, p + v.iov_len);
    }
    out.push_back(std::move(b));
  }
};

// A TSO super-packet: headers once, a long payload, the checksum left partial like a sender's
// stack leaves it.
Bytes super_packet(bool v6, size_t payload, const Bytes& options, uint8_t flags = pkt::kTcpAck) {
  Bytes seg = tcp(40000, 5201, 1000, 777, flags, pattern(payload, 5), options);
  Bytes p = v6 ? ipv6(kA6, kB6, kTcp, seg, {.l4_checksum = false}) : ipv4(kA4, kB4, kTcp, seg, {.l4_checksum = false});
  const size_t l4 = v6 ? 40 : 20;
  const Bytes ph = pseudo_header(v6, &p[v6 ? 8 : 12], &p[v6 ? 24 : 16], kTcp, p.size() - l4);
  put16(&p[l4 + 16], static_cast<uint16_t>(~ref_checksum(ph)));
  return p;
}

std::vector<Bytes> split(const Bytes& sp, uint8_t gso_type, uint16_t mss) {
  pkt::IpInfo info;
  REQUIRE(pkt::parse_ip(std::span<const uint8_t>(sp), info) == pkt::IpError::None);
  const size_t n = pkt::gso_segments(sp, info, gso_type, mss);
  REQUIRE(n > 0);
  std::vector<Bytes> segs;
  for (size_t i = 0; i < n; ++i) {
    Bytes s(2048);
    const size_t len = pkt::gso_segment(sp, info, gso_type, mss, i, s.data(), s.size());
    REQUIRE(len > 0);
    s.resize(len);
    segs.push_back(std::move(s));
  }
  return segs;
}

bool tcp_checksum_ok(const Bytes& p) {
  const bool v6 = (p[0] >> 4) == 6;
  const size_t l4 = v6 ? 40 : 20;
  return l4_checksum_ok(v6, &p[v6 ? 8 : 12], &p[v6 ? 24 : 16], kTcp, std::span<const uint8_t>(p).subspan(l4));
}

Writes run(std::vector<Packet>& in, Coalescer& c) {
  Writes w;
  for (Packet& p : in) c.add(p.ip(), p.len, w);
  c.drain(w);
  return w;
}

}  // namespace

TEST_CASE("coalesce: segments of one flow join back into the super-packet they came from") {
  for (bool v6 : {false, true})
    for (const Bytes& opts : {Bytes{}, Bytes{1, 1, 8, 10, 0, 0, 0, 9, 0, 0, 0, 3}}) {
      CAPTURE(v6);
      CAPTURE(opts.size());
      const uint16_t mss = v6 ? 1348 : 1368;
      const Bytes sp = super_packet(v6, 40000, opts);
      const uint8_t type = v6 ? pkt::kGsoTcpV6 : pkt::kGsoTcpV4;
      const std::vector<Bytes> segs = split(sp, type, mss);
      REQUIRE(segs.size() == 30);
      std::vector<Packet> in;
      for (const Bytes& s : segs) {
        REQUIRE(tcp_checksum_ok(s));  // each segment against the reference computation
        in.push_back(hold(s));
      }
      Coalescer c;
      Writes w = run(in, c);
      REQUIRE(w.out.size() == 1);
      const Bytes& got = w.out[0];
      const pkt::VnetHeader h = pkt::read_vnet(got.data());
      CHECK(h.flags == pkt::kVnetNeedsCsum);
      CHECK(h.gso_type == type);
      CHECK(h.gso_size == mss);
      const size_t l4 = v6 ? 40 : 20;
      CHECK(h.hdr_len == l4 + 20 + opts.size());
      CHECK(h.csum_start == l4);
      CHECK(h.csum_offset == 16);
      Bytes ip(got.begin() + pkt::kVnetLen, got.end());
      // Same bytes as the original super-packet, checksum seed included (IPv4: the header
      // checksum is valid again for the new length).
      CHECK(ip == sp);
      // Completing the checksum as the device would gives the reference checksum.
      pkt::VnetHeader eth = h;
      eth.csum_start = static_cast<uint16_t>(h.csum_start + pkt::kEthLen);
      REQUIRE(pkt::complete_checksum(ip, eth));
      CHECK(tcp_checksum_ok(ip));
      // And splitting the joined packet again yields the segments that went in.
      Bytes again(got.begin() + pkt::kVnetLen, got.end());
      CHECK(split(again, type, h.gso_size) == segs);
      CHECK(c.counters().super_packets == 1);
      CHECK(c.counters().segments_joined == 30);
    }
}

TEST_CASE("coalesce: PSH on the last segment ends the super-packet and is kept") {
  const Bytes sp = super_packet(false, 5000, {}, pkt::kTcpAck | 0x08);
  const std::vector<Bytes> segs = split(sp, pkt::kGsoTcpV4, 1000);
  REQUIRE(segs.size() == 5);
  CHECK((segs[0][33] & 0x08) == 0);  // the split puts PSH on the last only
  CHECK((segs[4][33] & 0x08) != 0);
  std::vector<Packet> in;
  for (const Bytes& s : segs) in.push_back(hold(s));
  // A next segment of the same flow after the PSH starts a new write.
  Bytes next = ipv4(kA4, kB4, kTcp, tcp(40000, 5201, 6000, 777, pkt::kTcpAck, pattern(1000, 5)));
  in.push_back(hold(next));
  Coalescer c;
  Writes w = run(in, c);
  REQUIRE(w.out.size() == 2);
  CHECK(Bytes(w.out[0].begin() + pkt::kVnetLen, w.out[0].end()) == sp);
  CHECK(pkt::read_vnet(w.out[1].data()).gso_type == pkt::kGsoNone);
  CHECK(Bytes(w.out[1].begin() + pkt::kVnetLen, w.out[1].end()) == next);
}

TEST_CASE("coalesce: what must not join leaves alone, in order within its flow") {
  auto seg = [](uint32_t seq, size_t n, uint8_t flags = pkt::kTcpAck, uint32_t ack = 777, uint16_t sport = 40000) {
    // IDs count up like a sender's (the split of a joined packet numbers them so).
    return ipv4(kA4, kB4, kTcp, tcp(sport, 5201, seq, ack, flags, pattern(n, 5)), {.id = static_cast<uint16_t>(seq / 100)});
  };
  struct Case {
    std::string name;
    std::vector<Bytes> packets;
    std::vector<size_t> writes;  // segments per write, in write order
  };
  const std::vector<Case> cases = {
      {"sequence gap", {seg(1000, 100), seg(1100, 100), seg(1300, 100)}, {2, 1}},
      {"retransmission", {seg(1000, 100), seg(1100, 100), seg(1000, 100)}, {2, 1}},
      {"different ACK", {seg(1000, 100), seg(1100, 100, pkt::kTcpAck, 778)}, {1, 1}},
      {"larger than the first", {seg(1000, 100), seg(1100, 200)}, {1, 1}},
      {"short one ends it", {seg(1000, 100), seg(1100, 50), seg(1150, 100)}, {2, 1}},
      {"FIN alone", {seg(1000, 100), seg(1100, 100, pkt::kTcpAck | pkt::kTcpFin)}, {1, 1}},
      {"pure ACK alone", {seg(1000, 100), seg(1100, 0), seg(1100, 100)}, {1, 1, 1}},
      {"SYN alone", {seg(1000, 0, pkt::kTcpSyn)}, {1}},
      {"UDP passes", {ipv4(kA4, kB4, kUdp, udp(1, 2, pattern(100)))}, {1}},
      {"IPv4 options", {ipv4(kA4, kB4, kTcp, tcp(1, 2, 1000, 1, pkt::kTcpAck, pattern(100)), {.options = 4}),
                        ipv4(kA4, kB4, kTcp, tcp(1, 2, 1100, 1, pkt::kTcpAck, pattern(100)), {.options = 4})},
       {1, 1}},
      {"IPv4 fragment", {ipv4(kA4, kB4, kTcp, tcp(1, 2, 1000, 1, pkt::kTcpAck, pattern(100)), {.frag = 0x2000}),
                         ipv4(kA4, kB4, kTcp, tcp(1, 2, 1100, 1, pkt::kTcpAck, pattern(100)), {.frag = 0x2000})},
       {1, 1}},
      {"different TTL", {ipv4(kA4, kB4, kTcp, tcp(1, 2, 1000, 1, pkt::kTcpAck, pattern(100)), {.ttl = 64}),
                         ipv4(kA4, kB4, kTcp, tcp(1, 2, 1100, 1, pkt::kTcpAck, pattern(100)), {.ttl = 63})},
       {1, 1}},
  };
  for (const Case& k : cases) {
    CAPTURE(k.name);
    std::vector<Packet> in;
    for (const Bytes& b : k.packets) in.push_back(hold(b));
    Coalescer c;
    Writes w = run(in, c);
    REQUIRE(w.out.size() == k.writes.size());
    // Reassemble each write's segments and compare with the inputs, in order.
    size_t next = 0;
    for (size_t i = 0; i < w.out.size(); ++i) {
      const pkt::VnetHeader h = pkt::read_vnet(w.out[i].data());
      Bytes ip(w.out[i].begin() + pkt::kVnetLen, w.out[i].end());
      if (k.writes[i] == 1) {
        CHECK(h.gso_type == pkt::kGsoNone);
        CHECK(h.flags == 0);
        CHECK(ip == k.packets[next]);
      } else {
        CHECK(h.gso_type == pkt::kGsoTcpV4);
        CHECK(split(ip, h.gso_type, h.gso_size) == std::vector<Bytes>(k.packets.begin() + static_cast<long>(next),
                                                                      k.packets.begin() + static_cast<long>(next + k.writes[i])));
      }
      next += k.writes[i];
    }
    CHECK(next == k.packets.size());
  }
}

TEST_CASE("coalesce: interleaved flows each join, a ninth flow pushes the oldest out") {
  std::vector<Bytes> a, b;
  for (uint32_t i = 0; i < 4; ++i) {
    a.push_back(ipv6(kA6, kB6, kTcp, tcp(1111, 80, 5000 + 500 * i, 9, pkt::kTcpAck, pattern(500, 1))));
    b.push_back(ipv6(kA6, kB6, kTcp, tcp(2222, 80, 9000 + 500 * i, 9, pkt::kTcpAck, pattern(500, 2))));
  }
  std::vector<Packet> in;
  for (size_t i = 0; i < 4; ++i) {
    in.push_back(hold(a[i]));
    in.push_back(hold(b[i]));
  }
  Coalescer c;
  Writes w = run(in, c);
  REQUIRE(w.out.size() == 2);
  CHECK(split(Bytes(w.out[0].begin() + pkt::kVnetLen, w.out[0].end()), pkt::kGsoTcpV6, 500) == a);
  CHECK(split(Bytes(w.out[1].begin() + pkt::kVnetLen, w.out[1].end()), pkt::kGsoTcpV6, 500) == b);

  std::vector<Packet> many;
  for (uint16_t f = 0; f < Coalescer::kMaxFlows + 1; ++f)
    many.push_back(hold(ipv4(kA4, kB4, kTcp, tcp(static_cast<uint16_t>(3000 + f), 80, 1, 1, pkt::kTcpAck, pattern(10)))));
  Coalescer d;
  Writes w2;
  for (Packet& p : many) d.add(p.ip(), p.len, w2);
  CHECK(w2.out.size() == 1);  // the oldest left when the ninth arrived
  CHECK(get16(&w2.out[0][pkt::kVnetLen + 20]) == 3000);
  d.drain(w2);
  CHECK(w2.out.size() == Coalescer::kMaxFlows + 1);
}

TEST_CASE("coalesce: at most 64 segments and 65535 bytes per super-packet") {
  std::vector<Packet> in;
  for (uint32_t i = 0; i < 100; ++i)
    in.push_back(hold(ipv4(kA4, kB4, kTcp, tcp(1, 2, 100 * i, 1, pkt::kTcpAck, pattern(100)))));
  Coalescer c;
  Writes w = run(in, c);
  REQUIRE(w.out.size() == 2);
  CHECK(split(Bytes(w.out[0].begin() + pkt::kVnetLen, w.out[0].end()), pkt::kGsoTcpV4, 100).size() == 64);
  CHECK(split(Bytes(w.out[1].begin() + pkt::kVnetLen, w.out[1].end()), pkt::kGsoTcpV4, 100).size() == 36);

  std::vector<Packet> big;
  for (uint32_t i = 0; i < 60; ++i)
    big.push_back(hold(ipv4(kA4, kB4, kTcp, tcp(1, 2, 1400 * i, 1, pkt::kTcpAck, pattern(1400)))));
  Coalescer d;
  Writes w2 = run(big, d);
  REQUIRE(w2.out.size() == 2);
  const size_t first_len = w2.out[0].size() - pkt::kVnetLen;
  CHECK(first_len <= 65535);
  CHECK(first_len + 1400 > 65535);  // it took as many as fit
}

TEST_CASE("coalesce: port frames join only behind the same Ethernet header") {
  const Bytes s1 = ipv4(kA4, kB4, kTcp, tcp(1, 2, 0, 1, pkt::kTcpAck, pattern(100)));
  const Bytes s2 = ipv4(kA4, kB4, kTcp, tcp(1, 2, 100, 1, pkt::kTcpAck, pattern(100)));
  const Bytes s3 = ipv4(kA4, kB4, kTcp, tcp(1, 2, 200, 1, pkt::kTcpAck, pattern(100)));
  std::vector<Packet> in = {hold(s1, 14, 1), hold(s2, 14, 1), hold(s3, 14, 9)};
  Coalescer c(pkt::kEthLen);
  Writes w = run(in, c);
  REQUIRE(w.out.size() == 2);
  const pkt::VnetHeader h = pkt::read_vnet(w.out[0].data());
  CHECK(h.gso_type == pkt::kGsoTcpV4);
  CHECK(h.hdr_len == 14 + 40);
  CHECK(h.csum_start == 14 + 20);
  CHECK(w.out[0][pkt::kVnetLen] == 1);  // the Ethernet header went along
  CHECK(w.out[1][pkt::kVnetLen] == 9);
  CHECK(Bytes(w.out[1].begin() + pkt::kFrameHeader, w.out[1].end()) == s3);
}

TEST_CASE("coalesce: switched off, every packet leaves alone with a zero header") {
  std::vector<Packet> in;
  for (uint32_t i = 0; i < 3; ++i) in.push_back(hold(ipv4(kA4, kB4, kTcp, tcp(1, 2, 100 * i, 1, pkt::kTcpAck, pattern(100)))));
  Coalescer c;
  c.set_enabled(false);
  Writes w = run(in, c);
  REQUIRE(w.out.size() == 3);
  for (const Bytes& b : w.out) CHECK(pkt::read_vnet(b.data()).gso_type == pkt::kGsoNone);
}

TEST_CASE("coalesce: UDP datagrams of one flow and size join into a UDP_L4 super-packet when enabled") {
  for (bool v6 : {false, true}) {
    CAPTURE(v6);
    const size_t l4 = v6 ? 40 : 20;
    // The super-packet a sender's USO would hand over: UDP length and checksum seed for the whole.
    Bytes sp = v6 ? ipv6(kA6, kB6, kUdp, udp(5000, 5201, pattern(10 * 1200 + 33, 7)), {.l4_checksum = false})
                  : ipv4(kA4, kB4, kUdp, udp(5000, 5201, pattern(10 * 1200 + 33, 7)), {.l4_checksum = false});
    const Bytes ph = pseudo_header(v6, &sp[v6 ? 8 : 12], &sp[v6 ? 24 : 16], kUdp, sp.size() - l4);
    put16(&sp[l4 + 6], static_cast<uint16_t>(~ref_checksum(ph)));
    const std::vector<Bytes> segs = split(sp, pkt::kGsoUdpL4, 1200);
    REQUIRE(segs.size() == 11);
    std::vector<Packet> in;
    for (const Bytes& s : segs) {
      REQUIRE(l4_checksum_ok(v6, &s[v6 ? 8 : 12], &s[v6 ? 24 : 16], kUdp, std::span<const uint8_t>(s).subspan(l4)));
      in.push_back(hold(s));
    }
    Coalescer c;
    c.set_udp(true);
    Writes w = run(in, c);
    REQUIRE(w.out.size() == 1);
    const pkt::VnetHeader h = pkt::read_vnet(w.out[0].data());
    CHECK(h.gso_type == pkt::kGsoUdpL4);
    CHECK(h.gso_size == 1200);
    CHECK(h.hdr_len == l4 + 8);
    CHECK(h.csum_start == l4);
    CHECK(h.csum_offset == 6);
    const Bytes ip(w.out[0].begin() + pkt::kVnetLen, w.out[0].end());
    CHECK(ip == sp);
    CHECK(split(ip, pkt::kGsoUdpL4, 1200) == segs);
  }
  // Without set_udp, or with a size change, datagrams leave alone or the group ends.
  const Bytes d1 = ipv4(kA4, kB4, kUdp, udp(1, 2, pattern(100)), {.id = 1});
  const Bytes d2 = ipv4(kA4, kB4, kUdp, udp(1, 2, pattern(100)), {.id = 2});
  const Bytes big = ipv4(kA4, kB4, kUdp, udp(1, 2, pattern(200)), {.id = 3});
  std::vector<Packet> in = {hold(d1), hold(d2), hold(big)};
  Coalescer off;
  CHECK(run(in, off).out.size() == 3);
  std::vector<Packet> in2 = {hold(d1), hold(d2), hold(big)};
  Coalescer on;
  on.set_udp(true);
  Writes w = run(in2, on);
  REQUIRE(w.out.size() == 2);
  CHECK(split(Bytes(w.out[0].begin() + pkt::kVnetLen, w.out[0].end()), pkt::kGsoUdpL4, 100) == std::vector<Bytes>{d1, d2});
  CHECK(Bytes(w.out[1].begin() + pkt::kVnetLen, w.out[1].end()) == big);
}
