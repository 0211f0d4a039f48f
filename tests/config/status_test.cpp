// tests/config/status_test.cpp — get=wgrouter replies into InterfaceStatus, and the Prometheus
// text made from it: HELP and TYPE once per family before its samples, each family's samples
// together across interfaces, counters ending in _total, label values escaped, the sliced
// rendering equal to the whole one, and a real Device's reply end to end.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "config/status.hpp"
#include "config/uapi.hpp"
#include "config/uapi_hooks.hpp"
#include "core/harness.hpp"
#include "crypto/encoding.hpp"
#include "crypto/x25519.hpp"

namespace wg::config {

namespace {

// What a Prometheus text says, as its parser reads it (enough of it for these checks).
struct Exposition {
  std::vector<std::string> families;            // in HELP order
  std::map<std::string, std::string> type;      // family → TYPE
  std::map<std::string, int> help_count, type_count;
  std::vector<std::pair<std::string, std::string>> samples;  // (family it sits under, whole line)
  std::vector<std::string> errors;
};

std::string metric_name(const std::string& line) { return line.substr(0, line.find_first_of("{ ")); }

Exposition read(const std::string& text) {
  Exposition e;
  std::string current;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) {
      e.errors.push_back("no newline at the end");
      break;
    }
    const std::string line = text.substr(pos, eol - pos);
    pos = eol + 1;
    if (line.starts_with("# HELP ")) {
      current = line.substr(7, line.find(' ', 7) - 7);
      e.families.push_back(current);
      ++e.help_count[current];
    } else if (line.starts_with("# TYPE ")) {
      const std::string name = line.substr(7, line.find(' ', 7) - 7);
      if (name != current) e.errors.push_back("TYPE without its HELP: " + line);
      e.type[name] = line.substr(line.rfind(' ') + 1);
      ++e.type_count[name];
    } else if (line.empty() || line[0] == '#') {
      e.errors.push_back("unexpected line: " + line);
    } else {
      e.samples.emplace_back(current, line);
    }
  }
  return e;
}

InterfaceStatus sample_interface(const std::string& name, int peers) {
  InterfaceStatus s;
  s.name = name;
  s.public_key = "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=";
  s.listen_port = 51820;
  s.version = "0.1.0";
  s.aead = "ipsec-mb (avx2)";
  s.io_backend = "io_uring";
  s.offload = "tun-vnet,udp-gso";
  s.capabilities = "cap_net_admin";
  s.drops = {{"no_route", 3}, {"spoofed_source", 0}};
  s.handshakes = {{"handshake_initiations_sent", 4}, {"handshake_rejected", 1}, {"cookie_replies_sent", 2}};
  s.under_load = true;
  s.counters = {{"icmp_sent", 5}, {"icmp_rate_limited", 1}};
  s.io = {{"threads", 2}, {"syscalls", 99}, {"timer_peers", 1}};
  PortStatus p;
  p.name = "pub-\"odd\\name\n";  // names cannot hold these; the escaping must still hold
  p.mode = "tap";
  p.mac = "02:00:00:00:00:01";
  p.rx_packets = 10;
  p.drops = {{"spoofed_source", 7}};
  s.ports.push_back(p);
  for (int i = 0; i < peers; ++i) {
    PeerStatus ps;
    ps.public_key = "peer" + std::to_string(i) + "=";
    ps.allowed_ips = {"10.0." + std::to_string(i) + ".0/24", "2001:db8::" + std::to_string(i) + "/128"};
    ps.endpoint = i % 2 ? "[2001:db8::1]:51820" : "";
    ps.tx = 100 + static_cast<uint64_t>(i);
    ps.rx = 200 + static_cast<uint64_t>(i);
    ps.handshake_sec = i ? 1'700'000'000 : 0;
    s.peers.push_back(ps);
  }
  return s;
}

}  // namespace

TEST_CASE("metrics text: label values escape backslash, double quote and newline") {
  CHECK(escape_label_value("plain") == "plain");
  CHECK(escape_label_value("a\"b") == "a\\\"b");
  CHECK(escape_label_value("a\\b") == "a\\\\b");
  CHECK(escape_label_value("a\nb") == "a\\nb");
  CHECK(escape_label_value("\\n") == "\\\\n");  // a backslash then n is not a newline
}

