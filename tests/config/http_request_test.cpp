// tests/config/http_request_test.cpp — the metrics endpoint's request reader: the verdict for
// each kind of request, the same verdict however the bytes are split, the size limit, and the
// error responses' framing.
#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include "config/http_request.hpp"

namespace wg::config {

namespace {

using State = HttpRequest::State;

struct Verdict {
  State state;
  int status;
  bool head;
};

Verdict whole(std::string_view req) {
  HttpRequest r;
  r.feed(req);
  return {r.state(), r.status(), r.head_only()};
}

// The same request a byte at a time.
Verdict bytewise(std::string_view req) {
  HttpRequest r;
  for (char c : req) r.feed(std::string_view(&c, 1));
  return {r.state(), r.status(), r.head_only()};
}

}  // namespace

TEST_CASE("metrics http: each request gets its verdict, whole or a byte at a time") {
  struct Case {
    std::string_view request;
    State state;
    int status;
    bool head = false;
  };
  const Case cases[] = {
      {"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:9586\r\nUser-Agent: Prometheus/2.42.0\r\n"
       "Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5\r\n\r\n",
       State::Metrics, 200},
      {"GET /metrics HTTP/1.0\r\n\r\n", State::Metrics, 200},
      {"GET /metrics?name[]=x HTTP/1.1\r\n\r\n", State::Metrics, 200},
      {"GET http://gw.example:9586/metrics HTTP/1.1\r\n\r\n", State::Metrics, 200},
      {"HEAD /metrics HTTP/1.1\r\n\r\n", State::Metrics, 200, true},
      {"GET /metrics HTTP/1.1\n\n", State::Metrics, 200},          // bare LFs
      {"\r\n\r\nGET /metrics HTTP/1.1\r\n\r\n", State::Metrics, 200},  // blank lines first
      {"GET / HTTP/1.1\r\n\r\n", State::Error, 404},
      {"GET /metricsx HTTP/1.1\r\n\r\n", State::Error, 404},
      {"GET /Metrics HTTP/1.1\r\n\r\n", State::Error, 404},
      {"POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", State::Error, 405},
      {"DELETE /metrics HTTP/1.1\r\n\r\n", State::Error, 405},
      {"get /metrics HTTP/1.1\r\n\r\n", State::Error, 405},  // methods are case-sensitive
      {"GET /metrics HTTP/2.0\r\n\r\n", State::Error, 505},
      {"GET /metrics HTTP/1.2\r\n\r\n", State::Error, 505},
      {"GET /metrics\r\n\r\n", State::Error, 400},  // HTTP/0.9
      {"GET  /metrics HTTP/1.1\r\n\r\n", State::Error, 400},
      {"GET /metrics HTTP/1.1 x\r\n\r\n", State::Error, 400},
      {"GET metrics HTTP/1.1\r\n\r\n", State::Error, 400},
      {"G(T /metrics HTTP/1.1\r\n\r\n", State::Error, 400},
      {"GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n", State::Error, 400},
      {"GET /metrics HTTP/1.1\r\n: empty name\r\n\r\n", State::Error, 400},
      {"GET /metrics HTTP/1.1\r\nX-A: b\x01\r\n\r\n", State::Error, 400},
      {"GET /metrics HTTP/1.1\r\nHost: x\r\n", State::Incomplete, 0},
      {"GET /metr", State::Incomplete, 0},
      {"", State::Incomplete, 0},
  };
  for (const Case& c : cases) {
    CAPTURE(c.request);
    for (const Verdict v : {whole(c.request), bytewise(c.request)}) {
      CHECK(v.state == c.state);
      CHECK(v.status == c.status);
      CHECK(v.head == c.head);
    }
  }
}

TEST_CASE("metrics http: a request head over 8 KiB is 431, at the limit it is served") {
  const std::string line = "GET /metrics HTTP/1.1\r\n";
  auto with_header_of = [&](size_t total) {
    // One header line filling the request to `total` bytes with its blank line.
    const size_t fixed = line.size() + std::string("X-Pad: \r\n\r\n").size();
    return line + "X-Pad: " + std::string(total - fixed, 'a') + "\r\n\r\n";
  };
  CHECK(whole(with_header_of(HttpRequest::kMaxRequest)).state == State::Metrics);
  const Verdict over = whole(with_header_of(HttpRequest::kMaxRequest + 1));
  CHECK(over.state == State::Error);
  CHECK(over.status == 431);
  CHECK(bytewise(with_header_of(HttpRequest::kMaxRequest + 1)).status == 431);
  // Without an end, the verdict comes as soon as the limit is passed: no waiting for the rest.
  HttpRequest r;
  size_t fed = 0;
  for (; fed + 16 <= HttpRequest::kMaxRequest; fed += 16) REQUIRE(r.feed("GET /metrics HT ") == State::Incomplete);
  CHECK(r.feed(std::string(HttpRequest::kMaxRequest - fed, 'x')) == State::Incomplete);
  CHECK(r.feed("x") == State::Error);
  CHECK(r.status() == 431);
  // Endless blank lines count too.
  HttpRequest blank;
  for (size_t n = 0; n <= HttpRequest::kMaxRequest / 2 && blank.state() == State::Incomplete; ++n) blank.feed("\r\n");
  CHECK(blank.state() == State::Error);
}

TEST_CASE("metrics http: the verdict stays once given; later bytes change nothing") {
  HttpRequest r;
  CHECK(r.feed("GET /metrics HTTP/1.1\r\n\r\nPOST / HTTP/1.1\r\n\r\n") == State::Metrics);
  CHECK(r.feed("DELETE /x HTTP/1.1\r\n\r\n") == State::Metrics);
  CHECK(r.status() == 200);
  HttpRequest bad;
  CHECK(bad.feed("PUT /metrics HTTP/1.1\r\n\r\n") == State::Error);
  CHECK(bad.feed("GET /metrics HTTP/1.1\r\n\r\n") == State::Error);
  CHECK(bad.status() == 405);
}

TEST_CASE("metrics http: error responses are complete HTTP messages with their body length") {
  for (int status : {400, 404, 405, 408, 431, 503, 505}) {
    CAPTURE(status);
    const std::string r = http_error_response(status);
    CHECK(r.starts_with("HTTP/1.1 " + std::to_string(status) + " "));
    const size_t end = r.find("\r\n\r\n");
    REQUIRE(end != std::string::npos);
    const std::string body = r.substr(end + 4);
    CHECK(!body.empty());
    CHECK(r.find("Content-Length: " + std::to_string(body.size()) + "\r\n") != std::string::npos);
    CHECK(r.find("Connection: close\r\n") != std::string::npos);
    CHECK((r.find("Allow: GET, HEAD\r\n") != std::string::npos) == (status == 405));
    // HEAD gets the same head without the body.
    CHECK(http_error_response(status, true) == r.substr(0, end + 4));
  }
  const std::string ok = http_metrics_head();
  CHECK(ok.starts_with("HTTP/1.1 200 OK\r\n"));
  CHECK(ok.find("Content-Type: text/plain; version=0.0.4") != std::string::npos);
  CHECK(ok.ends_with("\r\n\r\n"));
}

}  // namespace wg::config
