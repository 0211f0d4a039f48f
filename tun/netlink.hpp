// tun/netlink.hpp — rtnetlink through libmnl: link state and MTU, addresses, routes and the
// fwmark rules of wg-quick's default-route handling, plus a monitor for link events.
// Never runs `ip`. Each call is synchronous (request, then the kernel's ack); 0 or -errno.
#pragma once
#include <cstdint>
#include <optional>
#include <vector>

#include "core/prefix.hpp"

struct mnl_socket;

namespace wg::tun {

struct LinkState {
  bool exists = false;
  bool up = false;
  uint32_t mtu = 0;
};

class Netlink {
 public:
  Netlink();
  ~Netlink();
  Netlink(const Netlink&) = delete;
  Netlink& operator=(const Netlink&) = delete;

  bool ok() const { return nl_ != nullptr; }

  int set_link(int ifindex, std::optional<bool> up, std::optional<uint32_t> mtu);
  LinkState get_link(int ifindex);
  // Address with its prefix length; the host part is kept (it is the interface's own address).
  int add_address(int ifindex, core::Family f, const uint8_t* addr, uint8_t prefix_len);
  // table 0 means the main table.
  int add_route(int ifindex, const core::Prefix& dst, uint32_t table);
  int del_route(int ifindex, const core::Prefix& dst, uint32_t table);
  // "not fwmark M lookup T" and "lookup main suppress_prefixlength 0" (wg-quick add_default).
  int add_fwmark_rule(core::Family f, uint32_t mark, uint32_t table, bool add);
  int add_suppress_rule(core::Family f, bool add);

 private:
  int request(void* buf);
  mnl_socket* nl_ = nullptr;
  uint32_t seq_ = 1;
  uint32_t portid_ = 0;
};

// Link events for one interface: deleted, up/down, MTU. The descriptor is polled by the loop.
class LinkMonitor {
 public:
  explicit LinkMonitor(int ifindex);
  ~LinkMonitor();
  LinkMonitor(const LinkMonitor&) = delete;
  LinkMonitor& operator=(const LinkMonitor&) = delete;

  int fd() const;
  struct Change {
    bool deleted = false;
    std::optional<bool> up;
    std::optional<uint32_t> mtu;
  };
  // Reads every pending message; returns what changed for our interface.
  Change drain();

 private:
  mnl_socket* nl_ = nullptr;
  int ifindex_;
};

}  // namespace wg::tun
