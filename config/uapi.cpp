// config/uapi.cpp — UAPI framing, `get` output and `set` keys (PROTOCOL.md §2.2-2.4), with
// wireguard-go's behaviour (device/uapi.go IpcHandle, IpcSetOperation, IpcGetOperation) as the
// reference for every detail the text protocol leaves open.
#include "config/uapi.hpp"

#include <arpa/inet.h>
#include <net/if.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "crypto/encoding.hpp"
#include "crypto/secure.hpp"

namespace wg::config {

namespace {

// "get=1" and "set=1": a longer operation line can never become valid.
constexpr size_t kMaxOperationLine = 12;  // also "get=wgrouter"

std::string errno_reply(int err) { return "errno=" + std::to_string(err) + "\n\n"; }

// Decimal digits only, as Go's strconv.ParseUint(s, 10, bits): no sign, no spaces, leading
// zeros allowed, at most max.
std::optional<uint64_t> parse_decimal(std::string_view s, uint64_t max) {
  if (s.empty()) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
    if (v > max) return std::nullopt;  // max <= 2^32, so v never wraps
  }
  return v;
}

bool has_nul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

// A scope is an interface index or the name of an existing interface.
std::optional<uint32_t> parse_scope(std::string_view scope) {
  if (scope.empty() || has_nul(scope)) return std::nullopt;
  if (auto n = parse_decimal(scope, UINT32_MAX)) return static_cast<uint32_t>(*n);
  if (scope.size() >= IF_NAMESIZE) return std::nullopt;
  const unsigned index = ::if_nametoindex(std::string(scope).c_str());
  if (index == 0) return std::nullopt;
  return index;
}

}  // namespace

// --- value parsers ---

std::optional<core::Endpoint> parse_uapi_endpoint(std::string_view text) {
  if (text.empty() || has_nul(text)) return std::nullopt;
  core::Endpoint ep;
  std::string_view port_text;
  if (text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') return std::nullopt;
    std::string_view host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
    std::optional<uint32_t> scope;
    if (const size_t pct = host.find('%'); pct != std::string_view::npos) {
      scope = parse_scope(host.substr(pct + 1));
      if (!scope) return std::nullopt;
      host = host.substr(0, pct);
    }
    // Brackets are for IPv6 only: "[1.2.3.4]:5" fails here, as in Go's netip.ParseAddrPort.
    if (inet_pton(AF_INET6, std::string(host).c_str(), ep.addr.data()) != 1) return std::nullopt;
    ep.family = core::Family::V6;
    ep.scope_id = scope.value_or(0);
    // io/ has a v6-only socket for IPv6 and a v4 one for IPv4; `wg show` must print IPv4 peers
    // as a.b.c.d:port (PROTOCOL.md §5 item 4).
    static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (!scope && std::memcmp(ep.addr.data(), kMapped, sizeof(kMapped)) == 0) {
      ep.family = core::Family::V4;
      std::memmove(ep.addr.data(), ep.addr.data() + 12, 4);
      std::fill(ep.addr.begin() + 4, ep.addr.end(), uint8_t{0});
    }
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    // An unbracketed IPv6 address fails here too (Go: "without brackets").
    if (inet_pton(AF_INET, std::string(text.substr(0, colon)).c_str(), ep.addr.data()) != 1) return std::nullopt;
    ep.family = core::Family::V4;
    port_text = text.substr(colon + 1);
  }
  const auto port = parse_decimal(port_text, UINT16_MAX);
  if (!port) return std::nullopt;
  ep.port = static_cast<uint16_t>(*port);
  return ep;
}

