// core/device.hpp — the WireGuard protocol engine of one interface: identity, peers, index
// table, cookie checker, drop counters. Pure: bytes in, bytes and events out, time and
// randomness passed in. Not thread-safe; one owner calls it.
//
// Buffer contract for data packets: the caller's buffer holds the inner packet at offset
// data::kHeaderLen and has room after it for padding and the tag (see send_capacity()), so
// the header is written and the payload encrypted in place.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "core/aead_job.hpp"
#include "core/cookie.hpp"
#include "core/drop.hpp"
#include "core/endpoint.hpp"
#include "core/env.hpp"
#include "core/handshake.hpp"
#include "core/outbox.hpp"
#include "core/peer.hpp"
#include "core/ratelimiter.hpp"
#include "core/result.hpp"

namespace wg::core {

enum class RxKind : uint8_t { Dropped, Handshake, CookieReply, Keepalive, Data };

struct RxResult {
  RxKind kind = RxKind::Dropped;
  Drop drop = Drop::None;
  PeerId peer = kNoPeer;
  std::span<uint8_t> plaintext;  // Data: the inner IP packet, trimmed to its IP length
};

enum class TxStatus : uint8_t { Sent, Staged, Dropped };

struct TxResult {
  TxStatus status = TxStatus::Dropped;
  Drop drop = Drop::None;
  std::span<uint8_t> datagram;  // Sent: the whole data message, from the start of the buffer
  Endpoint to;
};

enum class PeerError : uint8_t { OwnKey, TooManyPeers };

// Bytes a send buffer needs for an inner packet of len bytes.
constexpr size_t send_capacity(size_t len) { return data::kHeaderLen + len + kPaddingMultiple - 1 + kTagLen; }

// Padded plaintext length: to a multiple of 16 but never past the MTU (kernel send.c);
// MTU 0 means "unknown", which pads to 16 regardless.
constexpr size_t padded_length(size_t len, uint32_t mtu) {
  auto align = [](size_t n) { return (n + kPaddingMultiple - 1) & ~(kPaddingMultiple - 1); };
  if (mtu == 0) return align(len);
  const size_t last = len > mtu ? len % mtu : len;
  const size_t padded = align(last) < mtu ? align(last) : mtu;
  return len + (padded - last);
}

class Device {
 public:
  static constexpr size_t kMaxPeers = size_t{1} << 20;

  Device();
  ~Device();
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  // --- configuration (UAPI / config file) ---
  // Stores the key clamped. A different key expires every session and removes a peer whose
  // public key equals ours; the same key again changes nothing. All zeros clears the key.
  // The first key on an up device sends what was staged while there was none.
  void set_private_key(const Env& env, const uint8_t key[32], Outbox& out);
  const StaticIdentity& identity() const { return identity_; }

  [[nodiscard]] Result<PeerId, PeerError> add_peer(const PublicKey& key);
  std::optional<PeerId> find_peer(const PublicKey& key) const;
  void remove_peer(PeerId id);
  void remove_all_peers();
  void set_preshared_key(PeerId id, const uint8_t key[32]);
  void set_endpoint(PeerId id, const Endpoint& ep);
  // Turning persistent keepalive on while up sends one keepalive at once.
  void set_persistent_keepalive(const Env& env, PeerId id, uint16_t seconds, Outbox& out);
  // Link state: coming up sends a keepalive for every peer with persistent keepalive.
  void set_up(const Env& env, bool up, Outbox& out);
  bool is_up() const { return up_; }
  void set_mtu(uint32_t mtu) { mtu_ = mtu; }
  uint32_t mtu() const { return mtu_; }

  Peer* peer(PeerId id) { return id < peers_.size() ? peers_[id].get() : nullptr; }
  const Peer* peer(PeerId id) const { return id < peers_.size() ? peers_[id].get() : nullptr; }
  // Calls f(PeerId, const Peer&) for each peer in creation order (slots may be reused).
  template <class F>
  void for_each_peer(F&& f) const {
    for (PeerId i = 0; i < peers_.size(); ++i)
      if (peers_[i]) f(i, *peers_[i]);
  }
  size_t peer_count() const { return by_key_.size(); }
  // One past the highest PeerId in use or free (for listing peers a slice at a time).
  PeerId peer_slots() const { return static_cast<PeerId>(peers_.size()); }

