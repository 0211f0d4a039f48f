// io/interface.cpp — the loop and the data path stages around core::Device and core::Gateway:
//   UDP batch  ► Device::receive (decrypt in place) ► Gateway::from_tunnel ► TUN or port
//   TUN batch  ► Gateway::from_tun ► Device::send (encrypt in place) ► UDP, or a port
//   port batch ► Gateway::from_port (L2, anti-spoof, policy) ► Device::send ► UDP
#include "io/interface.hpp"

#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "crypto/encoding.hpp"
#include "crypto/secure.hpp"

namespace wg::io {

namespace {

using core::Drop;
using core::Family;

constexpr core::Duration kTickInterval = std::chrono::milliseconds(50);
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
    : gateway_(device_.drop_counters(), (uint64_t{rng_.next_u32()} << 32) | rng_.next_u32()),
      tun_(std::move(tun)),
      uapi_(uapi_listen_fd, std::move(uapi_path)),
      name_(tun_.name()),
      links_(tun_.ifindex()) {
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
  tun_gro_.set_enabled(switches_.gro);
  tun_gro_.set_udp(offload_.uso);  // a kernel that hands over UDP super-packets also takes them
  tun_sink_.io = io_.get();
  udp_.want_gro(switches_.udp_gro);
  if (opts.threads > 1) {
    pool_ = std::make_unique<CryptoPool>(opts.threads);
    seal_jobs_.reserve(1024);
    open_jobs_.reserve(size_t{kMaxBatch} * kMaxGroSegments);
    open_result_.reserve(size_t{kMaxBatch} * kMaxGroSegments);
  }
  io_->set_tun(tun_.fd(), tun_.vnet());
  io_->watch(uapi_.listen_fd());
  if (links_.fd() >= 0) io_->watch(links_.fd());
  signal_fd_ = make_signal_fd();
  if (signal_fd_ >= 0) io_->watch(signal_fd_);
  control_copies_.resize(64);

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
  uint64_t supers = tun_gro_.counters().super_packets, joined = tun_gro_.counters().segments_joined;
  for (const core::Coalescer& g : port_gro_) {
    supers += g.counters().super_packets;
    joined += g.counters().segments_joined;
  }
  num("gro_super_packets", supers);
  num("gro_segments", joined);
  num("udp_send_errors", c.udp_send_errors);
  num("tun_write_errors", c.tun_write_errors);
  num("port_write_errors", c.port_write_errors);
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
  forget_all_sources();  // a new port means new paths
  return rc;
}

int Interface::set_fwmark(uint32_t mark) {
  const int rc = udp_.set_fwmark(mark);
  if (rc == 0) forget_all_sources();
  return rc;
}

void Interface::forget_all_sources() {
  device_.for_each_peer([this](core::PeerId id, const core::Peer&) { device_.peer(id)->endpoint.clear_local(); });
}

// --- data path ---


void Interface::open_batch(std::span<RxDatagram> batch) {
  open_jobs_.clear();
  open_result_.assign(batch.size(), nullptr);
  if (batch.size() < CryptoPool::kInlineBelow) return;
  std::vector<size_t>& at = open_at_;
  at.clear();
  for (size_t i = 0; i < batch.size(); ++i) {
    core::AeadJob j;
    if (!device_.prepare_open(batch[i].bytes, now_, j)) continue;
    at.push_back(i);
    open_jobs_.push_back(j);
    crypto::wipe(j.key.data(), j.key.size());
  }
  pool_->run(open_jobs_);
  for (size_t k = 0; k < at.size(); ++k) open_result_[at[k]] = &open_jobs_[k].ok;
}

void Interface::on_datagrams(std::span<RxDatagram> batch) {
  refresh_clock();
  rx_split_.clear();
  for (const RxDatagram& d : batch) core::split_gro(rx_split_, d);
  batch = rx_split_;
  if (!device_.is_up()) {
    // A down interface neither answers nor delivers, as the kernel's closes its sockets.
    for (size_t i = 0; i < batch.size(); ++i) device_.count_drop(core::Drop::LinkDown);
    return;
  }
  const core::Env e = env();
  if (pool_) open_batch(batch);  // one thread: receive() opens each datagram itself
  for (size_t i = 0; i < batch.size(); ++i) {
    RxDatagram& d = batch[i];
    core::RxResult r = device_.receive(e, d.from, d.bytes, outbox_, pool_ ? open_result_[i] : nullptr);
    if (r.kind == core::RxKind::Data) {
      // The plaintext sits inside the datagram; the buffer's headroom lies in front of both.
      std::span<uint8_t> buf(d.bytes.data() - d.headroom, d.headroom + d.bytes.size());
      const size_t off = d.headroom + static_cast<size_t>(r.plaintext.data() - d.bytes.data());
      gateway_.from_tunnel(e, r.peer, buf, off, r.plaintext.size(), *this);
    }
    if (!outbox_.empty()) queue_outbox();
  }
  drain_coalescers();
  log_events();
}

void Interface::on_tun_packets(std::span<DeviceRead> batch) {
  refresh_clock();
  const core::Env e = env();
  const bool vnet = tun_.vnet();
  for (DeviceRead& p : batch) {
    core::pkt::VnetHeader h;
    if (vnet) h = core::pkt::read_vnet(p.buf.data() + core::kIngressHeadroom - kVnetLen);
    gateway_.from_tun(e, p.buf, core::kIngressHeadroom, p.len, vnet ? &h : nullptr, *this);
  }
  drain_coalescers();
  log_events();
}

void Interface::on_port_frames(uint32_t port, std::span<DeviceRead> batch) {
  refresh_clock();
  const core::Env e = env();
  for (DeviceRead& f : batch) gateway_.from_port(e, port, f.buf, kPortReadOffset, f.len, *this);
  drain_coalescers();
  log_events();
}

void Interface::run_seals() {
  if (seal_jobs_.empty()) return;
  pool_->run(seal_jobs_);
  for (const core::AeadJob& j : seal_jobs_)
    if (!j.ok) {
      // Never let a plaintext leave: the datagram goes out as zeros the peer drops.
      std::memset(j.data, 0, j.len + core::kTagLen);
      device_.count_drop(core::Drop::SealFailed);
    }
  seal_jobs_.clear();
}

void Interface::drain_coalescers() {
  run_seals();
  tun_gro_.drain(tun_sink_);
  for (size_t p = 0; p < port_gro_.size(); ++p) port_gro_[p].drain(port_sinks_[p]);
  hand_sends();
}

void Interface::queue_udp(const core::Endpoint& to, std::span<const uint8_t> bytes) {
  udp_sends_.push_back({to, bytes});
}

void Interface::hand_sends() {
  udp_iov_.clear();
  for (const core::UdpSend& s : udp_sends_) udp_iov_.push_back({const_cast<uint8_t*>(s.bytes.data()), s.bytes.size()});
  for (size_t i = 0; i < udp_sends_.size();) {
    const size_t k = io_->udp_gso() ? core::gso_run(udp_sends_, i) : 1;
    io_->send_udp(udp_sends_[i].to, std::span<const iovec>(udp_iov_).subspan(i, k));
    i += k;
  }
  udp_sends_.clear();
}

core::Drop Interface::to_tunnel(const core::Env& env, core::PeerId peer, std::span<uint8_t> buf, size_t len) {
  core::TxResult t = device_.send(env, peer, buf, len, outbox_, pool_ ? &seal_jobs_ : nullptr);
  if (t.status == core::TxStatus::Sent) queue_udp(t.to, t.datagram);
  if (!outbox_.empty()) queue_outbox();
  return t.status == core::TxStatus::Dropped ? t.drop : core::Drop::None;
}

// With a virtio-net header on the TUN every write carries one: the coalescer writes it in
// front of the packet (kIngressHeadroom leaves the room), joined or not.
void Interface::to_tun(std::span<uint8_t> ip) {
  if (tun_.vnet()) return tun_gro_.add(ip.data(), ip.size(), tun_sink_);
  const iovec v{ip.data(), ip.size()};
  io_->write_tun({&v, 1});
}

void Interface::to_port(uint32_t port, std::span<uint8_t> frame) {
  if (port < port_gro_.size() && frame.size() > core::pkt::kFrameHeader)
    return port_gro_[port].add(frame.data() + core::pkt::kFrameHeader, frame.size() - core::pkt::kFrameHeader,
                               port_sinks_[port]);
  const iovec v{frame.data(), frame.size()};
  io_->write_port(port, {&v, 1});
}

void Interface::flush() {
  drain_coalescers();
  io_->flush();
}

// Control messages and flushed staged packets are copied: their storage in the outbox and the
// Device is only valid until the next Device call, and sends go out at the end of the batch.
void Interface::queue_outbox() {
  for (size_t i = 0; i < outbox_.size(); ++i) {
    auto item = outbox_[i];
    if (!item.to.valid()) continue;
    if (item.bytes.size() <= core::kMaxControlLen) {
      if (control_used_ == control_copies_.size()) control_copies_.emplace_back();
      auto& slot = control_copies_[control_used_++];
      std::memcpy(slot.data(), item.bytes.data(), item.bytes.size());
      queue_udp(item.to, {slot.data(), item.bytes.size()});
    } else {
      // A flushed staged data packet: rare (only right after a handshake), so sent at once
      // (with whatever the batch has queued, sealed first).
      queue_udp(item.to, item.bytes);
      run_seals();
      hand_sends();
      io_->flush();
    }
  }
  for (const core::Event& ev : outbox_.events()) pending_events_.push_back(ev);
  outbox_.clear();
}

void Interface::forget_stale_sources() {
  auto& stale = io_->stale_sources();
  if (stale.empty()) return;
  for (const core::Endpoint& e : stale)
    device_.for_each_peer([&](core::PeerId id, const core::Peer& p) {
      if (p.endpoint.same_remote(e)) device_.peer(id)->endpoint.clear_local();
    });
  stale.clear();
}

void Interface::flush_outbox() {
  queue_outbox();
  drain_coalescers();
  io_->flush();
  control_used_ = 0;
  log_events();
}

void Interface::log_events() {
  for (const core::Event& ev : pending_events_) {
    const core::Peer* peer = device_.peer(ev.peer);
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
    const core::Peer* p = device_.peer(ev.peer);
    std::fprintf(stderr, "wgrouter[%s]: peer %s: %s%s%s\n", name().c_str(), peer_name(ev.peer).c_str(), what,
                 p && ev.kind == core::EventKind::EndpointChanged ? " to " : "",
                 p && ev.kind == core::EventKind::EndpointChanged ? core::to_string(p->endpoint).c_str() : "");
  }
  pending_events_.clear();
}

std::string Interface::peer_name(core::PeerId id) const {
  const core::Peer* p = device_.peer(id);
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
  if (fd == port_links_.fd()) return on_port_links();
  if (fd == links_.fd()) {
    const tun::LinkMonitor::Change c = links_.drain();
    if (c.deleted || c.lost) {
      locate_device();  // deleted, or moved to another namespace: both look like this here
    } else {
      if (c.mtu) set_tunnel_mtu(*c.mtu);
      if (c.up) device_.set_up(env(), *c.up, outbox_);
    }
    flush_outbox();
    return;
  }
  if (uapi_.owns(fd)) {
    config::UapiTarget target{device_, gateway_.routes(), *this, &gateway_};
    uapi_.on_readable(
        fd, target, [this](int c) { io_->watch(c); }, [this](int c) { io_->unwatch(c); });
    flush_outbox();  // keepalives or handshakes the configuration change caused
  }
}

void Interface::on_tun_error(int err) {
  std::fprintf(stderr, "wgrouter[%s]: reading the TUN failed: %s\n", name().c_str(), std::strerror(err));
  locate_device();
}

void Interface::set_tunnel_mtu(uint32_t mtu) {
  device_.set_mtu(mtu);
  gateway_.set_tunnel_mtu(mtu);
}

void Interface::apply_link_state(const tun::LinkState& st) {
  if (st.mtu) set_tunnel_mtu(st.mtu);
  device_.set_up(env(), st.up, outbox_);
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
  int nsid = tun::LinkMonitor::kThisNamespace;
  std::unique_ptr<tun::Netlink> nl;
  bool followed = ns && self;
  if (followed && !self->same(ns.get())) {
    tun::Netlink here;
    nsid = here.netns_id(ns.get());  // how link events from there are tagged here
    followed = nsid >= 0 && links_.all_namespaces();
  }
  if (followed) {
    nl = std::make_unique<tun::Netlink>(ns.get());
    followed = nl->ok();
  }
  if (!followed) {
    // Moved somewhere this process may not look (no CAP_NET_ADMIN / CAP_SYS_ADMIN /
    // CAP_NET_BROADCAST over it): the tunnel keeps working, but link state and MTU there can
    // no longer be seen.
    if (!follow_warned_)
      std::fprintf(stderr,
                   "wgrouter[%s]: the interface lives in a network namespace wgrouter cannot follow; "
                   "serving it as up, link state and MTU changes there are not seen\n",
                   name().c_str());
    follow_warned_ = true;
    links_.follow(tun::LinkMonitor::kThisNamespace, -1);
    dev_ns_inode_ = 0;
    device_.set_up(env(), true, outbox_);
    flush_outbox();
    return;
  }
  if (ns.inode() != dev_ns_inode_ && dev_ns_inode_ != 0)
    std::fprintf(stderr, "wgrouter[%s]: interface moved to network namespace %lu; following it there\n",
                 name().c_str(), static_cast<unsigned long>(ns.inode()));
  dev_ns_inode_ = ns.inode();
  const int idx = nl->find_link(tun_.name());
  if (idx > 0) tun_.set_ifindex(idx);
  // Follow first, then read the state: a change in between is seen twice, never missed.
  links_.follow(nsid, tun_.ifindex());
  apply_link_state(nl->get_link(tun_.ifindex()));
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
  next_tick_ = now_ + kTickInterval;
  device_.tick(env(), outbox_);
  flush_outbox();
  uapi_.flush_waiting([this](int c) { io_->unwatch(c); });  // replies a slow reader left
  if (now_ >= next_housekeeping_) {
    next_housekeeping_ = now_ + std::chrono::seconds(1);
    if (!uapi_.still_ours()) {
      std::fprintf(stderr, "wgrouter[%s]: UAPI socket removed, shutting down\n", name().c_str());
      stop_ = true;
    }
  }
}

int Interface::run() {
  while (!stop_) {
    refresh_clock();
    tick();
    control_used_ = 0;
    gateway_.flushed();
    forget_stale_sources();
    const core::Duration wait = next_tick_ > now_ ? next_tick_ - now_ : core::Duration(0);
    io_->poll(wait, *this);
  }
  return exit_status_;
}

}  // namespace wg::io
