// io/uapi_server.hpp — the `wg` userspace API socket: RUNSTATEDIR/wireguard/IFACE.sock, a
// stream socket the stock `wg` tool connects to. Owns the listening socket and connections;
// the protocol itself is config::UapiConnection.
//
// Never waits on a client: a reply the socket cannot take at once stays with its connection
// and goes out from flush_waiting(), which the loop calls every tick; a client that reads
// nothing for kStallLimit is dropped. (A blocking write here would stall every tunnel.)
#pragma once
#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

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
  // A connection whose reply has not moved for this long is closed.
  static constexpr std::chrono::seconds kStallLimit{5};
  // Socket send buffer asked for on each connection, so most replies leave in one go.
  static constexpr int kSendBuffer = 1 << 20;
  // Reply slices (UapiConnection::kGetPeersPerFeed peers each, or one held pipelined burst)
  // made per pump of one connection.
  static constexpr int kSlicesPerPump = 8;

  UapiServer(int listen_fd, std::string path);
  ~UapiServer();
  UapiServer(const UapiServer&) = delete;
  UapiServer& operator=(const UapiServer&) = delete;

  int listen_fd() const { return listen_fd_; }
  bool owns(int fd) const { return fd == listen_fd_ || conns_.count(fd) != 0; }
  // Handles readiness of the listener or a connection; returns descriptors to (un)watch.
  template <class Watch, class Unwatch>
  void on_readable(int fd, config::UapiTarget target, Watch&& watch, Unwatch&& unwatch);
  // Sends what replies the sockets could not take before; closes (and unwatches) connections
  // that are done or stalled. Cheap when nothing waits.
  template <class Unwatch>
  void flush_waiting(Unwatch&& unwatch);
  // Connections with reply bytes not yet sent.
  size_t waiting() const;
  // True while some connection has more to send or to make (the loop should come back soon).
  bool busy() const;
  // False once the socket file is gone or replaced (`wg-quick down` cleanup, or rm).
  bool still_ours() const;
  void unlink_socket();

 private:
  struct Conn {
    std::unique_ptr<config::UapiConnection> proto;
    std::string out;         // reply bytes the socket has not taken yet
    bool closing = false;    // close once `out` is sent
    std::chrono::steady_clock::time_point since;  // `out` last moved (or started)
  };
  int accept_one();
  void close_connection(int fd);
  // Reads what is there and answers; false when the connection is finished.
  bool serve(int fd);
  // Feeds the protocol; its reply goes to c.out.
  bool feed(Conn& c, std::string_view in);
  // Sends c.out as far as the socket takes it, then lets held input go on while the reply is
  // out; false when the connection must close now.
  bool pump(int fd, Conn& c);
  bool send_some(int fd, Conn& c);
  bool has_work(const Conn& c) const { return !c.out.empty() || c.closing || c.proto->pending(); }

  int listen_fd_;
  std::string path_;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  std::unordered_map<int, Conn> conns_;
  std::vector<int> finished_;  // flush_waiting's scratch
};

template <class Watch, class Unwatch>
void UapiServer::on_readable(int fd, config::UapiTarget target, Watch&& watch, Unwatch&& unwatch) {
  if (fd == listen_fd_) {
    for (int i = 0; i < 16; ++i) {
      const int c = accept_one();
      if (c < 0) break;
      conns_.emplace(c, Conn{std::make_unique<config::UapiConnection>(target), {}, false, {}});
      watch(c);
    }
    return;
  }
  if (!serve(fd)) {
    unwatch(fd);
    close_connection(fd);
  }
}

template <class Unwatch>
void UapiServer::flush_waiting(Unwatch&& unwatch) {
  finished_.clear();
  for (auto& [fd, c] : conns_)
    if (has_work(c) && !pump(fd, c)) finished_.push_back(fd);
  for (int fd : finished_) {
    unwatch(fd);
    close_connection(fd);
  }
}

}  // namespace wg::io
