// io/uring_io.cpp — the io_uring backend. UDP arrives through one multishot recvmsg per socket
// drawing from a provided-buffer ring (no syscall per datagram, no re-arming per datagram);
// the TUN is read through a set of reads kept in flight; control descriptors through
// multishot polls. Output of a batch (sendmsg and TUN writes) goes in one submission, and the
// batch's buffers are recycled once those complete.
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <vector>

#include "io/output.hpp"
#include "io/packet_io.hpp"
#include "io/sockaddr.hpp"

namespace wg::io {

namespace {

constexpr unsigned kRingEntries = 1024;
constexpr unsigned kRxBuffers = 256;  // provided buffers for UDP receive (power of two)
constexpr unsigned kTunReads = 32;    // TUN reads kept in flight
constexpr unsigned kPortReads = 8;    // reads kept in flight per port
constexpr int kBufGroup = 7;

// user_data layout: kind in the top byte, an index or descriptor below.
// kSend and kWrite carry the index of the message or write in the output queue.
enum Kind : uint64_t { kUdpRecv = 1, kTunRead = 2, kPoll = 3, kSend = 4, kWrite = 5, kPortRead = 6 };
constexpr uint64_t tag(Kind k, uint64_t v) { return (uint64_t(k) << 56) | v; }
constexpr Kind kind_of(uint64_t ud) { return static_cast<Kind>(ud >> 56); }
constexpr uint64_t value_of(uint64_t ud) { return ud & ((uint64_t{1} << 56) - 1); }
// UDP receives carry the socket generation above the descriptor, so completions of a socket
// that was replaced are told apart even when the new one gets the same descriptor number.
constexpr uint64_t recv_tag(int fd, uint64_t gen) { return tag(kUdpRecv, (gen << 32) | static_cast<uint32_t>(fd)); }
constexpr uint64_t gen_of(uint64_t ud) { return value_of(ud) >> 32; }
constexpr int fd_of(uint64_t ud) { return static_cast<int>(value_of(ud) & 0xffffffffu); }

struct Cqe {
  uint64_t user_data;
  int32_t res;
  uint32_t flags;
};

class UringIo final : public PacketIo {
 public:
  UringIo() = default;
  ~UringIo() override {
    if (ready_) io_uring_queue_exit(&ring_);
    if (br_) munmap(br_, kRxBuffers * sizeof(io_uring_buf));
  }

  bool init(std::string& why) {
    io_uring_params p{};
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    int rc = io_uring_queue_init_params(kRingEntries, &ring_, &p);
    if (rc == -EINVAL) {  // kernels before 6.1 lack those two flags
      p = {};
      rc = io_uring_queue_init_params(kRingEntries, &ring_, &p);
    }
    if (rc < 0) {
      why = std::string("io_uring_setup: ") + std::strerror(-rc);
      return false;
    }
    ready_ = true;
    if (!(p.features & IORING_FEAT_NODROP)) {
      why = "io_uring without IORING_FEAT_NODROP";
      return false;
    }
    rx_.resize(size_t{kRxBuffers} * kBufferSize);
    void* mem = mmap(nullptr, kRxBuffers * sizeof(io_uring_buf), PROT_READ | PROT_WRITE,
                     MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (mem == MAP_FAILED) {
      why = "mmap for the buffer ring failed";
      return false;
    }
    br_ = static_cast<io_uring_buf_ring*>(mem);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<uint64_t>(br_);
    reg.ring_entries = kRxBuffers;
    reg.bgid = kBufGroup;
    if ((rc = io_uring_register_buf_ring(&ring_, &reg, 0)) != 0) {
      why = std::string("provided-buffer ring: ") + std::strerror(-rc);
      return false;
    }
    io_uring_buf_ring_init(br_);
    for (unsigned i = 0; i < kRxBuffers; ++i)
      io_uring_buf_ring_add(br_, rx_.data() + size_t{i} * kBufferSize, kBufferSize, static_cast<uint16_t>(i),
                            io_uring_buf_ring_mask(kRxBuffers), static_cast<int>(i));
    io_uring_buf_ring_advance(br_, kRxBuffers);
    // The template for multishot recvmsg: how much room name and control get in each buffer.
    recv_hdr_.msg_namelen = sizeof(sockaddr_storage);
    recv_hdr_.msg_controllen = kRecvControlSpace;
    tun_rx_.resize(size_t{kTunReads} * kBufferSize);
    stash_.reserve(kRingEntries);
    return true;
  }

  std::string_view name() const override { return "io_uring"; }

  void add_port(uint32_t id, int fd) override {
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);  // as for the TUN
    if (ports_.size() <= id) ports_.resize(id + 1);
    PortRx& p = ports_[id];
    p.fd = fd;
    p.gone = false;
    p.rx.resize(size_t{kPortReads} * kBufferSize);
    for (unsigned i = 0; i < kPortReads; ++i) arm_port_read(id, i);
  }

