// fuzz/autoconf_fuzz.cpp — the Router Solicitation and DHCPv6 parsers of core/autoconf and the
// answers built from what they accept. Byte 0 picks the input's shape:
//   even: the rest is a DHCPv6 message (a UDP payload); whatever parses is answered with every
//         reply kind the server builds, and each answer must be a well-formed frame: IPv6 +
//         UDP with a valid checksum, within kFrameMax, echoing the transaction id and the
//         client identifier, parsing again as DHCPv6;
//   odd:  the rest is an ICMPv6 message sent to ff02::2 with hop limit 255 (byte 1 bit 0: from
//         the unspecified address); parse_router_solicit must agree with the framing rules.
// The search domains of the answers come from a fixed DNS line; encode_domains is fed the input
// as dot-separated names too.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "core/autoconf.hpp"
#include "core/packet.hpp"

namespace {

using namespace wg::core;
using namespace wg::core::pkt;
namespace ac = wg::core::autoconf;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "autoconf fuzz invariant violated: %s\n", what);
  std::fflush(stderr);
  __builtin_trap();
}
void check(bool ok, const char* what) {
  if (!ok) fail(what);
}

const ac::DnsInfo& dns() {
  static const ac::DnsInfo d = [] {
    ac::DnsInfo x;
    x.servers.resize(ac::kMaxDnsServers);
    for (size_t i = 0; i < x.servers.size(); ++i) x.servers[i] = {0x20, 0x01, 0x0d, 0xb8, 0, 0x53, 0, 0, 0, 0, 0, 0, 0, 0, 0, static_cast<uint8_t>(i)};
    x.domains = *ac::encode_domains({"example.net", "a-long-label-for-the-search-list.example.org"});
    return x;
  }();
  return d;
}

