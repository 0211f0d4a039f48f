// tools/commands.hpp — the subcommands of the wgrouter binary. Each takes the arguments after
// the program name (argv[0] is the subcommand itself) and returns the process exit status.
#pragma once

namespace wg::tools {

int cmd_genkey(int argc, char** argv);    // tools/keys.cpp
int cmd_genpsk(int argc, char** argv);    // tools/keys.cpp
int cmd_pubkey(int argc, char** argv);    // tools/keys.cpp
int cmd_selftest(int argc, char** argv);  // tools/selftest.cpp
int cmd_check(int argc, char** argv);     // tools/check.cpp
int cmd_show(int argc, char** argv);     // tools/show.cpp
int cmd_up(int argc, char** argv);       // tools/up.cpp
int cmd_daemon(int argc, char** argv);    // tools/daemon.cpp: argv are all arguments after the program name

}  // namespace wg::tools
