// core/packet.cpp — see packet.hpp. Every read is bounds-checked against the span first; the
// fuzz targets in fuzz/ (ethernet, ip, nd, arp) hold these functions to that.
#include "core/packet.hpp"

#include <algorithm>
#include <bit>

namespace wg::core::pkt {

// Sums native-order 32-bit words into 64 bits and swaps the folded result into network order
// at the end: the ones' complement sum does not depend on byte order (RFC 1071 2.B) and 32-bit
// words fold to the same 16-bit sum. Several times faster than 16-bit steps, and it runs over
// every byte of a segment the data path checksums.
uint32_t sum_bytes(const uint8_t* p, size_t n, uint32_t sum) {
  uint64_t acc = 0;
  for (; n >= 16; p += 16, n -= 16) {
    uint32_t w[4];
    std::memcpy(w, p, sizeof(w));
    acc += uint64_t{w[0]} + w[1] + w[2] + w[3];
  }
  for (; n >= 4; p += 4, n -= 4) {
    uint32_t w;
    std::memcpy(&w, p, 4);
    acc += w;
  }
  if (n) {  // the tail, zero-padded as RFC 1071 pads an odd byte
    uint8_t t[4] = {};
    std::memcpy(t, p, n);
    uint32_t w;
    std::memcpy(&w, t, 4);
    acc += w;
  }
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  auto v = static_cast<uint16_t>(acc);
  if constexpr (std::endian::native == std::endian::little) v = static_cast<uint16_t>(v >> 8 | v << 8);
  const uint64_t s = uint64_t{sum} + v;
  return static_cast<uint32_t>((s & 0xffffffff) + (s >> 32));
}

uint16_t fold(uint32_t sum) {
  uint64_t s = sum;
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<uint16_t>(~s & 0xffff);
}

uint32_t pseudo_sum(Family f, const uint8_t* src, const uint8_t* dst, uint8_t proto, uint32_t len) {
  const size_t n = f == Family::V4 ? 4 : 16;
  uint32_t s = sum_bytes(src, n);
  s = sum_bytes(dst, n, s);
  uint8_t tail[8] = {};
  store32(tail, len);
  tail[7] = proto;
  return sum_bytes(tail, 8, s);
}

uint16_t update_checksum(uint16_t check, uint16_t old_word, uint16_t new_word) {
  // HC' = ~(~HC + ~m + m')
  uint32_t s = static_cast<uint16_t>(~check);
  s += static_cast<uint16_t>(~old_word);
  s += new_word;
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<uint16_t>(~s);
}

VnetHeader read_vnet(const uint8_t* p) {
  auto le16 = [](const uint8_t* q) { return static_cast<uint16_t>(q[0] | q[1] << 8); };
  return {p[0], p[1], le16(p + 2), le16(p + 4), le16(p + 6), le16(p + 8)};
}

void write_vnet_none(uint8_t* p) { std::memset(p, 0, kVnetLen); }

void write_vnet(uint8_t* p, const VnetHeader& h) {
  auto le16 = [](uint8_t* q, uint16_t v) {
    q[0] = static_cast<uint8_t>(v);
    q[1] = static_cast<uint8_t>(v >> 8);
  };
  p[0] = h.flags;
  p[1] = h.gso_type;
  le16(p + 2, h.hdr_len);
  le16(p + 4, h.gso_size);
  le16(p + 6, h.csum_start);
  le16(p + 8, h.csum_offset);
}

std::optional<EthView> parse_eth(std::span<uint8_t> frame) {
  if (frame.size() < kEthLen) return std::nullopt;
  EthView v;
  std::memcpy(v.dst.data(), frame.data(), 6);
  std::memcpy(v.src.data(), frame.data() + 6, 6);
  v.type = load16(frame.data() + 12);
  if (v.type < 0x0600) return std::nullopt;  // 802.3 length field: not IP
  if (v.type == 0x8100 || v.type == 0x88a8) return std::nullopt;  // VLAN tags: ports are untagged
  v.payload = frame.subspan(kEthLen);
  return v;
}

void write_eth(uint8_t* p, const Mac& dst, const Mac& src, uint16_t type) {
  std::memcpy(p, dst.data(), 6);
  std::memcpy(p + 6, src.data(), 6);
  store16(p + 12, type);
}

namespace {

// Fills the transport fields when the header at info.l4 is complete.
void parse_transport(const uint8_t* p, IpInfo& info) {
  if (info.l4 == 0) return;
  const size_t room = info.len - info.l4;
  const uint8_t* t = p + info.l4;
  if ((info.proto == kProtoTcp && room >= 20) || (info.proto == kProtoUdp && room >= 8)) {
    info.has_ports = true;
    info.sport = load16(t);
    info.dport = load16(t + 2);
    if (info.proto == kProtoTcp) info.tcp_flags = t[13];
  } else if ((info.proto == kProtoIcmp && info.family == Family::V4 && room >= 8) ||
             (info.proto == kProtoIcmp6 && info.family == Family::V6 && room >= 8)) {
    info.has_icmp = true;
    info.icmp_type = t[0];
    info.icmp_code = t[1];
  }
}

IpError parse_ipv4(std::span<const uint8_t> pkt, IpInfo& info) {
  const uint8_t* p = pkt.data();
  const size_t ihl = static_cast<size_t>(p[0] & 0x0f) * 4;
  if (ihl < 20 || ihl > pkt.size()) return IpError::HeaderLength;
  const size_t total = load16(p + 2);
  if (total < ihl || total > pkt.size()) return IpError::TotalLength;
  if (fold(sum_bytes(p, ihl)) != 0) return IpError::Checksum;
  const uint16_t frag = load16(p + 6);
  info.family = Family::V4;
  info.src = p + 12;
  info.dst = p + 16;
  info.len = total;
  info.proto = p[9];
  info.ttl = p[8];
  info.dont_fragment = frag & 0x4000;
  info.fragment = (frag & 0x2000) || (frag & 0x1fff);
  info.l4 = (frag & 0x1fff) ? 0 : ihl;
  parse_transport(p, info);
  return IpError::None;
}

IpError parse_ipv6(std::span<const uint8_t> pkt, IpInfo& info) {
  const uint8_t* p = pkt.data();
  const size_t payload = load16(p + 4);
  if (payload == 0 || 40 + payload > pkt.size()) return IpError::TotalLength;  // no jumbograms
  info.family = Family::V6;
  info.src = p + 8;
  info.dst = p + 24;
  info.len = 40 + payload;
  info.ttl = p[7];
  info.dont_fragment = true;
  uint8_t next = p[6];
  size_t off = 40;
  for (int hops = 0;; ++hops) {
    if (hops > 8) return IpError::ExtHeaders;
    if (next == 0 || next == 43 || next == 60 || next == 51) {  // hop-by-hop, routing, dest opts, AH
      if (off + 8 > info.len) return IpError::ExtHeaders;
      const size_t n = next == 51 ? (static_cast<size_t>(p[off + 1]) + 2) * 4 : (static_cast<size_t>(p[off + 1]) + 1) * 8;
      next = p[off];
      off += n;
      if (off > info.len) return IpError::ExtHeaders;
      continue;
    }
    if (next == 44) {  // fragment header
      if (off + 8 > info.len) return IpError::ExtHeaders;
      info.fragment = true;
      const uint16_t fo = load16(p + off + 2) & 0xfff8;
      next = p[off];
      off += 8;
      if (fo != 0) {
        info.proto = next;
        info.l4 = 0;
        return IpError::None;
      }
      continue;
    }
    break;
  }
  info.proto = next;
  info.l4 = next == kProtoNone6 ? 0 : off;
  parse_transport(p, info);
  return IpError::None;
}

}  // namespace

IpError parse_ip(std::span<const uint8_t> pkt, IpInfo& out) {
  out = IpInfo{};
  if (pkt.empty()) return IpError::Short;
  const unsigned v = pkt[0] >> 4;
  if (v == 4) return pkt.size() < 20 ? IpError::Short : parse_ipv4(pkt, out);
  if (v == 6) return pkt.size() < 40 ? IpError::Short : parse_ipv6(pkt, out);
  return IpError::Version;
}

void decrement_ttl(uint8_t* ip, Family f) {
  if (f == Family::V6) {
    --ip[7];
    return;
  }
  const uint16_t old_word = load16(ip + 8);
  --ip[8];
  store16(ip + 10, update_checksum(load16(ip + 10), old_word, load16(ip + 8)));
}

bool is_link_local6(const uint8_t* a) { return a[0] == 0xfe && (a[1] & 0xc0) == 0x80; }
bool is_multicast6(const uint8_t* a) { return a[0] == 0xff; }
bool is_unspecified6(const uint8_t* a) {
  return std::all_of(a, a + 16, [](uint8_t b) { return b == 0; });
}

namespace {

bool v4_special(const uint8_t* a) {
  const bool zero = load32(a) == 0;
  const bool broadcast = load32(a) == 0xffffffff;
  const bool multicast = (a[0] & 0xf0) == 0xe0;
  return zero || broadcast || multicast;
}


void write_ipv4_header(uint8_t* p, size_t total, uint8_t proto, uint8_t tos, const uint8_t* src, const uint8_t* dst) {
  std::memset(p, 0, 20);
  p[0] = 0x45;
  p[1] = tos;
  store16(p + 2, static_cast<uint16_t>(total));
  p[8] = 64;
  p[9] = proto;
  std::memcpy(p + 12, src, 4);
  std::memcpy(p + 16, dst, 4);
  store16(p + 10, fold(sum_bytes(p, 20)));
}

void set_icmp6_checksum(uint8_t* ip, size_t icmp_len) {
  uint8_t* icmp = ip + 40;
  store16(icmp + 2, 0);
  const uint32_t s = pseudo_sum(Family::V6, ip + 8, ip + 24, kProtoIcmp6, static_cast<uint32_t>(icmp_len));
  store16(icmp + 2, fold(sum_bytes(icmp, icmp_len, s)));
}

}  // namespace

void write_ipv6_header(uint8_t* p, size_t payload, uint8_t next, uint8_t hops, const uint8_t* src,
                       const uint8_t* dst) {
  std::memset(p, 0, 8);
  p[0] = 0x60;
  store16(p + 4, static_cast<uint16_t>(payload));
  p[6] = next;
  p[7] = hops;
  std::memcpy(p + 8, src, 16);
  std::memcpy(p + 24, dst, 16);
}

size_t build_icmp_error(uint8_t* out, Family f, const uint8_t* src, std::span<const uint8_t> orig, uint8_t type,
                        uint8_t code, uint32_t param) {
  IpInfo o;
  if (parse_ip(orig, o) != IpError::None || o.family != f) return 0;
  orig = orig.first(o.len);
  if (f == Family::V6) {
    if (o.proto == kProtoIcmp6 && (!o.has_icmp || o.icmp_type < 128)) return 0;  // never about an error
    if (is_multicast6(o.src) || is_unspecified6(o.src)) return 0;
    if (is_multicast6(o.dst) && type != kIcmp6TooBig) return 0;
    const size_t quote = std::min(orig.size(), kIcmp6ErrorMax - 48);
    const size_t icmp_len = 8 + quote;
    write_ipv6_header(out, icmp_len, kProtoIcmp6, 64, src, o.src);
    uint8_t* icmp = out + 40;
    icmp[0] = type;
    icmp[1] = code;
    store32(icmp + 4, param);
    std::memcpy(icmp + 8, orig.data(), quote);
    set_icmp6_checksum(out, icmp_len);
    return 40 + icmp_len;
  }
  if (o.l4 == 0 && o.fragment) return 0;  // only the first fragment gets an error
  if (o.proto == kProtoIcmp && (!o.has_icmp || (o.icmp_type != kIcmp4EchoRequest && o.icmp_type != kIcmp4EchoReply)))
    return 0;
  if (v4_special(o.src) || v4_special(o.dst)) return 0;
  const size_t quote = std::min(orig.size(), kIcmp4ErrorMax - 28);
  const size_t total = 28 + quote;
  write_ipv4_header(out, total, kProtoIcmp, 0xc0, src, o.src);
  uint8_t* icmp = out + 20;
  icmp[0] = type;
  icmp[1] = code;
  store16(icmp + 2, 0);
  store32(icmp + 4, param & 0xffff);  // RFC 1191: next-hop MTU in the low 16 bits
  std::memcpy(icmp + 8, orig.data(), quote);
  store16(icmp + 2, fold(sum_bytes(icmp, 8 + quote)));
  return total;
}

bool echo_to_reply(std::span<uint8_t> ip, const IpInfo& info, const uint8_t* src) {
  if (!info.has_icmp || info.l4 == 0 || info.fragment) return false;
  uint8_t* p = ip.data();
  uint8_t* icmp = p + info.l4;
  const size_t icmp_len = info.len - info.l4;
  if (info.family == Family::V6) {
    if (info.icmp_type != kIcmp6EchoRequest || info.l4 != 40) return false;
    uint8_t peer[16];
    std::memcpy(peer, info.src, 16);
    write_ipv6_header(p, icmp_len, kProtoIcmp6, 64, src, peer);
    icmp[0] = kIcmp6EchoReply;
    set_icmp6_checksum(p, icmp_len);
    return true;
  }
  if (info.icmp_type != kIcmp4EchoRequest) return false;
  uint8_t peer[4];
  std::memcpy(peer, info.src, 4);
  std::memcpy(p + 16, peer, 4);
  std::memcpy(p + 12, src, 4);
  p[8] = 64;
  store16(p + 10, 0);
  store16(p + 10, fold(sum_bytes(p, info.l4)));
  icmp[0] = kIcmp4EchoReply;
  store16(icmp + 2, 0);
  store16(icmp + 2, fold(sum_bytes(icmp, icmp_len)));
  return true;
}

bool icmp6_checksum_ok(std::span<const uint8_t> ip, const IpInfo& info) {
  if (info.family != Family::V6 || info.l4 == 0 || info.l4 > info.len) return false;
  const size_t n = info.len - info.l4;
  const uint32_t s = pseudo_sum(Family::V6, info.src, info.dst, kProtoIcmp6, static_cast<uint32_t>(n));
  return fold(sum_bytes(ip.data() + info.l4, n, s)) == 0;
}

std::optional<NdView> parse_nd(std::span<const uint8_t> ip, const IpInfo& info) {
  if (info.family != Family::V6 || info.proto != kProtoIcmp6 || !info.has_icmp || info.fragment) return std::nullopt;
  if (info.icmp_type != kNdNeighborSolicit && info.icmp_type != kNdNeighborAdvert) return std::nullopt;
  if (info.ttl != 255 || info.icmp_code != 0 || info.len - info.l4 < 24) return std::nullopt;
  if (!icmp6_checksum_ok(ip, info)) return std::nullopt;
  const uint8_t* m = ip.data() + info.l4;
  NdView v;
  v.type = info.icmp_type;
  std::memcpy(v.target.data(), m + 8, 16);
  if (is_multicast6(v.target.data())) return std::nullopt;
  if (v.type == kNdNeighborAdvert) {
    v.router = m[4] & 0x80;
    v.solicited = m[4] & 0x40;
    v.override_flag = m[4] & 0x20;
    if (v.solicited && is_multicast6(info.dst)) return std::nullopt;
  }
  const uint8_t want = v.type == kNdNeighborSolicit ? 1 : 2;
  size_t off = info.l4 + 24;
  while (off < info.len) {
    if (off + 2 > info.len) return std::nullopt;
    const size_t n = static_cast<size_t>(ip[off + 1]) * 8;
    if (n == 0 || off + n > info.len) return std::nullopt;
    if (ip[off] == want) {
      Mac mac;
      std::memcpy(mac.data(), ip.data() + off + 2, 6);
      v.lladdr = mac;
    }
    off += n;
  }
  if (v.type == kNdNeighborSolicit && is_unspecified6(info.src)) {
    // Duplicate address detection: to the target's solicited-node group, never with an SLLA.
    uint8_t group[16];
    solicited_node(v.target.data(), group);
    if (std::memcmp(group, info.dst, 16) != 0 || v.lladdr) return std::nullopt;
  }
  return v;
}

void solicited_node(const uint8_t* addr, uint8_t* out16) {
  static constexpr uint8_t kPrefix[13] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff};
  std::memcpy(out16, kPrefix, 13);
  std::memcpy(out16 + 13, addr + 13, 3);
}

