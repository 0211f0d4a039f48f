// tests/io/uapi_server_test.cpp — io::UapiServer never waits on a client: a reply bigger than
// the socket takes leaves on_readable() at once, and the rest goes out from flush_waiting()
// as the client reads, byte for byte what the protocol answered.
#include <doctest/doctest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "config/uapi.hpp"
#include "config/uapi_hooks.hpp"
#include "core/harness.hpp"
#include "crypto/encoding.hpp"
#include "crypto/x25519.hpp"
#include "io/uapi_server.hpp"

namespace {

using namespace wg;
using Clock = std::chrono::steady_clock;

struct Hooks final : testing::StillUapiHooks {
  Hooks() : StillUapiHooks(7) {}
};

TEST_CASE("uapi server: a reply larger than the socket takes does not wait for the client") {
  core::Device dev;
  core::RouteTable table;
  Hooks hooks;
  const config::UapiTarget target{dev, table, hooks};
  // One peer owning 200 000 /32s: `get` answers about 5 MB, more than the socket buffer.
  uint8_t priv[32], pub[32];
  for (int i = 0; i < 32; ++i) priv[i] = static_cast<uint8_t>(i * 7 + 3);
  crypto::x25519_public(pub, priv);
  core::PublicKey key;
  std::memcpy(key.data(), pub, 32);
  const auto id = dev.add_peer(key);
  REQUIRE(id);
  for (uint32_t i = 0; i < 200000; ++i) {
    const uint8_t a[4] = {10, static_cast<uint8_t>(i >> 16), static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)};
    table.insert(core::Prefix::make(core::Family::V4, a, 32), core::RouteTarget::peer(*id));
  }
  std::string want;
  {
    config::UapiConnection direct{target};
    REQUIRE(direct.feed("get=1\n\n", want));
    while (direct.pending()) direct.feed({}, want);
  }
  REQUIRE(want.size() > size_t{4} << 20);

  const std::string path = "/tmp/wgt-uapi-server-test-" + std::to_string(::getpid()) + ".sock";
  ::unlink(path.c_str());
  auto lfd = io::uapi_listen(path);
  REQUIRE(lfd);
  io::UapiServer srv(*lfd, path);
  std::vector<int> watched;
  auto watch = [&](int fd) { watched.push_back(fd); };
  auto unwatch = [&](int fd) { std::erase(watched, fd); };

  const int cli = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path, path.c_str(), path.size());
  REQUIRE(::connect(cli, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0);
  srv.on_readable(srv.listen_fd(), target, watch, unwatch);
  REQUIRE(watched.size() == 1);
  const int conn = watched[0];
  REQUIRE(::send(cli, "get=1\n\n", 7, 0) == 7);

  // The client reads nothing yet: the server must not wait for it. (What it takes is making
  // the reply, ~0.1 s here and more under ASan; waiting for the reader took 2 s and more.)
  const auto t0 = Clock::now();
  srv.on_readable(conn, target, watch, unwatch);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
  MESSAGE("on_readable took " << took.count() << " ms for a " << want.size() << "-byte reply");
  CHECK(took < std::chrono::milliseconds(1000));
  CHECK(srv.waiting() == 1);

  // The client reads; the loop's ticks send the rest.
  std::string got;
  char buf[65536];
  const auto end = Clock::now() + std::chrono::seconds(20);
  while (got.size() < want.size() && Clock::now() < end) {
    const ssize_t n = ::recv(cli, buf, sizeof(buf), MSG_DONTWAIT);
    if (n > 0) {
      got.append(buf, static_cast<size_t>(n));
      continue;
    }
    srv.flush_waiting(unwatch);
  }
  CHECK(got.size() == want.size());
  CHECK(got == want);
  CHECK(srv.waiting() == 0);
  CHECK(watched.size() == 1);  // the connection stays for the next request

  ::close(cli);
  srv.on_readable(conn, target, watch, unwatch);  // end of file: closed and unwatched
  CHECK(watched.empty());
  srv.unlink_socket();
}

}  // namespace
