// tests/config/uapi_test.cpp — the UAPI text protocol on a real Device with fake hooks: every
// set key and error, exact get text, pipelining and fragmentation, allowed-IP ownership moves,
// the own-key dummy, update_only, replace_peers, limits, and state after an error.
#include <doctest/doctest.h>
#include <net/if.h>

#include <algorithm>
#include <cerrno>
#include <random>
#include <string>
#include <vector>

#include "config/uapi.hpp"
#include "core/harness.hpp"
#include "crypto/encoding.hpp"
#include "crypto/x25519.hpp"

namespace wg::config {

using core::Device;
using core::Family;
using core::PeerId;
using core::PrefixTable;

namespace {

struct FakeHooks final : UapiHooks {
  testing::FakeClock clock;
  testing::SeededRng rng{5};
  core::Outbox out;
  uint16_t port = 0;
  uint32_t mark = 0;
  int port_calls = 0;
  int mark_calls = 0;
  uint16_t busy_port = 1;  // binding it fails
  bool privileged = true;  // may change the mark
  uint16_t next_random_port = 40000;

  core::Env env() override { return core::Env{clock.now, clock.wall, rng}; }
  core::Outbox& outbox() override { return out; }
  uint16_t listen_port() const override { return port; }
  int set_listen_port(uint16_t p) override {
    ++port_calls;
    if (p != 0 && p == busy_port) return -EADDRINUSE;
    port = p ? p : next_random_port++;
    return 0;
  }
  uint32_t fwmark() const override { return mark; }
  int set_fwmark(uint32_t m) override {
    ++mark_calls;
    if (!privileged) return -EPERM;
    mark = m;
    return 0;
  }
};

// A device, its allowed-IPs table and one connection to it.
struct Uapi {
  Device dev;
  core::RouteTable table;
  FakeHooks hooks;
  UapiConnection conn{UapiTarget{dev, table, hooks}};
  bool open = true;
  UapiTarget conn_target() { return UapiTarget{dev, table, hooks}; }

  std::string send(std::string_view in) {
    std::string reply;
    open = conn.feed(in, reply);
    return reply;
  }
  // A get on a fresh connection (the current one may be closed).
  std::string get() {
    UapiConnection c{UapiTarget{dev, table, hooks}};
    std::string reply;
    REQUIRE(c.feed("get=1\n\n", reply));
    for (int slices = 0; c.pending() && slices < 100000; ++slices) REQUIRE(c.feed({}, reply));
    CHECK_FALSE(c.pending());
    return reply;
  }
  std::optional<PeerId> owner(std::string_view ip) {
    auto p = core::parse_prefix(ip);
    REQUIRE(p);
    const core::RouteTarget* t = table.lookup(p->family, p->addr.data());
    if (!t || t->kind != core::RouteTarget::Kind::Peer) return std::nullopt;
    return t->id;
  }
  std::optional<PeerId> peer_of(const std::string& pub_hex) {
    core::PublicKey k;
    REQUIRE(crypto::key_from_hex(k.data(), pub_hex));
    return dev.find_peer(k);
  }
};

struct Keys {
  std::string priv;          // as given (not clamped)
  std::string priv_clamped;  // what get reports
  std::string pub;
};

Keys make_keys(uint8_t seed) {
  uint8_t priv[32];
  for (int i = 0; i < 32; ++i) priv[i] = static_cast<uint8_t>(seed * 37 + i * 11 + 0xa7);
  uint8_t pub[32];
  crypto::x25519_public(pub, priv);
  Keys k;
  k.priv = crypto::key_to_hex(priv);
  crypto::x25519_clamp(priv);
  k.priv_clamped = crypto::key_to_hex(priv);
  k.pub = crypto::key_to_hex(pub);
  return k;
}

const Keys kA = make_keys(1);  // the device's own key in most tests
const Keys kB = make_keys(2);
const Keys kC = make_keys(3);
const Keys kD = make_keys(4);
const std::string kZeros(64, '0');
const std::string kPsk = "1f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c5b6a7988";

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char ch) { return static_cast<char>(std::toupper(ch)); });
  return s;
}

size_t count_lines(const std::string& text, std::string_view prefix) {
  size_t n = 0;
  for (size_t pos = 0; pos < text.size();) {
    const size_t nl = text.find('\n', pos);
    const std::string_view line(text.data() + pos, (nl == std::string::npos ? text.size() : nl) - pos);
    if (line.substr(0, prefix.size()) == prefix) ++n;
    if (nl == std::string::npos) break;
    pos = nl + 1;
  }
  return n;
}

const std::string kConfigure =
    "set=1\n"
    "private_key=" + kA.priv + "\n"
    "listen_port=51820\n"
    "fwmark=4660\n"
    "public_key=" + kB.pub + "\n"
    "preshared_key=" + kPsk + "\n"
    "endpoint=192.0.2.7:51821\n"
    "persistent_keepalive_interval=0\n"
    "allowed_ip=10.0.0.2/32\n"
    "allowed_ip=fd00::2/128\n"
    "public_key=" + kC.pub + "\n"
    "endpoint=[2001:db8::1]:4444\n"
    "allowed_ip=10.9.0.0/16\n"
    "allowed_ip=0.0.0.0/0\n"
    "\n";

}  // namespace

