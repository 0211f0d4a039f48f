// fuzz/dataplane_world.hpp — what dataplane_fuzz and make_corpus share: two whole data planes,
// A and B (Device + Gateway, a TUN and two ports each, peers of each other), joined by a wire
// the input drives, the input format (a config header, then a sequence of operations) and the
// invariants checked after every operation.
//
// Every IP packet the harness sends carries a tag: a unique id (in the TCP/UDP source port, the
// ICMP echo identifier and the IPv4 ID) and a payload that is a function of (id, offset), so
// anything delivered to a TUN or a port is traced back to the one send it came from.
//
// Input: byte 0 config bits (kCfg*), byte 1 = scratch buffers (bits 0-1) and the batch size
// (bits 2-7); then operations, each an op byte and a fixed number of parameter bytes (kOpArgs;
// a missing byte reads as 0), except Raw, which carries a length and bytes. See the Op enum.
//
// Checked after every operation (a violation aborts):
//   delivery   every TUN/port write is a tagged packet (or pieces of one, cut or joined) whose
//              bytes are the ones sent, at the place its destination names, never a byte twice,
//              within one id in order unless the wire reordered that direction; or a packet the
//              gateway makes itself (ICMP error, ND, ARP, echo reply) that is well formed; or,
//              once a Raw op ran, bytes found in what Raw sent;
//   wire       every UDP message is well-formed WireGuard messages, to the other side, in GSO
//              shape (equal sizes, a shorter last one);
//   egress     nothing handed to an Egress changed before its flush;
//   accounting no drop counter goes down; every datagram a batch hands in that calls for an
//              answer (data with a payload, an initiation, a response, anything malformed) gives
//              a write, a datagram out or a counted drop;
//   healing    at the end: configuration restored, the wire faithful, time passing — a packet
//              each way must get through within kHealSteps seconds.
#pragma once
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>
#include <span>
#include <vector>

#include "core/dataplane_harness.hpp"
#include "fuzz_common.hpp"

namespace wg::fuzzing::dpw {

using namespace wg::testing::dp;
using wg::fuzzing::check;
using wg::fuzzing::fail;
using wg::testing::FakeClock;
using wg::testing::SeededRng;

// --- the input format ---

inline constexpr uint8_t kCfgVnetA = 0x01, kCfgVnetB = 0x02, kCfgCoalesce = 0x04, kCfgCoalesceUdp = 0x08,
                         kCfgDeferA = 0x10, kCfgDeferB = 0x20, kCfgNoGso = 0x40, kCfgUnresolved = 0x80;

enum class Op : uint8_t {
  TunSend,     // side|family|proto|tso, dst, len lo, len hi, count|flags, gso
  PortSend,    // side|port|kind, dst, len lo, len hi, flags, gso
  Deliver,     // dir|gro, n (0: all)
  Drop,        // dir, n
  Duplicate,   // dir, index
  Reorder,     // dir, i, j
  Corrupt,     // dir, index, pos lo, pos hi, xor
  Truncate,    // dir, index, len lo, len hi
  Craft,       // to|type|fix mac1|fix index, pos1, xor1, pos2, xor2
  Time,        // scale, amount
  UnderLoad,   // side, queued
  AllowedIps,  // side|add, prefix
  Peer,        // side|action, seconds
  Batch,       // batch size, flags (gso off, gro)
  Keepalive,   // side
  Raw,         // side|kind, len lo, len hi, bytes
  Count
};
inline constexpr size_t kOpArgs[] = {6, 6, 2, 2, 2, 3, 5, 4, 5, 2, 2, 2, 2, 2, 1, 3};
static_assert(std::size(kOpArgs) == static_cast<size_t>(Op::Count));

inline constexpr int kMaxOps = 48;
inline constexpr int kHealSteps = 60;  // seconds of healing at most, one step each
inline constexpr uint16_t kSportBase = 20000;  // tagged TCP/UDP source port = base + id
inline constexpr uint32_t kSeqBase = 1000;
inline constexpr size_t kRecord = 8;  // the payload: records [id be32][index be16][check be16]

// Destinations, from the sender's side (P: the other side, S: the sender's own).
enum Dst : uint8_t { PHost, PInst0, PInst1, PSite, PUnreachable, SInst0, SInst1, Nowhere, SHost, DstCount };

// --- addresses: A's site is 2001:db8:a::/48 + 192.0.2.0/24, B's 2001:db8:b::/48 + 198.51.100.0/24 ---

struct Site {
  Addr16 host6, host4, inst6[2], inst4, site6, site4, unreach6, port4;
  Prefix own6, own4;  // what the other side routes to this one
  Mac port_mac[2], inst_mac[2];
  Endpoint ep;
};

inline Site make_site(int s) {
  const bool a = s == 0;
  Site x;
  x.host6 = addr(a ? "2001:db8:a:1000::1" : "2001:db8:b:1000::1");
  x.host4 = addr(a ? "192.0.2.1" : "198.51.100.1");
  x.inst6[0] = addr(a ? "2001:db8:a:2001::2" : "2001:db8:b:2001::2");
  x.inst6[1] = addr(a ? "2001:db8:a:2002::2" : "2001:db8:b:2002::2");
  x.inst4 = addr(a ? "192.0.2.130" : "198.51.100.130");
  x.port4 = addr(a ? "192.0.2.129" : "198.51.100.129");
  x.site6 = addr(a ? "2001:db8:a:3000::5" : "2001:db8:b:3000::5");
  x.site4 = addr(a ? "192.0.2.77" : "198.51.100.77");
  x.unreach6 = addr(a ? "2001:db8:a:f000::9" : "2001:db8:b:f000::9");
  x.own6 = prefix(a ? "2001:db8:a::/48" : "2001:db8:b::/48");
  x.own4 = prefix(a ? "192.0.2.0/24" : "198.51.100.0/24");
  for (uint8_t i = 0; i < 2; ++i) {
    x.port_mac[i] = {0x02, 0, 0, 0, static_cast<uint8_t>(0xa0 + s), static_cast<uint8_t>(i + 1)};
    x.inst_mac[i] = {0x52, 0x54, 0, 0, static_cast<uint8_t>(0xa0 + s), static_cast<uint8_t>(0x10 * (i + 1))};
  }
  x.ep = a ? Endpoint::v4(203, 0, 113, 1, 51820) : Endpoint::v4(203, 0, 113, 2, 51820);
  return x;
}

inline PortSpec site_port(const Site& x, int i) {
  PortSpec spec;
  spec.name = i == 0 ? "fz-ct0" : "fz-vm0";
  spec.addresses = {{Family::V6, addr("fe80::1"), 64}};
  if (i == 0) {
    spec.addresses.push_back({Family::V4, x.port4, 25});
    spec.routes = {Prefix::make(Family::V6, x.inst6[0].data(), 128), Prefix::make(Family::V4, x.inst4.data(), 32)};
    spec.allow_inbound = {{pkt::kProtoTcp, 22, 22}, {pkt::kProtoUdp, 5000, 5010}};
    spec.mtu = 1420;
  } else {
    spec.routes = {Prefix::make(Family::V6, x.inst6[1].data(), 128)};
    spec.mtu = 1280;
  }
  spec.allowed_source = spec.routes;
  spec.mac = x.port_mac[i];
  return spec;
}

// Prefixes an AllowedIps op adds or removes for the peer (index 0 and 1: the configured ones).
inline Prefix allowed_choice(const Site& other, uint8_t k) {
  switch (k % 7) {
    case 0: return other.own6;
    case 1: return other.own4;
    case 2: return prefix("::/0");
    case 3: return prefix("0.0.0.0/0");
    case 4: return Prefix::make(Family::V6, other.host6.data(), 64);
    case 5: return Prefix::make(Family::V6, other.inst6[0].data(), 128);
    default: return Prefix::make(Family::V4, other.host4.data(), 32);
  }
}

// --- the tag ---

inline uint16_t record_check(uint32_t id, uint32_t index) {
  uint32_t h = id * 0x9e3779b1u ^ (index + 0x7f4a7c15u) * 0x85ebca6bu;
  h ^= h >> 15;
  return static_cast<uint16_t>(h ^ (h >> 16));
}
inline uint8_t tag_byte(uint32_t id, size_t off) {
  const uint32_t index = static_cast<uint32_t>(off / kRecord);
  switch (off % kRecord) {
    case 0: return static_cast<uint8_t>(id >> 24);
    case 1: return static_cast<uint8_t>(id >> 16);
    case 2: return static_cast<uint8_t>(id >> 8);
    case 3: return static_cast<uint8_t>(id);
    case 4: return static_cast<uint8_t>(index >> 8);
    case 5: return static_cast<uint8_t>(index);
    case 6: return static_cast<uint8_t>(record_check(id, index) >> 8);
    default: return static_cast<uint8_t>(record_check(id, index));
  }
}
inline bool tag_matches(uint32_t id, size_t off, const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (p[i] != tag_byte(id, off + i)) return false;
  return true;
}

// Where a packet may land.
struct Place {
  int side = -1;  // -1: nowhere (dropped, answered with ICMP)
  int where = 0;  // 0: TUN, 1 + i: port i
  friend bool operator==(const Place&, const Place&) = default;
};

struct Sent {
  int from = 0;
  Family family = Family::None;
  uint8_t proto = 0;
  Addr16 src{}, dst{};
  size_t payload = 0;  // bytes of tag
  size_t l4_header = 0;
  Place to;                      // when it stays on its side (else: the other side decides)
  bool crossed = false;          // routed to the peer: goes through the tunnel, in wire order
  size_t gso_size = 0;           // a super-packet: cut into segments of this many payload bytes
  std::vector<uint8_t> seen;     // per payload byte: delivered
  size_t last_end = 0;           // the end of the furthest piece delivered
  // Crossed: the receiver routed its source to the peer just before one of its route changes
  // since it was sent (see World::remember_sources).
  bool source_was_peers = false;
};

// --- a side: its data plane and what it handed out ---

struct Side {
  RecordingEgress out;
  DataPlane dp;
  Site site;
  PeerId peer = kNoPeer;
  bool vnet = false;
  size_t udp_done = 0, writes_done = 0;  // out.udp / out.writes already looked at
  Side(bool deferred, uint64_t seed, size_t scratch) : out(deferred), dp(out, seed, 256, scratch) {}
};

// The RNG of the world: 32-byte requests (ephemeral keys, cookie secrets) take turns among a
// few fixed keys, so X25519 sees the same few inputs in every run (dataplane_fuzz memoises
// them); everything else is a seeded stream. Reset for each input.
struct WorldRng : Rng {
  SeededRng stream{0x5eed};
  unsigned turn = 0;
  void fill(std::span<uint8_t> out) override {
    if (out.size() != 32) return stream.fill(out);
    SeededRng k(0xe0 + (turn++ % 6));
    k.fill(out);
  }
};

class World {
 public:
  FakeClock clock;
  WorldRng rng;
  std::unique_ptr<Side> side[2];
  std::deque<Bytes> wire[2];  // wire[d]: datagrams from side d to side 1 - d
  bool reordered[2] = {false, false};
  std::vector<Sent> sent;     // by id (0 unused)
  std::vector<Bytes> raw;     // what Raw ops sent (packets and frames)
  Bytes last_handshake[2][3];  // the last initiation, response, cookie reply seen from side d
  size_t batch = 64;
  bool gro = false;
  int opening = -1;           // the side whose on_datagrams call is running, else -1
  bool unresolved = false;  // the neighbours were not announced at the start
  size_t delivered_tagged = 0, crossed_tunnel = 0;  // for make_corpus
  uint8_t cfg = 0;

