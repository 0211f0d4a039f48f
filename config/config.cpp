// config/config.cpp — parsing, checking and writing wgrouter config files.
// Line rules follow wireguard-tools: `wg` (config.c) for its keys and for the router's — text from
// '#' on dropped, then every whitespace character removed, `Key=` matched case-insensitively — and
// wg-quick (parse_options) for Address, DNS, MTU, Table, the hooks and SaveConfig in [Interface]:
// text from '#' on dropped, key and value trimmed at the ends only.
#include "config/config.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <tuple>

#include "config/rt_tables.hpp"
#include "config/uapi.hpp"
#include "core/autoconf.hpp"
#include "crypto/encoding.hpp"

namespace wg::config {
namespace {

using core::Family;
using core::Prefix;

// Thrown inside the parser only; parse_config turns it into a Diagnostic.
struct ParseError {
  int line = 0;
  std::string message;
};

// wireguard-tools' char_is_space, which is also [[:space:]] in the C locale wg-quick runs in.
constexpr bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}
constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }
constexpr char to_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (to_lower(a[i]) != to_lower(b[i])) return false;
  return true;
}

bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

std::string quoted(std::string_view v) { return "`" + std::string(v) + "'"; }

// A line's text with whitespace removed. It may hold a private key, so it wipes itself; the
// reserve() means the string never reallocates and leaves no unwiped copy behind.
struct StrippedLine {
  std::string text;
  explicit StrippedLine(std::string_view in) {
    text.reserve(in.size());
    for (char c : in)
      if (!is_space(c)) text.push_back(c);
  }
  ~StrippedLine() { crypto::wipe(text.data(), text.size()); }
  StrippedLine(const StrippedLine&) = delete;
  StrippedLine& operator=(const StrippedLine&) = delete;
};

// Every piece between commas, empty ones included (strsep, as wg splits AllowedIPs).
std::vector<std::string_view> split_commas(std::string_view s) {
  std::vector<std::string_view> out;
  for (;;) {
    const size_t comma = s.find(',');
    out.push_back(s.substr(0, comma));
    if (comma == std::string_view::npos) return out;
    s.remove_prefix(comma + 1);
  }
}

// The words of `${value//,/ }` under bash's default IFS: split at commas, spaces and tabs,
// empty words dropped.
std::vector<std::string_view> split_words(std::string_view s) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i < s.size() && s[i] != ',' && s[i] != ' ' && s[i] != '\t') continue;
    if (i > start) out.push_back(s.substr(start, i - start));
    start = i + 1;
  }
  return out;
}

// One or more decimal digits with a value <= max (leading zeros allowed, as strtoul does).
std::optional<uint64_t> parse_decimal(std::string_view s, uint64_t max) {
  if (s.empty()) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (!is_digit(c)) return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
    if (v > max) return std::nullopt;
  }
  return v;
}

std::optional<uint64_t> parse_hex(std::string_view s, uint64_t max) {
  if (s.empty()) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    const char l = to_lower(c);
    int d;
    if (is_digit(l)) d = l - '0';
    else if (l >= 'a' && l <= 'f') d = l - 'a' + 10;
    else return std::nullopt;
    v = v * 16 + static_cast<uint64_t>(d);
    if (v > max) return std::nullopt;
  }
  return v;
}

struct IpAddress {
  Family family = Family::None;
  std::array<uint8_t, 16> addr{};
};

// wg's parse_ip: IPv6 if the text has a ':', else IPv4 (inet_pton, so no short forms).
std::optional<IpAddress> parse_ip(std::string_view text) {
  const std::string s(text);
  IpAddress ip;
  const bool v6 = s.find(':') != std::string::npos;
  if (inet_pton(v6 ? AF_INET6 : AF_INET, s.c_str(), ip.addr.data()) != 1) return std::nullopt;
  ip.family = v6 ? Family::V6 : Family::V4;
  return ip;
}

std::string address_text(Family f, const uint8_t* addr) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(f == Family::V4 ? AF_INET : AF_INET6, addr, buf, sizeof(buf));
  return buf;
}

std::string gai_message(int ret, int saved_errno) {
  return ret == EAI_SYSTEM ? std::strerror(saved_errno) : gai_strerror(ret);
}

// The first result of getaddrinfo as an Endpoint, when it is IPv4 or IPv6 (wg's check).
std::optional<core::Endpoint> endpoint_from(const addrinfo* ai) {
  core::Endpoint e;
  if (ai->ai_family == AF_INET && ai->ai_addrlen == sizeof(sockaddr_in)) {
    sockaddr_in sin;
    std::memcpy(&sin, ai->ai_addr, sizeof(sin));
    e.family = Family::V4;
    std::memcpy(e.addr.data(), &sin.sin_addr, 4);
    e.port = ntohs(sin.sin_port);
    return e;
  }
  if (ai->ai_family == AF_INET6 && ai->ai_addrlen == sizeof(sockaddr_in6)) {
    sockaddr_in6 sin6;
    std::memcpy(&sin6, ai->ai_addr, sizeof(sin6));
    e.family = Family::V6;
    std::memcpy(e.addr.data(), &sin6.sin6_addr, 16);
    e.port = ntohs(sin6.sin6_port);
    e.scope_id = sin6.sin6_scope_id;
    return e;
  }
  return std::nullopt;
}

