// config/rt_tables.hpp — routing table names from iproute2's rt_tables files, so `Table = NAME`
// means the table `ip route add ... table NAME` would use (wg-quick passes the name to `ip`).
// Reads files only; never runs `ip`.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "core/result.hpp"

namespace wg::config {

struct RtTableEntry {
  uint32_t id = 0;
  std::string name;
  friend bool operator==(const RtTableEntry&, const RtTableEntry&) = default;
};

// Every entry read, in reading order, plus what was searched and what was wrong on the way.
struct RtTables {
  std::vector<RtTableEntry> entries;
  std::vector<std::string> searched;  // the files and directories looked at, for error messages
  std::vector<Diagnostic> warnings;   // bad lines (file:line)
};

// One file's text. A line is `ID NAME`, ID decimal or 0x-hex (0-4294967295), NAME a word; text
// after NAME is ignored, blank lines and lines starting with '#' are skipped. As `ip` does, the
// first bad line ends the file (the entries before it stay) and is reported as a warning.
void parse_rt_tables(std::string_view text, std::string_view file, RtTables& into);

// Where iproute2 keeps the files: `etc` first, `usr` (newer iproute2, /usr/share) as its fallback.
struct RtTablesDirs {
  std::string etc = "/etc/iproute2";
  std::string usr = "/usr/share/iproute2";
};

// Reads what `ip` reads, in its order: ETC/rt_tables, or USR/rt_tables when that is missing;
// then USR/rt_tables.d/*.conf not shadowed by a file of the same name in ETC/rt_tables.d, then
// ETC/rt_tables.d/*.conf (each directory in name order). Missing files are not errors.
RtTables load_rt_tables(const RtTablesDirs& dirs = {});

// The number `ip` picks for name: the built-ins main (254), local (255) and default (253) unless
// a file says otherwise, then the entries. When a name is listed twice with different numbers,
// ip's lookup (a 256-bucket hash keyed by ID & 255, scanned from bucket 0, newest entry first in
// a bucket) decides, and so does this. Failing a name, a 0x-hex number is taken as ip takes it.
std::optional<uint32_t> lookup_table(const RtTables& tables, std::string_view name);

// "Table name `NAME' is not defined in FILES (nor is it main, local or default)".
std::string unknown_table_message(const RtTables& tables, std::string_view name);

// For `Table = NAME` (TableMode::Name): sets config.iface.table.id, or fails at the Table line of
// file with unknown_table_message. Bad rt_tables lines become warnings of config. Any other
// Table leaves config as it is and reads nothing.
[[nodiscard]] Result<void, Diagnostic> resolve_table(Config& config, std::string_view file,
                                                     const RtTablesDirs& dirs = {});

}  // namespace wg::config
