// tests/core/autoconf_test.cpp — Router Advertisements and the DHCPv6 server of a gateway port
// (core/autoconf, core/gateway_autoconf.cpp), on the seed gateway of gateway_harness.hpp: what
// an instance that configures itself receives, byte for byte where it matters, and what it is
// refused.
#include <doctest/doctest.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "core/autoconf.hpp"
#include "gateway_harness.hpp"

namespace wg::core {
namespace {

using namespace wg::testing::gw;
namespace ac = autoconf;

const Addr16 kInstLl0 = addr("fe80::2");
const Addr16 kAllRouters = addr("ff02::2");

autoconf::DnsInfo seed_dns() {
  autoconf::DnsInfo d;
  d.servers = {addr("2001:db8:53::53"), addr("2001:db8:53::54")};
  d.domains = *ac::encode_domains({"example.net", "lab.example.org."});
  return d;
}

// The seed gateway with RAs and DHCPv6 on port 0 (its route, 2001:db8:64:2001::2/128, is the
// address to hand out) and the DNS line above.
struct AutoWorld : World {
  explicit AutoWorld(bool ra = true, bool dhcp = true, std::vector<Prefix> extra_routes = {}) {
    PortSpec s = seed_port(0);
    s.router_advertisements = ra;
    s.dhcpv6 = dhcp;
    for (const Prefix& p : extra_routes) s.routes.push_back(p);
    gw.update_port(0, s);
    gw.set_dns(seed_dns());
  }
  std::vector<Bytes> port_frames(uint32_t p) {
    out.settle();
    std::vector<Bytes> v;
    for (const ToPort& t : out.port)
      if (t.port == p) v.push_back(t.frame);
    return v;
  }
  uint64_t drops_of(Drop d) const { return drops[d]; }
};

Bytes rs(const Addr16& src, std::optional<Mac> slla, uint8_t hop = 255) {
  Bytes rest(4, 0);
  if (slla) {
    rest.push_back(1);
    rest.push_back(1);
    rest.insert(rest.end(), slla->begin(), slla->end());
  }
  return ip6(src, kAllRouters, pkt::kProtoIcmp6, icmp(pkt::kNdRouterSolicit, 0, rest), hop);
}

// The ICMPv6 options of an RA frame, by type (the last of a type wins).
struct RaSeen {
  uint8_t hop_limit = 0, flags = 0;
  uint16_t lifetime = 0;
  std::optional<uint32_t> mtu;
  std::optional<Mac> slla;
  std::optional<Bytes> prefix;  // the 32-byte option
  std::vector<Addr16> rdnss;
  Bytes dnssl;
  Addr16 src{}, dst{};
  uint8_t ip_hop = 0;
};
RaSeen read_ra(const Bytes& f) {
  const Bytes ip = payload_of(f);
  REQUIRE(ip.size() >= 56);
  REQUIRE(ip[6] == pkt::kProtoIcmp6);
  REQUIRE(l4_checksum_ok(ip));
  const uint8_t* m = ip.data() + 40;
  REQUIRE(m[0] == pkt::kNdRouterAdvert);
  RaSeen r;
  std::memcpy(r.src.data(), ip.data() + 8, 16);
  std::memcpy(r.dst.data(), ip.data() + 24, 16);
  r.ip_hop = ip[7];
  r.hop_limit = m[4];
  r.flags = m[5];
  r.lifetime = static_cast<uint16_t>(m[6] << 8 | m[7]);
  for (size_t off = 56; off < ip.size();) {
    const size_t n = size_t{ip[off + 1]} * 8;
    REQUIRE(n > 0);
    REQUIRE(off + n <= ip.size());
    const uint8_t* o = ip.data() + off;
    if (o[0] == 1) r.slla = Mac{o[2], o[3], o[4], o[5], o[6], o[7]};
    if (o[0] == 5) r.mtu = pkt::load32(o + 4);
    if (o[0] == 3) r.prefix = Bytes(o, o + n);
    if (o[0] == 25)
      for (size_t i = 8; i + 16 <= n; i += 16) {
        Addr16 a;
        std::memcpy(a.data(), o + i, 16);
        r.rdnss.push_back(a);
      }
    if (o[0] == 31) r.dnssl = Bytes(o + 8, o + n);
    off += n;
  }
  return r;
}

TEST_CASE("autoconf: a Router Solicitation is answered from fe80::1 with the MTU, the DNS line and no prefix for a /128") {
  AutoWorld w;
  w.from_port(0, frame(multicast_mac(kAllRouters), kInstMac[0], 0x86dd, rs(kInstLl0, kInstMac[0])));
  const auto frames = w.port_frames(0);
  REQUIRE(frames.size() == 1);
  CHECK(dst_mac_of(frames[0]) == kInstMac[0]);
  CHECK(src_mac_of(frames[0]) == kPortMac[0]);
  const RaSeen r = read_ra(frames[0]);
  CHECK(r.src == addr("fe80::1"));
  CHECK(r.dst == kInstLl0);  // to the solicitor
  CHECK(r.ip_hop == 255);
  CHECK(r.hop_limit == 64);
  CHECK(r.flags == 0xc0);  // M and O: DHCPv6 is on
  CHECK(r.lifetime == Gateway::kRouterLifetime);
  CHECK(r.mtu == 1420u);
  CHECK(r.slla == kPortMac[0]);
  CHECK_FALSE(r.prefix);  // the route is a /128: nothing to autoconfigure from
  CHECK(r.rdnss == std::vector<Addr16>{addr("2001:db8:53::53"), addr("2001:db8:53::54")});
  const Bytes want_domains = {7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'n', 'e', 't', 0, 3, 'l', 'a', 'b',
                              7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'o', 'r', 'g', 0};
  REQUIRE(r.dnssl.size() >= want_domains.size());
  CHECK(Bytes(r.dnssl.begin(), r.dnssl.begin() + static_cast<std::ptrdiff_t>(want_domains.size())) == want_domains);
  CHECK(r.dnssl.size() % 8 == 0);
  CHECK(w.gw.port_stats(0).rs_received == 1);
  CHECK(w.gw.port_stats(0).ra_sent == 1);
}

TEST_CASE("autoconf: a /64 routed to the port is announced on-link for SLAAC; without DHCPv6 the M and O flags are clear") {
  AutoWorld w(true, false, {prefix("2001:db8:64:2abc::/64")});
  // From :: (an instance that has no address yet): to all nodes.
  w.from_port(0, frame(multicast_mac(kAllRouters), kInstMac[0], 0x86dd, rs(addr("::"), std::nullopt)));
  const auto frames = w.port_frames(0);
  REQUIRE(frames.size() == 1);
  CHECK(dst_mac_of(frames[0]) == Mac{0x33, 0x33, 0, 0, 0, 1});
  const RaSeen r = read_ra(frames[0]);
  CHECK(r.dst == addr("ff02::1"));
  CHECK(r.flags == 0);
  REQUIRE(r.prefix);
  const Bytes& o = *r.prefix;
  CHECK(o.size() == 32);
  CHECK(o[2] == 64);
  CHECK(o[3] == 0xc0);  // L and A
  CHECK(pkt::load32(&o[4]) == 2592000u);
  CHECK(pkt::load32(&o[8]) == 604800u);
  const Addr16 want = addr("2001:db8:64:2abc::");
  CHECK(std::memcmp(&o[16], want.data(), 16) == 0);
}

TEST_CASE("autoconf: malformed solicitations are bad frames, a port without RouterAdvertisements ignores them, RAs from an instance are never taken") {
  AutoWorld w;
  // Hop limit 254: it crossed a router, or pretends to.
  w.from_port(0, frame(multicast_mac(kAllRouters), kInstMac[0], 0x86dd, rs(kInstLl0, kInstMac[0], 254)));
  // A link-layer address option from the unspecified address.
  w.from_port(0, frame(multicast_mac(kAllRouters), kInstMac[0], 0x86dd, rs(addr("::"), kInstMac[0])));
  // An option of length 0.
  Bytes bad = rs(kInstLl0, std::nullopt);
  {
    Bytes rest = {0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0};
    bad = ip6(kInstLl0, kAllRouters, pkt::kProtoIcmp6, icmp(pkt::kNdRouterSolicit, 0, rest));
  }
  w.from_port(0, frame(multicast_mac(kAllRouters), kInstMac[0], 0x86dd, bad));
  CHECK(w.port_frames(0).empty());
  CHECK(w.drops_of(Drop::BadFrame) == 3);
  CHECK(w.gw.port_stats(0).rs_received == 0);

  // Port 1 has no RouterAdvertisements: an RS is not for us, as before.
  w.from_port(1, frame(multicast_mac(kAllRouters), kInstMac[1], 0x86dd, rs(addr("fe80::3"), kInstMac[1])));
  CHECK(w.port_frames(1).empty());
  CHECK(w.drops_of(Drop::NotForUs) == 1);

  // An RA from the instance: counted, not answered, and the gateway's own RAs do not change.
  Bytes ra_rest(12, 0);
  ra_rest[0] = 64;
  ra_rest[2] = 0x07;  // lifetime 1800
  ra_rest[3] = 0x08;
  w.from_port(0, frame(Mac{0x33, 0x33, 0, 0, 0, 1}, kInstMac[0], 0x86dd,
                       ip6(kInstLl0, addr("ff02::1"), pkt::kProtoIcmp6, icmp(pkt::kNdRouterAdvert, 0, ra_rest), 255)));
  CHECK(w.drops_of(Drop::NotForUs) == 2);
  CHECK(w.port_frames(0).empty());
}

TEST_CASE("autoconf: unsolicited RAs: three at start 16 s apart, then every 200-600 s, none on ports without them") {
  AutoWorld w;
  std::vector<std::chrono::seconds> at;
  for (int s = 0; s <= 2000; ++s) {
    w.out.clear();
    w.gw.tick(w.env(), w.out);
    const auto f = w.port_frames(0);
    CHECK(w.port_frames(1).empty());
    if (!f.empty()) {
      REQUIRE(f.size() == 1);
      CHECK(read_ra(f[0]).dst == addr("ff02::1"));
      at.push_back(std::chrono::seconds(s));
    }
    w.clock.advance(std::chrono::seconds(1));
  }
  REQUIRE(at.size() >= 5);
  CHECK(at[0].count() == 0);
  CHECK(at[1].count() == 16);
  CHECK(at[2].count() == 32);
  for (size_t i = 3; i < at.size(); ++i) {
    CHECK((at[i] - at[i - 1]).count() >= 200);
    CHECK((at[i] - at[i - 1]).count() <= 601);
  }
  CHECK(w.gw.port_stats(0).ra_sent == at.size());
}

// --- DHCPv6 ---

Bytes dhcp_opt(uint16_t code, const Bytes& body) {
  Bytes o(4);
  put16(&o[0], code);
  put16(&o[2], static_cast<uint16_t>(body.size()));
  o.insert(o.end(), body.begin(), body.end());
  return o;
}
const Bytes kClientDuid = {0, 3, 0, 1, 0x02, 0, 0, 0, 0, 0x10};
Bytes ia_na(uint32_t iaid) {
  Bytes b(12, 0);
  put32(&b[0], iaid);
  return dhcp_opt(3, b);
}
Bytes dhcp_msg(uint8_t type, std::vector<Bytes> options) {
  Bytes m = {type, 0xab, 0xcd, 0xef};
  for (const Bytes& o : options) m.insert(m.end(), o.begin(), o.end());
  return m;
}
Bytes dhcp_frame(const Bytes& msg, const Addr16& src = kInstLl0, uint16_t sport = 546) {
  Bytes u = udp(sport, 547, 0);
  u.insert(u.end(), msg.begin(), msg.end());
  put16(&u[4], static_cast<uint16_t>(u.size()));
  return frame(Mac{0x33, 0x33, 0, 1, 0, 2}, kInstMac[0], 0x86dd, ip6(src, addr("ff02::1:2"), pkt::kProtoUdp, u, 1));
}

struct DhcpSeen {
  uint8_t type = 0;
  std::array<uint8_t, 3> xid{};
  Bytes client_id, server_id;
  std::optional<uint16_t> status, ia_status;
  std::optional<Addr16> address;
  uint32_t iaid = 0, t1 = 0, t2 = 0, preferred = 0, valid = 0;
  bool rapid_commit = false;
  std::vector<Addr16> dns;
  Bytes domains;
};
DhcpSeen read_dhcp(const Bytes& f) {
  const Bytes ip = payload_of(f);
  REQUIRE(ip.size() >= 52);
  REQUIRE(ip[6] == pkt::kProtoUdp);
  REQUIRE(l4_checksum_ok(ip));
  CHECK(pkt::load16(&ip[40]) == 547);
  CHECK(pkt::load16(&ip[42]) == 546);
  DhcpSeen d;
  const uint8_t* m = ip.data() + 48;
  const size_t n = ip.size() - 48;
  d.type = m[0];
  std::memcpy(d.xid.data(), m + 1, 3);
  const auto walk = [&](const uint8_t* p, size_t len, auto& self, bool in_ia) -> void {
    for (size_t off = 0; off + 4 <= len;) {
      const uint16_t code = pkt::load16(p + off), ol = pkt::load16(p + off + 2);
      REQUIRE(off + 4 + ol <= len);
      const uint8_t* b = p + off + 4;
      switch (code) {
        case 1: d.client_id.assign(b, b + ol); break;
        case 2: d.server_id.assign(b, b + ol); break;
        case 3:
          d.iaid = pkt::load32(b);
          d.t1 = pkt::load32(b + 4);
          d.t2 = pkt::load32(b + 8);
          self(b + 12, ol - 12u, self, true);
          break;
        case 5: {
          Addr16 a;
          std::memcpy(a.data(), b, 16);
          d.address = a;
          d.preferred = pkt::load32(b + 16);
          d.valid = pkt::load32(b + 20);
          break;
        }
        case 13: (in_ia ? d.ia_status : d.status) = pkt::load16(b); break;
        case 14: d.rapid_commit = true; break;
        case 23:
          for (size_t i = 0; i + 16 <= ol; i += 16) {
            Addr16 a;
            std::memcpy(a.data(), b + i, 16);
            d.dns.push_back(a);
          }
          break;
        case 24: d.domains.assign(b, b + ol); break;
        default: break;
      }
      off += 4 + ol;
    }
  };
  walk(m + 4, n - 4, walk, false);
  return d;
}

TEST_CASE("autoconf: DHCPv6 Solicit, Request, Renew, Rebind, Release and Information-request for the port's /128") {
  AutoWorld w;
  const Addr16 mine = addr("2001:db8:64:2001::2");
  const auto one = [&](const Bytes& msg) {
    w.out.clear();
    w.from_port(0, dhcp_frame(msg));
    const auto f = w.port_frames(0);
    REQUIRE(f.size() == 1);
    CHECK(dst_mac_of(f[0]) == kInstMac[0]);
    const Bytes ip = payload_of(f[0]);
    CHECK(std::memcmp(&ip[8], addr("fe80::1").data(), 16) == 0);
    CHECK(std::memcmp(&ip[24], kInstLl0.data(), 16) == 0);
    return read_dhcp(f[0]);
  };
  const DhcpSeen adv = one(dhcp_msg(ac::kSolicit, {dhcp_opt(1, kClientDuid), ia_na(7), dhcp_opt(6, {0, 23, 0, 24})}));
  CHECK(adv.type == ac::kAdvertise);
  CHECK(adv.xid == std::array<uint8_t, 3>{0xab, 0xcd, 0xef});
  CHECK(adv.client_id == kClientDuid);
  const auto duid = ac::server_duid(kPortMac[0]);
  CHECK(adv.server_id == Bytes(duid.begin(), duid.end()));
  CHECK(adv.iaid == 7u);
  CHECK(adv.address == mine);
  CHECK(adv.preferred == Gateway::kDhcpPreferred);
  CHECK(adv.valid == Gateway::kDhcpValid);
  CHECK(adv.t1 == Gateway::kDhcpPreferred / 2);
  CHECK(adv.t2 == Gateway::kDhcpPreferred / 5 * 4);
  CHECK(adv.dns == std::vector<Addr16>{addr("2001:db8:53::53"), addr("2001:db8:53::54")});
  CHECK(adv.domains == seed_dns().domains);
  CHECK_FALSE(adv.rapid_commit);

  const Bytes sid = dhcp_opt(2, adv.server_id);
  for (uint8_t type : {ac::kRequest, ac::kRenew}) {
    const DhcpSeen r = one(dhcp_msg(type, {dhcp_opt(1, kClientDuid), sid, ia_na(7)}));
    CHECK(r.type == ac::kReply);
    CHECK(r.address == mine);
  }
  const DhcpSeen rb = one(dhcp_msg(ac::kRebind, {dhcp_opt(1, kClientDuid), ia_na(9)}));
  CHECK(rb.type == ac::kReply);
  CHECK(rb.iaid == 9u);
  CHECK(rb.address == mine);
  const DhcpSeen rel = one(dhcp_msg(ac::kRelease, {dhcp_opt(1, kClientDuid), sid, ia_na(7)}));
  CHECK(rel.type == ac::kReply);
  CHECK(rel.status == ac::kStatusSuccess);
  CHECK_FALSE(rel.address);
  const DhcpSeen info = one(dhcp_msg(ac::kInformationRequest, {dhcp_opt(6, {0, 23})}));
  CHECK(info.type == ac::kReply);
  CHECK_FALSE(info.address);
  CHECK(info.dns.size() == 2);
  // Rapid commit: a Reply at once, saying so.
  const DhcpSeen rc = one(dhcp_msg(ac::kSolicit, {dhcp_opt(1, kClientDuid), ia_na(7), dhcp_opt(14, {})}));
  CHECK(rc.type == ac::kReply);
  CHECK(rc.rapid_commit);
  CHECK(rc.address == mine);
  CHECK(w.gw.port_stats(0).dhcpv6_sent == 7);
}

TEST_CASE("autoconf: DHCPv6 messages for another server, without a client, malformed or from a server are refused and counted") {
  AutoWorld w;
  const Bytes other_server = dhcp_opt(2, {0, 3, 0, 1, 2, 9, 9, 9, 9, 9});
  w.from_port(0, dhcp_frame(dhcp_msg(ac::kRequest, {dhcp_opt(1, kClientDuid), other_server, ia_na(1)})));
  w.from_port(0, dhcp_frame(dhcp_msg(ac::kSolicit, {ia_na(1)})));                                    // no client
  w.from_port(0, dhcp_frame(dhcp_msg(ac::kSolicit, {dhcp_opt(1, kClientDuid), other_server})));     // server id
  w.from_port(0, dhcp_frame(dhcp_msg(ac::kAdvertise, {dhcp_opt(1, kClientDuid), other_server})));   // a server
  CHECK(w.drops_of(Drop::NotForUs) == 4);
  // Malformed: an option running past the end, two client ids, an IA_NA too short.
  Bytes past = dhcp_msg(ac::kSolicit, {dhcp_opt(1, kClientDuid)});
  past[7] = 200;
  w.from_port(0, dhcp_frame(past));
  w.from_port(0, dhcp_frame(dhcp_msg(ac::kSolicit, {dhcp_opt(1, kClientDuid), dhcp_opt(1, kClientDuid)})));
  w.from_port(0, dhcp_frame(dhcp_msg(ac::kSolicit, {dhcp_opt(1, kClientDuid), dhcp_opt(3, {0, 0, 0, 1})})));
  // A bad UDP checksum.
  Bytes f = dhcp_frame(dhcp_msg(ac::kSolicit, {dhcp_opt(1, kClientDuid)}));
  f.back() ^= 0x40;
  w.from_port(0, f);
  CHECK(w.drops_of(Drop::BadFrame) == 4);
  // Not from a link-local address, or not from port 546: not a DHCPv6 client here.
  w.from_port(0, dhcp_frame(dhcp_msg(ac::kSolicit, {dhcp_opt(1, kClientDuid)}), addr("2001:db8:64:2001::2")));
  w.from_port(0, dhcp_frame(dhcp_msg(ac::kSolicit, {dhcp_opt(1, kClientDuid)}), kInstLl0, 1000));
  CHECK(w.port_frames(0).empty());
  CHECK(w.gw.port_stats(0).dhcpv6_sent == 0);
}

TEST_CASE("autoconf: answers are rate-limited per port and counted") {
  AutoWorld w;
  const Bytes sol = dhcp_frame(dhcp_msg(ac::kSolicit, {dhcp_opt(1, kClientDuid), ia_na(1)}));
  for (uint32_t i = 0; i < Gateway::kAutoconfBurst + 10; ++i) {
    w.from_port(0, sol);
    w.end_batch();
  }
  CHECK(w.gw.port_stats(0).dhcpv6_sent == Gateway::kAutoconfBurst);
  CHECK(w.drops_of(Drop::AutoconfLimited) == 10);
  // RSes share the budget; a second later there is room for kAutoconfPerSecond more.
  w.from_port(0, frame(multicast_mac(kAllRouters), kInstMac[0], 0x86dd, rs(kInstLl0, kInstMac[0])));
  CHECK(w.drops_of(Drop::AutoconfLimited) == 11);
  w.clock.advance(std::chrono::seconds(1));
  w.out.clear();
  for (uint32_t i = 0; i < Gateway::kAutoconfPerSecond + 1; ++i) w.from_port(0, sol);
  CHECK(w.port_frames(0).size() == Gateway::kAutoconfPerSecond);
}

TEST_CASE("autoconf: search domains are encoded in DNS wire format, and names that cannot be are refused") {
  const auto d = ac::encode_domains({"a.b", "c."});
  REQUIRE(d);
  CHECK(*d == Bytes{1, 'a', 1, 'b', 0, 1, 'c', 0});
  ac::DomainError e;
  CHECK_FALSE(ac::encode_domains({"ok.example", "bad..example"}, &e));
  CHECK(e.name == "bad..example");
  CHECK_FALSE(ac::encode_domains({std::string(64, 'x') + ".example"}, &e));
  CHECK_FALSE(ac::encode_domains({""}, &e));
  std::vector<std::string> many(30, "abcdefghij.example");  // 20 bytes each: over 255 together
  CHECK_FALSE(ac::encode_domains(many, &e));
}

}  // namespace
}  // namespace wg::core
