// core/replay_window.hpp — RFC 6479 sliding window for transport counters.
// Owned by one receiving keypair; not thread-safe (the keypair's receive path serialises it).
//
// The ring holds 128 words of 64 bits (8192 bits). One word is always the one being
// recycled, so 127 * 64 = 8128 counters behind the greatest accepted one stay usable: the
// same window as kernel WireGuard on 64-bit and wireguard-go (PROTOCOL.md §1.5). A counter c
// is accepted when c < kRejectAfterMessages, greatest - c <= kWindowSize, and c was not
// accepted before. A fresh window behaves as if counter 0 were the greatest so far, but not
// yet seen (wireguard-go's filter; the kernel's accepts the same sequences).
#pragma once
#include <array>
#include <cstdint>

#include "core/messages.hpp"

namespace wg::core {

class ReplayWindow {
 public:
  static constexpr uint64_t kWordBits = 64;
  static constexpr uint64_t kRingWords = 128;  // power of two
  static constexpr uint64_t kWindowSize = (kRingWords - 1) * kWordBits;  // 8128
  static_assert(kWindowSize == 8128);

  // Two-phase use: check() before decrypting (cheap reject, no state change), update() only
  // after the AEAD tag verified.
  [[nodiscard]] bool check(uint64_t counter) const {
    if (counter >= kRejectAfterMessages) return false;
    if (counter > greatest_) return true;
    if (greatest_ - counter > kWindowSize) return false;
    return (ring_[word_of(counter) & kRingMask] & bit_of(counter)) == 0;
  }

  // Accepts and records counter; false if replayed, too old, or counter >= kRejectAfterMessages.
  [[nodiscard]] bool update(uint64_t counter) {
    if (counter >= kRejectAfterMessages) return false;
    const uint64_t word = word_of(counter);
    if (counter > greatest_) {
      // Slide forward: clear every word between the old head word (exclusive) and the new one
      // (inclusive); after a jump of a whole ring or more, that is every word.
      const uint64_t head = word_of(greatest_);
      uint64_t advance = word - head;
      if (advance > kRingWords) advance = kRingWords;
      for (uint64_t i = 1; i <= advance; ++i) ring_[(head + i) & kRingMask] = 0;
      greatest_ = counter;
    } else if (greatest_ - counter > kWindowSize) {
      return false;
    }
    uint64_t& slot = ring_[word & kRingMask];
    const uint64_t bit = bit_of(counter);
    if (slot & bit) return false;
    slot |= bit;
    return true;
  }

  void reset() {
    ring_.fill(0);
    greatest_ = 0;
  }

  // The greatest counter accepted so far (0 on a fresh window).
  [[nodiscard]] uint64_t greatest() const { return greatest_; }

 private:
  static constexpr uint64_t kRingMask = kRingWords - 1;
  static constexpr uint64_t word_of(uint64_t counter) { return counter / kWordBits; }
  static constexpr uint64_t bit_of(uint64_t counter) { return uint64_t{1} << (counter % kWordBits); }

  std::array<uint64_t, kRingWords> ring_{};
  uint64_t greatest_ = 0;
};

}  // namespace wg::core
