// tun/tun.hpp — the TUN device (IFF_TUN | IFF_NO_PI): opened by name or adopted from a
// descriptor handed down by the daemonizing parent. Owns the descriptor. Non-blocking.
#pragma once
#include <cstdint>
#include <span>
#include <string>

#include "core/result.hpp"

namespace wg::tun {

// Asks a TUN/TAP descriptor (with a virtio-net header) to hand over unfinished checksums and,
// as asked, TCP (TSO4/6) and UDP (USO4/6, Linux 6.2+) super-packets; USO falls back to
// without. What was accepted, or all false when even checksum offload was refused.
struct Offload {
  bool csum = false, tso = false, uso = false;
};
Offload negotiate_offload(int fd, bool tso, bool uso);

class TunDevice {
 public:
  TunDevice() = default;
  ~TunDevice();
  TunDevice(TunDevice&& o) noexcept;
  TunDevice& operator=(TunDevice&& o) noexcept;

  // Creates (or attaches to) the TUN interface `name`, with a virtio-net header in front of
  // every packet when `vnet` (IFF_VNET_HDR: needed for any offload). Error text names the cause.
  [[nodiscard]] static Result<TunDevice, std::string> open(const std::string& name, bool vnet = false);
  // Takes over an open TUN descriptor (WG_TUN_FD).
  [[nodiscard]] static Result<TunDevice, std::string> adopt(int fd);

  int fd() const { return fd_; }
  bool vnet() const { return vnet_; }
  // negotiate_offload() on this TUN; nothing without a virtio-net header.
  Offload set_offload(bool tso, bool uso) { return vnet_ ? negotiate_offload(fd_, tso, uso) : Offload{}; }
  const std::string& name() const { return name_; }
  // The index in the namespace the device lives in now (see locate()); 0 when unknown.
  int ifindex() const { return ifindex_; }
  void set_ifindex(int i) { ifindex_ = i; }

  // The device as seen through its own descriptor, whatever namespace it was moved to:
  // gone (deleted: every read and ioctl fails with EBADFD), or its current name. Never a
  // netlink event of some namespace: a move looks like a deletion there.
  bool gone() const;
  // Re-reads the name (TUNGETIFF); false when the device is gone.
  bool refresh_name();
  // A descriptor of the network namespace the device lives in now (TUNGETDEVNETNS, Linux
  // 5.2+), or -errno: EPERM without CAP_NET_ADMIN over that namespace.
  int device_netns() const;
  // Gives the descriptor away (to a child process); this object no longer owns it.
  int release();

 private:
  int fd_ = -1;
  int ifindex_ = 0;
  bool vnet_ = false;
  std::string name_;
};

}  // namespace wg::tun
