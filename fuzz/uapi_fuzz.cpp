// fuzz/uapi_fuzz.cpp — arbitrary bytes into a UapiConnection on a small device (own key, two
// peers), fed whole to one world and in two parts, split at a fuzzer-chosen point, to another.
// Checks: no crash or UB; both worlds answer the same bytes and end in the same state; every
// reply ends in "\n\n"; the allowed-IPs table is well formed and names only live peers.
// Input bytes 0x01-0x1c (except \n, \r) expand to protocol tokens (operations, keys, the peers'
// hex keys, a few values) so the fuzzer reaches deep set paths without a seed corpus.
#include <cerrno>
#include <cstdio>
#include <string>

#include "config/uapi.hpp"
#include "core/harness.hpp"
#include "crypto/encoding.hpp"
#include "crypto/x25519.hpp"

namespace {

using namespace wg;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "uapi fuzz invariant violated: %s\n", what);
  std::fflush(stderr);
  __builtin_trap();
}
void check(bool ok, const char* what) {
  if (!ok) fail(what);
}

struct Hooks final : config::UapiHooks {
  testing::FakeClock clock;
  testing::SeededRng rng{17};
  core::Outbox out;
  uint16_t port = 51820;
  uint32_t mark = 0;
  uint16_t next_port = 40000;

  core::Env env() override { return core::Env{clock.now, clock.wall, rng}; }
  core::Outbox& outbox() override { return out; }
  uint16_t listen_port() const override { return port; }
  int set_listen_port(uint16_t p) override {
    if (p == 1) return -EADDRINUSE;
    port = p ? p : next_port++;
    return 0;
  }
  uint32_t fwmark() const override { return mark; }
  int set_fwmark(uint32_t m) override {
    if (m == 0xdead) return -EPERM;
    mark = m;
    return 0;
  }
};

struct Keys {
  uint8_t priv[32];
  std::string priv_hex;
  std::string pub_hex;
};

Keys make_keys(uint8_t seed) {
  Keys k;
  for (int i = 0; i < 32; ++i) k.priv[i] = static_cast<uint8_t>(seed * 29 + i * 7 + 1);
  uint8_t pub[32];
  crypto::x25519_public(pub, k.priv);
  k.priv_hex = crypto::key_to_hex(k.priv);
  k.pub_hex = crypto::key_to_hex(pub);
  return k;
}

const Keys& keys(int i) {
  static const Keys k[3] = {make_keys(1), make_keys(2), make_keys(3)};  // own, B, C
  return k[i];
}

struct World {
  core::Device dev;
  core::RouteTable table;
  Hooks hooks;
  config::UapiConnection conn{config::UapiTarget{dev, table, hooks}};

  World() {
    dev.set_private_key(hooks.env(), keys(0).priv, hooks.out);
    for (int i = 1; i <= 2; ++i) {
      core::PublicKey pk;
      if (!crypto::key_from_hex(pk.data(), keys(i).pub_hex)) fail("world: key");
      const core::PeerId id = *dev.add_peer(pk);
      table.insert(*core::parse_prefix(i == 1 ? "10.0.0.0/8" : "fd00::/8"), core::RouteTarget::peer(id));
    }
  }

  std::string state() {
    config::UapiTarget t{dev, table, hooks};
    std::string s;
    config::append_get_reply(t, s);
    return s;
  }

  void check_table() {
    check(table.check(), "table structure");
    table.for_each([&](const core::Prefix&, const core::RouteTarget& t) { check(dev.peer(t.id) != nullptr, "prefix of a removed peer"); });
  }
};

std::string expand(const uint8_t* data, size_t size) {
  std::string out;
  for (size_t i = 0; i < size; ++i) {
    const uint8_t c = data[i];
    switch (c) {
      case 0x01: out += "set=1\n"; break;
      case 0x02: out += "get=1\n\n"; break;
      case 0x03: out += "public_key=" + keys(1).pub_hex + "\n"; break;
      case 0x04: out += "public_key=" + keys(2).pub_hex + "\n"; break;
      case 0x05: out += "public_key=" + keys(0).pub_hex + "\n"; break;
      case 0x06: out += "private_key=" + keys(1).priv_hex; break;  // makes B our own key
      case 0x07: out += "allowed_ip="; break;
      case 0x08: out += "endpoint="; break;
      case 0x09: out += "preshared_key=" + keys(2).priv_hex; break;
      case 0x0b: out += "persistent_keepalive_interval="; break;
      case 0x0c: out += "remove=true\n"; break;
      case 0x0e: out += "update_only=true\n"; break;
      case 0x0f: out += "replace_allowed_ips=true\n"; break;
      case 0x10: out += "replace_peers=true\n"; break;
      case 0x11: out += "listen_port="; break;
      case 0x12: out += "fwmark="; break;
      case 0x13: out += "private_key=" + std::string(64, '0'); break;
      case 0x14: out += "protocol_version=1\n"; break;
      case 0x15: out += "10.0.0.0/8\n"; break;
      case 0x16: out += "10.1.2.3/24\n"; break;
      case 0x17: out += "fd00::1/128\n"; break;
      case 0x18: out += "-10.0.0.0/8\n"; break;
      case 0x19: out += "192.0.2.1:51820\n"; break;
      case 0x1a: out += "[fe80::1%lo]:5\n"; break;
      case 0x1b: out += "25\n"; break;
      case 0x1c: out += "0\n"; break;
      default: out += static_cast<char>(c); break;
    }
  }
  return out;
}

void check_reply(const std::string& reply) {
  if (reply.empty()) return;
  check(reply.size() >= 9 && reply.compare(reply.size() - 2, 2, "\n\n") == 0, "reply does not end in \\n\\n");
}

// Feeds bytes as io/ does: each reply written out (appended to `all`) before the next call, and
// held input resumed while pending().
bool feed_all(World& w, std::string_view bytes, std::string& all) {
  std::string reply;
  bool open = w.conn.feed(bytes, reply);
  all += reply;
  while (open && w.conn.pending()) {
    reply.clear();
    open = w.conn.feed({}, reply);
    all += reply;
  }
  return open;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const std::string input = expand(data + 2, size - 2);
  const size_t split = input.empty() ? 0 : (size_t{data[0]} | size_t{data[1]} << 8) % (input.size() + 1);

  World whole;
  std::string reply_whole;
  const bool open_whole = feed_all(whole, input, reply_whole);
  check_reply(reply_whole);
  whole.check_table();

  World parts;
  std::string reply_parts;
  bool open_parts = feed_all(parts, std::string_view(input).substr(0, split), reply_parts);
  if (open_parts) open_parts = feed_all(parts, std::string_view(input).substr(split), reply_parts);
  check_reply(reply_parts);
  parts.check_table();

  check(open_whole == open_parts, "split changed whether the connection stays open");
  check(reply_whole == reply_parts, "split changed the replies");
  check(whole.state() == parts.state(), "split changed the resulting state");
  return 0;
}
