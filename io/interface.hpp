// io/interface.hpp — one running WireGuard interface: the protocol Device, the AllowedIPs
// table, the UDP sockets, the TUN, the UAPI socket, link monitoring, and the event loop that
// moves batches between them. Single-threaded; everything here is touched by the loop only.
#pragma once
#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/uapi.hpp"
#include "core/coalesce.hpp"
#include "core/device.hpp"
#include "core/gateway.hpp"
#include "core/prefix_table.hpp"
#include "core/udp_batch.hpp"
#include "io/clock.hpp"
#include "io/crypto_pool.hpp"
#include "io/offload.hpp"
#include "io/packet_io.hpp"
#include "io/udp.hpp"
#include "io/uapi_server.hpp"
#include "tun/netlink.hpp"
#include "tun/netns.hpp"
#include "tun/port.hpp"
#include "tun/tun.hpp"

namespace wg::io {

struct InterfaceOptions {
  bool force_fallback = false;  // epoll + recvmmsg even where io_uring works
  OffloadSwitches offload;      // what may be used (each is still detected)
  unsigned threads = 1;         // threads doing AEAD work for a batch (io/crypto_pool.hpp)
};

class Interface final : public PacketSink, public config::UapiHooks, public core::GatewayOutput {
 public:
  Interface(tun::TunDevice tun, int uapi_listen_fd, std::string uapi_path, InterfaceOptions opts);
  ~Interface() override;
  Interface(const Interface&) = delete;
  Interface& operator=(const Interface&) = delete;

  // Runs until SIGINT/SIGTERM, the TUN device is deleted (seen through its own descriptor,
  // wherever it was moved) or the UAPI socket file removed.
  // Returns the process exit status.
  int run();

  core::Device& device() { return device_; }
  core::RouteTable& allowed_ips() { return gateway_.routes(); }
  core::Gateway& gateway() { return gateway_; }
  // --- gateway ports (io/interface_ports.cpp) ---
  // Adds a gateway port on an opened TAP or attached interface; returns its index. link_mtu:
  // the MTU the port's link was given when brought up (none: left as it was); a veth port
  // whose interface is deleted and created again under the same name is attached again and
  // brought up the same way.
  uint32_t add_port(tun::PortDevice dev, core::PortSpec spec, std::optional<uint32_t> link_mtu = std::nullopt);
  // Removes a port for good: routes and neighbours gone (core::Gateway::remove_port), its
  // descriptor unwatched in the backend and closed. Its index is not used again.
  void remove_port(uint32_t id);
  // The port's device (nullptr once removed).
  const tun::PortDevice* port_device(uint32_t id) const;
  // Sets a port's link MTU now and for later re-attachments.
  int set_port_link_mtu(uint32_t id, std::optional<uint32_t> mtu);
  std::optional<uint32_t> port_link_mtu(uint32_t id) const;
  // The tunnel MTU for both the protocol (padding) and the router (Too Big, segment sizes).
  void set_tunnel_mtu(uint32_t mtu);
  // The name the interface was created with: its UAPI socket and its log lines keep it.
  const std::string& name() const { return name_; }
  // The TUN's index in the namespace it lives in now.
  int ifindex() const { return tun_.ifindex(); }
  // A netlink socket in the namespace the TUN lives in now, for the interface's addresses,
  // routes and link state (the UDP sockets stay where the process runs); nullptr when the
  // device is gone or its namespace cannot be entered. Short-lived on purpose: a socket kept
  // in a container's namespace would keep that namespace alive.
  std::unique_ptr<tun::Netlink> device_netlink() const;
  // The TUN's namespace (TUNGETDEVNETNS), empty when it is gone or cannot be asked.
  tun::NetnsFd device_netns() const;
  // Finds the TUN again: deleted (stop), moved to another namespace (follow its link events
  // there), or still where it was. Called on the monitor's "deleted" (a move looks the same),
  // on a failed TUN read and at start.
  void locate_device();
  std::string_view io_name() const { return io_->name(); }
  // The offloads in effect now (UDP GSO goes off at run time if the kernel refuses it).
  OffloadState offload_state() const;
  const OffloadSwitches& offload_switches() const { return switches_; }
  // Sends whatever the Device queued outside a batch (configuration changes, startup).
  void flush_outbox();
  // Called when a peer stops answering: every third unanswered initiation (~15 s) and when
  // the handshake is given up. Native mode re-resolves hostname endpoints here.
  std::function<void(core::PeerId)> on_peer_unresponsive;
  // SIGHUP: native mode re-reads its file here. Without a handler SIGHUP stops the interface.
  std::function<void()> on_reload;
  // Calls on_readable on the loop thread whenever fd is readable (an eventfd, a pipe): how work
  // done off the loop (io/resolver.hpp) comes back to it. The caller keeps fd open until
  // unwatch_fd or the Interface's end.
  void watch_fd(int fd, std::function<void()> on_readable);
  void unwatch_fd(int fd);