TEST_CASE("uapi: get on an empty device is just errno=0") {
  Uapi u;
  CHECK(u.send("get=1\n\n") == "errno=0\n\n");
  CHECK(u.open);
}

TEST_CASE("uapi: get prints the exact wireguard-go text for a configured device") {
  Uapi u;
  REQUIRE(u.send(kConfigure) == "errno=0\n\n");
  const PeerId b = *u.peer_of(kB.pub);
  u.dev.peer(b)->tx_bytes = 1428;
  u.dev.peer(b)->rx_bytes = 1372;
  u.dev.peer(b)->last_handshake = core::WallTime{std::chrono::seconds(1'700'000'123) + std::chrono::nanoseconds(456'789)};
  const std::string want =
      "private_key=" + kA.priv_clamped + "\n"
      "listen_port=51820\n"
      "fwmark=4660\n"
      "public_key=" + kB.pub + "\n"
      "preshared_key=" + kPsk + "\n"
      "protocol_version=1\n"
      "endpoint=192.0.2.7:51821\n"
      "last_handshake_time_sec=1700000123\n"
      "last_handshake_time_nsec=456789\n"
      "tx_bytes=1428\n"
      "rx_bytes=1372\n"
      "persistent_keepalive_interval=0\n"
      "allowed_ip=10.0.0.2/32\n"
      "allowed_ip=fd00::2/128\n"
      "public_key=" + kC.pub + "\n"
      "preshared_key=" + kZeros + "\n"
      "protocol_version=1\n"
      "endpoint=[2001:db8::1]:4444\n"
      "last_handshake_time_sec=0\n"
      "last_handshake_time_nsec=0\n"
      "tx_bytes=0\n"
      "rx_bytes=0\n"
      "persistent_keepalive_interval=0\n"
      "allowed_ip=10.9.0.0/16\n"
      "allowed_ip=0.0.0.0/0\n"
      "errno=0\n\n";
  CHECK(u.send("get=1\n\n") == want);
  CHECK(u.open);
  CHECK(kA.priv != kA.priv_clamped);  // the key given really was unclamped
}

TEST_CASE("uapi: private_key is stored clamped, either hex case, and all zeros removes it") {
  Uapi u;
  CHECK(u.send("set=1\nprivate_key=" + upper(kA.priv) + "\n\n") == "errno=0\n\n");
  CHECK(u.get() == "private_key=" + kA.priv_clamped + "\nerrno=0\n\n");
  CHECK(u.send("set=1\nprivate_key=" + kZeros + "\n\n") == "errno=0\n\n");
  CHECK_FALSE(u.dev.identity().has_key);
  CHECK(u.get() == "errno=0\n\n");
}

TEST_CASE("uapi: a private key equal to a peer's removes that peer and its allowed IPs") {
  Uapi u;
  REQUIRE(u.send("set=1\npublic_key=" + kB.pub + "\nallowed_ip=10.0.0.0/8\npublic_key=" + kC.pub +
                 "\nallowed_ip=10.1.0.0/16\n\n") == "errno=0\n\n");
  REQUIRE(u.dev.peer_count() == 2);
  CHECK(u.send("set=1\nprivate_key=" + kB.priv + "\n\n") == "errno=0\n\n");
  CHECK(u.dev.peer_count() == 1);
  CHECK_FALSE(u.peer_of(kB.pub));
  CHECK(u.table.size() == 1);
  CHECK(u.owner("10.0.0.1") == std::nullopt);
  CHECK(u.owner("10.1.0.1") == u.peer_of(kC.pub));
  // A new peer reusing B's PeerId must not inherit B's prefixes.
  REQUIRE(u.send("set=1\npublic_key=" + kD.pub + "\n\n") == "errno=0\n\n");
  CHECK(u.owner("10.0.0.1") == std::nullopt);
  CHECK(u.table.check());
}

TEST_CASE("uapi: a peer cannot take a port route or an Unreachable prefix, replace_peers leaves them") {
  Uapi u;
  // One connection per request: an error ends a connection, as in wireguard-go.
  auto set = [&u](const std::string& body) {
    UapiConnection c{UapiTarget{u.dev, u.table, u.hooks}};
    std::string reply;
    c.feed("set=1\n" + body + "\n", reply);
    return reply;
  };
  const auto port_route = *core::parse_prefix("2001:db8:64:2001::2/128");
  const auto unreachable = *core::parse_prefix("2001:db8:64:2000::/56");
  u.table.insert(port_route, core::RouteTarget::port(0));
  u.table.insert(unreachable, {core::RouteTarget::Kind::Unreachable, 0});
  CHECK(set("public_key=" + kB.pub + "\nallowed_ip=2001:db8:64:2001::2/128\n") == "errno=-98\n\n");
  CHECK(set("public_key=" + kB.pub + "\nallowed_ip=2001:db8:64:2000::/56\n") == "errno=-98\n\n");
  const core::RouteTarget* t = u.table.lookup(core::Family::V6, port_route.addr.data());
  REQUIRE(t);
  CHECK(*t == core::RouteTarget::port(0));
  // A more specific prefix inside the Unreachable one is the peer's, as LPM intends.
  CHECK(set("public_key=" + kB.pub + "\nallowed_ip=2001:db8:64:2003::/64\n") == "errno=0\n\n");
  CHECK(u.owner("2001:db8:64:2003::1") == u.peer_of(kB.pub));
  // `wg setconf` (replace_peers) removes peers' prefixes only.
  CHECK(set("replace_peers=true\n") == "errno=0\n\n");
  CHECK(u.table.size() == 2);
  CHECK(u.owner("2001:db8:64:2003::1") == std::nullopt);
  CHECK(u.table.check());
}

