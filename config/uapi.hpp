// config/uapi.hpp — the cross-platform UAPI text protocol (`wg` ⇄ daemon, PROTOCOL.md §2) on one
// connection: framing, pipelining, the `get` output and the `set` keys, applied in order and
// non-atomically as wireguard-go does. No sockets here: io/ feeds the bytes it reads and writes
// back the reply; what a `set` makes the Device send goes to the hooks' outbox.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/device.hpp"
#include "core/gateway.hpp"
#include "core/endpoint.hpp"
#include "core/env.hpp"
#include "core/outbox.hpp"
#include "core/prefix.hpp"
#include "core/prefix_table.hpp"

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

// One per accepted connection. Requests may be pipelined and arrive in fragments of any size.
class UapiConnection {
 public:
  // Longest `set` line accepted (without its newline); longer gives errno=-EPROTO and closes.
  // The longest line `wg` sends is an IPv6 endpoint with a scope, about 70 bytes.
  static constexpr size_t kMaxLine = 4096;
  // Once `reply` holds this many bytes, feed() starts no further request and holds the rest of
  // its input (see pending()), so pipelined gets of a big table cannot grow the reply without
  // bound. One get can still exceed it (about 25 bytes per allowed IP).
  static constexpr size_t kReplyHighWater = size_t{4} << 20;
  // Held input beyond this (a caller that keeps feeding while pending()) closes the connection.
  static constexpr size_t kMaxHeld = size_t{4} << 20;

  explicit UapiConnection(UapiTarget t);

  // Consumes bytes; appends response bytes to `reply`; returns false when the connection must be
  // closed after writing `reply`. Never throws.
  bool feed(std::string_view bytes, std::string& reply);
  // True when feed() held input back at kReplyHighWater: write the reply out, then call
  // feed({}, reply) with the emptied reply, before waiting for the socket to be readable again
  // (a client waiting for its answers sends nothing more).
  bool pending() const { return !held_.empty() && phase_ != Phase::Closed; }

 private:
  bool with_drops_ = false;
  enum class Phase : uint8_t { Operation, GetBlank, Set, Closed };
  // The peer the `set` lines apply to (wireguard-go ipcSetPeer).
  struct SetPeer {
    core::PeerId id = core::kNoPeer;
    bool dummy = true;    // lines are checked but change nothing (own key, removed, update_only)
    bool created = false;
    std::optional<uint16_t> keepalive;  // applied when the peer's lines end (handlePostConfig)
  };

  void consume(std::string_view in, std::string& reply);
  void on_line(std::string_view line, std::string& reply);
  // Ends the connection; a request in progress gets errno=err first.
  void fail(int err, std::string& reply);

  [[nodiscard]] int set_line(std::string_view line);
  [[nodiscard]] int device_line(std::string_view key, std::string_view value);
  [[nodiscard]] int peer_line(std::string_view key, std::string_view value);
  [[nodiscard]] int select_peer(std::string_view hex);
  void finish_peer();
  void remove_peer(core::PeerId id);

  UapiTarget t_;
  Phase phase_ = Phase::Operation;
  bool device_section_ = true;
  SetPeer peer_;
  std::string line_;  // a line still waiting for its newline
  std::string held_;  // unread input held at the reply high-water mark
  size_t request_start_ = 0;  // where the current request's reply begins in `reply`
};

// The whole `get` reply for the target, "errno=0\n\n" included.
void append_get_reply(UapiTarget& t, std::string& out, bool with_drops = false);

// Value parsers with wireguard-go's rules (exposed for tests):
// `a.b.c.d:port`, `[v6]:port`, `[v6%scope]:port` (scope: interface name or number). Numeric only.
// An IPv4-mapped IPv6 address without a scope is stored as IPv4.
std::optional<core::Endpoint> parse_uapi_endpoint(std::string_view text);
// `ip/cidr` with the `/` required, no leading zeros or sign in cidr, no IPv6 zone; host bits masked.
std::optional<core::Prefix> parse_uapi_prefix(std::string_view text);

}  // namespace wg::config
