// core/gateway_autoconf.cpp — instances that configure themselves: a port with
// RouterAdvertisements announces fe80::1 (its link-local address) as their router, with the MTU,
// the DNS line and, when the port's route is a /64, that prefix for SLAAC; a port with DHCPv6
// hands out the instance's /128 (its AllowedSource) and the DNS line. Answers go to the frame's
// sender directly (no neighbour resolution), rate-limited per port. RAs and DHCPv6 server
// messages coming from an instance are never taken (a port has exactly one router: us).
#include <algorithm>
#include <cstring>

#include "core/gateway.hpp"

namespace wg::core {

using namespace pkt;

namespace {

constexpr Addr16 kAllNodes6{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
constexpr Mac kAllNodesMac6{0x33, 0x33, 0, 0, 0, 1};

// A deterministic spread of the unsolicited RAs over [kMinRaInterval, kMaxRaInterval], so ports
// (and gateways) do not all announce in the same second.
Duration ra_interval(uint64_t seed, uint32_t port, uint64_t sent) {
  uint64_t x = seed ^ (uint64_t{port} << 32) ^ sent * 0x9e3779b97f4a7c15ull;
  x ^= x >> 31;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 29;
  const auto span = std::chrono::duration_cast<Duration>(Gateway::kMaxRaInterval - Gateway::kMinRaInterval);
  return std::chrono::duration_cast<Duration>(Gateway::kMinRaInterval) + Duration(static_cast<Duration::rep>(x % static_cast<uint64_t>(span.count())));
}

}  // namespace

void Gateway::autoconf_derive(Port& port) {
  port.prefix64.reset();
  port.address6.reset();
  port.duid = autoconf::server_duid(port.spec.mac);
  for (const Prefix& r : port.spec.routes)
    if (r.family == Family::V6 && r.len == 64 && !port.prefix64) port.prefix64 = r.addr;
  for (const Prefix& s : port.spec.allowed_source)
    if (s.family == Family::V6 && s.len == 128 && !port.address6) port.address6 = s.addr;
}

void Gateway::send_ra(uint32_t p, const Mac& dst_mac, const uint8_t* dst, GatewayOutput& out) {
  Port& port = *ports_[p];
  autoconf::RaInfo ra;
  ra.mac = port.spec.mac;
  ra.src = *port.link_local;
  ra.mtu = port.spec.mtu;
  ra.router_lifetime = kRouterLifetime;
  ra.managed = port.spec.dhcpv6;
  ra.other = port.spec.dhcpv6;
  ra.prefix64 = port.prefix64;
  ra.dns = &dns_;
  ra.dns_lifetime = kRouterLifetime;
  uint8_t* s = scratch(out);
  const size_t n = autoconf::build_router_advert(s, ra, dst_mac, dst);
  ++port.stats.ra_sent;
  send_frame(p, {s, n}, out);
}

void Gateway::tick(const Env& env, GatewayOutput& out) {
  for (uint32_t p = 0; p < ports_.size(); ++p) {
    Port& port = *ports_[p];
    if (!port.spec.router_advertisements || port.removed || port.detached) continue;
    if (port.next_ra != Instant{} && env.now < port.next_ra) continue;
    send_ra(p, kAllNodesMac6, kAllNodes6.data(), out);
    port.next_ra = env.now + (port.initial_ras + 1 < kInitialRas
                                  ? std::chrono::duration_cast<Duration>(kInitialRaInterval)
                                  : ra_interval(icmp_seed_, p, port.stats.ra_sent));
    if (port.initial_ras < kInitialRas) ++port.initial_ras;
  }
}

bool Gateway::port_autoconf(const Env& env, uint32_t p, std::span<const uint8_t> ip, const IpInfo& info,
                            const Mac& from, GatewayOutput& out) {
  if (info.family != Family::V6) return false;
  Port& port = *ports_[p];
  const Ingress in{Ingress::Kind::Port, p, from};

  if (info.proto == kProtoIcmp6 && info.has_icmp && info.icmp_type == kNdRouterSolicit) {
    if (!port.spec.router_advertisements) return false;  // not_for_us, as before
    const auto rs = autoconf::parse_router_solicit(ip, info);
    if (!rs) {
      count(Drop::BadFrame, in);
      return true;
    }
    ++port.stats.rs_received;
    if (!port.autoconf_budget.take(env.now)) {
      count(Drop::AutoconfLimited, in);
      return true;
    }
    // To the solicitor when it said who it is, else to all nodes (RFC 4861 §6.2.6).
    if (!is_unspecified6(info.src))
      send_ra(p, rs->slla ? *rs->slla : from, info.src, out);
    else
      send_ra(p, kAllNodesMac6, kAllNodes6.data(), out);
    return true;
  }

  if (info.proto != kProtoUdp || !info.has_ports || info.dport != autoconf::kServerPort) return false;
  if (!port.spec.dhcpv6) return false;
  // Clients speak from their link-local address and port 546 to the servers' group or to us.
  const bool to_us = std::memcmp(info.dst, autoconf::kAllDhcpServers.data(), 16) == 0 ||
                     std::memcmp(info.dst, port.link_local->data(), 16) == 0;
  if (!to_us || info.sport != autoconf::kClientPort || !is_link_local6(info.src)) return false;
  const auto payload = autoconf::udp6_payload(ip, info);
  const auto msg = payload ? autoconf::parse_dhcp6(*payload) : std::nullopt;
  if (!msg) {
    count(Drop::BadFrame, in);
    return true;
  }
  ++port.stats.dhcpv6_received;
  using namespace autoconf;
  const std::span<const uint8_t> ours(port.duid);
  const bool names_us = msg->server_id.size() == ours.size() && std::equal(ours.begin(), ours.end(), msg->server_id.begin());
  bool answer = false;
  Dhcp6Answer a;
  a.to = &*msg;
  a.server_id = ours;
  a.address = port.address6;
  a.preferred = kDhcpPreferred;
  a.valid = kDhcpValid;
  a.dns = &dns_;
  switch (msg->type) {
    case kSolicit:  // RFC 8415 §16.2: a Client Identifier, no Server Identifier
      answer = !msg->client_id.empty() && msg->server_id.empty();
      a.type = msg->rapid_commit ? kReply : kAdvertise;
      break;
    case kRequest:
    case kRenew:  // §16.4, §16.6: addressed to this server
      answer = !msg->client_id.empty() && names_us;
      break;
    case kRebind:  // §16.7: to any server
      answer = !msg->client_id.empty() && msg->server_id.empty();
      break;
    case kConfirm:  // §18.3.3: the address is on this link for as long as the port exists
      answer = !msg->client_id.empty() && msg->server_id.empty();
      a.with_ia = false;
      a.status = kStatusSuccess;
      break;
    case kRelease:
    case kDecline:  // §18.3.7, §18.3.8: nothing to free, the address stays the instance's
      answer = !msg->client_id.empty() && names_us;
      a.with_ia = false;
      a.status = kStatusSuccess;
      break;
    case kInformationRequest:  // §18.3.6: a Server Identifier, if any, must be ours
      answer = msg->server_id.empty() || names_us;
      a.with_ia = false;
      break;
    default: break;  // server and relay messages from an instance: never taken
  }
  if (!answer) {
    count(Drop::NotForUs, in);
    return true;
  }
  if (!port.autoconf_budget.take(env.now)) {
    count(Drop::AutoconfLimited, in);
    return true;
  }
  uint8_t* s = scratch(out);
  const size_t n = build_dhcp6_frame(s, port.spec.mac, from, port.link_local->data(), info.src, a);
  if (n == 0) {
    count(Drop::BadFrame, in);  // cannot happen with a configuration that passed check
    return true;
  }
  ++port.stats.dhcpv6_sent;
  send_frame(p, {s, n}, out);
  return true;
}

}  // namespace wg::core
