// tun/netlink.hpp — rtnetlink through libmnl: link state and MTU, addresses, routes and the
// fwmark rules of wg-quick's default-route handling, plus a monitor for link events.
// Never runs `ip`. Each call is synchronous (request, then the kernel's ack); 0 or -errno.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/endpoint.hpp"
#include "core/prefix.hpp"

struct mnl_socket;
struct nlmsghdr;

namespace wg::tun {

struct LinkState {
  bool exists = false;
  bool up = false;
  uint32_t mtu = 0;
};

class Netlink {
 public:
  // The socket lives in the namespace `netns_fd` names (-1: the calling thread's): every
  // request then acts on that namespace's links, addresses and routes.
  explicit Netlink(int netns_fd = -1);
  ~Netlink();
  Netlink(const Netlink&) = delete;
  Netlink& operator=(const Netlink&) = delete;

  bool ok() const { return nl_ != nullptr; }

  int set_link(int ifindex, std::optional<bool> up, std::optional<uint32_t> mtu);
  // Both look in this socket's namespace, or with target_nsid >= 0 in the namespace this one
  // knows by that id (IFLA_TARGET_NETNSID: CAP_NET_ADMIN over it is enough, no setns).
  LinkState get_link(int ifindex, int target_nsid = -1);
  // The index of the link called `name`; 0 when there is none.
  int find_link(const std::string& name, int target_nsid = -1);
  // Moves a link into the network namespace `netns_fd` (IFLA_NET_NS_FD).
  int move_link(int ifindex, int netns_fd);
  // The id this socket's namespace knows the namespace `netns_fd` by, assigned if it has none
  // yet; or -errno.
  int netns_id(int netns_fd);
  // Address with its prefix length; the host part is kept (it is the interface's own address).
  int add_address(int ifindex, core::Family f, const uint8_t* addr, uint8_t prefix_len);
  // Removes an address add_address put there (same address and prefix length).
  int del_address(int ifindex, core::Family f, const uint8_t* addr, uint8_t prefix_len);
  // table 0 means the main table.
  int add_route(int ifindex, const core::Prefix& dst, uint32_t table);
  int del_route(int ifindex, const core::Prefix& dst, uint32_t table);
  // "not fwmark M lookup T" and "lookup main suppress_prefixlength 0" (wg-quick add_default).
  int add_fwmark_rule(core::Family f, uint32_t mark, uint32_t table, bool add);
  int add_suppress_rule(core::Family f, bool add);

  // wg-quick's set_mtu_up without `ip` (tun/netlink_route.cpp): the route to `to` as
  // `ip route get` finds it (RTM_GETROUTE with RTA_DST), its RTAX_MTU metric if it has one,
  // else the MTU of its output device. nullopt when there is no route or it has no device.
  std::optional<uint32_t> route_mtu(const core::Endpoint& to);
  // The same for `ip route show default`: the first IPv4 route of the main table with prefix
  // length 0.
  std::optional<uint32_t> default_route_mtu();

 private:
  int request(void* buf);
  // RTM_GETLINK by index or name; true when buf (kBufLen bytes) holds the RTM_NEWLINK answer.
  bool query_link(char* buf, int ifindex, const char* name, int target_nsid);
  // Sends buf and gives each reply message for it to cb until the kernel's done/ack/error;
  // 0 or -errno.
  int exchange(void* buf, int (*cb)(const nlmsghdr*, void*), void* data);
  mnl_socket* nl_ = nullptr;
  uint32_t seq_ = 1;
  uint32_t portid_ = 0;
};

// Link events (created, changed, deleted) of this network namespace and of the others that
// have an id here (NETLINK_LISTEN_ALL_NSID, with CAP_NET_BROADCAST), on one socket polled by
// the loop: the TUN is followed wherever it was moved, veth ports are followed here. The socket
// lives in the calling thread's namespace and keeps no other alive: a container's namespace
// still goes away, with the interface in it, when it stops.
class LinkEvents {
 public:
  static constexpr int kThisNamespace = -1;
  LinkEvents();
  ~LinkEvents();
  LinkEvents(const LinkEvents&) = delete;
  LinkEvents& operator=(const LinkEvents&) = delete;

  int fd() const;
  // Whether events of other namespaces arrive.
  bool all_namespaces() const { return all_ns_; }
  struct Event {
    int nsid = kThisNamespace;  // the namespace's id here
    int ifindex = 0;
    std::string name;      // empty when the message carried none
    bool deleted = false;  // RTM_DELLINK: deleted, or moved out of that namespace
    bool up = false;
    std::optional<uint32_t> mtu;
  };
  // Reads every pending message into `out` (cleared first), in the order they happened.
  // Returns false when the kernel dropped events (the socket's queue overflowed): the caller
  // must then look at the state itself.
  bool drain(std::vector<Event>& out);

 private:
  mnl_socket* nl_ = nullptr;
  bool all_ns_ = false;
};

}  // namespace wg::tun
