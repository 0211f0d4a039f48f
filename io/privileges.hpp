// io/privileges.hpp — least privilege after set-up: which capabilities the running daemon still
// needs (a pure function of its configuration and command line), and dropping the rest — from
// the effective, permitted, inheritable, ambient and bounding sets, with no_new_privs — while
// optionally changing to another user (`--user`). Capabilities are per thread: the drop must
// happen while the process has one thread (io::Interface starts its workers in run()).
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "core/result.hpp"

namespace wg::io {

// A set of Linux capabilities, bit N = CAP number N (linux/capability.h).
using CapSet = uint64_t;

constexpr CapSet cap_bit(int cap) { return CapSet{1} << cap; }

// What the daemon may still do at run time that needs privilege, as the command line says.
struct RuntimeNeeds {
  // Native mode's file; nullptr in wireguard-go compatible mode, where `wg` configures the
  // interface over the UAPI at any time (any listen port, any fwmark).
  const config::Config* config = nullptr;
  bool other_netns = false;  // `up --netns`: the interface lives in another network namespace
};

// The capabilities to keep after set-up (see docs/hardening.md for the why of each):
//   CAP_NET_ADMIN         always: SO_MARK (fwmark), the TUN's namespace (TUNGETDEVNETNS) and
//                         following it there (RTM_NEWNSID, IFLA_TARGET_NETNSID), netlink changes
//                         on reload (Address, MTU, ports' links), per-port sysctls on re-attach,
//                         nftables tables and rules on reload and at teardown;
//   CAP_NET_BIND_SERVICE  a ListenPort below 1024 in the file, or wireguard-go mode (UAPI port);
//   CAP_NET_RAW           a veth port (a re-created veth is attached again with AF_PACKET);
//   CAP_SYS_ADMIN         `--netns`: setns into the interface's namespace for reload and teardown.
// Hooks and resolvconf at teardown are not the daemon's: tools/keeper.hpp.
[[nodiscard]] CapSet needed_capabilities(const RuntimeNeeds& needs);

// "cap_net_admin,cap_net_raw" (ascending numbers), "none" for the empty set.
std::string capability_names(CapSet caps);

// `--user USER[:GROUP]` split; error for an empty user or group.
struct UserSpec {
  std::string user, group;  // group empty: the user's primary group
};
[[nodiscard]] Result<UserSpec, std::string> parse_user_spec(std::string_view text);

// A UserSpec looked up in the user and group databases (names or numeric ids).
struct RunAs {
  uid_t uid = 0;
  gid_t gid = 0;
  std::string name;  // as given, for log lines
};
[[nodiscard]] Result<RunAs, std::string> resolve_user(const UserSpec& spec);

// What drop_privileges did, for the log line.
struct DropReport {
  CapSet kept = 0;          // effective and permitted now (read back from the kernel)
  CapSet bounding = 0;      // the bounding set now
  bool no_new_privs = false;
  std::string problems;     // steps the kernel refused ("" when none); the drop goes on
};

// Sets no_new_privs, clears the ambient set, shrinks the bounding set to `keep`, changes to
// `run_as` (setgroups to none, gid, uid, keeping capabilities across the change) and leaves
// exactly keep ∩ what the process had in its effective and permitted sets. A step the kernel
// refuses (no CAP_SETPCAP for the bounding set in a container, say) is reported in
// `problems` and the rest still done; only a refused user change is an error, since running
// as the starting user when told otherwise is worse than not running. Call with one thread.
[[nodiscard]] Result<DropReport, std::string> drop_privileges(CapSet keep, const std::optional<RunAs>& run_as);

// The calling thread's effective capabilities, as the kernel reports them now.
CapSet effective_capabilities();

}  // namespace wg::io
