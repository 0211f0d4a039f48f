// tests/core/dataplane_test.cpp — the data plane on its own (core/dataplane.hpp): batches in,
// everything out through a RecordingEgress that also checks no buffer it was handed changed
// before the flush that let it go.
#include <doctest/doctest.h>

#include <deque>

#include "core/dataplane_harness.hpp"
#include "io/crypto_pool.hpp"

namespace {

using namespace wg::testing::dp;

const Endpoint kA = Endpoint::v4(192, 0, 2, 1, 51820);
const Endpoint kB = Endpoint::v4(192, 0, 2, 2, 51820);
const Endpoint kC = Endpoint::v4(192, 0, 2, 3, 51820);
const Addr16 kA6 = addr("2001:db8:ff::10");  // behind A (kRemote6)
const Addr16 kC6 = addr("2001:db8:cc::1");   // behind C

// A (a tunnel broker's end, behind it the internet) and B (the seed's gateway, with its host on
// the TUN and two instance ports), with a session; optionally C, a second peer of B.
struct Broker {
  Net net;
  Node& a;
  Node& b;
  PeerId b_on_a = 0, a_on_b = 0;
  // threads > 0: the node defers its AEAD work to a pool of that many threads.
  explicit Broker(unsigned threads_a = 0, unsigned threads_b = 0)
      : a(net.add(kA, threads_a > 0)), b(net.add(kB, threads_b > 0)) {
    with_pool(a, threads_a);
    with_pool(b, threads_b);
    auto [x, y] = net.connect(a, b, {prefix("2001:db8:64::/48"), prefix("192.0.2.0/24")}, {});
    b_on_a = x;
    a_on_b = y;
    configure_seed(b.dp, a_on_b);
  }
  std::deque<wg::io::CryptoPool> pools;
  void with_pool(Node& n, unsigned threads) {
    if (threads == 0) return;
    wg::io::CryptoPool& pool = pools.emplace_back(threads);
    n.out.runner = [&pool](std::span<AeadJob> jobs) { pool.run(jobs); };
  }
  // Sends one packet A → B's host and delivers everything until quiet.
  void handshake() {
    net.tun_batch(a, {marked6(kA6, kHost6, 100, 0)});
    net.pump();
  }
};

size_t drops(const Node& n, Drop d) { return n.dp.device().drops()[d]; }

// The datagrams `n` sent since message `from`.
std::vector<Bytes> sent_since(const Node& n, size_t from) {
  std::vector<Bytes> out;
  for (size_t i = from; i < n.out.udp.size(); ++i)
    for (const Bytes& d : n.out.udp[i].datagrams) out.push_back(d);
  return out;
}

void deliver(Net& net, Node& to, const std::vector<Bytes>& datagrams, const Endpoint& from) {
  std::vector<RxDatagram> batch;
  for (const Bytes& d : datagrams) batch.push_back(net.datagram_in(d, from));
  to.dp.on_datagrams(net.env(), batch);
}


}  // namespace

TEST_CASE("dataplane: the recorder catches a buffer changed between hand-over and flush") {
  RecordingEgress e;
  Bytes buf(100, 1);
  const iovec v{buf.data(), buf.size()};
  e.write_tun({&v, 1});
  e.flush();
  CHECK(e.changed_before_flush == 0);
  e.write_tun({&v, 1});
  buf[50] = 2;  // reused before the write completed
  e.flush();
  CHECK(e.changed_before_flush == 1);
}

TEST_CASE("dataplane: a handshake, then a packet each way; every batch ends in one flush") {
  Broker w;
  const size_t a_flushes = w.a.out.flushes;
  w.net.tun_batch(w.a, {marked6(kA6, kHost6, 200, 7)});
  CHECK(w.a.out.flushes == a_flushes + 1);
  REQUIRE(w.a.out.udp.size() == 1);  // the initiation; the packet is staged
  CHECK(w.a.out.udp[0].datagrams[0][0] == 1);
  w.net.pump();
  auto tun = w.b.out.tun_writes();
  REQUIRE(tun.size() == 1);
  CHECK(tun[0].bytes == marked6(kA6, kHost6, 200, 7));  // no virtio-net header on this TUN
  // And back: B's host answers through the session.
  w.net.tun_batch(w.b, {marked6(kHost6, kA6, 300, 8)});
  w.net.pump();
  REQUIRE(w.a.out.tun_writes().size() == 1);
  CHECK(marker_of(w.a.out.tun_writes()[0].bytes) == 8);
  CHECK(w.a.out.changed_before_flush == 0);
  CHECK(w.b.out.changed_before_flush == 0);
}

