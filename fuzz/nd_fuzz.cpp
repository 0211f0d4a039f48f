// fuzz/nd_fuzz.cpp — neighbour discovery: a control byte (fuzz/packet_fuzz.hpp kNd*) picks the
// IPv6 source, destination, hop limit, forced NS/NA type and whether the ICMPv6 checksum is
// fixed; the rest is the ICMPv6 message. parse_nd must agree with an RFC 4861 reference, never
// return a multicast target, and an accepted NS must get an NA that parses back.
#include "packet_fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace wg::fuzzing::packets;
  if (size < 1) return 0;
  const Bytes p = nd_packet(data[0], std::span<const uint8_t>(data + 1, size - 1));
  pkt::IpInfo i;
  if (pkt::parse_ip(p, i) != pkt::IpError::None) return 0;  // only an empty message: no payload
  check_ip_info(p, i);
  check_nd(p, i);
  const auto v = pkt::parse_nd(p, i);
  if (v) {
    check(v->target[0] != 0xff, "parse_nd: multicast target");
    check(i.ttl == 255 && i.icmp_code == 0, "parse_nd: hop limit or code");
    check(pkt::icmp6_checksum_ok(p, i), "parse_nd: bad checksum accepted");
  }
  check_echo(p);
  check_icmp_error(p, i, pkt::kIcmp6DestUnreach, 3, 0);
  return 0;
}
