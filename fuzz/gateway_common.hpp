// fuzz/gateway_common.hpp — what gateway_fuzz and make_corpus share: the input format, a fresh
// Gateway with the seed configuration (tests/core/gateway_harness.hpp) per input, and an
// output that checks every packet the gateway hands over.
//
// Input: one configuration byte, then records until the bytes run out:
//   [selector] [clock] [length hi] [length lo] [length bytes, fewer if the input ends]
//   selector bits 0-1: 0 = from_port(0), 1 = from_port(1), 2 = from_tunnel, 3 = from_tun;
//            bit 2: from_tunnel as peer 1 (which owns nothing); bits 4-5: before the record,
//            port (bit 0) is 1 detached, 2 attached again, 3 removed; bit 7: the I/O batch ends after
//            this record (queued output is sent, the gateway's scratch buffers are free again)
//   clock:   advanced before the record by n ms (n < 128) or by n - 127 seconds
//   bytes:   a frame (virtio-net header + Ethernet) for a port, an IP packet otherwise, copied
//            into a buffer with the headroom gateway.hpp asks for and kTailRoom bytes after it
// Configuration bits: kCfgNoV4Default (peer 0 does not own 0.0.0.0/0), kCfgAllowHost (port 0),
// kCfgNoEndpoint (peer 0 has no endpoint every third send: the ICMP path for it runs),
// kCfgAutoconf (port 0 has RouterAdvertisements and DHCPv6 and the gateway a DNS line; its
// timers run after every record).
//
// Checked for every packet, when it is handed over and again when the batch ends (it must not
// have changed in between: io/ reads queued spans only at flush):
//   port frames   >= 24 bytes, zero virtio-net header, Ethernet source = the port's MAC, and an
//                 ARP message from that MAC or an IP packet of the EtherType's family that
//                 parses and fills the frame exactly; never to a detached or removed port;
//   tunnel / TUN  parses with parse_ip; the tunnel span has room for header, padding and tag;
//   ICMP errors   (the packet handed over right after counters().icmp_sent moved) an ICMP(v6)
//                 error with a valid checksum, at most 1280 bytes (IPv6) / 576 (IPv4);
// and after every record: no drop counter (global or per port) went down.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <deque>
#include <span>
#include <vector>

#include "core/gateway_harness.hpp"
#include "fuzz_common.hpp"

namespace wg::fuzzing::gateway {

namespace gw = wg::testing::gw;
using wg::testing::FakeClock;
using wg::testing::SeededRng;

inline constexpr uint8_t kCfgNoV4Default = 0x01, kCfgAllowHost = 0x02, kCfgNoEndpoint = 0x04, kCfgAutoconf = 0x08;
inline constexpr uint8_t kSelPort0 = 0, kSelPort1 = 1, kSelTunnel = 2, kSelTun = 3, kSelPeer1 = 0x04,
                         kSelDetach = 0x10, kSelReattach = 0x20, kSelRemove = 0x30, kSelPortEvent = 0x30,
                         kSelEndBatch = 0x80;
inline constexpr size_t kTailRoom = 64;
inline constexpr size_t kFlowCapacity = 64;  // small: evictions are reachable
inline constexpr uint32_t kTunnelMtu = 1420;  // the seed's

// What a run produced, for make_corpus to compare with what a seed is meant to do.
struct Tally {
  size_t to_port[2] = {0, 0};
  size_t to_tunnel = 0, to_tun = 0, icmp_errors = 0, flushes = 0;
  DropCounters drops;
};

class CheckingOutput : public GatewayOutput {
 public:
  CheckingOutput(const Gateway& g, Tally& t) : gw_(g), tally_(t) {}
  uint64_t calls_ = 0;
  bool no_endpoint_every_third = false;  // kCfgNoEndpoint