TEST_CASE("dataplane: one datagram batch mixing a handshake, data to the TUN and a port, a keepalive, garbage") {
  Broker w;
  Node& c = w.net.add(kC);
  w.net.connect(c, w.b, {prefix("::/0")}, {prefix("2001:db8:cc::/48")});
  w.handshake();
  // The instance on port 0 makes itself known, so B can deliver to it.
  w.net.port_batch(w.b, 0, {announce6(0, kInst6[0])});
  // What A sends: data to B's host, data to the instance (allowed inbound: TCP 22), a keepalive.
  const size_t from_a = w.a.out.udp.size();
  const Bytes to_host = marked6(kA6, kHost6, 120, 1);
  const Bytes to_inst = ip6(kA6, kInst6[0], pkt::kProtoTcp, tcp(40000, 22, 0x02));
  w.net.tun_batch(w.a, {to_host, to_inst});
  w.a.dp.device().send_keepalive(w.net.env(), w.b_on_a, w.a.dp.outbox());
  w.a.dp.flush_outbox();
  // What C sends: its initiation (its packet is staged).
  w.net.tun_batch(c, {marked6(kC6, kHost6, 100, 2)});
  REQUIRE(c.out.udp.size() == 1);
  std::vector<RxDatagram> batch;
  for (size_t i = from_a; i < w.a.out.udp.size(); ++i)
    for (const Bytes& d : w.a.out.udp[i].datagrams) batch.push_back(w.net.datagram_in(d, kA));
  REQUIRE(batch.size() == 3);
  batch.insert(batch.begin() + 1, w.net.datagram_in(c.out.udp[0].datagrams[0], kC));
  batch.push_back(w.net.datagram_in(Bytes{4, 0, 0, 0, 1, 2, 3}, kA));  // too short for data
  batch.push_back(w.net.datagram_in(Bytes(40, 9), kA));                // no such type
  c.sent = 1;  // delivered here, not by the network
  w.a.sent = w.a.out.udp.size();

  const size_t tun_before = w.b.out.tun_writes().size(), port_before = w.b.out.port_writes(0).size();
  const size_t udp_before = w.b.out.udp.size(), flushes = w.b.out.flushes;
  const size_t short_before = drops(w.b, Drop::TooShort), type_before = drops(w.b, Drop::UnknownType);
  w.b.dp.on_datagrams(w.net.env(), batch);

  CHECK(w.b.out.flushes == flushes + 1);
  const auto tun = w.b.out.tun_writes();
  REQUIRE(tun.size() == tun_before + 1);
  CHECK(tun.back().bytes == to_host);
  const auto port = w.b.out.port_writes(0);
  REQUIRE(port.size() == port_before + 1);
  CHECK(payload_of(port.back().bytes) == ip6(kA6, kInst6[0], pkt::kProtoTcp, tcp(40000, 22, 0x02), 63));  // one hop on
  CHECK(dst_mac_of(port.back().bytes) == kInstMac[0]);
  REQUIRE(w.b.out.udp.size() == udp_before + 1);  // the response to C, nothing for the keepalive
  CHECK(w.b.out.udp.back().to.same_remote(kC));
  CHECK(w.b.out.udp.back().datagrams[0][0] == 2);
  CHECK(drops(w.b, Drop::TooShort) == short_before + 1);
  CHECK(drops(w.b, Drop::UnknownType) == type_before + 1);
  // C completes its handshake and its staged packet reaches B's host.
  w.net.pump();
  CHECK(marker_of(w.b.out.tun_writes().back().bytes) == 2);
  CHECK(w.b.out.changed_before_flush == 0);
}

TEST_CASE("dataplane: TUN and port batches go to the tunnel, the ports and the host") {
  Broker w;
  w.handshake();
  w.net.port_batch(w.b, 0, {announce6(0, kInst6[0])});
  // The host's batch: one packet to the internet (peer A), one to instance 0.
  const size_t udp_before = w.b.out.udp.size();
  w.net.tun_batch(w.b, {marked6(kHost6, kA6, 200, 1), marked6(kHost6, kInst6[0], 200, 2, 5001)});
  CHECK(w.b.out.udp.size() == udp_before + 1);
  REQUIRE(w.b.out.port_writes(0).size() == 1);
  CHECK(marker_of(payload_of(w.b.out.port_writes(0)[0].bytes)) == 2);
  // The instance's batch: one packet to the internet, one to the gateway's host (denied).
  const size_t denied = drops(w.b, Drop::HostDenied);
  w.net.port_batch(w.b, 0, {inst_frame(0, marked6(kInst6[0], kA6, 300, 3)), inst_frame(0, marked6(kInst6[0], kHost6, 300, 4))});
  CHECK(drops(w.b, Drop::HostDenied) == denied + 1);
  w.net.pump();
  const auto at_a = w.a.out.tun_writes();
  REQUIRE(at_a.size() == 2);
  CHECK(marker_of(at_a[0].bytes) == 1);
  CHECK(marker_of(at_a[1].bytes) == 3);
  CHECK(w.b.out.changed_before_flush == 0);
}

TEST_CASE("dataplane: deferred seals and opens on 1 and 3 threads keep each peer's counter order") {
  for (unsigned threads : {1u, 3u}) {
    CAPTURE(threads);
    Broker w(threads, threads);
    w.handshake();
    const size_t first = w.a.out.udp.size(), jobs_before = w.a.out.aead_jobs;
    uint32_t marker = 100;
    for (int batch = 0; batch < 3; ++batch) {
      std::vector<Bytes> ips;
      for (int i = 0; i < 64; ++i) ips.push_back(marked6(kA6, kHost6, 100 + 13 * static_cast<size_t>(i), marker++));
      w.net.tun_batch(w.a, ips);
    }
    CHECK(w.a.out.aead_jobs == jobs_before + 192);  // every seal was deferred to the Egress
    // In the order they were handed over, the counters climb by one.
    std::vector<uint64_t> counters;
    for (size_t i = first; i < w.a.out.udp.size(); ++i)
      for (const Bytes& d : w.a.out.udp[i].datagrams) counters.push_back(counter_of(d));
    REQUIRE(counters.size() == 192);
    for (size_t i = 1; i < counters.size(); ++i) CHECK(counters[i] == counters[i - 1] + 1);
    const size_t opened_before = w.b.out.aead_jobs;
    w.net.pump();
    CHECK(w.b.out.aead_jobs >= opened_before + 192);  // opened on the Egress's threads
    const auto tun = w.b.out.tun_writes();
    REQUIRE(tun.size() == 193);  // the handshake's packet, then the 192 in order
    for (size_t i = 1; i < tun.size(); ++i) CHECK(marker_of(tun[i].bytes) == 100 + i - 1);
    CHECK(w.a.out.changed_before_flush == 0);
    CHECK(w.b.out.changed_before_flush == 0);
  }
}