TEST_CASE("metrics text: every family has HELP and TYPE once, its samples together, counters end in _total") {
  const std::string text = PrometheusText::render({sample_interface("wg0", 3), sample_interface("wg1", 2)});
  const Exposition e = read(text);
  CHECK(e.errors.empty());
  for (const auto& err : e.errors) MESSAGE(err);
  // Every family the issue asks for is there.
  for (const char* f : {"wireguard_sent_bytes_total", "wireguard_received_bytes_total", "wireguard_latest_handshake_seconds",
                        "wgrouter_peer_info", "wgrouter_build_info", "wgrouter_interface_info", "wgrouter_drops_total",
                        "wgrouter_port_drops_total", "wgrouter_port_rx_packets_total", "wgrouter_port_tx_bytes_total",
                        "wgrouter_icmp_sent_total", "wgrouter_icmp_rate_limited_total", "wgrouter_handshakes_sent_total",
                        "wgrouter_handshakes_received_total", "wgrouter_handshakes_failed_total",
                        "wgrouter_cookie_replies_sent_total", "wgrouter_under_load", "wgrouter_io_syscalls_total",
                        "wgrouter_io_threads", "wgrouter_peers"}) {
    CAPTURE(f);
    CHECK(e.help_count.count(f) == 1);
  }
  for (const std::string& f : e.families) {
    CAPTURE(f);
    CHECK(e.help_count.at(f) == 1);
    REQUIRE(e.type_count.count(f) == 1);
    CHECK(e.type_count.at(f) == 1);
    const std::string& t = e.type.at(f);
    CHECK((t == "counter" || t == "gauge"));
    CHECK((t == "counter") == f.ends_with("_total"));
  }
  // A sample sits under its own family's HELP (so a family's samples are all in one place).
  for (const auto& [fam, line] : e.samples) {
    CAPTURE(line);
    CHECK(metric_name(line) == fam);
  }
  // Both interfaces' samples of a family are under its one header.
  size_t wg1_drops = 0;
  for (const auto& [fam, line] : e.samples)
    if (fam == "wgrouter_drops_total" && line.find("interface=\"wg1\"") != std::string::npos) ++wg1_drops;
  CHECK(wg1_drops == 2);
  CHECK(text.find("wgrouter_drops_total{interface=\"wg0\",reason=\"no_route\"} 3\n") != std::string::npos);
  CHECK(text.find("wgrouter_port_drops_total{interface=\"wg0\",port=\"pub-\\\"odd\\\\name\\n\",reason=\"spoofed_source\"} 7\n") !=
        std::string::npos);
  CHECK(text.find("wireguard_sent_bytes_total{interface=\"wg1\",public_key=\"peer1=\","
                  "allowed_ips=\"10.0.1.0/24,2001:db8::1/128\"} 101\n") != std::string::npos);
  CHECK(text.find("wireguard_received_bytes_total{interface=\"wg0\",public_key=\"peer2=\","
                  "allowed_ips=\"10.0.2.0/24,2001:db8::2/128\"} 202\n") != std::string::npos);
  CHECK(text.find("wireguard_latest_handshake_seconds{interface=\"wg0\",public_key=\"peer0=\",allowed_ips=\"10.0.0.0/24,2001:db8::0/128\"} 0\n") !=
        std::string::npos);
  CHECK(text.find("wgrouter_peer_info{interface=\"wg0\",public_key=\"peer1=\",endpoint=\"[2001:db8::1]:51820\"} 1\n") !=
        std::string::npos);
  CHECK(text.find("wgrouter_handshakes_failed_total{interface=\"wg0\",reason=\"rejected\"} 1\n") != std::string::npos);
  CHECK(text.find("wgrouter_handshakes_sent_total{interface=\"wg1\",message=\"initiation\"} 4\n") != std::string::npos);
  CHECK(text.find("wgrouter_under_load{interface=\"wg0\"} 1\n") != std::string::npos);
  CHECK(text.find("wgrouter_io_threads{interface=\"wg0\"} 2\n") != std::string::npos);
  CHECK(text.find("wgrouter_build_info{interface=\"wg0\",version=\"0.1.0\",aead=\"ipsec-mb (avx2)\",io_backend=\"io_uring\"} 1\n") !=
        std::string::npos);
  // Unescaped, a newline inside a label would end the line: the only newlines end samples.
  for (const auto& [fam, line] : e.samples) CHECK(line.find_last_of("0123456789") == line.size() - 1);
}

