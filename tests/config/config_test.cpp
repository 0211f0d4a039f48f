// tests/config/config_test.cpp — config/config.hpp: every key as text → typed value or error
// with its exact line and message, real wg-quick files as people write them (comments, tabs,
// odd casing, CRLF), the router's [Port] sections, whole-file checks, warnings, load_config,
// write_config round trips, interface names and endpoint resolution.
#include "config/config.hpp"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/encoding.hpp"

namespace {

using namespace wg::config;
using wg::core::Family;
using wg::core::Prefix;

// Keys from the examples of wg(8); all valid.
constexpr std::string_view kPriv = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";
constexpr std::string_view kPub1 = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=";
constexpr std::string_view kPub2 = "TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0=";
constexpr std::string_view kPub3 = "gN65BkIKy1eCE9pP1wdc8ROUtkHLF2PfAqYdyYBz6EA=";
constexpr std::string_view kPsk = "/UwcSPg38hW/D9Y3tcS1FOV0K1wuURMbS0sesJEP5ak=";

std::string s(std::string_view v) { return std::string(v); }

Config ok(const std::string& text) {
  const auto r = parse_config(text, "t.conf");
  if (!r) FAIL("unexpected error: " << r.error().to_string() << "\n--- in ---\n" << text);
  return *r;
}

// The error as `wgrouter check` prints it.
std::string err(const std::string& text) {
  const auto r = parse_config(text, "t.conf");
  if (r) FAIL("expected an error\n--- in ---\n" << text);
  return r.error().to_string();
}

std::vector<std::string> warnings(const Config& c) {
  std::vector<std::string> out;
  for (const Diagnostic& d : c.warnings) out.push_back(d.to_string());
  return out;
}

Prefix pfx(std::string_view text) {
  const auto p = wg::core::parse_prefix(text);
  REQUIRE(p);
  return *p;
}

std::vector<Prefix> prefixes(const std::vector<PrefixEntry>& list) {
  std::vector<Prefix> out;
  for (const auto& e : list) out.push_back(e.prefix);
  return out;
}

std::vector<std::string> texts(const std::vector<InterfaceAddress>& list) {
  std::vector<std::string> out;
  for (const auto& a : list) out.push_back(to_string(a));
  return out;
}

std::array<uint8_t, 32> decode(std::string_view b64) {
  std::array<uint8_t, 32> k{};
  REQUIRE(wg::crypto::key_from_base64(k.data(), b64));
  return k;
}

const std::string kIface = "[Interface]\n";
const std::string kPeer = "[Peer]\nPublicKey = " + s(kPub1) + "\n";  // the next line is line 3
const std::string kPort = "[Port]\nName = pub0\nMode = tap\n";       // the next line is line 4

struct ErrorCase {
  std::string text;
  std::string expected;
};

void check_errors(const std::vector<ErrorCase>& cases) {
  for (const ErrorCase& c : cases) {
    CAPTURE(c.text);
    CHECK(err(c.text) == c.expected);
  }
}

// --- [Interface], keys handled by wg --------------------------------------------------------

TEST_CASE("config: PrivateKey is decoded, a bad one is reported without its value") {
  const Config c = ok(kIface + "PrivateKey = " + s(kPriv) + "\n");
  REQUIRE(c.iface.private_key);
  const auto want = decode(kPriv);
  CHECK(std::equal(want.begin(), want.end(), c.iface.private_key->secret.bytes.begin()));
  CHECK_FALSE(ok(kIface).iface.private_key);

  for (const std::string bad : {"abc", "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk", "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBml=",
                                "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk==", "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"}) {
    CAPTURE(bad);
    const std::string e = err(kIface + "PrivateKey = " + bad + "\n");
    CHECK(e == "t.conf:2: Key is not the correct length or format");
    CHECK(e.find(bad) == std::string::npos);
  }
  // Secrets never reach a message, even as an unrecognized line.
  const std::string misplaced = err(kPeer + "PrivateKey = " + s(kPriv) + "\n");
  CHECK(misplaced == "t.conf:3: Line unrecognized: `PrivateKey' (value not shown)");
  CHECK(err("presharedkey " + s(kPsk) + "\n") == "t.conf:1: Line unrecognized: `presharedkey' (value not shown)");
  CHECK(err(kIface + "PrivateKey =\n") == "t.conf:2: Line unrecognized: `PrivateKey' (value not shown)");
}

TEST_CASE("config: ListenPort goes through getaddrinfo like wg's") {
  struct Case {
    std::string value;
    uint16_t port;
  };
  for (const Case& c : std::vector<Case>{{"51820", 51820}, {"0", 0}, {"65535", 65535}, {"0051820", 51820}, {"+5", 5}}) {
    CAPTURE(c.value);
    const Config cfg = ok(kIface + "ListenPort = " + c.value + "\n");
    REQUIRE(cfg.iface.listen_port);
    CHECK(*cfg.iface.listen_port == c.port);
    CHECK(cfg.warnings.empty());
  }
  CHECK_FALSE(ok(kIface).iface.listen_port);
  // A service name, as wg allows (needs /etc/services).
  if (access("/etc/services", R_OK) == 0) CHECK(*ok(kIface + "ListenPort = domain\n").iface.listen_port == 53);
  // glibc does not range-check numeric services: wg ends up with the port modulo 65536.
  const Config wrapped = ok(kIface + "ListenPort = 65536\n");
  CHECK(*wrapped.iface.listen_port == 0);
  CHECK(warnings(wrapped) ==
        std::vector<std::string>{"t.conf:2: Warning: ListenPort port `65536' is not in 0-65535; wg reads it as 0"});

  check_errors({
      {kIface + "ListenPort = abc\n", "t.conf:2: Servname not supported for ai_socktype: `abc'"},
      {kIface + "ListenPort = -1\n", "t.conf:2: Servname not supported for ai_socktype: `-1'"},
      {kIface + "ListenPort = 0x10\n", "t.conf:2: Servname not supported for ai_socktype: `0x10'"},
      {kIface + "ListenPort = \n", "t.conf:2: Line unrecognized: `ListenPort='"},
  });
}

TEST_CASE("config: FwMark is off, decimal or 0x hex up to 0xffffffff") {
  struct Case {
    std::string value;
    uint32_t mark;
  };
  for (const Case& c : std::vector<Case>{{"off", 0},
                                         {"OFF", 0},
                                         {"0", 0},
                                         {"51820", 51820},
                                         {"0x10", 16},
                                         {"0xCa", 0xca},
                                         {"0xffffffff", 0xffffffffu},
                                         {"4294967295", 0xffffffffu},
                                         {"0x00000000000001", 1}}) {
    CAPTURE(c.value);
    const Config cfg = ok(kIface + "FwMark = " + c.value + "\n");
    REQUIRE(cfg.iface.fwmark);
    CHECK(*cfg.iface.fwmark == c.mark);
  }
  for (const std::string bad : {"0x100000000", "4294967296", "0X10", "x10", "-1", "0x", "12a", "0xg", "on"}) {
    CAPTURE(bad);
    CHECK(err(kIface + "FwMark = " + bad + "\n") == "t.conf:2: Fwmark is neither 0/off nor 0-0xffffffff: `" + bad + "'");
  }
}

// --- [Interface], keys handled by wg-quick ---------------------------------------------------

TEST_CASE("config: Address keeps host bits, defaults the length, splits like wg-quick") {
  const Config c = ok(kIface +
                      "Address = 10.0.0.5/24, fd00::5/64\n"
                      "Address = 192.0.2.1\n"
                      "address\t=  2001:db8::1 10.9.9.9/8,,\n");
  CHECK(texts(c.iface.addresses) ==
        std::vector<std::string>{"10.0.0.5/24", "fd00::5/64", "192.0.2.1/32", "2001:db8::1/128", "10.9.9.9/8"});
  CHECK(c.iface.addresses[0].prefix() == pfx("10.0.0.0/24"));
  CHECK(c.iface.addresses[0].line.n == 2);
  CHECK(c.iface.addresses[3].line.n == 4);
  CHECK(ok(kIface + "Address =\n").iface.addresses.empty());
  check_errors({
      {kIface + "Address = 10.0.0.300/24\n", "t.conf:2: Unable to parse IP address: `10.0.0.300'"},
      {kIface + "Address = 10.0.0.1/33\n", "t.conf:2: Address is not in the correct format: `10.0.0.1/33'"},
      {kIface + "Address = fd00::1/129\n", "t.conf:2: Address is not in the correct format: `fd00::1/129'"},
      {kIface + "Address = 10.0.0.1/\n", "t.conf:2: Address is not in the correct format: `10.0.0.1/'"},
      // wg-quick takes a line without '=' as key and value at once.
      {kIface + "Address\n", "t.conf:2: Unable to parse IP address: `Address'"},
  });
}

TEST_CASE("config: DNS splits nameservers from search domains as wg-quick does") {
  const Config c = ok(kIface + "DNS = 1.1.1.1, example.com,2606:4700::1111\nDNS = corp.lan 10.0.0.53\n");
  CHECK(c.iface.dns_servers == std::vector<std::string>{"1.1.1.1", "2606:4700::1111", "10.0.0.53"});
  CHECK(c.iface.dns_search == std::vector<std::string>{"example.com", "corp.lan"});
  // `^[0-9.]+$` is a server even when it is no address; anything with ':' too.
  const Config odd = ok(kIface + "DNS = 1.2, fe80::1%eth0, 1.1.1.1x\n");
  CHECK(odd.iface.dns_servers == std::vector<std::string>{"1.2", "fe80::1%eth0"});
  CHECK(odd.iface.dns_search == std::vector<std::string>{"1.1.1.1x"});
  CHECK(ok(kIface + "DNS\n").iface.dns_search == std::vector<std::string>{"DNS"});
  CHECK(err(kIface + "DNS = a\rb\n") == "t.conf:2: DNS entry is neither a nameserver nor a search domain: `a\rb'");
}

TEST_CASE("config: MTU") {
  CHECK(*ok(kIface + "MTU = 1420\n").iface.mtu == 1420);
  CHECK(*ok(kIface + "MTU = 68\n").iface.mtu == 68);
  CHECK(*ok(kIface + "MTU = 65535\n").iface.mtu == 65535);
  CHECK_FALSE(ok(kIface + "MTU = 1420\nMTU =\n").iface.mtu);  // empty: back to automatic
  for (const std::string bad : {"abc", "67", "65536", "0x500", "-1", "1420.0"}) {
    CAPTURE(bad);
    CHECK(err(kIface + "MTU = " + bad + "\n") == "t.conf:2: MTU is not a number from 68 to 65535: `" + bad + "'");
  }
}

TEST_CASE("config: Table is off, auto, a number or a name") {
  const Config absent = ok(kIface);
  CHECK(absent.iface.table.mode == TableMode::Auto);
  CHECK(absent.iface.table.text.empty());
  const RouteTable a = ok(kIface + "Table = auto\n").iface.table;
  CHECK(a.mode == TableMode::Auto);
  CHECK(a.text == "auto");
  CHECK(ok(kIface + "Table = off\n").iface.table.mode == TableMode::Off);
  const RouteTable n = ok(kIface + "Table = 1234\n").iface.table;
  CHECK(n.mode == TableMode::Id);
  CHECK(n.id == 1234);
  CHECK(ok(kIface + "Table = 4294967295\n").iface.table.id == 4294967295u);
  const RouteTable name = ok(kIface + "Table = main\n").iface.table;
  CHECK(name.mode == TableMode::Name);
  CHECK(name.text == "main");
  // wg-quick compares with `off` case-sensitively: `Off` is a table name.
  CHECK(ok(kIface + "Table = Off\n").iface.table.mode == TableMode::Name);
  CHECK(ok(kIface + "Table = off\nTable =\n").iface.table == RouteTable{});
  check_errors({
      {kIface + "Table = 4294967296\n", "t.conf:2: Table number is not in 0-4294967295: `4294967296'"},
      {kIface + "Table = my table\n", "t.conf:2: Table is neither off, auto, a number nor a table name: `my table'"},
  });
}

TEST_CASE("config: hooks repeat in order, keep their text, lose comments as in wg-quick") {
  const Config c = ok(kIface +
                      "PreUp = echo one\n"
                      "PostUp = iptables -A FORWARD -i %i -j ACCEPT; iptables -t nat -A POSTROUTING -o eth0 -j MASQUERADE\n"
                      "PreUp =   echo  two   \n"
                      "PostDown = iptables -D FORWARD -i %i -j ACCEPT # undo\n"
                      "PreDown = a=b c==d\n"
                      "postup =\n");
  CHECK(c.iface.pre_up == std::vector<std::string>{"echo one", "echo  two"});
  CHECK(c.iface.post_up == std::vector<std::string>{
                               "iptables -A FORWARD -i %i -j ACCEPT; iptables -t nat -A POSTROUTING -o eth0 -j MASQUERADE", ""});
  CHECK(c.iface.post_down == std::vector<std::string>{"iptables -D FORWARD -i %i -j ACCEPT"});
  CHECK(c.iface.pre_down == std::vector<std::string>{"a=b c==d"});
  // wg-quick (every release since 2018, including the installed v1.0.20210914) cuts the line at
  // the first '#' before it reads the hook, so `#` never reaches bash; we mean the same.
  // tests/tools/check_test.sh shows the real wg-quick doing it.
  CHECK(ok(kIface + "PostUp = echo \"a#b\"\n").iface.post_up == std::vector<std::string>{"echo \"a"});
  // A hook is only a hook in [Interface].
  CHECK(err(kPeer + "PostUp = true\n") == "t.conf:3: Line unrecognized: `PostUp=true'");
}

TEST_CASE("config: SaveConfig is true or false, in any case") {
  CHECK(ok(kIface + "SaveConfig = true\n").iface.save_config);
  CHECK(ok(kIface + "SaveConfig = True\n").iface.save_config);
  CHECK_FALSE(ok(kIface + "SaveConfig = true\nSaveConfig = FALSE\n").iface.save_config);
  CHECK_FALSE(ok(kIface).iface.save_config);
  check_errors({
      {kIface + "SaveConfig = yes\n", "t.conf:2: `yes' is neither true nor false"},
      {kIface + "SaveConfig =\n", "t.conf:2: `' is neither true nor false"},
      {kIface + "SaveConfig = tr ue\n", "t.conf:2: `tr ue' is neither true nor false"},
      // wg-quick matches its keys after trimming only, so this goes to wg, which knows no such key.
      {kIface + "Save Config = true\n", "t.conf:2: Line unrecognized: `SaveConfig=true'"},
  });
}

TEST_CASE("config: Unreachable (router) takes prefixes") {
  const Config c = ok(kIface + "Unreachable = 2a11:6c7:abcd:2000::/56\nUnreachable = 10.0.0.0/8, 192.0.2.7\n");
  CHECK(prefixes(c.iface.unreachable) ==
        std::vector<Prefix>{pfx("2a11:6c7:abcd:2000::/56"), pfx("10.0.0.0/8"), pfx("192.0.2.7/32")});
  CHECK(c.iface.unreachable[1].line.n == 3);
  const Config hb = ok(kIface + "Unreachable = 2a11:6c7:abcd:2001::/56\n");
  CHECK(prefixes(hb.iface.unreachable) == std::vector<Prefix>{pfx("2a11:6c7:abcd:2000::/56")});
  CHECK(warnings(hb) == std::vector<std::string>{"t.conf:2: Warning: Unreachable has nonzero host part: 2a11:6c7:abcd:2001::/56"});
  CHECK(err(kIface + "Unreachable = 10.0.0.0/40\n") == "t.conf:2: Unreachable is not in the correct format: `10.0.0.0/40'");
  CHECK(err(kPeer + "Unreachable = 10.0.0.0/8\n") == "t.conf:3: Line unrecognized: `Unreachable=10.0.0.0/8'");
}

TEST_CASE("config: MetricsListen is a numeric address and port, or an absolute unix socket path") {
  const Config v4 = ok(kIface + "MetricsListen = 127.0.0.1:9586\n");
  REQUIRE(v4.iface.metrics_listen);
  CHECK(v4.iface.metrics_listen->text == "127.0.0.1:9586");
  REQUIRE(v4.iface.metrics_listen->inet);
  CHECK(wg::core::to_string(*v4.iface.metrics_listen->inet) == "127.0.0.1:9586");
  CHECK(v4.iface.metrics_listen->unix_path.empty());
  CHECK(v4.iface.metrics_listen->line.n == 2);
  const Config v6 = ok(kIface + "metricslisten=[2001:db8::1]:80\n");
  REQUIRE(v6.iface.metrics_listen);
  REQUIRE(v6.iface.metrics_listen->inet);
  CHECK(v6.iface.metrics_listen->inet->family == Family::V6);
  CHECK(v6.iface.metrics_listen->inet->port == 80);
  const Config unix_socket = ok(kIface + "MetricsListen = /run/wgrouter/gw0.metrics.sock\n");
  REQUIRE(unix_socket.iface.metrics_listen);
  CHECK(unix_socket.iface.metrics_listen->unix_path == "/run/wgrouter/gw0.metrics.sock");
  CHECK_FALSE(unix_socket.iface.metrics_listen->inet);
  CHECK_FALSE(ok(kIface).iface.metrics_listen);

  const std::string bad = "MetricsListen is neither ADDRESS:PORT, [IPv6]:PORT (numeric, port 1-65535) nor an absolute unix "
                          "socket path: ";
  CHECK(err(kIface + "MetricsListen = 127.0.0.1\n") == "t.conf:2: " + bad + "`127.0.0.1'");
  CHECK(err(kIface + "MetricsListen = 127.0.0.1:0\n") == "t.conf:2: " + bad + "`127.0.0.1:0'");
  CHECK(err(kIface + "MetricsListen = 127.0.0.1:65536\n") == "t.conf:2: " + bad + "`127.0.0.1:65536'");
  CHECK(err(kIface + "MetricsListen = localhost:9586\n") == "t.conf:2: " + bad + "`localhost:9586'");
  CHECK(err(kIface + "MetricsListen = ::1:9586\n") == "t.conf:2: " + bad + "`::1:9586'");
  CHECK(err(kIface + "MetricsListen = run/metrics.sock\n") == "t.conf:2: " + bad + "`run/metrics.sock'");
  CHECK(err(kIface + "MetricsListen = /" + std::string(120, 'a') + "\n").starts_with(
      "t.conf:2: MetricsListen unix socket path is longer than 107 bytes: "));
  CHECK(err(kIface + "MetricsListen =\n") == "t.conf:2: Line unrecognized: `MetricsListen='");
  CHECK(err(kPeer + "MetricsListen = 127.0.0.1:9586\n") == "t.conf:3: Line unrecognized: `MetricsListen=127.0.0.1:9586'");
}

// --- [Peer] -------------------------------------------------------------------------------------

TEST_CASE("config: PublicKey and PresharedKey") {
  const Config c = ok("[Peer]\nPublicKey = " + s(kPub1) + "\nPresharedKey = " + s(kPsk) + "\n");
  REQUIRE(c.peers.size() == 1);
  CHECK(c.peers[0].public_key.bytes == decode(kPub1));
  REQUIRE(c.peers[0].preshared_key);
  CHECK(c.peers[0].preshared_key->secret.bytes == decode(kPsk));
  CHECK(c.peers[0].line.n == 1);
  CHECK_FALSE(ok(kPeer).peers[0].preshared_key);
  // wg echoes a bad public key; public keys are not secret.
  CHECK(err("[Peer]\nPublicKey = abc\n") == "t.conf:2: Key is not the correct length or format: `abc'");
  const std::string psk_error = err(kPeer + "PresharedKey = " + s(kPsk).substr(0, 43) + "\n");
  CHECK(psk_error == "t.conf:3: Key is not the correct length or format");
  CHECK(err("[Peer]\nPublicKey =\n") == "t.conf:2: Line unrecognized: `PublicKey='");
}

TEST_CASE("config: Endpoint keeps its text, IP literals are parsed now, hostnames later") {
  const Config c = ok(kPeer + "Endpoint = 192.0.2.1:51820\n");
  const EndpointSpec& e = *c.peers[0].endpoint;
  CHECK(e.text == "192.0.2.1:51820");
  REQUIRE(e.numeric);
  CHECK(wg::core::to_string(*e.numeric) == "192.0.2.1:51820");

  const EndpointSpec v6 = *ok(kPeer + "Endpoint = [2001:db8::1]:51820\n").peers[0].endpoint;
  CHECK(v6.host == "2001:db8::1");
  CHECK(v6.port == "51820");
  REQUIRE(v6.numeric);
  CHECK(wg::core::to_string(*v6.numeric) == "[2001:db8::1]:51820");
  // Without brackets, wg splits at the last colon.
  CHECK(wg::core::to_string(*ok(kPeer + "Endpoint = 2001:db8::1:5\n").peers[0].endpoint->numeric) == "[2001:db8::1]:5");

  const EndpointSpec host = *ok(kPeer + "Endpoint = vpn.example.net:51820\n").peers[0].endpoint;
  CHECK(host.host == "vpn.example.net");
  CHECK(host.port == "51820");
  CHECK_FALSE(host.numeric);
  // A scoped address is left to getaddrinfo, like a hostname.
  CHECK_FALSE(ok(kPeer + "Endpoint = [fe80::1%lo]:51820\n").peers[0].endpoint->numeric);

  const Config wrapped = ok(kPeer + "Endpoint = 192.0.2.1:65537\n");
  CHECK(wrapped.peers[0].endpoint->numeric->port == 1);
  CHECK(warnings(wrapped) ==
        std::vector<std::string>{"t.conf:3: Warning: Endpoint port `65537' is not in 0-65535; wg reads it as 1"});

  check_errors({
      {kPeer + "Endpoint = [2001:db8::1\n", "t.conf:3: Unable to find matching brace of endpoint: `[2001:db8::1'"},
      {kPeer + "Endpoint = [2001:db8::1]\n", "t.conf:3: Unable to find port of endpoint: `[2001:db8::1]'"},
      {kPeer + "Endpoint = [2001:db8::1]:\n", "t.conf:3: Unable to find port of endpoint: `[2001:db8::1]:'"},
      {kPeer + "Endpoint = [2001:db8::1]x5\n", "t.conf:3: Unable to find port of endpoint: `[2001:db8::1]x5'"},
      {kPeer + "Endpoint = vpn.example.net\n", "t.conf:3: Unable to find port of endpoint: `vpn.example.net'"},
      {kPeer + "Endpoint = 192.0.2.1:\n", "t.conf:3: Unable to find port of endpoint: `192.0.2.1:'"},
      {kPeer + "Endpoint = 192.0.2.1:abc\n", "t.conf:3: Servname not supported for ai_socktype: `192.0.2.1:abc'"},
      {kPeer + "Endpoint = vpn.example.net:abc\n", "t.conf:3: Servname not supported for ai_socktype: `vpn.example.net:abc'"},
      {kPeer + "Endpoint =\n", "t.conf:3: Line unrecognized: `Endpoint='"},
  });
}

TEST_CASE("config: AllowedIPs follow wg: lists, repeats, host routes, masked host bits") {
  const Config c = ok(kPeer + "AllowedIPs = 10.0.0.0/24, fd00::/64\nAllowedIPs = 192.0.2.1,2001:db8::1\nAllowedIPs = 0.0.0.0/0, ::/0\n");
  CHECK(prefixes(c.peers[0].allowed_ips) == std::vector<Prefix>{pfx("10.0.0.0/24"), pfx("fd00::/64"), pfx("192.0.2.1/32"),
                                                                pfx("2001:db8::1/128"), pfx("0.0.0.0/0"), pfx("::/0")});
  CHECK(c.peers[0].allowed_ips[2].line.n == 4);
  CHECK(c.warnings.empty());
  CHECK(ok(kPeer + "AllowedIPs =\n").peers[0].allowed_ips.empty());
  CHECK(ok(kPeer + "AllowedIPs = 10.0.0.0/032\n").peers[0].allowed_ips[0].prefix == pfx("10.0.0.0/32"));

  const Config hb = ok(kPeer + "AllowedIPs = 10.0.0.1/24, fd00::1/64\n");
  CHECK(prefixes(hb.peers[0].allowed_ips) == std::vector<Prefix>{pfx("10.0.0.0/24"), pfx("fd00::/64")});
  CHECK(warnings(hb) == std::vector<std::string>{"t.conf:3: Warning: AllowedIP has nonzero host part: 10.0.0.1/24",
                                                 "t.conf:3: Warning: AllowedIP has nonzero host part: fd00::1/64"});

  // + adds, - removes what an earlier entry added (newer wg's incremental syntax).
  const Config inc = ok(kPeer + "AllowedIPs = +10.0.0.0/8, 192.0.2.0/24\nAllowedIPs = -10.0.0.0/8, -172.16.0.0/12\n");
  CHECK(prefixes(inc.peers[0].allowed_ips) == std::vector<Prefix>{pfx("192.0.2.0/24")});

  check_errors({
      {kPeer + "AllowedIPs = 10.0.0.0/33\n", "t.conf:3: AllowedIP is not in the correct format: `10.0.0.0/33'"},
      {kPeer + "AllowedIPs = fd00::/129\n", "t.conf:3: AllowedIP is not in the correct format: `fd00::/129'"},
      {kPeer + "AllowedIPs = 10.0.0.0/\n", "t.conf:3: AllowedIP is not in the correct format: `10.0.0.0/'"},
      {kPeer + "AllowedIPs = 10.0.0.0/8/8\n", "t.conf:3: AllowedIP is not in the correct format: `10.0.0.0/8/8'"},
      {kPeer + "AllowedIPs = 10.0.0.0/+8\n", "t.conf:3: AllowedIP is not in the correct format: `10.0.0.0/+8'"},
      {kPeer + "AllowedIPs = -10.0.0.0/x\n", "t.conf:3: AllowedIP is not in the correct format: `10.0.0.0/x'"},
      {kPeer + "AllowedIPs = nonsense\n", "t.conf:3: Unable to parse IP address: `nonsense'"},
      {kPeer + "AllowedIPs = 10.0.0.1,\n", "t.conf:3: Unable to parse IP address: `'"},
      {kPeer + "AllowedIPs = 10.0.0.1,,10.0.0.2\n", "t.conf:3: Unable to parse IP address: `'"},
      {kPeer + "AllowedIPs = 10.0.1/24\n", "t.conf:3: Unable to parse IP address: `10.0.1'"},
  });
}

TEST_CASE("config: PersistentKeepalive is off or 0..65535") {
  struct Case {
    std::string value;
    uint16_t secs;
  };
  for (const Case& c : std::vector<Case>{{"off", 0}, {"Off", 0}, {"0", 0}, {"25", 25}, {"65535", 65535}}) {
    CAPTURE(c.value);
    CHECK(*ok(kPeer + "PersistentKeepalive = " + c.value + "\n").peers[0].persistent_keepalive == c.secs);
  }
  CHECK_FALSE(ok(kPeer).peers[0].persistent_keepalive);
  for (const std::string bad : {"65536", "-1", "25s", "0x19", "on"}) {
    CAPTURE(bad);
    CHECK(err(kPeer + "PersistentKeepalive = " + bad + "\n") ==
          "t.conf:3: Persistent keepalive interval is neither 0/off nor 1-65535: `" + bad + "'");
  }
}

// --- [Port] -------------------------------------------------------------------------------------

TEST_CASE("config: [Port] keys") {
  const Config c = ok(
      "[port]\n"
      "name = pub-test0\n"
      "MODE = veth\n"
      "Address = fe80::1/64, 192.0.2.1/24\n"
      "Route = 2a11:6c7:abcd:2001::2/128\n"
      "Route = 192.0.2.0/28, 2a11:6c7:abcd:2002::/64\n"
      "AllowInbound = tcp/22, tcp/80, udp/53, tcp/8000-8080\n"
      "AllowInbound = UDP/1-65535\n"
      "MTU = 1420\n");
  REQUIRE(c.ports.size() == 1);
  const PortConfig& p = c.ports[0];
  CHECK(p.line.n == 1);
  CHECK(p.name == "pub-test0");
  CHECK(p.mode == PortMode::Veth);
  CHECK(texts(p.addresses) == std::vector<std::string>{"fe80::1/64", "192.0.2.1/24"});
  CHECK(prefixes(p.routes) ==
        std::vector<Prefix>{pfx("2a11:6c7:abcd:2001::2/128"), pfx("192.0.2.0/28"), pfx("2a11:6c7:abcd:2002::/64")});
  CHECK_FALSE(p.allowed_source);
  CHECK(prefixes(p.effective_allowed_source()) == prefixes(p.routes));
  std::vector<std::string> rules;
  for (const InboundRule& r : p.allow_inbound) rules.push_back(to_string(r));
  CHECK(rules == std::vector<std::string>{"tcp/22", "tcp/80", "udp/53", "tcp/8000-8080", "udp/1-65535"});
  CHECK(p.allow_inbound[3] == InboundRule{Proto::Tcp, 8000, 8080});
  CHECK(*p.mtu == 1420);

  CHECK(ok(kPort).ports[0].mode == PortMode::Tap);
  CHECK(ok(kPort).ports[0].allow_inbound.empty());  // absent: everything
  CHECK(ok(kPort + "AllowInbound =\n").ports[0].allow_inbound.empty());
  const Config src = ok(kPort + "Route = 2001:db8::2\nAllowedSource = 2001:db8::/64\nAllowedSource = 10.0.0.2\n");
  CHECK(prefixes(src.ports[0].effective_allowed_source()) == std::vector<Prefix>{pfx("2001:db8::/64"), pfx("10.0.0.2/32")});
  // Present but empty: the port may send nothing.
  const Config none = ok(kPort + "Route = 2001:db8::2\nAllowedSource =\n");
  REQUIRE(none.ports[0].allowed_source);
  CHECK(none.ports[0].effective_allowed_source().empty());
  const Config hb = ok(kPort + "Route = 2001:db8::1/64\n");
  CHECK(warnings(hb) == std::vector<std::string>{"t.conf:4: Warning: Route has nonzero host part: 2001:db8::1/64"});

  check_errors({
      {"[Port]\nName = this-is-too-long0\n", "t.conf:2: Port name must be 1 to 15 of the characters a-z A-Z 0-9 _ = + . -: `this-is-too-long0'"},
      {"[Port]\nName = a/b\n", "t.conf:2: Port name must be 1 to 15 of the characters a-z A-Z 0-9 _ = + . -: `a/b'"},
      {"[Port]\nName = ..\n", "t.conf:2: Port name must be 1 to 15 of the characters a-z A-Z 0-9 _ = + . -: `..'"},
      {"[Port]\nName =\n", "t.conf:2: Port name must be 1 to 15 of the characters a-z A-Z 0-9 _ = + . -: `'"},
      {"[Port]\nMode = bridge\n", "t.conf:2: Mode is neither tap nor veth: `bridge'"},
      {kPort + "Address = fe80::1\n", "t.conf:4: Port Address needs a prefix length: `fe80::1'"},
      {kPort + "Address = fe80::1/64,\n", "t.conf:4: Unable to parse IP address: `'"},
      {kPort + "Address = fe80::g/64\n", "t.conf:4: Unable to parse IP address: `fe80::g'"},
      {kPort + "Route = 2001:db8::/200\n", "t.conf:4: Route is not in the correct format: `2001:db8::/200'"},
      {kPort + "AllowedSource = x\n", "t.conf:4: Unable to parse IP address: `x'"},
      {kPort + "MTU = 10\n", "t.conf:4: MTU is not a number from 68 to 65535: `10'"},
      {kPort + "DNS = 1.1.1.1\n", "t.conf:4: Line unrecognized: `DNS=1.1.1.1'"},
      {kPort + "PostUp = true\n", "t.conf:4: Line unrecognized: `PostUp=true'"},
      {kPort + "PublicKey = " + s(kPub1) + "\n", "t.conf:4: Line unrecognized: `PublicKey=" + s(kPub1) + "'"},
  });
  const std::string bad_rule = "t.conf:4: AllowInbound entry is neither tcp/PORT nor udp/PORT (PORT 1-65535 or LOW-HIGH): ";
  for (const std::string rule : {"icmp/1", "tcp/0", "tcp/70000", "tcp/80-22", "tcp", "tcp/", "tcp/22-", "tcp/-22", "22", "tcp/2 2x"}) {
    CAPTURE(rule);
    std::string shown = rule;
    std::erase(shown, ' ');
    CHECK(err(kPort + "AllowInbound = " + rule + "\n") == bad_rule + "`" + shown + "'");
  }
  CHECK(err(kPort + "AllowInbound = tcp/22,\n") == bad_rule + "`'");
}

// --- structure: sections, unknown lines, whitespace, comments ------------------------------------

TEST_CASE("config: lines outside sections, unknown keys and sections, keys in the wrong section") {
  check_errors({
      {"ListenPort = 51820\n", "t.conf:1: Line unrecognized: `ListenPort=51820'"},
      {"# comment\n\nAddress = 10.0.0.1/24\n[Interface]\n", "t.conf:3: Line unrecognized: `Address=10.0.0.1/24'"},
      {kIface + "Foo = bar\n", "t.conf:2: Line unrecognized: `Foo=bar'"},
      {kIface + "ListenPort\n", "t.conf:2: Line unrecognized: `ListenPort'"},
      {kIface + "[Peers]\n", "t.conf:2: Line unrecognized: `[Peers]'"},
      {kIface + "[Interface] x\n", "t.conf:2: Line unrecognized: `[Interface]x'"},
      {kPeer + "ListenPort = 5\n", "t.conf:3: Line unrecognized: `ListenPort=5'"},
      {kPeer + "Address = 10.0.0.1/32\n", "t.conf:3: Line unrecognized: `Address=10.0.0.1/32'"},
      {kPeer + "MTU = 1420\n", "t.conf:3: Line unrecognized: `MTU=1420'"},
      {kIface + "PublicKey = " + s(kPub1) + "\n", "t.conf:2: Line unrecognized: `PublicKey=" + s(kPub1) + "'"},
      {kIface + "Route = 10.0.0.0/8\n", "t.conf:2: Line unrecognized: `Route=10.0.0.0/8'"},
      {kIface + "Name = x\n", "t.conf:2: Line unrecognized: `Name=x'"},
      {"\xEF\xBB\xBF[Interface]\n", "t.conf:1: Line unrecognized: `\xEF\xBB\xBF[Interface]'"},  // a BOM, as wg sees it
  });
}

TEST_CASE("config: whitespace, comments and case as wg and wg-quick read them") {
  // wg removes all whitespace, so keys and headers may be spread out; wg-quick keys are only
  // trimmed (see the SaveConfig case above).
  const Config c = ok(
      "  [ inter face ]  # the device\n"
      "\tPrivate Key\t=\t" + s(kPriv) + "\n"
      "LISTENPORT=51820#no space before the comment\n"
      "\n"
      "   # only a comment\n"
      "[PEER]\n"
      "publickey = " + s(kPub1).substr(0, 20) + " " + s(kPub1).substr(20) + "\n"
      "AllowedIPs = 10.0.0.0 / 24 , fd00:: / 64\n");
  CHECK(c.iface.line.n == 1);
  CHECK(*c.iface.listen_port == 51820);
  CHECK(c.peers[0].public_key.bytes == decode(kPub1));
  CHECK(c.peers[0].line.n == 6);
  CHECK(prefixes(c.peers[0].allowed_ips) == std::vector<Prefix>{pfx("10.0.0.0/24"), pfx("fd00::/64")});
  // A NUL ends a line, as it ends wg's C string.
  CHECK(*ok(kIface + std::string("ListenPort = 7\0junk\n", 20)).iface.listen_port == 7);
  // Sections may come back: a second [Interface] adds to the first.
  const Config again = ok(kIface + "ListenPort = 1\n" + kPeer + "[Interface]\nListenPort = 2\nAddress = 10.0.0.1/24\n");
  CHECK(*again.iface.listen_port == 2);
  CHECK(again.iface.addresses.size() == 1);
  CHECK(again.iface.line.n == 1);
  // Empty input is a valid, empty config.
  const Config empty = ok("");
  CHECK(empty.peers.empty());
  CHECK(empty.iface == Interface{});
}

// A wg-quick client file as people write them.
const std::string kClient =
    "# wg0.conf -- laptop\n"
    "[Interface]\n"
    "PrivateKey = " + s(kPriv) + "\n"
    "Address = 10.200.200.2/32, fd42:42:42::2/128\n"
    "DNS = 10.200.200.1, home.lan\n"
    "\n"
    "[Peer]\n"
    "# the server\n"
    "PublicKey = " + s(kPub1) + "\n"
    "PresharedKey = " + s(kPsk) + "\n"
    "Endpoint = demo.wireguard.com:51820\n"
    "AllowedIPs = 0.0.0.0/0, ::/0\n"
    "PersistentKeepalive = 25\n";

// A server with hooks, SaveConfig and several peers, in odd casing with tabs.
const std::string kServer =
    "[interface]\n"
    "address\t= 10.200.200.1/24\n"
    "ListenPort\t= 51820\n"
    "privatekey\t= " + s(kPriv) + "\n"
    "FwMark = 0xca6c\n"
    "Table = 1234\n"
    "MTU = 1420\n"
    "SaveConfig = true\n"
    "PostUp   = iptables -A FORWARD -i %i -j ACCEPT; iptables -t nat -A POSTROUTING -o eth0 -j MASQUERADE\n"
    "PostDown = iptables -D FORWARD -i %i -j ACCEPT; iptables -t nat -D POSTROUTING -o eth0 -j MASQUERADE\n"
    "\n"
    "[peer]\n"
    "PublicKey = " + s(kPub2) + "\n"
    "AllowedIPs = 10.200.200.2/32\n"
    "\n"
    "[Peer]\n"
    "PublicKey = " + s(kPub3) + "\n"
    "AllowedIPs = 10.200.200.3/32, 10.10.0.0/16\n"
    "Endpoint = [2001:db8::3]:51820\n"
    "PersistentKeepalive = off\n";

// PRODUCT.md's gateway: the ROUTE64 tunnel plus one public instance on a TAP port.
const std::string kGateway =
    "[Interface]\n"
    "PrivateKey = " + s(kPriv) + "\n"
    "ListenPort = 51820\n"
    "Address = 2a11:6c7:abcd:2000::1/128\n"
    "Unreachable = 2a11:6c7:abcd:2000::/56     # answered with ICMP unreachable\n"
    "\n"
    "[Peer]                                     # ROUTE64\n"
    "PublicKey = " + s(kPub1) + "\n"
    "Endpoint = 192.0.2.64:58140\n"
    "AllowedIPs = ::/0\n"
    "PersistentKeepalive = 25\n"
    "\n"
    "[Port]                                     # one per public instance; repeatable\n"
    "Name = pub-test0                           # interface name, at most 15 characters\n"
    "Mode = tap\n"
    "Address = fe80::1/64\n"
    "Route = 2a11:6c7:abcd:2001::2/128\n"
    "AllowedSource = 2a11:6c7:abcd:2001::2/128\n"
    "AllowInbound = tcp/22, tcp/80, tcp/443\n"
    "MTU = 1420\n"
    "\n"
    "[Port]\n"
    "Name = pub-vm1\n"
    "Mode = veth\n"
    "Address = fe80::1/64\n"
    "Route = 2a11:6c7:abcd:2002::/64\n";

std::string with_crlf(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

TEST_CASE("config: a wg-quick client file") {
  const Config c = ok(kClient);
  CHECK(texts(c.iface.addresses) == std::vector<std::string>{"10.200.200.2/32", "fd42:42:42::2/128"});
  CHECK(c.iface.dns_servers == std::vector<std::string>{"10.200.200.1"});
  CHECK(c.iface.dns_search == std::vector<std::string>{"home.lan"});
  REQUIRE(c.peers.size() == 1);
  CHECK(c.peers[0].line.n == 7);
  CHECK(c.peers[0].endpoint->host == "demo.wireguard.com");
  CHECK(prefixes(c.peers[0].allowed_ips) == std::vector<Prefix>{pfx("0.0.0.0/0"), pfx("::/0")});
  CHECK(*c.peers[0].persistent_keepalive == 25);
  CHECK(c.warnings.empty());
}

TEST_CASE("config: a wg-quick server file with hooks and SaveConfig") {
  const Config c = ok(kServer);
  CHECK(*c.iface.listen_port == 51820);
  CHECK(*c.iface.fwmark == 0xca6c);
  CHECK(c.iface.table.id == 1234);
  CHECK(*c.iface.mtu == 1420);
  CHECK(c.iface.save_config);
  CHECK(c.iface.post_up.size() == 1);
  CHECK(c.iface.post_down[0].find("-D FORWARD -i %i") != std::string::npos);
  REQUIRE(c.peers.size() == 2);
  CHECK(c.peers[1].public_key.bytes == decode(kPub3));
  CHECK(prefixes(c.peers[1].allowed_ips) == std::vector<Prefix>{pfx("10.200.200.3/32"), pfx("10.10.0.0/16")});
  CHECK(*c.peers[1].persistent_keepalive == 0);
}

TEST_CASE("config: CRLF line endings mean the same (wg and wg-quick both treat \\r as space)") {
  for (const std::string* text : {&kClient, &kServer, &kGateway}) {
    const Config lf = ok(*text);
    const Config crlf = ok(with_crlf(*text));
    CHECK(lf == crlf);
    CHECK(lf.iface.post_up == crlf.iface.post_up);  // no stray \r at the end of a hook
    CHECK(crlf.warnings.empty());
  }
}

TEST_CASE("config: the gateway of PRODUCT.md") {
  const Config c = ok(kGateway);
  CHECK(prefixes(c.iface.unreachable) == std::vector<Prefix>{pfx("2a11:6c7:abcd:2000::/56")});
  REQUIRE(c.peers.size() == 1);
  CHECK(c.peers[0].endpoint->numeric->port == 58140);
  REQUIRE(c.ports.size() == 2);
  const PortConfig& p = c.ports[0];
  CHECK(p.line.n == 13);
  CHECK(p.name == "pub-test0");
  CHECK(p.mode == PortMode::Tap);
  CHECK(texts(p.addresses) == std::vector<std::string>{"fe80::1/64"});
  CHECK(prefixes(p.routes) == std::vector<Prefix>{pfx("2a11:6c7:abcd:2001::2/128")});
  CHECK(prefixes(*p.allowed_source) == std::vector<Prefix>{pfx("2a11:6c7:abcd:2001::2/128")});
  CHECK(p.allow_inbound == std::vector<InboundRule>{{Proto::Tcp, 22, 22}, {Proto::Tcp, 80, 80}, {Proto::Tcp, 443, 443}});
  CHECK(*p.mtu == 1420);
  CHECK(c.ports[1].mode == PortMode::Veth);
  CHECK(prefixes(c.ports[1].effective_allowed_source()) == std::vector<Prefix>{pfx("2a11:6c7:abcd:2002::/64")});
  CHECK_FALSE(c.ports[1].mtu);
  CHECK(c.warnings.empty());
}

// --- whole-file checks -------------------------------------------------------------------------

TEST_CASE("config: whole-file errors name their lines") {
  const std::string peer2 = "[Peer]\nPublicKey = " + s(kPub2) + "\n";
  check_errors({
      {kIface + "[Peer]\nAllowedIPs = 10.0.0.0/8\n", "t.conf:2: A peer is missing a public key"},
      {kPeer + peer2 + "[Peer]\nPublicKey = " + s(kPub1) + "\n",
       "t.conf:5: Public key `" + s(kPub1) + "' is already used by the peer on line 1"},
      {"[Port]\nMode = tap\n", "t.conf:1: A port is missing a Name"},
      {"[Port]\nName = a\n", "t.conf:1: A port is missing a Mode"},
      {kPort + kPort, "t.conf:4: Port name `pub0' is already used by the port on line 1"},
      {kPort + "Route = 2001:db8::2/128\n[Port]\nName = pub1\nMode = tap\nRoute = 2001:db8::2\n",
       "t.conf:8: Route 2001:db8::2/128 is also a Route of port `pub0' on line 4"},
      {kPeer + "AllowedIPs = 2001:db8::/64\n" + kPort + "Route = 2001:db8::/64\n",
       "t.conf:7: Route 2001:db8::/64 is also an AllowedIP of a peer on line 3"},
      {kPort + "Route = 2001:db8::/64\n" + kPeer + "AllowedIPs = 2001:db8::1/64\n",
       "t.conf:7: AllowedIP 2001:db8::/64 is also a Route of port `pub0' on line 4"},
      {kPort + "Route = 10.0.0.0/8\n[Interface]\nUnreachable = 10.0.0.0/8\n",
       "t.conf:6: Unreachable 10.0.0.0/8 is also a Route of port `pub0' on line 4"},
      // Of several problems, the first line's is reported.
      {"[Peer]\n" + kPort + kPort, "t.conf:1: A peer is missing a public key"},
  });
  // Overlapping but not equal prefixes are what longest-prefix match is for.
  CHECK(ok(kPeer + "AllowedIPs = ::/0, 2001:db8::/32\n" + kPort + "Route = 2001:db8::2\n" +
           "[Interface]\nUnreachable = 2001:db8::/48\n")
            .ports.size() == 1);
  // The same prefix twice for one owner is harmless.
  CHECK(ok(kPort + "Route = 10.0.0.0/8, 10.0.0.0/8\n").ports[0].routes.size() == 2);
}

TEST_CASE("config: ports that overlap or contradict each other are refused, naming both lines") {
  const std::string port1 = "[Port]\nName = pub1\nMode = veth\n";  // lines 5-7 after a 4-line port
  check_errors({
      {kPort + "Route = 2001:db8::/64\n" + port1 + "Route = 2001:db8::2/128\n",
       "t.conf:8: Route 2001:db8::2/128 of port `pub1' overlaps 2001:db8::/64 of port `pub0' on line 4"},
      {kPort + "Route = 10.0.0.2/32\n" + port1 + "Route = 10.0.0.0/24\n",
       "t.conf:8: Route 10.0.0.0/24 of port `pub1' overlaps 10.0.0.2/32 of port `pub0' on line 4"},
      // One instance allowed to send as the other.
      {kPort + "Route = 2001:db8::2\n" + port1 + "Route = 2001:db8::3\nAllowedSource = 2001:db8::/120\n",
       "t.conf:9: AllowedSource 2001:db8::/120 of port `pub1' overlaps 2001:db8::2/128 of port `pub0' on line 4"},
      {kPort + "Address = 2001:db8:1::1/64\n" + port1 + "Address = 2001:db8:1::1/64\n",
       "t.conf:8: Address 2001:db8:1::1/64 of port `pub1' is also an address of port `pub0' on line 4"},
      {kPort + "AllowHost = maybe\n", "t.conf:4: AllowHost is neither true nor false: `maybe'"},
  });
  // The gateway's link-local address is the same on every port, as in the seed (fe80::1).
  const Config c = ok(kPort + "Address = fe80::1/64\nRoute = 2001:db8::2\n" + port1 +
                      "Address = fe80::1/64\nRoute = 2001:db8::3\nAllowHost = yes\n");
  REQUIRE(c.ports.size() == 2);
  CHECK_FALSE(c.ports[0].allow_host);
  CHECK(c.ports[1].allow_host);
  CHECK(parse_config(write_config(c), "t.conf") == c);
}

TEST_CASE("config: RouterAdvertisements and DHCPv6 on a port, and what they need") {
  check_errors({
      {kPort + "RouterAdvertisements = sometimes\n", "t.conf:4: RouterAdvertisements is neither true nor false: `sometimes'"},
      {kPort + "DHCPv6 = 1\n", "t.conf:4: DHCPv6 is neither true nor false: `1'"},
      // Nothing to hand out: the port's sources hold no IPv6 /128.
      {kPort + "Route = 2001:db8:5::/64\nDHCPv6 = true\n",
       "t.conf:1: DHCPv6 hands out the instance's IPv6 /128, but the port `pub0' has none in its AllowedSource (or Route)"},
      // wg-quick takes any search word; an instance can only be told names DNS can carry.
      {"[Interface]\nDNS = 2001:db8::53, " + std::string(64, 'x') + ".example\n" + "[Port]\nName = pub0\nMode = tap\n" +
           "Route = 2001:db8::2\nRouterAdvertisements = yes\n",
       "t.conf:3: The DNS search domain `" + std::string(64, 'x') +
           ".example' cannot be announced to the instance (a label of 1-63 bytes, a name of at most 253, all of them at most 255 bytes)"},
  });
  // The same DNS line is fine when no port announces it.
  CHECK(ok("[Interface]\nDNS = " + std::string(64, 'x') + ".example\n" + kPort + "Route = 2001:db8::2\n").ports.size() == 1);
  const Config c = ok(kPort + "Route = 2001:db8::2\nRouterAdvertisements = on\nDHCPv6 = yes\n");
  REQUIRE(c.ports.size() == 1);
  CHECK(c.ports[0].router_advertisements);
  CHECK(c.ports[0].dhcpv6);
  CHECK(parse_config(write_config(c), "t.conf") == c);
}

TEST_CASE("config: two peers with one AllowedIP only warn (wg gives it to the later peer)") {
  const Config c = ok(kPeer + "AllowedIPs = 10.0.0.0/8\n[Peer]\nPublicKey = " + s(kPub2) + "\nAllowedIPs = 10.0.0.0/8\n");
  CHECK(warnings(c) == std::vector<std::string>{
                           "t.conf:6: Warning: AllowedIP 10.0.0.0/8 is also an AllowedIP of a peer on line 3; wg gives it to the later peer"});
}

TEST_CASE("config: warnings are kept in line order, apart from errors") {
  const Config c = ok(kPeer + "AllowedIPs = 10.0.0.1/8\n" + kPort + "Route = 2001:db8::1/64\n[Interface]\nListenPort = 65536\n");
  CHECK(warnings(c) == std::vector<std::string>{
                           "t.conf:3: Warning: AllowedIP has nonzero host part: 10.0.0.1/8",
                           "t.conf:7: Warning: Route has nonzero host part: 2001:db8::1/64",
                           "t.conf:9: Warning: ListenPort port `65536' is not in 0-65535; wg reads it as 0",
                       });
}

TEST_CASE("config: Diagnostic::to_string") {
  CHECK(Diagnostic{"gw0.conf", 7, "Key is not the correct length or format: `abc'"}.to_string() ==
        "gw0.conf:7: Key is not the correct length or format: `abc'");
  CHECK(Diagnostic{"gw0.conf", 0, "`gw0.conf' does not exist"}.to_string() == "`gw0.conf' does not exist");
}

// --- files ---------------------------------------------------------------------------------------

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/wg_config_test.XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() { std::system(("rm -rf -- '" + path + "'").c_str()); }
  std::string write(const std::string& name, const std::string& text, mode_t mode) {
    const std::string p = path + "/" + name;
    std::ofstream(p, std::ios::binary) << text;
    REQUIRE(chmod(p.c_str(), mode) == 0);
    return p;
  }
};

TEST_CASE("config: load_config reads files, names them in errors, warns like wg-quick") {
  TempDir dir;
  const std::string good = dir.write("gw0.conf", kGateway, 0600);
  const auto c = load_config(good);
  REQUIRE(c);
  CHECK(*c == ok(kGateway));
  CHECK(c->warnings.empty());

  const std::string bad = dir.write("bad.conf", kIface + "ListenPort = 1\nFwMark = x\n", 0600);
  const auto e = load_config(bad);
  REQUIRE_FALSE(e);
  CHECK(e.error().to_string() == bad + ":3: Fwmark is neither 0/off nor 0-0xffffffff: `x'");

  const auto missing = load_config(dir.path + "/nope.conf");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().to_string() == "`" + dir.path + "/nope.conf' does not exist");
  const auto directory = load_config(dir.path);
  REQUIRE_FALSE(directory);
  CHECK(directory.error().to_string() == "Unable to read `" + dir.path + "': Is a directory");

