// core/drop.hpp — why a packet was not delivered. Every drop has exactly one reason and one
// counter; `wgrouter show` prints them by these names.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace wg::core {

#define WG_DROP_REASONS(X)                                                                 \
  X(None, "none")                                                                          \
  /* framing */                                                                            \
  X(TooShort, "too_short")               /* shorter than its message type allows */        \
  X(UnknownType, "unknown_type")         /* type not 1..4, or reserved bytes not zero */   \
  X(BadLength, "bad_length")             /* handshake/cookie message of the wrong size */  \
  /* handshake and cookie messages */                                                      \
  X(NoPrivateKey, "no_private_key")      /* the interface has no key yet */                \
  X(BadMac1, "bad_mac1")                                                                   \
  X(CookieSent, "under_load_cookie_sent") /* under load without a valid mac2 */            \
  X(RateLimited, "handshake_rate_limited") /* under load, source over its rate */          \
  X(CookieBudget, "under_load_no_cookie") /* under load, no mac2, cookie replies spent */  \
  X(HandshakeBudget, "handshake_budget") /* under load, this second's handshakes spent */ \
  X(HandshakeDecrypt, "handshake_decrypt") /* a handshake AEAD or DH failed */             \
  X(UnknownPeer, "unknown_peer")         /* initiation from a key we do not know */        \
  X(TimestampReplay, "timestamp_replay") /* initiation not newer than the last */          \
  X(InitiationFlood, "initiation_flood") /* less than 20 ms since the last one */          \
  X(UnknownIndex, "unknown_index")       /* receiver index not ours */                     \
  X(HandshakeState, "handshake_state")   /* response with no initiation outstanding */     \
  X(CookieUnexpected, "cookie_unexpected") /* cookie reply with no mac1 outstanding */     \
  X(CookieDecrypt, "cookie_decrypt")                                                       \
  /* transport data */                                                                     \
  X(KeyExpired, "key_expired")           /* receiving key invalid, too old or used up */   \
  X(Replayed, "replayed_counter")                                                          \
  X(DataDecrypt, "data_decrypt")                                                           \
  X(BadInnerPacket, "bad_inner_packet")  /* plaintext is not an IPv4/IPv6 packet */        \
  X(InnerLength, "inner_length")         /* IP length larger than the plaintext */         \
  /* sending */                                                                            \
  X(NoEndpoint, "no_endpoint")                                                             \
  X(NoPeer, "no_peer")                                                                     \
  X(StagedOverflow, "staged_overflow")   /* oldest staged packet pushed out */             \
  X(NoBufferRoom, "no_buffer_room")      /* caller's buffer too small to encrypt into */ \
  X(SealFailed, "seal_failed")           /* a deferred seal failed: payload zeroed */     \
  /* routing around the protocol (io/ and the router stages) */                           \
  X(NoRoute, "no_route")                 /* no peer (or port) for the destination */       \
  X(SourceNotAllowed, "source_not_allowed") /* inner source not in the peer's AllowedIPs */ \
  X(LinkDown, "link_down")               /* interface administratively down */             \
  X(TunWrite, "tun_write_failed")                                                          \
  X(UdpSend, "udp_send_failed")                                                            \
  /* gateway: routing and policy between tunnel, TUN and ports (core/gateway) */           \
  X(SpoofedSource, "spoofed_source")     /* from a port, source not in its AllowedSource */ \
  X(EastWest, "east_west")               /* port to port: never forwarded */               \
  X(HostDenied, "host_denied")           /* port to the gateway's own host, not allowed */ \
  X(InboundDenied, "inbound_denied")     /* new inbound flow not in the port's AllowInbound */ \
  X(Unreachable, "unreachable")          /* destination in an Unreachable prefix */        \
  X(TtlExceeded, "ttl_exceeded")         /* TTL / hop limit would reach zero */            \
  X(TooBig, "too_big")                   /* larger than the egress MTU */                  \
  X(BadFrame, "bad_frame")               /* malformed Ethernet/ARP/IP/ND from a port */   \
  X(NotForUs, "not_for_us")              /* frame or packet nobody here handles */         \
  X(NeighbourUnresolved, "neighbour_unresolved") /* no link-layer address for the next hop */ \
  X(AutoconfLimited, "autoconf_rate_limited") /* RS or DHCPv6 over the port's answer rate */ \
  X(GsoUnsupported, "gso_unsupported")   /* a super-packet of a kind we cannot segment */  \
  X(PortWrite, "port_write_failed")

enum class Drop : uint8_t {
#define WG_X(name, text) name,
  WG_DROP_REASONS(WG_X)
#undef WG_X
};

inline constexpr size_t kDropReasonCount = 0
#define WG_X(name, text) +1
    WG_DROP_REASONS(WG_X)
#undef WG_X
    ;

inline constexpr std::string_view drop_name(Drop d) {
  constexpr std::string_view names[] = {
#define WG_X(name, text) text,
      WG_DROP_REASONS(WG_X)
#undef WG_X
  };
  return names[static_cast<size_t>(d)];
}

struct DropCounters {
  std::array<uint64_t, kDropReasonCount> count{};
  void add(Drop d) { ++count[static_cast<size_t>(d)]; }
  uint64_t operator[](Drop d) const { return count[static_cast<size_t>(d)]; }
  uint64_t total() const {
    uint64_t t = 0;
    for (size_t i = 1; i < count.size(); ++i) t += count[i];
    return t;
  }
};

}  // namespace wg::core