  // PacketSink
  void on_datagrams(std::span<RxDatagram> batch) override;
  void on_tun_packets(std::span<DeviceRead> batch) override;
  void on_port_frames(uint32_t port, std::span<DeviceRead> batch) override;
  void on_fd(int fd) override;
  void on_tun_error(int err) override;
  void on_port_gone(uint32_t port) override;

  // GatewayOutput
  core::Drop to_tunnel(const core::Env& env, core::PeerId peer, std::span<uint8_t> buf, size_t len) override;
  void to_tun(std::span<uint8_t> ip) override;
  void to_port(uint32_t port, std::span<uint8_t> frame) override;
  void flush() override;

  // UapiHooks
  core::Env env() override { return core::Env{now_, wall_, rng_}; }
  core::Outbox& outbox() override { return outbox_; }
  uint16_t listen_port() const override { return udp_.port(); }
  int set_listen_port(uint16_t port) override;
  uint32_t fwmark() const override { return udp_.fwmark(); }
  int set_fwmark(uint32_t mark) override;
  void append_status(std::string& out) const override;

 private:
  void refresh_clock();
  void queue_outbox();
  void log_events();
  void tick();
  void forget_stale_sources();
  void forget_all_sources();
  // A descriptor given to watch_fd: runs its callback; false for any other descriptor.
  bool run_watcher(int fd);
  std::string peer_name(core::PeerId id) const;
  // Link events of veth ports: a deleted interface detaches its port, one created again under
  // the port's name is attached again (io/interface_ports.cpp).
  void on_port_links();
  void reattach_port(uint32_t id);
  // Seals what the batch deferred, then sends the super-packets the coalescers hold open:
  // before every flush of the I/O.
  void drain_coalescers();
  void run_seals();
  // Opens the batch's data messages on the pool; open_result_[i] then points at datagram i's
  // result (nullptr: receive() opens it itself).
  void open_batch(std::span<RxDatagram> batch);
  // Temporary until the data plane (issue 11) takes over: datagrams queued by the batch, handed
  // to the I/O in GSO runs (core::gso_run) before every flush, and UDP_GRO receives split.
  void queue_udp(const core::Endpoint& to, std::span<const uint8_t> bytes);
  void hand_sends();
  std::vector<core::UdpSend> udp_sends_;
  std::vector<iovec> udp_iov_;
  std::vector<RxDatagram> rx_split_;

  // Where the coalescers' writes go.
  struct TunSink final : core::GatherSink {
    PacketIo* io = nullptr;
    void emit(std::span<const iovec> parts) override { io->write_tun(parts); }
  };
  struct PortSink final : core::GatherSink {
    PacketIo* io = nullptr;
    uint32_t id = 0;
    void emit(std::span<const iovec> parts) override { io->write_port(id, parts); }
  };

  SystemRng rng_;
  core::Instant now_;
  core::WallTime wall_;
  core::Device device_;
  core::Gateway gateway_;
  std::vector<tun::PortDevice> ports_;              // by port index
  std::vector<std::optional<uint32_t>> port_mtu_;  // link MTU set when a port is brought up
  tun::PortLinkWatch port_links_;                  // opened with the first veth port
  std::vector<tun::PortLinkWatch::Event> port_events_;
  core::Outbox outbox_;
  tun::TunDevice tun_;
  UdpSockets udp_;
  std::unique_ptr<PacketIo> io_;
  OffloadSwitches switches_;
  OffloadState offload_;
  core::Coalescer tun_gro_;
  TunSink tun_sink_;
  std::vector<core::Coalescer> port_gro_;
  std::unique_ptr<CryptoPool> pool_;  // nullptr: one thread, AEAD inline
  std::vector<core::AeadJob> seal_jobs_;
  std::vector<core::AeadJob> open_jobs_;
  std::vector<const bool*> open_result_;
  std::vector<size_t> open_at_;
  std::vector<PortSink> port_sinks_;
  UapiServer uapi_;
  std::string name_;
  tun::LinkMonitor links_;   // the TUN's link events, in whichever namespace it lives
  ino_t dev_ns_inode_ = 0;   // that namespace (0: not known)
  bool follow_warned_ = false;
  void apply_link_state(const tun::LinkState& st);
  int signal_fd_ = -1;
  bool stop_ = false;
  int exit_status_ = 0;
  core::Instant next_tick_{};
  core::Instant next_housekeeping_{};
  // Copies of control messages (handshakes, keepalives) until the next flush.
  std::vector<std::array<uint8_t, core::kMaxControlLen>> control_copies_;
  size_t control_used_ = 0;
  std::vector<core::Event> pending_events_;
  std::unordered_map<core::PeerId, core::Instant> reresolved_;  // last stale-session re-resolve
  std::vector<std::pair<int, std::function<void()>>> watchers_;  // watch_fd
};

}  // namespace wg::io
