// core/gateway.cpp — forwarding, policy, ICMP errors and the port's own L2 answers; see
// gateway.hpp for the paths a packet takes. Segment and fragment loops: gateway_segments.cpp;
// the neighbour cache: neighbours.hpp.
#include "core/gateway.hpp"

#include <algorithm>
#include <cstring>

namespace wg::core {

using namespace pkt;

namespace {

size_t alen(Family f) { return f == Family::V4 ? 4 : 16; }

// The flow a packet belongs to, written from the instance's side: inbound packets are
// addressed to the instance, outbound ones come from it.
FlowKey flow_key(const IpInfo& info, uint32_t port, bool inbound) {
  FlowKey k;
  std::memcpy(k.inst.data(), inbound ? info.dst : info.src, alen(info.family));
  std::memcpy(k.remote.data(), inbound ? info.src : info.dst, alen(info.family));
  k.inst_port = inbound ? info.dport : info.sport;
  k.remote_port = inbound ? info.sport : info.dport;
  k.port = port;
  k.proto = info.proto;
  k.family = info.family;
  return k;
}

bool v4_broadcast_or_multicast(const uint8_t* a) { return (a[0] & 0xf0) == 0xe0 || load32(a) == 0xffffffff; }

constexpr IcmpKind kIcmpUnreachableRoute{kIcmp6DestUnreach, 0, kIcmp4DestUnreach, 1};  // `unreachable` route
constexpr IcmpKind kIcmpNoRoute{kIcmp6DestUnreach, 0, kIcmp4DestUnreach, 0};
constexpr IcmpKind kIcmpNoAddress{kIcmp6DestUnreach, 3, kIcmp4DestUnreach, 1};
constexpr IcmpKind kIcmpTimeExceeded{kIcmp6TimeExceeded, 0, kIcmp4TimeExceeded, 0};
constexpr IcmpKind kIcmpTooBig{kIcmp6TooBig, 0, kIcmp4DestUnreach, 4};

constexpr Mac kAllNodesMac{0x33, 0x33, 0, 0, 0, 1};
constexpr uint8_t kAllNodes[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

}  // namespace

Gateway::Gateway(DropCounters& drops, uint64_t seed, size_t flow_capacity, size_t scratch_buffers)
    : drops_(drops), flows_(flow_capacity, seed), icmp_seed_(seed ^ 0x9e3779b97f4a7c15ull),
      scratch_(std::max<size_t>(scratch_buffers, 1) * kScratchSize),
      scratch_max_(std::max<size_t>(scratch_buffers, 1)) {}

void Gateway::reserve_for_mtu(uint32_t mtu) {
  // A segment or fragment at kIngressHeadroom, with room behind it for padding and the tag.
  const size_t need = (kIngressHeadroom + size_t{mtu} + 128 + 63) & ~size_t{63};
  if (need <= scratch_size_) return;
  scratch_size_ = need;
  const size_t count = std::clamp(kScratchBytesMax / need, std::min(kScratchBuffersMin, scratch_max_), scratch_max_);
  scratch_.assign(count * need, 0);
  scratch_used_ = 0;
}

void Gateway::set_host_addresses(const std::vector<HostAddress>& a) {
  for (const HostAddress& h : host_) routes_.remove_if(Prefix::make(h.family, h.addr.data(), h.family == Family::V4 ? 32 : 128), {RouteTarget::Kind::Host, 0});
  host_ = a;
  for (const HostAddress& h : host_)
    routes_.insert(Prefix::make(h.family, h.addr.data(), h.family == Family::V4 ? 32 : 128), {RouteTarget::Kind::Host, 0});
}

void Gateway::add_unreachable(const Prefix& p) { routes_.insert(p, {RouteTarget::Kind::Unreachable, 0}); }

uint32_t Gateway::add_port(PortSpec spec) {
  const uint32_t id = static_cast<uint32_t>(ports_.size());
  auto port = std::make_unique<Port>();
  port->spec = std::move(spec);
  ports_.push_back(std::move(port));
  install_port(id);
  return id;
}

void Gateway::update_port(uint32_t p, PortSpec spec) {
  Port& port = *ports_[p];
  spec.mac = port.spec.mac;
  port.spec = std::move(spec);
  install_port(p);
}

void Gateway::remove_port(uint32_t p) {
  Port& port = *ports_[p];
  if (port.removed) return;
  routes_.remove_value(RouteTarget::port(p));
  port.allowed_source.clear();
  port.removed = true;
  port.detached = true;
  // Nothing of it is used again: no ICMP source, no neighbour, no parked packet.
  port.global6.reset();
  port.v4.reset();
  port.neighbours.release();
  ++counters_.ports_removed;
}

void Gateway::detach_port(uint32_t p) {
  Port& port = *ports_[p];
  port.detached = true;
  port.neighbours.forget();
}

void Gateway::reattach_port(uint32_t p) {
  Port& port = *ports_[p];
  if (port.removed) return;
  port.detached = false;
  port.neighbours.forget();
  ++port.stats.reattached;
}

void Gateway::set_unreachable(const std::vector<Prefix>& prefixes) {
  routes_.remove_value({RouteTarget::Kind::Unreachable, 0});
  for (const Prefix& u : prefixes) add_unreachable(u);
}

std::optional<uint32_t> Gateway::find_port(const std::string& name) const {
  for (uint32_t i = 0; i < ports_.size(); ++i)
    if (!ports_[i]->removed && ports_[i]->spec.name == name) return i;
  return std::nullopt;
}

void Gateway::install_port(uint32_t id) {
  Port& port = *ports_[id];
  reserve_for_mtu(port.spec.mtu);
  routes_.remove_value(RouteTarget::port(id));
  for (const Prefix& r : port.spec.routes) routes_.insert(r, RouteTarget::port(id));
  port.allowed_source.clear();
  for (const Prefix& s : port.spec.allowed_source) port.allowed_source.insert(s, 1);
  port.link_local.reset();
  port.global6.reset();
  port.v4.reset();
  for (const HostAddress& a : port.spec.addresses) {
    if (a.family == Family::V6 && is_link_local6(a.addr.data())) {
      if (!port.link_local) port.link_local = a.addr;
    } else if (a.family == Family::V6) {
      if (!port.global6) port.global6 = a.addr;
    } else if (a.family == Family::V4 && !port.v4) {
      port.v4.emplace();
      std::memcpy(port.v4->data(), a.addr.data(), 4);
    }
  }
  if (!port.link_local) {
    // Like a kernel interface: a link-local address from the MAC (modified EUI-64), so ND
    // always has a proper source.
    Addr16 ll{0xfe, 0x80};
    const Mac& m = port.spec.mac;
    ll[8] = m[0] ^ 0x02;
    ll[9] = m[1];
    ll[10] = m[2];
    ll[11] = 0xff;
    ll[12] = 0xfe;
    ll[13] = m[3];
    ll[14] = m[4];
    ll[15] = m[5];
    port.link_local = ll;
    port.spec.addresses.push_back({Family::V6, ll, 64});
  }
  port.neighbours.reserve_parking(std::max<uint32_t>(port.spec.mtu, 1280));
  autoconf_derive(port);
}

// --- helpers ---

void Gateway::count(Drop d, const Ingress& in) {
  drops_.add(d);
  if (in.kind == Ingress::Kind::Port) ports_[in.id]->stats.drops.add(d);
}

void Gateway::count_port(Drop d, uint32_t p) {
  drops_.add(d);
  ports_[p]->stats.drops.add(d);
}

uint8_t* Gateway::scratch(GatewayOutput& out) {
  if (scratch_used_ == scratch_.size() / scratch_size_) {
    out.flush();
    scratch_used_ = 0;
  }
  return scratch_.data() + scratch_size_ * scratch_used_++;
}

void Gateway::send_frame(uint32_t p, std::span<uint8_t> frame, GatewayOutput& out) {
  if (ports_[p]->detached) return count_port(Drop::PortWrite, p);  // no device behind it now
  PortStats& st = ports_[p]->stats;
  ++st.tx_packets;
  st.tx_bytes += frame.size() - kVnetLen;
  out.to_port(p, frame);
}

void Gateway::send_to_tunnel(const Env& env, PeerId peer, std::span<uint8_t> buf, size_t off, size_t len,
                             GatewayOutput& out, const Ingress* in, const SealSource* from) {
  const Drop d = out.to_tunnel(env, peer, buf.subspan(off - data::kHeaderLen), len, from);
  // A peer that owns the destination but has no endpoint to send to: the sender learns at once
  // (kernel WireGuard does the same), instead of waiting for a timeout.
  if (d != Drop::NoEndpoint || !in || in->kind == Ingress::Kind::Tunnel) return;
  std::span<uint8_t> ip = buf.subspan(off, len);
  IpInfo info;
  if (parse_ip(ip, info) != IpError::None) return;
  icmp_error(env, ip, info, kIcmpNoAddress, 0, *in, out);
}

bool Gateway::is_own(const Port& port, Family f, const uint8_t* addr) const {
  for (const HostAddress& a : port.spec.addresses)
    if (a.family == f && std::memcmp(a.addr.data(), addr, alen(f)) == 0) return true;
  return false;
}

bool Gateway::icmp_allowed(Instant now, Family f, const uint8_t* to) {
  uint64_t h = icmp_seed_;
  for (size_t i = 0; i < alen(f); ++i) h = (h ^ to[i]) * 0x100000001b3ull;
  IcmpBucket& b = icmp_sources_[(h ^ (h >> 29)) % kIcmpSourceBuckets];
  const double since = std::chrono::duration<double>(now - b.last).count();
  b.last = now;
  b.tokens = static_cast<float>(
      std::min<double>(kIcmpPerSourceBurst, b.tokens + (since > 0 ? since * kIcmpPerSourcePerSecond : 0)));
  if (b.tokens < 1) return false;
  const double elapsed = std::chrono::duration<double>(now - icmp_last_).count();
  icmp_last_ = now;
  icmp_tokens_ = std::min<double>(kIcmpBurst, icmp_tokens_ + (elapsed > 0 ? elapsed * kIcmpPerSecond : 0));
  if (icmp_tokens_ < 1) return false;
  icmp_tokens_ -= 1;
  b.tokens -= 1;
  return true;
}

const uint8_t* Gateway::icmp_source(Family f, const Ingress& in) const {
  auto from_port = [&](const Port& port) -> const uint8_t* {
    if (f == Family::V6 && port.global6) return port.global6->data();
    if (f == Family::V4 && port.v4) return port.v4->data();
    return nullptr;
  };
  if (in.kind == Ingress::Kind::Port)
    if (const uint8_t* a = from_port(*ports_[in.id])) return a;
  for (const HostAddress& h : host_)
    if (h.family == f) return h.addr.data();
  for (const auto& port : ports_)
    if (const uint8_t* a = from_port(*port)) return a;
  if (in.kind == Ingress::Kind::Port && f == Family::V6) return ports_[in.id]->link_local->data();
  return nullptr;
}

void Gateway::icmp_error(const Env& env, std::span<const uint8_t> orig, const IpInfo& info, const IcmpKind& kind,
                         uint32_t param, const Ingress& in, GatewayOutput& out) {
  const bool v6 = info.family == Family::V6;
  const uint8_t type = v6 ? kind.type6 : kind.type4;
  const uint8_t code = v6 ? kind.code6 : kind.code4;
  // Towards the host the error comes from the destination it is about: the host drops a
  // packet arriving with one of its own addresses as source (a martian), and its stack (and
  // conntrack, for NATed senders) matches the quoted packet, not the source.
  const uint8_t* src = in.kind == Ingress::Kind::Tun ? info.dst : icmp_source(info.family, in);
  if (!src) return;
  if (!icmp_allowed(env.now, info.family, info.src)) {
    ++counters_.icmp_rate_limited;
    return;
  }
  uint8_t* s = scratch(out);
  const size_t n = build_icmp_error(s + kIngressHeadroom, info.family, src, orig.first(info.len), type, code, param);
  if (n == 0) return;
  ++counters_.icmp_sent;
  std::span<uint8_t> buf(s, scratch_size_);
  switch (in.kind) {
    case Ingress::Kind::Tunnel: send_to_tunnel(env, in.id, buf, kIngressHeadroom, n, out); break;
    case Ingress::Kind::Tun: out.to_tun(buf.subspan(kIngressHeadroom, n)); break;
    case Ingress::Kind::Port: emit_ip_to_port(in.id, buf, kIngressHeadroom, n, info.family, in.mac, out); break;
  }
}

// --- policy ---

bool Gateway::inbound_allowed(const Port& port, uint32_t p, const IpInfo& info, Instant now) {
  if (info.family == Family::V6 && info.proto == kProtoIcmp6) {
    if (!info.has_icmp) return false;
    const uint8_t t = info.icmp_type;
    return t <= kIcmp6ParamProblem || t == kIcmp6EchoRequest || t == kIcmp6EchoReply ||
           (t >= kNdRouterSolicit && t <= kNdRedirect);
  }
  if (info.family == Family::V4 && info.proto == kProtoIcmp) {
    if (!info.has_icmp) return false;
    const uint8_t t = info.icmp_type;
    return t == kIcmp4EchoReply || t == kIcmp4DestUnreach || t == kIcmp4EchoRequest || t == kIcmp4TimeExceeded ||
           t == kIcmp4ParamProblem;
  }
  if (info.has_ports)
    for (const InboundRule& r : port.spec.allow_inbound)
      if (r.proto == info.proto && info.dport >= r.first && info.dport <= r.last) return true;
  if ((info.proto == kProtoTcp || info.proto == kProtoUdp) && !info.has_ports) return false;
  return flows_.match_inbound(flow_key(info, p, true), info.tcp_flags, now);
}

void Gateway::note_outbound(const Port& port, uint32_t p, const IpInfo& info, Instant now) {
  if (port.spec.allow_inbound.empty()) return;
  if (info.proto == kProtoIcmp || info.proto == kProtoIcmp6) return;  // ICMP always passes
  if ((info.proto == kProtoTcp || info.proto == kProtoUdp) && !info.has_ports) return;
  flows_.note_outbound(flow_key(info, p, false), info.tcp_flags, now);
}

// --- tunnel and TUN ingress ---

void Gateway::from_tunnel(const Env& env, PeerId peer, std::span<uint8_t> buf, size_t off, size_t len,
                          GatewayOutput& out) {
  std::span<uint8_t> ip = buf.subspan(off, len);
  IpInfo info;
  if (parse_ip(ip, info) != IpError::None) {
    drops_.add(Drop::BadInnerPacket);
    return;
  }
  // Cryptokey routing, inbound: the source must route back to the peer that sent it.
  const RouteTarget* s = routes_.lookup(info.family, info.src);
  if (!s || s->kind != RouteTarget::Kind::Peer || s->id != peer) {
    drops_.add(Drop::SourceNotAllowed);
    return;
  }
  const RouteTarget* d = routes_.lookup(info.family, info.dst);
  const Ingress in{Ingress::Kind::Tunnel, peer, {}};
  if (d && d->kind == RouteTarget::Kind::Port) return forward_to_port(env, d->id, buf, off, info, in, out);
  if (d && d->kind == RouteTarget::Kind::Unreachable) {
    drops_.add(Drop::Unreachable);
    return icmp_error(env, ip, info, kIcmpUnreachableRoute, 0, in, out);
  }
  out.to_tun(ip.first(info.len));  // everything else is the host's to decide, as with plain WireGuard
}

void Gateway::from_tun(const Env& env, std::span<uint8_t> buf, size_t off, size_t len, const VnetHeader* vnet,
                       GatewayOutput& out) {
  std::span<uint8_t> ip = buf.subspan(off, len);
  IpInfo info;
  if (parse_ip(ip, info) != IpError::None) {
    drops_.add(Drop::NoRoute);
    return;
  }
  const uint8_t gso = vnet ? static_cast<uint8_t>(vnet->gso_type & ~kGsoEcn) : kGsoNone;
  if (vnet && (vnet->flags & kVnetNeedsCsum) && gso == kGsoNone) {
    // The host's stack left the transport checksum to the "device" (TUN_F_CSUM): finish it.
    VnetHeader h = *vnet;
    h.csum_start = static_cast<uint16_t>(h.csum_start + kEthLen);  // complete_checksum counts from Ethernet
    if (info.l4 == 0 || vnet->csum_start < info.l4 || !complete_checksum(ip.first(info.len), h)) {
      drops_.add(Drop::GsoUnsupported);
      return;
    }
  }
  const RouteTarget* d = routes_.lookup(info.family, info.dst);
  const Ingress in{Ingress::Kind::Tun, 0, {}};
  if (gso != kGsoNone && d && (d->kind == RouteTarget::Kind::Peer || d->kind == RouteTarget::Kind::Port))
    return split_from_tun(env, *d, ip, info, *vnet, out);
  if (d && d->kind == RouteTarget::Kind::Peer) return send_to_tunnel(env, d->id, buf, off, info.len, out, &in);
  if (d && d->kind == RouteTarget::Kind::Port) return forward_to_port(env, d->id, buf, off, info, in, out);
  drops_.add(d && d->kind == RouteTarget::Kind::Unreachable ? Drop::Unreachable : Drop::NoRoute);
  icmp_error(env, ip, info, d && d->kind == RouteTarget::Kind::Unreachable ? kIcmpUnreachableRoute : kIcmpNoAddress, 0, in, out);
}

void Gateway::forward_to_port(const Env& env, uint32_t p, std::span<uint8_t> buf, size_t off, const IpInfo& info,
                              const Ingress& in, GatewayOutput& out) {
  Port& port = *ports_[p];
  std::span<const uint8_t> ip = buf.subspan(off, info.len);
  const bool v6 = info.family == Family::V6;
  if (port.detached) return count_port(Drop::PortWrite, p);  // nothing to park it for
  if (is_own(port, info.family, info.dst)) {
    count_port(Drop::NotForUs, p);  // our address on the segment: only answered from the segment
    return;
  }
  if (!port.spec.allow_inbound.empty() && !inbound_allowed(port, p, info, env.now)) {
    count_port(Drop::InboundDenied, p);
    return;
  }
  if (info.ttl <= 1) {
    count_port(Drop::TtlExceeded, p);
    return icmp_error(env, ip, info, kIcmpTimeExceeded, 0, in, out);
  }
  if (info.len > port.spec.mtu) {
    if (!v6 && !info.dont_fragment && ipv4_fragments(ip, info, port.spec.mtu) > 0) {
      // IPv4 without DF: fragmented, as a router must (RFC 1812 4.2.2.7).
      decrement_ttl(buf.data() + off, info.family);
      return fragment_to_port(env, p, ip, info, out);
    }
    count_port(Drop::TooBig, p);
    return icmp_error(env, ip, info, kIcmpTooBig, port.spec.mtu, in, out);
  }
  decrement_ttl(buf.data() + off, info.family);
  deliver_on_port(env, p, buf, off, info.len, info.family, info.dst, out);
}

// --- port egress: neighbours ---

void Gateway::emit_ip_to_port(uint32_t p, std::span<uint8_t> buf, size_t off, size_t len, Family f, const Mac& dst,
                              GatewayOutput& out) {
  uint8_t* h = buf.data() + off - kFrameHeader;
  write_vnet_none(h);
  write_eth(h + kVnetLen, dst, ports_[p]->spec.mac, f == Family::V6 ? kEtherIpv6 : kEtherIpv4);
  send_frame(p, {h, len + kFrameHeader}, out);
}

void Gateway::deliver_on_port(const Env& env, uint32_t p, std::span<uint8_t> buf, size_t off, size_t len, Family f,
                              const uint8_t* dst, GatewayOutput& out) {
  NeighbourCache& cache = ports_[p]->neighbours;
  if (const Neighbour* n = cache.resolved(f, dst)) {
    const Mac mac = n->mac;
    const bool stale = NeighbourCache::stale(*n, env.now);
    // The packet goes first: the solicitation takes a scratch buffer, and when the ring wraps
    // the output is flushed and every buffer reused, this packet's own (a segment or a
    // fragment) among them while it was not yet handed over.
    emit_ip_to_port(p, buf, off, len, f, mac, out);
    if (stale) solicit(env, p, f, dst, out);  // refresh; keep using it
    return;
  }
  if (cache.drop_parked()) count_port(Drop::NeighbourUnresolved, p);  // the older packet gives way
  if (!cache.park(f, dst, buf.subspan(off, len))) count_port(Drop::NeighbourUnresolved, p);
  solicit(env, p, f, dst, out);
}

void Gateway::solicit(const Env& env, uint32_t p, Family f, const uint8_t* addr, GatewayOutput& out) {
  Port& port = *ports_[p];
  if (!port.neighbours.solicit_due(f, addr, env.now)) return;
  uint8_t* s = scratch(out);
  size_t len = 0;
  if (f == Family::V6) {
    len = build_neighbor_solicit(s, port.spec.mac, port.link_local->data(), addr);
  } else {
    static constexpr uint8_t kZero[4] = {};
    len = build_arp(s, 1, port.spec.mac, port.v4 ? port.v4->data() : kZero, kBroadcast, addr);
  }
  ++counters_.neighbour_solicits;
  send_frame(p, {s, len}, out);
}

void Gateway::learn_neighbour(const Env& env, uint32_t p, Family f, const uint8_t* addr, const Mac& mac,
                              GatewayOutput& out) {
  NeighbourCache& cache = ports_[p]->neighbours;
  cache.learn(f, addr, mac, env.now);
  const std::span<const uint8_t> parked = cache.take_parked(f, addr);
  if (parked.empty()) return;
  // The cache reuses the parked packet's storage for the next one to park: send a copy.
  uint8_t* s = scratch(out);
  if (kIngressHeadroom + parked.size() > scratch_size_) return count_port(Drop::NeighbourUnresolved, p);
  std::memcpy(s + kIngressHeadroom, parked.data(), parked.size());
  copied(parked.size());
  emit_ip_to_port(p, {s, scratch_size_}, kIngressHeadroom, parked.size(), f, mac, out);
}

// --- port ingress ---

void Gateway::from_port(const Env& env, uint32_t p, std::span<uint8_t> buf, size_t off, size_t len,
                        GatewayOutput& out) {
  Port& port = *ports_[p];
  ++port.stats.rx_packets;
  port.stats.rx_bytes += len > kVnetLen ? len - kVnetLen : 0;
  Ingress in{Ingress::Kind::Port, p, {}};
  if (port.detached) return count(Drop::NotForUs, in);  // removed, or read before its device went
  if (len < kFrameHeader) return count(Drop::BadFrame, in);
  const VnetHeader vnet = read_vnet(buf.data() + off);
  const auto eth = parse_eth(buf.subspan(off + kVnetLen, len - kVnetLen));
  if (!eth) return count(Drop::NotForUs, in);  // 802.3/LLC (STP, ...) or VLAN-tagged: not ours
  in.mac = eth->src;
  if (eth->dst != port.spec.mac && !is_multicast(eth->dst)) return count(Drop::NotForUs, in);
  if (is_multicast(eth->src)) return count(Drop::BadFrame, in);

  if (eth->type == kEtherArp) {
    const auto arp = parse_arp(eth->payload);
    if (!arp) return count(Drop::BadFrame, in);
    return port_arp(env, p, *arp, out);
  }
  const Family want = eth->type == kEtherIpv6 ? Family::V6 : eth->type == kEtherIpv4 ? Family::V4 : Family::None;
  if (want == Family::None) return count(Drop::NotForUs, in);

  const size_t ip_off = off + kFrameHeader;
  std::span<uint8_t> ip = buf.subspan(ip_off, len - kFrameHeader);
  IpInfo info;
  if (parse_ip(ip, info) != IpError::None || info.family != want) return count(Drop::BadFrame, in);
  // A checksum left to the "device" must lie in the transport part: never inside the IP
  // header that was just validated.
  if ((vnet.flags & kVnetNeedsCsum) && vnet.gso_type == kGsoNone &&
      (info.l4 == 0 || vnet.csum_start < kEthLen + info.l4 || !complete_checksum(ip.first(info.len), vnet)))
    return count(Drop::BadFrame, in);

  const bool v6 = info.family == Family::V6;
  if ((v6 && (is_link_local6(info.dst) || is_multicast6(info.dst))) ||
      (!v6 && v4_broadcast_or_multicast(info.dst)) || is_own(port, info.family, info.dst))
    return port_local_ip(env, p, buf, ip_off, info, eth->src, out);

  // Anti-spoofing: only the instance's own sources leave its port.
  if (!port.allowed_source.lookup(info.family, info.src)) return count(Drop::SpoofedSource, in);
  learn_neighbour(env, p, info.family, info.src, eth->src, out);
  forward_from_port(env, p, buf, ip_off, info, vnet, in, out);
}

void Gateway::forward_from_port(const Env& env, uint32_t p, std::span<uint8_t> buf, size_t off, const IpInfo& info,
                                const VnetHeader& vnet, const Ingress& in, GatewayOutput& out) {
  Port& port = *ports_[p];
  std::span<uint8_t> ip = buf.subspan(off, info.len);
  const bool v6 = info.family == Family::V6;
  const RouteTarget* d = routes_.lookup(info.family, info.dst);
  bool to_host = false;
  if (!d) {
    if (!port.spec.allow_host) {
      count(Drop::NoRoute, in);
      return icmp_error(env, ip, info, kIcmpNoRoute, 0, in, out);
    }
    to_host = true;
  } else {
    switch (d->kind) {
      case RouteTarget::Kind::Port: return count(Drop::EastWest, in);
      case RouteTarget::Kind::Unreachable: {
        count(Drop::Unreachable, in);
        return icmp_error(env, ip, info, kIcmpUnreachableRoute, 0, in, out);
      }
      case RouteTarget::Kind::Host:
        if (!port.spec.allow_host) return count(Drop::HostDenied, in);
        to_host = true;
        break;
      case RouteTarget::Kind::Peer: break;
    }
  }
  if (info.ttl <= 1) {
    count(Drop::TtlExceeded, in);
    return icmp_error(env, ip, info, kIcmpTimeExceeded, 0, in, out);
  }
  const NextHop hop{to_host, to_host ? PeerId{0} : d->id};
  if (vnet.gso_type != kGsoNone) return split_from_port(env, p, ip, info, vnet, hop, in, out);
  const uint32_t mtu = out.tunnel_mtu();
  if (!to_host && info.len > mtu) {
    if (v6 || info.dont_fragment || ipv4_fragments(ip, info, mtu) == 0) return too_big(env, ip, info, mtu, in, out);
    note_outbound(port, p, info, env.now);
    decrement_ttl(buf.data() + off, info.family);
    return fragment_to_tunnel(env, hop.peer, ip, info, mtu, in, out);
  }
  note_outbound(port, p, info, env.now);
  decrement_ttl(buf.data() + off, info.family);
  forward_upstream(env, hop, buf, off, info.len, in, out);
}

void Gateway::forward_upstream(const Env& env, const NextHop& hop, std::span<uint8_t> buf, size_t off, size_t len,
                               const Ingress& in, GatewayOutput& out) {
  if (hop.host)
    out.to_tun(buf.subspan(off, len));
  else
    send_to_tunnel(env, hop.peer, buf, off, len, out, &in);
}

void Gateway::too_big(const Env& env, std::span<const uint8_t> ip, const IpInfo& info, uint32_t mtu, const Ingress& in,
                      GatewayOutput& out) {
  count(Drop::TooBig, in);
  if (info.family == Family::V6 || info.dont_fragment) icmp_error(env, ip, info, kIcmpTooBig, mtu, in, out);
}

void Gateway::port_local_ip(const Env& env, uint32_t p, std::span<uint8_t> buf, size_t ip_off, const IpInfo& info,
                            const Mac& from, GatewayOutput& out) {
  Port& port = *ports_[p];
  const Ingress in{Ingress::Kind::Port, p, from};
  std::span<uint8_t> ip = buf.subspan(ip_off, info.len);
  if (port_autoconf(env, p, ip, info, from, out)) return;
  if (info.family == Family::V6 && info.proto == kProtoIcmp6 && info.has_icmp) {
    const uint8_t type = info.icmp_type;
    if (type == kNdNeighborSolicit || type == kNdNeighborAdvert) {
      const auto nd = parse_nd(ip, info);
      if (!nd) return count(Drop::BadFrame, in);
      const bool src_ok = is_link_local6(info.src) || port.allowed_source.lookup(Family::V6, info.src);
      if (type == kNdNeighborAdvert) {
        const bool target_ok = is_link_local6(nd->target.data()) || port.allowed_source.lookup(Family::V6, nd->target.data());
        if (!nd->lladdr || !target_ok || is_own(port, Family::V6, nd->target.data())) return count(Drop::NotForUs, in);
        return learn_neighbour(env, p, Family::V6, nd->target.data(), *nd->lladdr, out);
      }
      if (!is_own(port, Family::V6, nd->target.data())) return count(Drop::NotForUs, in);  // not a proxy
      uint8_t* s = nullptr;
      size_t n = 0;
      if (is_unspecified6(info.src)) {
        // Someone's duplicate address detection hit our address: defend it (RFC 4862 5.4.3).
        s = scratch(out);
        n = build_neighbor_advert(s, port.spec.mac, kAllNodesMac, nd->target.data(), kAllNodes, nd->target.data(),
                                  false, true);
      } else {
        if (!src_ok) return count(Drop::SpoofedSource, in);
        const Mac to = nd->lladdr ? *nd->lladdr : from;
        // Learning may release a parked packet (and flush): take the reply's buffer after it.
        learn_neighbour(env, p, Family::V6, info.src, to, out);
        s = scratch(out);
        n = build_neighbor_advert(s, port.spec.mac, to, nd->target.data(), info.src, nd->target.data(), true, true);
      }
      return send_frame(p, {s, n}, out);
    }
    if (type == kIcmp6EchoRequest && is_own(port, Family::V6, info.dst) && !is_unspecified6(info.src)) {
      Addr16 self;
      std::memcpy(self.data(), info.dst, 16);
      if (!echo_to_reply(ip, info, self.data())) return count(Drop::BadFrame, in);
      return emit_ip_to_port(p, buf, ip_off, info.len, Family::V6, from, out);
    }
    return count(Drop::NotForUs, in);
  }
  if (info.family == Family::V4 && info.proto == kProtoIcmp && info.has_icmp && info.icmp_type == kIcmp4EchoRequest &&
      is_own(port, Family::V4, info.dst)) {
    uint8_t self[4];
    std::memcpy(self, info.dst, 4);
    if (!echo_to_reply(ip, info, self)) return count(Drop::BadFrame, in);
    return emit_ip_to_port(p, buf, ip_off, info.len, Family::V4, from, out);
  }
  count(Drop::NotForUs, in);
}

void Gateway::port_arp(const Env& env, uint32_t p, const ArpView& arp, GatewayOutput& out) {
  Port& port = *ports_[p];
  const Ingress in{Ingress::Kind::Port, p, arp.sender_mac};
  const bool sender_ok = load32(arp.sender_ip.data()) != 0 && port.allowed_source.lookup(Family::V4, arp.sender_ip.data());
  if (sender_ok) learn_neighbour(env, p, Family::V4, arp.sender_ip.data(), arp.sender_mac, out);
  if (arp.op == 1 && port.v4 && arp.target_ip == *port.v4) {
    uint8_t* s = scratch(out);
    const size_t n = build_arp(s, 2, port.spec.mac, port.v4->data(), arp.sender_mac, arp.sender_ip.data());
    return send_frame(p, {s, n}, out);
  }
  if (!sender_ok) count(Drop::NotForUs, in);
}

}  // namespace wg::core
