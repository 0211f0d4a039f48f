// fuzz/coalesce_fuzz.cpp — core/coalesce on packets as they leave the tunnel: whatever an
// authenticated peer puts inside (its plaintext is its own choice). Input: one mode byte (bit 0:
// port frames with a 14-byte Ethernet header, bit 1: UDP joining on, bit 2: switched off), then
// packets, each as a 2-byte big-endian length and its bytes. Every packet sits in its own
// exactly-sized buffer behind its headroom, so ASan sees any access outside it.
//
// Holds the coalescer to: every input leaves exactly once (a joined write splits back into as
// many segments as it took packets); each piece of a write lies inside one input's buffer; a
// joined write parses as an IP packet, and splitting it again with pkt::gso_segment gives
// segments whose payloads are the pieces' bytes, with transport checksums that the reference
// computation accepts.
#include <memory>
#include <vector>

#include "core/coalesce.hpp"
#include "packet_fuzz.hpp"

namespace {

using namespace wg::fuzzing::packets;

struct Input {
  std::unique_ptr<uint8_t[]> buf;
  size_t front = 0, len = 0;
  const uint8_t* begin() const { return buf.get(); }
  const uint8_t* end() const { return buf.get() + front + len; }
};

struct Sink final : wg::core::GatherSink {
  const std::vector<Input>* in = nullptr;
  size_t l2 = 0;
  size_t packets_out = 0;

  const Input* owner(const iovec& v) const {
    const auto* p = static_cast<const uint8_t*>(v.iov_base);
    for (const Input& i : *in)
      if (p >= i.begin() && p + v.iov_len <= i.end()) return &i;
    return nullptr;
  }

  void emit(std::span<const iovec> parts) override {
    check(!parts.empty(), "coalesce: empty write");
    for (const iovec& v : parts) check(owner(v) != nullptr, "coalesce: a piece outside every input buffer");
    Bytes all;
    for (const iovec& v : parts) {
      const auto* p = static_cast<const uint8_t*>(v.iov_base);
      all.insert(all.end(), p, p + v.iov_len);
    }
    check(all.size() >= pkt::kVnetLen + l2, "coalesce: write shorter than its headers");
    const pkt::VnetHeader h = pkt::read_vnet(all.data());
    const Bytes ip(all.begin() + static_cast<long>(pkt::kVnetLen + l2), all.end());
    if (h.gso_type == pkt::kGsoNone) {
      check(parts.size() == 1 && h.flags == 0, "coalesce: a single packet with a GSO header or pieces");
      ++packets_out;
      return;
    }
    check(h.flags == pkt::kVnetNeedsCsum, "coalesce: super-packet without NEEDS_CSUM");
    check(h.csum_start >= l2 && h.hdr_len >= h.csum_start, "coalesce: header offsets");
    pkt::IpInfo info;
    check(pkt::parse_ip(ip, info) == pkt::IpError::None, "coalesce: super-packet does not parse");
    check(info.len <= 65535 && info.len == ip.size(), "coalesce: super-packet length");
    const size_t n = pkt::gso_segments(ip, info, h.gso_type, h.gso_size);
    check(n == parts.size(), "coalesce: segments do not match the pieces");
    const size_t hdr = h.hdr_len - l2;
    for (size_t k = 0; k < n; ++k) {
      Bytes seg(65536);
      const size_t len = pkt::gso_segment(ip, info, h.gso_type, h.gso_size, k, seg.data(), seg.size());
      check(len > hdr, "coalesce: segment could not be cut");
      seg.resize(len);
      const bool v6 = info.family == Family::V6;
      check(craft::l4_checksum_ok(v6, &seg[v6 ? 8 : 12], &seg[v6 ? 24 : 16], info.proto,
                                  std::span<const uint8_t>(seg).subspan(info.l4)),
            "coalesce: segment checksum");
      // The piece this segment's payload came from.
      const auto* p = static_cast<const uint8_t*>(parts[k].iov_base);
      size_t plen = parts[k].iov_len;
      if (k == 0) {
        p += pkt::kVnetLen + l2 + hdr;
        plen -= pkt::kVnetLen + l2 + hdr;
      }
      check(plen == len - hdr && std::memcmp(p, seg.data() + hdr, plen) == 0, "coalesce: segment payload");
    }
    packets_out += n;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t mode = data[0];
  const size_t l2 = mode & 1 ? pkt::kEthLen : 0;
  std::vector<Input> in;
  size_t at = 1;
  while (at + 2 <= size && in.size() < 200) {
    const size_t len = std::min<size_t>(size_t{data[at]} << 8 | data[at + 1], size - at - 2);
    at += 2;
    Input i;
    i.front = pkt::kVnetLen + l2;
    i.len = len;
    i.buf = std::make_unique<uint8_t[]>(i.front + len);
    std::memset(i.buf.get(), 0xa5, i.front);  // an Ethernet header shared by every frame
    if (len) std::memcpy(i.buf.get() + i.front, data + at, len);
    at += len;
    in.push_back(std::move(i));
  }
  wg::core::Coalescer c(l2);
  c.set_udp(mode & 2);
  c.set_enabled(!(mode & 4));
  Sink sink;
  sink.in = &in;
  sink.l2 = l2;
  for (Input& i : in) c.add(i.buf.get() + i.front, i.len, sink);
  c.drain(sink);
  check(sink.packets_out == in.size(), "coalesce: packets lost or duplicated");
  return 0;
}
