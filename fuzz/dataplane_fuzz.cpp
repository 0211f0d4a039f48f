// fuzz/dataplane_fuzz.cpp — batches of arbitrary input through a whole data plane: the seed's
// gateway (B) with a session to its tunnel broker (A), fed datagrams (arbitrary, or sealed by A
// around arbitrary inner packets, one by one or as one UDP_GRO receive), TUN reads (with an
// arbitrary virtio-net header) and port frames, in any order, with time passing in between.
// Checked after every batch: nothing handed to the Egress changed before its flush (a buffer
// reused too early), every datagram B sends is a well-formed message, and every data message B
// sends to A decrypts there.
//
// Input: byte 0 = switches (bit 0 virtio-net TUN, bit 1 coalescing, bit 2 deferred AEAD,
// bit 3 UDP GSO, bit 4 datagrams as UDP_GRO receives), then operations
// [op][count] followed by count items [len: 2 bytes LE][bytes]:
//   op % 5 == 0 datagrams, 1 data messages sealed by A around the items, 2 TUN reads (first 10
//   bytes of an item: its virtio-net header), 3 port frames (port = count & 1), 4 time passes
//   (count × 100 ms) and timers run.
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "aead_choice.hpp"
#include "core/dataplane_harness.hpp"

using namespace wg::testing::dp;

namespace {

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "dataplane_fuzz: %s\n", what);
    std::abort();
  }
}

const Endpoint kA = Endpoint::v4(192, 0, 2, 1, 51820);
const Endpoint kB = Endpoint::v4(192, 0, 2, 2, 51820);

struct Reader {
  const uint8_t* p;
  size_t n;
  bool take(size_t k, const uint8_t*& out) {
    if (n < k) return false;
    out = p;
    p += k;
    n -= k;
    return true;
  }
  bool byte(uint8_t& b) {
    const uint8_t* q;
    if (!take(1, q)) return false;
    b = *q;
    return true;
  }
  bool item(Bytes& out) {
    const uint8_t* q;
    if (!take(2, q)) return false;
    const size_t len = std::min<size_t>(size_t{q[0]} | size_t{q[1]} << 8, n);
    take(len, q);
    out.assign(q, q + len);
    return true;
  }
};

// B's datagrams since `from`: well formed, and its data messages open at A.
void check_output(Net& net, Node& a, Node& b, size_t from) {
  check(b.out.changed_before_flush == 0, "a buffer changed before its flush");
  check(a.out.changed_before_flush == 0, "a buffer changed before its flush (A)");
  std::vector<RxDatagram> to_a;
  for (size_t i = from; i < b.out.udp.size(); ++i)
    for (const Bytes& d : b.out.udp[i].datagrams) {
      check(d.size() >= 4 && d[1] == 0 && d[2] == 0 && d[3] == 0, "a datagram without a message header");
      switch (d[0]) {
        case 1: check(d.size() == initiation::kLen, "initiation of the wrong size"); break;
        case 2: check(d.size() == response::kLen, "response of the wrong size"); break;
        case 3: check(d.size() == cookie_reply::kLen, "cookie reply of the wrong size"); break;
        case 4:
          check(d.size() >= data::kMinLen && (d.size() - data::kMinLen) % 16 == 0, "data message not padded");
          if (b.out.udp[i].to.same_remote(kA)) to_a.push_back(net.datagram_in(d, kB));
          break;
        default: check(false, "a datagram of no known type");
      }
    }
  if (to_a.empty()) return;
  const uint64_t bad = a.dp.device().drops()[Drop::DataDecrypt];
  a.dp.on_datagrams(net.env(), to_a);
  check(a.dp.device().drops()[Drop::DataDecrypt] == bad, "a data message from B does not open at A");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Reader in{data, size};
  uint8_t sw = 0;
  if (!in.byte(sw)) return 0;
  Net net;
  Node& a = net.add(kA);
  Node& b = net.add(kB, (sw & 4) != 0);
  b.out.gso = (sw & 8) != 0;
  b.dp.set_tun_vnet((sw & 1) != 0);
  b.dp.set_coalescing((sw & 2) != 0, false);
  auto [b_on_a, a_on_b] = net.connect(a, b, {prefix("2001:db8:64::/48"), prefix("192.0.2.0/24")}, {});
  configure_seed(b.dp, a_on_b);
  net.tun_batch(a, {marked6(kRemote6, kHost6, 100, 0)});
  net.pump();
  net.port_batch(b, 0, {announce6(0, kInst6[0])});

  uint8_t op = 0, count = 0;
  for (int ops = 0; ops < 16 && in.byte(op) && in.byte(count); ++ops) {
    std::vector<Bytes> items;
    Bytes it;
    for (unsigned k = 0; k < std::min<unsigned>(count, 64) && (op % 5 != 4) && in.item(it); ++k) items.push_back(it);
    const size_t from = b.out.udp.size();
    switch (op % 5) {
      case 0:
      case 1: {
        std::vector<RecordingEgress::Message> msgs(1);
        msgs[0].to = kB;
        for (Bytes& x : items) {
          if (op % 5 == 1) {
            Bytes buf(send_capacity(x.size()));
            std::copy(x.begin(), x.end(), buf.begin() + data::kHeaderLen);
            const TxResult t = a.dp.device().send(net.env(), b_on_a, buf, x.size(), a.dp.outbox());
            a.dp.outbox().clear();
            if (t.status != TxStatus::Sent) continue;
            x.assign(t.datagram.begin(), t.datagram.end());
          }
          if (!x.empty()) msgs[0].datagrams.push_back(x);
        }
        if (!msgs[0].datagrams.empty()) net.deliver(b, kA, msgs, (sw & 16) != 0);
        break;
      }
      case 2: {
        std::vector<Bytes> ips;
        std::vector<Vnet> vnets;
        Vnet v;
        for (const Bytes& x : items) {
          if (b.dp.tun_vnet() && x.size() >= kVnetLen) {
            v = Vnet{x[0], x[1], static_cast<uint16_t>(x[2] | x[3] << 8), static_cast<uint16_t>(x[4] | x[5] << 8),
                     static_cast<uint16_t>(x[6] | x[7] << 8), static_cast<uint16_t>(x[8] | x[9] << 8)};
            ips.emplace_back(x.begin() + kVnetLen, x.end());
          } else {
            ips.push_back(x);
          }
        }
        // One header for the batch: the harness writes the same one in front of each read.
        if (!ips.empty()) net.tun_batch(b, ips, b.dp.tun_vnet() ? &v : nullptr);
        break;
      }
      case 3:
        if (!items.empty()) net.port_batch(b, count & 1, items);
        break;
      case 4:
        net.clock.advance(std::chrono::milliseconds(100) * count);
        a.dp.tick(net.env());
        b.dp.tick(net.env());
        break;
    }
    check_output(net, a, b, from);
    net.buffers.clear();
  }
  return 0;
}
