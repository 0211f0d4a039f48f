// tests/io/output_test.cpp — the output module (io/output.hpp) through both backends, on real
// loopback UDP sockets: a message of several datagrams leaves as one UDP_SEGMENT send and
// arrives as that many datagrams; one the kernel refuses to segment is sent one by one and
// UDP GSO stays off; a sticky source that is not on the host is dropped and its endpoint
// reported; what cannot be sent at all is counted. And the read side: a UDP_GRO receive is
// handed on whole with its segment size, and counted.
//
// Each failure is first provoked on a bare socket with a header the output module built, so
// the errno the policy sees is asserted, not assumed.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "io/output.hpp"
#include "io/packet_io.hpp"

namespace {

using wg::core::Endpoint;
using wg::io::IoCounters;
using wg::io::Output;
using wg::io::PacketIo;

// A UDP socket on 127.0.0.1, on a port the kernel picks.
struct Udp {
  int fd = -1;
  uint16_t port = 0;
  Udp() {
    fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
    socklen_t len = sizeof(a);
    REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    port = ntohs(a.sin_port);
  }
  ~Udp() { ::close(fd); }
  Udp(const Udp&) = delete;
  Udp& operator=(const Udp&) = delete;

  void set(int level, int name) const {
    const int on = 1;
    REQUIRE(setsockopt(fd, level, name, &on, sizeof(on)) == 0);
  }

  // Every datagram that arrives within a bounded wait, once `want` have or the wait ends.
  std::vector<std::string> receive(size_t want) const {
    std::vector<std::string> got;
    char buf[65536];
    for (int waits = 0; got.size() < want && waits < 20; ++waits) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      for (ssize_t n; (n = ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) >= 0;)
        got.emplace_back(buf, static_cast<size_t>(n));
    }
    return got;
  }
};

// 127.0.0.1:port, with a sticky source when `source` is given.
Endpoint to(const Udp& u, const char* source = nullptr) {
  Endpoint e = Endpoint::v4(127, 0, 0, 1, u.port);
  if (source) {
    e.has_local = true;
    REQUIRE(inet_pton(AF_INET, source, e.local.data()) == 1);
  }
  return e;
}

// Datagrams with distinct bytes ('a', 'b', ... repeated), and their iovecs.
struct Datagrams {
  std::vector<std::string> bytes;
  std::vector<iovec> iov;
  explicit Datagrams(std::initializer_list<size_t> sizes, char first = 'a') {
    for (size_t n : sizes) bytes.emplace_back(n, static_cast<char>(first + bytes.size()));
    for (std::string& b : bytes) iov.push_back({b.data(), b.size()});
  }
};

// Queues `first` and then `second` as two messages to `dst`, flushes, and returns every
// datagram in the order they were queued.
std::vector<std::string> send_two(PacketIo& io, const Endpoint& dst, const Datagrams& first, const Datagrams& second) {
  io.send_udp(dst, first.iov);
  io.send_udp(dst, second.iov);
  io.flush();
  std::vector<std::string> all = first.bytes;
  all.insert(all.end(), second.bytes.begin(), second.bytes.end());
  return all;
}

// What the kernel answers one message as the output module builds it, sent on a bare socket:
// 0, or the errno.
int bare_send(const Udp& from, const Endpoint& dst, const Datagrams& d) {
  IoCounters counters;
  bool gso = true;
  std::vector<Endpoint> stale;
  Output out(counters, gso, stale);
  out.set_sockets(from.fd, -1);
  out.send_udp(dst, d.iov);
  REQUIRE(out.prepare().end == 1);
  return sendmsg(from.fd, &out.header(0)->msg_hdr, 0) < 0 ? errno : 0;
}

std::vector<std::unique_ptr<PacketIo>> backends() {
  std::vector<std::unique_ptr<PacketIo>> all;
  all.push_back(wg::io::make_epoll_io());
  std::string why;
  if (auto io = wg::io::make_uring_io(why))
    all.push_back(std::move(io));
  else
    MESSAGE("io_uring unavailable here: " << why);
  return all;
}

// Runs `check` once per backend, each on a fresh sending socket (set up by `prepare`).
void each_backend(const std::function<void(const Udp&)>& prepare, const std::function<void(PacketIo&)>& check) {
  for (auto& io : backends()) {
    CAPTURE(io->name());
    Udp sender;
    prepare(sender);
    io->set_udp(sender.fd, -1);
    io->set_udp_gso(true);
    check(*io);
    io->set_udp(-1, -1);
  }
}

}  // namespace

