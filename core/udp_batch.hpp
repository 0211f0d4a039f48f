// core/udp_batch.hpp — how UDP datagrams travel in batches: a UDP_GRO receive split back into
// its datagrams, and runs of queued datagrams that one UDP_SEGMENT message can carry.
#pragma once
#include <cstring>
#include <span>
#include <vector>

#include "core/egress.hpp"

namespace wg::core {

// A datagram queued for sending.
struct UdpSend {
  Endpoint to;
  std::span<const uint8_t> bytes;
};

// Whether two sends take the same path (remote and sticky local source): only those can share
// one GSO message.
inline bool same_path(const Endpoint& a, const Endpoint& b) {
  return a.same_remote(b) && a.has_local == b.has_local && a.local_ifindex == b.local_ifindex &&
         (!a.has_local || std::memcmp(a.local.data(), b.local.data(), a.addr_len()) == 0);
}

// The number of sends from s[i] on that one UDP_SEGMENT message can carry: same path, every
// datagram as long as the first but the last, which may be shorter.
inline size_t gso_run(std::span<const UdpSend> s, size_t i) {
  const size_t size = s[i].bytes.size();
  size_t k = 1, total = size;
  while (i + k < s.size() && k < kMaxGsoSegments && same_path(s[i].to, s[i + k].to)) {
    const size_t n = s[i + k].bytes.size();
    if (n > size || n == 0 || total + n > kMaxGsoBytes) break;
    total += n;
    ++k;
    if (n < size) break;  // a shorter one ends the run
  }
  return k;
}

// Appends the datagrams of one receive: itself, or with UDP_GRO (rx.segment > 0) its
// segment-byte datagrams, the last one shorter. Later ones have the previous datagram's tag
// as headroom.
inline void split_gro(std::vector<RxDatagram>& out, const RxDatagram& rx) {
  if (rx.segment == 0 || rx.bytes.size() <= rx.segment) {
    out.push_back({rx.bytes, rx.from, rx.headroom, 0});
    return;
  }
  for (size_t at = 0, i = 0; at < rx.bytes.size() && i < kMaxGroSegments * 2; at += rx.segment, ++i) {
    const size_t n = rx.bytes.size() - at < rx.segment ? rx.bytes.size() - at : rx.segment;
    out.push_back({rx.bytes.subspan(at, n), rx.from, at == 0 ? rx.headroom : kRxMinHeadroom, 0});
  }
}

}  // namespace wg::core
