// fuzz/ip_fuzz.cpp — raw IPv4/IPv6 packets as a TUN device delivers them, behind four control
// bytes: GSO type, GSO size (2 bytes, big endian) and the ICMP error to build. parse_ip, then
// for an accepted packet decrement_ttl on a copy, build_icmp_error, echo_to_reply and GSO.
#include "packet_fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace wg::fuzzing::packets;
  if (size < 4) return 0;
  const uint8_t gso_type = data[0];
  const auto gso_size = static_cast<uint16_t>(data[1] << 8 | data[2]);
  const uint8_t icmp_sel = data[3];
  const Bytes p(data + 4, data + size);  // exactly sized, so ASan sees any overread

  pkt::IpInfo i;
  i.len = 77;
  const pkt::IpError e = pkt::parse_ip(p, i);
  if (e != pkt::IpError::None) {
    // A refusal says why in a way the first bytes confirm.
    if (p.empty()) check(e == pkt::IpError::Short, "parse_ip: empty input not Short");
    if (!p.empty() && (p[0] >> 4) != 4 && (p[0] >> 4) != 6) check(e == pkt::IpError::Version, "parse_ip: version");
    check(e != pkt::IpError::Checksum || (p[0] >> 4) == 4, "parse_ip: checksum error on IPv6");
    check(e != pkt::IpError::ExtHeaders || (p[0] >> 4) == 6, "parse_ip: extension header error on IPv4");
    check(e == pkt::IpError::ExtHeaders || i.len == 0, "parse_ip: filled len on failure");
    return 0;
  }
  check_ip_info(p, i);
  const bool v6 = i.family == wg::core::Family::V6;

  // TTL: only the TTL (and the IPv4 checksum) change, and the header stays valid.
  if (i.ttl > 0) {
    Bytes copy = p;
    pkt::decrement_ttl(copy.data(), i.family);
    pkt::IpInfo d;
    check(pkt::parse_ip(copy, d) == pkt::IpError::None, "decrement_ttl: header no longer valid");
    check(d.ttl == i.ttl - 1, "decrement_ttl: ttl");
    for (size_t k = 0; k < copy.size(); ++k) {
      const bool allowed = v6 ? k == 7 : (k == 8 || k == 10 || k == 11);
      if (!allowed) check(copy[k] == p[k], "decrement_ttl: changed another byte");
    }
  }

  // Both families' builders see every packet: the other family must refuse it.
  const uint8_t type = v6 ? (icmp_sel & 3) + 1 : static_cast<uint8_t>(icmp_sel & 1 ? 3 : 11);
  const uint8_t code = static_cast<uint8_t>((icmp_sel >> 2) & 7);
  const uint32_t param = icmp_sel & 0x80 ? 0x00010000u | gso_size : gso_size;
  check_icmp_error(p, i, type, code, param);
  Bytes out(pkt::kIcmpErrorMax);
  const uint8_t* ours = v6 ? kOurs4.data() : kOurs6.data();
  check(pkt::build_icmp_error(out.data(), v6 ? wg::core::Family::V4 : wg::core::Family::V6, ours, p, type, code,
                              param) == 0,
        "build_icmp_error: answered a packet of the other family");

  check_nd(p, i);
  check_echo(p);
  check_gso(p, i, gso_type, gso_size);
  return 0;
}
