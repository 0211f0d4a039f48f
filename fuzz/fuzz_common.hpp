// fuzz/fuzz_common.hpp — the world every fuzz target and make_corpus share: a deterministic
// established Pair with a rekey in flight, input shaping (forced header, valid receiver index,
// valid mac1, under load) and the invariants checked after every Device::receive().
//
// The world is rebuilt only when an input may have changed protocol state ("dirty"), so each
// input runs against the same pristine devices and a crash reproduces from the input alone.
// make_corpus builds the same world from the same seed, so its seeds are valid messages here.
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <span>
#include <vector>

#include "core/cookie.hpp"
#include "core/device.hpp"
#include "core/harness.hpp"
#include "core/messages.hpp"
#include "aead_choice.hpp"
#include "crypto/blake2s.hpp"

namespace wg::fuzzing {

using namespace wg::core;
using wg::testing::Datagram;
using wg::testing::Pair;
using wg::testing::fix_mac1;

inline constexpr uint64_t kWorldSeed = 0x77675f66757a7aULL;
inline constexpr int kA = 0;  // the initiator: receives responses and cookie replies
inline constexpr int kB = 1;  // the responder: receives initiations and data

using Bytes = std::vector<uint8_t>;

[[noreturn]] inline void fail(const char* what) {
  std::fprintf(stderr, "fuzz invariant violated: %s\n", what);
  std::fflush(stderr);
  __builtin_trap();
}
inline void check(bool ok, const char* what) {
  if (!ok) fail(what);
}

// The pristine state:
//   1. a and b complete a handshake (i1, r1) and a's first data packet (d0) arrives;
//   2. 121 s later a sends d1 (delivered), and because its session is past Rekey-After-Time
//      a new initiation i3, which is still in flight: a holds a CreatedInitiation handshake
//      and b has not seen i3.
// So b has a current session, a has a session and a handshake, and every parser path has
// something real to look up.
struct World {
  std::unique_ptr<Pair> pr;
  Bytes i1, r1, d0, d1, i3;
  bool dirty = false;