TEST_CASE("uapi: listen_port rebinds every time, 0 means random, failures are -EADDRINUSE") {
  Uapi u;
  CHECK(u.send("set=1\nlisten_port=0\n\n") == "errno=0\n\n");
  CHECK(u.hooks.port == 40000);
  CHECK(u.send("set=1\nlisten_port=0\n\n") == "errno=0\n\n");
  CHECK(u.hooks.port == 40001);  // the same "0" still moved
  CHECK(u.send("set=1\nlisten_port=051820\n\n") == "errno=0\n\n");  // leading zeros are decimal
  CHECK(u.hooks.port == 51820);
  CHECK(u.hooks.port_calls == 3);
  CHECK(u.get() == "listen_port=51820\nerrno=0\n\n");
  CHECK(u.send("set=1\nlisten_port=1\n\n") == "errno=-98\n\n");
  CHECK_FALSE(u.open);
  CHECK(u.hooks.port == 51820);
}

TEST_CASE("uapi: fwmark is set, reported, and an unchanged mark needs no privilege") {
  Uapi u;
  u.hooks.privileged = false;
  CHECK(u.send("set=1\nfwmark=0\n\n") == "errno=0\n\n");  // wg setconf always sends it
  CHECK(u.hooks.mark_calls == 0);
  u.hooks.privileged = true;
  CHECK(u.send("set=1\nfwmark=51820\n\n") == "errno=0\n\n");
  CHECK(u.get() == "fwmark=51820\nerrno=0\n\n");
  u.hooks.privileged = false;
  CHECK(u.send("set=1\nfwmark=51820\n\n") == "errno=0\n\n");
  CHECK(u.send("set=1\nfwmark=4294967295\n\n") == "errno=-98\n\n");
  CHECK_FALSE(u.open);
  CHECK(u.hooks.mark == 51820);
}

TEST_CASE("uapi: peer keys — preshared_key, endpoint, keepalive, protocol_version, hex case") {
  Uapi u;
  REQUIRE(u.send("set=1\nprivate_key=" + kA.priv + "\npublic_key=" + kB.pub + "\npreshared_key=" + upper(kPsk) +
                 "\nendpoint=[fe80::1%lo]:7\nprotocol_version=1\n\n") == "errno=0\n\n");
  const PeerId b = *u.peer_of(kB.pub);
  CHECK(crypto::key_to_hex(u.dev.peer(b)->preshared_key.data()) == kPsk);
  CHECK(u.dev.peer(b)->endpoint.scope_id == if_nametoindex("lo"));
  CHECK(u.get().find("endpoint=[fe80::1%" + std::to_string(if_nametoindex("lo")) + "]:7\n") != std::string::npos);
  // The upper-case key selects the same peer.
  REQUIRE(u.send("set=1\npublic_key=" + upper(kB.pub) + "\nendpoint=[::ffff:192.0.2.9]:9\npreshared_key=" + kZeros +
                 "\n\n") == "errno=0\n\n");
  CHECK(u.dev.peer_count() == 1);
  CHECK(u.dev.peer(b)->endpoint.family == Family::V4);  // v4-mapped is stored as IPv4
  CHECK(u.dev.peer(b)->preshared_key.is_zero());
  const std::string got = u.get();
  CHECK(got.find("endpoint=192.0.2.9:9\n") != std::string::npos);
  CHECK(got.find("preshared_key=" + kZeros + "\n") != std::string::npos);
}

TEST_CASE("uapi: turning persistent keepalive on sends through the outbox once the peer's lines end") {
  Uapi u;
  // The interval comes before the endpoint: the keepalive (a handshake, no session yet) must
  // still go to that endpoint, as wireguard-go sends it in handlePostConfig.
  REQUIRE(u.send("set=1\nprivate_key=" + kA.priv + "\npublic_key=" + kB.pub +
                 "\npersistent_keepalive_interval=25\nendpoint=198.51.100.4:5555\n\n") == "errno=0\n\n");
  REQUIRE(u.hooks.out.size() >= 1);
  CHECK(u.hooks.out[0].to.same_remote(core::Endpoint::v4(198, 51, 100, 4, 5555)));
  CHECK(u.dev.peer(*u.peer_of(kB.pub))->persistent_keepalive == 25);
  CHECK(u.get().find("persistent_keepalive_interval=25\n") != std::string::npos);
  u.hooks.out.clear();
  u.hooks.clock.advance(std::chrono::seconds(10));
  // Already on: nothing new. Off: nothing either.
  REQUIRE(u.send("set=1\npublic_key=" + kB.pub + "\npersistent_keepalive_interval=30\n\n") == "errno=0\n\n");
  CHECK(u.hooks.out.empty());
  REQUIRE(u.send("set=1\npublic_key=" + kB.pub + "\npersistent_keepalive_interval=0\n\n") == "errno=0\n\n");
  CHECK(u.hooks.out.empty());
  CHECK(u.dev.peer(*u.peer_of(kB.pub))->persistent_keepalive == 0);
  // A peer removed in the same block sends nothing.
  REQUIRE(u.send("set=1\npublic_key=" + kC.pub + "\nendpoint=198.51.100.5:5555\npersistent_keepalive_interval=25\n"
                 "remove=true\n\n") == "errno=0\n\n");
  CHECK(u.hooks.out.empty());
}

