// config/apply.hpp — one way to change a running interface, whichever way the change arrives:
// a UAPI `set` (`wg set`, `wg setconf`, `wg syncconf`), the file at `up`, the file again on
// SIGHUP. SetOperation is the `set` keys as calls; sync_peers and apply_router apply a file as
// the difference to what runs now (at `up`: to an empty interface). No devices here: the running
// interface is reached through UapiHooks and RouterHooks (io/ and tools/up.cpp; fakes in tests).
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "config/config.hpp"
#include "core/device.hpp"
#include "core/endpoint.hpp"
#include "core/env.hpp"
#include "core/gateway.hpp"
#include "core/outbox.hpp"
#include "core/prefix.hpp"

namespace wg::config {

// Implemented by the running interface (io/), faked in tests.
struct UapiHooks {
  virtual ~UapiHooks() = default;
  virtual core::Env env() = 0;                     // current time + RNG
  virtual core::Outbox& outbox() = 0;              // io/ sends what a set queued after the request
  virtual uint16_t listen_port() const = 0;        // the bound port (0 if none)
  virtual int set_listen_port(uint16_t port) = 0;  // rebind (0 = random); 0 or -errno
  virtual uint32_t fwmark() const = 0;
  virtual int set_fwmark(uint32_t mark) = 0;       // 0 or -errno
  // get=wgrouter: the I/O layer's own key=value lines (offloads in effect, their counters).
  virtual void append_status(std::string& out) const { (void)out; }
};

struct UapiTarget {
  core::Device& device;
  core::RouteTable& allowed_ips;  // peers' AllowedIPs live among the gateway's routes
  UapiHooks& hooks;
  const core::Gateway* gateway = nullptr;  // ports and router counters for get=wgrouter
};

// The keys of one `set` as calls, with wireguard-go's meaning (PROTOCOL.md §2.4, device/uapi.go
// IpcSetOperation); the caller parses the values. select_peer starts a peer's keys, which apply
// to it until the next select_peer or finish_peer. A keepalive interval takes effect when its
// peer's keys end (handlePostConfig), so an endpoint given after it is already in place.
// What can fail returns 0 or -errno, the errno of the UAPI reply.
class SetOperation {
 public:
  explicit SetOperation(UapiTarget t) : t_(t) {}

  void set_private_key(const uint8_t key[32]);
  // The hooks' error as it is (the UAPI answers -EADDRINUSE for any, `up` prints it).
  [[nodiscard]] int set_listen_port(uint16_t port);
  // An unchanged mark asks nothing of the hooks (`wg setconf` always sends one).
  [[nodiscard]] int set_fwmark(uint32_t mark);
  void replace_peers();

  // Ends the current peer's keys and selects key's peer, adding it when it is new. Our own key
  // selects a dummy whose keys change nothing. -EINVAL: no room for another peer.
  [[nodiscard]] int select_peer(const core::PublicKey& key);
  void update_only();  // a peer this select_peer added is taken out again
  void remove_peer();  // the keys after it, up to the next peer, change nothing
  void set_preshared_key(const uint8_t psk[32]);  // zeros: none
  void set_endpoint(const core::Endpoint& ep);
  void set_keepalive(uint16_t seconds);  // 0: off
  void replace_allowed_ips();
  // Moves the prefix to the peer from any other peer; -EADDRINUSE when a port route, an
  // Unreachable prefix or a host address holds it (it stays theirs).
  [[nodiscard]] int add_allowed_ip(const core::Prefix& p);
  void remove_allowed_ip(const core::Prefix& p);  // only from this peer
  // The current peer's keys are done: the end of the request, or an error stopping it.
  void finish_peer();

 private:
  void remove(core::PeerId id);