TEST_CASE("dataplane: deferred opens refuse a forgery and a duplicate in the batch, deliver the rest in order") {
  for (unsigned threads : {1u, 3u}) {
    CAPTURE(threads);
    Broker w(0, threads);
    w.handshake();
    const size_t first = w.a.out.udp.size();
    std::vector<Bytes> ips;
    for (uint32_t i = 0; i < 40; ++i) ips.push_back(marked6(kA6, kHost6, 200, 1000 + i));
    w.net.tun_batch(w.a, ips);
    w.a.sent = w.a.out.udp.size();
    auto d = sent_since(w.a, first);
    REQUIRE(d.size() == 40);
    d[5][data::kHeaderLen + 7] ^= 1;  // forged
    d.push_back(d[3]);                // replayed within the batch
    const uint64_t forged = drops(w.b, Drop::DataDecrypt), replayed = drops(w.b, Drop::Replayed);
    const size_t jobs = w.b.out.aead_jobs, tun_before = w.b.out.tun_writes().size();
    deliver(w.net, w.b, d, kA);
    CHECK(w.b.out.aead_jobs == jobs + 41);  // every one looked acceptable before opening
    CHECK(drops(w.b, Drop::DataDecrypt) == forged + 1);
    CHECK(drops(w.b, Drop::Replayed) == replayed + 1);
    const auto tun = w.b.out.tun_writes();
    REQUIRE(tun.size() == tun_before + 39);
    for (size_t i = 0, want = 1000; i < 39; ++i, ++want) {
      if (want == 1005) ++want;
      CHECK(marker_of(tun[tun_before + i].bytes) == want);
    }
  }
}

TEST_CASE("dataplane: GSO runs end where the path or the size changes; one datagram each without GSO") {
  for (bool gso : {true, false}) {
    CAPTURE(gso);
    Net net;
    Node& a = net.add(kA);
    Node& b = net.add(kB);
    Node& c = net.add(kC);
    a.out.gso = gso;
    net.connect(a, b, {prefix("2001:db8:b::/48")}, {prefix("::/0")});
    net.connect(a, c, {prefix("2001:db8:c::/48")}, {prefix("::/0")});
    const Addr16 to_b = addr("2001:db8:b::1"), to_c = addr("2001:db8:c::1");
    net.tun_batch(a, {marked6(kA6, to_b, 100, 0), marked6(kA6, to_c, 100, 0)});
    net.pump();
    const size_t first = a.out.udp.size();
    auto p = [&](const Addr16& to, size_t len) { return marked6(kA6, to, len, 1); };
    net.tun_batch(a, {p(to_b, 1000), p(to_b, 1000), p(to_b, 1000), p(to_b, 500), p(to_b, 1000), p(to_b, 1000),
                      p(to_c, 1000), p(to_c, 1000), p(to_b, 1000)});
    std::vector<size_t> runs;
    for (size_t i = first; i < a.out.udp.size(); ++i) runs.push_back(a.out.udp[i].datagrams.size());
    if (gso) {
      // 1000-byte packets are 1040-byte datagrams (header, padding, tag): three and the shorter
      // one, then two more, then the other peer, then back.
      CHECK(runs == std::vector<size_t>{4, 2, 2, 1});
      CHECK(a.out.udp[first].to.same_remote(kB));
      CHECK(a.out.udp[first + 2].to.same_remote(kC));
      CHECK(a.out.udp[first].datagrams[3].size() < a.out.udp[first].datagrams[0].size());
    } else {
      CHECK(runs == std::vector<size_t>(9, 1));
    }
    // A run never passes kMaxGsoSegments datagrams.
    const size_t before = a.out.udp.size();
    net.tun_batch(a, std::vector<Bytes>(100, p(to_b, 200)));
    runs.clear();
    for (size_t i = before; i < a.out.udp.size(); ++i) runs.push_back(a.out.udp[i].datagrams.size());
    CHECK(runs == (gso ? std::vector<size_t>{kMaxGsoSegments, 100 - kMaxGsoSegments} : std::vector<size_t>(100, 1)));
  }
}

TEST_CASE("dataplane: a UDP_GRO receive is split into its datagrams, each decrypted in its place") {
  Broker w;
  w.handshake();
  const size_t first = w.a.out.udp.size();
  w.net.tun_batch(w.a, {marked6(kA6, kHost6, 1000, 1), marked6(kA6, kHost6, 1000, 2),
                        marked6(kA6, kHost6, 1000, 3), marked6(kA6, kHost6, 300, 4)});
  REQUIRE(w.a.out.udp.size() == first + 1);
  REQUIRE(w.a.out.udp[first].datagrams.size() == 4);
  const size_t tun_before = w.b.out.tun_writes().size();
  w.net.pump(/*gro=*/true);  // one receive carrying the four back to back
  const auto tun = w.b.out.tun_writes();
  REQUIRE(tun.size() == tun_before + 4);
  for (uint32_t i = 0; i < 4; ++i) CHECK(tun[tun_before + i].bytes == marked6(kA6, kHost6, i < 3 ? 1000 : 300, i + 1));
  CHECK(drops(w.b, Drop::DataDecrypt) == 0);
}