constexpr Mac kServerMac{0x02, 0, 0, 0, 0, 1}, kClientMac{0x02, 0, 0, 0, 0, 2};
constexpr Addr16 kServerLl{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
constexpr Addr16 kClientLl{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};

void dhcp(const uint8_t* data, size_t size) {
  const auto m = ac::parse_dhcp6({data, size});
  if (!m) return;
  check(size >= 4, "a message shorter than its header parsed");
  check(m->client_id.empty() || (m->client_id.data() >= data && m->client_id.data() + m->client_id.size() <= data + size),
        "client id outside the input");
  check(m->server_id.empty() || (m->server_id.data() >= data && m->server_id.data() + m->server_id.size() <= data + size),
        "server id outside the input");
  static std::vector<uint8_t> frame(ac::kFrameMax + 64);
  const auto duid = ac::server_duid(kServerMac);
  for (int kind = 0; kind < 4; ++kind) {
    ac::Dhcp6Answer a;
    a.to = &*m;
    a.server_id = duid;
    a.type = kind == 0 ? ac::kAdvertise : ac::kReply;
    a.with_ia = kind < 2;
    if (kind != 1) a.address = Addr16{0x20, 0x01, 0x0d, 0xb8, 0, 0x64, 0x20, 0x01, 0, 0, 0, 0, 0, 0, 0, 2};
    if (kind == 3) a.status = ac::kStatusSuccess;
    a.preferred = 3600;
    a.valid = 7200;
    a.dns = kind == 2 ? nullptr : &dns();
    std::memset(frame.data(), 0xee, frame.size());
    const size_t n = ac::build_dhcp6_frame(frame.data(), kServerMac, kClientMac, kServerLl.data(), kClientLl.data(), a);
    if (n == 0) continue;  // would not fit: refused, never truncated
    check(n <= ac::kFrameMax, "answer over kFrameMax");
    for (size_t i = n; i < frame.size(); ++i) check(frame[i] == 0xee, "wrote past the frame it returned");
    const std::span<const uint8_t> ip(frame.data() + kFrameHeader, n - kFrameHeader);
    IpInfo info;
    check(parse_ip(ip, info) == IpError::None && info.family == Family::V6 && info.len == ip.size(), "answer is not IPv6");
    const auto payload = ac::udp6_payload(ip, info);
    check(payload.has_value(), "answer's UDP header or checksum is wrong");
    check(info.sport == ac::kServerPort && info.dport == ac::kClientPort, "answer's ports");
    const auto back = ac::parse_dhcp6(*payload);
    check(back.has_value(), "answer does not parse as DHCPv6");
    check(back->type == a.type && back->xid == m->xid, "answer's type or transaction id");
    check(back->client_id.size() == m->client_id.size() &&
              std::equal(back->client_id.begin(), back->client_id.end(), m->client_id.begin()),
          "answer does not echo the client id");
    check(back->server_id.size() == duid.size(), "answer's server id");
  }
}

void solicit(const uint8_t* data, size_t size) {
  if (size < 1) return;
  const bool unspecified = data[0] & 1;
  ++data;
  --size;
  if (size > 1200) size = 1200;
  std::vector<uint8_t> ip(40 + size);
  ip[0] = 0x60;
  store16(ip.data() + 4, static_cast<uint16_t>(size));
  ip[6] = kProtoIcmp6;
  ip[7] = 255;
  if (!unspecified) std::memcpy(ip.data() + 8, kClientLl.data(), 16);
  const uint8_t all_routers[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
  std::memcpy(ip.data() + 24, all_routers, 16);
  std::memcpy(ip.data() + 40, data, size);
  // A correct checksum half of the time (byte 2 bit 7 of the message asks for it), so the
  // option walk is reached.
  if (size >= 4 && (data[2] & 0x80)) {
    ip[40 + 2] = ip[40 + 3] = 0;
    const uint32_t s = pseudo_sum(Family::V6, ip.data() + 8, ip.data() + 24, kProtoIcmp6, static_cast<uint32_t>(size));
    store16(ip.data() + 42, fold(sum_bytes(ip.data() + 40, size, s)));
  }
  IpInfo info;
  if (parse_ip(ip, info) != IpError::None) return;
  const auto rs = ac::parse_router_solicit(ip, info);
  if (!rs) return;
  check(info.icmp_type == kNdRouterSolicit && info.icmp_code == 0, "accepted something other than an RS");
  check(!(unspecified && rs->slla), "accepted a link-layer address from ::");
  // What the gateway answers with: an RA built for it must be a good ICMPv6 message.
  ac::RaInfo ra;
  ra.mac = kServerMac;
  ra.src = kServerLl;
  ra.mtu = 1280;
  ra.router_lifetime = 1800;
  ra.managed = ra.other = data[0] & 1;
  if (data[0] & 2) ra.prefix64 = Addr16{0x20, 0x01, 0x0d, 0xb8, 0, 0x64, 0x2a, 0xbc};
  ra.dns = &dns();
  ra.dns_lifetime = 1800;
  static std::vector<uint8_t> frame(ac::kFrameMax);
  const size_t n = ac::build_router_advert(frame.data(), ra, rs->slla.value_or(kClientMac), kClientLl.data());
  check(n <= ac::kFrameMax, "RA over kFrameMax");
  const std::span<const uint8_t> out(frame.data() + kFrameHeader, n - kFrameHeader);
  IpInfo ri;
  check(parse_ip(out, ri) == IpError::None && ri.has_icmp && ri.icmp_type == kNdRouterAdvert, "RA is not ICMPv6");
  check(icmp6_checksum_ok(out, ri), "RA checksum");
}

void domains(const uint8_t* data, size_t size) {
  std::vector<std::string> names(1);
  for (size_t i = 0; i < size && names.size() < 40; ++i) {
    if (data[i] == ',') names.emplace_back();
    else names.back().push_back(static_cast<char>(data[i]));
  }
  const auto d = ac::encode_domains(names);
  if (!d) return;
  check(d->size() <= ac::kMaxDomainBytes, "encoded domains over 255 bytes");
  // Wire format: labels of 1..63 bytes, each name ended by a zero byte.
  size_t at = 0, ends = 0;
  while (at < d->size()) {
    const uint8_t l = (*d)[at];
    if (l == 0) {
      ++ends;
      ++at;
      continue;
    }
    check(l <= 63 && at + 1 + l < d->size(), "label length");
    at += 1 + l;
  }
  check(ends == names.size(), "one terminated name per input name");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  if (data[0] & 1)
    solicit(data + 1, size - 1);
  else
    dhcp(data + 1, size - 1);
  domains(data + 1, size - 1);
  return 0;
}
