// tests/io/privileges_test.cpp — io/privileges.hpp: the capabilities kept for a configuration
// (a table), names, --user parsing and lookup, and the drop itself, done in a forked child so
// the test process keeps what it has: the kernel's own view (/proc/self/status) is compared
// with what was asked, for the process and for a program it executes afterwards.
#include <doctest/doctest.h>

#include <linux/capability.h>
#include <pwd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <sstream>
#include <string>

#include "config/config.hpp"
#include "io/privileges.hpp"

namespace {

using wg::io::cap_bit;
using wg::io::CapSet;

wg::config::Config parse(const std::string& text) {
  auto c = wg::config::parse_config(text, "test.conf");
  REQUIRE_MESSAGE(c.has_value(), (c ? "" : c.error().to_string()));
  return std::move(*c);
}

const std::string kIface = "[Interface]\nPrivateKey = yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=\n";

// Runs fn in a forked child with a pipe on its stdout; returns what it wrote and whether it
// exited 0.
std::pair<std::string, bool> in_child(const std::function<void()>& fn) {
  int p[2];
  REQUIRE(pipe(p) == 0);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    close(p[0]);
    dup2(p[1], STDOUT_FILENO);
    fn();
    std::fflush(stdout);
    _exit(0);
  }
  close(p[1]);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = read(p[0], buf, sizeof(buf))) > 0;) out.append(buf, static_cast<size_t>(n));
  close(p[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return {out, WIFEXITED(status) && WEXITSTATUS(status) == 0};
}

// A hex field of /proc/.../status text ("CapEff"), or ~0 when missing.
CapSet status_field(const std::string& status, const std::string& key) {
  std::istringstream in(status);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(key + ":", 0) == 0) return std::strtoull(line.c_str() + key.size() + 1, nullptr, 16);
  return ~CapSet{0};
}

std::string self_status() {
  std::string s;
  FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return s;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof(buf), f)) > 0;) s.append(buf, n);
  std::fclose(f);
  return s;
}

}  // namespace

TEST_CASE("privileges: capabilities kept for each configuration") {
  using wg::io::needed_capabilities;
  using wg::io::RuntimeNeeds;
  const CapSet admin = cap_bit(CAP_NET_ADMIN), bind = cap_bit(CAP_NET_BIND_SERVICE), raw = cap_bit(CAP_NET_RAW),
               sys = cap_bit(CAP_SYS_ADMIN);
  // wireguard-go mode: `wg` may set any port and any fwmark later.
  CHECK(needed_capabilities(RuntimeNeeds{}) == (admin | bind));
  CHECK(needed_capabilities(RuntimeNeeds{nullptr, true}) == (admin | bind | sys));

  struct Row {
    const char* what;
    std::string extra;
    bool netns;
    CapSet want;
  };
  const Row rows[] = {
      {"no port, random listen port", "", false, admin},
      {"ListenPort 0", "ListenPort = 0\n", false, admin},
      {"ListenPort 1023", "ListenPort = 1023\n", false, admin | bind},
      {"ListenPort 53", "ListenPort = 53\n", false, admin | bind},
      {"ListenPort 1024", "ListenPort = 1024\n", false, admin},
      {"ListenPort 51820 with --netns", "ListenPort = 51820\n", true, admin | sys},
      {"a TAP port only", "\n[Port]\nName = p0\nMode = tap\nRoute = 2001:db8::2/128\n", false, admin},
      {"a veth port", "\n[Port]\nName = p0\nMode = veth\nRoute = 2001:db8::2/128\n", false, admin | raw},
      {"a TAP and a veth port, ListenPort 443, --netns",
       "ListenPort = 443\n\n[Port]\nName = p0\nMode = tap\nRoute = 2001:db8::2/128\n"
       "\n[Port]\nName = p1\nMode = veth\nRoute = 2001:db8::3/128\n",
       true, admin | bind | raw | sys},
  };
  for (const Row& r : rows) {
    CAPTURE(r.what);
    const auto cfg = parse(kIface + r.extra);
    CHECK(needed_capabilities(RuntimeNeeds{&cfg, r.netns}) == r.want);
  }
}

TEST_CASE("privileges: capability names") {
  CHECK(wg::io::capability_names(0) == "none");
  CHECK(wg::io::capability_names(cap_bit(CAP_NET_RAW) | cap_bit(CAP_NET_ADMIN)) == "cap_net_admin,cap_net_raw");
  CHECK(wg::io::capability_names(cap_bit(CAP_NET_BIND_SERVICE)) == "cap_net_bind_service");
  CHECK(wg::io::capability_names(cap_bit(CAP_SYS_ADMIN) | cap_bit(CAP_CHOWN)) == "cap_chown,cap_sys_admin");
}

