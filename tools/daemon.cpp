// tools/daemon.cpp — `wgrouter IFACE [-f|--foreground]`: the wireguard-go compatible mode that
// wg-quick launches when the kernel module is missing. It creates the TUN and the UAPI socket
// before returning, so wg-quick's next steps find both, then serves in the background.
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "io/interface.hpp"
#include "io/uapi_server.hpp"
#include "tools/commands.hpp"
#include "tools/keeper.hpp"
#include "tools/launch.hpp"
#include "tools/notify.hpp"
#include "tools/usage.hpp"
#include "tun/netlink.hpp"
#include "tun/tun.hpp"

namespace wg::tools {

namespace {

constexpr const char* kUsage =
    "Usage: wgrouter [-f|--foreground] [--user USER[:GROUP]] INTERFACE\n"
    "\n"
    "wireguard-go's command line, for WG_QUICK_USERSPACE_IMPLEMENTATION=wgrouter wg-quick up:\n"
    "creates the TUN INTERFACE and its UAPI socket /var/run/wireguard/INTERFACE.sock, then serves\n"
    "them in the background (wg and wg-quick configure it over the socket).\n"
    "\n"
    "  -f, --foreground      stay in the foreground (also with WG_PROCESS_FOREGROUND=1)\n"
    "  --user USER[:GROUP]   run as USER after set-up (see docs/hardening.md)\n"
    "  -h, --help            print this help\n";

bool env_is(const char* name, std::string_view value) {
  const char* v = std::getenv(name);
  return v && value == v;
}

// Detaches from the terminal and from wg-quick: the parent returns at once with 0.
bool daemonize() {
  const pid_t pid = fork();
  if (pid < 0) return false;
  if (pid > 0) _exit(0);
  setsid();
  const int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) {
    dup2(null, STDIN_FILENO);
    // LOG_LEVEL keeps the logs visible, as with wireguard-go.
    if (!std::getenv("LOG_LEVEL") || env_is("LOG_LEVEL", "silent")) {
      dup2(null, STDOUT_FILENO);
      dup2(null, STDERR_FILENO);
    }
    if (null > STDERR_FILENO) close(null);
  }
  return true;
}

}  // namespace

std::optional<Launched> launch(const std::string& name, bool foreground, int netns_fd) {
  const auto opts = interface_options_from_env();
  if (!opts) return std::nullopt;
  auto tun = tun::TunDevice::open(name, opts->offload.tun);
  if (!tun) {
    std::fprintf(stderr, "wgrouter: %s\n", tun.error().c_str());
    return std::nullopt;
  }
  if (netns_fd >= 0) {
    // The device goes; its descriptor (and the UDP sockets made later) stay in this namespace.
    tun::Netlink here;
    if (const int rc = here.move_link(tun->ifindex(), netns_fd); rc != 0) {
      std::fprintf(stderr, "wgrouter: cannot move %s into the target network namespace: %s\n", name.c_str(),
                   rc == -EEXIST ? "an interface of that name exists there" : std::strerror(-rc));
      return std::nullopt;  // the TUN is not persistent: closing it deletes it
    }
  }
  std::string sock = std::string(io::kUapiDir) + "/" + name + ".sock";
  auto listen_fd = io::uapi_listen(sock);
  if (!listen_fd) {
    std::fprintf(stderr, "wgrouter: %s\n", listen_fd.error().c_str());
    return std::nullopt;
  }
  if (!foreground && !daemonize()) {
    std::perror("wgrouter: fork");
    unlink(sock.c_str());
    close(*listen_fd);
    return std::nullopt;
  }
  return Launched{*opts, std::move(*tun), *listen_fd, std::move(sock)};
}

bool drop_after_setup(const std::string& name, const io::RuntimeNeeds& needs, const std::optional<io::RunAs>& run_as) {
  const io::CapSet wanted = io::needed_capabilities(needs);
  auto r = io::drop_privileges(wanted, run_as);
  if (!r) {
    std::fprintf(stderr, "wgrouter[%s]: %s\n", name.c_str(), r.error().c_str());
    return false;
  }
  std::string user;
  if (run_as) user = ", running as " + run_as->name + " (uid " + std::to_string(run_as->uid) + ")";
  std::fprintf(stderr, "wgrouter[%s]: capabilities kept: %s (bounding set: %s; no_new_privs %s)%s\n", name.c_str(),
               io::capability_names(r->kept).c_str(), io::capability_names(r->bounding).c_str(),
               r->no_new_privs ? "on" : "off", user.c_str());
  if (const io::CapSet missing = wanted & ~r->kept)
    std::fprintf(stderr, "wgrouter[%s]: warning: started without %s, which the running daemon may need\n",
                 name.c_str(), io::capability_names(missing).c_str());
  if (!r->problems.empty())
    std::fprintf(stderr, "wgrouter[%s]: privileges: the kernel refused part of the drop (%s); going on\n",
                 name.c_str(), r->problems.c_str());
  return true;
}

