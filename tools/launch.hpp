// tools/launch.hpp — what `wgrouter IFACE` and `wgrouter up` share before the loop starts:
// the TUN and the UAPI socket exist before the command returns to its caller (wg-quick runs
// `wg` right after), then the process detaches unless asked to stay in the foreground.
#pragma once
#include <optional>
#include <string>

#include "io/interface.hpp"
#include "io/privileges.hpp"
#include "tun/tun.hpp"

namespace wg::tools {

struct Launched {
  io::InterfaceOptions opts;
  tun::TunDevice tun;
  int uapi_fd = -1;
  std::string uapi_path;
};

// Prints the error and returns nullopt on failure. When not foreground, the parent exits 0
// here and only the detached child returns (its stdio on /dev/null unless LOG_LEVEL is set).
// With netns_fd >= 0 the TUN is moved into that network namespace right after it is created
// (the UDP sockets stay here); a failed move leaves nothing behind.
std::optional<Launched> launch(const std::string& name, bool foreground, int netns_fd = -1);

// After set-up, just before the loop: keeps only the capabilities `needs` calls for and sets
// no_new_privs (io/privileges.hpp), changing to run_as when given; one log line says what is
// kept, one more what the kernel refused (the daemon goes on without that step). false (error
// printed) only when the change of user failed.
bool drop_after_setup(const std::string& name, const io::RuntimeNeeds& needs, const std::optional<io::RunAs>& run_as);

// `--user USER[:GROUP]` looked up; nullopt with the error printed.
std::optional<io::RunAs> user_from_option(const std::string& spec);

// WGROUTER_IO=epoll forces the fallback I/O path (tests cover both); WGROUTER_OFFLOAD switches
// offloads off (io/offload.hpp). nullopt (error printed) for a value it does not understand.
std::optional<io::InterfaceOptions> interface_options_from_env();

}  // namespace wg::tools
