// core/gateway.hpp — the router between the tunnel (peers), the TUN (the gateway's own host)
// and the ports (one public instance each). Pure like Device: packets in, packets out through
// GatewayOutput, time passed in, every drop counted with its reason.
//
// One longest-prefix-match table holds every destination: peers' AllowedIPs (cryptokey
// routing both ways), port Routes, Unreachable prefixes and the host's own addresses. Lookup
// costs at most one trie walk per family (bounded by the address length, not the table size).
//
//   from tunnel (peer P): source must route back to P ► dst: port (inbound policy) |
//                         unreachable (ICMP) | else the TUN
//   from TUN:             dst: peer (encrypt) | port (inbound policy) | unreachable (ICMP) |
//                         nothing (ICMP, no_route)
//   from port X:          L2 (ARP, ND, echo to our own addresses) ► anti-spoof (AllowedSource)
//                         ► dst: peer | other port (east_west) | host (host_denied unless
//                         AllowHost) | unreachable (ICMP) | nothing (ICMP, no_route)
//
// Buffers: an IP packet handed in sits at buf[off, off + len) with off >= kIngressHeadroom,
// so a virtio-net + Ethernet header or the WireGuard data header can be written in front of it
// in place, with room after it for padding and the tag (core/buffer_layout.hpp).
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/autoconf.hpp"
#include "core/buffer_layout.hpp"
#include "core/drop.hpp"
#include "core/env.hpp"
#include "core/flow_table.hpp"
#include "core/messages.hpp"
#include "core/neighbours.hpp"
#include "core/packet.hpp"
#include "core/peer.hpp"
#include "core/prefix_table.hpp"
#include "core/ratelimiter.hpp"

