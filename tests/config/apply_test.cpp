// tests/config/apply_test.cpp — one way to apply configuration: the same file applied at `up`,
// as a reload over an older file, and (keys and peers) as the text `wg setconf` sends, must
// leave the same Device and Gateway behind; what a reload says, what stays when the TUN's
// namespace cannot be reached, and what fails `up` but not a reload.
#include <doctest/doctest.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "config/apply.hpp"
#include "config/config.hpp"
#include "config/uapi.hpp"
#include "core/harness.hpp"
#include "crypto/encoding.hpp"
#include "crypto/x25519.hpp"

namespace wg::config {

namespace {

struct Key {
  uint8_t priv[32];
  uint8_t pub[32];
};

Key make_key(uint8_t seed) {
  Key k;
  for (int i = 0; i < 32; ++i) k.priv[i] = static_cast<uint8_t>(seed * 29 + i * 7 + 3);
  crypto::x25519_clamp(k.priv);
  crypto::x25519_public(k.pub, k.priv);
  return k;
}

const Key kOld = make_key(1), kNew = make_key(2);      // the interface's private key, before and after
const Key kKept = make_key(3), kGone = make_key(4), kAdded = make_key(5);  // peers
const Key kPsk = make_key(6);                           // its private half serves as a preshared key

std::string b64(const uint8_t k[32]) { return crypto::key_to_base64(k); }
std::string hex(const uint8_t k[32]) { return crypto::key_to_hex(k); }

// The older file: a peer that stays and changes, one that goes; a port that stays, one that
// goes, one that changes Mode.
const std::string kFileA =
    "[Interface]\nPrivateKey = " + b64(kOld.priv) +
    "\nListenPort = 51820\nAddress = 192.0.2.1/24, 2001:db8::1/64\nMTU = 1400\nUnreachable = 198.51.100.0/24\n"
    "[Peer]\nPublicKey = " + b64(kKept.pub) + "\nPresharedKey = " + b64(kPsk.priv) +
    "\nEndpoint = 203.0.113.5:51820\nAllowedIPs = 10.1.0.0/16\nPersistentKeepalive = 25\n"
    "[Peer]\nPublicKey = " + b64(kGone.pub) + "\nAllowedIPs = 10.2.0.0/16\n"
    "[Port]\nName = tp-keep\nMode = tap\nAddress = fe80::1/64\nRoute = 2001:db8:1::/64\n"
    "[Port]\nName = tp-gone\nMode = veth\nAddress = fe80::1/64\nRoute = 2001:db8:2::/64\n"
    "[Port]\nName = tp-mode\nMode = tap\nAddress = fe80::1/64\nRoute = 2001:db8:3::/64\n";

// The file every way of applying must end at.
const std::string kFileB =
    "[Interface]\nPrivateKey = " + b64(kNew.priv) +
    "\nListenPort = 51820\nAddress = 192.0.2.1/24, 2001:db8::2/64\nMTU = 1380\nUnreachable = 198.51.100.128/25\n"
    "[Peer]\nPublicKey = " + b64(kKept.pub) +
    "\nEndpoint = 203.0.113.6:51821\nAllowedIPs = 10.1.0.0/16, 10.3.0.0/16\n"
    "[Peer]\nPublicKey = " + b64(kAdded.pub) + "\nPresharedKey = " + b64(kPsk.priv) +
    "\nEndpoint = [2001:db8::9]:51820\nAllowedIPs = 10.4.0.0/16, 2001:db8:9::/48\nPersistentKeepalive = 15\n"
    "[Port]\nName = tp-keep\nMode = tap\nAddress = fe80::1/64\nRoute = 2001:db8:1::/64, 2001:db8:4::/64\n"
    "MTU = 1280\nAllowInbound = tcp/22\n"
    "[Port]\nName = tp-mode\nMode = veth\nAddress = fe80::1/64\nRoute = 2001:db8:3::/64\n"
    "[Port]\nName = tp-new\nMode = tap\nAddress = fe80::1/64\nRoute = 2001:db8:5::/64\nAllowHost = true\n";

// File B's device keys and peers as `wg setconf` sends them (PROTOCOL.md §2.5): every device key,
// replace_peers, and per peer only what the file gives, AllowedIPs replaced.
const std::string kSetconfB =
    "set=1\nprivate_key=" + hex(kNew.priv) + "\nlisten_port=51820\nfwmark=0\nreplace_peers=true\n"
    "public_key=" + hex(kKept.pub) + "\nendpoint=203.0.113.6:51821\nreplace_allowed_ips=true\n"
    "allowed_ip=10.1.0.0/16\nallowed_ip=10.3.0.0/16\n"
    "public_key=" + hex(kAdded.pub) + "\npreshared_key=" + hex(kPsk.priv) + "\nendpoint=[2001:db8::9]:51820\n"
    "persistent_keepalive_interval=15\nreplace_allowed_ips=true\nallowed_ip=10.4.0.0/16\nallowed_ip=2001:db8:9::/48\n\n";

Config parse(const std::string& text) {
  auto c = parse_config(text, "test.conf");
  REQUIRE_MESSAGE(c, (c ? "" : c.error().to_string()));
  return std::move(*c);
}

std::vector<std::optional<core::Endpoint>> numeric_endpoints(const Config& c) {
  std::vector<std::optional<core::Endpoint>> v;
  for (const PeerConfig& p : c.peers) v.push_back(p.endpoint ? p.endpoint->numeric : std::nullopt);
  return v;
}

// A running interface without devices: a real Device and Gateway, the TUN's link and the port
// devices as plain values.
struct Running final : UapiHooks, RouterHooks {
  testing::FakeClock clock;
  testing::SeededRng rng{9};
  core::Outbox out;
  core::DropCounters drops;
  core::Device dev;
  core::Gateway gw{drops, 7};
  uint16_t port = 0;
  uint32_t mark = 0;
  uint16_t port_in_use = 0;  // a port another socket holds: binding it fails, the old one stays
  // The TUN.
  bool reachable = true;
  std::vector<InterfaceAddress> link_addresses;
  uint32_t link_mtu = 0, tunnel = 0;
  uint32_t automatic_mtu = 1420;  // what the routes would give
  bool starting = true;
  // The ports' devices.
  std::map<uint32_t, std::optional<uint32_t>> port_links;  // link MTU by port index
  std::string missing_port;                                 // its device cannot be opened
  std::vector<std::string> log;