TEST_CASE("uapi: inserting a prefix another peer owns moves it, host bits are masked") {
  Uapi u;
  REQUIRE(u.send("set=1\npublic_key=" + kB.pub + "\nallowed_ip=10.0.0.0/24\nallowed_ip=10.0.1.0/24\n\n") ==
          "errno=0\n\n");
  const PeerId b = *u.peer_of(kB.pub);
  REQUIRE(u.send("set=1\npublic_key=" + kC.pub + "\nallowed_ip=10.0.0.0/24\n\n") == "errno=0\n\n");
  const PeerId c = *u.peer_of(kC.pub);
  CHECK(u.owner("10.0.0.5") == c);
  CHECK(u.owner("10.0.1.5") == b);
  std::string got = u.get();
  CHECK(count_lines(got, "allowed_ip=10.0.0.0/24") == 1);
  CHECK(got.find("allowed_ip=10.0.1.0/24\npublic_key=" + kC.pub) != std::string::npos);  // still B's
  // The last one moves too: B shows no allowed IPs at all.
  REQUIRE(u.send("set=1\npublic_key=" + kC.pub + "\nallowed_ip=10.0.1.77/24\n\n") == "errno=0\n\n");
  CHECK(u.owner("10.0.1.5") == c);
  got = u.get();
  CHECK(got.find("persistent_keepalive_interval=0\npublic_key=" + kC.pub) != std::string::npos);
  CHECK(got.find("allowed_ip=10.0.1.0/24\n") != std::string::npos);
  CHECK(u.table.size() == 2);
}

TEST_CASE("uapi: allowed_ip=-prefix removes only this peer's exact prefix") {
  Uapi u;
  REQUIRE(u.send("set=1\npublic_key=" + kB.pub + "\nallowed_ip=10.0.0.0/24\nallowed_ip=10.0.0.0/16\npublic_key=" +
                 kC.pub + "\nallowed_ip=-10.0.0.0/24\nallowed_ip=-192.168.0.0/16\n\n") == "errno=0\n\n");
  const PeerId b = *u.peer_of(kB.pub);
  CHECK(u.owner("10.0.0.1") == b);  // C cannot remove B's prefix
  CHECK(u.table.size() == 2);
  REQUIRE(u.send("set=1\npublic_key=" + kB.pub + "\nallowed_ip=-10.0.0.9/24\n\n") == "errno=0\n\n");
  CHECK(u.table.size() == 1);
  CHECK(u.owner("10.0.0.1") == b);  // now through 10.0.0.0/16
  REQUIRE(u.send("set=1\npublic_key=" + kB.pub + "\nallowed_ip=-10.0.0.0/17\n\n") == "errno=0\n\n");
  CHECK(u.table.size() == 1);  // not an exact prefix of B: nothing
}

TEST_CASE("uapi: replace_allowed_ips and replace_peers") {
  Uapi u;
  REQUIRE(u.send(kConfigure) == "errno=0\n\n");
  REQUIRE(u.send("set=1\npublic_key=" + kB.pub + "\nreplace_allowed_ips=true\nallowed_ip=192.168.0.0/16\n\n") ==
          "errno=0\n\n");
  const PeerId b = *u.peer_of(kB.pub);
  CHECK(u.owner("10.0.0.2") == u.peer_of(kC.pub));  // back to C's 0.0.0.0/0
  CHECK(u.owner("fd00::2") == std::nullopt);
  CHECK(u.owner("192.168.3.3") == b);
  CHECK(u.table.size() == 3);

  REQUIRE(u.send("set=1\nreplace_peers=true\npublic_key=" + kD.pub + "\nallowed_ip=10.0.0.0/8\n\n") == "errno=0\n\n");
  CHECK(u.dev.peer_count() == 1);
  CHECK(u.table.size() == 1);
  CHECK(u.owner("10.0.0.2") == u.peer_of(kD.pub));
  CHECK(u.owner("192.168.3.3") == std::nullopt);
  CHECK(u.hooks.port == 51820);  // device settings are untouched
}

TEST_CASE("uapi: remove=true removes the peer and its prefixes, later lines are ignored") {
  Uapi u;
  REQUIRE(u.send(kConfigure) == "errno=0\n\n");
  REQUIRE(u.send("set=1\npublic_key=" + kB.pub + "\nremove=true\nallowed_ip=10.7.0.0/16\nendpoint=1.2.3.4:5\n\n") ==
          "errno=0\n\n");
  CHECK_FALSE(u.peer_of(kB.pub));
  CHECK(u.dev.peer_count() == 1);
  CHECK(u.table.size() == 2);  // C's two
  CHECK(u.owner("10.7.0.1") == u.peer_of(kC.pub));  // via C's 0.0.0.0/0, not inserted for B
  CHECK(u.owner("fd00::2") == std::nullopt);
  // Removing a peer that does not exist creates nothing.
  REQUIRE(u.send("set=1\npublic_key=" + kD.pub + "\nremove=true\n\n") == "errno=0\n\n");
  CHECK(u.dev.peer_count() == 1);
}

