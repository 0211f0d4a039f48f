// tests/core/packet_craft.hpp — hand-built IPv4/IPv6/TCP/UDP/ICMP packets and a reference
// Internet checksum, for the packet tests, the packet fuzz targets and their seed corpus.
// Deliberately written without core/packet.hpp, so what it builds checks that code from outside.
// No doctest in here.
#pragma once
#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <initializer_list>
#include <span>
#include <vector>

namespace wg::testing::craft {

using Bytes = std::vector<uint8_t>;
using Ip4 = std::array<uint8_t, 4>;
using Ip6 = std::array<uint8_t, 16>;

inline constexpr uint8_t kIcmp = 1, kTcp = 6, kUdp = 17, kIcmp6 = 58, kNoNext = 59;
inline constexpr uint8_t kHopByHop = 0, kRouting = 43, kFragment = 44, kDestOpts = 60;

// Text addresses for readable tests; aborts on a typo rather than testing garbage.
inline Ip4 ip4(const char* text) {
  Ip4 a{};
  if (inet_pton(AF_INET, text, a.data()) != 1) std::abort();
  return a;
}
inline Ip6 ip6(const char* text) {
  Ip6 a{};
  if (inet_pton(AF_INET6, text, a.data()) != 1) std::abort();
  return a;
}

inline uint16_t get16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
inline uint32_t get32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | uint32_t{p[3]};
}
inline void put16(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void put32(uint8_t* p, uint32_t v) {
  put16(p, v >> 16);
  put16(p + 2, v);
}

// RFC 1071 the plain way: big-endian 16-bit words (an odd last byte padded with zero) added
// in 32 bits, carries folded in at the end, complemented. Fine for anything under 128 KiB.
inline uint16_t ref_checksum(std::span<const uint8_t> d) {
  uint32_t sum = 0;
  for (size_t i = 0; i < d.size(); i += 2) {
    uint32_t word = uint32_t{d[i]} << 8;
    if (i + 1 < d.size()) word |= d[i + 1];
    sum += word;
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum & 0xffff);
}

// The pseudo-header spelled out byte by byte: RFC 793/768 for IPv4 (src, dst, zero, protocol,
// 16-bit length), RFC 8200 8.1 for IPv6 (src, dst, 32-bit length, three zeros, next header).
inline Bytes pseudo_header(bool v6, const uint8_t* src, const uint8_t* dst, uint8_t proto, size_t len) {
  const size_t n = v6 ? 16 : 4;
  Bytes h(src, src + n);
  h.insert(h.end(), dst, dst + n);
  if (v6) {
    h.insert(h.end(), {static_cast<uint8_t>(len >> 24), static_cast<uint8_t>(len >> 16), static_cast<uint8_t>(len >> 8),
                       static_cast<uint8_t>(len), 0, 0, 0, proto});
  } else {
    h.insert(h.end(), {0, proto, static_cast<uint8_t>(len >> 8), static_cast<uint8_t>(len)});
  }
  return h;
}

// Where each transport keeps its checksum.
inline size_t checksum_offset(uint8_t proto) {
  switch (proto) {
    case kTcp: return 16;
    case kUdp: return 6;
    default: return 2;  // ICMP, ICMPv6
  }
}

// The transport checksum `seg` should carry (its own checksum field is ignored). ICMPv4 has no
// pseudo-header; a computed UDP checksum of 0 is sent as 0xffff.
inline uint16_t ref_l4_checksum(bool v6, const uint8_t* src, const uint8_t* dst, uint8_t proto,
                                std::span<const uint8_t> seg) {
  Bytes all = proto == kIcmp ? Bytes{} : pseudo_header(v6, src, dst, proto, seg.size());
  const size_t at = all.size();
  all.insert(all.end(), seg.begin(), seg.end());
  const size_t off = checksum_offset(proto);
  if (off + 2 <= seg.size()) all[at + off] = all[at + off + 1] = 0;
  const uint16_t c = ref_checksum(all);
  return proto == kUdp && c == 0 ? 0xffff : c;
}

// True when the segment's checksum field holds what ref_l4_checksum computes.
inline bool l4_checksum_ok(bool v6, const uint8_t* src, const uint8_t* dst, uint8_t proto,
                           std::span<const uint8_t> seg) {
  const size_t off = checksum_offset(proto);
  if (off + 2 > seg.size()) return false;
  return get16(seg.data() + off) == ref_l4_checksum(v6, src, dst, proto, seg);
}

// --- transport segments (checksum field zero until the packet is finished) ---

inline Bytes tcp(uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags, const Bytes& payload,
                 const Bytes& options = {}) {
  Bytes t(20, 0);
  put16(&t[0], sport);
  put16(&t[2], dport);
  put32(&t[4], seq);
  put32(&t[8], ack);
  t[12] = static_cast<uint8_t>(((20 + options.size()) / 4) << 4);
  t[13] = flags;
  put16(&t[14], 65000);
  t.insert(t.end(), options.begin(), options.end());
  t.insert(t.end(), payload.begin(), payload.end());
  return t;
}

inline Bytes udp(uint16_t sport, uint16_t dport, const Bytes& payload) {
  Bytes u(8, 0);
  put16(&u[0], sport);
  put16(&u[2], dport);
  put16(&u[4], static_cast<uint32_t>(8 + payload.size()));
  u.insert(u.end(), payload.begin(), payload.end());
  return u;
}

// type, code, checksum, then a 4-byte "rest of header" (echo: identifier + sequence).
inline Bytes icmp(uint8_t type, uint8_t code, uint32_t rest, const Bytes& body) {
  Bytes m(8, 0);
  m[0] = type;
  m[1] = code;
  put32(&m[4], rest);
  m.insert(m.end(), body.begin(), body.end());
  return m;
}

inline Bytes pattern(size_t n, uint8_t seed = 1) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(seed + i * 7 + (i >> 8));
  return b;
}

