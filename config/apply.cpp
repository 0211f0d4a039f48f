// config/apply.cpp — the `set` keys as calls, and a file applied as a difference (see apply.hpp).
#include "config/apply.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <unordered_set>

#include "crypto/secure.hpp"
#include "crypto/x25519.hpp"

namespace wg::config {

namespace {
constexpr uint8_t kNoKey[32] = {};  // a private or preshared key of zeros: none
}  // namespace

// --- SetOperation ---

void SetOperation::set_private_key(const uint8_t key[32]) {
  core::Device& dev = t_.device;
  // The Device drops a peer whose key becomes our own; its allowed IPs must go with it, or the
  // next peer to reuse the PeerId would inherit them.
  std::optional<core::PeerId> self;
  if (!crypto::is_zero_ct(key, 32)) {
    core::PublicKey pub;
    crypto::x25519_public(pub.data(), key);
    self = dev.find_peer(pub);
  }
  dev.set_private_key(t_.hooks.env(), key, t_.hooks.outbox());
  if (self && !dev.peer(*self)) t_.allowed_ips.remove_value(core::RouteTarget::peer(*self));
}

// Rebinds even for the same port, so 0 moves to a new random port (wg setconf).
int SetOperation::set_listen_port(uint16_t port) { return t_.hooks.set_listen_port(port); }

int SetOperation::set_fwmark(uint32_t mark) {
  // An unchanged mark must not need CAP_NET_ADMIN (boringtun #92); wireguard-go's BindSetMark
  // returns early the same way.
  return mark == t_.hooks.fwmark() ? 0 : t_.hooks.set_fwmark(mark);
}

void SetOperation::replace_peers() {
  core::Device& dev = t_.device;
  dev.for_each_peer([&](core::PeerId id, const core::Peer&) { t_.allowed_ips.remove_value(core::RouteTarget::peer(id)); });
  dev.remove_all_peers();
}

int SetOperation::select_peer(const core::PublicKey& key) {
  finish_peer();
  id_ = core::kNoPeer;
  dummy_ = true;
  created_ = false;
  core::Device& dev = t_.device;
  if (dev.identity().has_key && dev.identity().public_key == key) return 0;
  if (auto id = dev.find_peer(key)) {
    id_ = *id;
    dummy_ = false;
    return 0;
  }
  auto added = dev.add_peer(key);
  if (!added.has_value()) return -EINVAL;  // too many peers
  id_ = *added;
  dummy_ = false;
  created_ = true;
  return 0;
}

void SetOperation::update_only() {
  if (created_ && !dummy_) remove_peer();
}

void SetOperation::remove_peer() {
  if (!dummy_) remove(id_);
  id_ = core::kNoPeer;
  dummy_ = true;
  created_ = false;
  keepalive_.reset();
}

void SetOperation::set_preshared_key(const uint8_t psk[32]) {
  if (!dummy_) t_.device.set_preshared_key(id_, psk);
}

void SetOperation::set_endpoint(const core::Endpoint& ep) {
  if (!dummy_) t_.device.set_endpoint(id_, ep);
}

void SetOperation::set_keepalive(uint16_t seconds) {
  if (!dummy_) keepalive_ = seconds;
}

void SetOperation::replace_allowed_ips() {
  if (!dummy_) t_.allowed_ips.remove_value(core::RouteTarget::peer(id_));
}

int SetOperation::add_allowed_ip(const core::Prefix& p) {
  if (dummy_) return 0;
  const auto self = core::RouteTarget::peer(id_);
  const auto prev = t_.allowed_ips.insert(p, self);
  if (prev && prev->kind != core::RouteTarget::Kind::Peer) {
    t_.allowed_ips.insert(p, *prev);
    return -EADDRINUSE;
  }
  return 0;
}

void SetOperation::remove_allowed_ip(const core::Prefix& p) {
  if (!dummy_) t_.allowed_ips.remove_if(p, core::RouteTarget::peer(id_));
}

// A keepalive interval turned on sends its first keepalive here (with the device up).
void SetOperation::finish_peer() {
  if (!dummy_ && keepalive_) t_.device.set_persistent_keepalive(t_.hooks.env(), id_, *keepalive_, t_.hooks.outbox());
  keepalive_.reset();
}

void SetOperation::remove(core::PeerId id) {
  t_.allowed_ips.remove_value(core::RouteTarget::peer(id));
  t_.device.remove_peer(id);
}

// --- a file's peers ---

namespace {

// The peer's keys as `wg setconf` sends them, minus the ones a file can leave out.
int apply_peer(SetOperation& set, const PeerConfig& pc, const std::optional<core::Endpoint>& endpoint) {
  if (const int err = set.select_peer(pc.public_key)) return err;
  set.set_preshared_key(pc.preshared_key ? pc.preshared_key->secret.data() : kNoKey);
  if (endpoint) set.set_endpoint(*endpoint);
  set.set_keepalive(pc.persistent_keepalive.value_or(0));
  set.replace_allowed_ips();
  for (const PrefixEntry& a : pc.allowed_ips)
    if (const int err = set.add_allowed_ip(a.prefix)) return err;
  return 0;
}

}  // namespace

int sync_peers(UapiTarget t, const Config& cfg, std::span<const std::optional<core::Endpoint>> endpoints) {
  SetOperation set(t);
  if (cfg.iface.private_key) set.set_private_key(cfg.iface.private_key->secret.data());
  // A set of the file's keys: a hub's file has tens of thousands of peers.
  std::unordered_set<core::PublicKey, core::PublicKeyHash> in_file;
  in_file.reserve(cfg.peers.size());
  for (const PeerConfig& pc : cfg.peers) in_file.insert(pc.public_key);
  std::vector<core::PublicKey> gone;
  t.device.for_each_peer([&](core::PeerId, const core::Peer& p) {
    if (!in_file.contains(p.public_key)) gone.push_back(p.public_key);
  });
  for (const core::PublicKey& key : gone) {
    if (const int err = set.select_peer(key)) return err;
    set.remove_peer();
  }
  for (size_t i = 0; i < cfg.peers.size(); ++i) {
    const int err = apply_peer(set, cfg.peers[i], endpoints[i]);
    set.finish_peer();  // the keepalive of a peer stopped half-way applies too, as in the UAPI
    if (err) return err;
  }
  return 0;
}

// --- the router part ---

namespace {

// A stable, locally administered MAC per port name, so instances keep their neighbour entry
// for the gateway across restarts.
core::pkt::Mac port_mac(const std::string& name) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : name) h = (h ^ c) * 0x100000001b3ull;
  return {0x02, static_cast<uint8_t>(h >> 32), static_cast<uint8_t>(h >> 24), static_cast<uint8_t>(h >> 16),
          static_cast<uint8_t>(h >> 8), static_cast<uint8_t>(h)};
}

