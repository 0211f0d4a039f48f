// tests/core/dataplane_harness.hpp — DataPlanes joined by an in-memory network, each writing
// to a RecordingEgress, with input buffers laid out as the I/O backends lay them out
// (core/buffer_layout.hpp). No doctest in here.
#pragma once
#include <algorithm>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <vector>

#include "core/dataplane.hpp"
#include "core/gateway_harness.hpp"
#include "core/harness.hpp"

namespace wg::testing::dp {

using namespace wg::core;
using namespace wg::testing::gw;

// What a DataPlane handed over, read when handed over; and a check that nothing handed over
// changed before the flush that let it go (a buffer reused too early shows up there).
class RecordingEgress final : public Egress {
 public:
  struct Message {
    Endpoint to;
    std::vector<Bytes> datagrams;
  };
  struct Write {
    bool tun = false;
    PortId port = 0;
    Bytes bytes;  // the pieces joined
    size_t parts = 0;
  };
  std::vector<Message> udp;
  std::vector<Write> writes;
  size_t flushes = 0;
  size_t changed_before_flush = 0;  // handed-over bytes that differed at their flush
  size_t aead_jobs = 0;              // jobs run through run_aead
  bool gso = true;
  bool fail_aead = false;  // run_aead reports every job failed (a fault to be contained)

  // Not deferred: the Device seals and opens inline. Deferred: the data plane hands the AEAD
  // work here, to `runner` (worker threads) or inline.
  explicit RecordingEgress(bool deferred = false) : deferred_(deferred) {}
  std::function<void(std::span<AeadJob>)> runner;

  void send_udp(const Endpoint& to, std::span<const iovec> datagrams) override {
    Message m{to, {}};
    for (const iovec& d : datagrams) {
      const auto* p = static_cast<const uint8_t*>(d.iov_base);
      m.datagrams.emplace_back(p, p + d.iov_len);
      hold(p, d.iov_len);
    }
    udp.push_back(std::move(m));
  }
  void write_tun(std::span<const iovec> parts) override { record(true, 0, parts); }
  void write_port(PortId port, std::span<const iovec> parts) override { record(false, port, parts); }
  void run_aead(std::span<AeadJob> jobs) override {
    aead_jobs += jobs.size();
    if (runner)
      runner(jobs);
    else
      run_jobs(jobs);
    if (fail_aead)
      for (AeadJob& j : jobs) j.ok = false;
  }
  bool batch_aead() const override { return deferred_; }
  bool udp_gso() const override { return gso; }
  void flush() override {
    ++flushes;
    for (const Held& h : held_)
      if (!std::equal(h.copy.begin(), h.copy.end(), h.p)) ++changed_before_flush;
    held_.clear();
  }

  std::vector<Write> tun_writes() const { return select(true, 0); }
  std::vector<Write> port_writes(PortId p) const { return select(false, p); }
  size_t datagram_count() const {
    size_t n = 0;
    for (const Message& m : udp) n += m.datagrams.size();
    return n;
  }

 private:
  struct Held {
    const uint8_t* p;
    Bytes copy;
  };
  void hold(const uint8_t* p, size_t n) { held_.push_back({p, Bytes(p, p + n)}); }
  void record(bool tun, PortId port, std::span<const iovec> parts) {
    Write w{tun, port, {}, parts.size()};
    for (const iovec& v : parts) {
      const auto* p = static_cast<const uint8_t*>(v.iov_base);
      w.bytes.insert(w.bytes.end(), p, p + v.iov_len);
      hold(p, v.iov_len);
    }
    writes.push_back(std::move(w));
  }
  std::vector<Write> select(bool tun, PortId p) const {
    std::vector<Write> out;
    for (const Write& w : writes)
      if (w.tun == tun && (tun || w.port == p)) out.push_back(w);
    return out;
  }
  std::vector<Held> held_;
  bool deferred_;
};

// A buffer holding one read of `len` bytes at `offset`, with just the tail room the layout
// promises behind it (a backend's is kBufferSize, read at most up to its tail room): anything
// reaching past what the layout grants shows up under ASan. Filled with a pattern.
inline std::vector<uint8_t> backend_buffer(size_t offset, size_t len) {
  return std::vector<uint8_t>(offset + len + kTailroom, 0xee);
}

struct Node {
  Endpoint addr;
  RecordingEgress out;
  DataPlane dp;
  size_t sent = 0;  // out.udp[0, sent) went on the network

