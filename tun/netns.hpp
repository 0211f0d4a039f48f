// tun/netns.hpp — network namespaces by descriptor: opening one named the way `ip netns`,
// nsenter and container tools name them, telling two apart, and running a piece of code
// inside one (for the sockets that must live there: netlink towards a moved interface).
//
// setns(CLONE_NEWNET) switches only the calling thread, so `in_netns` switches the loop
// thread for the duration of `fn` and always switches back. Sockets created inside stay in
// that namespace for their whole life.
#pragma once
#include <sys/types.h>

#include <functional>
#include <string>

#include "core/result.hpp"

namespace wg::tun {

// An owned namespace descriptor (-1: none).
class NetnsFd {
 public:
  NetnsFd() = default;
  explicit NetnsFd(int fd) : fd_(fd) {}
  ~NetnsFd();
  NetnsFd(NetnsFd&& o) noexcept;
  NetnsFd& operator=(NetnsFd&& o) noexcept;
  NetnsFd(const NetnsFd&) = delete;
  NetnsFd& operator=(const NetnsFd&) = delete;

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  // Same namespace as another descriptor (same nsfs inode).
  bool same(int other_fd) const;
  // The namespace's inode number, as `ls -L -i /proc/PID/ns/net` prints it (0 if none).
  ino_t inode() const;

 private:
  int fd_ = -1;
};

// The calling thread's own network namespace.
[[nodiscard]] Result<NetnsFd, std::string> current_netns();

// `spec` as `wgrouter up --netns` takes it: a decimal PID (its /proc/PID/ns/net), a path
// (contains a '/'), or a name from `ip netns` (/run/netns/NAME). The error names what failed.
[[nodiscard]] Result<NetnsFd, std::string> open_netns(const std::string& spec);

// Runs fn with the calling thread inside the namespace `fd` (nothing to do when it is the
// thread's own). Returns 0, or -errno when the namespace could not be entered (fn not run)
// — EPERM without CAP_SYS_ADMIN over the namespace's owning user namespace.
int in_netns(int fd, const std::function<void()>& fn);

}  // namespace wg::tun
