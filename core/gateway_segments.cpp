// core/gateway_segments.cpp — the Gateway's loops that make several packets of one: TSO/USO
// super-packets cut into segments (from the TUN, from a veth port) and IPv4 packets without DF
// cut into fragments (towards a port, towards the tunnel). Each piece is cut into a scratch
// buffer at kIngressHeadroom, headers fixed, and takes the normal path of gateway.cpp.
#include "core/gateway.hpp"

namespace wg::core {

using namespace pkt;

size_t Gateway::cut_segment(std::span<const uint8_t> ip, const IpInfo& info, const VnetHeader& vnet, size_t i,
                            uint8_t*& s, GatewayOutput& out) {
  s = scratch(out);
  const size_t len = gso_segment(ip, info, vnet.gso_type, vnet.gso_size, i, s + kIngressHeadroom,
                                 scratch_size_ - kIngressHeadroom - kTailroom);
  if (len) copied(len);
  return len;
}

// A TSO/USO super-packet from the host (TUNSETOFFLOAD): segments take the normal path one by
// one, each a complete packet with its checksums. Towards a peer, the segments of one
// super-packet leave in one UDP GSO send (the data plane joins them again), and when the output
// seals from a SealSource only each segment's headers are written to a scratch buffer: the seal
// reads the payload from the super-packet, so the bytes are not copied once more on the way.
// That needs the payload of a segment to be at least as long as its headers (they are placed
// over the end of the previous segment's payload).
void Gateway::split_from_tun(const Env& env, const RouteTarget& d, std::span<uint8_t> ip, const IpInfo& info,
                             const VnetHeader& vnet, GatewayOutput& out) {
  const Ingress in{Ingress::Kind::Tun, 0, {}};
  const size_t n = gso_segments(ip, info, vnet.gso_type, vnet.gso_size);
  if (n == 0) return drops_.add(Drop::GsoUnsupported);
  const bool from_source = d.kind == RouteTarget::Kind::Peer && out.seals_from_source();
  for (size_t i = 0; i < n; ++i) {
    if (from_source) {
      uint8_t* s = scratch(out);
      std::span<const uint8_t> body;
      const size_t len = gso_segment_header(ip, info, vnet.gso_type, vnet.gso_size, i, s + kIngressHeadroom,
                                            scratch_size_ - kIngressHeadroom - kTailroom, body);
      if (len == 0) return drops_.add(Drop::GsoUnsupported);
      const size_t header = len - body.size();
      const SealSource src{ip.data() + (body.data() - ip.data()) - header, header, (i & 1) != 0};
      const bool placeable = vnet.gso_size >= header;  // else it would cover its own neighbour's header
      if (!placeable) {
        std::memcpy(s + kIngressHeadroom + header, body.data(), body.size());
        copied(len);
      }
      send_to_tunnel(env, d.id, {s, scratch_size_}, kIngressHeadroom, len, out, &in, placeable ? &src : nullptr);
      continue;
    }
    uint8_t* s = nullptr;
    const size_t len = cut_segment(ip, info, vnet, i, s, out);
    if (len == 0) return drops_.add(Drop::GsoUnsupported);
    std::span<uint8_t> seg(s, scratch_size_);
    if (d.kind == RouteTarget::Kind::Peer) {
      send_to_tunnel(env, d.id, seg, kIngressHeadroom, len, out, &in);
      continue;
    }
    IpInfo si;
    if (parse_ip(seg.subspan(kIngressHeadroom, len), si) != IpError::None) return drops_.add(Drop::GsoUnsupported);
    forward_to_port(env, d.id, seg, kIngressHeadroom, si, in, out);
  }
}

// A super-packet from a veth port (the instance's stack left segmentation to the "device"):
// split here, each segment a normal packet with its hop limit lowered.
void Gateway::split_from_port(const Env& env, uint32_t p, std::span<const uint8_t> ip, const IpInfo& info,
                              const VnetHeader& vnet, const NextHop& hop, const Ingress& in, GatewayOutput& out) {
  const size_t n = gso_segments(ip, info, vnet.gso_type, vnet.gso_size);
  if (n == 0) return count(Drop::GsoUnsupported, in);
  note_outbound(*ports_[p], p, info, env.now);
  const uint32_t mtu = out.tunnel_mtu();
  for (size_t i = 0; i < n; ++i) {
    uint8_t* s = nullptr;
    const size_t len = cut_segment(ip, info, vnet, i, s, out);
    if (len == 0) return count(Drop::GsoUnsupported, in);
    std::span<uint8_t> seg(s, scratch_size_);
    if (!hop.host && len > mtu) {
      IpInfo si;
      if (parse_ip(seg.subspan(kIngressHeadroom, len), si) != IpError::None) return count(Drop::GsoUnsupported, in);
      return too_big(env, seg.subspan(kIngressHeadroom, len), si, mtu, in, out);
    }
    decrement_ttl(s + kIngressHeadroom, info.family);
    forward_upstream(env, hop, seg, kIngressHeadroom, len, in, out);
  }
}

void Gateway::fragment_to_port(const Env& env, uint32_t p, std::span<const uint8_t> ip, const IpInfo& info,
                               GatewayOutput& out) {
  const uint32_t mtu = ports_[p]->spec.mtu;
  const size_t n = ipv4_fragments(ip, info, mtu);
  for (size_t i = 0; i < n; ++i) {
    uint8_t* s = scratch(out);
    const size_t len = ipv4_fragment(ip, info, mtu, i, s + kIngressHeadroom, scratch_size_ - kIngressHeadroom);
    if (len == 0) return count_port(Drop::TooBig, p);
    copied(len);
    deliver_on_port(env, p, {s, scratch_size_}, kIngressHeadroom, len, info.family, info.dst, out);
  }
}

void Gateway::fragment_to_tunnel(const Env& env, PeerId peer, std::span<const uint8_t> ip, const IpInfo& info,
                                 uint32_t mtu, const Ingress& in, GatewayOutput& out) {
  const size_t n = ipv4_fragments(ip, info, mtu);
  for (size_t i = 0; i < n; ++i) {
    uint8_t* s = scratch(out);
    // Room behind each fragment for the data message's padding and tag.
    const size_t len = ipv4_fragment(ip, info, mtu, i, s + kIngressHeadroom, scratch_size_ - kIngressHeadroom - kTailroom);
    if (len == 0) return count(Drop::TooBig, in);
    copied(len);
    send_to_tunnel(env, peer, {s, scratch_size_}, kIngressHeadroom, len, out, &in);
  }
}

}  // namespace wg::core
