// fuzz/make_corpus.cpp — writes the seed corpus for every fuzz target: real messages made by
// the devices of the fuzz world (fuzz_common.hpp), each checked against a pristine world to
// get the outcome it is meant to reach; for the packet targets (ethernet, ip, nd, arp),
// hand-built frames and packets (tests/core/packet_craft.hpp), each checked to get as far into
// core/packet as it is meant to; and for gateway_fuzz, record sequences of real frames and
// packets (gateway_common.hpp), each run to check what it makes the gateway send; for
// dataplane_fuzz, operation sequences (dataplane_world.hpp), each run through the world to
// check it delivers what it is meant to (every invariant checked on the way).
// Usage: make_corpus OUT_DIR (e.g. fuzz/corpus).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "fuzz_common.hpp"
#include "packet_fuzz.hpp"
#include "gateway_common.hpp"
#include "dataplane_world.hpp"

namespace {

using namespace wg::fuzzing;

struct Seed {
  std::string target;
  std::string name;
  Bytes bytes;
  int at;               // the device the target feeds
  MessageType type;     // the type the target forces
  RxKind kind;          // the outcome in a pristine world
  Drop drop = Drop::None;
};

std::vector<Seed> seeds;
int failures = 0;

void add(const std::string& target, const std::string& name, Bytes bytes, int at, MessageType t, RxKind kind,
         Drop drop = Drop::None) {
  seeds.push_back({target, name, std::move(bytes), at, t, kind, drop});
}

// a sends an inner packet that b never receives; returns the data message.
Bytes withheld_data(World& w, const Bytes& inner) {
  Pair& pr = *w.pr;
  Bytes buf(send_capacity(inner.size()));
  std::copy(inner.begin(), inner.end(), buf.begin() + data::kHeaderLen);
  const TxResult r = pr.dev[kA].send(pr.env(), pr.peer[kA], buf, inner.size(), pr.out[kA]);
  check(r.status == TxStatus::Sent, "make_corpus: a could not send");
  pr.out[kA].clear();
  return Bytes(r.datagram.begin(), r.datagram.end());
}

Bytes ipv4(size_t len, uint8_t fill, size_t claimed) {
  Bytes p(len, fill);
  Pair::write_ipv4(p, fill);
  p[2] = static_cast<uint8_t>(claimed >> 8);
  p[3] = static_cast<uint8_t>(claimed);
  return p;
}

Bytes ipv6(size_t len, uint8_t fill) {
  Bytes p(len, fill);
  std::fill(p.begin(), p.begin() + 40, 0);
  p[0] = 0x60;
  p[4] = static_cast<uint8_t>((len - 40) >> 8);
  p[5] = static_cast<uint8_t>(len - 40);
  p[6] = 59;  // no next header
  p[7] = 64;
  return p;
}

// The first message of type t that device `at` put in its outbox during one receive().
Bytes deliver_and_capture(World& w, int at, Bytes msg, MessageType t, const Endpoint& from) {
  Pair& pr = *w.pr;
  pr.out[at].clear();
  (void)pr.dev[at].receive(pr.env(), from, msg, pr.out[at]);
  for (size_t k = 0; k < pr.out[at].size(); ++k)
    if (pr.out[at][k].bytes[0] == static_cast<uint8_t>(t)) {
      auto b = pr.out[at][k].bytes;
      Bytes copy(b.begin(), b.end());
      pr.out[at].clear();
      return copy;
    }
  fail("make_corpus: expected message not produced");
}

Bytes with_ctrl(Bytes b, uint8_t ctrl) {
  b[0] = ctrl;
  return b;
}

void make_seeds() {
  auto w = make_world();

  // Initiations to b.
  add("initiation", "replayed_i1", w->i1, kB, MessageType::Initiation, RxKind::Dropped, Drop::TimestampReplay);
  add("initiation", "fresh_i3", w->i3, kB, MessageType::Initiation, RxKind::Handshake);
  add("initiation", "i3_under_load", with_ctrl(w->i3, kFixMac1 | kUnderLoad | 1), kB, MessageType::Initiation,
      RxKind::Dropped, Drop::CookieSent);
  {
    // A device b has never heard of.
    Device stranger;
    Outbox out;
    wg::testing::SeededRng rng(99);
    const wg::core::Env env{w->pr->clock.now, w->pr->clock.wall, rng};
    uint8_t key[32];
    rng.fill(key);
    stranger.set_private_key(env, key, out);
    const PeerId id = *stranger.add_peer(w->dev(kB).identity().public_key);
    stranger.set_endpoint(id, w->addr(kB));
    stranger.send_keepalive(env, id, out);
    check(out.size() == 1 && out[0].bytes.size() == initiation::kLen, "make_corpus: stranger sent no initiation");
    add("initiation", "unknown_peer", Bytes(out[0].bytes.begin(), out[0].bytes.end()), kB, MessageType::Initiation,
        RxKind::Dropped, Drop::UnknownPeer);
  }
  {
    Bytes junk(initiation::kLen);
    for (size_t i = 0; i < junk.size(); ++i) junk[i] = static_cast<uint8_t>(i * 37 + 11);
    add("initiation", "junk_valid_mac1", with_ctrl(junk, kFixMac1 | 1), kB, MessageType::Initiation, RxKind::Dropped,
        Drop::HandshakeDecrypt);
  }

  // Responses to a.
  {
    auto w2 = make_world();
    const Bytes r3 = deliver_and_capture(*w2, kB, w2->i3, MessageType::Response, w2->addr(kA));
    add("response", "answer_to_i3", r3, kA, MessageType::Response, RxKind::Handshake);
    add("response", "r3_under_load", with_ctrl(r3, kFixMac1 | kUnderLoad | 2), kA, MessageType::Response,
        RxKind::Dropped, Drop::CookieSent);
    add("datagram", "response", r3, kA, MessageType::Response, RxKind::Handshake);
  }
  add("response", "replayed_r1", w->r1, kA, MessageType::Response, RxKind::Dropped, Drop::HandshakeState);
  // r1's body on a's live handshake index (selector 0 = the handshake's), mac1 recomputed.
  add("response", "r1_on_handshake_index", with_ctrl(w->r1, kFixIndex | kFixMac1 | 2), kA, MessageType::Response,
      RxKind::Dropped, Drop::HandshakeDecrypt);

  // Cookie replies to a: b under load answers i3 (the mac1 a last sent) and i1 (an older one).
  for (const bool latest : {true, false}) {
    auto w2 = make_world();
    w2->dev(kB).note_handshake_backlog(w2->pr->clock.now, kUnderLoadQueueLen);
    const Bytes c = deliver_and_capture(*w2, kB, latest ? w2->i3 : w2->i1, MessageType::CookieReply, w2->addr(kA));
    if (latest) {
      add("cookie_reply", "answer_to_i3", c, kA, MessageType::CookieReply, RxKind::CookieReply);
      add("datagram", "cookie_reply", c, kA, MessageType::CookieReply, RxKind::CookieReply);
    } else {
      add("cookie_reply", "answer_to_i1", c, kA, MessageType::CookieReply, RxKind::Dropped, Drop::CookieDecrypt);
    }
  }

  // Data to b, sent by a after the world was made (counters b has not seen).
  {
    auto w2 = make_world();
    add("data", "replayed_d0", w->d0, kB, MessageType::Data, RxKind::Dropped, Drop::Replayed);
    add("data", "ipv4", withheld_data(*w2, ipv4(80, 0x22, 80)), kB, MessageType::Data, RxKind::Data);
    add("data", "keepalive", withheld_data(*w2, {}), kB, MessageType::Data, RxKind::Keepalive);
    add("data", "ipv6", withheld_data(*w2, ipv6(100, 0x33)), kB, MessageType::Data, RxKind::Data);
    add("data", "ipv4_1420", withheld_data(*w2, ipv4(1420, 0x44, 1420)), kB, MessageType::Data, RxKind::Data);
    add("data", "not_ip", withheld_data(*w2, Bytes(40, 0x00)), kB, MessageType::Data, RxKind::Dropped,
        Drop::BadInnerPacket);
    add("data", "inner_too_long", withheld_data(*w2, ipv4(60, 0x55, 600)), kB, MessageType::Data, RxKind::Dropped,
        Drop::InnerLength);
    add("datagram", "data", withheld_data(*w2, ipv4(64, 0x66, 64)), kB, MessageType::Data, RxKind::Data);
    add("datagram", "keepalive", withheld_data(*w2, {}), kB, MessageType::Data, RxKind::Keepalive);
  }
  add("datagram", "initiation", w->i3, kB, MessageType::Initiation, RxKind::Handshake);
  add("datagram", "replayed_initiation", w->i1, kB, MessageType::Initiation, RxKind::Dropped, Drop::TimestampReplay);
}

// --- seeds for the packet targets ---

namespace packets = wg::fuzzing::packets;
namespace pk = wg::core::pkt;
namespace craft = wg::testing::craft;

struct PacketSeed {
  std::string target;
  std::string name;
  Bytes bytes;
  bool reaches;      // gets as far as `expect` says (computed when the seed is made)
  const char* expect;
};

std::vector<PacketSeed> packet_seeds;

bool ip_ok(std::span<const uint8_t> p, pk::IpInfo& i) { return pk::parse_ip(p, i) == pk::IpError::None; }

// A frame: virtio-net header (flags, gso type, hdr_len, gso_size, csum_start, csum_offset, all
// little endian), Ethernet header, payload.
Bytes frame(const pk::VnetHeader& h, const pk::Mac& dst, uint16_t type, const Bytes& payload) {
  Bytes f(pk::kFrameHeader, 0);
  f[0] = h.flags;
  f[1] = h.gso_type;
  const uint16_t le[4] = {h.hdr_len, h.gso_size, h.csum_start, h.csum_offset};
  for (int k = 0; k < 4; ++k) {
    f[2 + 2 * k] = static_cast<uint8_t>(le[k]);
    f[3 + 2 * k] = static_cast<uint8_t>(le[k] >> 8);
  }
  pk::write_eth(f.data() + pk::kVnetLen, dst, pk::Mac{0x02, 0, 0, 0, 0, 0x0a}, type);
  f.insert(f.end(), payload.begin(), payload.end());
  return f;
}

// What a guest leaves in the checksum field with NEEDS_CSUM: the folded pseudo-header sum.
void leave_partial(Bytes& p, size_t l4, uint8_t proto) {
  const bool v6 = (p[0] >> 4) == 6;
  const Bytes ph = craft::pseudo_header(v6, &p[v6 ? 8 : 12], &p[v6 ? 24 : 16], proto, p.size() - l4);
  craft::put16(&p[l4 + craft::checksum_offset(proto)], static_cast<uint16_t>(~craft::ref_checksum(ph)));
}

Bytes nd_message(uint8_t type, uint32_t flags, const craft::Ip6& target, const Bytes& options) {
  Bytes body(target.begin(), target.end());
  body.insert(body.end(), options.begin(), options.end());
  return craft::icmp(type, 0, flags, body);
}

Bytes lladdr_option(uint8_t type, const pk::Mac& mac) {
  Bytes o{type, 1};
  o.insert(o.end(), mac.begin(), mac.end());
  return o;
}

Bytes arp(uint16_t op, const craft::Ip4& sender, const craft::Ip4& target) {
  Bytes a(28, 0);
  craft::put16(&a[0], 1);
  craft::put16(&a[2], pk::kEtherIpv4);
  a[4] = 6;
  a[5] = 4;
  craft::put16(&a[6], op);
  const pk::Mac mac{0x02, 0, 0, 0, 0, 0x0a};
  std::copy(mac.begin(), mac.end(), a.begin() + 8);
  std::copy(sender.begin(), sender.end(), a.begin() + 14);
  if (op == 2) std::fill(a.begin() + 18, a.begin() + 24, 0x0b);
  std::copy(target.begin(), target.end(), a.begin() + 24);
  return a;
}

void add_packet(const std::string& target, const std::string& name, Bytes bytes, bool reaches, const char* expect) {
  packet_seeds.push_back({target, name, std::move(bytes), reaches, expect});
}

void make_packet_seeds() {
  using craft::ip4;
  using craft::ip6;
  const craft::Ip4 a4 = ip4("10.0.0.1"), b4 = ip4("10.0.0.2");
  const craft::Ip6 a6 = ip6("2001:db8::a"), b6 = ip6("2001:db8::b"), ll = ip6("fe80::1");
  const craft::Ip6 target = ip6("2001:db8::1:2:3");
  craft::Ip6 group;
  pk::solicited_node(target.data(), group.data());
  const pk::Mac peer_mac{0x02, 0, 0, 0, 0, 0x0b};
  const pk::Mac to_us{0x02, 0, 0, 0, 0, 0x01};

  const Bytes syn4 = craft::ipv4(a4, b4, craft::kTcp, craft::tcp(40000, 443, 1, 0, pk::kTcpSyn, {}));
  const Bytes udp6 = craft::ipv6(a6, b6, craft::kUdp, craft::udp(1000, 53, craft::pattern(30)),
                                 {.ext = {craft::ext_options(craft::kHopByHop, 8), craft::ext_fragment(0, true, 7)}});
  const Bytes later6 = craft::ipv6(a6, b6, craft::kUdp, craft::pattern(64),
                                   {.ext = {craft::ext_fragment(20, false, 7)}, .l4_checksum = false});
  const Bytes echo4 = craft::ipv4(a4, b4, craft::kIcmp, craft::icmp(8, 0, 0x00010001, craft::pattern(56)));
  const Bytes echo6 = craft::ipv6(a6, b6, craft::kIcmp6, craft::icmp(128, 0, 0x00010001, craft::pattern(56)));
  const Bytes big6 = craft::ipv6(a6, b6, craft::kUdp, craft::udp(4500, 4500, craft::pattern(1400)));
  const Bytes frag4 = craft::ipv4(a4, b4, craft::kUdp, craft::udp(1, 2, craft::pattern(100)),
                                  {.frag = 0x2000, .options = 8});
  const Bytes ns = craft::ipv6(ll, group, craft::kIcmp6,
                               nd_message(pk::kNdNeighborSolicit, 0, target, lladdr_option(1, peer_mac)), {.hops = 255});
  const Bytes na = craft::ipv6(ll, ip6("ff02::1"), craft::kIcmp6,
                               nd_message(pk::kNdNeighborAdvert, 0x20000000, target, lladdr_option(2, peer_mac)),
                               {.hops = 255});

  // TCP and UDP super-packets with their checksums left to the device.
  Bytes tcp4 = craft::ipv4(a4, b4, craft::kTcp,
                           craft::tcp(40000, 443, 1000, 1, pk::kTcpAck | pk::kTcpFin | 0x08 | 0x80, craft::pattern(1800)),
                           {.l4_checksum = false});
  leave_partial(tcp4, 20, craft::kTcp);
  Bytes tcp6 = craft::ipv6(a6, b6, craft::kTcp,
                           craft::tcp(40000, 443, 1000, 1, pk::kTcpAck | 0x08, craft::pattern(1500), Bytes{1, 1, 1, 1}),
                           {.l4_checksum = false});
  leave_partial(tcp6, 40, craft::kTcp);
  Bytes udp6_gso = craft::ipv6(a6, b6, craft::kUdp, craft::udp(4500, 4500, craft::pattern(1500)),
                               {.l4_checksum = false});
  leave_partial(udp6_gso, 40, craft::kUdp);
  const Bytes udp4_gso = craft::ipv4(a4, b4, craft::kUdp, craft::udp(4500, 4500, craft::pattern(1200)));

  auto eth_ip = [&](const Bytes& f, bool want_nd, size_t want_segments) {
    Bytes copy(f.begin() + pk::kVnetLen, f.end());
    const auto e = pk::parse_eth(copy);
    pk::IpInfo i;
    if (!e || !ip_ok(e->payload, i)) return false;
    if (want_nd != pk::parse_nd(e->payload, i).has_value()) return false;
    const pk::VnetHeader h = pk::read_vnet(f.data());
    return pk::gso_segments(e->payload, i, h.gso_type, h.gso_size) == want_segments;
  };
  const pk::VnetHeader plain{};
  auto add_eth = [&](const std::string& name, const pk::VnetHeader& h, const pk::Mac& dst, const Bytes& ip,
                     bool want_nd = false, size_t want_segments = 0) {
    const Bytes f = frame(h, dst, (ip[0] >> 4) == 6 ? pk::kEtherIpv6 : pk::kEtherIpv4, ip);
    add_packet("ethernet", name, f, eth_ip(f, want_nd, want_segments), "parse_ip, parse_nd and gso_segments as meant");
  };
  Bytes padded = syn4;
  padded.resize(46, 0);
  add_eth("tcp4_padded", plain, to_us, padded);
  add_eth("udp6_ext_headers", plain, to_us, udp6);
  add_eth("echo4", plain, to_us, echo4);
  add_eth("echo6", plain, to_us, echo6);
  add_eth("big6_too_big", {.hdr_len = 1}, to_us, big6);
  add_eth("ns", plain, pk::multicast_mac6(group.data()), ns, true);
  add_eth("na", plain, pk::multicast_mac6(ip6("ff02::1").data()), na, true);
  add_eth("gso_tcp4", {pk::kVnetNeedsCsum, pk::kGsoTcpV4, 54, 600, 34, 16}, to_us, tcp4, false, 3);
  add_eth("gso_tcp6", {pk::kVnetNeedsCsum, pk::kGsoTcpV6, 78, 700, 54, 16}, to_us, tcp6, false, 3);
  add_eth("gso_udp6", {pk::kVnetNeedsCsum, pk::kGsoUdpL4, 62, 500, 54, 6}, to_us, udp6_gso, false, 3);
  {
    const Bytes f = frame(plain, pk::kBroadcast, pk::kEtherArp, arp(1, a4, b4));
    add_packet("ethernet", "arp_request", f,
               pk::parse_arp(std::span<const uint8_t>(f).subspan(pk::kFrameHeader)).has_value(), "parse_arp");
  }

  // ip: GSO type, GSO size (big endian), ICMP selector, packet.
  auto add_ip = [&](const std::string& name, uint8_t gso_type, uint16_t gso_size, uint8_t sel, const Bytes& ip,
                    size_t want_segments) {
    Bytes b{gso_type, static_cast<uint8_t>(gso_size >> 8), static_cast<uint8_t>(gso_size), sel};
    b.insert(b.end(), ip.begin(), ip.end());
    pk::IpInfo i;
    const bool ok = ip_ok(ip, i) && pk::gso_segments(ip, i, gso_type, gso_size) == want_segments;
    add_packet("ip", name, b, ok, "parse_ip and gso_segments as meant");
  };
  add_ip("tcp4_gso", pk::kGsoTcpV4, 536, 0x01, craft::ipv4(a4, b4, craft::kTcp,
                                                            craft::tcp(1, 2, 3, 4, pk::kTcpAck | pk::kTcpFin,
                                                                       craft::pattern(1500))),
         3);
  add_ip("tcp6_gso", pk::kGsoTcpV6, 1220, 0x01, craft::ipv6(a6, b6, craft::kTcp,
                                                             craft::tcp(1, 2, 3, 4, pk::kTcpAck | 0x80,
                                                                        craft::pattern(1500))),
         2);
  add_ip("udp4_gso", pk::kGsoUdpL4, 1000, 0x00, udp4_gso, 2);
  add_ip("echo4", 0, 0, 0x00, echo4, 0);
  add_ip("echo6", 0, 0, 0x02, echo6, 0);
  add_ip("udp6_ext_headers", pk::kGsoUdpL4, 10, 0x81, udp6, 0);  // a fragment: not a super-packet
  add_ip("later_fragment6", 0, 0, 0x01, later6, 0);
  add_ip("first_fragment4_options", 0, 0, 0x01, frag4, 0);
  add_ip("ttl1_syn4", 0, 0, 0x00,
         craft::ipv4(a4, b4, craft::kTcp, craft::tcp(40000, 443, 1, 0, pk::kTcpSyn, {}), {.ttl = 1}), 0);

  // nd: control byte, ICMPv6 message.
  auto add_nd = [&](const std::string& name, uint8_t ctrl, const Bytes& msg, bool want) {
    Bytes b{ctrl};
    b.insert(b.end(), msg.begin(), msg.end());
    const Bytes p = packets::nd_packet(ctrl, msg);
    pk::IpInfo i;
    const bool ok = ip_ok(p, i) && pk::parse_nd(p, i).has_value() == want;
    add_packet("nd", name, b, ok, want ? "parse_nd accepts" : "parse_nd refuses");
  };
  using packets::kNdDstShift;
  using packets::kNdSrcShift;
  add_nd("ns_slla", 0, nd_message(pk::kNdNeighborSolicit, 0, target, lladdr_option(1, peer_mac)), true);
  add_nd("ns_nonce_slla", 0,
         nd_message(pk::kNdNeighborSolicit, 0, target, craft::concat({Bytes{14, 1, 1, 2, 3, 4, 5, 6},
                                                                      lladdr_option(1, peer_mac)})),
         true);
  add_nd("ns_dad", 1 << kNdSrcShift, nd_message(pk::kNdNeighborSolicit, 0, target, {}), true);
  add_nd("na_solicited", 2 << kNdSrcShift | 2 << kNdDstShift,
         nd_message(pk::kNdNeighborAdvert, 0x60000000, target, lladdr_option(2, peer_mac)), true);
  add_nd("na_unsolicited", 1 << kNdDstShift,
         nd_message(pk::kNdNeighborAdvert, 0xa0000000, target, lladdr_option(2, peer_mac)), true);
  add_nd("ns_hop_limit_64", packets::kNdHopLimit64,
         nd_message(pk::kNdNeighborSolicit, 0, target, lladdr_option(1, peer_mac)), false);

  // arp: the payload after the Ethernet header.
  for (const uint16_t op : {1, 2}) {
    Bytes a = arp(op, a4, b4);
    add_packet("arp", op == 1 ? "request" : "reply", a, pk::parse_arp(a).has_value(), "parse_arp accepts");
    a.resize(46, 0);
    add_packet("arp", op == 1 ? "request_padded" : "reply_padded", a, pk::parse_arp(a).has_value(),
               "parse_arp accepts");
  }
}

// Runs a seed the way its target does, against a pristine world.
void verify(const Seed& s) {
  auto w = make_world();
  Bytes msg;
  if (s.target == "datagram")
    msg = s.bytes;
  else
    shape(*w, s.at, s.type, s.bytes, msg);
  const RxResult r = receive_checked(*w, s.at, msg, w->addr(1 - s.at));
  const bool ok = r.kind == s.kind && r.drop == s.drop;
  std::printf("%-13s %-22s %4zu bytes  kind %d drop %-24s %s\n", s.target.c_str(), s.name.c_str(), s.bytes.size(),
              static_cast<int>(r.kind), std::string(drop_name(r.drop)).c_str(), ok ? "ok" : "UNEXPECTED");
  if (!ok) ++failures;
}

// --- gateway_fuzz: record sequences (gateway_common.hpp) ---

struct GatewaySeed {
  std::string name;
  Bytes input;
  size_t to_port0, to_port1, to_tunnel, to_tun, icmp_errors;
  std::string drops;  // nonzero counters, "name=n ..."
};
std::vector<GatewaySeed> gateway_seeds;

std::string drop_summary(const DropCounters& d) {
  std::string s;
  for (size_t i = 1; i < kDropReasonCount; ++i) {
    if (d.count[i] == 0) continue;
    if (!s.empty()) s += ' ';
    s += std::string(drop_name(static_cast<Drop>(i))) + "=" + std::to_string(d.count[i]);
  }
  return s;
}

void make_gateway_seeds() {
  namespace g = wg::testing::gw;
  using namespace wg::fuzzing::gateway;
  using g::kInst4;
  using g::kInst6;
  using g::kInstLl;
  using g::kInstMac;
  using g::kPort4;
  using g::kPortLl;
  using g::kPortMac;
  using g::kRemote4;
  using g::kRemote6;
  constexpr uint8_t syn = pkt::kTcpSyn, ack = pkt::kTcpAck;
  const auto ns_for = [&](const g::Addr16& src, const g::Addr16& target, std::optional<g::Mac> slla) {
    const g::Addr16 group = g::solicited_node(target);
    return g::frame(g::multicast_mac(group), kInstMac[0], pkt::kEtherIpv6, g::neighbor_solicit(src, group, target, slla));
  };
  const auto na_from = [&](int i, const g::Addr16& a) {
    return g::inst_frame(i, g::neighbor_advert(a, kPortLl, a, g::kNaSolicited | g::kNaOverride, kInstMac[i]));
  };
  const auto add = [&](std::string name, uint8_t cfg, std::initializer_list<std::tuple<uint8_t, uint8_t, Bytes>> recs,
                       size_t p0, size_t p1, size_t tunnel, size_t tun, size_t icmp, std::string drops) {
    Bytes in{cfg};
    for (const auto& [sel, tick, bytes] : recs) append_record(in, sel, tick, bytes);
    gateway_seeds.push_back({std::move(name), std::move(in), p0, p1, tunnel, tun, icmp, std::move(drops)});
  };

  add("ns_link_local", 0, {{kSelPort0, 0, ns_for(kInstLl, kPortLl, kInstMac[0])}}, 1, 0, 0, 0, 0, "");
  // Port 0 removed: the Unreachable /56 answers for ct's address. Port 0 detached: dropped.
  add("port_removed", 0, {{kSelTunnel | kSelRemove, 0, g::ip6(kRemote6, kInst6[0], pkt::kProtoTcp, g::tcp(5555, 22, syn))}},
      0, 0, 1, 0, 1, "unreachable=1");
  add("port_detached", 0,
      {{kSelTunnel | kSelDetach, 0, g::ip6(kRemote6, kInst6[0], pkt::kProtoTcp, g::tcp(5555, 22, syn))},
       {kSelTunnel | kSelReattach, 1, g::ip6(kRemote6, kInst6[0], pkt::kProtoTcp, g::tcp(5555, 22, syn))}},
      1, 0, 0, 0, 0, "port_write_failed=1");
  add("dad_defended", 0, {{kSelPort0, 0, ns_for(g::addr("::"), kPortLl, std::nullopt)}}, 1, 0, 0, 0, 0, "");
  add("echo6", 0,
      {{kSelPort0, 0,
        g::inst_frame(0, g::ip6(kInstLl, kPortLl, pkt::kProtoIcmp6, g::icmp(pkt::kIcmp6EchoRequest, 0, g::echo_body(1, 1, 32))))}},
      1, 0, 0, 0, 0, "");
  add("echo4", 0,
      {{kSelPort0, 0,
        g::inst_frame(0, g::ip4(kInst4, kPort4, pkt::kProtoIcmp, g::icmp(pkt::kIcmp4EchoRequest, 0, g::echo_body(1, 1, 32))))}},
      1, 0, 0, 0, 0, "");
  add("arp_request", 0,
      {{kSelPort0, 0, g::frame(g::kBroadcastMac, kInstMac[0], pkt::kEtherArp, g::arp(1, kInstMac[0], kInst4, g::Mac{}, kPort4))}},
      1, 0, 0, 0, 0, "");
  // The instance opens a TCP flow (its MAC is learnt from it); the reply comes back, a packet to
  // a neighbouring port does not.
  add("tcp_syn_out_reply_in", 0,
      {{kSelPort0, 0, g::inst_frame(0, g::ip6(kInst6[0], kRemote6, pkt::kProtoTcp, g::tcp(40000, 443, syn)))},
       {kSelTunnel, 5, g::ip6(kRemote6, kInst6[0], pkt::kProtoTcp, g::tcp(443, 40000, syn | ack))},
       {kSelPort0 | kSelEndBatch, 1, na_from(0, kInst6[0])},
       {kSelTunnel, 1, g::ip6(kRemote6, kInst6[0], pkt::kProtoTcp, g::tcp(443, 40001, syn | ack))}},
      1, 0, 1, 0, 0, "inbound_denied=1");
  add("tcp_syn_in_allowed", 0,
      {{kSelTunnel, 0, g::ip6(kRemote6, kInst6[0], pkt::kProtoTcp, g::tcp(5555, 22, syn))},
       {kSelPort0, 3, na_from(0, kInst6[0])}},
      2, 0, 0, 0, 0, "");
  add("udp4_arp_release", 0,
      {{kSelTunnel, 0, g::ip4(kRemote4, kInst4, pkt::kProtoUdp, g::udp(4000, 5005, 40))},
       {kSelPort0, 2, g::frame(kPortMac[0], kInstMac[0], pkt::kEtherArp, g::arp(2, kInstMac[0], kInst4, kPortMac[0], kPort4))}},
      2, 0, 0, 0, 0, "");
  add("tun_to_port1", 0,
      {{kSelTun, 0, g::ip6(g::kHost6, kInst6[1], pkt::kProtoUdp, g::udp(1000, 9999, 64))},
       {kSelPort1, 1, na_from(1, kInst6[1])},
       {kSelTun, 1, g::ip6(g::kHost6, kRemote6, pkt::kProtoUdp, g::udp(1000, 53, 20))}},
      0, 2, 1, 0, 0, "");
  {
    Bytes super = g::ip6(kInst6[0], kRemote6, pkt::kProtoTcp, g::tcp(40000, 443, ack, 1, 1200));
    const g::Vnet v{.flags = pkt::kVnetNeedsCsum, .gso_type = pkt::kGsoTcpV6, .hdr_len = 74, .gso_size = 500,
                    .csum_start = 54, .csum_offset = 16};
    add("gso_tcp6", 0, {{kSelPort0, 0, g::inst_frame(0, super, v)}}, 0, 0, 3, 0, 0, "");
  }
  // Checksums left to the device (NEEDS_CSUM, no GSO): the field holds the pseudo-header sum.
  for (const bool v4 : {true, false}) {
    Bytes ip = v4 ? g::ip4(kInst4, kRemote4, pkt::kProtoUdp, g::udp(40000, 53, 60))
                  : g::ip6(kInst6[0], kRemote6, pkt::kProtoTcp, g::tcp(40000, 443, ack, 9, 60));
    const size_t l4 = v4 ? 20 : 40;
    const size_t at = l4 + (v4 ? 6 : 16);
    const uint8_t proto = v4 ? pkt::kProtoUdp : pkt::kProtoTcp;
    const Family f = v4 ? Family::V4 : Family::V6;
    const uint16_t partial =
        g::fold_sum(g::pseudo_header_sum(f, &ip[v4 ? 12 : 8], &ip[v4 ? 16 : 24], proto, ip.size() - l4));
    g::put16(&ip[at], partial);
    const g::Vnet v{.flags = pkt::kVnetNeedsCsum, .csum_start = static_cast<uint16_t>(14 + l4),
                    .csum_offset = static_cast<uint16_t>(at - l4)};
    add(v4 ? "csum_offload_udp4" : "csum_offload_tcp6", 0, {{kSelPort0, 0, g::inst_frame(0, ip, v)}}, 0, 0, 1, 0, 0, "");
  }
  add("icmp_errors", 0,
      {{kSelTunnel, 0, g::ip6(kRemote6, g::addr("2001:db8:64:2003::5"), pkt::kProtoUdp, g::udp(1, 53))},
       {kSelPort0, 0, g::inst_frame(0, g::ip6(kInst6[0], kRemote6, pkt::kProtoTcp, g::tcp(40000, 443, syn), 1))},
       {kSelPort0, 0, g::inst_frame(0, g::ip4(kInst4, kRemote4, pkt::kProtoUdp, g::udp(40000, 53), 1))}},
      2, 0, 1, 0, 3, "unreachable=1 ttl_exceeded=2");
  add("too_big", 0,
      {{kSelPort0, 0, g::inst_frame(0, g::ip6(kInst6[0], kRemote6, pkt::kProtoUdp, g::udp(40000, 443, 1421 - 48)))}},
      1, 0, 0, 0, 1, "too_big=1");
  add("no_route_v4", kCfgNoV4Default,
      {{kSelPort0, 0, g::inst_frame(0, g::ip4(kInst4, kRemote4, pkt::kProtoUdp, g::udp(40000, 53)))}}, 1, 0, 0, 0, 1,
      "no_route=1");
  // Peer 0 without an endpoint on the third send: the instance hears address unreachable.
  add("no_endpoint", kCfgNoEndpoint,
      {{kSelPort0, 0, g::inst_frame(0, g::ip6(kInst6[0], kRemote6, pkt::kProtoUdp, g::udp(40000, 53)))},
       {kSelPort0, 0, g::inst_frame(0, g::ip6(kInst6[0], kRemote6, pkt::kProtoUdp, g::udp(40001, 53)))},
       {kSelPort0, 0, g::inst_frame(0, g::ip6(kInst6[0], kRemote6, pkt::kProtoUdp, g::udp(40002, 53)))}},
      1, 0, 2, 0, 1, "");
  add("allow_host", kCfgAllowHost,
      {{kSelPort0, 0, g::inst_frame(0, g::ip6(kInst6[0], g::kHost6, pkt::kProtoTcp, g::tcp(40000, 22, syn)))}}, 0, 0, 0,
      1, 0, "");
  // A SYN-only flow expires (120 s) before the reply comes (128 s later).
  add("flow_expired", 0,
      {{kSelPort0, 0, g::inst_frame(0, g::ip6(kInst6[0], kRemote6, pkt::kProtoTcp, g::tcp(40000, 443, syn)))},
       {kSelTunnel, 255, g::ip6(kRemote6, kInst6[0], pkt::kProtoTcp, g::tcp(443, 40000, syn | ack))}},
      0, 0, 1, 0, 0, "inbound_denied=1");
}

bool verify_gateway(const GatewaySeed& s) {
  const auto t = wg::fuzzing::gateway::run(s.input.data(), s.input.size());
  const std::string drops = drop_summary(t.drops);
  const bool ok = t.to_port[0] == s.to_port0 && t.to_port[1] == s.to_port1 && t.to_tunnel == s.to_tunnel &&
                  t.to_tun == s.to_tun && t.icmp_errors == s.icmp_errors && drops == s.drops;
  std::printf("%-13s %-22s %4zu bytes  port %zu/%zu tunnel %zu tun %zu icmp %zu drops [%s] %s\n", "gateway",
              s.name.c_str(), s.input.size(), t.to_port[0], t.to_port[1], t.to_tunnel, t.to_tun, t.icmp_errors,
              drops.c_str(), ok ? "ok" : "UNEXPECTED");
  return ok;
}

// --- dataplane_fuzz: operation sequences ---

struct DataplaneSeed {
  std::string name;
  Bytes input;
  size_t min_delivered;  // tagged packets (or pieces) delivered, healing's two included
};
std::vector<DataplaneSeed> dataplane_seeds;

void make_dataplane_seeds() {
  using namespace wg::fuzzing::dpw;
  using O = Op;
  // Config bytes: kCfg* bits; sizes: scratch buffers (bits 0-1), batch size - 1 (bits 2-7).
  const auto seed = [](const char* name, uint8_t cfg, uint8_t sizes, size_t min_delivered,
                       std::initializer_list<std::pair<Op, std::initializer_list<uint8_t>>> ops) {
    Bytes in{cfg, sizes};
    for (const auto& [op, args] : ops) put_op(in, op, args);
    dataplane_seeds.push_back({name, in, min_delivered});
  };
  constexpr uint8_t kBig = 0xfd;  // 64 scratch buffers, batches of 64
  const uint8_t all = kCfgVnetA | kCfgVnetB | kCfgCoalesce | kCfgCoalesceUdp;
  // TunSend a0: side | v4 0x02 | proto (bits 2-3: udp, tcp, icmp) | tso 0x10 | spoof 0x40.
  seed("empty", 0, kBig, 2, {});
  seed("tun_udp6", 0, kBig, 3, {{O::TunSend, {0, PHost, 100}}, {O::Deliver, {0}}, {O::Deliver, {1}}, {O::Deliver, {0}}});
  seed("tun_tcp4_both", 0, kBig, 4,
       {{O::TunSend, {0x06, PHost, 200}}, {O::Deliver, {0}}, {O::Deliver, {1}}, {O::Deliver, {0}},
        {O::TunSend, {0x07, PHost, 50}}, {O::Deliver, {1}}});
  seed("tun_icmp_echo", 0, kBig, 3, {{O::TunSend, {0x08, PHost, 56}}, {O::Deliver, {0}}, {O::Deliver, {1}}, {O::Deliver, {0}}});
  seed("tun_to_instances", 0, kBig, 5,
       {{O::TunSend, {0x04, PInst0, 44, 1}}, {O::Deliver, {0}}, {O::Deliver, {1}}, {O::Deliver, {0}},
        {O::TunSend, {0x00, PInst1, 44, 1}}, {O::TunSend, {0x02, PInst0, 44, 1}}, {O::Deliver, {0}}});
  seed("tun_local_port", 0, kBig, 3, {{O::TunSend, {0x00, SInst0, 120}}});
  seed("tun_unreachable_nowhere", 0, kBig, 2,
       {{O::TunSend, {0x00, PUnreachable, 80}}, {O::TunSend, {0x00, Nowhere, 80}}, {O::Deliver, {0}},
        {O::Deliver, {1}}, {O::Deliver, {0}}, {O::Deliver, {1}}});
  seed("tun_tso_tcp6", all, kBig, 3,
       {{O::TunSend, {0x14, PHost, 0x40, 0x90, 0, 170}}, {O::Deliver, {0}}, {O::Deliver, {1}}, {O::Deliver, {0}}});
  seed("tun_tso_udp4_small_scratch", all, 0xfc, 3,
       {{O::TunSend, {0x02, PHost, 10}}, {O::Deliver, {0}}, {O::Deliver, {1}}, {O::Deliver, {0}},
        {O::TunSend, {0x12, PHost, 0x00, 0xa0, 0, 99}}, {O::Deliver, {0, 0}}});
  seed("tun_tso_huge", all | kCfgDeferA | kCfgDeferB, kBig, 3,
       {{O::TunSend, {0x14, PHost, 0xff, 0xff, 0, 170}}, {O::Deliver, {0}}, {O::Deliver, {1}}, {O::Deliver, {0}}});
  seed("tun_v4_fragments", 0, kBig, 3,
       {{O::TunSend, {0x02, PHost, 10}}, {O::Deliver, {0}}, {O::Deliver, {1}}, {O::Deliver, {0}},
        {O::TunSend, {0x02, PHost, 0xd0, 0x07, 0x01}}, {O::Deliver, {0}}});
  seed("tun_spoofed", 0, kBig, 2, {{O::TunSend, {0x40, PHost, 60}}, {O::Deliver, {0}}, {O::Deliver, {1}}, {O::Deliver, {0}}});
  // PortSend a0: side | port 0x02 | kind (bits 2-4) | v4 0x20 | proto (bits 6-7).
  seed("port_tagged_up", 0, kBig, 3, {{O::PortSend, {0x00, PHost, 100}}, {O::Deliver, {0}}, {O::Deliver, {1}}, {O::Deliver, {0}}});
  seed("port1_tcp_up", 0, kBig, 3, {{O::PortSend, {0x42, PSite, 100}}, {O::Deliver, {0}}, {O::Deliver, {1}}, {O::Deliver, {0}}});
  seed("port_v4_up", 0, kBig, 3, {{O::PortSend, {0x20, PHost, 100}}, {O::Deliver, {0}}, {O::Deliver, {1}}, {O::Deliver, {0}}});
  seed("port_spoofed", 0, kBig, 2, {{O::PortSend, {0x04, PHost, 100}}});
  seed("port_east_west_host", 0, kBig, 2, {{O::PortSend, {0x00, SInst1, 100}}, {O::PortSend, {0x00, SHost, 100}}});
  seed("port_nd_arp_echo", 0, kBig, 2,
       {{O::PortSend, {0x08}}, {O::PortSend, {0x0c}}, {O::PortSend, {0x10}}, {O::PortSend, {0x11, 0, 0, 0, 1}},
        {O::PortSend, {0x14, 7, 20}}, {O::PortSend, {0x34, 7, 20}}, {O::PortSend, {0x18, 5}}});
  seed("port_tso", kCfgCoalesce, kBig, 3, {{O::PortSend, {0x5c, PHost, 0x00, 0x88, 0, 150}}, {O::Deliver, {0}}, {O::Deliver, {1}}, {O::Deliver, {0}}});
  seed("unresolved_then_announce", kCfgUnresolved, kBig, 2,
       {{O::TunSend, {0x01, PInst0, 100}}, {O::Deliver, {1}}, {O::Deliver, {0}}, {O::Deliver, {1}}, {O::PortSend, {0x08}},
        {O::TunSend, {0x01, PInst0, 100}}, {O::Deliver, {1}}});
  // The wire.
  const auto with_session = [&](const char* name, uint8_t cfg, size_t min_delivered,
                                std::initializer_list<std::pair<Op, std::initializer_list<uint8_t>>> more) {
    Bytes in{cfg, kBig};
    // A session first: a packet A to B, the handshake and the packet delivered.
    put_op(in, O::TunSend, {0, PHost, 40});
    for (uint8_t d : {0, 1, 0}) put_op(in, O::Deliver, {d});
    for (const auto& [op, args] : more) put_op(in, op, args);
    dataplane_seeds.push_back({name, in, min_delivered});
  };
  with_session("wire_drop", 0, 3, {{O::TunSend, {0x04, PHost, 100, 0, 0x0c}}, {O::Drop, {0, 2}}, {O::Deliver, {0}}});
  with_session("wire_duplicate", 0, 4, {{O::TunSend, {0x00, PHost, 100, 0, 0x04}}, {O::Duplicate, {0, 0}}, {O::Duplicate, {2, 1}}, {O::Deliver, {0}}});
  with_session("wire_reorder", 0, 5, {{O::TunSend, {0x00, PHost, 100, 0, 0x0c}}, {O::Reorder, {0, 0, 3}}, {O::Deliver, {0}}});
  with_session("wire_corrupt", 0, 3, {{O::TunSend, {0x00, PHost, 100, 0, 0x04}}, {O::Corrupt, {0, 1, 40, 0, 0x10}}, {O::Deliver, {0}}});
  with_session("wire_truncate", 0, 3, {{O::TunSend, {0x00, PHost, 100, 0, 0x04}}, {O::Truncate, {0, 0, 60}}, {O::Deliver, {0}}});
  with_session("wire_gro_batches", kCfgCoalesce | kCfgVnetB, 6,
               {{O::Batch, {3, 1}}, {O::TunSend, {0x00, PHost, 200, 0, 0x0c}}, {O::Deliver, {2}}, {O::Deliver, {2}}});
  with_session("gso_off", kCfgNoGso, 4, {{O::TunSend, {0x00, PHost, 200, 0, 0x04}}, {O::Batch, {63, 2}}, {O::Deliver, {0}}});
  // Handshakes: crafted, replayed, under load, lost.
  with_session("craft_initiation_replay", 0, 2, {{O::Craft, {0x01}}, {O::Craft, {0x41}}, {O::Craft, {0x49, 20, 1}}});
  with_session("craft_response", 0, 2, {{O::Craft, {0x02 | 0x10}}, {O::Craft, {0x42 | 0x18, 30, 4}}});
  seed("under_load_cookie", 0, kBig, 2,
       {{O::UnderLoad, {1, 200}}, {O::TunSend, {0, PHost, 40}}, {O::Deliver, {0}}, {O::Deliver, {1}},
        {O::Craft, {0x04 | 0x10 | 0x40}}, {O::Time, {2, 5}}, {O::Deliver, {0}}, {O::Deliver, {1}}, {O::Deliver, {0}}});
  seed("lost_initiation_retry", 0, kBig, 3,
       {{O::TunSend, {0, PHost, 40}}, {O::Drop, {0, 1}}, {O::Time, {2, 5}}, {O::Deliver, {0}}, {O::Deliver, {1}}, {O::Deliver, {0}}});
  // Time: keepalives, rekeying, keys zeroed.
  with_session("time_keepalive", 0, 3, {{O::Time, {2, 10}}, {O::Deliver, {1}}, {O::Deliver, {0}}, {O::Keepalive, {1}}, {O::Deliver, {1}}});
  with_session("time_rekey", 0, 3, {{O::Time, {3, 12}}, {O::TunSend, {0, PHost, 40}}, {O::Deliver, {0}}, {O::Deliver, {1}}, {O::Deliver, {0}}});
  with_session("time_zeroed", 0, 2, {{O::Time, {3, 60}}, {O::Time, {3, 0}}});
  with_session("persistent_keepalive", 0, 2, {{O::Peer, {0x07, 5}}, {O::Time, {2, 12}}, {O::Deliver, {0}}});
  // Configuration.
  with_session("allowed_ips_narrowed", 0, 2, {{O::AllowedIps, {1, 0}}, {O::TunSend, {0, PHost, 40}}, {O::Deliver, {0}}});
  with_session("allowed_ips_default", 0, 3, {{O::AllowedIps, {0x03, 2}}, {O::TunSend, {0, Nowhere, 40}}, {O::Deliver, {0}}});
  with_session("peer_readded", 0, 2, {{O::Peer, {0x01}}, {O::TunSend, {1, PHost, 40}}, {O::Deliver, {1}}, {O::TunSend, {0, PHost, 40}}, {O::Deliver, {0}}});
  with_session("peer_removed", 0, 2, {{O::Peer, {0x02}}, {O::TunSend, {0, PHost, 40}}, {O::Deliver, {0}}});
  with_session("deferred_aead", kCfgDeferA | kCfgDeferB, 5, {{O::TunSend, {0x00, PHost, 100, 0, 0x0c}}, {O::Deliver, {0}}});
  // Raw bytes: a datagram, a TUN read, a port frame.
  {
    // Raw carries its bytes after its three argument bytes (kind, length).
    Bytes in{0, kBig, static_cast<uint8_t>(O::Raw), 0x01, 8, 0, 4, 0, 0, 0, 1, 2, 3, 4};
    in.insert(in.end(), {static_cast<uint8_t>(O::Raw), 0x02, 4, 0, 0x45, 0, 0, 20});
    in.insert(in.end(), {static_cast<uint8_t>(O::Raw), 0x04, 3, 0, 1, 2, 3});
    dataplane_seeds.push_back({"raw_mix", in, 2});
  }
}

bool verify_dataplane(const DataplaneSeed& s) {
  wg::fuzzing::dpw::World w;
  wg::fuzzing::dpw::run(w, s.input.data(), s.input.size());
  const bool ok = w.delivered_tagged >= s.min_delivered;
  std::printf("dataplane     %-26s %4zu bytes  delivered %zu (>= %zu), drops A %lu B %lu  %s\n", s.name.c_str(),
              s.input.size(), w.delivered_tagged, s.min_delivered, static_cast<unsigned long>(w.at(0).dp.device().drops().total()),
              static_cast<unsigned long>(w.at(1).dp.device().drops().total()), ok ? "ok" : "UNEXPECTED");
  return ok;
}

bool write_seed(const std::filesystem::path& dir, const std::string& name, const Bytes& bytes) {
  std::filesystem::create_directories(dir);
  std::ofstream f(dir / (name + ".bin"), std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!f) std::fprintf(stderr, "cannot write %s\n", (dir / name).c_str());
  return static_cast<bool>(f);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
    return 2;
  }
  make_seeds();
  for (const Seed& s : seeds) {
    verify(s);
    if (!write_seed(std::filesystem::path(argv[1]) / s.target, s.name, s.bytes)) return 1;
  }
  make_packet_seeds();
  for (const PacketSeed& s : packet_seeds) {
    std::printf("%-13s %-22s %4zu bytes  %-45s %s\n", s.target.c_str(), s.name.c_str(), s.bytes.size(), s.expect,
                s.reaches ? "ok" : "UNEXPECTED");
    if (!s.reaches) ++failures;
    if (!write_seed(std::filesystem::path(argv[1]) / s.target, s.name, s.bytes)) return 1;
  }
  make_gateway_seeds();
  for (const GatewaySeed& s : gateway_seeds) {
    if (!verify_gateway(s)) ++failures;
    if (!write_seed(std::filesystem::path(argv[1]) / "gateway", s.name, s.input)) return 1;
  }
  make_dataplane_seeds();
  for (const DataplaneSeed& s : dataplane_seeds) {
    if (!verify_dataplane(s)) ++failures;
    if (!write_seed(std::filesystem::path(argv[1]) / "dataplane", s.name, s.input)) return 1;
  }
  std::printf("%zu seeds, %d unexpected\n",
              seeds.size() + packet_seeds.size() + gateway_seeds.size() + dataplane_seeds.size(), failures);
  return failures ? 1 : 0;
}
