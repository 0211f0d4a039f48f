// io/sockaddr.hpp — conversions between core::Endpoint and the socket API's addresses,
// including the local address of a received datagram (IP_PKTINFO / IPV6_PKTINFO) that makes
// replies leave from the address the peer wrote to.
#pragma once
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>

#include <cstring>

#include "core/endpoint.hpp"

namespace wg::io {

// Fills ss from e; returns the length to pass to the socket call, 0 for no endpoint.
inline socklen_t to_sockaddr(const core::Endpoint& e, sockaddr_storage& ss) {
  std::memset(&ss, 0, sizeof(ss));
  if (e.family == core::Family::V4) {
    auto* s = reinterpret_cast<sockaddr_in*>(&ss);
    s->sin_family = AF_INET;
    s->sin_port = htons(e.port);
    std::memcpy(&s->sin_addr, e.addr.data(), 4);
    return sizeof(sockaddr_in);
  }
  if (e.family == core::Family::V6) {
    auto* s = reinterpret_cast<sockaddr_in6*>(&ss);
    s->sin6_family = AF_INET6;
    s->sin6_port = htons(e.port);
    std::memcpy(&s->sin6_addr, e.addr.data(), 16);
    s->sin6_scope_id = e.scope_id;
    return sizeof(sockaddr_in6);
  }
  return 0;
}

// An IPv4-mapped IPv6 address is stored as plain IPv4, so peers show as a.b.c.d:port.
inline core::Endpoint from_sockaddr(const sockaddr* sa) {
  core::Endpoint e;
  if (sa->sa_family == AF_INET) {
    const auto* s = reinterpret_cast<const sockaddr_in*>(sa);
    e.family = core::Family::V4;
    std::memcpy(e.addr.data(), &s->sin_addr, 4);
    e.port = ntohs(s->sin_port);
  } else if (sa->sa_family == AF_INET6) {
    const auto* s = reinterpret_cast<const sockaddr_in6*>(sa);
    if (IN6_IS_ADDR_V4MAPPED(&s->sin6_addr)) {
      e.family = core::Family::V4;
      std::memcpy(e.addr.data(), reinterpret_cast<const uint8_t*>(&s->sin6_addr) + 12, 4);
    } else {
      e.family = core::Family::V6;
      std::memcpy(e.addr.data(), &s->sin6_addr, 16);
      e.scope_id = s->sin6_scope_id;
    }
    e.port = ntohs(s->sin6_port);
  }
  return e;
}

// Records the destination address of a received datagram from its control messages.
inline void take_pktinfo(msghdr& msg, core::Endpoint& e) {
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
      in_pktinfo pi;
      std::memcpy(&pi, CMSG_DATA(c), sizeof(pi));
      e.has_local = true;
      std::memcpy(e.local.data(), &pi.ipi_addr, 4);
      e.local_ifindex = static_cast<uint32_t>(pi.ipi_ifindex);
    } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
      in6_pktinfo pi;
      std::memcpy(&pi, CMSG_DATA(c), sizeof(pi));
      e.has_local = true;
      std::memcpy(e.local.data(), &pi.ipi6_addr, 16);
      e.local_ifindex = pi.ipi6_ifindex;
    }
  }
}

// Room for one PKTINFO control message of either family.
inline constexpr size_t kPktinfoSpace = CMSG_SPACE(sizeof(in6_pktinfo));

// Writes the sticky source for a send into control (kPktinfoSpace bytes); returns its length.
inline size_t put_pktinfo(const core::Endpoint& e, uint8_t* control) {
  if (!e.has_local) return 0;
  std::memset(control, 0, kPktinfoSpace);
  auto* c = reinterpret_cast<cmsghdr*>(control);
  if (e.family == core::Family::V4) {
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
    in_pktinfo pi{};
    std::memcpy(&pi.ipi_spec_dst, e.local.data(), 4);
    pi.ipi_ifindex = static_cast<int>(e.local_ifindex);
    std::memcpy(CMSG_DATA(c), &pi, sizeof(pi));
    return CMSG_SPACE(sizeof(in_pktinfo));
  }
  c->cmsg_level = IPPROTO_IPV6;
  c->cmsg_type = IPV6_PKTINFO;
  c->cmsg_len = CMSG_LEN(sizeof(in6_pktinfo));
  in6_pktinfo pi{};
  std::memcpy(&pi.ipi6_addr, e.local.data(), 16);
  pi.ipi6_ifindex = e.local_ifindex;
  std::memcpy(CMSG_DATA(c), &pi, sizeof(pi));
  return CMSG_SPACE(sizeof(in6_pktinfo));
}

// UDP_GRO: the size of each datagram in a coalesced receive; 0 when the message has none.
inline size_t take_gro_size(msghdr& msg) {
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
    if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
      int size = 0;
      std::memcpy(&size, CMSG_DATA(c), sizeof(size));
      return size > 0 ? static_cast<size_t>(size) : 0;
    }
  return 0;
}
inline constexpr size_t kGroSpace = CMSG_SPACE(sizeof(int));

// UDP_SEGMENT: the datagram size of a GSO send. Returns the bytes written to control.
inline constexpr size_t kSegmentSpace = CMSG_SPACE(sizeof(uint16_t));
inline size_t put_udp_segment(uint8_t* control, uint16_t size) {
  std::memset(control, 0, kSegmentSpace);
  auto* c = reinterpret_cast<cmsghdr*>(control);
  c->cmsg_level = SOL_UDP;
  c->cmsg_type = UDP_SEGMENT;
  c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
  std::memcpy(CMSG_DATA(c), &size, sizeof(size));
  return kSegmentSpace;
}

// Control space for a receive (PKTINFO + UDP_GRO) and a send (PKTINFO + UDP_SEGMENT).
inline constexpr size_t kRecvControlSpace = kPktinfoSpace + kGroSpace;
inline constexpr size_t kSendControlSpace = kPktinfoSpace + kSegmentSpace;

}  // namespace wg::io
