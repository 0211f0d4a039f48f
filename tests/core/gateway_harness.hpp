// tests/core/gateway_harness.hpp — a Gateway configured like the seed configuration, a
// GatewayOutput that records what the gateway sends, and builders for the packets and frames
// the tunnel, the TUN and the ports carry. Checksums are computed here, independently of
// core/packet, so a test never checks that code against itself. No doctest in here: the fuzz
// target and make_corpus use it too.
//
// The seed configuration:
//   host addresses   2001:db8:64:1000::2/64, 192.0.2.1/24
//   unreachable      2001:db8:64:2000::/56
//   peer 0           ::/1, 8000::/1, 0.0.0.0/0
//   port 0 pub-ct0   fe80::1/64, 198.51.100.1/24; routes (= allowed source)
//                    2001:db8:64:2001::2/128, 198.51.100.2/32; allow inbound tcp/22,
//                    udp/5000-5010; MTU 1420; MAC 02:00:00:00:00:01
//   port 1 pub-vm0   fe80::1/64; route 2001:db8:64:2002::2/128; MTU 1280; MAC 02:00:00:00:00:02
#pragma once
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "core/device.hpp"
#include "core/gateway.hpp"
#include "core/harness.hpp"
#include "core/prefix.hpp"

namespace wg::testing::gw {

using namespace wg::core;
using Bytes = std::vector<uint8_t>;
using pkt::Addr16;
using pkt::Mac;

// --- addresses ---

inline Prefix prefix(std::string_view text) {
  const auto p = parse_prefix(text);
  if (!p) std::abort();
  return *p;
}
// "2001:db8::1" or "192.0.2.1" (IPv4 in the first four bytes).
inline Addr16 addr(std::string_view text) {
  Addr16 a{};
  const Prefix p = prefix(text);
  std::memcpy(a.data(), p.addr.data(), 16);
  return a;
}

inline constexpr Mac kPortMac[2] = {{0x02, 0, 0, 0, 0, 0x01}, {0x02, 0, 0, 0, 0, 0x02}};
inline constexpr Mac kInstMac[2] = {{0x52, 0x54, 0, 0, 0, 0x10}, {0x52, 0x54, 0, 0, 0, 0x20}};
inline constexpr Mac kBroadcastMac{0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

// --- byte order and checksums (RFC 1071) ---

inline uint16_t get16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
inline uint32_t get32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | uint32_t{p[3]};
}
inline void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void put32(uint8_t* p, uint32_t v) {
  put16(p, static_cast<uint16_t>(v >> 16));
  put16(p + 2, static_cast<uint16_t>(v));
}

// Sum of big-endian 16-bit words (an odd last byte padded with zero), carries kept.
inline uint64_t word_sum(const uint8_t* p, size_t n, uint64_t acc = 0) {
  for (size_t i = 0; i < n; i += 2) acc += i + 1 < n ? get16(p + i) : static_cast<uint64_t>(p[i]) << 8;
  return acc;
}
// Folds the carries in: the ones' complement sum, not complemented.
inline uint16_t fold_sum(uint64_t acc) {
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return static_cast<uint16_t>(acc);
}
inline uint16_t checksum_of(uint64_t acc) { return static_cast<uint16_t>(~fold_sum(acc)); }

inline size_t alen(Family f) { return f == Family::V4 ? 4 : 16; }

inline uint64_t pseudo_header_sum(Family f, const uint8_t* src, const uint8_t* dst, uint8_t proto, size_t len) {
  uint64_t acc = word_sum(src, alen(f));
  acc = word_sum(dst, alen(f), acc);
  return acc + proto + (len >> 16) + (len & 0xffff);
}

inline size_t l4_checksum_offset(uint8_t proto) {
  switch (proto) {
    case pkt::kProtoTcp: return 16;
    case pkt::kProtoUdp: return 6;
    default: return 2;  // ICMP, ICMPv6
  }
}

// --- transport headers (checksum left zero; the IP builders fill it in) ---

// TCP header (20 bytes, data offset 5) + `payload` bytes of a pattern that depends on seq.
inline Bytes tcp(uint16_t sport, uint16_t dport, uint8_t flags, uint32_t seq = 1000, size_t payload = 0,
                 uint32_t ack = 0) {
  Bytes t(20 + payload);
  put16(&t[0], sport);
  put16(&t[2], dport);
  put32(&t[4], seq);
  put32(&t[8], ack);
  t[12] = 5 << 4;
  t[13] = flags;
  put16(&t[14], 64240);
  for (size_t i = 0; i < payload; ++i) t[20 + i] = static_cast<uint8_t>((seq + i) * 7 + 3);
  return t;
}

inline Bytes udp(uint16_t sport, uint16_t dport, size_t payload = 16, uint8_t fill = 0x5a) {
  Bytes u(8 + payload, fill);
  put16(&u[0], sport);
  put16(&u[2], dport);
  put16(&u[4], static_cast<uint16_t>(u.size()));
  put16(&u[6], 0);
  return u;
}

// ICMP / ICMPv6 message: type, code, checksum (zero), then `rest` (the 4-byte field and data).
inline Bytes icmp(uint8_t type, uint8_t code, const Bytes& rest) {
  Bytes m{type, code, 0, 0};
  m.insert(m.end(), rest.begin(), rest.end());
  return m;
}
inline Bytes echo_body(uint16_t id, uint16_t seq, size_t data) {
  Bytes b(4 + data);
  put16(&b[0], id);
  put16(&b[2], seq);
  for (size_t i = 0; i < data; ++i) b[4 + i] = static_cast<uint8_t>(0x30 + i);
  return b;
}

// --- IP packets ---

inline void fill_l4_checksum(Bytes& p, size_t l4, Family f, uint8_t proto) {
  const size_t len = p.size() - l4;
  const size_t at = l4 + l4_checksum_offset(proto);
  if (at + 2 > p.size()) return;
  put16(&p[at], 0);
  uint64_t acc = word_sum(&p[l4], len);
  if (proto != pkt::kProtoIcmp) {
    const size_t a = alen(f);
    acc += pseudo_header_sum(f, &p[f == Family::V4 ? 12 : 8], &p[f == Family::V4 ? 12 + a : 8 + a], proto, len);
  }
  uint16_t c = checksum_of(acc);
  if (proto == pkt::kProtoUdp && c == 0) c = 0xffff;
  put16(&p[at], c);
}

// IPv6 packet of `l4` behind `ext` (raw extension headers; their next-header chain is the
// caller's), with the transport checksum computed over the final bytes.
inline Bytes ip6(const Addr16& src, const Addr16& dst, uint8_t proto, const Bytes& l4, uint8_t hop = 64,
                 const Bytes& ext = {}, uint8_t first_next = 0xff) {
  Bytes p(40);
  p[0] = 0x60;
  put16(&p[4], static_cast<uint16_t>(ext.size() + l4.size()));
  p[6] = ext.empty() ? proto : first_next;
  p[7] = hop;
  std::memcpy(&p[8], src.data(), 16);
  std::memcpy(&p[24], dst.data(), 16);
  p.insert(p.end(), ext.begin(), ext.end());
  const size_t l4_off = p.size();
  p.insert(p.end(), l4.begin(), l4.end());
  if (proto == pkt::kProtoTcp || proto == pkt::kProtoUdp || proto == pkt::kProtoIcmp6)
    fill_l4_checksum(p, l4_off, Family::V6, proto);
  return p;
}

inline void fill_ipv4_header_checksum(Bytes& p) {
  const size_t ihl = static_cast<size_t>(p[0] & 0x0f) * 4;
  put16(&p[10], 0);
  put16(&p[10], checksum_of(word_sum(p.data(), ihl)));
}

inline Bytes ip4(const Addr16& src, const Addr16& dst, uint8_t proto, const Bytes& l4, uint8_t ttl = 64,
                 bool df = true, uint16_t id = 0x1234, uint8_t tos = 0) {
  Bytes p(20);
  p[0] = 0x45;
  p[1] = tos;
  put16(&p[2], static_cast<uint16_t>(20 + l4.size()));
  put16(&p[4], id);
  put16(&p[6], df ? 0x4000 : 0);
  p[8] = ttl;
  p[9] = proto;
  std::memcpy(&p[12], src.data(), 4);
  std::memcpy(&p[16], dst.data(), 4);
  fill_ipv4_header_checksum(p);
  p.insert(p.end(), l4.begin(), l4.end());
  if (proto == pkt::kProtoTcp || proto == pkt::kProtoUdp || proto == pkt::kProtoIcmp)
    fill_l4_checksum(p, 20, Family::V4, proto);
  return p;
}

// --- checks on packets the gateway wrote (no ext headers / IPv4 options expected) ---

inline Family family_of(const Bytes& p) {
  if (p.empty()) return Family::None;
  return (p[0] >> 4) == 6 ? Family::V6 : (p[0] >> 4) == 4 ? Family::V4 : Family::None;
}
inline size_t l4_offset(const Bytes& p) { return family_of(p) == Family::V6 ? 40 : static_cast<size_t>(p[0] & 0x0f) * 4; }
inline uint8_t proto_of(const Bytes& p) { return family_of(p) == Family::V6 ? p[6] : p[9]; }
inline bool ipv4_header_ok(const Bytes& p) {
  return p.size() >= 20 && fold_sum(word_sum(p.data(), static_cast<size_t>(p[0] & 0x0f) * 4)) == 0xffff;
}
// The IP length fields agree with the bytes.
inline bool ip_length_ok(const Bytes& p) {
  if (family_of(p) == Family::V6) return p.size() >= 40 && get16(&p[4]) + 40u == p.size();
  if (family_of(p) == Family::V4) return p.size() >= 20 && get16(&p[2]) == p.size();
  return false;
}
// The TCP/UDP/ICMP/ICMPv6 checksum verifies.
inline bool l4_checksum_ok(const Bytes& p) {
  const Family f = family_of(p);
  const size_t l4 = l4_offset(p);
  if (f == Family::None || l4 > p.size()) return false;
  const uint8_t proto = proto_of(p);
  uint64_t acc = word_sum(&p[l4], p.size() - l4);
  if (proto != pkt::kProtoIcmp) {
    const size_t a = alen(f);
    acc += pseudo_header_sum(f, &p[f == Family::V4 ? 12 : 8], &p[f == Family::V4 ? 12 + a : 8 + a], proto,
                             p.size() - l4);
  }
  return fold_sum(acc) == 0xffff;
}
inline Addr16 src_of(const Bytes& p) {
  Addr16 a{};
  if (family_of(p) == Family::V6) std::memcpy(a.data(), &p[8], 16);
  else std::memcpy(a.data(), &p[12], 4);
  return a;
}
inline Addr16 dst_of(const Bytes& p) {
  Addr16 a{};
  if (family_of(p) == Family::V6) std::memcpy(a.data(), &p[24], 16);
  else std::memcpy(a.data(), &p[16], 4);
  return a;
}
inline uint8_t ttl_of(const Bytes& p) { return family_of(p) == Family::V6 ? p[7] : p[8]; }

// --- neighbour discovery and ARP ---

inline Addr16 solicited_node(const Addr16& a) {
  Addr16 g{0xff, 0x02};
  g[11] = 0x01;
  g[12] = 0xff;
  g[13] = a[13];
  g[14] = a[14];
  g[15] = a[15];
  return g;
}
inline Mac multicast_mac(const Addr16& group) { return {0x33, 0x33, group[12], group[13], group[14], group[15]}; }

inline Bytes neighbor_solicit(const Addr16& src, const Addr16& dst, const Addr16& target, std::optional<Mac> slla,
                              uint8_t hop = 255) {
  Bytes rest(4 + 16);
  std::memcpy(&rest[4], target.data(), 16);
  if (slla) {
    rest.push_back(1);
    rest.push_back(1);
    rest.insert(rest.end(), slla->begin(), slla->end());
  }
  return ip6(src, dst, pkt::kProtoIcmp6, icmp(pkt::kNdNeighborSolicit, 0, rest), hop);
}

inline constexpr uint8_t kNaRouter = 0x80, kNaSolicited = 0x40, kNaOverride = 0x20;
inline Bytes neighbor_advert(const Addr16& src, const Addr16& dst, const Addr16& target, uint8_t flags,
                             std::optional<Mac> tlla, uint8_t hop = 255) {
  Bytes rest(4 + 16);
  rest[0] = flags;
  std::memcpy(&rest[4], target.data(), 16);
  if (tlla) {
    rest.push_back(2);
    rest.push_back(1);
    rest.insert(rest.end(), tlla->begin(), tlla->end());
  }
  return ip6(src, dst, pkt::kProtoIcmp6, icmp(pkt::kNdNeighborAdvert, 0, rest), hop);
}

// ARP for Ethernet + IPv4 (28 bytes).
inline Bytes arp(uint16_t op, const Mac& sha, const Addr16& spa, const Mac& tha, const Addr16& tpa) {
  Bytes a(28);
  put16(&a[0], 1);
  put16(&a[2], 0x0800);
  a[4] = 6;
  a[5] = 4;
  put16(&a[6], op);
  std::memcpy(&a[8], sha.data(), 6);
  std::memcpy(&a[14], spa.data(), 4);
  std::memcpy(&a[18], tha.data(), 6);
  std::memcpy(&a[24], tpa.data(), 4);
  return a;
}

// --- frames: virtio-net header (little-endian fields) + Ethernet ---

struct Vnet {
  uint8_t flags = 0, gso_type = 0;
  uint16_t hdr_len = 0, gso_size = 0, csum_start = 0, csum_offset = 0;
};
inline constexpr size_t kVnet = 10, kEth = 14, kFrameHdr = kVnet + kEth;

inline Bytes frame(const Mac& dst, const Mac& src, uint16_t type, const Bytes& payload, const Vnet& v = {}) {
  Bytes f(kFrameHdr);
  f[0] = v.flags;
  f[1] = v.gso_type;
  const uint16_t le[4] = {v.hdr_len, v.gso_size, v.csum_start, v.csum_offset};
  for (int i = 0; i < 4; ++i) {
    f[2 + 2 * i] = static_cast<uint8_t>(le[i]);
    f[3 + 2 * i] = static_cast<uint8_t>(le[i] >> 8);
  }
  std::memcpy(&f[kVnet], dst.data(), 6);
  std::memcpy(&f[kVnet + 6], src.data(), 6);
  put16(&f[kVnet + 12], type);
  f.insert(f.end(), payload.begin(), payload.end());
  return f;
}
// An IP packet framed by instance `i` to its port (Ethernet type from the IP version).
inline Bytes inst_frame(int i, const Bytes& ip, const Vnet& v = {}) {
  return frame(kPortMac[i], kInstMac[i], family_of(ip) == Family::V4 ? 0x0800 : 0x86dd, ip, v);
}

inline Mac dst_mac_of(const Bytes& f) {
  Mac m;
  std::memcpy(m.data(), &f[kVnet], 6);
  return m;
}
inline Mac src_mac_of(const Bytes& f) {
  Mac m;
  std::memcpy(m.data(), &f[kVnet + 6], 6);
  return m;
}
inline uint16_t ether_type_of(const Bytes& f) { return get16(&f[kVnet + 12]); }
inline Bytes payload_of(const Bytes& f) { return Bytes(f.begin() + kFrameHdr, f.end()); }

// --- a buffer as io/ hands it in: IP at kIngressHeadroom, frames 24 bytes before that ---

struct Input {
  std::vector<uint8_t> buf;
  size_t off = 0, len = 0;
};
inline Input input_at(const Bytes& bytes, size_t off) {
  Input in;
  in.buf.assign(std::max<size_t>(2048, off + bytes.size() + 128), 0xee);
  std::copy(bytes.begin(), bytes.end(), in.buf.begin() + static_cast<std::ptrdiff_t>(off));
  in.off = off;
  in.len = bytes.size();
  return in;
}
inline Input ip_input(const Bytes& ip) { return input_at(ip, kIngressHeadroom); }
inline Input frame_input(const Bytes& f) { return input_at(f, kIngressHeadroom - kFrameHdr); }

// --- the output ---

struct ToTunnel {
  PeerId peer = 0;
  Bytes ip;
  bool room_ok = false;  // buf had send_capacity(len) bytes (header, padding, tag)
};
struct ToPort {
  uint32_t port = 0;
  Bytes frame;
};

// Records every packet. With `deferred`, it behaves like io/: it keeps the spans it was given
// and reads them only at flush() (or settle()), so a buffer the gateway reuses before a flush
// shows up as a wrong packet.
class RecordingOutput : public GatewayOutput {
 public:
  std::vector<ToTunnel> tunnel;
  std::vector<Bytes> tun;
  std::vector<ToPort> port;
  int flushes = 0;  // flush() calls (made by the gateway)
  bool deferred = false;