TEST_CASE("uapi: update_only does not create, but updates an existing peer") {
  Uapi u;
  REQUIRE(u.send("set=1\npublic_key=" + kB.pub + "\nupdate_only=true\nallowed_ip=10.0.0.0/8\nendpoint=1.2.3.4:5\n\n") ==
          "errno=0\n\n");
  CHECK(u.dev.peer_count() == 0);
  CHECK(u.table.size() == 0);
  REQUIRE(u.send("set=1\npublic_key=" + kB.pub + "\n\n") == "errno=0\n\n");
  REQUIRE(u.send("set=1\npublic_key=" + kB.pub + "\nupdate_only=true\nallowed_ip=10.0.0.0/8\nendpoint=1.2.3.4:5\n\n") ==
          "errno=0\n\n");
  const PeerId b = *u.peer_of(kB.pub);
  CHECK(u.dev.peer(b)->endpoint.same_remote(core::Endpoint::v4(1, 2, 3, 4, 5)));
  CHECK(u.owner("10.1.1.1") == b);
}

TEST_CASE("uapi: our own public key makes a silent dummy peer") {
  Uapi u;
  REQUIRE(u.send("set=1\nprivate_key=" + kA.priv + "\n\n") == "errno=0\n\n");
  CHECK(u.send("set=1\npublic_key=" + kA.pub +
               "\nallowed_ip=10.0.0.0/8\nendpoint=1.2.3.4:5\npersistent_keepalive_interval=25\npreshared_key=" + kPsk +
               "\nreplace_allowed_ips=true\nupdate_only=true\nremove=true\nprotocol_version=1\n"
               "public_key=" + kB.pub + "\nallowed_ip=10.1.0.0/16\n\n") == "errno=0\n\n");
  CHECK(u.dev.peer_count() == 1);  // only B
  CHECK(u.table.size() == 1);
  CHECK(u.owner("10.0.0.1") == std::nullopt);
  CHECK(u.hooks.out.empty());
  // The dummy's lines are still checked.
  CHECK(u.send("set=1\npublic_key=" + kA.pub + "\nendpoint=bogus\n\n") == "errno=-22\n\n");
}

TEST_CASE("uapi: pipelined requests in one feed are answered in order") {
  Uapi u;
  const std::string in = "get=1\n\nset=1\nlisten_port=5\n\nget=1\n\nset=1\nfwmark=9\n\nget=1\n\n";
  CHECK(u.send(in) == "errno=0\n\nerrno=0\n\nlisten_port=5\nerrno=0\n\nerrno=0\n\nlisten_port=5\nfwmark=9\nerrno=0\n\n");
  CHECK(u.open);
}

TEST_CASE("uapi: a script split byte by byte, or anywhere, gives the same replies and state") {
  const std::string script = kConfigure + "get=1\n\n" + "set=1\npublic_key=" + kC.pub +
                             "\nallowed_ip=10.0.0.2/32\r\nallowed_ip=-0.0.0.0/0\n\nget=1\n\n" + "set=1\nfwmark=0\n\n";
  Uapi whole;
  const std::string want = whole.send(script);
  REQUIRE(whole.open);
  REQUIRE(count_lines(want, "errno=0") == 5);

  Uapi bytewise;
  std::string got;
  for (char ch : script) {
    REQUIRE(bytewise.conn.feed(std::string_view(&ch, 1), got));
  }
  CHECK(got == want);
  CHECK(bytewise.get() == whole.get());

  for (uint64_t seed = 1; seed <= 20; ++seed) {
    CAPTURE(seed);
    std::mt19937_64 rng(seed);
    Uapi split;
    std::string reply;
    for (size_t pos = 0; pos < script.size();) {
      const size_t n = std::min<size_t>(script.size() - pos, 1 + rng() % 97);
      REQUIRE(split.conn.feed(std::string_view(script).substr(pos, n), reply));
      pos += n;
    }
    CHECK(reply == want);
    CHECK(split.get() == whole.get());
  }
}

TEST_CASE("uapi: CR before the newline is dropped in set lines, as bufio.ScanLines does") {
  Uapi u;
  CHECK(u.send("set=1\r\n") == "");  // not in the operation line, though
  CHECK_FALSE(u.open);
  Uapi v;
  CHECK(v.send("set=1\nlisten_port=7\r\n\r\nget=1\n\n") == "errno=0\n\nlisten_port=7\nerrno=0\n\n");
  CHECK(v.open);
}

