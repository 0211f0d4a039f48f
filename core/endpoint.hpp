// core/endpoint.hpp — a peer's UDP address, plus the local address its packets arrived on
// (the "sticky" source io/ replies from). Plain data: core/ compares and clears it, io/ fills it.
#pragma once
#include <array>
#include <cstdint>
#include <cstring>
#include <string>

namespace wg::core {

enum class Family : uint8_t { None = 0, V4 = 4, V6 = 6 };

struct Endpoint {
  Family family = Family::None;
  std::array<uint8_t, 16> addr{};  // IPv4 uses the first 4 bytes
  uint16_t port = 0;               // host order
  uint32_t scope_id = 0;           // IPv6 link-local scope
  // Sticky source: the local address and interface the peer's last packet arrived on.
  bool has_local = false;
  std::array<uint8_t, 16> local{};
  uint32_t local_ifindex = 0;

  bool valid() const { return family != Family::None; }
  size_t addr_len() const { return family == Family::V4 ? 4 : 16; }
  // Same remote address and port (the local part does not matter for roaming).
  bool same_remote(const Endpoint& o) const {
    return family == o.family && port == o.port && scope_id == o.scope_id &&
           std::memcmp(addr.data(), o.addr.data(), addr_len()) == 0;
  }
  void clear_local() {
    has_local = false;
    local = {};
    local_ifindex = 0;
  }

  static Endpoint v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port) {
    Endpoint e;
    e.family = Family::V4;
    e.addr = {a, b, c, d};
    e.port = port;
    return e;
  }
  static Endpoint v6(const std::array<uint8_t, 16>& a, uint16_t port) {
    Endpoint e;
    e.family = Family::V6;
    e.addr = a;
    e.port = port;
    return e;
  }
};

// `a.b.c.d:port` or `[v6]:port`, the form `wg` prints; empty for no endpoint.
std::string to_string(const Endpoint& e);

}  // namespace wg::core