  // A small flow table: set up in a fraction of the time, and enough for any test here.
  Node(const Endpoint& a, bool deferred, uint64_t seed) : addr(a), out(deferred), dp(out, seed, 1024) {}
};

// Nodes on one network: a datagram sent to a node's address arrives in its next batch.
struct Net {
  FakeClock clock;
  SeededRng rng{5};
  std::vector<std::unique_ptr<Node>> nodes;
  std::deque<std::vector<uint8_t>> buffers;  // inputs live until the test ends

  Env env() { return Env{clock.now, clock.wall, rng}; }

  Node& add(const Endpoint& a, bool deferred = false) {
    nodes.push_back(std::make_unique<Node>(a, deferred, 0x5eed + nodes.size()));
    Node& n = *nodes.back();
    uint8_t key[32];
    rng.fill(key);
    n.dp.device().set_private_key(env(), key, n.dp.outbox());
    n.dp.flush_outbox();
    return n;
  }

  // a and b know each other; a knows b's endpoint (b learns a's from the handshake). `to_b`:
  // what a routes to b (b's AllowedIPs on a), `to_a` the same on b.
  std::pair<PeerId, PeerId> connect(Node& a, Node& b, const std::vector<Prefix>& to_b,
                                    const std::vector<Prefix>& to_a, bool b_knows_endpoint = false) {
    const PeerId on_a = *a.dp.device().add_peer(b.dp.device().identity().public_key);
    const PeerId on_b = *b.dp.device().add_peer(a.dp.device().identity().public_key);
    a.dp.device().set_endpoint(on_a, b.addr);
    if (b_knows_endpoint) b.dp.device().set_endpoint(on_b, a.addr);
    for (const Prefix& p : to_b) a.dp.gateway().routes().insert(p, RouteTarget::peer(on_a));
    for (const Prefix& p : to_a) b.dp.gateway().routes().insert(p, RouteTarget::peer(on_b));
    return {on_a, on_b};
  }

  Node* at(const Endpoint& e) {
    for (auto& n : nodes)
      if (n->addr.same_remote(e)) return n.get();
    return nullptr;
  }

  // A batch of datagrams for `to`, each in its own buffer at kRxHeadroom, or (`gro`) the
  // datagrams of each multi-datagram message back to back in one buffer as one UDP_GRO receive.
  void deliver(Node& to, const Endpoint& from, const std::vector<RecordingEgress::Message>& msgs, bool gro = false) {
    std::vector<RxDatagram> batch;
    for (const auto& m : msgs) {
      if (gro && m.datagrams.size() > 1) {
        size_t total = 0;
        for (const Bytes& d : m.datagrams) total += d.size();
        auto& b = buffers.emplace_back(backend_buffer(kRxHeadroom, total));
        size_t at = kRxHeadroom;
        for (const Bytes& d : m.datagrams) {
          std::copy(d.begin(), d.end(), b.begin() + static_cast<std::ptrdiff_t>(at));
          at += d.size();
        }
        batch.push_back({{b.data() + kRxHeadroom, at - kRxHeadroom}, from, kRxHeadroom, m.datagrams[0].size()});
        continue;
      }
      for (const Bytes& d : m.datagrams) batch.push_back(datagram_in(d, from));
    }
    if (!batch.empty()) to.dp.on_datagrams(env(), batch);
  }

  RxDatagram datagram_in(const Bytes& d, const Endpoint& from) {
    auto& b = buffers.emplace_back(backend_buffer(kRxHeadroom, d.size()));
    std::copy(d.begin(), d.end(), b.begin() + static_cast<std::ptrdiff_t>(kRxHeadroom));
    return {{b.data() + kRxHeadroom, d.size()}, from, kRxHeadroom, 0};
  }

