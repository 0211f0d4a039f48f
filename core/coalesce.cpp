// core/coalesce.cpp — joining TCP segments into GSO super-packets (see coalesce.hpp).
#include "core/coalesce.hpp"

#include <cstring>

namespace wg::core {

using pkt::kVnetLen;
using pkt::load16;
using pkt::load32;
using pkt::store16;

namespace {

constexpr uint8_t kFlagAck = 0x10, kFlagPsh = 0x08;

uint8_t* vnet_of(uint8_t* ip, size_t l2) { return ip - l2 - kVnetLen; }

}  // namespace

Coalescer::Seg Coalescer::inspect(const uint8_t* ip, size_t len) const {
  Seg s;
  if (len < 20) return s;
  const uint8_t version = ip[0] >> 4;
  if (version == 4) {
    // No options, not a fragment (DF alone is fine), lengths consistent.
    if (ip[0] != 0x45 || (load16(ip + 6) & 0xbfff) != 0 || load16(ip + 2) != len) return s;
    s.ip_hdr = 20;
  } else if (version == 6) {
    if (len < 40 || size_t{load16(ip + 4)} + 40 != len) return s;
    s.ip_hdr = 40;
    s.v6 = true;
  } else {
    return s;
  }
  const uint8_t proto = ip[s.v6 ? 6 : 9];
  const uint8_t* t = ip + s.ip_hdr;
  if (proto == pkt::kProtoUdp && udp_) {
    // Datagrams of one flow and one size join (UDP_L4 GSO: the kernel splits them again).
    if (len < s.ip_hdr + 8 || size_t{load16(t + 4)} != len - s.ip_hdr) return s;
    s.ok = true;
    s.udp = true;
    s.tcp_hdr = 8;
    s.payload = len - s.ip_hdr - 8;
    s.joinable = s.payload > 0;
    return s;
  }
  if (proto != pkt::kProtoTcp || len < s.ip_hdr + 20) return s;
  s.tcp_hdr = static_cast<size_t>(t[12] >> 4) * 4;
  if (s.tcp_hdr < 20 || s.ip_hdr + s.tcp_hdr > len) return s;
  s.ok = true;
  s.payload = len - s.ip_hdr - s.tcp_hdr;
  s.seq = load32(t + 4);
  const uint8_t flags = t[13];
  // Only plain data segments join: ACK set, PSH allowed, nothing else (SYN, FIN, RST, URG, ECE,
  // CWR each go alone, as the kernel's GRO flushes on them too).
  s.joinable = s.payload > 0 && (flags & ~kFlagPsh) == kFlagAck;
  return s;
}

bool Coalescer::same_flow(const Group& g, const uint8_t* ip, const Seg& s) const {
  if (g.v6 != s.v6 || g.udp != s.udp) return false;
  const uint8_t* h = g.head;
  // Addresses, then ports.
  if (s.v6 ? std::memcmp(h + 8, ip + 8, 32) != 0 : std::memcmp(h + 12, ip + 12, 8) != 0) return false;
  return std::memcmp(h + s.ip_hdr, ip + s.ip_hdr, 4) == 0;
}

bool Coalescer::can_join(const Group& g, const uint8_t* ip, size_t len, const Seg& s) const {
  if (g.closed || !s.joinable || g.count == kMaxSegments) return false;
  if (s.payload > g.mss || g.ip_len + s.payload > kMaxIpLength) return false;
  if (!s.udp && s.seq != g.next_seq) return false;
  if (s.ip_hdr + s.tcp_hdr != g.hdr_len) return false;  // same TCP header (options) length
  const uint8_t* h = g.head;
  if (s.v6) {
    // Version, traffic class and flow label; hop limit.
    if (std::memcmp(h, ip, 4) != 0 || h[7] != ip[7]) return false;
  } else {
    // TOS; DF; TTL (the ID may differ: the kernel regenerates it when it segments again).
    if (h[1] != ip[1] || h[6] != ip[6] || h[8] != ip[8]) return false;
  }
  if (s.udp) return l2_ == 0 || std::memcmp(h - l2_, ip - l2_, l2_) == 0;
  const uint8_t* ht = h + s.ip_hdr;
  const uint8_t* t = ip + s.ip_hdr;
  // ACK number, data offset, window, urgent pointer, options; flags were checked by inspect().
  if (std::memcmp(ht + 8, t + 8, 5) != 0 || std::memcmp(ht + 14, t + 14, 2) != 0 ||
      std::memcmp(ht + 18, t + 18, s.tcp_hdr - 18) != 0)
    return false;
  // The Ethernet header of a port frame must match too.
  if (l2_ && std::memcmp(h - l2_, ip - l2_, l2_) != 0) return false;
  (void)len;
  return true;
}

void Coalescer::start(Group& g, uint8_t* ip, size_t len, const Seg& s) {
  g.head = ip;
  g.head_len = len;
  g.hdr_len = s.ip_hdr + s.tcp_hdr;
  g.ip_len = len;
  g.mss = s.payload;
  g.next_seq = s.seq + static_cast<uint32_t>(s.payload);
  g.v6 = s.v6;
  g.udp = s.udp;
  g.psh = !s.udp && (ip[s.ip_hdr + 13] & kFlagPsh);
  g.closed = g.psh;
  g.count = 1;
  g.iov[0] = {vnet_of(ip, l2_), kVnetLen + l2_ + len};
}

void Coalescer::emit_single(uint8_t* ip, size_t len, GatherSink& out) {
  uint8_t* v = vnet_of(ip, l2_);
  pkt::write_vnet_none(v);
  const iovec one{v, kVnetLen + l2_ + len};
  out.emit({&one, 1});
}

void Coalescer::emit(Group& g, GatherSink& out) {
  uint8_t* ip = g.head;
  uint8_t* v = vnet_of(ip, l2_);
  if (g.count == 1) {
    pkt::write_vnet_none(v);
    out.emit({g.iov.data(), 1});
    return;
  }
  const size_t ip_hdr = g.v6 ? 40 : 20;
  uint8_t* t = ip + ip_hdr;
  if (g.v6) {
    store16(ip + 4, static_cast<uint16_t>(g.ip_len - 40));
  } else {
    store16(ip + 2, static_cast<uint16_t>(g.ip_len));
    store16(ip + 10, 0);
    store16(ip + 10, pkt::fold(pkt::sum_bytes(ip, 20)));
  }
  if (g.psh) t[13] |= kFlagPsh;
  const size_t l4_len = g.ip_len - ip_hdr;
  if (g.udp) store16(t + 4, static_cast<uint16_t>(l4_len));
  // The checksum is left to the device, as a sender's TSO/USO leaves it: the field holds the
  // pseudo-header sum (folded, not inverted) over the whole super-packet's transport length.
  const Family f = g.v6 ? Family::V6 : Family::V4;
  const uint8_t proto = g.udp ? pkt::kProtoUdp : pkt::kProtoTcp;
  const uint32_t ph =
      pkt::pseudo_sum(f, ip + (g.v6 ? 8 : 12), ip + (g.v6 ? 24 : 16), proto, static_cast<uint32_t>(l4_len));
  const size_t csum_at = g.udp ? 6 : 16;
  store16(t + csum_at, static_cast<uint16_t>(~pkt::fold(ph)));
  pkt::VnetHeader h;
  h.flags = pkt::kVnetNeedsCsum;
  h.gso_type = g.udp ? pkt::kGsoUdpL4 : g.v6 ? pkt::kGsoTcpV6 : pkt::kGsoTcpV4;
  h.hdr_len = static_cast<uint16_t>(l2_ + g.hdr_len);
  h.gso_size = static_cast<uint16_t>(g.mss);
  h.csum_start = static_cast<uint16_t>(l2_ + ip_hdr);
  h.csum_offset = static_cast<uint16_t>(csum_at);
  pkt::write_vnet(v, h);
  g.iov[0].iov_len = kVnetLen + l2_ + g.head_len;
  out.emit({g.iov.data(), g.count});
  ++counters_.super_packets;
  counters_.segments_joined += g.count;
}

void Coalescer::close_at(size_t k, GatherSink& out) {
  emit(groups_[order_[k]], out);
  const uint8_t freed = order_[k];
  for (size_t i = k; i + 1 < open_; ++i) order_[i] = order_[i + 1];
  order_[--open_] = freed;
}

void Coalescer::add(uint8_t* ip, size_t len, GatherSink& out) {
  ++counters_.packets_in;
  if (!enabled_) return emit_single(ip, len, out);
  const Seg s = inspect(ip, len);
  if (!s.ok) return emit_single(ip, len, out);
  size_t k = 0;
  for (; k < open_; ++k)
    if (same_flow(groups_[order_[k]], ip, s)) break;
  if (k < open_) {
    Group& g = groups_[order_[k]];
    if (can_join(g, ip, len, s)) {
      g.iov[g.count++] = {ip + s.ip_hdr + s.tcp_hdr, s.payload};
      g.ip_len += s.payload;
      g.next_seq += static_cast<uint32_t>(s.payload);
      const bool psh = !s.udp && (ip[s.ip_hdr + 13] & kFlagPsh);
      g.psh |= psh;
      if (psh || s.payload < g.mss || g.count == kMaxSegments) g.closed = true;
      return;
    }
    close_at(k, out);  // the flow's earlier segments leave first
  }
  if (!s.joinable) return emit_single(ip, len, out);
  if (open_ == kMaxFlows) close_at(0, out);
  // order_[open_] is a free group's index: the slots past open_ hold the free ones.
  Group& g = groups_[order_[open_]];
  ++open_;
  start(g, ip, len, s);
}

void Coalescer::drain(GatherSink& out) {
  for (size_t i = 0; i < open_; ++i) emit(groups_[order_[i]], out);
  open_ = 0;
}

}  // namespace wg::core