  // Peers the output treats as having no endpoint: to_tunnel refuses them, as Device does.
  std::vector<PeerId> no_endpoint;
  uint32_t mtu = 1420;  // the tunnel MTU, which the output (Device, in io/) owns

  Drop to_tunnel(const Env&, PeerId peer, std::span<uint8_t> buf, size_t len, const SealSource*) override {
    if (std::find(no_endpoint.begin(), no_endpoint.end(), peer) != no_endpoint.end()) return Drop::NoEndpoint;
    const bool room = buf.size() >= send_capacity(len);
    tunnel.push_back({peer, {}, room});
    hold(Kind::Tunnel, tunnel.size() - 1, buf.data() + data::kHeaderLen, len);
    return Drop::None;
  }
  uint32_t tunnel_mtu() const override { return mtu; }
  void to_tun(std::span<uint8_t> ip) override {
    tun.emplace_back();
    hold(Kind::Tun, tun.size() - 1, ip.data(), ip.size());
  }
  void to_port(uint32_t p, std::span<uint8_t> f) override {
    port.push_back({p, {}});
    hold(Kind::Port, port.size() - 1, f.data(), f.size());
  }
  void flush() override {
    ++flushes;
    settle();
  }
  // Reads everything still held (the end of a batch).
  void settle() {
    for (const Held& h : held_) {
      Bytes b(h.p, h.p + h.n);
      if (h.kind == Kind::Tunnel) tunnel[h.index].ip = std::move(b);
      if (h.kind == Kind::Tun) tun[h.index] = std::move(b);
      if (h.kind == Kind::Port) port[h.index].frame = std::move(b);
    }
    held_.clear();
  }
  size_t total() const { return tunnel.size() + tun.size() + port.size(); }
  void clear() {
    settle();
    tunnel.clear();
    tun.clear();
    port.clear();
  }