namespace wg::core {

// An ICMP error the gateway sends, as type and code per family.
struct IcmpKind {
  uint8_t type6, code6, type4, code4;
};

struct RouteTarget {
  enum class Kind : uint8_t { Peer, Port, Unreachable, Host };
  Kind kind = Kind::Peer;
  uint32_t id = 0;  // PeerId or port index
  static RouteTarget peer(PeerId p) { return {Kind::Peer, p}; }
  static RouteTarget port(uint32_t p) { return {Kind::Port, p}; }
  friend bool operator==(const RouteTarget&, const RouteTarget&) = default;
};
struct RouteTargetHash {
  size_t operator()(const RouteTarget& t) const noexcept {
    return std::hash<uint64_t>{}(uint64_t{static_cast<uint8_t>(t.kind)} << 32 | t.id);
  }
};
using RouteTable = PrefixTable<RouteTarget, RouteTargetHash>;

struct HostAddress {
  Family family = Family::None;
  pkt::Addr16 addr{};
  uint8_t len = 0;
};

struct InboundRule {
  uint8_t proto = pkt::kProtoTcp;
  uint16_t first = 0, last = 0;
};

struct PortSpec {
  std::string name;
  bool tap = true;                   // tap or veth (informational here; io/ opens it)
  std::vector<HostAddress> addresses;  // our own, on this segment
  std::vector<Prefix> routes;
  std::vector<Prefix> allowed_source;  // anti-spoof
  std::vector<InboundRule> allow_inbound;  // empty: every new inbound flow
  uint32_t mtu = 1500;
  bool allow_host = false;           // may reach the gateway's own host through the TUN
  pkt::Mac mac{};                    // our MAC on the segment
  bool router_advertisements = false;  // RAs on a timer and for Router Solicitations
  bool dhcpv6 = false;                 // a DHCPv6 server for the instance's /128
};

struct PortStats {
  uint64_t rx_packets = 0, rx_bytes = 0;  // frames from the instance
  uint64_t tx_packets = 0, tx_bytes = 0;  // frames to the instance
  uint64_t reattached = 0;                // its device came back (a re-created veth)
  uint64_t rs_received = 0, ra_sent = 0;   // Router Solicitations answered or not; RAs sent
  uint64_t dhcpv6_received = 0, dhcpv6_sent = 0;
  DropCounters drops;
};

// A segment of a super-packet whose payload was not copied out (Gateway::split_from_tun): buf
// holds only its `header` bytes, the payload lies in the super-packet right behind `at`, where
// the header goes (over bytes of the previous segment) just before the seal reads the segment
// from there. `odd`: the segment's index is odd, so its header covers the tail of an even one
// (DataPlane seals even and odd segments in two rounds).
struct SealSource {
  uint8_t* at = nullptr;
  size_t header = 0;
  bool odd = false;
};

class GatewayOutput {
 public:
  virtual ~GatewayOutput() = default;
  // buf holds the IP packet at buf[data::kHeaderLen], len bytes, and room for padding + tag.
  // Returns why the packet could not be sent or queued (Drop::None when it was); on
  // Drop::NoEndpoint the packet is left as it was handed in (the gateway answers with ICMP).
  // With `from` (only when seals_from_source()), buf holds only the first from->header bytes of
  // the packet (see SealSource); when the seal cannot read the rest where it lies, the output
  // copies it into buf first (the room is there).
  virtual Drop to_tunnel(const Env& env, PeerId peer, std::span<uint8_t> buf, size_t len,
                         const SealSource* from = nullptr) = 0;
  // Whether to_tunnel takes segments with a SealSource (it defers seals to the end of the
  // batch, when the headers can be placed in the super-packet).
  virtual bool seals_from_source() const { return false; }
  // The largest packet to_tunnel takes whole (Packet Too Big, fragment and segment sizes): the
  // tunnel MTU, owned by whatever seals for the tunnel (core::Device), read when needed.
  virtual uint32_t tunnel_mtu() const = 0;
  // ip has kVnetLen writable bytes in front (every ingress leaves kIngressHeadroom), so the
  // output can put a virtio-net header there; it may also rewrite the packet's headers when it
  // joins segments (core/coalesce).
  virtual void to_tun(std::span<uint8_t> ip) = 0;
  virtual void to_port(uint32_t port, std::span<uint8_t> frame) = 0;  // virtio-net hdr + Ethernet
  // Sends everything queued; the gateway's scratch buffers are reused afterwards.
  virtual void flush() = 0;
};

struct GatewayCounters {
  uint64_t icmp_sent = 0;
  uint64_t icmp_rate_limited = 0;
  uint64_t neighbour_solicits = 0;
  uint64_t ports_removed = 0;  // taken out of the configuration (remove_port)
  // Packet bytes copied in user space: segments and fragments cut into scratch buffers, a
  // parked packet sent on. A TSO segment towards a peer is sealed from the super-packet instead
  // whenever the output takes a SealSource.
  uint64_t payload_copies = 0;
  uint64_t payload_copy_bytes = 0;
};

class Gateway {
 public:
  static constexpr size_t kScratchBuffers = 512;  // a 64 KiB super-packet takes ~47
  // Scratch buffers start at this size (an MTU up to ~1900); a larger tunnel or port MTU
  // grows them at configuration time (fewer of them then: a super-packet makes fewer segments).
  static constexpr size_t kScratchSize = 2048;
  static constexpr size_t kScratchBytesMax = size_t{4} << 20;
  static constexpr size_t kScratchBuffersMin = 64;
  static constexpr uint32_t kIcmpPerSecond = 1000;       // like Linux net.ipv4.icmp_msgs_per_sec
  static constexpr uint32_t kIcmpBurst = 50;
  // Per source of the offending packet (the ICMP's destination): a host pinging an address
  // without a peer gets every answer, a flood from one source cannot take the whole budget.
  static constexpr uint32_t kIcmpPerSourcePerSecond = 100;
  static constexpr uint32_t kIcmpPerSourceBurst = 20;
  static constexpr size_t kIcmpSourceBuckets = 256;  // hashed; sources sharing one share its budget

  // scratch_buffers: at most this many scratch buffers (tests and fuzzing take a few, so a
  // gateway is quick to build and running out of them mid-batch is common).
  Gateway(DropCounters& drops, uint64_t seed, size_t flow_capacity = 65536, size_t scratch_buffers = kScratchBuffers);

  // --- configuration (not while a batch is in flight) ---
  RouteTable& routes() { return routes_; }
  const RouteTable& routes() const { return routes_; }
  // The interface's own addresses: host routes to the TUN, and sources for ICMP errors.
  void set_host_addresses(const std::vector<HostAddress>& a);

