// tools/keeper.cpp — see keeper.hpp. One SOCK_SEQPACKET pair; a request is one byte ('P' run
// PreDown; 'D' PostDown task with hooks, 'U' without, 'E' nothing, and end), with the teardown's namespace descriptor attached
// when there is one; the keeper answers 'P' with one byte once the hooks are done.
#include "tools/keeper.hpp"

#include <errno.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <utility>

namespace wg::tools {

namespace {

constexpr int kKeeperFd = 3;  // the keeper's end, after every other descriptor is closed

// Sends one request byte with fd attached (when >= 0).
bool send_request(int sock, char what, int fd) {
  iovec iov{&what, 1};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  if (fd >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
  }
  ssize_t n;
  while ((n = sendmsg(sock, &msg, MSG_NOSIGNAL)) < 0 && errno == EINTR) {
  }
  return n == 1;
}

// One request: its byte (0 at the daemon's end) and the descriptor sent with it (-1: none).
char receive_request(int sock, int& fd) {
  char what = 0;
  iovec iov{&what, 1};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  fd = -1;
  ssize_t n;
  while ((n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {
  }
  if (n != 1) return 0;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) std::memcpy(&fd, CMSG_DATA(c), sizeof(int));
  return what;
}

[[noreturn]] void serve(const Keeper::Tasks& tasks) {
  // The daemon's SIGTERM/SIGINT (a terminal's ^C or systemd's stop reach the whole group) start
  // its teardown, which then asks for the hooks: the keeper must still be here.
  signal(SIGINT, SIG_IGN);
  signal(SIGTERM, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  struct stat made {};
  const bool have_socket = !tasks.socket_path.empty() && ::stat(tasks.socket_path.c_str(), &made) == 0;
  for (;;) {
    int ns = -1;
    const char what = receive_request(kKeeperFd, ns);
    if (what == 'P') {
      if (tasks.pre_down) tasks.pre_down(ns);
      const char done = 'p';
      (void)!::send(kKeeperFd, &done, 1, MSG_NOSIGNAL);
    } else if ((what == 'D' || what == 'U') && tasks.post_down) {
      tasks.post_down(ns, what == 'D');
    }
    if (ns >= 0) ::close(ns);
    if (what == 'P') continue;
    // 'D', 'E' or the daemon gone: the socket goes if it is still the one made at start.
    struct stat now {};
    if (have_socket && ::stat(tasks.socket_path.c_str(), &now) == 0 && now.st_dev == made.st_dev &&
        now.st_ino == made.st_ino)
      ::unlink(tasks.socket_path.c_str());
    std::fflush(stderr);
    _exit(0);
  }
}

}  // namespace

std::optional<Keeper> Keeper::start(Tasks tasks) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return std::nullopt;
  std::fflush(stderr);
  const pid_t pid = fork();
  if (pid < 0) {
    ::close(sv[0]);
    ::close(sv[1]);
    return std::nullopt;
  }
  if (pid == 0) {
    // Nothing of the daemon's: a TUN descriptor held here would keep the interface after the
    // daemon ends, a namespace descriptor the namespace.
    if (dup2(sv[1], kKeeperFd) < 0) _exit(1);
    close_range(kKeeperFd + 1, ~0U, 0);
    serve(tasks);
  }
  ::close(sv[1]);
  return Keeper(pid, sv[0]);
}

Keeper::Keeper(Keeper&& o) noexcept : pid_(std::exchange(o.pid_, -1)), fd_(std::exchange(o.fd_, -1)) {}

Keeper& Keeper::operator=(Keeper&& o) noexcept {
  if (this != &o) {
    reap();
    pid_ = std::exchange(o.pid_, -1);
    fd_ = std::exchange(o.fd_, -1);
  }
  return *this;
}

Keeper::~Keeper() { reap(); }

void Keeper::reap() {
  if (fd_ >= 0) ::close(fd_);  // the keeper sees the end and removes the socket
  fd_ = -1;
  if (pid_ > 0)
    while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
  pid_ = -1;
}

bool Keeper::ask(char what, int netns_fd) { return fd_ >= 0 && send_request(fd_, what, netns_fd); }

bool Keeper::pre_down(int netns_fd) {
  if (!ask('P', netns_fd)) return false;
  char done = 0;
  ssize_t n;
  while ((n = ::recv(fd_, &done, 1, 0)) < 0 && errno == EINTR) {
  }
  return n == 1;
}

bool Keeper::finish(End end, int netns_fd) {
  const bool ok = ask(end == End::UndoAndHooks ? 'D' : end == End::Undo ? 'U' : 'E', netns_fd);
  reap();
  return ok;
}

}  // namespace wg::tools
