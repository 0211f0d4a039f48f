// bench/datapath_bench.cpp — the data path's stages one at a time, per batch of 1..64 packets as
// the event loop hands them over. The Time/CPU columns are per batch; items_per_second counts
// packets (iterations × batch) and the per_pkt counter is CPU time per packet.
//   encrypt      Device::send on an established session (the Pair harness), 64 and 1420 B.
//                Each round first rewrites the plaintext from a template (send encrypts in
//                place), so the time includes that memcpy; copy_only times the memcpy alone.
//   copy_only    the plaintext rewrite of encrypt, nothing else (subtract it from encrypt).
//   decrypt      Device::receive of datagrams the peer Device encrypted beforehand, 64 and
//                1420 B. Each datagram has its own counter (the replay window rejects
//                duplicates), so a pool of 256 (the io_uring backend's buffer count) is refilled
//                outside the timing when used up; every receive must return RxKind::Data.
//   lpm_lookup   RouteTable::lookup of destinations inside 10 k IPv6 (/32../64, 10 % /128)
//                and 10 k IPv4 (/16../32) prefixes plus the seed's ::/1, 8000::/1, 0.0.0.0/0.
//   antispoof    a port's AllowedSource check (PrefixTable<uint8_t>::lookup of the source, read
//                from the packet) against /128 + /64 (+ the seed's IPv4 /32); hits and misses.
//   flow_lookup  FlowTable::match_inbound (the lookup, with its refresh) among 10 k live flows,
//                hits and misses; flow_refresh is note_outbound on live flows, flow_insert is
//                note_outbound of new flows with ~10 k live (older ones expire as time moves).
//   dataplane_tun_to_udp  a batch of TUN reads through core::DataPlane to the tunnel: routing,
//                encryption, GSO runs, the flush; the Egress only counts (no syscalls).
//   dataplane_udp_to_tun  a batch of datagrams through core::DataPlane to the TUN: decryption,
//                source check, routing, the flush; datagrams refilled outside the timing.
//   dataplane_tso_to_udp  one TUN read of a 64 KiB TCP/IPv4 TSO super-packet (47 segments of the
//                tunnel MTU and a short last one) through core::DataPlane to the tunnel, per
//                backend (1 openssl, 2 ipsec-mb) and with seals inline (deferred=0: every
//                segment copied out of the super-packet, as before issue 12) or deferred to the
//                end of the batch (deferred=1: full segments sealed from the super-packet).
//                Counters per segment: copies and copied bytes (DataPlaneCounters) and time.
// Buffers sit where io/ puts them: one kBufferSize stride per buffer, TUN and port packets at
// kIngressHeadroom, datagrams at kRxHeadroom.
//
// Run: build/bench/datapath_bench --benchmark_min_time=0.2
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <random>
#include <span>
#include <string_view>
#include <vector>

#include "core/dataplane.hpp"
#include "core/device.hpp"
#include "core/flow_table.hpp"
#include "core/gateway.hpp"
#include "core/gateway_harness.hpp"
#include "core/harness.hpp"
#include "core/prefix.hpp"
#include "core/prefix_table.hpp"
#include "io/packet_io.hpp"

