// config/rt_tables.cpp — reading iproute2's rt_tables files and picking a name's number as `ip`.
#include "config/rt_tables.hpp"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <sstream>

namespace wg::config {

namespace {

constexpr bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

std::string_view trim_front(std::string_view s) {
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  return s;
}

// The leading word of s (up to the first blank).
std::string_view first_word(std::string_view s) {
  return s.substr(0, static_cast<size_t>(std::find_if(s.begin(), s.end(), is_blank) - s.begin()));
}

// Decimal or 0x-hex, the whole of s, 0..UINT32_MAX.
std::optional<uint32_t> parse_id(std::string_view s) {
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s.remove_prefix(2);
  }
  if (s.empty()) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    int d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (base == 16 && c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else if (base == 16 && c >= 'A' && c <= 'F') d = c - 'A' + 10;
    else return std::nullopt;
    v = v * static_cast<uint64_t>(base) + static_cast<uint64_t>(d);
    if (v > UINT32_MAX) return std::nullopt;
  }
  return static_cast<uint32_t>(v);
}

bool read_file(const std::string& path, std::string& text) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  std::ostringstream ss;
  ss << f.rdbuf();
  text = ss.str();
  return true;
}

bool is_regular(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// The *.conf names in dir, sorted (ip takes readdir's order; a sorted one is reproducible and
// differs only when two files give one name different numbers).
std::vector<std::string> conf_files(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = opendir(dir.c_str());
  if (!d) return names;
  while (const dirent* e = readdir(d)) {
    const std::string_view n = e->d_name;
    if (n.size() > 5 && n.substr(n.size() - 5) == ".conf" && n[0] != '.') names.emplace_back(n);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

void load_file(const std::string& path, RtTables& into) {
  std::string text;
  if (is_regular(path) && read_file(path, text)) parse_rt_tables(text, path, into);
}

struct Builtin {
  uint32_t id;
  std::string_view name;
};
constexpr Builtin kBuiltins[] = {{253, "default"}, {254, "main"}, {255, "local"}};

}  // namespace

void parse_rt_tables(std::string_view text, std::string_view file, RtTables& into) {
  int line_no = 0;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++line_no;
    line = trim_front(line);
    if (line.empty() || line.front() == '#') continue;
    const std::string_view id_text = first_word(line);
    const auto id = parse_id(id_text);
    const std::string_view name = first_word(trim_front(line.substr(id_text.size())));
    if (!id || name.empty()) {
      into.warnings.push_back(Diagnostic{std::string(file), line_no,
                                         "Warning: not `NUMBER NAME': `" + std::string(line) +
                                             "'; the rest of this file is ignored, as ip does"});
      return;
    }
    into.entries.push_back({*id, std::string(name)});
  }
}

RtTables load_rt_tables(const RtTablesDirs& dirs) {
  RtTables t;
  const std::string etc_main = dirs.etc + "/rt_tables";
  t.searched.push_back(etc_main);
  if (is_regular(etc_main)) {
    load_file(etc_main, t);
  } else {
    t.searched.push_back(dirs.usr + "/rt_tables");
    load_file(dirs.usr + "/rt_tables", t);
  }
  const std::string etc_d = dirs.etc + "/rt_tables.d";
  const std::string usr_d = dirs.usr + "/rt_tables.d";
  const std::vector<std::string> etc_names = conf_files(etc_d);
  for (const std::string& n : conf_files(usr_d))
    if (!std::binary_search(etc_names.begin(), etc_names.end(), n)) load_file(usr_d + "/" + n, t);
  t.searched.push_back(usr_d + "/*.conf");
  for (const std::string& n : etc_names) load_file(etc_d + "/" + n, t);
  t.searched.push_back(etc_d + "/*.conf");
  return t;
}

std::optional<uint32_t> lookup_table(const RtTables& tables, std::string_view name) {
  // ip scans buckets 0..255 (bucket = ID & 255); within one, the newest entry comes first and a
  // built-in, linked in before any file was read, last.
  std::optional<uint32_t> best;
  const auto bucket = [](uint32_t id) { return id & 255u; };
  for (auto it = tables.entries.rbegin(); it != tables.entries.rend(); ++it)
    if (it->name == name && (!best || bucket(it->id) < bucket(*best))) best = it->id;
  for (const Builtin& b : kBuiltins)
    if (b.name == name && (!best || bucket(b.id) < bucket(*best))) best = b.id;
  if (best) return best;
  if (name.size() > 2 && name[0] == '0' && (name[1] == 'x' || name[1] == 'X')) return parse_id(name);
  return std::nullopt;
}

std::string unknown_table_message(const RtTables& tables, std::string_view name) {
  std::string files;
  for (const std::string& s : tables.searched) files += (files.empty() ? "" : ", ") + s;
  return "Table name `" + std::string(name) + "' is not defined in " + files +
         " (nor is it main, local or default)";
}

Result<void, Diagnostic> resolve_table(Config& config, std::string_view file, const RtTablesDirs& dirs) {
  RouteTable& t = config.iface.table;
  if (t.mode != TableMode::Name) return {};
  const RtTables tables = load_rt_tables(dirs);
  const auto id = lookup_table(tables, t.text);
  if (!id) {
    std::string message = unknown_table_message(tables, t.text);
    if (!tables.warnings.empty()) message += "; " + tables.warnings.front().to_string();
    return Unexpected(Diagnostic{std::string(file), t.line.n, std::move(message)});
  }
  t.id = *id;
  config.warnings.insert(config.warnings.end(), tables.warnings.begin(), tables.warnings.end());
  return {};
}

}  // namespace wg::config
