// tests/io/port_io_test.cpp — both I/O backends with a port whose descriptor is replaced (a
// re-created veth) and then removed: datagram socket pairs stand in for the packet socket, so
// what the "instance" writes on the far end is what the backend reads. A read the io_uring
// backend had in flight on the old descriptor must never be delivered (nor its buffer reused
// while the kernel may still write into it — the ASan build checks that part), and nothing is
// read or written through a removed port.
#include <doctest/doctest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "io/packet_io.hpp"

namespace {

using wg::io::PacketIo;
using wg::io::PacketSink;

struct RecordingSink final : PacketSink {
  std::vector<std::pair<uint32_t, std::string>> frames;
  void on_datagrams(std::span<wg::io::RxDatagram>) override {}
  void on_tun_packets(std::span<wg::io::DeviceRead>) override {}
  void on_port_frames(uint32_t port, std::span<wg::io::DeviceRead> batch) override {
    for (const wg::io::DeviceRead& f : batch)
      frames.emplace_back(port, std::string(reinterpret_cast<const char*>(f.buf.data() + wg::io::kPortReadOffset), f.len));
  }
  void on_fd(int) override {}
};

struct Pair {
  int port = -1, inst = -1;  // the backend's end, the instance's end
  Pair() {
    int sv[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) == 0);
    port = sv[0];
    inst = sv[1];
  }
  ~Pair() {
    if (port >= 0) ::close(port);
    ::close(inst);
  }
  void close_port() {
    ::close(port);
    port = -1;
  }
  void send(const std::string& s) const { REQUIRE(::send(inst, s.data(), s.size(), 0) == static_cast<ssize_t>(s.size())); }
  std::string recv() const {
    char b[256];
    const ssize_t n = ::recv(inst, b, sizeof(b), MSG_DONTWAIT);
    return n > 0 ? std::string(b, static_cast<size_t>(n)) : std::string();
  }
};

// Polls (bounded) until the sink holds `want` frames, then a little longer for extras.
void pump(PacketIo& io, RecordingSink& sink, size_t want) {
  for (int i = 0; i < 100 && sink.frames.size() < want; ++i) io.poll(std::chrono::milliseconds(10), sink);
  for (int i = 0; i < 5; ++i) io.poll(std::chrono::milliseconds(10), sink);
}

// Queues a one-piece frame for port `id`.
void write_port(PacketIo& io, uint32_t id, const char* frame) {
  const iovec v{const_cast<char*>(frame), std::strlen(frame)};
  io.write_port(id, {&v, 1});
}

void exercise(PacketIo& io) {
  RecordingSink sink;
  auto a = std::make_unique<Pair>();
  io.add_port(0, a->port);
  a->send("one");
  pump(io, sink, 1);
  REQUIRE(sink.frames.size() == 1);
  CHECK(sink.frames[0] == std::pair<uint32_t, std::string>{0, "one"});

  // The interface is re-created: port 0 now reads the new descriptor. A frame that reached the
  // old one just before the swap is not delivered: io_uring completes the read the old
  // descriptor had armed while the swap flushes the write queued for it, so that completion
  // waits in the backend when the swap happens; and one that arrives after the swap is not
  // read at all.
  a->send("stale");
  write_port(io, 0, "last");
  Pair b;
  io.replace_port(0, b.port);
  CHECK(a->recv() == "last");  // flushed to the descriptor it was queued for
  a->send("later");
  a->close_port();
  b.send("new");
  pump(io, sink, 2);
  REQUIRE(sink.frames.size() == 2);
  CHECK(sink.frames[1] == std::pair<uint32_t, std::string>{0, "new"});
  b.send("again");
  pump(io, sink, 3);
  REQUIRE(sink.frames.size() == 3);  // each new read armed once: one frame, once
  CHECK(sink.frames[2].second == "again");

  // Writes go to the new descriptor.
  write_port(io, 0, "out");
  io.flush();
  CHECK(b.recv() == "out");
  CHECK(a->recv().empty());

  // Another port next to it, then port 0 removed: nothing read from it or written to it.
  Pair c;
  io.add_port(1, c.port);
  io.remove_port(0);
  b.send("after removal");
  c.send("port 1");
  pump(io, sink, 4);
  REQUIRE(sink.frames.size() == 4);
  CHECK(sink.frames[3] == std::pair<uint32_t, std::string>{1, "port 1"});
  write_port(io, 0, "x");
  io.flush();
  CHECK(b.recv().empty());
  io.remove_port(0);  // twice: nothing happens
  c.send("still");
  pump(io, sink, 5);
  REQUIRE(sink.frames.size() == 5);
  CHECK(sink.frames[4] == std::pair<uint32_t, std::string>{1, "still"});
}

}  // namespace

TEST_CASE("port io: epoll backend replaces and removes a port's descriptor") {
  auto io = wg::io::make_epoll_io();
  exercise(*io);
}

TEST_CASE("port io: io_uring backend replaces and removes a port's descriptor, reads in flight never delivered") {
  std::string why;
  auto io = wg::io::make_uring_io(why);
  if (!io) {
    MESSAGE("io_uring unavailable here: " << why);
    return;
  }
  exercise(*io);
}
