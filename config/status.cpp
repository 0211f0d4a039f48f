// config/status.cpp — get=wgrouter reply lines into InterfaceStatus, and InterfaceStatus into
// Prometheus text. Help texts and metric names here are the reference of docs/metrics.md.
#include "config/status.hpp"

#include <algorithm>
#include <array>
#include <cstdint>

#include "crypto/encoding.hpp"
#include "crypto/secure.hpp"
#include "crypto/x25519.hpp"

// CMakeLists.txt sets it to the project version for this file; builds that compile the file
// elsewhere (fuzz/) have no use for it.
#ifndef WGROUTER_VERSION
#define WGROUTER_VERSION "unknown"
#endif

namespace wg::config {

std::string_view wgrouter_version() { return WGROUTER_VERSION; }

// --- parsing ---

namespace {

uint64_t to_u64(std::string_view v) {
  uint64_t x = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return 0;
    x = x * 10 + static_cast<uint64_t>(c - '0');
  }
  return x;
}

std::string b64_of_hex(std::string_view hex) {
  uint8_t k[32];
  if (!crypto::key_from_hex(k, hex)) return "?";
  return crypto::key_to_base64(k);
}

// One port_* line into the port it belongs to.
void port_line(PortStatus& p, std::string_view k, std::string_view v) {
  if (k == "port_mode") p.mode = v;
  else if (k == "port_mac") p.mac = v;
  else if (k == "port_mtu") p.mtu = to_u64(v);
  else if (k == "port_address") p.addresses.emplace_back(v);
  else if (k == "port_route") p.routes.emplace_back(v);
  else if (k == "port_allowed_source") p.allowed_source.emplace_back(v);
  else if (k == "port_allow_inbound") p.allow_inbound.emplace_back(v);
  else if (k == "port_rx_packets") p.rx_packets = to_u64(v);
  else if (k == "port_rx_bytes") p.rx_bytes = to_u64(v);
  else if (k == "port_tx_packets") p.tx_packets = to_u64(v);
  else if (k == "port_tx_bytes") p.tx_bytes = to_u64(v);
  else if (k == "port_attached") p.attached = v != "0";
  else if (k == "port_reattached") p.reattached = to_u64(v);
  else if (k == "port_rs_received") p.rs_received = to_u64(v);
  else if (k == "port_ra_sent") p.ra_sent = to_u64(v);
  else if (k == "port_dhcpv6_received") p.dhcpv6_received = to_u64(v);
  else if (k == "port_dhcpv6_sent") p.dhcpv6_sent = to_u64(v);
  else if (k == "port_neighbour") {
    const size_t sp = v.find(' ');
    p.neighbours.push_back({std::string(v.substr(0, sp)), sp == std::string_view::npos ? "" : std::string(v.substr(sp + 1))});
  } else if (k.starts_with("port_drop_")) {
    p.drops.emplace_back(std::string(k.substr(10)), to_u64(v));
  }
}

void device_line(InterfaceStatus& info, std::string_view k, std::string_view v) {
  if (k == "private_key") {
    uint8_t priv[32], pub[32];
    if (crypto::key_from_hex(priv, v)) {
      crypto::x25519_public(pub, priv);
      info.public_key = crypto::key_to_base64(pub);
    }
    crypto::wipe(priv, sizeof(priv));
  } else if (k == "listen_port") {
    info.listen_port = to_u64(v);
  } else if (k == "fwmark") {
    info.fwmark = to_u64(v);
  } else if (k == "version") {
    info.version = v;
  } else if (k.starts_with("drop_")) {
    info.drops.emplace_back(std::string(k.substr(5)), to_u64(v));
  } else if (k.starts_with("handshake_") || k.starts_with("cookie_")) {
    info.handshakes.emplace_back(std::string(k), to_u64(v));
  } else if (k == "under_load") {
    info.under_load = v != "0";
  } else if (k == "offload") {
    info.offload = v;
  } else if (k == "aead") {
    info.aead = v;
  } else if (k == "capabilities") {
    info.capabilities = v;
  } else if (k == "io_backend") {
    info.io_backend = v;
  } else if (k.starts_with("io_")) {
    info.io.emplace_back(std::string(k.substr(3)), to_u64(v));
  } else if (k.starts_with("gw_")) {
    info.counters.emplace_back(std::string(k.substr(3)), to_u64(v));
  } else if (k == "port") {
    info.ports.emplace_back().name = v;
  } else if (k.starts_with("port_") && !info.ports.empty()) {
    port_line(info.ports.back(), k, v);
  }
}

void peer_line(PeerStatus& peer, std::string_view k, std::string_view v) {
  if (k == "preshared_key") peer.psk = v.find_first_not_of('0') != std::string_view::npos;
  else if (k == "endpoint") peer.endpoint = v;
  else if (k == "last_handshake_time_sec") peer.handshake_sec = to_u64(v);
  else if (k == "rx_bytes") peer.rx = to_u64(v);
  else if (k == "tx_bytes") peer.tx = to_u64(v);
  else if (k == "persistent_keepalive_interval") peer.keepalive = to_u64(v);
  else if (k == "allowed_ip") peer.allowed_ips.emplace_back(v);
}

}  // namespace