Mac multicast_mac6(const uint8_t* group) { return {0x33, 0x33, group[12], group[13], group[14], group[15]}; }

size_t build_neighbor_advert(uint8_t* out, const Mac& src_mac, const Mac& dst_mac, const uint8_t* src,
                             const uint8_t* dst, const uint8_t* target, bool solicited, bool router) {
  write_vnet_none(out);
  write_eth(out + kVnetLen, dst_mac, src_mac, kEtherIpv6);
  uint8_t* ip = out + kFrameHeader;
  write_ipv6_header(ip, 32, kProtoIcmp6, 255, src, dst);
  uint8_t* m = ip + 40;
  std::memset(m, 0, 32);
  m[0] = kNdNeighborAdvert;
  m[4] = static_cast<uint8_t>((router ? 0x80 : 0) | (solicited ? 0x40 : 0) | 0x20);
  std::memcpy(m + 8, target, 16);
  m[24] = 2;  // target link-layer address
  m[25] = 1;
  std::memcpy(m + 26, src_mac.data(), 6);
  set_icmp6_checksum(ip, 32);
  return kFrameHeader + 40 + 32;
}

size_t build_neighbor_solicit(uint8_t* out, const Mac& src_mac, const uint8_t* src, const uint8_t* target) {
  uint8_t group[16];
  solicited_node(target, group);
  write_vnet_none(out);
  write_eth(out + kVnetLen, multicast_mac6(group), src_mac, kEtherIpv6);
  uint8_t* ip = out + kFrameHeader;
  write_ipv6_header(ip, 32, kProtoIcmp6, 255, src, group);
  uint8_t* m = ip + 40;
  std::memset(m, 0, 32);
  m[0] = kNdNeighborSolicit;
  std::memcpy(m + 8, target, 16);
  m[24] = 1;  // source link-layer address
  m[25] = 1;
  std::memcpy(m + 26, src_mac.data(), 6);
  set_icmp6_checksum(ip, 32);
  return kFrameHeader + 40 + 32;
}