  Env env() { return Env{clock.now, clock.wall, rng}; }
  Side& at(int s) { return *side[s]; }
  Side& other(int s) { return *side[1 - s]; }

  void build(uint8_t config, uint8_t sizes) {
    cfg = config;
    static constexpr size_t kScratch[4] = {4, 8, 16, 64};
    batch = 1 + (sizes >> 2);
    unresolved = (cfg & kCfgUnresolved) != 0;
    for (int s = 0; s < 2; ++s) {
      const bool deferred = (cfg & (s == 0 ? kCfgDeferA : kCfgDeferB)) != 0;
      side[s] = std::make_unique<Side>(deferred, 0x5eed + static_cast<uint64_t>(s), kScratch[sizes & 3]);
      Side& x = *side[s];
      x.site = make_site(s);
      x.vnet = (cfg & (s == 0 ? kCfgVnetA : kCfgVnetB)) != 0;
      x.dp.set_tun_vnet(x.vnet);
      x.dp.set_coalescing((cfg & kCfgCoalesce) != 0, (cfg & kCfgCoalesceUdp) != 0);
      x.out.gso = !(cfg & kCfgNoGso);
      uint8_t key[32];
      SeededRng(0xa0 + static_cast<uint64_t>(s)).fill(key);
      x.dp.device().set_private_key(env(), key, x.dp.outbox());
      x.dp.flush_outbox();
      Gateway& g = x.dp.gateway();
      g.set_host_addresses({{Family::V6, x.site.host6, 64}, {Family::V4, x.site.host4, 25}});
      g.add_unreachable(Prefix::make(Family::V6, x.site.unreach6.data(), 56));
      x.dp.add_port(site_port(x.site, 0));
      x.dp.add_port(site_port(x.site, 1));
    }
    for (int s = 0; s < 2; ++s) add_peer(s);
    sent.assign(1, Sent{});
    if (!unresolved)
      for (int s = 0; s < 2; ++s) announce(s);
  }

  // The peer, its configured AllowedIPs, and (on A) B's endpoint.
  void add_peer(int s) {
    Side& x = at(s);
    const auto id = x.dp.device().add_peer(other(s).dp.device().identity().public_key);
    check(id.has_value(), "add_peer failed");
    x.peer = *id;
    if (s == 0) x.dp.device().set_endpoint(x.peer, other(s).site.ep);
    for (uint8_t k = 0; k < 2; ++k) allow(s, allowed_choice(other(s).site, k));
  }
  void allow(int s, const Prefix& p) {
    RouteTable& r = at(s).dp.gateway().routes();
    const auto prev = r.insert(p, RouteTarget::peer(at(s).peer));
    if (prev && prev->kind != RouteTarget::Kind::Peer) r.insert(p, *prev);  // as config/apply does
  }
  void remove_peer(int s) {
    remember_sources(s);
    Side& x = at(s);
    x.dp.gateway().routes().remove_value(RouteTarget::peer(x.peer));
    x.dp.device().remove_peer(x.peer);
    x.peer = kNoPeer;
  }