  Drop to_tunnel(const Env&, PeerId peer, std::span<uint8_t> buf, size_t len, const SealSource*) override {
    check(buf.size() >= send_capacity(len), "to_tunnel: no room for the data header, padding and tag");
    check(peer == 0, "to_tunnel: a peer that owns no address");
    if (no_endpoint_every_third && ++calls_ % 3 == 0) {
      icmp_seen_ = gw_.counters().icmp_sent;  // consumed here: whatever ICMP it was is accounted
      return Drop::NoEndpoint;
    }
    ++tally_.to_tunnel;
    hold(Kind::Tunnel, peer, buf.subspan(data::kHeaderLen, len));
    return Drop::None;
  }
  uint32_t tunnel_mtu() const override { return kTunnelMtu; }
  void to_tun(std::span<uint8_t> ip) override {
    ++tally_.to_tun;
    hold(Kind::Tun, 0, ip);
  }
  void to_port(uint32_t port, std::span<uint8_t> frame) override {
    check(port < gw_.port_count(), "to_port: no such port");
    check(gw_.port_attached(port) && !gw_.port_removed(port), "to_port: a port without a device");
    ++tally_.to_port[port];
    hold(Kind::Port, port, frame);
  }
  void flush() override {
    ++tally_.flushes;
    settle();
  }
  // The end of a batch: everything queued is sent now, so it must still be what it was.
  void settle() {
    for (const Held& h : held_)
      check(std::memcmp(h.p, h.copy.data(), h.copy.size()) == 0, "a queued packet changed before the flush");
    held_.clear();
  }

 private:
  enum class Kind { Tunnel, Tun, Port };
  struct Held {
    const uint8_t* p;
    std::vector<uint8_t> copy;
  };

  void hold(Kind k, uint32_t id, std::span<const uint8_t> bytes) {
    const bool icmp_error = gw_.counters().icmp_sent != icmp_seen_;
    icmp_seen_ = gw_.counters().icmp_sent;
    std::span<const uint8_t> ip = bytes;
    if (k == Kind::Port) ip = check_frame(id, bytes);
    if (!ip.empty()) check_ip(ip, k != Kind::Port, icmp_error);
    held_.push_back({bytes.data(), std::vector<uint8_t>(bytes.begin(), bytes.end())});
  }

  // Returns the IP packet in the frame (empty for ARP).
  std::span<const uint8_t> check_frame(uint32_t port, std::span<const uint8_t> f) {
    check(f.size() >= gw::kFrameHdr, "port frame shorter than virtio-net + Ethernet headers");
    for (size_t i = 0; i < gw::kVnet; ++i) check(f[i] == 0, "port frame with a nonzero virtio-net header");
    const pkt::Mac& mac = gw_.port_spec(port).mac;
    check(std::memcmp(f.data() + gw::kVnet + 6, mac.data(), 6) == 0, "port frame not from the port's MAC");
    const uint16_t type = gw::get16(f.data() + gw::kVnet + 12);
    std::span<const uint8_t> payload = f.subspan(gw::kFrameHdr);
    if (type == pkt::kEtherArp) {
      const auto a = pkt::parse_arp(payload);
      check(a.has_value() && payload.size() == 28, "port frame: bad ARP");
      check(a->sender_mac == mac, "port frame: ARP from another MAC");
      return {};
    }
    check(type == pkt::kEtherIpv6 || type == pkt::kEtherIpv4, "port frame of an unexpected EtherType");
    pkt::IpInfo info;
    check(pkt::parse_ip(payload, info) == pkt::IpError::None, "port frame: IP packet does not parse");
    check(info.family == (type == pkt::kEtherIpv6 ? Family::V6 : Family::V4), "port frame: EtherType and IP version differ");
    check(info.len == payload.size(), "port frame: IP length differs from the frame");
    return payload;
  }

  void check_ip(std::span<const uint8_t> ip, bool routed, bool icmp_error) {
    pkt::IpInfo info;
    if (routed) {
      check(pkt::parse_ip(ip, info) == pkt::IpError::None, "tunnel/TUN packet does not parse");
      check(info.len <= ip.size(), "tunnel/TUN packet shorter than its IP length");
    } else if (pkt::parse_ip(ip, info) != pkt::IpError::None) {
      fail("unreachable: frame IP checked already");
    }
    if (!icmp_error) return;
    ++tally_.icmp_errors;
    const gw::Bytes b(ip.begin(), ip.begin() + static_cast<std::ptrdiff_t>(info.len));
    if (info.family == Family::V6) {
      check(info.proto == pkt::kProtoIcmp6 && info.has_icmp && info.icmp_type < 128, "ICMPv6 error of a non-error type");
      check(info.len <= pkt::kIcmp6ErrorMax, "ICMPv6 error longer than 1280 bytes");
    } else {
      const uint8_t t = info.icmp_type;
      check(info.proto == pkt::kProtoIcmp && info.has_icmp &&
                (t == pkt::kIcmp4DestUnreach || t == pkt::kIcmp4TimeExceeded || t == pkt::kIcmp4ParamProblem),
            "ICMP error of a non-error type");
      check(info.len <= pkt::kIcmp4ErrorMax, "ICMP error longer than 576 bytes");
    }
    check(gw::l4_checksum_ok(b), "ICMP error with a bad checksum");
  }