struct AddrInfo {
  addrinfo* list = nullptr;
  ~AddrInfo() {
    if (list) freeaddrinfo(list);
  }
};

// getaddrinfo for UDP as wg calls it. On failure, returns wg's message about `shown`.
std::optional<std::string> lookup(const char* host, const std::string& service, int flags, std::string_view shown,
                                  AddrInfo& out, bool* transient = nullptr) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_protocol = IPPROTO_UDP;
  hints.ai_flags = flags;
  const int ret = getaddrinfo(host, service.c_str(), &hints, &out.list);
  const int saved_errno = errno;
  if (ret == 0) return std::nullopt;
  out.list = nullptr;
  if (transient) *transient = !(ret == EAI_NONAME || ret == EAI_FAIL || ret == EAI_NODATA);
  return gai_message(ret, saved_errno) + ": " + quoted(shown);
}

bool valid_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_' || c == '=' || c == '+' ||
         c == '.' || c == '-';
}

// ^[a-zA-Z0-9_=+.-]{1,15}$, wg-quick's interface name rule (15 = IFNAMSIZ - 1).
bool valid_interface_name(std::string_view s) {
  return !s.empty() && s.size() <= 15 && std::all_of(s.begin(), s.end(), valid_name_char);
}

bool has_control_char(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

enum class Section { None, Interface, Peer, Port };

class Parser {
 public:
  explicit Parser(std::string_view file) : file_(file) {}

  Config run(std::string_view text) {
    for (size_t pos = 0;;) {
      const size_t nl = text.find('\n', pos);
      ++line_;
      process_line(text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos));
      if (nl == std::string_view::npos) break;
      pos = nl + 1;
    }
    line_ = 0;
    check();
    std::stable_sort(config_.warnings.begin(), config_.warnings.end(),
                     [](const Diagnostic& a, const Diagnostic& b) { return a.line < b.line; });
    return std::move(config_);
  }

 private:
  [[noreturn]] void fail(std::string message) { throw ParseError{line_, std::move(message)}; }
  void warn(std::string message, int line) { config_.warnings.push_back({file_, line, std::move(message)}); }
  void warn(std::string message) { warn(std::move(message), line_); }

  // wg's "Line unrecognized", which echoes the whitespace-stripped line. A line that names a
  // private or preshared key is cut after the key's name: secrets are never logged.
  [[noreturn]] void unrecognized() {
    for (std::string_view secret : {"PrivateKey", "PresharedKey"})
      if (istarts_with(current_, secret))
        fail("Line unrecognized: " + quoted(current_.substr(0, secret.size())) + " (value not shown)");
    fail("Line unrecognized: " + quoted(current_));
  }

  void process_line(std::string_view raw) {
    raw = raw.substr(0, raw.find('\0'));  // wg reads C strings
    const std::string_view uncommented = raw.substr(0, raw.find('#'));
    const StrippedLine stripped(uncommented);
    current_ = stripped.text;
    if (current_.empty()) return;
    if (iequals(current_, "[Interface]")) {
      section_ = Section::Interface;
      if (config_.iface.line.n == 0) config_.iface.line.n = line_;
      return;
    }
    if (iequals(current_, "[Peer]")) {
      section_ = Section::Peer;
      config_.peers.emplace_back().line.n = line_;
      peer_has_key_.push_back(false);
      return;
    }
    if (iequals(current_, "[Port]")) {
      section_ = Section::Port;
      config_.ports.emplace_back().line.n = line_;
      port_has_.emplace_back();
      return;
    }
    if (section_ == Section::None) unrecognized();
    if (section_ == Section::Interface && wg_quick_key(uncommented)) return;

    const size_t eq = current_.find('=');
    if (eq == std::string_view::npos) unrecognized();
    const std::string_view key = current_.substr(0, eq);
    const std::string_view value = current_.substr(eq + 1);
    switch (section_) {
      case Section::Interface: interface_key(key, value); break;
      case Section::Peer: peer_key(key, value); break;
      case Section::Port: port_key(key, value); break;
      case Section::None: break;
    }
  }

  // wg's get_value() does not match `Key=` with nothing after it.
  void require_value(std::string_view value) {
    if (value.empty()) unrecognized();
  }

  // The keys wg-quick takes out of [Interface] before `wg` sees the rest. Returns false for any
  // other key. As in wg-quick, a line without '=' has its whole text as key and as value.
  bool wg_quick_key(std::string_view uncommented) {
    const size_t eq = uncommented.find('=');
    const std::string_view key = trim(uncommented.substr(0, eq));
    const std::string_view value = trim(eq == std::string_view::npos ? uncommented : uncommented.substr(eq + 1));
    Interface& in = config_.iface;
    if (iequals(key, "Address")) {
      for (std::string_view word : split_words(value)) in.addresses.push_back(parse_address(word, false));
    } else if (iequals(key, "DNS")) {
      for (std::string_view word : split_words(value)) add_dns(word);
    } else if (iequals(key, "MTU")) {
      in.mtu = parse_mtu(value);
    } else if (iequals(key, "Table")) {
      in.table = parse_table(value);
    } else if (iequals(key, "PreUp")) {
      in.pre_up.emplace_back(value);
    } else if (iequals(key, "PostUp")) {
      in.post_up.emplace_back(value);
    } else if (iequals(key, "PreDown")) {
      in.pre_down.emplace_back(value);
    } else if (iequals(key, "PostDown")) {
      in.post_down.emplace_back(value);
    } else if (iequals(key, "SaveConfig")) {
      // read_bool runs under nocasematch, so `True` is true.
      if (iequals(value, "true")) in.save_config = true;
      else if (iequals(value, "false")) in.save_config = false;
      else fail(quoted(value) + " is neither true nor false");
    } else {
      return false;
    }
    return true;
  }

  void interface_key(std::string_view key, std::string_view value) {
    Interface& in = config_.iface;
    if (iequals(key, "PrivateKey")) {
      require_value(value);
      in.private_key = parse_secret(value);
    } else if (iequals(key, "ListenPort")) {
      require_value(value);
      in.listen_port = parse_listen_port(value);
    } else if (iequals(key, "FwMark")) {
      require_value(value);
      in.fwmark = parse_fwmark(value);
    } else if (iequals(key, "Unreachable")) {
      add_prefixes(value, "Unreachable", in.unreachable);
    } else if (iequals(key, "MetricsListen")) {
      require_value(value);
      in.metrics_listen = parse_metrics_listen(value);
    } else {
      unrecognized();
    }
  }

  void peer_key(std::string_view key, std::string_view value) {
    PeerConfig& peer = config_.peers.back();
    if (iequals(key, "PublicKey")) {
      require_value(value);
      if (!crypto::key_from_base64(peer.public_key.data(), value))
        fail("Key is not the correct length or format: " + quoted(value));
      peer_has_key_.back() = true;
    } else if (iequals(key, "PresharedKey")) {
      require_value(value);
      peer.preshared_key = parse_secret(value);
    } else if (iequals(key, "AllowedIPs")) {
      add_allowed_ips(value, peer.allowed_ips);
    } else if (iequals(key, "Endpoint")) {
      require_value(value);
      peer.endpoint = parse_endpoint(value);
    } else if (iequals(key, "PersistentKeepalive")) {
      require_value(value);
      peer.persistent_keepalive = parse_keepalive(value);
    } else {
      unrecognized();
    }
  }

  void port_key(std::string_view key, std::string_view value) {
    PortConfig& port = config_.ports.back();
    if (iequals(key, "Name")) {
      // The kernel also refuses "." and "..", which the character rule lets through.
      if (!valid_interface_name(value) || value == "." || value == "..")
        fail("Port name must be 1 to 15 of the characters a-z A-Z 0-9 _ = + . -: " + quoted(value));
      port.name = value;
      port_has_.back().name = true;
    } else if (iequals(key, "Mode")) {
      if (iequals(value, "tap")) port.mode = PortMode::Tap;
      else if (iequals(value, "veth")) port.mode = PortMode::Veth;
      else fail("Mode is neither tap nor veth: " + quoted(value));
      port_has_.back().mode = true;
    } else if (iequals(key, "Address")) {
      if (value.empty()) return;
      for (std::string_view entry : split_commas(value)) port.addresses.push_back(parse_address(entry, true));
    } else if (iequals(key, "Route")) {
      add_prefixes(value, "Route", port.routes);
    } else if (iequals(key, "AllowedSource")) {
      // Present, even empty, replaces the default (the Routes): empty means no source at all.
      if (!port.allowed_source) port.allowed_source.emplace();
      add_prefixes(value, "AllowedSource", *port.allowed_source);
    } else if (iequals(key, "AllowInbound")) {
      if (value.empty()) return;
      for (std::string_view entry : split_commas(value)) port.allow_inbound.push_back(parse_inbound(entry));
    } else if (iequals(key, "MTU")) {
      port.mtu = parse_mtu(value);
    } else if (iequals(key, "AllowHost")) {
      port.allow_host = parse_bool("AllowHost", value);
    } else if (iequals(key, "RouterAdvertisements")) {
      port.router_advertisements = parse_bool("RouterAdvertisements", value);
    } else if (iequals(key, "DHCPv6")) {
      port.dhcpv6 = parse_bool("DHCPv6", value);
    } else {
      unrecognized();
    }
  }

  bool parse_bool(std::string_view key, std::string_view value) {
    if (iequals(value, "true") || iequals(value, "yes") || iequals(value, "on")) return true;
    if (iequals(value, "false") || iequals(value, "no") || iequals(value, "off")) return false;
    fail(std::string(key) + " is neither true nor false: " + quoted(value));
  }

  // Secrets are never logged: unlike wg, this message leaves the value out.
  SecretKey parse_secret(std::string_view value) {
    SecretKey k;
    if (!crypto::key_from_base64(k.secret.data(), value)) fail("Key is not the correct length or format");
    return k;
  }

  // getaddrinfo does not range-check numeric services: `65536` becomes port 0, as in wg.
  void warn_if_wrapped(std::string_view what, std::string_view text, uint16_t port) {
    const auto n = parse_decimal(text, UINT64_MAX / 10);
    if (n && *n != port)
      warn("Warning: " + std::string(what) + " port " + quoted(text) + " is not in 0-65535; wg reads it as " +
           std::to_string(port));
  }

  uint16_t parse_listen_port(std::string_view value) {
    AddrInfo res;
    if (auto err = lookup(nullptr, std::string(value), AI_PASSIVE, value, res)) fail(*err);
    const auto ep = endpoint_from(res.list);
    if (!ep) fail("Neither IPv4 nor IPv6 address found: " + quoted(value));
    warn_if_wrapped("ListenPort", value, ep->port);
    return ep->port;
  }

  // A numeric address and port (the daemon binds it before it drops privileges, so no name
  // lookup at start), or an absolute unix socket path.
  MetricsListen parse_metrics_listen(std::string_view value) {
    MetricsListen m;
    m.text = value;
    m.line.n = line_;
    if (value.front() == '/') {
      if (value.size() >= sizeof(sockaddr_un::sun_path))
        fail("MetricsListen unix socket path is longer than " + std::to_string(sizeof(sockaddr_un::sun_path) - 1) +
             " bytes: " + quoted(value));
      m.unix_path = value;
      return m;
    }
    m.inet = parse_uapi_endpoint(value);
    if (!m.inet || m.inet->port == 0)
      fail("MetricsListen is neither ADDRESS:PORT, [IPv6]:PORT (numeric, port 1-65535) nor an absolute unix socket "
           "path: " + quoted(value));
    return m;
  }

  // wg's parse_fwmark: `off` (any case), decimal, or hex after a lowercase `0x`; at most 32 bits.
  uint32_t parse_fwmark(std::string_view value) {
    if (iequals(value, "off")) return 0;
    std::optional<uint64_t> n;
    if (value.size() > 2 && value[0] == '0' && value[1] == 'x') n = parse_hex(value.substr(2), UINT32_MAX);
    else n = parse_decimal(value, UINT32_MAX);
    if (!n) fail("Fwmark is neither 0/off nor 0-0xffffffff: " + quoted(value));
    return static_cast<uint32_t>(*n);
  }

  uint16_t parse_keepalive(std::string_view value) {
    if (iequals(value, "off")) return 0;
    const auto n = parse_decimal(value, 65535);
    if (!n) fail("Persistent keepalive interval is neither 0/off nor 1-65535: " + quoted(value));
    return static_cast<uint16_t>(*n);
  }

  // wg's parse_endpoint: `[v6]:port` needs the brackets, otherwise split at the last colon.
  // IP literals are looked up here (no DNS: AI_NUMERICHOST); hostnames keep their text for
  // resolve_endpoint, and only their port is checked now.
  EndpointSpec parse_endpoint(std::string_view value) {
    EndpointSpec e;
    e.text = value;
    if (value[0] == '[') {
      const size_t close = value.find(']');
      if (close == std::string_view::npos) fail("Unable to find matching brace of endpoint: " + quoted(value));
      if (close + 2 >= value.size() || value[close + 1] != ':')
        fail("Unable to find port of endpoint: " + quoted(value));
      e.host = value.substr(1, close - 1);
      e.port = value.substr(close + 2);
    } else {
      const size_t colon = value.rfind(':');
      if (colon == std::string_view::npos || colon + 1 == value.size())
        fail("Unable to find port of endpoint: " + quoted(value));
      e.host = value.substr(0, colon);
      e.port = value.substr(colon + 1);
    }
    AddrInfo res;
    if (!parse_ip(e.host)) {
      if (auto err = lookup(nullptr, e.port, AI_PASSIVE, value, res)) fail(*err);
      return e;
    }
    if (auto err = lookup(e.host.c_str(), e.port, AI_NUMERICHOST, value, res)) fail(*err);
    e.numeric = endpoint_from(res.list);
    if (!e.numeric) fail("Neither IPv4 nor IPv6 address found: " + quoted(value));
    warn_if_wrapped("Endpoint", e.port, e.numeric->port);
    return e;
  }

  // One `ip[/cidr]` read as wg's parse_allowedips reads it; label names the key in messages.
  PrefixEntry parse_prefix_entry(std::string_view entry, std::string_view label) {
    const size_t slash = entry.find('/');
    const std::string_view ip_text = entry.substr(0, slash);
    const auto ip = parse_ip(ip_text);
    if (!ip) fail("Unable to parse IP address: " + quoted(ip_text));
    const uint8_t max = Prefix::max_len(ip->family);
    uint64_t cidr = max;
    std::string_view mask;
    if (slash != std::string_view::npos) {
      mask = entry.substr(slash + 1);
      const auto n = parse_decimal(mask, max);
      if (!n) fail(std::string(label) + " is not in the correct format: " + quoted(entry));
      cidr = *n;
    }
    const auto len = static_cast<uint8_t>(cidr);
    if (Prefix::has_host_bits(ip->family, ip->addr.data(), len))
      warn("Warning: " + std::string(label) + " has nonzero host part: " + std::string(ip_text) + "/" +
           std::string(mask));
    return PrefixEntry{Prefix::make(ip->family, ip->addr.data(), len), SourceLine{line_}};
  }

  // Route, AllowedSource, Unreachable: comma-separated, every piece must parse; empty adds nothing.
  void add_prefixes(std::string_view value, std::string_view label, std::vector<PrefixEntry>& out) {
    if (value.empty()) return;
    for (std::string_view entry : split_commas(value)) out.push_back(parse_prefix_entry(entry, label));
  }

  // AllowedIPs; `+ip` adds and `-ip` removes one added before, as newer wg reads them. Empty
  // adds nothing (wg itself calls `AllowedIPs=` unrecognized; `allowed-ips ""` means none).
  void add_allowed_ips(std::string_view value, std::vector<PrefixEntry>& out) {
    if (value.empty()) return;
    for (std::string_view entry : split_commas(value)) {
      const bool remove = !entry.empty() && entry[0] == '-';
      if (!entry.empty() && (entry[0] == '+' || entry[0] == '-')) entry.remove_prefix(1);
      const PrefixEntry p = parse_prefix_entry(entry, "AllowedIP");
      if (remove) std::erase(out, p);
      else out.push_back(p);
    }
  }

  // wg-quick hands these to `ip address add`: the length is optional there (/32, /128); a
  // [Port] address must give one, since it also defines the port's on-link prefix.
  InterfaceAddress parse_address(std::string_view word, bool port) {
    const size_t slash = word.find('/');
    const std::string_view ip_text = word.substr(0, slash);
    const auto ip = parse_ip(ip_text);
    if (!ip) fail("Unable to parse IP address: " + quoted(ip_text));
    InterfaceAddress a;
    a.family = ip->family;
    a.addr = ip->addr;
    a.len = Prefix::max_len(ip->family);
    a.line.n = line_;
    if (slash == std::string_view::npos) {
      if (port) fail("Port Address needs a prefix length: " + quoted(word));
      return a;
    }
    const auto n = parse_decimal(word.substr(slash + 1), a.len);
    if (!n) fail("Address is not in the correct format: " + quoted(word));
    a.len = static_cast<uint8_t>(*n);
    return a;
  }

  // wg-quick's split: `^[0-9.]+$` or anything with ':' is a nameserver, the rest search domains.
  void add_dns(std::string_view word) {
    if (has_control_char(word)) fail("DNS entry is neither a nameserver nor a search domain: " + quoted(word));
    const bool server = word.find(':') != std::string_view::npos ||
                        std::all_of(word.begin(), word.end(), [](char c) { return is_digit(c) || c == '.'; });
    (server ? config_.iface.dns_servers : config_.iface.dns_search).emplace_back(word);
  }

  // Empty, as in wg-quick, means not set.
  std::optional<uint32_t> parse_mtu(std::string_view value) {
    if (value.empty()) return std::nullopt;
    const auto n = parse_decimal(value, kMaxMtu);
    if (!n || *n < kMinMtu)
      fail("MTU is not a number from " + std::to_string(kMinMtu) + " to " + std::to_string(kMaxMtu) + ": " +
           quoted(value));
    return static_cast<uint32_t>(*n);
  }

  // wg-quick compares with `off` and `auto` case-sensitively (after nocasematch is unset), so
  // `Off` is a table name, as `ip` would see it.
  RouteTable parse_table(std::string_view value) {
    RouteTable t;
    if (value.empty()) return t;
    t.text = value;
    t.line.n = line_;
    if (value == "auto") return t;
    if (value == "off") {
      t.mode = TableMode::Off;
      return t;
    }
    if (std::all_of(value.begin(), value.end(), is_digit)) {
      const auto n = parse_decimal(value, UINT32_MAX);
      if (!n) fail("Table number is not in 0-4294967295: " + quoted(value));
      t.mode = TableMode::Id;
      t.id = static_cast<uint32_t>(*n);
      return t;
    }
    const bool name_chars = std::all_of(value.begin(), value.end(), [](char c) {
      return valid_name_char(c) && c != '=' && c != '+';
    });
    if (!name_chars) fail("Table is neither off, auto, a number nor a table name: " + quoted(value));
    t.mode = TableMode::Name;
    return t;
  }

  // tcp/PORT, udp/PORT, tcp/LOW-HIGH, udp/LOW-HIGH; ports 1-65535.
  InboundRule parse_inbound(std::string_view entry) {
    const auto bad = [&] {
      fail("AllowInbound entry is neither tcp/PORT nor udp/PORT (PORT 1-65535 or LOW-HIGH): " + quoted(entry));
    };
    InboundRule r;
    const size_t slash = entry.find('/');
    if (slash == std::string_view::npos) bad();
    const std::string_view proto = entry.substr(0, slash);
    if (iequals(proto, "tcp")) r.proto = Proto::Tcp;
    else if (iequals(proto, "udp")) r.proto = Proto::Udp;
    else bad();
    const std::string_view ports = entry.substr(slash + 1);
    const size_t dash = ports.find('-');
    const auto first = parse_decimal(ports.substr(0, dash), 65535);
    const auto last = dash == std::string_view::npos ? first : parse_decimal(ports.substr(dash + 1), 65535);
    if (!first || !last || *first == 0 || *first > *last) bad();
    r.first = static_cast<uint16_t>(*first);
    r.last = static_cast<uint16_t>(*last);
    return r;
  }

  // --- checks over the whole file ------------------------------------------------------------

  using PrefixKey = std::tuple<Family, std::array<uint8_t, 16>, uint8_t>;
  static PrefixKey key_of(const Prefix& p) { return {p.family, p.addr, p.len}; }

  enum class Owner { Peer, Port, Unreachable };
  struct Destination {
    Prefix prefix;
    int line;
    Owner owner;
    size_t index;  // which peer or port
  };

  std::string describe(const Destination& d) const {
    switch (d.owner) {
      case Owner::Peer: return "an AllowedIP of a peer";
      case Owner::Port: return "a Route of port " + quoted(config_.ports[d.index].name);
      case Owner::Unreachable: return "an Unreachable prefix";
    }
    return {};
  }
  static std::string_view noun(Owner o) {
    return o == Owner::Peer ? "AllowedIP" : o == Owner::Port ? "Route" : "Unreachable";
  }

  // Every destination prefix (AllowedIPs, Routes, Unreachable) has one owner. Two peers may
  // share one — wg gives it to the later peer — so that only warns.
  void check_destinations(std::vector<ParseError>& errors) {
    std::vector<Destination> all;
    for (size_t i = 0; i < config_.peers.size(); ++i)
      for (const PrefixEntry& e : config_.peers[i].allowed_ips) all.push_back({e.prefix, e.line.n, Owner::Peer, i});
    for (size_t i = 0; i < config_.ports.size(); ++i)
      for (const PrefixEntry& e : config_.ports[i].routes) all.push_back({e.prefix, e.line.n, Owner::Port, i});
    for (const PrefixEntry& e : config_.iface.unreachable) all.push_back({e.prefix, e.line.n, Owner::Unreachable, 0});
    std::stable_sort(all.begin(), all.end(), [](const Destination& a, const Destination& b) { return a.line < b.line; });

    std::map<PrefixKey, Destination> first;
    for (const Destination& d : all) {
      const auto [it, inserted] = first.emplace(key_of(d.prefix), d);
      if (inserted) continue;
      const Destination& was = it->second;
      if (was.owner == d.owner && was.index == d.index) continue;
      const std::string what = std::string(noun(d.owner)) + " " + core::to_string(d.prefix) + " is also " +
                               describe(was) + " on line " + std::to_string(was.line);
      if (was.owner == Owner::Peer && d.owner == Owner::Peer) {
        warn("Warning: " + what + "; wg gives it to the later peer", d.line);
        it->second = d;
        continue;
      }
      errors.push_back({d.line, what});
    }
  }

  // Two ports must not share address space: with overlapping Routes one instance could take
  // the other's traffic, with overlapping AllowedSource it could send as the other, and a
  // shared own Address would be answered on two segments.
  void check_port_overlaps(std::vector<ParseError>& errors) {
    auto overlap = [](const Prefix& a, const Prefix& b) {
      if (a.family != b.family) return false;
      return a.len <= b.len ? a.contains(b.family, b.addr.data()) : b.contains(a.family, a.addr.data());
    };
    auto pairs = [&](std::string_view what, auto list_of) {
      for (size_t i = 0; i < config_.ports.size(); ++i)
        for (size_t j = i + 1; j < config_.ports.size(); ++j)
          for (const PrefixEntry& a : list_of(config_.ports[i]))
            for (const PrefixEntry& b : list_of(config_.ports[j]))
              if (overlap(a.prefix, b.prefix))
                errors.push_back({b.line.n, std::string(what) + " " + core::to_string(b.prefix) + " of port " +
                                                quoted(config_.ports[j].name) + " overlaps " + core::to_string(a.prefix) +
                                                " of port " + quoted(config_.ports[i].name) + " on line " +
                                                std::to_string(a.line.n)});
    };
    pairs("Route", [](const PortConfig& p) -> const std::vector<PrefixEntry>& { return p.routes; });
    pairs("AllowedSource", [](const PortConfig& p) -> const std::vector<PrefixEntry>& { return p.effective_allowed_source(); });
    for (size_t i = 0; i < config_.ports.size(); ++i)
      for (size_t j = i + 1; j < config_.ports.size(); ++j)
        for (const InterfaceAddress& a : config_.ports[i].addresses)
          for (const InterfaceAddress& b : config_.ports[j].addresses) {
            const bool link_local = a.family == Family::V6 && a.addr[0] == 0xfe && (a.addr[1] & 0xc0) == 0x80;
            if (link_local || a.family != b.family || a.addr != b.addr) continue;  // fe80::1 on every port is fine
            errors.push_back({b.line.n, "Address " + to_string(b) + " of port " + quoted(config_.ports[j].name) +
                                            " is also an address of port " + quoted(config_.ports[i].name) +
                                            " on line " + std::to_string(a.line.n)});
          }
  }

  void check() {
    std::vector<ParseError> errors;
    std::map<std::array<uint8_t, 32>, int> keys;
    for (size_t i = 0; i < config_.peers.size(); ++i) {
      const PeerConfig& p = config_.peers[i];
      if (!peer_has_key_[i]) {
        errors.push_back({p.line.n, "A peer is missing a public key"});
        continue;
      }
      const auto [it, inserted] = keys.emplace(p.public_key.bytes, p.line.n);
      if (!inserted)
        errors.push_back({p.line.n, "Public key " + quoted(crypto::key_to_base64(p.public_key.data())) +
                                        " is already used by the peer on line " + std::to_string(it->second)});
    }
    std::map<std::string, int> names;
    for (size_t i = 0; i < config_.ports.size(); ++i) {
      const PortConfig& port = config_.ports[i];
      if (!port_has_[i].name) errors.push_back({port.line.n, "A port is missing a Name"});
      if (!port_has_[i].mode) errors.push_back({port.line.n, "A port is missing a Mode"});
      if (!port_has_[i].name) continue;
      const auto [it, inserted] = names.emplace(port.name, port.line.n);
      if (!inserted)
        errors.push_back({port.line.n, "Port name " + quoted(port.name) + " is already used by the port on line " +
                                           std::to_string(it->second)});
    }
    check_destinations(errors);
    check_port_overlaps(errors);
    check_autoconf(errors);
    if (errors.empty()) return;
    throw *std::min_element(errors.begin(), errors.end(),
                            [](const ParseError& a, const ParseError& b) { return a.line < b.line; });
  }

  // What RAs and DHCPv6 announce must be announceable: the search domains in DNS wire format,
  // and DHCPv6 needs an address to hand out.
  void check_autoconf(std::vector<ParseError>& errors) const {
    for (const PortConfig& port : config_.ports) {
      if (!port.router_advertisements && !port.dhcpv6) continue;
      core::autoconf::DomainError bad;
      if (!core::autoconf::encode_domains(config_.iface.dns_search, &bad))
        errors.push_back({port.line.n, "The DNS search domain " + quoted(bad.name) +
                                            " cannot be announced to the instance (a label of 1-63 bytes, a name of "
                                            "at most 253, all of them at most 255 bytes)"});
      if (port.dhcpv6) {
        const auto& src = port.effective_allowed_source();
        const bool has128 = std::any_of(src.begin(), src.end(), [](const PrefixEntry& e) {
          return e.prefix.family == core::Family::V6 && e.prefix.len == 128;
        });
        if (!has128)
          errors.push_back({port.line.n, "DHCPv6 hands out the instance's IPv6 /128, but the port " +
                                             quoted(port.name) + " has none in its AllowedSource (or Route)"});
      }
    }
  }

  struct PortHas {
    bool name = false, mode = false;
  };

  std::string file_;
  int line_ = 0;
  std::string_view current_;  // the whitespace-stripped line being parsed
  Section section_ = Section::None;
  Config config_;
  std::vector<bool> peer_has_key_;  // parallel to config_.peers
  std::vector<PortHas> port_has_;   // parallel to config_.ports
};

