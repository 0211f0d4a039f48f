// core/autoconf.hpp — what a port tells an instance that configures itself: Router
// Advertisements (RFC 4861 §4.2 with the MTU and prefix options, RDNSS/DNSSL of RFC 8106) and a
// DHCPv6 server (RFC 8415) that hands out exactly one address, the instance's /128. No library
// does this inside a data plane (the DHCPv6 servers on Debian are daemons with their own sockets
// and lease files), and both formats are small, so they are written here.
//
// Parsers check what they read against the input's length and refuse anything malformed;
// builders write whole frames (virtio-net header + Ethernet + IPv6 + ...) into a caller's buffer
// of kFrameMax bytes and never allocate. The policy (when to answer, rate limits, which address)
// is core/gateway_autoconf.cpp's.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/packet.hpp"

namespace wg::core::autoconf {

// The largest frame built here: 8 RDNSS servers and 255 bytes of search domains fit easily.
inline constexpr size_t kFrameMax = 1280;
inline constexpr size_t kMaxDnsServers = 8;
inline constexpr size_t kMaxDomainBytes = 255;

// The [Interface] DNS line as RAs and DHCPv6 carry it, prepared once per configuration.
struct DnsInfo {
  std::vector<pkt::Addr16> servers;  // IPv6 only: neither RDNSS nor DHCPv6 option 23 carries IPv4
  std::vector<uint8_t> domains;      // search domains in DNS wire format, back to back
};
// Search domains in wire format; nullopt names the first one that cannot be encoded (a label
// empty or over 63 bytes, a name over 253, or all of them over kMaxDomainBytes together).
struct DomainError {
  std::string name;
};
std::optional<std::vector<uint8_t>> encode_domains(const std::vector<std::string>& names, DomainError* error = nullptr);

// --- Router Advertisements ---

struct RaInfo {
  pkt::Mac mac{};
  pkt::Addr16 src{};  // the port's link-local address
  uint32_t mtu = 0;
  uint16_t router_lifetime = 0;  // seconds; 0 says "not a default router"
  bool managed = false;          // M: addresses from DHCPv6
  bool other = false;            // O: other configuration (DNS) from DHCPv6
  std::optional<pkt::Addr16> prefix64;  // a /64 routed to the port: on-link, for SLAAC
  const DnsInfo* dns = nullptr;
  uint32_t dns_lifetime = 0;
};
// An RA to dst (ff02::1 or a solicitor) at dst_mac; returns the frame length.
size_t build_router_advert(uint8_t* out, const RaInfo& ra, const pkt::Mac& dst_mac, const uint8_t* dst);

struct RsView {
  std::optional<pkt::Mac> slla;  // the solicitor's link-layer address option
};
// nullopt unless a well-formed Router Solicitation (RFC 4861 §6.1.1): hop limit 255, code 0,
// good checksum, at least 8 bytes, options of non-zero length inside the message, and no
// link-layer address option from the unspecified address.
std::optional<RsView> parse_router_solicit(std::span<const uint8_t> ip, const pkt::IpInfo& info);

// --- DHCPv6 ---

inline constexpr uint16_t kClientPort = 546, kServerPort = 547;
inline constexpr uint8_t kSolicit = 1, kAdvertise = 2, kRequest = 3, kConfirm = 4, kRenew = 5, kRebind = 6,
                         kReply = 7, kRelease = 8, kDecline = 9, kInformationRequest = 11;
// All_DHCP_Relay_Agents_and_Servers.
inline constexpr pkt::Addr16 kAllDhcpServers{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2};
inline constexpr size_t kMaxDuid = 130;  // RFC 8415 §11.1: at most 128 bytes after the type

struct Dhcp6Message {
  uint8_t type = 0;
  std::array<uint8_t, 3> xid{};
  std::span<const uint8_t> client_id, server_id;  // empty when absent
  bool rapid_commit = false;
  bool ia_na = false;
  uint32_t iaid = 0;
  bool ia_pd = false;
  uint32_t pd_iaid = 0;
};
// The client messages a server answers, from a UDP payload; nullopt when malformed (shorter
// than the header, an option running past the end, a DUID empty or over kMaxDuid, an option
// that may appear once appearing twice, an IA shorter than its fixed part). Server and relay
// message types parse too: the caller decides what to answer.
std::optional<Dhcp6Message> parse_dhcp6(std::span<const uint8_t> payload);

// The server's DUID: DUID-LL (type 3, hardware type 1) of the port's MAC.
std::array<uint8_t, 10> server_duid(const pkt::Mac& mac);

inline constexpr uint16_t kStatusSuccess = 0, kStatusNoAddrsAvail = 2, kStatusNoPrefixAvail = 6;

struct Dhcp6Answer {
  uint8_t type = kReply;  // kAdvertise or kReply
  const Dhcp6Message* to = nullptr;
  std::span<const uint8_t> server_id;
  std::optional<pkt::Addr16> address;  // answers the IA_NA; none: NoAddrsAvail in it
  bool with_ia = true;                 // false for Information-request, Release, Decline, Confirm
  std::optional<uint16_t> status;      // a top-level Status Code option
  uint32_t preferred = 0, valid = 0;   // the address's lifetimes (T1, T2 at 0.5 and 0.8)
  const DnsInfo* dns = nullptr;
};
// The answer as a frame from src (the port's link-local address, port 547) to dst (the
// client's link-local address, port 546); 0 when it would not fit kFrameMax.
size_t build_dhcp6_frame(uint8_t* out, const pkt::Mac& src_mac, const pkt::Mac& dst_mac, const uint8_t* src,
                         const uint8_t* dst, const Dhcp6Answer& a);

// The UDP header and checksum of a datagram inside a parsed IPv6 packet: its payload, or
// nullopt when the header or checksum is wrong (a zero checksum is invalid over IPv6).
std::optional<std::span<const uint8_t>> udp6_payload(std::span<const uint8_t> ip, const pkt::IpInfo& info);

}  // namespace wg::core::autoconf