TEST_CASE("dataplane: decrypted TCP segments of one flow join into one write to the TUN and to a port") {
  Broker w;
  w.b.dp.set_tun_vnet(true);
  w.b.dp.set_coalescing(true, false);
  w.handshake();
  w.net.port_batch(w.b, 0, {announce6(0, kInst6[0])});
  auto seg = [&](const Addr16& dst, uint16_t dport, uint32_t k) {
    return ip6(kA6, dst, pkt::kProtoTcp, tcp(40000, dport, 0x10, 1000 + k * 1000, 1000));
  };
  std::vector<Bytes> to_host, to_inst;
  for (uint32_t k = 0; k < 8; ++k) to_host.push_back(seg(kHost6, 8080, k));
  // Inbound to the instance: port 22 is allowed, and an earlier SYN opened the flow.
  to_inst.push_back(ip6(kA6, kInst6[0], pkt::kProtoTcp, tcp(40000, 22, 0x02, 999)));
  for (uint32_t k = 0; k < 8; ++k) to_inst.push_back(seg(kInst6[0], 22, k));
  const size_t tun_before = w.b.out.tun_writes().size();
  w.net.tun_batch(w.a, to_host);
  w.net.tun_batch(w.a, to_inst);
  w.net.pump();
  const auto tun = w.b.out.tun_writes();
  REQUIRE(tun.size() == tun_before + 1);
  const auto& joined = tun.back();
  CHECK(joined.parts > 1);
  CHECK(joined.bytes[1] == pkt::kGsoTcpV6);  // virtio-net gso_type
  CHECK(joined.bytes.size() == kVnetLen + 40 + 20 + 8 * 1000);
  const auto port = w.b.out.port_writes(0);
  REQUIRE(port.size() >= 2);  // the SYN, then the eight joined
  CHECK(port.back().bytes[1] == pkt::kGsoTcpV6);
  CHECK(port.back().bytes.size() == kFrameHeader + 40 + 20 + 8 * 1000);
  CHECK(w.b.out.changed_before_flush == 0);
}

TEST_CASE("dataplane: TSO super-packets beyond the gateway's scratch leave whole; no buffer reused before its flush") {
  Broker w;
  w.b.dp.set_tun_vnet(true);
  w.handshake();
  // 16 super-packets of 60 000 bytes, cut at 1340: 45 segments each, 720 in all — more than the
  // gateway's scratch buffers, so it flushes in the middle of the batch.
  std::vector<Bytes> supers;
  const Vnet v{pkt::kVnetNeedsCsum, pkt::kGsoTcpV6, 60, 1340, 40, 16};
  for (uint32_t k = 0; k < 16; ++k)
    supers.push_back(ip6(kHost6, kA6, pkt::kProtoTcp, tcp(8080, 40000, 0x10, k * (60000 - 60), 60000 - 60)));
  const size_t flushes = w.b.out.flushes, first = w.b.out.udp.size();
  w.net.tun_batch(w.b, supers, &v);
  CHECK(w.b.out.flushes > flushes + 1);
  size_t datagrams = 0;
  for (size_t i = first; i < w.b.out.udp.size(); ++i) datagrams += w.b.out.udp[i].datagrams.size();
  CHECK(datagrams == 16 * 45);
  CHECK(w.b.out.changed_before_flush == 0);
  const size_t tun_before = w.a.out.tun_writes().size();
  w.net.pump();
  const auto tun = w.a.out.tun_writes();
  REQUIRE(tun.size() == tun_before + 16 * 45);
  // Every segment arrives in order with the bytes of its place in the stream.
  uint32_t seq = 0;
  for (size_t i = tun_before; i < tun.size(); ++i) {
    const Bytes& ip = tun[i].bytes;
    REQUIRE(ip.size() > 60);
    CHECK(get32(&ip[40 + 4]) == seq);
    CHECK(ip[60] == static_cast<uint8_t>(seq * 7 + 3));
    seq += static_cast<uint32_t>(ip.size() - 60);
  }
  CHECK(seq == 16 * (60000 - 60));
  CHECK(drops(w.a, Drop::DataDecrypt) == 0);
}

// Towards a peer, a deferring data plane seals each full TSO segment straight from the
// super-packet (its header placed in front of its payload there, even and odd segments in two
// rounds); a segment that needs padding is copied as before. Whatever the path, A must get the
// stream whole: every byte in its place, every transport checksum right.
TEST_CASE("dataplane: TSO segments towards a peer are sealed from their super-packet; bytes and checksums intact") {
  for (const bool deferred : {true, false})
    for (const uint8_t proto : {pkt::kProtoTcp, pkt::kProtoUdp}) {
      CAPTURE(deferred);
      CAPTURE(int{proto});
      Broker w(0, deferred ? 1 : 0);
      w.b.dp.set_tun_vnet(true);
      w.handshake();
      // 30 super-packets of 20 full segments (exactly the tunnel MTU: no padding) and a short
      // last one of 501 bytes (padded: copied): 630 segments, beyond the gateway's scratch.
      const size_t hdr = 40 + (proto == pkt::kProtoTcp ? 20 : 8);
      const auto mss = static_cast<uint16_t>(w.b.dp.tunnel_mtu() - hdr);
      const size_t payload = 20 * size_t{mss} + 501;
      const Vnet v{pkt::kVnetNeedsCsum, proto == pkt::kProtoTcp ? pkt::kGsoTcpV6 : pkt::kGsoUdpL4,
                   static_cast<uint16_t>(hdr), mss, 40, static_cast<uint16_t>(proto == pkt::kProtoTcp ? 16 : 6)};
      std::vector<Bytes> supers;
      for (uint32_t k = 0; k < 30; ++k) {
        Bytes l4 = proto == pkt::kProtoTcp ? tcp(8080, 40000, 0x18, static_cast<uint32_t>(k * payload), payload)
                                           : udp(8080, 40000, payload);
        if (proto == pkt::kProtoUdp)
          for (size_t i = 0; i < payload; ++i) l4[8 + i] = static_cast<uint8_t>((k * payload + i) * 7 + 3);
        supers.push_back(ip6(kHost6, kA6, proto, l4));
      }
      const auto before = w.b.dp.counters();
      const size_t tun_before = w.a.out.tun_writes().size();
      w.net.tun_batch(w.b, supers, &v);
      const auto after = w.b.dp.counters();
      CHECK(w.b.out.changed_before_flush == 0);
      CHECK(after.sealed_from_source - before.sealed_from_source == (deferred ? 30 * 20 : 0));
      CHECK(after.payload_copies - before.payload_copies == (deferred ? 30 : 630));
      w.net.pump();
      const auto tun = w.a.out.tun_writes();
      REQUIRE(tun.size() == tun_before + 630);
      size_t at = 0, bad_sums = 0, bad_bytes = 0;
      for (size_t i = tun_before; i < tun.size(); ++i) {
        const Bytes& ip = tun[i].bytes;
        REQUIRE(ip.size() > hdr);
        const size_t n = ip.size() - hdr;
        if (proto == pkt::kProtoTcp) CHECK(get32(&ip[40 + 4]) == static_cast<uint32_t>(at));
        for (size_t j = 0; j < n; ++j) bad_bytes += ip[hdr + j] != static_cast<uint8_t>((at + j) * 7 + 3);
        const uint64_t sum = pseudo_header_sum(Family::V6, &ip[8], &ip[24], proto, ip.size() - 40);
        bad_sums += checksum_of(word_sum(&ip[40], ip.size() - 40, sum)) != 0;
        at += n;
      }
      CHECK(at == 30 * payload);
      CHECK(bad_bytes == 0);
      CHECK(bad_sums == 0);
      CHECK(drops(w.a, Drop::DataDecrypt) == 0);
    }
}