  const Gateway& gw_;
  Tally& tally_;
  uint64_t icmp_seen_ = 0;
  std::vector<Held> held_;
};


inline bool never_lower(const DropCounters& before, const DropCounters& after) {
  for (size_t i = 0; i < before.count.size(); ++i)
    if (after.count[i] < before.count[i]) return false;
  return true;
}

// Runs one input against a fresh gateway; every invariant is checked on the way.
inline Tally run(const uint8_t* data, size_t size) {
  Tally tally;
  if (size == 0) return tally;
  const uint8_t cfg = data[0];
  FakeClock clock;
  SeededRng rng(3);
  DropCounters drops;
  Gateway g(drops, 0x5eed, kFlowCapacity);
  gw::configure_seed(g, {.v4_default_route = !(cfg & kCfgNoV4Default), .allow_host = (cfg & kCfgAllowHost) != 0,
                         .autoconf = (cfg & kCfgAutoconf) != 0});
  CheckingOutput out(g, tally);
  out.no_endpoint_every_third = (cfg & kCfgNoEndpoint) != 0;
  std::deque<std::vector<uint8_t>> buffers;  // alive until their batch ends

  size_t at = 1;
  while (at + 4 <= size) {
    const uint8_t sel = data[at];
    const uint8_t tick = data[at + 1];
    const size_t len = std::min<size_t>(size_t{data[at + 2]} << 8 | data[at + 3], size - at - 4);
    at += 4;
    clock.advance(tick < 128 ? Duration(std::chrono::milliseconds(tick)) : Duration(std::chrono::seconds(tick - 127)));
    const Env env{clock.now, clock.wall, rng};
    if (cfg & kCfgAutoconf) g.tick(env, out);
    switch (sel & kSelPortEvent) {
      case kSelDetach: g.detach_port(sel & 1); break;
      case kSelReattach: g.reattach_port(sel & 1); break;
      case kSelRemove:
        g.remove_port(sel & 1);
        check(!g.find_port((sel & 1) ? "pub-vm0" : "pub-ct0"), "a removed port is still found");
        break;
    }

    const unsigned kind = sel & 3;
    const size_t off = kind <= kSelPort1 ? kIngressHeadroom - pkt::kFrameHeader : kIngressHeadroom;
    std::vector<uint8_t>& buf = buffers.emplace_back(off + len + kTailRoom, 0);
    std::memcpy(buf.data() + off, data + at, len);
    at += len;

    const DropCounters before = drops;
    const DropCounters before_port[2] = {g.port_stats(0).drops, g.port_stats(1).drops};
    const uint64_t rx_before = kind <= kSelPort1 ? g.port_stats(kind).rx_packets : 0;
    switch (kind) {
      case kSelPort0:
      case kSelPort1:
        g.from_port(env, kind, buf, off, len, out);
        check(g.port_stats(kind).rx_packets == rx_before + 1, "from_port did not count one frame in");
        break;
      case kSelTunnel: g.from_tunnel(env, (sel & kSelPeer1) ? 1 : 0, buf, off, len, out); break;
      case kSelTun:
        if ((sel & kSelPeer1) && len >= pkt::kVnetLen) {
          // The TUN with offloads: a virtio-net header (TSO/USO, checksum left to us) in front.
          const pkt::VnetHeader vnet = pkt::read_vnet(buf.data() + off);
          g.from_tun(env, buf, off + pkt::kVnetLen, len - pkt::kVnetLen, &vnet, out);
        } else {
          g.from_tun(env, buf, off, len, nullptr, out);
        }
        break;
    }
    check(never_lower(before, drops), "a drop counter went down");
    for (uint32_t p = 0; p < 2; ++p) check(never_lower(before_port[p], g.port_stats(p).drops), "a port drop counter went down");

    if (sel & kSelEndBatch) {
      out.settle();
      g.flushed();
      buffers.clear();
    }
  }
  out.settle();
  tally.drops = drops;
  return tally;
}

// Appends one record to an input (for seeds).
inline void append_record(std::vector<uint8_t>& in, uint8_t sel, uint8_t tick, const std::vector<uint8_t>& bytes) {
  in.push_back(sel);
  in.push_back(tick);
  in.push_back(static_cast<uint8_t>(bytes.size() >> 8));
  in.push_back(static_cast<uint8_t>(bytes.size()));
  in.insert(in.end(), bytes.begin(), bytes.end());
}

}  // namespace wg::fuzzing::gateway
