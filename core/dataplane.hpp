// core/dataplane.hpp — the data path of one interface as one unit: the protocol Device, the
// Gateway (AllowedIPs, ports, policy), the coalescers towards the TUN and each port, and the
// batch's AEAD work. Batches come in from the I/O backends; everything leaves through one
// core::Egress. Pure like its parts: no descriptors, no clock, no threads of its own, so a test
// drives it with a recording Egress.
//
//   datagrams  ► split UDP_GRO ► [open on the Egress's threads] ► Device::receive
//              ► Gateway::from_tunnel ► TUN / port coalescer
//   TUN reads  ► Gateway::from_tun ► Device::send (seal in place or deferred) ► UDP
//   port reads ► Gateway::from_port (L2, anti-spoof, policy) ► Device::send ► UDP
//   end of batch: deferred seals run ► coalescers drain ► UDP sends grouped into GSO runs
//              ► Egress::flush ► buffers (the batch's, scratch, control copies) free again
//
// Control-plane changes (UAPI, timers, configuration) call the Device with outbox() and then
// flush_outbox(). Everything here runs on the loop thread; only run_aead may use others.
#pragma once
#include <array>
#include <deque>
#include <span>
#include <vector>

#include "core/coalesce.hpp"
#include "core/device.hpp"
#include "core/egress.hpp"
#include "core/gateway.hpp"
#include "core/udp_batch.hpp"

namespace wg::core {

struct DataPlaneCounters {
  uint64_t gro_super_packets = 0;  // coalesced writes towards the TUN and the ports
  uint64_t gro_segments = 0;
  // Packet bytes copied in user space on the way (the Gateway's segments, fragments and parked
  // packets, and segments that could not be sealed from their super-packet).
  uint64_t payload_copies = 0;
  uint64_t payload_copy_bytes = 0;
  // TSO segments sealed straight from their super-packet (SealSource).
  uint64_t sealed_from_source = 0;
};

class DataPlane final : public GatewayOutput {
 public:
  // A batch with fewer data messages than this opens them inline even when the Egress takes
  // batches: one message gains nothing from being handed over.
  static constexpr size_t kBatchOpenFrom = 2;
  // The longest segment header sealed from its super-packet (IPv6 + TCP with options is 80).
  static constexpr size_t kMaxSealHeader = 128;

  // flow_capacity: the gateway's flow table (core/flow_table.hpp); scratch_buffers: its
  // scratch buffers at most (Gateway).
  DataPlane(Egress& out, uint64_t seed, size_t flow_capacity = 65536, size_t scratch_buffers = Gateway::kScratchBuffers);
  DataPlane(const DataPlane&) = delete;
  DataPlane& operator=(const DataPlane&) = delete;

  Device& device() { return device_; }
  const Device& device() const { return device_; }
  Gateway& gateway() { return gateway_; }
  const Gateway& gateway() const { return gateway_; }
  // Where control-plane Device calls put the messages and events they cause; flush_outbox()
  // sends them.
  Outbox& outbox() { return outbox_; }

  // --- configuration (between batches) ---
  // The TUN has a virtio-net header: every write carries one, TCP/UDP segments may be joined.
  void set_tun_vnet(bool vnet) { tun_vnet_ = vnet; }
  bool tun_vnet() const { return tun_vnet_; }
  // Joining decrypted segments into super-packets (GRO) towards the TUN and ports; `udp`: also
  // UDP datagrams (the kernel takes UDP_L4 writes).
  void set_coalescing(bool on, bool udp);
  // The tunnel MTU: the Device's padding limit, which the Gateway reads for Too Big and
  // segment sizes (GatewayOutput::tunnel_mtu); the Gateway's scratch buffers grow to fit it.
  void set_tunnel_mtu(uint32_t mtu);
  uint32_t tunnel_mtu() const override { return device_.mtu(); }
  // Adds a port to the Gateway and gives it a coalescer; returns its index.
  PortId add_port(PortSpec spec);
  // Removes a port for good: what its coalescer holds and what is queued for it leaves first.
  void remove_port(PortId id);

  // --- batches: each one leaves completely (Egress::flush) before this returns ---
  void on_datagrams(const Env& env, std::span<RxDatagram> batch);
  void on_tun_packets(const Env& env, std::span<DeviceRead> batch);
  void on_port_frames(const Env& env, PortId port, std::span<DeviceRead> batch);