namespace {

// A peer of B that starts a handshake: its initiation, not yet delivered.
struct Newcomer {
  Node& n;
  Bytes initiation;
  Newcomer(Broker& w, const Endpoint& at, bool known_to_b = true) : n(w.net.add(at)) {
    if (known_to_b)
      w.net.connect(n, w.b, {prefix("::/0")}, {prefix("2001:db8:cc::/48")});
    else
      n.dp.gateway().routes().insert(prefix("::/0"), RouteTarget::peer(*n.dp.device().add_peer(w.b.dp.device().identity().public_key)));
    if (!known_to_b) n.dp.device().set_endpoint(0, kB);
    w.net.tun_batch(n, {marked6(kC6, kHost6, 100, 9)});
    initiation = n.out.udp.back().datagrams[0];
    n.sent = n.out.udp.size();
  }
};

// Puts B under load with copies of c's initiation, so the last `n` copies earn cookie replies;
// returns those replies.
std::vector<Bytes> cookie_replies(Broker& w, const Newcomer& c, size_t n) {
  const size_t first = w.b.out.udp.size();
  deliver(w.net, w.b, std::vector<Bytes>(kUnderLoadPerSlice + n, c.initiation), kC);
  std::vector<Bytes> cookies;
  for (const Bytes& r : sent_since(w.b, first))
    if (r[0] == 3) cookies.push_back(r);
  REQUIRE(cookies.size() >= n);
  return cookies;
}

struct DropCase {
  Drop drop;
  // Sets the scene in a Broker with a session and returns the node whose counter must grow by
  // the batch it hands in there.
  std::function<Node&(Broker&)> run;
};

Bytes with_type(size_t len, uint8_t type) {
  Bytes b(len, 0);
  b[0] = type;
  return b;
}

// A data message from A to B, sealed by A's Device around `plain`.
Bytes sealed_by_a(Broker& w, const Bytes& plain) {
  Bytes buf(send_capacity(plain.size()));
  std::copy(plain.begin(), plain.end(), buf.begin() + data::kHeaderLen);
  const TxResult t = w.a.dp.device().send(w.net.env(), w.b_on_a, buf, plain.size(), w.a.dp.outbox());
  REQUIRE(t.status == TxStatus::Sent);
  return Bytes(t.datagram.begin(), t.datagram.end());
}

Bytes data_from_a(Broker& w, const Bytes& ip) {
  const size_t first = w.a.out.udp.size();
  w.net.tun_batch(w.a, {ip});
  w.a.sent = w.a.out.udp.size();
  auto d = sent_since(w.a, first);
  REQUIRE(d.size() == 1);
  return d[0];
}

std::vector<DropCase> drop_cases() {
  const Bytes inst_syn = ip6(kA6, kInst6[0], pkt::kProtoTcp, tcp(40000, 22, 0x02));
  auto to_b = [](Broker& w, const std::vector<Bytes>& d, const Endpoint& from = kA) -> Node& {
    deliver(w.net, w.b, d, from);
    return w.b;
  };
  auto from_a_to_b = [](Broker& w, const Bytes& ip) -> Node& {
    const Bytes d = data_from_a(w, ip);
    deliver(w.net, w.b, {d}, kA);
    return w.b;
  };
  auto instance = [](Broker& w, int i, const std::vector<Bytes>& frames) -> Node& {
    w.net.port_batch(w.b, static_cast<PortId>(i), frames);
    return w.b;
  };
  return {
      {Drop::TooShort, [=](Broker& w) -> Node& { return to_b(w, {Bytes{4, 0, 0, 0, 1}}); }},
      {Drop::UnknownType, [=](Broker& w) -> Node& { return to_b(w, {with_type(40, 9)}); }},
      {Drop::BadLength, [=](Broker& w) -> Node& { return to_b(w, {with_type(100, 1)}); }},
      {Drop::NoPrivateKey,
       [=](Broker& w) -> Node& {
         const uint8_t none[32] = {};
         w.b.dp.device().set_private_key(w.net.env(), none, w.b.dp.outbox());
         w.b.dp.flush_outbox();
         return to_b(w, {with_type(initiation::kLen, 1)});
       }},
      {Drop::BadMac1, [=](Broker& w) -> Node& { return to_b(w, {with_type(initiation::kLen, 1)}); }},
      {Drop::HandshakeDecrypt,
       [=](Broker& w) -> Node& {
         Newcomer c(w, kC);
         c.initiation[50] ^= 1;  // inside the encrypted static key
         wg::testing::fix_mac1(c.initiation, w.b.dp.device().identity().public_key);
         return to_b(w, {c.initiation}, kC);
       }},
      {Drop::UnknownPeer,
       [=](Broker& w) -> Node& {
         Newcomer e(w, kC, /*known_to_b=*/false);
         return to_b(w, {e.initiation}, kC);
       }},
      {Drop::TimestampReplay,
       [=](Broker& w) -> Node& {
         Newcomer c(w, kC);
         to_b(w, {c.initiation}, kC);
         w.net.clock.advance(std::chrono::milliseconds(50));
         return to_b(w, {c.initiation}, kC);
       }},
      {Drop::InitiationFlood,
       [=](Broker& w) -> Node& {
         Newcomer c(w, kC);
         w.net.clock.advance(kRekeyTimeout + std::chrono::milliseconds(100));
         c.n.dp.tick(w.net.env());  // its retry: a newer timestamp
         const Bytes retry = c.n.out.udp.back().datagrams[0];
         REQUIRE(retry != c.initiation);
         return to_b(w, {c.initiation, retry}, kC);
       }},
      {Drop::CookieSent,
       [=](Broker& w) -> Node& {
         Newcomer c(w, kC);
         return to_b(w, std::vector<Bytes>(kUnderLoadPerSlice + 4, c.initiation), kC);
       }},
      {Drop::CookieBudget,
       [=](Broker& w) -> Node& {
         // Under load, more cookie replies asked for than one source (or the device) may get.
         Newcomer c(w, kC);
         return to_b(w, std::vector<Bytes>(kUnderLoadPerSlice + kCookieReplyBurst + 10, c.initiation), kC);
       }},
      {Drop::HandshakeBudget,
       [=](Broker& w) -> Node& {
         // Sources that each earned a cookie (an attacker with many real addresses) send as many
         // valid-mac2 initiations as their per-source limit lets through: together more than
         // the device's handshake budget.
         Newcomer c(w, kC);
         Device& cd = c.n.dp.device();
         auto initiation = [&] {
           Bytes msg(initiation::kLen);
           Handshake hs;
           REQUIRE(create_initiation(w.net.env(), cd.identity(), cd.peer(0)->keys(), hs, 4242, msg));
           cd.peer(0)->cookie.add_macs(w.net.env(), msg);
           return msg;
         };
         deliver(w.net, w.b, std::vector<Bytes>(kUnderLoadPerSlice, c.initiation), kC);  // under load
         for (uint8_t j = 1; j <= kHandshakeBurst / RateLimiter::kBurst + 2; ++j) {
           const Endpoint src = Endpoint::v4(203, 0, 113, j, 4000);
           const size_t before = w.b.out.udp.size();
           deliver(w.net, w.b, {initiation()}, src);
           REQUIRE(w.b.out.udp.size() == before + 1);
           const Bytes reply = w.b.out.udp.back().datagrams[0];
           REQUIRE(reply[0] == 3);
           REQUIRE(cd.peer(0)->cookie.consume_reply(w.net.env(), reply) == Drop::None);
           std::vector<Bytes> batch;
           for (uint32_t k = 0; k < RateLimiter::kBurst; ++k) batch.push_back(initiation());
           deliver(w.net, w.b, batch, src);
         }
         return w.b;
       }},
      {Drop::UnknownIndex, [=](Broker& w) -> Node& { return to_b(w, {with_type(data::kMinLen, 4)}); }},
      {Drop::HandshakeState,
       [=](Broker& w) -> Node& {
         // B's response again: A has no handshake waiting for it any more.
         Bytes response;
         for (const auto& m : w.b.out.udp)
           if (m.datagrams[0][0] == 2) response = m.datagrams[0];
         REQUIRE(!response.empty());
         deliver(w.net, w.a, {response}, kB);
         return w.a;
       }},
      {Drop::CookieUnexpected,
       [=](Broker& w) -> Node& {
         Newcomer c(w, kC);
         const auto cookies = cookie_replies(w, c, 2);
         deliver(w.net, c.n, {cookies[0], cookies[1]}, kB);  // the second finds no mac1 waiting
         return c.n;
       }},
      {Drop::CookieDecrypt,
       [=](Broker& w) -> Node& {
         Newcomer c(w, kC);
         Bytes cookie = cookie_replies(w, c, 1)[0];
         cookie[40] ^= 1;
         deliver(w.net, c.n, {cookie}, kB);
         return c.n;
       }},
      {Drop::RateLimited,
       [=](Broker& w) -> Node& {
         Newcomer c(w, kC);
         deliver(w.net, c.n, {cookie_replies(w, c, 1)[0]}, kB);
         w.net.clock.advance(kRekeyTimeout + std::chrono::milliseconds(100));
         c.n.dp.tick(w.net.env());  // the retry carries a mac2 now
         const Bytes retry = c.n.out.udp.back().datagrams[0];
         // B under load again (other sources), then the retry more often than its rate allows.
         Newcomer d(w, Endpoint::v4(192, 0, 2, 4, 51820));
         std::vector<Bytes> batch(kUnderLoadPerSlice, d.initiation);
         deliver(w.net, w.b, batch, d.n.addr);
         return to_b(w, std::vector<Bytes>(RateLimiter::kBurst + 5, retry), kC);
       }},
      {Drop::KeyExpired,
       [=](Broker& w) -> Node& {
         const Bytes d = data_from_a(w, marked6(kA6, kHost6, 100, 1));
         w.net.clock.advance(kRejectAfterTime + std::chrono::seconds(1));
         return to_b(w, {d});
       }},
      {Drop::Replayed,
       [=](Broker& w) -> Node& {
         const Bytes d = data_from_a(w, marked6(kA6, kHost6, 100, 1));
         return to_b(w, {d, d});
       }},
      {Drop::DataDecrypt,
       [=](Broker& w) -> Node& {
         Bytes d = data_from_a(w, marked6(kA6, kHost6, 100, 1));
         d[30] ^= 1;
         return to_b(w, {d});
       }},
      {Drop::BadInnerPacket, [=](Broker& w) -> Node& { return to_b(w, {sealed_by_a(w, Bytes(40, 0))}); }},
      {Drop::InnerLength,
       [=](Broker& w) -> Node& {
         Bytes ip = marked6(kA6, kHost6, 100, 1);
         put16(&ip[4], 1000);  // the IPv6 payload length claims more than is there
         return to_b(w, {sealed_by_a(w, ip)});
       }},
      {Drop::NoEndpoint,
       [=](Broker& w) -> Node& {
         Node& c = w.net.add(kC);
         w.net.connect(c, w.b, {prefix("::/0")}, {prefix("2001:db8:cc::/48")});
         w.net.tun_batch(w.b, {marked6(kHost6, kC6, 100, 1)});  // C never said where it is
         return w.b;
       }},
      {Drop::NoPeer,
       [=](Broker& w) -> Node& {
         w.b.dp.gateway().routes().insert(prefix("2001:db8:dead::/48"), RouteTarget::peer(999));
         w.net.tun_batch(w.b, {marked6(kHost6, addr("2001:db8:dead::1"), 100, 1)});
         return w.b;
       }},
      {Drop::StagedOverflow,
       [=](Broker& w) -> Node& {
         Node& c = w.net.add(kC);
         w.net.connect(c, w.b, {prefix("::/0")}, {prefix("2001:db8:cc::/48")});
         w.net.tun_batch(c, std::vector<Bytes>(kMaxStagedPackets + 3, marked6(kC6, kHost6, 100, 1)));
         return c;
       }},
      {Drop::SealFailed,
       [=](Broker& w) -> Node& {
         // Only with deferred seals (the Broker for this case has worker threads on B).
         w.b.out.fail_aead = true;
         w.net.tun_batch(w.b, {marked6(kHost6, kA6, 100, 1)});
         w.b.out.fail_aead = false;
         const Bytes& sent = w.b.out.udp.back().datagrams[0];
         CHECK(std::all_of(sent.begin() + data::kHeaderLen, sent.end(), [](uint8_t x) { return x == 0; }));
         return w.b;
       }},
      {Drop::NoRoute,
       [=](Broker& w) -> Node& {
         w.net.tun_batch(w.a, {marked6(kA6, addr("2001:db8:99::1"), 100, 1)});
         return w.a;
       }},
      {Drop::SourceNotAllowed,
       [=](Broker& w) -> Node& {
         // B's host sends from an address A does not route to B.
         w.net.tun_batch(w.b, {marked6(addr("2001:db8:99::1"), kA6, 100, 1)});
         w.net.pump();
         return w.a;
       }},
      {Drop::LinkDown,
       [=](Broker& w) -> Node& {
         const Bytes d = data_from_a(w, marked6(kA6, kHost6, 100, 1));
         w.b.dp.device().set_up(w.net.env(), false, w.b.dp.outbox());
         w.b.dp.flush_outbox();
         return to_b(w, {d});
       }},
      {Drop::SpoofedSource,
       [=](Broker& w) -> Node& { return instance(w, 0, {inst_frame(0, marked6(kInst6[1], kA6, 100, 1))}); }},
      {Drop::EastWest,
       [=](Broker& w) -> Node& { return instance(w, 0, {inst_frame(0, marked6(kInst6[0], kInst6[1], 100, 1))}); }},
      {Drop::HostDenied,
       [=](Broker& w) -> Node& { return instance(w, 0, {inst_frame(0, marked6(kInst6[0], kHost6, 100, 1))}); }},
      {Drop::InboundDenied,
       [=](Broker& w) -> Node& {
         return from_a_to_b(w, ip6(kA6, kInst6[0], pkt::kProtoTcp, tcp(40000, 80, 0x02)));
       }},
      {Drop::Unreachable,
       [=](Broker& w) -> Node& { return from_a_to_b(w, marked6(kA6, addr("2001:db8:64:2050::1"), 100, 1)); }},
      {Drop::TtlExceeded,
       [=](Broker& w) -> Node& {
         return from_a_to_b(w, ip6(kA6, kInst6[0], pkt::kProtoTcp, tcp(40000, 22, 0x02), /*hop=*/1));
       }},
      {Drop::TooBig,
       [=](Broker& w) -> Node& { return from_a_to_b(w, marked6(kA6, kInst6[1], 1400, 1)); }},  // port 1: MTU 1280
      {Drop::BadFrame,
       [=](Broker& w) -> Node& { return instance(w, 0, {frame(kPortMac[0], kInstMac[0], 0x86dd, Bytes(10, 0x60))}); }},
      {Drop::NotForUs,
       [=](Broker& w) -> Node& {
         const Mac other{0x02, 0, 0, 0, 0, 0x99};
         return instance(w, 0, {frame(other, kInstMac[0], 0x86dd, marked6(kInst6[0], kA6, 100, 1))});
       }},
      {Drop::NeighbourUnresolved,
       [=](Broker& w) -> Node& {
         // Two packets for instance 1, whose MAC is not known yet: the first waits, the
         // second pushes it out.
         const Bytes d1 = data_from_a(w, marked6(kA6, kInst6[1], 100, 1, 5001));
         const Bytes d2 = data_from_a(w, marked6(kA6, kInst6[1], 100, 2, 5001));
         return to_b(w, {d1, d2});
       }},
      {Drop::AutoconfLimited,
       [=](Broker& w) -> Node& {
         PortSpec s = seed_port(0);
         s.router_advertisements = true;
         w.b.dp.gateway().update_port(0, s);
         // One more Router Solicitation than a port answers at once.
         const Addr16 all_routers = addr("ff02::2");
         const Bytes rs = ip6(addr("fe80::2"), all_routers, pkt::kProtoIcmp6, icmp(pkt::kNdRouterSolicit, 0, Bytes(4, 0)), 255);
         const Bytes f = frame(multicast_mac(all_routers), kInstMac[0], 0x86dd, rs);
         return instance(w, 0, std::vector<Bytes>(Gateway::kAutoconfBurst + 1, f));
       }},
      {Drop::GsoUnsupported,
       [=](Broker& w) -> Node& {
         w.b.dp.set_tun_vnet(true);
         const Vnet v{0, pkt::kGsoTcpV6, 60, 1000, 0, 0};  // a TCP segmentation of a UDP packet
         w.net.tun_batch(w.b, {marked6(kHost6, kA6, 3000, 1)}, &v);
         return w.b;
       }},
      {Drop::PortWrite,
       [=](Broker& w) -> Node& {
         w.b.dp.gateway().detach_port(0);  // its device went away
         w.net.port_batch(w.b, 0, {announce6(0, kInst6[0])});
         return from_a_to_b(w, inst_syn);
       }},
  };
}

// Reasons no batch can produce, and why.
const std::vector<std::pair<Drop, const char*>> kNotFromABatch = {
    {Drop::None, "not a drop"},
    {Drop::NoBufferRoom, "every buffer has its tail room (core/buffer_layout.hpp static_asserts)"},
    {Drop::TunWrite, "a failed write: counted by the I/O backend (io_tun_write_errors)"},
    {Drop::UdpSend, "a failed send: counted by the I/O backend (io_udp_send_errors)"},
};

}  // namespace

