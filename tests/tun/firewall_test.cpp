// tests/tun/firewall_test.cpp — tun/firewall.hpp: the nft commands for wg-quick's default-route
// tables, per family, and which interface names can name a table. (Installing them is what
// tests/netns/native_up_test.sh does.)
#include "tun/firewall.hpp"

#include <doctest/doctest.h>

#include <string>

using wg::core::Family;
using namespace wg::tun;

TEST_CASE("firewall: the IPv4 table, one anti-spoof rule per address, the conntrack marks") {
  const std::vector<std::array<uint8_t, 16>> addrs = {{198, 51, 100, 1}, {203, 0, 113, 7}};
  CHECK(firewall_ruleset("wg0", Family::V4, addrs, 51820) ==
        "add table ip wg-quick-wg0\n"
        "delete table ip wg-quick-wg0\n"
        "add table ip wg-quick-wg0 { flags owner; }\n"
        "add chain ip wg-quick-wg0 preraw { type filter hook prerouting priority -300; }\n"
        "add chain ip wg-quick-wg0 premangle { type filter hook prerouting priority -150; }\n"
        "add chain ip wg-quick-wg0 postmangle { type filter hook postrouting priority -150; }\n"
        "add rule ip wg-quick-wg0 preraw iifname != \"wg0\" ip daddr 198.51.100.1 fib saddr type != local drop\n"
        "add rule ip wg-quick-wg0 preraw iifname != \"wg0\" ip daddr 203.0.113.7 fib saddr type != local drop\n"
        "add rule ip wg-quick-wg0 postmangle meta l4proto udp mark 51820 ct mark set mark\n"
        "add rule ip wg-quick-wg0 premangle meta l4proto udp meta mark set ct mark\n");
}

TEST_CASE("firewall: the IPv6 table, no address means no anti-spoof rule, without the owner flag") {
  std::array<uint8_t, 16> v6{0x20, 0x01, 0x0d, 0xb8};
  v6[15] = 1;
  const std::string with = firewall_ruleset("wg-x.1", Family::V6, {v6}, 0xca6d);
  CHECK(with.find("add table ip6 wg-quick-wg-x.1 { flags owner; }\n") != std::string::npos);
  CHECK(with.find("preraw iifname != \"wg-x.1\" ip6 daddr 2001:db8::1 fib saddr type != local drop\n") !=
        std::string::npos);
  CHECK(with.find("postmangle meta l4proto udp mark 51821 ct mark set mark\n") != std::string::npos);
  const std::string without = firewall_ruleset("wg1", Family::V6, {}, 7, false);
  CHECK(without.find("add table ip6 wg-quick-wg1\ndelete table ip6 wg-quick-wg1\nadd table ip6 wg-quick-wg1\nadd chain") == 0);
  CHECK(without.find("daddr") == std::string::npos);
  CHECK(without.find("add chain ip6 wg-quick-wg1 preraw") != std::string::npos);  // the chain is still made
}

TEST_CASE("firewall: table names nft accepts") {
  CHECK(firewall_table_name("wg0") == "wg-quick-wg0");
  for (const char* good : {"wg0", "a", "wg-quick", "x_y.z", "ABC-9"}) CHECK(firewall_table_name_ok(good));
  for (const char* bad : {"", "wg+1", "a=b"}) CHECK_FALSE(firewall_table_name_ok(bad));
}