core::HostAddress host_address(const InterfaceAddress& a) { return {a.family, a.addr, a.len}; }

std::string error_text(int rc) { return std::strerror(-rc); }

bool has(const std::vector<InterfaceAddress>& list, const InterfaceAddress& a) {
  return std::find(list.begin(), list.end(), a) != list.end();
}

// [Interface] Address: those gone from the file removed, new ones added.
bool apply_addresses(const Config& prev, const Config& next, RouterHooks& h, bool start) {
  for (const InterfaceAddress& a : prev.iface.addresses) {
    if (has(next.iface.addresses, a)) continue;
    const int rc = h.del_address(a);
    if (rc != 0 && rc != -EADDRNOTAVAIL)
      h.say("reload: remove address " + to_string(a) + ": " + error_text(rc));
    else
      h.say("reload: address " + to_string(a) + " removed");
  }
  for (const InterfaceAddress& a : next.iface.addresses) {
    if (has(prev.iface.addresses, a)) continue;
    const int rc = h.add_address(a);
    const bool ok = rc == 0 || rc == -EEXIST;
    if (start) {
      if (ok) continue;
      h.say("address " + to_string(a) + ": " + error_text(rc));
      return false;
    }
    h.say(ok ? "reload: address " + to_string(a) + " added" : "reload: add address " + to_string(a) + ": " + error_text(rc));
  }
  return true;
}

// [Interface] MTU on the TUN; without an MTU line the one found at start stays.
bool apply_mtu(const Config& next, RouterHooks& h, bool start) {
  const uint32_t was = h.tunnel_mtu();
  const uint32_t mtu = next.iface.mtu ? *next.iface.mtu : h.mtu_without_line();
  if (!start && mtu == was) return true;  // at start the link gets it whatever the default was
  const int rc = h.set_mtu(mtu);
  if (start) {
    if (rc != 0) h.say("MTU " + std::to_string(mtu) + ": " + error_text(rc));
    return rc == 0;
  }
  if (rc != 0)
    h.say("reload: MTU " + std::to_string(mtu) + ": " + error_text(rc) + "; MTU stays " + std::to_string(was));
  else
    h.say("reload: MTU " + std::to_string(was) + " -> " + std::to_string(mtu));
  return true;
}

