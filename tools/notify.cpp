// tools/notify.cpp — ServiceNotifier (tools/notify.hpp): sd_notify(3) messages for `up` and the
// wireguard-go mode.
#include "tools/notify.hpp"

#include <systemd/sd-daemon.h>
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

namespace wg::tools {

ServiceNotifier::ServiceNotifier(std::string name, bool foreground) : name_(std::move(name)) {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  if (!socket || !*socket) return;
  // A detached child is not the process the manager watches: systemd would drop its messages
  // (NotifyAccess=main) and the unit would time out in "activating"; better said at once.
  if (!foreground) {
    std::fprintf(stderr, "wgrouter[%s]: NOTIFY_SOCKET is set but the daemon detaches: no readiness "
                 "notification (run it with --foreground)\n", name_.c_str());
    return;
  }
  active_ = true;
}

std::string ServiceNotifier::status_line(size_t peers, std::optional<size_t> ports) {
  std::string s = std::to_string(peers) + (peers == 1 ? " peer" : " peers");
  if (ports) s += ", " + std::to_string(*ports) + (*ports == 1 ? " port" : " ports");
  return s;
}

void ServiceNotifier::send(const std::string& message) {
  if (!active_) return;
  // sd_notify: > 0 sent, 0 no NOTIFY_SOCKET (not possible here), < 0 -errno.
  const int rc = sd_notify(0, message.c_str());
  if (rc < 0 && !failed_said_) {
    failed_said_ = true;  // once: a manager that went away must not fill the log
    std::fprintf(stderr, "wgrouter[%s]: cannot notify the service manager: %s\n", name_.c_str(), std::strerror(-rc));
  }
}

void ServiceNotifier::ready(size_t peers, std::optional<size_t> ports) {
  last_status_ = status_line(peers, ports);
  send("READY=1\nSTATUS=" + last_status_);
}

void ServiceNotifier::update(size_t peers, std::optional<size_t> ports) {
  if (!active_) return;
  std::string s = status_line(peers, ports);
  if (s == last_status_) return;
  last_status_ = std::move(s);
  send("STATUS=" + last_status_);
}

void ServiceNotifier::reloading() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  const unsigned long long usec =
      static_cast<unsigned long long>(ts.tv_sec) * 1000000ULL + static_cast<unsigned long long>(ts.tv_nsec) / 1000;
  send("RELOADING=1\nSTATUS=reloading\nMONOTONIC_USEC=" + std::to_string(usec));
}

void ServiceNotifier::stopping() { send("STOPPING=1\nSTATUS=stopping"); }

}  // namespace wg::tools
