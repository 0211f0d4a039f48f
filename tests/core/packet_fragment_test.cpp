// tests/core/packet_fragment_test.cpp — IPv4 fragmentation by the gateway (packets without DF
// that exceed an egress MTU): fragment sizes, offsets, MF, header checksums, and that the
// fragments' data put back together is the original payload.
#include <doctest/doctest.h>

#include <vector>

#include "core/packet.hpp"

namespace wg::core::pkt {
namespace {

std::vector<uint8_t> udp4(size_t total, uint16_t frag_field, size_t ihl = 20) {
  std::vector<uint8_t> p(total);
  p[0] = static_cast<uint8_t>(0x40 | (ihl / 4));
  store16(&p[2], static_cast<uint16_t>(total));
  store16(&p[4], 0x1234);
  store16(&p[6], frag_field);
  p[8] = 64;
  p[9] = kProtoUdp;
  const uint8_t src[4] = {192, 0, 2, 1}, dst[4] = {198, 51, 100, 2};
  std::memcpy(&p[12], src, 4);
  std::memcpy(&p[16], dst, 4);
  for (size_t i = 20; i < ihl; ++i) p[i] = 1;  // NOP options
  for (size_t i = ihl; i < total; ++i) p[i] = static_cast<uint8_t>(i * 7);
  store16(&p[ihl + 4], static_cast<uint16_t>(total - ihl));
  store16(&p[10], fold(sum_bytes(p.data(), ihl)));
  return p;
}

TEST_CASE("packet: IPv4 without DF splits into 8-byte aligned fragments that reassemble") {
  for (uint32_t mtu : {576u, 1280u, 1420u, 1500u}) {
    const auto p = udp4(3000, 0);
    IpInfo info;
    REQUIRE(parse_ip(p, info) == IpError::None);
    const size_t n = ipv4_fragments(p, info, mtu);
    const size_t per = (mtu - 20) & ~size_t{7};
    CHECK(n == (2980 + per - 1) / per);
    std::vector<uint8_t> data;
    for (size_t i = 0; i < n; ++i) {
      uint8_t out[2048];
      const size_t len = ipv4_fragment(p, info, mtu, i, out, sizeof(out));
      REQUIRE(len > 20);
      CHECK(len <= mtu);
      IpInfo f;
      REQUIRE(parse_ip({out, len}, f) == IpError::None);  // includes the header checksum
      CHECK(f.len == len);
      CHECK(load16(out + 4) == 0x1234);  // same identification
      const uint16_t ff = load16(out + 6);
      CHECK((ff & 0x1fff) * 8 == data.size());
      CHECK(bool(ff & 0x2000) == (i + 1 < n));
      data.insert(data.end(), out + 20, out + len);
    }
    CHECK(data == std::vector<uint8_t>(p.begin() + 20, p.end()));
    CHECK(ipv4_fragment(p, info, mtu, n, nullptr, 0) == 0);
  }
}

TEST_CASE("packet: fragmenting a fragment keeps its offset and its MF") {
  const auto p = udp4(1000, 0x2000 | 100);  // MF, offset 800 bytes
  IpInfo info;
  REQUIRE(parse_ip(p, info) == IpError::None);
  REQUIRE(ipv4_fragments(p, info, 576) == 2);
  uint8_t out[1024];
  REQUIRE(ipv4_fragment(p, info, 576, 1, out, sizeof(out)) > 0);
  CHECK((load16(out + 6) & 0x1fff) == 100 + 552 / 8);
  CHECK((load16(out + 6) & 0x2000) != 0);  // the original's MF stays on its last piece
}

TEST_CASE("packet: no fragmentation with DF, with IP options, over a tiny MTU, or of IPv6") {
  IpInfo info;
  const auto df = udp4(2000, 0x4000);
  REQUIRE(parse_ip(df, info) == IpError::None);
  CHECK(ipv4_fragments(df, info, 1280) == 0);
  const auto opts = udp4(2000, 0, 24);
  REQUIRE(parse_ip(opts, info) == IpError::None);
  CHECK(ipv4_fragments(opts, info, 1280) == 0);
  const auto p = udp4(2000, 0);
  REQUIRE(parse_ip(p, info) == IpError::None);
  CHECK(ipv4_fragments(p, info, 27) == 0);
  uint8_t small[100];
  CHECK(ipv4_fragment(p, info, 1280, 0, small, sizeof(small)) == 0);  // out too small
}

}  // namespace
}  // namespace wg::core::pkt
