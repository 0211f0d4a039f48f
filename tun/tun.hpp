// tun/tun.hpp — the TUN device (IFF_TUN | IFF_NO_PI): opened by name or adopted from a
// descriptor handed down by the daemonizing parent. Owns the descriptor. Non-blocking.
#pragma once
#include <cstdint>
#include <span>
#include <string>

#include "core/result.hpp"

namespace wg::tun {

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
  // Asks the kernel to hand over super-packets (TUNSETOFFLOAD): checksum offload always with a
  // virtio-net header, TSO4/6 and USO4/6 as asked; USO falls back to without on kernels before
  // 6.2. Returns what was accepted.
  struct Offload {
    bool csum = false, tso = false, uso = false;
  };
  Offload set_offload(bool tso, bool uso);
  const std::string& name() const { return name_; }
  int ifindex() const { return ifindex_; }
  // Gives the descriptor away (to a child process); this object no longer owns it.
  int release();

 private:
  int fd_ = -1;
  int ifindex_ = 0;
  bool vnet_ = false;
  std::string name_;
};

}  // namespace wg::tun
