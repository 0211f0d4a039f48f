// tun/firewall.cpp — the wg-quick-IFACE nftables tables, written as nft commands and run by
// libnftables.
#include "tun/firewall.hpp"

#include <arpa/inet.h>
#include <nftables/libnftables.h>

#include <algorithm>

namespace wg::tun {

namespace {

const char* nft_family(core::Family f) { return f == core::Family::V4 ? "ip" : "ip6"; }

bool nft_word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '/' || c == '-' ||
         c == '_' || c == '.';
}

std::string address_text(core::Family f, const std::array<uint8_t, 16>& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(f == core::Family::V4 ? AF_INET : AF_INET6, a.data(), buf, sizeof(buf));
  return buf;
}

}  // namespace

std::string firewall_table_name(std::string_view iface) { return "wg-quick-" + std::string(iface); }

bool firewall_table_name_ok(std::string_view iface) {
  return !iface.empty() && std::all_of(iface.begin(), iface.end(), nft_word_char);
}

std::string firewall_ruleset(std::string_view iface, core::Family f, const std::vector<std::array<uint8_t, 16>>& addrs,
                             uint32_t fwmark, bool owner) {
  const std::string fam = nft_family(f);
  const std::string table = fam + " " + firewall_table_name(iface);
  std::string out;
  out += "add table " + table + "\n";
  out += "delete table " + table + "\n";
  out += "add table " + table + (owner ? " { flags owner; }\n" : "\n");
  // Priorities as iptables' raw (-300) and mangle (-150) tables, where wg-quick's iptables
  // variant puts the same rules.
  out += "add chain " + table + " preraw { type filter hook prerouting priority -300; }\n";
  out += "add chain " + table + " premangle { type filter hook prerouting priority -150; }\n";
  out += "add chain " + table + " postmangle { type filter hook postrouting priority -150; }\n";
  // Anti-spoofing: with everything routed into the tunnel, the host would otherwise accept a
  // packet for its tunnel address from any neighbour on another link.
  for (const auto& a : addrs)
    out += "add rule " + table + " preraw iifname != \"" + std::string(iface) + "\" " + fam + " daddr " +
           address_text(f, a) + " fib saddr type != local drop\n";
  // Our own UDP leaves with the fwmark (it must skip the tunnel's table); replies carry the
  // conntrack entry's copy of it, so the reverse-path check finds the same route.
  out += "add rule " + table + " postmangle meta l4proto udp mark " + std::to_string(fwmark) + " ct mark set mark\n";
  out += "add rule " + table + " premangle meta l4proto udp meta mark set ct mark\n";
  return out;
}

DefaultRouteFirewall::DefaultRouteFirewall(std::string iface) : iface_(std::move(iface)) {
  ctx_ = nft_ctx_new(NFT_CTX_DEFAULT);
  if (!ctx_) return;
  nft_ctx_buffer_output(ctx_);
  nft_ctx_buffer_error(ctx_);
}

DefaultRouteFirewall::~DefaultRouteFirewall() {
  remove();
  if (ctx_) nft_ctx_free(ctx_);
}

Result<void, std::string> DefaultRouteFirewall::run(const std::string& commands) {
  if (!ctx_) return Unexpected(std::string("cannot create an nftables context"));
  if (nft_run_cmd_from_buffer(ctx_, commands.c_str()) == 0) return {};
  // nft's message quotes each failing command; the first line says why.
  std::string err = nft_ctx_get_error_buffer(ctx_);
  if (const size_t nl = err.find('\n'); nl != std::string::npos) err.resize(nl);
  if (const size_t e = err.find("Error: "); e != std::string::npos) err.erase(0, e + 7);
  return Unexpected(err.empty() ? std::string("nftables refused the rules") : err);
}

Result<void, std::string> DefaultRouteFirewall::add(core::Family f, const std::vector<std::array<uint8_t, 16>>& addrs,
                                                    uint32_t fwmark) {
  if (!firewall_table_name_ok(iface_))
    return Unexpected("the interface name cannot name an nftables table (letters, digits and / - _ . only): " +
                      firewall_table_name(iface_));
  auto r = run(firewall_ruleset(iface_, f, addrs, fwmark, true));
  // Kernels before 5.12 refuse the owner flag (EOPNOTSUPP); remove() is then all the cleanup.
  if (!r && r.error().find("not supported") != std::string::npos) r = run(firewall_ruleset(iface_, f, addrs, fwmark, false));
  if (r && std::find(added_.begin(), added_.end(), f) == added_.end()) added_.push_back(f);
  return r;
}

void DefaultRouteFirewall::remove() {
  for (core::Family f : added_) (void)run(std::string("delete table ") + nft_family(f) + " " + firewall_table_name(iface_) + "\n");
  added_.clear();
}

}  // namespace wg::tun
