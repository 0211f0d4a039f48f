// tools/show.cpp — `wgrouter show [IFACE] [--json|--prometheus]`: asks running interfaces over
// their UAPI socket and prints interface, peers, handshakes, transfer and drop counters by
// reason; the reply is parsed and rendered for Prometheus by config/status.hpp.
#include <dirent.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "config/status.hpp"
#include "crypto/secure.hpp"
#include "io/uapi_server.hpp"
#include "tools/commands.hpp"
#include "tools/usage.hpp"

namespace wg::tools {

namespace {

constexpr const char* kUsage =
    "Usage: wgrouter show [IFACE] [--json|--prometheus]\n"
    "\n"
    "Asks the running interface IFACE (every one without IFACE) over its UAPI socket and prints\n"
    "it like `wg show', plus ports, router and I/O counters and drops by reason.\n"
    "\n"
    "  --json         the same as one JSON array\n"
    "  --prometheus   the Prometheus text format (node_exporter's textfile collector;\n"
    "                 docs/metrics.md lists the metrics)\n"
    "  -h, --help     print this help\n";

using IfaceInfo = config::InterfaceStatus;
using PortInfo = config::PortStatus;
using PeerInfo = config::PeerStatus;

// Sends one request and reads until the blank line that ends the reply.
bool ask(const std::string& path, const std::string& request, std::string& reply) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::strncpy(sa.sun_path, path.c_str(), sizeof(sa.sun_path) - 1);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0 &&
            send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size());
  char buf[65536];
  while (ok && reply.find("\n\n") == std::string::npos) {
    const ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    reply.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return ok && reply.find("errno=0\n") != std::string::npos;
}

bool load(const std::string& name, IfaceInfo& info) {
  std::string reply;
  const std::string path = std::string(io::kUapiDir) + "/" + name + ".sock";
  // The wgrouter extension answers like get=1 plus drop counters; plain get=1 otherwise.
  if (!ask(path, "get=wgrouter\n\n", reply)) {
    reply.clear();
    if (!ask(path, "get=1\n\n", reply)) return false;
  }
  info.name = name;
  config::parse_status(reply, info);
  crypto::wipe(reply.data(), reply.size());  // the private key, in hex
  return true;
}

std::vector<std::string> running_interfaces() {
  std::vector<std::string> names;
  DIR* d = opendir(io::kUapiDir);
  if (!d) return names;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n.size() > 5 && n.ends_with(".sock")) names.push_back(n.substr(0, n.size() - 5));
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

std::string ago(uint64_t sec) {
  if (!sec) return "never";
  const auto now = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  const uint64_t d = now > sec ? now - sec : 0;
  return std::to_string(d) + " seconds ago";
}

std::string json_str(const std::string& s) {
  std::string o = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    o += c;
  }
  return o + "\"";
}