std::vector<core::HostAddress> host_addresses(const Config& cfg) {
  std::vector<core::HostAddress> v;
  for (const InterfaceAddress& a : cfg.iface.addresses) v.push_back(host_address(a));
  return v;
}

// The TUN's part, through its namespace: addresses (the router's host addresses with them) and
// MTU. What cannot be reached stays as it was, for the router too.
bool apply_link(const Config& prev, const Config& next, RouterHooks& h, bool start) {
  if (!start && !next.iface.mtu && prev.iface.mtu)
    h.say("reload: no MTU line any more: MTU stays " + std::to_string(h.tunnel_mtu()) + " until a restart");
  const bool same_mtu = next.iface.mtu.value_or(h.tunnel_mtu()) == h.tunnel_mtu();
  if (!start && next.iface.addresses == prev.iface.addresses && same_mtu) return true;
  if (!h.reach_link()) {
    h.say(start ? "the interface's network namespace cannot be reached"
                : "reload: the interface's network namespace cannot be reached; Address and MTU left as they were");
    return !start;
  }
  // As wg-quick: the addresses first, then the MTU (found, without a line, from the routes the
  // addresses make and before routes through the interface exist).
  if (!apply_addresses(prev, next, h, start)) return false;
  if (start || next.iface.addresses != prev.iface.addresses) h.gateway().set_host_addresses(host_addresses(next));
  return apply_mtu(next, h, start);
}

// Ports gone from the file removed, the others updated in place, new ones added.
bool apply_ports(const Config& next, RouterHooks& h, bool start) {
  core::Gateway& gw = h.gateway();
  const uint32_t default_mtu = h.tunnel_mtu();
  for (uint32_t p = 0; p < gw.port_count(); ++p) {
    if (gw.port_removed(p)) continue;
    const std::string name = gw.port_spec(p).name;
    const auto in_file = [&](const PortConfig& pc) { return pc.name == name; };
    if (std::any_of(next.ports.begin(), next.ports.end(), in_file)) continue;
    h.remove_port(p);
    h.say("reload: port " + name + " removed (its routes, neighbours and device let go)");
  }
  for (const PortConfig& pc : next.ports) {
    auto id = gw.find_port(pc.name);
    if (id && gw.port_spec(*id).tap != (pc.mode == PortMode::Tap)) {
      h.remove_port(*id);  // another Mode: another device
      h.say("reload: port " + pc.name + " changes Mode: removed, added again");
      id.reset();
    }
    core::PortSpec spec = port_spec(pc, default_mtu);
    const std::optional<uint32_t> link_mtu = port_link_mtu(pc, spec);
    if (!id) {
      const bool opened = h.open_port(pc, std::move(spec), link_mtu);
      if (start && !opened) return false;
      if (!start) h.say("reload: port " + pc.name + (opened ? " added" : " not added"));
      continue;
    }
    gw.update_port(*id, std::move(spec));
    if (link_mtu == h.port_link_mtu(*id)) continue;
    if (const int rc = h.set_port_link_mtu(*id, link_mtu); rc != 0)
      h.say("reload: port " + pc.name + ": MTU " + std::to_string(link_mtu.value_or(0)) + ": " + error_text(rc));
  }
  return true;
}

std::vector<core::Prefix> unreachable_of(const Config& cfg) {
  std::vector<core::Prefix> v;
  for (const PrefixEntry& u : cfg.iface.unreachable) v.push_back(u.prefix);
  return v;
}

}  // namespace

// The DNS line as ports announce it (RAs, DHCPv6): IPv6 servers only, search domains in wire
// format (check refused a file whose domains cannot be encoded when a port announces them).
core::autoconf::DnsInfo dns_of(const Interface& iface) {
  core::autoconf::DnsInfo dns;
  for (const std::string& s : iface.dns_servers) {
    const auto p = core::parse_prefix(s);
    if (p && p->family == core::Family::V6 && p->len == 128 && dns.servers.size() < core::autoconf::kMaxDnsServers)
      dns.servers.push_back(p->addr);
  }
  if (auto d = core::autoconf::encode_domains(iface.dns_search)) dns.domains = std::move(*d);
  return dns;
}