  // Both instances tell their port where they are (NA; instance 0 also a gratuitous ARP).
  void announce(int s) {
    const Site& x = at(s).site;
    const Addr16 all_nodes = addr("ff02::1");
    for (int i = 0; i < 2; ++i)
      port_batch(s, static_cast<PortId>(i),
                 {frame(multicast_mac(all_nodes), x.inst_mac[i], pkt::kEtherIpv6,
                        neighbor_advert(x.inst6[i], all_nodes, x.inst6[i], kNaOverride, x.inst_mac[i]))});
    port_batch(s, 0, {frame(kBroadcastMac, x.inst_mac[0], pkt::kEtherArp, arp(1, x.inst_mac[0], x.inst4, Mac{}, x.inst4))});
  }

  // Side s's routes are about to lose prefixes of its peer. A packet that crossed to s and is
  // not delivered yet may sit parked for an unresolved neighbour, accepted by anti-spoofing
  // under the routes of its time; so each such packet notes whether its source is the peer's
  // now. With the routes as they are at delivery, that covers every stretch of time since it
  // was sent, and the one it was opened in among them.
  void remember_sources(int s) {
    if (at(s).peer == kNoPeer) return;
    for (Sent& x : sent)
      if (x.crossed && x.from == 1 - s && !x.source_was_peers) {
        const RouteTarget* r = at(s).dp.gateway().routes().lookup(x.family, x.src.data());
        x.source_was_peers = r && *r == RouteTarget::peer(at(s).peer);
      }
  }

  // --- batches in, with everything they cause checked ---

  void tun_batch(int s, const std::vector<Bytes>& ips, const Vnet* vnet) {
    Side& x = at(s);
    std::vector<Bytes> bufs;
    std::vector<DeviceRead> reads;
    for (const Bytes& ip : ips) {
      Bytes& b = bufs.emplace_back(backend_buffer(kIngressHeadroom, ip.size()));
      std::copy(ip.begin(), ip.end(), b.begin() + kIngressHeadroom);
      if (x.vnet) {
        const Bytes f = frame(Mac{}, Mac{}, 0, {}, vnet ? *vnet : Vnet{});
        std::copy(f.begin(), f.begin() + kVnetLen, b.begin() + (kIngressHeadroom - kVnetLen));
      }
    }
    for (size_t i = 0; i < ips.size(); ++i) reads.push_back({bufs[i], ips[i].size()});
    const DropCounters before = x.dp.device().drops();
    x.dp.on_tun_packets(env(), reads);
    after_call(s, before);
  }

  void port_batch(int s, PortId port, const std::vector<Bytes>& frames) {
    Side& x = at(s);
    std::vector<Bytes> bufs;
    std::vector<DeviceRead> reads;
    for (const Bytes& f : frames) {
      Bytes& b = bufs.emplace_back(backend_buffer(kPortReadOffset, f.size()));
      std::copy(f.begin(), f.end(), b.begin() + kPortReadOffset);
    }
    for (size_t i = 0; i < frames.size(); ++i) reads.push_back({bufs[i], frames[i].size()});
    const DropCounters before = x.dp.device().drops();
    x.dp.on_port_frames(env(), port, reads);
    after_call(s, before);
  }

  // Up to n datagrams (0: the batch size) from the head of wire d to side 1 - d, as one batch;
  // with gro, runs of equal-sized datagrams (a shorter last) as one UDP_GRO receive each.
  void deliver(int d, size_t n) {
    std::deque<Bytes>& w = wire[d];
    n = std::min({n ? n : batch, w.size(), kMaxBatch});
    if (n == 0) return;
    Side& x = at(1 - d);
    std::vector<Bytes> bufs;
    std::vector<std::pair<size_t, size_t>> spans;  // (first datagram, count) per receive
    size_t expected = 0;
    for (size_t i = 0; i < n;) {
      size_t k = 1;
      if (gro)
        while (i + k < n && k < kMaxGroSegments && w[i + k].size() <= w[i].size() && w[i + k - 1].size() == w[i].size() &&
               !w[i].empty())
          ++k;
      spans.emplace_back(i, k);
      i += k;
    }
    std::vector<RxDatagram> batch_in;
    for (auto [first, k] : spans) {
      size_t total = 0;
      for (size_t j = 0; j < k; ++j) total += w[first + j].size();
      Bytes& b = bufs.emplace_back(backend_buffer(kRxHeadroom, total));
      size_t off = kRxHeadroom;
      for (size_t j = 0; j < k; ++j) {
        std::copy(w[first + j].begin(), w[first + j].end(), b.begin() + static_cast<std::ptrdiff_t>(off));
        off += w[first + j].size();
        expected += needs_answer(w[first + j]);
      }
      batch_in.push_back({{b.data() + kRxHeadroom, total}, other(1 - d).site.ep, kRxHeadroom, k > 1 ? w[first].size() : 0});
    }
    w.erase(w.begin(), w.begin() + static_cast<std::ptrdiff_t>(n));
    const DropCounters before = x.dp.device().drops();
    const DataPlaneCounters c0 = x.dp.counters();
    const size_t udp0 = x.out.datagram_count(), writes0 = x.out.writes.size();
    opening = 1 - d;
    x.dp.on_datagrams(env(), batch_in);
    const DataPlaneCounters c1 = x.dp.counters();
    const size_t effects = (x.out.datagram_count() - udp0) + (x.out.writes.size() - writes0) +
                           (c1.gro_segments - c0.gro_segments) - (c1.gro_super_packets - c0.gro_super_packets) +
                           (x.dp.device().drops().total() - before.total());
    // A packet parked for an unresolved neighbour may be held without a trace (one per port).
    const size_t slack = unresolved || !raw.empty() ? 2 : 0;
    check(effects + slack >= expected, "a datagram vanished: no write, no datagram out, no drop counted");
    after_call(1 - d, before);
    opening = -1;
  }

  // A well-framed cookie reply or keepalive may be consumed without a trace; anything else
  // handed in must give something out or count a drop.
  static bool needs_answer(const Bytes& d) {
    if (d.size() < 4 || d[1] || d[2] || d[3]) return true;
    if (d[0] == 3 && d.size() == cookie_reply::kLen) return false;
    if (d[0] == 4 && d.size() == data::kMinLen) return false;
    return true;
  }

  void tick(int s) {
    const DropCounters before = at(s).dp.device().drops();
    at(s).dp.tick(env());
    after_call(s, before);
  }
  void flush_outbox(int s) {
    const DropCounters before = at(s).dp.device().drops();
    at(s).dp.flush_outbox();
    after_call(s, before);
  }

  // --- what a side handed out ---

  void after_call(int s, const DropCounters& before) {
    Side& x = at(s);
    check(x.out.changed_before_flush == 0, "a buffer changed before its flush");
    const DropCounters& now = x.dp.device().drops();
    for (size_t i = 0; i < now.count.size(); ++i) check(now.count[i] >= before.count[i], "a drop counter went down");
    for (size_t m = x.udp_done; m < x.out.udp.size(); ++m) take_message(s, x.out.udp[m]);
    for (size_t w = x.writes_done; w < x.out.writes.size(); ++w) take_write(s, x.out.writes[w]);
    x.out.udp.clear();
    x.out.writes.clear();
    x.udp_done = x.writes_done = 0;
    x.dp.events().clear();
  }

