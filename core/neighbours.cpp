// core/neighbours.cpp — see neighbours.hpp.
#include "core/neighbours.hpp"

#include <cstring>

namespace wg::core {

namespace {

size_t alen(Family f) { return f == Family::V4 ? 4 : 16; }

bool same(Family f, const pkt::Addr16& a, Family g, const uint8_t* b) {
  return f == g && std::memcmp(a.data(), b, alen(f)) == 0;
}

}  // namespace

Neighbour* NeighbourCache::find(Family f, const uint8_t* addr) {
  for (Neighbour& n : entries_)
    if (same(n.family, n.addr, f, addr)) return &n;
  return nullptr;
}

const Neighbour* NeighbourCache::resolved(Family f, const uint8_t* addr) const {
  for (const Neighbour& n : entries_)
    if (n.resolved && same(n.family, n.addr, f, addr)) return &n;
  return nullptr;
}

Neighbour& NeighbourCache::claim(Family f, const uint8_t* addr) {
  Neighbour* n = nullptr;
  if (entries_.size() < kMaxEntries) {
    n = &entries_.emplace_back();  // within the capacity reserved up front: no allocation
  } else {
    // Resolved entries give way only when every entry is resolved.
    for (Neighbour& c : entries_)
      if (!c.resolved && (!n || c.probed < n->probed)) n = &c;
    if (!n)
      for (Neighbour& c : entries_)
        if (!n || c.confirmed < n->confirmed) n = &c;
    *n = Neighbour{};
  }
  n->family = f;
  std::memcpy(n->addr.data(), addr, alen(f));
  return *n;
}

bool NeighbourCache::solicit_due(Family f, const uint8_t* addr, Instant now) {
  Neighbour* n = find(f, addr);
  if (!n)
    n = &claim(f, addr);
  else if (n->probed != Instant{} && now - n->probed < kReprobe)
    return false;
  n->probed = now;
  return true;
}

void NeighbourCache::learn(Family f, const uint8_t* addr, const pkt::Mac& mac, Instant now) {
  Neighbour* n = find(f, addr);
  if (!n) n = &claim(f, addr);
  n->mac = mac;
  n->resolved = true;
  n->confirmed = now;
}

void NeighbourCache::reserve_parking(size_t max_len) {
  if (parked_.size() < max_len) parked_.resize(max_len);  // keeps a parked packet's bytes
}

bool NeighbourCache::drop_parked() {
  const bool had = parked_len_ != 0;
  parked_len_ = 0;
  return had;
}

bool NeighbourCache::park(Family f, const uint8_t* dst, std::span<const uint8_t> ip) {
  parked_len_ = 0;
  if (ip.empty() || ip.size() > parked_.size()) return false;
  std::memcpy(parked_.data(), ip.data(), ip.size());
  parked_len_ = ip.size();
  parked_family_ = f;
  parked_dst_ = {};
  std::memcpy(parked_dst_.data(), dst, alen(f));
  return true;
}

std::span<const uint8_t> NeighbourCache::take_parked(Family f, const uint8_t* addr) {
  if (parked_len_ == 0 || !same(parked_family_, parked_dst_, f, addr)) return {};
  const size_t len = parked_len_;
  parked_len_ = 0;
  return {parked_.data(), len};
}

void NeighbourCache::forget() {
  entries_.clear();
  parked_len_ = 0;
}

void NeighbourCache::release() {
  forget();
  std::vector<Neighbour>().swap(entries_);
  std::vector<uint8_t>().swap(parked_);
}

}  // namespace wg::core