void write_prefixes(std::string& out, std::string_view key, const std::vector<PrefixEntry>& list) {
  if (list.empty()) return;
  out += std::string(key) + " = ";
  for (size_t i = 0; i < list.size(); ++i) out += (i ? ", " : "") + core::to_string(list[i].prefix);
  out += '\n';
}

void write_list(std::string& out, std::string_view key, const std::vector<std::string>& list) {
  if (list.empty()) return;
  out += std::string(key) + " = ";
  for (size_t i = 0; i < list.size(); ++i) out += (i ? ", " : "") + list[i];
  out += '\n';
}

void write_addresses(std::string& out, const std::vector<InterfaceAddress>& list) {
  if (list.empty()) return;
  out += "Address = ";
  for (size_t i = 0; i < list.size(); ++i) out += (i ? ", " : "") + to_string(list[i]);
  out += '\n';
}

void write_line(std::string& out, std::string_view key, std::string_view value) {
  out += std::string(key) + " = " + std::string(value) + "\n";
}

// Appends the base64 key and wipes the temporary that held it.
void write_secret(std::string& out, std::string_view key, const SecretKey& k) {
  char b64[crypto::kKeyBase64Len + 1];
  crypto::key_to_base64(b64, k.secret.data());
  out += std::string(key) + " = ";
  out.append(b64, crypto::kKeyBase64Len);
  out += '\n';
  crypto::wipe(b64, sizeof(b64));
}

}  // namespace

