// core/egress.hpp — the seam between the data plane (core/dataplane.hpp) and the kernel: what
// a batch reads (datagrams, TUN packets, port frames, as the backends own them) and the one
// interface through which everything leaves (UDP messages, gathered TUN and port writes) and
// through which the batch's AEAD work runs (inline, or on worker threads).
//
// Nothing handed to an Egress may be touched again until its flush() returns; the data plane
// reuses buffers only after that.
#pragma once
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <span>

#include "core/aead_job.hpp"
#include "core/buffer_layout.hpp"
#include "core/endpoint.hpp"
#include "core/ids.hpp"

namespace wg::core {


// The most datagrams one receive can carry with UDP_GRO (the kernel's UDP_GRO_CNT_MAX).
inline constexpr size_t kMaxGroSegments = 64;
// UDP GSO sends: at most this many datagrams and bytes per message (UDP_MAX_SEGMENTS on the
// oldest kernels that have it; the largest UDP payload with room to spare).
inline constexpr size_t kMaxGsoSegments = 64;
inline constexpr size_t kMaxGsoBytes = 65000;
// Reads per batch from one source.
inline constexpr size_t kMaxBatch = 64;

// One UDP receive: a datagram, or with UDP_GRO (segment > 0) several `segment`-byte datagrams
// back to back, the last one shorter.
struct RxDatagram {
  std::span<uint8_t> bytes;  // decrypted in place by the data path
  Endpoint from;             // includes the local address it arrived on
  size_t headroom = 0;       // writable bytes in front of bytes.data() (>= kRxMinHeadroom)
  size_t segment = 0;        // the GRO segment size; 0: one datagram
};

// One read from the TUN or from a port, in a backend buffer: a TUN packet at
// buf[kIngressHeadroom, + len) (its virtio-net header, when the TUN has one, right in front),
// or a port frame (virtio-net + Ethernet header, then IP) at buf[kPortReadOffset, + len).
struct DeviceRead {
  std::span<uint8_t> buf;  // the whole buffer
  size_t len;
};

class Egress {
 public:
  virtual ~Egress() = default;
  // One UDP message to `to` (with its sticky local source): one datagram, or, when udp_gso(),
  // several sent as one UDP_SEGMENT message: every one as long as the first but the last,
  // which may be shorter; at most kMaxGsoSegments of them and kMaxGsoBytes in all.
  virtual void send_udp(const Endpoint& to, std::span<const iovec> datagrams) = 0;
  // One packet (or super-packet) for the TUN, with its virtio-net header when the TUN has one.
  virtual void write_tun(std::span<const iovec> parts) = 0;
  // One frame (virtio-net + Ethernet header, then IP) for a port.
  virtual void write_port(PortId port, std::span<const iovec> parts) = 0;
  // Runs every job (sets job.ok, wipes job.key); returns when all are done.
  virtual void run_aead(std::span<AeadJob> jobs) = 0;
  // Whether the AEAD work of a batch is worth deferring to run_aead: a multi-buffer backend
  // runs it in SIMD lanes, worker threads on several cores.
  virtual bool batch_aead() const = 0;
  // Whether several datagrams may share one message (switched off for good when the kernel
  // refuses one; that message is then resent one datagram at a time).
  virtual bool udp_gso() const = 0;
  // Everything handed over has been written or has failed (counted); buffers are free again.
  virtual void flush() = 0;
};

}  // namespace wg::core