  Device& dev(int at) { return pr->dev[at]; }
  Peer& peer(int at) { return pr->p(at); }
  const Endpoint& addr(int at) const { return pr->addr[at]; }
};

inline const Bytes* last_sent(const Pair& pr, int from, MessageType t) {
  for (size_t k = pr.sent_log.size(); k-- > 0;) {
    const Datagram& d = pr.sent_log[k];
    if (d.to == 1 - from && !d.bytes.empty() && d.bytes[0] == static_cast<uint8_t>(t)) return &d.bytes;
  }
  return nullptr;
}

inline std::unique_ptr<World> make_world() {
  auto w = std::make_unique<World>();
  w->pr = std::make_unique<Pair>(kWorldSeed);
  Pair& pr = *w->pr;
  check(pr.handshake(), "world: handshake failed");
  w->i1 = *last_sent(pr, kA, MessageType::Initiation);
  w->r1 = *last_sent(pr, kB, MessageType::Response);
  w->d0 = *last_sent(pr, kA, MessageType::Data);

  pr.clock.advance(std::chrono::seconds(121));
  pr.link = [](const Datagram& d) { return d.bytes[0] != static_cast<uint8_t>(MessageType::Initiation); };
  pr.send_ip(kA, 80, 0x11);
  pr.pump();
  pr.link = [](const Datagram&) { return true; };
  w->d1 = *last_sent(pr, kA, MessageType::Data);
  const Bytes* i3 = last_sent(pr, kA, MessageType::Initiation);
  check(i3 && *i3 != w->i1, "world: no rekey initiation");
  w->i3 = *i3;
  check(pr.p(kA).handshake.state == HandshakeState::CreatedInitiation, "world: a has no handshake in flight");
  check(pr.p(kB).keypairs.current != nullptr, "world: b has no session");
  pr.delivered.clear();
  pr.sent_log.clear();
  for (auto& o : pr.out) o.clear();
  return w;
}

// The world for the next input: the previous one unless that input may have changed it.
inline World& world() {
  static std::unique_ptr<World> w;
  static unsigned uses = 0;
  if (!w || w->dirty || ++uses > 100000) {
    w = make_world();
    uses = 0;
  }
  return *w;
}

// Every index device `at` would look up: its handshake's and its sessions'.
inline std::vector<uint32_t> local_indices(World& w, int at) {
  std::vector<uint32_t> v;
  Peer& p = w.peer(at);
  if (p.handshake.has_local_index) v.push_back(p.handshake.local_index);
  for (const Keypair* k : {p.keypairs.current.get(), p.keypairs.previous.get(), p.keypairs.next.get()})
    if (k) v.push_back(k->local_index);
  return v;
}

// Control bits, taken from the input's byte 0 before the type overwrites it. Real messages
// have byte 0 = 1..4, so a seed is delivered as it is.
inline constexpr uint8_t kKeepReserved = 0x80;  // keep the input's bytes 1..3 (else zero them)
inline constexpr uint8_t kFixIndex = 0x40;      // receiver index := a valid one, chosen by bits 4-5
inline constexpr uint8_t kFixMac1 = 0x08;       // handshake messages: recompute mac1
inline constexpr uint8_t kUnderLoad = 0x04;     // handshake messages: the device is under load

// The input as a message of type t for device `at`; returns the control byte.
inline uint8_t shape(World& w, int at, MessageType t, std::span<const uint8_t> in, Bytes& msg) {
  msg.assign(in.begin(), in.end());
  if (msg.empty()) return 0;
  const uint8_t ctrl = msg[0];
  msg[0] = static_cast<uint8_t>(t);
  if (!(ctrl & kKeepReserved))
    for (size_t i = 1; i < 4 && i < msg.size(); ++i) msg[i] = 0;

  size_t receiver_off = 0;
  if (t == MessageType::Response) receiver_off = response::kReceiver;
  if (t == MessageType::CookieReply) receiver_off = cookie_reply::kReceiver;
  if (t == MessageType::Data) receiver_off = data::kReceiver;
  if ((ctrl & kFixIndex) && receiver_off && msg.size() >= receiver_off + 4) {
    const auto idx = local_indices(w, at);
    if (!idx.empty()) store_le32(msg.data() + receiver_off, idx[((ctrl >> 4) & 3) % idx.size()]);
  }
  const bool handshake = t == MessageType::Initiation || t == MessageType::Response;
  const size_t exact = t == MessageType::Initiation ? initiation::kLen : response::kLen;
  if (handshake && (ctrl & kFixMac1) && msg.size() == exact) fix_mac1(msg, w.dev(at).identity().public_key);
  if (handshake && (ctrl & kUnderLoad)) {
    w.dev(at).note_handshake_backlog(w.pr->clock.now, kUnderLoadQueueLen);
    w.dirty = true;
  }
  return ctrl;
}

// What the framing rules of PROTOCOL.md §1.2 alone say about msg: a reason, or None.
inline Drop framing_verdict(std::span<const uint8_t> msg) {
  if (msg.size() < 4) return Drop::TooShort;
  switch (load_le32(msg.data())) {
    case 1: return msg.size() == initiation::kLen ? Drop::None : Drop::BadLength;
    case 2: return msg.size() == response::kLen ? Drop::None : Drop::BadLength;
    case 3: return msg.size() == cookie_reply::kLen ? Drop::None : Drop::BadLength;
    case 4: return msg.size() >= data::kMinLen ? Drop::None : Drop::TooShort;
    default: return Drop::UnknownType;
  }
}

// Drops after which the devices are exactly as before (nothing but a counter moved).
inline bool leaves_state_alone(uint32_t header, const RxResult& r) {
  if (r.kind != RxKind::Dropped) return false;
  switch (r.drop) {
    case Drop::TooShort:
    case Drop::UnknownType:
    case Drop::BadLength:
    case Drop::BadMac1:
    case Drop::DataDecrypt:
    case Drop::Replayed:
    case Drop::CookieDecrypt:
    case Drop::CookieUnexpected:
      return true;
    case Drop::UnknownIndex:  // a response's index is looked up after mac1 (load accounting)
      return header != header_of(MessageType::Response);
    default:
      return false;
  }
}

inline uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

// Device::receive on device `at` with every invariant checked; marks the world dirty when the
// input may have changed it.
inline RxResult receive_checked(World& w, int at, std::span<uint8_t> msg, const Endpoint& from) {
  Device& dev = w.dev(at);
  Outbox& out = w.pr->out[at];
  out.clear();
  const Drop framing = framing_verdict(msg);
  const uint32_t header = msg.size() >= 4 ? load_le32(msg.data()) : 0;
  const DropCounters before = dev.drops();
  const uint8_t* lo = msg.data();
  const uint8_t* hi = msg.data() + msg.size();

  const RxResult r = dev.receive(w.pr->env(), from, msg, out);
  const DropCounters& after = dev.drops();
  if (!leaves_state_alone(header, r)) w.dirty = true;

  if (r.kind == RxKind::Dropped) {
    check(r.drop != Drop::None, "Dropped result with Drop::None");
    check(after.total() == before.total() + 1, "Dropped result did not add exactly one to the drop total");
    check(after[r.drop] == before[r.drop] + 1, "Dropped result did not count its own reason");
  } else {
    check(r.drop == Drop::None, "accepted result carries a drop reason");
    check(after.total() == before.total(), "accepted result changed the drop counters");
    check(r.peer == w.pr->peer[at], "accepted result names a peer other than the only one");
  }
  if (framing != Drop::None)
    check(r.kind == RxKind::Dropped && r.drop == framing, "framing verdict differs from PROTOCOL.md 1.2");
  else
    check(r.drop != Drop::TooShort && r.drop != Drop::BadLength && r.drop != Drop::UnknownType,
          "well-framed message dropped for framing");

  switch (r.kind) {
    case RxKind::Data: {
      check(header == header_of(MessageType::Data), "Data result from a non-data message");
      check(!r.plaintext.empty(), "Data result with empty plaintext");
      check(r.plaintext.data() >= lo + data::kHeaderLen && r.plaintext.data() + r.plaintext.size() <= hi - kTagLen,
            "plaintext outside the datagram's payload");
      const uint8_t* ip = r.plaintext.data();
      const unsigned version = ip[0] >> 4;
      check(version == 4 || version == 6, "delivered plaintext is not IPv4/IPv6");
      if (version == 4)
        check(r.plaintext.size() >= 20 && r.plaintext.size() == be16(ip + 2), "IPv4 plaintext length mismatch");
      else
        check(r.plaintext.size() >= 40 && r.plaintext.size() == 40u + be16(ip + 4), "IPv6 plaintext length mismatch");
      break;
    }
    case RxKind::Keepalive:
      check(header == header_of(MessageType::Data) && msg.size() == data::kMinLen, "Keepalive result from a non-keepalive");
      check(r.plaintext.empty(), "Keepalive result with plaintext");
      break;
    case RxKind::Handshake:
      check(header == header_of(MessageType::Initiation) || header == header_of(MessageType::Response),
            "Handshake result from a non-handshake message");
      check(r.plaintext.empty(), "Handshake result with plaintext");
      if (header == header_of(MessageType::Initiation)) {
        bool responded = false;
        for (size_t k = 0; k < out.size(); ++k)
          responded |= out[k].bytes.size() == response::kLen && out[k].bytes[0] == 2;
        check(responded, "accepted initiation without a response");
      }
      break;
    case RxKind::CookieReply:
      check(header == header_of(MessageType::CookieReply), "CookieReply result from another type");
      break;
    case RxKind::Dropped:
      check(r.plaintext.empty(), "Dropped result with plaintext");
      if (r.drop == Drop::CookieSent) {
        bool replied = false;
        for (size_t k = 0; k < out.size(); ++k)
          replied |= out[k].bytes.size() == cookie_reply::kLen && out[k].bytes[0] == 3;
        check(replied, "CookieSent without a cookie reply");
      }
      break;
  }
  for (size_t k = 0; k < out.size(); ++k) {
    const auto item = out[k];
    check(item.bytes.size() >= data::kMinLen, "outbox item shorter than any message");
    check(item.to.valid(), "outbox item without a destination");
  }
  out.clear();
  return r;
}

}  // namespace wg::fuzzing
