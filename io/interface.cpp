// io/interface.cpp — the loop and its control plane: batches from the backend go to the data
// plane (core/dataplane.hpp), its output goes back to the backend; signals, link events, the
// UAPI and timers change the data plane's state between batches.
#include "io/interface.hpp"

#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "config/status.hpp"
#include "crypto/encoding.hpp"
#include "crypto/secure.hpp"
#include "io/privileges.hpp"

namespace wg::io {

namespace {

using core::Drop;
using core::Family;

constexpr core::Duration kTickInterval = std::chrono::milliseconds(50);
constexpr core::Duration kUapiTurn = std::chrono::milliseconds(1);
constexpr core::Duration kStaleSession = std::chrono::seconds(135);
constexpr core::Duration kReresolveEvery = std::chrono::seconds(15);

int make_signal_fd() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

}  // namespace

Interface::Interface(tun::TunDevice tun, int uapi_listen_fd, std::string uapi_path, InterfaceOptions opts)
    : dp_(*this, (uint64_t{rng_.next_u32()} << 32) | rng_.next_u32()),
      tun_(std::move(tun)),
      uapi_(uapi_listen_fd, std::move(uapi_path)),
      name_(tun_.name()) {
  refresh_clock();
  std::string why;
  if (!opts.force_fallback) io_ = make_uring_io(why);
  if (!io_) {
    io_ = make_epoll_io();
    if (!opts.force_fallback)
      std::fprintf(stderr, "wgrouter[%s]: io_uring unavailable (%s); using epoll + recvmmsg\n", name().c_str(),
                   why.c_str());
  }
  // Offloads: each one asked for, then what the kernel accepted is what is used.
  switches_ = opts.offload;
  offload_.tun_vnet = tun_.vnet();
  if (tun_.vnet()) {
    const tun::Offload o = tun_.set_offload(switches_.tso, switches_.uso);
    offload_.csum = o.csum;
    offload_.tso = o.tso;
    offload_.uso = o.uso;
  }
  offload_.gro = switches_.gro;
  dp_.set_tun_vnet(tun_.vnet());
  dp_.set_coalescing(switches_.gro, offload_.uso);  // a kernel that hands over UDP super-packets also takes them
  udp_.want_gro(switches_.udp_gro);
  threads_ = opts.threads;  // started by run(): capabilities are per thread (io/privileges.hpp)
  io_->set_tun(tun_.fd(), tun_.vnet());
  io_->watch(uapi_.listen_fd());
  if (links_.fd() >= 0) io_->watch(links_.fd());
  signal_fd_ = make_signal_fd();
  if (signal_fd_ >= 0) io_->watch(signal_fd_);

  // The kernel starts the interface down; wg-quick (or `up`) brings it up later. The TUN
  // may already live in another namespace (`up --netns`, or a descriptor handed down).
  locate_device();
  // A random port until told otherwise, like wireguard-go.
  if (const int rc = set_listen_port(0); rc != 0)
    std::fprintf(stderr, "wgrouter[%s]: cannot bind UDP: %s\n", name().c_str(), std::strerror(-rc));
  io_->set_udp_gso(switches_.udp_gso && udp_.gso_supported());
}

OffloadState Interface::offload_state() const {
  OffloadState s = offload_;
  s.udp_gso = io_->udp_gso();
  s.udp_gro = udp_.gro();
  return s;
}

void Interface::append_status(std::string& out) const {
  out += "version=" + std::string(config::wgrouter_version()) + "\n";
  out += "io_backend=" + std::string(io_->name()) + "\n";
  // What the process holds now, read from the kernel: after set-up only what it still needs.
  out += "capabilities=" + capability_names(effective_capabilities()) + "\n";
  out += "aead=" + crypto::describe(crypto::default_aead_backend()) + "\n";
  out += "offload=" + offload_state().describe() + "\n";
  const IoCounters& c = io_->counters();
  auto num = [&](const char* k, uint64_t v) { out.append("io_").append(k).append("=").append(std::to_string(v)).append("\n"); };
  num("threads", pool_ ? pool_->threads() : 1);
  num("syscalls", c.syscalls);
  num("udp_gso_sends", c.udp_gso_sends);
  num("udp_gso_datagrams", c.udp_gso_datagrams);
  num("udp_gso_failures", c.udp_gso_failures);
  num("udp_gro_receives", c.udp_gro_receives);
  num("udp_gro_datagrams", c.udp_gro_datagrams);
  const core::DataPlaneCounters dc = dp_.counters();
  num("gro_super_packets", dc.gro_super_packets);
  num("gro_segments", dc.gro_segments);
  num("udp_send_errors", c.udp_send_errors);
  num("tun_write_errors", c.tun_write_errors);
  num("port_write_errors", c.port_write_errors);
  // The timer heap (peers with a deadline armed; entries, stale ones included): a long run
  // watches these stay flat.
  const core::Device::TimerStats ts = dp_.device().timer_stats();
  num("timer_peers", ts.scheduled_peers);
  num("timer_heap_entries", ts.heap_entries);
}

Interface::~Interface() {
  uapi_.unlink_socket();
  if (signal_fd_ >= 0) ::close(signal_fd_);
}

void Interface::refresh_clock() {
  now_ = monotonic_now();
  wall_ = wall_now();
}

int Interface::set_listen_port(uint16_t port) {
  io_->set_udp(-1, -1);  // let go of the old sockets first: the port may be the same
  const int rc = udp_.bind(port, udp_.fwmark());
  io_->set_udp(udp_.fd4(), udp_.fd6());
  dp_.forget_all_sources();  // a new port means new paths
  return rc;
}

int Interface::set_fwmark(uint32_t mark) {
  const int rc = udp_.set_fwmark(mark);
  if (rc == 0) dp_.forget_all_sources();
  return rc;
}

// --- batches: to the data plane ---

void Interface::on_datagrams(std::span<RxDatagram> batch) {
  refresh_clock();
  dp_.on_datagrams(env(), batch);
  log_events();
}

void Interface::on_tun_packets(std::span<DeviceRead> batch) {
  refresh_clock();
  dp_.on_tun_packets(env(), batch);
  log_events();
}

void Interface::on_port_frames(uint32_t port, std::span<DeviceRead> batch) {
  refresh_clock();
  dp_.on_port_frames(env(), port, batch);
  log_events();
}

// --- the data plane's output: to the backend ---

void Interface::send_udp(const core::Endpoint& to, std::span<const iovec> datagrams) { io_->send_udp(to, datagrams); }

void Interface::write_tun(std::span<const iovec> parts) { io_->write_tun(parts); }

void Interface::write_port(core::PortId port, std::span<const iovec> parts) { io_->write_port(port, parts); }

void Interface::run_aead(std::span<core::AeadJob> jobs) { pool_ ? pool_->run(jobs) : core::run_jobs(jobs); }

void Interface::forget_stale_sources() {
  auto& stale = io_->stale_sources();
  if (stale.empty()) return;
  for (const core::Endpoint& e : stale) dp_.forget_source(e);
  stale.clear();
}

void Interface::flush_outbox() {
  dp_.flush_outbox();
  log_events();
}

void Interface::log_events() {
  const core::Device& device = dp_.device();
  for (const core::Event& ev : dp_.events()) {
    const core::Peer* peer = device.peer(ev.peer);
    bool silent = ev.kind == core::EventKind::HandshakeGaveUp ||
                  (ev.kind == core::EventKind::HandshakeInitiated && peer &&
                   peer->timers.handshake_attempts > 0 && peer->timers.handshake_attempts % 3 == 0);
    // Under steady traffic new packets keep starting the handshake tries over, so the count
    // above may not reach three for a long time: a peer that had a session, now older than
    // 135 s, that we keep trying to reach counts as silent too, at most every 15 s (the rule
    // of wireguard-tools' reresolve-dns script).
    if (!silent && ev.kind == core::EventKind::HandshakeInitiated && peer &&
        peer->last_handshake.since_epoch.count() != 0) {
      const core::Keypair* kp = peer->keypairs.current.get();
      if (!kp || now_ - kp->birth > kStaleSession) {
        auto [it, fresh] = reresolved_.try_emplace(ev.peer, now_);
        if (fresh || now_ - it->second >= kReresolveEvery) {
          it->second = now_;
          silent = true;
        }
      }
    }
    if (silent && on_peer_unresponsive) on_peer_unresponsive(ev.peer);
    const char* what = nullptr;
    switch (ev.kind) {
      case core::EventKind::HandshakeCompleted: what = "handshake completed"; break;
      case core::EventKind::HandshakeGaveUp: what = "stopped answering: handshake given up after 20 attempts"; break;
      case core::EventKind::EndpointChanged: what = "endpoint changed"; break;
      case core::EventKind::KeysZeroed: what = "session keys zeroed after 540 s idle"; break;
      case core::EventKind::HandshakeInitiated: break;  // too frequent to log
    }
    if (!what) continue;
    const core::Peer* p = device.peer(ev.peer);
    std::fprintf(stderr, "wgrouter[%s]: peer %s: %s%s%s\n", name().c_str(), peer_name(ev.peer).c_str(), what,
                 p && ev.kind == core::EventKind::EndpointChanged ? " to " : "",
                 p && ev.kind == core::EventKind::EndpointChanged ? core::to_string(p->endpoint).c_str() : "");
  }
  dp_.events().clear();
}

std::string Interface::peer_name(core::PeerId id) const {
  const core::Peer* p = dp_.device().peer(id);
  if (!p) return "?";
  return crypto::key_to_base64(p->public_key.data()).substr(0, 8) + "…";
}

void Interface::on_fd(int fd) {
  refresh_clock();
  if (run_watcher(fd)) return;
  if (fd == signal_fd_) {
    signalfd_siginfo si;
    bool reload = false;
    while (::read(signal_fd_, &si, sizeof(si)) == sizeof(si)) {
      if (si.ssi_signo == SIGHUP && on_reload)
        reload = true;
      else
        stop_ = true;
    }
    if (reload && !stop_) {
      on_reload();
      flush_outbox();
    }
    return;
  }
  if (fd == links_.fd()) return on_link_events();
  if (metrics_ && metrics_->owns(fd)) {
    metrics_->on_readable(
        fd, now_, config::UapiTarget{device(), allowed_ips(), *this, &gateway()}, name(), [this](int c) { io_->watch(c); },
        [this](int c) { io_->unwatch(c); });
    return;
  }
  if (uapi_.owns(fd)) {
    config::UapiTarget target{device(), allowed_ips(), *this, &gateway()};
    uapi_.on_readable(
        fd, target, [this](int c) { io_->watch(c); }, [this](int c) { io_->unwatch(c); });
    flush_outbox();  // keepalives or handshakes the configuration change caused
    if (after_uapi) after_uapi();
  }
}

void Interface::on_link_events() {
  const bool complete = links_.drain(link_events_);
  bool relocate = !complete;
  std::optional<bool> up;
  std::optional<uint32_t> mtu;
  for (const tun::LinkEvents::Event& ev : link_events_) {
    if (ev.nsid != dev_nsid_ || ev.ifindex != dev_ifindex_) continue;
    if (ev.deleted) {
      relocate = true;  // deleted, or moved to another namespace: both look like this here
      continue;
    }
    up = ev.up;
    if (ev.mtu) mtu = ev.mtu;
  }
  if (relocate) {
    locate_device();  // reads the state again
  } else {
    if (mtu) set_tunnel_mtu(*mtu);
    if (up) device().set_up(env(), *up, outbox());
  }
  on_port_links(complete);
  flush_outbox();
}

void Interface::on_device_gone(std::optional<uint32_t> port, int err) {
  if (port) return detach_gone_port(*port);
  std::fprintf(stderr, "wgrouter[%s]: reading the TUN failed: %s\n", name().c_str(), std::strerror(err));
  locate_device();
}

void Interface::set_tunnel_mtu(uint32_t mtu) { dp_.set_tunnel_mtu(mtu); }

void Interface::apply_link_state(const tun::LinkState& st) {
  if (st.mtu) set_tunnel_mtu(st.mtu);
  device().set_up(env(), st.up, outbox());
}

tun::NetnsFd Interface::device_netns() const {
  const int fd = tun_.device_netns();
  return tun::NetnsFd(fd >= 0 ? fd : -1);
}

std::unique_ptr<tun::Netlink> Interface::device_netlink() const {
  const tun::NetnsFd ns = device_netns();
  if (!ns) return nullptr;
  auto nl = std::make_unique<tun::Netlink>(ns.get());
  return nl->ok() ? std::move(nl) : nullptr;
}

void Interface::locate_device() {
  if (stop_) return;
  if (tun_.gone()) {
    std::fprintf(stderr, "wgrouter[%s]: interface deleted, shutting down\n", name().c_str());
    stop_ = true;
    return;
  }
  tun_.refresh_name();
  // Where the device lives now; the descriptor is only held while we look.
  const tun::NetnsFd ns = device_netns();
  auto self = tun::current_netns();
  // Asked from here: a namespace elsewhere is named by its id here (IFLA_TARGET_NETNSID), so
  // following it takes CAP_NET_ADMIN, which the daemon keeps, not setns's CAP_SYS_ADMIN.
  tun::Netlink here;
  int nsid = tun::LinkEvents::kThisNamespace;
  bool followed = ns && self && here.ok();
  if (followed && !self->same(ns.get())) {
    nsid = here.netns_id(ns.get());  // how link events from there are tagged here
    followed = nsid >= 0 && links_.all_namespaces();
  }
  if (followed) {
    if (const int idx = here.find_link(tun_.name(), nsid); idx > 0) tun_.set_ifindex(idx);
  }
  // Read before following: events queue on the monitor's socket meanwhile, so a change in
  // between is seen twice, never missed.
  const tun::LinkState st = followed ? here.get_link(tun_.ifindex(), nsid) : tun::LinkState{};
  if (!st.exists) followed = false;
  if (!followed) {
    // Moved somewhere this process may not look (no CAP_NET_ADMIN over it, or no
    // CAP_NET_BROADCAST when the link monitor was opened): the tunnel keeps working, but link
    // state and MTU there can no longer be seen.
    if (!follow_warned_)
      std::fprintf(stderr,
                   "wgrouter[%s]: the interface lives in a network namespace wgrouter cannot follow; "
                   "serving it as up, link state and MTU changes there are not seen\n",
                   name().c_str());
    follow_warned_ = true;
    dev_nsid_ = tun::LinkEvents::kThisNamespace;
    dev_ifindex_ = -1;
    dev_ns_inode_ = 0;
    device().set_up(env(), true, outbox());
    flush_outbox();
    return;
  }
  if (ns.inode() != dev_ns_inode_ && dev_ns_inode_ != 0)
    std::fprintf(stderr, "wgrouter[%s]: interface moved to network namespace %lu; following it there\n",
                 name().c_str(), static_cast<unsigned long>(ns.inode()));
  dev_ns_inode_ = ns.inode();
  dev_nsid_ = nsid;
  dev_ifindex_ = tun_.ifindex();
  apply_link_state(st);
  flush_outbox();
}

void Interface::watch_fd(int fd, std::function<void()> on_readable) {
  unwatch_fd(fd);
  watchers_.emplace_back(fd, std::move(on_readable));
  io_->watch(fd);
}

void Interface::unwatch_fd(int fd) {
  for (size_t i = 0; i < watchers_.size(); ++i)
    if (watchers_[i].first == fd) {
      io_->unwatch(fd);
      watchers_.erase(watchers_.begin() + static_cast<std::ptrdiff_t>(i));
      return;
    }
}

void Interface::set_metrics(int listen_fd, std::string text, std::string unix_path) {
  if (metrics_) {
    // Its connections go with it, answered or not.
    io_->unwatch(metrics_->listen_fd());
    metrics_->close_all([this](int c) { io_->unwatch(c); });
    metrics_.reset();
  }
  if (listen_fd < 0) return;
  metrics_ = std::make_unique<MetricsServer>(listen_fd, std::move(text), std::move(unix_path));
  io_->watch(listen_fd);
}

bool Interface::run_watcher(int fd) {
  for (const auto& [wfd, on_readable] : watchers_) {
    if (wfd != fd) continue;
    // A copy: the callback may unwatch (and so destroy) itself.
    const std::function<void()> call = on_readable;
    call();
    flush_outbox();  // whatever the callback changed may have queued handshakes
    return true;
  }
  return false;
}

void Interface::tick() {
  if (now_ < next_tick_) return;
  // A backlog of due timers comes back after one I/O turn, so data is never starved by them.
  next_tick_ = dp_.tick(env()) ? now_ : now_ + kTickInterval;
  log_events();
  uapi_.flush_waiting([this](int c) { io_->unwatch(c); });  // replies a slow reader left
  if (metrics_) {
    metrics_->flush_waiting(now_, config::UapiTarget{device(), allowed_ips(), *this, &gateway()}, name(),
                            [this](int c) { io_->unwatch(c); });
  }
  // A reply still being made (a get of many peers) or sent goes on at the next turn, not in
  // 50 ms; a reader that stalls is closed after UapiServer::kStallLimit.
  if (uapi_.busy() || (metrics_ && metrics_->busy())) next_tick_ = std::min(next_tick_, now_ + kUapiTurn);
  if (now_ >= next_housekeeping_) {
    next_housekeeping_ = now_ + std::chrono::seconds(1);
    if (!uapi_.still_ours()) {
      std::fprintf(stderr, "wgrouter[%s]: UAPI socket removed, shutting down\n", name().c_str());
      stop_ = true;
    }
  }
}

int Interface::run() {
  // The first thread besides this one: whatever privileges set-up dropped, it never had.
  if (threads_ > 1 && !pool_) pool_ = std::make_unique<CryptoPool>(threads_);
  while (!stop_) {
    refresh_clock();
    tick();
    forget_stale_sources();
    const core::Duration wait = next_tick_ > now_ ? next_tick_ - now_ : core::Duration(0);
    io_->poll(wait, *this);
  }
  return exit_status_;
}

}  // namespace wg::io
