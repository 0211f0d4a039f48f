// bench/handshake_bench.cpp — handshakes per second between two Devices (the whole exchange,
// and each half through the handshake API), and the transport data path through Device::send
// and Device::receive at 64 and 1420 bytes (Google Benchmark).
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <vector>

#include "../tests/core/harness.hpp"
#include "core/cookie.hpp"
#include "core/handshake.hpp"
#include "crypto/x25519.hpp"

namespace {

using namespace wg::core;
using wg::testing::Pair;
using wg::testing::SeededRng;

// The whole exchange through two Devices: a's initiation, b's response, a's first data packet
// (b's key confirmation). Each round a's link goes down and up, which forgets its sessions,
// and the clock moves 25 ms, so the next initiation is neither a replay nor a flood.
void bm_handshake_devices(benchmark::State& state) {
  Pair pr;
  if (!pr.handshake()) {
    state.SkipWithError("first handshake failed");
    return;
  }
  for (auto _ : state) {
    pr.dev[0].set_up(pr.env(), false, pr.out[0]);
    pr.dev[0].set_up(pr.env(), true, pr.out[0]);
    pr.clock.advance(std::chrono::milliseconds(25));
    pr.sent_log.clear();
    pr.delivered.clear();
    pr.send_ip(0, 60);
    pr.pump();
    // b: initiation, a: response, b: the staged packet on the new session.
    if (pr.delivered.size() != 3 || pr.delivered[1].result.kind != RxKind::Handshake ||
        pr.delivered[2].result.kind != RxKind::Data) {
      state.SkipWithError("handshake did not complete");
      break;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

// Two identities, their shared static-static DH, and one real exchange to take halves from.
struct Halves {
  SeededRng rng{3};
  Instant now{std::chrono::seconds(1000)};
  WallTime wall{std::chrono::seconds(1'700'000'000)};
  StaticIdentity a, b;
  PresharedKey psk;
  wg::crypto::Secret<32> ss;
  PublicKey b_pub, a_pub;
  CookieMaker a_macs, b_macs;  // a's macs for b, b's for a
  CookieChecker a_check, b_check;
  std::vector<uint8_t> init = std::vector<uint8_t>(initiation::kLen);
  std::vector<uint8_t> resp = std::vector<uint8_t>(response::kLen);
  Handshake a_created;   // a after its initiation
  Handshake b_consumed;  // b after consuming it
  bool ok = false;

  Env env() { return Env{now, wall, rng}; }
  PeerKeys a_to_b() const { return {b.public_key, psk, ss}; }
  PeerKeys b_to_a() const { return {a.public_key, psk, ss}; }

  Halves() {
    uint8_t k[32];
    rng.fill(k);
    a.set(k);
    rng.fill(k);
    b.set(k);
    if (!wg::crypto::x25519(ss.data(), a.private_key.data(), b.public_key.data())) return;
    a_macs.set_peer_key(b.public_key);
    b_macs.set_peer_key(a.public_key);
    a_check.set_public_key(a.public_key);
    b_check.set_public_key(b.public_key);
    if (!create_initiation(env(), a, a_to_b(), a_created, 1, init)) return;
    a_macs.add_macs(env(), init);
    InitiationScratch scratch;
    if (!decrypt_initiation_static(b, init, scratch)) return;
    if (consume_initiation(env(), b_to_a(), b_consumed, scratch, init) != Drop::None) return;
    Handshake h = b_consumed;
    if (!create_response(env(), b_to_a(), h, 2, resp)) return;
    b_macs.add_macs(env(), resp);
    ok = true;
  }
};

// Initiator, message 1: ephemeral key, two DHs (one precomputed), two AEADs, macs.
void bm_initiation_create(benchmark::State& state) {
  Halves h;
  if (!h.ok) return state.SkipWithError("setup failed");
  std::vector<uint8_t> msg(initiation::kLen);
  for (auto _ : state) {
    Handshake hs;
    if (!create_initiation(h.env(), h.a, h.a_to_b(), hs, 1, msg)) {
      state.SkipWithError("create_initiation failed");
      break;
    }
    h.a_macs.add_macs(h.env(), msg);
    benchmark::DoNotOptimize(msg.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

// Responder, message 1: mac1, decrypt the static key, then the timestamp (into a fresh state,
// so the same message is never a replay).
void bm_initiation_consume(benchmark::State& state) {
  Halves h;
  if (!h.ok) return state.SkipWithError("setup failed");
  for (auto _ : state) {
    Handshake hs;
    InitiationScratch scratch;
    if (!h.b_check.check_mac1(h.init) || !decrypt_initiation_static(h.b, h.init, scratch) ||
        consume_initiation(h.env(), h.b_to_a(), hs, scratch, h.init) != Drop::None) {
      state.SkipWithError("consume failed");
      break;
    }
    benchmark::DoNotOptimize(hs.state);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

// Responder, message 2: ephemeral key, two DHs, the psk step, macs, the transport keys.
void bm_response_create(benchmark::State& state) {
  Halves h;
  if (!h.ok) return state.SkipWithError("setup failed");
  std::vector<uint8_t> msg(response::kLen);
  for (auto _ : state) {
    Handshake hs = h.b_consumed;
    if (!create_response(h.env(), h.b_to_a(), hs, 2, msg)) {
      state.SkipWithError("create_response failed");
      break;
    }
    h.b_macs.add_macs(h.env(), msg);
    auto kp = begin_session(h.env(), hs);
    benchmark::DoNotOptimize(kp.get());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

// Initiator, message 2: mac1, two DHs, the psk step, the tag, the transport keys.
void bm_response_consume(benchmark::State& state) {
  Halves h;
  if (!h.ok) return state.SkipWithError("setup failed");
  for (auto _ : state) {
    Handshake hs = h.a_created;
    if (!h.a_check.check_mac1(h.resp) || consume_response(h.a, h.a_to_b(), hs, h.resp) != Drop::None) {
      state.SkipWithError("consume_response failed");
      break;
    }
    auto kp = begin_session(h.env(), hs);
    benchmark::DoNotOptimize(kp.get());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

// One inner packet of state.range(0) bytes: a's Device::send encrypts it in place, b's
// Device::receive decrypts it in place, which leaves the buffer ready for the next round.
void bm_data_send_receive(benchmark::State& state) {
  const size_t len = static_cast<size_t>(state.range(0));
  Pair pr;
  if (!pr.handshake()) return state.SkipWithError("handshake failed");
  std::vector<uint8_t> buf(send_capacity(len));
  Pair::write_ipv4(std::span(buf).subspan(data::kHeaderLen, len), 0x42);
  Outbox out_a, out_b;
  for (auto _ : state) {
    const Env env = pr.env();
    const TxResult tx = pr.dev[0].send(env, pr.peer[0], buf, len, out_a);
    if (tx.status != TxStatus::Sent) {
      state.SkipWithError("send failed");
      break;
    }
    const RxResult rx = pr.dev[1].receive(env, pr.addr[0], tx.datagram, out_b);
    if (rx.kind != RxKind::Data || rx.plaintext.size() != len) {
      state.SkipWithError("receive failed");
      break;
    }
    out_a.clear();
    out_b.clear();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(len));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

// Device::send alone (the buffer's ciphertext is encrypted again each round; content does not
// matter to the cost).
void bm_data_send(benchmark::State& state) {
  const size_t len = static_cast<size_t>(state.range(0));
  Pair pr;
  if (!pr.handshake()) return state.SkipWithError("handshake failed");
  std::vector<uint8_t> buf(send_capacity(len));
  Pair::write_ipv4(std::span(buf).subspan(data::kHeaderLen, len), 0x42);
  Outbox out;
  for (auto _ : state) {
    const TxResult tx = pr.dev[0].send(pr.env(), pr.peer[0], buf, len, out);
    if (tx.status != TxStatus::Sent) {
      state.SkipWithError("send failed");
      break;
    }
    benchmark::DoNotOptimize(tx.datagram.data());
    out.clear();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(len));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

// Device::receive of a forged data message on a live index: what a flood of junk costs.
void bm_data_receive_forged(benchmark::State& state) {
  const size_t len = static_cast<size_t>(state.range(0));
  Pair pr;
  if (!pr.handshake()) return state.SkipWithError("handshake failed");
  std::vector<uint8_t> buf(send_capacity(len));
  Pair::write_ipv4(std::span(buf).subspan(data::kHeaderLen, len), 0x42);
  Outbox out;
  const TxResult tx = pr.dev[0].send(pr.env(), pr.peer[0], buf, len, out);
  if (tx.status != TxStatus::Sent) return state.SkipWithError("send failed");
  std::vector<uint8_t> forged(tx.datagram.begin(), tx.datagram.end());
  forged.back() ^= 1;
  std::vector<uint8_t> work(forged.size());
  for (auto _ : state) {
    std::memcpy(work.data(), forged.data(), forged.size());  // a failed open may scribble
    const RxResult rx = pr.dev[1].receive(pr.env(), pr.addr[0], work, out);
    if (rx.drop != Drop::DataDecrypt) {
      state.SkipWithError("forgery not rejected as DataDecrypt");
      break;
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(len));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

BENCHMARK(bm_handshake_devices);
BENCHMARK(bm_initiation_create);
BENCHMARK(bm_initiation_consume);
BENCHMARK(bm_response_create);
BENCHMARK(bm_response_consume);
BENCHMARK(bm_data_send_receive)->Arg(64)->Arg(1420);
BENCHMARK(bm_data_send)->Arg(64)->Arg(1420);
BENCHMARK(bm_data_receive_forged)->Arg(64)->Arg(1420);

}  // namespace