  void replace_port(uint32_t id, int fd) override {
    remove_port(id);
    add_port(id, fd);
  }

  void remove_port(uint32_t id) override {
    if (id >= ports_.size() || ports_[id].fd < 0) return;
    flush();  // what was queued for it goes out on the descriptor it was meant for
    retire_reads(id);
    ports_[id].fd = -1;
  }

  // Stops the receives on the current sockets (their in-flight requests hold the sockets
  // open, so a rebind to the same port would fail), then arms the new ones.
  void set_udp(int fd4, int fd6) override {
    const uint64_t old_gen = gen_;
    int cancels = 0;
    for (int fd : udp_) {
      if (fd < 0) continue;
      io_uring_sqe* sqe = get_sqe();
      io_uring_prep_cancel64(sqe, recv_tag(fd, old_gen), 0);
      io_uring_sqe_set_data64(sqe, 0);
      ++cancels;
    }
    ++gen_;
    udp_ = {fd4, fd6};
    out_.set_sockets(fd4, fd6);
    // Wait (bounded) for the cancelled requests' last completions.
    for (int i = 0; i < 50 && cancels > 0; ++i) {
      __kernel_timespec ts{0, 10'000'000};
      io_uring_cqe* cqe = nullptr;
      ++counters_.syscalls;
      io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
      const size_t before = stash_.size();
      reap_into_stash();
      for (size_t k = before; k < stash_.size(); ++k)
        if (kind_of(stash_[k].user_data) == kUdpRecv && gen_of(stash_[k].user_data) == old_gen &&
            !(stash_[k].flags & IORING_CQE_F_MORE))
          --cancels;
    }
    for (int fd : udp_)
      if (fd >= 0) arm_recv(fd);
  }

  void set_tun(int fd, bool vnet) override {
    // io_uring hands -EAGAIN straight back for reads on an O_NONBLOCK file instead of waiting
    // for data, which would spin; a blocking descriptor makes it arm a poll internally.
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    tun_ = fd;
    tun_vnet_ = vnet ? kVnetLen : 0;
    for (unsigned i = 0; i < kTunReads; ++i) arm_tun_read(i);
  }

  void watch(int fd) override {
    if (!is_watched(fd)) watched_.push_back(fd);
    arm_poll(fd);
  }
  void unwatch(int fd) override {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_poll_remove(sqe, tag(kPoll, static_cast<uint64_t>(fd)));
    io_uring_sqe_set_data64(sqe, 0);
    for (size_t i = 0; i < watched_.size(); ++i)
      if (watched_[i] == fd) {
        watched_[i] = watched_.back();
        watched_.pop_back();
        break;
      }
  }

