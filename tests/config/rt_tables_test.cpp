// tests/config/rt_tables_test.cpp — config/rt_tables.hpp: the rt_tables line format (comments,
// hex, bad lines), which number a name gets (built-ins, duplicates as `ip` resolves them), the
// files and their order, and `Table = NAME` in a config.
#include "config/rt_tables.hpp"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

namespace {

using namespace wg::config;

RtTables parse(std::string_view text, std::string_view file = "rt") {
  RtTables t;
  parse_rt_tables(text, file, t);
  return t;
}

struct TempTree {
  std::string path;
  TempTree() {
    char tmpl[] = "/tmp/wg_rt_tables_test.XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    path = tmpl;
    for (const char* d : {"/etc", "/etc/rt_tables.d", "/usr", "/usr/rt_tables.d"})
      REQUIRE(mkdir((path + d).c_str(), 0755) == 0);
  }
  ~TempTree() { std::system(("rm -rf -- '" + path + "'").c_str()); }
  void write(const std::string& rel, const std::string& text) const { std::ofstream(path + rel) << text; }
  RtTablesDirs dirs() const { return {path + "/etc", path + "/usr"}; }
};

}  // namespace

TEST_CASE("rt_tables: lines, comments, hex and decimal numbers") {
  const RtTables t = parse(
      "#\n# reserved values\n#\n255\tlocal\n254\tmain\n  \t# indented comment\n\n"
      "0x10 hexa\n0XfF ff\n  100   vpn   # trailing comment\n4294967295 top\n200 two words\n");
  CHECK(t.warnings.empty());
  const std::vector<RtTableEntry> want = {{255, "local"}, {254, "main"},       {16, "hexa"},
                                          {255, "ff"},    {100, "vpn"},        {4294967295u, "top"},
                                          {200, "two"}};
  CHECK(t.entries == want);
  CHECK(lookup_table(t, "hexa") == 16u);
  CHECK(lookup_table(t, "vpn") == 100u);
  CHECK(lookup_table(t, "top") == 4294967295u);
  CHECK(lookup_table(t, "words") == std::nullopt);  // only the first word after the number
  // CRLF files parse too.
  CHECK(parse("7 crlf\r\n8 next\r\n").entries == std::vector<RtTableEntry>{{7, "crlf"}, {8, "next"}});
}

TEST_CASE("rt_tables: a bad line ends its file with a warning naming file and line") {
  for (const std::string bad : {"100", "vpn 100", "0x vpn", "-5 neg", "4294967296 big", "12x name", "0x1g name"}) {
    CAPTURE(bad);
    const RtTables t = parse("1 one\n# c\n" + bad + "\n2 two\n", "/x/rt_tables");
    CHECK(t.entries == std::vector<RtTableEntry>{{1, "one"}});
    REQUIRE(t.warnings.size() == 1);
    CHECK(t.warnings[0].to_string() ==
          "/x/rt_tables:3: Warning: not `NUMBER NAME': `" + bad + "'; the rest of this file is ignored, as ip does");
  }
}

TEST_CASE("rt_tables: built-ins, duplicates and numbers are resolved as ip resolves them") {
  const RtTables none;
  CHECK(lookup_table(none, "main") == 254u);
  CHECK(lookup_table(none, "local") == 255u);
  CHECK(lookup_table(none, "default") == 253u);
  CHECK(lookup_table(none, "unspec") == std::nullopt);  // only from the file
  CHECK(lookup_table(none, "Main") == std::nullopt);    // case matters
  CHECK(lookup_table(none, "0x20") == 32u);             // ip takes a number when no name matches
  CHECK(lookup_table(none, "0x") == std::nullopt);
  CHECK(lookup_table(none, "nope") == std::nullopt);
  // The same name twice: the lower bucket (ID & 255) wins, whatever the order...
  CHECK(lookup_table(parse("300 dup\n20 dup\n"), "dup") == 20u);  // 300 & 255 = 44 > 20
  CHECK(lookup_table(parse("20 dup\n300 dup\n"), "dup") == 20u);
  CHECK(lookup_table(parse("100 dup\n300 dup\n"), "dup") == 300u);  // 44 < 100
  CHECK(lookup_table(parse("10 dup\n5 dup\n"), "dup") == 5u);
  // ...and within one bucket the entry read last.
  CHECK(lookup_table(parse("266 dup\n10 dup\n"), "dup") == 10u);
  CHECK(lookup_table(parse("10 dup\n266 dup\n"), "dup") == 266u);
  // A file can give a built-in name another number: ip finds it before the built-in's bucket...
  CHECK(lookup_table(parse("5 main\n"), "main") == 5u);
  // ...and a file entry shares the built-in's bucket ahead of it.
  CHECK(lookup_table(parse("510 main\n"), "main") == 510u);  // 510 & 255 = 254
  // The same number under two names: both names work.
  const RtTables two = parse("100 a\n100 b\n");
  CHECK(lookup_table(two, "a") == 100u);
  CHECK(lookup_table(two, "b") == 100u);
}

