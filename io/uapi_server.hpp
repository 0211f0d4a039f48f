// io/uapi_server.hpp — the `wg` userspace API socket: RUNSTATEDIR/wireguard/IFACE.sock, a
// stream socket the stock `wg` tool connects to. Owns the listening socket and connections;
// the protocol itself is config::UapiConnection.
#pragma once
#include <sys/types.h>

#include <memory>
#include <string>
#include <unordered_map>

#include "config/uapi.hpp"
#include "core/result.hpp"

namespace wg::io {

// The directory `wg` looks in (fixed when wg is built).
inline constexpr const char* kUapiDir = "/var/run/wireguard";

// Binds and listens on path (directory 0755, socket owner-only). Refuses when another process
// is serving it; removes a stale file. Returns the listening descriptor.
[[nodiscard]] Result<int, std::string> uapi_listen(const std::string& path);

class UapiServer {
 public:
  UapiServer(int listen_fd, std::string path);
  ~UapiServer();
  UapiServer(const UapiServer&) = delete;
  UapiServer& operator=(const UapiServer&) = delete;

  int listen_fd() const { return listen_fd_; }
  bool owns(int fd) const { return fd == listen_fd_ || conns_.count(fd) != 0; }
  // Handles readiness of the listener or a connection; returns descriptors to (un)watch.
  template <class Watch, class Unwatch>
  void on_readable(int fd, config::UapiTarget target, Watch&& watch, Unwatch&& unwatch);
  // False once the socket file is gone or replaced (`wg-quick down` cleanup, or rm).
  bool still_ours() const;
  void unlink_socket();

 private:
  int accept_one();
  void close_connection(int fd);
  // Reads what is there and answers; false when the connection is finished.
  bool serve(int fd);

  int listen_fd_;
  std::string path_;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  std::unordered_map<int, std::unique_ptr<config::UapiConnection>> conns_;
};

template <class Watch, class Unwatch>
void UapiServer::on_readable(int fd, config::UapiTarget target, Watch&& watch, Unwatch&& unwatch) {
  if (fd == listen_fd_) {
    for (int i = 0; i < 16; ++i) {
      const int c = accept_one();
      if (c < 0) break;
      conns_.emplace(c, std::make_unique<config::UapiConnection>(target));
      watch(c);
    }
    return;
  }
  if (!serve(fd)) {
    unwatch(fd);
    close_connection(fd);
  }
}

}  // namespace wg::io
