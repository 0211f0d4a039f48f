// fuzz/packet_fuzz.hpp — what the core/packet fuzz targets (ethernet, ip, nd, arp) hold every
// parse and build to: parse_ip's promises about a packet it accepts, ICMP errors and echo replies
// that parse again with valid checksums, GSO segments that add up to the super-packet. Checksums
// are verified with the reference in tests/core/packet_craft.hpp, not with core/packet's own.
// Also the input shaping shared with make_corpus (nd_packet), so seeds mean the same in both.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <span>
#include <vector>

#include "core/packet.hpp"
#include "core/packet_craft.hpp"

namespace wg::fuzzing::packets {

namespace pkt = wg::core::pkt;
namespace craft = wg::testing::craft;
using wg::core::Family;
using Bytes = std::vector<uint8_t>;

[[noreturn]] inline void fail(const char* what) {
  std::fprintf(stderr, "packet fuzz invariant violated: %s\n", what);
  std::fflush(stderr);
  __builtin_trap();
}
inline void check(bool ok, const char* what) {
  if (!ok) fail(what);
}

inline constexpr craft::Ip4 kOurs4{192, 0, 2, 1};
inline constexpr craft::Ip6 kOurs6{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

inline bool is_v6(const pkt::IpInfo& i) { return i.family == Family::V6; }

// The transport checksum of an IP packet parse_ip accepted, checked with the reference.
inline bool transport_checksum_ok(std::span<const uint8_t> p, const pkt::IpInfo& i) {
  if (i.l4 == 0 || i.l4 > i.len) return false;
  return craft::l4_checksum_ok(is_v6(i), i.src, i.dst, i.proto, p.subspan(i.l4, i.len - i.l4));
}

// Everything parse_ip promises about a packet it accepted.
inline void check_ip_info(std::span<const uint8_t> p, const pkt::IpInfo& i) {
  const bool v6 = is_v6(i);
  check(i.family == Family::V4 || v6, "parse_ip: no family");
  check(i.len <= p.size(), "parse_ip: len past the input");
  check(i.len >= (v6 ? 40u : 20u), "parse_ip: len shorter than a header");
  check(i.l4 <= i.len, "parse_ip: l4 past len");
  check(i.src == p.data() + (v6 ? 8 : 12) && i.dst == p.data() + (v6 ? 24 : 16), "parse_ip: address pointers");
  check(i.ttl == p[v6 ? 7 : 8], "parse_ip: ttl");
  if (v6) {
    check(i.dont_fragment, "parse_ip: IPv6 without DF");
    check(i.l4 == 0 || i.l4 >= 40, "parse_ip: IPv6 l4 inside the fixed header");
    check(i.l4 != 0 || i.fragment || i.proto == pkt::kProtoNone6, "parse_ip: IPv6 l4 missing");
  } else {
    const size_t ihl = static_cast<size_t>(p[0] & 0xf) * 4;
    const uint16_t frag = craft::get16(p.data() + 6);
    check(ihl >= 20 && ihl <= i.len, "parse_ip: accepted a bad IHL");
    check(i.len == craft::get16(p.data() + 2), "parse_ip: IPv4 len is not the total length");
    check(craft::ref_checksum(p.first(ihl)) == 0, "parse_ip: accepted a bad IPv4 header checksum");
    check(i.proto == p[9], "parse_ip: IPv4 proto");
    check(i.l4 == ((frag & 0x1fff) ? 0 : ihl), "parse_ip: IPv4 l4");
    check(i.fragment == ((frag & 0x3fff) != 0), "parse_ip: IPv4 fragment flag");
    check(i.dont_fragment == ((frag & 0x4000) != 0), "parse_ip: IPv4 DF flag");
  }
  check(!(i.has_ports && i.has_icmp), "parse_ip: ports and ICMP at once");
  if (i.l4 == 0) check(!i.has_ports && !i.has_icmp, "parse_ip: transport fields without a transport header");
  if (i.has_ports) {
    check(i.proto == pkt::kProtoTcp || i.proto == pkt::kProtoUdp, "parse_ip: ports for a portless protocol");
    check(i.l4 + (i.proto == pkt::kProtoTcp ? 20u : 8u) <= i.len, "parse_ip: ports from a short header");
    check(i.sport == craft::get16(p.data() + i.l4) && i.dport == craft::get16(p.data() + i.l4 + 2),
          "parse_ip: ports");
    if (i.proto == pkt::kProtoTcp) check(i.tcp_flags == p[i.l4 + 13], "parse_ip: tcp flags");
  }
  if (i.has_icmp) {
    check(i.proto == (v6 ? pkt::kProtoIcmp6 : pkt::kProtoIcmp), "parse_ip: ICMP of the other family");
    check(i.l4 + 8 <= i.len, "parse_ip: ICMP from a short header");
    check(i.icmp_type == p[i.l4] && i.icmp_code == p[i.l4 + 1], "parse_ip: icmp type/code");
  }
}

// True when RFC 4443 2.4(e) / RFC 1812 4.3.2.7 forbid an error about this packet; written from
// the RFCs, independently of build_icmp_error.
inline bool error_forbidden(const pkt::IpInfo& o, uint8_t type) {
  if (is_v6(o)) {
    const bool icmp_error = o.proto == pkt::kProtoIcmp6 && (!o.has_icmp || o.icmp_type < 128);
    const bool bad_src = o.src[0] == 0xff || std::all_of(o.src, o.src + 16, [](uint8_t b) { return b == 0; });
    const bool mcast_dst = o.dst[0] == 0xff && type != pkt::kIcmp6TooBig;
    return icmp_error || bad_src || mcast_dst;
  }
  auto special = [](const uint8_t* a) {
    const uint32_t x = craft::get32(a);
    return x == 0 || x == 0xffffffff || (a[0] & 0xf0) == 0xe0;
  };
  const bool icmp_error =
      o.proto == pkt::kProtoIcmp && (!o.has_icmp || (o.icmp_type != pkt::kIcmp4EchoRequest && o.icmp_type != 0));
  const bool later_fragment = o.fragment && o.l4 == 0;
  return icmp_error || later_fragment || special(o.src) || special(o.dst);
}

// build_icmp_error about `orig` (an accepted packet), into a 1280-byte buffer, checked whole.
inline void check_icmp_error(std::span<const uint8_t> orig, const pkt::IpInfo& o, uint8_t type, uint8_t code,
                             uint32_t param) {
  const bool v6 = is_v6(o);
  Bytes out(pkt::kIcmpErrorMax);
  const size_t n = pkt::build_icmp_error(out.data(), o.family, v6 ? kOurs6.data() : kOurs4.data(), orig, type,
                                         code, param);
  if (error_forbidden(o, type)) {
    check(n == 0, "build_icmp_error: an error the RFCs forbid");
    return;
  }
  // The header promises none about later fragments; RFC 4443 allows them for IPv6 (a Packet Too
  // Big must reach the sender whichever fragment was too big), so either answer passes there.
  if (n == 0 && is_v6(o) && o.fragment && o.l4 == 0) return;
  check(n > 0, "build_icmp_error: no error for a packet that may have one");
  const size_t hdr = v6 ? 48 : 28;
  check(n >= hdr && n <= (v6 ? pkt::kIcmp6ErrorMax : pkt::kIcmp4ErrorMax), "build_icmp_error: size");
  const std::span<const uint8_t> e(out.data(), n);
  pkt::IpInfo ei;
  check(pkt::parse_ip(e, ei) == pkt::IpError::None, "build_icmp_error: output does not parse");
  check_ip_info(e, ei);
  check(ei.len == n && ei.family == o.family && ei.has_icmp, "build_icmp_error: output shape");
  check(ei.icmp_type == type && ei.icmp_code == code, "build_icmp_error: type/code");
  check(transport_checksum_ok(e, ei), "build_icmp_error: ICMP checksum");
  check(std::memcmp(ei.dst, o.src, v6 ? 16 : 4) == 0, "build_icmp_error: not sent back to the source");
  const uint32_t want_param = v6 ? param : (param & 0xffff);
  check(craft::get32(out.data() + hdr - 4) == want_param, "build_icmp_error: parameter field");
  const size_t quote = n - hdr;
  check(quote == std::min(o.len, (v6 ? pkt::kIcmp6ErrorMax : pkt::kIcmp4ErrorMax) - hdr),
        "build_icmp_error: quoted less than fits");
  check(std::memcmp(out.data() + hdr, orig.data(), quote) == 0, "build_icmp_error: quote differs");
}

// echo_to_reply on a copy: a request becomes a reply that parses, back to its sender.
inline void check_echo(std::span<const uint8_t> p) {
  Bytes copy(p.begin(), p.end());
  pkt::IpInfo i;
  if (pkt::parse_ip(copy, i) != pkt::IpError::None) return;
  const bool v6 = is_v6(i);
  const size_t alen = v6 ? 16 : 4;
  uint8_t peer[16];
  std::memcpy(peer, i.src, alen);
  const bool request = i.has_icmp && !i.fragment && i.icmp_type == (v6 ? pkt::kIcmp6EchoRequest : pkt::kIcmp4EchoRequest);
  const size_t len = i.len;
  const Bytes before = copy;
  if (!pkt::echo_to_reply(copy, i, v6 ? kOurs6.data() : kOurs4.data())) {
    check(copy == before, "echo_to_reply: refused but changed the packet");
    check(!request || (v6 && i.l4 != 40), "echo_to_reply: refused an echo request");
    return;
  }
  check(request, "echo_to_reply: answered something other than an echo request");
  pkt::IpInfo r;
  check(pkt::parse_ip(copy, r) == pkt::IpError::None, "echo_to_reply: reply does not parse");
  check_ip_info(copy, r);
  check(r.len == len && r.l4 == i.l4, "echo_to_reply: reply changed size");
  check(r.icmp_type == (v6 ? pkt::kIcmp6EchoReply : pkt::kIcmp4EchoReply), "echo_to_reply: reply type");
  check(std::memcmp(r.dst, peer, alen) == 0, "echo_to_reply: reply not to the requester");
  check(std::memcmp(r.src, v6 ? kOurs6.data() : kOurs4.data(), alen) == 0, "echo_to_reply: reply not from us");
  check(transport_checksum_ok(copy, r), "echo_to_reply: reply checksum");
  check(std::equal(copy.begin() + static_cast<std::ptrdiff_t>(r.l4) + 4, copy.end(),
                   before.begin() + static_cast<std::ptrdiff_t>(r.l4) + 4),
        "echo_to_reply: identifier, sequence or data changed");
}

// The transport header length GSO would copy into every segment, or 0 when it must refuse.
inline size_t gso_header(std::span<const uint8_t> p, const pkt::IpInfo& i, uint8_t gso_type, uint16_t gso_size) {
  const uint8_t type = gso_type & ~pkt::kGsoEcn;
  if (gso_size == 0 || i.l4 == 0 || i.fragment) return 0;
  if (type == pkt::kGsoTcpV4 || type == pkt::kGsoTcpV6) {
    if (i.proto != pkt::kProtoTcp || (type == pkt::kGsoTcpV6) != is_v6(i) || i.l4 + 20 > i.len) return 0;
    const size_t thl = static_cast<size_t>(p[i.l4 + 12] >> 4) * 4;
    return thl >= 20 && i.l4 + thl <= i.len ? i.l4 + thl : 0;
  }
  if (type == pkt::kGsoUdpL4 && i.proto == pkt::kProtoUdp && i.l4 + 8 <= i.len) return i.l4 + 8;
  return 0;
}

// Splits p every way gso_segments says and checks each segment and the whole.
inline void check_gso(std::span<const uint8_t> p, const pkt::IpInfo& i, uint8_t gso_type, uint16_t gso_size) {
  const size_t n = pkt::gso_segments(p, i, gso_type, gso_size);
  const size_t hdr = gso_header(p, i, gso_type, gso_size);
  Bytes out(i.len + 64);
  if (hdr == 0) {
    check(n == 0, "gso_segments: split what it should refuse");
    check(pkt::gso_segment(p, i, gso_type, gso_size, 0, out.data(), out.size()) == 0, "gso_segment: no refusal");
    return;
  }
  const size_t payload = i.len - hdr;
  check(n == (payload == 0 ? 1 : (payload + gso_size - 1) / gso_size), "gso_segments: count");
  const bool tcp = i.proto == pkt::kProtoTcp;
  const uint8_t flags = tcp ? p[i.l4 + 13] : 0;
  size_t carried = 0;
  for (size_t k = 0; k < n; ++k) {
    const size_t len = pkt::gso_segment(p, i, gso_type, gso_size, k, out.data(), out.size());
    check(len > hdr || (len == hdr && payload == 0), "gso_segment: empty segment");
    const size_t chunk = len - hdr;
    check(chunk <= gso_size && (k + 1 == n || chunk == gso_size), "gso_segment: chunk size");
    check(std::memcmp(out.data() + hdr, p.data() + hdr + k * gso_size, chunk) == 0, "gso_segment: payload bytes");
    carried += chunk;
    const std::span<const uint8_t> seg(out.data(), len);
    pkt::IpInfo s;
    check(pkt::parse_ip(seg, s) == pkt::IpError::None, "gso_segment: segment does not parse");
    check_ip_info(seg, s);
    check(s.len == len && s.l4 == i.l4 && s.proto == i.proto && !s.fragment, "gso_segment: segment shape");
    check(transport_checksum_ok(seg, s), "gso_segment: transport checksum");
    if (!is_v6(i))
      check(craft::get16(out.data() + 4) == static_cast<uint16_t>(craft::get16(p.data() + 4) + k), "gso_segment: IPv4 ID");
    if (tcp) {
      const uint8_t f = out[i.l4 + 13];
      check(craft::get32(out.data() + i.l4 + 4) ==
                static_cast<uint32_t>(craft::get32(p.data() + i.l4 + 4) + k * gso_size),
            "gso_segment: sequence number");
      const uint8_t fin_psh = pkt::kTcpFin | 0x08;
      check((f & fin_psh) == (k + 1 == n ? (flags & fin_psh) : 0), "gso_segment: FIN/PSH not only on the last");
      check((f & 0x80) == (k == 0 ? (flags & 0x80) : 0), "gso_segment: CWR not only on the first");
      check((f & 0x76) == (flags & 0x76), "gso_segment: other TCP flags changed");
    } else {
      check(craft::get16(out.data() + i.l4 + 4) == len - i.l4, "gso_segment: UDP length");
    }
  }
  check(carried == payload, "gso_segment: segments do not add up to the payload");
  check(pkt::gso_segment(p, i, gso_type, gso_size, n, out.data(), out.size()) == 0, "gso_segment: index past the end");
  if (n > 0 && hdr > 0)
    check(pkt::gso_segment(p, i, gso_type, gso_size, 0, out.data(), hdr - 1) == 0, "gso_segment: overran cap");
}

// complete_checksum on a copy of the IP packet; when it accepts, the range from csum_start now
// sums (with the new field) to what the field held before: ~(data + partial) + data = ~partial.
inline void check_complete_checksum(std::span<const uint8_t> ip, const pkt::VnetHeader& h) {
  Bytes copy(ip.begin(), ip.end());
  const Bytes before = copy;
  if (!pkt::complete_checksum(copy, h)) {
    check(copy == before, "complete_checksum: refused but wrote");
    return;
  }
  check(h.csum_start >= pkt::kEthLen, "complete_checksum: start inside the Ethernet header");
  const size_t start = h.csum_start - pkt::kEthLen;
  const size_t at = start + h.csum_offset;
  check(at + 2 <= copy.size(), "complete_checksum: wrote past the packet");
  for (size_t k = 0; k < copy.size(); ++k)
    if (k != at && k != at + 1) check(copy[k] == before[k], "complete_checksum: changed other bytes");
  if (h.csum_offset % 2 == 0) {
    const uint16_t partial = craft::get16(before.data() + at);
    const uint16_t now = craft::ref_checksum(std::span<const uint8_t>(copy).subspan(start));
    check(now % 0xffff == partial % 0xffff, "complete_checksum: wrong checksum");
  }
}

// RFC 4861 7.1.1 / 7.1.2 validity, written from the RFC's lists (plus the target's own group
// for DAD, as parse_nd requires): the NdView parse_nd must return, or nullopt.
inline std::optional<pkt::NdView> reference_nd(std::span<const uint8_t> ip, const pkt::IpInfo& i) {
  if (!is_v6(i) || i.proto != pkt::kProtoIcmp6 || i.l4 == 0 || i.fragment) return std::nullopt;
  const std::span<const uint8_t> m = ip.subspan(i.l4, i.len - i.l4);
  if (m.size() < 24 || ip[7] != 255 || m[1] != 0) return std::nullopt;
  if (m[0] != pkt::kNdNeighborSolicit && m[0] != pkt::kNdNeighborAdvert) return std::nullopt;
  if (!craft::l4_checksum_ok(true, i.src, i.dst, pkt::kProtoIcmp6, m)) return std::nullopt;
  if (m[8] == 0xff) return std::nullopt;  // multicast target
  pkt::NdView v;
  v.type = m[0];
  std::copy(m.begin() + 8, m.begin() + 24, v.target.begin());
  v.router = m[4] & 0x80;
  v.solicited = m[4] & 0x40;
  v.override_flag = m[4] & 0x20;
  if (v.type == pkt::kNdNeighborSolicit) v.router = v.solicited = v.override_flag = false;
  const uint8_t wanted = v.type == pkt::kNdNeighborSolicit ? 1 : 2;
  for (size_t off = 24; off < m.size();) {
    if (m.size() - off < 2 || m[off + 1] == 0 || m[off + 1] * 8u > m.size() - off) return std::nullopt;
    if (m[off] == wanted) {
      pkt::Mac mac;
      std::copy(m.begin() + static_cast<std::ptrdiff_t>(off) + 2, m.begin() + static_cast<std::ptrdiff_t>(off) + 8,
                mac.begin());
      v.lladdr = mac;  // the last one counts
    }
    off += m[off + 1] * 8u;
  }
  if (v.type == pkt::kNdNeighborAdvert && v.solicited && i.dst[0] == 0xff) return std::nullopt;
  const bool from_unspecified = std::all_of(i.src, i.src + 16, [](uint8_t b) { return b == 0; });
  if (v.type == pkt::kNdNeighborSolicit && from_unspecified) {
    const uint8_t group[16] = {0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, v.target[13], v.target[14], v.target[15]};
    if (std::memcmp(group, i.dst, 16) != 0 || v.lladdr) return std::nullopt;
  }
  return v;
}

// parse_nd against the reference; an accepted NS is answered with build_neighbor_advert, and
// that answer must parse back as an NA for the same target.
inline void check_nd(std::span<const uint8_t> ip, const pkt::IpInfo& i) {
  const auto got = pkt::parse_nd(ip, i);
  const auto want = reference_nd(ip, i);
  check(got.has_value() == want.has_value(), "parse_nd: accepts differently from RFC 4861");
  if (!got) return;
  check(got->type == want->type && got->target == want->target && got->lladdr == want->lladdr,
        "parse_nd: type, target or link-layer address");
  if (got->type == pkt::kNdNeighborAdvert)
    check(got->solicited == want->solicited && got->router == want->router &&
              got->override_flag == want->override_flag,
          "parse_nd: NA flags");
  check(got->target[0] != 0xff, "parse_nd: multicast target");
  if (got->type != pkt::kNdNeighborSolicit) return;
  const pkt::Mac mine{0x02, 0, 0x5e, 0, 0, 1};
  const pkt::Mac theirs = got->lladdr.value_or(pkt::Mac{0x02, 0, 0, 0, 0, 2});
  Bytes f(pkt::kNdFrameMax);
  const size_t n = pkt::build_neighbor_advert(f.data(), mine, theirs, kOurs6.data(), i.src, got->target.data(),
                                              true, false);
  check(n == pkt::kNdFrameMax, "build_neighbor_advert: size");
  const std::span<const uint8_t> na(f.data() + pkt::kFrameHeader, n - pkt::kFrameHeader);
  pkt::IpInfo ni;
  check(pkt::parse_ip(na, ni) == pkt::IpError::None, "build_neighbor_advert: does not parse");
  check_ip_info(na, ni);
  const auto back = pkt::parse_nd(na, ni);
  // A DAD probe comes from :: and is answered to all-nodes, unsolicited; a multicast source
  // cannot take a solicited answer. Answers to anyone else parse back.
  if (i.src[0] == 0xff || std::all_of(i.src, i.src + 16, [](uint8_t b) { return b == 0; })) return;
  check(back && back->type == pkt::kNdNeighborAdvert && back->target == got->target && back->lladdr == mine &&
            back->solicited,
        "build_neighbor_advert: answer does not parse back");
}

// parse_arp against the RFC 826 fields for Ethernet/IPv4, and a round trip through build_arp.
inline void check_arp(std::span<const uint8_t> a) {
  const auto got = pkt::parse_arp(a);
  const bool valid = a.size() >= 28 && craft::get16(a.data()) == 1 && craft::get16(a.data() + 2) == 0x0800 &&
                     a[4] == 6 && a[5] == 4 && (craft::get16(a.data() + 6) == 1 || craft::get16(a.data() + 6) == 2);
  check(got.has_value() == valid, "parse_arp: accepts differently from RFC 826");
  if (!got) return;
  check(got->op == craft::get16(a.data() + 6), "parse_arp: op");
  check(std::equal(got->sender_mac.begin(), got->sender_mac.end(), a.begin() + 8), "parse_arp: sender mac");
  check(std::equal(got->sender_ip.begin(), got->sender_ip.end(), a.begin() + 14), "parse_arp: sender ip");
  check(std::equal(got->target_ip.begin(), got->target_ip.end(), a.begin() + 24), "parse_arp: target ip");
  pkt::Mac target_mac;
  std::copy(a.begin() + 18, a.begin() + 24, target_mac.begin());
  Bytes f(pkt::kArpFrameMax);
  const size_t n = pkt::build_arp(f.data(), got->op, got->sender_mac, got->sender_ip.data(), target_mac,
                                  got->target_ip.data());
  check(n == pkt::kArpFrameMax, "build_arp: size");
  const auto eth = pkt::parse_eth(std::span<uint8_t>(f.data() + pkt::kVnetLen, n - pkt::kVnetLen));
  check(eth && eth->type == pkt::kEtherArp && eth->src == got->sender_mac, "build_arp: Ethernet header");
  check(eth->dst == (got->op == 1 ? pkt::kBroadcast : target_mac), "build_arp: Ethernet destination");
  const auto back = pkt::parse_arp(eth->payload);
  check(back && back->op == got->op && back->sender_mac == got->sender_mac && back->sender_ip == got->sender_ip &&
            back->target_ip == got->target_ip,
        "build_arp: round trip");
  if (got->op == 2) check(std::equal(a.begin() + 18, a.begin() + 28, eth->payload.begin() + 18), "build_arp: reply");
}

// --- nd_fuzz input shaping: control byte, then an ICMPv6 message ---

inline constexpr uint8_t kNdTypeMask = 0x03;   // 0: as given, 1: NS, 2: NA, 3: as given
inline constexpr uint8_t kNdSrcShift = 2;      // bits 2-3: fe80::1, ::, 2001:db8::5, ff02::1
inline constexpr uint8_t kNdDstShift = 4;      // bits 4-5: target's group, ff02::1, fe80::2, target
inline constexpr uint8_t kNdKeepChecksum = 0x40;
inline constexpr uint8_t kNdHopLimit64 = 0x80;

// The IPv6 packet the control byte describes around `msg`.
inline Bytes nd_packet(uint8_t ctrl, std::span<const uint8_t> msg) {
  Bytes m(msg.begin(), msg.end());
  if (!m.empty() && (ctrl & kNdTypeMask) == 1) m[0] = pkt::kNdNeighborSolicit;
  if (!m.empty() && (ctrl & kNdTypeMask) == 2) m[0] = pkt::kNdNeighborAdvert;
  craft::Ip6 target{};
  if (m.size() >= 24) std::copy(m.begin() + 8, m.begin() + 24, target.begin());
  static constexpr const char* kSrc[] = {"fe80::1", "::", "2001:db8::5", "ff02::1"};
  const craft::Ip6 src = craft::ip6(kSrc[(ctrl >> kNdSrcShift) & 3]);
  craft::Ip6 dst;
  switch ((ctrl >> kNdDstShift) & 3) {
    case 0: pkt::solicited_node(target.data(), dst.data()); break;
    case 1: dst = craft::ip6("ff02::1"); break;
    case 2: dst = craft::ip6("fe80::2"); break;
    default: dst = target; break;
  }
  craft::V6 o;
  o.hops = (ctrl & kNdHopLimit64) ? 64 : 255;
  o.l4_checksum = !(ctrl & kNdKeepChecksum);
  return craft::ipv6(src, dst, craft::kIcmp6, m, o);
}

}  // namespace wg::fuzzing::packets