void parse_status(std::string_view lines, InterfaceStatus& into) {
  size_t pos = 0;
  while (pos < lines.size()) {
    size_t eol = lines.find('\n', pos);
    if (eol == std::string_view::npos) eol = lines.size();
    const std::string_view line = lines.substr(pos, eol - pos);
    pos = eol + 1;
    const size_t eq = line.find('=');
    if (eq == std::string_view::npos) continue;  // the blank line that ends the reply
    const std::string_view k = line.substr(0, eq), v = line.substr(eq + 1);
    if (k == "public_key") {
      into.peers.emplace_back().public_key = b64_of_hex(v);
    } else if (k == "errno") {
      continue;
    } else if (into.peers.empty()) {
      device_line(into, k, v);
    } else {
      peer_line(into.peers.back(), k, v);
    }
  }
}

// --- Prometheus text ---

std::string escape_label_value(std::string_view v) {
  std::string o;
  o.reserve(v.size());
  for (char c : v) {
    if (c == '\\') o += "\\\\";
    else if (c == '"') o += "\\\"";
    else if (c == '\n') o += "\\n";
    else o += c;
  }
  return o;
}

namespace {

struct Label {
  std::string_view name, value;
};

void family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void sample(std::string& out, std::string_view name, std::initializer_list<Label> labels, uint64_t value) {
  out.append(name);
  char sep = '{';
  for (const Label& l : labels) {
    out.push_back(sep);
    out.append(l.name).append("=\"").append(escape_label_value(l.value)).append("\"");
    sep = ',';
  }
  if (sep == ',') out.push_back('}');
  out.append(" ").append(std::to_string(value)).append("\n");
}

uint64_t count_of(const Counts& c, std::string_view name) {
  for (const auto& [n, v] : c)
    if (n == name) return v;
  return 0;
}

// A gw_* or io_* line's family: its name without the prefix, what it is, and whether it is a
// gauge. Lines not listed here (a newer daemon's) are rendered as counters with a plain help.
struct Known {
  std::string_view line, help;
  bool gauge = false;
};
constexpr Known kRouterCounters[] = {
    {"icmp_sent", "ICMP and ICMPv6 errors and replies the router sent"},
    {"icmp_rate_limited", "ICMP errors not sent because of the rate limit"},
    {"neighbour_solicits", "Neighbour solicitations and ARP requests the router sent"},
    {"flow_evictions", "Inbound-policy flows evicted from the full flow table"},
    {"ports_removed", "Ports removed by a reload"},
};
constexpr Known kIoCounters[] = {
    {"threads", "Threads doing AEAD work for a batch, the loop thread included", true},
    {"syscalls", "System calls made by the I/O backend"},
    {"udp_gso_sends", "UDP sends with generic segmentation offload"},
    {"udp_gso_datagrams", "Datagrams sent in UDP GSO sends"},
    {"udp_gso_failures", "UDP GSO sends the kernel refused"},
    {"udp_gro_receives", "UDP receives that carried coalesced datagrams"},
    {"udp_gro_datagrams", "Datagrams received in UDP GRO receives"},
    {"gro_super_packets", "Super-packets written to the TUN by receive coalescing"},
    {"gro_segments", "Packets coalesced into TUN super-packets"},
    {"udp_send_errors", "UDP sends that failed"},
    {"tun_write_errors", "TUN writes that failed"},
    {"port_write_errors", "Port device writes that failed"},
    {"timer_peers", "Peers with a protocol timer armed", true},
    {"timer_heap_entries", "Entries in the timer heap, stale ones included", true},
};

// The names of a gw_/io_ family over every interface, first appearance first.
template <class Get>
std::vector<std::string> names_of(const std::vector<InterfaceStatus>& all, Get get) {
  std::vector<std::string> names;
  for (const InterfaceStatus& s : all)
    for (const auto& [n, v] : get(s))
      if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
  return names;
}

// A line name usable in a metric name. Lines come from the daemon, but a newer or broken one
// must not be able to make the text unparsable.
bool metric_safe(std::string_view n) {
  return !n.empty() && std::all_of(n.begin(), n.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
}

template <size_t N>
void counter_families(std::string& out, const std::vector<InterfaceStatus>& all, const Known (&known)[N],
                      std::string_view prefix, const Counts& (*get)(const InterfaceStatus&)) {
  for (const std::string& n : names_of(all, get)) {
    if (!metric_safe(n)) continue;
    const Known* k = std::find_if(std::begin(known), std::end(known), [&](const Known& x) { return x.line == n; });
    const bool gauge = k != std::end(known) && k->gauge;
    const std::string name = std::string(prefix) + n + (gauge ? "" : "_total");
    family(out, name, gauge ? "gauge" : "counter", k != std::end(known) ? k->help : "wgrouter counter " + n);
    for (const InterfaceStatus& s : all)
      for (const auto& [m, v] : get(s))
        if (m == n) sample(out, name, {{"interface", s.name}}, v);
  }
}

std::string joined(const std::vector<std::string>& v) {
  std::string o;
  for (const auto& x : v) o += (o.empty() ? "" : ",") + x;
  return o;
}

// The per-peer families, in order: MindFlavor's three, then wgrouter's info.
struct PeerFamily {
  std::string_view name, type, help;
};
constexpr PeerFamily kPeerFamilies[] = {
    {"wireguard_sent_bytes_total", "counter", "Bytes sent to the peer"},
    {"wireguard_received_bytes_total", "counter", "Bytes received from the peer"},
    {"wireguard_latest_handshake_seconds", "gauge", "UNIX time of the latest handshake with the peer, 0 for never"},
    {"wgrouter_peer_info", "gauge", "A peer and its current endpoint (empty when none), always 1"},
};

void peer_sample(std::string& out, size_t family, const InterfaceStatus& s, const PeerStatus& p) {
  const std::string ips = joined(p.allowed_ips);
  const std::string_view name = kPeerFamilies[family].name;
  const std::initializer_list<Label> labels = {{"interface", s.name}, {"public_key", p.public_key}, {"allowed_ips", ips}};
  switch (family) {
    case 0: return sample(out, name, labels, p.tx);
    case 1: return sample(out, name, labels, p.rx);
    case 2: return sample(out, name, labels, p.handshake_sec);
    default:
      return sample(out, name, {{"interface", s.name}, {"public_key", p.public_key}, {"endpoint", p.endpoint}}, 1);
  }
}

}  // namespace

void PrometheusText::interface_families(std::string& out) const {
  const std::vector<InterfaceStatus>& all = all_;
  family(out, "wgrouter_build_info", "gauge",
         "The running wgrouter: version, AEAD backend and I/O backend, always 1");
  for (const InterfaceStatus& s : all)
    sample(out, "wgrouter_build_info",
           {{"interface", s.name}, {"version", s.version}, {"aead", s.aead}, {"io_backend", s.io_backend}}, 1);
  family(out, "wgrouter_interface_info", "gauge",
         "An interface: its public key, offloads in effect and capabilities kept, always 1");
  for (const InterfaceStatus& s : all)
    sample(out, "wgrouter_interface_info",
           {{"interface", s.name}, {"public_key", s.public_key}, {"offload", s.offload}, {"capabilities", s.capabilities}},
           1);
  family(out, "wgrouter_listen_port", "gauge", "UDP port the interface listens on");
  for (const InterfaceStatus& s : all) sample(out, "wgrouter_listen_port", {{"interface", s.name}}, s.listen_port);
  family(out, "wgrouter_peers", "gauge", "Peers configured on the interface");
  for (const InterfaceStatus& s : all) sample(out, "wgrouter_peers", {{"interface", s.name}}, s.peers.size());

  family(out, "wgrouter_drops_total", "counter", "Packets dropped by the interface, by reason");
  for (const InterfaceStatus& s : all)
    for (const auto& [reason, n] : s.drops) sample(out, "wgrouter_drops_total", {{"interface", s.name}, {"reason", reason}}, n);

  family(out, "wgrouter_handshakes_sent_total", "counter", "Handshake messages sent, by message");
  for (const InterfaceStatus& s : all)
    for (const char* m : {"initiation", "response"})
      sample(out, "wgrouter_handshakes_sent_total", {{"interface", s.name}, {"message", m}},
             count_of(s.handshakes, std::string("handshake_") + m + "s_sent"));
  family(out, "wgrouter_handshakes_received_total", "counter", "Valid handshake messages received, by message");
  for (const InterfaceStatus& s : all)
    for (const char* m : {"initiation", "response"})
      sample(out, "wgrouter_handshakes_received_total", {{"interface", s.name}, {"message", m}},
             count_of(s.handshakes, std::string("handshake_") + m + "s_received"));
  family(out, "wgrouter_handshakes_failed_total", "counter",
         "Failed handshakes: rejected (a message with a valid mac1 that failed after it) or timeout (an "
         "initiation unanswered for Rekey-Timeout)");
  for (const InterfaceStatus& s : all) {
    sample(out, "wgrouter_handshakes_failed_total", {{"interface", s.name}, {"reason", "rejected"}},
           count_of(s.handshakes, "handshake_rejected"));
    sample(out, "wgrouter_handshakes_failed_total", {{"interface", s.name}, {"reason", "timeout"}},
           count_of(s.handshakes, "handshake_timeouts"));
  }
  family(out, "wgrouter_handshakes_given_up_total", "counter",
         "Handshake attempts abandoned after Rekey-Attempt-Time without an answer");
  for (const InterfaceStatus& s : all)
    sample(out, "wgrouter_handshakes_given_up_total", {{"interface", s.name}}, count_of(s.handshakes, "handshake_given_up"));
  family(out, "wgrouter_cookie_replies_sent_total", "counter", "Cookie replies sent while under load");
  for (const InterfaceStatus& s : all)
    sample(out, "wgrouter_cookie_replies_sent_total", {{"interface", s.name}}, count_of(s.handshakes, "cookie_replies_sent"));
  family(out, "wgrouter_cookie_replies_received_total", "counter", "Valid cookie replies received");
  for (const InterfaceStatus& s : all)
    sample(out, "wgrouter_cookie_replies_received_total", {{"interface", s.name}},
           count_of(s.handshakes, "cookie_replies_received"));
  family(out, "wgrouter_under_load", "gauge", "1 while the interface answers handshakes with cookies (under load)");
  for (const InterfaceStatus& s : all) sample(out, "wgrouter_under_load", {{"interface", s.name}}, s.under_load ? 1 : 0);

  counter_families(out, all, kRouterCounters, "wgrouter_", [](const InterfaceStatus& s) -> const Counts& { return s.counters; });
  counter_families(out, all, kIoCounters, "wgrouter_io_", [](const InterfaceStatus& s) -> const Counts& { return s.io; });

  // Ports: one series per port, the port's name in the `port` label.
  auto port_family = [&](std::string_view name, std::string_view type, std::string_view help, auto value) {
    family(out, name, type, help);
    for (const InterfaceStatus& s : all)
      for (const PortStatus& p : s.ports) sample(out, name, {{"interface", s.name}, {"port", p.name}}, value(p));
  };
  family(out, "wgrouter_port_info", "gauge", "A port: its mode and MAC address, always 1");
  for (const InterfaceStatus& s : all)
    for (const PortStatus& p : s.ports)
      sample(out, "wgrouter_port_info", {{"interface", s.name}, {"port", p.name}, {"mode", p.mode}, {"mac", p.mac}}, 1);
  port_family("wgrouter_port_attached", "gauge", "1 while a device is behind the port", [](const PortStatus& p) -> uint64_t { return p.attached; });
  port_family("wgrouter_port_mtu", "gauge", "MTU of the port", [](const PortStatus& p) { return p.mtu; });
  port_family("wgrouter_port_neighbours", "gauge", "Resolved neighbours on the port", [](const PortStatus& p) -> uint64_t { return p.neighbours.size(); });
  port_family("wgrouter_port_rx_packets_total", "counter", "Packets received from the instance on the port", [](const PortStatus& p) { return p.rx_packets; });
  port_family("wgrouter_port_rx_bytes_total", "counter", "Bytes received from the instance on the port", [](const PortStatus& p) { return p.rx_bytes; });
  port_family("wgrouter_port_tx_packets_total", "counter", "Packets sent to the instance on the port", [](const PortStatus& p) { return p.tx_packets; });
  port_family("wgrouter_port_tx_bytes_total", "counter", "Bytes sent to the instance on the port", [](const PortStatus& p) { return p.tx_bytes; });
  port_family("wgrouter_port_reattached_total", "counter", "Times the port's interface came back and was attached again", [](const PortStatus& p) { return p.reattached; });
  port_family("wgrouter_port_router_solicitations_total", "counter", "Router Solicitations received from the instance (RouterAdvertisements)", [](const PortStatus& p) { return p.rs_received; });
  port_family("wgrouter_port_router_advertisements_total", "counter", "Router Advertisements sent on the port, solicited or not", [](const PortStatus& p) { return p.ra_sent; });
  port_family("wgrouter_port_dhcpv6_received_total", "counter", "DHCPv6 client messages received on the port", [](const PortStatus& p) { return p.dhcpv6_received; });
  port_family("wgrouter_port_dhcpv6_sent_total", "counter", "DHCPv6 answers sent on the port", [](const PortStatus& p) { return p.dhcpv6_sent; });
  family(out, "wgrouter_port_drops_total", "counter", "Packets dropped on their way from or to the port, by reason (reasons seen so far)");
  for (const InterfaceStatus& s : all)
    for (const PortStatus& p : s.ports)
      for (const auto& [reason, n] : p.drops)
        sample(out, "wgrouter_port_drops_total", {{"interface", s.name}, {"port", p.name}, {"reason", reason}}, n);
}

bool PrometheusText::next(std::string& out, size_t max_peers) {
  if (done_) return false;
  if (family_ == 0) {
    interface_families(out);
    family_ = 1;
    iface_ = peer_ = 0;
    return true;
  }
  const size_t f = family_ - 1;
  if (!family_started_) family(out, kPeerFamilies[f].name, kPeerFamilies[f].type, kPeerFamilies[f].help);
  family_started_ = true;
  for (size_t n = 0; n < max_peers && iface_ < all_.size();) {
    const InterfaceStatus& s = all_[iface_];
    if (peer_ >= s.peers.size()) {
      ++iface_;
      peer_ = 0;
      continue;
    }
    peer_sample(out, f, s, s.peers[peer_]);
    // After its last sample a peer is not needed again: its strings go now, a slice at a time,
    // rather than all together when the text is destroyed.
    if (family_ == std::size(kPeerFamilies)) all_[iface_].peers[peer_] = PeerStatus{};
    ++peer_;
    ++n;
  }
  while (iface_ < all_.size() && peer_ >= all_[iface_].peers.size()) {
    ++iface_;
    peer_ = 0;
  }
  if (iface_ < all_.size()) return true;
  iface_ = peer_ = 0;
  family_started_ = false;
  if (++family_ > std::size(kPeerFamilies)) done_ = true;
  return !done_;
}

std::string PrometheusText::render(std::vector<InterfaceStatus> all) {
  PrometheusText t(std::move(all));
  std::string out;
  while (t.next(out, ~size_t{0})) {
  }
  return out;
}

}  // namespace wg::config
