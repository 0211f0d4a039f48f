// fuzz/metrics_http_fuzz.cpp — the metrics endpoint's input paths with arbitrary bytes.
// Byte 0 picks the path and a split point:
//   even: the bytes are an HTTP request (config::HttpRequest), fed whole to one reader and in
//         two parts, split at the chosen point, to another. Checks: both give the same verdict;
//         Metrics comes with 200, Error with one of the statuses the reader documents; the
//         error response for it is a complete message (its Content-Length is its body's).
//   odd:  the bytes are a UAPI get reply (config::parse_status), parsed whole and in two
//         parts split at a line end, then rendered (config::PrometheusText). Checks: both
//         parses render the same text; every line of it is a HELP or TYPE line or a sample
//         `name{...} value` / `name value`, with a metric name of [a-z_:] letters and digits
//         (so no label value leaked a newline or broke out of its quotes).
#include <cstdio>
#include <string>
#include <string_view>

#include "config/http_request.hpp"
#include "config/status.hpp"

namespace {

using namespace wg;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "metrics_http fuzz invariant violated: %s\n", what);
  std::fflush(stderr);
  __builtin_trap();
}
void check(bool ok, const char* what) {
  if (!ok) fail(what);
}

void request(std::string_view in, size_t cut) {
  config::HttpRequest whole, split;
  whole.feed(in);
  cut = cut % (in.size() + 1);
  split.feed(in.substr(0, cut));
  split.feed(in.substr(cut));
  check(whole.state() == split.state(), "split request, other verdict");
  check(whole.status() == split.status() && whole.head_only() == split.head_only(), "split request, other status");
  using State = config::HttpRequest::State;
  switch (whole.state()) {
    case State::Incomplete: check(whole.status() == 0, "status before a verdict"); return;
    case State::Metrics: check(whole.status() == 200, "metrics without 200"); return;
    case State::Error: break;
  }
  const int s = whole.status();
  check(s == 400 || s == 404 || s == 405 || s == 431 || s == 505, "undocumented status");
  const std::string r = config::http_error_response(s, whole.head_only());
  const size_t end = r.find("\r\n\r\n");
  check(end != std::string::npos, "error response without a head end");
  const std::string body = r.substr(end + 4);
  check(whole.head_only() || r.find("Content-Length: " + std::to_string(body.size()) + "\r\n") != std::string::npos,
        "Content-Length is not the body's");
}

bool name_char(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == ':'; }

void reply(std::string_view in, size_t cut) {
  config::InterfaceStatus whole, split;
  whole.name = split.name = "fz0";
  config::parse_status(in, whole);
  // Split after a newline, as the daemon's slices are.
  const size_t nl = in.find('\n', cut % (in.size() + 1));
  const size_t at = nl == std::string_view::npos ? in.size() : nl + 1;
  config::parse_status(in.substr(0, at), split);
  config::parse_status(in.substr(at), split);
  const std::string text = config::PrometheusText::render({whole});
  check(text == config::PrometheusText::render({split}), "split reply, other text");
  for (size_t pos = 0; pos < text.size();) {
    const size_t eol = text.find('\n', pos);
    check(eol != std::string::npos, "text does not end in a newline");
    const std::string_view line = std::string_view(text).substr(pos, eol - pos);
    pos = eol + 1;
    if (line.starts_with("# HELP ") || line.starts_with("# TYPE ")) continue;
    size_t n = 0;
    while (n < line.size() && name_char(line[n])) ++n;
    check(n > 0 && n < line.size() && (line[n] == '{' || line[n] == ' '), "a sample line without a metric name");
    if (line[n] == '{') {
      // Label values: inside quotes, a backslash escapes the next character; `}` closes.
      bool quoted = false;
      size_t i = n + 1;
      for (; i < line.size(); ++i) {
        if (quoted && line[i] == '\\') {
          ++i;
          continue;
        }
        if (line[i] == '"') quoted = !quoted;
        if (!quoted && line[i] == '}') break;
      }
      check(i < line.size() && i + 1 < line.size() && line[i + 1] == ' ', "labels not closed before the value");
      n = i + 1;
    }
    const std::string_view value = line.substr(n + 1);
    check(!value.empty() && value.find_first_not_of("0123456789") == std::string_view::npos, "value is not a number");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t cut = data[1];
  const std::string_view in(reinterpret_cast<const char*>(data) + 2, size - 2);
  if (data[0] % 2 == 0)
    request(in, cut);
  else
    reply(in, cut);
  return 0;
}