TEST_CASE("uapi: every bad line gives its errno and closes the connection") {
  const std::string peer = "public_key=" + kB.pub + "\n";
  struct Case {
    std::string lines;
    int err;
  };
  const std::vector<Case> cases = {
      {"private_key", -EPROTO},
      {peer + "endpoint", -EPROTO},
      {"=", -EINVAL},
      {"bogus=1", -EINVAL},
      {"protocol_version=1", -EINVAL},  // a peer key in the device section
      {"private_key=" + kA.priv.substr(1), -EINVAL},
      {"private_key=" + kA.priv + "0", -EINVAL},
      {"private_key=" + std::string(64, 'g'), -EINVAL},
      {"listen_port=65536", -EINVAL},
      {"listen_port=-1", -EINVAL},
      {"listen_port=+5", -EINVAL},
      {"listen_port=", -EINVAL},
      {"listen_port= 5", -EINVAL},
      {"listen_port=0x10", -EINVAL},
      {"listen_port=1", -EADDRINUSE},
      {"fwmark=4294967296", -EINVAL},
      {"fwmark=0x10", -EINVAL},
      {"replace_peers=false", -EINVAL},
      {"replace_peers=TRUE", -EINVAL},
      {"public_key=xyz", -EINVAL},
      {"public_key=" + kB.pub + " ", -EINVAL},
      {peer + "private_key=" + kA.priv, -EINVAL},  // device keys only before the first peer
      {peer + "listen_port=5", -EINVAL},
      {peer + "replace_peers=true", -EINVAL},
      {peer + "preshared_key=00", -EINVAL},
      {peer + "endpoint=", -EINVAL},
      {peer + "endpoint=1.2.3.4", -EINVAL},
      {peer + "endpoint=1.2.3.4:", -EINVAL},
      {peer + "endpoint=1.2.3.4:65536", -EINVAL},
      {peer + "endpoint=01.2.3.4:5", -EINVAL},
      {peer + "endpoint=[1.2.3.4]:5", -EINVAL},
      {peer + "endpoint=::1:5", -EINVAL},
      {peer + "endpoint=[::1]5", -EINVAL},
      {peer + "endpoint=[::1]:", -EINVAL},
      {peer + "endpoint=[::1]:+5", -EINVAL},
      {peer + "endpoint=[::1%]:5", -EINVAL},
      {peer + "endpoint=[fe80::1%nosuchif0]:5", -EINVAL},
      {peer + "endpoint=example.com:51820", -EINVAL},
      {peer + "persistent_keepalive_interval=65536", -EINVAL},
      {peer + "persistent_keepalive_interval=off", -EINVAL},
      {peer + "allowed_ip=", -EINVAL},
      {peer + "allowed_ip=-", -EINVAL},
      {peer + "allowed_ip=--10.0.0.0/8", -EINVAL},
      {peer + "allowed_ip=10.0.0.0", -EINVAL},
      {peer + "allowed_ip=10.0.0.0/33", -EINVAL},
      {peer + "allowed_ip=::/129", -EINVAL},
      {peer + "allowed_ip=10.0.0.0/08", -EINVAL},
      {peer + "allowed_ip=10.0.0.0/+8", -EINVAL},
      {peer + "allowed_ip=10.0.0.0/8 ", -EINVAL},
      {peer + "allowed_ip=fe80::1%lo/64", -EINVAL},
      {peer + "allowed_ip=10.0.0.300/8", -EINVAL},
      {peer + "protocol_version=2", -EINVAL},
      {peer + "protocol_version=", -EINVAL},
      {peer + "update_only=false", -EINVAL},
      {peer + "remove=1", -EINVAL},
      {peer + "replace_allowed_ips=yes", -EINVAL},
      {peer + "fwmark=1", -EINVAL},
      {peer + "bogus=1", -EINVAL},
  };
  for (const Case& c : cases) {
    CAPTURE(c.lines);
    Uapi u;
    CHECK(u.send("set=1\n" + c.lines + "\n\n") == "errno=" + std::to_string(c.err) + "\n\n");
    CHECK_FALSE(u.open);
    CHECK(u.send("get=1\n\n") == "");  // closed for good
    CHECK_FALSE(u.open);
  }
}

TEST_CASE("uapi: after an error the state holds exactly the lines before it") {
  Uapi u;
  CHECK(u.send("set=1\nlisten_port=1234\npublic_key=" + kB.pub + "\nallowed_ip=10.0.0.0/8\npublic_key=" + kC.pub +
               "\nallowed_ip=10.1.0.0/16\npersistent_keepalive_interval=25\nendpoint=bogus\nallowed_ip=10.2.0.0/16\n"
               "public_key=" + kD.pub + "\n\n") == "errno=-22\n\n");
  CHECK_FALSE(u.open);
  CHECK(u.hooks.port == 1234);
  CHECK(u.dev.peer_count() == 2);
  CHECK_FALSE(u.peer_of(kD.pub));
  const PeerId c = *u.peer_of(kC.pub);
  CHECK(u.table.size() == 2);
  CHECK(u.owner("10.1.2.3") == c);
  CHECK(u.owner("10.2.2.3") == u.peer_of(kB.pub));  // via B's /8: C's /16 was never added
  CHECK_FALSE(u.dev.peer(c)->endpoint.valid());
  CHECK(u.dev.peer(c)->persistent_keepalive == 25);
}

