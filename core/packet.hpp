// core/packet.hpp — the packet formats a gateway port sees, parsed and built in place:
// virtio-net headers, Ethernet, ARP, IPv4, IPv6 with extension headers, ICMP/ICMPv6 (echo,
// errors, neighbour discovery), TCP/UDP ports. Parsers never read past the span they are given
// and report what was wrong; builders write into caller-provided buffers and never allocate.
// Written here because no packaged library parses these headers without copying or allocating.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>

#include "core/buffer_layout.hpp"
#include "core/endpoint.hpp"

namespace wg::core::pkt {

using Mac = std::array<uint8_t, 6>;
using Addr16 = std::array<uint8_t, 16>;  // IPv4 in the first 4 bytes

inline constexpr uint16_t kEtherIpv4 = 0x0800;
inline constexpr uint16_t kEtherArp = 0x0806;
inline constexpr uint16_t kEtherIpv6 = 0x86dd;
using core::kEthLen;  // the header sizes live with the buffer layout
using core::kFrameHeader;
using core::kVnetLen;

inline constexpr uint8_t kProtoIcmp = 1;
inline constexpr uint8_t kProtoTcp = 6;
inline constexpr uint8_t kProtoUdp = 17;
inline constexpr uint8_t kProtoIcmp6 = 58;
inline constexpr uint8_t kProtoNone6 = 59;

// ICMPv6 types (RFC 4443, 4861).
inline constexpr uint8_t kIcmp6DestUnreach = 1, kIcmp6TooBig = 2, kIcmp6TimeExceeded = 3, kIcmp6ParamProblem = 4,
                         kIcmp6EchoRequest = 128, kIcmp6EchoReply = 129, kNdRouterSolicit = 133,
                         kNdRouterAdvert = 134, kNdNeighborSolicit = 135, kNdNeighborAdvert = 136,
                         kNdRedirect = 137;
// ICMPv4 types (RFC 792).
inline constexpr uint8_t kIcmp4EchoReply = 0, kIcmp4DestUnreach = 3, kIcmp4EchoRequest = 8, kIcmp4TimeExceeded = 11,
                         kIcmp4ParamProblem = 12;

inline uint16_t load16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
inline uint32_t load32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}
inline void store16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void store32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (24 - 8 * i));
}

// --- checksums (RFC 1071) ---

// Ones' complement sum of bytes, not folded, added to `sum`.
uint32_t sum_bytes(const uint8_t* p, size_t n, uint32_t sum = 0);
uint16_t fold(uint32_t sum);  // folded and complemented: the value written to the header
// The pseudo-header sum for a TCP/UDP/ICMPv6 checksum.
uint32_t pseudo_sum(Family f, const uint8_t* src, const uint8_t* dst, uint8_t proto, uint32_t len);
// Incremental update of a checksum field when a 16-bit word changes from old to now (RFC 1624).
uint16_t update_checksum(uint16_t check, uint16_t old_word, uint16_t new_word);

// --- virtio-net header (PACKET_VNET_HDR, IFF_VNET_HDR) ---

inline constexpr uint8_t kVnetNeedsCsum = 1;
inline constexpr uint8_t kGsoNone = 0, kGsoTcpV4 = 1, kGsoUdp = 3, kGsoTcpV6 = 4, kGsoUdpL4 = 5, kGsoEcn = 0x80;

struct VnetHeader {
  uint8_t flags = 0;
  uint8_t gso_type = 0;
  uint16_t hdr_len = 0;
  uint16_t gso_size = 0;
  uint16_t csum_start = 0;
  uint16_t csum_offset = 0;
};
// Little-endian fields (the host order of every Linux target this builds for).
VnetHeader read_vnet(const uint8_t* p);
void write_vnet_none(uint8_t* p);  // all zero: a complete frame, checksums done
void write_vnet(uint8_t* p, const VnetHeader& h);

// --- Ethernet ---

