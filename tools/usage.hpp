// tools/usage.hpp — how every subcommand answers `--help` and a wrong command line, so they all
// behave alike: asked for, the usage goes to stdout with status 0 (it is the answer); after a
// wrong argument, one line saying what was wrong and then the usage go to stderr with status 2
// (a usage error, told apart from a run that failed, which exits 1). genkey, genpsk and pubkey
// keep `wg`'s own usage error instead (tools/keys.cpp).
#pragma once
#include <cstdio>
#include <string_view>

namespace wg::tools {

inline constexpr int kUsageError = 2;

inline bool is_help_option(std::string_view arg) { return arg == "--help" || arg == "-h"; }

// `usage` ends with a newline. Returns the exit status.
inline int print_help(const char* usage) {
  std::fputs(usage, stdout);
  return 0;
}

// "wgrouter CMD: WHAT", then the usage, on stderr. `what` names the argument that was wrong.
inline int usage_error(const char* usage, std::string_view command, std::string_view what) {
  std::fprintf(stderr, "wgrouter%s%.*s: %.*s\n", command.empty() ? "" : " ", static_cast<int>(command.size()),
               command.data(), static_cast<int>(what.size()), what.data());
  std::fputs(usage, stderr);
  return kUsageError;
}

}  // namespace wg::tools
