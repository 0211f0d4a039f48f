// core/keypair.hpp — transport keys of one session and the previous/current/next slots
// (whitepaper §5.4.6, kernel noise.c add_new_keypair / received_with_keypair).
// Owned by its Peer; the device keeps the index table in step through the returned indices.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>

#include "core/env.hpp"
#include "core/messages.hpp"
#include "core/replay_window.hpp"
#include "crypto/secure.hpp"

namespace wg::core {

struct Keypair {
  crypto::SymmetricKey send_key;
  crypto::SymmetricKey recv_key;
  uint64_t send_counter = 0;
  ReplayWindow replay;
  Instant birth;
  bool initiator = false;
  bool send_valid = true;
  bool recv_valid = true;
  uint32_t local_index = 0;   // what the peer puts in receiver_index when sending to us
  uint32_t remote_index = 0;  // what we put in receiver_index when sending to the peer

  bool can_send(Instant now) const {
    return send_valid && now - birth < kRejectAfterTime && send_counter < kRejectAfterMessages;
  }
  bool can_receive(Instant now) const { return recv_valid && now - birth < kRejectAfterTime; }
};

// Receives the local index of every keypair a slot change discards.
template <class F>
concept IndexRelease = requires(F f, uint32_t i) { f(i); };

struct KeypairSlots {
  std::unique_ptr<Keypair> previous;
  std::unique_ptr<Keypair> current;
  std::unique_ptr<Keypair> next;

  // The initiator uses a new session at once; the responder keeps it in `next` until the
  // initiator proves it has it (first data or keepalive received on it).
  template <IndexRelease F>
  void add(std::unique_ptr<Keypair> kp, F&& release) {
    auto drop = [&](std::unique_ptr<Keypair>& slot) {
      if (slot) release(slot->local_index);
      slot.reset();
    };
    if (kp->initiator) {
      drop(previous);
      if (next) {
        previous = std::move(next);
        drop(current);
      } else {
        previous = std::move(current);
      }
      current = std::move(kp);
    } else {
      drop(next);
      drop(previous);
      next = std::move(kp);
    }
  }

  // Key confirmation: a packet arrived on `kp`; if it was `next`, it becomes current.
  // Returns true when that promotion happened.
  template <IndexRelease F>
  bool received_with(const Keypair* kp, F&& release) {
    if (!next || next.get() != kp) return false;
    if (previous) release(previous->local_index);
    previous = std::move(current);
    current = std::move(next);
    return true;
  }

  Keypair* find(uint32_t local_index) const {
    for (Keypair* k : {current.get(), previous.get(), next.get()})
      if (k && k->local_index == local_index) return k;
    return nullptr;
  }

  template <IndexRelease F>
  void clear(F&& release) {
    for (auto* slot : {&previous, &current, &next}) {
      if (*slot) release((*slot)->local_index);
      slot->reset();
    }
  }

  // A changed private key: no more sending on what we have, which forces a new handshake.
  void expire_sending() {
    if (current) current->send_valid = false;
    if (next) next->send_valid = false;
  }
};

}  // namespace wg::core