TEST_CASE("rt_tables: etc, then usr when etc has no rt_tables, .d files, etc shadowing usr") {
  TempTree tree;
  tree.write("/usr/rt_tables", "11 usr_main\n");
  tree.write("/usr/rt_tables.d/a.conf", "12 usr_a\n");
  tree.write("/usr/rt_tables.d/shadowed.conf", "13 usr_shadowed\n");
  tree.write("/etc/rt_tables.d/shadowed.conf", "14 etc_shadowed\n");
  tree.write("/etc/rt_tables.d/b.conf", "15 etc_b\n");
  tree.write("/etc/rt_tables.d/ignored.txt", "16 not_conf\n");
  RtTables t = load_rt_tables(tree.dirs());
  CHECK(t.entries == std::vector<RtTableEntry>{{11, "usr_main"}, {12, "usr_a"}, {15, "etc_b"}, {14, "etc_shadowed"}});
  CHECK(t.searched == std::vector<std::string>{tree.path + "/etc/rt_tables", tree.path + "/usr/rt_tables",
                                               tree.path + "/usr/rt_tables.d/*.conf",
                                               tree.path + "/etc/rt_tables.d/*.conf"});
  tree.write("/etc/rt_tables", "21 etc_main\n");
  t = load_rt_tables(tree.dirs());
  CHECK(lookup_table(t, "usr_main") == std::nullopt);  // etc's file replaces usr's
  CHECK(lookup_table(t, "etc_main") == 21u);
  CHECK(lookup_table(t, "usr_shadowed") == std::nullopt);
  CHECK(lookup_table(t, "etc_shadowed") == 14u);
  CHECK(unknown_table_message(t, "x") ==
        "Table name `x' is not defined in " + tree.path + "/etc/rt_tables, " + tree.path +
            "/usr/rt_tables.d/*.conf, " + tree.path + "/etc/rt_tables.d/*.conf (nor is it main, local or default)");
  // No directories at all: only the built-ins.
  const RtTables empty = load_rt_tables({tree.path + "/none", tree.path + "/none2"});
  CHECK(empty.entries.empty());
  CHECK(lookup_table(empty, "main") == 254u);
}

TEST_CASE("rt_tables: Table = NAME in a config is resolved, or an error at its line") {
  TempTree tree;
  tree.write("/etc/rt_tables", "255 local\n254 main\n");
  tree.write("/etc/rt_tables.d/vpn.conf", "# ours\n0x1f4 vpn\nbroken line\n600 after_break\n");
  const std::string base = "[Interface]\nPrivateKey = yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=\n";
  const auto with_table = [&](const std::string& table) {
    auto c = parse_config(base + "Table = " + table + "\n", "t.conf");
    REQUIRE(c);
    return *c;
  };
  Config c = with_table("vpn");
  REQUIRE(resolve_table(c, "t.conf", tree.dirs()));
  CHECK(c.iface.table.mode == TableMode::Name);
  CHECK(c.iface.table.id == 500u);
  CHECK(c.iface.table.text == "vpn");
  REQUIRE(c.warnings.size() == 1);
  CHECK(c.warnings[0].to_string().find(tree.path + "/etc/rt_tables.d/vpn.conf:3: Warning:") == 0);

  c = with_table("main");
  REQUIRE(resolve_table(c, "t.conf", tree.dirs()));
  CHECK(c.iface.table.id == 254u);

  c = with_table("after_break");
  const auto err = resolve_table(c, "t.conf", tree.dirs());
  REQUIRE_FALSE(err);
  CHECK(err.error().to_string() ==
        "t.conf:3: Table name `after_break' is not defined in " + tree.path + "/etc/rt_tables, " + tree.path +
            "/usr/rt_tables.d/*.conf, " + tree.path + "/etc/rt_tables.d/*.conf (nor is it main, local or default); " +
            tree.path + "/etc/rt_tables.d/vpn.conf:3: Warning: not `NUMBER NAME': `broken line'; the rest of this file "
            "is ignored, as ip does");

  // Numbers, auto and off read no file and change nothing.
  for (const std::string other : {"1234", "auto", "off"}) {
    c = with_table(other);
    const Config before = c;
    REQUIRE(resolve_table(c, "t.conf", {tree.path + "/none", tree.path + "/none"}));
    CHECK(c == before);
    CHECK(c.warnings.empty());
  }
}