  void add_unreachable(const Prefix& p);
  uint32_t add_port(PortSpec spec);  // returns its index; inserts its routes
  // Replaces a port's settings (routes, sources, rules, MTU, addresses; the MAC stays) between
  // two packets: a reload never stops traffic. Neighbours and flows are kept.
  void update_port(uint32_t p, PortSpec spec);
  // Removes a port for good: its routes, sources, neighbours and parked packet go; anything
  // still arriving from it is dropped (not_for_us), nothing is sent to it. Its index is never
  // handed out again (flows and I/O in flight keep naming the old port), find_port and
  // `wgrouter show` no longer see it; adding the name again gives a new index.
  void remove_port(uint32_t p);
  bool port_removed(uint32_t p) const { return ports_[p]->removed; }
  // The port's device went away (a deleted veth): frames towards it are dropped
  // (port_write_failed), frames still read from it not_for_us, and its neighbours forgotten
  // until reattach_port.
  void detach_port(uint32_t p);
  // The device is back under the same name (a new veth, a new instance behind it): its
  // neighbours are learned afresh; counted in PortStats::reattached.
  void reattach_port(uint32_t p);
  bool port_attached(uint32_t p) const { return !ports_[p]->detached; }
  // Replaces every Unreachable prefix.
  void set_unreachable(const std::vector<Prefix>& prefixes);
  // The DNS servers and search domains ports announce (RAs, DHCPv6): the [Interface] DNS line.
  void set_dns(autoconf::DnsInfo dns) { dns_ = std::move(dns); }
  std::optional<uint32_t> find_port(const std::string& name) const;
  // Sizes the scratch buffers for segments and fragments of up to mtu bytes (the tunnel's or a
  // port's MTU); they only grow. The MTU itself is read from GatewayOutput::tunnel_mtu.
  void reserve_for_mtu(uint32_t mtu);
  size_t scratch_size() const { return scratch_size_; }

  // --- data path ---
  void from_tunnel(const Env& env, PeerId peer, std::span<uint8_t> buf, size_t off, size_t len, GatewayOutput& out);
  // vnet: the TUN's virtio-net header when it has one (TSO super-packets are split here,
  // checksums left to the device completed), else nullptr.
  void from_tun(const Env& env, std::span<uint8_t> buf, size_t off, size_t len, const pkt::VnetHeader* vnet,
                GatewayOutput& out);
  // A frame (virtio-net header + Ethernet) at buf[off, off + len); off + kFrameHeader >= kIngressHeadroom.
  void from_port(const Env& env, uint32_t port, std::span<uint8_t> buf, size_t off, size_t len, GatewayOutput& out);
  // The output flushed: scratch buffers are free again.
  void flushed() { scratch_used_ = 0; }
  // Timers: unsolicited Router Advertisements (gateway_autoconf.cpp).
  void tick(const Env& env, GatewayOutput& out);

  // Router Advertisement timing (RFC 4861 §6.2.1, §10): the first kInitialRas at most 16 s
  // apart, then every 200-600 s; a router lifetime of three maximum intervals.
  static constexpr uint32_t kInitialRas = 3;
  static constexpr auto kInitialRaInterval = std::chrono::seconds(16);
  static constexpr auto kMinRaInterval = std::chrono::seconds(200);
  static constexpr auto kMaxRaInterval = std::chrono::seconds(600);
  static constexpr uint16_t kRouterLifetime = 1800;
  // Answers to Router Solicitations and DHCPv6 messages, per port.
  static constexpr uint32_t kAutoconfPerSecond = 10;
  static constexpr uint32_t kAutoconfBurst = 20;
  // The address a DHCPv6 client gets, in seconds (T1 and T2 at 0.5 and 0.8 of preferred).
  static constexpr uint32_t kDhcpPreferred = 3600, kDhcpValid = 7200;

  // --- state for `wgrouter show` ---
  size_t port_count() const { return ports_.size(); }
  const PortSpec& port_spec(uint32_t p) const { return ports_[p]->spec; }
  const PortStats& port_stats(uint32_t p) const { return ports_[p]->stats; }
  const std::vector<Neighbour>& neighbours(uint32_t p) const { return ports_[p]->neighbours.entries(); }
  const GatewayCounters& counters() const { return counters_; }
  uint64_t flow_evictions() const { return flows_.evictions(); }
  size_t flows_live(Instant now) const { return flows_.live(now); }

