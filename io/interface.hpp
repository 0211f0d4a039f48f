// io/interface.hpp — one running WireGuard interface: the event loop and the control plane
// around its data plane (core/dataplane.hpp): the UDP sockets, the TUN, the ports' devices,
// the UAPI socket, signals, link monitoring, and the batches the I/O backend reads, handed to
// the data plane, whose output comes back here as the core::Egress that queues it on the
// backend. Single-threaded; everything here is touched by the loop only (the AEAD work of a
// batch may run on CryptoPool threads).
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
#include "core/dataplane.hpp"
#include "io/clock.hpp"
#include "io/crypto_pool.hpp"
#include "io/metrics_server.hpp"
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

class Interface final : public PacketSink, public config::UapiHooks, public core::Egress {
 public:
  Interface(tun::TunDevice tun, int uapi_listen_fd, std::string uapi_path, InterfaceOptions opts);
  ~Interface() override;
  Interface(const Interface&) = delete;
  Interface& operator=(const Interface&) = delete;

  // Runs until SIGINT/SIGTERM, the TUN device is deleted (seen through its own descriptor,
  // wherever it was moved) or the UAPI socket file removed.
  // Returns the process exit status. The crypto pool's threads start here, so until run() the
  // process has one thread and a privilege drop just before it covers every thread.
  int run();

  core::DataPlane& dataplane() { return dp_; }
  core::Device& device() { return dp_.device(); }
  core::RouteTable& allowed_ips() { return dp_.gateway().routes(); }
  core::Gateway& gateway() { return dp_.gateway(); }
  const core::Gateway& gateway() const { return dp_.gateway(); }
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
  // After the UAPI socket's traffic was handled (a `wg set` may have added or removed peers):
  // the service manager's STATUS line follows the peer count (tools/notify.hpp). Called once
  // per wakeup of a UAPI descriptor, never from the data path.
  std::function<void()> after_uapi;
  // Calls on_readable on the loop thread whenever fd is readable (an eventfd, a pipe): how work
  // done off the loop (io/resolver.hpp) comes back to it. The caller keeps fd open until
  // unwatch_fd or the Interface's end.
  void watch_fd(int fd, std::function<void()> on_readable);
  void unwatch_fd(int fd);
  // The Prometheus endpoint (MetricsListen): serves GET /metrics on listen_fd (taken; bound by
  // io::metrics_listen before privileges were dropped) from now on, in place of any earlier
  // one, whose connections are closed. -1 stops serving. text: the MetricsListen value;
  // unix_path: removed at the end when it is a unix socket.
  void set_metrics(int listen_fd, std::string text = {}, std::string unix_path = {});
  // The MetricsListen value served now, empty for none.
  std::string metrics_text() const { return metrics_ ? metrics_->text() : std::string(); }

  // PacketSink
  void on_datagrams(std::span<RxDatagram> batch) override;
  void on_tun_packets(std::span<DeviceRead> batch) override;
  void on_port_frames(uint32_t port, std::span<DeviceRead> batch) override;
  void on_fd(int fd) override;
  // The TUN gone: find it (deleted: stop); a port's device gone: detach the port.
  void on_device_gone(std::optional<uint32_t> port, int err) override;

  // Egress: the data plane's output, queued on the backend; AEAD work on the pool.
  void send_udp(const core::Endpoint& to, std::span<const iovec> datagrams) override;
  void write_tun(std::span<const iovec> parts) override;
  void write_port(core::PortId port, std::span<const iovec> parts) override;
  void run_aead(std::span<core::AeadJob> jobs) override;
  bool batch_aead() const override { return pool_ != nullptr || crypto::batches_pay(crypto::default_aead_backend()); }
  bool udp_gso() const override { return io_->udp_gso(); }
  void flush() override { io_->flush(); }

  // Reads the clocks again. The loop does it once per batch; what drives the interface before
  // run() (`up` applying its file) does it before anything it does is time-stamped, or the
  // timers it sets count from when the Interface was made.
  void refresh_clock();

  // UapiHooks
  core::Env env() override { return core::Env{now_, wall_, rng_}; }
  core::Outbox& outbox() override { return dp_.outbox(); }
  uint16_t listen_port() const override { return udp_.port(); }
  int set_listen_port(uint16_t port) override;
  uint32_t fwmark() const override { return udp_.fwmark(); }
  int set_fwmark(uint32_t mark) override;
  void append_status(std::string& out) const override;

 private:
  void log_events();
  void tick();
  void forget_stale_sources();
  // A descriptor given to watch_fd: runs its callback; false for any other descriptor.
  bool run_watcher(int fd);
  std::string peer_name(core::PeerId id) const;
  // Link events: the TUN's change the tunnel (up, MTU; deleted or moved: locate_device), and
  // the veth ports': a deleted interface detaches its port, one created again under the port's
  // name is attached again (io/interface_ports.cpp).
  void on_link_events();
  void on_port_links(bool complete);
  // A port whose descriptor failed for good (a deleted TAP): detached until a reload.
  void detach_gone_port(uint32_t id);
  void reattach_port(uint32_t id);

  SystemRng rng_;
  core::Instant now_;
  core::WallTime wall_;
  core::DataPlane dp_;
  std::vector<tun::PortDevice> ports_;              // by port index
  std::vector<std::optional<uint32_t>> port_mtu_;  // link MTU set when a port is brought up
  tun::TunDevice tun_;
  UdpSockets udp_;
  std::unique_ptr<PacketIo> io_;
  OffloadSwitches switches_;
  OffloadState offload_;
  unsigned threads_ = 1;              // InterfaceOptions::threads, started by run()
  std::unique_ptr<CryptoPool> pool_;  // nullptr: one thread, AEAD inline
  UapiServer uapi_;
  std::unique_ptr<MetricsServer> metrics_;
  std::string name_;
  // Link events of every namespace with an id here: the TUN's, wherever it lives, and the veth
  // ports', in this one.
  tun::LinkEvents links_;
  std::vector<tun::LinkEvents::Event> link_events_;
  int dev_nsid_ = tun::LinkEvents::kThisNamespace;  // where the TUN lives (its id here)
  int dev_ifindex_ = -1;                             // its index there (-1: not followed)
  ino_t dev_ns_inode_ = 0;   // that namespace (0: not known)
  bool follow_warned_ = false;
  void apply_link_state(const tun::LinkState& st);
  int signal_fd_ = -1;
  bool stop_ = false;
  int exit_status_ = 0;
  core::Instant next_tick_{};
  core::Instant next_housekeeping_{};
  std::unordered_map<core::PeerId, core::Instant> reresolved_;  // last stale-session re-resolve
  std::vector<std::pair<int, std::function<void()>>> watchers_;  // watch_fd
};

}  // namespace wg::io
