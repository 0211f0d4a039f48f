// fuzz/config_fuzz.cpp — libFuzzer target for config/config.cpp: parse_config on any bytes returns
// a config or one diagnostic, never crashes; a config that parses writes back (write_config) to
// text that parses to the same config, and writing that again gives the same text.
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "config/config.hpp"  // built with coverage into wgcore_fuzz (fuzz/CMakeLists.txt)

namespace {

[[noreturn]] void violated(const char* what, const std::string& detail) {
  std::fprintf(stderr, "config_fuzz invariant violated: %s\n%s\n", what, detail.c_str());
  std::fflush(stderr);
  __builtin_trap();
}

size_t count_lines(std::string_view text) {
  size_t n = 1;
  for (char c : text) n += c == '\n';
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace wg::config;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto parsed = parse_config(text, "fuzz.conf");
  if (!parsed) {
    const Diagnostic& d = parsed.error();
    if (d.file != "fuzz.conf" || d.message.empty()) violated("malformed diagnostic", d.to_string());
    if (d.line < 1 || static_cast<size_t>(d.line) > count_lines(text)) violated("error line out of range", d.to_string());
    return 0;
  }
  for (const Diagnostic& w : parsed->warnings)
    if (w.line < 1 || static_cast<size_t>(w.line) > count_lines(text)) violated("warning line out of range", w.to_string());

  const std::string written = write_config(*parsed);
  const auto again = parse_config(written, "written.conf");
  if (!again) violated("written config does not parse", again.error().to_string() + "\n--- written ---\n" + written);
  if (!(*again == *parsed)) violated("written config parses to a different config", written);
  if (write_config(*again) != written) violated("writing is not stable", written);
  return 0;
}
