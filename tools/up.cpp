// tools/up.cpp — `wgrouter up FILE.conf [--name IFACE] [--foreground]`: native mode. Does what
// wg-quick does, from one file, without running `ip` or `wg`: TUN, keys and peers, addresses,
// MTU, link up, DNS, routes (Table = auto | off | N with the default-route fwmark rules),
// hooks; serves the UAPI socket; tears everything down on SIGINT/SIGTERM.
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "config/apply.hpp"
#include "config/config.hpp"
#include "io/interface.hpp"
#include "io/privileges.hpp"
#include "io/resolver.hpp"
#include "io/uapi_server.hpp"
#include "tools/commands.hpp"
#include "tools/keeper.hpp"
#include "tools/launch.hpp"
#include "tools/notify.hpp"
#include "tools/usage.hpp"
#include "tun/firewall.hpp"
#include "tun/netlink.hpp"
#include "tun/netns.hpp"
#include "tun/port.hpp"
#include "tun/tun.hpp"

namespace wg::tools {

namespace {

constexpr uint32_t kPathMtuFallback = 1500;  // wg-quick's when no route says anything
// wg-quick takes 80 off the path MTU whatever the endpoint's family: IPv6 header 40 + UDP 8 +
// WireGuard data header and tag 32.
constexpr uint32_t kTunnelOverhead = 80;
constexpr uint32_t kFirstAutoTable = 51820;

constexpr const char* kUsage =
    "Usage: wgrouter up FILE.conf [--name IFACE] [--foreground] [--netns NAME|PATH|PID] [--user USER[:GROUP]]\n"
    "\n"
    "Brings up the interface FILE.conf describes (wg-quick's format with wgrouter's additions,\n"
    "see wgrouter.conf(5)) as `wg-quick up' would, in one process, and serves it until SIGINT or\n"
    "SIGTERM, then takes everything down. SIGHUP re-reads FILE.conf and applies what changed.\n"
    "\n"
    "  --name IFACE            interface name (default: FILE's base name without .conf)\n"
    "  -f, --foreground        stay in the foreground (the default under systemd)\n"
    "  --netns NAME|PATH|PID   the interface, its addresses, routes and hooks live in that\n"
    "                          network namespace; the UDP sockets stay in this one\n"
    "  --user USER[:GROUP]     run as USER after set-up (see docs/hardening.md)\n"
    "  -h, --help              print this help\n";

std::string substitute(std::string hook, const std::string& iface) {
  for (size_t pos = 0; (pos = hook.find("%i", pos)) != std::string::npos; pos += iface.size())
    hook.replace(pos, 2, iface);
  return hook;
}

// The network namespace the interface is configured in: --netns, or -1 for this one.
int g_target_ns = -1;
// `up --netns` was given: the capabilities kept for reload and teardown include setns's.
bool g_netns_mode = false;

// Runs `bash -c cmd` inside the interface's network namespace (hooks and resolvconf see the
// interface there, as they would with wg-quick run in the container), with `input` on its
// standard input when given. Returns the exit status (127: could not run, -1: killed).
int run_bash(const std::string& cmd, const std::string* input = nullptr) {
  int in[2] = {-1, -1};
  if (input && pipe2(in, O_CLOEXEC) != 0) return 127;
  const pid_t pid = fork();
  if (pid < 0) {
    if (input) close(in[0]), close(in[1]);
    return 127;
  }
  if (pid == 0) {
    if (g_target_ns >= 0 && setns(g_target_ns, CLONE_NEWNET) != 0) _exit(127);
    if (input) dup2(in[0], STDIN_FILENO);
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, nullptr);  // the loop blocks signals for its signalfd
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) signal(sig, SIG_DFL);  // the keeper ignores them
    execl("/bin/bash", "bash", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  if (input) {
    close(in[0]);
    for (size_t off = 0; off < input->size();) {
      const ssize_t n = write(in[1], input->data() + off, input->size() - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    close(in[1]);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Runs hooks in order as wg-quick does (bash, %i replaced); false at the first failure.
bool run_hooks(const std::vector<std::string>& hooks, const std::string& iface, const char* stage) {
  for (const std::string& h : hooks) {
    const std::string cmd = substitute(h, iface);
    std::fprintf(stderr, "wgrouter[%s]: %s: %s\n", iface.c_str(), stage, cmd.c_str());
    if (run_bash(cmd) != 0) {
      std::fprintf(stderr, "wgrouter[%s]: %s hook failed: %s\n", iface.c_str(), stage, cmd.c_str());
      return false;
    }
  }
  return true;
}

bool have_resolvconf() { return run_bash("command -v resolvconf >/dev/null 2>&1") == 0; }

void set_dns(const config::Interface& c, const std::string& iface) {
  if (c.dns_servers.empty() && c.dns_search.empty()) return;
  if (!have_resolvconf()) {
    std::fprintf(stderr, "wgrouter[%s]: warning: DNS set but resolvconf is not installed; DNS left unchanged\n",
                 iface.c_str());
    return;
  }
  std::string input;
  for (const auto& s : c.dns_servers) input += "nameserver " + s + "\n";
  if (!c.dns_search.empty()) {
    input += "search";
    for (const auto& s : c.dns_search) input += " " + s;
    input += "\n";
  }
  run_bash("resolvconf -a tun." + iface + " -m 0 -x", &input);
}

void unset_dns(const config::Interface& c, const std::string& iface) {
  if ((c.dns_servers.empty() && c.dns_search.empty()) || !have_resolvconf()) return;
  run_bash("resolvconf -d tun." + iface + " -f");
}

// Resolves every peer endpoint; hostnames are retried while the failure is transient.
bool resolve_all(const config::Config& cfg, std::vector<std::optional<core::Endpoint>>& out) {
  out.assign(cfg.peers.size(), std::nullopt);
  for (size_t i = 0; i < cfg.peers.size(); ++i) {
    const auto& spec = cfg.peers[i].endpoint;
    if (!spec) continue;
    if (spec->numeric) {
      out[i] = spec->numeric;
      continue;
    }
    double delay = 1.0;
    for (int attempt = 0;; ++attempt) {  // bounded: 15 attempts, as wg's default
      auto r = config::resolve_endpoint(*spec);
      if (r) {
        out[i] = *r;
        break;
      }
      if (!r.error().transient || attempt == 14) {
        std::fprintf(stderr, "wgrouter: %s\n", r.error().message.c_str());
        return false;
      }
      std::fprintf(stderr, "wgrouter: %s. Trying again in %.2f seconds...\n", r.error().message.c_str(), delay);
      std::this_thread::sleep_for(std::chrono::duration<double>(delay));
      delay = std::min(delay * 1.2, 20.0);
    }
  }
  return true;
}

// The interface MTU when the file has none, as wg-quick's set_mtu_up finds it: the largest MTU
// of the routes to the peers' endpoints (a route's mtu metric, else its device's MTU); with no
// endpoint routed, the default route's; with nothing, 1500. Then 80 less. Says what it chose.
uint32_t automatic_mtu(const std::vector<std::optional<core::Endpoint>>& endpoints, tun::Netlink& nl,
                       const std::string& iface) {
  uint32_t path = 0;
  std::string why;
  for (const auto& e : endpoints) {
    if (!e) continue;
    const auto m = nl.route_mtu(*e);
    if (!m || *m <= path) continue;
    path = *m;
    why = "the route to " + core::to_string(*e) + " has MTU " + std::to_string(path);
  }
  if (path == 0) {
    if (const auto m = nl.default_route_mtu()) {
      path = *m;
      why = "no endpoint route; the default route has MTU " + std::to_string(path);
    }
  }
  if (path == 0) {
    path = kPathMtuFallback;
    why = "no route found; assuming 1500";
  }
  // An mtu metric below 148 leaves less than IPv4's minimum; wg-quick's `ip link set mtu` would
  // then fail, here the interface gets the minimum.
  if (path < kTunnelOverhead + config::kMinMtu) {
    std::fprintf(stderr, "wgrouter[%s]: MTU %u (%s; less %u is below the minimum)\n", iface.c_str(), config::kMinMtu,
                 why.c_str(), kTunnelOverhead);
    return config::kMinMtu;
  }
  const uint32_t mtu = path - kTunnelOverhead;
  std::fprintf(stderr, "wgrouter[%s]: MTU %u (%s, less %u)\n", iface.c_str(), mtu, why.c_str(), kTunnelOverhead);
  return mtu;
}

struct RoutePlan {
  std::vector<core::Prefix> routes;  // sorted longest first, as wg-quick adds them
  bool default_v4 = false, default_v6 = false;
};

RoutePlan plan_routes(const config::Config& cfg) {
  RoutePlan plan;
  for (const auto& p : cfg.peers)
    for (const auto& a : p.allowed_ips) plan.routes.push_back(a.prefix);
  std::stable_sort(plan.routes.begin(), plan.routes.end(),
                   [](const core::Prefix& a, const core::Prefix& b) { return a.len > b.len; });
  plan.routes.erase(std::unique(plan.routes.begin(), plan.routes.end()), plan.routes.end());
  return plan;
}

// Everything `up` changed outside the process, so `down` can undo it.
struct Applied {
  std::vector<std::pair<core::Family, uint32_t>> fwmark_rules;  // (family, table)
  std::vector<core::Family> suppress_rules;
  uint32_t table = 0;
  std::unique_ptr<tun::DefaultRouteFirewall> firewall;  // its tables go with it
  bool firewall_here = false;  // made in this namespace (not --netns): a reload may renew it
};

bool wants_default_route(const config::Config& cfg) {
  if (cfg.iface.table.mode != config::TableMode::Auto) return false;
  for (const auto& p : cfg.peers)
    for (const auto& a : p.allowed_ips)
      if (a.prefix.len == 0) return true;
  return false;
}

std::vector<std::array<uint8_t, 16>> addresses_of(const config::Config& cfg, core::Family f) {
  std::vector<std::array<uint8_t, 16>> v;
  for (const auto& a : cfg.iface.addresses)
    if (a.family == f) v.push_back(a.addr);
  return v;
}

// wg-quick's firewall part of add_default. When nftables refuses (no nf_tables in the kernel,
// no permission, a table of that name owned by another process), `up` fails as wg-quick's does
// (its `nft -f` runs under `set -e`): coming up without the anti-spoofing rule would leave the
// tunnel's addresses reachable by forged packets from any other link, with nothing said.
// Without /0 routes or with Table = off or a number, no rules are needed.
bool add_firewall(const config::Config& cfg, core::Family f, uint32_t mark, io::Interface& itf, Applied& done) {
  if (!done.firewall) {
    done.firewall = std::make_unique<tun::DefaultRouteFirewall>(itf.name(), g_target_ns);
    done.firewall_here = g_target_ns < 0;
  }
  auto r = done.firewall->add(f, addresses_of(cfg, f), mark);
  if (!r) {
    std::fprintf(stderr, "wgrouter[%s]: nftables rules for the default route (table %s %s): %s\n", itf.name().c_str(),
                 f == core::Family::V4 ? "ip" : "ip6", tun::firewall_table_name(itf.name()).c_str(), r.error().c_str());
    return false;
  }
  std::fprintf(stderr, "wgrouter[%s]: nftables table %s %s added\n", itf.name().c_str(), f == core::Family::V4 ? "ip" : "ip6",
               tun::firewall_table_name(itf.name()).c_str());
  return true;
}

// The kernel turns IPv6 off on a link whose MTU is below 1280 and then answers an IPv6 route
// through it with only ENODEV; an automatic MTU from a small path can get there.
void report_route_error(io::Interface& itf, const core::Prefix& p, int rc) {
  const bool small = rc == -ENODEV && p.family == core::Family::V6 && itf.device().mtu() < 1280;
  std::fprintf(stderr, "wgrouter[%s]: route %s: %s%s\n", itf.name().c_str(), core::to_string(p).c_str(),
               std::strerror(-rc), small ? " (IPv6 needs an interface MTU of 1280 or more)" : "");
}

bool apply_routes(const config::Config& cfg, tun::Netlink& nl, io::Interface& itf, Applied& done) {
  const auto& t = cfg.iface.table;
  if (t.mode == config::TableMode::Off) return true;
  const bool auto_mode = t.mode == config::TableMode::Auto;
  const uint32_t table = auto_mode ? 0 : t.id;  // a Name was resolved by load_config
  const RoutePlan plan = plan_routes(cfg);
  for (const core::Prefix& p : plan.routes) {
    if (auto_mode && p.len == 0) {
      // wg-quick add_default: our UDP carries fwmark T and skips table T; the rest goes there.
      uint32_t mark = itf.fwmark();
      if (mark == 0) {
        mark = kFirstAutoTable;
        itf.set_fwmark(mark);
      }
      done.table = mark;
      if (int rc = nl.add_fwmark_rule(p.family, mark, mark, true); rc != 0 && rc != -EEXIST) {
        std::fprintf(stderr, "wgrouter[%s]: fwmark rule: %s\n", itf.name().c_str(), std::strerror(-rc));
        return false;
      }
      done.fwmark_rules.push_back({p.family, mark});
      if (int rc = nl.add_suppress_rule(p.family, true); rc == 0) done.suppress_rules.push_back(p.family);
      if (p.family == core::Family::V4) {
        // A sysctl of the interface's namespace: /proc/sys/net is the opener's namespace.
        tun::in_netns(g_target_ns, [] { std::ofstream("/proc/sys/net/ipv4/conf/all/src_valid_mark") << "1\n"; });
      }
      if (int rc = nl.add_route(itf.ifindex(), p, mark); rc != 0) {
        report_route_error(itf, p, rc);
        return false;
      }
      if (!add_firewall(cfg, p.family, mark, itf, done)) return false;
      continue;
    }
    if (int rc = nl.add_route(itf.ifindex(), p, table); rc != 0 && rc != -EEXIST) {
      report_route_error(itf, p, rc);
      return false;
    }
  }
  return true;
}

void undo_routes(tun::Netlink& nl, Applied& done) {
  for (auto [f, table] : done.fwmark_rules) nl.add_fwmark_rule(f, table, table, false);
  for (core::Family f : done.suppress_rules) nl.add_suppress_rule(f, false);
  if (done.firewall) done.firewall->remove(g_target_ns);  // the namespace undo runs in
  done.firewall.reset();
}

config::UapiTarget uapi_target(io::Interface& itf) {
  return {itf.device(), itf.allowed_ips(), itf, &itf.gateway()};
}

// The running interface as config::apply_router changes it: the TUN's addresses and MTU through
// netlink in the namespace the TUN lives in, the ports' devices in this one. Made for one apply:
// its socket in the TUN's namespace goes with it (kept, it would keep a container's namespace
// alive).
class LiveRouter final : public config::RouterHooks {
 public:
  // auto_mtu_from: at `up`, the peers' endpoints the automatic MTU is found from; nullptr on
  // reload, where the MTU stays.
  LiveRouter(io::Interface& itf, tun::Netlink& nl, const std::vector<std::optional<core::Endpoint>>* auto_mtu_from)
      : itf_(itf), nl_(nl), auto_mtu_from_(auto_mtu_from) {}

  core::Gateway& gateway() override { return itf_.gateway(); }
  bool reach_link() override {
    if (!link_) link_ = itf_.device_netlink();
    return link_ != nullptr;
  }
  int add_address(const config::InterfaceAddress& a) override {
    return link_->add_address(itf_.ifindex(), a.family, a.addr.data(), a.len);
  }
  int del_address(const config::InterfaceAddress& a) override {
    return link_->del_address(itf_.ifindex(), a.family, a.addr.data(), a.len);
  }
  // The routes asked are this namespace's (nl_): the UDP sockets send from here, also with --netns.
  uint32_t mtu_without_line() override {
    return auto_mtu_from_ ? automatic_mtu(*auto_mtu_from_, nl_, itf_.name()) : tunnel_mtu();
  }
  // The Device's: what the file set, or what the link reported since.
  uint32_t tunnel_mtu() const override { return itf_.dataplane().tunnel_mtu(); }
  int set_mtu(uint32_t mtu) override {
    if (const int rc = link_->set_link(itf_.ifindex(), std::nullopt, mtu); rc != 0) return rc;
    itf_.set_tunnel_mtu(mtu);
    return 0;
  }
  bool open_port(const config::PortConfig& pc, core::PortSpec spec, std::optional<uint32_t> link_mtu) override;
  void remove_port(uint32_t id) override { itf_.remove_port(id); }
  std::optional<uint32_t> port_link_mtu(uint32_t id) const override { return itf_.port_link_mtu(id); }
  int set_port_link_mtu(uint32_t id, std::optional<uint32_t> mtu) override { return itf_.set_port_link_mtu(id, mtu); }
  void say(const std::string& line) override {
    std::fprintf(stderr, "wgrouter[%s]: %s\n", itf_.name().c_str(), line.c_str());
  }
  // The TUN's namespace, once reach_link said it can be reached.
  tun::Netlink* link() { return link_.get(); }

 private:
  io::Interface& itf_;
  tun::Netlink& nl_;
  const std::vector<std::optional<core::Endpoint>>* auto_mtu_from_;
  std::unique_ptr<tun::Netlink> link_;
};

bool LiveRouter::open_port(const config::PortConfig& pc, core::PortSpec spec, std::optional<uint32_t> link_mtu) {
  const bool tap = pc.mode == config::PortMode::Tap;
  auto dev = tap ? tun::PortDevice::open_tap(pc.name, itf_.offload_switches().tap) : tun::PortDevice::attach(pc.name);
  if (!dev) {
    say("port " + pc.name + ": " + dev.error());
    return false;
  }
  if (!dev->warning().empty()) say("port " + pc.name + ": warning: " + dev->warning());
  if (const int rc = nl_.set_link(dev->ifindex(), true, link_mtu); rc != 0) {
    say("port " + pc.name + ": link up: " + std::strerror(-rc));
    return false;
  }
  itf_.add_port(std::move(*dev), std::move(spec), link_mtu);
  return true;
}

// An answer for spec's host:port came back (on the loop thread). Every peer the file still
// gives that Endpoint, and that still exists, gets the address if it differs from the one it
// has; an answer for a name the file no longer uses changes nothing.
void apply_answer(const config::EndpointSpec& spec, const io::Resolver::Answer& answer, const config::Config& cfg,
                  io::Interface& itf, bool from_reload) {
  const char* what = from_reload ? "reload: " : "";
  if (!answer) {
    std::fprintf(stderr, "wgrouter[%s]: %s%s%s\n", itf.name().c_str(), what, answer.error().message.c_str(),
                 from_reload ? " (endpoint left as it was)" : "");
    return;
  }
  core::Device& dev = itf.device();
  for (const config::PeerConfig& pc : cfg.peers) {
    if (!pc.endpoint || pc.endpoint->numeric || pc.endpoint->text != spec.text) continue;
    const auto id = dev.find_peer(pc.public_key);
    const core::Peer* p = id ? dev.peer(*id) : nullptr;
    if (!p) continue;
    if (p->endpoint.same_remote(*answer)) {
      if (from_reload)
        std::fprintf(stderr, "wgrouter[%s]: reload: %s still resolves to %s\n", itf.name().c_str(), spec.text.c_str(),
                     core::to_string(*answer).c_str());
      continue;
    }
    std::fprintf(stderr, "wgrouter[%s]: %s%s now resolves to %s\n", itf.name().c_str(), what, spec.text.c_str(),
                 core::to_string(*answer).c_str());
    dev.set_endpoint(*id, *answer);
  }
}

// Looks spec up off the loop (io/resolver.hpp); apply_answer runs when the answer is back.
// cfg and itf are cmd_up's and outlive the resolver's callbacks.
void lookup_endpoint(const config::EndpointSpec& spec, const config::Config& cfg, io::Interface& itf,
                     io::Resolver& resolver, bool from_reload) {
  const io::Resolver::Submit s = resolver.resolve(
      spec, [spec, &cfg, &itf, from_reload](const io::Resolver::Answer& a) { apply_answer(spec, a, cfg, itf, from_reload); });
  const char* what = from_reload ? "reload: " : "";
  switch (s) {
    case io::Resolver::Submit::Queued:
      std::fprintf(stderr, "wgrouter[%s]: %sresolving %s%s\n", itf.name().c_str(), what, spec.text.c_str(),
                   from_reload ? " in the background" : " again (peer not answering)");
      break;
    case io::Resolver::Submit::Joined:
      std::fprintf(stderr, "wgrouter[%s]: %s%s: a lookup is already on its way\n", itf.name().c_str(), what,
                   spec.text.c_str());
      break;
    case io::Resolver::Submit::Full:
      std::fprintf(stderr, "wgrouter[%s]: %scannot look %s up now: too many lookups pending\n", itf.name().c_str(),
                   what, spec.text.c_str());
      break;
  }
}

// The log line for a metrics endpoint that starts serving.
void say_metrics(const std::string& name, const config::MetricsListen& m, const char* what) {
  if (m.inet)
    std::fprintf(stderr, "wgrouter[%s]: %smetrics at http://%s/metrics\n", name.c_str(), what, m.text.c_str());
  else
    std::fprintf(stderr, "wgrouter[%s]: %smetrics at unix socket %s, GET /metrics\n", name.c_str(), what, m.text.c_str());
}

// A MetricsListen that changed is bound again now, with the privileges the daemon kept: a
// port below 1024 needs CAP_NET_BIND_SERVICE, which it keeps only for ListenPort, and a unix
// socket a directory it may write (--user). When that fails, the old endpoint stays.
void reload_metrics(const config::Config& next, io::Interface& itf) {
  const std::string& name = itf.name();
  const std::string old = itf.metrics_text();
  if ((next.iface.metrics_listen ? next.iface.metrics_listen->text : std::string()) == old) return;
  if (!next.iface.metrics_listen) {
    itf.set_metrics(-1);
    std::fprintf(stderr, "wgrouter[%s]: reload: metrics endpoint %s closed\n", name.c_str(), old.c_str());
    return;
  }
  const config::MetricsListen& m = *next.iface.metrics_listen;
  auto fd = io::metrics_listen(m);
  if (!fd) {
    std::fprintf(stderr, "wgrouter[%s]: reload: %s; %s\n", name.c_str(), fd.error().c_str(),
                 old.empty() ? "no metrics endpoint" : ("still serving metrics at " + old).c_str());
    return;
  }
  itf.set_metrics(*fd, m.text, m.unix_path);
  say_metrics(name, m, "reload: ");
}

// SIGHUP: re-reads the file and applies what changed without stopping traffic — peers as
// `wg syncconf` would, [Interface] Address and MTU, Unreachable prefixes, the ports' routes,
// sources, inbound rules and MTU, new ports and removed ones (config/apply.hpp, the same code
// as at `up`). Table, DNS and hooks of [Interface] take a restart. A bad file changes nothing.
// Runs on the loop thread: hostname endpoints are looked up in the background and set when
// their answers come (the peers keep their endpoints until then). The file is read here, as
// any local file the daemon was started with; the rest is netlink and memory.
void reload(const std::string& path, config::Config& cfg, io::Interface& itf, tun::Netlink& nl,
            io::Resolver& resolver, Applied& done) {
  const std::string& name = itf.name();
  auto loaded = config::load_config(path);
  if (!loaded) {
    std::fprintf(stderr, "wgrouter[%s]: reload: %s; nothing changed\n", name.c_str(), loaded.error().to_string().c_str());
    return;
  }
  config::Config next = std::move(*loaded);
  // Numeric endpoints now; hostname peers keep the endpoint they have until their lookup
  // answers (lookup_endpoint), so a slow name server delays nothing else.
  std::vector<std::optional<core::Endpoint>> endpoints(next.peers.size());
  for (size_t i = 0; i < next.peers.size(); ++i)
    if (const auto& e = next.peers[i].endpoint; e && e->numeric) endpoints[i] = e->numeric;
  // What was dropped after set-up does not come back: say so rather than fail piece by piece.
  if (const io::CapSet missing = io::needed_capabilities({&next, g_netns_mode}) & ~io::effective_capabilities())
    std::fprintf(stderr, "wgrouter[%s]: reload: the file now needs %s, dropped at start; what needs it fails until "
                 "a restart\n", name.c_str(), io::capability_names(missing).c_str());
  if (next.iface.table != cfg.iface.table || next.iface.dns_servers != cfg.iface.dns_servers ||
      next.iface.dns_search != cfg.iface.dns_search)
    std::fprintf(stderr, "wgrouter[%s]: reload: [Interface] Table and DNS changes take a restart\n", name.c_str());
  {
    LiveRouter router(itf, nl, nullptr);
    (void)config::apply_file(uapi_target(itf), router, cfg, next, endpoints, config::ApplyMode::Reload);  // false only at Start
  }
  if (done.firewall && next.iface.addresses != cfg.iface.addresses) {
    // The anti-spoofing rule names the interface's addresses: the tables are made again (an
    // owned table cannot be replaced in place, so they go first).
    if (done.firewall_here) {
      done.firewall->remove();
      for (auto [f, mark] : done.fwmark_rules)
        if (auto r = done.firewall->add(f, addresses_of(next, f), mark); !r)
          std::fprintf(stderr, "wgrouter[%s]: reload: nftables table for the new addresses: %s\n", name.c_str(),
                       r.error().c_str());
    } else {
      std::fprintf(stderr, "wgrouter[%s]: reload: the nftables tables keep the old addresses until a restart "
                   "(the interface lives in another namespace)\n", name.c_str());
    }
  }
  reload_metrics(next, itf);
  cfg = std::move(next);
  std::fprintf(stderr, "wgrouter[%s]: reloaded %s: %zu peers, %zu ports\n", name.c_str(), path.c_str(),
               itf.device().peer_count(), cfg.ports.size());
  std::vector<std::string> asked;  // one lookup per name, however many peers share it
  for (const config::PeerConfig& pc : cfg.peers) {
    if (!pc.endpoint || pc.endpoint->numeric) continue;
    if (std::find(asked.begin(), asked.end(), pc.endpoint->text) != asked.end()) continue;
    asked.push_back(pc.endpoint->text);
    lookup_endpoint(*pc.endpoint, cfg, itf, resolver, true);
  }
}

// `up`: the file applied to the new interface by the code a reload uses, over an empty
// configuration, then the link comes up (the protocol does when the loop starts: protocol_up).
// The MTU set on the interface (the file's, else automatic_mtu) is the Device's; ports default
// to it.
bool apply_config(const config::Config& cfg, const std::vector<std::optional<core::Endpoint>>& endpoints,
                  io::Interface& itf, tun::Netlink& nl) {
  LiveRouter router(itf, nl, &endpoints);
  if (!config::apply_file(uapi_target(itf), router, config::Config{}, cfg, endpoints, config::ApplyMode::Start)) return false;
  if (const int rc = router.link()->set_link(itf.ifindex(), true, std::nullopt); rc != 0) {
    std::fprintf(stderr, "wgrouter[%s]: link up: %s\n", itf.name().c_str(), std::strerror(-rc));
    return false;
  }
  return true;
}

// The protocol comes up as the loop starts (the first keepalive of every peer with a persistent
// keepalive, so its handshake), not before the routes, DNS and PostUp hooks: a response to an
// initiation sent earlier would wait in the socket while they run, the loop's first tick would
// find the retransmission due and send a second initiation, and the first response would be
// dropped (unknown_index). The clock is read again for the same reason: an initiation stamped
// with the Interface's birth is retransmitted at once when configuring took longer than
// REKEY_TIMEOUT (tests/netns/native_up_test.sh "slow PostUp", soak_test.sh at 20x clock).
void protocol_up(io::Interface& itf) {
  itf.refresh_clock();
  itf.device().set_up(itf.env(), true, itf.outbox());
  itf.flush_outbox();
}

// With --user, the files the daemon touches later are the new user's business: SIGHUP re-reads
// the file, SaveConfig writes it (a temporary file and a rename in its directory). Said once
// at start rather than at the first reload.
void check_files_as_user(const std::string& path, const config::Config& cfg, const std::string& name,
                         const io::RunAs& who) {
  if (access(path.c_str(), R_OK) != 0)
    std::fprintf(stderr, "wgrouter[%s]: warning: %s cannot read %s (%s): a reload (SIGHUP) will fail\n", name.c_str(),
                 who.name.c_str(), path.c_str(), std::strerror(errno));
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  if (cfg.iface.save_config && access(dir.c_str(), W_OK) != 0)
    std::fprintf(stderr, "wgrouter[%s]: warning: %s cannot write in %s (%s): SaveConfig will fail at shutdown\n",
                 name.c_str(), who.name.c_str(), dir.c_str(), std::strerror(errno));
}

// SaveConfig: the file's wg-quick settings with the running peers and keys. Called once
// the loop has returned (like the PreDown/PostDown hooks and resolvconf), so its file write
// never holds up traffic.
void save_config(const std::string& path, config::Config cfg, io::Interface& itf) {
  cfg.peers.clear();
  const core::Device& dev = itf.device();
  dev.for_each_peer([&](core::PeerId id, const core::Peer& p) {
    config::PeerConfig pc;
    pc.public_key = p.public_key;
    if (!p.preshared_key.is_zero()) {
      pc.preshared_key.emplace();
      pc.preshared_key->secret = p.preshared_key;
    }
    if (p.endpoint.valid()) {
      config::EndpointSpec e;
      e.text = core::to_string(p.endpoint);
      e.numeric = p.endpoint;
      pc.endpoint = e;
    }
    itf.allowed_ips().for_each_of(core::RouteTarget::peer(id), [&](const core::Prefix& pre) {
      pc.allowed_ips.push_back({pre, {}});
    });
    if (p.persistent_keepalive) pc.persistent_keepalive = p.persistent_keepalive;
    cfg.peers.push_back(std::move(pc));
  });
  if (itf.listen_port()) cfg.iface.listen_port = itf.listen_port();
  const std::string tmp = path + ".tmp";
  const mode_t old = umask(077);
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << config::write_config(cfg);
  }
  umask(old);
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    std::fprintf(stderr, "wgrouter[%s]: SaveConfig: cannot write %s: %s\n", itf.name().c_str(), path.c_str(),
                 std::strerror(errno));
}

}  // namespace

int cmd_up(int argc, char** argv) {
  std::string path, name, netns_spec;
  std::optional<io::RunAs> run_as;
  bool foreground = std::getenv("INVOCATION_ID") != nullptr;  // under systemd
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    const bool takes_value = a == "--name" || a == "--netns" || a == "--user";
    if (takes_value && i + 1 == argc) return usage_error(kUsage, "up", "option `" + std::string(a) + "' needs a value");
    if (is_help_option(a))
      return print_help(kUsage);
    else if (a == "--foreground" || a == "-f")
      foreground = true;
    else if (a == "--name")
      name = argv[++i];
    else if (a == "--netns")
      netns_spec = argv[++i];
    else if (a == "--user") {
      if (!(run_as = user_from_option(argv[++i]))) return 1;
    } else if (!a.empty() && a[0] == '-')
      return usage_error(kUsage, "up", "unknown option `" + std::string(a) + "'");
    else if (!path.empty())
      return usage_error(kUsage, "up", "unexpected argument `" + std::string(a) + "'");
    else
      path = a;
  }
  if (path.empty()) return usage_error(kUsage, "up", "no FILE.conf given");
  // --netns: checked (opened and entered once) before anything is created.
  tun::NetnsFd target;
  if (!netns_spec.empty()) {
    auto ns = tun::open_netns(netns_spec);
    if (!ns) {
      std::fprintf(stderr, "wgrouter: %s\n", ns.error().c_str());
      return 1;
    }
    target = std::move(*ns);
    g_target_ns = target.get();
    g_netns_mode = true;
  }

  auto loaded = config::load_config(path);
  if (!loaded) {
    std::fprintf(stderr, "%s\n", loaded.error().to_string().c_str());
    return 1;
  }
  config::Config cfg = std::move(*loaded);
  for (const auto& w : cfg.warnings) std::fprintf(stderr, "%s\n", w.to_string().c_str());
  if (name.empty()) {
    auto n = config::interface_name_from_path(path);
    if (!n) {
      std::fprintf(stderr, "wgrouter: %s\n", n.error().c_str());
      return 1;
    }
    name = *n;
  }
  // Checked before anything exists: nft cannot name a table after every interface name.
  if (wants_default_route(cfg) && !tun::firewall_table_name_ok(name)) {
    std::fprintf(stderr,
                 "wgrouter: interface name `%s' cannot name the nftables table %s that a /0 route with Table = auto "
                 "needs (letters, digits and / - _ . only): rename it, or set Table\n",
                 name.c_str(), tun::firewall_table_name(name).c_str());
    return 1;
  }
  // MetricsListen is bound first: a port taken or a directory missing fails `up` before
  // anything exists, with one line, and a port below 1024 is bound with the privileges `up`
  // starts with (they are dropped after set-up).
  int metrics_fd = -1;
  if (cfg.iface.metrics_listen) {
    auto fd = io::metrics_listen(*cfg.iface.metrics_listen);
    if (!fd) {
      std::fprintf(stderr, "wgrouter: %s:%d: %s\n", path.c_str(), cfg.iface.metrics_listen->line.n, fd.error().c_str());
      return 1;
    }
    metrics_fd = *fd;
  }
  // On the ways out before the Interface takes it: the unix socket file goes too.
  auto drop_metrics = [&] {
    if (metrics_fd < 0) return;
    close(metrics_fd);
    if (!cfg.iface.metrics_listen->unix_path.empty()) unlink(cfg.iface.metrics_listen->unix_path.c_str());
  };
  std::vector<std::optional<core::Endpoint>> endpoints;
  if (!resolve_all(cfg, endpoints)) {
    drop_metrics();
    return 1;
  }

  if (!run_hooks(cfg.iface.pre_up, name, "PreUp")) {
    drop_metrics();
    return 1;
  }
  ServiceNotifier notifier(name, foreground);
  auto l = launch(name, foreground, target.get());
  if (!l) {
    drop_metrics();
    return 1;
  }
  // What the teardown does with the privileges `up` started with (hooks, resolvconf, the
  // socket of a daemon run as another user) is done by the keeper, forked now, while the
  // process has one thread and nothing of the interface's state (tools/keeper.hpp).
  std::optional<Keeper> keeper;
  const bool dns = !cfg.iface.dns_servers.empty() || !cfg.iface.dns_search.empty();
  if (!cfg.iface.pre_down.empty() || !cfg.iface.post_down.empty() || dns || run_as) {
    Keeper::Tasks tasks;
    tasks.pre_down = [&cfg, &name](int ns) {
      g_target_ns = ns;
      run_hooks(cfg.iface.pre_down, name, "PreDown");
    };
    tasks.post_down = [&cfg, &name](int ns, bool hooks) {
      g_target_ns = ns;
      unset_dns(cfg.iface, name);
      if (hooks) run_hooks(cfg.iface.post_down, name, "PostDown");
    };
    if (run_as) tasks.socket_path = l->uapi_path;
    keeper = Keeper::start(std::move(tasks));
    if (!keeper) {
      std::perror("wgrouter: fork");
      unlink(l->uapi_path.c_str());
      drop_metrics();
      return 1;
    }
  }

  bool ok = false;
  int status = 1;
  // With --netns, the target is only held while something is done in it: a descriptor kept
  // for the process's life would keep a stopped container's namespace (and the interface in
  // it) alive. The teardown runs where the interface is then, if it still is where `up` put it.
  const ino_t applied_ns = target.inode();
  tun::NetnsFd teardown_ns;
  bool post_down = false, dns_set = false;
  {
    tun::Netlink nl;  // this namespace: the ports
    // Before the Interface, so it is destroyed after it (the loop watches its descriptor). Its
    // destructor does not wait for a lookup stuck in getaddrinfo.
    io::Resolver resolver;
    io::Interface itf(std::move(l->tun), l->uapi_fd, l->uapi_path, l->opts);
    if (metrics_fd >= 0) {
      itf.set_metrics(metrics_fd, cfg.iface.metrics_listen->text, cfg.iface.metrics_listen->unix_path);
      say_metrics(name, *cfg.iface.metrics_listen, "");
    }
    Applied done;
    ok = apply_config(cfg, endpoints, itf, nl);
    if (ok) {
      const auto dnl = itf.device_netlink();
      ok = dnl && apply_routes(cfg, *dnl, itf, done);
    }
    // Dynamic-DNS peers: look the name up again when the peer stops answering. Off the loop:
    // the answer comes back through the resolver's eventfd.
    itf.watch_fd(resolver.fd(), [&resolver] { resolver.deliver(); });
    itf.on_peer_unresponsive = [&cfg, &itf, &resolver](core::PeerId id) {
      const core::Peer* p = itf.device().peer(id);
      if (!p) return;
      for (const auto& pc : cfg.peers) {
        if (pc.public_key != p->public_key || !pc.endpoint || pc.endpoint->numeric) continue;
        // Asked every ~15 s while the peer is silent: one lookup at a time is enough.
        if (!resolver.in_flight(*pc.endpoint)) lookup_endpoint(*pc.endpoint, cfg, itf, resolver, false);
      }
    };
    // The manager hears of a reload from its start to its end (RELOADING=1 … READY=1), and of
    // every change of the peer count, whether a reload or `wg set` made it.
    itf.on_reload = [&] {
      notifier.reloading();
      reload(path, cfg, itf, nl, resolver, done);
      notifier.ready(itf.device().peer_count(), cfg.ports.size());
    };
    itf.after_uapi = [&] { notifier.update(itf.device().peer_count(), cfg.ports.size()); };
    if (ok) {
      set_dns(cfg.iface, name);  // undone by the keeper
      dns_set = dns;
      ok = run_hooks(cfg.iface.post_up, name, "PostUp");
    }
    target = tun::NetnsFd();
    g_target_ns = -1;
    // Set-up is over: from here the daemon keeps only what it still needs (io/privileges.hpp).
    if (ok) ok = drop_after_setup(name, io::RuntimeNeeds{&cfg, g_netns_mode}, run_as);
    if (ok && run_as) check_files_as_user(path, cfg, name, *run_as);
    if (ok) {
      std::fprintf(stderr, "wgrouter[%s]: up (%s), %zu peers, UAPI at %s\n", name.c_str(),
                   std::string(itf.io_name()).c_str(), itf.device().peer_count(), l->uapi_path.c_str());
      // The loop: from here to its end nothing on this thread waits on the outside world.
      // What may (hooks, resolvconf, SaveConfig's write, startup name resolution) runs before
      // or after it; name lookups in between go through `resolver`.
      protocol_up(itf);
      // Interface, ports, routes, DNS and PostUp are in place and the privileges dropped:
      // units ordered after this one may start now.
      notifier.ready(itf.device().peer_count(), cfg.ports.size());
      status = itf.run();
      notifier.stopping();
    }
    // Where to undo: without --netns this namespace; with it, the target if the interface is
    // still there (when the namespace went away, everything in it went too).
    bool undo = applied_ns == 0;
    if (applied_ns != 0) {
      teardown_ns = itf.device_netns();
      undo = teardown_ns && teardown_ns.inode() == applied_ns;
      g_target_ns = undo ? teardown_ns.get() : -1;
    }
    if (ok && undo && keeper && !keeper->pre_down(g_target_ns))
      std::fprintf(stderr, "wgrouter[%s]: PreDown: the keeper is gone; hooks not run\n", name.c_str());
    if (ok && cfg.iface.save_config) save_config(path, cfg, itf);
    if (undo) {
      tun::Netlink unl(g_target_ns);
      undo_routes(unl, done);
    }
    // resolvconf -d and PostDown, as wg-quick's cmd_down orders them: after the interface.
    post_down = ok && undo;
    dns_set = dns_set && undo;
  }  // the TUN goes away with its descriptor here
  std::fprintf(stderr, "wgrouter[%s]: down\n", name.c_str());
  using End = Keeper::End;
  const End end = post_down ? End::UndoAndHooks : dns_set ? End::Undo : End::Quietly;
  if (keeper && !keeper->finish(end, end == End::Quietly ? -1 : g_target_ns) && end != End::Quietly)
    std::fprintf(stderr, "wgrouter[%s]: PostDown: the keeper is gone; resolvconf and hooks not run\n", name.c_str());
  return ok ? status : 1;
}

}  // namespace wg::tools
