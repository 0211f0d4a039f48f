// tools/main.cpp — entry point: dispatches to the subcommands of tools/commands.hpp.
#include <cstdio>
#include <cstring>
#include <string_view>

#include "tools/commands.hpp"
#include "tools/usage.hpp"

namespace {

constexpr std::string_view kVersion = "wgrouter 0.1.0";

void usage(FILE* f) {
  std::fprintf(f,
               "Usage: wgrouter <command> [arguments]\n"
               "       wgrouter [-f|--foreground] [--user USER[:GROUP]] INTERFACE\n"
               "                          (wireguard-go compatible; for wg-quick)\n"
               "\n"
               "  genkey             print a new private key (base64)\n"
               "  pubkey             read a private key on stdin, print its public key\n"
               "  genpsk             print a new preshared key (base64)\n"
               "  up FILE.conf [--name IFACE] [--foreground] [--netns NAME|PATH|PID] [--user USER[:GROUP]]\n"
               "                     bring up an interface from a wg-quick style file (native mode);\n"
               "                     after set-up it keeps only the capabilities it needs (--user: and\n"
               "                     runs as USER), see docs/hardening.md\n"
               "  show [IFACE] [--json|--prometheus]\n"
               "                     interfaces, peers, handshakes, transfer and drop counters\n"
               "  check FILE.conf    validate a config file, print errors with line numbers\n"
               "  selftest           in-process handshake and transport round-trip between two peers\n"
               "  --version          print the version\n"
               "  -h, --help         print this help\n"
               "\n"
               "`wgrouter COMMAND --help' describes one command. The manual: man wgrouter, and\n"
               "man wgrouter.conf for the config file.\n");
}

struct Command {
  std::string_view name;
  int (*run)(int, char**);
};

constexpr Command kCommands[] = {
    {"genkey", wg::tools::cmd_genkey},
    {"genpsk", wg::tools::cmd_genpsk},
    {"pubkey", wg::tools::cmd_pubkey},
    {"selftest", wg::tools::cmd_selftest},
    {"check", wg::tools::cmd_check},
    {"up", wg::tools::cmd_up},
    {"show", wg::tools::cmd_show},
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs("wgrouter: no command given\n", stderr);
    usage(stderr);
    return wg::tools::kUsageError;
  }
  const std::string_view verb = argv[1];
  if (verb == "--version" || verb == "version") {
    std::puts(kVersion.data());
    return 0;
  }
  if (wg::tools::is_help_option(verb) || verb == "help") {
    usage(stdout);
    return 0;
  }
  for (const Command& c : kCommands)
    if (c.name == verb) return c.run(argc - 1, argv + 1);
  // Anything else is wireguard-go's command line: [-f|--foreground] INTERFACE.
  return wg::tools::cmd_daemon(argc - 1, argv + 1);
}