std::optional<io::RunAs> user_from_option(const std::string& spec) {
  auto parsed = io::parse_user_spec(spec);
  auto r = parsed ? io::resolve_user(*parsed) : Result<io::RunAs, std::string>(Unexpected(parsed.error()));
  if (!r) {
    std::fprintf(stderr, "wgrouter: %s\n", r.error().c_str());
    return std::nullopt;
  }
  return *r;
}

std::optional<io::InterfaceOptions> interface_options_from_env() {
  io::InterfaceOptions o;
  // Tests cover both paths; operators can force the fallback too.
  o.force_fallback = env_is("WGROUTER_IO", "epoll");
  if (const char* v = std::getenv("WGROUTER_THREADS")) {
    // Threads doing a batch's AEAD work, the loop thread included (io/crypto_pool.hpp).
    char* end = nullptr;
    const long n = std::strtol(v, &end, 10);
    if (!*v || *end || n < 1 || n > 64) {
      std::fprintf(stderr, "wgrouter: WGROUTER_THREADS: `%s' is not a number from 1 to 64\n", v);
      return std::nullopt;
    }
    o.threads = static_cast<unsigned>(n);
  }
  // The AEAD backend is chosen before any key or thread exists (crypto/aead.hpp).
  if (std::string error; !crypto::select_aead_backend_from_env(error)) {
    std::fprintf(stderr, "wgrouter: WGROUTER_AEAD: %s\n", error.c_str());
    return std::nullopt;
  }
  if (const char* v = std::getenv("WGROUTER_OFFLOAD")) {
    std::string error;
    const auto s = io::parse_offload_switches(v, error);
    if (!s) {
      std::fprintf(stderr, "wgrouter: WGROUTER_OFFLOAD: %s\n", error.c_str());
      return std::nullopt;
    }
    o.offload = *s;
  }
  return o;
}

int cmd_daemon(int argc, char** argv) {
  bool foreground = env_is("WG_PROCESS_FOREGROUND", "1");
  std::string name;
  std::optional<io::RunAs> run_as;
  for (int i = 0; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (is_help_option(a)) {
      return print_help(kUsage);
    } else if (a == "-f" || a == "--foreground") {
      foreground = true;
    } else if (a == "--user") {
      if (i + 1 == argc) return usage_error(kUsage, "", "option `--user' needs a value");
      run_as = user_from_option(argv[++i]);
      if (!run_as) return 1;
    } else if (!a.empty() && a[0] == '-') {
      return usage_error(kUsage, "", "unknown option `" + std::string(a) + "'");
    } else if (!name.empty() || a.empty()) {
      return usage_error(kUsage, "", "unexpected argument `" + std::string(a) + "'");
    } else {
      name = a;
    }
  }
  if (name.empty()) return usage_error(kUsage, "", "no INTERFACE given");

  ServiceNotifier notifier(name, foreground);
  auto l = launch(name, foreground);
  if (!l) return 1;
  // As another user the daemon cannot remove its socket from the root-owned socket directory:
  // the keeper, forked while the process is still whole, does it at the end.
  std::optional<Keeper> keeper;
  if (run_as && !(keeper = Keeper::start({nullptr, nullptr, l->uapi_path}))) {
    std::perror("wgrouter: fork");
    unlink(l->uapi_path.c_str());
    return 1;
  }
  int status = 1;
  {
    io::Interface itf(std::move(l->tun), l->uapi_fd, l->uapi_path, l->opts);
    // `wg` configures everything later over the UAPI: the drop keeps what any of that needs.
    if (drop_after_setup(name, io::RuntimeNeeds{}, run_as)) {
      std::fprintf(stderr, "wgrouter[%s]: running (%s; offloads: %s), UAPI at %s\n", name.c_str(),
                   std::string(itf.io_name()).c_str(), itf.offload_state().describe().c_str(), l->uapi_path.c_str());
      // Ready to be configured: the TUN and the UAPI socket exist, `wg setconf` may come.
      notifier.ready(itf.device().peer_count(), std::nullopt);
      itf.after_uapi = [&] { notifier.update(itf.device().peer_count(), std::nullopt); };
      status = itf.run();
      notifier.stopping();
    }
  }
  if (keeper) keeper->finish(Keeper::End::Quietly, -1);
  return status;
}

}  // namespace wg::tools
