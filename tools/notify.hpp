// tools/notify.hpp — telling a service manager how the daemon is doing (sd_notify(3), through
// libsystemd): READY=1 once `up` has everything in place (or the wireguard-go mode its TUN and
// UAPI socket), STATUS= with the peer count, RELOADING=1 … READY=1 around a SIGHUP, STOPPING=1
// when the loop ends. This is what lets a `Type=notify` unit (dist/systemd/wgrouter@.service)
// order other units after the interface really exists, rather than after the process started.
//
// Only the process the manager started talks to it: with NOTIFY_SOCKET unset, or when the
// process detached (its pid is not the one the manager watches), every call does nothing.
// Messages go out after the privilege drop: sd_notify opens a fresh AF_UNIX datagram socket
// each time and needs no capability, only write access to the socket (systemd's is 0777).
// Nothing here runs per packet: the calls come from set-up, reloads, UAPI requests and the end.
// libsystemd's send is a blocking sendmsg: it could only wait if the manager stopped reading
// its socket with the queue full, and then on one of those events, never on traffic.
#pragma once
#include <cstddef>
#include <optional>
#include <string>

namespace wg::tools {

class ServiceNotifier {
 public:
  // Active when NOTIFY_SOCKET is set and the process stays the one that was started
  // (foreground). `name` prefixes the log line said once if the manager cannot be reached.
  ServiceNotifier(std::string name, bool foreground);

  bool active() const { return active_; }
  // Set-up done: READY=1 with the status line.
  void ready(size_t peers, std::optional<size_t> ports);
  // STATUS= again, only when the counts differ from the last ones sent: cheap enough to call
  // after every UAPI request.
  void update(size_t peers, std::optional<size_t> ports);
  // A SIGHUP is being applied: RELOADING=1 (with MONOTONIC_USEC, which systemd 253's
  // Type=notify-reload wants); ready() again when it is done.
  void reloading();
  // The loop ended; the teardown follows.
  void stopping();

  // The STATUS= text: "2 peers, 1 port" (ports only in native mode, where the file has them).
  static std::string status_line(size_t peers, std::optional<size_t> ports);

 private:
  void send(const std::string& message);

  std::string name_;
  bool active_ = false;
  bool failed_said_ = false;
  std::string last_status_;
};

}  // namespace wg::tools