  void take_message(int s, const RecordingEgress::Message& m) {
    check(m.to.same_remote(other(s).site.ep), "a datagram to an address that is not the peer's");
    check(!m.datagrams.empty() && m.datagrams.size() <= kMaxGsoSegments, "a UDP message of no or too many datagrams");
    size_t total = 0;
    for (size_t i = 0; i < m.datagrams.size(); ++i) {
      const Bytes& d = m.datagrams[i];
      total += d.size();
      if (i > 0) check(d.size() <= m.datagrams[0].size(), "a GSO datagram longer than the first");
      if (i > 0 && i + 1 < m.datagrams.size()) check(d.size() == m.datagrams[0].size(), "a GSO run of unequal sizes");
      check(d.size() >= 4 && d[1] == 0 && d[2] == 0 && d[3] == 0, "a datagram without a message header");
      switch (d[0]) {
        case 1: check(d.size() == initiation::kLen, "initiation of the wrong size"); break;
        case 2: check(d.size() == response::kLen, "response of the wrong size"); break;
        case 3: check(d.size() == cookie_reply::kLen, "cookie reply of the wrong size"); break;
        case 4: {
          // Padded to 16 but never past the MTU, counted from the last MTU-sized unit (kernel
          // send.c calculate_skb_padding): a TSO segment may be longer than the MTU.
          check(d.size() >= data::kMinLen, "data message shorter than its header and tag");
          const size_t mtu = at(s).dp.tunnel_mtu();
          check((d.size() - data::kMinLen) % mtu % 16 == 0, "data message not padded");
          break;
        }
        default: fail("a datagram of no known type");
      }
      if (d[0] <= 3) last_handshake[s][d[0] - 1] = d;
      wire[s].push_back(d);
    }
    if (m.datagrams.size() > 1) check(total <= kMaxGsoBytes, "a GSO message over its byte limit");
  }

  void take_write(int s, const RecordingEgress::Write& w) {
    const Bytes& b = w.bytes;
    if (w.tun) {
      Vnet v;
      size_t off = 0;
      if (at(s).vnet) {
        check(b.size() >= kVnetLen, "a TUN write without its virtio-net header");
        v = read_vnet_bytes(b.data());
        off = kVnetLen;
      }
      return take_ip({s, 0}, std::span<const uint8_t>(b).subspan(off), v);
    }
    check(w.port < 2, "a write to a port that does not exist");
    check(b.size() >= kFrameHdr, "a port frame shorter than its headers");
    const Site& x = at(s).site;
    check(std::memcmp(&b[kVnet + 6], x.port_mac[w.port].data(), 6) == 0, "a port frame not from the port's MAC");
    const Vnet v = read_vnet_bytes(b.data());
    const uint16_t type = get16(&b[kVnet + 12]);
    const std::span<const uint8_t> payload = std::span<const uint8_t>(b).subspan(kFrameHdr);
    if (type == pkt::kEtherArp) return check(payload.size() == 28, "an ARP frame of the wrong size");
    check(type == pkt::kEtherIpv6 || type == pkt::kEtherIpv4, "a port frame of an unexpected EtherType");
    check((payload.size() >= 1 && (payload[0] >> 4) == (type == pkt::kEtherIpv6 ? 6 : 4)),
          "a port frame whose EtherType and IP version differ");
    take_ip({s, 1 + static_cast<int>(w.port)}, payload, v);
  }

  static Vnet read_vnet_bytes(const uint8_t* p) {
    auto le = [p](size_t i) { return static_cast<uint16_t>(p[i] | p[i + 1] << 8); };
    return Vnet{p[0], p[1], le(2), le(4), le(6), le(8)};
  }

  // One IP packet (or super-packet) written at `place`.
  void take_ip(Place place, std::span<const uint8_t> ip, const Vnet& v) {
    check(ip.size() >= 20, "a written packet shorter than any IP header");
    const unsigned version = ip[0] >> 4;
    check(version == 4 || version == 6, "a written packet that is not IPv4/IPv6");
    Family f = version == 6 ? Family::V6 : Family::V4;
    size_t l4 = 40, len = 0;
    uint8_t proto = 0;
    bool later_fragment = false, fragment = false;
    size_t frag_off = 0;
    uint16_t ipid = 0;
    if (f == Family::V6) {
      check(ip.size() >= 40, "an IPv6 packet shorter than its header");
      len = 40u + get16(&ip[4]);
      proto = ip[6];
    } else {
      l4 = static_cast<size_t>(ip[0] & 0x0f) * 4;
      len = get16(&ip[2]);
      proto = ip[9];
      ipid = get16(&ip[4]);
      const uint16_t fo = get16(&ip[6]);
      frag_off = size_t{fo & 0x1fffu} * 8;
      fragment = (fo & 0x2000) || frag_off;
      later_fragment = frag_off != 0;
      check(l4 >= 20, "an IPv4 header shorter than 20 bytes");
    }
    // A super-packet's length field may be anything (the TUN reads the bytes); else exact.
    if (v.gso_type == pkt::kGsoNone) check(len == ip.size(), "a written packet whose IP length differs from its bytes");
    check(l4 <= ip.size(), "a written packet cut inside its IP header");
    const bool csum_done = !(v.flags & pkt::kVnetNeedsCsum) && v.gso_type == pkt::kGsoNone;
    const std::span<const uint8_t> body = ip.subspan(l4);

    if (!later_fragment && is_icmp(proto, f) && body.size() >= 8) {
      const uint8_t t = body[0];
      const bool echo = f == Family::V6 ? (t == 128 || t == 129) : (t == 0 || t == 8);
      const bool request = f == Family::V6 ? t == 128 : t == 8;
      if (!echo) {
        // Made by a gateway: an error, or ND towards an instance; never a tag to check.
        if (f == Family::V6 && t >= 133 && t <= 137) check(place.where > 0, "ND written to a TUN");
        else check(f == Family::V6 ? t < 128 : (t == 3 || t == 11 || t == 12), "an ICMP message of no known kind");
        if (csum_done && !fragment) check(l4_checksum_ok(Bytes(ip.begin(), ip.end())), "a gateway's ICMP with a bad checksum");
        return;
      }
      if (!request) return;  // an echo reply: made by a gateway (to an instance) or by a host
      return take_tagged(place, f, proto, ip, get16(&body[4]), 0, body.subspan(8), fragment, 8, csum_done);
    }
    if (proto != pkt::kProtoTcp && proto != pkt::kProtoUdp && !is_icmp(proto, f)) return untagged(ip, "an IP packet of no tagged protocol");
    if (later_fragment) {
      return take_later_fragment(place, proto, ip, ipid, frag_off, body);
    }
    if (proto == pkt::kProtoTcp) {
      if (body.size() < 20) return untagged(ip, "a TCP packet cut in its header");
      const size_t doff = static_cast<size_t>(body[12] >> 4) * 4;
      if (doff < 20 || doff > body.size()) return untagged(ip, "a TCP packet with a bad data offset");
      const uint32_t seq = get32(&body[4]) - kSeqBase;
      const uint32_t id = static_cast<uint16_t>(get16(&body[0]) - kSportBase);
      return take_tagged(place, f, proto, ip, id, seq, body.subspan(doff), fragment, doff, csum_done);
    }
    if (proto == pkt::kProtoUdp) {
      if (body.size() < 8) return untagged(ip, "a UDP packet cut in its header");
      const uint32_t id = static_cast<uint16_t>(get16(&body[0]) - kSportBase);
      std::span<const uint8_t> data = body.subspan(8);
      // A joined UDP super-packet: each gso_size piece is one datagram, each starting at a record.
      const size_t piece = v.gso_type == pkt::kGsoUdpL4 && v.gso_size ? v.gso_size : data.size();
      for (size_t at = 0; at < data.size() || at == 0; at += piece) {
        const std::span<const uint8_t> p = data.subspan(at, std::min(piece, data.size() - at));
        // The record names its offset (a UDP segment carries none); a piece too short to name
        // it can only be the last of its packet.
        size_t off = 0;
        if (p.size() >= 6) off = size_t{get16(&p[4])} * kRecord;
        else if (id > 0 && id < sent.size() && sent[id].payload >= p.size()) off = sent[id].payload - p.size();
        take_tagged(place, f, proto, ip, id, off, p, fragment, 8, csum_done && piece == data.size());
        if (data.empty()) break;
      }
      return;
    }
    untagged(ip, "an ICMP packet of no tagged kind");
  }