  // UapiHooks
  core::Env env() override { return core::Env{clock.now, clock.wall, rng}; }
  core::Outbox& outbox() override { return out; }
  uint16_t listen_port() const override { return port; }
  int set_listen_port(uint16_t p) override {
    if (p != 0 && p == port_in_use) return -EADDRINUSE;
    port = p ? p : 40000;
    return 0;
  }
  uint32_t fwmark() const override { return mark; }
  int set_fwmark(uint32_t m) override {
    mark = m;
    return 0;
  }
  // RouterHooks
  core::Gateway& gateway() override { return gw; }
  bool reach_link() override { return reachable; }
  int add_address(const InterfaceAddress& a) override {
    if (std::find(link_addresses.begin(), link_addresses.end(), a) != link_addresses.end()) return -EEXIST;
    link_addresses.push_back(a);
    return 0;
  }
  int del_address(const InterfaceAddress& a) override {
    const auto it = std::find(link_addresses.begin(), link_addresses.end(), a);
    if (it == link_addresses.end()) return -EADDRNOTAVAIL;
    link_addresses.erase(it);
    return 0;
  }
  uint32_t mtu_without_line() override { return starting ? automatic_mtu : tunnel; }
  uint32_t tunnel_mtu() const override { return tunnel; }
  int set_mtu(uint32_t mtu) override {
    link_mtu = tunnel = mtu;
    return 0;
  }
  bool open_port(const PortConfig& pc, core::PortSpec spec, std::optional<uint32_t> link) override {
    if (pc.name == missing_port) {
      say("port " + pc.name + ": no such device");
      return false;
    }
    port_links[gw.add_port(std::move(spec))] = link;
    return true;
  }
  void remove_port(uint32_t id) override {
    gw.remove_port(id);
    port_links.erase(id);
  }
  std::optional<uint32_t> port_link_mtu(uint32_t id) const override { return port_links.at(id); }
  int set_port_link_mtu(uint32_t id, std::optional<uint32_t> mtu) override {
    port_links[id] = mtu;
    return 0;
  }
  void say(const std::string& line) override { log.push_back(line); }

  UapiTarget target() { return {dev, gw.routes(), *this, &gw}; }
  bool said(const std::string& line) const { return std::find(log.begin(), log.end(), line) != log.end(); }

