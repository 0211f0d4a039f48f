// io/packet_io.hpp — the batch I/O seam between the data path and the kernel. Two backends:
// io_uring (multishot recvmsg on a provided-buffer ring, batched sends and TUN writes in one
// submission) and a fallback on epoll + recvmmsg/sendmmsg for hosts that refuse io_uring.
// Backends own every packet buffer; the data path works in place and never allocates.
#pragma once
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>
#include <cstring>

#include "core/egress.hpp"
#include "core/endpoint.hpp"
#include "core/env.hpp"
#include "core/messages.hpp"
#include "io/sockaddr.hpp"

namespace wg::io {

using core::DeviceRead;
using core::kBufferSize;
using core::kMaxBatch;
using core::kMaxGroSegments;
using core::kMaxGsoBytes;
using core::kMaxGsoSegments;
using core::kPortReadOffset;
using core::kRxHeadroom;
using core::kRxMinHeadroom;
using core::kVnetLen;
using core::RxDatagram;

// Implemented by the interface: receives batches, queues output on the PacketIo.
class PacketSink {
 public:
  virtual ~PacketSink() = default;
  virtual void on_datagrams(std::span<RxDatagram> batch) = 0;
  virtual void on_tun_packets(std::span<DeviceRead> batch) = 0;
  virtual void on_port_frames(uint32_t port, std::span<DeviceRead> batch) = 0;
  virtual void on_fd(int fd) = 0;  // a watched control descriptor is readable
  // A device's descriptor failed for good (a deleted TUN or TAP answers EBADFD with `err`):
  // the backend stopped reading it. `port`: which port, or none for the TUN. Once per
  // descriptor, between batches, after what was queued for it has been flushed.
  virtual void on_device_gone(std::optional<uint32_t> port, int err) {
    (void)port;
    (void)err;
  }
};

struct IoCounters {
  uint64_t udp_send_errors = 0;
  uint64_t tun_write_errors = 0;
  uint64_t port_write_errors = 0;
  uint64_t port_read_errors = 0;  // a port that stopped being readable (device deleted)
  uint64_t syscalls = 0;  // io_uring_enter / recvmmsg / sendmmsg / read / write calls
  uint64_t udp_gso_sends = 0;      // messages that carried several datagrams (UDP_SEGMENT)
  uint64_t udp_gso_datagrams = 0;  // datagrams sent that way
  uint64_t udp_gso_failures = 0;   // GSO sends the kernel refused: resent one by one, GSO off
  uint64_t udp_gro_receives = 0;   // receives that carried several datagrams (UDP_GRO)
  uint64_t udp_gro_datagrams = 0;  // datagrams received that way
};

class PacketIo {
 public:
  virtual ~PacketIo() = default;
  virtual std::string_view name() const = 0;
  virtual void set_udp(int fd4, int fd6) = 0;
  // vnet: the TUN has a virtio-net header (IFF_VNET_HDR); reads then put it at
  // buf[kIngressHeadroom - kVnetLen] and writes must carry it.
  virtual void set_tun(int fd, bool vnet) = 0;
  // Whether a UDP message may carry several datagrams (UDP_SEGMENT). Switched off for good when
  // the kernel says the socket cannot segment (io/output.hpp has the policy).
  void set_udp_gso(bool on) { gso_ = on; }
  bool udp_gso() const { return gso_; }
  // A port's descriptor (TAP or packet socket): frames with a virtio-net header. Ids are
  // dense from 0.
  virtual void add_port(uint32_t id, int fd) = 0;
  // Reads and writes port `id` through `fd` from now on (its interface was re-created). What
  // is queued for the old descriptor is flushed first; reads in flight on it are cancelled and
  // never delivered, and their buffers live until the kernel is done with them. The caller
  // closes the old descriptor afterwards. Not from inside a sink callback's batch.
  virtual void replace_port(uint32_t id, int fd) = 0;
  // Stops using port `id` for good (flushes first, as above); the caller closes its
  // descriptor afterwards. Writes to it are ignored; the id is not used again.
  virtual void remove_port(uint32_t id) = 0;
  virtual void watch(int fd) = 0;
  virtual void unwatch(int fd) = 0;

  // Waits up to `timeout` for input, hands each ready batch to the sink and flushes what the
  // sink queued before the batch's buffers are reused. Work per call is bounded.
  virtual void poll(core::Duration timeout, PacketSink& sink) = 0;

  // Queued output; every byte must stay valid until the next flush() returns (the iovec
  // arrays themselves are copied). One UDP message to `to`: one datagram, or several sent as
  // one UDP_SEGMENT message (only when udp_gso()): every one as long as the first but the
  // last, which may be shorter; at most core::kMaxGsoSegments datagrams and
  // core::kMaxGsoBytes bytes.
  virtual void send_udp(const core::Endpoint& to, std::span<const iovec> datagrams) = 0;
  // One packet (or super-packet) for the TUN as a gather list, with its virtio-net header when
  // the TUN has one.
  virtual void write_tun(std::span<const iovec> parts) = 0;
  // One frame (virtio-net + Ethernet header, then IP) for port `id`.
  virtual void write_port(uint32_t id, std::span<const iovec> parts) = 0;
  virtual void flush() = 0;

  const IoCounters& counters() const { return counters_; }

  // Destinations whose cached local source address failed (the address went away): the send
  // was retried without it, and the interface forgets the cached source for those peers.
  std::vector<core::Endpoint>& stale_sources() { return stale_sources_; }

 protected:
  // A receive handed on whole (the data path splits it): counted when UDP_GRO joined several.
  void count_receive(const RxDatagram& rx) {
    if (rx.segment == 0 || rx.bytes.size() <= rx.segment) return;
    ++counters_.udp_gro_receives;
    counters_.udp_gro_datagrams += (rx.bytes.size() + rx.segment - 1) / rx.segment;
  }

  IoCounters counters_;
  std::vector<core::Endpoint> stale_sources_;
  bool gso_ = false;
};

std::unique_ptr<PacketIo> make_epoll_io();
// nullptr when io_uring cannot be used here (seccomp, kernel.io_uring_disabled, old kernel);
// `why` then says what failed.
std::unique_ptr<PacketIo> make_uring_io(std::string& why);

}  // namespace wg::io
