// core/autoconf.cpp — Router Advertisement and DHCPv6 formats (see autoconf.hpp).
#include "core/autoconf.hpp"

#include <algorithm>
#include <cstring>
#include <string_view>

namespace wg::core::autoconf {

using namespace pkt;

namespace {

// RFC 4861 §4.6 option types; RFC 8106 RDNSS/DNSSL.
constexpr uint8_t kOptSlla = 1, kOptPrefix = 3, kOptMtu = 5, kOptRdnss = 25, kOptDnssl = 31;
// RFC 8415 §21 option codes.
constexpr uint16_t kOptClientId = 1, kOptServerId = 2, kOptIaNa = 3, kOptIaAddr = 5, kOptStatus = 13,
                   kOptRapidCommit = 14, kOptDnsServers = 23, kOptDomainList = 24, kOptIaPd = 25;


void frame_head(uint8_t* out, const Mac& src_mac, const Mac& dst_mac) {
  write_vnet_none(out);
  write_eth(out + kVnetLen, dst_mac, src_mac, kEtherIpv6);
}

// The transport checksum at l4 + at, over len bytes of transport.
void checksum(uint8_t* ip, uint8_t proto, size_t len, size_t at) {
  uint8_t* t = ip + 40;
  store16(t + at, 0);
  const uint32_t s = pseudo_sum(Family::V6, ip + 8, ip + 24, proto, static_cast<uint32_t>(len));
  uint16_t c = fold(sum_bytes(t, len, s));
  if (proto == kProtoUdp && c == 0) c = 0xffff;  // zero means "none", not allowed over IPv6
  store16(t + at, c);
}

}  // namespace

std::optional<std::vector<uint8_t>> encode_domains(const std::vector<std::string>& names, DomainError* error) {
  std::vector<uint8_t> out;
  for (const std::string& raw : names) {
    std::string name = raw;
    if (!name.empty() && name.back() == '.') name.pop_back();  // fully qualified is fine
    const auto bad = [&] {
      if (error) error->name = raw;
      return std::nullopt;
    };
    if (name.empty() || name.size() > 253) return bad();
    size_t start = 0;
    while (start <= name.size()) {
      size_t dot = name.find('.', start);
      if (dot == std::string::npos) dot = name.size();
      const size_t n = dot - start;
      if (n == 0 || n > 63) return bad();
      out.push_back(static_cast<uint8_t>(n));
      out.insert(out.end(), name.begin() + static_cast<std::ptrdiff_t>(start), name.begin() + static_cast<std::ptrdiff_t>(dot));
      start = dot + 1;
    }
    out.push_back(0);
    if (out.size() > kMaxDomainBytes) return bad();
  }
  return out;
}

size_t build_router_advert(uint8_t* out, const RaInfo& ra, const Mac& dst_mac, const uint8_t* dst) {
  frame_head(out, ra.mac, dst_mac);
  uint8_t* ip = out + kFrameHeader;
  uint8_t* m = ip + 40;
  std::memset(m, 0, 16);
  m[0] = kNdRouterAdvert;
  m[4] = 64;  // the hop limit instances should use
  m[5] = static_cast<uint8_t>((ra.managed ? 0x80 : 0) | (ra.other ? 0x40 : 0));
  store16(m + 6, ra.router_lifetime);
  size_t n = 16;  // reachable time and retransmit timer stay 0: unspecified
  // Source link-layer address, so the instance need not resolve us first.
  m[n] = kOptSlla;
  m[n + 1] = 1;
  std::memcpy(m + n + 2, ra.mac.data(), 6);
  n += 8;
  m[n] = kOptMtu;
  m[n + 1] = 1;
  store16(m + n + 2, 0);
  store32(m + n + 4, ra.mtu);
  n += 8;
  if (ra.prefix64) {
    uint8_t* o = m + n;
    std::memset(o, 0, 32);
    o[0] = kOptPrefix;
    o[1] = 4;
    o[2] = 64;
    o[3] = 0xc0;             // L: on-link, A: for stateless autoconfiguration
    store32(o + 4, 2592000);  // valid lifetime: RFC 4861's default, 30 days
    store32(o + 8, 604800);   // preferred: 7 days
    std::memcpy(o + 16, ra.prefix64->data(), 8);
    n += 32;
  }
  if (ra.dns && !ra.dns->servers.empty()) {
    const size_t count = std::min(ra.dns->servers.size(), kMaxDnsServers);
    uint8_t* o = m + n;
    o[0] = kOptRdnss;
    o[1] = static_cast<uint8_t>(1 + 2 * count);
    store16(o + 2, 0);
    store32(o + 4, ra.dns_lifetime);
    for (size_t i = 0; i < count; ++i) std::memcpy(o + 8 + 16 * i, ra.dns->servers[i].data(), 16);
    n += 8 + 16 * count;
  }
  if (ra.dns && !ra.dns->domains.empty()) {
    const size_t body = ra.dns->domains.size();
    const size_t len = (8 + body + 7) & ~size_t{7};  // padded with zeros to 8 bytes
    uint8_t* o = m + n;
    std::memset(o, 0, len);
    o[0] = kOptDnssl;
    o[1] = static_cast<uint8_t>(len / 8);
    store32(o + 4, ra.dns_lifetime);
    std::memcpy(o + 8, ra.dns->domains.data(), body);
    n += len;
  }
  write_ipv6_header(ip, n, kProtoIcmp6, 255, ra.src.data(), dst);
  checksum(ip, kProtoIcmp6, n, 2);
  return kFrameHeader + 40 + n;
}

std::optional<RsView> parse_router_solicit(std::span<const uint8_t> ip, const IpInfo& info) {
  if (info.family != Family::V6 || info.proto != kProtoIcmp6 || !info.has_icmp || info.fragment) return std::nullopt;
  if (info.icmp_type != kNdRouterSolicit || info.icmp_code != 0 || info.ttl != 255) return std::nullopt;
  if (info.l4 == 0 || info.len > ip.size() || info.len - info.l4 < 8 || !icmp6_checksum_ok(ip, info))
    return std::nullopt;
  RsView v;
  for (size_t off = info.l4 + 8; off < info.len;) {
    if (off + 2 > info.len) return std::nullopt;
    const size_t n = size_t{ip[off + 1]} * 8;
    if (n == 0 || off + n > info.len) return std::nullopt;
    if (ip[off] == kOptSlla && n >= 8) {
      Mac mac;
      std::memcpy(mac.data(), ip.data() + off + 2, 6);
      v.slla = mac;
    }
    off += n;
  }
  if (v.slla && is_unspecified6(info.src)) return std::nullopt;  // §6.1.1
  return v;
}

// --- DHCPv6 ---

std::optional<Dhcp6Message> parse_dhcp6(std::span<const uint8_t> p) {
  if (p.size() < 4) return std::nullopt;
  Dhcp6Message m;
  m.type = p[0];
  std::memcpy(m.xid.data(), p.data() + 1, 3);
  bool seen_client = false, seen_server = false;
  for (size_t off = 4; off < p.size();) {
    if (off + 4 > p.size()) return std::nullopt;
    const uint16_t code = load16(p.data() + off), len = load16(p.data() + off + 2);
    const size_t body = off + 4;
    if (body + len > p.size()) return std::nullopt;
    const std::span<const uint8_t> v = p.subspan(body, len);
    switch (code) {
      case kOptClientId:
      case kOptServerId: {
        bool& seen = code == kOptClientId ? seen_client : seen_server;
        if (seen || len < 2 || len > kMaxDuid) return std::nullopt;
        seen = true;
        (code == kOptClientId ? m.client_id : m.server_id) = v;
        break;
      }
      case kOptRapidCommit:
        if (len != 0) return std::nullopt;
        m.rapid_commit = true;
        break;
      case kOptIaNa:
        if (len < 12) return std::nullopt;
        if (!m.ia_na) {  // one address is all there is: the first IA_NA gets it
          m.ia_na = true;
          m.iaid = load32(v.data());
        }
        break;
      case kOptIaPd:
        if (len < 12) return std::nullopt;
        if (!m.ia_pd) {
          m.ia_pd = true;
          m.pd_iaid = load32(v.data());
        }
        break;
      default: break;  // the Option Request list and the rest: DNS is always sent
    }
    off = body + len;
  }
  return m;
}

std::array<uint8_t, 10> server_duid(const Mac& mac) {
  std::array<uint8_t, 10> d{0, 3, 0, 1};
  std::memcpy(d.data() + 4, mac.data(), 6);
  return d;
}

size_t build_dhcp6_frame(uint8_t* out, const Mac& src_mac, const Mac& dst_mac, const uint8_t* src, const uint8_t* dst,
                         const Dhcp6Answer& a) {
  uint8_t* ip = out + kFrameHeader;
  uint8_t* udp = ip + 40;
  uint8_t* d = udp + 8;
  const uint8_t* const end = out + kFrameMax;
  uint8_t* w = d;
  bool fits = true;
  const auto option = [&](uint16_t code, size_t len) -> uint8_t* {
    if (w + 4 + len > end) {
      fits = false;
      return nullptr;
    }
    store16(w, code);
    store16(w + 2, static_cast<uint16_t>(len));
    uint8_t* body = w + 4;
    w = body + len;
    return body;
  };
  const auto status = [&](uint16_t code, std::string_view text) {
    if (uint8_t* b = option(kOptStatus, 2 + text.size())) {
      store16(b, code);
      std::memcpy(b + 2, text.data(), text.size());
    }
  };
  w[0] = a.type;
  std::memcpy(w + 1, a.to->xid.data(), 3);
  w += 4;
  if (!a.to->client_id.empty())
    if (uint8_t* b = option(kOptClientId, a.to->client_id.size())) std::memcpy(b, a.to->client_id.data(), a.to->client_id.size());
  if (uint8_t* b = option(kOptServerId, a.server_id.size())) std::memcpy(b, a.server_id.data(), a.server_id.size());
  if (a.status) status(*a.status, *a.status == kStatusSuccess ? "ok" : "no");
  if (a.with_ia && a.to->ia_na && fits) {
    // IA_NA: IAID, T1, T2, then the address (or why there is none).
    uint8_t* ia = option(kOptIaNa, 12);
    if (ia) {
      store32(ia, a.to->iaid);
      store32(ia + 4, a.address ? a.preferred / 2 : 0);
      store32(ia + 8, a.address ? a.preferred / 5 * 4 : 0);
      if (a.address) {
        if (uint8_t* b = option(kOptIaAddr, 24)) {
          std::memcpy(b, a.address->data(), 16);
          store32(b + 16, a.preferred);
          store32(b + 20, a.valid);
        }
      } else {
        status(kStatusNoAddrsAvail, "no address for this client");
      }
      if (fits) store16(ia - 2, static_cast<uint16_t>(w - ia));  // the IA's length covers its options
    }
  }
  if (a.with_ia && a.to->ia_pd && fits) {
    if (uint8_t* pd = option(kOptIaPd, 12)) {
      store32(pd, a.to->pd_iaid);
      store32(pd + 4, 0);
      store32(pd + 8, 0);
      status(kStatusNoPrefixAvail, "no prefixes delegated here");
      if (fits) store16(pd - 2, static_cast<uint16_t>(w - pd));
    }
  }
  if (a.type == kReply && a.to->rapid_commit && a.to->type == kSolicit) option(kOptRapidCommit, 0);
  if (a.dns && !a.dns->servers.empty()) {
    const size_t count = std::min(a.dns->servers.size(), kMaxDnsServers);
    if (uint8_t* b = option(kOptDnsServers, 16 * count))
      for (size_t i = 0; i < count; ++i) std::memcpy(b + 16 * i, a.dns->servers[i].data(), 16);
  }
  if (a.dns && !a.dns->domains.empty())
    if (uint8_t* b = option(kOptDomainList, a.dns->domains.size()))
      std::memcpy(b, a.dns->domains.data(), a.dns->domains.size());
  if (!fits) return 0;
  const size_t payload = static_cast<size_t>(w - d);
  frame_head(out, src_mac, dst_mac);
  write_ipv6_header(ip, 8 + payload, kProtoUdp, 255, src, dst);
  store16(udp, kServerPort);
  store16(udp + 2, kClientPort);
  store16(udp + 4, static_cast<uint16_t>(8 + payload));
  checksum(ip, kProtoUdp, 8 + payload, 6);
  return kFrameHeader + 40 + 8 + payload;
}

std::optional<std::span<const uint8_t>> udp6_payload(std::span<const uint8_t> ip, const IpInfo& info) {
  if (info.family != Family::V6 || info.proto != kProtoUdp || !info.has_ports || info.fragment) return std::nullopt;
  if (info.l4 == 0 || info.len > ip.size() || info.len - info.l4 < 8) return std::nullopt;
  const uint8_t* u = ip.data() + info.l4;
  const size_t n = info.len - info.l4;
  if (load16(u + 4) != n || load16(u + 6) == 0) return std::nullopt;
  const uint32_t s = pseudo_sum(Family::V6, info.src, info.dst, kProtoUdp, static_cast<uint32_t>(n));
  if (fold(sum_bytes(u, n, s)) != 0) return std::nullopt;
  return ip.subspan(info.l4 + 8, n - 8);
}

}  // namespace wg::core::autoconf
