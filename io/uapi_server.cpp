// io/uapi_server.cpp — listening, accepting and answering on the UAPI socket.
#include "io/uapi_server.hpp"

#include <errno.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "io/stream_out.hpp"

namespace wg::io {

namespace {

constexpr size_t kMaxConnections = 64;

bool fill_addr(const std::string& path, sockaddr_un& sa) {
  if (path.size() >= sizeof(sa.sun_path)) return false;
  std::memset(&sa, 0, sizeof(sa));
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path, path.c_str(), path.size());
  return true;
}

}  // namespace

Result<int, std::string> uapi_listen(const std::string& path) {
  const std::string dir = path.substr(0, path.rfind('/'));
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
    return Unexpected("cannot create " + dir + ": " + std::strerror(errno));
  sockaddr_un sa;
  if (!fill_addr(path, sa)) return Unexpected("socket path too long: " + path);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Unexpected(std::string("socket: ") + std::strerror(errno));
  const mode_t old = ::umask(077);
  int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
  if (rc != 0 && errno == EADDRINUSE) {
    // In use by a live daemon, or a stale file left by one that died?
    const int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const bool live = probe >= 0 && ::connect(probe, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0;
    if (probe >= 0) ::close(probe);
    if (live) {
      ::umask(old);
      ::close(fd);
      return Unexpected("unix socket in use: " + path);
    }
    ::unlink(path.c_str());
    rc = ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
  }
  const int bind_errno = errno;
  ::umask(old);
  if (rc != 0) {
    ::close(fd);
    return Unexpected("cannot bind " + path + ": " + std::strerror(bind_errno));
  }
  if (::listen(fd, 16) != 0) {
    ::close(fd);
    return Unexpected(std::string("listen: ") + std::strerror(errno));
  }
  return fd;
}

UapiServer::UapiServer(int listen_fd, std::string path) : listen_fd_(listen_fd), path_(std::move(path)) {
  struct stat st {};
  if (::stat(path_.c_str(), &st) == 0) {
    dev_ = st.st_dev;
    ino_ = st.st_ino;
  }
}

void UapiServer::close_connection(int fd) {
  ::close(fd);
  conns_.erase(fd);
}

UapiServer::~UapiServer() {
  for (auto& [fd, c] : conns_) ::close(fd);
  ::close(listen_fd_);
}

int UapiServer::accept_one() {
  const int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (c >= 0 && conns_.size() >= kMaxConnections) {
    ::close(c);
    return -1;
  }
  // Root may go past net.core.wmem_max; otherwise the kernel caps the plain request.
  if (c >= 0 && ::setsockopt(c, SOL_SOCKET, SO_SNDBUFFORCE, &kSendBuffer, sizeof(kSendBuffer)) != 0)
    ::setsockopt(c, SOL_SOCKET, SO_SNDBUF, &kSendBuffer, sizeof(kSendBuffer));
  return c;
}

bool UapiServer::feed(Conn& c, std::string_view in) {
  if (c.out.empty()) c.since = std::chrono::steady_clock::now();
  return c.proto->feed(in, c.out);
}

// Input is always read (the protocol holds what it cannot answer yet, up to its limit): left
// in the socket, it would keep a level-triggered poll firing.
bool UapiServer::serve(int fd) {
  char buf[16384];
  Conn& c = conns_.at(fd);
  for (int i = 0; i < 64 && !c.closing; ++i) {
    const ssize_t n = ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n == 0) {
      c.closing = true;
      break;
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) break;
      return false;
    }
    if (!feed(c, std::string_view(buf, static_cast<size_t>(n)))) c.closing = true;
  }
  return pump(fd, c);
}

bool UapiServer::send_some(int fd, Conn& c) {
  bool moved = false;
  if (!send_pending(fd, c.out, moved)) return false;
  const auto now = std::chrono::steady_clock::now();
  if (moved) c.since = now;
  return c.out.empty() || now - c.since < kStallLimit;
}

// A big pipelined burst or a `get` of many peers is answered in slices: each goes out before
// the next is made, and one call makes at most kSlicesPerPump of them, so the loop gets back
// to the tunnels within a millisecond or two; flush_waiting goes on at the next turn.
bool UapiServer::pump(int fd, Conn& c) {
  for (int i = 0; i < kSlicesPerPump; ++i) {
    if (!send_some(fd, c)) return false;
    if (!c.out.empty()) return true;  // the socket is full: flush_waiting goes on later
    if (c.closing) return false;
    if (!c.proto->pending()) return true;
    if (!feed(c, {})) c.closing = true;
  }
  return true;
}

size_t UapiServer::waiting() const {
  size_t n = 0;
  for (const auto& [fd, c] : conns_) n += !c.out.empty();
  return n;
}

bool UapiServer::busy() const {
  for (const auto& [fd, c] : conns_)
    if (has_work(c)) return true;
  return false;
}

bool UapiServer::still_ours() const {
  struct stat st {};
  return ::stat(path_.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_;
}

void UapiServer::unlink_socket() {
  if (still_ours()) ::unlink(path_.c_str());
}

}  // namespace wg::io
