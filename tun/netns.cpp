// tun/netns.cpp — see netns.hpp.
#include "tun/netns.hpp"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <utility>

namespace wg::tun {

NetnsFd::~NetnsFd() {
  if (fd_ >= 0) ::close(fd_);
}

NetnsFd::NetnsFd(NetnsFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}

NetnsFd& NetnsFd::operator=(NetnsFd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(o.fd_, -1);
  }
  return *this;
}

bool NetnsFd::same(int other_fd) const {
  struct stat a{}, b{};
  if (fd_ < 0 || other_fd < 0 || fstat(fd_, &a) != 0 || fstat(other_fd, &b) != 0) return false;
  return a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

ino_t NetnsFd::inode() const {
  struct stat a{};
  return fd_ >= 0 && fstat(fd_, &a) == 0 ? a.st_ino : 0;
}

Result<NetnsFd, std::string> current_netns() {
  const int fd = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Unexpected(std::string("cannot open /proc/thread-self/ns/net: ") + std::strerror(errno));
  return NetnsFd(fd);
}

Result<NetnsFd, std::string> open_netns(const std::string& spec) {
  if (spec.empty()) return Unexpected(std::string("empty network namespace name"));
  std::string path;
  if (spec.find('/') != std::string::npos) {
    path = spec;
  } else if (spec.find_first_not_of("0123456789") == std::string::npos) {
    path = "/proc/" + spec + "/ns/net";
  } else {
    if (spec == "." || spec == "..") return Unexpected("`" + spec + "' is not a namespace name");
    path = "/run/netns/" + spec;
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Unexpected("network namespace `" + spec + "': cannot open " + path + ": " + std::strerror(errno));
  NetnsFd ns(fd);
  // A file that is not a network namespace is refused here, before anything is created:
  // setns with nstype CLONE_NEWNET checks the kind without the caller having to enter it.
  const int self = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (self < 0) return Unexpected(std::string("cannot open /proc/thread-self/ns/net: ") + std::strerror(errno));
  NetnsFd back(self);
  if (setns(fd, CLONE_NEWNET) != 0) {
    const int e = errno;
    return Unexpected("network namespace `" + spec + "' (" + path + "): cannot enter: " +
                      (e == EINVAL ? std::string("not a network namespace") : std::string(std::strerror(e))));
  }
  if (setns(self, CLONE_NEWNET) != 0) {
    // The thread is stuck in the other namespace: nothing after this could be trusted.
    std::perror("wgrouter: cannot return to the original network namespace");
    std::abort();
  }
  return ns;
}

int in_netns(int fd, const std::function<void()>& fn) {
  if (fd < 0) {
    fn();
    return 0;
  }
  auto self = current_netns();
  if (!self) return -EIO;
  if (self->same(fd)) {
    fn();
    return 0;
  }
  if (setns(fd, CLONE_NEWNET) != 0) return -errno;
  fn();
  if (setns(self->get(), CLONE_NEWNET) != 0) {
    std::perror("wgrouter: cannot return to the original network namespace");
    std::abort();
  }
  return 0;
}

}  // namespace wg::tun