void print_text(const IfaceInfo& i) {
  std::printf("interface: %s\n", i.name.c_str());
  if (!i.public_key.empty()) std::printf("  public key: %s\n", i.public_key.c_str());
  if (i.listen_port) std::printf("  listening port: %llu\n", static_cast<unsigned long long>(i.listen_port));
  if (i.fwmark) std::printf("  fwmark: 0x%llx\n", static_cast<unsigned long long>(i.fwmark));
  bool any = false;
  for (auto& [reason, n] : i.drops)
    if (n) {
      std::printf("%s%s %llu", any ? ", " : "  drops: ", reason.c_str(), static_cast<unsigned long long>(n));
      any = true;
    }
  if (any) std::printf("\n");
  if (!i.capabilities.empty()) std::printf("  capabilities: %s\n", i.capabilities.c_str());
  if (!i.io_backend.empty()) std::printf("  io backend: %s\n", i.io_backend.c_str());
  if (!i.aead.empty()) std::printf("  aead: %s\n", i.aead.c_str());
  if (!i.offload.empty()) std::printf("  offloads: %s\n", i.offload.c_str());
  if (std::any_of(i.handshakes.begin(), i.handshakes.end(), [](const auto& h) { return h.second != 0; })) {
    std::string h;
    for (auto& [name, n] : i.handshakes)
      if (n) h += (h.empty() ? "" : ", ") + name + " " + std::to_string(n);
    std::printf("  handshakes: %s%s\n", h.c_str(), i.under_load ? " (under load)" : "");
  }
  if (!i.io.empty()) {
    std::string c;
    for (auto& [name, n] : i.io)
      if (n) c += (c.empty() ? "" : ", ") + name + " " + std::to_string(n);
    if (!c.empty()) std::printf("  io: %s\n", c.c_str());
  }
  // Without ports only when something happened (ICMP errors towards the host, say).
  const bool any_counter =
      std::any_of(i.counters.begin(), i.counters.end(), [](const auto& c) { return c.second != 0; });
  if (!i.counters.empty() && (!i.ports.empty() || any_counter)) {
    std::string c;
    for (auto& [name, n] : i.counters) c += (c.empty() ? "" : ", ") + name + " " + std::to_string(n);
    std::printf("  router: %s\n", c.c_str());
  }
  for (const PortInfo& p : i.ports) {
    auto list = [](const std::vector<std::string>& l) {
      std::string o;
      for (const auto& x : l) o += (o.empty() ? "" : ", ") + x;
      return o.empty() ? std::string("(none)") : o;
    };
    std::printf("\nport: %s (%s, mtu %llu, mac %s)\n", p.name.c_str(), p.mode.c_str(),
                static_cast<unsigned long long>(p.mtu), p.mac.c_str());
    if (!p.attached || p.reattached)
      std::printf("  link: %s, reattached %llu\n", p.attached ? "attached" : "gone (frames to it dropped)",
                  static_cast<unsigned long long>(p.reattached));
    if (p.rs_received || p.ra_sent || p.dhcpv6_received || p.dhcpv6_sent)
      std::printf("  autoconf: %llu RS received, %llu RA sent, DHCPv6 %llu received / %llu sent\n",
                  static_cast<unsigned long long>(p.rs_received), static_cast<unsigned long long>(p.ra_sent),
                  static_cast<unsigned long long>(p.dhcpv6_received), static_cast<unsigned long long>(p.dhcpv6_sent));
    std::printf("  addresses: %s\n", list(p.addresses).c_str());
    std::printf("  routes: %s\n", list(p.routes).c_str());
    std::printf("  allowed source: %s\n", list(p.allowed_source).c_str());
    std::printf("  allow inbound: %s\n", p.allow_inbound.empty() ? "(all)" : list(p.allow_inbound).c_str());
    std::string nb;
    for (const auto& n : p.neighbours) nb += (nb.empty() ? "" : ", ") + n.address + " at " + n.mac;
    std::printf("  neighbours: %s\n", nb.empty() ? "(none)" : nb.c_str());
    std::printf("  from instance: %llu packets, %llu B; to instance: %llu packets, %llu B\n",
                static_cast<unsigned long long>(p.rx_packets), static_cast<unsigned long long>(p.rx_bytes),
                static_cast<unsigned long long>(p.tx_packets), static_cast<unsigned long long>(p.tx_bytes));
    std::string d;
    for (auto& [reason, n] : p.drops) d += (d.empty() ? "" : ", ") + reason + " " + std::to_string(n);
    if (!d.empty()) std::printf("  drops: %s\n", d.c_str());
  }
  for (const PeerInfo& p : i.peers) {
    std::printf("\npeer: %s\n", p.public_key.c_str());
    if (p.psk) std::printf("  preshared key: (hidden)\n");
    if (!p.endpoint.empty()) std::printf("  endpoint: %s\n", p.endpoint.c_str());
    std::string ips;
    for (const auto& a : p.allowed_ips) ips += (ips.empty() ? "" : ", ") + a;
    std::printf("  allowed ips: %s\n", ips.empty() ? "(none)" : ips.c_str());
    std::printf("  latest handshake: %s\n", ago(p.handshake_sec).c_str());
    std::printf("  transfer: %llu B received, %llu B sent\n", static_cast<unsigned long long>(p.rx),
                static_cast<unsigned long long>(p.tx));
    if (p.keepalive) std::printf("  persistent keepalive: every %llu seconds\n", static_cast<unsigned long long>(p.keepalive));
  }
}

