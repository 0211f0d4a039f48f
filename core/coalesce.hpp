// core/coalesce.hpp — receive-side offload: consecutive TCP segments of one flow that leave
// towards the same device (the TUN, or one port) in one batch are joined into a GSO super-packet
// (virtio-net header: gso_type TCPv4/TCPv6, NEEDS_CSUM), so the device takes one write and the
// kernel's TCP one skb instead of dozens. The mirror of pkt::gso_segment(). Optionally UDP
// datagrams of one flow and one size too (gso_type UDP_L4), which saves a write per datagram.
//
// Nothing is copied: the first segment becomes the head (its IP length, IPv4 header checksum,
// PSH flag, TCP checksum seed and virtio-net header are rewritten in place) and the others give
// their payload by reference, so a super-packet leaves as a gather list. Packets must stay valid
// until the output is flushed; everything else leaves unchanged, one packet per write, with an
// all-zero virtio-net header written in front.
//
// Segments join when they continue the head exactly as a TCP sender's segmentation would have
// produced them: same addresses, ports, IP header fields (no IPv4 options, no IPv6 extension
// headers), ACK number, window and options; flags ACK only (PSH allowed on the last); sequence
// numbers back to back; every payload the size of the first but the last. Order within a flow
// is kept: a packet of a flow that cannot join first sends what the flow has open.
#pragma once
#include <sys/uio.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/packet.hpp"

namespace wg::core {

class GatherSink {
 public:
  virtual ~GatherSink() = default;
  // One packet (or super-packet) as a gather list, starting at its virtio-net header.
  virtual void emit(std::span<const iovec> parts) = 0;
};

struct CoalesceCounters {
  uint64_t packets_in = 0;      // packets offered
  uint64_t super_packets = 0;   // writes of two or more segments
  uint64_t segments_joined = 0;  // segments that went into those
};

class Coalescer {
 public:
  static constexpr size_t kMaxFlows = 8;      // super-packets open at once
  static constexpr size_t kMaxSegments = 64;  // per super-packet (UDP_GRO and TSO use the same bound)
  static constexpr size_t kMaxIpLength = 65535;

  // l2: bytes between the virtio-net header and the IP header (0 for the TUN, 14 for a port's
  // Ethernet header, which must be identical for segments to join).
  explicit Coalescer(size_t l2 = 0) : l2_(l2) {
    for (size_t i = 0; i < kMaxFlows; ++i) order_[i] = static_cast<uint8_t>(i);
  }

  void set_enabled(bool on) { enabled_ = on; }
  bool enabled() const { return enabled_; }
  // Also join UDP datagrams of one flow and one size (gso_type UDP_L4): only where the kernel
  // takes such writes (Linux 6.2+, the same kernels that accept TUN_F_USO).
  void set_udp(bool on) { udp_ = on; }

  // ip: an IP packet of len bytes, with kVnetLen + l2 writable bytes in front (the l2 header
  // already written there).
  void add(uint8_t* ip, size_t len, GatherSink& out);
  // Sends every open super-packet. Call before the output is flushed.
  void drain(GatherSink& out);

  const CoalesceCounters& counters() const { return counters_; }

 private:
  struct Group {
    uint8_t* head = nullptr;  // IP header of the first segment
    size_t head_len = 0;      // its IP length
    size_t hdr_len = 0;       // IP + TCP header bytes
    size_t ip_len = 0;        // IP length of the super-packet so far
    size_t mss = 0;           // payload bytes of the first segment
    uint32_t next_seq = 0;
    bool v6 = false;
    bool udp = false;
    bool psh = false;
    bool closed = false;  // a short or PSH segment ended it: nothing more can join
    size_t count = 0;
    std::array<iovec, kMaxSegments> iov{};
  };

  // The TCP segment's shape, or nullopt-like (ok = false) for anything that is not one.
  struct Seg {
    bool ok = false;        // TCP over plain IPv4/IPv6, header complete
    bool joinable = false;  // ACK (PSH) only, has payload
    bool v6 = false;
    bool udp = false;
    size_t ip_hdr = 0, tcp_hdr = 0, payload = 0;  // tcp_hdr: the transport header (8 for UDP)
    uint32_t seq = 0;
  };
  Seg inspect(const uint8_t* ip, size_t len) const;
  bool same_flow(const Group& g, const uint8_t* ip, const Seg& s) const;
  bool can_join(const Group& g, const uint8_t* ip, size_t len, const Seg& s) const;
  void start(Group& g, uint8_t* ip, size_t len, const Seg& s);
  void emit_single(uint8_t* ip, size_t len, GatherSink& out);
  void emit(Group& g, GatherSink& out);  // sends and frees the group
  void close_at(size_t k, GatherSink& out);  // emits order_[k] and removes it from the order

  size_t l2_;
  bool enabled_ = true;
  bool udp_ = false;
  std::array<Group, kMaxFlows> groups_{};
  std::array<uint8_t, kMaxFlows> order_{};  // order_[0, open_) index open groups, oldest first
  size_t open_ = 0;
  CoalesceCounters counters_;
};

}  // namespace wg::core