  UapiTarget t_;
  core::PeerId id_ = core::kNoPeer;
  bool dummy_ = true;    // no peer, our own key, or removed: keys are checked and ignored
  bool created_ = false;  // added by this select_peer
  std::optional<uint16_t> keepalive_;
};

// Makes the running peers what cfg says, as `wg syncconf` does: the private key when the file
// has one; peers not in the file removed; the others updated in place (their sessions survive)
// or added, each with its preshared key (zeros when none), endpoint, keepalive interval and
// AllowedIPs replaced. endpoints[i] is peer i's address; nullopt leaves the peer's endpoint as it
// is (a name not looked up yet). Stops at the first error and returns it (0: all applied).
[[nodiscard]] int sync_peers(UapiTarget t, const Config& cfg, std::span<const std::optional<core::Endpoint>> endpoints);

// What applying the file's [Interface] link settings and its ports needs from the running
// interface besides its Gateway.
class RouterHooks {
 public:
  virtual ~RouterHooks() = default;
  virtual core::Gateway& gateway() = 0;
  // False when the TUN's network namespace cannot be reached: addresses and MTU stay.
  virtual bool reach_link() = 0;
  virtual int add_address(const InterfaceAddress& a) = 0;  // on the TUN; 0 or -errno
  virtual int del_address(const InterfaceAddress& a) = 0;
  // The MTU when the file has no MTU line: found from the routes at `up`, kept on reload (the
  // interface's own routes would skew it then).
  virtual uint32_t mtu_without_line() = 0;
  virtual uint32_t tunnel_mtu() const = 0;  // the tunnel MTU in use now
  // The TUN's link MTU, then the tunnel MTU (protocol and router) once the link has it.
  virtual int set_mtu(uint32_t mtu) = 0;
  // Opens (tap) or attaches (veth) the port's device, brings its link up with link_mtu when
  // given and adds the port to the gateway. False (having said why) when it cannot.
  virtual bool open_port(const PortConfig& pc, core::PortSpec spec, std::optional<uint32_t> link_mtu) = 0;
  virtual void remove_port(uint32_t id) = 0;  // its routes, neighbours and device let go
  virtual std::optional<uint32_t> port_link_mtu(uint32_t id) const = 0;
  virtual int set_port_link_mtu(uint32_t id, std::optional<uint32_t> mtu) = 0;
  // One log line, without the interface's name.
  virtual void say(const std::string& line) = 0;
};

// Start: the first failure stops the apply (and `up`). Reload: failures are said, the rest is
// applied, and what changed is said too.
enum class ApplyMode : uint8_t { Start, Reload };

// The router part of next applied over prev (an empty Config at Start): [Interface] Address and
// MTU on the TUN, the host addresses, Unreachable prefixes and the ports — ports gone from the
// file removed, the others updated in place (a port whose MTU comes from the interface's follows
// it), new ones added. Table, DNS and hooks are not its business. False only at Start.
[[nodiscard]] bool apply_router(const Config& prev, const Config& next, RouterHooks& h, ApplyMode mode);

// The whole file over prev (an empty Config at Start), the one way `up` and a reload apply it: at
// Start the sockets' FwMark (a failure is said, as a warning) and ListenPort (a failure stops
// it); then the keys and peers (sync_peers; an error stops the peers and, at Start, the apply);
// then the router part (apply_router). On reload a changed FwMark or ListenPort is applied too,
// as `wg syncconf` does (a port that cannot be bound keeps the old one). False only at Start.
[[nodiscard]] bool apply_file(UapiTarget t, RouterHooks& h, const Config& prev, const Config& next,
                              std::span<const std::optional<core::Endpoint>> endpoints, ApplyMode mode);

// A port's settings as the gateway takes them; default_mtu when the port names none.
core::PortSpec port_spec(const PortConfig& pc, uint32_t default_mtu);
// The MTU a port's link is given: a TAP is the instance's NIC, so its MTU is the port's; a veth
// end only changes when the port names an MTU.
std::optional<uint32_t> port_link_mtu(const PortConfig& pc, const core::PortSpec& spec);

}  // namespace wg::config
