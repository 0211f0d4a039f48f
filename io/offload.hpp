// io/offload.hpp — which kernel offloads the data path may use. Each is detected at start (and
// the UDP ones again when a send fails), never assumed, and each can be switched off at run
// time, because kernels have shipped broken TUN and UDP offloads before:
//
//   WGROUTER_OFFLOAD=off                  none of them
//   WGROUTER_OFFLOAD=-udp-gso,-gro        all but the named ones ("-name" or "no-name")
//
//   tun      virtio-net header on the TUN (needed by tso, uso, csum and gro towards the TUN)
//   tso      TUN hands over TCP super-packets (TUN_F_TSO4/6), split during encryption
//   uso      TUN hands over UDP super-packets (TUN_F_USO4/6, Linux 6.2+)
//   gro      decrypted TCP segments joined into super-packets for the TUN and the ports
//   udp-gso  one sendmsg per run of equal-sized datagrams to one endpoint (UDP_SEGMENT)
//   udp-gro  the kernel hands over runs of datagrams in one receive (UDP_GRO)
//   tap      TAP ports hand over super-packets too (TUNSETOFFLOAD on the TAP)
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace wg::io {

struct OffloadSwitches {
  bool tun = true;
  bool tso = true;
  bool uso = true;
  bool gro = true;
  bool udp_gso = true;
  bool udp_gro = true;
  bool tap = true;

  static OffloadSwitches none() { return {false, false, false, false, false, false, false}; }
};

// nullopt with `error` set for an unknown name.
inline std::optional<OffloadSwitches> parse_offload_switches(std::string_view text, std::string& error) {
  OffloadSwitches s;
  while (!text.empty()) {
    const size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item.empty()) continue;
    if (item == "on" || item == "all") {
      s = OffloadSwitches{};
      continue;
    }
    if (item == "off" || item == "none") {
      s = OffloadSwitches::none();
      continue;
    }
    bool on = true;
    if (item.front() == '-' || item.front() == '+') {
      on = item.front() == '+';
      item.remove_prefix(1);
    } else if (item.substr(0, 3) == "no-") {
      on = false;
      item.remove_prefix(3);
    }
    bool* b = item == "tun"       ? &s.tun
              : item == "tso"     ? &s.tso
              : item == "uso"     ? &s.uso
              : item == "gro"     ? &s.gro
              : item == "udp-gso" ? &s.udp_gso
              : item == "udp-gro" ? &s.udp_gro
              : item == "tap"     ? &s.tap
                                  : nullptr;
    if (!b) {
      error = "unknown offload `" + std::string(item) + "' (tun, tso, uso, gro, udp-gso, udp-gro, tap, on, off)";
      return std::nullopt;
    }
    *b = on;
  }
  return s;
}

// What is in effect, for `wgrouter show` and the logs.
struct OffloadState {
  bool tun_vnet = false;
  bool tso = false;
  bool uso = false;
  bool csum = false;
  bool gro = false;
  bool udp_gso = false;
  bool udp_gro = false;

  std::string describe() const {
    std::string s;
    auto add = [&](bool on, const char* name) {
      if (!on) return;
      if (!s.empty()) s += ' ';
      s += name;
    };
    add(tun_vnet, "tun-vnet");
    add(csum, "csum");
    add(tso, "tso");
    add(uso, "uso");
    add(gro, "gro");
    add(udp_gso, "udp-gso");
    add(udp_gro, "udp-gro");
    return s.empty() ? "none" : s;
  }
};

}  // namespace wg::io