  // wg-quick warns only when the file and its directory both give others some access.
  const std::string open_file = dir.write("open.conf", kClient, 0644);
  CHECK(load_config(open_file)->warnings.empty());  // mkdtemp's directory is 0700
  REQUIRE(chmod(dir.path.c_str(), 0755) == 0);
  const auto loud = load_config(open_file);
  REQUIRE(loud);
  REQUIRE(loud->warnings.size() == 1);
  CHECK(loud->warnings[0].to_string() == "Warning: `" + open_file + "' is world accessible");
  CHECK(load_config(good)->warnings.empty());
}

// --- write_config ------------------------------------------------------------------------------

const std::string kEverything =
    "[Interface]\n"
    "PrivateKey = " + s(kPriv) + "\n"
    "ListenPort = 51820\n"
    "FwMark = 0x10\n"
    "Address = 10.0.0.5/24, fd00::5/64, 192.0.2.1\n"
    "DNS = 1.1.1.1, example.com, 2606:4700::1111\n"
    "MTU = 1400\n"
    "Table = off\n"
    "SaveConfig = true\n"
    "MetricsListen = [::1]:9586\n"
    "PreUp = echo pre-up %i\n"
    "PostUp = echo post-up\n"
    "PostUp = iptables -A FORWARD -i %i -j ACCEPT\n"
    "PreDown = echo 'a = b'\n"
    "PostDown =\n"
    "Unreachable = 2a11:6c7:abcd:2000::/56, 10.99.0.0/16\n"
    "[Peer]\n"
    "PublicKey = " + s(kPub1) + "\n"
    "PresharedKey = " + s(kPsk) + "\n"
    "AllowedIPs = 10.0.0.1/24, ::/0\n"
    "Endpoint = vpn.example.net:51820\n"
    "PersistentKeepalive = 0\n"
    "[Peer]\n"
    "PublicKey = " + s(kPub2) + "\n"
    "Endpoint = [2001:db8::2]:51820\n"
    "[Port]\n"
    "Name = pub0\n"
    "Mode = veth\n"
    "Address = fe80::1/64\n"
    "Route = 2001:db8:1::2/128\n"
    "AllowedSource =\n"
    "AllowInbound = tcp/22, udp/5000-5010\n"
    "MTU = 1280\n"
    "[Port]\n"
    "Name = pub1\n"
    "Mode = tap\n"
    "Route = 2001:db8:1::3\n"
    "AllowedSource = 2001:db8:1::/64\n";

