// io/uapi_server.cpp — listening, accepting and answering on the UAPI socket.
#include "io/uapi_server.hpp"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

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

// Writes all of reply, waiting at most ~2 s for a slow reader in total.
bool write_all(int fd, const std::string& reply) {
  size_t off = 0;
  for (int waits = 0; off < reply.size() && waits < 200;) {
    const ssize_t n = ::send(fd, reply.data() + off, reply.size() - off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      off += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) return false;
    pollfd p{fd, POLLOUT, 0};
    ::poll(&p, 1, 10);
    ++waits;
  }
  return off == reply.size();
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
  for (auto& [fd, conn] : conns_) ::close(fd);
  ::close(listen_fd_);
}

int UapiServer::accept_one() {
  const int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (c >= 0 && conns_.size() >= kMaxConnections) {
    ::close(c);
    return -1;
  }
  return c;
}

bool UapiServer::serve(int fd) {
  char buf[16384];
  auto& conn = *conns_.at(fd);
  std::string reply;
  bool keep = true;
  for (int i = 0; i < 64 && keep; ++i) {
    const ssize_t n = ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n == 0) {
      keep = false;
      break;
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) break;
      keep = false;
      break;
    }
    keep = conn.feed(std::string_view(buf, static_cast<size_t>(n)), reply);
  }
  // A big pipelined burst is answered in slices: write, then let the connection go on.
  for (int i = 0; i < 1024 && keep; ++i) {
    if (!reply.empty() && !write_all(fd, reply)) return false;
    reply.clear();
    if (!conn.pending()) break;
    keep = conn.feed({}, reply);
  }
  if (!reply.empty() && !write_all(fd, reply)) keep = false;
  return keep;
}

bool UapiServer::still_ours() const {
  struct stat st {};
  return ::stat(path_.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_;
}

void UapiServer::unlink_socket() {
  if (still_ours()) ::unlink(path_.c_str());
}

}  // namespace wg::io