  // Moves every sent message to its destination, one batch per sender and destination, until
  // the network is quiet (bounded).
  void pump(bool gro = false, int rounds = 20) {
    for (int r = 0; r < rounds; ++r) {
      bool moved = false;
      for (size_t i = 0; i < nodes.size(); ++i) {
        Node& from = *nodes[i];
        if (from.sent == from.out.udp.size()) continue;
        std::vector<RecordingEgress::Message> msgs(from.out.udp.begin() + static_cast<std::ptrdiff_t>(from.sent),
                                                   from.out.udp.end());
        from.sent = from.out.udp.size();
        for (auto& n : nodes) {
          std::vector<RecordingEgress::Message> mine;
          for (const auto& m : msgs)
            if (n->addr.same_remote(m.to)) mine.push_back(m);
          if (!mine.empty()) deliver(*n, from.addr, mine, gro);
        }
        moved = true;
      }
      if (!moved) return;
    }
  }

  // TUN reads: IP packets at kIngressHeadroom, a virtio-net header in front when the TUN has
  // one (`vnet`, else zeros).
  void tun_batch(Node& n, const std::vector<Bytes>& ips, const Vnet* vnet = nullptr) {
    std::vector<DeviceRead> batch;
    for (const Bytes& ip : ips) {
      auto& b = buffers.emplace_back(backend_buffer(kIngressHeadroom, ip.size()));
      std::copy(ip.begin(), ip.end(), b.begin() + static_cast<std::ptrdiff_t>(kIngressHeadroom));
      if (n.dp.tun_vnet()) {
        const Bytes f = frame(Mac{}, Mac{}, 0, {}, vnet ? *vnet : Vnet{});
        std::copy(f.begin(), f.begin() + kVnetLen, b.begin() + static_cast<std::ptrdiff_t>(kIngressHeadroom - kVnetLen));
      }
      batch.push_back({{b.data(), b.size()}, ip.size()});
    }
    n.dp.on_tun_packets(env(), batch);
  }

  // Port reads: frames (virtio-net + Ethernet header, then IP) at kPortReadOffset.
  void port_batch(Node& n, PortId port, const std::vector<Bytes>& frames) {
    std::vector<DeviceRead> batch;
    for (const Bytes& f : frames) {
      auto& b = buffers.emplace_back(backend_buffer(kPortReadOffset, f.size()));
      std::copy(f.begin(), f.end(), b.begin() + static_cast<std::ptrdiff_t>(kPortReadOffset));
      batch.push_back({{b.data(), b.size()}, f.size()});
    }
    n.dp.on_port_frames(env(), port, batch);
  }
};

// The seed's gateway on a DataPlane: host addresses, the Unreachable /56, two ports; `peer`
// (the tunnel broker) owns ::/1, 8000::/1 and 0.0.0.0/0.
inline void configure_seed(DataPlane& d, PeerId peer, const SeedOptions& o = {}) {
  Gateway& gw = d.gateway();
  gw.set_host_addresses({{Family::V6, kHost6, 64}, {Family::V4, kHost4, 24}});
  gw.add_unreachable(prefix("2001:db8:64:2000::/56"));
  for (const char* p : {"::/1", "8000::/1", "0.0.0.0/0"}) gw.routes().insert(prefix(p), RouteTarget::peer(peer));
  d.add_port(seed_port(0, o));
  d.add_port(seed_port(1, o));
}

// Instance i announces its IPv6 address so the gateway knows its MAC.
inline Bytes announce6(int i, const Addr16& a) {
  const Addr16 all_nodes = addr("ff02::1");
  return frame(multicast_mac(all_nodes), kInstMac[i], 0x86dd, neighbor_advert(a, all_nodes, a, kNaOverride, kInstMac[i]));
}

// An IPv6 UDP packet of `len` bytes in all whose payload starts with a 4-byte marker.
inline Bytes marked6(const Addr16& src, const Addr16& dst, size_t len, uint32_t marker, uint16_t dport = 5000) {
  Bytes u = udp(40000, dport, len - 40 - 8);
  put32(&u[8], marker);
  return ip6(src, dst, pkt::kProtoUdp, u);
}
inline uint32_t marker_of(const Bytes& ip) { return get32(&ip[40 + 8]); }

// The counter of a data message (bytes 8..15, little-endian).
inline uint64_t counter_of(const Bytes& d) {
  uint64_t c = 0;
  for (int i = 7; i >= 0; --i) c = c << 8 | d[8 + static_cast<size_t>(i)];
  return c;
}

}  // namespace wg::testing::dp