TEST_CASE("config: write_config round-trips every key") {
  for (const std::string* text : {&kClient, &kServer, &kGateway, &kEverything}) {
    const Config c = ok(*text);
    const std::string written = write_config(c);
    CAPTURE(written);
    const Config again = ok(written);
    CHECK(again == c);
    CHECK(write_config(again) == written);
    CHECK(again.iface.post_up == c.iface.post_up);
  }
}

TEST_CASE("config: write_config writes wg-quick text, with showconf's forms") {
  const std::string w = write_config(ok(kEverything));
  for (const std::string& line : {"[Interface]\nPrivateKey = " + s(kPriv) + "\n", std::string("FwMark = 0x10\n"),
                                 std::string("Address = 10.0.0.5/24, fd00::5/64, 192.0.2.1/32\n"),
                                 std::string("DNS = 1.1.1.1, 2606:4700::1111, example.com\n"), std::string("Table = off\n"),
                                 std::string("PreDown = echo 'a = b'\n"), std::string("PostDown = \n"),
                                 std::string("AllowedIPs = 10.0.0.0/24, ::/0\n"), std::string("PersistentKeepalive = off\n"),
                                 std::string("Endpoint = vpn.example.net:51820\n"), std::string("AllowedSource = \n"),
                                 std::string("AllowInbound = tcp/22, udp/5000-5010\n"), std::string("\n[Port]\nName = pub1\nMode = tap\n")}) {
    CAPTURE(line);
    CHECK(w.find(line) != std::string::npos);
  }
  // Absent settings stay absent.
  const std::string minimal = write_config(ok(kPeer));
  CHECK(minimal == "[Interface]\n\n[Peer]\nPublicKey = " + s(kPub1) + "\n");
}

