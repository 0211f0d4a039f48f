// tun/firewall.hpp — wg-quick's nftables rules for a default route through the interface
// (its add_default, Table = auto with a /0 in AllowedIPs): per family a table `wg-quick-IFACE`
// that drops packets for the interface's own addresses arriving on other interfaces from
// non-local sources (raw prerouting), and keeps the daemon's own marked UDP marked across
// conntrack (mangle). Through libnftables, in one transaction per family; never runs `nft`.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/endpoint.hpp"
#include "core/result.hpp"

struct nft_ctx;

namespace wg::tun {

// "wg-quick-IFACE", the name wg-quick gives the table.
std::string firewall_table_name(std::string_view iface);

// nft takes a table name only as a bare word of letters, digits and `/ - _ .`; interface names
// may also hold `=` and `+`, which wg-quick's `nft -f` then refuses. False for those.
bool firewall_table_name_ok(std::string_view iface);

// The nft commands for one family (V4: `ip`, V6: `ip6`). The table is created, deleted and
// created again in the same transaction, so one left by a crashed run is replaced, not extended.
// With owner, it is flagged `owner` (Linux 5.12+): the kernel deletes it when the netlink socket
// that made it closes, so even a killed wgrouter leaves nothing behind. addrs are the interface's
// addresses of family f (first 4 bytes for IPv4).
std::string firewall_ruleset(std::string_view iface, core::Family f, const std::vector<std::array<uint8_t, 16>>& addrs,
                             uint32_t fwmark, bool owner = true);

// The tables of one interface. Startup and teardown only: not for the data path or the loop.
//
// In the calling thread's namespace (netns_fd -1) the libnftables context, and so the netlink
// socket that owns the tables, is kept for this object's life: the tables go with it, or with
// the process however it ends. In another namespace (`up --netns`) a socket kept there would
// keep that namespace alive after its container stopped, so each call opens a context inside
// it and closes it again; the tables are plain ones there and only remove() deletes them.
class DefaultRouteFirewall {
 public:
  // netns_fd: where the interface lives while add() is called (-1: here). Not kept past add().
  DefaultRouteFirewall(std::string iface, int netns_fd);
  ~DefaultRouteFirewall();
  DefaultRouteFirewall(const DefaultRouteFirewall&) = delete;
  DefaultRouteFirewall& operator=(const DefaultRouteFirewall&) = delete;

  // Installs family f's table, owned where the kernel knows table owners (Linux 5.12+) and the
  // context is kept; the error is nft's own text (e.g. "Operation not permitted").
  [[nodiscard]] Result<void, std::string> add(core::Family f, const std::vector<std::array<uint8_t, 16>>& addrs,
                                              uint32_t fwmark);
  // Deletes every table add() created, in the namespace netns_fd names now (-1: here; ignored
  // when the context was kept: its socket's namespace is where they are). Safe to call twice.
  void remove(int netns_fd = -1);

 private:
  [[nodiscard]] Result<void, std::string> run(const std::string& commands, int netns_fd);

  nft_ctx* kept_ = nullptr;  // only for tables in the calling thread's namespace
  std::string iface_;
  int netns_fd_ = -1;
  std::vector<core::Family> added_;
};

}  // namespace wg::tun