TEST_CASE("uapi: malformed operations") {
  {
    Uapi u;  // get must be followed by exactly a blank line
    CHECK(u.send("get=1\nx\n") == "errno=-22\n\n");
    CHECK_FALSE(u.open);
  }
  {
    Uapi u;  // wireguard-go closes on an unknown operation without answering
    CHECK(u.send("get=2\n\n") == "");
    CHECK_FALSE(u.open);
  }
  {
    Uapi u;
    CHECK(u.send("\n") == "");
    CHECK_FALSE(u.open);
  }
  {
    Uapi u;
    CHECK(u.send("GET=1\n\n") == "");
    CHECK_FALSE(u.open);
  }
  {
    Uapi u;  // a good request, then garbage: the answer to the first is still there
    CHECK(u.send("set=1\nfwmark=3\n\nhello\n") == "errno=0\n\n");
    CHECK_FALSE(u.open);
    CHECK(u.hooks.mark == 3);
  }
  {
    Uapi u;  // a partial request is just kept
    CHECK(u.send("set=1\nfwmark=3") == "");
    CHECK(u.open);
    CHECK(u.hooks.mark == 0);
    CHECK(u.send("\n\n") == "errno=0\n\n");
    CHECK(u.hooks.mark == 3);
  }
}

TEST_CASE("uapi: line and buffer limits") {
  {
    Uapi u;
    CHECK(u.send("set=1\nallowed_ip=" + std::string(5000, '1') + "\n\n") == "errno=-71\n\n");
    CHECK_FALSE(u.open);
  }
  {
    Uapi u;  // a line that never ends: closed once it passes the limit, not buffered forever
    REQUIRE(u.send("set=1\nendpoint=") == "");
    const std::string chunk(100, 'a');
    int feeds = 0;
    std::string reply;
    while (u.open && feeds < 1000) {
      reply += u.send(chunk);
      ++feeds;
    }
    CHECK_FALSE(u.open);
    CHECK(feeds <= 41);
    CHECK(reply == "errno=-71\n\n");
  }
  {
    Uapi u;  // an operation line cannot be longer than "get=wgrouter"
    CHECK(u.send("get=wgrouter1") == "");
    CHECK_FALSE(u.open);
  }
  {
    Uapi u;  // the longest accepted line
    const std::string line = "allowed_ip=10.0.0.0/" + std::string(UapiConnection::kMaxLine - 20 - 1, '0') + "8";
    REQUIRE(line.size() == UapiConnection::kMaxLine);
    CHECK(u.send("set=1\npublic_key=" + kB.pub + "\n" + line + "\n\n") == "errno=-22\n\n");  // leading zeros
  }
}

TEST_CASE("uapi: a peer with 100000 allowed IPs is set and read back") {
  Uapi u;
  std::string req = "set=1\npublic_key=" + kB.pub + "\n";
  for (uint32_t i = 0; i < 100000; ++i)
    req += "allowed_ip=10." + std::to_string(i >> 16) + "." + std::to_string((i >> 8) & 255) + "." +
           std::to_string(i & 255) + "/32\n";
  req += "public_key=" + kC.pub + "\nallowed_ip=fd00::/8\n\n";
  REQUIRE(u.send(req) == "errno=0\n\n");
  CHECK(u.table.size() == 100001);
  const std::string got = u.get();
  CHECK(count_lines(got, "allowed_ip=") == 100001);
  CHECK(count_lines(got, "allowed_ip=10.") == 100000);
  CHECK(got.find("allowed_ip=10.0.0.0/32\nallowed_ip=10.0.0.1/32\n") != std::string::npos);  // insertion order
  CHECK(u.owner("10.1.134.159") == u.peer_of(kB.pub));                                       // 100000 - 1
  CHECK(u.owner("10.1.134.160") == std::nullopt);
  // Removing the peer takes every one of them.
  REQUIRE(u.send("set=1\npublic_key=" + kB.pub + "\nremove=true\n\n") == "errno=0\n\n");
  CHECK(u.table.size() == 1);
  CHECK(u.table.check());
}

TEST_CASE("uapi: pipelined gets of a big table stop at the high-water mark and resume") {
  Uapi u;
  std::string req = "set=1\npublic_key=" + kB.pub + "\n";
  for (uint32_t i = 0; i < 60000; ++i)
    req += "allowed_ip=10." + std::to_string(i >> 16) + "." + std::to_string((i >> 8) & 255) + "." +
           std::to_string(i & 255) + "/32\n";
  REQUIRE(u.send(req + "\n") == "errno=0\n\n");
  const std::string one = u.get();
  REQUIRE(one.size() > UapiConnection::kReplyHighWater / 4);

  std::string pipelined;
  for (int i = 0; i < 8; ++i) pipelined += "get=1\n\n";
  std::string all;
  std::string reply;
  REQUIRE(u.conn.feed(pipelined, reply));
  CHECK(u.conn.pending());
  CHECK(reply.size() < 8 * one.size());
  int rounds = 1;
  while (u.conn.pending() && rounds < 20) {
    all += reply;
    reply.clear();
    REQUIRE(u.conn.feed({}, reply));
    ++rounds;
  }
  all += reply;
  CHECK_FALSE(u.conn.pending());
  CHECK(rounds > 1);
  CHECK(all.size() == 8 * one.size());
  std::string want;
  for (int i = 0; i < 8; ++i) want += one;
  CHECK(all == want);
}

