// io/privileges.cpp — see privileges.hpp. libcap-ng reads and applies the capability sets; the
// uid change is done here step by step so the order (bounding set while CAP_SETPCAP is still
// effective, ids while CAP_SETUID/CAP_SETGID are, the final sets last) is visible.
#include "io/privileges.hpp"

#include <cap-ng.h>
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <vector>

namespace wg::io {

namespace {

constexpr int kMaxCap = 63;

// The highest capability this kernel knows: PR_CAPBSET_READ fails (EINVAL) above it.
int last_cap() {
  int n = 0;
  while (n < kMaxCap && prctl(PR_CAPBSET_READ, n + 1, 0, 0, 0) >= 0) ++n;
  return n;
}

// One set of libcap-ng's copy of the thread's state (capng_get_caps_process reads it).
CapSet read_set(capng_type_t which) {
  CapSet s = 0;
  const int last = last_cap();
  for (int c = 0; c <= last; ++c)
    if (capng_have_capability(which, static_cast<unsigned>(c))) s |= cap_bit(c);
  return s;
}

void note(std::string& problems, const std::string& what) { problems += (problems.empty() ? "" : "; ") + what; }

std::optional<unsigned long> numeric_id(const std::string& s) {
  unsigned long v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

CapSet needed_capabilities(const RuntimeNeeds& needs) {
  CapSet keep = cap_bit(CAP_NET_ADMIN);
  const config::Config* cfg = needs.config;
  if (!cfg) {
    keep |= cap_bit(CAP_NET_BIND_SERVICE);  // `wg set ... listen-port 53` may come at any time
  } else {
    if (cfg->iface.listen_port && *cfg->iface.listen_port != 0 && *cfg->iface.listen_port < 1024)
      keep |= cap_bit(CAP_NET_BIND_SERVICE);
    if (std::any_of(cfg->ports.begin(), cfg->ports.end(),
                    [](const config::PortConfig& p) { return p.mode == config::PortMode::Veth; }))
      keep |= cap_bit(CAP_NET_RAW);
  }
  if (needs.other_netns) keep |= cap_bit(CAP_SYS_ADMIN);
  return keep;
}

std::string capability_names(CapSet caps) {
  std::string out;
  for (int c = 0; c <= kMaxCap; ++c) {
    if (!(caps & cap_bit(c))) continue;
    const char* name = capng_capability_to_name(static_cast<unsigned>(c));
    out += out.empty() ? "" : ",";
    out += name ? "cap_" + std::string(name) : "cap_" + std::to_string(c);
  }
  return out.empty() ? "none" : out;
}

Result<UserSpec, std::string> parse_user_spec(std::string_view text) {
  const size_t colon = text.find(':');
  UserSpec s{std::string(text.substr(0, colon)), colon == std::string_view::npos ? "" : std::string(text.substr(colon + 1))};
  if (s.user.empty()) return Unexpected("--user `" + std::string(text) + "': no user name");
  if (colon != std::string_view::npos && s.group.empty())
    return Unexpected("--user `" + std::string(text) + "': no group after ':'");
  return s;
}

Result<RunAs, std::string> resolve_user(const UserSpec& spec) {
  RunAs r;
  r.name = spec.user + (spec.group.empty() ? "" : ":" + spec.group);
  const passwd* pw = getpwnam(spec.user.c_str());
  if (pw) {
    r.uid = pw->pw_uid;
    r.gid = pw->pw_gid;
  } else if (const auto id = numeric_id(spec.user)) {
    r.uid = static_cast<uid_t>(*id);
    r.gid = static_cast<gid_t>(*id);  // a bare number: its own group unless one is given
  } else {
    return Unexpected("--user: no user `" + spec.user + "'");
  }
  if (!spec.group.empty()) {
    if (const group* gr = getgrnam(spec.group.c_str()))
      r.gid = gr->gr_gid;
    else if (const auto id = numeric_id(spec.group))
      r.gid = static_cast<gid_t>(*id);
    else
      return Unexpected("--user: no group `" + spec.group + "'");
  }
  if (r.uid == 0) return Unexpected("--user: `" + r.name + "' is root; give an unprivileged user");
  return r;
}

CapSet effective_capabilities() {
  if (capng_get_caps_process() != 0) return 0;
  return read_set(CAPNG_EFFECTIVE);
}

Result<DropReport, std::string> drop_privileges(CapSet keep, const std::optional<RunAs>& run_as) {
  DropReport rep;
  // No exec'd program (a hook, resolvconf) can gain what the process gives up: set-uid bits
  // and file capabilities are ignored from here on.
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) note(rep.problems, std::string("no_new_privs: ") + std::strerror(errno));
  rep.no_new_privs = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1;
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
    note(rep.problems, std::string("ambient set: ") + std::strerror(errno));

  if (capng_get_caps_process() != 0) return Unexpected(std::string("cannot read the process's capabilities"));
  const CapSet had = read_set(CAPNG_PERMITTED);
  keep &= had;  // nothing can be added, only kept
  const int last = last_cap();

  // The bounding set first: shrinking it takes CAP_SETPCAP, given up below.
  if (capng_have_capability(CAPNG_EFFECTIVE, CAP_SETPCAP)) {
    for (int c = 0; c <= last; ++c) {
      if ((keep & cap_bit(c)) || prctl(PR_CAPBSET_READ, c, 0, 0, 0) != 1) continue;
      if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0) {
        note(rep.problems, "bounding set: " + capability_names(cap_bit(c)) + ": " + std::strerror(errno));
        break;
      }
    }
  } else if (read_set(CAPNG_BOUNDING_SET) & ~keep) {
    note(rep.problems, "bounding set left as it is (no cap_setpcap)");
  }

  if (run_as) {
    // The permitted set survives setresuid away from uid 0 only with KEEPCAPS; the effective
    // set is emptied by the change and set again below.
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) return Unexpected(std::string("PR_SET_KEEPCAPS: ") + std::strerror(errno));
    if (setgroups(0, nullptr) != 0) return Unexpected(std::string("--user: setgroups: ") + std::strerror(errno));
    if (setresgid(run_as->gid, run_as->gid, run_as->gid) != 0)
      return Unexpected("--user: setresgid(" + std::to_string(run_as->gid) + "): " + std::strerror(errno));
    if (setresuid(run_as->uid, run_as->uid, run_as->uid) != 0)
      return Unexpected("--user: setresuid(" + std::to_string(run_as->uid) + "): " + std::strerror(errno));
    prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
  }

  capng_clear(CAPNG_SELECT_CAPS);
  for (int c = 0; c <= last; ++c)
    if (keep & cap_bit(c))
      capng_update(CAPNG_ADD, static_cast<capng_type_t>(CAPNG_EFFECTIVE | CAPNG_PERMITTED), static_cast<unsigned>(c));
  if (capng_apply(CAPNG_SELECT_CAPS) != 0) note(rep.problems, std::string("capset: ") + std::strerror(errno));

  capng_get_caps_process();
  rep.kept = read_set(CAPNG_EFFECTIVE) | read_set(CAPNG_PERMITTED);
  rep.bounding = read_set(CAPNG_BOUNDING_SET);
  if (run_as && (getuid() != run_as->uid || geteuid() != run_as->uid || getgid() != run_as->gid))
    return Unexpected("--user: still uid " + std::to_string(geteuid()) + " after the change");
  return rep;
}

}  // namespace wg::io
