// core/neighbours.hpp — one gateway port's neighbour cache: the link-layer address of each
// address the instance uses on the segment, when to solicit one (again), and the one packet
// parked until its next hop resolves. Pure: no I/O, time passed in. The Gateway builds and
// sends the Neighbor Solicitations and ARP requests this cache says are due.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/env.hpp"
#include "core/packet.hpp"

namespace wg::core {

struct Neighbour {
  Family family = Family::None;
  pkt::Addr16 addr{};
  pkt::Mac mac{};
  bool resolved = false;
  Instant confirmed{};  // last time the instance showed it owns addr
  Instant probed{};     // last solicitation we sent
};

class NeighbourCache {
 public:
  static constexpr size_t kMaxEntries = 16;  // one instance, a few addresses
  // An unanswered solicitation is repeated after kReprobe; a resolved neighbour not heard
  // from for kStale is still used, and solicited again.
  static constexpr Duration kReprobe = std::chrono::seconds(1);
  static constexpr Duration kStale = std::chrono::seconds(60);

  NeighbourCache() { entries_.reserve(kMaxEntries); }

  // addr's entry when it is resolved, else nullptr.
  const Neighbour* resolved(Family f, const uint8_t* addr) const;
  static bool stale(const Neighbour& n, Instant now) { return now - n.confirmed > kStale; }
  // Whether a solicitation for addr is due: none was sent within kReprobe. When it is, it is
  // recorded as sent now (the caller sends it), and addr gets an entry if it had none.
  bool solicit_due(Family f, const uint8_t* addr, Instant now);
  // The instance showed that addr is at mac (an advertisement, an ARP message, a packet).
  void learn(Family f, const uint8_t* addr, const pkt::Mac& mac, Instant now);

  // --- the parked packet: one per port, the newest wins ---
  // Room for packets up to max_len bytes (configuration time; storage only grows, and a
  // packet parked before stays).
  void reserve_parking(size_t max_len);
  // Gives up the parked packet, if any; true when there was one (the caller counts the drop).
  bool drop_parked();
  // Keeps a copy of ip until dst resolves; false when it is longer than reserve_parking allows.
  // A packet parked before must be given up first (drop_parked).
  bool park(Family f, const uint8_t* dst, std::span<const uint8_t> ip);
  // The packet parked for addr, taken out (its bytes stay valid until the next park), or empty.
  std::span<const uint8_t> take_parked(Family f, const uint8_t* addr);

  // Every entry and the parked packet go (the device behind the port changed).
  void forget();
  // forget, and the storage is freed too (the port is gone for good).
  void release();

  const std::vector<Neighbour>& entries() const { return entries_; }

 private:
  Neighbour* find(Family f, const uint8_t* addr);
  // An entry for addr: a free one, else the one missed least — the oldest unanswered
  // solicitation, or when every entry is resolved, the one confirmed longest ago.
  Neighbour& claim(Family f, const uint8_t* addr);

  std::vector<Neighbour> entries_;
  std::vector<uint8_t> parked_;  // the parked packet's bytes at the front
  size_t parked_len_ = 0;        // 0: nothing parked
  Family parked_family_ = Family::None;
  pkt::Addr16 parked_dst_{};
};

}  // namespace wg::core
