// io/epoll_io.cpp — the fallback backend: epoll for readiness, recvmmsg/sendmmsg for UDP in
// batches of up to 64, read/write for the TUN (which has no batch call without offloads).
#include <errno.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <vector>

#include "io/output.hpp"
#include "io/packet_io.hpp"
#include "io/sockaddr.hpp"

namespace wg::io {

namespace {

class EpollIo final : public PacketIo {
 public:
  EpollIo() : epfd_(epoll_create1(EPOLL_CLOEXEC)), rx_(kMaxBatch * kBufferSize), tun_rx_(kMaxBatch * kBufferSize) {
    for (size_t i = 0; i < kMaxBatch; ++i) {
      iov_[i] = {rx_.data() + i * kBufferSize + kRxHeadroom, kBufferSize - kRxHeadroom};
      auto& h = msgs_[i].msg_hdr;
      h.msg_name = &names_[i];
      h.msg_iov = &iov_[i];
      h.msg_iovlen = 1;
      h.msg_control = control_[i].data();
    }
  }
  ~EpollIo() override { ::close(epfd_); }

  std::string_view name() const override { return "epoll+recvmmsg"; }

  void set_udp(int fd4, int fd6) override {
    for (int fd : {udp_[0], udp_[1]})
      if (fd >= 0) epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
    udp_ = {fd4, fd6};
    out_.set_sockets(fd4, fd6);
    for (int fd : udp_) add(fd);
  }
  void set_tun(int fd, bool vnet) override {
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);  // read until EAGAIN per wake-up
    tun_ = fd;
    tun_vnet_ = vnet ? kVnetLen : 0;
    add(fd);
  }
  void add_port(uint32_t id, int fd) override {
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    if (ports_.size() <= id) ports_.resize(id + 1, -1);
    ports_[id] = fd;
    add(fd);
  }
  void replace_port(uint32_t id, int fd) override {
    remove_port(id);
    add_port(id, fd);
  }
  void remove_port(uint32_t id) override {
    if (id >= ports_.size() || ports_[id] < 0) return;
    flush();  // what was queued for it goes out on the descriptor it was meant for
    epoll_ctl(epfd_, EPOLL_CTL_DEL, ports_[id], nullptr);
    ports_[id] = -1;
  }
  void watch(int fd) override { add(fd); }
  void unwatch(int fd) override { epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr); }