std::string Diagnostic::to_string() const {
  if (line <= 0) return message;
  return file + ":" + std::to_string(line) + ": " + message;
}

std::string to_string(const InterfaceAddress& a) {
  return address_text(a.family, a.addr.data()) + "/" + std::to_string(a.len);
}

std::string to_string(const InboundRule& r) {
  std::string s = r.proto == Proto::Tcp ? "tcp/" : "udp/";
  s += std::to_string(r.first);
  if (r.last != r.first) s += "-" + std::to_string(r.last);
  return s;
}

Result<Config, Diagnostic> parse_config(std::string_view text, std::string_view file_name) {
  Parser parser(file_name);
  try {
    return parser.run(text);
  } catch (ParseError& e) {
    return Unexpected<Diagnostic>(Diagnostic{std::string(file_name), e.line, std::move(e.message)});
  }
}

Result<Config, Diagnostic> load_config(const std::string& path) {
  constexpr size_t kMaxFileSize = 16 << 20;  // a config is kilobytes; this stops `check /dev/zero`
  const auto file_error = [&](std::string message) { return Unexpected<Diagnostic>(Diagnostic{path, 0, message}); };
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return file_error(quoted(path) + " does not exist");
    return file_error("Unable to open " + quoted(path) + ": " + std::strerror(errno));
  }
  std::string text;
  char buf[4096];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      close(fd);
      crypto::wipe(text.data(), text.size());
      return file_error("Unable to read " + quoted(path) + ": " + std::strerror(err));
    }
    if (n == 0) break;
    if (text.size() + static_cast<size_t>(n) > kMaxFileSize) {
      close(fd);
      crypto::wipe(text.data(), text.size());
      return file_error(quoted(path) + " is larger than 16 MiB");
    }
    if (text.capacity() < text.size() + static_cast<size_t>(n)) {
      // Grow by hand so the old buffer, which holds key text, is wiped rather than just freed.
      std::string bigger;
      bigger.reserve(std::max(text.capacity() * 2, text.size() + static_cast<size_t>(n)));
      bigger = text;
      crypto::wipe(text.data(), text.size());
      text.swap(bigger);
    }
    text.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  crypto::wipe(buf, sizeof(buf));

  auto config = parse_config(text, path);
  crypto::wipe(text.data(), text.size());
  if (!config) return config;
  if (auto named = resolve_table(*config, path); !named) return Unexpected(named.error());

  // wg-quick warns when the file and its directory both let others in (0%#a & 0%#a & 0007).
  if (char* real = realpath(path.c_str(), nullptr)) {
    const std::string file = real;
    std::free(real);
    const std::string dir = file.substr(0, file.rfind('/'));
    struct stat fs {}, ds {};
    if (stat(file.c_str(), &fs) == 0 && stat(dir.empty() ? "/" : dir.c_str(), &ds) == 0 &&
        (fs.st_mode & ds.st_mode & 0007) != 0)
      config->warnings.insert(config->warnings.begin(),
                              Diagnostic{path, 0, "Warning: " + quoted(file) + " is world accessible"});
  }
  return config;
}

