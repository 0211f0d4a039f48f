// config/http_request.hpp — the HTTP/1.x request of one metrics connection (MetricsListen):
// bytes in, in fragments of any size, a verdict out. Only `GET /metrics` (and HEAD) is served;
// anything else gets its status code. No sockets and no clock here: io/metrics_server.hpp reads
// the bytes, enforces the read timeout and writes the response.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace wg::config {

class HttpRequest {
 public:
  // The request line and headers together; a longer request is answered 431. Prometheus sends
  // a few hundred bytes.
  static constexpr size_t kMaxRequest = 8192;

  enum class State {
    Incomplete,  // the blank line that ends the headers has not come yet
    Metrics,     // GET or HEAD of /metrics: answer with the metrics
    Error,       // answer status() and close
  };

  // Takes the next bytes; once the state is no longer Incomplete, it stays and bytes are
  // ignored (a body, or a pipelined request: the connection closes after one response).
  State feed(std::string_view bytes);
  State state() const { return state_; }
  // 200 for Metrics, else the error: 400 malformed, 404 another path, 405 another method,
  // 431 too long, 505 an HTTP version other than 1.0 or 1.1.
  int status() const { return status_; }
  // HEAD: the response has headers only.
  bool head_only() const { return head_; }

 private:
  State judge(std::string_view request);
  State fail(int status) {
    status_ = status;
    return state_ = State::Error;
  }

  std::string buf_;
  State state_ = State::Incomplete;
  int status_ = 0;
  bool head_ = false;
};

// The response head of a metrics response (200, text format 0.0.4, Connection: close): the
// body follows it and the connection closes after it.
std::string http_metrics_head();
// A whole error response (408 for the read timeout, 503 when too many connections are open,
// or HttpRequest::status()), with a one-line text body and Connection: close.
std::string http_error_response(int status, bool head_only = false);

}  // namespace wg::config