  void poll(core::Duration timeout, PacketSink& sink) override {
    if (stash_.empty()) {
      __kernel_timespec ts{};
      ts.tv_sec = timeout.count() / 1'000'000'000;
      ts.tv_nsec = timeout.count() % 1'000'000'000;
      io_uring_cqe* cqe = nullptr;
      ++counters_.syscalls;
      io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
    }
    reap_into_stash();
    // Process what arrived: data in batches, control descriptors afterwards.
    // Completions arriving while this batch is flushed go to stash_; this batch works on work_.
    // Both keep their capacity across calls: no allocation per poll.
    work_.swap(stash_);
    size_t nudp = 0, ntun = 0, nport = 0;
    for (const Cqe& c : work_) {
      switch (kind_of(c.user_data)) {
        case kUdpRecv:
          take_datagram(c, nudp);
          if (nudp == kMaxBatch) dispatch_udp(sink, nudp);
          break;
        case kTunRead:
          take_tun(c, ntun);
          if (ntun == kMaxBatch) dispatch_tun(sink, ntun);
          break;
        case kPortRead:
          if (nport && port_of_tag(c.user_data) != batch_port_) dispatch_ports(sink, nport);
          take_port(c, nport);
          if (nport == kMaxBatch) dispatch_ports(sink, nport);
          break;
        case kPoll: {
          // A poll that ended normally (res is the event mask) is armed again while its
          // descriptor is watched; one that failed or was cancelled (a closed or unwatched
          // descriptor, maybe since reused) is not: re-arming it would spin.
          const int fd = static_cast<int>(value_of(c.user_data));
          if (c.res > 0 && is_watched(fd)) {
            if (!(c.flags & IORING_CQE_F_MORE)) arm_poll(fd);
            polls_ready_.push_back(fd);
          }
          break;
        }
        default:
          break;
      }
    }
    dispatch_udp(sink, nudp);
    dispatch_tun(sink, ntun);
    dispatch_ports(sink, nport);
    if (tun_error_ && !tun_error_reported_) {
      tun_error_reported_ = true;
      sink.on_device_gone(std::nullopt, tun_error_);
      flush();
    }
    if (!gone_.empty()) {
      gone_now_.swap(gone_);
      for (const auto& [id, err] : gone_now_) {
        sink.on_device_gone(id, err);
        flush();
      }
      gone_now_.clear();
    }
    for (int fd : rearm_)
      if (fd == udp_[0] || fd == udp_[1]) arm_recv(fd);
    rearm_.clear();
    work_.clear();
    ready_fds_.swap(polls_ready_);
    for (int fd : ready_fds_) {
      if (!is_watched(fd)) continue;  // an earlier handler closed it
      sink.on_fd(fd);
      flush();
    }
    ready_fds_.clear();
  }

  void send_udp(const core::Endpoint& to, std::span<const iovec> datagrams) override {
    out_.send_udp(to, datagrams);
  }
  void write_tun(std::span<const iovec> parts) override { out_.write(tun_, true, parts); }
  void write_port(uint32_t id, std::span<const iovec> parts) override {
    if (id < ports_.size()) out_.write(ports_[id].fd, false, parts);
  }

  // Submits every queued message and write at once and waits for them, so the buffers they
  // point into can be reused when this returns.
  void flush() override {
    if (out_.empty()) return;
    submit_sends(out_.prepare());
    const std::span<const Output::Write> writes = out_.writes();
    for (size_t i = 0; i < writes.size(); ++i) {
      io_uring_sqe* sqe = get_sqe();
      io_uring_prep_writev(sqe, writes[i].fd, out_.pieces(writes[i]), writes[i].count, 0);
      io_uring_sqe_set_data64(sqe, tag(kWrite, i));
      ++outstanding_;
    }
    while (outstanding_ > 0) {
      ++counters_.syscalls;
      if (io_uring_submit_and_wait(&ring_, 1) < 0 && errno != EINTR) break;
      reap_into_stash();
    }
    out_.clear();
  }