TEST_CASE("privileges: --user USER[:GROUP]") {
  using wg::io::parse_user_spec;
  auto a = parse_user_spec("nobody");
  REQUIRE(a);
  CHECK(a->user == "nobody");
  CHECK(a->group.empty());
  auto b = parse_user_spec("wgrouter:nogroup");
  REQUIRE(b);
  CHECK(b->user == "wgrouter");
  CHECK(b->group == "nogroup");
  CHECK_FALSE(parse_user_spec(""));
  CHECK_FALSE(parse_user_spec(":nogroup"));
  CHECK_FALSE(parse_user_spec("nobody:"));

  using wg::io::resolve_user;
  CHECK_FALSE(resolve_user({"root", ""}));  // dropping to root is no drop
  CHECK_FALSE(resolve_user({"0", ""}));
  CHECK_FALSE(resolve_user({"wgt-no-such-user-here", ""}));
  CHECK_FALSE(resolve_user({"nobody", "wgt-no-such-group-here"}));
  auto n = resolve_user({"40001", "40002"});  // numeric ids need no database entry
  REQUIRE(n);
  CHECK(n->uid == 40001);
  CHECK(n->gid == 40002);
  if (const passwd* pw = getpwnam("nobody")) {
    auto r = resolve_user({"nobody", ""});
    REQUIRE(r);
    CHECK(r->uid == pw->pw_uid);
    CHECK(r->gid == pw->pw_gid);
  }
}

TEST_CASE("privileges: the drop leaves exactly what was kept, for the process and what it executes") {
  const CapSet had = status_field(self_status(), "CapPrm");
  const CapSet keep = cap_bit(CAP_NET_ADMIN) | cap_bit(CAP_NET_RAW);
  auto [out, ok] = in_child([&] {
    auto r = wg::io::drop_privileges(keep, std::nullopt);
    if (!r) _exit(2);
    std::printf("kept:\t%llx\n", static_cast<unsigned long long>(r->kept));
    std::fputs(self_status().c_str(), stdout);
    std::fflush(stdout);
    // A program started afterwards, as a hook would be: even as uid 0 it gets no more.
    execl("/bin/cat", "cat", "/proc/self/status", static_cast<char*>(nullptr));
    _exit(3);
  });
  REQUIRE(ok);
  const size_t exec_at = out.find("Name:\tcat");
  REQUIRE(exec_at != std::string::npos);
  const std::string after = out.substr(0, exec_at), exec = out.substr(exec_at);
  const CapSet want = keep & had;  // without them to begin with, none are kept
  CHECK(status_field(after, "kept") == want);
  CHECK(status_field(after, "CapEff") == want);
  CHECK(status_field(after, "CapPrm") == want);
  CHECK(status_field(after, "CapInh") == 0);
  CHECK(status_field(after, "CapAmb") == 0);
  CHECK(status_field(after, "NoNewPrivs") == 1);
  if (had & cap_bit(CAP_SETPCAP)) CHECK(status_field(after, "CapBnd") == want);
  CHECK((status_field(exec, "CapPrm") & ~want) == 0);
  CHECK((status_field(exec, "CapEff") & ~want) == 0);
  CHECK((status_field(exec, "CapBnd") & ~want) == 0);
}

TEST_CASE("privileges: --user changes ids and keeps the capabilities") {
  const CapSet had = status_field(self_status(), "CapEff");
  if (!(had & cap_bit(CAP_SETUID)) || !(had & cap_bit(CAP_SETGID)) || !(had & cap_bit(CAP_NET_ADMIN))) {
    MESSAGE("needs CAP_SETUID, CAP_SETGID and CAP_NET_ADMIN: skipped");
    return;
  }
  const CapSet keep = cap_bit(CAP_NET_ADMIN);
  auto [out, ok] = in_child([&] {
    auto r = wg::io::drop_privileges(keep, wg::io::RunAs{40001, 40002, "40001:40002"});
    if (!r) _exit(2);
    std::printf("uid=%u\ngid=%u\ngroups=%d\n", static_cast<unsigned>(geteuid()), static_cast<unsigned>(getegid()),
                getgroups(0, nullptr));
    std::fputs(self_status().c_str(), stdout);
  });
  REQUIRE(ok);
  CHECK(out.find("uid=40001\n") != std::string::npos);
  CHECK(out.find("gid=40002\n") != std::string::npos);
  CHECK(out.find("groups=0\n") != std::string::npos);
  CHECK(status_field(out, "CapEff") == keep);
  CHECK(status_field(out, "CapPrm") == keep);
}