void print_json(const std::vector<IfaceInfo>& all) {
  std::printf("[");
  for (size_t n = 0; n < all.size(); ++n) {
    const IfaceInfo& i = all[n];
    std::printf("%s{\"interface\":%s,\"public_key\":%s,\"listen_port\":%llu,\"fwmark\":%llu,\"drops\":{",
                n ? "," : "", json_str(i.name).c_str(), json_str(i.public_key).c_str(),
                static_cast<unsigned long long>(i.listen_port), static_cast<unsigned long long>(i.fwmark));
    for (size_t k = 0; k < i.drops.size(); ++k)
      std::printf("%s%s:%llu", k ? "," : "", json_str(i.drops[k].first).c_str(),
                  static_cast<unsigned long long>(i.drops[k].second));
    std::printf("},\"counters\":{");
    for (size_t k = 0; k < i.counters.size(); ++k)
      std::printf("%s%s:%llu", k ? "," : "", json_str(i.counters[k].first).c_str(),
                  static_cast<unsigned long long>(i.counters[k].second));
    // The capabilities as a list of names: [] when the process keeps none.
    std::string caps = "[";
    for (size_t at = 0; !i.capabilities.empty() && i.capabilities != "none" && at != std::string::npos;) {
      const size_t comma = i.capabilities.find(',', at);
      caps += (caps.size() > 1 ? "," : "") + json_str(i.capabilities.substr(at, comma == std::string::npos ? comma : comma - at));
      at = comma == std::string::npos ? comma : comma + 1;
    }
    caps += "]";
    std::printf("},\"capabilities\":%s,\"io_backend\":%s,\"aead\":%s,\"offload\":%s,\"io\":{", caps.c_str(),
                json_str(i.io_backend).c_str(), json_str(i.aead).c_str(), json_str(i.offload).c_str());
    for (size_t k = 0; k < i.io.size(); ++k)
      std::printf("%s%s:%llu", k ? "," : "", json_str(i.io[k].first).c_str(),
                  static_cast<unsigned long long>(i.io[k].second));
    std::printf("},\"version\":%s,\"under_load\":%s,\"handshakes\":{", json_str(i.version).c_str(),
                i.under_load ? "true" : "false");
    for (size_t k = 0; k < i.handshakes.size(); ++k)
      std::printf("%s%s:%llu", k ? "," : "", json_str(i.handshakes[k].first).c_str(),
                  static_cast<unsigned long long>(i.handshakes[k].second));
    std::printf("},\"ports\":[");
    auto strings = [](const std::vector<std::string>& l) {
      std::string o = "[";
      for (size_t a = 0; a < l.size(); ++a) o += (a ? "," : "") + json_str(l[a]);
      return o + "]";
    };
    for (size_t k = 0; k < i.ports.size(); ++k) {
      const PortInfo& p = i.ports[k];
      std::printf("%s{\"name\":%s,\"mode\":%s,\"attached\":%s,\"reattached\":%llu,\"rs_received\":%llu,"
                  "\"ra_sent\":%llu,\"dhcpv6_received\":%llu,\"dhcpv6_sent\":%llu,\"mtu\":%llu,\"mac\":%s,"
                  "\"addresses\":%s,\"routes\":%s,\"allowed_source\":%s,\"allow_inbound\":%s,\"neighbours\":[",
                  k ? "," : "", json_str(p.name).c_str(), json_str(p.mode).c_str(), p.attached ? "true" : "false",
                  static_cast<unsigned long long>(p.reattached), static_cast<unsigned long long>(p.rs_received),
                  static_cast<unsigned long long>(p.ra_sent), static_cast<unsigned long long>(p.dhcpv6_received),
                  static_cast<unsigned long long>(p.dhcpv6_sent), static_cast<unsigned long long>(p.mtu), json_str(p.mac).c_str(), strings(p.addresses).c_str(),
                  strings(p.routes).c_str(), strings(p.allowed_source).c_str(), strings(p.allow_inbound).c_str());
      for (size_t a = 0; a < p.neighbours.size(); ++a)
        std::printf("%s{\"address\":%s,\"mac\":%s}", a ? "," : "", json_str(p.neighbours[a].address).c_str(),
                    json_str(p.neighbours[a].mac).c_str());
      std::printf("],\"rx_packets\":%llu,\"rx_bytes\":%llu,\"tx_packets\":%llu,\"tx_bytes\":%llu,\"drops\":{",
                  static_cast<unsigned long long>(p.rx_packets), static_cast<unsigned long long>(p.rx_bytes),
                  static_cast<unsigned long long>(p.tx_packets), static_cast<unsigned long long>(p.tx_bytes));
      for (size_t a = 0; a < p.drops.size(); ++a)
        std::printf("%s%s:%llu", a ? "," : "", json_str(p.drops[a].first).c_str(),
                    static_cast<unsigned long long>(p.drops[a].second));
      std::printf("}}");
    }
    std::printf("],\"peers\":[");
    for (size_t k = 0; k < i.peers.size(); ++k) {
      const PeerInfo& p = i.peers[k];
      std::printf("%s{\"public_key\":%s,\"endpoint\":%s,\"latest_handshake\":%llu,\"rx_bytes\":%llu,"
                  "\"tx_bytes\":%llu,\"persistent_keepalive\":%llu,\"allowed_ips\":[",
                  k ? "," : "", json_str(p.public_key).c_str(), json_str(p.endpoint).c_str(),
                  static_cast<unsigned long long>(p.handshake_sec), static_cast<unsigned long long>(p.rx),
                  static_cast<unsigned long long>(p.tx), static_cast<unsigned long long>(p.keepalive));
      for (size_t a = 0; a < p.allowed_ips.size(); ++a)
        std::printf("%s%s", a ? "," : "", json_str(p.allowed_ips[a]).c_str());
      std::printf("]}");
    }
    std::printf("]}");
  }
  std::printf("]\n");
}

}  // namespace