std::optional<ArpView> parse_arp(std::span<const uint8_t> a) {
  if (a.size() < 28) return std::nullopt;
  if (load16(a.data()) != 1 || load16(a.data() + 2) != kEtherIpv4 || a[4] != 6 || a[5] != 4) return std::nullopt;
  ArpView v;
  v.op = load16(a.data() + 6);
  if (v.op != 1 && v.op != 2) return std::nullopt;
  std::memcpy(v.sender_mac.data(), a.data() + 8, 6);
  std::memcpy(v.sender_ip.data(), a.data() + 14, 4);
  std::memcpy(v.target_ip.data(), a.data() + 24, 4);
  return v;
}

size_t build_arp(uint8_t* out, uint16_t op, const Mac& src_mac, const uint8_t* src_ip, const Mac& dst_mac,
                 const uint8_t* dst_ip) {
  write_vnet_none(out);
  write_eth(out + kVnetLen, op == 1 ? kBroadcast : dst_mac, src_mac, kEtherArp);
  uint8_t* a = out + kFrameHeader;
  store16(a, 1);
  store16(a + 2, kEtherIpv4);
  a[4] = 6;
  a[5] = 4;
  store16(a + 6, op);
  std::memcpy(a + 8, src_mac.data(), 6);
  std::memcpy(a + 14, src_ip, 4);
  if (op == 1)
    std::memset(a + 18, 0, 6);
  else
    std::memcpy(a + 18, dst_mac.data(), 6);
  std::memcpy(a + 24, dst_ip, 4);
  return kFrameHeader + 28;
}

