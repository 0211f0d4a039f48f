// io/metrics_server.hpp — the Prometheus endpoint of `MetricsListen` (PRODUCT.md): a listening
// TCP or unix stream socket and its connections, served from the interface's event loop.
//
// Never holds up the data path: every socket is non-blocking; a request is read only as far as
// it has come (config::HttpRequest, at most 8 KiB, 5 s to arrive); the response is made in
// slices (the UAPI get of kPeersPerSlice peers, parsed into config::InterfaceStatus, then the
// Prometheus text the same number of peers at a time), at most kSlicesPerPump slices per loop
// turn, and a slice is made only when the previous one has left; a client that stops reading
// for kStallLimit is dropped; at most kMaxConnections are open (more get 503 and are closed).
#pragma once
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/apply.hpp"
#include "config/config.hpp"
#include "config/http_request.hpp"
#include "config/status.hpp"
#include "config/uapi.hpp"
#include "core/env.hpp"
#include "core/result.hpp"

namespace wg::io {

// Binds and listens on `where`. A unix socket path left by a daemon that died is replaced; one
// a live process serves is refused. The error names the address and the reason, for one line.
[[nodiscard]] Result<int, std::string> metrics_listen(const config::MetricsListen& where);

class MetricsServer {
 public:
  static constexpr size_t kMaxConnections = 16;
  static constexpr std::chrono::seconds kReadTimeout{5};  // from accept to the end of the request
  static constexpr std::chrono::seconds kStallLimit{5};   // a response that does not move
  static constexpr size_t kPeersPerSlice = config::UapiConnection::kGetPeersPerFeed;
  static constexpr int kSlicesPerPump = 2;
  // A slice is made only when less than this is waiting to be sent.
  static constexpr size_t kOutLowWater = size_t{64} << 10;

  // Takes the listening descriptor; unix_path (empty for TCP) is removed at the end if it is
  // still the socket made here. `text` is the MetricsListen value, for log lines and reloads.
  MetricsServer(int listen_fd, std::string text, std::string unix_path);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  const std::string& text() const { return text_; }
  int listen_fd() const { return listen_fd_; }
  bool owns(int fd) const { return fd == listen_fd_ || conns_.count(fd) != 0; }

  using FdCall = std::function<void(int)>;
  // Readiness of the listener (accepts) or of a connection (reads, answers what it can).
  // target and iface say what to report; watch/unwatch add and remove connections in the loop;
  // now is the loop's monotonic clock (the timeouts count on it).
  void on_readable(int fd, core::Instant now, config::UapiTarget target, const std::string& iface,
                   const FdCall& watch, const FdCall& unwatch);
  // Each loop turn while busy(), and on every tick: goes on with responses, sends what the
  // sockets take, closes finished, timed-out and stalled connections.
  void flush_waiting(core::Instant now, config::UapiTarget target, const std::string& iface, const FdCall& unwatch);
  // True while some connection has a response to make or send (come back within a turn).
  bool busy() const;
  size_t connections() const { return conns_.size(); }
  // Closes every connection (a reload moving the endpoint).
  void close_all(const FdCall& unwatch);

 private:
  enum class Phase { Reading, Collecting, Rendering, Closing };
  struct Conn {
    config::HttpRequest request;
    Phase phase = Phase::Reading;
    bool eof = false;        // the client shut its side after the request
    bool unwatched = false;  // so it is no longer polled for input
    core::Instant accepted, since;  // since: `out` last moved
    std::string out;
    config::InterfaceStatus status;            // Collecting
    std::optional<uint32_t> next_peer;         // Collecting: the next peer slot to list
    std::optional<config::PrometheusText> text;  // Rendering
  };
  // Reads what is there into the request; false when the connection must close now.
  bool read_request(int fd, Conn& c, core::Instant now);
  // Makes up to kSlicesPerPump slices and sends; false when the connection is done.
  bool pump(int fd, Conn& c, core::Instant now, config::UapiTarget target, const std::string& iface);
  // One step of the response; false when nothing was left to make.
  bool make_slice(Conn& c, config::UapiTarget target, const std::string& iface);
  bool send_some(int fd, Conn& c, core::Instant now);
  void close_connection(int fd, const FdCall& unwatch);

  int listen_fd_;
  std::string text_, unix_path_;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  std::unordered_map<int, Conn> conns_;
  std::vector<int> finished_;  // flush_waiting's scratch
};

}  // namespace wg::io
