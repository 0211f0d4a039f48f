// io/udp.cpp — socket setup for the tunnel's UDP port.
#include "io/udp.hpp"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace wg::io {

namespace {

constexpr int kSocketBuffer = 7 << 20;  // 7 MiB: bursts of a fast peer must not overflow

// The FORCE variants pass rmem_max/wmem_max when we have CAP_NET_ADMIN; otherwise the plain
// ones give what the sysctls allow.
void raise_buffers(int fd) {
  int size = kSocketBuffer;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) != 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) != 0)
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
}

int open_socket(int family, uint16_t port, uint32_t mark, bool gro, bool& gro_ok) {
  const int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
  if (fd < 0) return -errno;
  const int on = 1;
  if (family == AF_INET6) {
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof(on));
  } else {
    setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on));
  }
  raise_buffers(fd);
  gro_ok = gro && setsockopt(fd, SOL_UDP, UDP_GRO, &on, sizeof(on)) == 0;
  if (mark && setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) != 0) {
    const int e = errno;
    ::close(fd);
    return -e;
  }
  sockaddr_storage ss{};
  socklen_t len;
  if (family == AF_INET) {
    auto* s = reinterpret_cast<sockaddr_in*>(&ss);
    s->sin_family = AF_INET;
    s->sin_port = htons(port);
    len = sizeof(*s);
  } else {
    auto* s = reinterpret_cast<sockaddr_in6*>(&ss);
    s->sin6_family = AF_INET6;
    s->sin6_port = htons(port);
    len = sizeof(*s);
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    const int e = errno;
    ::close(fd);
    return -e;
  }
  return fd;
}

uint16_t bound_port(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  return ss.ss_family == AF_INET ? ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port)
                                 : ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
}

}  // namespace

UdpSockets::~UdpSockets() { close(); }

void UdpSockets::close() {
  if (fd4_ >= 0) ::close(fd4_);
  if (fd6_ >= 0) ::close(fd6_);
  fd4_ = fd6_ = -1;
  port_ = 0;
}

int UdpSockets::bind(uint16_t port, uint32_t fwmark) {
  if (port != 0 && port == port_ && fd4_ >= 0) return 0;
  const uint16_t old = port_;
  close();
  const int rc = bind_fresh(port, fwmark);
  if (rc != 0 && old != 0) bind_fresh(old, fwmark);  // keep serving where we were
  return rc;
}

int UdpSockets::bind_fresh(uint16_t port, uint32_t fwmark) {
  // With port 0 the IPv4 socket picks one and IPv6 must get the same; retry on collision.
  for (int attempt = 0; attempt < 100; ++attempt) {
    bool gro4 = false, gro6 = false;
    const int v4 = open_socket(AF_INET, port, fwmark, want_gro_, gro4);
    if (v4 < 0) return v4;
    const uint16_t chosen = bound_port(v4);
    const int v6 = open_socket(AF_INET6, chosen, fwmark, want_gro_, gro6);
    if (v6 == -EADDRINUSE && port == 0) {
      ::close(v4);
      continue;
    }
    // A host without IPv6 still gets an IPv4 tunnel.
    if (v6 < 0 && v6 != -EAFNOSUPPORT && v6 != -EADDRNOTAVAIL) {
      ::close(v4);
      return v6;
    }
    fd4_ = v4;
    fd6_ = v6 < 0 ? -1 : v6;
    port_ = chosen;
    fwmark_ = fwmark;
    gro_ = gro4 && (fd6_ < 0 || gro6);
    int seg = 0;
    socklen_t sl = sizeof(seg);
    gso_supported_ = getsockopt(fd4_, SOL_UDP, UDP_SEGMENT, &seg, &sl) == 0;
    socklen_t l = sizeof(rcvbuf_);
    getsockopt(fd4_, SOL_SOCKET, SO_RCVBUF, &rcvbuf_, &l);
    return 0;
  }
  return -EADDRINUSE;
}

int UdpSockets::set_fwmark(uint32_t mark) {
  if (mark == fwmark_) return 0;  // `wg setconf` always sends fwmark: unchanged must not need privileges
  for (int fd : {fd4_, fd6_})
    if (fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) != 0) return -errno;
  fwmark_ = mark;
  return 0;
}

}  // namespace wg::io