bool complete_checksum(std::span<uint8_t> ip, const VnetHeader& h) {
  if (h.csum_start < kEthLen) return false;
  const size_t start = h.csum_start - kEthLen;
  if (start >= ip.size() || start + h.csum_offset + 2 > ip.size()) return false;
  uint16_t c = fold(sum_bytes(ip.data() + start, ip.size() - start));
  if (c == 0) c = 0xffff;
  store16(ip.data() + start + h.csum_offset, c);
  return true;
}

namespace {

struct GsoShape {
  size_t hdr = 0;      // IP + extension + transport header bytes copied into every segment
  size_t payload = 0;  // bytes to split
};

std::optional<GsoShape> gso_shape(std::span<const uint8_t> ip, const IpInfo& info, uint8_t gso_type,
                                  uint16_t gso_size) {
  const uint8_t type = gso_type & ~kGsoEcn;
  if (gso_size == 0 || info.l4 == 0 || info.fragment || info.len > ip.size()) return std::nullopt;
  size_t thl = 0;
  if (type == kGsoTcpV4 || type == kGsoTcpV6) {
    if (info.proto != kProtoTcp || (type == kGsoTcpV4) != (info.family == Family::V4)) return std::nullopt;
    if (info.l4 + 20 > info.len) return std::nullopt;
    thl = static_cast<size_t>(ip[info.l4 + 12] >> 4) * 4;
    if (thl < 20) return std::nullopt;
  } else if (type == kGsoUdpL4) {
    if (info.proto != kProtoUdp) return std::nullopt;
    thl = 8;
  } else {
    return std::nullopt;
  }
  if (info.l4 + thl > info.len) return std::nullopt;
  return GsoShape{info.l4 + thl, info.len - info.l4 - thl};
}

}  // namespace

