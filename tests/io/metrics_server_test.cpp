// tests/io/metrics_server_test.cpp — io::MetricsServer on a unix socket in /tmp with a Device
// behind it and the loop's clock in the test's hands: a scrape gets the same text
// `wgrouter show --prometheus` makes; a big table is answered a few slices per loop turn; bad
// requests get their status; a request that does not come in time gets 408 (the clock is moved,
// nothing sleeps); a connection over the limit gets 503; a missing directory is an error.
#include <doctest/doctest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "config/status.hpp"
#include "config/uapi.hpp"
#include "config/uapi_hooks.hpp"
#include "core/harness.hpp"
#include "crypto/x25519.hpp"
#include "io/metrics_server.hpp"

namespace {

using namespace wg;

struct Hooks final : testing::StillUapiHooks {
  Hooks() : StillUapiHooks(9) {}
};

// A Device with `peers` peers, a metrics server on a fresh unix socket, and clients.
struct World {
  core::Device dev;
  core::RouteTable table;
  Hooks hooks;
  config::UapiTarget target{dev, table, hooks};
  std::string path = "/tmp/wgt-metrics-test-" + std::to_string(::getpid()) + ".sock";
  std::unique_ptr<io::MetricsServer> srv;
  std::vector<int> watched, clients;
  io::MetricsServer::FdCall watch = [this](int fd) { watched.push_back(fd); };
  io::MetricsServer::FdCall unwatch = [this](int fd) { std::erase(watched, fd); };
  core::Instant now{std::chrono::seconds(100)};

  explicit World(uint32_t peers) {
    for (uint32_t i = 0; i < peers; ++i) {
      uint8_t priv[32] = {}, pub[32];
      std::memcpy(priv + 1, &i, sizeof(i));  // byte 0's low bits are clamped away
      priv[31] = 0x40;
      crypto::x25519_public(pub, priv);
      core::PublicKey key;
      std::memcpy(key.data(), pub, 32);
      const auto id = dev.add_peer(key);
      REQUIRE(id);
      REQUIRE(*id == i);  // a new peer each time
      const uint8_t a[4] = {10, static_cast<uint8_t>(i >> 16), static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)};
      table.insert(core::Prefix::make(core::Family::V4, a, 32), core::RouteTarget::peer(*id));
    }
    ::unlink(path.c_str());
    config::MetricsListen m;
    m.text = m.unix_path = path;
    auto fd = io::metrics_listen(m);
    REQUIRE(fd);
    srv = std::make_unique<io::MetricsServer>(*fd, path, path);
  }
  ~World() {
    for (int c : clients) ::close(c);
    srv.reset();
  }

  // A new client, accepted by the server; returns (client fd, server's fd for it).
  std::pair<int, int> connect() {
    const int cli = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path, path.c_str(), path.size());
    REQUIRE(::connect(cli, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0);
    clients.push_back(cli);
    const size_t before = watched.size();
    srv->on_readable(srv->listen_fd(), now, target, "wgt0", watch, unwatch);
    return {cli, watched.size() > before ? watched.back() : -1};
  }
  void readable(int conn) { srv->on_readable(conn, now, target, "wgt0", watch, unwatch); }
  void flush() { srv->flush_waiting(now, target, "wgt0", unwatch); }
  // Everything the client has been sent until the server closes it, flushing between reads.
  std::string drain(int cli, int max_turns = 100000) {
    std::string got;
    char buf[65536];
    for (int turn = 0; turn < max_turns; ++turn) {
      const ssize_t n = ::recv(cli, buf, sizeof(buf), MSG_DONTWAIT);
      if (n > 0) {
        got.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n == 0) return got;
      flush();
    }
    FAIL("the server did not close the connection");
    return got;
  }
};

void send_all(int fd, std::string_view s) { REQUIRE(::send(fd, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size())); }

// The text `wgrouter show --prometheus` would print for the same Device.
std::string expected_text(World& w) {
  std::string reply;
  config::append_get_reply(w.target, reply, true);
  config::InterfaceStatus s;
  s.name = "wgt0";
  config::parse_status(reply, s);
  return config::PrometheusText::render({s});
}

}  // namespace

TEST_CASE("metrics server: a scrape in pieces gets the same text show --prometheus makes") {
  World w(3);
  w.dev.count_drop(core::Drop::SpoofedSource);
  auto [cli, conn] = w.connect();
  REQUIRE(conn >= 0);
  send_all(cli, "GET /metr");
  w.readable(conn);
  CHECK_FALSE(w.srv->busy());  // still reading
  send_all(cli, "ics HTTP/1.1\r\nHost: x\r\n\r\n");
  w.readable(conn);
  const std::string got = w.drain(cli);
  const size_t head_end = got.find("\r\n\r\n");
  REQUIRE(head_end != std::string::npos);
  CHECK(got.substr(0, head_end + 4) == config::http_metrics_head());
  const std::string body = got.substr(head_end + 4);
  CHECK(body == expected_text(w));
  CHECK(body.find("wgrouter_drops_total{interface=\"wgt0\",reason=\"spoofed_source\"} 1\n") != std::string::npos);
  CHECK(w.srv->connections() == 0);
  CHECK(w.watched.empty());  // the connection was unwatched when closed
}

