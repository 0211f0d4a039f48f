// config/uapi.hpp — the cross-platform UAPI text protocol (`wg` ⇄ daemon, PROTOCOL.md §2) on one
// connection: framing, pipelining, the `get` output and the `set` keys, parsed here and applied
// through SetOperation (config/apply.hpp) in order and non-atomically as wireguard-go does. No sockets here: io/ feeds the bytes it reads and writes
// back the reply; what a `set` makes the Device send goes to the hooks' outbox.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/apply.hpp"
#include "core/endpoint.hpp"
#include "core/prefix.hpp"

namespace wg::config {

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
  // A `get` is answered kGetPeersPerFeed peers at a time: with 100 000 peers the whole reply
  // is ~25 MB, and making it in one go would stall every tunnel for tens of milliseconds.
  // Peers added or removed between slices may be missed or listed (a netlink dump of the
  // kernel module behaves the same way); each peer's own lines are always whole.
  static constexpr size_t kGetPeersPerFeed = 256;

  // True when feed() has more to say (a `get` in progress) or held input back at
  // kReplyHighWater: write the reply out, then call feed({}, reply) with the emptied reply,
  // before waiting for the socket to be readable again (a client waiting for its answers sends
  // nothing more).
  bool pending() const { return (get_ || !held_.empty()) && phase_ != Phase::Closed; }

 private:
  bool with_drops_ = false;
  enum class Phase : uint8_t { Operation, GetBlank, Set, Closed };

  void consume(std::string_view in, std::string& reply);
  // Appends the next slice of the `get` in progress; its end clears get_.
  void continue_get(std::string& reply);
  void on_line(std::string_view line, std::string& reply);
  // Ends the connection; a request in progress gets errno=err first.
  void fail(int err, std::string& reply);

  [[nodiscard]] int set_line(std::string_view line);
  [[nodiscard]] int device_line(std::string_view key, std::string_view value);
  [[nodiscard]] int peer_line(std::string_view key, std::string_view value);

  UapiTarget t_;
  Phase phase_ = Phase::Operation;
  bool device_section_ = true;
  std::optional<SetOperation> set_;  // the `set` request in progress
  std::string line_;  // a line still waiting for its newline
  std::string held_;  // unread input held at the reply high-water mark
  size_t request_start_ = 0;  // where the current request's reply begins in `reply`
  std::optional<core::PeerId> get_;  // a `get` in progress: the next peer slot to list
};

// The device section of a `get` reply (keys, port, mark; with_drops: wgrouter's own lines).
void append_get_head(UapiTarget& t, std::string& out, bool with_drops);
// Peers from slot `from` on, at most `max` of them; returns the next slot to list, or nullopt
// after the last peer (then "errno=0\n\n" has been appended).
std::optional<core::PeerId> append_get_peers(UapiTarget& t, std::string& out, core::PeerId from, size_t max);
// The whole `get` reply for the target, "errno=0\n\n" included.
void append_get_reply(UapiTarget& t, std::string& out, bool with_drops = false);

// Value parsers with wireguard-go's rules (exposed for tests):
// `a.b.c.d:port`, `[v6]:port`, `[v6%scope]:port` (scope: interface name or number). Numeric only.
// An IPv4-mapped IPv6 address without a scope is stored as IPv4.
std::optional<core::Endpoint> parse_uapi_endpoint(std::string_view text);
// `ip/cidr` with the `/` required, no leading zeros or sign in cidr, no IPv6 zone; host bits masked.
std::optional<core::Prefix> parse_uapi_prefix(std::string_view text);

}  // namespace wg::config