TEST_CASE("io output: a message of several datagrams arrives as that many datagrams, both backends") {
  Udp rx;
  each_backend([](const Udp&) {}, [&](PacketIo& io) {
    const std::vector<std::string> want = send_two(io, to(rx), Datagrams({1000, 1000, 1000, 400}), Datagrams({300}, 'x'));
    CHECK(rx.receive(want.size()) == want);
    const IoCounters& c = io.counters();
    CHECK(c.udp_gso_sends == 1);  // the single datagram is not a GSO send
    CHECK(c.udp_gso_datagrams == 4);
    CHECK(c.udp_gso_failures == 0);
    CHECK(c.udp_send_errors == 0);
    CHECK(io.udp_gso());
  });
}

TEST_CASE("io output: a message the kernel refuses to segment goes one datagram at a time, and GSO stays off") {
  Udp rx;
  // Without UDP checksums (SO_NO_CHECK) the kernel refuses every UDP_SEGMENT send but not a
  // plain one.
  {
    Udp probe;
    probe.set(SOL_SOCKET, SO_NO_CHECK);
    const int err = bare_send(probe, to(rx), Datagrams({100, 100, 100}));
    CHECK(err == EINVAL);
    CHECK(wg::io::gso_refused(err));
    CHECK(bare_send(probe, to(rx), Datagrams({100})) == 0);
    REQUIRE(rx.receive(1).size() == 1);
  }
  each_backend([](const Udp& s) { s.set(SOL_SOCKET, SO_NO_CHECK); }, [&](PacketIo& io) {
    std::vector<std::string> want = send_two(io, to(rx), Datagrams({100, 100, 60}), Datagrams({50}, 'x'));
    std::vector<std::string> got = rx.receive(want.size());
    if (io.name() == "io_uring") {
      // The refused message's datagrams go out once its completion is back, after the rest.
      std::sort(got.begin(), got.end());
      std::sort(want.begin(), want.end());
    }
    CHECK(got == want);  // epoll resends them at once: a peer's datagrams keep their order
    const IoCounters& c = io.counters();
    CHECK(c.udp_gso_failures == 1);
    CHECK(c.udp_gso_sends == 1);  // the attempt
    CHECK(c.udp_gso_datagrams == 3);
    CHECK(c.udp_send_errors == 0);
    CHECK_FALSE(io.udp_gso());

    // GSO is off now: a message of several datagrams queued anyway goes one by one.
    const Datagrams later({100, 100}, 'p');
    io.send_udp(to(rx), later.iov);
    io.flush();
    CHECK(rx.receive(2) == later.bytes);
    CHECK(c.udp_gso_sends == 1);
    CHECK(c.udp_gso_failures == 1);
    CHECK(c.udp_send_errors == 0);
  });
}

TEST_CASE("io output: a datagram too large for its path is resent alone and GSO stays on, up to a bound") {
  // The policy alone: EMSGSIZE is this message's trouble (segments above the path MTU), not
  // the socket's; only when it keeps coming does GSO go off.
  IoCounters counters;
  bool gso = true;
  std::vector<Endpoint> stale;
  Output out(counters, gso, stale);
  out.set_sockets(3, 4);
  std::vector<uint8_t> bytes(3 * 1600);
  const iovec d[3] = {{bytes.data(), 1600}, {bytes.data() + 1600, 1600}, {bytes.data() + 3200, 1600}};
  const Endpoint to = Endpoint::v4(192, 0, 2, 7, 51820);
  for (unsigned k = 1; k <= Output::kOversizeRefusalsMax; ++k) {
    CAPTURE(k);
    out.send_udp(to, d);
    REQUIRE(out.prepare().end == 1);
    const Output::Range again = out.failed(0, EMSGSIZE);
    CHECK(again.end - again.first == 3);  // its datagrams, one message each
    CHECK(counters.udp_gso_failures == k);
    CHECK(gso == (k < Output::kOversizeRefusalsMax));
    out.clear();
  }
  // EIO (no checksum offload on the way out) switches it off at once.
  gso = true;
  out.send_udp(to, d);
  REQUIRE(out.prepare().end == 1);
  const Output::Range again = out.failed(0, EIO);
  CHECK(again.end - again.first == 3);
  CHECK_FALSE(gso);
}