 private:
  // A port's reads carry its descriptor generation: reads of a replaced or removed descriptor
  // are told apart from the new one's even though they use the same port id and slot.
  struct PortRx {
    int fd = -1;
    uint32_t gen = 0;
    unsigned inflight = 0;    // reads of this generation armed and not yet taken
    bool gone = false;        // reported through on_device_gone
    std::vector<uint8_t> rx;  // kPortReads buffers
  };
  // The buffers of a replaced or removed descriptor: kept until each of its reads has come
  // back (cancelled, or completed and thrown away), so the kernel never writes into freed
  // memory.
  struct RetiredRx {
    uint32_t id, gen;
    unsigned inflight;
    std::vector<uint8_t> rx;
  };
  static constexpr uint32_t kPortGenMask = 0xffffff;
  static uint64_t port_tag(uint32_t id, uint32_t gen, unsigned slot) {
    return tag(kPortRead, uint64_t{gen} << 32 | uint64_t{id & kPortGenMask} << 8 | slot);
  }
  static uint32_t port_of_tag(uint64_t ud) { return static_cast<uint32_t>(value_of(ud) >> 8) & kPortGenMask; }
  static uint32_t port_gen_of(uint64_t ud) { return static_cast<uint32_t>(value_of(ud) >> 32) & kPortGenMask; }

  void arm_port_read(uint32_t id, unsigned slot) {
    PortRx& p = ports_[id];
    io_uring_sqe* sqe = get_sqe();
    uint8_t* buf = p.rx.data() + size_t{slot} * kBufferSize;
    io_uring_prep_read(sqe, p.fd, buf + kPortReadOffset, core::kPortReadMax, 0);
    io_uring_sqe_set_data64(sqe, port_tag(id, p.gen, slot));
    ++p.inflight;
  }

  // Cancels the port's reads in flight and sets their buffers aside until they are back; the
  // next generation starts with none.
  void retire_reads(uint32_t id) {
    PortRx& p = ports_[id];
    for (unsigned slot = 0; slot < kPortReads; ++slot) {
      io_uring_sqe* sqe = get_sqe();
      io_uring_prep_cancel64(sqe, port_tag(id, p.gen, slot), 0);
      io_uring_sqe_set_data64(sqe, 0);
    }
    if (p.inflight > 0) retired_.push_back({id, p.gen, p.inflight, std::move(p.rx)});
    p.rx = {};
    p.inflight = 0;
    p.gen = (p.gen + 1) & kPortGenMask;
  }

  // One read of an old generation came back: its bytes are not delivered, its slot not armed.
  void retired_read_done(uint32_t id, uint32_t gen) {
    for (size_t i = 0; i < retired_.size(); ++i) {
      RetiredRx& r = retired_[i];
      if (r.id != id || r.gen != gen) continue;
      if (--r.inflight == 0) {
        retired_[i] = std::move(retired_.back());
        retired_.pop_back();
      }
      return;
    }
  }

  void take_port(const Cqe& c, size_t& n) {
    const uint32_t id = port_of_tag(c.user_data);
    const unsigned slot = static_cast<unsigned>(value_of(c.user_data) & 0xff);
    if (id >= ports_.size()) return;
    PortRx& p = ports_[id];
    if (port_gen_of(c.user_data) != p.gen) return retired_read_done(id, port_gen_of(c.user_data));
    --p.inflight;
    if (c.res <= 0) {
      // A deleted TAP answers every read with EBADFD: stop reading it rather than spin.
      if (c.res == -EBADF || c.res == -EBADFD) {
        ++counters_.port_read_errors;
        if (!p.gone) {
          p.gone = true;
          gone_.emplace_back(id, -c.res);
        }
        return;
      }
      if (c.res == -ECANCELED) return;  // not ours to re-arm
      arm_port_read(id, slot);
      return;
    }
    batch_port_ = id;
    port_slots_[n] = slot;
    port_batch_[n++] = {{ports_[id].rx.data() + size_t{slot} * kBufferSize, kBufferSize}, static_cast<size_t>(c.res)};
  }

  void dispatch_ports(PacketSink& sink, size_t& n) {
    if (n == 0) return;
    sink.on_port_frames(batch_port_, std::span(port_batch_.data(), n));
    flush();
    for (size_t i = 0; i < n; ++i) arm_port_read(batch_port_, port_slots_[i]);
    n = 0;
  }

  // One sendmsg request per message (one datagram, or several as UDP_SEGMENT).
  void submit_sends(Output::Range r) {
    for (size_t m = r.first; m < r.end; ++m) {
      if (out_.socket(m) < 0) continue;  // counted by the output queue
      io_uring_sqe* sqe = get_sqe();
      io_uring_prep_sendmsg(sqe, out_.socket(m), &out_.header(m)->msg_hdr, 0);
      io_uring_sqe_set_data64(sqe, tag(kSend, m));
      ++outstanding_;
    }
  }