  static bool is_icmp(uint8_t proto, Family f) { return proto == (f == Family::V6 ? pkt::kProtoIcmp6 : pkt::kProtoIcmp); }

  // A packet not traced to a tagged send: only a Raw op can explain it.
  void untagged(std::span<const uint8_t> ip, const char* what) {
    if (raw_explains(ip)) return;
    fail(what);
  }
  // Raw sent something in which the packet's payload (past 60 bytes of headers at most) lies.
  bool raw_explains(std::span<const uint8_t> ip) const {
    if (raw.empty()) return false;
    const size_t skip = std::min<size_t>(ip.size(), 60);
    const std::span<const uint8_t> tail = ip.subspan(skip);
    if (tail.empty()) return true;
    for (const Bytes& r : raw)
      if (std::search(r.begin(), r.end(), tail.begin(), tail.end()) != r.end()) return true;
    return false;
  }

  // A later IPv4 fragment carries no transport header: its IP ID names the packet. A segment of
  // a super-packet has the super-packet's IP ID plus its index (as the kernel numbers them), and
  // its fragment offsets count from the segment's own transport header. So the candidates are
  // the packet whose id is the IP ID, and the super-packets sent before it, each
  // with its segment's place in the payload; the one whose bytes are there, not delivered yet,
  // takes the fragment.
  void take_later_fragment(Place place, uint8_t proto, std::span<const uint8_t> ip, uint16_t ipid, size_t frag_off,
                           std::span<const uint8_t> body) {
    uint32_t pick = 0;
    size_t pick_off = 0;
    for (uint32_t id = 1; id < sent.size(); ++id) {
      const uint32_t k = static_cast<uint16_t>(ipid - id);
      const Sent& s = sent[id];
      if (k > 0 && (s.gso_size == 0 || k * s.gso_size >= s.payload)) continue;
      if (s.family != Family::V4 || s.proto != proto || frag_off < s.l4_header) continue;
      const size_t off = k * s.gso_size + (frag_off - s.l4_header);
      if (tagged_problem(place, Family::V4, proto, ip, id, off, body, true, 0)) continue;
      const auto from = s.seen.begin() + static_cast<std::ptrdiff_t>(off);
      const bool fresh = std::none_of(from, from + static_cast<std::ptrdiff_t>(body.size()), [](uint8_t x) { return x != 0; });
      if (pick == 0 || fresh) pick = id, pick_off = off;
      if (fresh) break;
    }
    // None: the IP ID's own packet reports what is wrong (or Raw explains it); a candidate
    // whose bytes were all delivered already fails there as a byte delivered twice.
    if (pick == 0) {
      if (ipid == 0 || ipid >= sent.size() || frag_off < sent[ipid].l4_header) return untagged(ip, "a fragment of no packet sent");
      pick = ipid, pick_off = frag_off - sent[ipid].l4_header;
    }
    take_tagged(place, Family::V4, proto, ip, pick, pick_off, body, true, 0, false);
  }

  void take_tagged(Place place, Family f, uint8_t proto, std::span<const uint8_t> ip, uint32_t id, size_t off,
                   std::span<const uint8_t> payload, bool fragment, size_t l4_header, bool checksum) {
    const char* bad = tagged_problem(place, f, proto, ip, id, off, payload, fragment, l4_header);
    if (bad) return untagged(ip, bad);
    Sent& s = sent[id];
    if (checksum && !fragment) check(l4_checksum_ok(Bytes(ip.begin(), ip.begin() + static_cast<std::ptrdiff_t>(
                                                                                  f == Family::V6 ? 40 + get16(&ip[4]) : get16(&ip[2])))),
                                     "a delivered packet with a bad transport checksum");
    for (size_t i = 0; i < payload.size(); ++i) {
      check(!s.seen[off + i], "a byte delivered twice");
      s.seen[off + i] = 1;
    }
    if (s.crossed && !reordered[s.from] && !fragment)
      check(off >= s.last_end || payload.empty(), "a packet's pieces delivered out of the order the wire kept");
    s.last_end = std::max(s.last_end, off + payload.size());
    ++delivered_tagged;
    crossed_tunnel += s.crossed;
  }

  const char* tagged_problem(Place place, Family f, uint8_t proto, std::span<const uint8_t> ip, uint32_t id, size_t off,
                             std::span<const uint8_t> payload, bool fragment, size_t l4_header) {
    if (id == 0 || id >= sent.size()) return "a packet with an id never sent";
    const Sent& s = sent[id];
    if (s.family != f || s.proto != proto) return "a packet of another family or protocol than its id's";
    const size_t a = f == Family::V6 ? 16 : 4;
    if (std::memcmp(&ip[f == Family::V6 ? 8 : 12], s.src.data(), a) != 0) return "a packet with another source than sent";
    if (std::memcmp(&ip[f == Family::V6 ? 24 : 16], s.dst.data(), a) != 0) return "a packet with another destination than sent";
    if (s.crossed) {
      // The receiving side decides where it goes, with its routes as they are now; and its
      // anti-spoofing must have checked the source routes back to the peer.
      if (place.side != 1 - s.from || !(place == tunnel_place(place.side, f, s.dst)))
        return "a packet from the tunnel delivered where the receiver's routes do not send it";
      // Delivered by the call that opened it, that check used the routes as they are now; by a
      // later call (a parked packet whose neighbour answered) it may have been any since it
      // was sent.
      const RouteTarget* back = at(place.side).dp.gateway().routes().lookup(f, s.src.data());
      const bool peers = back && *back == RouteTarget::peer(at(place.side).peer);
      if (!peers && (opening == place.side || !s.source_was_peers)) return "a packet from the tunnel whose source is not the peer's";
    } else if (!(s.to == place)) {
      return "a packet delivered to a place its destination does not name";
    }
    if (!fragment && l4_header != s.l4_header) return "a packet with another transport header size than sent";
    if (off > s.payload || payload.size() > s.payload - off) return "a packet reaching past the payload sent";
    if (!tag_matches(id, off, payload.data(), payload.size())) return "a packet whose bytes differ from those sent";
    return nullptr;
  }