 private:
  enum class Kind { Tunnel, Tun, Port };
  struct Held {
    Kind kind;
    size_t index;
    const uint8_t* p;
    size_t n;
  };
  void hold(Kind k, size_t index, const uint8_t* p, size_t n) {
    held_.push_back({k, index, p, n});
    if (!deferred) settle();
  }
  std::vector<Held> held_;
};

// --- the seed configuration ---

struct SeedOptions {
  bool v4_default_route = true;  // peer 0 owns 0.0.0.0/0
  bool allow_host = false;       // on port 0
  bool autoconf = false;         // port 0: RouterAdvertisements and DHCPv6; a DNS line
};

// The seed's port i (0 pub-ct0, 1 pub-vm0).
inline PortSpec seed_port(int i, const SeedOptions& o = {}) {
  PortSpec spec;
  if (i == 0) {
    spec.name = "pub-ct0";
    spec.addresses = {{Family::V6, addr("fe80::1"), 64}, {Family::V4, addr("198.51.100.1"), 24}};
    spec.routes = {prefix("2001:db8:64:2001::2/128"), prefix("198.51.100.2/32")};
    spec.allow_inbound = {{pkt::kProtoTcp, 22, 22}, {pkt::kProtoUdp, 5000, 5010}};
    spec.mtu = 1420;
    spec.allow_host = o.allow_host;
    spec.router_advertisements = spec.dhcpv6 = o.autoconf;
  } else {
    spec.name = "pub-vm0";
    spec.addresses = {{Family::V6, addr("fe80::1"), 64}};
    spec.routes = {prefix("2001:db8:64:2002::2/128")};
    spec.mtu = 1280;
  }
  spec.allowed_source = spec.routes;
  spec.mac = kPortMac[i];
  return spec;
}

inline void configure_seed(Gateway& gw, const SeedOptions& o = {}) {
  gw.set_host_addresses({{Family::V6, addr("2001:db8:64:1000::2"), 64}, {Family::V4, addr("192.0.2.1"), 24}});
  gw.add_unreachable(prefix("2001:db8:64:2000::/56"));
  gw.routes().insert(prefix("::/1"), RouteTarget::peer(0));
  gw.routes().insert(prefix("8000::/1"), RouteTarget::peer(0));
  if (o.v4_default_route) gw.routes().insert(prefix("0.0.0.0/0"), RouteTarget::peer(0));
  gw.add_port(seed_port(0, o));
  gw.add_port(seed_port(1, o));
  if (o.autoconf) {
    autoconf::DnsInfo dns;
    dns.servers = {addr("2001:db8:53::53")};
    dns.domains = *autoconf::encode_domains({"example.net"});
    gw.set_dns(std::move(dns));
  }
}

// The instances' addresses.
inline const Addr16 kInst6[2] = {addr("2001:db8:64:2001::2"), addr("2001:db8:64:2002::2")};
inline const Addr16 kInstLl = addr("fe80::2");  // both instances' link-local
inline const Addr16 kInst4 = addr("198.51.100.2");
inline const Addr16 kPortLl = addr("fe80::1");
inline const Addr16 kPort4 = addr("198.51.100.1");
inline const Addr16 kHost6 = addr("2001:db8:64:1000::2");
inline const Addr16 kHost4 = addr("192.0.2.1");
inline const Addr16 kRemote6 = addr("2001:db8:ff::10");  // somewhere behind peer 0
inline const Addr16 kRemote4 = addr("203.0.113.5");

// A gateway with the seed configuration, a fake clock and a recording output. Inputs are kept
// alive until clear_inputs(), so a deferred output can read them at flush time.
struct World {
  FakeClock clock;
  SeededRng rng{11};
  DropCounters drops;
  Gateway gw;
  RecordingOutput out;
  std::deque<Input> inputs;