std::optional<core::Prefix> parse_uapi_prefix(std::string_view text) {
  // Go's netip.ParsePrefix: the "/bits" is required, bits has no sign or leading zero, and an
  // IPv6 zone is refused (inet_pton refuses '%' as well).
  if (has_nul(text)) return std::nullopt;
  const size_t slash = text.rfind('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const std::string_view bits = text.substr(slash + 1);
  if (!parse_decimal(bits, 128) || (bits.size() > 1 && bits.front() == '0')) return std::nullopt;
  return core::parse_prefix(text);
}

// --- get ---

namespace {

std::string mac_text(const core::pkt::Mac& m) {
  char b[18];
  std::snprintf(b, sizeof(b), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
  return b;
}

// wgrouter's own lines after the drop counters: router counters, then one block per port
// starting with port=NAME. Stock `wg` never asks for these (get=wgrouter only).
void append_ports(const core::Gateway& gw, std::string& out) {
  auto line = [&](std::string_view k, const std::string& v) { out.append(k).append("=").append(v).append("\n"); };
  auto num = [&](std::string_view k, uint64_t v) { line(k, std::to_string(v)); };
  num("gw_icmp_sent", gw.counters().icmp_sent);
  num("gw_icmp_rate_limited", gw.counters().icmp_rate_limited);
  num("gw_neighbour_solicits", gw.counters().neighbour_solicits);
  num("gw_flow_evictions", gw.flow_evictions());
  num("gw_ports_removed", gw.counters().ports_removed);
  for (uint32_t p = 0; p < gw.port_count(); ++p) {
    if (gw.port_removed(p)) continue;  // gone from the file: counted in gw_ports_removed
    const core::PortSpec& spec = gw.port_spec(p);
    line("port", spec.name);
    line("port_mode", spec.tap ? "tap" : "veth");
    num("port_attached", gw.port_attached(p) ? 1 : 0);
    num("port_mtu", spec.mtu);
    line("port_mac", mac_text(spec.mac));
    for (const core::HostAddress& a : spec.addresses)
      line("port_address", core::to_string(core::Prefix{a.family, a.addr, a.len}));
    for (const core::Prefix& r : spec.routes) line("port_route", core::to_string(r));
    for (const core::Prefix& r : spec.allowed_source) line("port_allowed_source", core::to_string(r));
    for (const core::InboundRule& r : spec.allow_inbound)
      line("port_allow_inbound", std::string(r.proto == core::pkt::kProtoTcp ? "tcp/" : "udp/") + std::to_string(r.first) +
                                     (r.last != r.first ? "-" + std::to_string(r.last) : ""));
    for (const core::Neighbour& n : gw.neighbours(p)) {
      if (!n.resolved) continue;
      std::string addr = core::to_string(core::Prefix::make(n.family, n.addr.data(), n.family == core::Family::V4 ? 32 : 128));
      addr.resize(addr.rfind('/'));
      line("port_neighbour", addr + " " + mac_text(n.mac));
    }
    const core::PortStats& st = gw.port_stats(p);
    num("port_rx_packets", st.rx_packets);
    num("port_rx_bytes", st.rx_bytes);
    num("port_tx_packets", st.tx_packets);
    num("port_tx_bytes", st.tx_bytes);
    num("port_reattached", st.reattached);
    num("port_rs_received", st.rs_received);
    num("port_ra_sent", st.ra_sent);
    num("port_dhcpv6_received", st.dhcpv6_received);
    num("port_dhcpv6_sent", st.dhcpv6_sent);
    for (size_t i = 1; i < core::kDropReasonCount; ++i)
      if (const uint64_t c = st.drops.count[i]) num(std::string("port_drop_") + std::string(core::drop_name(static_cast<core::Drop>(i))), c);
  }
}

}  // namespace

void append_get_head(UapiTarget& t, std::string& out, bool with_drops) {
  const core::Device& dev = t.device;
  char hex[crypto::kKeyHexLen + 1];
  if (dev.identity().has_key) {
    crypto::key_to_hex(hex, dev.identity().private_key.data());
    out.append("private_key=").append(hex, crypto::kKeyHexLen).append("\n");
    crypto::wipe(hex, sizeof(hex));
  }
  if (const uint16_t port = t.hooks.listen_port()) out.append("listen_port=").append(std::to_string(port)).append("\n");
  if (const uint32_t mark = t.hooks.fwmark()) out.append("fwmark=").append(std::to_string(mark)).append("\n");
  if (!with_drops) return;
  for (size_t i = 1; i < core::kDropReasonCount; ++i) {
    const auto d = static_cast<core::Drop>(i);
    out.append("drop_").append(core::drop_name(d)).append("=").append(std::to_string(dev.drops()[d])).append("\n");
  }
  const core::Device::HandshakeCounters& hs = dev.handshake_counters();
  auto num = [&](std::string_view k, uint64_t v) { out.append(k).append("=").append(std::to_string(v)).append("\n"); };
  num("handshake_initiations_sent", hs.initiations_sent);
  num("handshake_responses_sent", hs.responses_sent);
  num("handshake_initiations_received", hs.initiations_received);
  num("handshake_responses_received", hs.responses_received);
  num("handshake_rejected", hs.rejected);
  num("handshake_timeouts", hs.timeouts);
  num("handshake_given_up", hs.given_up);
  num("cookie_replies_sent", hs.cookie_replies_sent);
  num("cookie_replies_received", hs.cookie_replies_received);
  num("under_load", dev.under_load(t.hooks.env().now) ? 1 : 0);
  t.hooks.append_status(out);
  if (t.gateway) append_ports(*t.gateway, out);
}

std::optional<core::PeerId> append_get_peers(UapiTarget& t, std::string& out, core::PeerId from, size_t max) {
  const core::Device& dev = t.device;
  char hex[crypto::kKeyHexLen + 1];
  auto key_line = [&](std::string_view name, const uint8_t* key) {
    crypto::key_to_hex(hex, key);
    out.append(name).append("=").append(hex, crypto::kKeyHexLen).append("\n");
  };
  auto number_line = [&](std::string_view name, uint64_t v) {
    out.append(name).append("=").append(std::to_string(v)).append("\n");
  };
  core::PeerId id = from;
  for (size_t listed = 0; listed < max; ++id) {
    const core::Peer* found = dev.peer(id);
    if (!found) {
      if (id >= dev.peer_slots()) break;
      continue;
    }
    const core::Peer& p = *found;
    ++listed;
    key_line("public_key", p.public_key.data());
    key_line("preshared_key", p.preshared_key.data());  // all zeros when there is none
    out.append("protocol_version=1\n");
    if (p.endpoint.valid()) out.append("endpoint=").append(core::to_string(p.endpoint)).append("\n");
    // Wall-clock epoch time, 0 and 0 for never (boringtun #447 sent seconds-since).
    const int64_t ns = p.last_handshake.since_epoch.count();
    const uint64_t since_epoch = ns > 0 ? static_cast<uint64_t>(ns) : 0;
    number_line("last_handshake_time_sec", since_epoch / 1'000'000'000);
    number_line("last_handshake_time_nsec", since_epoch % 1'000'000'000);
    number_line("tx_bytes", p.tx_bytes);
    number_line("rx_bytes", p.rx_bytes);
    number_line("persistent_keepalive_interval", p.persistent_keepalive);
    t.allowed_ips.for_each_of(core::RouteTarget::peer(id), [&](const core::Prefix& prefix) {
      out.append("allowed_ip=").append(core::to_string(prefix)).append("\n");
    });
  }
  crypto::wipe(hex, sizeof(hex));
  if (id < dev.peer_slots()) return id;
  out.append("errno=0\n\n");
  return std::nullopt;
}

void append_get_reply(UapiTarget& t, std::string& out, bool with_drops) {
  append_get_head(t, out, with_drops);
  std::optional<core::PeerId> next = 0;
  while (next) next = append_get_peers(t, out, *next, ~size_t{0});
}

// --- connection ---

UapiConnection::UapiConnection(UapiTarget t) : t_(t) {}

bool UapiConnection::feed(std::string_view bytes, std::string& reply) {
  if (phase_ == Phase::Closed) return false;
  request_start_ = reply.size();
  try {
    if (get_) {
      // Input behind a `get` in progress waits until its last slice is out.
      if (held_.size() + bytes.size() > kMaxHeld) {
        fail(0, reply);
      } else {
        held_.append(bytes);
        continue_get(reply);
      }
    } else if (held_.empty()) {
      consume(bytes, reply);
    } else if (held_.size() + bytes.size() > kMaxHeld) {
      fail(0, reply);  // held input is between requests: nothing to answer
    } else {
      std::string input = std::move(held_);
      held_.clear();
      input.append(bytes);
      consume(input, reply);
    }
  } catch (...) {
    // Only allocation failures get here (Device, PrefixTable, strings). The request in progress
    // loses its partial reply and gets -ENOMEM; lines already applied stay applied.
    const bool in_request = phase_ == Phase::Set || phase_ == Phase::GetBlank;
    phase_ = Phase::Closed;
    if (in_request) {
      reply.resize(std::min(reply.size(), request_start_));
      try {
        reply.append(errno_reply(-ENOMEM));
      } catch (...) {
      }
    }
  }
  if (phase_ == Phase::Closed) {
    get_.reset();
    line_ = std::string();
    held_ = std::string();
  }
  return phase_ != Phase::Closed;
}

void UapiConnection::consume(std::string_view in, std::string& reply) {
  size_t pos = 0;
  while (pos < in.size() && phase_ != Phase::Closed) {
    if (phase_ == Phase::GetBlank) {
      // wireguard-go reads exactly one more byte after "get=1\n", and it must end the request.
      if (in[pos++] != '\n') return fail(-EINVAL, reply);
      append_get_head(t_, reply, with_drops_);
      phase_ = Phase::Operation;
      get_ = 0;
      continue_get(reply);
      if (get_) {
        held_.assign(in.substr(pos));
        return;
      }
      continue;
    }
    // Between requests, a reply the caller has not written out yet holds back the next request.
    if (phase_ == Phase::Operation && line_.empty() && reply.size() >= kReplyHighWater) {
      held_.assign(in.substr(pos));
      return;
    }
    const size_t nl = in.find('\n', pos);
    const std::string_view chunk = in.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    const size_t limit = phase_ == Phase::Operation ? kMaxOperationLine : kMaxLine;
    if (line_.size() + chunk.size() > limit) return fail(-EPROTO, reply);
    if (nl == std::string_view::npos) {
      line_.append(chunk);
      return;
    }
    pos = nl + 1;
    if (line_.empty()) {
      on_line(chunk, reply);
    } else {
      line_.append(chunk);
      on_line(line_, reply);
    }
    line_.clear();
  }
}

void UapiConnection::continue_get(std::string& reply) {
  get_ = append_get_peers(t_, reply, *get_, kGetPeersPerFeed);
}

void UapiConnection::on_line(std::string_view line, std::string& reply) {
  if (phase_ == Phase::Operation) {
    request_start_ = reply.size();
    if (line == "get=1" || line == "get=wgrouter") {
      // get=wgrouter is wgrouter's own: the same reply plus drop_<reason>=N device lines.
      with_drops_ = line == "get=wgrouter";
      phase_ = Phase::GetBlank;
    } else if (line == "set=1") {
      phase_ = Phase::Set;
      device_section_ = true;
      set_.emplace(t_);
    } else {
      fail(0, reply);  // wireguard-go closes on an unknown operation without a word
    }
    return;
  }
  // Set. Go's bufio.ScanLines drops one '\r' before the newline, so "\r\n" also ends the set.
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.empty()) {
    // wireguard-go handlePostConfig: the last peer's settings take effect at the blank line.
    set_->finish_peer();
    set_.reset();
    reply.append("errno=0\n\n");
    phase_ = Phase::Operation;
    return;
  }
  if (const int err = set_line(line)) fail(err, reply);
}

void UapiConnection::fail(int err, std::string& reply) {
  if (phase_ == Phase::Set) {
    // Lines before the bad one stay applied, including the current peer's keepalive interval.
    // (wireguard-go would keep the interval without sending the first keepalive; we send it.)
    set_->finish_peer();
    set_.reset();
    reply.append(errno_reply(err));
  } else if (phase_ == Phase::GetBlank) {
    reply.append(errno_reply(err));
  }
  // After an error wireguard-go reads the rest of the request as the next operation line,
  // which is never valid, and closes; closing now is the same for any client.
  phase_ = Phase::Closed;
}

// --- set ---

int UapiConnection::set_line(std::string_view line) {
  const size_t eq = line.find('=');
  if (eq == std::string_view::npos) return -EPROTO;
  const std::string_view key = line.substr(0, eq);
  const std::string_view value = line.substr(eq + 1);
  if (key == "public_key") {
    device_section_ = false;
    core::PublicKey pub;
    if (!crypto::key_from_hex(pub.data(), value)) return -EINVAL;
    return set_->select_peer(pub);
  }
  return device_section_ ? device_line(key, value) : peer_line(key, value);
}

int UapiConnection::device_line(std::string_view key, std::string_view value) {
  if (key == "private_key") {
    crypto::Secret<32> k;
    if (!crypto::key_from_hex(k.data(), value)) return -EINVAL;
    set_->set_private_key(k.data());
    return 0;
  }
  if (key == "listen_port") {
    const auto port = parse_decimal(value, UINT16_MAX);
    if (!port) return -EINVAL;
    return set_->set_listen_port(static_cast<uint16_t>(*port)) != 0 ? -EADDRINUSE : 0;
  }
  if (key == "fwmark") {
    const auto mark = parse_decimal(value, UINT32_MAX);
    if (!mark) return -EINVAL;
    return set_->set_fwmark(static_cast<uint32_t>(*mark)) != 0 ? -EADDRINUSE : 0;
  }
  if (key == "replace_peers") {
    if (value != "true") return -EINVAL;
    set_->replace_peers();
    return 0;
  }
  return -EINVAL;
}

int UapiConnection::peer_line(std::string_view key, std::string_view value) {
  if (key == "update_only" || key == "remove" || key == "replace_allowed_ips") {
    if (value != "true") return -EINVAL;
    if (key == "update_only") set_->update_only();
    if (key == "remove") set_->remove_peer();
    if (key == "replace_allowed_ips") set_->replace_allowed_ips();
    return 0;
  }
  if (key == "preshared_key") {
    crypto::Secret<32> psk;
    if (!crypto::key_from_hex(psk.data(), value)) return -EINVAL;
    set_->set_preshared_key(psk.data());
    return 0;
  }
  if (key == "endpoint") {
    const auto ep = parse_uapi_endpoint(value);
    if (!ep) return -EINVAL;
    set_->set_endpoint(*ep);
    return 0;
  }
  if (key == "persistent_keepalive_interval") {
    const auto secs = parse_decimal(value, UINT16_MAX);
    if (!secs) return -EINVAL;
    set_->set_keepalive(static_cast<uint16_t>(*secs));
    return 0;
  }
  if (key == "allowed_ip") {
    // A leading '-' removes the prefix, only from this peer (wireguard-go 256bcbd).
    const bool remove = !value.empty() && value.front() == '-';
    const auto prefix = parse_uapi_prefix(remove ? value.substr(1) : value);
    if (!prefix) return -EINVAL;
    if (!remove) return set_->add_allowed_ip(*prefix);
    set_->remove_allowed_ip(*prefix);
    return 0;
  }
  if (key == "protocol_version") return value == "1" ? 0 : -EINVAL;
  return -EINVAL;
}

}  // namespace wg::config
