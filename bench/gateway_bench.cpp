// bench/gateway_bench.cpp — the gateway stages alone (no crypto, no I/O): ns per packet for
// the paths of the seed's gateway, in batches of 1 to 64 like the event loop hands them over.
//   tunnel_to_port   cryptokey source check, LPM, AllowInbound rule, hop limit, neighbour,
//                    Ethernet header in place
//   flow_reply       the same for a reply that only the flow table lets in
//   port_to_tunnel   Ethernet, anti-spoof, neighbour refresh, LPM, flow note, hop limit
//   spoofed          a port frame dropped by anti-spoofing
// The output discards (it only counts), so what is measured is core/gateway itself.
#include <benchmark/benchmark.h>

#include <vector>

#include "core/gateway_harness.hpp"

namespace {

using namespace wg::core;
using namespace wg::testing::gw;
using wg::core::pkt::kProtoTcp;
using wg::core::pkt::kProtoUdp;
using wg::core::pkt::kTcpAck;
using wg::core::pkt::kTcpSyn;

struct CountingOutput final : GatewayOutput {
  uint64_t tunnel = 0, tun = 0, port = 0;
  wg::core::Drop to_tunnel(const Env&, PeerId, std::span<uint8_t>, size_t, const wg::core::SealSource*) override {
    ++tunnel;
    return wg::core::Drop::None;
  }
  uint32_t tunnel_mtu() const override { return 1420; }  // the seed's
  void to_tun(std::span<uint8_t>) override { ++tun; }
  void to_port(uint32_t, std::span<uint8_t>) override { ++port; }
  void flush() override {}
};

// A batch of identical inputs in buffers laid out as io/ lays them out.
struct Batch {
  std::vector<std::vector<uint8_t>> bufs;
  size_t off = 0, len = 0, ttl_at = 0;
  Batch(const Bytes& bytes, size_t n, size_t offset, size_t ttl_offset) : off(offset), len(bytes.size()) {
    ttl_at = offset + ttl_offset;
    for (size_t i = 0; i < n; ++i) {
      auto& b = bufs.emplace_back(offset + bytes.size() + 128);
      std::copy(bytes.begin(), bytes.end(), b.begin() + static_cast<ptrdiff_t>(offset));
    }
  }
  void refresh() {  // forwarding decrements the hop limit in place
    for (auto& b : bufs) b[ttl_at] = 64;
  }
};

template <class Feed>
void run(benchmark::State& state, Batch& batch, Feed feed, World& w, CountingOutput& out) {
  for (auto _ : state) {
    batch.refresh();
    for (auto& b : batch.bufs) feed(b);
    w.gw.flushed();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(batch.bufs.size()));
  benchmark::DoNotOptimize(out.tunnel + out.port + out.tun);
}

void tunnel_to_port(benchmark::State& state) {
  World w;
  w.resolve6(0, kInst6[0]);
  CountingOutput out;
  const Bytes p = ip6(kRemote6, kInst6[0], kProtoTcp, tcp(50000, 22, kTcpAck, 1000, 1420 - 60));
  Batch b(p, static_cast<size_t>(state.range(0)), kIngressHeadroom, 7);
  run(state, b, [&](std::vector<uint8_t>& buf) { w.gw.from_tunnel(w.env(), 0, buf, b.off, b.len, out); }, w, out);
  if (out.port == 0) state.SkipWithError("nothing reached the port");
}

void flow_reply(benchmark::State& state) {
  World w;
  w.resolve6(0, kInst6[0]);
  CountingOutput out;
  // The instance opened tcp 40000 -> remote:443; the replies are let in by the flow table only.
  w.from_port(0, inst_frame(0, ip6(kInst6[0], kRemote6, kProtoTcp, tcp(40000, 443, kTcpSyn))));
  const Bytes p = ip6(kRemote6, kInst6[0], kProtoTcp, tcp(443, 40000, kTcpAck, 1000, 1420 - 60));
  Batch b(p, static_cast<size_t>(state.range(0)), kIngressHeadroom, 7);
  run(state, b, [&](std::vector<uint8_t>& buf) { w.gw.from_tunnel(w.env(), 0, buf, b.off, b.len, out); }, w, out);
  if (out.port == 0) state.SkipWithError("the flow table let nothing in");
}

void port_to_tunnel(benchmark::State& state) {
  World w;
  CountingOutput out;
  const Bytes f = inst_frame(0, ip6(kInst6[0], kRemote6, kProtoTcp, tcp(40000, 443, kTcpAck, 1000, 1420 - 60)));
  Batch b(f, static_cast<size_t>(state.range(0)), kIngressHeadroom - kFrameHdr, kFrameHdr + 7);
  run(state, b, [&](std::vector<uint8_t>& buf) { w.gw.from_port(w.env(), 0, buf, b.off, b.len, out); }, w, out);
  if (out.tunnel == 0) state.SkipWithError("nothing reached the tunnel");
}

void spoofed(benchmark::State& state) {
  World w;
  CountingOutput out;
  const Bytes f = inst_frame(0, ip6(addr("2001:db8:64:2001::99"), kRemote6, kProtoUdp, udp(1, 2, 64)));
  Batch b(f, static_cast<size_t>(state.range(0)), kIngressHeadroom - kFrameHdr, kFrameHdr + 7);
  run(state, b, [&](std::vector<uint8_t>& buf) { w.gw.from_port(w.env(), 0, buf, b.off, b.len, out); }, w, out);
  if (w.drops[Drop::SpoofedSource] == 0) state.SkipWithError("no spoofed_source drop");
}

}  // namespace

BENCHMARK(tunnel_to_port)->RangeMultiplier(4)->Range(1, 64);
BENCHMARK(flow_reply)->RangeMultiplier(4)->Range(1, 64);
BENCHMARK(port_to_tunnel)->RangeMultiplier(4)->Range(1, 64);
BENCHMARK(spoofed)->RangeMultiplier(4)->Range(1, 64);