TEST_CASE("dataplane: every drop reason is reachable from a batch and counted there") {
  const auto cases = drop_cases();
  for (size_t r = 0; r < kDropReasonCount; ++r) {
    const Drop d = static_cast<Drop>(r);
    CAPTURE(drop_name(d));
    const bool reachable = std::any_of(cases.begin(), cases.end(), [&](const DropCase& c) { return c.drop == d; });
    const bool excused = std::any_of(kNotFromABatch.begin(), kNotFromABatch.end(), [&](const auto& e) { return e.first == d; });
    CHECK(reachable != excused);  // each reason is either shown here or explained
  }
  for (const DropCase& c : cases) {
    CAPTURE(drop_name(c.drop));
    const unsigned threads = c.drop == Drop::SealFailed ? 2 : 0;
    Broker w(0, threads);
    w.handshake();
    w.net.port_batch(w.b, 0, {announce6(0, kInst6[0])});
    const uint64_t a_before = w.a.dp.device().drops()[c.drop], b_before = w.b.dp.device().drops()[c.drop];
    Node& where = c.run(w);
    const uint64_t was = &where == &w.a ? a_before : &where == &w.b ? b_before : 0;
    CHECK(where.dp.device().drops()[c.drop] > was);
    CHECK(where.out.changed_before_flush == 0);
  }
}