struct EthView {
  Mac dst, src;
  uint16_t type = 0;
  std::span<uint8_t> payload;
};
std::optional<EthView> parse_eth(std::span<uint8_t> frame);  // nullopt: short, or VLAN-tagged
void write_eth(uint8_t* p, const Mac& dst, const Mac& src, uint16_t type);
inline bool is_multicast(const Mac& m) { return m[0] & 1; }
inline constexpr Mac kBroadcast{0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

// --- IP ---

enum class IpError : uint8_t { None, Short, Version, HeaderLength, TotalLength, Checksum, ExtHeaders };

// What routing and policy need from an IPv4/IPv6 packet. Pointers point into the packet.
struct IpInfo {
  Family family = Family::None;
  const uint8_t* src = nullptr;
  const uint8_t* dst = nullptr;
  size_t len = 0;         // IP total length (the span may be longer: Ethernet padding)
  size_t l4 = 0;          // offset of the transport header; 0 when not present (later fragment)
  uint8_t proto = 0;      // transport protocol after IPv6 extension headers
  uint8_t ttl = 0;        // TTL / hop limit
  bool fragment = false;  // any fragment (first or later)
  bool dont_fragment = false;  // IPv4 DF; always true for IPv6 (routers never fragment it)
  // Transport fields when the header is present in full (TCP/UDP ports, ICMP type/code).
  bool has_ports = false;
  uint16_t sport = 0, dport = 0;
  uint8_t tcp_flags = 0;
  bool has_icmp = false;
  uint8_t icmp_type = 0, icmp_code = 0;
};

inline constexpr uint8_t kTcpFin = 0x01, kTcpSyn = 0x02, kTcpRst = 0x04, kTcpAck = 0x10;

// Validates the header(s) (IPv4 header checksum, lengths, an IPv6 extension chain of at most
// eight headers) and fills `out`.
IpError parse_ip(std::span<const uint8_t> pkt, IpInfo& out);

// Decrements TTL / hop limit in place (IPv4 checksum updated incrementally).
void decrement_ttl(uint8_t* ip, Family f);

// A fixed IPv6 header (traffic class and flow label zero) of a packet with `payload` bytes after it.
void write_ipv6_header(uint8_t* p, size_t payload, uint8_t next, uint8_t hops, const uint8_t* src, const uint8_t* dst);

bool is_link_local6(const uint8_t* a);  // fe80::/10
bool is_multicast6(const uint8_t* a);   // ff00::/8
bool is_unspecified6(const uint8_t* a);

// --- ICMP (built into `out`, which must hold kIcmpErrorMax bytes) ---

inline constexpr size_t kIcmp6ErrorMax = 1280;  // RFC 4443: as much as fits the minimum MTU
inline constexpr size_t kIcmp4ErrorMax = 576;   // RFC 1812 4.3.2.3
inline constexpr size_t kIcmpErrorMax = kIcmp6ErrorMax;

// An ICMP(v6) error about `orig` (an IP packet) from `src` back to orig's source. `param` is
// the MTU for Packet Too Big / Fragmentation Needed, else 0. Returns the packet's length, or 0
// when orig must not get an error (RFC 4443 2.4 e / RFC 1812 4.3.2.7: errors, multicast,
// unspecified sources, and for IPv4 later fragments; IPv6 ones do get errors, so a Packet Too
// Big always reaches its sender).
size_t build_icmp_error(uint8_t* out, Family f, const uint8_t* src, std::span<const uint8_t> orig, uint8_t type,
                        uint8_t code, uint32_t param);

// Turns an echo request (already validated by parse_ip, has_icmp) into its reply in place,
// from `src` (our address). Returns false when it is not an echo request.
bool echo_to_reply(std::span<uint8_t> ip, const IpInfo& info, const uint8_t* src);

// Verifies an ICMPv6 message's checksum.
bool icmp6_checksum_ok(std::span<const uint8_t> ip, const IpInfo& info);

// --- neighbour discovery (RFC 4861) ---

struct NdView {
  uint8_t type = 0;  // NS or NA
  Addr16 target{};
  std::optional<Mac> lladdr;  // SLLA option of NS, TLLA option of NA
  bool solicited = false, override_flag = false, router = false;  // NA flags
};
// nullopt unless a well-formed NS/NA: hop limit 255, code 0, good checksum, valid options,
// target not multicast, NS from :: goes to a solicited-node address and has no SLLA.
std::optional<NdView> parse_nd(std::span<const uint8_t> ip, const IpInfo& info);

void solicited_node(const uint8_t* addr, uint8_t* out16);  // ff02::1:ffXX:XXXX
Mac multicast_mac6(const uint8_t* group);                   // 33:33:xx:xx:xx:xx

// Whole frames (vnet header + Ethernet + IPv6 + ICMPv6). Return the frame length.
inline constexpr size_t kNdFrameMax = kFrameHeader + 40 + 32;
size_t build_neighbor_advert(uint8_t* out, const Mac& src_mac, const Mac& dst_mac, const uint8_t* src,
                             const uint8_t* dst, const uint8_t* target, bool solicited, bool router);
size_t build_neighbor_solicit(uint8_t* out, const Mac& src_mac, const uint8_t* src, const uint8_t* target);

// --- ARP (RFC 826, Ethernet + IPv4 only) ---

struct ArpView {
  uint16_t op = 0;  // 1 request, 2 reply
  Mac sender_mac{};
  std::array<uint8_t, 4> sender_ip{}, target_ip{};
};
std::optional<ArpView> parse_arp(std::span<const uint8_t> payload);
inline constexpr size_t kArpFrameMax = kFrameHeader + 28;
size_t build_arp(uint8_t* out, uint16_t op, const Mac& src_mac, const uint8_t* src_ip, const Mac& dst_mac,
                 const uint8_t* dst_ip);

// --- offloads on frames read with a virtio-net header ---

// Completes a checksum the sender left to the device (VIRTIO_NET_HDR_F_NEEDS_CSUM). `ip` is
// the packet after the Ethernet header; csum_start counts from the Ethernet header.
bool complete_checksum(std::span<uint8_t> ip, const VnetHeader& h);

}  // namespace wg::core::pkt