TEST_CASE("metrics text: made a few peers at a time, it is the same text as made at once") {
  std::vector<InterfaceStatus> all = {sample_interface("wg0", 7), sample_interface("empty", 0), sample_interface("wg2", 5)};
  const std::string whole = PrometheusText::render(all);
  for (size_t per : {size_t{1}, size_t{2}, size_t{3}, size_t{7}, size_t{100}}) {
    CAPTURE(per);
    PrometheusText t(all);
    std::string out;
    size_t calls = 0;
    size_t peer_samples_max = 0;
    for (; calls < 1000; ++calls) {
      const size_t before = out.size();
      const bool more = t.next(out, per);
      if (calls > 0) {
        // No call after the first makes more than `per` peer samples.
        size_t samples = 0;
        for (size_t p = before; (p = out.find('\n', p)) != std::string::npos; ++p) ++samples;
        size_t headers = 0;
        for (size_t p = before; (p = out.find("# ", p)) != std::string::npos; ++p) ++headers;
        peer_samples_max = std::max(peer_samples_max, samples - headers);
      }
      if (!more) break;
    }
    CHECK(out == whole);
    CHECK(peer_samples_max <= per);
    CHECK_FALSE(t.next(out, per));  // done stays done
  }
}

TEST_CASE("metrics status: a reply's lines parse into the interface, its ports and peers, in any slices") {
  const std::string reply =
      "listen_port=51820\nfwmark=7\nversion=0.1.0\ndrop_no_route=2\ndrop_bad_mac1=0\n"
      "handshake_initiations_sent=3\ncookie_replies_received=1\nunder_load=1\n"
      "io_backend=epoll\ncapabilities=cap_net_admin\naead=sodium\noffload=none\nio_syscalls=12\nio_threads=1\n"
      "gw_icmp_sent=4\nport=pub0\nport_mode=veth\nport_mtu=1420\nport_mac=02:00:00:00:00:02\n"
      "port_address=fe80::1/64\nport_rx_packets=5\nport_tx_bytes=600\nport_neighbour=2001:db8::2 02:00:00:00:00:03\n"
      "port_drop_spoofed_source=9\nport_attached=0\nfuture_line=1\n"
      "public_key=0000000000000000000000000000000000000000000000000000000000000000\n"
      "preshared_key=0000000000000000000000000000000000000000000000000000000000000000\n"
      "protocol_version=1\nendpoint=192.0.2.1:51820\nlast_handshake_time_sec=1700000000\n"
      "last_handshake_time_nsec=5\ntx_bytes=10\nrx_bytes=20\npersistent_keepalive_interval=25\n"
      "allowed_ip=10.0.0.0/8\nallowed_ip=2001:db8::/32\n"
      "public_key=0100000000000000000000000000000000000000000000000000000000000000\n"
      "preshared_key=0100000000000000000000000000000000000000000000000000000000000000\n"
      "tx_bytes=1\nerrno=0\n\n";
  auto check = [](const InterfaceStatus& s) {
    CHECK(s.listen_port == 51820);
    CHECK(s.fwmark == 7);
    CHECK(s.version == "0.1.0");
    CHECK(s.drops == Counts{{"no_route", 2}, {"bad_mac1", 0}});
    CHECK(s.handshakes == Counts{{"handshake_initiations_sent", 3}, {"cookie_replies_received", 1}});
    CHECK(s.under_load);
    CHECK(s.io_backend == "epoll");
    CHECK(s.io == Counts{{"syscalls", 12}, {"threads", 1}});
    CHECK(s.counters == Counts{{"icmp_sent", 4}});
    REQUIRE(s.ports.size() == 1);
    const PortStatus& p = s.ports[0];
    CHECK(p.name == "pub0");
    CHECK(p.mode == "veth");
    CHECK(p.mtu == 1420);
    CHECK(p.rx_packets == 5);
    CHECK(p.tx_bytes == 600);
    CHECK_FALSE(p.attached);
    REQUIRE(p.neighbours.size() == 1);
    CHECK(p.neighbours[0].mac == "02:00:00:00:00:03");
    CHECK(p.drops == Counts{{"spoofed_source", 9}});
    REQUIRE(s.peers.size() == 2);
    CHECK(s.peers[0].public_key == "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    CHECK(s.peers[0].endpoint == "192.0.2.1:51820");
    CHECK(s.peers[0].handshake_sec == 1'700'000'000);
    CHECK(s.peers[0].tx == 10);
    CHECK(s.peers[0].rx == 20);
    CHECK(s.peers[0].keepalive == 25);
    CHECK_FALSE(s.peers[0].psk);
    CHECK(s.peers[0].allowed_ips == std::vector<std::string>{"10.0.0.0/8", "2001:db8::/32"});
    CHECK(s.peers[1].psk);
    CHECK(s.peers[1].tx == 1);
    CHECK(s.peers[1].endpoint.empty());
  };
  InterfaceStatus whole;
  parse_status(reply, whole);
  check(whole);
  // Split at every line boundary, as the daemon's slices are.
  for (size_t cut = reply.find('\n'); cut != std::string::npos && cut + 1 < reply.size(); cut = reply.find('\n', cut + 1)) {
    InterfaceStatus two;
    parse_status(std::string_view(reply).substr(0, cut + 1), two);
    parse_status(std::string_view(reply).substr(cut + 1), two);
    CAPTURE(cut);
    check(two);
  }
}

namespace {

struct Hooks final : testing::StillUapiHooks {
  Hooks() : StillUapiHooks(3) {}
  uint16_t listen_port() const override { return 51820; }
  void append_status(std::string& o) const override { o += "version=9.9.9\naead=test\n"; }
};

}  // namespace

TEST_CASE("metrics status: a Device's get=wgrouter reply comes out as metrics with its counters") {
  core::Device dev;
  core::RouteTable table;
  Hooks hooks;
  UapiTarget target{dev, table, hooks};
  uint8_t priv[32], pub[32];
  for (int i = 0; i < 32; ++i) priv[i] = static_cast<uint8_t>(i + 1);
  dev.set_private_key(hooks.env(), priv, hooks.out);
  for (uint8_t k = 1; k <= 3; ++k) {
    uint8_t ppriv[32];
    std::memset(ppriv, k * 11, sizeof(ppriv));
    crypto::x25519_public(pub, ppriv);
    core::PublicKey key;
    std::memcpy(key.data(), pub, 32);
    const auto id = dev.add_peer(key);
    REQUIRE(id);
    const uint8_t a[4] = {10, 0, k, 0};
    table.insert(core::Prefix::make(core::Family::V4, a, 24), core::RouteTarget::peer(*id));
  }
  for (int i = 0; i < 5; ++i) dev.count_drop(core::Drop::SourceNotAllowed);
  std::string reply;
  append_get_reply(target, reply, true);
  InterfaceStatus s;
  s.name = "wgt0";
  parse_status(reply, s);
  CHECK(s.peers.size() == 3);
  uint8_t own[32];
  crypto::x25519_public(own, priv);
  CHECK(s.public_key == crypto::key_to_base64(own));
  const std::string text = PrometheusText::render({s});
  CHECK(read(text).errors.empty());
  CHECK(text.find("wgrouter_drops_total{interface=\"wgt0\",reason=\"source_not_allowed\"} 5\n") != std::string::npos);
  CHECK(text.find("wgrouter_drops_total{interface=\"wgt0\",reason=\"no_route\"} 0\n") != std::string::npos);
  CHECK(text.find("wgrouter_listen_port{interface=\"wgt0\"} 51820\n") != std::string::npos);
  CHECK(text.find("wgrouter_peers{interface=\"wgt0\"} 3\n") != std::string::npos);
  CHECK(text.find("version=\"9.9.9\"") != std::string::npos);
  CHECK(text.find("allowed_ips=\"10.0.2.0/24\"") != std::string::npos);
  CHECK(text.find("wgrouter_under_load{interface=\"wgt0\"} 0\n") != std::string::npos);
  // Neither key leaves in any form.
  char hex[65];
  crypto::key_to_hex(hex, priv);
  CHECK(text.find(std::string(hex, 64)) == std::string::npos);
  CHECK(text.find(crypto::key_to_base64(priv)) == std::string::npos);
}

}  // namespace wg::config
