// fuzz/make_corpus.cpp — writes the seed corpus for every fuzz target: real messages made by
// the devices of the fuzz world (fuzz_common.hpp), each checked against a pristine world to
// get the outcome it is meant to reach; and for gateway_fuzz, record sequences of real frames
// and packets (gateway_common.hpp), each run to check what it makes the gateway send.
// Usage: make_corpus OUT_DIR (e.g. fuzz/corpus).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "fuzz_common.hpp"
#include "gateway_common.hpp"

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
  make_gateway_seeds();
  for (const GatewaySeed& s : gateway_seeds) {
    if (!verify_gateway(s)) ++failures;
    if (!write_seed(std::filesystem::path(argv[1]) / "gateway", s.name, s.input)) return 1;
  }
  std::printf("%zu seeds, %d unexpected\n", seeds.size() + gateway_seeds.size(), failures);
  return failures ? 1 : 0;
}