  void poll(core::Duration timeout, PacketSink& sink) override {
    epoll_event ev[16];
    const int ms = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count());
    const int n = epoll_wait(epfd_, ev, 16, ms < 0 ? 0 : ms);
    ++counters_.syscalls;
    for (int i = 0; i < n; ++i) {
      const int fd = ev[i].data.fd;
      if (fd == udp_[0] || fd == udp_[1])
        read_udp(fd, sink);
      else if (fd == tun_)
        read_tun(sink);
      else if (const int port = port_of(fd); port >= 0)
        read_port(static_cast<uint32_t>(port), sink);
      else
        sink.on_fd(fd);
      flush();
    }
  }

  void send_udp(const core::Endpoint& to, std::span<const iovec> datagrams) override {
    out_.send_udp(to, datagrams);
  }
  void write_tun(std::span<const iovec> parts) override { out_.write(tun_, true, parts); }
  void write_port(uint32_t id, std::span<const iovec> parts) override {
    if (id < ports_.size()) out_.write(ports_[id], false, parts);
  }

  void flush() override {
    if (out_.empty()) return;
    flush_udp();
    for (const Output::Write& w : out_.writes()) {
      ++counters_.syscalls;
      if (::writev(w.fd, out_.pieces(w), static_cast<int>(w.count)) < 0) out_.write_failed(w);
    }
    out_.clear();
  }

 private:
  int port_of(int fd) const {
    for (size_t i = 0; i < ports_.size(); ++i)
      if (ports_[i] == fd) return static_cast<int>(i);
    return -1;
  }

  void read_port(uint32_t id, PacketSink& sink) {
    size_t n = 0;
    int gone = 0;
    for (; n < kMaxBatch; ++n) {
      uint8_t* buf = tun_rx_.data() + n * kBufferSize;
      const ssize_t r = ::read(ports_[id], buf + kPortReadOffset, core::kPortReadMax);
      ++counters_.syscalls;
      if (r < 0 && (errno == EBADFD || errno == EBADF)) {  // the TAP was deleted: stop watching it
        ++counters_.port_read_errors;
        epoll_ctl(epfd_, EPOLL_CTL_DEL, ports_[id], nullptr);
        gone = errno;
        break;
      }
      if (r <= 0) break;
      tun_batch_[n] = {{buf, kBufferSize}, static_cast<size_t>(r)};
    }
    if (n) sink.on_port_frames(id, std::span(tun_batch_.data(), n));
    if (gone) {
      flush();
      sink.on_device_gone(id, gone);
    }
  }

  void add(int fd) {
    if (fd < 0) return;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev);
  }

  // Level-triggered: one batch per readiness report, so a busy socket cannot starve the TUN.
  void read_udp(int fd, PacketSink& sink) {
    for (size_t i = 0; i < kMaxBatch; ++i) {
      msgs_[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
      msgs_[i].msg_hdr.msg_controllen = kRecvControlSpace;
    }
    const int n = recvmmsg(fd, msgs_.data(), kMaxBatch, MSG_DONTWAIT, nullptr);
    ++counters_.syscalls;
    size_t got = 0;
    for (int i = 0; i < n; ++i) {
      if (msgs_[i].msg_hdr.msg_flags & MSG_TRUNC) continue;
      core::Endpoint from = from_sockaddr(reinterpret_cast<sockaddr*>(&names_[i]));
      take_pktinfo(msgs_[i].msg_hdr, from);
      batch_[got] = {{rx_.data() + i * kBufferSize + kRxHeadroom, msgs_[i].msg_len}, from, kRxHeadroom,
                     take_gro_size(msgs_[i].msg_hdr)};
      count_receive(batch_[got++]);
    }
    if (got) sink.on_datagrams(std::span(batch_.data(), got));
  }

  void read_tun(PacketSink& sink) {
    size_t n = 0;
    int err = 0;
    for (; n < kMaxBatch; ++n) {
      uint8_t* buf = tun_rx_.data() + n * kBufferSize;
      const ssize_t r = ::read(tun_, buf + core::kIngressHeadroom - tun_vnet_, core::kTunReadMax);
      ++counters_.syscalls;
      if (r < 0 && (errno == EBADFD || errno == EBADF)) {
        // The device is gone: its descriptor polls as an error forever. Stop watching it.
        err = errno;
        epoll_ctl(epfd_, EPOLL_CTL_DEL, tun_, nullptr);
        break;
      }
      if (r <= static_cast<ssize_t>(tun_vnet_)) break;
      tun_batch_[n] = {{buf, kBufferSize}, static_cast<size_t>(r) - tun_vnet_};
    }
    if (n) sink.on_tun_packets(std::span(tun_batch_.data(), n));
    if (err) sink.on_device_gone(std::nullopt, err);
  }

  // One sendmmsg per stretch of messages of one family (one socket).
  void flush_udp() {
    const Output::Range all = out_.prepare();
    for (size_t m = all.first; m < all.end;) {
      const int fd = out_.socket(m);
      size_t end = m + 1;
      while (end < all.end && end - m < kMaxBatch && out_.socket(end) == fd) ++end;
      if (fd >= 0) send_messages(fd, {m, end});
      m = end;
    }
  }

  // What the kernel refuses goes through the output policy, and what it says to send again
  // goes at once, before the rest: a peer's datagrams keep their order.
  void send_messages(int fd, Output::Range r) {
    while (r.first < r.end) {
      const int n = sendmmsg(fd, out_.header(r.first), static_cast<unsigned>(r.end - r.first), MSG_DONTWAIT);
      ++counters_.syscalls;
      if (n > 0) {
        r.first += static_cast<size_t>(n);
        continue;
      }
      const int err = errno;
      send_messages(fd, out_.failed(r.first++, err));
    }
  }

  int epfd_;
  std::array<int, 2> udp_{-1, -1};
  int tun_ = -1;
  std::vector<uint8_t> rx_;
  std::vector<uint8_t> tun_rx_;
  std::array<mmsghdr, kMaxBatch> msgs_{};
  std::array<iovec, kMaxBatch> iov_{};
  std::array<sockaddr_storage, kMaxBatch> names_{};
  std::array<std::array<uint8_t, kRecvControlSpace>, kMaxBatch> control_{};
  std::array<RxDatagram, kMaxBatch> batch_{};  // one per receive, UDP_GRO ones whole
  std::array<DeviceRead, kMaxBatch> tun_batch_{};
  size_t tun_vnet_ = 0;  // kVnetLen when the TUN has a virtio-net header
  std::vector<int> ports_;
  Output out_{counters_, gso_, stale_sources_};
};

}  // namespace

std::unique_ptr<PacketIo> make_epoll_io() { return std::make_unique<EpollIo>(); }

}  // namespace wg::io
