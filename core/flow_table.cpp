// core/flow_table.cpp — see flow_table.hpp.
#include "core/flow_table.hpp"

#include <bit>
#include <cstring>

#include "core/packet.hpp"

namespace wg::core {

FlowTable::FlowTable(size_t capacity, uint64_t seed) : seed_(seed) {
  const size_t n = std::bit_ceil(capacity < kProbe ? kProbe : capacity);
  slots_.resize(n);
  mask_ = n - 1;
}

size_t FlowTable::home(const FlowKey& k) const {
  // FNV-1a over the key fields, seeded, then a final avalanche (splitmix64's finalizer).
  uint64_t h = 0xcbf29ce484222325ull ^ seed_;
  auto mix = [&h](const uint8_t* p, size_t n) {
    for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  };
  mix(k.inst.data(), 16);
  mix(k.remote.data(), 16);
  const uint8_t rest[] = {static_cast<uint8_t>(k.inst_port >> 8), static_cast<uint8_t>(k.inst_port),
                          static_cast<uint8_t>(k.remote_port >> 8), static_cast<uint8_t>(k.remote_port),
                          static_cast<uint8_t>(k.port), static_cast<uint8_t>(k.port >> 8), k.proto,
                          static_cast<uint8_t>(k.family)};
  mix(rest, sizeof(rest));
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  return static_cast<size_t>(h) & mask_;
}

Duration FlowTable::timeout(const FlowKey& k, uint8_t tcp_flags, bool replied) {
  using pkt::kTcpAck;
  using pkt::kTcpFin;
  using pkt::kTcpRst;
  using pkt::kTcpSyn;
  if (k.proto == pkt::kProtoTcp) {
    if (tcp_flags & (kTcpRst | kTcpFin)) return kTcpClosing;
    if ((tcp_flags & kTcpSyn) && !(tcp_flags & kTcpAck)) return kTcpSynSent;
    return replied ? kTcpEstablished : kTcpSynSent;
  }
  if (k.proto == pkt::kProtoUdp) return replied ? kUdpReplied : kUdpUnreplied;
  return kOther;
}

void FlowTable::note_outbound(const FlowKey& k, uint8_t tcp_flags, Instant now) {
  const size_t h = home(k);
  Slot* free_slot = nullptr;
  Slot* soonest = nullptr;
  for (size_t i = 0; i < kProbe; ++i) {
    Slot& s = slots_[(h + i) & mask_];
    if (s.used && s.key == k) {
      if (s.expires <= now) s.replied = s.closing = false;  // an expired flow starts over
      if ((tcp_flags & pkt::kTcpSyn) && !(tcp_flags & pkt::kTcpAck)) s.closing = false;
      if (tcp_flags & (pkt::kTcpRst | pkt::kTcpFin)) s.closing = true;
      s.expires = now + (s.closing && k.proto == pkt::kProtoTcp ? kTcpClosing : timeout(k, tcp_flags, s.replied));
      return;
    }
    if (!s.used || s.expires <= now) {
      if (!free_slot) free_slot = &s;
    } else if (!soonest || s.expires < soonest->expires) {
      soonest = &s;
    }
  }
  Slot* s = free_slot;
  if (!s) {
    s = soonest;
    ++evictions_;
  }
  s->key = k;
  s->used = true;
  s->replied = false;
  s->closing = (tcp_flags & (pkt::kTcpRst | pkt::kTcpFin)) != 0;
  s->expires = now + timeout(k, tcp_flags, false);
}

bool FlowTable::match_inbound(const FlowKey& k, uint8_t tcp_flags, Instant now) {
  const size_t h = home(k);
  for (size_t i = 0; i < kProbe; ++i) {
    Slot& s = slots_[(h + i) & mask_];
    if (!s.used || !(s.key == k)) continue;
    if (s.expires <= now) return false;
    s.replied = true;
    // An RST or FIN from either end shortens the flow for good; anything else keeps it alive.
    if (tcp_flags & (pkt::kTcpRst | pkt::kTcpFin)) s.closing = true;
    const bool closing = s.closing && k.proto == pkt::kProtoTcp;
    const Duration t = closing ? kTcpClosing : timeout(k, 0, true);
    if (now + t > s.expires || closing) s.expires = now + t;
    return true;
  }
  return false;
}

size_t FlowTable::live(Instant now) const {
  size_t n = 0;
  for (const Slot& s : slots_) n += s.used && s.expires > now;
  return n;
}

}  // namespace wg::core
