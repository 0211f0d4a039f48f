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
    writes_.reserve(kMaxBatch * 2);
    batch_.reserve(kMaxBatch * kMaxGroSegments);
  }
  ~EpollIo() override { ::close(epfd_); }

  std::string_view name() const override { return "epoll+recvmmsg"; }

  void set_udp(int fd4, int fd6) override {
    for (int fd : {udp_[0], udp_[1]})
      if (fd >= 0) epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
    udp_ = {fd4, fd6};
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

  void send_udp(const core::Endpoint& to, std::span<const uint8_t> bytes) override {
    sends_.push_back({to, bytes});
  }
  void write_tun(std::span<const uint8_t> bytes) override {
    const iovec v{const_cast<uint8_t*>(bytes.data()), bytes.size()};
    write_tun_v({&v, 1});
  }
  void write_port(uint32_t id, std::span<const uint8_t> frame) override {
    const iovec v{const_cast<uint8_t*>(frame.data()), frame.size()};
    write_port_v(id, {&v, 1});
  }
  void write_tun_v(std::span<const iovec> parts) override { queue_write(tun_, true, parts); }
  void write_port_v(uint32_t id, std::span<const iovec> parts) override {
    if (id < ports_.size()) queue_write(ports_[id], false, parts);
  }

  void flush() override {
    flush_udp();
    for (const Write& w : writes_) {
      ++counters_.syscalls;
      if (::writev(w.fd, write_iov_.data() + w.first, static_cast<int>(w.count)) < 0)
        ++(w.tun ? counters_.tun_write_errors : counters_.port_write_errors);
    }
    writes_.clear();
    write_iov_.clear();
  }

 private:
  struct Write {
    int fd;
    bool tun;
    unsigned first, count;  // pieces in write_iov_
  };

  void queue_write(int fd, bool tun, std::span<const iovec> parts) {
    if (fd < 0 || parts.empty()) return;
    writes_.push_back({fd, tun, static_cast<unsigned>(write_iov_.size()), static_cast<unsigned>(parts.size())});
    write_iov_.insert(write_iov_.end(), parts.begin(), parts.end());
  }

  int port_of(int fd) const {
    for (size_t i = 0; i < ports_.size(); ++i)
      if (ports_[i] == fd) return static_cast<int>(i);
    return -1;
  }

  void read_port(uint32_t id, PacketSink& sink) {
    size_t n = 0;
    bool gone = false;
    for (; n < kMaxBatch; ++n) {
      uint8_t* buf = tun_rx_.data() + n * kBufferSize;
      const ssize_t r = ::read(ports_[id], buf + kPortReadOffset, core::kPortReadMax);
      ++counters_.syscalls;
      if (r < 0 && (errno == EBADFD || errno == EBADF)) {  // the TAP was deleted: stop watching it
        ++counters_.port_read_errors;
        epoll_ctl(epfd_, EPOLL_CTL_DEL, ports_[id], nullptr);
        gone = true;
        break;
      }
      if (r <= 0) break;
      tun_batch_[n] = {{buf, kBufferSize}, static_cast<size_t>(r)};
    }
    if (n) sink.on_port_frames(id, std::span(tun_batch_.data(), n));
    if (gone) {
      flush();
      sink.on_port_gone(id);
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
    if (n <= 0) return;
    batch_.clear();
    for (int i = 0; i < n; ++i) {
      if (msgs_[i].msg_hdr.msg_flags & MSG_TRUNC) continue;
      core::Endpoint from = from_sockaddr(reinterpret_cast<sockaddr*>(&names_[i]));
      take_pktinfo(msgs_[i].msg_hdr, from);
      const size_t gro = take_gro_size(msgs_[i].msg_hdr);
      const size_t before = batch_.size();
      core::split_gro(batch_, {{rx_.data() + i * kBufferSize + kRxHeadroom, msgs_[i].msg_len}, from, kRxHeadroom, gro});
      if (batch_.size() - before > 1) {
        ++counters_.udp_gro_receives;
        counters_.udp_gro_datagrams += batch_.size() - before;
      }
    }
    if (!batch_.empty()) sink.on_datagrams(std::span(batch_.data(), batch_.size()));
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
    if (err) sink.on_tun_error(err);
  }

  // Fills message m with sends_[first, first + k): one datagram, or a UDP_SEGMENT run.
  void build_message(size_t m, size_t first, size_t k) {
    prepare_send(out_[m].msg_hdr, out_names_[m], &out_iov_[first], out_control_[m].data(),
                 std::span(sends_).subspan(first, k));
    if (k > 1) {
      ++counters_.udp_gso_sends;
      counters_.udp_gso_datagrams += k;
    }
    out_first_[m] = first;
    out_run_[m] = k;
  }

  void flush_udp() {
    if (out_iov_.size() < sends_.size()) out_iov_.resize(sends_.size());
    size_t i = 0;
    while (i < sends_.size()) {
      // One sendmmsg per stretch of the same family (the two sockets), each message one
      // datagram or a GSO run of them.
      const core::Family fam = sends_[i].to.family;
      size_t m = 0, used = 0;
      while (i + used < sends_.size() && m < kMaxBatch && sends_[i + used].to.family == fam) {
        const size_t k = gso_ ? gso_run(sends_, i + used) : 1;
        build_message(m++, i + used, k);
        used += k;
      }
      const int fd = fam == core::Family::V4 ? udp_[0] : udp_[1];
      size_t done = 0;
      while (fd >= 0 && done < m) {
        const int r = sendmmsg(fd, out_.data() + done, static_cast<unsigned>(m - done), MSG_DONTWAIT);
        ++counters_.syscalls;
        if (r > 0) {
          done += static_cast<size_t>(r);
          continue;
        }
        const int e = errno;
        if (out_run_[done] > 1) {
          if (e == EIO || e == EINVAL || e == EMSGSIZE || e == EOPNOTSUPP) {
            // The kernel cannot segment this send: these go one by one, and GSO stays off.
            ++counters_.udp_gso_failures;
            gso_ = false;
            send_singly(fd, out_first_[done], out_run_[done]);
          } else {
            counters_.udp_send_errors += out_run_[done];
          }
          ++done;
          continue;
        }
        if (out_[done].msg_hdr.msg_controllen && e != EAGAIN) {
          // The sticky source is gone (address removed, route changed): let routing pick one.
          out_[done].msg_hdr.msg_control = nullptr;
          out_[done].msg_hdr.msg_controllen = 0;
          stale_sources_.push_back(sends_[out_first_[done]].to);
          continue;
        }
        ++counters_.udp_send_errors;
        ++done;  // drop this one, keep the rest
      }
      if (fd < 0) counters_.udp_send_errors += used;
      i += used;
    }
    sends_.clear();
  }

  void send_singly(int fd, size_t first, size_t k) {
    for (size_t j = 0; j < k; ++j) {
      build_message(0, first + j, 1);
      ++counters_.syscalls;
      if (sendmsg(fd, &out_[0].msg_hdr, MSG_DONTWAIT) < 0) ++counters_.udp_send_errors;
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
  std::vector<RxDatagram> batch_;  // several per receive with UDP_GRO
  std::array<DeviceRead, kMaxBatch> tun_batch_{};
  size_t tun_vnet_ = 0;  // kVnetLen when the TUN has a virtio-net header
  std::vector<UdpSend> sends_;
  std::vector<Write> writes_;
  std::vector<iovec> write_iov_;
  std::vector<int> ports_;
  std::array<mmsghdr, kMaxBatch> out_{};
  std::vector<iovec> out_iov_;  // one per queued send
  std::array<sockaddr_storage, kMaxBatch> out_names_{};
  std::array<std::array<uint8_t, kSendControlSpace>, kMaxBatch> out_control_{};
  std::array<size_t, kMaxBatch> out_first_{};  // first send of each message
  std::array<size_t, kMaxBatch> out_run_{};    // sends in each message
};

}  // namespace

std::unique_ptr<PacketIo> make_epoll_io() { return std::make_unique<EpollIo>(); }

}  // namespace wg::io