TEST_CASE("config: == compares settings, not where they were written") {
  const Config a = ok(kServer);
  Config b = ok("\n\n" + kServer);  // every line moves down by two
  CHECK(a == b);
  b.peers[0].allowed_ips[0].prefix = pfx("10.200.200.9/32");
  CHECK_FALSE(a == b);
  Config c = a;
  c.iface.private_key->secret.bytes[0] ^= 1;
  CHECK_FALSE(a == c);
  Config d = a;
  d.iface.post_up.push_back("x");
  CHECK_FALSE(a == d);
}

// --- interface names and endpoints ---------------------------------------------------------------

TEST_CASE("config: interface_name_from_path follows wg-quick") {
  struct Case {
    std::string path;
    std::string name;  // empty: an error
  };
  for (const Case& c : std::vector<Case>{{"gw0.conf", "gw0"},
                                         {"/etc/wireguard/wg0.conf", "wg0"},
                                         {"./a.b.conf", "a.b"},
                                         {"x/Az09_=+.-.conf", "Az09_=+.-"},
                                         {"123456789012345.conf", "123456789012345"},
                                         {"wg0.conf.conf", "wg0.conf"},
                                         {"1234567890123456.conf", ""},
                                         {"wg 0.conf", ""},
                                         {".conf", ""},
                                         {"wg0.conf.bak", ""},
                                         {"wg0", ""},
                                         {"wg0.conf/", ""},
                                         {"wg@0.conf", ""}}) {
    CAPTURE(c.path);
    const auto r = interface_name_from_path(c.path);
    if (c.name.empty()) {
      REQUIRE_FALSE(r);
      CHECK(r.error() == "The config file must be a valid interface name, followed by .conf");
    } else {
      REQUIRE(r);
      CHECK(*r == c.name);
    }
  }
}

TEST_CASE("config: resolve_endpoint returns IP literals as they are, looks hostnames up like wg") {
  const EndpointSpec numeric = *ok(kPeer + "Endpoint = 192.0.2.1:51820\n").peers[0].endpoint;
  const auto r = resolve_endpoint(numeric);
  REQUIRE(r);
  CHECK(wg::core::to_string(*r) == "192.0.2.1:51820");

  // /etc/hosts, no DNS needed.
  const EndpointSpec local = *ok(kPeer + "Endpoint = localhost:51820\n").peers[0].endpoint;
  const auto l = resolve_endpoint(local);
  REQUIRE(l);
  const std::string text = wg::core::to_string(*l);
  CHECK((text == "127.0.0.1:51820" || text == "[::1]:51820"));

  // An empty host fails at once, with wg's message and as a permanent failure.
  const EndpointSpec empty = *ok(kPeer + "Endpoint = :51820\n").peers[0].endpoint;
  const auto e = resolve_endpoint(empty);
  REQUIRE_FALSE(e);
  CHECK(e.error().message == "Name or service not known: `:51820'");
  CHECK_FALSE(e.error().transient);
}

}  // namespace
