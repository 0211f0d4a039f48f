// core/staged.hpp — packets waiting for a session (at most 128 per peer; the oldest goes).
// Slots are allocated the first time the queue grows to them and then reused, so staging
// does not allocate in steady state. Each slot has room in front for the data header and
// behind for padding and the tag, so a staged packet is encrypted where it lies.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "core/messages.hpp"

namespace wg::core {

class StagedQueue {
 public:
  struct Slot {
    std::vector<uint8_t> buf;  // data::kHeaderLen + plaintext + padding + tag
    size_t len = 0;            // plaintext length; 0 is a keepalive
  };

  // Copies plaintext in; returns true if the oldest packet had to be dropped for it.
  bool push(std::span<const uint8_t> plaintext) {
    bool dropped = false;
    if (count_ == kMaxStagedPackets) {
      pop_front();
      dropped = true;
    }
    if (count_ == slots_.size()) {
      // Grow: put the ring in order first so the new slot lands at its end.
      std::rotate(slots_.begin(), slots_.begin() + static_cast<std::ptrdiff_t>(head_), slots_.end());
      head_ = 0;
      slots_.emplace_back();
    }
    Slot& s = slots_[(head_ + count_) % slots_.size()];
    const size_t room = data::kHeaderLen + plaintext.size() + kPaddingMultiple + kTagLen;
    if (s.buf.size() < room) s.buf.resize(room);
    if (!plaintext.empty()) std::memcpy(s.buf.data() + data::kHeaderLen, plaintext.data(), plaintext.size());
    s.len = plaintext.size();
    ++count_;
    return dropped;
  }

  bool empty() const { return count_ == 0; }
  size_t size() const { return count_; }
  Slot& front() { return slots_[head_]; }
  void pop_front() {
    head_ = (head_ + 1) % slots_.size();
    if (--count_ == 0) head_ = 0;
  }
  void clear() {
    head_ = 0;
    count_ = 0;
  }
  // Releases the memory as well (peer removal, zeroing).
  void release() {
    clear();
    std::vector<Slot>().swap(slots_);
  }

 private:
  std::vector<Slot> slots_;
  size_t head_ = 0;
  size_t count_ = 0;
};

}  // namespace wg::core