// --- IPv4 ---

struct V4 {
  uint8_t tos = 0;
  uint16_t id = 0x1234;
  uint16_t frag = 0x4000;   // flags + offset word; DF by default
  uint8_t ttl = 64;
  size_t options = 0;       // bytes of NOP options (a multiple of 4)
  bool l4_checksum = true;  // fill the transport checksum
};

inline Bytes ipv4(const Ip4& src, const Ip4& dst, uint8_t proto, Bytes seg, const V4& o = {}) {
  const size_t ihl = 20 + o.options;
  if (o.l4_checksum && seg.size() >= checksum_offset(proto) + 2)
    put16(&seg[checksum_offset(proto)], ref_l4_checksum(false, src.data(), dst.data(), proto, seg));
  Bytes p(ihl, 0);
  p[0] = static_cast<uint8_t>(0x40 | ihl / 4);
  p[1] = o.tos;
  put16(&p[2], static_cast<uint32_t>(ihl + seg.size()));
  put16(&p[4], o.id);
  put16(&p[6], o.frag);
  p[8] = o.ttl;
  p[9] = proto;
  std::copy(src.begin(), src.end(), p.begin() + 12);
  std::copy(dst.begin(), dst.end(), p.begin() + 16);
  for (size_t i = 20; i < ihl; ++i) p[i] = 1;  // NOP
  put16(&p[10], ref_checksum(std::span<const uint8_t>(p.data(), ihl)));
  p.insert(p.end(), seg.begin(), seg.end());
  return p;
}

// --- IPv6 ---

// An extension header; its first byte (next header) is filled in by ipv6().
struct Ext {
  uint8_t type;
  Bytes bytes;
};

// Hop-by-hop or destination options of `len` bytes (a multiple of 8) holding one PadN.
inline Ext ext_options(uint8_t type, size_t len) {
  Bytes b(len, 0);
  b[1] = static_cast<uint8_t>(len / 8 - 1);
  b[2] = 1;  // PadN
  b[3] = static_cast<uint8_t>(len - 4);
  return {type, b};
}

// A type-0-shaped routing header with segments left 0 and n addresses (ignored by routers).
inline Ext ext_routing(size_t addresses) {
  Bytes b(8 + 16 * addresses, 0);
  b[1] = static_cast<uint8_t>(2 * addresses);
  b[2] = 4;  // SRH type number; segments left (b[3]) is zero
  for (size_t i = 8; i < b.size(); ++i) b[i] = static_cast<uint8_t>(i);
  return {kRouting, b};
}

// offset in 8-byte units.
inline Ext ext_fragment(uint16_t offset, bool more, uint32_t id) {
  Bytes b(8, 0);
  put16(&b[2], static_cast<uint32_t>(offset << 3 | (more ? 1 : 0)));
  put32(&b[4], id);
  return {kFragment, b};
}

struct V6 {
  uint8_t hops = 64;
  std::vector<Ext> ext = {};
  bool l4_checksum = true;
};

inline Bytes ipv6(const Ip6& src, const Ip6& dst, uint8_t proto, Bytes seg, const V6& o = {}) {
  if (o.l4_checksum && proto != kNoNext && seg.size() >= checksum_offset(proto) + 2)
    put16(&seg[checksum_offset(proto)], ref_l4_checksum(true, src.data(), dst.data(), proto, seg));
  Bytes p(40, 0);
  p[0] = 0x60;
  p[1] = 0x0a;  // some flow label, which nothing here may care about
  p[3] = 0x42;
  p[7] = o.hops;
  std::copy(src.begin(), src.end(), p.begin() + 8);
  std::copy(dst.begin(), dst.end(), p.begin() + 24);
  size_t next_at = 6;
  for (const Ext& e : o.ext) {
    p[next_at] = e.type;
    next_at = p.size();
    p.insert(p.end(), e.bytes.begin(), e.bytes.end());
  }
  p[next_at] = proto;
  p.insert(p.end(), seg.begin(), seg.end());
  put16(&p[4], static_cast<uint32_t>(p.size() - 40));
  return p;
}

inline Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& b : parts) out.insert(out.end(), b.begin(), b.end());
  return out;
}

}  // namespace wg::testing::craft