namespace {

using namespace wg::core;
using wg::testing::Pair;
using Address = std::array<uint8_t, 16>;

int64_t packets(const benchmark::State& state, size_t batch) {
  return static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(batch);
}

void report(benchmark::State& state, size_t batch, size_t bytes = 0) {
  state.SetItemsProcessed(packets(state, batch));
  if (bytes) state.SetBytesProcessed(packets(state, batch) * static_cast<int64_t>(bytes));
  // Packets per CPU second, inverted: CPU seconds per packet (the console prints e.g. "593ns").
  state.counters["per_pkt"] = benchmark::Counter(static_cast<double>(packets(state, batch)),
                                                 benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

Address parse(std::string_view text) {
  Address a{};
  const auto p = parse_prefix(text);
  if (p) std::memcpy(a.data(), p->addr.data(), 16);
  return a;
}

// n io/ buffers back to back, kBufferSize apart, as the backends allocate them.
struct Arena {
  std::vector<uint8_t> mem;
  explicit Arena(size_t n) : mem(n * kBufferSize) {}
  uint8_t* slot(size_t i) { return mem.data() + i * kBufferSize; }
  std::span<uint8_t> from(size_t i, size_t off) { return {slot(i) + off, kBufferSize - off}; }
};

std::vector<uint8_t> ipv4_template(size_t len) {
  std::vector<uint8_t> ip(len);
  Pair::write_ipv4(ip, 0x42);
  return ip;
}

// --- encrypt ---

// The TUN → tunnel hand-over: the TUN packet sits at kIngressHeadroom and the gateway passes the
// buffer from kIngressHeadroom - kHeaderLen on, so the data header goes in front in place.
void encrypt(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  const size_t len = static_cast<size_t>(state.range(1));
  Pair pr;
  if (!pr.handshake()) return state.SkipWithError("handshake failed");
  const auto plain = ipv4_template(len);
  Arena arena(n);
  Outbox out;
  for (auto _ : state) {
    const Env env = pr.env();  // io/ reads the clock once per batch
    for (size_t i = 0; i < n; ++i) {
      std::memcpy(arena.slot(i) + kIngressHeadroom, plain.data(), len);  // what the TUN read wrote
      const TxResult tx = pr.dev[0].send(env, pr.peer[0], arena.from(i, kIngressHeadroom - data::kHeaderLen), len, out);
      if (tx.status != TxStatus::Sent) return state.SkipWithError("send did not encrypt");
      benchmark::DoNotOptimize(tx.datagram.data());
    }
    out.clear();
  }
  report(state, n, len);
}

// encrypt's plaintext rewrite alone, into the same buffers.
void copy_only(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  const size_t len = static_cast<size_t>(state.range(1));
  const auto plain = ipv4_template(len);
  Arena arena(n);
  for (auto _ : state) {
    for (size_t i = 0; i < n; ++i) {
      std::memcpy(arena.slot(i) + kIngressHeadroom, plain.data(), len);
      benchmark::ClobberMemory();
    }
  }
  report(state, n, len);
}

// --- decrypt ---

// 256 receive buffers like the io_uring backend's provided-buffer ring; the datagrams are
// consumed in order, so their counters only go up.
constexpr size_t kRxPool = 256;

struct RxPool {
  Pair& pr;
  size_t len;
  std::vector<uint8_t> plain;
  Arena arena{kRxPool};
  std::array<size_t, kRxPool> dlen{};
  size_t next = kRxPool;  // empty

  RxPool(Pair& p, size_t l) : pr(p), len(l), plain(ipv4_template(l)) {}

  // The peer encrypts kRxPool fresh packets (new counters) into the buffers.
  bool refill() {
    Outbox out;
    const Env env = pr.env();
    for (size_t i = 0; i < kRxPool; ++i) {
      std::memcpy(arena.slot(i) + kRxHeadroom + data::kHeaderLen, plain.data(), len);
      const TxResult tx = pr.dev[1].send(env, pr.peer[1], arena.from(i, kRxHeadroom), len, out);
      if (tx.status != TxStatus::Sent) return false;
      dlen[i] = tx.datagram.size();
    }
    next = 0;
    return true;
  }
  std::span<uint8_t> datagram(size_t i) { return {arena.slot(i) + kRxHeadroom, dlen[i]}; }
};

void decrypt(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  const size_t len = static_cast<size_t>(state.range(1));
  Pair pr;
  if (!pr.handshake()) return state.SkipWithError("handshake failed");
  // b sends, a receives: b learnt a's endpoint in the handshake.
  RxPool pool(pr, len);
  Outbox out;
  for (auto _ : state) {
    if (pool.next + n > kRxPool) {  // kRxPool is a multiple of every batch size
      state.PauseTiming();
      const bool ok = pool.refill();
      state.ResumeTiming();
      if (!ok) return state.SkipWithError("the peer could not encrypt");
    }
    const Env env = pr.env();
    for (size_t i = 0; i < n; ++i) {
      const RxResult rx = pr.dev[0].receive(env, pr.addr[1], pool.datagram(pool.next++), out);
      if (rx.kind != RxKind::Data || rx.plaintext.size() != len) return state.SkipWithError("receive was not Data");
      benchmark::DoNotOptimize(rx.plaintext.data());
    }
    out.clear();
  }
  report(state, n, len);
}

// --- lpm_lookup ---

constexpr size_t kRoutes = 10'000;     // per family
constexpr size_t kAddresses = 4096;    // lookups cycle through these (a power of two)

struct Routes {
  RouteTable table;
  std::vector<Address> v6, v4;  // destinations inside stored prefixes
};

// Destinations in 2000::/3 (global unicast) with 90 % /32../64 and 10 % /128; IPv4 /16../32.
// Each looked-up address is a stored prefix with random host bits, so every lookup walks to
// that prefix's depth (the defaults would catch anything else).
const Routes& routes() {
  static const Routes r = [] {
    Routes r;
    std::mt19937_64 rng(0xd47a);
    r.table.insert(*parse_prefix("::/1"), RouteTarget::peer(0));
    r.table.insert(*parse_prefix("8000::/1"), RouteTarget::peer(0));
    r.table.insert(*parse_prefix("0.0.0.0/0"), RouteTarget::peer(0));
    auto target = [](size_t i) {
      switch (i % 4) {
        case 0: return RouteTarget::peer(static_cast<PeerId>(i % 1024));
        case 3: return RouteTarget{RouteTarget::Kind::Unreachable, 0};
        default: return RouteTarget::port(static_cast<uint32_t>(i % 64));
      }
    };
    std::vector<Prefix> p6, p4;
    for (size_t i = 0; i < kRoutes; ++i) {
      Address a;
      for (auto& b : a) b = static_cast<uint8_t>(rng());
      a[0] = static_cast<uint8_t>(0x20 | (a[0] & 0x1f));
      const auto len6 = static_cast<uint8_t>(rng() % 10 == 0 ? 128 : 32 + rng() % 33);
      p6.push_back(Prefix::make(Family::V6, a.data(), len6));
      p4.push_back(Prefix::make(Family::V4, a.data() + 8, static_cast<uint8_t>(16 + rng() % 17)));
      r.table.insert(p6.back(), target(i));
      r.table.insert(p4.back(), target(i));
    }
    auto covered = [&](const std::vector<Prefix>& ps, unsigned bits) {
      std::vector<Address> out(kAddresses);
      for (auto& a : out) {
        const Prefix& p = ps[rng() % ps.size()];
        for (auto& b : a) b = static_cast<uint8_t>(rng());
        for (unsigned bit = 0; bit < p.len && bit < bits; ++bit) {  // the prefix's bits, then random
          const uint8_t m = static_cast<uint8_t>(0x80 >> (bit % 8));
          a[bit / 8] = static_cast<uint8_t>((a[bit / 8] & ~m) | (p.addr[bit / 8] & m));
        }
      }
      return out;
    };
    r.v6 = covered(p6, 128);
    r.v4 = covered(p4, 32);
    return r;
  }();
  return r;
}

void lpm_lookup(benchmark::State& state, Family f) {
  const size_t n = static_cast<size_t>(state.range(0));
  const Routes& r = routes();
  const auto& addrs = f == Family::V6 ? r.v6 : r.v4;
  size_t at = 0;
  uint64_t found = 0;
  for (auto _ : state) {
    for (size_t i = 0; i < n; ++i) {
      const RouteTarget* t = r.table.lookup(f, addrs[at++ & (kAddresses - 1)].data());
      found += t != nullptr;
      benchmark::DoNotOptimize(t);
    }
  }
  if (found != static_cast<uint64_t>(packets(state, n))) state.SkipWithError("a lookup found no route");
  report(state, n);
  state.counters["prefixes"] = static_cast<double>(r.table.size());
  state.counters["table_bytes"] = static_cast<double>(r.table.memory_bytes());
}

// --- antispoof ---

// A port's AllowedSource: the instance's /128 and a routed /64, plus the seed's IPv4 /32.
PrefixTable<uint8_t> allowed_source() {
  PrefixTable<uint8_t> t;
  for (const char* s : {"2001:db8:64:2001::2/128", "2001:db8:64:2101::/64", "198.51.100.2/32"})
    t.insert(*parse_prefix(s), 1);
  return t;
}

// n port frames (IPv6) in io/ buffers, the IP header at kIngressHeadroom; sources cycle through srcs.
void antispoof(benchmark::State& state, bool hits) {
  const size_t n = static_cast<size_t>(state.range(0));
  const PrefixTable<uint8_t> table = allowed_source();
  const std::vector<Address> srcs =
      hits ? std::vector{parse("2001:db8:64:2001::2"), parse("2001:db8:64:2101::1"),
                         parse("2001:db8:64:2101:5054:ff:fe00:10"), parse("2001:db8:64:2101::beef")}
           : std::vector{parse("2001:db8:64:2001::3"), parse("2001:db8:64:2102::1"), parse("2001:db8:ff::10"),
                         parse("fd00::2")};
  Arena arena(n);
  for (size_t i = 0; i < n; ++i) {
    uint8_t* ip = arena.slot(i) + kIngressHeadroom;
    ip[0] = 0x60;
    std::memcpy(ip + 8, srcs[i % srcs.size()].data(), 16);
    std::memcpy(ip + 24, parse("2001:db8:ff::10").data(), 16);
  }
  uint64_t allowed = 0;
  for (auto _ : state) {
    for (size_t i = 0; i < n; ++i) {
      const uint8_t* v = table.lookup(Family::V6, arena.slot(i) + kIngressHeadroom + 8);
      allowed += v != nullptr;
      benchmark::DoNotOptimize(v);
    }
  }
  if (allowed != (hits ? static_cast<uint64_t>(packets(state, n)) : 0)) state.SkipWithError("wrong verdict");
  report(state, n);
}

// --- flow table ---

constexpr size_t kFlows = 10'000;
constexpr size_t kFlowCapacity = 65536;  // the Gateway's default

// TCP from the seed's instance to random remotes (:443), as flow_key() writes them.
FlowKey flow(std::mt19937_64& rng, uint16_t inst_port) {
  FlowKey k;
  k.inst = parse("2001:db8:64:2001::2");
  for (auto& b : k.remote) b = static_cast<uint8_t>(rng());
  k.remote[0] = 0x20;
  k.inst_port = inst_port;
  k.remote_port = 443;
  k.port = 0;
  k.proto = pkt::kProtoTcp;
  k.family = Family::V6;
  return k;
}

struct Flows {
  wg::testing::FakeClock clock;
  FlowTable table{kFlowCapacity, 0x5eed};
  std::vector<FlowKey> live, absent;  // live in a random order
  bool ok = true;

  Flows() {
    std::mt19937_64 rng(0xf10);
    for (size_t i = 0; i < kFlows; ++i) live.push_back(flow(rng, static_cast<uint16_t>(32768 + i)));
    for (size_t i = 0; i < kAddresses; ++i) absent.push_back(flow(rng, static_cast<uint16_t>(32768 + i)));
    for (const FlowKey& k : live) {  // SYN out, SYN-ACK in: established
      table.note_outbound(k, pkt::kTcpSyn, clock.now);
      ok = ok && table.match_inbound(k, pkt::kTcpSyn | pkt::kTcpAck, clock.now);
    }
    std::shuffle(live.begin(), live.end(), rng);
    ok = ok && table.live(clock.now) == kFlows && table.evictions() == 0;
  }
};

void flow_lookup(benchmark::State& state, bool hits) {
  const size_t n = static_cast<size_t>(state.range(0));
  Flows f;
  if (!f.ok) return state.SkipWithError("could not set up 10 k live flows");
  const auto& keys = hits ? f.live : f.absent;
  size_t at = 0;
  uint64_t matched = 0;
  for (auto _ : state) {
    for (size_t i = 0; i < n; ++i) {
      matched += f.table.match_inbound(keys[at], pkt::kTcpAck, f.clock.now);
      if (++at == keys.size()) at = 0;
    }
    benchmark::DoNotOptimize(matched);
  }
  if (matched != (hits ? static_cast<uint64_t>(packets(state, n)) : 0)) state.SkipWithError("wrong verdict");
  report(state, n);
  state.counters["live"] = static_cast<double>(f.table.live(f.clock.now));
}

// note_outbound of flows that are live: the refresh path.
void flow_refresh(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  Flows f;
  if (!f.ok) return state.SkipWithError("could not set up 10 k live flows");
  size_t at = 0;
  for (auto _ : state) {
    for (size_t i = 0; i < n; ++i) {
      f.table.note_outbound(f.live[at], pkt::kTcpAck, f.clock.now);
      if (++at == f.live.size()) at = 0;
    }
    benchmark::ClobberMemory();
  }
  report(state, n);
  state.counters["live"] = static_cast<double>(f.table.live(f.clock.now));
  if (f.table.evictions() != 0) state.SkipWithError("a live flow was evicted");
}

// note_outbound of flows never seen before (UDP, 30 s unreplied timeout) while time moves 3 ms
// per packet, so ~10 k stay live and the older ones expire to make room. The new key is the
// template with a 64-bit sequence number stored in the remote address: two stores per packet.
void flow_insert(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  constexpr Duration kStep = std::chrono::milliseconds(3);  // 30 s / 10 k
  FlowTable table(kFlowCapacity, 0x5eed);
  std::mt19937_64 rng(0x1e5);
  FlowKey k = flow(rng, 40000);
  k.proto = pkt::kProtoUdp;
  Instant now{std::chrono::seconds(1000)};
  uint64_t seq = 0;
  auto insert = [&] {
    std::memcpy(k.remote.data() + 8, &seq, 8);
    ++seq;
    now = now + kStep;
    table.note_outbound(k, 0, now);
  };
  for (size_t i = 0; i < 4 * kFlows; ++i) insert();  // steady state before timing
  const uint64_t evictions_before = table.evictions();
  for (auto _ : state) {
    for (size_t i = 0; i < n; ++i) insert();
    benchmark::ClobberMemory();
  }
  report(state, n);
  state.counters["live"] = static_cast<double>(table.live(now));
  state.counters["evictions"] = static_cast<double>(table.evictions() - evictions_before);
}

// --- the data plane, whole ---

// An Egress that keeps the datagrams it is handed while `keep` (for the handshake and to make
// the receive bench's input) and otherwise only counts.
struct CountingEgress final : Egress {
  bool keep = true;
  bool batch = wg::crypto::batches_pay(wg::crypto::default_aead_backend());
  std::vector<std::vector<uint8_t>> kept;
  uint64_t messages = 0, writes = 0;
  void send_udp(const Endpoint&, std::span<const iovec> d) override {
    ++messages;
    if (keep)
      for (const iovec& v : d) kept.emplace_back(static_cast<uint8_t*>(v.iov_base), static_cast<uint8_t*>(v.iov_base) + v.iov_len);
  }
  void write_tun(std::span<const iovec>) override { ++writes; }
  void write_port(PortId, std::span<const iovec>) override { ++writes; }
  void run_aead(std::span<AeadJob> jobs) override { run_jobs(jobs); }
  bool batch_aead() const override { return batch; }
  bool udp_gso() const override { return true; }
  void flush() override {}
};

// Two data planes with a session: a (10.0.0.0/8 behind it) and b (192.0.2.0/24 behind it).
struct PlanePair {
  wg::testing::FakeClock clock;
  wg::testing::SeededRng rng{3};
  CountingEgress out[2];
  DataPlane dp[2]{{out[0], 1, 1024}, {out[1], 2, 1024}};
  const Endpoint addr[2]{Endpoint::v4(198, 51, 100, 1, 51820), Endpoint::v4(198, 51, 100, 2, 51820)};
  Arena arena{2 * kRxPool};
  std::vector<uint8_t> plain;

  explicit PlanePair(size_t len) : plain(ipv4_template(len)) {
    std::memcpy(plain.data() + 12, parse("10.0.0.1").data(), 4);
    std::memcpy(plain.data() + 16, parse("192.0.2.1").data(), 4);
    wg::testing::gw::fill_ipv4_header_checksum(plain);  // the gateway checks it
    for (int i = 0; i < 2; ++i) {
      uint8_t k[32];
      rng.fill(k);
      dp[i].device().set_private_key(env(), k, dp[i].outbox());
    }
    for (int i = 0; i < 2; ++i) {
      const PeerId p = *dp[i].device().add_peer(dp[1 - i].device().identity().public_key);
      dp[i].device().set_endpoint(p, addr[1 - i]);
      dp[i].gateway().routes().insert(*parse_prefix(i == 0 ? "192.0.2.0/24" : "10.0.0.0/8"), RouteTarget::peer(p));
    }
  }
  Env env() { return Env{clock.now, clock.wall, rng}; }

  // a's TUN reads of n packets, in arena slots [0, n).
  std::vector<DeviceRead> tun_reads(size_t n) {
    std::vector<DeviceRead> r;
    for (size_t i = 0; i < n; ++i) {
      std::memcpy(arena.slot(i) + kIngressHeadroom, plain.data(), plain.size());
      r.push_back({{arena.slot(i), kBufferSize}, plain.size()});
    }
    return r;
  }
  // Delivers what `from` kept to the other one.
  void deliver(int from) {
    std::vector<RxDatagram> batch;
    for (size_t i = 0; i < out[from].kept.size(); ++i) {
      auto& d = out[from].kept[i];
      std::memcpy(arena.slot(kRxPool + i % kRxPool) + kRxHeadroom, d.data(), d.size());
      batch.push_back({{arena.slot(kRxPool + i % kRxPool) + kRxHeadroom, d.size()}, addr[from], kRxHeadroom, 0});
    }
    out[from].kept.clear();
    dp[1 - from].on_datagrams(env(), batch);
  }
  bool handshake() {
    auto r = tun_reads(1);
    dp[0].on_tun_packets(env(), r);
    for (int round = 0; round < 4; ++round) deliver(round % 2);
    return dp[0].device().peer(0)->keypairs.current && dp[1].device().peer(0)->keypairs.current;
  }
};

void dataplane_tun_to_udp(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  const size_t len = static_cast<size_t>(state.range(1));
  PlanePair pp(len);
  if (!pp.handshake()) return state.SkipWithError("handshake failed");
  pp.out[0].keep = false;
  const uint64_t before = pp.out[0].messages;
  for (auto _ : state) {
    auto reads = pp.tun_reads(n);  // what the TUN read wrote (encryption is in place)
    pp.dp[0].on_tun_packets(pp.env(), reads);
  }
  if (pp.out[0].messages == before) return state.SkipWithError("nothing was sent");
  report(state, n, len);
}

void dataplane_tso_to_udp(benchmark::State& state) {
  namespace gw = wg::testing::gw;
  const auto backend = state.range(0) == 1 ? wg::crypto::AeadBackend::OpenSsl : wg::crypto::AeadBackend::IpsecMb;
  if (!wg::crypto::aead_backend_usable(backend)) return state.SkipWithError("backend not usable here");
  const wg::crypto::AeadBackend was = wg::crypto::default_aead_backend();
  wg::crypto::set_default_aead_backend(backend);
  PlanePair pp(64);
  if (!pp.handshake()) return state.SkipWithError("handshake failed");
  pp.out[0].keep = false;
  pp.out[0].batch = state.range(1) != 0;
  pp.dp[0].set_tun_vnet(true);
  // TCP/IPv4 without options: segments of exactly the tunnel MTU need no padding.
  const uint16_t mss = static_cast<uint16_t>(pp.dp[0].tunnel_mtu() - 40);
  const size_t payload = 65535 - 40;
  const auto super = gw::ip4(gw::addr("10.0.0.1"), gw::addr("192.0.2.1"), pkt::kProtoTcp,
                             gw::tcp(40000, 5201, 0x10, 1, payload));
  const size_t segments = (payload + mss - 1) / mss;
  const gw::Vnet v{pkt::kVnetNeedsCsum, pkt::kGsoTcpV4, 40, mss, 20, 16};
  const auto vnet = gw::frame({}, {}, 0, {}, v);
  const DataPlaneCounters c0 = pp.dp[0].counters();
  const uint64_t before = pp.out[0].messages;
  for (auto _ : state) {
    std::vector<DeviceRead> r;  // what the TUN read wrote: the super-packet and its vnet header
    std::memcpy(pp.arena.slot(0) + kIngressHeadroom - kVnetLen, vnet.data(), kVnetLen);
    std::memcpy(pp.arena.slot(0) + kIngressHeadroom, super.data(), super.size());
    r.push_back({{pp.arena.slot(0), kBufferSize}, super.size()});
    pp.dp[0].on_tun_packets(pp.env(), r);
  }
  const DataPlaneCounters c1 = pp.dp[0].counters();
  wg::crypto::set_default_aead_backend(was);
  if (pp.out[0].messages == before) return state.SkipWithError("nothing was sent");
  const double segs = static_cast<double>(state.iterations() * segments);
  state.counters["copies_per_seg"] = static_cast<double>(c1.payload_copies - c0.payload_copies) / segs;
  state.counters["copied_B_per_seg"] = static_cast<double>(c1.payload_copy_bytes - c0.payload_copy_bytes) / segs;
  state.counters["from_source_per_seg"] = static_cast<double>(c1.sealed_from_source - c0.sealed_from_source) / segs;
  state.SetLabel(std::string(wg::crypto::name(backend)));
  report(state, segments, pp.dp[0].tunnel_mtu());
}

void dataplane_udp_to_tun(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  const size_t len = static_cast<size_t>(state.range(1));
  PlanePair pp(len);
  // The third argument: opens deferred to the Egress as one batch (1) or run by the Device one
  // at a time (0); -1 leaves what the backend prefers.
  if (state.range(2) >= 0) pp.out[1].batch = state.range(2) != 0;
  const DataPlaneCounters c0 = pp.dp[1].counters();
  if (!pp.handshake()) return state.SkipWithError("handshake failed");
  // a seals kRxPool packets at a time into arena slots [kRxPool, 2 kRxPool); b opens them in
  // batches of n, in order.
  std::vector<RxDatagram> pool;
  size_t next = kRxPool;
  const uint64_t writes = pp.out[1].writes;
  for (auto _ : state) {
    if (next + n > pool.size()) {
      state.PauseTiming();
      pp.out[0].kept.clear();
      for (size_t k = 0; k < kRxPool; k += kMaxBatch) {
        auto reads = pp.tun_reads(kMaxBatch);
        pp.dp[0].on_tun_packets(pp.env(), reads);
      }
      pool.clear();
      for (size_t i = 0; i < pp.out[0].kept.size(); ++i) {
        auto& d = pp.out[0].kept[i];
        uint8_t* at = pp.arena.slot(kRxPool + i) + kRxHeadroom;
        std::memcpy(at, d.data(), d.size());
        pool.push_back({{at, d.size()}, pp.addr[0], kRxHeadroom, 0});
      }
      next = 0;
      state.ResumeTiming();
    }
    pp.dp[1].on_datagrams(pp.env(), std::span(pool).subspan(next, n));
    next += n;
  }
  if (pp.out[1].writes == writes) return state.SkipWithError("nothing reached the TUN");
  state.counters["copies_per_pkt"] = static_cast<double>(pp.dp[1].counters().payload_copies - c0.payload_copies) /
                                     static_cast<double>(packets(state, n));
  report(state, n, len);
}

}  // namespace

BENCHMARK(encrypt)->ArgsProduct({benchmark::CreateRange(1, 64, 2), {64, 1420}})->ArgNames({"batch", "bytes"});
BENCHMARK(copy_only)->ArgsProduct({benchmark::CreateRange(1, 64, 2), {64, 1420}})->ArgNames({"batch", "bytes"});
BENCHMARK(decrypt)->ArgsProduct({benchmark::CreateRange(1, 64, 2), {64, 1420}})->ArgNames({"batch", "bytes"});
BENCHMARK_CAPTURE(lpm_lookup, v6, Family::V6)->RangeMultiplier(2)->Range(1, 64)->ArgName("batch");
BENCHMARK_CAPTURE(lpm_lookup, v4, Family::V4)->RangeMultiplier(2)->Range(1, 64)->ArgName("batch");
BENCHMARK_CAPTURE(antispoof, hit, true)->RangeMultiplier(2)->Range(1, 64)->ArgName("batch");
BENCHMARK_CAPTURE(antispoof, miss, false)->RangeMultiplier(2)->Range(1, 64)->ArgName("batch");
BENCHMARK_CAPTURE(flow_lookup, hit, true)->RangeMultiplier(2)->Range(1, 64)->ArgName("batch");
BENCHMARK_CAPTURE(flow_lookup, miss, false)->RangeMultiplier(2)->Range(1, 64)->ArgName("batch");
BENCHMARK(flow_refresh)->RangeMultiplier(2)->Range(1, 64)->ArgName("batch");
BENCHMARK(flow_insert)->RangeMultiplier(2)->Range(1, 64)->ArgName("batch");
BENCHMARK(dataplane_tso_to_udp)->ArgsProduct({{1, 2}, {0, 1}})->ArgNames({"backend", "deferred"});
BENCHMARK(dataplane_tun_to_udp)->ArgsProduct({{1, 8, 64}, {64, 1420}})->ArgNames({"batch", "bytes"});
BENCHMARK(dataplane_udp_to_tun)
    ->ArgsProduct({{1, 8, 64}, {64, 1420}, {-1}})
    ->ArgsProduct({{64}, {64, 1420}, {0, 1}})
    ->ArgNames({"batch", "bytes", "deferred"});