 private:
  struct Port {
    PortSpec spec;
    PrefixTable<uint8_t> allowed_source;
    NeighbourCache neighbours;  // and the packet parked until its next hop resolves
    PortStats stats;
    std::optional<pkt::Addr16> link_local;  // source of our ND messages
    std::optional<pkt::Addr16> global6;     // source of ICMPv6 errors towards the instance
    std::optional<std::array<uint8_t, 4>> v4;
    bool removed = false;
    bool detached = false;  // no device behind it right now
    // Autoconfiguration (gateway_autoconf.cpp).
    Instant next_ra{};       // the next unsolicited RA (the first goes at the first tick)
    uint32_t initial_ras = 0;
    TokenBucket autoconf_budget{kAutoconfPerSecond, kAutoconfBurst};  // RS and DHCPv6 answers
    std::optional<pkt::Addr16> prefix64;  // a /64 route: announced for SLAAC
    std::optional<pkt::Addr16> address6;  // the AllowedSource /128 that DHCPv6 hands out
    std::array<uint8_t, 10> duid{};
  };

  // Where a packet came from, for the ICMP error it may earn.
  struct Ingress {
    enum class Kind : uint8_t { Tunnel, Tun, Port } kind;
    uint32_t id = 0;  // peer or port
    pkt::Mac mac{};   // sender's MAC (ports)
  };

  void install_port(uint32_t id);  // routes, source table and derived addresses from spec
  void count(Drop d, const Ingress& in);
  void send_frame(uint32_t p, std::span<uint8_t> frame, GatewayOutput& out);
  void count_port(Drop d, uint32_t port);
  void forward_to_port(const Env& env, uint32_t p, std::span<uint8_t> buf, size_t off, const pkt::IpInfo& info,
                       const Ingress& in, GatewayOutput& out);
  void forward_from_port(const Env& env, uint32_t p, std::span<uint8_t> buf, size_t off, const pkt::IpInfo& info,
                         const pkt::VnetHeader& vnet, const Ingress& in, GatewayOutput& out);
  // A packet from a port leaves for the host (TUN) or a peer.
  struct NextHop {
    bool host = false;
    PeerId peer = 0;
  };
  void forward_upstream(const Env& env, const NextHop& hop, std::span<uint8_t> buf, size_t off, size_t len,
                        const Ingress& in, GatewayOutput& out);
  // Counts a packet over the tunnel MTU; IPv6 and IPv4 with DF earn Packet Too Big /
  // Fragmentation Needed.
  void too_big(const Env& env, std::span<const uint8_t> ip, const pkt::IpInfo& info, uint32_t mtu, const Ingress& in,
               GatewayOutput& out);