  // --- data path ---
  // One received UDP datagram. Data messages are decrypted in place.
  RxResult receive(const Env& env, const Endpoint& from, std::span<uint8_t> datagram, Outbox& out);
  // One inner packet for a peer: buf holds it at data::kHeaderLen, len bytes, with
  // buf.size() >= send_capacity(len). Without a usable session it is staged and a handshake
  // started.
  // With `defer`, this packet's sealing is appended there instead of done (header, padding,
  // counter and timers are done): the caller runs the jobs before the datagram leaves.
  // Staged packets and keepalives are always sealed at once.
  TxResult send(const Env& env, PeerId id, std::span<uint8_t> buf, size_t len, Outbox& out,
                std::vector<AeadJob>* defer = nullptr);
  // Whether send() of a len-byte packet to this peer would seal it now under its current
  // session without padding (a datagram leaves; nothing is staged): the case in which a caller
  // may let the deferred seal read the plaintext from elsewhere (AeadJob::src).
  bool sends_at_once(Instant now, PeerId id, size_t len) const;
  // For a batch opened on several threads: if `datagram` is a data message whose keypair and
  // counter would be accepted now, fills `job` to open it (nothing changes here) and returns
  // true. The result goes back through receive(..., &job.ok).
  bool prepare_open(std::span<uint8_t> datagram, Instant now, AeadJob& job) const;
  // `opened`: the result of the prepared AEAD open of this datagram (already decrypted in
  // place); nullptr opens here.
  RxResult receive(const Env& env, const Endpoint& from, std::span<uint8_t> datagram, Outbox& out,
                   const bool* opened);
  // Sends a keepalive now (or stages one and starts a handshake).
  void send_keepalive(const Env& env, PeerId id, Outbox& out);
  // Runs the timers that are due, at most kMaxTimerPeersPerTick peers' worth (a handshake
  // initiation costs two DH operations: a burst of 100 000 due peers must not stall the data
  // path). Returns true when more are due: call again soon. O(log peers) per fired peer; an
  // idle device costs nothing however many peers it has.
  static constexpr size_t kMaxTimerPeersPerTick = 256;
  bool tick(const Env& env, Outbox& out);
  // The earliest instant a peer may be due (may be early, never late).
  std::optional<Instant> next_deadline() const;
  struct TimerStats {
    size_t scheduled_peers = 0;  // peers with at least one deadline armed
    size_t heap_entries = 0;     // entries in the heap, stale ones included
  };
  TimerStats timer_stats() const;

  // --- load ---
  // The caller's count of queued handshake messages (kernel: under load at >= 1/8 of the queue).
  void note_handshake_backlog(Instant now, size_t queued);
  bool under_load(Instant now) const;

  // Handshake and cookie messages by outcome (`wgrouter show`, Prometheus). A rejected message
  // is also counted under its Drop reason; these say how the protocol is doing, not why.
  struct HandshakeCounters {
    uint64_t initiations_sent = 0, responses_sent = 0, cookie_replies_sent = 0;
    uint64_t initiations_received = 0, responses_received = 0, cookie_replies_received = 0;
    uint64_t rejected = 0;  // an initiation or response with a valid mac1 that failed after it
    uint64_t timeouts = 0;  // an initiation unanswered for Rekey-Timeout (retried or given up)
    uint64_t given_up = 0;  // attempts abandoned after Rekey-Attempt-Time
  };
  const HandshakeCounters& handshake_counters() const { return handshakes_; }

  const DropCounters& drops() const { return drops_; }
  // The gateway stages count into the same counters (one `wgrouter show` list).
  DropCounters& drop_counters() { return drops_; }
  // For the stages around the protocol (routing, source checks, device writes).
  void count_drop(Drop d) { drops_.add(d); }

 private:
  // Keeps the index table in step with handshakes and keypairs.
  [[nodiscard]] uint32_t new_index(const Env& env, PeerId id);
  void release_index(uint32_t index);
  auto releaser() {
    return [this](uint32_t i) { release_index(i); };
  }
  void release_handshake_index(Peer& p);
  void clear_handshake(Peer& p);
  void clear_sessions(Peer& p);
  void recompute_static_static(Peer& p);

