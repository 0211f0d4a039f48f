// core/flow_table.hpp — the gateway's memory of flows an instance opened, so that with
// AllowInbound set the replies to those flows come back while other new inbound flows are
// refused. A fixed-size open-addressed table (no allocation after construction) with
// conntrack-like timeouts; when a probe window is full the entry closest to expiry is evicted
// and counted. Keys are hashed with a per-table random seed.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/endpoint.hpp"
#include "core/env.hpp"

namespace wg::core {

// One direction-independent flow, written from the instance's side.
struct FlowKey {
  std::array<uint8_t, 16> inst{};    // the instance's address (IPv4 in the first 4 bytes)
  std::array<uint8_t, 16> remote{};  // the far end's address
  uint16_t inst_port = 0, remote_port = 0;  // 0 for protocols without ports
  uint32_t port = 0;                 // gateway port index
  uint8_t proto = 0;
  Family family = Family::None;
  friend bool operator==(const FlowKey&, const FlowKey&) = default;
};

class FlowTable {
 public:
  // Timeouts in the spirit of Linux conntrack (and RFC 5382 / 4787 for the long ones).
  static constexpr Duration kTcpSynSent = std::chrono::seconds(120);
  static constexpr Duration kTcpEstablished = std::chrono::seconds(7440);
  static constexpr Duration kTcpClosing = std::chrono::seconds(10);
  static constexpr Duration kUdpUnreplied = std::chrono::seconds(30);
  static constexpr Duration kUdpReplied = std::chrono::seconds(180);
  static constexpr Duration kOther = std::chrono::seconds(600);
  static constexpr size_t kProbe = 8;  // slots looked at per operation

  // capacity is rounded up to a power of two (at least kProbe).
  FlowTable(size_t capacity, uint64_t seed);

  // An outbound packet of the flow (instance → far end): creates or refreshes it.
  void note_outbound(const FlowKey& k, uint8_t tcp_flags, Instant now);
  // An inbound packet (far end → instance): true when it belongs to a live flow, which is
  // then refreshed.
  bool match_inbound(const FlowKey& k, uint8_t tcp_flags, Instant now);

  size_t capacity() const { return slots_.size(); }
  size_t live(Instant now) const;
  uint64_t evictions() const { return evictions_; }

 private:
  struct Slot {
    FlowKey key;
    Instant expires{};
    bool used = false;
    bool replied = false;
    bool closing = false;  // a FIN or RST was seen: the short timeout sticks until a new SYN
  };
  size_t home(const FlowKey& k) const;
  static Duration timeout(const FlowKey& k, uint8_t tcp_flags, bool replied);

  std::vector<Slot> slots_;
  size_t mask_ = 0;
  uint64_t seed_ = 0;
  uint64_t evictions_ = 0;
};

}  // namespace wg::core
