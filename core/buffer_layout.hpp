// core/buffer_layout.hpp — where a packet sits inside the buffers the I/O backends own, and
// why every offset is what it is. One place: the backends read at these offsets, the Device
// and the Gateway write headers in front of a packet and padding + tag behind it in place.
//
//   TUN read   [ .. kIngressHeadroom - kVnetLen | vnet hdr | IP packet ....... | tail ]
//   port read  [ .. kPortReadOffset | vnet hdr | Ethernet | IP packet ......... | tail ]
//                                                        ^ kIngressHeadroom in both
//   UDP read   [ kRxHeadroom | WireGuard datagram (GRO: several back to back) | ...    ]
//
// Towards the tunnel the data header (16 bytes) goes in front of the IP packet and the
// padding and tag behind it; towards a port the virtio-net + Ethernet header (24 bytes) goes
// in front; towards a TUN with a virtio-net header, that header (10 bytes).
#pragma once
#include <cstddef>

#include "core/messages.hpp"

namespace wg::core {

inline constexpr size_t kVnetLen = 10;  // struct virtio_net_hdr (no num_buffers)
inline constexpr size_t kEthLen = 14;
inline constexpr size_t kFrameHeader = kVnetLen + kEthLen;  // what a port frame carries before IP

// Every IP packet handed to the data path has this many writable bytes in front.
inline constexpr size_t kIngressHeadroom = 32;
// And at least this many behind its buffer's read limit: padding to 16 and the tag.
inline constexpr size_t kTailroom = 64;
// One backend buffer: the largest UDP payload or TUN read, plus the room above.
inline constexpr size_t kBufferSize = 65536 + 128;

// Where the backends start a read so the IP packet lands at kIngressHeadroom.
inline constexpr size_t kPortReadOffset = kIngressHeadroom - kFrameHeader;
inline constexpr size_t tun_read_offset(bool vnet) { return kIngressHeadroom - (vnet ? kVnetLen : 0); }
// The most a read may take so the tail room stays free.
inline constexpr size_t kTunReadMax = kBufferSize - kIngressHeadroom - kTailroom;
inline constexpr size_t kPortReadMax = kBufferSize - kPortReadOffset - kTailroom;

// Writable bytes the backends leave in front of the first datagram of a UDP receive. The
// second and later datagrams of a UDP_GRO receive have kRxMinHeadroom: the previous datagram's
// tag, dead once that datagram is decrypted.
inline constexpr size_t kRxHeadroom = 48;
inline constexpr size_t kRxMinHeadroom = kTagLen;

static_assert(kIngressHeadroom >= data::kHeaderLen, "the data header goes in front in place");
static_assert(kIngressHeadroom >= kFrameHeader, "a virtio-net + Ethernet header goes in front in place");
static_assert(kTailroom >= 15 + kTagLen, "padding to 16 and the tag go behind in place");
static_assert(kRxMinHeadroom + data::kHeaderLen >= kIngressHeadroom,
              "a decrypted GRO segment has kIngressHeadroom in front: the previous tag and its own header");
static_assert(kRxHeadroom + data::kHeaderLen >= kIngressHeadroom);
static_assert(kBufferSize >= kIngressHeadroom + 65535 + kTailroom, "a 64 KiB super-packet fits");
static_assert(kIngressHeadroom % 8 == 0 && kRxHeadroom % 8 == 0, "headers stay aligned");

}  // namespace wg::core
