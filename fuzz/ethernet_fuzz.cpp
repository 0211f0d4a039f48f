// fuzz/ethernet_fuzz.cpp — frames as a TAP with IFF_VNET_HDR delivers them: a virtio-net header,
// then Ethernet. parse_eth, then by ethertype parse_arp or parse_ip, and for an accepted IP packet
// everything a gateway port may do with it: parse_nd, echo_to_reply, build_icmp_error (type
// picked by hdr_len), complete_checksum (NEEDS_CSUM) and GSO with the header's type and size.
#include "packet_fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace wg::fuzzing::packets;
  if (size < pkt::kVnetLen) return 0;
  const pkt::VnetHeader h = pkt::read_vnet(data);
  Bytes frame(data + pkt::kVnetLen, data + size);  // exactly sized, so ASan sees any overread
  const auto eth = pkt::parse_eth(frame);
  if (!eth) {
    const uint16_t type = frame.size() < pkt::kEthLen ? 0 : craft::get16(frame.data() + 12);
    check(frame.size() < pkt::kEthLen || type < 0x0600 || type == 0x8100 || type == 0x88a8,
          "parse_eth: refused a frame that is long enough, not 802.3 and not VLAN-tagged");
    return 0;
  }
  check(eth->payload.data() == frame.data() + pkt::kEthLen && eth->payload.size() == frame.size() - pkt::kEthLen,
        "parse_eth: payload");
  check(eth->type == craft::get16(frame.data() + 12), "parse_eth: type");
  if (eth->type == pkt::kEtherArp) {
    check_arp(eth->payload);
    return 0;
  }
  if (eth->type != pkt::kEtherIpv4 && eth->type != pkt::kEtherIpv6) return 0;

  const std::span<const uint8_t> ip = eth->payload;
  pkt::IpInfo i;
  if (pkt::parse_ip(ip, i) != pkt::IpError::None) return 0;
  check_ip_info(ip, i);
  check_nd(ip, i);
  check_echo(ip);

  const bool v6 = i.family == wg::core::Family::V6;
  static constexpr uint8_t kType4[] = {pkt::kIcmp4DestUnreach, pkt::kIcmp4DestUnreach, pkt::kIcmp4TimeExceeded,
                                       pkt::kIcmp4ParamProblem};
  static constexpr uint8_t kType6[] = {pkt::kIcmp6DestUnreach, pkt::kIcmp6TooBig, pkt::kIcmp6TimeExceeded,
                                       pkt::kIcmp6ParamProblem};
  const unsigned sel = h.hdr_len & 3;
  const uint8_t type = v6 ? kType6[sel] : kType4[sel];
  const uint8_t code = sel == 1 && !v6 ? 4 : 0;  // v4 "fragmentation needed"
  const uint32_t param = sel == 1 ? (h.hdr_len & 4 ? 1280u : 1420u) : 0u;
  check_icmp_error(ip, i, type, code, param);

  if (h.flags & pkt::kVnetNeedsCsum) check_complete_checksum(ip, h);
  check_gso(ip, i, h.gso_type, h.gso_size);
  return 0;
}
