// tests/core/harness.hpp — two Devices joined by an in-memory wire, a fake clock and a
// deterministic RNG, for tests, fuzz targets and benchmarks. No doctest in here.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <span>
#include <vector>

#include "core/cookie.hpp"
#include "core/device.hpp"
#include "crypto/blake2s.hpp"
#include "crypto/x25519.hpp"

namespace wg::testing {

using namespace wg::core;

// splitmix64: deterministic and good enough to make distinct indices and keys.
struct SeededRng : Rng {
  uint64_t state;
  explicit SeededRng(uint64_t seed = 1) : state(seed) {}
  void fill(std::span<uint8_t> out) override {
    for (auto& b : out) {
      state += 0x9e3779b97f4a7c15ULL;
      uint64_t z = state;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      b = static_cast<uint8_t>(z ^ (z >> 31));
    }
  }
};

// Hands out preset bytes first (for known-answer tests), then falls back to a SeededRng.
struct ScriptedRng : Rng {
  std::deque<uint8_t> script;
  SeededRng fallback{7};
  void push(std::span<const uint8_t> bytes) { script.insert(script.end(), bytes.begin(), bytes.end()); }
  void fill(std::span<uint8_t> out) override {
    for (auto& b : out) {
      if (script.empty()) {
        fallback.fill(std::span(&b, 1));
      } else {
        b = script.front();
        script.pop_front();
      }
    }
  }
};

// Writes a correct mac1 for receiver `to` over msg (a whole initiation or response), so a
// message changed past its MAC still reaches the checks behind mac1.
inline void fix_mac1(std::span<uint8_t> msg, const PublicKey& to) {
  uint8_t key[32];
  derive_label_key(key, kLabelMac1, to);
  const size_t off = msg.size() - 2 * kMacLen;
  crypto::blake2s(msg.subspan(off, kMacLen), msg.first(off), std::span<const uint8_t>(key, 32));
}

struct FakeClock {
  Instant now{std::chrono::seconds(1000)};   // arbitrary boot-time origin
  WallTime wall{std::chrono::seconds(1'700'000'000)};
  void advance(Duration d) {
    now = now + d;
    wall.since_epoch += d;
  }
};

struct Datagram {
  int to;  // 0 = a, 1 = b
  Endpoint from;
  std::vector<uint8_t> bytes;
};

struct Delivered {
  int at;
  RxResult result;
  std::vector<uint8_t> plaintext;  // copy of result.plaintext
};

// Two peers that know each other. a knows b's endpoint; b learns a's from the handshake.
struct Pair {
  FakeClock clock;
  Rng* rng;
  SeededRng own_rng;
  Device dev[2];
  PeerId peer[2]{kNoPeer, kNoPeer};
  Endpoint addr[2]{Endpoint::v4(192, 0, 2, 1, 51820), Endpoint::v4(198, 51, 100, 2, 51820)};
  Outbox out[2];
  std::deque<Datagram> wire;
  std::vector<Datagram> sent_log;    // every datagram that went on the wire
  std::vector<Delivered> delivered;  // every receive() result
  // Returns false to lose a datagram (it is still logged in sent_log).
  std::function<bool(const Datagram&)> link = [](const Datagram&) { return true; };

  explicit Pair(uint64_t seed = 1, const uint8_t* priv_a = nullptr, const uint8_t* priv_b = nullptr,
                Rng* rng_override = nullptr)
      : rng(rng_override ? rng_override : &own_rng), own_rng(seed) {
    uint8_t k[2][32];
    for (int i = 0; i < 2; ++i) {
      const uint8_t* given = i == 0 ? priv_a : priv_b;
      if (given)
        std::memcpy(k[i], given, 32);
      else
        own_rng.fill(k[i]);
      dev[i].set_private_key(env(), k[i], out[i]);
    }
    for (int i = 0; i < 2; ++i) peer[i] = *dev[i].add_peer(dev[1 - i].identity().public_key);
    dev[0].set_endpoint(peer[0], addr[1]);
  }

  Env env() { return Env{clock.now, clock.wall, *rng}; }
  Peer& p(int i) { return *dev[i].peer(peer[i]); }

  // Moves device i's outbox onto the wire.
  void collect(int i) {
    for (size_t k = 0; k < out[i].size(); ++k) {
      auto item = out[i][k];
      Datagram d{1 - i, addr[i], {item.bytes.begin(), item.bytes.end()}};
      sent_log.push_back(d);
      if (link(d)) wire.push_back(std::move(d));
    }
    out[i].clear();
  }

  // Delivers until the wire is quiet (bounded).
  void pump(int max_steps = 1000) {
    collect(0);
    collect(1);
    for (int s = 0; s < max_steps && !wire.empty(); ++s) {
      Datagram d = std::move(wire.front());
      wire.pop_front();
      RxResult r = dev[d.to].receive(env(), d.from, d.bytes, out[d.to]);
      delivered.push_back({d.to, r, {r.plaintext.begin(), r.plaintext.end()}});
      collect(d.to);
      collect(1 - d.to);
    }
  }

  // Device i sends an inner packet of `len` bytes (a valid IPv4 header, then `fill`).
  TxResult send_ip(int i, size_t len, uint8_t fill = 0xab) {
    std::vector<uint8_t> buf(send_capacity(len));
    write_ipv4(std::span(buf).subspan(data::kHeaderLen, len), fill);
    TxResult r = dev[i].send(env(), peer[i], buf, len, out[i]);
    if (r.status == TxStatus::Sent) {
      Datagram d{1 - i, addr[i], {r.datagram.begin(), r.datagram.end()}};
      sent_log.push_back(d);
      if (link(d)) wire.push_back(std::move(d));
    }
    collect(i);
    return r;
  }

  void tick() {
    for (int i = 0; i < 2; ++i) {
      dev[i].tick(env(), out[i]);
      collect(i);
    }
  }

  // Advances the clock in steps, ticking and pumping after each.
  void run_for(Duration total, Duration step = std::chrono::milliseconds(100)) {
    for (Duration t{0}; t < total; t += step) {
      clock.advance(step);
      tick();
      pump();
    }
  }

  // Handshake with a's staged keepalive-free data packet; returns true when both sides can send.
  bool handshake() {
    send_ip(0, 60);
    pump();
    return p(0).keypairs.current && p(1).keypairs.current;
  }

  // Out of line: inlined into callers, GCC 12 reports a bogus -Wstringop-overflow here.
  [[gnu::noinline]] static void write_ipv4(std::span<uint8_t> ip, uint8_t fill) {
    std::fill(ip.begin(), ip.end(), fill);
    if (ip.size() < 20) return;
    std::fill(ip.begin(), ip.begin() + 20, uint8_t{0});
    ip[0] = 0x45;
    ip[2] = static_cast<uint8_t>(ip.size() >> 8);
    ip[3] = static_cast<uint8_t>(ip.size());
    ip[8] = 64;
    ip[9] = 253;
  }

  size_t count_sent(int from, MessageType t, size_t since = 0) const {
    size_t n = 0;
    for (size_t k = since; k < sent_log.size(); ++k)
      if (sent_log[k].to == 1 - from && sent_log[k].bytes[0] == static_cast<uint8_t>(t)) ++n;
    return n;
  }
  size_t count_keepalives(int from, size_t since = 0) const {
    size_t n = 0;
    for (size_t k = since; k < sent_log.size(); ++k)
      if (sent_log[k].to == 1 - from && sent_log[k].bytes.size() == data::kMinLen) ++n;
    return n;
  }
};

}  // namespace wg::testing
