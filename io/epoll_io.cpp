// io/epoll_io.cpp — the fallback backend: epoll for readiness, recvmmsg/sendmmsg for UDP in
// batches of up to 64, read/write for the TUN (which has no batch call without offloads).
#include <errno.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <vector>

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
    sends_.reserve(kMaxBatch * 4);
    tun_writes_.reserve(kMaxBatch * 2);
  }
  ~EpollIo() override { ::close(epfd_); }

  std::string_view name() const override { return "epoll+recvmmsg"; }

  void set_udp(int fd4, int fd6) override {
    for (int fd : {udp_[0], udp_[1]})
      if (fd >= 0) epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
    udp_ = {fd4, fd6};
    for (int fd : udp_) add(fd);
  }
  void set_tun(int fd) override {
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);  // read until EAGAIN per wake-up
    tun_ = fd;
    add(fd);
  }
  void add_port(uint32_t id, int fd) override {
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    if (ports_.size() <= id) ports_.resize(id + 1, -1);
    ports_[id] = fd;
    add(fd);
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

  void send_udp(const core::Endpoint& to, std::span<const uint8_t> bytes) override {
    sends_.push_back({to, bytes});
  }
  void write_tun(std::span<const uint8_t> bytes) override { tun_writes_.push_back(bytes); }
  void write_port(uint32_t id, std::span<const uint8_t> frame) override {
    if (id < ports_.size()) port_writes_.push_back({ports_[id], frame});
  }

  void flush() override {
    flush_udp();
    for (auto b : tun_writes_) {
      ++counters_.syscalls;
      if (::write(tun_, b.data(), b.size()) < 0) ++counters_.tun_write_errors;
    }
    tun_writes_.clear();
    for (const PortWrite& w : port_writes_) {
      ++counters_.syscalls;
      if (::write(w.fd, w.frame.data(), w.frame.size()) < 0) ++counters_.port_write_errors;
    }
    port_writes_.clear();
  }

 private:
  struct Send {
    core::Endpoint to;
    std::span<const uint8_t> bytes;
  };

  int port_of(int fd) const {
    for (size_t i = 0; i < ports_.size(); ++i)
      if (ports_[i] == fd) return static_cast<int>(i);
    return -1;
  }

  void read_port(uint32_t id, PacketSink& sink) {
    size_t n = 0;
    for (; n < kMaxBatch; ++n) {
      uint8_t* buf = tun_rx_.data() + n * kBufferSize;
      const ssize_t r = ::read(ports_[id], buf + kPortReadOffset, kBufferSize - kPortReadOffset - 64);
      ++counters_.syscalls;
      if (r < 0 && (errno == EBADFD || errno == EBADF)) {  // the TAP was deleted: stop watching it
        ++counters_.port_read_errors;
        epoll_ctl(epfd_, EPOLL_CTL_DEL, ports_[id], nullptr);
        break;
      }
      if (r <= 0) break;
      tun_batch_[n] = {{buf, kBufferSize}, static_cast<size_t>(r)};
    }
    if (n) sink.on_port_frames(id, std::span(tun_batch_.data(), n));
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
      msgs_[i].msg_hdr.msg_controllen = kPktinfoSpace;
    }
    const int n = recvmmsg(fd, msgs_.data(), kMaxBatch, MSG_DONTWAIT, nullptr);
    ++counters_.syscalls;
    if (n <= 0) return;
    for (int i = 0; i < n; ++i) {
      batch_[i].bytes = {rx_.data() + i * kBufferSize + kRxHeadroom, msgs_[i].msg_len};
      batch_[i].headroom = kRxHeadroom;
      batch_[i].from = from_sockaddr(reinterpret_cast<sockaddr*>(&names_[i]));
      take_pktinfo(msgs_[i].msg_hdr, batch_[i].from);
    }
    sink.on_datagrams(std::span(batch_.data(), static_cast<size_t>(n)));
  }

  void read_tun(PacketSink& sink) {
    size_t n = 0;
    for (; n < kMaxBatch; ++n) {
      uint8_t* buf = tun_rx_.data() + n * kBufferSize;
      const ssize_t r = ::read(tun_, buf + kHeadroom, kBufferSize - kHeadroom - 64);
      ++counters_.syscalls;
      if (r <= 0) break;
      tun_batch_[n] = {{buf, kBufferSize}, static_cast<size_t>(r)};
    }
    if (n) sink.on_tun_packets(std::span(tun_batch_.data(), n));
  }

  void flush_udp() {
    size_t i = 0;
    while (i < sends_.size()) {
      // One sendmmsg per run of the same family (the two sockets).
      const core::Family fam = sends_[i].to.family;
      size_t k = 0;
      for (; i + k < sends_.size() && k < kMaxBatch && sends_[i + k].to.family == fam; ++k) {
        const Send& s = sends_[i + k];
        auto& h = out_[k].msg_hdr;
        h = {};
        h.msg_namelen = to_sockaddr(s.to, out_names_[k]);
        h.msg_name = &out_names_[k];
        out_iov_[k] = {const_cast<uint8_t*>(s.bytes.data()), s.bytes.size()};
        h.msg_iov = &out_iov_[k];
        h.msg_iovlen = 1;
        const size_t cl = put_pktinfo(s.to, out_control_[k].data());
        h.msg_control = cl ? out_control_[k].data() : nullptr;
        h.msg_controllen = cl;
      }
      const int fd = fam == core::Family::V4 ? udp_[0] : udp_[1];
      size_t done = 0;
      while (fd >= 0 && done < k) {
        const int r = sendmmsg(fd, out_.data() + done, static_cast<unsigned>(k - done), MSG_DONTWAIT);
        ++counters_.syscalls;
        if (r > 0) {
          done += static_cast<size_t>(r);
          continue;
        }
        if (out_[done].msg_hdr.msg_controllen && errno != EAGAIN) {
          // The sticky source is gone (address removed, route changed): let routing pick one.
          out_[done].msg_hdr.msg_control = nullptr;
          out_[done].msg_hdr.msg_controllen = 0;
          stale_sources_.push_back(sends_[i + done].to);
          continue;
        }
        ++counters_.udp_send_errors;
        ++done;  // drop this one, keep the rest
      }
      if (fd < 0) counters_.udp_send_errors += k;
      i += k;
    }
    sends_.clear();
  }

  int epfd_;
  std::array<int, 2> udp_{-1, -1};
  int tun_ = -1;
  std::vector<uint8_t> rx_;
  std::vector<uint8_t> tun_rx_;
  std::array<mmsghdr, kMaxBatch> msgs_{};
  std::array<iovec, kMaxBatch> iov_{};
  std::array<sockaddr_storage, kMaxBatch> names_{};
  std::array<std::array<uint8_t, kPktinfoSpace>, kMaxBatch> control_{};
  std::array<RxDatagram, kMaxBatch> batch_{};
  std::array<TunPacket, kMaxBatch> tun_batch_{};
  std::vector<Send> sends_;
  std::vector<std::span<const uint8_t>> tun_writes_;
  std::vector<PortWrite> port_writes_;
  std::vector<int> ports_;
  std::array<mmsghdr, kMaxBatch> out_{};
  std::array<iovec, kMaxBatch> out_iov_{};
  std::array<sockaddr_storage, kMaxBatch> out_names_{};
  std::array<std::array<uint8_t, kPktinfoSpace>, kMaxBatch> out_control_{};
};

}  // namespace

std::unique_ptr<PacketIo> make_epoll_io() { return std::make_unique<EpollIo>(); }

}  // namespace wg::io
