// core/outbox.hpp — what a Device call wants sent, and what happened worth logging.
// Owned by the caller and reused across calls (clear() keeps capacity, so no allocation in
// steady state). Handshake, cookie and keepalive messages live in the outbox's own slots;
// flushed staged packets are referenced where they lie in the Device, valid until the next
// call into that Device.
#pragma once
#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "core/endpoint.hpp"
#include "core/messages.hpp"
#include "core/peer.hpp"

namespace wg::core {

enum class EventKind : uint8_t {
  HandshakeInitiated,  // we sent an initiation
  HandshakeCompleted,  // a session is usable (key confirmation on the responder side)
  HandshakeGaveUp,     // no answer after every retry
  EndpointChanged,     // an authenticated packet came from a new address
  KeysZeroed,          // session keys wiped after 540 s without a new handshake
};

struct Event {
  PeerId peer;
  EventKind kind;
};

class Outbox {
 public:
  struct Item {
    PeerId peer;
    Endpoint to;
    std::span<const uint8_t> bytes;
  };

  std::span<uint8_t> add_control(PeerId peer, const Endpoint& to, size_t len) {
    if (used_ == control_.size()) control_.emplace_back();
    auto& slot = control_[used_];
    items_.push_back({peer, to, kControl, used_, len, nullptr});
    ++used_;
    return {slot.data(), len};
  }
  void add_external(PeerId peer, const Endpoint& to, std::span<const uint8_t> bytes) {
    items_.push_back({peer, to, kExternal, 0, bytes.size(), bytes.data()});
  }
  // Removes the last item (a message that turned out not to be sendable).
  void drop_last() {
    if (items_.back().kind == kControl) --used_;
    items_.pop_back();
  }
  void add_event(PeerId peer, EventKind kind) { events_.push_back({peer, kind}); }

  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  Item operator[](size_t i) const {
    const Entry& e = items_[i];
    const uint8_t* p = e.kind == kControl ? control_[e.slot].data() : e.external;
    return {e.peer, e.to, {p, e.len}};
  }
  std::span<const Event> events() const { return events_; }

  void clear() {
    items_.clear();
    events_.clear();
    used_ = 0;
  }

 private:
  enum Kind : uint8_t { kControl, kExternal };
  struct Entry {
    PeerId peer;
    Endpoint to;
    Kind kind;
    size_t slot;
    size_t len;
    const uint8_t* external;
  };
  std::vector<std::array<uint8_t, kMaxControlLen>> control_;
  size_t used_ = 0;
  std::vector<Entry> items_;
  std::vector<Event> events_;
};

}  // namespace wg::core