size_t gso_segments(std::span<const uint8_t> ip, const IpInfo& info, uint8_t gso_type, uint16_t gso_size) {
  const auto s = gso_shape(ip, info, gso_type, gso_size);
  if (!s) return 0;
  return s->payload == 0 ? 1 : (s->payload + gso_size - 1) / gso_size;
}

size_t gso_segment_header(std::span<const uint8_t> ip, const IpInfo& info, uint8_t gso_type, uint16_t gso_size,
                          size_t index, uint8_t* out, size_t cap, std::span<const uint8_t>& body) {
  const auto s = gso_shape(ip, info, gso_type, gso_size);
  if (!s) return 0;
  const size_t count = s->payload == 0 ? 1 : (s->payload + gso_size - 1) / gso_size;
  if (index >= count) return 0;
  const size_t at = index * gso_size;
  const size_t chunk = std::min<size_t>(gso_size, s->payload - std::min(at, s->payload));
  const size_t len = s->hdr + chunk;
  if (len > cap) return 0;
  std::memcpy(out, ip.data(), s->hdr);
  body = ip.subspan(s->hdr + at, chunk);
  if (info.family == Family::V4) {
    store16(out + 2, static_cast<uint16_t>(len));
    store16(out + 4, static_cast<uint16_t>(load16(ip.data() + 4) + index));
    store16(out + 10, 0);
    store16(out + 10, fold(sum_bytes(out, info.l4)));
  } else {
    store16(out + 4, static_cast<uint16_t>(len - 40));
  }
  uint8_t* t = out + info.l4;
  const size_t thl = s->hdr - info.l4;  // even (TCP: 4-byte words; UDP: 8), so the sums join
  const uint32_t l4_len = static_cast<uint32_t>(len - info.l4);
  const bool last = index + 1 == count;
  const uint32_t pseudo = pseudo_sum(info.family, out + (info.family == Family::V4 ? 12 : 8),
                                     out + (info.family == Family::V4 ? 16 : 24),
                                     info.proto == kProtoTcp ? kProtoTcp : kProtoUdp, l4_len);
  if (info.proto == kProtoTcp) {
    store32(t + 4, load32(t + 4) + static_cast<uint32_t>(at));
    if (!last) t[13] &= static_cast<uint8_t>(~(kTcpFin | 0x08));  // FIN and PSH only on the last
    if (index != 0) t[13] &= static_cast<uint8_t>(~0x80);         // CWR only on the first
    store16(t + 16, 0);
    store16(t + 16, fold(sum_bytes(body.data(), body.size(), sum_bytes(t, thl, pseudo))));
  } else {
    store16(t + 4, static_cast<uint16_t>(l4_len));
    store16(t + 6, 0);
    const uint16_t c = fold(sum_bytes(body.data(), body.size(), sum_bytes(t, thl, pseudo)));
    store16(t + 6, c == 0 ? 0xffff : c);
  }
  return len;
}