TEST_CASE("io output: a sticky source that is not on the host is dropped and its endpoint reported") {
  Udp rx;
  // A source address no interface has: the route lookup for it fails.
  const char* gone = "192.0.2.77";
  {
    Udp probe;
    CHECK(bare_send(probe, to(rx, gone), Datagrams({100})) == ENETUNREACH);
    CHECK(bare_send(probe, to(rx, gone), Datagrams({100, 100})) == ENETUNREACH);
  }
  each_backend([](const Udp&) {}, [&](PacketIo& io) {
    const Datagrams one({120});
    io.send_udp(to(rx, gone), one.iov);
    io.flush();
    CHECK(rx.receive(1) == one.bytes);
    REQUIRE(io.stale_sources().size() == 1);
    CHECK(io.stale_sources()[0].same_remote(to(rx)));
    CHECK(io.stale_sources()[0].has_local);
    CHECK(io.counters().udp_send_errors == 0);
    io.stale_sources().clear();

    // A UDP_SEGMENT message with that source: not a segmentation refusal (ENETUNREACH), so
    // it goes again whole without the source, and GSO stays on.
    const Datagrams run({200, 200, 80}, 'k');
    io.send_udp(to(rx, gone), run.iov);
    io.flush();
    CHECK(rx.receive(3) == run.bytes);
    CHECK(io.stale_sources().size() == 1);
    const IoCounters& c = io.counters();
    CHECK(c.udp_gso_sends == 1);
    CHECK(c.udp_gso_failures == 0);
    CHECK(c.udp_send_errors == 0);
    CHECK(io.udp_gso());
  });
}

TEST_CASE("io output: what has nowhere to go is counted") {
  each_backend([](const Udp&) {}, [&](PacketIo& io) {
    // No IPv6 socket: each datagram of the message is a send error.
    const Datagrams run({100, 100, 100});
    io.send_udp(Endpoint::v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 51820), run.iov);
    // A port whose far end is closed: the write fails.
    int sv[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) == 0);
    ::close(sv[1]);
    io.add_port(0, sv[0]);
    char frame[] = "frame";
    const iovec v{frame, 5};
    io.write_port(0, {&v, 1});
    io.flush();
    const IoCounters& c = io.counters();
    CHECK(c.udp_send_errors == 3);
    CHECK(c.udp_gso_sends == 0);
    CHECK(c.port_write_errors == 1);
    CHECK(c.tun_write_errors == 0);
    io.remove_port(0);
    ::close(sv[0]);
  });
}

namespace {

struct RxRecord {
  std::string bytes;
  size_t segment, headroom;
  uint16_t from_port;
};

struct RecordingSink final : wg::io::PacketSink {
  std::vector<RxRecord> got;
  void on_datagrams(std::span<wg::io::RxDatagram> batch) override {
    for (const wg::io::RxDatagram& d : batch)
      got.push_back({std::string(reinterpret_cast<const char*>(d.bytes.data()), d.bytes.size()), d.segment,
                     d.headroom, d.from.port});
  }
  void on_tun_packets(std::span<wg::io::DeviceRead>) override {}
  void on_port_frames(uint32_t, std::span<wg::io::DeviceRead>) override {}
  void on_fd(int) override {}
};

}  // namespace

TEST_CASE("io output: a UDP_GRO receive is handed on whole with its segment size, and counted") {
  for (auto& io : backends()) {
    CAPTURE(io->name());
    Udp rx, tx;
    rx.set(SOL_UDP, UDP_GRO);
    io->set_udp(rx.fd, -1);
    // Over loopback a UDP_SEGMENT send reaches a UDP_GRO socket as one receive.
    const Datagrams run({1000, 1000, 1000, 400});
    const Datagrams one({500}, 'x');
    REQUIRE(bare_send(tx, to(rx), run) == 0);
    REQUIRE(bare_send(tx, to(rx), one) == 0);
    RecordingSink sink;
    for (int i = 0; i < 100 && sink.got.size() < 2; ++i) io->poll(std::chrono::milliseconds(10), sink);
    REQUIRE(sink.got.size() == 2);
    CHECK(sink.got[0].bytes == run.bytes[0] + run.bytes[1] + run.bytes[2] + run.bytes[3]);
    CHECK(sink.got[0].segment == 1000);
    CHECK(sink.got[0].headroom >= wg::io::kRxMinHeadroom);
    CHECK(sink.got[0].from_port == tx.port);
    CHECK(sink.got[1].bytes == one.bytes[0]);
    CHECK(sink.got[1].segment == 0);
    CHECK(io->counters().udp_gro_receives == 1);
    CHECK(io->counters().udp_gro_datagrams == 4);
    io->set_udp(-1, -1);
  }
}
