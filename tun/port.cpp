// tun/port.cpp — see port.hpp.
#include "tun/port.hpp"

#include "tun/tun.hpp"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <utility>

namespace wg::tun {

namespace {

// Writes a per-interface sysctl; returns false when it cannot (read-only /proc/sys).
bool write_sysctl(const std::string& path, const char* value) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::write(fd, value, std::strlen(value)) == static_cast<ssize_t>(std::strlen(value));
  ::close(fd);
  return ok;
}

}  // namespace

PortDevice::~PortDevice() {
  if (fd_ >= 0) ::close(fd_);
}

PortDevice::PortDevice(PortDevice&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)),
      ifindex_(o.ifindex_),
      tap_(o.tap_),
      offloads_(o.offloads_),
      name_(std::move(o.name_)),
      warning_(std::move(o.warning_)) {}

PortDevice& PortDevice::operator=(PortDevice&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(o.fd_, -1);
    ifindex_ = o.ifindex_;
    tap_ = o.tap_;
    offloads_ = o.offloads_;
    name_ = std::move(o.name_);
    warning_ = std::move(o.warning_);
  }
  return *this;
}

Result<PortDevice, std::string> PortDevice::open_tap(const std::string& name, bool offload) {
  PortDevice d;
  d.fd_ = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (d.fd_ < 0) return Unexpected(std::string("cannot open /dev/net/tun: ") + std::strerror(errno));
  ifreq ifr{};
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
  std::snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name.c_str());
  if (ioctl(d.fd_, TUNSETIFF, &ifr) != 0) {
    const int e = errno;
    if (e == EINVAL || e == EBUSY)
      return Unexpected("cannot create TAP device " + name + ": an interface of that name exists and is not a free TAP");
    return Unexpected("cannot create TAP device " + name + ": " + std::strerror(e));
  }
  int hdr = 10;  // sizeof(struct virtio_net_hdr)
  if (ioctl(d.fd_, TUNSETVNETHDRSZ, &hdr) != 0)
    return Unexpected("TAP device " + name + ": TUNSETVNETHDRSZ: " + std::strerror(errno));
  if (offload) d.offloads_ = negotiate_offload(d.fd_, true, true).csum;
  d.name_ = ifr.ifr_name;
  d.ifindex_ = static_cast<int>(if_nametoindex(d.name_.c_str()));
  d.tap_ = true;
  return d;
}

Result<PortDevice, std::string> PortDevice::attach(const std::string& name) {
  PortDevice d;
  d.ifindex_ = static_cast<int>(if_nametoindex(name.c_str()));
  if (d.ifindex_ == 0)
    return Unexpected("interface " + name + " does not exist (Mode = veth attaches to an existing interface)");
  d.name_ = name;
  // Protocol 0 at creation: nothing is queued before the socket is bound to this interface.
  d.fd_ = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (d.fd_ < 0) return Unexpected(std::string("cannot open a packet socket: ") + std::strerror(errno));
  const int one = 1;
  if (setsockopt(d.fd_, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)) != 0)
    return Unexpected(std::string("PACKET_VNET_HDR: ") + std::strerror(errno));
  // Our own transmissions are not read back.
  setsockopt(d.fd_, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
  const int size = 4 << 20;
  if (setsockopt(d.fd_, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) != 0)
    setsockopt(d.fd_, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
  if (setsockopt(d.fd_, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) != 0)
    setsockopt(d.fd_, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = d.ifindex_;
  if (bind(d.fd_, reinterpret_cast<sockaddr*>(&sll), sizeof(sll)) != 0)
    return Unexpected("cannot bind a packet socket to " + name + ": " + std::strerror(errno));
  // The kernel must not answer on this segment: no IPv6 (no link-local, ND, MLD), no ARP
  // replies for the host's addresses, and reverse-path filtering for stray IPv4.
  std::string missing;
  if (!write_sysctl("/proc/sys/net/ipv6/conf/" + name + "/disable_ipv6", "1")) missing += " ipv6.disable_ipv6";
  if (!write_sysctl("/proc/sys/net/ipv4/conf/" + name + "/arp_ignore", "8")) missing += " ipv4.arp_ignore";
  if (!write_sysctl("/proc/sys/net/ipv4/conf/" + name + "/rp_filter", "1")) missing += " ipv4.rp_filter";
  if (!missing.empty())
    d.warning_ = "cannot set" + missing + " on " + name + "; the host's own stack may answer on this port";
  return d;
}

}  // namespace wg::tun
