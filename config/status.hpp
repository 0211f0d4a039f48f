// config/status.hpp — one running interface's state as the `get=wgrouter` UAPI reply tells it,
// as values (parse_status), and those values in the Prometheus text exposition format
// (PrometheusText). `wgrouter show` asks a daemon over its socket and parses the reply; the
// daemon's metrics endpoint (io/metrics_server.hpp) makes the same reply text in-process and
// runs it through the same code, so both print the same metrics.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wg::config {

// The version a daemon reports (`version=` in get=wgrouter) and `wgrouter --version` prints.
std::string_view wgrouter_version();

using Counts = std::vector<std::pair<std::string, uint64_t>>;  // name → value, in reply order

struct PeerStatus {
  std::string public_key;  // base64
  std::string endpoint;    // empty when none
  std::vector<std::string> allowed_ips;
  uint64_t rx = 0, tx = 0, handshake_sec = 0, keepalive = 0;
  bool psk = false;
};

struct NeighbourStatus {
  std::string address, mac;
};

struct PortStatus {
  std::string name, mode, mac;
  uint64_t mtu = 0, rx_packets = 0, rx_bytes = 0, tx_packets = 0, tx_bytes = 0;
  bool attached = true;     // a device behind it now
  uint64_t reattached = 0;  // times its interface came back and was attached again
  uint64_t rs_received = 0, ra_sent = 0, dhcpv6_received = 0, dhcpv6_sent = 0;  // autoconfiguration
  std::vector<std::string> addresses, routes, allowed_source, allow_inbound;
  std::vector<NeighbourStatus> neighbours;
  Counts drops;  // non-zero only
};

struct InterfaceStatus {
  std::string name, public_key;  // public_key in base64, empty without a private key
  uint64_t listen_port = 0, fwmark = 0;
  std::string version;       // the daemon's (empty from one older than the line)
  Counts drops;              // drop_<reason>, every reason
  Counts handshakes;         // handshake_* and cookie_* lines, prefix kept
  bool under_load = false;   // the cookie mechanism is on (whitepaper §5.3)
  Counts counters;           // gw_* router counters, prefix off
  std::string offload;       // offloads in effect
  std::string aead;          // AEAD backend and its code path
  std::string io_backend;    // io_uring or the epoll fallback
  std::string capabilities;  // what the process keeps (cap_…,…)
  Counts io;                 // io_* data-path counters, prefix off
  std::vector<PortStatus> ports;
  std::vector<PeerStatus> peers;
};

// Parses lines of a get=1 or get=wgrouter reply into `into`; may be called again with the
// reply's next lines (the daemon makes it a slice of peers at a time), each call with whole
// lines. Device lines come before the first public_key=, every line after it belongs to the
// last peer. Unknown lines are ignored, so a newer daemon's reply still parses.
void parse_status(std::string_view lines, InterfaceStatus& into);

// Prometheus text exposition format 0.0.4 of one or more interfaces (HELP and TYPE for every
// family, each family's samples together across interfaces, counters ending in _total, label
// values escaped). Per-peer families use the names and labels of MindFlavor's
// prometheus_wireguard_exporter (docs/metrics.md); the rest are wgrouter_*.
class PrometheusText {
 public:
  explicit PrometheusText(std::vector<InterfaceStatus> all) : all_(std::move(all)) {}

  // Appends the next piece: the families without per-peer samples whole at the first call,
  // then at most max_peers per-peer samples a call. Returns false once everything is out.
  // Each peer's values are released once its last sample is out.
  bool next(std::string& out, size_t max_peers);
  // Everything at once (`wgrouter show --prometheus`, tests).
  static std::string render(std::vector<InterfaceStatus> all);

 private:
  void interface_families(std::string& out) const;
  std::vector<InterfaceStatus> all_;
  size_t family_ = 0;  // 0: interface families; then the per-peer families, 1-based
  size_t iface_ = 0, peer_ = 0;  // the next peer sample of family_
  bool family_started_ = false;  // its HELP and TYPE are out
  bool done_ = false;
};

// A label value as the format writes it: backslash, double quote and newline escaped.
std::string escape_label_value(std::string_view v);

}  // namespace wg::config
