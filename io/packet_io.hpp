// io/packet_io.hpp — the batch I/O seam between the data path and the kernel. Two backends:
// io_uring (multishot recvmsg on a provided-buffer ring, batched sends and TUN writes in one
// submission) and a fallback on epoll + recvmmsg/sendmmsg for hosts that refuse io_uring.
// Backends own every packet buffer; the data path works in place and never allocates.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/endpoint.hpp"
#include "core/env.hpp"
#include "core/messages.hpp"

namespace wg::io {

inline constexpr size_t kMaxBatch = 64;
// Room for the largest UDP payload or TUN packet plus the data header, padding and tag.
inline constexpr size_t kBufferSize = 65536 + 64;
// TUN packets are read at this offset so a header (the data header towards the tunnel, a
// virtio-net + Ethernet header towards a port) is written in front in place.
inline constexpr size_t kHeadroom = 32;
// Port frames (virtio-net header + Ethernet) are read here, which puts their IP packet at
// kHeadroom as well.
inline constexpr size_t kPortReadOffset = kHeadroom - 24;
// Every backend leaves at least this many writable bytes in front of a received datagram.
inline constexpr size_t kRxHeadroom = 48;

struct RxDatagram {
  std::span<uint8_t> bytes;  // decrypted in place by the data path
  core::Endpoint from;       // includes the local address it arrived on
  size_t headroom = 0;       // writable bytes in front of bytes.data() (>= kRxHeadroom)
};

// A TUN packet at buf[kHeadroom, kHeadroom + len), or a port frame at
// buf[kPortReadOffset, kPortReadOffset + len).
struct TunPacket {
  std::span<uint8_t> buf;  // the whole buffer
  size_t len;
};

// Implemented by the interface: receives batches, queues output on the PacketIo.
class PacketSink {
 public:
  virtual ~PacketSink() = default;
  virtual void on_datagrams(std::span<RxDatagram> batch) = 0;
  virtual void on_tun_packets(std::span<TunPacket> batch) = 0;
  virtual void on_port_frames(uint32_t port, std::span<TunPacket> batch) = 0;
  virtual void on_fd(int fd) = 0;  // a watched control descriptor is readable
};

// A queued frame write to a port's descriptor (both backends keep a list of these).
struct PortWrite {
  int fd;
  std::span<const uint8_t> frame;
};

struct IoCounters {
  uint64_t udp_send_errors = 0;
  uint64_t tun_write_errors = 0;
  uint64_t port_write_errors = 0;
  uint64_t port_read_errors = 0;  // a port that stopped being readable (device deleted)
  uint64_t syscalls = 0;  // io_uring_enter / recvmmsg / sendmmsg / read / write calls
};

class PacketIo {
 public:
  virtual ~PacketIo() = default;
  virtual std::string_view name() const = 0;
  virtual void set_udp(int fd4, int fd6) = 0;
  virtual void set_tun(int fd) = 0;
  // A port's descriptor (TAP or packet socket): frames with a virtio-net header. Ids are
  // dense from 0.
  virtual void add_port(uint32_t id, int fd) = 0;
  virtual void watch(int fd) = 0;
  virtual void unwatch(int fd) = 0;

  // Waits up to `timeout` for input, hands each ready batch to the sink and flushes what the
  // sink queued before the batch's buffers are reused. Work per call is bounded.
  virtual void poll(core::Duration timeout, PacketSink& sink) = 0;

  // Queued output; `bytes` must stay valid until the next flush() returns.
  virtual void send_udp(const core::Endpoint& to, std::span<const uint8_t> bytes) = 0;
  virtual void write_tun(std::span<const uint8_t> bytes) = 0;
  virtual void write_port(uint32_t id, std::span<const uint8_t> frame) = 0;
  virtual void flush() = 0;

  const IoCounters& counters() const { return counters_; }

  // Destinations whose cached local source address failed (the address went away): the send
  // was retried without it, and the interface forgets the cached source for those peers.
  std::vector<core::Endpoint>& stale_sources() { return stale_sources_; }

 protected:
  IoCounters counters_;
  std::vector<core::Endpoint> stale_sources_;
};

std::unique_ptr<PacketIo> make_epoll_io();
// nullptr when io_uring cannot be used here (seccomp, kernel.io_uring_disabled, old kernel);
// `why` then says what failed.
std::unique_ptr<PacketIo> make_uring_io(std::string& why);

}  // namespace wg::io
