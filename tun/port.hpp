// tun/port.hpp — the descriptor behind a gateway port. Mode tap: a TAP device wgrouter creates
// (IFF_TAP | IFF_VNET_HDR) and owns; it keeps working when the device is moved to another
// namespace or enslaved to a bridge, since the descriptor stays here. Mode veth: an existing
// interface (a veth end) read and written through an AF_PACKET socket with PACKET_VNET_HDR;
// the kernel's own IPv6 and ARP on that interface are switched off so only wgrouter answers.
// Both deliver frames as virtio-net header + Ethernet.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/result.hpp"


namespace wg::tun {

class PortDevice {
 public:
  PortDevice() = default;
  ~PortDevice();
  PortDevice(PortDevice&& o) noexcept;
  PortDevice& operator=(PortDevice&& o) noexcept;

  // offload: ask the kernel to hand over the instance's super-packets and unfinished checksums
  // (TUNSETOFFLOAD csum, TSO4/6, USO where the kernel has it); refused offloads are left off.
  [[nodiscard]] static Result<PortDevice, std::string> open_tap(const std::string& name, bool offload = false);
  bool offloads() const { return offloads_; }
  [[nodiscard]] static Result<PortDevice, std::string> attach(const std::string& name);

  int fd() const { return fd_; }
  int ifindex() const { return ifindex_; }
  const std::string& name() const { return name_; }
  bool is_tap() const { return tap_; }
  // Warnings from setting the interface up (sysctls that could not be written).
  const std::string& warning() const { return warning_; }

 private:
  int fd_ = -1;
  int ifindex_ = 0;
  bool tap_ = false;
  bool offloads_ = false;
  std::string name_;
  std::string warning_;
};

}  // namespace wg::tun
