// tun/tun.cpp — /dev/net/tun setup.
#include "tun/tun.hpp"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <utility>

namespace wg::tun {

TunDevice::~TunDevice() {
  if (fd_ >= 0) ::close(fd_);
}

TunDevice::TunDevice(TunDevice&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)), ifindex_(o.ifindex_), vnet_(o.vnet_), name_(std::move(o.name_)) {}

TunDevice& TunDevice::operator=(TunDevice&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(o.fd_, -1);
    ifindex_ = o.ifindex_;
    vnet_ = o.vnet_;
    name_ = std::move(o.name_);
  }
  return *this;
}

int TunDevice::release() { return std::exchange(fd_, -1); }

namespace {

// The TUN's transmit queue is wgrouter's input queue: the host's packets wait there until the
// loop reads them. The kernel's default of 500 overflows while the one loop thread is busy with
// a batch or descheduled (a 64-byte UDP flood fills it in under 3 ms); 4096 took the loss of
// such a flood from 33 % to 10 % on the 2-vCPU test machine (bench/RESULTS.md). TCP keeps few
// packets queued (TSQ), so its latency does not grow. Raised only from the default; an
// operator's `ip link set ... txqueuelen` later wins.
constexpr int kTxQueueLen = 4096;

void raise_tx_queue(const char* name) {
  const int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return;
  ifreq ifr{};
  std::snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
  if (ioctl(s, SIOCGIFTXQLEN, &ifr) == 0 && ifr.ifr_qlen < kTxQueueLen) {
    ifr.ifr_qlen = kTxQueueLen;
    ioctl(s, SIOCSIFTXQLEN, &ifr);  // best effort: without CAP_NET_ADMIN the default stays
  }
  ::close(s);
}

}  // namespace

Result<TunDevice, std::string> TunDevice::open(const std::string& name, bool vnet) {
  if (name.empty() || name.size() >= IFNAMSIZ) return Unexpected("interface name `" + name + "' is not valid");
  const int fd = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return Unexpected(std::string("cannot open /dev/net/tun: ") + std::strerror(errno));
  ifreq ifr{};
  ifr.ifr_flags = static_cast<short>(IFF_TUN | IFF_NO_PI | (vnet ? IFF_VNET_HDR : 0));
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
    const int e = errno;
    ::close(fd);
    return Unexpected("cannot create TUN device `" + name + "': " + std::strerror(e));
  }
  raise_tx_queue(ifr.ifr_name);
  return adopt(fd);
}

Result<TunDevice, std::string> TunDevice::adopt(int fd) {
  ifreq ifr{};
  if (ioctl(fd, TUNGETIFF, &ifr) != 0) return Unexpected(std::string("descriptor is not a TUN device: ") + std::strerror(errno));
  const int flags = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  TunDevice t;
  t.fd_ = fd;
  t.vnet_ = ifr.ifr_flags & IFF_VNET_HDR;
  if (t.vnet_) {
    int size = 10;  // struct virtio_net_hdr: no mergeable-buffer count
    if (ioctl(fd, TUNSETVNETHDRSZ, &size) != 0) t.vnet_ = false;
  }
  t.name_ = ifr.ifr_name;
  t.ifindex_ = static_cast<int>(if_nametoindex(ifr.ifr_name));
  return t;
}

bool TunDevice::gone() const {
  ifreq ifr{};
  return fd_ < 0 || (ioctl(fd_, TUNGETIFF, &ifr) != 0 && errno == EBADFD);
}

bool TunDevice::refresh_name() {
  ifreq ifr{};
  if (fd_ < 0 || ioctl(fd_, TUNGETIFF, &ifr) != 0) return false;
  name_ = ifr.ifr_name;
  return true;
}

int TunDevice::device_netns() const {
#ifndef TUNGETDEVNETNS
#define TUNGETDEVNETNS _IO('T', 227)
#endif
  const int fd = ioctl(fd_, TUNGETDEVNETNS);
  if (fd < 0) return -errno;
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  return fd;
}

Offload negotiate_offload(int fd, bool tso, bool uso) {
  // Constants of linux/if_tun.h; the USO ones are missing from older headers.
  constexpr unsigned kUso4 = 0x20, kUso6 = 0x40;
  const unsigned base = TUN_F_CSUM | (tso ? TUN_F_TSO4 | TUN_F_TSO6 : 0u);
  if (uso && ioctl(fd, TUNSETOFFLOAD, base | kUso4 | kUso6) == 0) return {true, tso, true};
  if (ioctl(fd, TUNSETOFFLOAD, base) == 0) return {true, tso, false};
  return {};
}

}  // namespace wg::tun
