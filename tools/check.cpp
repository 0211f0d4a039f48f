// tools/check.cpp — `wgrouter check FILE.conf`: parse and check a config file without touching
// the system; warnings and the one error go to stderr with file:line, the verdict to stdout.
#include <cstdio>
#include <string>

#include "config/config.hpp"
#include "tools/commands.hpp"

namespace wg::tools {

int cmd_check(int argc, char** argv) {
  if (argc != 2) {
    std::fputs("Usage: wgrouter check FILE.conf\n", stderr);
    return 1;
  }
  const std::string path = argv[1];
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