// Found by fuzz/dataplane_fuzz: the copies of the control messages a batch answers with lived
// in a vector that grew (reallocated) once a batch answered more than its 64 slots, leaving
// the sends queued before pointing into freed memory, which then went out on the wire.
TEST_CASE("dataplane: a batch answering more datagrams than it has control slots sends every answer intact") {
  Broker w;
  w.net.tun_batch(w.a, {marked6(kA6, kHost6, 100, 1)});
  REQUIRE(w.a.out.udp.size() == 1);
  const Bytes init = w.a.out.udp[0].datagrams[0];
  REQUIRE(init[0] == 1);
  w.a.sent = 1;  // delivered here, not by the network
  // Under load, every copy of the initiation earns a cookie reply: 100 of them in one batch.
  w.b.dp.device().note_handshake_backlog(w.net.clock.now, kUnderLoadQueueLen);
  const std::vector<RecordingEgress::Message> copies{{kB, std::vector<Bytes>(50, init)}, {kB, std::vector<Bytes>(50, init)}};
  const size_t cookies_before = drops(w.b, Drop::CookieSent), first = w.b.out.udp.size();
  w.net.deliver(w.b, kA, copies, true);
  REQUIRE(drops(w.b, Drop::CookieSent) == cookies_before + 100);
  const std::vector<Bytes> replies = sent_since(w.b, first);
  REQUIRE(replies.size() == 100);
  for (const Bytes& r : replies) {
    CHECK(r.size() == cookie_reply::kLen);
    CHECK(r[0] == 3);
    // Addressed to the initiation's sender index.
    CHECK(std::equal(r.begin() + cookie_reply::kReceiver, r.begin() + cookie_reply::kReceiver + 4,
                     init.begin() + initiation::kSender));
  }
  CHECK(w.b.out.changed_before_flush == 0);
}
