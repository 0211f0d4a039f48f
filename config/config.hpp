// config/config.hpp — the wgrouter config file: a wg-quick file ([Interface], [Peer]) plus the
// router's `Unreachable` key and [Port] sections (PRODUCT.md), parsed into typed values.
// Owns parsing, semantic checks, diagnostics with file:line, and writing a config back out.
// Does not resolve hostnames while parsing (resolve_endpoint does that, on request) and does
// not touch devices, routes or DNS.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/endpoint.hpp"
#include "core/keys.hpp"
#include "core/prefix.hpp"
#include "core/result.hpp"
#include "crypto/secure.hpp"

namespace wg::config {

// One error or warning. Errors carry the first bad line; file-level diagnostics (line 0) have a
// message that names the file itself, as wg-quick's do.
struct Diagnostic {
  std::string file;
  int line = 0;
  std::string message;

  // "file:line: message", or just the message when line is 0.
  std::string to_string() const;
  friend bool operator==(const Diagnostic&, const Diagnostic&) = default;
};

// Where a setting came from. Not part of the setting's value: it compares equal to any other
// SourceLine, so two configs that say the same thing are == wherever their lines are (this is
// what lets parse(write(c)) == c hold).
struct SourceLine {
  int n = 0;
  friend bool operator==(SourceLine, SourceLine) { return true; }
};

// A private or preshared key. Wipes itself (crypto::Secret); compared in constant time.
// Never printed: diagnostics about these keys leave the value out.
struct SecretKey {
  crypto::Secret<32> secret;
  friend bool operator==(const SecretKey& a, const SecretKey& b) {
    return crypto::equal_ct(a.secret.data(), b.secret.data(), 32);
  }
};

// A prefix from a list key (AllowedIPs, Route, AllowedSource, Unreachable): host bits zeroed.
struct PrefixEntry {
  core::Prefix prefix;
  SourceLine line;
  friend bool operator==(const PrefixEntry&, const PrefixEntry&) = default;
};

// An address with its prefix length, host bits kept (Interface/Port `Address = 10.0.0.5/24`).
struct InterfaceAddress {
  core::Family family = core::Family::None;
  std::array<uint8_t, 16> addr{};  // IPv4 in the first 4 bytes
  uint8_t len = 0;
  SourceLine line;