  RxResult receive_handshake(const Env& env, const Endpoint& from, std::span<uint8_t> msg, Outbox& out);
  // Under load without a valid mac2: a cookie reply if this source's or the device's budget
  // allows, else nothing.
  RxResult answer_under_load(const Env& env, const Endpoint& from, std::span<uint8_t> msg, Outbox& out);
  // The addresses peers' endpoints are at (see kCookieRepliesPerSecond).
  void set_peer_endpoint(Peer& p, const Endpoint& ep);
  bool is_peer_source(const Endpoint& from) const;
  RxResult receive_initiation(const Env& env, const Endpoint& from, std::span<uint8_t> msg, Outbox& out);
  RxResult receive_response(const Env& env, const Endpoint& from, std::span<uint8_t> msg, Outbox& out);
  RxResult receive_cookie_reply(const Env& env, std::span<uint8_t> msg);
  RxResult receive_data(const Env& env, const Endpoint& from, std::span<uint8_t> msg, Outbox& out,
                        const bool* opened);
  void update_endpoint(PeerId id, Peer& p, const Endpoint& from, Outbox& out);

  // Initiations are rate limited to one per Rekey-Timeout per peer.
  void send_initiation(const Env& env, PeerId id, bool is_retry, Outbox& out);
  // Encrypts len plaintext bytes at buf[kHeaderLen] with the current keypair; false if none usable.
  bool encrypt(const Env& env, PeerId id, Peer& p, std::span<uint8_t> buf, size_t len, std::span<uint8_t>& datagram,
               std::vector<AeadJob>* defer = nullptr);
  void flush_staged(const Env& env, PeerId id, Outbox& out);
  void keep_key_fresh_after_send(const Env& env, PeerId id, Peer& p, Outbox& out);
  void keep_key_fresh_after_receive(const Env& env, PeerId id, Peer& p, Outbox& out);

  // Timer events (kernel timers.c names).
  Duration jitter(const Env& env);
  // Sets one of p's deadlines and files p in the heap if that is now its earliest.
  void arm(Peer& p, std::optional<Instant> PeerTimers::*timer, Instant at);
  void file_timer(Peer& p, Instant at);
  void clear_timers(Peer& p);
  void compact_timer_heap();
  void timers_data_sent(const Env& env, Peer& p);
  void timers_data_received(const Env& env, Peer& p);
  void timers_any_authenticated_packet_sent(Peer& p);
  void timers_any_authenticated_packet_received(Peer& p);
  void timers_any_authenticated_packet_traversal(const Env& env, Peer& p);
  void timers_handshake_initiated(const Env& env, Peer& p);
  void timers_handshake_complete(const Env& env, PeerId id, Peer& p, Outbox& out);
  void timers_session_derived(const Env& env, Peer& p);
  void tick_peer(const Env& env, PeerId id, Peer& p, Outbox& out);

  StaticIdentity identity_;
  CookieChecker cookie_checker_;
  RateLimiter rate_limiter_;
  std::vector<std::unique_ptr<Peer>> peers_;
  std::vector<PeerId> free_ids_;
  std::unordered_map<PublicKey, PeerId, PublicKeyHash> by_key_;
  std::unordered_map<uint32_t, PeerId> by_index_;
  struct SourceKey {
    Family family;
    std::array<uint8_t, 16> addr;
    friend bool operator==(const SourceKey&, const SourceKey&) = default;
  };
  struct SourceKeyHash {
    size_t operator()(const SourceKey& k) const noexcept;
  };
  static SourceKey source_key(const Endpoint& e);
  // Endpoint address of every peer that has one -> how many peers are there.
  std::unordered_map<SourceKey, uint32_t, SourceKeyHash> peer_sources_;
  RateLimiter peer_source_cookies_;  // under load: cookie replies per peer source
  TokenBucket cookie_budget_{kCookieRepliesPerSecond, kCookieReplyBurst};
  TokenBucket handshake_budget_{kHandshakesPerSecond, kHandshakeBurst};
  DropCounters drops_;
  HandshakeCounters handshakes_;
  uint32_t mtu_ = 1420;
  bool up_ = true;

  // Under-load estimate: caller-reported backlog, or many handshakes in one 125 ms slice.
  std::optional<Instant> last_under_load_;
  Instant slice_start_{};
  uint32_t slice_handshakes_ = 0;
  std::optional<Instant> last_collect_;

  // Min-heap of (instant, peer) with lazy deletion: an entry counts only while it matches the
  // peer's PeerTimers::scheduled. Deadlines moved later or cleared leave their entry; it fires,
  // finds nothing due and files the peer again at its real earliest deadline.
  struct TimerEntry {
    Instant at;
    PeerId id;
  };
  std::vector<TimerEntry> timer_heap_;
  size_t scheduled_peers_ = 0;
};

}  // namespace wg::core