  // --- sending tagged packets ---

  // A tagged IP packet from `src` to `dst`; returns its id (0 when ids ran out).
  uint32_t tagged(int from, Family f, uint8_t proto, const Addr16& src, const Addr16& dst, size_t payload, Place to,
                  bool crossed, bool df, uint16_t dport, Bytes& ip) {
    if (sent.size() >= 0xffff - kSportBase) return 0;
    const auto id = static_cast<uint32_t>(sent.size());
    Bytes data(payload);
    for (size_t i = 0; i < payload; ++i) data[i] = tag_byte(id, i);
    Bytes l4;
    size_t hdr = 8;
    const auto sport = static_cast<uint16_t>(kSportBase + id);
    if (proto == pkt::kProtoTcp) {
      l4 = tcp(sport, dport, 0x18, kSeqBase, 0);
      hdr = 20;
    } else if (proto == pkt::kProtoUdp) {
      l4 = udp(sport, dport, 0);
    } else {
      l4 = icmp(f == Family::V6 ? 128 : 8, 0, {static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id), 0, 0});
    }
    l4.insert(l4.end(), data.begin(), data.end());
    if (proto == pkt::kProtoUdp) put16(&l4[4], static_cast<uint16_t>(l4.size()));
    ip = f == Family::V6 ? ip6(src, dst, proto, l4) : ip4(src, dst, proto, l4, 64, df, static_cast<uint16_t>(id));
    Sent s;
    s.from = from;
    s.family = f;
    s.proto = proto;
    s.src = src;
    s.dst = dst;
    s.payload = payload;
    s.l4_header = hdr;
    s.to = to;
    s.crossed = crossed;
    s.seen.assign(payload, 0);
    sent.push_back(std::move(s));
    return id;
  }

  // The address of a destination class, from side s.
  Addr16 target(int s, Family f, uint8_t d) {
    const Site& me = at(s).site;
    const Site& peer = other(s).site;
    const bool v6 = f == Family::V6;
    switch (static_cast<Dst>(d % DstCount)) {
      case PHost: return v6 ? peer.host6 : peer.host4;
      case PInst0: return v6 ? peer.inst6[0] : peer.inst4;
      case PInst1: return v6 ? peer.inst6[1] : peer.port4;
      case PSite: return v6 ? peer.site6 : peer.site4;
      case PUnreachable: return v6 ? peer.unreach6 : addr("198.51.100.200");
      case SInst0: return v6 ? me.inst6[0] : me.inst4;
      case SInst1: return v6 ? me.inst6[1] : me.port4;
      case Nowhere: return v6 ? addr("2001:db8:ff::1") : addr("203.0.113.9");
      default: return v6 ? me.host6 : me.host4;
    }
  }

  // Where a packet from the tunnel to dst goes on side s (gateway.hpp: a port, an Unreachable
  // prefix (nowhere), else the TUN).
  Place tunnel_place(int s, Family f, const Addr16& dst) {
    const RouteTarget* r = at(s).dp.gateway().routes().lookup(f, dst.data());
    if (r && r->kind == RouteTarget::Kind::Port) return {s, 1 + static_cast<int>(r->id)};
    if (r && r->kind == RouteTarget::Kind::Unreachable) return {};
    return {s, 0};
  }
  // Where a packet from side s's TUN (port < 0) or port to dst goes: through the tunnel
  // (crossed), to one of its ports (from the TUN only: ports never talk to each other), or nowhere.
  Place local_place(int s, int port, Family f, const Addr16& dst, bool& crossed) {
    const RouteTarget* r = at(s).dp.gateway().routes().lookup(f, dst.data());
    crossed = r && r->kind == RouteTarget::Kind::Peer && r->id == at(s).peer && at(s).peer != kNoPeer;
    if (port < 0 && r && r->kind == RouteTarget::Kind::Port) return {s, 1 + static_cast<int>(r->id)};
    return {};
  }

  // --- the end: heal and check both directions get through ---

  void heal() {
    for (int s = 0; s < 2; ++s) {
      if (at(s).peer == kNoPeer) add_peer(s);
      // The configured AllowedIPs, nothing more.
      remember_sources(s);
      at(s).dp.gateway().routes().remove_value(RouteTarget::peer(at(s).peer));
      for (uint8_t k = 0; k < 2; ++k) allow(s, allowed_choice(other(s).site, k));
      if (s == 0) at(s).dp.device().set_endpoint(at(s).peer, other(s).site.ep);
      // No persistent keepalive (the world's configuration has none). Set on both sides within
      // one timer step, the two keepalives fire at the same instant every interval, each
      // starting a handshake that crosses the other's on this zero-latency wire; a keepalive
      // initiation is not jittered (as in the kernel), and it comes before the jittered
      // retransmit every time, so the two sides can go on superseding each other for good.
      at(s).dp.device().set_persistent_keepalive(env(), at(s).peer, 0, at(s).dp.outbox());
      flush_outbox(s);
    }
    wire[0].clear();
    wire[1].clear();
    reordered[0] = reordered[1] = false;
    gro = false;
    batch = kMaxBatch;
    for (int s = 0; s < 2; ++s) {
      bool through = false;
      // One packet a second; in between, time jumps from one timer deadline of either side to
      // the next (at least 1 ms), each side's timers fire at their own instant. With one tick
      // a second both sides' handshake retries (5 s + up to 1/3 s of jitter) would fire in the
      // same step every time, cross on the wire, supersede each other and never finish; the
      // jitter is there to break exactly that symmetry, and it needs a clock finer than itself.
      // (Fixed 50 ms steps did that too, at 20 ticks of both sides a second.)
      for (int step = 0; step < kHealSteps && !through; ++step) {
        Bytes ip;
        const Addr16 dst = target(s, Family::V6, PHost);
        bool crossed = false;
        const Place to = local_place(s, -1, Family::V6, dst, crossed);
        check(crossed, "healing: the configured routes do not lead to the peer");
        const uint32_t id = tagged(s, Family::V6, pkt::kProtoUdp, at(s).site.host6, dst, 24, to, crossed, true, 7, ip);
        if (id == 0) return;  // ids ran out: nothing more to trace
        tun_batch(s, {ip}, nullptr);
        pump();
        through = sent[id].seen[0] != 0;
        const Instant second = clock.now + std::chrono::seconds(1);
        while (!through && clock.now < second) {  // at most 1000 turns: each advances >= 1 ms
          Instant next = second;
          for (int k = 0; k < 2; ++k)
            if (const auto d = at(k).dp.device().next_deadline())
              next = std::min(next, std::max(*d, clock.now + std::chrono::milliseconds(1)));
          clock.advance(next - clock.now);
          tick(0);
          tick(1);
          pump();
          through = sent[id].seen[0] != 0;
        }
      }
      check(through, "no packet got through after the wire healed");
    }
  }

  // Delivers both directions until quiet (bounded).
  void pump() {
    for (int r = 0; r < 16 && (!wire[0].empty() || !wire[1].empty()); ++r)
      for (int d = 0; d < 2; ++d)
        while (!wire[d].empty()) deliver(d, 0);
  }
};

