// config/http_request.cpp — RFC 9112's request line and header block, read as strictly as a
// metrics endpoint needs: one request per connection, no body, no keep-alive, no chunking.
#include "config/http_request.hpp"

#include <algorithm>

namespace wg::config {

namespace {

// RFC 9110 §5.6.2 tchar: what a method may be made of.
bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// Control characters other than tab (and the line ends) are not allowed in a request head.
bool has_bad_char(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && c != '\t' && c != '\r' && c != '\n') || u == 0x7f;
  });
}

std::string_view reason_of(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Error";
  }
}

std::string_view body_of(int status) {
  switch (status) {
    case 404: return "not found: wgrouter serves only /metrics\n";
    case 405: return "method not allowed: use GET /metrics\n";
    case 408: return "request timeout: the request did not arrive in time\n";
    case 431: return "request too large\n";
    case 503: return "too many metrics connections open; try again\n";
    case 505: return "only HTTP/1.0 and HTTP/1.1 are served\n";
    default: return "bad request\n";
  }
}

}  // namespace

HttpRequest::State HttpRequest::feed(std::string_view bytes) {
  if (state_ != State::Incomplete) return state_;
  // Only as much as could still be a request head is kept: the search for its end looks at
  // the new bytes plus the three before them.
  const size_t room = kMaxRequest + 4 - buf_.size();
  const size_t from = buf_.size() < 3 ? 0 : buf_.size() - 3;
  buf_.append(bytes.substr(0, room));
  // Blank lines before the request line are ignored (RFC 9112 §2.2).
  const size_t start = buf_.find_first_not_of("\r\n");
  if (start == std::string::npos) {
    if (buf_.size() > kMaxRequest) return fail(400);
    return state_;
  }
  // The head ends at an empty line: CRLF CRLF, or bare LFs, which RFC 9112 §2.2 lets a server accept.
  size_t end = std::string::npos;
  for (size_t i = std::max(from, start); i < buf_.size(); ++i) {
    if (buf_[i] != '\n') continue;
    if (i >= 1 && buf_[i - 1] == '\n' && i - 1 >= start) end = i;
    else if (i >= 2 && buf_[i - 1] == '\r' && buf_[i - 2] == '\n' && i - 2 >= start) end = i;
    if (end != std::string::npos) break;
  }
  if (end == std::string::npos) {
    if (buf_.size() > kMaxRequest) return fail(431);  // blank lines before it count too
    return state_;
  }
  if (end + 1 - start > kMaxRequest) return fail(431);
  const State s = judge(std::string_view(buf_).substr(start, end + 1 - start));
  buf_ = std::string();
  return s;
}

HttpRequest::State HttpRequest::judge(std::string_view request) {
  if (has_bad_char(request)) return fail(400);
  // The request line: METHOD SP TARGET SP HTTP/1.x
  const size_t nl = request.find('\n');
  std::string_view line = request.substr(0, nl);
  if (line.ends_with('\r')) line.remove_suffix(1);
  const size_t sp1 = line.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) return fail(400);
  const std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (method.empty() || !std::all_of(method.begin(), method.end(), is_tchar) || target.empty()) return fail(400);
  if (version != "HTTP/1.0" && version != "HTTP/1.1") {
    const bool http = version.size() == 8 && version.starts_with("HTTP/") && version[6] == '.';
    return fail(http ? 505 : 400);
  }
  // Every header line is `name: value` (no line folding, RFC 9112 §5.2).
  for (size_t pos = nl + 1; pos < request.size();) {
    size_t eol = request.find('\n', pos);
    if (eol == std::string_view::npos) eol = request.size();
    std::string_view h = request.substr(pos, eol - pos);
    pos = eol + 1;
    if (h.ends_with('\r')) h.remove_suffix(1);
    if (h.empty()) break;
    const size_t colon = h.find(':');
    if (colon == 0 || colon == std::string_view::npos ||
        !std::all_of(h.begin(), h.begin() + static_cast<std::ptrdiff_t>(colon), is_tchar))
      return fail(400);
  }
  // The absolute form (a request through a proxy) names the same path after the authority.
  if (target.starts_with("http://") || target.starts_with("https://")) {
    const size_t slash = target.find('/', target.find("//") + 2);
    target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
  }
  if (target.front() != '/') return fail(400);
  const std::string_view path = target.substr(0, target.find('?'));
  if (path != "/metrics") return fail(404);
  if (method != "GET" && method != "HEAD") return fail(405);
  head_ = method == "HEAD";
  status_ = 200;
  return state_ = State::Metrics;
}

std::string http_metrics_head() {
  return "HTTP/1.1 200 OK\r\n"
         "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
         "Cache-Control: no-store\r\n"
         "Connection: close\r\n\r\n";
}

std::string http_error_response(int status, bool head_only) {
  const std::string_view body = body_of(status);
  std::string r = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason_of(status)) + "\r\n";
  if (status == 405) r += "Allow: GET, HEAD\r\n";
  r += "Content-Type: text/plain; charset=utf-8\r\nContent-Length: " + std::to_string(body.size()) +
       "\r\nConnection: close\r\n\r\n";
  if (!head_only) r += body;
  return r;
}

}  // namespace wg::config