  // --- segments and fragments (gateway_segments.cpp) ---
  // Segment i of a super-packet, cut into a fresh scratch buffer `s` at kIngressHeadroom with
  // its headers fixed; returns its length, 0 when it cannot be cut.
  size_t cut_segment(std::span<const uint8_t> ip, const pkt::IpInfo& info, const pkt::VnetHeader& vnet, size_t i,
                     uint8_t*& s, GatewayOutput& out);
  // ip is writable: towards a peer, each segment's header is placed in it in front of the
  // segment's payload when the output seals from there (SealSource).
  void split_from_tun(const Env& env, const RouteTarget& d, std::span<uint8_t> ip, const pkt::IpInfo& info,
                      const pkt::VnetHeader& vnet, GatewayOutput& out);
  void split_from_port(const Env& env, uint32_t p, std::span<const uint8_t> ip, const pkt::IpInfo& info,
                       const pkt::VnetHeader& vnet, const NextHop& hop, const Ingress& in, GatewayOutput& out);
  // An IPv4 packet without DF over the MTU (hop limit already lowered), as fragments.
  void fragment_to_port(const Env& env, uint32_t p, std::span<const uint8_t> ip, const pkt::IpInfo& info,
                        GatewayOutput& out);
  void fragment_to_tunnel(const Env& env, PeerId peer, std::span<const uint8_t> ip, const pkt::IpInfo& info,
                          uint32_t mtu, const Ingress& in, GatewayOutput& out);
  // `in`: where the packet came from, for the ICMP error a peer without an endpoint earns
  // (nullptr: none is sent, e.g. for the gateway's own ICMP).
  void send_to_tunnel(const Env& env, PeerId peer, std::span<uint8_t> buf, size_t off, size_t len,
                      GatewayOutput& out, const Ingress* in = nullptr, const SealSource* from = nullptr);
  void copied(size_t n) {
    ++counters_.payload_copies;
    counters_.payload_copy_bytes += n;
  }
  bool inbound_allowed(const Port& port, uint32_t p, const pkt::IpInfo& info, Instant now);
  void note_outbound(const Port& port, uint32_t p, const pkt::IpInfo& info, Instant now);
  // ICMP(v6) error about the packet at buf[off..] back to where it came from.
  void icmp_error(const Env& env, std::span<const uint8_t> orig, const pkt::IpInfo& info, const IcmpKind& kind,
                  uint32_t param, const Ingress& in, GatewayOutput& out);
  const uint8_t* icmp_source(Family f, const Ingress& in) const;
  bool icmp_allowed(Instant now, Family f, const uint8_t* to);
  // Local delivery on a port: ND, ARP, echo to our own addresses.
  void port_local_ip(const Env& env, uint32_t p, std::span<uint8_t> buf, size_t ip_off, const pkt::IpInfo& info,
                     const pkt::Mac& from, GatewayOutput& out);
  void port_arp(const Env& env, uint32_t p, const pkt::ArpView& arp, GatewayOutput& out);
  // Autoconfiguration on a port (gateway_autoconf.cpp): true when the packet was one of its
  // messages (answered, or counted as dropped).
  bool port_autoconf(const Env& env, uint32_t p, std::span<const uint8_t> ip, const pkt::IpInfo& info,
                     const pkt::Mac& from, GatewayOutput& out);
  void send_ra(uint32_t p, const pkt::Mac& dst_mac, const uint8_t* dst, GatewayOutput& out);
  void autoconf_derive(Port& port);
  bool is_own(const Port& port, Family f, const uint8_t* addr) const;
  // Writes the virtio-net + Ethernet header in front of the IP packet at buf[off] and sends.
  void emit_ip_to_port(uint32_t p, std::span<uint8_t> buf, size_t off, size_t len, Family f, const pkt::Mac& dst,
                       GatewayOutput& out);
  // Resolves the next hop (dst) on port p and sends, or parks the packet and solicits.
  void deliver_on_port(const Env& env, uint32_t p, std::span<uint8_t> buf, size_t off, size_t len, Family f,
                       const uint8_t* dst, GatewayOutput& out);
  void learn_neighbour(const Env& env, uint32_t p, Family f, const uint8_t* addr, const pkt::Mac& mac,
                       GatewayOutput& out);
  void solicit(const Env& env, uint32_t p, Family f, const uint8_t* addr, GatewayOutput& out);
  // A free scratch buffer (kScratchSize bytes). When all are taken the output is flushed and
  // they are reused, so take one only right before filling it and handing it to the output:
  // anything called in between may flush and hand the same buffer out again.
  uint8_t* scratch(GatewayOutput& out);

  DropCounters& drops_;
  RouteTable routes_;
  std::vector<std::unique_ptr<Port>> ports_;
  std::vector<HostAddress> host_;
  FlowTable flows_;
  GatewayCounters counters_;
  // ICMP token bucket
  double icmp_tokens_ = kIcmpBurst;
  Instant icmp_last_{};
  struct IcmpBucket {
    float tokens = kIcmpPerSourceBurst;
    Instant last{};
  };
  std::array<IcmpBucket, kIcmpSourceBuckets> icmp_sources_{};
  uint64_t icmp_seed_ = 0;
  autoconf::DnsInfo dns_;
  // Scratch buffers for packets the gateway writes itself (ICMP, ND, ARP, segments).
  // Buffers of scratch_size_ bytes, back to back. Resized only between batches.
  std::vector<uint8_t> scratch_;
  size_t scratch_size_ = kScratchSize;
  size_t scratch_max_ = kScratchBuffers;  // fixed at construction
  size_t scratch_used_ = 0;
};

}  // namespace wg::core
