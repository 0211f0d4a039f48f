// io/metrics_server.cpp — accepting, reading, answering and timing out metrics connections.
#include "io/metrics_server.hpp"

#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "config/uapi.hpp"
#include "crypto/secure.hpp"
#include "io/sockaddr.hpp"
#include "io/stream_out.hpp"

namespace wg::io {

namespace {

constexpr int kBacklog = 16;

Result<int, std::string> fail(const config::MetricsListen& where, const std::string& what, int err, int fd = -1) {
  if (fd >= 0) ::close(fd);
  return Unexpected("MetricsListen " + where.text + ": " + what + ": " + std::strerror(err));
}

Result<int, std::string> listen_unix(const config::MetricsListen& where) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (where.unix_path.size() >= sizeof(sa.sun_path)) return fail(where, "path too long", ENAMETOOLONG);
  std::memcpy(sa.sun_path, where.unix_path.c_str(), where.unix_path.size());
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(where, "socket", errno);
  int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
  if (rc != 0 && errno == EADDRINUSE) {
    // Served by a live process, or a file a daemon that died left behind?
    const int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const bool live = probe >= 0 && ::connect(probe, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0;
    if (probe >= 0) ::close(probe);
    if (live) return fail(where, "cannot bind", EADDRINUSE, fd);
    ::unlink(where.unix_path.c_str());
    rc = ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
  }
  if (rc != 0) return fail(where, "cannot bind", errno, fd);
  if (::listen(fd, kBacklog) != 0) return fail(where, "listen", errno, fd);
  return fd;
}

}  // namespace

Result<int, std::string> metrics_listen(const config::MetricsListen& where) {
  if (!where.inet) return listen_unix(where);
  const core::Endpoint& ep = *where.inet;
  const bool v6 = ep.family == core::Family::V6;
  const int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(where, "socket", errno);
  const int one = 1;
  // A restarted daemon binds again while the old connections sit in TIME_WAIT.
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (v6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  sockaddr_storage ss;
  const socklen_t len = to_sockaddr(ep, ss);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) return fail(where, "cannot bind", errno, fd);
  if (::listen(fd, kBacklog) != 0) return fail(where, "listen", errno, fd);
  return fd;
}

MetricsServer::MetricsServer(int listen_fd, std::string text, std::string unix_path)
    : listen_fd_(listen_fd), text_(std::move(text)), unix_path_(std::move(unix_path)) {
  struct stat st {};
  if (!unix_path_.empty() && ::stat(unix_path_.c_str(), &st) == 0) {
    dev_ = st.st_dev;
    ino_ = st.st_ino;
  }
}

MetricsServer::~MetricsServer() {
  for (auto& [fd, c] : conns_) ::close(fd);
  ::close(listen_fd_);
  struct stat st {};
  if (!unix_path_.empty() && ::stat(unix_path_.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_)
    ::unlink(unix_path_.c_str());
}

void MetricsServer::close_connection(int fd, const FdCall& unwatch) {
  if (!conns_.at(fd).unwatched) unwatch(fd);
  ::close(fd);
  conns_.erase(fd);
}

void MetricsServer::on_readable(int fd, core::Instant now, config::UapiTarget target, const std::string& iface,
                                const FdCall& watch, const FdCall& unwatch) {
  if (fd == listen_fd_) {
    for (int i = 0; i < 16; ++i) {
      const int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (c < 0) break;
      if (conns_.size() >= kMaxConnections) {
        // Best effort: a 503 fits any fresh socket's buffer; no wait for it to be read.
        const std::string busy = config::http_error_response(503);
        (void)!::send(c, busy.data(), busy.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        ::close(c);
        continue;
      }
      Conn& conn = conns_[c];
      conn.accepted = conn.since = now;
      watch(c);
    }
    return;
  }
  auto it = conns_.find(fd);
  if (it == conns_.end()) return;
  Conn& c = it->second;
  const bool ok = read_request(fd, c, now) && pump(fd, c, now, target, iface);
  if (ok && c.eof && !c.unwatched) {
    unwatch(fd);
    c.unwatched = true;
  }
  if (!ok) close_connection(fd, unwatch);
}

bool MetricsServer::read_request(int fd, Conn& c, core::Instant now) {
  char buf[4096];
  // Bounded: a request is at most HttpRequest::kMaxRequest; what comes after it is discarded
  // (read, so a level-triggered poll does not keep firing) until the response is out.
  for (int i = 0; i < 8; ++i) {
    const ssize_t n = ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n == 0) {
      // The client may shut its side once the request is out; the socket would stay readable,
      // so it is no longer watched (flush_waiting sends the rest).
      if (c.phase == Phase::Reading) return false;
      c.eof = true;
      return true;
    }
    if (n < 0) return errno == EAGAIN || errno == EINTR;
    if (c.phase != Phase::Reading) continue;
    switch (c.request.feed(std::string_view(buf, static_cast<size_t>(n)))) {
      case config::HttpRequest::State::Incomplete: break;
      case config::HttpRequest::State::Error:
        c.out = config::http_error_response(c.request.status());
        c.phase = Phase::Closing;
        break;
      case config::HttpRequest::State::Metrics:
        c.out = config::http_metrics_head();
        c.phase = c.request.head_only() ? Phase::Closing : Phase::Collecting;
        break;
    }
    c.since = now;
  }
  return true;
}

bool MetricsServer::make_slice(Conn& c, config::UapiTarget target, const std::string& iface) {
  if (c.phase == Phase::Collecting) {
    // The same text a `get=wgrouter` over the UAPI socket gets, parsed by the code `wgrouter
    // show` uses. It holds the private and preshared keys in hex: wiped once parsed.
    std::string text;
    if (!c.next_peer) {
      config::append_get_head(target, text, true);
      c.status.name = iface;
      // Room for every peer now: growing by doubling would move all peers parsed so far in
      // one turn (tens of milliseconds at 100 000 peers).
      c.status.peers.reserve(target.device.peer_count());
      c.next_peer = 0;
    } else {
      c.next_peer = config::append_get_peers(target, text, *c.next_peer, kPeersPerSlice);
    }
    config::parse_status(text, c.status);
    crypto::wipe(text.data(), text.size());
    if (!c.next_peer) {  // the last slice: every peer listed
      std::vector<config::InterfaceStatus> all;
      all.push_back(std::move(c.status));
      c.text.emplace(std::move(all));
      c.phase = Phase::Rendering;
    }
    return true;
  }
  if (c.phase == Phase::Rendering) {
    if (!c.text->next(c.out, kPeersPerSlice)) c.phase = Phase::Closing;
    return true;
  }
  return false;
}

bool MetricsServer::send_some(int fd, Conn& c, core::Instant now) {
  bool moved = false;
  if (!send_pending(fd, c.out, moved)) return false;
  if (moved) c.since = now;
  return c.out.empty() || now - c.since < kStallLimit;
}

bool MetricsServer::pump(int fd, Conn& c, core::Instant now, config::UapiTarget target, const std::string& iface) {
  if (c.phase == Phase::Reading) return now - c.accepted < kReadTimeout;
  for (int i = 0; i < kSlicesPerPump; ++i) {
    if (c.out.size() >= kOutLowWater) break;
    if (!make_slice(c, target, iface)) break;
  }
  if (!send_some(fd, c, now)) return false;
  return !(c.phase == Phase::Closing && c.out.empty());
}

void MetricsServer::flush_waiting(core::Instant now, config::UapiTarget target, const std::string& iface,
                                  const FdCall& unwatch) {
  finished_.clear();
  for (auto& [fd, c] : conns_) {
    if (c.phase == Phase::Reading) {
      if (now - c.accepted < kReadTimeout) continue;
      // Best effort, as the 503: the client gets to know why before the close.
      const std::string late = config::http_error_response(408);
      (void)!::send(fd, late.data(), late.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      finished_.push_back(fd);
      continue;
    }
    if (!pump(fd, c, now, target, iface)) finished_.push_back(fd);
  }
  for (int fd : finished_) close_connection(fd, unwatch);
}

void MetricsServer::close_all(const FdCall& unwatch) {
  for (auto& [fd, c] : conns_) {
    if (!c.unwatched) unwatch(fd);
    ::close(fd);
  }
  conns_.clear();
}

bool MetricsServer::busy() const {
  for (const auto& [fd, c] : conns_)
    if (c.phase != Phase::Reading) return true;
  return false;
}

}  // namespace wg::io