size_t gso_segment(std::span<const uint8_t> ip, const IpInfo& info, uint8_t gso_type, uint16_t gso_size,
                   size_t index, uint8_t* out, size_t cap) {
  std::span<const uint8_t> body;
  const size_t len = gso_segment_header(ip, info, gso_type, gso_size, index, out, cap, body);
  if (len) std::memcpy(out + (len - body.size()), body.data(), body.size());
  return len;
}

}  // namespace wg::core::pkt

namespace wg::core::pkt {

namespace {

// Data bytes per fragment: what fits after a 20-byte header, rounded down to 8.
size_t fragment_data(uint32_t mtu) { return mtu > 28 ? ((mtu - 20) & ~size_t{7}) : 0; }

}  // namespace

size_t ipv4_fragments(std::span<const uint8_t> ip, const IpInfo& info, uint32_t mtu) {
  if (info.family != Family::V4 || info.dont_fragment || ip.size() < 20 || info.len > ip.size()) return 0;
  const size_t ihl = static_cast<size_t>(ip[0] & 0x0f) * 4;
  const size_t per = fragment_data(mtu);
  if (ihl != 20 || per == 0 || info.len <= ihl) return 0;
  return (info.len - ihl + per - 1) / per;
}

size_t ipv4_fragment(std::span<const uint8_t> ip, const IpInfo& info, uint32_t mtu, size_t index, uint8_t* out,
                     size_t cap) {
  const size_t count = ipv4_fragments(ip, info, mtu);
  if (index >= count || info.len > ip.size()) return 0;
  const size_t per = fragment_data(mtu);
  const size_t data = info.len - 20;
  const size_t at = index * per;
  const size_t chunk = std::min(per, data - at);
  if (20 + chunk > cap) return 0;
  std::memcpy(out, ip.data(), 20);
  std::memcpy(out + 20, ip.data() + 20 + at, chunk);
  const uint16_t orig = load16(ip.data() + 6);
  const size_t offset = (orig & 0x1fff) + at / 8;  // in 8-byte units
  const bool more = index + 1 < count || (orig & 0x2000);
  store16(out + 2, static_cast<uint16_t>(20 + chunk));
  store16(out + 6, static_cast<uint16_t>((more ? 0x2000 : 0) | (offset & 0x1fff)));
  store16(out + 10, 0);
  store16(out + 10, fold(sum_bytes(out, 20)));
  return 20 + chunk;
}

}  // namespace wg::core::pkt