namespace wg::core::pkt {

// --- segmentation of GSO super-packets (TCP over IPv4/IPv6, UDP_L4) ---

// Number of segments a super-packet splits into; 0 when it cannot be split (unknown type,
// transport header missing or not matching gso_type, gso_size 0).
size_t gso_segments(std::span<const uint8_t> ip, const IpInfo& info, uint8_t gso_type, uint16_t gso_size);
// Writes segment `index` (headers copied and fixed: lengths, IPv4 ID and checksum, TCP sequence
// and flags, transport checksum) to out; returns its length, 0 if index is out of range or
// cap too small.
size_t gso_segment(std::span<const uint8_t> ip, const IpInfo& info, uint8_t gso_type, uint16_t gso_size,
                   size_t index, uint8_t* out, size_t cap);
// The same segment without its payload: writes only the headers (fixed as above, the transport
// checksum taken over the payload where it lies) and points `body` at the payload inside `ip`;
// returns the segment's whole length (headers + body), 0 as above. cap limits that length.
size_t gso_segment_header(std::span<const uint8_t> ip, const IpInfo& info, uint8_t gso_type, uint16_t gso_size,
                          size_t index, uint8_t* out, size_t cap, std::span<const uint8_t>& body);

}  // namespace wg::core::pkt

namespace wg::core::pkt {

// --- IPv4 fragmentation (RFC 791, RFC 1812 4.2.2.7) for packets without DF ---

// Fragments needed to send `ip` (a parsed IPv4 packet without DF) over `mtu`; 0 when it
// cannot be fragmented here (IP options present, or an MTU too small for 8 bytes of data).
size_t ipv4_fragments(std::span<const uint8_t> ip, const IpInfo& info, uint32_t mtu);
// Writes fragment `index` to out (header copied, offset/MF/length/checksum fixed); returns its
// length, 0 when out of range or cap is too small.
size_t ipv4_fragment(std::span<const uint8_t> ip, const IpInfo& info, uint32_t mtu, size_t index, uint8_t* out,
                     size_t cap);

}  // namespace wg::core::pkt