  core::Prefix prefix() const { return core::Prefix::make(family, addr.data(), len); }
  friend bool operator==(const InterfaceAddress&, const InterfaceAddress&) = default;
};
std::string to_string(const InterfaceAddress& a);  // "10.0.0.5/24"

// wg-quick's Table: absent/empty or `auto` = main table plus the default-route logic, `off` = no
// routes, else a table number or a name from iproute2's rt_tables.
enum class TableMode : uint8_t { Auto, Off, Id, Name };
struct RouteTable {
  TableMode mode = TableMode::Auto;
  uint32_t id = 0;     // TableMode::Id, or TableMode::Name once resolved (load_config, rt_tables.hpp)
  std::string text;    // as written; empty when the key was absent (wg-quick saves it only then)
  SourceLine line;
  friend bool operator==(const RouteTable&, const RouteTable&) = default;
};

// A peer's Endpoint as written, split as `wg` splits it. numeric is set when the host is an IP
// literal; otherwise (a hostname) resolve_endpoint() looks it up when the caller is ready to.
struct EndpointSpec {
  std::string text;  // whitespace removed, e.g. "vpn.example.net:51820" or "[2001:db8::1]:51820"
  std::string host;  // without brackets
  std::string port;  // a number or a service name
  std::optional<core::Endpoint> numeric;
  friend bool operator==(const EndpointSpec& a, const EndpointSpec& b) { return a.text == b.text; }
};

// MetricsListen: where the Prometheus endpoint listens (io/metrics_server.hpp). Exactly one of
// inet (a numeric `a.b.c.d:port` or `[v6]:port`, port not 0) and unix_path (absolute) is set.
struct MetricsListen {
  std::string text;  // as written, whitespace removed
  std::optional<core::Endpoint> inet;
  std::string unix_path;
  SourceLine line;
  friend bool operator==(const MetricsListen& a, const MetricsListen& b) { return a.text == b.text; }
};

struct Interface {
  SourceLine line;  // the first [Interface] header; 0 when there is none
  // handled by wg
  std::optional<SecretKey> private_key;
  std::optional<uint16_t> listen_port;  // absent: random
  std::optional<uint32_t> fwmark;       // 0 = off
  // handled by wg-quick
  std::vector<InterfaceAddress> addresses;
  std::vector<std::string> dns_servers;  // `^[0-9.]+$` or containing ':'
  std::vector<std::string> dns_search;   // every other DNS entry
  std::optional<uint32_t> mtu;           // absent: computed at `up`
  RouteTable table;
  std::vector<std::string> pre_up, post_up, pre_down, post_down;
  bool save_config = false;
  // wgrouter
  std::vector<PrefixEntry> unreachable;
  std::optional<MetricsListen> metrics_listen;
  friend bool operator==(const Interface&, const Interface&) = default;
};

struct PeerConfig {
  SourceLine line;  // its [Peer] header
  core::PublicKey public_key;
  std::optional<SecretKey> preshared_key;
  std::optional<EndpointSpec> endpoint;
  std::vector<PrefixEntry> allowed_ips;
  std::optional<uint16_t> persistent_keepalive;  // 0 = off
  friend bool operator==(const PeerConfig&, const PeerConfig&) = default;
};

enum class PortMode : uint8_t { Tap, Veth };
enum class Proto : uint8_t { Tcp, Udp };

// One AllowInbound entry: `tcp/22` (first == last) or `udp/5000-5010`.
struct InboundRule {
  Proto proto = Proto::Tcp;
  uint16_t first = 0, last = 0;
  friend bool operator==(const InboundRule&, const InboundRule&) = default;
};
std::string to_string(const InboundRule& r);

struct PortConfig {
  SourceLine line;  // its [Port] header
  std::string name;
  PortMode mode = PortMode::Tap;
  std::vector<InterfaceAddress> addresses;
  std::vector<PrefixEntry> routes;
  std::optional<std::vector<PrefixEntry>> allowed_source;  // absent: the Routes
  std::vector<InboundRule> allow_inbound;                   // empty: every new inbound flow
  std::optional<uint32_t> mtu;
  bool allow_host = false;  // AllowHost: may reach the gateway's own host through the TUN
  bool router_advertisements = false;  // RouterAdvertisements: RAs from the port's link-local address
  bool dhcpv6 = false;                 // DHCPv6: the instance's /128 and DNS over DHCPv6
  friend bool operator==(const PortConfig&, const PortConfig&) = default;

  const std::vector<PrefixEntry>& effective_allowed_source() const {
    return allowed_source ? *allowed_source : routes;
  }
};

struct Config {
  Interface iface;
  std::vector<PeerConfig> peers;
  std::vector<PortConfig> ports;
  std::vector<Diagnostic> warnings;  // not part of the value: == ignores them
  friend bool operator==(const Config& a, const Config& b) {
    return a.iface == b.iface && a.peers == b.peers && a.ports == b.ports;
  }
};

inline constexpr uint32_t kMinMtu = 68;  // Linux ETH_MIN_MTU
inline constexpr uint32_t kMaxMtu = 65535;

// Parses a whole file's text. file_name only labels diagnostics. The first error stops parsing.
[[nodiscard]] Result<Config, Diagnostic> parse_config(std::string_view text, std::string_view file_name);

// Reads path and parses it; diagnostics name path as given. Adds wg-quick's world-accessible
// warning when the file and its directory are both readable by others. A Table name is looked
// up in iproute2's rt_tables files (config/rt_tables.hpp): unknown, it is an error.
[[nodiscard]] Result<Config, Diagnostic> load_config(const std::string& path);

// The config as a wg-quick file: [Interface], then [Peer]s, then [Port]s. Contains the private
// and preshared keys (for SaveConfig): write it with umask 077.
std::string write_config(const Config& config);

// wg-quick's rule: the base name without `.conf` must match ^[a-zA-Z0-9_=+.-]{1,15}$.
// The error is wg-quick's text.
[[nodiscard]] Result<std::string, std::string> interface_name_from_path(std::string_view path);

// Resolves an Endpoint the way `wg` does: getaddrinfo(AF_UNSPEC, UDP), first result. One
// attempt; transient is true when wg would try again (anything but EAI_NONAME, EAI_FAIL,
// EAI_NODATA), so the caller owns the retry loop and its sleeps.
struct ResolveError {
  std::string message;  // wg's text: "<gai_strerror>: `host:port'"
  bool transient = false;
};
[[nodiscard]] Result<core::Endpoint, ResolveError> resolve_endpoint(const EndpointSpec& spec);

}  // namespace wg::config