  io_uring_sqe* get_sqe() {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    while (!sqe) {  // submission queue full: hand what we have to the kernel
      ++counters_.syscalls;
      io_uring_submit(&ring_);
      sqe = io_uring_get_sqe(&ring_);
    }
    return sqe;
  }

  void arm_recv(int fd) {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_recvmsg_multishot(sqe, fd, &recv_hdr_, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = kBufGroup;
    io_uring_sqe_set_data64(sqe, recv_tag(fd, gen_));
  }

  void arm_tun_read(unsigned slot) {
    io_uring_sqe* sqe = get_sqe();
    uint8_t* buf = tun_rx_.data() + size_t{slot} * kBufferSize;
    io_uring_prep_read(sqe, tun_, buf + core::kIngressHeadroom - tun_vnet_, core::kTunReadMax, 0);
    io_uring_sqe_set_data64(sqe, tag(kTunRead, slot));
  }

  void arm_poll(int fd) {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_poll_multishot(sqe, fd, POLLIN);
    io_uring_sqe_set_data64(sqe, tag(kPoll, static_cast<uint64_t>(fd)));
  }

  bool is_watched(int fd) const {
    for (int w : watched_)
      if (w == fd) return true;
    return false;
  }

  // Moves every available completion into the stash; completions of our own sends and writes
  // are accounted here.
  void reap_into_stash() {
    io_uring_cqe* cqe;
    unsigned head, n = 0;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      ++n;
      const Kind k = kind_of(cqe->user_data);
      if (k == kSend || k == kWrite) {
        --outstanding_;
        if (cqe->res < 0) output_failed(k, value_of(cqe->user_data), -cqe->res);
        continue;
      }
      if (cqe->user_data == 0) continue;  // poll removals
      stash_.push_back({cqe->user_data, cqe->res, cqe->flags});
    }
    io_uring_cq_advance(&ring_, n);
  }

  // A send or write of the current flush failed: the output policy says what goes again.
  void output_failed(Kind k, size_t i, int err) {
    if (k == kSend) return submit_sends(out_.failed(i, err));
    if (i < out_.writes().size()) out_.write_failed(out_.writes()[i]);
  }

  void take_datagram(const Cqe& c, size_t& n) {
    const int fd = fd_of(c.user_data);
    const bool current = gen_of(c.user_data) == gen_ && (fd == udp_[0] || fd == udp_[1]);
    // A finished multishot (buffers ran out, or an error) is re-armed once this batch's
    // buffers are back in the ring.
    if (!(c.flags & IORING_CQE_F_MORE) && current && c.res != -EBADF) rearm_.push_back(fd);
    if (c.res < 0 || !(c.flags & IORING_CQE_F_BUFFER)) return;
    const uint16_t bid = static_cast<uint16_t>(c.flags >> IORING_CQE_BUFFER_SHIFT);
    uint8_t* buf = rx_.data() + size_t{bid} * kBufferSize;
    held_[n++] = bid;  // back to the ring after the batch, whatever it held
    auto* out = io_uring_recvmsg_validate(buf, c.res, &recv_hdr_);
    if (!out || !current || (out->flags & MSG_TRUNC) || out->namelen > sizeof(sockaddr_storage)) return;
    core::Endpoint from = from_sockaddr(static_cast<sockaddr*>(io_uring_recvmsg_name(out)));
    size_t gro = 0;
    for (cmsghdr* cm = io_uring_recvmsg_cmsg_firsthdr(out, &recv_hdr_); cm;
         cm = io_uring_recvmsg_cmsg_nexthdr(out, &recv_hdr_, cm)) {
      msghdr one{};
      one.msg_control = cm;
      one.msg_controllen = cm->cmsg_len;
      take_pktinfo(one, from);
      if (const size_t g = take_gro_size(one)) gro = g;
    }
    auto* payload = static_cast<uint8_t*>(io_uring_recvmsg_payload(out, &recv_hdr_));
    const unsigned len = io_uring_recvmsg_payload_length(out, c.res, &recv_hdr_);
    if (len == 0) return;
    rx_batch_[nrx_] = {{payload, len}, from, static_cast<size_t>(payload - buf), gro};
    count_receive(rx_batch_[nrx_++]);
  }