  // As `wgrouter up` applies its file, then brings the protocol up.
  bool start(const Config& cfg) {
    starting = true;
    const bool ok = apply_file(target(), *this, Config{}, cfg, numeric_endpoints(cfg), ApplyMode::Start);
    starting = false;
    if (ok) dev.set_up(env(), true, out);
    return ok;
  }
  // As SIGHUP applies the file again.
  void reload(const Config& prev, const Config& next) {
    REQUIRE(apply_file(target(), *this, prev, next, numeric_endpoints(next), ApplyMode::Reload));
  }
  std::string uapi(const std::string& request) {
    UapiConnection conn(target());
    std::string reply;
    conn.feed(request, reply);
    return reply;
  }

  std::string name_of(const core::RouteTarget& t) const {
    switch (t.kind) {
      case core::RouteTarget::Kind::Peer:
        return "peer " + hex(dev.peer(t.id)->public_key.data());
      case core::RouteTarget::Kind::Port:
        return "port " + gw.port_spec(t.id).name;
      case core::RouteTarget::Kind::Unreachable:
        return "unreachable";
      case core::RouteTarget::Kind::Host:
        return "host";
    }
    return "?";
  }

  // Everything a configuration decides, named by keys and port names (not by PeerId or port
  // index, which depend on the history), one line per fact.
  std::string state() const {
    std::vector<std::string> lines;
    const auto& id = dev.identity();
    lines.push_back("private_key " + (id.has_key ? hex(id.private_key.data()) : std::string("none")));
    lines.push_back("listen_port " + std::to_string(port) + " fwmark " + std::to_string(mark));
    lines.push_back("mtu link " + std::to_string(link_mtu) + " tunnel " + std::to_string(tunnel));
    for (const InterfaceAddress& a : link_addresses) lines.push_back("link address " + to_string(a));
    dev.for_each_peer([&](core::PeerId pid, const core::Peer& p) {
      std::string l = "peer " + hex(p.public_key.data()) + " psk " + hex(p.preshared_key.data()) + " endpoint " +
                      (p.endpoint.valid() ? core::to_string(p.endpoint) : "none") + " keepalive " +
                      std::to_string(p.persistent_keepalive) + " allowed";
      gw.routes().for_each_of(core::RouteTarget::peer(pid), [&](const core::Prefix& x) { l += " " + core::to_string(x); });
      lines.push_back(l);
    });
    gw.routes().for_each([&](const core::Prefix& x, const core::RouteTarget& t) {
      lines.push_back("route " + core::to_string(x) + " " + name_of(t));
    });
    for (uint32_t p = 0; p < gw.port_count(); ++p) {
      if (gw.port_removed(p)) continue;
      const core::PortSpec& s = gw.port_spec(p);
      const std::optional<uint32_t> link = port_links.at(p);
      std::string l = "port " + s.name + (s.tap ? " tap" : " veth") + " mtu " + std::to_string(s.mtu) + " link_mtu " +
                      (link ? std::to_string(*link) : "-") + " allow_host " + std::to_string(s.allow_host) + " mac";
      for (uint8_t b : s.mac) l += " " + std::to_string(b);
      for (const core::HostAddress& a : s.addresses)
        l += " address " + core::to_string(core::Prefix::make(a.family, a.addr.data(), a.len));
      for (const core::Prefix& r : s.routes) l += " route " + core::to_string(r);
      for (const core::Prefix& r : s.allowed_source) l += " source " + core::to_string(r);
      for (const core::InboundRule& r : s.allow_inbound)
        l += " inbound " + std::to_string(r.proto) + "/" + std::to_string(r.first) + "-" + std::to_string(r.last);
      lines.push_back(l);
    }
    std::sort(lines.begin(), lines.end());
    std::string all;
    for (const std::string& l : lines) all += l + "\n";
    return all;
  }
};

}  // namespace

TEST_CASE("apply: a file at start, as a reload over an older file and as wg setconf's text end the same") {
  const Config a = parse(kFileA), b = parse(kFileB);

  Running at_start;
  REQUIRE(at_start.start(b));
  const std::string want = at_start.state();
  // The facts themselves, so that three runs agreeing on nothing cannot pass.
  CHECK(want.find("private_key " + hex(kNew.priv)) != std::string::npos);
  CHECK(want.find("listen_port 51820 fwmark 0") != std::string::npos);
  CHECK(want.find("mtu link 1380 tunnel 1380") != std::string::npos);
  CHECK(want.find("link address 2001:db8::2/64\n") != std::string::npos);
  CHECK(want.find("link address 2001:db8::1/64") == std::string::npos);
  CHECK(want.find("peer " + hex(kKept.pub) + " psk " + std::string(64, '0') +
                  " endpoint 203.0.113.6:51821 keepalive 0 allowed 10.1.0.0/16 10.3.0.0/16\n") != std::string::npos);
  CHECK(want.find("peer " + hex(kAdded.pub) + " psk " + hex(kPsk.priv) +
                  " endpoint [2001:db8::9]:51820 keepalive 15 allowed 10.4.0.0/16 2001:db8:9::/48\n") != std::string::npos);
  CHECK(want.find(hex(kGone.pub)) == std::string::npos);
  CHECK(want.find("route 198.51.100.128/25 unreachable\n") != std::string::npos);
  CHECK(want.find("route 198.51.100.0/24") == std::string::npos);
  CHECK(want.find("route 192.0.2.1/32 host\n") != std::string::npos);
  CHECK(want.find("route 2001:db8::2/128 host\n") != std::string::npos);
  CHECK(want.find("route 2001:db8:4::/64 port tp-keep\n") != std::string::npos);
  CHECK(want.find("port tp-keep tap mtu 1280 link_mtu 1280 allow_host 0") != std::string::npos);
  CHECK(want.find("inbound 6/22-22") != std::string::npos);
  CHECK(want.find("port tp-mode veth mtu 1380 link_mtu - ") != std::string::npos);
  CHECK(want.find("port tp-new tap mtu 1380 link_mtu 1380 allow_host 1") != std::string::npos);
  CHECK(want.find("tp-gone") == std::string::npos);

  SUBCASE("as a reload over the older file") {
    Running reloaded;
    REQUIRE(reloaded.start(a));
    REQUIRE(reloaded.state() != want);
    reloaded.reload(a, b);
    CHECK(reloaded.state() == want);
  }
  SUBCASE("keys and peers as the text of wg setconf, the rest as a reload") {
    Running set;
    REQUIRE(set.start(a));
    Config router_only = b;  // what a `set` cannot say: addresses, MTU, Unreachable, ports
    router_only.iface.private_key = a.iface.private_key;
    router_only.peers = a.peers;
    set.reload(a, router_only);
    CHECK(set.state() != want);
    CHECK(set.uapi(kSetconfB) == "errno=0\n\n");
    CHECK(set.state() == want);
  }
  SUBCASE("a reload of the same file changes nothing and says nothing") {
    at_start.log.clear();
    at_start.reload(b, b);
    CHECK(at_start.state() == want);
    CHECK(at_start.log.empty());
  }
}

TEST_CASE("apply: a reload says what it changed, with the texts of `wgrouter up`") {
  const Config a = parse(kFileA), b = parse(kFileB);
  Running r;
  REQUIRE(r.start(a));
  CHECK(r.log.empty());  // a start says only what fails
  r.reload(a, b);
  CHECK(r.said("reload: address 2001:db8::1/64 removed"));
  CHECK(r.said("reload: address 2001:db8::2/64 added"));
  CHECK(r.said("reload: MTU 1400 -> 1380"));
  CHECK(r.said("reload: port tp-gone removed (its routes, neighbours and device let go)"));
  CHECK(r.said("reload: port tp-mode changes Mode: removed, added again"));
  CHECK(r.said("reload: port tp-mode added"));
  CHECK(r.said("reload: port tp-new added"));
  CHECK(r.log.size() == 7);
}

TEST_CASE("apply: a reload applies a changed ListenPort and FwMark, as wg syncconf does") {
  const Config a = parse(kFileA);
  Running r;
  REQUIRE(r.start(a));
  Config b = a;
  b.iface.listen_port = 51999;
  b.iface.fwmark = 0x77;
  r.log.clear();
  r.reload(a, b);
  CHECK(r.port == 51999);
  CHECK(r.mark == 0x77);
  CHECK(r.said("reload: ListenPort 51820 -> 51999"));
  CHECK(r.said("reload: FwMark 0 -> 119"));
  CHECK(r.log.size() == 2);

  // A port that cannot be bound: said, and the sockets stay where they were.
  Config c = b;
  c.iface.listen_port = 52000;
  r.port_in_use = 52000;
  r.log.clear();
  r.reload(b, c);
  CHECK(r.port == 51999);
  CHECK(r.said("reload: cannot listen on UDP port 52000: " + std::string(std::strerror(EADDRINUSE)) +
               "; the sockets stay where they were"));
  CHECK(r.log.size() == 1);
}

TEST_CASE("apply: without an MTU line the MTU is found at start and kept on reload") {
  Config a = parse(kFileA);
  a.iface.mtu.reset();
  Running r;
  r.automatic_mtu = 1412;
  REQUIRE(r.start(a));
  CHECK(r.tunnel == 1412);
  CHECK(r.link_mtu == 1412);
  CHECK(r.gw.port_spec(*r.gw.find_port("tp-keep")).mtu == 1412);  // ports follow the interface

  Config with_line = a;
  with_line.iface.mtu = 1300;
  r.reload(a, with_line);
  CHECK(r.tunnel == 1300);
  CHECK(r.gw.port_spec(*r.gw.find_port("tp-keep")).mtu == 1300);
  CHECK(r.port_link_mtu(*r.gw.find_port("tp-keep")) == 1300);  // a TAP's link follows it too

  r.log.clear();
  r.reload(with_line, a);  // the line taken away: the MTU stays until a restart
  CHECK(r.tunnel == 1300);
  CHECK(r.said("reload: no MTU line any more: MTU stays 1300 until a restart"));
}

TEST_CASE("apply: the TUN's namespace out of reach fails a start, a reload keeps Address and MTU, applies the rest") {
  const Config a = parse(kFileA), b = parse(kFileB);
  Running gone;
  gone.reachable = false;
  CHECK_FALSE(gone.start(a));
  CHECK(gone.said("the interface's network namespace cannot be reached"));
  CHECK(gone.dev.peer_count() == 2);  // the peers come first, as with `wg` before wg-quick's steps

  Running r;
  REQUIRE(r.start(a));
  r.reachable = false;
  r.reload(a, b);
  CHECK(r.said("reload: the interface's network namespace cannot be reached; Address and MTU left as they were"));
  CHECK(r.tunnel == 1400);
  CHECK(r.link_addresses.size() == 2);
  const std::string s = r.state();
  CHECK(s.find("route 2001:db8::1/128 host\n") != std::string::npos);  // the router keeps the old address too
  CHECK(s.find("route 2001:db8::2/128") == std::string::npos);
  CHECK(s.find("route 198.51.100.128/25 unreachable\n") != std::string::npos);
  CHECK(s.find("port tp-new ") != std::string::npos);
  CHECK(s.find("peer " + hex(kAdded.pub)) != std::string::npos);
}

TEST_CASE("apply: a port that cannot be opened fails a start, a reload says so and applies the rest") {
  const Config a = parse(kFileA), b = parse(kFileB);
  Running at_start;
  at_start.missing_port = "tp-keep";
  CHECK_FALSE(at_start.start(a));
  CHECK(at_start.said("port tp-keep: no such device"));
  CHECK(at_start.gw.find_port("tp-gone") == std::nullopt);  // the first failure stops the start

  Running r;
  REQUIRE(r.start(a));
  r.missing_port = "tp-new";
  r.reload(a, b);
  CHECK(r.said("reload: port tp-new not added"));
  CHECK(r.gw.find_port("tp-new") == std::nullopt);
  CHECK(r.gw.find_port("tp-mode").has_value());
  CHECK(r.gw.find_port("tp-gone") == std::nullopt);
}

TEST_CASE("apply: a peer's AllowedIP held by a port stops the peers with -EADDRINUSE, as the UAPI does") {
  // The reload's peers come before its ports: a prefix moving from a port to a peer in one
  // reload meets the port's route still in place.
  const Config a = parse(kFileA);
  Config b = a;
  b.peers[0].allowed_ips.push_back({*core::parse_prefix("2001:db8:2::/64"), {}});
  b.peers[1].allowed_ips.push_back({*core::parse_prefix("10.9.0.0/16"), {}});
  b.ports.erase(b.ports.begin() + 1);  // tp-gone
  Running r;
  REQUIRE(r.start(a));
  r.reload(a, b);
  CHECK(r.said("reload: peers: errno=" + std::to_string(-EADDRINUSE)));
  const std::string s = r.state();
  CHECK(s.find("route 2001:db8:2::/64") == std::string::npos);  // the port went after all
  CHECK(s.find("route 10.9.0.0/16") == std::string::npos);      // the peer after the error did not change
  CHECK(s.find("route 10.1.0.0/16 peer " + hex(kKept.pub)) != std::string::npos);
  CHECK(s.find("keepalive 25") != std::string::npos);  // the stopped peer's keys before the error stay
}

}  // namespace wg::config