std::string write_config(const Config& c) {
  std::string out = "[Interface]\n";
  const Interface& in = c.iface;
  if (in.private_key) write_secret(out, "PrivateKey", *in.private_key);
  if (in.listen_port) write_line(out, "ListenPort", std::to_string(*in.listen_port));
  if (in.fwmark) {
    char hex[16];
    std::snprintf(hex, sizeof(hex), "0x%x", *in.fwmark);
    write_line(out, "FwMark", *in.fwmark ? hex : "off");
  }
  write_addresses(out, in.addresses);
  std::vector<std::string> dns = in.dns_servers;
  dns.insert(dns.end(), in.dns_search.begin(), in.dns_search.end());
  write_list(out, "DNS", dns);
  if (in.mtu) write_line(out, "MTU", std::to_string(*in.mtu));
  if (!in.table.text.empty()) write_line(out, "Table", in.table.text);
  if (in.save_config) write_line(out, "SaveConfig", "true");
  for (const auto& h : in.pre_up) write_line(out, "PreUp", h);
  for (const auto& h : in.post_up) write_line(out, "PostUp", h);
  for (const auto& h : in.pre_down) write_line(out, "PreDown", h);
  for (const auto& h : in.post_down) write_line(out, "PostDown", h);
  write_prefixes(out, "Unreachable", in.unreachable);
  if (in.metrics_listen) write_line(out, "MetricsListen", in.metrics_listen->text);

  for (const PeerConfig& p : c.peers) {
    out += "\n[Peer]\n";
    write_line(out, "PublicKey", crypto::key_to_base64(p.public_key.data()));
    if (p.preshared_key) write_secret(out, "PresharedKey", *p.preshared_key);
    write_prefixes(out, "AllowedIPs", p.allowed_ips);
    if (p.endpoint) write_line(out, "Endpoint", p.endpoint->text);
    if (p.persistent_keepalive)
      write_line(out, "PersistentKeepalive", *p.persistent_keepalive ? std::to_string(*p.persistent_keepalive) : "off");
  }

  for (const PortConfig& p : c.ports) {
    out += "\n[Port]\n";
    write_line(out, "Name", p.name);
    write_line(out, "Mode", p.mode == PortMode::Tap ? "tap" : "veth");
    write_addresses(out, p.addresses);
    write_prefixes(out, "Route", p.routes);
    if (p.allowed_source) {
      if (p.allowed_source->empty()) write_line(out, "AllowedSource", "");
      write_prefixes(out, "AllowedSource", *p.allowed_source);
    }
    if (!p.allow_inbound.empty()) {
      out += "AllowInbound = ";
      for (size_t i = 0; i < p.allow_inbound.size(); ++i) out += (i ? ", " : "") + to_string(p.allow_inbound[i]);
      out += '\n';
    }
    if (p.mtu) write_line(out, "MTU", std::to_string(*p.mtu));
    if (p.allow_host) write_line(out, "AllowHost", "true");
    if (p.router_advertisements) write_line(out, "RouterAdvertisements", "true");
    if (p.dhcpv6) write_line(out, "DHCPv6", "true");
  }
  return out;
}

Result<std::string, std::string> interface_name_from_path(std::string_view path) {
  const size_t slash = path.rfind('/');
  const std::string_view base = slash == std::string_view::npos ? path : path.substr(slash + 1);
  constexpr std::string_view kSuffix = ".conf";
  if (base.size() > kSuffix.size() && base.substr(base.size() - kSuffix.size()) == kSuffix) {
    const std::string_view name = base.substr(0, base.size() - kSuffix.size());
    if (valid_interface_name(name)) return std::string(name);
  }
  return Unexpected<std::string>(std::string("The config file must be a valid interface name, followed by .conf"));
}

Result<core::Endpoint, ResolveError> resolve_endpoint(const EndpointSpec& spec) {
  if (spec.numeric) return *spec.numeric;
  AddrInfo res;
  ResolveError err;
  if (auto message = lookup(spec.host.c_str(), spec.port, 0, spec.text, res, &err.transient)) {
    err.message = *message;
    return Unexpected<ResolveError>(err);
  }
  const auto ep = endpoint_from(res.list);
  if (!ep) return Unexpected<ResolveError>(ResolveError{"Neither IPv4 nor IPv6 address found: " + quoted(spec.text), false});
  return *ep;
}

}  // namespace wg::config
