// tun/firewall.cpp — the wg-quick-IFACE nftables tables, written as nft commands and run by
// libnftables.
#include "tun/firewall.hpp"

#include <arpa/inet.h>
#include <nftables/libnftables.h>

#include <algorithm>
#include <cstring>

#include "tun/netns.hpp"

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

namespace {

nft_ctx* new_context() {
  nft_ctx* ctx = nft_ctx_new(NFT_CTX_DEFAULT);
  if (!ctx) return nullptr;
  nft_ctx_buffer_output(ctx);
  nft_ctx_buffer_error(ctx);
  return ctx;
}

// Runs commands in ctx; nft's message quotes each failing command, its first line says why.
Result<void, std::string> run_in(nft_ctx* ctx, const std::string& commands) {
  if (!ctx) return Unexpected(std::string("cannot create an nftables context"));
  if (nft_run_cmd_from_buffer(ctx, commands.c_str()) == 0) return {};
  std::string err = nft_ctx_get_error_buffer(ctx);
  if (const size_t nl = err.find('\n'); nl != std::string::npos) err.resize(nl);
  if (const size_t e = err.find("Error: "); e != std::string::npos) err.erase(0, e + 7);
  return Unexpected(err.empty() ? std::string("nftables refused the rules") : err);
}

}  // namespace

DefaultRouteFirewall::DefaultRouteFirewall(std::string iface, int netns_fd)
    : iface_(std::move(iface)), netns_fd_(netns_fd) {
  if (netns_fd_ < 0) kept_ = new_context();
}

DefaultRouteFirewall::~DefaultRouteFirewall() {
  if (kept_) {
    remove();
    nft_ctx_free(kept_);
  }
}

Result<void, std::string> DefaultRouteFirewall::run(const std::string& commands, int netns_fd) {
  if (kept_) return run_in(kept_, commands);
  Result<void, std::string> r = Unexpected(std::string());
  const int rc = tun::in_netns(netns_fd, [&] {
    nft_ctx* ctx = new_context();
    r = run_in(ctx, commands);
    if (ctx) nft_ctx_free(ctx);
  });
  if (rc != 0) return Unexpected("cannot enter the interface's network namespace: " + std::string(std::strerror(-rc)));
  return r;
}

Result<void, std::string> DefaultRouteFirewall::add(core::Family f, const std::vector<std::array<uint8_t, 16>>& addrs,
                                                    uint32_t fwmark) {
  if (!firewall_table_name_ok(iface_))
    return Unexpected("the interface name cannot name an nftables table (letters, digits and / - _ . only): " +
                      firewall_table_name(iface_));
  // An owner table made through a context closed at once would vanish at once: owned only when kept.
  auto r = run(firewall_ruleset(iface_, f, addrs, fwmark, kept_ != nullptr), netns_fd_);
  // Kernels before 5.12 refuse the owner flag (EOPNOTSUPP); remove() is then all the cleanup.
  if (!r && kept_ && r.error().find("not supported") != std::string::npos)
    r = run(firewall_ruleset(iface_, f, addrs, fwmark, false), netns_fd_);
  if (r && std::find(added_.begin(), added_.end(), f) == added_.end()) added_.push_back(f);
  return r;
}

void DefaultRouteFirewall::remove(int netns_fd) {
  for (core::Family f : added_)
    (void)run(std::string("delete table ") + nft_family(f) + " " + firewall_table_name(iface_) + "\n", netns_fd);
  added_.clear();
}

}  // namespace wg::tun