int cmd_show(int argc, char** argv) {
  bool json = false, prometheus = false;
  std::string only;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (is_help_option(a))
      return print_help(kUsage);
    else if (a == "--json" && !prometheus)
      json = true;
    else if (a == "--prometheus" && !json)
      prometheus = true;
    else if (a == "--json" || a == "--prometheus")
      return usage_error(kUsage, "show", "--json and --prometheus exclude each other");
    else if (!a.empty() && a[0] == '-')
      return usage_error(kUsage, "show", "unknown option `" + std::string(a) + "'");
    else if (!only.empty() || a.empty())
      return usage_error(kUsage, "show", "unexpected argument `" + std::string(a) + "'");
    else
      only = a;
  }
  std::vector<std::string> names = only.empty() ? running_interfaces() : std::vector<std::string>{only};
  std::vector<IfaceInfo> all;
  int status = 0;
  for (const auto& n : names) {
    IfaceInfo info;
    if (load(n, info)) {
      all.push_back(std::move(info));
    } else if (!only.empty()) {
      std::fprintf(stderr, "wgrouter: Unable to access interface %s\n", n.c_str());
      status = 1;
    }
  }
  if (prometheus) {
    // node_exporter's textfile collector reads the whole file: nothing but the metrics.
    std::fputs(config::PrometheusText::render(std::move(all)).c_str(), stdout);
  } else if (json) {
    print_json(all);
  } else {
    for (size_t i = 0; i < all.size(); ++i) {
      if (i) std::printf("\n");
      print_text(all[i]);
    }
  }
  return status;
}

}  // namespace wg::tools