bool apply_router(const Config& prev, const Config& next, RouterHooks& h, ApplyMode mode) {
  const bool start = mode == ApplyMode::Start;
  if (!apply_link(prev, next, h, start)) return false;
  h.gateway().set_unreachable(unreachable_of(next));
  h.gateway().set_dns(dns_of(next.iface));
  return apply_ports(next, h, start);
}

namespace {

bool apply_sockets(SetOperation& set, const Interface& iface, RouterHooks& h) {
  if (iface.fwmark)
    if (const int rc = set.set_fwmark(*iface.fwmark); rc != 0)
      h.say("warning: fwmark " + std::to_string(*iface.fwmark) + ": " + error_text(rc));
  const uint16_t port = iface.listen_port.value_or(0);
  if (const int rc = set.set_listen_port(port); rc != 0) {
    h.say("cannot listen on UDP port " + std::to_string(port) + ": " + error_text(rc));
    return false;
  }
  return true;
}

// A reload's ListenPort and FwMark, as `wg syncconf` applies them: only what changed. A port
// that cannot be bound leaves the sockets where they were.
void reload_sockets(SetOperation& set, const Interface& prev, const Interface& next, RouterHooks& h) {
  if (next.fwmark.value_or(0) != prev.fwmark.value_or(0)) {
    const uint32_t mark = next.fwmark.value_or(0);
    if (const int rc = set.set_fwmark(mark); rc != 0)
      h.say("reload: fwmark " + std::to_string(mark) + ": " + error_text(rc));
    else
      h.say("reload: FwMark " + std::to_string(prev.fwmark.value_or(0)) + " -> " + std::to_string(mark));
  }
  if (next.listen_port != prev.listen_port) {
    const uint16_t port = next.listen_port.value_or(0);
    if (const int rc = set.set_listen_port(port); rc != 0)
      h.say("reload: cannot listen on UDP port " + std::to_string(port) + ": " + error_text(rc) +
            "; the sockets stay where they were");
    else
      h.say("reload: ListenPort " + (prev.listen_port ? std::to_string(*prev.listen_port) : std::string("random")) +
            " -> " + std::to_string(port));
  }
}

}  // namespace

bool apply_file(UapiTarget t, RouterHooks& h, const Config& prev, const Config& next,
                std::span<const std::optional<core::Endpoint>> endpoints, ApplyMode mode) {
  const bool start = mode == ApplyMode::Start;
  SetOperation set(t);
  if (start) {
    if (!apply_sockets(set, next.iface, h)) return false;
  } else {
    reload_sockets(set, prev.iface, next.iface, h);
  }
  if (const int err = sync_peers(t, next, endpoints); err != 0) {
    h.say(start ? "peers: " + error_text(err) : "reload: peers: errno=" + std::to_string(err));
    if (start) return false;
  }
  return apply_router(prev, next, h, mode);
}

core::PortSpec port_spec(const PortConfig& pc, uint32_t default_mtu) {
  core::PortSpec spec;
  spec.name = pc.name;
  spec.tap = pc.mode == PortMode::Tap;
  for (const InterfaceAddress& a : pc.addresses) spec.addresses.push_back(host_address(a));
  for (const PrefixEntry& r : pc.routes) spec.routes.push_back(r.prefix);
  for (const PrefixEntry& r : pc.effective_allowed_source()) spec.allowed_source.push_back(r.prefix);
  for (const InboundRule& r : pc.allow_inbound)
    spec.allow_inbound.push_back({r.proto == Proto::Tcp ? core::pkt::kProtoTcp : core::pkt::kProtoUdp, r.first, r.last});
  spec.mtu = pc.mtu.value_or(default_mtu);
  spec.allow_host = pc.allow_host;
  spec.router_advertisements = pc.router_advertisements;
  spec.dhcpv6 = pc.dhcpv6;
  spec.mac = port_mac(pc.name);
  return spec;
}

std::optional<uint32_t> port_link_mtu(const PortConfig& pc, const core::PortSpec& spec) {
  return pc.mode == PortMode::Tap || pc.mtu ? std::optional<uint32_t>(spec.mtu) : std::nullopt;
}

}  // namespace wg::config