  // --- control plane ---
  // Sends what control-plane Device calls queued in outbox() (handshakes, keepalives, packets
  // staged until a handshake completed) and lets the buffers go.
  void flush_outbox();
  // Runs the Device's due timers (a bounded number of peers) and sends what they queued.
  // True when more are due: call again after the next I/O turn.
  bool tick(const Env& env);
  // Protocol events (handshakes, endpoint changes) since the last take, for the log.
  std::vector<Event>& events() { return events_; }
  // The sticky local source towards `remote` failed (the address went away): routing picks one.
  void forget_source(const Endpoint& remote);
  void forget_all_sources();
  DataPlaneCounters counters() const;

  // GatewayOutput
  Drop to_tunnel(const Env& env, PeerId peer, std::span<uint8_t> buf, size_t len,
                 const SealSource* from = nullptr) override;
  bool seals_from_source() const override { return out_.batch_aead(); }
  void to_tun(std::span<uint8_t> ip) override;
  void to_port(uint32_t port, std::span<uint8_t> frame) override;
  void flush() override;

 private:
  // Where the coalescers' writes go.
  struct TunSink final : GatherSink {
    Egress* out = nullptr;
    void emit(std::span<const iovec> parts) override { out->write_tun(parts); }
  };
  struct PortSink final : GatherSink {
    Egress* out = nullptr;
    PortId id = 0;
    void emit(std::span<const iovec> parts) override { out->write_port(id, parts); }
  };

  // Copies what the outbox holds into the batch's sends (control messages into
  // control_copies_: the outbox's storage lives only until the next Device call).
  void queue_outbox();
  // Opens the batch's data messages on the Egress's threads; opened_[i] then points at
  // datagram i's result (nullptr: Device::receive opens it itself).
  void open_batch(const Env& env);
  void run_seals();
  // Seals whose plaintext lies in a super-packet (placed_): the even segments' headers go in
  // first (the bytes under them kept), those seals run with every other deferred one; then the
  // kept bytes go back, the odd segments' headers go in and their seals run.
  void seal_in_rounds();
  // Hands the queued sends to the Egress, grouped into GSO runs where it may, and flushes it:
  // the batch's datagrams, control copies and writes have left when this returns.
  void send_all();
  // The end of a batch (or of the Gateway's scratch): seals, coalescers, sends, flush.
  void finish();

  Egress& out_;
  Device device_;
  Gateway gateway_;
  Outbox outbox_;
  bool tun_vnet_ = false;
  bool coalesce_ = true, coalesce_udp_ = false;
  Coalescer tun_gro_;
  TunSink tun_sink_;
  std::vector<Coalescer> port_gro_;  // by port index
  std::vector<PortSink> port_sinks_;
  // The batch's datagrams after the UDP_GRO split.
  std::vector<RxDatagram> rx_;
  // Deferred seals (Device::send) and prepared opens of this batch.
  std::vector<AeadJob> seal_jobs_;
  std::vector<AeadJob> odd_seal_jobs_;  // the second round of seal_in_rounds
  struct Placed {
    uint8_t* at;           // where the header goes, in the super-packet
    const uint8_t* header;  // the header, at the front of the seal's destination
    size_t len;
    bool odd;
    std::array<uint8_t, kMaxSealHeader> kept;  // what lay under it (even segments)
  };
  std::vector<Placed> placed_;
  uint64_t copies_ = 0, copy_bytes_ = 0, sealed_from_source_ = 0;
  std::vector<AeadJob> open_jobs_;
  std::vector<const bool*> opened_;
  std::vector<size_t> open_at_;
  // Datagrams to send at the end of the batch, in order, and their gather entries (kept until
  // the Egress is flushed: it may hold on to them).
  std::vector<UdpSend> sends_;
  std::vector<iovec> send_iov_;
  // A deque: growing it must not move the copies queued sends_ already point into (a batch
  // can answer more datagrams than it has slots).
  std::deque<std::array<uint8_t, kMaxControlLen>> control_copies_;
  size_t control_used_ = 0;
  std::vector<Event> events_;
};

}  // namespace wg::core
