// tools/check.cpp — `wgrouter check FILE.conf`: parse and check a config file without touching
// the system; warnings and the one error go to stderr with file:line, the verdict to stdout.
#include <cstdio>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "tools/commands.hpp"
#include "tools/usage.hpp"

namespace wg::tools {

namespace {

constexpr const char* kUsage =
    "Usage: wgrouter check FILE.conf\n"
    "\n"
    "Reads FILE.conf (wg-quick's format with wgrouter's additions, see wgrouter.conf(5)) and\n"
    "checks it without touching the system: warnings and the first error go to stderr as\n"
    "FILE:LINE: MESSAGE, the verdict to stdout. Exit status 0 if `up' would accept the file,\n"
    "1 if not, 2 for a wrong command line.\n"
    "\n"
    "  -h, --help   print this help\n";

}  // namespace

int cmd_check(int argc, char** argv) {
  const char* file = nullptr;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (is_help_option(a)) return print_help(kUsage);
    // A file whose name starts with '-' is given as ./-name.
    if (!a.empty() && a[0] == '-') return usage_error(kUsage, "check", "unknown option `" + std::string(a) + "'");
    if (file) return usage_error(kUsage, "check", "one FILE.conf at a time");
    file = argv[i];
  }
  if (!file) return usage_error(kUsage, "check", "no FILE.conf given");
  const std::string path = file;
  const auto config = config::load_config(path);
  if (!config) {
    std::fprintf(stderr, "%s\n", config.error().to_string().c_str());
    return 1;
  }
  for (const config::Diagnostic& w : config->warnings) std::fprintf(stderr, "%s\n", w.to_string().c_str());
  // `up` without --name takes the interface name from the file name; say so now if it can't.
  if (!config::interface_name_from_path(path))
    std::fprintf(stderr, "Warning: %s is not a valid interface name followed by .conf: `up' will need --name\n",
                 path.c_str());
  std::printf("%s: OK (%zu %s, %zu %s)\n", path.c_str(), config->peers.size(),
              config->peers.size() == 1 ? "peer" : "peers", config->ports.size(),
              config->ports.size() == 1 ? "port" : "ports");
  return 0;
}

}  // namespace wg::tools
