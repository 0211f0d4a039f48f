// core/dataplane.cpp — one batch in, one flush out (see core/dataplane.hpp).
#include "core/dataplane.hpp"

#include <cstring>

#include "crypto/secure.hpp"

namespace wg::core {

DataPlane::DataPlane(Egress& out, uint64_t seed, size_t flow_capacity, size_t scratch_buffers)
    : out_(out), gateway_(device_.drop_counters(), seed, flow_capacity, scratch_buffers) {
  tun_sink_.out = &out_;
  control_copies_.resize(64);
  rx_.reserve(kMaxBatch * kMaxGroSegments);
  sends_.reserve(kMaxBatch * 4);
  send_iov_.reserve(kMaxBatch * 4);
  seal_jobs_.reserve(1024);
  odd_seal_jobs_.reserve(512);
  placed_.reserve(1024);
  open_jobs_.reserve(kMaxBatch * kMaxGroSegments);
  opened_.reserve(kMaxBatch * kMaxGroSegments);
  open_at_.reserve(kMaxBatch * kMaxGroSegments);
  gateway_.reserve_for_mtu(device_.mtu());
}

void DataPlane::set_coalescing(bool on, bool udp) {
  coalesce_ = on;
  coalesce_udp_ = udp;
  tun_gro_.set_enabled(on);
  tun_gro_.set_udp(udp);
  for (Coalescer& c : port_gro_) {
    c.set_enabled(on);
    c.set_udp(udp);
  }
}

void DataPlane::set_tunnel_mtu(uint32_t mtu) {
  device_.set_mtu(mtu);
  gateway_.reserve_for_mtu(mtu);
}

PortId DataPlane::add_port(PortSpec spec) {
  const PortId id = gateway_.add_port(std::move(spec));
  if (port_gro_.size() <= id) {
    port_gro_.resize(id + 1, Coalescer(kEthLen));
    port_sinks_.resize(id + 1);
  }
  port_gro_[id].set_enabled(coalesce_);
  port_gro_[id].set_udp(coalesce_udp_);
  port_sinks_[id].out = &out_;
  port_sinks_[id].id = id;
  return id;
}

void DataPlane::remove_port(PortId id) {
  flush();  // what the port's coalescer holds and the writes queued for it go out first
  gateway_.remove_port(id);
}

DataPlaneCounters DataPlane::counters() const {
  DataPlaneCounters c;
  c.payload_copies = gateway_.counters().payload_copies + copies_;
  c.payload_copy_bytes = gateway_.counters().payload_copy_bytes + copy_bytes_;
  c.sealed_from_source = sealed_from_source_;
  c.gro_super_packets = tun_gro_.counters().super_packets;
  c.gro_segments = tun_gro_.counters().segments_joined;
  for (const Coalescer& g : port_gro_) {
    c.gro_super_packets += g.counters().super_packets;
    c.gro_segments += g.counters().segments_joined;
  }
  return c;
}

// --- batches ---

void DataPlane::open_batch(const Env& env) {
  open_jobs_.clear();
  open_at_.clear();
  opened_.assign(rx_.size(), nullptr);
  if (rx_.size() < kBatchOpenFrom || !out_.batch_aead()) return;
  for (size_t i = 0; i < rx_.size(); ++i) {
    AeadJob j;
    if (!device_.prepare_open(rx_[i].bytes, env.now, j)) continue;
    open_at_.push_back(i);
    open_jobs_.push_back(j);
    crypto::wipe(j.key.data(), j.key.size());
  }
  out_.run_aead(open_jobs_);
  for (size_t k = 0; k < open_at_.size(); ++k) opened_[open_at_[k]] = &open_jobs_[k].ok;
}

void DataPlane::on_datagrams(const Env& env, std::span<RxDatagram> batch) {
  rx_.clear();
  for (const RxDatagram& d : batch) split_gro(rx_, d);
  if (!device_.is_up()) {
    // A down interface neither answers nor delivers, as the kernel's closes its sockets.
    for (size_t i = 0; i < rx_.size(); ++i) device_.count_drop(Drop::LinkDown);
    return;
  }
  open_batch(env);
  for (size_t i = 0; i < rx_.size(); ++i) {
    RxDatagram& d = rx_[i];
    const RxResult r = device_.receive(env, d.from, d.bytes, outbox_, opened_[i]);
    if (r.kind == RxKind::Data) {
      // The plaintext sits inside the datagram; the buffer's headroom lies in front of both.
      std::span<uint8_t> buf(d.bytes.data() - d.headroom, d.headroom + d.bytes.size());
      const size_t off = d.headroom + static_cast<size_t>(r.plaintext.data() - d.bytes.data());
      gateway_.from_tunnel(env, r.peer, buf, off, r.plaintext.size(), *this);
    }
    if (!outbox_.empty()) queue_outbox();
  }
  finish();
}

void DataPlane::on_tun_packets(const Env& env, std::span<DeviceRead> batch) {
  for (DeviceRead& p : batch) {
    pkt::VnetHeader h;
    if (tun_vnet_) h = pkt::read_vnet(p.buf.data() + kIngressHeadroom - kVnetLen);
    gateway_.from_tun(env, p.buf, kIngressHeadroom, p.len, tun_vnet_ ? &h : nullptr, *this);
  }
  finish();
}

void DataPlane::on_port_frames(const Env& env, PortId port, std::span<DeviceRead> batch) {
  for (DeviceRead& f : batch) gateway_.from_port(env, port, f.buf, kPortReadOffset, f.len, *this);
  finish();
}

// --- output ---

Drop DataPlane::to_tunnel(const Env& env, PeerId peer, std::span<uint8_t> buf, size_t len, const SealSource* from) {
  const bool batch = out_.batch_aead();
  if (from && !(batch && from->header <= kMaxSealHeader && device_.sends_at_once(env.now, peer, len))) {
    // Staged, sealed at once, padded or dropped: the Device needs the whole packet in buf.
    std::memcpy(buf.data() + data::kHeaderLen + from->header, from->at + from->header, len - from->header);
    ++copies_;
    copy_bytes_ += len;
    from = nullptr;
  }
  const size_t jobs_before = seal_jobs_.size();
  const TxResult t = device_.send(env, peer, buf, len, outbox_, batch ? &seal_jobs_ : nullptr);
  if (from) {
    // sends_at_once held, so the seal was deferred: it reads the segment from the super-packet.
    AeadJob& j = seal_jobs_.at(jobs_before);
    j.src = from->at;
    placed_.push_back({from->at, j.data, from->header, from->odd, {}});
    if (from->odd) {
      odd_seal_jobs_.push_back(j);
      crypto::wipe(j.key.data(), j.key.size());  // the copy that stays behind in seal_jobs_'s storage
      seal_jobs_.pop_back();
    }
    ++sealed_from_source_;
  }
  if (t.status == TxStatus::Sent) sends_.push_back({t.to, t.datagram});
  if (!outbox_.empty()) queue_outbox();
  return t.status == TxStatus::Dropped ? t.drop : Drop::None;
}

// With a virtio-net header on the TUN every write carries one: the coalescer writes it in
// front of the packet (kIngressHeadroom leaves the room), joined or not.
void DataPlane::to_tun(std::span<uint8_t> ip) {
  if (tun_vnet_) return tun_gro_.add(ip.data(), ip.size(), tun_sink_);
  const iovec v{ip.data(), ip.size()};
  out_.write_tun({&v, 1});
}

void DataPlane::to_port(uint32_t port, std::span<uint8_t> frame) {
  if (port < port_gro_.size() && frame.size() > kFrameHeader)
    return port_gro_[port].add(frame.data() + kFrameHeader, frame.size() - kFrameHeader, port_sinks_[port]);
  const iovec v{frame.data(), frame.size()};
  out_.write_port(port, {&v, 1});
}

void DataPlane::flush() { finish(); }

void DataPlane::queue_outbox() {
  for (size_t i = 0; i < outbox_.size(); ++i) {
    const Outbox::Item item = outbox_[i];
    if (!item.to.valid()) continue;
    if (item.bytes.size() <= kMaxControlLen) {
      if (control_used_ == control_copies_.size()) control_copies_.emplace_back();
      auto& slot = control_copies_[control_used_++];
      std::memcpy(slot.data(), item.bytes.data(), item.bytes.size());
      sends_.push_back({item.to, {slot.data(), item.bytes.size()}});
    } else {
      // A staged data packet flushed after a handshake: its storage lives only until the next
      // Device call, so it leaves now, with everything queued before it (rare).
      sends_.push_back({item.to, item.bytes});
      run_seals();
      send_all();
    }
  }
  for (const Event& ev : outbox_.events()) events_.push_back(ev);
  outbox_.clear();
}

void DataPlane::run_seals() {
  if (seal_jobs_.empty() && odd_seal_jobs_.empty()) return;
  if (placed_.empty())
    out_.run_aead(seal_jobs_);
  else
    seal_in_rounds();
  for (std::vector<AeadJob>* jobs : {&seal_jobs_, &odd_seal_jobs_}) {
    for (const AeadJob& j : *jobs)
      if (!j.ok) {
        // Never let a plaintext leave: the datagram goes out as zeros the peer drops.
        std::memset(j.data, 0, j.len + kTagLen);
        device_.count_drop(Drop::SealFailed);
      }
    jobs->clear();
  }
}

// Segment i's plaintext is its header followed by its payload; in the super-packet the payload
// follows the end of segment i-1's payload, so segment i's header is written over that end.
// Neighbours cannot both be in place at once; even and odd segments take turns (two bursts of
// jobs instead of one, and a few header-sized copies instead of one copy of every payload).
void DataPlane::seal_in_rounds() {
  for (Placed& p : placed_)
    if (!p.odd) {
      std::memcpy(p.kept.data(), p.at, p.len);
      std::memcpy(p.at, p.header, p.len);
    }
  out_.run_aead(seal_jobs_);
  for (Placed& p : placed_)
    if (!p.odd) std::memcpy(p.at, p.kept.data(), p.len);
  for (Placed& p : placed_)
    if (p.odd) std::memcpy(p.at, p.header, p.len);
  out_.run_aead(odd_seal_jobs_);
  placed_.clear();
}

void DataPlane::send_all() {
  for (const UdpSend& s : sends_) send_iov_.push_back({const_cast<uint8_t*>(s.bytes.data()), s.bytes.size()});
  const bool gso = out_.udp_gso();
  for (size_t i = 0; i < sends_.size();) {
    const size_t k = gso ? gso_run(sends_, i) : 1;
    out_.send_udp(sends_[i].to, std::span<const iovec>(send_iov_).subspan(i, k));
    i += k;
  }
  out_.flush();
  sends_.clear();
  send_iov_.clear();
  control_used_ = 0;  // every copy has left
}

void DataPlane::finish() {
  run_seals();
  tun_gro_.drain(tun_sink_);
  for (size_t p = 0; p < port_gro_.size(); ++p) port_gro_[p].drain(port_sinks_[p]);
  send_all();
  gateway_.flushed();
}

// --- control plane ---

void DataPlane::flush_outbox() {
  queue_outbox();
  finish();
}

bool DataPlane::tick(const Env& env) {
  const bool more = device_.tick(env, outbox_);
  gateway_.tick(env, *this);
  flush_outbox();
  return more;
}

void DataPlane::forget_source(const Endpoint& remote) {
  device_.for_each_peer([&](PeerId id, const Peer& p) {
    if (p.endpoint.same_remote(remote)) device_.peer(id)->endpoint.clear_local();
  });
}

void DataPlane::forget_all_sources() {
  device_.for_each_peer([this](PeerId id, const Peer&) { device_.peer(id)->endpoint.clear_local(); });
}

}  // namespace wg::core