// --- the operations ---

struct Reader {
  const uint8_t* p;
  size_t n;
  uint8_t byte() {
    if (n == 0) return 0;
    --n;
    return *p++;
  }
};

inline size_t payload_len(uint8_t lo, uint8_t hi) {
  if (hi == 0xff) return 65535;
  if (hi & 0x80) return lo | size_t{hi & 0x7fu} << 8;
  return lo + size_t{hi & 0x07u} * 256;
}

inline uint8_t proto_of_bits(unsigned b) {
  switch (b & 3) {
    case 1: return pkt::kProtoTcp;
    case 2: return 0xff;  // ICMP (the family's)
    default: return pkt::kProtoUdp;
  }
}

// Tagged packets from side s's TUN (port < 0) or instance `port`; for a super-packet, the
// virtio-net header that asks for its segmentation.
inline void send_tagged(World& w, int s, int port, const uint8_t a[6], std::vector<Bytes>& out, Vnet& vnet) {
  const bool v4 = a[0] & 0x02;
  const Family f = v4 ? Family::V4 : Family::V6;
  uint8_t proto = proto_of_bits(a[0] >> 2);
  if (proto == 0xff) proto = v4 ? pkt::kProtoIcmp : pkt::kProtoIcmp6;
  const bool tso = (a[0] & 0x10) && proto != pkt::kProtoIcmp && proto != pkt::kProtoIcmp6;
  const bool no_df = a[4] & 0x01, spoof = a[0] & 0x40;
  const uint16_t dport = (a[4] & 0x02) ? 80 : proto == pkt::kProtoTcp ? 22 : 5000 + (a[4] >> 4) % 11;
  const Site& me = w.at(s).site;
  Addr16 src = port < 0 ? (v4 ? me.host4 : me.host6) : (v4 ? me.inst4 : me.inst6[port]);
  if (spoof) src = v4 ? addr("203.0.113.77") : addr("2001:db8:ff::77");
  const Addr16 dst = w.target(s, f, a[1]);
  const size_t l3 = v4 ? 20 : 40, l4 = proto == pkt::kProtoTcp ? 20 : 8;
  size_t len = std::min(payload_len(a[2], a[3]), 65535 - l3 - l4);
  if (!tso) len = std::min<size_t>(len, 9000);
  bool crossed = false;
  Place to = w.local_place(s, port, f, dst, crossed);
  // From a port: only its instance's own addresses get past anti-spoofing.
  if (port >= 0 && (spoof || (v4 && port == 1))) to = {}, crossed = false;
  const size_t count = tso ? 1 : 1 + (a[4] >> 2 & 3);
  for (size_t k = 0; k < count; ++k) {
    Bytes ip;
    if (w.tagged(s, f, proto, src, dst, len, to, crossed, !no_df, dport, ip) == 0) return;
    out.push_back(std::move(ip));
  }
  if (tso) {
    w.sent.back().gso_size = size_t{8} * (1 + a[5]);
    const uint8_t type = proto == pkt::kProtoUdp ? pkt::kGsoUdpL4 : v4 ? pkt::kGsoTcpV4 : pkt::kGsoTcpV6;
    vnet = Vnet{pkt::kVnetNeedsCsum, type, static_cast<uint16_t>(l3 + l4), static_cast<uint16_t>(8 * (1 + a[5])),
                static_cast<uint16_t>(l3), static_cast<uint16_t>(proto == pkt::kProtoTcp ? 16 : 6)};
  }
}

inline void op_port_send(World& w, const uint8_t a[6]) {
  const int s = a[0] & 1;
  const int port = (a[0] >> 1) & 1;
  const Site& me = w.at(s).site;
  const Mac& inst = me.inst_mac[port];
  const Mac& gw_mac = me.port_mac[port];
  const Addr16 ll = addr("fe80::1");
  const Addr16 all_nodes = addr("ff02::1");
  const Addr16 own6 = me.inst6[port];
  switch ((a[0] >> 2) & 7) {
    case 2:  // the instance announces itself
      return w.port_batch(s, port, {frame(multicast_mac(all_nodes), inst, pkt::kEtherIpv6,
                                          neighbor_advert(own6, all_nodes, own6, kNaOverride, inst))});
    case 3:  // the instance asks for the gateway's link-local address
      return w.port_batch(s, port, {frame(multicast_mac(solicited_node(ll)), inst, pkt::kEtherIpv6,
                                          neighbor_solicit(kInstLl, solicited_node(ll), ll, inst))});
    case 4:  // ARP: who has the port's address / a gratuitous one
      return w.port_batch(s, port, {frame(kBroadcastMac, inst, pkt::kEtherArp,
                                          (a[4] & 1) ? arp(1, inst, me.inst4, Mac{}, me.inst4)
                                                     : arp(1, inst, me.inst4, Mac{}, me.port4))});
    case 5: {  // echo to the port's own address
      const bool v4 = a[0] & 0x20;
      const Bytes e = icmp(v4 ? 8 : 128, 0, echo_body(static_cast<uint16_t>(a[1]), 1, a[2] % 64));
      return w.port_batch(s, port, {frame(gw_mac, inst, v4 ? pkt::kEtherIpv4 : pkt::kEtherIpv6,
                                          v4 ? ip4(me.inst4, me.port4, pkt::kProtoIcmp, e) : ip6(kInstLl, ll, pkt::kProtoIcmp6, e))});
    }
    case 6: {  // someone else claims the instance's address
      const Mac other{0x52, 0x54, 0, 0, 0xee, a[1]};
      return w.port_batch(s, port, {frame(multicast_mac(all_nodes), other, pkt::kEtherIpv6,
                                          neighbor_advert(own6, all_nodes, own6, kNaOverride, other))});
    }
    default: {  // tagged IP (kinds 0, 1, 7), spoofed for kind 1, a super-packet for kind 7
      uint8_t b[6] = {static_cast<uint8_t>((a[0] & 0x20 ? 0x02 : 0) | ((a[0] >> 6) << 2) |
                                           (((a[0] >> 2) & 7) == 7 ? 0x10 : 0) | (((a[0] >> 2) & 7) == 1 ? 0x40 : 0)),
                      a[1], a[2], a[3], a[4], a[5]};
      std::vector<Bytes> ips;
      Vnet v;
      send_tagged(w, s, port, b, ips, v);
      std::vector<Bytes> frames;
      for (const Bytes& ip : ips)
        frames.push_back(frame(gw_mac, inst, family_of(ip) == Family::V4 ? pkt::kEtherIpv4 : pkt::kEtherIpv6, ip, v));
      if (!frames.empty()) w.port_batch(s, port, frames);
    }
  }
}