  explicit World(const SeedOptions& o = {}, size_t flow_capacity = 65536, size_t scratch_buffers = Gateway::kScratchBuffers)
      : gw(drops, 0x5eed, flow_capacity, scratch_buffers) {
    configure_seed(gw, o);
  }
  Env env() { return Env{clock.now, clock.wall, rng}; }
  // As io::Interface does: the output owns the MTU, the gateway sizes its scratch for it.
  void set_tunnel_mtu(uint32_t mtu) {
    out.mtu = mtu;
    gw.reserve_for_mtu(mtu);
  }

  void from_tunnel(const Bytes& ip, PeerId peer = 0) {
    Input& in = inputs.emplace_back(ip_input(ip));
    gw.from_tunnel(env(), peer, in.buf, in.off, in.len, out);
  }
  void from_tun(const Bytes& ip, const pkt::VnetHeader* vnet = nullptr) {
    Input& in = inputs.emplace_back(ip_input(ip));
    gw.from_tun(env(), in.buf, in.off, in.len, vnet, out);
  }
  void from_port(uint32_t p, const Bytes& f) {
    Input& in = inputs.emplace_back(frame_input(f));
    gw.from_port(env(), p, in.buf, in.off, in.len, out);
  }
  // The end of an I/O batch: the output sends what it holds, the gateway's scratch is free.
  void end_batch() {
    out.settle();
    gw.flushed();
    inputs.clear();
  }
  // Instance i announces its address (unsolicited NA to all nodes), so the gateway knows its MAC.
  void resolve6(int i, const Addr16& a) {
    const Addr16 all_nodes = addr("ff02::1");
    from_port(static_cast<uint32_t>(i),
              frame(multicast_mac(all_nodes), kInstMac[i], 0x86dd,
                    neighbor_advert(a, all_nodes, a, kNaOverride, kInstMac[i])));
  }
  // Instance 0 announces its IPv4 address (gratuitous ARP request).
  void resolve4() {
    from_port(0, frame(kBroadcastMac, kInstMac[0], 0x0806, arp(1, kInstMac[0], kInst4, Mac{}, kInst4)));
  }
};

}  // namespace wg::testing::gw
