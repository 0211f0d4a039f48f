// tools/selftest.cpp — `wgrouter selftest`: two in-process peers with fresh keys run a real
// handshake and a transport round trip through the protocol core, and print each step.
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <chrono>
#include <deque>
#include <string>
#include <vector>

#include "core/device.hpp"
#include "crypto/aead.hpp"
#include "crypto/encoding.hpp"
#include "crypto/random.hpp"
#include "crypto/x25519.hpp"
#include "tools/commands.hpp"
#include "tools/usage.hpp"

namespace wg::tools {

namespace {

constexpr const char* kUsage =
    "Usage: wgrouter selftest\n"
    "\n"
    "Two peers with fresh keys in this process run a handshake and a transport round trip\n"
    "through the protocol core and the AEAD backend in use (WGROUTER_AEAD), printing each\n"
    "step. Touches no network. Exit status 0 when every step worked.\n"
    "\n"
    "  -h, --help   print this help\n";

using core::Device;
using core::Endpoint;
using core::Env;
using core::Outbox;
using core::PeerId;

struct SystemRng : core::Rng {
  void fill(std::span<uint8_t> out) override { crypto::random_bytes(out); }
};

struct Node {
  const char* name;
  Device dev;
  PeerId peer = core::kNoPeer;
  Endpoint addr;
  Outbox out;
};

struct Wire {
  Node* to;
  std::vector<uint8_t> bytes;
  Endpoint from;
};

Env env_now(core::Rng& rng) {
  using namespace std::chrono;
  return Env{core::Instant{duration_cast<nanoseconds>(steady_clock::now().time_since_epoch())},
             core::WallTime{duration_cast<nanoseconds>(system_clock::now().time_since_epoch())}, rng};
}

const char* type_name(const std::vector<uint8_t>& b) {
  switch (b.empty() ? 0 : b[0]) {
    case 1: return "handshake initiation";
    case 2: return "handshake response";
    case 3: return "cookie reply";
    case 4: return b.size() == core::data::kMinLen ? "keepalive" : "transport data";
    default: return "?";
  }
}

// Moves what src's outbox holds onto the wire towards dst.
void collect(Node& src, Node& dst, std::deque<Wire>& wire) {
  for (size_t i = 0; i < src.out.size(); ++i) {
    auto item = src.out[i];
    wire.push_back({&dst, {item.bytes.begin(), item.bytes.end()}, src.addr});
  }
  src.out.clear();
}

}  // namespace

int cmd_selftest(int argc, char** argv) {
  if (argc == 2 && is_help_option(argv[1])) return print_help(kUsage);
  if (argc != 1) {
    const std::string a = argv[1];
    const char* what = a.starts_with('-') ? "unknown option `" : "unexpected argument `";
    return usage_error(kUsage, "selftest", what + a + "'");
  }
  if (std::string error; !crypto::select_aead_backend_from_env(error)) {
    std::fprintf(stderr, "wgrouter: WGROUTER_AEAD: %s\n", error.c_str());
    return 1;
  }
  SystemRng rng;
  Node a{"alice", {}, core::kNoPeer, Endpoint::v4(192, 0, 2, 1, 51820), {}};
  Node b{"bob", {}, core::kNoPeer, Endpoint::v4(198, 51, 100, 1, 51821), {}};

  // Keys exactly as `wgrouter genkey` makes them.
  crypto::Secret<32> ka, kb;
  crypto::random_bytes(ka.bytes);
  crypto::random_bytes(kb.bytes);
  crypto::x25519_clamp(ka.data());
  crypto::x25519_clamp(kb.data());
  a.dev.set_private_key(env_now(rng), ka.data(), a.out);
  b.dev.set_private_key(env_now(rng), kb.data(), b.out);
  std::printf("aead backend       %s\n", crypto::describe(crypto::default_aead_backend()).c_str());
  std::printf("alice public key   %s\n", crypto::key_to_base64(a.dev.identity().public_key.data()).c_str());
  std::printf("bob public key     %s\n", crypto::key_to_base64(b.dev.identity().public_key.data()).c_str());

  a.peer = *a.dev.add_peer(b.dev.identity().public_key);
  b.peer = *b.dev.add_peer(a.dev.identity().public_key);
  a.dev.set_endpoint(a.peer, b.addr);  // bob learns alice's address from her handshake

  // Alice sends an IPv4 packet; with no session it is staged and a handshake starts.
  const char msg[] = "hello through wireguard";
  std::vector<uint8_t> buf(core::send_capacity(20 + sizeof(msg)));
  uint8_t* ip = buf.data() + core::data::kHeaderLen;
  const size_t ip_len = 20 + sizeof(msg);
  ip[0] = 0x45;
  ip[2] = static_cast<uint8_t>(ip_len >> 8);
  ip[3] = static_cast<uint8_t>(ip_len);
  ip[8] = 64;
  ip[9] = 253;  // experimental protocol number
  std::memcpy(ip + 20, msg, sizeof(msg));
  core::TxResult tx = a.dev.send(env_now(rng), a.peer, buf, ip_len, a.out);
  std::printf("alice -> bob       %zu-byte packet %s\n", ip_len, tx.status == core::TxStatus::Staged ? "staged, handshake started" : "sent");

  std::deque<Wire> wire;
  collect(a, b, wire);
  bool alice_got_reply = false, bob_got_data = false;
  for (int steps = 0; !wire.empty() && steps < 32; ++steps) {
    Wire w = std::move(wire.front());
    wire.pop_front();
    Node& dst = *w.to;
    Node& src = &dst == &a ? b : a;
    core::RxResult r = dst.dev.receive(env_now(rng), w.from, w.bytes, dst.out);
    std::printf("%-5s -> %-5s      %-21s %3zu bytes: %s\n", src.name, dst.name, type_name(w.bytes), w.bytes.size(),
                r.kind == core::RxKind::Dropped ? std::string(core::drop_name(r.drop)).c_str() : "accepted");
    if (r.kind == core::RxKind::Data && &dst == &b) {
      bob_got_data = r.plaintext.size() == ip_len && std::memcmp(r.plaintext.data() + 20, msg, sizeof(msg)) == 0;
      std::printf("bob received       \"%s\"\n", reinterpret_cast<const char*>(r.plaintext.data() + 20));
      // Bob answers with the same packet reversed in direction.
      std::vector<uint8_t> reply(core::send_capacity(r.plaintext.size()));
      std::memcpy(reply.data() + core::data::kHeaderLen, r.plaintext.data(), r.plaintext.size());
      core::TxResult back = b.dev.send(env_now(rng), b.peer, reply, r.plaintext.size(), b.out);
      if (back.status == core::TxStatus::Sent)
        wire.push_back({&a, {back.datagram.begin(), back.datagram.end()}, b.addr});
    } else if (r.kind == core::RxKind::Data && &dst == &a) {
      alice_got_reply = r.plaintext.size() == ip_len && std::memcmp(r.plaintext.data() + 20, msg, sizeof(msg)) == 0;
      std::printf("alice received     \"%s\"\n", reinterpret_cast<const char*>(r.plaintext.data() + 20));
    }
    collect(dst, src, wire);
  }

  auto stats = [](const char* who, const Device& d, PeerId id) {
    const core::Peer& p = *d.peer(id);
    std::printf("%-18s rx %" PRIu64 " bytes, tx %" PRIu64 " bytes, drops %" PRIu64 "\n", who, p.rx_bytes, p.tx_bytes,
                d.drops().total());
  };
  stats("alice", a.dev, a.peer);
  stats("bob", b.dev, b.peer);
  const bool ok = bob_got_data && alice_got_reply;
  std::printf("selftest           %s\n", ok ? "PASSED: handshake completed, data crossed both ways"
                                            : "FAILED");
  return ok ? 0 : 1;
}

}  // namespace wg::tools