  void dispatch_udp(PacketSink& sink, size_t& n) {
    if (n == 0) return;
    if (nrx_) sink.on_datagrams(std::span(rx_batch_.data(), nrx_));
    nrx_ = 0;
    flush();
    for (size_t i = 0; i < n; ++i)
      io_uring_buf_ring_add(br_, rx_.data() + size_t{held_[i]} * kBufferSize, kBufferSize, held_[i],
                            io_uring_buf_ring_mask(kRxBuffers), static_cast<int>(i));
    io_uring_buf_ring_advance(br_, static_cast<int>(n));
    n = 0;
  }

  void take_tun(const Cqe& c, size_t& n) {
    const unsigned slot = static_cast<unsigned>(value_of(c.user_data));
    if (c.res <= static_cast<int32_t>(tun_vnet_)) {
      // A deleted device answers every read with EBADFD: stop reading, tell the interface.
      if (c.res == -EBADF || c.res == -EBADFD)
        tun_error_ = -c.res;
      else
        arm_tun_read(slot);  // EAGAIN and friends: try again
      return;
    }
    tun_slots_[n] = slot;
    tun_batch_[n++] = {{tun_rx_.data() + size_t{slot} * kBufferSize, kBufferSize},
                       static_cast<size_t>(c.res) - tun_vnet_};
  }

  void dispatch_tun(PacketSink& sink, size_t& n) {
    if (n == 0) return;
    sink.on_tun_packets(std::span(tun_batch_.data(), n));
    flush();
    for (size_t i = 0; i < n; ++i) arm_tun_read(tun_slots_[i]);
    n = 0;
  }

  io_uring ring_{};
  bool ready_ = false;
  io_uring_buf_ring* br_ = nullptr;
  std::vector<uint8_t> rx_;
  std::vector<uint8_t> tun_rx_;
  msghdr recv_hdr_{};
  std::array<int, 2> udp_{-1, -1};
  int tun_ = -1;
  std::vector<Cqe> stash_;
  std::vector<Cqe> work_;
  std::vector<int> polls_ready_;
  std::vector<int> ready_fds_;
  std::vector<int> watched_;  // control descriptors with a poll armed
  std::vector<int> rearm_;
  std::array<RxDatagram, kMaxBatch> rx_batch_{};  // the receives in held_ that carry data
  size_t nrx_ = 0;
  std::array<uint16_t, kMaxBatch> held_{};  // provided buffers of this batch's receives
  std::array<DeviceRead, kMaxBatch> tun_batch_{};
  std::array<unsigned, kMaxBatch> tun_slots_{};
  size_t tun_vnet_ = 0;  // kVnetLen when the TUN has a virtio-net header
  int tun_error_ = 0;    // errno of a TUN read that ended reading for good
  bool tun_error_reported_ = false;
  std::vector<PortRx> ports_;
  std::vector<RetiredRx> retired_;
  std::vector<std::pair<uint32_t, int>> gone_;  // ports whose reads failed for good (errno), to report
  std::vector<std::pair<uint32_t, int>> gone_now_;  // the ones being reported
  std::array<DeviceRead, kMaxBatch> port_batch_{};
  std::array<unsigned, kMaxBatch> port_slots_{};
  uint32_t batch_port_ = 0;
  uint64_t gen_ = 0;
  int64_t outstanding_ = 0;
  Output out_{counters_, gso_, stale_sources_};
};

}  // namespace

std::unique_ptr<PacketIo> make_uring_io(std::string& why) {
  auto io = std::make_unique<UringIo>();
  if (!io->init(why)) return nullptr;
  return io;
}

}  // namespace wg::io