TEST_CASE("uapi: a get of many peers comes in slices of kGetPeersPerFeed; input behind it waits its turn") {
  Uapi u;
  constexpr size_t kPeers = 1000;
  std::string req = "set=1\n";
  testing::SeededRng rng(11);
  for (size_t i = 0; i < kPeers; ++i) {
    uint8_t pub[32];
    rng.fill(pub);
    char hex[crypto::kKeyHexLen + 1];
    crypto::key_to_hex(hex, pub);
    req += "public_key=" + std::string(hex, crypto::kKeyHexLen) + "\nallowed_ip=10.9." + std::to_string(i >> 8) + "." +
           std::to_string(i & 255) + "/32\n";
  }
  REQUIRE(u.send(req + "\n") == "errno=0\n\n");
  REQUIRE(u.dev.peer_count() == kPeers);
  UapiTarget target = u.conn_target();
  std::string whole;
  append_get_reply(target, whole);
  CHECK(count_lines(whole, "public_key=") == kPeers);

  // A get, then a set and a get pipelined behind it.
  std::string reply;
  REQUIRE(u.conn.feed("get=1\n\nset=1\nlisten_port=7\n\nget=1\n\n", reply));
  CHECK(count_lines(reply, "public_key=") == UapiConnection::kGetPeersPerFeed);
  CHECK(u.conn.pending());
  CHECK(u.hooks.port == 0);  // the set waits behind the get
  std::string all = reply;
  int feeds = 1;
  while (u.conn.pending() && feeds < 100) {
    reply.clear();
    REQUIRE(u.conn.feed(feeds == 2 ? "get=1\n\n" : "", reply));  // more input arrives mid-get
    CHECK(count_lines(reply, "public_key=") <= UapiConnection::kGetPeersPerFeed);
    all += reply;
    ++feeds;
  }
  CHECK_FALSE(u.conn.pending());
  CHECK(u.hooks.port == 7);
  std::string with_port;
  append_get_reply(target, with_port);
  CHECK(all == whole + "errno=0\n\n" + with_port + with_port);
  // Slices: 1000 peers / 256 per feed = 4 for each of the three gets, the set and the
  // finished gets' tails ride along with the next slice.
  CHECK(feeds >= 3 * static_cast<int>((kPeers + UapiConnection::kGetPeersPerFeed - 1) / UapiConnection::kGetPeersPerFeed) - 2);
}

TEST_CASE("uapi: endpoint and prefix parsers") {
  auto ep = parse_uapi_endpoint("192.0.2.1:51820");
  REQUIRE(ep);
  CHECK(ep->family == Family::V4);
  CHECK(ep->port == 51820);
  CHECK(core::to_string(*ep) == "192.0.2.1:51820");
  ep = parse_uapi_endpoint("[2001:db8::1]:0");
  REQUIRE(ep);
  CHECK(core::to_string(*ep) == "[2001:db8::1]:0");
  ep = parse_uapi_endpoint("[fe80::1%7]:5");
  REQUIRE(ep);
  CHECK(ep->scope_id == 7);
  CHECK(core::to_string(*ep) == "[fe80::1%7]:5");
  ep = parse_uapi_endpoint("[::ffff:10.1.2.3]:5");
  REQUIRE(ep);
  CHECK(core::to_string(*ep) == "10.1.2.3:5");
  CHECK_FALSE(parse_uapi_endpoint(std::string_view("1.2.3.4\0:5", 10)));
  CHECK_FALSE(parse_uapi_endpoint(std::string_view("1.2.3.4:5\0", 10)));

  auto p = parse_uapi_prefix("10.1.2.3/8");
  REQUIRE(p);
  CHECK(core::to_string(*p) == "10.0.0.0/8");
  p = parse_uapi_prefix("::ffff:1.2.3.4/96");
  REQUIRE(p);
  CHECK(p->family == Family::V6);  // a mapped prefix stays IPv6, as in netip.ParsePrefix
  CHECK(parse_uapi_prefix("0.0.0.0/0"));
  CHECK_FALSE(parse_uapi_prefix(std::string_view("10.0.0.1\0x/8", 12)));
  CHECK_FALSE(parse_uapi_prefix("10.0.0.1/8/8"));
}

}  // namespace wg::config

namespace wg::config {

TEST_CASE("uapi: get=wgrouter adds drop counters by reason after the device keys") {
  Uapi u;
  u.dev.count_drop(core::Drop::NoRoute);
  u.dev.count_drop(core::Drop::NoRoute);
  u.dev.count_drop(core::Drop::BadMac1);
  const std::string plain = u.get();
  CHECK(plain.find("drop_") == std::string::npos);  // stock `wg` never sees the extension
  const std::string ext = u.send("get=wgrouter\n\n");
  CHECK(u.open);
  CHECK(ext.find("drop_no_route=2\n") != std::string::npos);
  CHECK(ext.find("drop_bad_mac1=1\n") != std::string::npos);
  CHECK(ext.find("drop_replayed_counter=0\n") != std::string::npos);
  CHECK(ext.find("drop_none=") == std::string::npos);
  CHECK(std::string_view(ext).ends_with("errno=0\n\n"));
}

}  // namespace wg::config