TEST_CASE("metrics server: many peers are answered a few slices per loop turn") {
  constexpr uint32_t kPeers = 5000;
  World w(kPeers);
  auto [cli, conn] = w.connect();
  send_all(cli, "GET /metrics HTTP/1.0\r\n\r\n");
  // The first turn makes at most kSlicesPerPump slices: the head and a few hundred peers
  // listed, nothing of the per-peer families yet.
  w.readable(conn);
  CHECK(w.srv->busy());
  char buf[1 << 16];
  std::string first;
  for (ssize_t n; (n = ::recv(cli, buf, sizeof(buf), MSG_DONTWAIT)) > 0;) first.append(buf, static_cast<size_t>(n));
  CHECK(first == config::http_metrics_head());
  const std::string rest = w.drain(cli);
  CHECK(first + rest == config::http_metrics_head() + expected_text(w));
  size_t samples = 0;
  for (size_t p = 0; (p = rest.find("wireguard_sent_bytes_total{", p)) != std::string::npos; ++p) ++samples;
  CHECK(samples == kPeers);
}

TEST_CASE("metrics server: bad requests get their status and the connection closes") {
  World w(1);
  struct Case {
    std::string_view request;
    std::string_view status_line;
  };
  for (const Case& c : {Case{"POST /metrics HTTP/1.1\r\n\r\n", "HTTP/1.1 405 "}, Case{"GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 404 "},
                        Case{"BREW /pot HTCPCP/1.0\r\n\r\n", "HTTP/1.1 400 "},
                        Case{"GET /metrics HTTP/3\r\n\r\n", "HTTP/1.1 400 "}}) {
    CAPTURE(c.request);
    auto [cli, conn] = w.connect();
    send_all(cli, c.request);
    w.readable(conn);
    const std::string got = w.drain(cli);
    CHECK(got.starts_with(c.status_line));
    CHECK(got.find("wgrouter_") == std::string::npos);
  }
  // A request over 8 KiB, sent in pieces.
  auto [cli, conn] = w.connect();
  for (int i = 0; i < 3; ++i) {  // 9000 bytes without an end of line
    send_all(cli, std::string(3000, 'a'));
    w.readable(conn);
  }
  CHECK(w.drain(cli).starts_with("HTTP/1.1 431 "));
  CHECK(w.srv->connections() == 0);
}

TEST_CASE("metrics server: a request that does not arrive in time gets 408; HEAD gets headers only") {
  World w(1);
  auto [cli, conn] = w.connect();
  send_all(cli, "GET /metrics HTTP/1.1\r\n");
  w.readable(conn);
  w.now = w.now + io::MetricsServer::kReadTimeout - std::chrono::milliseconds(1);
  w.flush();
  CHECK(w.srv->connections() == 1);
  w.now = w.now + std::chrono::milliseconds(2);
  w.flush();
  CHECK(w.srv->connections() == 0);
  char buf[512];
  const ssize_t n = ::recv(cli, buf, sizeof(buf), MSG_DONTWAIT);
  REQUIRE(n > 0);
  CHECK(std::string(buf, static_cast<size_t>(n)).starts_with("HTTP/1.1 408 "));

  auto [hcli, hconn] = w.connect();
  send_all(hcli, "HEAD /metrics HTTP/1.1\r\n\r\n");
  w.readable(hconn);
  CHECK(w.drain(hcli) == config::http_metrics_head());
}

TEST_CASE("metrics server: connections over the limit get 503 and are closed; the others are served") {
  World w(1);
  std::vector<std::pair<int, int>> open;
  for (size_t i = 0; i < io::MetricsServer::kMaxConnections; ++i) {
    open.push_back(w.connect());
    REQUIRE(open.back().second >= 0);
  }
  auto [extra, none] = w.connect();
  CHECK(none == -1);
  CHECK(w.srv->connections() == io::MetricsServer::kMaxConnections);
  char buf[512];
  const ssize_t n = ::recv(extra, buf, sizeof(buf), 0);
  REQUIRE(n > 0);
  CHECK(std::string(buf, static_cast<size_t>(n)).starts_with("HTTP/1.1 503 "));
  CHECK(::recv(extra, buf, sizeof(buf), 0) == 0);  // closed
  send_all(open[0].first, "GET /metrics HTTP/1.1\r\n\r\n");
  w.readable(open[0].second);
  CHECK(w.drain(open[0].first).starts_with("HTTP/1.1 200 OK"));
}

TEST_CASE("metrics server: a unix socket whose directory is missing, or a busy port, is an error naming it") {
  config::MetricsListen m;
  m.text = m.unix_path = "/nonexistent-wgt-dir/metrics.sock";
  auto r = io::metrics_listen(m);
  REQUIRE_FALSE(r);
  CHECK(r.error().find("MetricsListen /nonexistent-wgt-dir/metrics.sock: cannot bind: ") == 0);

  config::MetricsListen tcp;
  tcp.text = "127.0.0.1:0";
  tcp.inet = core::Endpoint::v4(127, 0, 0, 1, 0);
  auto first = io::metrics_listen(tcp);  // a port the kernel picks
  REQUIRE(first);
  sockaddr_in sa{};
  socklen_t len = sizeof(sa);
  REQUIRE(::getsockname(*first, reinterpret_cast<sockaddr*>(&sa), &len) == 0);
  config::MetricsListen same = tcp;
  same.inet->port = ntohs(sa.sin_port);
  same.text = "127.0.0.1:" + std::to_string(same.inet->port);
  auto second = io::metrics_listen(same);
  REQUIRE_FALSE(second);
  CHECK(second.error() == "MetricsListen " + same.text + ": cannot bind: Address already in use");
  ::close(*first);
}
