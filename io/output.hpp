// io/output.hpp — the output queue both I/O backends share: the UDP messages and the TUN and
// port writes a batch queues, the sendmsg headers built for them, and the one policy for a
// UDP message the kernel refuses. The backends only differ in how they hand the headers and
// writes to the kernel (sendmmsg and writev, or io_uring requests).
//
// The policy for a failed message:
// - several datagrams (UDP_SEGMENT) and an errno saying the kernel cannot segment it (EIO,
//   EINVAL, EMSGSIZE, EOPNOTSUPP): counted as a GSO failure and its datagrams sent again one
//   message each (a datagram above the path MTU then leaves in IP fragments). UDP GSO is
//   switched off for good when the socket cannot do it (EIO, EINVAL, EOPNOTSUPP: no checksum
//   offload on the way out, checksums off, no support), or after kOversizeRefusalsMax
//   refusals for datagrams too large for their path (EMSGSIZE);
// - otherwise, with a sticky source (IP_PKTINFO / IPV6_PKTINFO) and any errno but EAGAIN: the
//   source is gone (address removed, route changed), so the message is sent again without it
//   and its endpoint reported in stale_sources;
// - anything else: dropped, counted in udp_send_errors (each datagram of the message).
#pragma once
#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/endpoint.hpp"
#include "io/packet_io.hpp"
#include "io/sockaddr.hpp"

namespace wg::io {

// Whether a UDP_SEGMENT message failed because the kernel cannot segment it here (no checksum
// offload on the way out, a datagram above the path MTU, ...) rather than for its path.
bool gso_refused(int err);
// Whether such a refusal means the socket cannot do UDP GSO at all (not just this message).
bool gso_unusable(int err);

class Output {
 public:
  // EMSGSIZE refusals (datagrams above their path's MTU) after which UDP GSO goes off for good.
  static constexpr unsigned kOversizeRefusalsMax = 16;

  // A queued TUN or port write: `count` pieces from `first` in the shared piece storage.
  struct Write {
    int fd;
    bool tun;  // which error counter a failure goes to
    uint32_t first, count;
  };
  // Messages [first, end) a backend sends (again).
  struct Range {
    size_t first = 0, end = 0;
  };

  // The policy's state lives in the backend: its counters, its UDP GSO switch, and the list
  // of endpoints whose sticky source failed.
  Output(IoCounters& counters, bool& gso, std::vector<core::Endpoint>& stale_sources)
      : counters_(counters), gso_(gso), stale_(stale_sources) {}

  void set_sockets(int fd4, int fd6) { sockets_ = {fd4, fd6}; }

  // Queueing, as PacketIo's send_udp / write_tun / write_port: the iovec arrays are copied,
  // the bytes they point to must stay valid until clear(). A message of several datagrams
  // queued while UDP GSO is off goes as one message per datagram.
  void send_udp(const core::Endpoint& to, std::span<const iovec> datagrams);
  void write(int fd, bool tun, std::span<const iovec> parts);
  bool empty() const { return messages_.empty() && writes_.empty(); }

  // Builds the header of every queued message (counting UDP_SEGMENT messages and the ones
  // whose family has no socket) and returns their range. Messages a failure adds come after.
  Range prepare();
  size_t messages() const { return messages_.size(); }
  // The socket message m leaves through; -1 when there is none (already counted).
  int socket(size_t m) const { return sockets_[messages_[m].to.family == core::Family::V4 ? 0 : 1]; }
  // Contiguous from index 0, for sendmmsg.
  mmsghdr* header(size_t m) { return &headers_[m]; }
  // Message m failed with errno `err`: applies the policy above and returns what to send
  // again (m itself without its source, its datagrams one by one, or nothing).
  Range failed(size_t m, int err);

  std::span<const Write> writes() const { return writes_; }
  iovec* pieces(const Write& w) { return &iov_[w.first]; }
  void write_failed(const Write& w) { ++(w.tun ? counters_.tun_write_errors : counters_.port_write_errors); }

  // Everything sent or counted: forget it (storage keeps its capacity).
  void clear();

 private:
  struct Message {
    core::Endpoint to;
    uint32_t first, count;  // datagrams in iov_
  };

  void add_message(const core::Endpoint& to, size_t first, size_t count);
  void build(size_t m);

  IoCounters& counters_;
  bool& gso_;
  std::vector<core::Endpoint>& stale_;
  std::array<int, 2> sockets_{-1, -1};
  unsigned oversize_refusals_ = 0;
  std::vector<Message> messages_;
  std::vector<Write> writes_;
  std::vector<iovec> iov_;  // the datagrams of every message and the pieces of every write
  // One per message, with room for the single-datagram messages a GSO refusal adds: sized in
  // prepare(), so the kernel's pointers into them stay valid while sends are in flight.
  std::vector<mmsghdr> headers_;
  std::vector<sockaddr_storage> names_;
  std::vector<std::array<uint8_t, kSendControlSpace>> control_;
};

}  // namespace wg::io
