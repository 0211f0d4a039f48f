// io/udp.hpp — the two UDP sockets of an interface on one port: IPv4 on 0.0.0.0 and IPv6 on ::
// with IPV6_V6ONLY (so IPv4 peers are never seen as ::ffff:a.b.c.d), with PKTINFO for sticky
// sources, big buffers, SO_MARK. Owns the descriptors.
#pragma once
#include <cstdint>
#include <string>

namespace wg::io {

class UdpSockets {
 public:
  UdpSockets() = default;
  ~UdpSockets();
  UdpSockets(const UdpSockets&) = delete;
  UdpSockets& operator=(const UdpSockets&) = delete;

  // Binds both families to port (0 = a new random port both can have). 0 or -errno; on
  // failure it goes back to the previous port if it had one. The same non-zero port is a no-op.
  int bind(uint16_t port, uint32_t fwmark);
  // Applies SO_MARK to both sockets (0 clears it). 0 or -errno.
  int set_fwmark(uint32_t mark);
  void close();

  int fd4() const { return fd4_; }
  int fd6() const { return fd6_; }
  uint16_t port() const { return port_; }
  uint32_t fwmark() const { return fwmark_; }
  // How much receive buffer the kernel actually granted (for the startup log).
  int rcvbuf() const { return rcvbuf_; }
  // UDP_GRO on the sockets bound from now on (the kernel then hands over runs of datagrams).
  void want_gro(bool on) { want_gro_ = on; }
  bool gro() const { return gro_; }
  // Whether this kernel knows UDP_SEGMENT (a probe; a send can still be refused later).
  bool gso_supported() const { return gso_supported_; }

 private:
  int bind_fresh(uint16_t port, uint32_t fwmark);

  int fd4_ = -1;
  int fd6_ = -1;
  uint16_t port_ = 0;
  uint32_t fwmark_ = 0;
  int rcvbuf_ = 0;
  bool want_gro_ = false;
  bool gro_ = false;
  bool gso_supported_ = false;
};

}  // namespace wg::io