inline void op_craft(World& w, const uint8_t a[5]) {
  const int to = a[0] & 1;
  const int type = ((a[0] >> 1) & 3) % 3;
  Bytes m = w.last_handshake[1 - to][type];
  if (m.empty()) return;
  for (int k = 0; k < 2; ++k)
    if (a[2 + 2 * k]) m[a[1 + 2 * k] % m.size()] ^= a[2 + 2 * k];
  if ((a[0] & 0x10) && type > 0 && w.at(to).peer != kNoPeer) {
    // The receiver index: one the receiver would look up.
    const Peer& p = *w.at(to).dp.device().peer(w.at(to).peer);
    uint32_t idx = p.handshake.has_local_index ? p.handshake.local_index : 0;
    if (p.keypairs.current && (a[0] & 0x20)) idx = p.keypairs.current->local_index;
    store_le32(m.data() + (type == 1 ? response::kReceiver : cookie_reply::kReceiver), idx);
  }
  if ((a[0] & 0x08) && type < 2) fix_mac1(m, w.at(to).dp.device().identity().public_key);
  if (a[0] & 0x40) {
    w.wire[1 - to].push_front(m);
    w.deliver(1 - to, 1);
  } else {
    w.wire[1 - to].push_back(m);
  }
}

inline void op_raw(World& w, Reader& in) {
  const uint8_t k = in.byte();
  size_t len = in.byte();
  len |= size_t{in.byte()} << 8;
  len = std::min(len, in.n);
  Bytes b(in.p, in.p + len);
  in.p += len;
  in.n -= len;
  const int s = k & 1;
  switch ((k >> 1) & 3) {
    case 0:
      // A datagram to side s. A data message's tag is spoiled: with the world's fixed keys a
      // datagram sealed in another run could open here and deliver what this run never sent.
      if (b.size() >= data::kMinLen && b[0] == 4) b.back() ^= 0x80;
      if (b.empty()) return;
      w.wire[1 - s].push_front(b);
      return w.deliver(1 - s, 1);
    case 1: {
      w.raw.push_back(b);
      Vnet v;
      if (w.at(s).vnet && b.size() >= kVnetLen) {
        v = World::read_vnet_bytes(b.data());
        b.erase(b.begin(), b.begin() + kVnetLen);
      }
      return w.tun_batch(s, {b}, &v);
    }
    default:
      w.raw.push_back(b);
      return w.port_batch(s, static_cast<PortId>((k >> 1) & 1), {b});
  }
}

// Runs one input against a fresh world; every invariant is checked on the way.
inline void run(World& w, const uint8_t* data, size_t size) {
  Reader in{data, size};
  const uint8_t config = in.byte(), sizes = in.byte();
  w.build(config, sizes);
  for (int ops = 0; ops < kMaxOps && in.n > 0; ++ops) {
    const auto op = static_cast<Op>(in.byte() % static_cast<uint8_t>(Op::Count));
    if (op == Op::Raw) {
      op_raw(w, in);
      continue;
    }
    uint8_t a[6] = {};
    for (size_t i = 0; i < kOpArgs[static_cast<size_t>(op)]; ++i) a[i] = in.byte();
    const int s = a[0] & 1;
    std::deque<Bytes>& wire = w.wire[s];
    switch (op) {
      case Op::TunSend: {
        std::vector<Bytes> ips;
        Vnet v;
        send_tagged(w, s, -1, a, ips, v);
        if (!ips.empty()) w.tun_batch(s, ips, &v);
        break;
      }
      case Op::PortSend: op_port_send(w, a); break;
      case Op::Deliver: {
        const bool keep = w.gro;
        w.gro = w.gro || (a[0] & 2);
        w.deliver(s, a[1]);
        w.gro = keep;
        break;
      }
      case Op::Drop:
        for (size_t k = 0; k < std::max<size_t>(a[1], 1) && !wire.empty(); ++k) wire.pop_front();
        break;
      case Op::Duplicate:
        if (!wire.empty()) {
          const size_t i = a[1] % wire.size();
          const Bytes copy = wire[i];
          if (a[0] & 2) {
            // A copy behind later datagrams is a reordering once the original is lost (dropped,
            // corrupted, cut): the receiver's window accepts the late copy, as it should.
            if (i + 1 < wire.size()) w.reordered[s] = true;
            wire.push_back(copy);
          } else {
            wire.insert(wire.begin() + static_cast<std::ptrdiff_t>(i) + 1, copy);
          }
        }
        break;
      case Op::Reorder:
        if (wire.size() > 1) {
          const size_t i = a[1] % wire.size(), j = a[2] % wire.size();
          if (i != j) {
            std::swap(wire[i], wire[j]);
            w.reordered[s] = true;
          }
        }
        break;
      case Op::Corrupt:
        if (!wire.empty()) {
          Bytes& d = wire[a[1] % wire.size()];
          d[(a[2] | a[3] << 8) % d.size()] ^= a[4] ? a[4] : 1;
        }
        break;
      case Op::Truncate:
        if (!wire.empty()) {
          Bytes& d = wire[a[1] % wire.size()];
          d.resize((a[2] | a[3] << 8) % d.size());
          if (d.empty()) wire.erase(wire.begin() + a[1] % wire.size());
        }
        break;
      case Op::Craft: op_craft(w, a); break;
      case Op::Time: {
        static constexpr int64_t kUnitMs[4] = {10, 100, 1000, 10000};
        w.clock.advance(std::chrono::milliseconds(kUnitMs[a[0] & 3] * (1 + a[1])));
        w.tick(0);
        w.tick(1);
        break;
      }
      case Op::UnderLoad: w.at(s).dp.device().note_handshake_backlog(w.clock.now, a[1]); break;
      case Op::AllowedIps:
        if (w.at(s).peer == kNoPeer) break;
        if (a[0] & 2) {
          w.allow(s, allowed_choice(w.other(s).site, a[1]));
        } else {
          w.remember_sources(s);
          w.at(s).dp.gateway().routes().remove_if(allowed_choice(w.other(s).site, a[1]), RouteTarget::peer(w.at(s).peer));
        }
        break;
      case Op::Peer: {
        Side& x = w.at(s);
        switch ((a[0] >> 1) & 3) {
          case 0:
            if (x.peer != kNoPeer) w.remove_peer(s);
            w.add_peer(s);
            break;
          case 1:
            if (x.peer != kNoPeer) w.remove_peer(s);
            break;
          case 2:
            if (x.peer == kNoPeer) w.add_peer(s);
            else x.dp.device().set_endpoint(x.peer, w.other(s).site.ep);
            break;
          default:
            if (x.peer == kNoPeer) break;
            x.dp.device().set_persistent_keepalive(w.env(), x.peer, a[1] % 30, x.dp.outbox());
            w.flush_outbox(s);
        }
        break;
      }
      case Op::Batch:
        w.batch = 1 + a[0] % kMaxBatch;
        w.gro = a[1] & 1;
        if (a[1] & 2)
          for (int k = 0; k < 2; ++k) w.at(k).out.gso = !w.at(k).out.gso;
        break;
      case Op::Keepalive:
        if (w.at(s).peer == kNoPeer) break;
        w.at(s).dp.device().send_keepalive(w.env(), w.at(s).peer, w.at(s).dp.outbox());
        w.flush_outbox(s);
        break;
      default: break;
    }
  }
  w.heal();
}

// Appends one operation (op byte and its arguments) to an input, for make_corpus.
inline void put_op(Bytes& in, Op op, std::initializer_list<uint8_t> args) {
  in.push_back(static_cast<uint8_t>(op));
  Bytes a(args);
  a.resize(kOpArgs[static_cast<size_t>(op)], 0);
  in.insert(in.end(), a.begin(), a.end());
}

}  // namespace wg::fuzzing::dpw
